"""A `kubeling up` with a real node that is one test module's own: temp data dir, free API and
kubelet ports, a bridge / cluster CIDR / service CIDR / pod log dir of its own (never the default
kubeling0), and `kubeling down --data-dir` afterwards, also when a test failed.

Host networks of the e2e modules. N is a per-module number drawn from the pid (each module its
own seed), so two pytest runs on one host rarely pick the same one, and when they do the node's
host claims (kubelet/network/claim.py) refuse the second cluster instead of sharing a bridge.
Every module has second octets of its own: no module's range overlaps another's, whatever N is.

| module                | bridge(s)              | cluster / pod CIDR            | service CIDR             |
|-----------------------|------------------------|-------------------------------|--------------------------|
| (kubeling defaults)   | kubeling0              | 10.244.0.0/16                 | 10.96.0.0/12             |
| test_network          | kltest0..5 (fixed)     | 10.236.0.0/20, 10.236.16-55.x | 10.237.0.0/16 (+10.236.x)|
| test_proxy            | klpxN                  | 10.250.N.0/24                 | 10.251.N.0/24            |
| test_proxy (ipvs)     | klpvN                  | 10.249.N.0/24                 | 10.248.N.0/24            |
| test_hpa              | klhpaN                 | 10.240.N.0/24                 | 10.241.N.0/24            |
| test_statefulset      | klstsN                 | 10.242.N.0/24                 | 10.243.N.0/24            |
| test_host_ownership   | klownN{a,b,c,d}        | 10.246.N/N+128, 10.245.N.0/24 | 10.247.N, 10.245.N+64/128|
| test_probes           | klprbN                 | 10.234.N.0/24                 | 10.235.N.0/24            |
| test_tutorial_real    | kltutN                 | 10.252.N.0/24                 | 10.253.N.0/24            |
| test_kubelet_real     | klkubN                 | 10.254.N.0/24                 | 10.255.N.0/24            |
| test_runtime (CNI)    | klrtN                  | 10.238.N.0/24                 | 10.239.N.0/24            |
| test_rollout          | klroN                  | 10.232.N.0/24                 | 10.233.N.0/24            |
| test_images, _volumes | none (no node network) |                               |                          |
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from kubeling.down import state_dir
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
        assert not os.path.exists(state_dir(data)), f"{state_dir(data)} left behind"
