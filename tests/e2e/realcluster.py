"""A `kubeling up` with a real node that is one test module's own: temp data dir, free API and
kubelet ports, a bridge / cluster CIDR / service CIDR / pod log dir of its own (never the default
kubeling0), and `kubeling down --data-dir` afterwards, also when a test failed."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from tests.integration.conftest import Cluster, free_port

C = TypeVar("C", bound=Cluster)


def down(data_dir: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubeling.cli", "down", "--data-dir", data_dir, "-q"],
                          capture_output=True, text=True, timeout=120)


@contextmanager
def own_cluster(base: str, bridge: str, cluster_cidr: str, service_cidr: str, node_name: str,
                before_start: Callable[[str], None] | None = None, extra_args: tuple[str, ...] = (),
                cls: type[C] = Cluster) -> Iterator[C]:  # type: ignore[assignment]
    """Start the cluster under `base` (data in base/data, pod logs in base/logs); `before_start(data_dir)`
    may prepare the data dir (e.g. put an image into the node's store); `extra_args` are more
    `kubeling up` flags; `cls` a Cluster subclass with a module's own helpers."""
    data = os.path.join(base, "data")
    c = cls(data, free_port(), node=True, extra_args=(
        "--kubelet-port", str(free_port()), "--pod-bridge", bridge, "--cluster-cidr", cluster_cidr,
        "--service-cidr", service_cidr, "--pod-log-dir", os.path.join(base, "logs"), "--node-name", node_name, *extra_args))
    try:
        if before_start is not None:
            before_start(data)
        c.start()
        yield c
    finally:
        c.stop()
        r = down(data)
        assert r.returncode == 0, f"kubeling down: {r.stdout}{r.stderr}"
        assert not os.path.exists(f"/sys/class/net/{bridge}"), f"bridge {bridge} left behind"
