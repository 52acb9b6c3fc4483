"""Node lifecycle, taint eviction and pod GC: the pure decisions, table-tested against upstream."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from kubeling.api.resources import lookup
from kubeling.api.timestamps import rfc3339
from kubeling.controllers import nodelifecycle as nl
from kubeling.controllers import podgc, taintmanager as tm

from .realapi import RealAPI

NOW = 1_700_000_000.0


def node(name: str = "n1", ready: str | None = "True", taints: list | None = None, labels: dict | None = None,
         unschedulable: bool = False, extra_conditions: list | None = None) -> dict:
    conds = []
    if ready is not None:
        conds.append({"type": "Ready", "status": ready, "lastHeartbeatTime": rfc3339(NOW - 100),
                      "lastTransitionTime": rfc3339(NOW - 1000), "reason": "KubeletReady"})
    conds += extra_conditions or []
    n = {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": rfc3339(NOW - 5000),
                      "labels": labels or {}, "resourceVersion": "1"},
         "spec": {"taints": taints or []}, "status": {"conditions": conds}}
    if unschedulable:
        n["spec"]["unschedulable"] = True
    return n


# ---- conditions ----------------------------------------------------------------------------------

def test_mark_conditions_unknown_flips_posted_and_adds_missing() -> None:
    n = node(extra_conditions=[{"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": "x",
                                "lastTransitionTime": "y", "reason": "KubeletHasSufficientMemory"}])
    nl.mark_conditions_unknown(n, NOW)
    by = {c["type"]: c for c in n["status"]["conditions"]}
    assert set(by) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}
    for t in ("Ready", "MemoryPressure"):
        assert by[t]["status"] == "Unknown"
        assert by[t]["reason"] == "NodeStatusUnknown"
        assert by[t]["message"] == "Kubelet stopped posting node status."
        assert by[t]["lastTransitionTime"] == rfc3339(NOW)
    assert by["Ready"]["lastHeartbeatTime"] == rfc3339(NOW - 100)  # heartbeat kept
    for t in ("DiskPressure", "PIDPressure"):
        assert by[t]["reason"] == "NodeStatusNeverUpdated"
        assert by[t]["message"] == "Kubelet never posted node status."
        assert by[t]["lastHeartbeatTime"] == n["metadata"]["creationTimestamp"]


def test_mark_conditions_unknown_keeps_already_unknown() -> None:
    n = node(ready="Unknown")
    before = copy.deepcopy(nl.get_condition(n["status"], "Ready"))
    nl.mark_conditions_unknown(n, NOW)
    assert nl.get_condition(n["status"], "Ready") == before


# ---- taints --------------------------------------------------------------------------------------

@pytest.mark.parametrize("conds,unsched,want", [
    ([("Ready", "True")], False, []),
    ([("Ready", "False")], False, ["node.kubernetes.io/not-ready"]),
    ([("Ready", "Unknown")], False, ["node.kubernetes.io/unreachable"]),
    ([("Ready", "True"), ("MemoryPressure", "True"), ("DiskPressure", "True"), ("PIDPressure", "True")], False,
     ["node.kubernetes.io/memory-pressure", "node.kubernetes.io/disk-pressure", "node.kubernetes.io/pid-pressure"]),
    ([("Ready", "True"), ("NetworkUnavailable", "True")], True,
     ["node.kubernetes.io/network-unavailable", "node.kubernetes.io/unschedulable"]),
])
def test_no_schedule_taints(conds: list, unsched: bool, want: list) -> None:
    n = node(ready=None, unschedulable=unsched,
             extra_conditions=[{"type": t, "status": s} for t, s in conds])
    got = nl.no_schedule_taints(n)
    assert [t["key"] for t in got] == want
    assert all(t["effect"] == "NoSchedule" for t in got)


def test_no_schedule_diff_leaves_foreign_taints() -> None:
    n = node(ready="True", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
                                   {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                                   {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])
    add, remove = nl.no_schedule_taint_diff(n)
    assert add == [] and remove == [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]


def test_swap_taints_sets_time_added_and_replaces() -> None:
    taints = [{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "timeAdded": "old"},
              {"key": "a", "effect": "NoSchedule"}]
    out = nl.swap_taints(taints, [nl.UNREACHABLE_TAINT], [nl.NOT_READY_TAINT], NOW)
    assert out == [{"key": "a", "effect": "NoSchedule"},
                   {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": rfc3339(NOW)}]


@pytest.mark.parametrize("ready,want", [
    ([True, True, True], (0, "Normal")),
    ([False, False, False], (3, "FullDisruption")),
    ([False], (1, "FullDisruption")),
    ([True, False, False, False, True], (3, "PartialDisruption")),  # 60% >= 55%
    ([True, True, False, False], (2, "Normal")),  # never partial with <= 2 not ready
    ([True, True, False, False, False, True, True], (3, "Normal")),  # 43%
    ([], (0, "Normal")),
])
def test_compute_zone_state(ready: list, want: tuple) -> None:
    assert nl.compute_zone_state(ready) == want


def test_zone_qps() -> None:
    s = nl.NodeLifecycleSettings()
    assert nl.zone_qps("Normal", 3, s) == 0.1
    assert nl.zone_qps("FullDisruption", 3, s) == 0.1
    assert nl.zone_qps("PartialDisruption", 3, s) == 0.0
    assert nl.zone_qps("PartialDisruption", 51, s) == 0.01


def test_zone_key() -> None:
    assert nl.zone_key(node()) == ""
    assert nl.zone_key(node(labels={"topology.kubernetes.io/zone": "a", "topology.kubernetes.io/region": "r"})) \
        == "r:\x00:a"


def test_rate_limited_queue_one_token_then_rate() -> None:
    t = [NOW]
    q = nl.RateLimitedTimedQueue(0.1, lambda: t[0])
    assert q.add("a") and q.add("b") and not q.add("a")
    assert q.limiter.try_accept() and not q.limiter.try_accept()  # burst 1
    t[0] += 10
    assert q.limiter.try_accept()
    q.done("a", True)
    assert q.due() == ["b"] and not q.add("a")  # processed names stay known until removed
    q.remove("a")
    assert q.add("a")
    q.swap_limiter(0)
    t[0] += 100
    assert not q.limiter.try_accept()


def test_pod_not_ready_status() -> None:
    pod = {"metadata": {"name": "p"}, "status": {"conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "x"}, {"type": "PodScheduled", "status": "True"}]}}
    new = nl.pod_not_ready_status(pod, NOW)
    assert new is not None and new["status"]["conditions"][0] == {
        "type": "Ready", "status": "False", "lastTransitionTime": rfc3339(NOW)}
    assert nl.pod_not_ready_status(new, NOW) is None
    assert nl.pod_not_ready_status({"metadata": {}, "status": {}}, NOW) is None


# ---- taint eviction ------------------------------------------------------------------------------

UNREACH = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}


@pytest.mark.parametrize("toleration,taint,want", [
    ({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}, UNREACH, True),
    ({"key": "node.kubernetes.io/unreachable", "operator": "Exists"}, UNREACH, True),  # empty effect: all
    ({"operator": "Exists"}, UNREACH, True),  # empty key + Exists: everything
    ({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"}, UNREACH, False),
    ({"key": "k", "value": "v", "effect": "NoExecute"}, {"key": "k", "value": "v", "effect": "NoExecute"}, True),
    ({"key": "k", "operator": "Equal", "value": "v"}, {"key": "k", "value": "w", "effect": "NoExecute"}, False),
    ({"key": "other", "operator": "Exists"}, UNREACH, False),
])
def test_tolerates_taint(toleration: dict, taint: dict, want: bool) -> None:
    assert tm.tolerates_taint(toleration, taint) is want


def tol(key: str, secs: int | None) -> dict:
    t = {"key": key, "operator": "Exists", "effect": "NoExecute"}
    if secs is not None:
        t["tolerationSeconds"] = secs
    return t


@pytest.mark.parametrize("taints,tolerations,want", [
    ([], [], None),  # no taints: stay
    ([UNREACH], [], 0.0),  # untolerated: now
    ([UNREACH], [tol(UNREACH["key"], 300)], 300),  # the admission default
    ([UNREACH], [tol(UNREACH["key"], None)], None),  # forever
    ([UNREACH, NOT_READY], [tol(UNREACH["key"], 30), tol(NOT_READY["key"], 5)], 5),  # min of used
    ([UNREACH, NOT_READY], [tol(UNREACH["key"], 30)], 0.0),  # one not tolerated
    ([UNREACH], [tol(UNREACH["key"], -5)], 0),  # negative counts as zero
    ([UNREACH], [tol(UNREACH["key"], 2), tol(UNREACH["key"], 1)], 2),  # first match is the one used
])
def test_eviction_delay(taints: list, tolerations: list, want: Any) -> None:
    assert tm.eviction_delay(taints, tolerations) == want


class _Rec:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: dict, typ: str, reason: str, msg: str) -> None:
        self.events.append((typ, reason, msg))


def test_process_pod_on_node_schedules_keeps_and_cancels() -> None:
    async def body() -> None:
        t = [NOW]
        c = tm.TaintEvictionController(client=None,  # type: ignore[arg-type]
                                       informers=_informers(RealAPI()), clock=lambda: t[0])
        c.recorder = _Rec()  # type: ignore[assignment]
        key = ("default", "p")
        c.process_pod_on_node(key, [UNREACH], [tol(UNREACH["key"], 30)])
        w = c.work[key]
        assert (w.created_at, w.fire_at) == (NOW, NOW + 30)
        t[0] += 10  # a later update with the same tolerations keeps the original schedule
        c.process_pod_on_node(key, [UNREACH], [tol(UNREACH["key"], 30)])
        assert c.work[key] is w
        c.process_pod_on_node(key, [UNREACH], [tol(UNREACH["key"], 5)])  # upstream keeps a started countdown
        assert c.work[key] is w
        t[0] = NOW
        c.process_pod_on_node(key, [UNREACH], [tol(UNREACH["key"], 60)])  # rescheduled from the first sighting
        assert (c.work[key].created_at, c.work[key].fire_at) == (NOW, NOW + 60)
        c.process_pod_on_node(key, [], [])  # taint gone: cancelled with an event
        assert key not in c.work
        assert c.recorder.events[-1] == ("Normal", "TaintManagerEviction", "Cancelling deletion of Pod default/p")
        for w in c.work.values():
            w.handle.cancel()

    asyncio.run(body())


# ---- pod GC --------------------------------------------------------------------------------------

def pod(name: str, phase: str = "Running", node_name: str = "n1", created: float = NOW, deleting: bool = False,
        reason: str = "") -> dict:
    p = {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                      "creationTimestamp": rfc3339(created)},
         "spec": {"nodeName": node_name}, "status": {"phase": phase}}
    if reason:
        p["status"]["reason"] = reason
    if deleting:
        p["metadata"]["deletionTimestamp"] = rfc3339(created + 1)
    return p


def test_terminated_to_delete_evicted_then_oldest() -> None:
    pods = [pod("a", "Succeeded", created=NOW - 10), pod("b", "Failed", created=NOW - 30),
            pod("c", "Failed", created=NOW, reason="Evicted"), pod("d", "Running", created=NOW - 100),
            pod("e", "Succeeded", created=NOW - 30)]
    assert [p["metadata"]["name"] for p in podgc.terminated_to_delete(pods, 1)] == ["c", "b", "e"]
    assert podgc.terminated_to_delete(pods, 4) == []
    assert podgc.terminated_to_delete(pods, 0) == []  # threshold 0 disables


def test_terminating_out_of_service() -> None:
    oos = {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}
    nodes = {"down": node("down", ready="Unknown", taints=[oos]), "up": node("up", taints=[oos]),
             "plain": node("plain", ready="Unknown")}
    pods = [pod("a", node_name="down", deleting=True), pod("b", node_name="down"),
            pod("c", node_name="up", deleting=True), pod("d", node_name="plain", deleting=True),
            pod("e", node_name="gone", deleting=True)]
    assert [p["metadata"]["name"] for p in podgc.terminating_out_of_service(pods, nodes)] == ["a"]


def test_unscheduled_terminating_and_failed_status() -> None:
    pods = [pod("a", node_name="", deleting=True), pod("b", node_name="", deleting=False),
            pod("c", deleting=True)]
    assert [p["metadata"]["name"] for p in podgc.unscheduled_terminating(pods)] == ["a"]
    st = podgc.failed_status(pod("x"), podgc.ORPHAN_CONDITION, NOW)
    assert st["phase"] == "Failed"
    assert st["conditions"] == [{**podgc.ORPHAN_CONDITION, "lastTransitionTime": rfc3339(NOW)}]


# ---- controller: health over the real API (tests/unit/realapi.py) ---------------------------------

NODES, LEASES, PODS = lookup("", "v1", "nodes"), lookup("coordination.k8s.io", "v1", "leases"), lookup("", "v1", "pods")


async def started(*nodes: dict) -> RealAPI:
    """The API holding `nodes` (created 5,000 s before NOW, with their status as the kubelet posted it)."""
    api = await RealAPI(now=lambda: rfc3339(NOW - 5000)).start()
    for n in nodes:
        made = await api.create(NODES, {**n, "metadata": {"name": n["metadata"]["name"],
                                                           "labels": n["metadata"]["labels"]}})
        await api.client.update_status(NODES, {**made, "status": n["status"]})
    api.sent.clear()
    return api


async def renew(api: RealAPI, name: str, at: float) -> None:
    """The kubelet renews its node's Lease."""
    spec = {"holderIdentity": name, "renewTime": rfc3339(at).replace("Z", ".000000Z")}
    cur = api.view(LEASES).get("kube-node-lease", name)
    if cur is None:
        await api.create(LEASES, {"metadata": {"name": name, "namespace": "kube-node-lease"}, "spec": spec})
    else:
        await api.client.update(LEASES, {**cur, "spec": spec})


def _informers(api: RealAPI) -> nl.NodeInformers:
    inf = nl.NodeInformers.__new__(nl.NodeInformers)
    inf.nodes, inf.pods, inf.leases = api.view(NODES), api.view(PODS), api.view(LEASES)  # type: ignore[assignment]
    return inf


def _controller(api: RealAPI, t: list[float]) -> nl.NodeLifecycleController:
    c = nl.NodeLifecycleController(api.client, nl.NodeLifecycleSettings(node_monitor_grace_period=3),
                                   informers=_informers(api), clock=lambda: t[0])
    c.recorder = _Rec()  # type: ignore[assignment]
    return c


def status_writes(api: RealAPI) -> list[str]:
    """The nodes whose status the controller wrote."""
    return [path.split("/")[-2] for method, path, _ in api.writes("PUT") if path.endswith("/status")]


def stored(api: RealAPI, name: str) -> dict:
    n = api.view(NODES).get(None, name)
    assert n is not None
    return n


def taints(api: RealAPI, name: str) -> list[dict]:
    return stored(api, name)["spec"].get("taints") or []


def test_silent_node_goes_unknown_tainted_and_recovers() -> None:
    async def body() -> None:
        t = [NOW]
        api = await started(node("n1"), node("n2"))
        await renew(api, "n1", NOW)
        await renew(api, "n2", NOW)
        c = _controller(api, t)
        await c.monitor_node_health()
        assert status_writes(api) == []
        assert ("Normal", "RegisteredNode", "Registered Node n1 in Controller") in c.recorder.events
        t[0] += 2
        await renew(api, "n2", NOW + 2)  # n2 keeps renewing, n1 goes silent
        await c.monitor_node_health()
        assert status_writes(api) == []
        t[0] += 2
        await renew(api, "n2", NOW + 4)
        await c.monitor_node_health()  # n1: 4 s > 3 s grace
        assert status_writes(api) == ["n1"]
        ready = nl.get_condition(stored(api, "n1")["status"], "Ready")
        assert ready["status"] == "Unknown" and ready["reason"] == "NodeStatusUnknown"
        assert ("Normal", "NodeNotReady", "Node n1 status is now: NodeNotReady") in c.recorder.events
        await c.do_no_execute_tainting_pass()
        assert taints(api, "n1") == []  # queued from the next pass's observed condition
        await c.monitor_node_health()
        await c.do_no_execute_tainting_pass()
        assert [(x["key"], x["effect"]) for x in taints(api, "n1")] == [("node.kubernetes.io/unreachable", "NoExecute")]
        assert taints(api, "n1")[0]["timeAdded"] == rfc3339(t[0])
        # the kubelet comes back: Ready again, the NoExecute taint goes
        back = stored(api, "n1")
        back["status"]["conditions"][0].update(status="True", lastHeartbeatTime=rfc3339(t[0] + 1),
                                               lastTransitionTime=rfc3339(t[0] + 1))
        await api.client.update_status(NODES, back)
        t[0] += 1
        await renew(api, "n1", t[0])
        await renew(api, "n2", t[0])
        await c.monitor_node_health()
        assert taints(api, "n1") == []
        api.close()

    asyncio.run(body())


def test_all_nodes_down_is_master_disruption() -> None:
    async def body() -> None:
        t = [NOW]
        api = await started(node("n1"))
        await renew(api, "n1", NOW)
        c = _controller(api, t)
        await c.monitor_node_health()
        t[0] += 10
        await c.monitor_node_health()
        await c.monitor_node_health()
        assert nl.get_condition(stored(api, "n1")["status"], "Ready")["status"] == "Unknown"
        await c.do_no_execute_tainting_pass()
        assert taints(api, "n1") == []  # the only node: no tainting
        assert c.m.zone_states == {"": "FullDisruption"}
        api.close()

    asyncio.run(body())
