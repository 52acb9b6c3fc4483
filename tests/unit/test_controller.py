"""client/controller.py: the runner (start, sync, workers, loops, stop), the ControllerRefManager
(upstream controller_ref_manager_test) and WriteExpectations."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from kubeling.api import errors
from kubeling.api.resources import lookup
from kubeling.client.controller import Controller, ControllerRefManager, WriteExpectations
from kubeling.client.informer import Informer

PODS = lookup("", "v1", "pods")
REPLICASETS = lookup("apps", "v1", "replicasets")
assert PODS is not None and REPLICASETS is not None


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))


async def until(cond: Any) -> None:
    while not cond():
        await asyncio.sleep(0)


class FakeAPI:
    """Objects by (plural, namespace, name); list/watch enough for an Informer, get and patch for claims."""

    def __init__(self, *objs: tuple[Any, dict[str, Any]]) -> None:
        self.objs = {(res.plural, o["metadata"].get("namespace"), o["metadata"]["name"]): o for res, o in objs}
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self.gets = 0

    async def list(self, res: Any, ns: Any = None, **_: Any) -> dict[str, Any]:
        return {"metadata": {"resourceVersion": "1"},
                "items": [copy.deepcopy(o) for (p, n, _), o in self.objs.items() if p == res.plural]}

    async def watch(self, res: Any, ns: Any = None, **_: Any) -> Any:
        await asyncio.Event().wait()
        yield  # pragma: no cover

    async def get(self, res: Any, ns: Any, name: str) -> dict[str, Any]:
        self.gets += 1
        o = self.objs.get((res.plural, ns, name))
        if o is None:
            raise errors.StatusError(404, "NotFound", "not found")
        return copy.deepcopy(o)

    async def patch(self, res: Any, ns: Any, name: str, patch: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.patches.append((name, patch))
        o = self.objs.get((res.plural, ns, name))
        if o is None:
            raise errors.StatusError(404, "NotFound", "not found")
        refs = [r for r in o["metadata"].get("ownerReferences") or []]
        for r in patch["metadata"]["ownerReferences"]:
            if r.get("$patch") == "delete":
                refs = [x for x in refs if x["uid"] != r["uid"]]
            else:
                refs.append(r)
        o["metadata"]["ownerReferences"] = refs
        o["metadata"]["finalizers"] = (o["metadata"].get("finalizers") or []) + patch["metadata"].get("finalizers", [])
        return copy.deepcopy(o)


def rs(name: str = "web", uid: str = "rs-uid", deleting: bool = False, **match: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "uid": uid}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta,
            "spec": {"selector": {"matchLabels": match or {"app": "web"}}}}


def pod(name: str, owner_uid: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "uid": f"u-{name}", "labels": labels}
    if owner_uid:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": owner_uid,
                                    "controller": True}]
    return {"metadata": meta}


def refs_manager(api: FakeAPI, *owners: dict[str, Any], **kw: Any) -> ControllerRefManager:
    inf = Informer(api, REPLICASETS)  # type: ignore[arg-type]
    for o in owners:
        inf.apply_event("ADDED", o)
    return ControllerRefManager(api, inf, PODS, **kw)  # type: ignore[arg-type]


# ---- ControllerRefManager ----------------------------------------------------------------------


def test_resolve_follows_kind_name_and_uid() -> None:
    m = refs_manager(FakeAPI(), rs())
    ref = {"kind": "ReplicaSet", "name": "web", "uid": "rs-uid", "controller": True}
    assert m.resolve("ns", ref)["metadata"]["uid"] == "rs-uid"
    assert m.resolve("ns", {**ref, "uid": "recreated"}) is None
    assert m.resolve("ns", {**ref, "kind": "Deployment"}) is None
    assert m.resolve("other", ref) is None and m.resolve("ns", None) is None
    assert m.controller_of(pod("p", "rs-uid")) is not None and m.controller_of(pod("q")) is None


def test_owners_selecting() -> None:
    m = refs_manager(FakeAPI(), rs("web"), rs("db", "db-uid", app="db"),
                     {**rs("bad", "bad-uid"), "spec": {"selector": {"matchExpressions": [{"operator": "?"}]}}},
                     {**rs("all", "all-uid"), "spec": {"selector": {}}})
    assert [o["metadata"]["name"] for o in m.owners_selecting(pod("p", app="web"))] == ["web"]
    assert m.owners_selecting(pod("q")) == []  # no labels: nobody (not even an empty selector)


def test_claim_keeps_adopts_releases_and_ignores_others() -> None:
    async def main() -> None:
        mine, orphan, stray, other = pod("mine", "rs-uid", app="web"), pod("orphan", app="web"), \
            pod("stray", "rs-uid", app="db"), pod("other", "other-uid", app="web")
        api = FakeAPI(*((PODS, p) for p in (mine, orphan, stray, other)), (REPLICASETS, rs()))
        written: list[str] = []
        m = refs_manager(api, rs(), adopt_finalizers=["f"], written=lambda o, c: written.append(c["metadata"]["name"]))
        owner = rs()
        match = lambda p: p["metadata"]["labels"].get("app") == "web"  # noqa: E731
        claimed = await m.claim(owner, [mine, orphan, stray, other], match)
        assert [p["metadata"]["name"] for p in claimed] == ["mine", "orphan"]
        adopted = claimed[1]
        assert adopted["metadata"]["ownerReferences"][0]["uid"] == "rs-uid"  # as the server answered
        assert adopted["metadata"]["finalizers"] == ["f"]
        assert [n for n, _ in api.patches] == ["orphan", "stray"] and written == ["orphan", "stray"]
        assert api.objs[("pods", "ns", "stray")]["metadata"]["ownerReferences"] == []  # released
        assert api.gets == 1  # one live check of the owner for all adoptions

    run(main())


def test_claim_by_an_owner_being_deleted_adopts_and_releases_nothing() -> None:
    async def main() -> None:
        api = FakeAPI((REPLICASETS, rs()))
        m = refs_manager(api, rs())
        claimed = await m.claim(rs(deleting=True), [pod("mine", "rs-uid", app="db"), pod("orphan", app="web")],
                                lambda p: p["metadata"]["labels"].get("app") == "web")
        assert claimed == [] and api.patches == []
        # the cache says alive, the server says deleting: RecheckDeletionTimestamp forbids adoption
        api.objs[("replicasets", "ns", "web")] = rs(deleting=True)
        assert await m.claim(rs(), [pod("orphan", app="web")], lambda p: True) == [] and api.patches == []

    run(main())


def test_claim_skips_a_child_that_vanished() -> None:
    async def main() -> None:
        api = FakeAPI((REPLICASETS, rs()))
        assert await refs_manager(api, rs()).claim(rs(), [pod("gone", app="web")], lambda p: True) == []

    run(main())


# ---- WriteExpectations ------------------------------------------------------------------------


def test_write_expectations_wait_for_the_cache() -> None:
    t = [0.0]
    inf = Informer(FakeAPI(), REPLICASETS)  # type: ignore[arg-type]
    exp = WriteExpectations(inf, clock=lambda: t[0])
    written = {**rs(), "metadata": {**rs()["metadata"], "resourceVersion": "7"}}
    assert exp.satisfied("ns/d")
    exp.wrote("ns/d", written)
    assert not exp.satisfied("ns/d")  # not in the cache yet
    inf.apply_event("ADDED", {**written, "metadata": {**written["metadata"], "resourceVersion": "6"}})
    assert not exp.satisfied("ns/d")  # an older version
    inf.apply_event("MODIFIED", {**written, "metadata": {**written["metadata"], "resourceVersion": "8"}})
    assert exp.satisfied("ns/d")
    exp.wrote("ns/d", {**written, "metadata": {**written["metadata"], "resourceVersion": "9"}})
    exp.deleted("ns/d", written)
    assert exp.satisfied("ns/d")
    exp.deleting("ns/d", written)
    assert not exp.satisfied("ns/d")  # still in the cache
    inf.apply_event("DELETED", written)
    assert exp.satisfied("ns/d")
    exp.wrote("ns/d", {**written, "metadata": {**written["metadata"], "resourceVersion": "10"}})
    t[0] += 301  # a lost event does not wedge the owner
    assert exp.satisfied("ns/d")


# ---- the runner -------------------------------------------------------------------------------


class Counter(Controller):
    def __init__(self, api: FakeAPI) -> None:
        super().__init__("counter")
        self.pods = self.watch(Informer(api, PODS),  # type: ignore[arg-type]
                               on_add=lambda p: self.queue.add(p["metadata"]["name"]))
        self.queue = self.add_queue("counter", self.reconcile, workers=2)
        self.synced_with: list[str] = []
        self.on_synced(lambda: self.synced_with.extend(sorted(o["metadata"]["name"] for o in self.pods.list())))
        self.ticks = 0
        self.every(0.001, self.tick, "tick")
        self.stopped = False
        self.on_stop(lambda: setattr(self, "stopped", True))
        self.done: list[str] = []

    async def tick(self) -> None:
        self.ticks += 1
        if self.ticks == 2:
            raise RuntimeError("a failed pass is retried, not fatal")

    async def reconcile(self, key: str) -> None:
        if key == "bad":
            raise ValueError("never")
        self.done.append(key)
        self.spawn(asyncio.Event().wait(), f"bg-{key}")


def test_runner_syncs_runs_and_stops_cleanly() -> None:
    async def main() -> None:
        api = FakeAPI((PODS, pod("a")), (PODS, pod("bad")), (PODS, pod("b")))
        c = Counter(api)
        task = asyncio.create_task(c.run())
        await until(lambda: sorted(c.done) == ["a", "b"] and c.ticks >= 3 and c.queue.num_requeues("bad") >= 3)
        assert c.synced_with == ["a", "b", "bad"]
        spawned = list(c._spawned)
        assert len(spawned) == 2
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert c.stopped and all(t.done() for t in spawned)
        assert c.queue._shutdown

    run(main())


def test_resync_hands_every_cached_object_to_on_update() -> None:
    async def main() -> None:
        seen: list[str] = []
        c = Controller("resync")
        c.watch(Informer(FakeAPI((PODS, pod("a")), (PODS, pod("b"))), PODS),  # type: ignore[arg-type]
                on_update=lambda old, new: seen.append(new["metadata"]["name"]) if old is new else None,
                resync=0.001)
        task = asyncio.create_task(c.run())
        await until(lambda: seen.count("a") >= 2 and seen.count("b") >= 2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    run(main())
