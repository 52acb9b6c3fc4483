"""The scheduler inside `kubeling up`, driven by the real kubectl.

No kubelet runs here: the test registers Node objects itself (allocatable, Ready condition,
hostname label) and looks only at what the scheduler does — bindings (`get pods -o wide`),
`Scheduled` / `FailedScheduling` events, the PodScheduled condition — plus cordon and drain.
The cluster is this module's own, so its nodes never meet other tests' pods.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest

from .conftest import Cluster, free_port


HEARTBEAT: set[str] = set()  # nodes whose Lease the test renews, playing their kubelets


def _renew_leases(c: Cluster, stop: threading.Event) -> None:
    """Keep the nodes healthy for the node lifecycle controller (no kubelet runs here)."""
    while not stop.is_set():
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        leases = [{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                   "metadata": {"name": n, "namespace": "kube-node-lease"},
                   "spec": {"holderIdentity": n, "leaseDurationSeconds": 40, "renewTime": now}}
                  for n in sorted(HEARTBEAT)]
        if leases:
            c.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": leases}),
                      check=False)
        stop.wait(5)


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(str(tmp_path_factory.mktemp("kubeling-sched")), free_port())
    c.start()
    stop = threading.Event()
    t = threading.Thread(target=_renew_leases, args=(c, stop), daemon=True)
    t.start()
    yield c
    stop.set()
    t.join(10)
    c.stop()


def add_node(c: Cluster, name: str, cpu: str = "2", memory: str = "4Gi", labels: dict[str, str] | None = None,
             taints: list[dict[str, Any]] | None = None) -> None:
    node: dict[str, Any] = {"apiVersion": "v1", "kind": "Node",
                            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
                            "spec": {"taints": taints} if taints else {}}
    c.kubectl("create", "-f", "-", input=json.dumps(node))
    status = {"status": {
        "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
        "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "kubelet is posting ready status"}]}}
    c.kubectl("patch", "node", name, "--subresource=status", "--type=merge", "-p", json.dumps(status))
    HEARTBEAT.add(name)


def run_pod(c: Cluster, ns: str, name: str, *, cpu: str = "100m", extra: dict[str, Any] | None = None) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
           "spec": {"containers": [{"name": "c", "image": "redis",
                                    "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}],
                    **(extra or {})}}
    c.kubectl("create", "-f", "-", input=json.dumps(pod))


def node_of(c: Cluster, ns: str, name: str) -> str:
    return c.kubectl("get", "pod", name, "-n", ns, "-o", "jsonpath={.spec.nodeName}").stdout


def wait_node(c: Cluster, ns: str, name: str) -> str:
    return c.wait_for(lambda: node_of(c, ns, name), what=f"{name} scheduled")


def wide_nodes(c: Cluster, ns: str) -> dict[str, str]:
    """NAME -> NODE column of `kubectl get pods -o wide`."""
    out = c.kubectl("get", "pods", "-n", ns, "-o", "wide").stdout.splitlines()
    col = out[0].index("NODE ")
    return {line.split()[0]: line[col:].split()[0] for line in out[1:]}


@pytest.fixture(scope="module")
def nodes(cl: Cluster) -> list[str]:
    names = ["node-1", "node-2", "node-3"]
    for i, n in enumerate(names):
        add_node(cl, n, labels={"disk": "ssd" if i == 2 else "hdd"})
    return names


def ns_of(cl: Cluster, name: str) -> str:
    cl.kubectl("create", "namespace", name)
    return name


def test_pod_is_scheduled_with_event(cl: Cluster, nodes: list[str]) -> None:
    ns = ns_of(cl, "basic")
    run_pod(cl, ns, "redis")
    node = wait_node(cl, ns, "redis")
    assert node in nodes
    assert wide_nodes(cl, ns) == {"redis": node}
    pod = cl.json("get", "pod", "redis", "-n", ns)
    cond = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["status"] == "True"
    events = cl.wait_for(lambda: [e for e in cl.json("get", "events", "-n", ns)["items"] if e["reason"] == "Scheduled"],
                         what="Scheduled event")
    assert events[0]["message"] == f"Successfully assigned {ns}/redis to {node}"
    assert events[0]["source"]["component"] == "default-scheduler"
    assert events[0]["reportingComponent"] == "default-scheduler"
    desc = cl.kubectl("describe", "pod", "redis", "-n", ns).stdout
    assert f"default-scheduler  Successfully assigned {ns}/redis to {node}" in desc


def test_deployment_spreads_over_nodes(cl: Cluster, nodes: list[str]) -> None:
    ns = ns_of(cl, "spread")
    cl.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3", "-n", ns)
    placed = cl.wait_for(lambda: (lambda m: m if len(m) == 3 and "<none>" not in m.values() else None)(wide_nodes(cl, ns)),
                         what="3 replicas scheduled")
    assert sorted(placed.values()) == sorted(nodes)


def test_node_selector_and_other_scheduler(cl: Cluster, nodes: list[str]) -> None:
    ns = ns_of(cl, "selector")
    for i in range(3):
        run_pod(cl, ns, f"ssd-{i}", extra={"nodeSelector": {"disk": "ssd"}})
    run_pod(cl, ns, "not-mine", extra={"schedulerName": "my-scheduler"})
    for i in range(3):
        assert wait_node(cl, ns, f"ssd-{i}") == "node-3"
    assert node_of(cl, ns, "not-mine") == ""


def test_taints_and_tolerations(cl: Cluster, nodes: list[str]) -> None:
    ns = ns_of(cl, "taints")
    add_node(cl, "gpu-1", labels={"gpu": "yes"}, taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    try:
        pin = {"nodeSelector": {"gpu": "yes"}}
        run_pod(cl, ns, "intolerant", extra=pin)
        run_pod(cl, ns, "tolerant", extra={**pin, "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]})
        assert wait_node(cl, ns, "tolerant") == "gpu-1"
        msg = cl.wait_for(lambda: _failed_message(cl, ns, "intolerant"), what="FailedScheduling")
        assert msg == ("0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "
                       "3 node(s) didn't match Pod's node affinity/selector. preemption: 0/4 nodes are available: "
                       "4 Preemption is not helpful for scheduling.")
        assert node_of(cl, ns, "intolerant") == ""
    finally:
        HEARTBEAT.discard("gpu-1")
        cl.kubectl("delete", "node", "gpu-1")


def _failed_message(c: Cluster, ns: str, pod: str) -> str | None:
    evs = [e for e in c.json("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={pod}")["items"]
           if e["reason"] == "FailedScheduling"]
    return evs[-1]["message"] if evs else None


def test_insufficient_cpu_then_new_node(cl: Cluster, nodes: list[str]) -> None:
    ns = ns_of(cl, "bigcpu")
    run_pod(cl, ns, "big", cpu="3")
    want = ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
            "3 No preemption victims found for incoming pod.")
    assert cl.wait_for(lambda: _failed_message(cl, ns, "big"), what="FailedScheduling") == want

    def condition() -> dict[str, Any] | None:
        pod = cl.json("get", "pod", "big", "-n", ns)
        return next((c for c in pod.get("status", {}).get("conditions") or [] if c["type"] == "PodScheduled"), None)

    cond = cl.wait_for(condition, what="PodScheduled condition")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", want)
    desc = cl.kubectl("describe", "pod", "big", "-n", ns).stdout
    assert f"Warning  FailedScheduling" in desc and want in desc
    assert any(l.split() == ["PodScheduled", "False"] for l in desc.splitlines()), desc

    add_node(cl, "big-node", cpu="8", memory="16Gi")
    try:
        assert wait_node(cl, ns, "big") == "big-node"
    finally:
        cl.kubectl("delete", "pod", "big", "-n", ns, "--grace-period=0", "--force")
        HEARTBEAT.discard("big-node")
        cl.kubectl("delete", "node", "big-node")


def test_cordon_and_drain(cl: Cluster, nodes: list[str]) -> None:
    ns = ns_of(cl, "drain")
    out = cl.kubectl("cordon", "node-1").stdout
    assert "node/node-1 cordoned" in out
    try:
        assert "SchedulingDisabled" in cl.kubectl("get", "node", "node-1").stdout
        for i in range(4):
            run_pod(cl, ns, f"c-{i}")
        for i in range(4):
            assert wait_node(cl, ns, f"c-{i}") in ("node-2", "node-3")
    finally:
        cl.kubectl("uncordon", "node-1")
    # bare pods would stop drain ("declare no controller"), as upstream
    cl.kubectl("delete", "pods", "-n", ns, "--all", "--grace-period=0", "--force")

    cl.kubectl("create", "deployment", "app", "--image=nginx", "--replicas=3", "-n", ns)
    on_2 = cl.wait_for(lambda: [p["metadata"]["name"] for p in cl.json("get", "pods", "-n", ns, "-l", "app=app")["items"]
                                if p["spec"].get("nodeName") == "node-2"], what="an app pod on node-2")
    # only this test's pods: other tests' bare pods may share node-2 (drain refuses those without --force)
    r = cl.kubectl("drain", "node-2", "--ignore-daemonsets", "--delete-emptydir-data", "--grace-period=0",
                   "--pod-selector=app=app", "--timeout=60s")
    assert "node/node-2 drained" in r.stdout, r.stdout + r.stderr
    assert f"evicting pod {ns}/{on_2[0]}" in r.stderr + r.stdout
    node = cl.json("get", "node", "node-2")
    assert node["spec"]["unschedulable"] is True

    def replacements_elsewhere() -> bool:
        pods = cl.json("get", "pods", "-n", ns, "-l", "app=app")["items"]
        return len(pods) == 3 and all(p["spec"].get("nodeName") in ("node-1", "node-3") for p in pods)

    cl.wait_for(replacements_elsewhere, what="replacements on the other nodes")
    assert all(p["spec"].get("nodeName") != "node-2" for p in cl.json("get", "pods", "-n", ns)["items"])
    cl.kubectl("uncordon", "node-2")


def test_eviction_respects_disruption_budget(cl: Cluster, nodes: list[str]) -> None:
    ns = ns_of(cl, "pdb")
    run_pod(cl, ns, "guarded", extra={})
    cl.kubectl("label", "pod", "guarded", "-n", ns, "app=db")
    wait_node(cl, ns, "guarded")
    running = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    cl.kubectl("patch", "pod", "guarded", "-n", ns, "--subresource=status", "--type=merge", "-p", json.dumps(running))
    cl.kubectl("create", "pdb", "db", "-n", ns, "--selector=app=db", "--min-available=1")
    evict = json.dumps({"apiVersion": "policy/v1", "kind": "Eviction",
                        "metadata": {"name": "guarded", "namespace": ns}})
    path = f"/api/v1/namespaces/{ns}/pods/guarded/eviction"

    # no disruption controller has looked at the budget yet: upstream refuses with 429
    r = cl.kubectl("create", "--raw", path, "-f", "-", input=evict, check=False)
    assert r.returncode != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget." in r.stderr, r.stderr

    def pdb_status(allowed: int) -> None:
        st = {"status": {"observedGeneration": 1, "disruptionsAllowed": allowed, "currentHealthy": 1,
                         "desiredHealthy": 1, "expectedPods": 1}}
        cl.kubectl("patch", "pdb", "db", "-n", ns, "--subresource=status", "--type=merge", "-p", json.dumps(st))

    pdb_status(0)
    r = cl.kubectl("create", "--raw", path, "-f", "-", input=evict, check=False)
    assert "Cannot evict pod as it would violate the pod's disruption budget." in r.stderr, r.stderr
    assert cl.json("get", "pod", "guarded", "-n", ns)["metadata"].get("deletionTimestamp") is None

    pdb_status(1)
    cl.kubectl("create", "--raw", path, "-f", "-", input=evict)
    pdb = cl.json("get", "pdb", "db", "-n", ns)
    assert pdb["status"]["disruptionsAllowed"] == 0 and "guarded" in pdb["status"]["disruptedPods"]
    assert cl.json("get", "pod", "guarded", "-n", ns)["metadata"].get("deletionTimestamp")
