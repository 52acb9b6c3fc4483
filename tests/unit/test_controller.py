"""client/controller.py: the runner (start, sync, workers, loops, stop), the ControllerRefManager
(upstream controller_ref_manager_test) and WriteExpectations."""

from __future__ import annotations

import asyncio
from typing import Any

from kubeling.api.resources import lookup
from kubeling.client.controller import Controller, ControllerRefManager, WriteExpectations
from kubeling.client.informer import Informer
from kubeling.client.rest import Client

from .realapi import RealAPI

PODS = lookup("", "v1", "pods")
REPLICASETS = lookup("apps", "v1", "replicasets")
assert PODS is not None and REPLICASETS is not None


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))


async def until(cond: Any) -> None:
    while not cond():
        await asyncio.sleep(0)


def rs(name: str = "web", uid: str = "rs-uid", deleting: bool = False, **match: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "uid": uid}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    labels = match or {"app": "web"}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta,
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}


def pod(name: str, owner_uid: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "uid": f"u-{name}", "labels": labels}
    if owner_uid:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": owner_uid,
                                    "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [{"name": "c", "image": "x"}]}}


def refs_manager(client: Client, *owners: dict[str, Any], **kw: Any) -> ControllerRefManager:
    inf = Informer(client, REPLICASETS)
    for o in owners:
        inf.apply_event("ADDED", o)
    return ControllerRefManager(client, inf, PODS, **kw)


def patched(api: RealAPI) -> list[str]:
    """The names of the objects the controller patched."""
    return [path.rsplit("/", 1)[1] for _, path, _ in api.writes("PATCH")]


def owner_gets(api: RealAPI) -> int:
    return sum(r.method == "GET" and "/replicasets/" in r.path for r in api.sent)


# ---- ControllerRefManager ----------------------------------------------------------------------


def test_resolve_follows_kind_name_and_uid() -> None:
    m = refs_manager(RealAPI().client, rs())
    ref = {"kind": "ReplicaSet", "name": "web", "uid": "rs-uid", "controller": True}
    assert m.resolve("ns", ref)["metadata"]["uid"] == "rs-uid"
    assert m.resolve("ns", {**ref, "uid": "recreated"}) is None
    assert m.resolve("ns", {**ref, "kind": "Deployment"}) is None
    assert m.resolve("other", ref) is None and m.resolve("ns", None) is None
    assert m.controller_of(pod("p", "rs-uid")) is not None and m.controller_of(pod("q")) is None


def test_owners_selecting() -> None:
    m = refs_manager(RealAPI().client, rs("web"), rs("db", "db-uid", app="db"),
                     {**rs("bad", "bad-uid"), "spec": {"selector": {"matchExpressions": [{"operator": "?"}]}}},
                     {**rs("all", "all-uid"), "spec": {"selector": {}}})
    assert [o["metadata"]["name"] for o in m.owners_selecting(pod("p", app="web"))] == ["web"]
    assert m.owners_selecting(pod("q")) == []  # no labels: nobody (not even an empty selector)


def test_claim_keeps_adopts_releases_and_ignores_others() -> None:
    async def main() -> None:
        api = await RealAPI().start("ns")
        owner = await api.create(REPLICASETS, rs())
        uid = owner["metadata"]["uid"]
        mine, orphan, stray, other = [await api.create(PODS, p) for p in (
            pod("mine", uid, app="web"), pod("orphan", app="web"), pod("stray", uid, app="db"),
            pod("other", "other-uid", app="web"))]
        written: list[str] = []
        m = refs_manager(api.client, owner, adopt_finalizers=["f"],
                         written=lambda o, c: written.append(c["metadata"]["name"]))
        match = lambda p: p["metadata"]["labels"].get("app") == "web"  # noqa: E731
        claimed = await m.claim(owner, [mine, orphan, stray, other], match)
        assert [p["metadata"]["name"] for p in claimed] == ["mine", "orphan"]
        adopted = claimed[1]
        assert adopted["metadata"]["ownerReferences"][0]["uid"] == uid  # as the server answered
        assert adopted["metadata"]["finalizers"] == ["f"]
        assert patched(api) == ["orphan", "stray"] and written == ["orphan", "stray"]
        released = await api.client.get(PODS, "ns", "stray")
        assert not released["metadata"].get("ownerReferences")
        assert owner_gets(api) == 1  # one live check of the owner for all adoptions
        api.close()

    run(main())


def test_claim_by_an_owner_being_deleted_adopts_and_releases_nothing() -> None:
    async def main() -> None:
        api = await RealAPI().start("ns")
        owner = await api.create(REPLICASETS, {**rs(), "metadata": {**rs()["metadata"], "finalizers": ["keep"]}})
        uid = owner["metadata"]["uid"]
        for p in (pod("mine", uid, app="db"), pod("orphan", app="web")):
            await api.create(PODS, p)
        m = refs_manager(api.client, owner)
        deleting = {**owner, "metadata": {**owner["metadata"], "deletionTimestamp": "2024-01-01T00:00:00Z"}}
        claimed = await m.claim(deleting, [pod("mine", uid, app="db"), pod("orphan", app="web")],
                                lambda p: p["metadata"]["labels"].get("app") == "web")
        assert claimed == [] and patched(api) == []
        # the cache says alive, the server says deleting: RecheckDeletionTimestamp forbids adoption
        await api.client.delete(REPLICASETS, "ns", "web")
        assert (await api.client.get(REPLICASETS, "ns", "web"))["metadata"].get("deletionTimestamp")
        assert await m.claim(owner, [pod("orphan", app="web")], lambda p: True) == [] and patched(api) == []
        api.close()

    run(main())


def test_claim_skips_a_child_that_vanished() -> None:
    async def main() -> None:
        api = await RealAPI().start("ns")
        owner = await api.create(REPLICASETS, rs())
        assert await refs_manager(api.client, owner).claim(owner, [pod("gone", app="web")], lambda p: True) == []
        assert patched(api) == ["gone"]  # tried, and the API said NotFound
        api.close()

    run(main())


# ---- WriteExpectations ------------------------------------------------------------------------


def test_write_expectations_wait_for_the_cache() -> None:
    t = [0.0]
    inf = Informer(RealAPI().client, REPLICASETS)
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
    def __init__(self, client: Client) -> None:
        super().__init__("counter")
        self.pods = self.watch(Informer(client, PODS),
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
        api = await RealAPI().start("ns")
        for name in ("a", "bad", "b"):
            await api.create(PODS, pod(name))
        c = Counter(api.client)
        task = asyncio.create_task(c.run())
        await until(lambda: sorted(c.done) == ["a", "b"] and c.ticks >= 3 and c.queue.num_requeues("bad") >= 3)
        assert c.synced_with == ["a", "b", "bad"]
        spawned = list(c._spawned)
        assert len(spawned) == 2
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert c.stopped and all(t.done() for t in spawned)
        assert c.queue._shutdown
        api.close()

    run(main())


def test_resync_hands_every_cached_object_to_on_update() -> None:
    async def main() -> None:
        seen: list[str] = []
        api = await RealAPI().start("ns")
        for name in ("a", "b"):
            await api.create(PODS, pod(name))
        c = Controller("resync")
        c.watch(Informer(api.client, PODS),
                on_update=lambda old, new: seen.append(new["metadata"]["name"]) if old is new else None,
                resync=0.001)
        task = asyncio.create_task(c.run())
        await until(lambda: seen.count("a") >= 2 and seen.count("b") >= 2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        api.close()

    run(main())
