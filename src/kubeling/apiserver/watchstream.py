"""One watch, independent of transport: what the HTTP watch handler streams and what the
in-process client transport delivers to informers inside `kubeling up`.

Semantics as upstream: no resourceVersion (or "0") starts with synthetic ADDED events for the
current state; a resourceVersion replays history after it (410 Gone if compacted); selectors
turn transitions into ADDED / DELETED; bookmarks are sent when asked for and idle; a watcher
that falls behind is closed with an error instead of buffering without bound.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

from ..api import errors
from ..api.resources import Resource
from ..store.base import ADDED, DELETED, MODIFIED, Compacted, Entry

BOOKMARK = "BOOKMARK"
ERROR = "ERROR"
BOOKMARK_INTERVAL = 60.0


def event_type(sel: Any, ev: Any) -> str | None:
    """Selector transitions: entering the selection is ADDED, leaving it is DELETED."""
    if sel.empty:
        return ev.type
    now_in = sel.matches(ev.entry.obj())
    if ev.type == DELETED:
        return DELETED if now_in else None
    was_in = ev.prev is not None and sel.matches(ev.prev.obj())
    if ev.type == ADDED:
        return ADDED if now_in else None
    if now_in and was_in:
        return MODIFIED
    if now_in:
        return ADDED
    if was_in:
        return DELETED
    return None


class WatchStream:
    """Open with `open()` (may raise StatusError 410/400), then iterate `batches()`."""

    def __init__(self, store: Any, res: Resource, namespace: str | None, sel: Any, resource_version: str,
                 *, timeout: float | None = None, bookmarks: bool = False) -> None:
        self.store = store
        self.res = res
        self.prefix = res.prefix(namespace)
        self.sel = sel
        self.rv = resource_version
        self.timeout = timeout
        self.bookmarks = bookmarks
        self.initial: list[Entry] = []
        self.watcher: Any = None

    def open(self) -> None:
        try:
            if self.rv in ("", "0"):
                self.initial, rev = self.store.list(self.prefix)
                self.watcher = self.store.watch(self.prefix, rev)
            else:
                if not (self.rv.isascii() and self.rv.isdigit() and int(self.rv) < 1 << 64):  # strconv.ParseUint
                    raise errors.bad_request(f"invalid resource version: {self.rv}")
                from_rev = int(self.rv)
                self.watcher = self.store.watch(self.prefix, from_rev)
        except Compacted:
            raise errors.gone(f"too old resource version: {self.rv} ({self.store.compacted_revision})") from None

    def close(self) -> None:
        """Stop watching, whether or not `batches()` ever ran (a stream handed out but never read)."""
        if self.watcher is not None:
            self.store.unwatch(self.watcher)

    def bookmark(self, rev: int) -> dict[str, Any]:
        return {"kind": self.res.kind, "apiVersion": self.res.api_version,
                "metadata": {"resourceVersion": str(rev)}}

    async def batches(self) -> AsyncIterator[list[tuple[str, Any]]]:
        """Lists of (type, Entry) — or (BOOKMARK, dict) / (ERROR, Status dict) — until the end."""
        sel, watcher = self.sel, self.watcher
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout if self.timeout else None
        try:
            first = [(ADDED, e) for e in self.initial if sel.empty or sel.matches(e.obj())]
            self.initial = []
            if first:
                yield first
            last_rev = self.store.revision
            while True:
                wait = BOOKMARK_INTERVAL
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        return
                try:
                    # not wait_for: on 3.11 it swallows a cancellation that arrives as the
                    # event does, and a cancelled in-process watcher then never stops
                    async with asyncio.timeout(wait):
                        ev = await watcher.queue.get()
                    # One event-loop turn before draining: the writes of one burst (a controller's
                    # creates, the kubelets' status updates) then reach the watcher as one batch,
                    # so its handlers enqueue each key once per burst, not once per event. Without
                    # it, scale.py's 1000 pods cost ~3x the ReplicaSet/Deployment reconciles.
                    await asyncio.sleep(0)
                except TimeoutError:
                    if deadline is not None and loop.time() >= deadline:
                        return
                    if self.bookmarks:
                        yield [(BOOKMARK, self.bookmark(max(last_rev, self.store.revision)))]
                    continue
                if ev is None:
                    if watcher.overflowed:
                        err = errors.StatusError(500, "InternalError", "watch channel overflowed; please restart the watch")
                        yield [(ERROR, err.status())]
                    return
                last_rev = ev.entry.mod_rev
                out = []
                while True:
                    kind = event_type(sel, ev)
                    if kind:
                        out.append((kind, ev.entry))
                    if watcher.queue.empty():
                        break
                    ev = watcher.queue.get_nowait()
                    if ev is None:
                        watcher.queue.put_nowait(None)
                        break
                    last_rev = ev.entry.mod_rev
                if out:
                    yield out
        finally:
            self.store.unwatch(watcher)
