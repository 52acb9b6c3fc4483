"""DaemonSet decision logic (upstream daemon_controller.go / update.go) without a server."""

from __future__ import annotations

from kubeling.controllers import daemonset as d

HASH = "new"


def ds(**ru: object) -> dict:
    return {"metadata": {"name": "x", "generation": 2}, "spec": {
        "template": {"spec": {}}, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": ru}}}


def pod(name: str, hash_: str, ready: bool = True) -> dict:
    return {"metadata": {"name": name, "labels": {"controller-revision-hash": hash_}, "creationTimestamp": name},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": "2020-01-01T00:00:00Z"}]}}


def node(name: str, taints: list | None = None, labels: dict | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def test_should_run_taints_and_selector() -> None:
    x = ds()
    assert d.node_should_run(node("a"), x) == (True, True)
    assert d.node_should_run(node("a", [{"key": "k", "effect": "NoSchedule"}]), x) == (False, True)
    assert d.node_should_run(node("a", [{"key": "k", "effect": "NoExecute"}]), x) == (False, False)
    # default tolerations: cordoned and not-ready nodes keep their daemon pods
    cordoned_not_ready = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                          {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]
    assert d.node_should_run(node("a", cordoned_not_ready), x) == (True, True)
    x["spec"]["template"]["spec"]["nodeSelector"] = {"role": "edge"}
    assert d.node_should_run(node("a"), x) == (False, False)
    assert d.node_should_run(node("a", labels={"role": "edge"}), x) == (True, True)


def test_rolling_update_without_surge_deletes_within_max_unavailable() -> None:
    # 4 nodes, maxUnavailable 2: one node already has an unavailable new pod, so one old pod goes
    nodes = {"a": [pod("a1", "old")], "b": [pod("b1", "old")], "c": [pod("c1", "old")], "d": [pod("d1", HASH, False)]}
    delete, surge = d.rolling_update_plan(ds(maxUnavailable=2), nodes, dict.fromkeys(nodes, True), HASH, 1e10)
    assert [p["metadata"]["name"] for p in delete] == ["a1"] and surge == []
    # an unavailable old pod is always replaceable
    nodes["b"] = [pod("b1", "old", ready=False)]
    delete, _ = d.rolling_update_plan(ds(maxUnavailable=1), nodes, dict.fromkeys(nodes, True), HASH, 1e10)
    assert [p["metadata"]["name"] for p in delete] == ["b1"]


def test_rolling_update_counts_a_node_without_its_pod_as_unavailable() -> None:
    # 3 nodes, maxUnavailable 1: a's old pod is gone and its new pod not yet seen, so no other old
    # pod may go (updatedDesiredNodeCounts puts such a node in nodeToDaemonPods with no pods)
    nodes = {"b": [pod("b1", "old")], "c": [pod("c1", "old")]}
    delete, surge = d.rolling_update_plan(ds(maxUnavailable=1), nodes, {"a": True, "b": True, "c": True}, HASH, 1e10)
    assert delete == [] and surge == []
    # a node that should run nothing is no unavailable node
    delete, _ = d.rolling_update_plan(ds(maxUnavailable=1), nodes, {"a": False, "b": True, "c": True}, HASH, 1e10)
    assert [p["metadata"]["name"] for p in delete] == ["b1"]


def test_rolling_update_with_surge_starts_new_pods_first() -> None:
    nodes = {"a": [pod("a1", "old")], "b": [pod("b1", "old")], "c": [pod("c0", "old"), pod("c1", HASH)]}
    delete, surge = d.rolling_update_plan(ds(maxSurge=1, maxUnavailable=0), nodes, dict.fromkeys(nodes, True), HASH,
                                          1e10)
    assert [p["metadata"]["name"] for p in delete] == ["c0"]  # its replacement is available
    assert surge == ["a"]  # one surge at a time


def test_status_counts_the_oldest_pod_per_node() -> None:
    nodes = [node("a"), node("b"), node("c", [{"key": "k", "effect": "NoSchedule"}])]
    st = d.calculate_status(ds(), d.eligibility(ds(), nodes), {"a": [pod("a1", HASH)], "c": [pod("c1", "old")]},
                            HASH, 1e10)
    assert st == {"currentNumberScheduled": 1, "numberMisscheduled": 1, "desiredNumberScheduled": 2,
                  "numberReady": 1, "updatedNumberScheduled": 1, "numberAvailable": 1, "numberUnavailable": 1,
                  "observedGeneration": 2}
