"""Two real-node clusters on one host (issue 8): one bridge per cluster, `down` removes only its
own, a node repairs its host network, and `--sim-nodes 0` touches no host network state.

Cluster A runs for the whole module. A second cluster on A's bridge, or on a CIDR overlapping
A's, refuses to start with an error naming A's data dir and the flags to choose another; with
its own `--pod-bridge`/`--cluster-cidr` it runs beside A, and its stop + `kubeling down` leave
A's pods reachable. Then A's bridge is deleted under it: the node re-creates it, re-attaches
the pods, records an event and reports NetworkUnavailable=False.

Every bridge, CIDR and port is this module's own (randomised per pid), never kubeling0 or the
default CIDRs; teardown stops each cluster and runs `kubeling down` on its data dir.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from typing import Any, Iterator

import pytest

from kubeling.kubelet.images import build
from kubeling.kubelet.network.claim import owner_id
from tests.integration.conftest import Cluster, free_port

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runc") or not shutil.which("kubectl")
    or not os.path.exists("/usr/lib/cni/bridge") or not shutil.which("busybox") or build.missing_packages(),
    reason="needs root, runc, kubectl, containernetworking-plugins and the test images' packages")

N = random.Random(os.getpid()).randrange(1, 120)
BRIDGE_A, BRIDGE_B, BRIDGE_C = f"klown{N}a", f"klown{N}b", f"klown{N}c"
CIDR_A, CIDR_B, CIDR_C = f"10.246.{N}.0/24", f"10.246.{N + 128}.0/24", f"10.245.{N}.0/24"
SVC_A, SVC_C = f"10.247.{N}.0/24", f"10.245.{N + 128}.0/24"  # B shares A's service CIDR, as two defaults would
POD = """
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox, imagePullPolicy: Never, command: ["sh", "-c", "echo hello from %s; sleep 3600"]}
"""


def _up_args(base: str, name: str, bridge: str, cidr: str, svc: str) -> tuple[str, ...]:
    return ("--no-test-images", "--kubelet-port", str(free_port()), "--pod-bridge", bridge, "--cluster-cidr", cidr,
            "--service-cidr", svc, "--pod-log-dir", os.path.join(base, f"logs-{name}"), "--node-name", f"node-{name}")


def _down(data: str, quiet: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubeling.cli", "down", "--data-dir", data, *(["-q"] if quiet else [])],
                          capture_output=True, text=True, timeout=120)


def _ping(ip: str) -> bool:
    return subprocess.run(["busybox", "ping", "-c", "1", "-W", "5", ip], capture_output=True).returncode == 0


def _route_dev(ip: str) -> str:
    words = subprocess.run(["ip", "-o", "route", "get", ip], capture_output=True, text=True).stdout.split()
    return words[words.index("dev") + 1] if "dev" in words else ""


def _alias(link: str) -> str | None:
    try:
        return open(f"/sys/class/net/{link}/ifalias").read().strip()
    except OSError:
        return None


class Node:
    """A started real-node cluster and the helpers the tests need."""

    def __init__(self, base: str, name: str, bridge: str, cidr: str, svc: str, cache: str) -> None:
        self.data = os.path.join(base, name)
        os.makedirs(self.data)
        build.ensure_test_images(self.data, cache_dir=cache, only=["busybox"])
        self.bridge, self.name = bridge, f"node-{name}"
        self.c = Cluster(self.data, free_port(), node=True, extra_args=_up_args(base, name, bridge, cidr, svc))

    def start(self) -> None:
        self.c.start()
        self.c.wait_for(lambda: self._condition("Ready") == "True", 60, what=f"{self.name} Ready")

    def node(self) -> dict[str, Any]:
        return self.c.json("get", "node", self.name)

    def _condition(self, typ: str) -> str:
        p = self.c.kubectl("get", "node", self.name, "-o", "json", check=False)
        if p.returncode:
            return ""
        conds = json.loads(p.stdout)["status"]["conditions"]
        return next((c["status"] for c in conds if c["type"] == typ), "")

    def run_pod(self, name: str) -> str:
        self.c.kubectl("apply", "-f", "-", input=POD % (name, name))

        def ip() -> str:
            pod = self.c.json("get", "pod", name)
            st = pod.get("status") or {}
            return st.get("podIP", "") if st.get("phase") == "Running" else ""
        return str(self.c.wait_for(ip, 60, 0.2, f"pod {name} Running"))

    def stop_and_down(self) -> subprocess.CompletedProcess[str]:
        self.c.stop(signal.SIGTERM)
        return _down(self.data)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("ownership"))


@pytest.fixture(scope="module")
def cache(base: str) -> str:
    return os.path.join(base, "image-cache")


@pytest.fixture(scope="module")
def a(base: str, cache: str) -> Iterator[tuple[Node, str]]:
    node = Node(base, "a", BRIDGE_A, CIDR_A, SVC_A, cache)
    try:
        node.start()
        yield node, node.run_pod("pod-a")
    finally:
        r = node.stop_and_down()
        assert r.returncode == 0, r.stdout + r.stderr
        assert not os.path.exists(f"/sys/class/net/{BRIDGE_A}")


def _refused(base: str, name: str, bridge: str, cidr: str) -> str:
    """Start a cluster expected to refuse its node; returns its stderr."""
    data = os.path.join(base, name)
    argv = [sys.executable, "-m", "kubeling.cli", "up", "--data-dir", data, "--port", str(free_port()),
            *_up_args(base, name, bridge, cidr, f"10.245.{N + 64}.0/24")]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    finally:
        d = _down(data)
    assert d.returncode == 0, d.stdout + d.stderr
    assert r.returncode == 1, r.stderr[-2000:]
    return r.stderr


def test_a_second_cluster_on_the_same_bridge_or_cidr_is_refused(a: tuple[Node, str], base: str) -> None:
    node_a, ip_a = a
    assert _alias(BRIDGE_A) == f"kubeling:{owner_id(node_a.data)}"
    err = _refused(base, "same-bridge", BRIDGE_A, f"10.245.{N}.0/24")
    assert f"conflicts with the cluster in {node_a.data} (running, pid {node_a.c.proc.pid})" in err, err
    assert f"bridge {BRIDGE_A} is its pod bridge" in err
    for flag in ("--pod-bridge", "--cluster-cidr", "--kubelet-port", "--node-ip"):
        assert flag in err
    err = _refused(base, "same-cidr", BRIDGE_C, CIDR_A)
    assert f"cluster CIDR {CIDR_A} overlaps its cluster CIDR {CIDR_A}" in err and node_a.data in err, err
    # neither attempt nor its `down` touched A
    assert not os.path.exists(f"/sys/class/net/{BRIDGE_C}")
    assert _alias(BRIDGE_A) == f"kubeling:{owner_id(node_a.data)}" and _ping(ip_a)


def test_an_unmarked_bridge_with_foreign_interfaces_is_left_alone(base: str) -> None:
    """A bridge without an owner mark (an older kubeling's, or anybody's) with interfaces on
    it: the node refuses it, and that cluster's `down` leaves it in place."""
    bridge, veth = f"klown{N}d", f"klown{N}v"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "link", "add", veth, "type", "veth", "peer", "name", f"klown{N}w"], check=True)
        subprocess.run(["ip", "link", "set", veth, "master", bridge], check=True)
        err = _refused(base, "unmarked", bridge, f"10.245.{N}.0/24")
        assert f"bridge {bridge} exists without an owner mark and holds interfaces not made by this data dir " \
               f"({veth})" in err, err
        assert os.path.exists(f"/sys/class/net/{bridge}") and _alias(bridge) == ""
    finally:
        subprocess.run(["ip", "link", "delete", veth], capture_output=True)
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True)


def test_two_clusters_side_by_side_and_down_of_one(a: tuple[Node, str], base: str, cache: str) -> None:
    node_a, ip_a = a
    node_b = Node(base, "b", BRIDGE_B, CIDR_B, SVC_A, cache)
    svc_ip = f"10.247.{N}.99"
    try:
        node_b.start()
        ip_b = node_b.run_pod("pod-b")
        assert ip_b.startswith(f"10.246.{N + 128}.") and ip_a.startswith(f"10.246.{N}.")
        assert _ping(ip_a) and _ping(ip_b)
        assert node_b.c.kubectl("logs", "pod-b").stdout == "hello from pod-b\n"
        assert _route_dev(svc_ip) == BRIDGE_A  # the shared service route stays where it was
    finally:
        r = node_b.stop_and_down()
    assert r.returncode == 0, r.stdout + r.stderr
    assert not os.path.exists(f"/sys/class/net/{BRIDGE_B}")
    # A is untouched: its bridge, routes, pod and the API server's way to its kubelet
    assert _alias(BRIDGE_A) == f"kubeling:{owner_id(node_a.data)}" and _ping(ip_a)
    assert _route_dev(ip_a) == BRIDGE_A and _route_dev(svc_ip) == BRIDGE_A
    assert node_a.c.kubectl("logs", "pod-a").stdout == "hello from pod-a\n"
    assert f"kubeling:{BRIDGE_A}:{owner_id(node_a.data)}" in \
        subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout


def test_the_node_repairs_a_deleted_bridge(a: tuple[Node, str]) -> None:
    node_a, ip_a = a
    subprocess.run(["ip", "link", "delete", BRIDGE_A], check=True)
    node_a.c.wait_for(lambda: _ping(ip_a), 60, 0.2, "pod-a reachable again")
    assert _alias(BRIDGE_A) == f"kubeling:{owner_id(node_a.data)}"

    def repaired() -> list[dict[str, Any]]:
        evs = node_a.c.json("get", "events", "--field-selector", f"involvedObject.name={node_a.name}")["items"]
        return [e for e in evs if e["reason"] == "NetworkRepaired"]
    ev = node_a.c.wait_for(repaired, 60, what="NetworkRepaired event")[0]
    assert ev["type"] == "Warning" and ev["involvedObject"]["kind"] == "Node"
    assert f"pod network on bridge {BRIDGE_A} repaired: created bridge {BRIDGE_A}" in ev["message"]
    assert ev["source"] == {"component": "kubelet", "host": node_a.name}
    cond = node_a.c.wait_for(lambda: next((c for c in node_a.node()["status"]["conditions"]
                                           if c["type"] == "NetworkUnavailable"), None), 60, what="condition")
    assert (cond["status"], cond["reason"]) == ("False", "RouteCreated")
    assert node_a.c.kubectl("logs", "pod-a").stdout == "hello from pod-a\n"  # the kubelet API is back too


def test_sim_nodes_zero_runs_no_node_and_touches_no_host_network(base: str) -> None:
    data = os.path.join(base, "zero")
    c = Cluster(data, free_port(), extra_args=("--sim-nodes", "0", "--pod-bridge", BRIDGE_C, "--cluster-cidr",
                                                CIDR_C, "--service-cidr", SVC_C))
    try:
        c.start()
        # the controllers start with the node runners: once they made the default
        # ServiceAccount, a node would have set up its bridge long before registering
        c.wait_for(lambda: c.kubectl("get", "serviceaccount", "default", check=False).returncode == 0, 60,
                   what="default ServiceAccount")
        assert c.json("get", "nodes")["items"] == []
        assert not os.path.exists(f"/sys/class/net/{BRIDGE_C}")
        assert not os.path.exists(f"/run/kubeling/net/{BRIDGE_C}.claim")
        assert not os.path.exists(os.path.join(data, "agent", "cni"))
    finally:
        c.stop()
        r = _down(data, quiet=False)
    # its `down` has no network of its own to undo, and leaves the host's shared chains alone
    assert r.returncode == 0 and not any(w in r.stdout for w in ("bridge", "route", "chain", "netns")), r.stdout
