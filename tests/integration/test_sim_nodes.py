"""Simulated nodes (`kubeling up --sim-nodes 3`) driven by the real kubectl.

Three simulated kubelets register Ready nodes, heartbeat through Leases, and walk pods bound to
them through the real pod status machine (runtime/simulated.py). The test binds pods itself
through pods/binding; if the scheduler got there first, the pod stays where it was put.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import subprocess
import threading
import time
from typing import Any, Iterator

import pytest

from .conftest import Cluster, free_port, manifest

NODES = ["sim-node-1", "sim-node-2", "sim-node-3"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(str(tmp_path_factory.mktemp("kubeling-sim")), free_port(),
                extra_args=("--sim-nodes", "3", "--node-lease-duration-seconds", "4",
                            "--pod-log-dir", str(tmp_path_factory.mktemp("pod-logs"))))
    c.start()
    yield c
    c.stop()


@pytest.fixture
def sns(sim: Cluster, request: pytest.FixtureRequest) -> str:
    name = "sim-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    sim.kubectl("create", "namespace", name)
    return name


def bind(c: Cluster, ns: str, pod: str, node: str) -> str:
    """POST pods/binding; returns the node the pod ended up on."""
    body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
    c.kubectl("create", "--raw", f"/api/v1/namespaces/{ns}/pods/{pod}/binding", "-f", "-",
              input=json.dumps(body), check=False)
    return c.json("get", "pod", pod, "-n", ns)["spec"].get("nodeName", "")


def create_pod(c: Cluster, ns: str, name: str, image: str = "redis", annotations: dict[str, str] | None = None,
               **spec: Any) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
           "spec": {"containers": [{"name": name, "image": image}], **spec}}
    c.kubectl("create", "-f", "-", input=json.dumps(pod))


def pod_row(c: Cluster, ns: str, name: str) -> list[str]:
    """`kubectl get pod` columns: NAME READY STATUS RESTARTS AGE (RESTARTS may have 2 words)."""
    out = c.kubectl("get", "pod", name, "-n", ns, "--no-headers", check=False).stdout.split()
    return out


def statuses_until(c: Cluster, ns: str, name: str, final: str, timeout: float = 20.0) -> list[str]:
    """Poll the STATUS column until `final` shows; return the distinct statuses seen, in order."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = pod_row(c, ns, name)
        if len(row) >= 3 and (not seen or seen[-1] != row[2]):
            seen.append(row[2])
        if seen and seen[-1] == final:
            return seen
        time.sleep(0.05)
    raise TimeoutError(f"{ns}/{name} never reached {final}; seen {seen}")


class Binder:
    """Binds a namespace's unscheduled pods round-robin (stands in for the scheduler)."""

    def __init__(self, c: Cluster, ns: str) -> None:
        self.c, self.ns = c, ns
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.nodes = itertools.cycle(NODES)

    def run(self) -> None:
        while not self.stop.is_set():
            for p in self.c.json("get", "pods", "-n", self.ns)["items"]:
                if not p["spec"].get("nodeName") and not p["metadata"].get("deletionTimestamp"):
                    bind(self.c, self.ns, p["metadata"]["name"], next(self.nodes))
            self.stop.wait(0.2)

    def __enter__(self) -> "Binder":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(10)


# ---- nodes ---------------------------------------------------------------------------------------
def test_three_ready_nodes(sim: Cluster) -> None:
    def ready() -> list[list[str]] | None:
        rows = [ln.split() for ln in sim.kubectl("get", "nodes", "--no-headers").stdout.splitlines()]
        return rows if len(rows) == 3 and all(r[1] == "Ready" for r in rows) else None

    rows = sim.wait_for(ready, what="3 Ready nodes")
    assert [r[0] for r in rows] == NODES
    assert all(r[4].startswith("v1.32.0-kubeling") for r in rows)
    wide = sim.kubectl("get", "nodes", "-o", "wide").stdout.splitlines()
    header = wide[0].split()
    assert header[5:7] == ["INTERNAL-IP", "EXTERNAL-IP"] and header[-1] == "CONTAINER-RUNTIME"
    for i, line in enumerate(wide[1:], start=1):
        cols = line.split()
        assert cols[5] == f"127.0.1.{i}"
        assert cols[-1] == "simulated://0.1.0"
    node = sim.json("get", "node", "sim-node-2")
    assert node["spec"]["podCIDR"] == "10.244.2.0/24"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "sim-node-2"
    assert node["metadata"]["labels"]["node.kubeling.io/simulated"] == "true"
    assert node["status"]["allocatable"]["pods"] == "110"
    conds = {c["type"]: c for c in node["status"]["conditions"]}
    assert conds["Ready"]["reason"] == "KubeletReady"
    assert conds["Ready"]["message"] == "kubelet is posting ready status"
    assert conds["MemoryPressure"]["reason"] == "KubeletHasSufficientMemory"
    lease = sim.json("get", "lease", "sim-node-2", "-n", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "sim-node-2" and lease["spec"]["leaseDurationSeconds"] == 4


# ---- pods ----------------------------------------------------------------------------------------
def test_bound_pod_goes_running_with_events(sim: Cluster, sns: str) -> None:
    create_pod(sim, sns, "redis", annotations={"sim.kubeling.io/start-delay-seconds": "1.5"})
    node = bind(sim, sns, "redis", "sim-node-2")
    seen = statuses_until(sim, sns, "redis", "Running")
    assert "ContainerCreating" in seen and seen.index("ContainerCreating") < seen.index("Running"), seen
    assert pod_row(sim, sns, "redis")[1] == "1/1"
    pod = sim.json("get", "pod", "redis", "-n", sns)
    cidr = ipaddress.ip_network(sim.json("get", "node", node)["spec"]["podCIDR"])
    assert ipaddress.ip_address(pod["status"]["podIP"]) in cidr
    cs = pod["status"]["containerStatuses"][0]
    assert cs["containerID"].startswith("simulated://")
    assert cs["imageID"].startswith("docker.io/library/redis@sha256:")
    assert [c["status"] for c in pod["status"]["conditions"]] == ["True"] * 5

    def events() -> str | None:
        out = sim.kubectl("describe", "pod", "redis", "-n", sns).stdout
        return out if "Started" in out else None

    desc = sim.wait_for(events, what="Started event")
    for reason, message in [("Pulling", 'Pulling image "redis"'), ("Pulled", 'Successfully pulled image "redis"'),
                            ("Created", "Created container redis"), ("Started", "Started container redis")]:
        assert reason in desc and message in desc, desc


def test_tutorial_deployment_three_ready(sim: Cluster, sns: str) -> None:
    sim.kubectl("apply", "-n", sns, "-f", manifest("my-nginx.yaml"))
    with Binder(sim, sns):
        def ready() -> bool:
            row = sim.kubectl("get", "deploy", "nginx-deployment", "-n", sns, "--no-headers").stdout.split()
            return row[1] == "3/3"

        sim.wait_for(ready, timeout=30, what="deployment 3/3")
    pods = sim.json("get", "pods", "-n", sns)["items"]
    assert len(pods) == 3
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert len({p["status"]["podIP"] for p in pods}) == 3


def test_image_pull_failure(sim: Cluster, sns: str) -> None:
    create_pod(sim, sns, "bad", image="nginx", annotations={"sim.kubeling.io/image-pull-error": "true"})
    bind(sim, sns, "bad", "sim-node-1")
    seen = statuses_until(sim, sns, "bad", "ImagePullBackOff")
    assert "ErrImagePull" in seen, seen
    pod = sim.json("get", "pod", "bad", "-n", sns)
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "nginx"'}
    desc = sim.kubectl("describe", "pod", "bad", "-n", sns).stdout
    assert 'Failed to pull image "nginx": rpc error: code = NotFound' in desc
    assert "Error: ErrImagePull" in desc and 'Back-off pulling image "nginx"' in desc


def test_missing_tag_is_not_found(sim: Cluster, sns: str) -> None:
    create_pod(sim, sns, "typo", image="nginx:1.161")
    bind(sim, sns, "typo", "sim-node-3")
    statuses_until(sim, sns, "typo", "ImagePullBackOff")


def test_crash_loop_back_off(sim: Cluster, sns: str) -> None:
    create_pod(sim, sns, "crash", image="busybox", annotations={"sim.kubeling.io/crash-after-seconds": "0.2",
                                                                  "sim.kubeling.io/exit-code": "3"})
    bind(sim, sns, "crash", "sim-node-2")
    statuses_until(sim, sns, "crash", "CrashLoopBackOff")
    pod = sim.json("get", "pod", "crash", "-n", sns)
    cs = pod["status"]["containerStatuses"][0]
    assert cs["restartCount"] >= 1
    assert cs["lastState"]["terminated"]["exitCode"] == 3 and cs["lastState"]["terminated"]["reason"] == "Error"
    assert cs["state"]["waiting"]["message"].startswith("back-off 10s restarting failed container=crash pod=crash_")
    first = cs["restartCount"]

    def restarted_again() -> bool:
        s = sim.json("get", "pod", "crash", "-n", sns)["status"]["containerStatuses"][0]
        return s["restartCount"] > first

    sim.wait_for(restarted_again, timeout=60, interval=0.5, what="restart after the 10 s back-off")
    desc = sim.kubectl("describe", "pod", "crash", "-n", sns).stdout
    assert "Back-off restarting failed container crash in pod crash_" in desc


def test_delete_shows_terminating_then_gone(sim: Cluster, sns: str) -> None:
    create_pod(sim, sns, "slow", annotations={"sim.kubeling.io/stop-delay-seconds": "2"})
    bind(sim, sns, "slow", "sim-node-1")
    statuses_until(sim, sns, "slow", "Running")
    sim.kubectl("delete", "pod", "slow", "-n", sns, "--wait=false")
    assert pod_row(sim, sns, "slow")[2] == "Terminating"

    def gone() -> bool:
        return "NotFound" in sim.kubectl("get", "pod", "slow", "-n", sns, check=False).stderr

    sim.wait_for(gone, timeout=60, what="pod deleted by the kubelet")
    desc = sim.kubectl("get", "events", "-n", sns, "--field-selector", "involvedObject.name=slow").stdout
    assert "Stopping container slow" in desc


def test_deleted_pod_shows_its_terminal_status_before_it_goes(sim: Cluster, sns: str) -> None:
    """The kubelet writes the stopped containers (terminated, not ready) and a terminal phase
    before it finishes the delete, as upstream's syncTerminatingPod does: the watch's last
    state is `0/1 Completed`/`Error`, not the running pod `1/1 Terminating`."""
    create_pod(sim, sns, "fin")
    bind(sim, sns, "fin", "sim-node-2")
    statuses_until(sim, sns, "fin", "Running")
    watch = subprocess.Popen(["kubectl", f"--cache-dir={sim.cache_dir}", "get", "pod", "fin", "-n", sns, "-w",
                              "--output-watch-events", "-o", "json"], env={**os.environ, "KUBECONFIG": sim.kubeconfig},
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = threading.Timer(90, watch.kill)  # ends the read loop if DELETED never comes
    deadline.start()
    try:
        assert watch.stdout is not None
        decoder, buf, events = json.JSONDecoder(), "", []
        for line in watch.stdout:  # the ADDED event comes first: the watch is established
            buf += line
            try:
                ev, _ = decoder.raw_decode(buf)
            except ValueError:
                continue
            buf = ""
            events.append(ev)
            if ev["type"] == "ADDED":
                sim.kubectl("delete", "pod", "fin", "-n", sns, "--wait=false")
            if ev["type"] == "DELETED":
                break
    finally:
        deadline.cancel()
        watch.kill()
        watch.wait(10)
    last = events[-1]["object"]
    assert events[-1]["type"] == "DELETED"
    assert last["status"]["phase"] in ("Succeeded", "Failed")
    cs = last["status"]["containerStatuses"][0]
    assert "terminated" in cs["state"] and cs["ready"] is False


def test_stop_heartbeat_makes_lease_stale(sim: Cluster) -> None:
    def renew(node: str) -> str:
        return sim.json("get", "lease", node, "-n", "kube-node-lease")["spec"]["renewTime"]

    seen: list[tuple[str, str]] = []

    def stopped() -> bool:
        """sim-node-3's renewTime has stayed the same while sim-node-1's took four values (three
        renewals: lease 4 s → renew every 1 s), however long the annotation took to be seen."""
        seen.append((renew("sim-node-3"), renew("sim-node-1")))
        others: set[str] = set()
        for s3, s1 in reversed(seen):
            if s3 != seen[-1][0]:
                break
            others.add(s1)
        return len(others) >= 4

    sim.kubectl("annotate", "node", "sim-node-3", "sim.kubeling.io/stop-heartbeat=true")
    try:
        sim.wait_for(stopped, timeout=60, interval=0.2, what="sim-node-3's lease no longer renewed")
        stale = seen[-1][0]
    finally:
        sim.kubectl("annotate", "node", "sim-node-3", "sim.kubeling.io/stop-heartbeat-")
    sim.wait_for(lambda: renew("sim-node-3") != stale, timeout=60, what="heartbeat resumed")
