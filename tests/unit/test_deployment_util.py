"""Deployment arithmetic against upstream's rules and test tables (deployment_util_test.go)."""

from __future__ import annotations

import pytest

from kubeling.api.timestamps import rfc3339
from kubeling.controllers import podutil
from kubeling.controllers.deployment import rolling, util


def deploy(replicas: int = 10, surge: object = "25%", unavailable: object = "25%", *, kind: str = "RollingUpdate",
           **spec: object) -> dict:
    strategy: dict = {"type": kind}
    if kind == "RollingUpdate":
        strategy["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"metadata": {"name": "d", "namespace": "ns", "uid": "d-uid", "generation": 1},
            "spec": {"replicas": replicas, "strategy": strategy, "selector": {"matchLabels": {"app": "x"}},
                     "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
                     **spec},
            "status": {}}


def rs(name: str, replicas: int, available: int = 0, created: str = "2024-01-01T00:00:00Z", *,
       annotations: dict | None = None, image: str = "i", **status: int) -> dict:
    return {"metadata": {"name": name, "uid": name + "-uid", "creationTimestamp": created,
                         "annotations": dict(annotations or {})},
            "spec": {"replicas": replicas,
                     "template": {"metadata": {"labels": {"app": "x", "pod-template-hash": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}},
            "status": {"replicas": replicas, "availableReplicas": available, **status}}


# ---- fenceposts -------------------------------------------------------------------------------

@pytest.mark.parametrize("surge,unavailable,desired,want", [
    # upstream TestResolveFenceposts
    ("0%", "0%", 0, (0, 1)),
    ("39%", "39%", 10, (4, 3)),
    ("oops", "39%", 10, ValueError),
    ("55%", "urg", 10, ValueError),
    ("5", "2%", 10, ValueError),   # a plain number in a string is not a percentage
    (None, None, 10, (0, 1)),
    # upstream ResolveFenceposts doc comment
    ("0%", "1%", 2, (0, 1)),
    ("1%", "25%", 2, (1, 0)),
    ("1%", "0%", 1, (1, 0)),
    # percentages: surge rounds up, unavailable rounds down
    ("25%", "25%", 10, (3, 2)),
    ("25%", "25%", 3, (1, 0)),
    ("25%", "25%", 1, (1, 0)),
    ("50%", "50%", 5, (3, 2)),
    ("100%", "100%", 7, (7, 7)),
    # absolute numbers
    (3, 2, 10, (3, 2)),
    (0, 0, 10, (0, 1)),
    (0, 5, 3, (0, 5)),
    (2, "10%", 4, (2, 0)),
])
def test_resolve_fenceposts(surge: object, unavailable: object, desired: int, want: object) -> None:
    if want is ValueError:
        with pytest.raises(ValueError):
            util.resolve_fenceposts(surge, unavailable, desired)
    else:
        assert util.resolve_fenceposts(surge, unavailable, desired) == want


@pytest.mark.parametrize("d,surge,unavailable,min_avail", [
    (deploy(10, 3, 2), 3, 2, 8),
    (deploy(3), 1, 0, 3),
    (deploy(0, "25%", "25%"), 0, 0, 0),      # 0 replicas: nothing may be unavailable
    (deploy(3, 0, 5), 0, 3, 0),                # unavailable never exceeds replicas
    (deploy(4, kind="Recreate"), 0, 0, 0),     # Recreate has no fenceposts
])
def test_max_surge_unavailable(d: dict, surge: int, unavailable: int, min_avail: int) -> None:
    assert util.max_surge(d) == surge
    assert util.max_unavailable(d) == unavailable
    assert util.min_available(d) == min_avail


# ---- NewRSNewReplicas -------------------------------------------------------------------------

@pytest.mark.parametrize("d,old,new,want", [
    # upstream TestNewRSNewReplicas: 10 replicas, surge 1 → total 11 allowed
    (deploy(10, 1, 0), 10, 0, 1),
    (deploy(10, 1, 0), 9, 1, 2),     # 10 pods, 1 more allowed
    (deploy(10, 1, 0), 10, 1, 1),    # at the limit: stays
    (deploy(10, 3, 2), 10, 0, 3),    # the docstring example: +min(13-10, 10-0)
    (deploy(10, 3, 2), 8, 3, 5),     # then +min(13-11, 10-3)
    (deploy(10, 3, 2), 0, 8, 10),    # never more than desired
    (deploy(3), 3, 0, 1),            # tutorial: 3 replicas at 25% → one surge pod
    (deploy(5, kind="Recreate"), 5, 0, 5),
])
def test_new_rs_new_replicas(d: dict, old: int, new: int, want: int) -> None:
    old_rs, new_rs = rs("old", old), rs("new", new)
    assert util.new_rs_new_replicas(d, [old_rs, new_rs], new_rs) == want


def test_max_scaled_down_upstream_example() -> None:
    """rolling.go's worked example: 10 replicas, maxUnavailable 2, maxSurge 3."""
    d = deploy(10, 3, 2)
    # case 1: new RS at 5 crash-looping, old at 8: nothing may be scaled down
    assert rolling.max_scaled_down([rs("old", 8, 8), rs("new", 5, 0)], rs("new", 5, 0), d) == 0
    # after undo: the good RS is new with 1 unavailable
    assert rolling.max_scaled_down([rs("bad", 5, 0), rs("good", 8, 7)], rs("good", 8, 7), d) == 4
    # roll over: a third template starts at 0 → 5 may go
    assert rolling.max_scaled_down([rs("a", 8, 8), rs("b", 5, 0), rs("c", 0)], rs("c", 0), d) == 5


def test_unhealthy_cleanup_plan_oldest_first_and_bounded() -> None:
    a = rs("a", 5, 3, "2024-01-01T00:00:00Z")
    b = rs("b", 4, 0, "2024-01-02T00:00:00Z")
    c = rs("c", 2, 2, "2024-01-03T00:00:00Z")
    plan = rolling.unhealthy_cleanup_plan([c, b, a], 4)
    assert [(r["metadata"]["name"], n) for r, n in plan] == [("a", 3), ("b", 2)]


def test_scale_down_plan_respects_min_available() -> None:
    d = deploy(10, 3, 2)  # minAvailable 8
    old1 = rs("o1", 2, 2, "2024-01-01T00:00:00Z")
    old2 = rs("o2", 6, 6, "2024-01-02T00:00:00Z")
    new = rs("n", 5, 3)
    plan = rolling.scale_down_plan([old1, old2, new], [old2, old1], d)  # 11 available → 3 may go
    assert [(r["metadata"]["name"], n) for r, n in plan] == [("o1", 0), ("o2", 5)]
    assert rolling.scale_down_plan([rs("o", 8, 8), rs("n", 2, 0)], [rs("o", 8, 8)], d) == []


# ---- proportional scaling ---------------------------------------------------------------------

def test_proportion_during_rollout_scale_up() -> None:
    d = deploy(15, 3, 2)  # 18 allowed
    old = rs("old", 8, annotations={util.MAX_REPLICAS: "13"})
    new = rs("new", 5, annotations={util.MAX_REPLICAS: "13"})
    # 5 to add: old 8*18/13 = 11.08 → 11 (+3), new 5*18/13 = 6.9 → 7 (+2), bounded by what is left
    assert util.replica_set_proportion(old, d, 5, 0) == 3
    assert util.replica_set_proportion(new, d, 5, 3) == 2


def test_proportion_scale_to_zero_and_bounds() -> None:
    assert util.replica_set_fraction(rs("a", 4), deploy(0)) == -4
    d = deploy(5, 1, 0)  # 6 allowed
    r = rs("a", 4, annotations={util.MAX_REPLICAS: "11"})  # was 10+1
    # scaling down by 5: fraction 4*6/11 = 2.18 → 2, so -2; allowed -5 → max(-2, -5) = -2
    assert util.replica_set_proportion(r, d, -5, 0) == -2
    assert util.replica_set_proportion(r, d, 0, 0) == 0
    assert util.replica_set_proportion(rs("z", 0), d, 3, 0) == 0


# ---- finding replica sets ---------------------------------------------------------------------

def test_find_new_and_old_replica_sets() -> None:
    d = deploy(3)
    new = rs("new", 3, created="2024-01-02T00:00:00Z")
    twin = rs("twin", 0, created="2024-01-03T00:00:00Z")  # same template, younger: not the new one
    old = rs("old", 0, image="other")
    old2 = rs("old2", 2, image="other2")
    assert util.find_new_replica_set(d, [twin, old, new])["metadata"]["name"] == "new"
    some, every = util.find_old_replica_sets(d, [old, new, old2])
    assert [r["metadata"]["name"] for r in some] == ["old2"]
    assert [r["metadata"]["name"] for r in every] == ["old", "old2"]
    assert util.find_new_replica_set(deploy(3), [old]) is None


def test_equal_ignore_hash_is_semantic() -> None:
    a = {"metadata": {"labels": {"app": "x", "pod-template-hash": "abc"}}, "spec": {"containers": [{"name": "c"}]}}
    b = {"metadata": {"labels": {"app": "x"}, "annotations": {}}, "spec": {"containers": [{"name": "c", "env": []}]}}
    assert util.equal_ignore_hash(a, b)
    b["metadata"]["labels"]["app"] = "y"
    assert not util.equal_ignore_hash(a, b)


def test_find_active_or_latest() -> None:
    new = rs("new", 0, created="2024-01-03T00:00:00Z")
    a = rs("a", 0, created="2024-01-01T00:00:00Z")
    b = rs("b", 0, created="2024-01-02T00:00:00Z")
    assert util.find_active_or_latest(new, [a, b]) is new
    assert util.find_active_or_latest(None, [a, b]) is b
    b["spec"]["replicas"] = 2
    assert util.find_active_or_latest(new, [a, b]) is b
    new["spec"]["replicas"] = 1
    assert util.find_active_or_latest(new, [a, b]) is None
    assert util.find_active_or_latest(None, []) is None


def test_size_orders() -> None:
    a = rs("a", 3, created="2024-01-01T00:00:00Z")
    b = rs("b", 3, created="2024-01-02T00:00:00Z")
    c = rs("c", 5, created="2024-01-03T00:00:00Z")
    assert [r["metadata"]["name"] for r in util.sort_by_size_newer([a, b, c])] == ["c", "b", "a"]
    assert [r["metadata"]["name"] for r in util.sort_by_size_older([b, c, a])] == ["c", "a", "b"]


# ---- revisions and annotations ----------------------------------------------------------------

def test_max_and_last_revision() -> None:
    rss = [rs("a", 0, annotations={util.REVISION: "1"}), rs("b", 0, annotations={util.REVISION: "4"}),
           rs("c", 0, annotations={util.REVISION: "3"}), rs("d", 0, annotations={util.REVISION: "x"}), None]
    assert util.max_revision(rss) == 4
    assert util.last_revision(rss) == 3


def test_new_rs_annotations_on_create() -> None:
    d = deploy(3)
    d["metadata"]["annotations"] = {util.CHANGE_CAUSE: "kubectl set image", util.LAST_APPLIED: "{}", util.REVISION: "9"}
    new = {"metadata": {"name": "n"}, "spec": {"replicas": 1}}
    assert util.set_new_replica_set_annotations(d, new, "2", False)
    assert new["metadata"]["annotations"] == {util.CHANGE_CAUSE: "kubectl set image", util.REVISION: "2",
                                              util.DESIRED_REPLICAS: "3", util.MAX_REPLICAS: "4"}


def test_new_rs_annotations_rollback_keeps_history() -> None:
    d = deploy(3)
    r = {"metadata": {"name": "n", "annotations": {util.REVISION: "1"}}}
    assert util.set_new_replica_set_annotations(d, r, "3", True)
    assert r["metadata"]["annotations"][util.REVISION] == "3"
    assert r["metadata"]["annotations"][util.REVISION_HISTORY] == "1"
    assert util.set_new_replica_set_annotations(d, r, "5", True)
    assert r["metadata"]["annotations"][util.REVISION_HISTORY] == "1,3"
    # a smaller revision never lowers the annotation
    assert not util.set_new_replica_set_annotations(d, r, "2", True)
    assert r["metadata"]["annotations"][util.REVISION] == "5"


def test_revision_history_is_bounded() -> None:
    r = {"metadata": {"annotations": {util.REVISION: "9", util.REVISION_HISTORY: "1,3,5,7"}}}
    # "1,3,5,7" + ",9" is 9 chars: the oldest entries go until it fits in 7
    util.set_new_replica_set_annotations(deploy(1), r, "10", True, history_limit_chars=7)
    assert r["metadata"]["annotations"][util.REVISION_HISTORY] == "3,5,7,9"


# ---- hash -------------------------------------------------------------------------------------

def test_safe_encode_string_alphabet() -> None:
    # upstream: each decimal digit maps onto "bcdfghjklmnpqrstvwxz2456789" by its byte value
    assert util.safe_encode_string("501266695") == "9456bbbf9"
    assert util.safe_encode_string("0123456789") == "456789bcdf"


def test_fnv32a_reference_values() -> None:
    assert util.fnv32a(b"") == 0x811C9DC5
    assert util.fnv32a(b"a") == 0xE40C292C
    assert util.fnv32a(b"foobar") == 0xBF9CF968


def test_compute_hash_deterministic_and_collision_sensitive() -> None:
    t = deploy(3)["spec"]["template"]
    h = util.compute_hash(t, None)
    assert h == util.compute_hash({"spec": t["spec"], "metadata": t["metadata"]}, None)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(h) <= 10
    assert util.compute_hash(t, 1) != h and util.compute_hash(t, 1) != util.compute_hash(t, 2)
    other = {**t, "spec": {"containers": [{"name": "c", "image": "j"}]}}
    assert util.compute_hash(other, None) != h


# ---- status and conditions --------------------------------------------------------------------

NOW = 1_700_000_000.0


def test_calculate_status_counts_and_available() -> None:
    d = deploy(3)
    d["metadata"]["generation"] = 2
    old = rs("old", 2, 2, readyReplicas=2)
    new = rs("new", 2, 1, readyReplicas=1)
    st = util.calculate_status([old, new], new, d, NOW)
    assert {k: v for k, v in st.items() if k != "conditions"} == {
        "observedGeneration": 2, "replicas": 4, "updatedReplicas": 2, "readyReplicas": 3,
        "availableReplicas": 3, "unavailableReplicas": 1}
    (cond,) = st["conditions"]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    st = util.calculate_status([rs("new", 3, 2)], None, d, NOW)
    assert st["conditions"][0]["reason"] == "MinimumReplicasUnavailable"
    assert st["conditions"][0]["message"] == "Deployment does not have minimum availability."
    assert "updatedReplicas" not in st  # omitempty


def test_set_condition_keeps_transition_time() -> None:
    status: dict = {}
    util.set_condition(status, util.new_condition("Progressing", "True", util.NEW_REPLICA_SET, "a", NOW))
    util.set_condition(status, util.new_condition("Progressing", "True", util.REPLICA_SET_UPDATED, "b", NOW + 60))
    (c,) = status["conditions"]
    assert c["reason"] == util.REPLICA_SET_UPDATED
    assert c["lastTransitionTime"] == rfc3339(NOW)
    assert c["lastUpdateTime"] == rfc3339(NOW + 60)
    util.set_condition(status, util.new_condition("Progressing", "True", util.REPLICA_SET_UPDATED, "c", NOW + 90))
    assert status["conditions"][0]["message"] == "b"  # same status and reason: no update


def test_rollout_conditions_complete_progressing_timed_out() -> None:
    d = deploy(3, progressDeadlineSeconds=600)
    d["metadata"]["name"] = "nginx-deployment"
    new = rs("nginx-deployment-9456bbbf9", 3, 3, readyReplicas=3)
    d["status"] = {"conditions": [util.new_condition("Progressing", "True", util.REPLICA_SET_UPDATED, "x", NOW)]}
    st = util.roll_status_conditions(d, [new], new, NOW + 5)
    prog = util.get_condition(st, "Progressing")
    assert prog["reason"] == "NewReplicaSetAvailable"
    assert prog["message"] == 'ReplicaSet "nginx-deployment-9456bbbf9" has successfully progressed.'

    # progress: more available than before
    stalled = rs("nginx-deployment-9456bbbf9", 3, 1, readyReplicas=1)
    d["status"].update(replicas=3, updatedReplicas=3, availableReplicas=0)
    st = util.roll_status_conditions(d, [stalled], stalled, NOW + 5)
    prog = util.get_condition(st, "Progressing")
    assert (prog["reason"], prog["message"]) == ("ReplicaSetUpdated", 'ReplicaSet "nginx-deployment-9456bbbf9" is progressing.')
    assert prog["lastUpdateTime"] == rfc3339(NOW + 5)

    # no progress for longer than the deadline
    d["status"].update(readyReplicas=1, availableReplicas=1)
    d["spec"]["progressDeadlineSeconds"] = 10
    assert util.get_condition(util.roll_status_conditions(d, [stalled], stalled, NOW + 5), "Progressing")["reason"] == \
        "ReplicaSetUpdated"
    st = util.roll_status_conditions(d, [stalled], stalled, NOW + 11)
    prog = util.get_condition(st, "Progressing")
    assert (prog["status"], prog["reason"], prog["message"]) == (
        "False", "ProgressDeadlineExceeded", 'ReplicaSet "nginx-deployment-9456bbbf9" has timed out progressing.')
    assert util.progress_recheck_after(d, st, NOW + 3) == pytest.approx(8.0)
    assert util.progress_recheck_after(d, st, NOW + 10.5) == 0.0


def test_no_progress_deadline_drops_condition() -> None:
    d = deploy(1, progressDeadlineSeconds=util.MAX_INT32)
    d["status"] = {"conditions": [util.new_condition("Progressing", "True", util.NEW_REPLICA_SET, "x", NOW)]}
    st = util.roll_status_conditions(d, [rs("a", 1, 1)], rs("a", 1, 1), NOW)
    assert util.get_condition(st, "Progressing") is None


def test_replica_failure_promoted() -> None:
    failing = rs("a", 3, 0)
    failing["status"]["conditions"] = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                        "message": "quota", "lastTransitionTime": "2024-01-01T00:00:00Z"}]
    st = util.roll_status_conditions(deploy(3), [failing], failing, NOW)
    c = util.get_condition(st, "ReplicaFailure")
    assert (c["reason"], c["message"]) == ("FailedCreate", "quota")


def test_is_saturated() -> None:
    d = deploy(3)
    assert util.is_saturated(d, rs("n", 3, 3, annotations={util.DESIRED_REPLICAS: "3"}))
    assert not util.is_saturated(d, rs("n", 3, 2, annotations={util.DESIRED_REPLICAS: "3"}))
    assert not util.is_saturated(d, rs("n", 3, 3))
    assert not util.is_saturated(d, None)


# ---- pods -------------------------------------------------------------------------------------

def pod(name: str, *, node: str = "", phase: str = "Pending", ready_since: float | None = None,
        created: float = NOW - 1000, restarts: int = 0) -> dict:
    status: dict = {"phase": phase, "containerStatuses": [{"name": "c", "restartCount": restarts}]}
    if ready_since is not None:
        status["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(ready_since)}]
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": rfc3339(created)},
            "spec": {"nodeName": node}, "status": status}


def test_pod_available_min_ready_seconds() -> None:
    p = pod("a", phase="Running", ready_since=NOW - 10)
    assert podutil.is_pod_available(p, 0, NOW)
    assert podutil.is_pod_available(p, 9, NOW)
    assert not podutil.is_pod_available(p, 10, NOW)  # strictly after
    assert not podutil.is_pod_available(pod("b"), 0, NOW)


def test_pods_to_delete_order() -> None:
    unscheduled = pod("unscheduled")
    pending = pod("pending", node="n1")
    not_ready = pod("not-ready", node="n1", phase="Running")
    ready_new = pod("ready-new", node="n2", phase="Running", ready_since=NOW - 5)
    ready_old = pod("ready-old", node="n2", phase="Running", ready_since=NOW - 5000)
    pods = [ready_old, ready_new, not_ready, pending, unscheduled]
    order = [p["metadata"]["name"] for p in podutil.pods_to_delete(pods, pods, 4, NOW)]
    assert order == ["unscheduled", "pending", "not-ready", "ready-new"]
    assert len(podutil.pods_to_delete(pods, pods, 9, NOW)) == 5


def test_pods_to_delete_prefers_doubled_up_nodes() -> None:
    a1 = pod("a1", node="a", phase="Running", ready_since=NOW - 100)
    a2 = pod("a2", node="a", phase="Running", ready_since=NOW - 100)
    b1 = pod("b1", node="b", phase="Running", ready_since=NOW - 100)
    (victim,) = podutil.pods_to_delete([b1, a1, a2], [b1, a1, a2], 1, NOW)
    assert victim["spec"]["nodeName"] == "a"


def test_expectations() -> None:
    clock = [0.0]
    e = podutil.Expectations(clock=lambda: clock[0])
    assert e.satisfied("k")
    e.expect_creations("k", 2)
    assert not e.satisfied("k")
    e.creation_observed("k")
    e.creation_observed("k")
    assert e.satisfied("k")
    e.expect_deletions("k", ["ns/a"])
    assert not e.satisfied("k")
    clock[0] = podutil.EXPECTATIONS_TIMEOUT + 1
    assert e.satisfied("k")  # expired
