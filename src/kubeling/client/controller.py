"""The one way to run a controller (client-go's controller pattern, as in sample-controller), and
the ControllerRefManager every workload controller claims its objects with.

A controller subclasses `Controller` and declares, in its constructor, what it watches and what
it runs: `watch(informer, on_add=..., on_update=..., on_delete=...)` (handlers only enqueue
keys), `add_queue(name, reconcile, workers)` (a rate-limited queue and its workers), `every(...)`
(a periodic pass) and `add_task(...)` (any other long-running loop). `run()` then does what
every controller used to repeat: add the handlers, start the informers, wait until they are
synced, run the workers and loops as named tasks, and on cancellation shut the queues down and
stop the informers. A reconcile that raises is logged with rate limiting and its key retried
with capped backoff (`workqueue.run_workers`): one bad object never stops a controller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Coroutine, Iterable

from ..api import errors
from ..api.resources import Resource
from ..api.selectors import from_label_selector_object
from .informer import Handler, Informer, controller_of, object_key, wait_synced
from .rest import Client
from .workqueue import FailureLog, RateLimiter, WorkQueue, run_workers

Obj = dict[str, Any]
Reconcile = Callable[[Any], Awaitable[None]]


@dataclass
class _Watch:
    informer: Informer
    on_add: Handler | None
    on_update: Handler | None
    on_delete: Handler | None
    resync: float


class Controller:
    """Informers, queues, workers and loops of one controller, started and stopped together."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.log = logging.getLogger(f"kubeling.{name}")
        self.failures = FailureLog(self.log)
        self._watches: list[_Watch] = []
        self._queues: list[tuple[WorkQueue, Reconcile, int]] = []
        self._loops: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._on_synced: list[Callable[[], None]] = []
        self._on_stop: list[Callable[[], None]] = []
        self._spawned: set[asyncio.Task[Any]] = set()
        self._handlers_added = False

    # ---- declarations (in the constructor) ---------------------------------------------------
    def watch(self, informer: Informer, on_add: Handler | None = None, on_update: Handler | None = None,
              on_delete: Handler | None = None, *, resync: float = 0.0) -> Informer:
        """Run `informer` with these handlers (added when the controller starts). With `resync`,
        every cached object is handed to `on_update(obj, obj)` that often (client-go resync)."""
        self._watches.append(_Watch(informer, on_add, on_update, on_delete, resync))
        return informer

    def add_queue(self, name: str, reconcile: Reconcile, workers: int = 1,
                  rate_limiter: RateLimiter | None = None) -> WorkQueue:
        """A rate-limited queue whose keys `workers` workers hand to `reconcile`."""
        queue = WorkQueue(name, rate_limiter)
        self._queues.append((queue, reconcile, workers))
        return queue

    def every(self, period: float, fn: Callable[[], Awaitable[Any]], what: str, *, retry: float | None = None) -> None:
        """Call `fn` every `period` seconds; a failed pass is logged (rate limited) and tried
        again after `retry` seconds (default: the period)."""

        async def loop() -> None:
            tries = 0
            while True:
                try:
                    await fn()
                    tries = 0
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    self.failures.failed(self.name, what, tries, e)
                    tries += 1
                await asyncio.sleep(period if tries == 0 or retry is None else retry)

        self.add_task(what, loop)

    def add_task(self, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        """Any other long-running loop of this controller, run as task `<controller>-<name>`."""
        self._loops.append((name, fn))

    def on_synced(self, fn: Callable[[], None]) -> None:
        """Call `fn` once the informers have synced, before the workers start."""
        self._on_synced.append(fn)

    def on_stop(self, fn: Callable[[], None]) -> None:
        """Call `fn` when the controller stops (cancel timers it armed)."""
        self._on_stop.append(fn)

    # ---- while running -----------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Run `coro` as a background task of this controller (a binding, an eviction): it is
        cancelled when the controller stops."""
        t = asyncio.get_running_loop().create_task(coro, name=name)
        self._spawned.add(t)
        t.add_done_callback(self._spawned.discard)

    # ---- running -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until cancelled (or until every queue is shut down and every loop has ended).
        Running again after a crash does not add the handlers a second time."""
        if not self._handlers_added:
            self._handlers_added = True
            for w in self._watches:
                w.informer.add_handlers(on_add=w.on_add, on_update=w.on_update, on_delete=w.on_delete)
        informers = list(dict.fromkeys(w.informer for w in self._watches))
        tasks = [asyncio.create_task(i.run(), name=f"{self.name}-informer-{i.res.plural}") for i in informers]
        try:
            await wait_synced(informers)
            for fn in self._on_synced:
                fn()
            async with asyncio.TaskGroup() as tg:
                for queue, reconcile, workers in self._queues:
                    tg.create_task(run_workers(queue, reconcile, workers, self.failures), name=f"{queue.name}-workers")
                for name, fn in self._loops:
                    tg.create_task(fn(), name=f"{self.name}-{name}")
                for w in self._watches:
                    if w.resync > 0 and w.on_update is not None:
                        tg.create_task(self._resync(w), name=f"{self.name}-resync-{w.informer.res.plural}")
                if not self._queues and not self._loops:
                    await asyncio.Event().wait()  # handlers only: serve them until cancelled
        finally:
            for queue, _, _ in self._queues:
                await queue.shutdown()
            for fn in self._on_stop:
                fn()
            tasks += self._spawned
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _resync(self, w: _Watch) -> None:
        assert w.on_update is not None
        while True:
            await asyncio.sleep(w.resync)
            for obj in w.informer.list():
                w.on_update(obj, obj)


# ---- controller references ------------------------------------------------------------------------


def new_controller_ref(owner: Obj, api_version: str, kind: str) -> Obj:
    """metav1.NewControllerRef: controller and blockOwnerDeletion set."""
    return {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def adopt_patch(owner: Obj, api_version: str, kind: str, obj_uid: str) -> Obj:
    """Strategic merge patch that adds our controller ref (the uid guards against a recreated object)."""
    return {"metadata": {"ownerReferences": [new_controller_ref(owner, api_version, kind)], "uid": obj_uid}}


def release_patch(owner_uid: str, obj_uid: str) -> Obj:
    """Strategic merge patch that removes our ownerReference by uid."""
    return {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": obj_uid}}


def _ref_uid(obj: Obj) -> str | None:
    ref = controller_of(obj)
    return ref.get("uid") if ref is not None else None


class ControllerRefManager:
    """Who controls what between one owner kind and one child kind (upstream
    controller_ref_manager.go and the resolveControllerRef / get<Owner>sFor<Child> helpers every
    workload controller has): follow a child's controllerRef to its owner, find the owners whose
    selector matches a child, and claim children — keep ours that match, adopt matching orphans,
    release ours that stopped matching."""

    def __init__(self, client: Client, owners: Informer, children: Resource, *,
                 adopt_finalizers: Iterable[str] = (), written: Callable[[Obj, Obj], None] | None = None) -> None:
        """`adopt_finalizers` are added to an adopted child (the Job tracking finalizer);
        `written(owner, child)` is told of every adopt/release write (for expectations)."""
        self.client = client
        self.written = written
        self.owners = owners
        self.children = children
        self.kind = owners.res.kind
        self.api_version = owners.res.api_version
        self.adopt_finalizers = list(adopt_finalizers)

    def resolve(self, namespace: str | None, ref: Obj | None) -> Obj | None:
        """resolveControllerRef: the cached owner `ref` points to, if it is still that object."""
        if ref is None or ref.get("kind") != self.kind:
            return None
        owner = self.owners.get(namespace, ref.get("name", ""))
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return None
        return owner

    def controller_of(self, child: Obj) -> Obj | None:
        """The cached owner controlling `child`."""
        return self.resolve(child["metadata"].get("namespace"), controller_of(child))

    def owners_selecting(self, child: Obj) -> list[Obj]:
        """Owners in the child's namespace whose (non-empty, valid) selector matches its labels:
        who may want to adopt an orphan (getReplicaSetsForPod and friends)."""
        labels = child["metadata"].get("labels") or {}
        if not labels:
            return []
        out = []
        for owner in self.owners.list(child["metadata"].get("namespace")):
            try:
                sel = from_label_selector_object((owner.get("spec") or {}).get("selector"))
            except errors.StatusError:
                continue
            if not sel.empty() and sel.matches(labels):
                out.append(owner)
        return out

    async def claim(self, owner: Obj, children: Iterable[Obj], match: Callable[[Obj], bool], *,
                    ref_uid: Callable[[Obj], str | None] = _ref_uid) -> list[Obj]:
        """ClaimObject over `children`: the ones `owner` controls afterwards. An adopted child is
        returned as the server answered the adoption. `ref_uid` may read a precomputed
        controller uid (the ReplicaSet controller memoizes it per pod)."""
        uid = owner["metadata"]["uid"]
        being_deleted = bool(owner["metadata"].get("deletionTimestamp"))
        can_adopt: bool | None = None
        claimed: list[Obj] = []
        for child in children:
            owner_uid = ref_uid(child)
            if owner_uid is not None:
                if owner_uid != uid:
                    continue  # someone else's
                if match(child):
                    claimed.append(child)
                elif not being_deleted:
                    await self._patch(owner, child, release_patch(uid, child["metadata"]["uid"]))
                continue
            if being_deleted or child["metadata"].get("deletionTimestamp") or not match(child):
                continue
            if can_adopt is None:
                can_adopt = await self._can_adopt(owner)
            if not can_adopt:
                continue
            patch = adopt_patch(owner, self.api_version, self.kind, child["metadata"]["uid"])
            if self.adopt_finalizers:
                patch["metadata"]["finalizers"] = list(self.adopt_finalizers)
            adopted = await self._patch(owner, child, patch)
            if adopted is not None:
                claimed.append(adopted)
        return claimed

    async def _can_adopt(self, owner: Obj) -> bool:
        """RecheckDeletionTimestamp: a live read, so we never adopt for an owner being deleted."""
        meta = owner["metadata"]
        try:
            live = await self.client.get(self.owners.res, meta.get("namespace"), meta["name"])
        except errors.StatusError as e:
            if e.code == 404:
                return False
            raise
        return live["metadata"].get("uid") == meta["uid"] and not live["metadata"].get("deletionTimestamp")

    async def _patch(self, owner: Obj, child: Obj, patch: Obj) -> Obj | None:
        """An adopt/release patch; None when the child is gone, changed or no longer patchable."""
        meta = child["metadata"]
        try:
            out = await self.client.patch(self.children, meta.get("namespace"), meta["name"], patch,
                                          patch_type="strategic")
        except errors.StatusError as e:
            if e.code in (404, 409, 422):
                return None
            raise
        out.setdefault("apiVersion", self.children.api_version)
        out.setdefault("kind", self.children.kind)
        if self.written is not None:
            self.written(owner, out)
        return out




# ---- expectations -----------------------------------------------------------------------------

EXPECTATIONS_TIMEOUT = 5 * 60.0


class WriteExpectations:
    """The objects an owner's sync wrote or deleted that its informer has not shown yet (the
    purpose of upstream's ControllerExpectations and EndpointSliceTracker, kept by resourceVersion
    instead of by counts): until the cache holds each written object at that version or later,
    and no longer holds each deleted one, the owner is not synced again, so it never acts on a
    stale copy of its own writes — and the shared cache stays read-only. An expectation older
    than five minutes counts as met, so a lost watch event cannot wedge an owner."""

    def __init__(self, cache: Informer, clock: Callable[[], float] = time.monotonic) -> None:
        self.cache = cache
        self.clock = clock
        # owner key -> (since, object key -> written resourceVersion, or None for a deletion)
        self._items: dict[str, tuple[float, dict[str, int | None]]] = {}

    def _pending(self, owner_key: str) -> dict[str, int | None]:
        return self._items.setdefault(owner_key, (self.clock(), {}))[1]

    def wrote(self, owner_key: str, obj: Obj) -> None:
        try:
            rv = int(obj["metadata"]["resourceVersion"])
        except (KeyError, TypeError, ValueError):
            return
        pending = self._pending(owner_key)
        key = object_key(obj)
        pending[key] = max(rv, pending.get(key) or 0)

    def deleting(self, owner_key: str, obj: Obj) -> None:
        """We deleted `obj`: wait until it is gone from the cache."""
        self._pending(owner_key)[object_key(obj)] = None

    def _seen(self, key: str, rv: int | None) -> bool:
        cached = self.cache.get_by_key(key)
        if rv is None:
            return cached is None
        try:
            return cached is not None and int(cached["metadata"]["resourceVersion"]) >= rv
        except (KeyError, TypeError, ValueError):
            return True

    def satisfied(self, owner_key: str) -> bool:
        item = self._items.get(owner_key)
        if item is None:
            return True
        since, pending = item
        for key, rv in list(pending.items()):
            if self._seen(key, rv):
                del pending[key]
        if not pending or self.clock() - since > EXPECTATIONS_TIMEOUT:
            del self._items[owner_key]
            return True
        return False

    def deleted(self, owner_key: str, obj: Obj) -> None:
        """`obj` is gone (whoever deleted it): nothing to wait for about it."""
        item = self._items.get(owner_key)
        if item is not None:
            item[1].pop(object_key(obj), None)

    def forget(self, owner_key: str) -> None:
        self._items.pop(owner_key, None)
