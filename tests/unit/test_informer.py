"""client/informer.py: list+watch into a cache, handlers, indexes, relist after 410 Gone, and
the shared-informer factory (client-go tools/cache shared_informer_test, index_test)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

from kubeling.api import errors
from kubeling.api.resources import lookup
from kubeling.client.informer import (CONTROLLER_UID, ORPHANS_BY_NAMESPACE, Informer, SharedInformers,
                                      add_owner_indexes, wait_synced)

PODS = lookup("", "v1", "pods")
assert PODS is not None


def pod(name: str, rv: int, ns: str = "default", owner: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "resourceVersion": str(rv), "uid": f"u-{name}",
                            "labels": labels}
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "uid": f"u-{owner}", "controller": True}]
    return {"metadata": meta}


class FakeClient:
    """A list answer, then watch streams fed through queues (None ends a stream, an exception is raised)."""

    def __init__(self, items: list[dict[str, Any]], rv: int = 10) -> None:
        self.items, self.rv = items, rv
        self.lists = 0
        self.watch_rvs: list[str] = []
        self.events: asyncio.Queue[Any] = asyncio.Queue()

    async def list(self, res: Any, ns: Any = None, **_: Any) -> dict[str, Any]:
        self.lists += 1
        return {"metadata": {"resourceVersion": str(self.rv)}, "items": [dict(o) for o in self.items]}

    async def watch(self, res: Any, ns: Any = None, *, resource_version: str = "",
                    **_: Any) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        self.watch_rvs.append(resource_version)
        while True:
            ev = await self.events.get()
            if ev is None:
                return
            if isinstance(ev, Exception):
                raise ev
            yield ev


class Recorder:
    def __init__(self, inf: Informer) -> None:
        self.seen: list[tuple[str, str]] = []
        inf.add_handlers(on_add=lambda o: self.seen.append(("add", o["metadata"]["name"])),
                         on_update=lambda old, new: self.seen.append(("update", new["metadata"]["name"])),
                         on_delete=lambda o: self.seen.append(("delete", o["metadata"]["name"])))


async def until(cond: Any) -> None:
    while not cond():
        await asyncio.sleep(0)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))


async def started(items: list[dict[str, Any]]) -> tuple[FakeClient, Informer, Recorder, asyncio.Task[None]]:
    """A running, synced informer over `items`, with a recording handler."""
    client = FakeClient(items)
    inf = Informer(client, PODS)  # type: ignore[arg-type]
    rec = Recorder(inf)
    task = asyncio.create_task(inf.run())
    await wait_synced([inf])
    return client, inf, rec, task


def test_list_then_watch_fills_cache_and_calls_handlers() -> None:
    async def main() -> None:
        client, inf, rec, task = await started([pod("a", 5), pod("b", 6)])
        assert sorted(rec.seen) == [("add", "a"), ("add", "b")]
        assert inf.resource_version == "10" and client.watch_rvs == ["10"]
        await client.events.put(("MODIFIED", pod("a", 11, x="1")))
        await client.events.put(("DELETED", pod("b", 12)))
        await client.events.put(("ADDED", pod("c", 13)))
        await client.events.put(("BOOKMARK", {"metadata": {"resourceVersion": "14"}}))
        await until(lambda: inf.resource_version == "14")
        assert rec.seen[2:] == [("update", "a"), ("delete", "b"), ("add", "c")]
        assert sorted(o["metadata"]["name"] for o in inf.list("default")) == ["a", "c"]
        assert inf.get("default", "a")["metadata"]["labels"] == {"x": "1"}
        assert inf.list("other") == []
        task.cancel()

    run(main())


def test_gone_relists_and_replays_the_difference() -> None:
    async def main() -> None:
        client, inf, rec, task = await started([pod("a", 5), pod("b", 6)])
        client.items, client.rv = [pod("a", 5), pod("b", 20), pod("d", 21)], 22  # what happened meanwhile
        await client.events.put(errors.StatusError(410, "Expired", "too old resource version"))
        await until(lambda: client.lists == 2 and len(client.watch_rvs) == 2)
        assert rec.seen[2:] == [("update", "b"), ("add", "d")]  # "a" unchanged: no event
        assert client.watch_rvs[-1] == "22"
        client.items, client.rv = [pod("d", 21)], 30
        await client.events.put(errors.StatusError(410, "Expired", "too old resource version"))
        await until(lambda: client.lists == 3)
        assert sorted(rec.seen[4:]) == [("delete", "a"), ("delete", "b")]
        task.cancel()

    run(main())


def test_late_handler_sees_cached_objects_and_a_failing_handler_is_contained() -> None:
    async def main() -> None:
        client = FakeClient([pod("a", 5)])
        inf = Informer(client, PODS)  # type: ignore[arg-type]
        inf.add_handlers(on_add=lambda o: 1 / 0)  # logged, never stops the informer
        task = asyncio.create_task(inf.run())
        await wait_synced([inf])
        rec = Recorder(inf)
        assert rec.seen == [("add", "a")]
        await client.events.put(("ADDED", pod("b", 11)))
        await until(lambda: len(rec.seen) == 2)
        task.cancel()

    run(main())


def test_owner_indexes_follow_updates() -> None:
    inf = Informer(FakeClient([]), PODS)  # type: ignore[arg-type]
    add_owner_indexes(inf)
    inf.apply_event("ADDED", pod("p1", 1, owner="rs1"))
    inf.apply_event("ADDED", pod("p2", 2))
    inf.apply_event("ADDED", pod("p3", 3, ns="other"))
    names = lambda objs: sorted(o["metadata"]["name"] for o in objs)  # noqa: E731
    assert names(inf.by_index(CONTROLLER_UID, "u-rs1")) == ["p1"]
    assert names(inf.by_index(ORPHANS_BY_NAMESPACE, "default")) == ["p2"]
    inf.apply_event("MODIFIED", pod("p2", 4, owner="rs1"))  # adopted
    assert names(inf.by_index(CONTROLLER_UID, "u-rs1")) == ["p1", "p2"]
    assert inf.by_index(ORPHANS_BY_NAMESPACE, "default") == []
    inf.apply_event("DELETED", pod("p1", 5, owner="rs1"))
    assert names(inf.by_index(CONTROLLER_UID, "u-rs1")) == ["p2"]
    assert names(inf.by_index(ORPHANS_BY_NAMESPACE, "other")) == ["p3"]


def test_shared_informers_one_per_resource_and_selectors_one_loop() -> None:
    async def main() -> None:
        client = FakeClient([pod("a", 5)])
        factory = SharedInformers.of(client)  # type: ignore[arg-type]
        assert SharedInformers.of(client) is factory  # type: ignore[arg-type]
        inf = factory.informer(PODS)
        assert factory.informer(PODS) is inf
        assert factory.informer(PODS, label_selector="x=1") is not inf
        users = [asyncio.create_task(inf.run()) for _ in range(2)]
        await wait_synced([inf])
        assert client.lists == 1  # two users, one list and one watch
        users[0].cancel()
        await asyncio.gather(users[0], return_exceptions=True)
        await client.events.put(("ADDED", pod("b", 11)))
        await until(lambda: inf.get("default", "b") is not None)  # still running for the other user
        await factory.shutdown()
        await asyncio.gather(users[1], return_exceptions=True)
        assert users[1].done()

    run(main())
