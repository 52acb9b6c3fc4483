"""The SQLite store: revisions, compare-and-swap, watch replay, compaction and restart."""

from __future__ import annotations

import asyncio

import pytest

from kubeling.store.base import ADDED, DELETED, MODIFIED, Compacted, KeyExists, KeyNotFound, RevisionConflict
from kubeling.store.sqlite import SQLiteStore

P = "/registry/core/configmaps/"


def cm(name: str, v: str = "1") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}, "data": {"v": v}}


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(str(tmp_path / "db" / "state.db"), history=100)
    yield s
    s.close()


async def test_create_get_list_sets_resource_version(store):
    e1 = await store.create(P + "ns/a", cm("a"))
    e2 = await store.create(P + "ns/b", cm("b"))
    assert e2.mod_rev == e1.mod_rev + 1
    assert store.get(P + "ns/a").obj()["metadata"]["resourceVersion"] == str(e1.mod_rev)
    items, rev = store.list(P + "ns/")
    assert [e.key for e in items] == [P + "ns/a", P + "ns/b"] and rev == e2.mod_rev
    assert store.list("/registry/core/secrets/")[0] == []
    with pytest.raises(KeyExists):
        await store.create(P + "ns/a", cm("a"))


async def test_update_is_compare_and_swap(store):
    e = await store.create(P + "ns/a", cm("a"))
    e2 = await store.update(P + "ns/a", cm("a", "2"), e.mod_rev)
    assert e2.create_rev == e.mod_rev and e2.mod_rev > e.mod_rev
    with pytest.raises(RevisionConflict):
        await store.update(P + "ns/a", cm("a", "3"), e.mod_rev)
    with pytest.raises(KeyNotFound):
        await store.update(P + "ns/zz", cm("zz"), 1)
    d = await store.delete(P + "ns/a")
    assert d.mod_rev == store.revision and store.get(P + "ns/a") is None


async def test_watch_replays_history_then_live(store):
    e = await store.create(P + "ns/a", cm("a"))
    await store.update(P + "ns/a", cm("a", "2"), e.mod_rev)
    w = store.watch(P, e.mod_rev - 1)
    await store.delete(P + "ns/a")
    await store.create("/registry/core/secrets/ns/s", cm("s"))  # other prefix: not seen
    types = [w.queue.get_nowait().type for _ in range(3)]
    assert types == [ADDED, MODIFIED, DELETED]
    assert w.queue.empty()
    store.unwatch(w)


async def test_compacted_revision_is_gone(store):
    first = await store.create(P + "ns/a", cm("a"))
    for i in range(150):
        await store.create(P + f"ns/x{i}", cm(f"x{i}"))
    with pytest.raises(Compacted):
        store.watch(P, first.mod_rev)
    store.watch(P, store.revision)  # recent revisions still work


async def test_history_is_bounded_by_bytes(tmp_path):
    """Big objects drop the oldest history before the count bound; only they are gone."""
    s = SQLiteStore(str(tmp_path / "state.db"), history=1000, history_bytes=45_000)
    try:
        first = await s.create(P + "ns/a", cm("a"))
        entries = [await s.create(P + f"ns/x{i}", cm(f"x{i}", "v" * 10_000)) for i in range(10)]
        assert s._history_bytes <= 45_000
        with pytest.raises(Compacted):
            s.watch(P, first.mod_rev)
        with pytest.raises(Compacted):
            s.watch(P, entries[4].mod_rev)
        w = s.watch(P, entries[5].mod_rev)  # the 4 newest (~40 KB) are kept
        assert [w.queue.get_nowait().entry.mod_rev for _ in range(4)] == [e.mod_rev for e in entries[6:]]
    finally:
        s.close()


async def test_restart_keeps_data_and_revision(tmp_path):
    path = str(tmp_path / "state.db")
    s = SQLiteStore(path)
    await s.create(P + "ns/a", cm("a"))
    d = await s.create(P + "ns/b", cm("b"))
    await s.delete(P + "ns/b")
    rev = s.revision
    s.close()
    s2 = SQLiteStore(path)
    assert s2.revision == rev
    assert s2.get(P + "ns/a").obj()["data"] == {"v": "1"}
    assert s2.get(P + "ns/b") is None
    e = await s2.create(P + "ns/c", cm("c"))
    assert e.mod_rev == rev + 1 > d.mod_rev
    with pytest.raises(Compacted):
        s2.watch(P, rev - 1)
    s2.close()


async def test_slow_watcher_is_closed_not_grown(store):
    w = store.watch(P, store.revision)
    w.queue = asyncio.Queue(3)
    for i in range(10):
        await store.create(P + f"ns/{i}", cm(str(i)))
    assert w.overflowed and w.closed


async def test_watch_stream_stops_when_cancelled_as_an_event_arrives(store):
    """A cancelled watch ends even if an event lands in the same loop turn (asyncio.wait_for on
    3.11 returned the event and dropped the cancellation: the GC's informer of a deleted CRD
    then watched forever and `kubeling up` never exited)."""
    from kubeling.api.resources import lookup
    from kubeling.apiserver.watchstream import WatchStream

    class All:
        empty = True

    cms = lookup("", "v1", "configmaps")
    stream = WatchStream(store, cms, "default", All(), "")
    stream.open()
    got = []

    async def consume():
        async for batch in stream.batches():
            got.append(batch)

    task = asyncio.create_task(consume())
    for _ in range(3):
        await asyncio.sleep(0)  # the consumer waits for the next event
    await store.create(cms.key("default", "a"), {"metadata": {"name": "a", "namespace": "default"}})
    task.cancel()  # same turn as the event's delivery
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)


async def test_watch_stream_batches_writes_of_consecutive_turns(store):
    """A write made one event-loop turn after another joins its batch: bursts of writes from
    several tasks (controllers, kubelets) reach a watcher as one batch, so an informer's handlers
    enqueue a key once per burst (one event per batch tripled scale.py's reconciles)."""
    from kubeling.api.resources import lookup
    from kubeling.apiserver.watchstream import WatchStream

    class All:
        empty = True

    cms = lookup("", "v1", "configmaps")
    stream = WatchStream(store, cms, "default", All(), "")
    stream.open()
    got: list[list[str]] = []
    both = asyncio.Event()

    async def consume():
        async for batch in stream.batches():
            got.append([e.obj()["metadata"]["name"] for _, e in batch])
            if sum(map(len, got)) == 2:
                both.set()

    task = asyncio.create_task(consume())
    for _ in range(3):
        await asyncio.sleep(0)  # the consumer waits for the next event
    await store.create(cms.key("default", "a"), {"metadata": {"name": "a", "namespace": "default"}})
    await asyncio.sleep(0)  # one turn later
    await store.create(cms.key("default", "b"), {"metadata": {"name": "b", "namespace": "default"}})
    await asyncio.wait_for(both.wait(), 10)
    task.cancel()
    assert got == [["a", "b"]]
