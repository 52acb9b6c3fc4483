"""The store protocol: a revisioned key-value store with compare-and-swap and watch.

The API server is the only user. Keys look like etcd's (`/registry/apps/deployments/ns/name`),
values are the JSON bytes of the object *including* its `metadata.resourceVersion`, which is the
store's global revision at the write. Keeping the encoded bytes lets lists and watch events be
sent without re-encoding (encode once, send many).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Protocol

from ..api.errors import StatusError

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"


class StoreError(Exception):
    """Base of store-level failures; the API layer maps them to Status errors."""


class KeyExists(StoreError):
    pass


class KeyNotFound(StoreError):
    pass


class RevisionConflict(StoreError):
    """The key's current revision is not the expected one (optimistic concurrency)."""

    def __init__(self, current: "Entry | None") -> None:
        super().__init__("revision conflict")
        self.current = current


class RequestTooLarge(StoreError, StatusError):
    """A value past etcd's --max-request-bytes (1.5 MiB), refused as kube-apiserver reports
    etcd's error: a plain error, so a 500 with no reason (kubernetes/kubernetes#112152)."""

    def __init__(self) -> None:
        StatusError.__init__(self, 500, "", "etcdserver: request is too large")


MAX_REQUEST_BYTES = 1536 * 1024  # etcd's default --max-request-bytes


class Compacted(StoreError):
    """The requested revision has been compacted away (the API answers 410 Gone)."""


@dataclass(slots=True)
class Entry:
    """One stored object: its key, encoded JSON and revisions."""

    key: str
    value: bytes
    mod_rev: int
    create_rev: int
    _obj: dict[str, Any] | None = None

    def obj(self) -> dict[str, Any]:
        """Decoded object, cached. Shared: callers must not mutate it (use `copy()`)."""
        if self._obj is None:
            import orjson

            self._obj = orjson.loads(self.value)
        return self._obj

    def copy(self) -> dict[str, Any]:
        import orjson

        return orjson.loads(self.value)


@dataclass(slots=True)
class Event:
    type: str
    entry: Entry  # for DELETED: the last state, with mod_rev = the deletion revision
    prev: Entry | None = None


class Watcher:
    """A bounded per-watcher queue; a watcher that falls behind is closed, never grown."""

    def __init__(self, prefix: str, maxsize: int = 10000) -> None:
        self.prefix = prefix
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.overflowed = False
        self.closed = False

    def offer(self, ev: Event) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(ev)
        except asyncio.QueueFull:
            self.overflowed = True
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.queue.put_nowait(None)
            except asyncio.QueueFull:
                # make room for the end marker: the watcher is being dropped anyway
                self.queue.get_nowait()
                self.queue.put_nowait(None)

    async def events(self) -> AsyncIterator[Event]:
        while True:
            ev = await self.queue.get()
            if ev is None:
                return
            yield ev


class Store(Protocol):
    revision: int

    def get(self, key: str) -> Entry | None: ...

    def stale(self, key: str) -> bool: ...

    def list(self, prefix: str) -> tuple[list[Entry], int]: ...

    def prefix_revision(self, prefix: str) -> int: ...

    def create(self, key: str, obj: dict[str, Any]) -> Entry: ...

    def update(self, key: str, obj: dict[str, Any], expected_rev: int) -> Entry: ...

    def delete(self, key: str, expected_rev: int | None = None) -> Entry: ...

    def watch(self, prefix: str, from_rev: int) -> Watcher: ...

    def unwatch(self, w: Watcher) -> None: ...

    def close(self) -> None: ...
