"""Node failure against a real `kubeling up` with a 3 s grace period.

The test plays the kubelets of two nodes: it creates the Node objects, posts Ready, and renews their
Leases in `kube-node-lease`. Pods of a Deployment (with a scheduler name nobody serves, so the
test places them itself through pods/binding) run on `nl-bad`. When `nl-bad` stops renewing its
Lease the node lifecycle controller marks it Unknown and taints it, the taint eviction controller
deletes its pods after their 2 s tolerations, and the ReplicaSet creates replacements.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest
from kubernetes import client, config

from .conftest import Cluster, free_port


def _micro(t: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if t is None else t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sec() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def fast_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(str(tmp_path_factory.mktemp("kubeling-nl")), free_port(),
                extra_args=("--node-monitor-grace-period", "3s", "--node-monitor-period", "500ms",
                            "--node-eviction-rate", "10"))
    c.start()
    yield c
    c.stop()


class Heartbeats:
    """Renews the Leases of some nodes every 0.5 s, like kubelets do every 10 s."""

    def __init__(self, api: Any, names: list[str]) -> None:
        self.coord = client.CoordinationV1Api(api)
        self.alive = set(names)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        for n in names:
            self.coord.create_namespaced_lease("kube-node-lease", {
                "metadata": {"name": n, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": n, "leaseDurationSeconds": 40, "renewTime": _micro()}})
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for n in list(self.alive):
                try:
                    self.coord.patch_namespaced_lease(n, "kube-node-lease", {"spec": {"renewTime": _micro()}})
                except Exception:
                    pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _node_status(ready: str) -> dict:
    now = _sec()
    return {"conditions": [
        {"type": t, "status": s, "reason": r, "message": "simulated by the test", "lastHeartbeatTime": now,
         "lastTransitionTime": now}
        for t, s, r in (("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                        ("PIDPressure", "False", "KubeletHasSufficientPID"),
                        ("Ready", ready, "KubeletReady"))],
        "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}


def _make_node(core: Any, name: str) -> None:
    core.create_node({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
    core.patch_node_status(name, {"status": _node_status("True")})


def _deployment(name: str) -> dict:
    labels = {"app": name}
    tol = [{"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}
           for k in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"schedulerName": "test-places-pods", "tolerations": tol,
                                           "containers": [{"name": "c", "image": "nginx:1.14.2"}]}}}}


def _run_on(core: Any, ns: str, pod: dict, node: str) -> None:
    name = pod["metadata"]["name"]
    core.create_namespaced_pod_binding(name, ns, {
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}}, _preload_content=False)
    now = _sec()
    core.patch_namespaced_pod_status(name, ns, {"status": {
        "phase": "Running", "podIP": "10.244.1.5", "startTime": now,
        "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                       for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]}})


def test_node_failure_taints_and_evicts(fast_cluster: Cluster) -> None:
    c = fast_cluster
    api = config.new_client_from_config(config_file=c.kubeconfig)
    core = client.CoreV1Api(api)
    ns = "nl"
    c.kubectl("create", "namespace", ns)
    for n in ("nl-good", "nl-bad"):
        _make_node(core, n)
    beats = Heartbeats(api, ["nl-good", "nl-bad"])
    try:
        c.kubectl("apply", "-n", ns, "-f", "-", input=__import__("json").dumps(_deployment("web")))

        def pods() -> list[dict]:
            return [api.sanitize_for_serialization(p) for p in core.list_namespaced_pod(ns).items]

        first = c.wait_for(lambda: (lambda ps: ps if len(ps) == 2 else None)(pods()), what="2 pods")
        for p in first:
            _run_on(core, ns, p, "nl-bad")
        c.wait_for(lambda: "2/2" in c.kubectl("get", "deploy", "web", "-n", ns).stdout, what="deployment ready")
        time.sleep(1.0)  # a healthy node stays healthy past the grace period
        assert "NotReady" not in c.kubectl("get", "node", "nl-bad").stdout

        beats.alive.discard("nl-bad")  # the node dies
        t0 = time.monotonic()

        def ready_condition() -> dict | None:
            n = api.sanitize_for_serialization(core.read_node("nl-bad"))
            cond = next(x for x in n["status"]["conditions"] if x["type"] == "Ready")
            return n if cond["status"] == "Unknown" else None

        node = c.wait_for(ready_condition, timeout=60, what="nl-bad Unknown")
        assert time.monotonic() - t0 >= 2.5  # not before the 3 s grace period
        for cond in node["status"]["conditions"]:
            assert cond["status"] == "Unknown"
            assert cond["reason"] == "NodeStatusUnknown"
            assert cond["message"] == "Kubelet stopped posting node status."
        assert "NotReady" in c.kubectl("get", "node", "nl-bad").stdout
        assert "NotReady" not in c.kubectl("get", "node", "nl-good").stdout

        def taints() -> set | None:
            n = api.sanitize_for_serialization(core.read_node("nl-bad"))
            got = {(t["key"], t["effect"]) for t in n["spec"].get("taints") or []}
            return got if ("node.kubernetes.io/unreachable", "NoExecute") in got and \
                ("node.kubernetes.io/unreachable", "NoSchedule") in got else None

        c.wait_for(taints, timeout=60, what="unreachable taints")
        first_names = {p["metadata"]["name"] for p in first}

        def old_pods_not_ready_or_gone() -> bool:
            for p in pods():
                if p["metadata"]["name"] in first_names and not p["metadata"].get("deletionTimestamp"):
                    ready = next((x for x in p["status"].get("conditions") or [] if x["type"] == "Ready"), {})
                    if ready.get("status") != "False":
                        return False
            return True

        c.wait_for(old_pods_not_ready_or_gone, timeout=60, what="pods on nl-bad marked not ready")

        def replaced() -> list | None:
            ps = pods()
            old = [p for p in ps if p["metadata"]["name"] in first_names]
            new = [p for p in ps if p["metadata"]["name"] not in first_names and not p["metadata"].get("deletionTimestamp")]
            if all(p["metadata"].get("deletionTimestamp") for p in old) and len(new) == 2:
                return old
            return None

        old = c.wait_for(replaced, timeout=60, what="pods evicted and replaced")
        for p in old:  # no kubelet to confirm: they stay Terminating, with the eviction condition
            assert any(x["type"] == "DisruptionTarget" and x["reason"] == "DeletionByTaintManager"
                       for x in p["status"]["conditions"])
        events = c.json("get", "events", "-n", ns)["items"]
        msgs = {(e["reason"], e["message"]) for e in events}
        for n in first_names:
            assert ("TaintManagerEviction", f"Marking for deletion Pod {ns}/{n}") in msgs
        node_events = {(e["reason"], e["message"]) for e in c.json("get", "events", "-n", "default")["items"]
                       if e["involvedObject"].get("name") == "nl-bad"}
        assert ("NodeNotReady", "Node nl-bad status is now: NodeNotReady") in node_events
        assert ("RegisteredNode", "Registered Node nl-bad in Controller") in node_events

        # the kubelet comes back: Ready posted, lease renewed -> the NoExecute taint goes away
        beats.alive.add("nl-bad")
        core.patch_node_status("nl-bad", {"status": _node_status("True")})

        def untainted() -> bool:
            n = api.sanitize_for_serialization(core.read_node("nl-bad"))
            return not any(t["key"] == "node.kubernetes.io/unreachable" for t in n["spec"].get("taints") or [])

        c.wait_for(untainted, timeout=60, what="taints removed")
    finally:
        beats.stop()
        api.close()
