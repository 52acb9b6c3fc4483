"""Deployment controller steps against the real API (tests/unit/realapi.py): rolling updates step by
step, Recreate, scaling events, revision bookkeeping, history cleanup, hash collisions and adoption.

`World.tick()` runs one reconcile and then plays the ReplicaSet controller (status follows spec,
pods available at once unless told otherwise), writing ReplicaSet status through the API.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from kubeling.api import errors
from kubeling.api.resources import lookup
from kubeling.api.timestamps import rfc3339
from kubeling.controllers import replicaset
from kubeling.controllers.deployment import util
from kubeling.controllers.deployment.controller import DEPLOYMENTS, REPLICASETS, DeploymentController

from .realapi import RealAPI

NOW = 1_700_000_000.0
EVENTS = lookup("", "v1", "events")


class World:
    def __init__(self, api: RealAPI) -> None:
        self.api = api
        self.client = api.client
        self.now = NOW
        self.dc = DeploymentController(api.client, clock=lambda: self.now)
        self.unavailable: set[str] = set()  # RS names whose pods never become available

    def sync_caches(self) -> None:
        for inf, res in ((self.dc.d_informer, DEPLOYMENTS), (self.dc.rs_informer, REPLICASETS)):
            inf.cache = {f'{o["metadata"]["namespace"]}/{o["metadata"]["name"]}': o for o in self.api.view(res).list()}

    async def rs_controller(self) -> None:
        """Status follows spec; pods of RSs not in `unavailable` are available at once."""
        for rs in self.rss().values():
            n = util.replicas(rs)
            ok = 0 if rs["metadata"]["name"] in self.unavailable else n
            status = {"replicas": n, "readyReplicas": ok, "availableReplicas": ok, "fullyLabeledReplicas": n,
                      "observedGeneration": rs["metadata"].get("generation", 1)}
            if (rs.get("status") or {}) != status:
                await self.client.update_status(REPLICASETS, {**rs, "status": status})

    async def tick(self, name: str = "d") -> None:
        self.sync_caches()
        await self.dc.reconcile(f"ns/{name}")
        await self.dc.recorder.flush()
        await self.rs_controller()

    async def converge(self, name: str = "d", limit: int = 40, check: Any = None) -> int:
        for i in range(limit):
            before = self.api.store.revision
            try:
                await self.tick(name)
            except errors.StatusError as e:
                assert e.code == 409, e  # conflicts are retried, like the work queue does
            if check:
                check(self)
            if self.api.store.revision == before:  # nothing written: converged
                return i
        raise AssertionError("did not converge")

    def deployment(self, name: str = "d") -> dict:
        d = self.api.view(DEPLOYMENTS).get("ns", name)
        assert d is not None
        return d

    def rss(self) -> dict[str, dict]:
        return {r["metadata"]["name"]: r for r in self.api.view(REPLICASETS).list("ns")}

    def events(self) -> list[str]:
        return [f'{e["reason"]}: {e["message"]}' for e in self.api.view(EVENTS).list("ns")]


async def world() -> World:
    return World(await RealAPI().start("ns"))


async def new_deployment(world: World, replicas: int = 10, surge: object = 3, unavailable: object = 2, *,
                         image: str = "nginx:1.14.2", name: str = "d", **spec: Any) -> dict:
    strategy = spec.pop("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}})
    d = {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": "ns"},
         "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "strategy": strategy,
                  "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"containers": [{"name": "c", "image": image}]}}, **spec}}
    return await world.api.create(DEPLOYMENTS, d)


async def edit(world: World, mutate: Any, name: str = "d") -> None:
    """A user's change to the Deployment (the API bumps its generation when the spec changes)."""
    d = world.deployment(name)
    mutate(d)
    await world.client.update(DEPLOYMENTS, d)


def rs_of(template: dict, name: str, replicas: int, labels: dict[str, str]) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "ns", "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ---------------------------------------------------------------------------------------------


def test_first_sync_creates_replica_set_and_conditions() -> None:
    async def go() -> None:
        w = await world()
        await new_deployment(w, replicas=3, surge="25%", unavailable="25%", name="nginx-deployment")
        await w.tick("nginx-deployment")
        (rs,) = w.rss().values()
        pth = rs["metadata"]["labels"]["pod-template-hash"]
        assert rs["metadata"]["name"] == "nginx-deployment-" + pth
        assert rs["spec"]["replicas"] == 3
        assert rs["spec"]["selector"]["matchLabels"] == {"app": "nginx-deployment", "pod-template-hash": pth}
        assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pth
        assert rs["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is True
        assert util.annotations(rs) == {util.REVISION: "1", util.DESIRED_REPLICAS: "3", util.MAX_REPLICAS: "4"}
        d = w.deployment("nginx-deployment")
        assert util.annotations(d)[util.REVISION] == "1"
        prog = util.get_condition(d["status"], "Progressing")
        assert (prog["reason"], prog["message"]) in (
            ("NewReplicaSetCreated", f'Created new replica set "{rs["metadata"]["name"]}"'),
            ("ReplicaSetUpdated", f'ReplicaSet "{rs["metadata"]["name"]}" is progressing.'))
        assert f'ScalingReplicaSet: Scaled up replica set {rs["metadata"]["name"]} from 0 to 3' in w.events()
        await w.converge("nginx-deployment")
        d = w.deployment("nginx-deployment")
        st = d["status"]
        assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"],
                st["observedGeneration"]) == (3, 3, 3, 3, 1)
        assert "unavailableReplicas" not in st
        prog = util.get_condition(st, "Progressing")
        assert prog["reason"] == "NewReplicaSetAvailable"
        assert prog["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.'
        assert util.get_condition(st, "Available")["reason"] == "MinimumReplicasAvailable"

    run(go())


def test_rolling_update_respects_surge_and_unavailable() -> None:
    """10 replicas, maxSurge 3, maxUnavailable 2: never more than 13 pods, never fewer than 8 available."""
    async def go() -> None:
        w = await world()
        await new_deployment(w)
        await w.converge()
        await edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:1.16.1"))
        seen: list[tuple[int, int]] = []

        def check(world: World) -> None:
            rss = list(world.rss().values())
            total = util.replica_count(rss)
            available = util.available_replica_count(rss)
            seen.append((total, available))
            assert total <= 13 and available >= 8, seen

        await w.converge(check=check)
        rss = w.rss()
        assert sorted(util.replicas(r) for r in rss.values()) == [0, 10]
        new = next(r for r in rss.values() if util.replicas(r) == 10)
        assert util.annotations(new)[util.REVISION] == "2"
        assert util.annotations(w.deployment())[util.REVISION] == "2"
        assert any(total == 13 for total, _ in seen)  # the surge was used
        msgs = [e for e in w.events() if "ScalingReplicaSet" in e]
        assert any(f'Scaled up replica set {new["metadata"]["name"]} from 0 to 3' in m for m in msgs), msgs
        assert any("Scaled down replica set" in m and "from 10 to 8" in m for m in msgs), msgs

    run(go())


def test_rollout_stalls_with_unavailable_new_pods() -> None:
    """A new RS whose pods never become available is not grown beyond the surge, old pods stay."""
    async def go() -> None:
        w = await world()
        await new_deployment(w)
        await w.converge()
        await edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="broken"))
        w.sync_caches()
        new_name = f'd-{util.compute_hash(w.deployment()["spec"]["template"], None)}'
        w.unavailable.add(new_name)
        await w.converge()
        rss = w.rss()
        # old at 8 (maxUnavailable 2), new at 5: 13 - 8 - 5 = 0 may go
        assert util.replicas(rss[new_name]) == 5
        assert sorted(util.replicas(r) for r in rss.values()) == [5, 8]
        # progress deadline
        w.now += 601
        await w.tick()
        prog = util.get_condition(w.deployment()["status"], "Progressing")
        assert (prog["status"], prog["reason"]) == ("False", "ProgressDeadlineExceeded")
        assert prog["message"] == f'ReplicaSet "{new_name}" has timed out progressing.'

    run(go())


def test_recreate_scales_down_before_up() -> None:
    async def go() -> None:
        w = await world()
        await new_deployment(w, replicas=3, strategy={"type": "Recreate"})
        await w.converge()
        await edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="v2"))
        await w.tick()
        rss = w.rss()
        assert len(rss) == 1 and util.replicas(next(iter(rss.values()))) == 0  # no new RS yet
        await w.converge()
        assert sorted(util.replicas(r) for r in w.rss().values()) == [0, 3]

    run(go())


def test_scaling_event_and_proportional_scaling_mid_rollout() -> None:
    async def go() -> None:
        w = await world()
        await new_deployment(w)
        await w.converge()
        old_name = next(iter(w.rss()))
        await edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="broken"))
        w.sync_caches()
        new_name = f'd-{util.compute_hash(w.deployment()["spec"]["template"], None)}'
        w.unavailable.add(new_name)
        await w.converge()
        assert (util.replicas(w.rss()[old_name]), util.replicas(w.rss()[new_name])) == (8, 5)
        # scale 10 → 15 (18 allowed): +5 spread 8:5 → old +3 (11), new +2 (7)
        await edit(w, lambda d: d["spec"].update(replicas=15))
        await w.tick()
        rss = w.rss()
        assert (util.replicas(rss[old_name]), util.replicas(rss[new_name])) == (11, 7)
        assert util.annotations(rss[old_name])[util.DESIRED_REPLICAS] == "15"
        assert util.annotations(rss[new_name])[util.MAX_REPLICAS] == "18"

    run(go())


def test_simple_scale_and_paused() -> None:
    async def go() -> None:
        w = await world()
        await new_deployment(w, replicas=3, surge="25%", unavailable="25%")
        await w.converge()
        await edit(w, lambda d: d["spec"].update(replicas=5, paused=True))
        await w.converge()
        (rs,) = w.rss().values()
        assert util.replicas(rs) == 5
        prog = util.get_condition(w.deployment()["status"], "Progressing")
        assert (prog["status"], prog["reason"], prog["message"]) == ("Unknown", "DeploymentPaused", "Deployment is paused")
        # a template change while paused makes no new ReplicaSet
        await edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="v2"))
        await w.converge()
        assert len(w.rss()) == 1
        await edit(w, lambda d: d["spec"].update(paused=False))
        await w.tick()
        prog = util.get_condition(w.deployment()["status"], "Progressing")
        assert prog["reason"] in ("DeploymentResumed", "NewReplicaSetCreated", "ReplicaSetUpdated")
        await w.converge()
        assert sorted(util.replicas(r) for r in w.rss().values()) == [0, 5]

    run(go())


def test_rollback_to_old_template_reuses_replica_set() -> None:
    async def go() -> None:
        w = await world()
        await new_deployment(w, replicas=2)
        await w.converge()
        first = next(iter(w.rss()))
        await edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="v2"))
        await w.converge()
        await edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:1.14.2"))
        await w.converge()
        rss = w.rss()
        assert len(rss) == 2 and util.replicas(rss[first]) == 2
        assert util.annotations(rss[first])[util.REVISION] == "3"
        assert util.annotations(rss[first])[util.REVISION_HISTORY] == "1"
        assert util.annotations(w.deployment())[util.REVISION] == "3"

    run(go())


def test_change_cause_copied_and_history_limit() -> None:
    async def go() -> None:
        w = await world()
        await new_deployment(w, replicas=1, revisionHistoryLimit=1)
        await w.converge()
        for i in range(3):
            def bump(d: dict, i: int = i) -> None:
                d["spec"]["template"]["spec"]["containers"][0]["image"] = f"v{i}"
                d["metadata"].setdefault("annotations", {})[util.CHANGE_CAUSE] = f"to v{i}"
            await edit(w, bump)
            await w.converge()
        rss = w.rss()
        assert len(rss) == 2  # the current one + revisionHistoryLimit old ones
        newest = max(rss.values(), key=util.revision)
        assert util.annotations(newest)[util.CHANGE_CAUSE] == "to v2"
        assert util.revision(newest) == 4

    run(go())


def test_hash_collision_bumps_collision_count() -> None:
    async def go() -> None:
        w = await world()
        d = await new_deployment(w, replicas=1)
        pth = util.compute_hash(d["spec"]["template"], None)
        other = {"metadata": {"labels": {"other": "x"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
        await w.api.create(REPLICASETS, rs_of(other, f"d-{pth}", 0, {"other": "x"}))
        with pytest.raises(errors.StatusError):
            await w.tick()
        assert w.deployment()["status"]["collisionCount"] == 1
        await w.converge()
        mine = [r for r in w.rss().values() if r["metadata"].get("ownerReferences")]
        assert len(mine) == 1 and mine[0]["metadata"]["name"] == f'd-{util.compute_hash(d["spec"]["template"], 1)}'
        assert w.deployment()["status"]["collisionCount"] == 1

    run(go())


def test_adopts_orphan_replica_set() -> None:
    async def go() -> None:
        w = await world()
        d = await new_deployment(w, replicas=2)
        await w.api.create(REPLICASETS, rs_of(copy.deepcopy(d["spec"]["template"]), "orphan", 2, {"app": "d"}))
        await w.converge()
        (rs,) = w.rss().values()
        assert rs["metadata"]["name"] == "orphan"
        assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
        assert util.annotations(rs)[util.REVISION] == "1"

    run(go())


# ---- ReplicaSet pieces ------------------------------------------------------------------------


def test_pod_from_template_and_status() -> None:
    rs = {"metadata": {"name": "web-abc", "namespace": "ns", "uid": "u1", "generation": 2},
          "spec": {"replicas": 3, "minReadySeconds": 5,
                   "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"},
                                             "annotations": {"a": "b"}},
                                "spec": {"containers": [{"name": "c", "image": "i"}]}}},
          "status": {"replicas": 0}}
    pod = replicaset.pod_from_template(rs)
    assert pod["metadata"]["generateName"] == "web-abc-"
    assert pod["metadata"]["labels"] == {"app": "web", "pod-template-hash": "abc"}
    assert pod["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc",
                                                   "uid": "u1", "controller": True, "blockOwnerDeletion": True}]

    def p(labels: dict, ready_since: float | None) -> dict:
        st: dict = {"phase": "Running"}
        if ready_since is not None:
            st["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(ready_since)}]
        return {"metadata": {"name": "x", "labels": labels}, "status": st}

    full = {"app": "web", "pod-template-hash": "abc"}
    pods = [p(full, NOW - 10), p(full, NOW - 1), p({"app": "web"}, None)]
    st = replicaset.calculate_status(rs, pods, None, NOW)
    assert st == {"replicas": 3, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 1}
    st = replicaset.calculate_status(rs, pods[:1], "pods \"x\" is forbidden: exceeded quota", NOW)
    (cond,) = st["conditions"]
    assert (cond["type"], cond["reason"]) == ("ReplicaFailure", "FailedCreate")
    rs["status"] = st
    assert "conditions" not in replicaset.calculate_status(rs, pods, None, NOW)
    assert not replicaset.status_unchanged(rs, {"replicas": 1, "availableReplicas": 1})


def test_slow_start_batch_stops_on_error() -> None:
    async def go() -> None:
        calls = []

        async def fn() -> None:
            calls.append(1)
            if len(calls) > 2:
                raise errors.StatusError(403, "Forbidden", "exceeded quota")

        ok, err = await replicaset.slow_start_batch(10, 1, fn)
        assert (ok, len(calls)) == (2, 3) and err is not None
        calls.clear()
        ok, err = await replicaset.slow_start_batch(0, 1, fn)
        assert (ok, err, calls) == (0, None, [])

    run(go())


def test_event_recorder_dedupes_by_count() -> None:
    from kubeling.client.events import EventRecorder

    async def go() -> None:
        api = await RealAPI().start("ns")
        rec = EventRecorder(api.client, "deployment-controller")
        d = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "web", "namespace": "ns", "uid": "u", "resourceVersion": "7"}}
        rec.event(d, "Normal", "ScalingReplicaSet", "Scaled up replica set web-abc from 0 to 3")
        await rec.flush()
        rec.event(d, "Normal", "ScalingReplicaSet", "Scaled up replica set web-abc from 0 to 3")
        await rec.flush()
        rec.event(d, "Normal", "ScalingReplicaSet", "Scaled down replica set web-abc from 3 to 0")
        await rec.flush()
        evs = sorted(api.view(EVENTS).list("ns"), key=lambda e: e["message"])
        assert [(e["message"], e["count"]) for e in evs] == [
            ("Scaled down replica set web-abc from 3 to 0", 1), ("Scaled up replica set web-abc from 0 to 3", 2)]
        e = evs[1]
        assert e["metadata"]["name"].startswith("web.") and e["metadata"]["namespace"] == "ns"
        assert e["involvedObject"] == {"kind": "Deployment", "namespace": "ns", "name": "web", "uid": "u",
                                       "apiVersion": "apps/v1", "resourceVersion": "7"}
        assert (e["source"], e["reportingComponent"], e["type"]) == (
            {"component": "deployment-controller"}, "deployment-controller", "Normal")

    run(go())
