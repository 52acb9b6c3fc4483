"""Deployment controller steps against an in-memory API: rolling updates step by step, Recreate,
scaling events, revision bookkeeping, history cleanup, hash collisions and adoption.

`FakeAPI` stands in for the REST client; `World.tick()` runs one reconcile and then plays the
ReplicaSet controller (status follows spec, pods available at once unless told otherwise).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any

import pytest

from kubeling.api import errors
from kubeling.api.patch.merge import merge_patch
from kubeling.api.patch.strategic import strategic_merge_patch_for
from kubeling.api.timestamps import rfc3339
from kubeling.controllers import replicaset
from kubeling.controllers.deployment import util
from kubeling.controllers.deployment.controller import DeploymentController

NOW = 1_700_000_000.0


class FakeAPI:
    """Just enough of `Client` for the controllers: versioned objects, conflicts, 404s, 409s."""

    def __init__(self) -> None:
        self.objs: dict[tuple[str, str | None, str], dict] = {}
        self.rv = itertools.count(1)
        self.uid = itertools.count(1)
        self.calls: list[tuple[str, str, str]] = []

    def _key(self, res: Any, ns: str | None, name: str) -> tuple[str, str | None, str]:
        return (res.plural, ns, name)

    def put(self, res: Any, obj: dict) -> dict:
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        meta.setdefault("uid", f"uid-{next(self.uid)}")
        meta.setdefault("creationTimestamp", rfc3339(NOW))
        meta["resourceVersion"] = str(next(self.rv))
        self.objs[self._key(res, meta.get("namespace"), meta["name"])] = obj
        return copy.deepcopy(obj)

    async def get(self, res: Any, ns: str | None, name: str, sub: str | None = None) -> dict:
        try:
            return copy.deepcopy(self.objs[self._key(res, ns, name)])
        except KeyError:
            raise errors.StatusError(404, "NotFound", f'{res.plural} "{name}" not found') from None

    async def create(self, res: Any, ns: str | None, obj: dict, **_: Any) -> dict:
        obj = copy.deepcopy(obj)
        obj["metadata"]["namespace"] = ns
        if not obj["metadata"].get("name"):
            obj["metadata"]["name"] = obj["metadata"]["generateName"] + f"{next(self.uid):05d}"
        if self._key(res, ns, obj["metadata"]["name"]) in self.objs:
            raise errors.StatusError(409, "AlreadyExists", f'{res.plural} "{obj["metadata"]["name"]}" already exists')
        self.calls.append(("create", res.plural, obj["metadata"]["name"]))
        if res.plural in ("replicasets", "deployments"):
            obj["metadata"]["generation"] = 1
        return self.put(res, obj)

    async def update(self, res: Any, obj: dict, *, sub: str | None = None, **_: Any) -> dict:
        cur = await self.get(res, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if obj["metadata"].get("resourceVersion") != cur["metadata"]["resourceVersion"]:
            raise errors.StatusError(409, "Conflict", "the object has been modified")
        self.calls.append((sub or "update", res.plural, obj["metadata"]["name"]))
        new = copy.deepcopy(obj)
        if sub == "status":
            new = {**cur, "status": copy.deepcopy(obj.get("status"))}
        elif cur.get("spec") != new.get("spec"):
            new["metadata"]["generation"] = cur["metadata"].get("generation", 1) + 1
        new["metadata"]["uid"] = cur["metadata"]["uid"]
        return self.put(res, new)

    async def update_status(self, res: Any, obj: dict, **_: Any) -> dict:
        return await self.update(res, obj, sub="status")

    async def patch(self, res: Any, ns: str | None, name: str, patch: Any, *, patch_type: str = "merge",
                    **_: Any) -> dict:
        cur = await self.get(res, ns, name)
        rv = (patch.get("metadata") or {}).pop("resourceVersion", None)
        if rv is not None and rv != cur["metadata"]["resourceVersion"]:
            raise errors.StatusError(409, "Conflict", "the object has been modified")
        self.calls.append(("patch", res.plural, name))
        if patch_type == "strategic":
            new = strategic_merge_patch_for(cur, patch, res.group, res.version, res.kind)
        else:
            new = merge_patch(cur, patch)
        return self.put(res, new)

    async def delete(self, res: Any, ns: str | None, name: str, **_: Any) -> None:
        self.calls.append(("delete", res.plural, name))
        if self.objs.pop(self._key(res, ns, name), None) is None:
            raise errors.StatusError(404, "NotFound", "not found")

    def of(self, plural: str) -> list[dict]:
        return [o for (p, _, _), o in self.objs.items() if p == plural]

    def events(self) -> list[str]:
        return [f'{e["reason"]}: {e["message"]}' for e in self.of("events")]


class World:
    def __init__(self) -> None:
        self.api = FakeAPI()
        self.now = NOW
        self.dc = DeploymentController(self.api, clock=lambda: self.now)  # type: ignore[arg-type]
        self.unavailable: set[str] = set()  # RS names whose pods never become available

    def sync_caches(self) -> None:
        for inf, plural in ((self.dc.d_informer, "deployments"), (self.dc.rs_informer, "replicasets")):
            inf.cache = {f'{o["metadata"]["namespace"]}/{o["metadata"]["name"]}': copy.deepcopy(o)
                         for o in self.api.of(plural)}

    def rs_controller(self) -> None:
        """Status follows spec; pods of RSs not in `unavailable` are available at once."""
        for rs in self.api.of("replicasets"):
            n = util.replicas(rs)
            ok = 0 if rs["metadata"]["name"] in self.unavailable else n
            rs["status"] = {k: v for k, v in {"replicas": n, "readyReplicas": ok, "availableReplicas": ok,
                                               "fullyLabeledReplicas": n,
                                               "observedGeneration": rs["metadata"].get("generation", 1)}.items()}

    async def tick(self, name: str = "d") -> None:
        self.sync_caches()
        await self.dc.reconcile(f"ns/{name}")
        await self.dc.recorder.flush()
        self.rs_controller()

    async def converge(self, name: str = "d", limit: int = 40, check: Any = None) -> int:
        for i in range(limit):
            before = copy.deepcopy(self.api.objs)
            try:
                await self.tick(name)
            except errors.StatusError as e:
                assert e.code == 409, e  # conflicts are retried, like the work queue does
            if check:
                check(self)
            if self.api.objs == before:
                return i
        raise AssertionError("did not converge")

    def deployment(self, name: str = "d") -> dict:
        return self.api.objs[("deployments", "ns", name)]

    def rss(self) -> dict[str, dict]:
        return {r["metadata"]["name"]: r for r in self.api.of("replicasets")}


def new_deployment(world: World, replicas: int = 10, surge: object = 3, unavailable: object = 2, *,
                   image: str = "nginx:1.14.2", name: str = "d", **spec: Any) -> dict:
    strategy = spec.pop("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}})
    d = {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": "ns", "generation": 1},
         "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "strategy": strategy,
                  "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"containers": [{"name": "c", "image": image}]}}, **spec},
         "status": {}}
    from kubeling.controllers.deployment.controller import DEPLOYMENTS
    return world.api.put(DEPLOYMENTS, d)


def edit(world: World, mutate: Any, name: str = "d") -> None:
    d = world.deployment(name)
    mutate(d)
    d["metadata"]["generation"] += 1


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ---------------------------------------------------------------------------------------------


def test_first_sync_creates_replica_set_and_conditions() -> None:
    async def go() -> None:
        w = World()
        new_deployment(w, replicas=3, surge="25%", unavailable="25%", name="nginx-deployment")
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
        assert f'ScalingReplicaSet: Scaled up replica set {rs["metadata"]["name"]} from 0 to 3' in w.api.events()
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
        w = World()
        new_deployment(w)
        await w.converge()
        edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:1.16.1"))
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
        msgs = [e for e in w.api.events() if "ScalingReplicaSet" in e]
        assert any(f'Scaled up replica set {new["metadata"]["name"]} from 0 to 3' in m for m in msgs), msgs
        assert any("Scaled down replica set" in m and "from 10 to 8" in m for m in msgs), msgs

    run(go())


def test_rollout_stalls_with_unavailable_new_pods() -> None:
    """A new RS whose pods never become available is not grown beyond the surge, old pods stay."""
    async def go() -> None:
        w = World()
        new_deployment(w)
        await w.converge()
        edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="broken"))
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
        w = World()
        new_deployment(w, replicas=3, strategy={"type": "Recreate"})
        await w.converge()
        edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="v2"))
        await w.tick()
        rss = w.rss()
        assert len(rss) == 1 and util.replicas(next(iter(rss.values()))) == 0  # no new RS yet
        await w.converge()
        assert sorted(util.replicas(r) for r in w.rss().values()) == [0, 3]

    run(go())


def test_scaling_event_and_proportional_scaling_mid_rollout() -> None:
    async def go() -> None:
        w = World()
        new_deployment(w)
        await w.converge()
        old_name = next(iter(w.rss()))
        edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="broken"))
        w.sync_caches()
        new_name = f'd-{util.compute_hash(w.deployment()["spec"]["template"], None)}'
        w.unavailable.add(new_name)
        await w.converge()
        assert (util.replicas(w.rss()[old_name]), util.replicas(w.rss()[new_name])) == (8, 5)
        # scale 10 → 15 (18 allowed): +5 spread 8:5 → old +3 (11), new +2 (7)
        edit(w, lambda d: d["spec"].update(replicas=15))
        await w.tick()
        rss = w.rss()
        assert (util.replicas(rss[old_name]), util.replicas(rss[new_name])) == (11, 7)
        assert util.annotations(rss[old_name])[util.DESIRED_REPLICAS] == "15"
        assert util.annotations(rss[new_name])[util.MAX_REPLICAS] == "18"

    run(go())


def test_simple_scale_and_paused() -> None:
    async def go() -> None:
        w = World()
        new_deployment(w, replicas=3, surge="25%", unavailable="25%")
        await w.converge()
        edit(w, lambda d: d["spec"].update(replicas=5, paused=True))
        await w.converge()
        (rs,) = w.rss().values()
        assert util.replicas(rs) == 5
        prog = util.get_condition(w.deployment()["status"], "Progressing")
        assert (prog["status"], prog["reason"], prog["message"]) == ("Unknown", "DeploymentPaused", "Deployment is paused")
        # a template change while paused makes no new ReplicaSet
        edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="v2"))
        await w.converge()
        assert len(w.rss()) == 1
        edit(w, lambda d: d["spec"].update(paused=False))
        await w.tick()
        prog = util.get_condition(w.deployment()["status"], "Progressing")
        assert prog["reason"] in ("DeploymentResumed", "NewReplicaSetCreated", "ReplicaSetUpdated")
        await w.converge()
        assert sorted(util.replicas(r) for r in w.rss().values()) == [0, 5]

    run(go())


def test_rollback_to_old_template_reuses_replica_set() -> None:
    async def go() -> None:
        w = World()
        new_deployment(w, replicas=2)
        await w.converge()
        first = next(iter(w.rss()))
        edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="v2"))
        await w.converge()
        edit(w, lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:1.14.2"))
        await w.converge()
        rss = w.rss()
        assert len(rss) == 2 and util.replicas(rss[first]) == 2
        assert util.annotations(rss[first])[util.REVISION] == "3"
        assert util.annotations(rss[first])[util.REVISION_HISTORY] == "1"
        assert util.annotations(w.deployment())[util.REVISION] == "3"

    run(go())


def test_change_cause_copied_and_history_limit() -> None:
    async def go() -> None:
        w = World()
        new_deployment(w, replicas=1, revisionHistoryLimit=1)
        await w.converge()
        for i in range(3):
            def bump(d: dict, i: int = i) -> None:
                d["spec"]["template"]["spec"]["containers"][0]["image"] = f"v{i}"
                d["metadata"].setdefault("annotations", {})[util.CHANGE_CAUSE] = f"to v{i}"
            edit(w, bump)
            await w.converge()
        rss = w.rss()
        assert len(rss) == 2  # the current one + revisionHistoryLimit old ones
        newest = max(rss.values(), key=util.revision)
        assert util.annotations(newest)[util.CHANGE_CAUSE] == "to v2"
        assert util.revision(newest) == 4

    run(go())


def test_hash_collision_bumps_collision_count() -> None:
    async def go() -> None:
        w = World()
        d = new_deployment(w, replicas=1)
        from kubeling.controllers.deployment.controller import REPLICASETS
        pth = util.compute_hash(d["spec"]["template"], None)
        w.api.put(REPLICASETS, {"metadata": {"name": f"d-{pth}", "namespace": "ns", "labels": {"other": "x"}},
                                "spec": {"replicas": 0, "selector": {"matchLabels": {"other": "x"}},
                                         "template": {"metadata": {"labels": {"other": "x"}}, "spec": {}}}})
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
        w = World()
        d = new_deployment(w, replicas=2)
        from kubeling.controllers.deployment.controller import REPLICASETS
        tpl = copy.deepcopy(d["spec"]["template"])
        w.api.put(REPLICASETS, {"metadata": {"name": "orphan", "namespace": "ns", "labels": {"app": "d"}},
                                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}}, "template": tpl}})
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
        api = FakeAPI()
        rec = EventRecorder(api, "deployment-controller")  # type: ignore[arg-type]
        d = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "web", "namespace": "ns", "uid": "u", "resourceVersion": "7"}}
        rec.event(d, "Normal", "ScalingReplicaSet", "Scaled up replica set web-abc from 0 to 3")
        await rec.flush()
        rec.event(d, "Normal", "ScalingReplicaSet", "Scaled up replica set web-abc from 0 to 3")
        await rec.flush()
        rec.event(d, "Normal", "ScalingReplicaSet", "Scaled down replica set web-abc from 3 to 0")
        await rec.flush()
        evs = sorted(api.of("events"), key=lambda e: e["message"])
        assert [(e["message"], e["count"]) for e in evs] == [
            ("Scaled down replica set web-abc from 3 to 0", 1), ("Scaled up replica set web-abc from 0 to 3", 2)]
        e = evs[1]
        assert e["metadata"]["name"].startswith("web.") and e["metadata"]["namespace"] == "ns"
        assert e["involvedObject"] == {"kind": "Deployment", "namespace": "ns", "name": "web", "uid": "u",
                                       "apiVersion": "apps/v1", "resourceVersion": "7"}
        assert (e["source"], e["reportingComponent"], e["type"]) == (
            {"component": "deployment-controller"}, "deployment-controller", "Normal")

    run(go())
