"""Rate-limited work queue with client-go semantics (util/workqueue).

A key is never processed by two workers at once; a key added while being processed is requeued
once when `done()` is called; adding a key that is already waiting is a no-op. Failed keys come
back with per-item exponential backoff (5 ms doubling to 1000 s, as client-go's default).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Awaitable, Callable, Hashable

log = logging.getLogger("kubeling.workqueue")


class WorkQueue:
    def __init__(self, name: str, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.name = name
        self._queue: collections.deque[Hashable] = collections.deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._getters: list[asyncio.Future[None]] = []
        self._base, self._max = base_delay, max_delay
        self._shutdown = False

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: Hashable) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._notify()

    def _notify(self) -> None:
        """Wake one waiting worker (no task per add: this is on every informer event's path)."""
        while self._getters:
            fut = self._getters.pop(0)
            if not fut.done():
                fut.set_result(None)
                return

    def add_after(self, key: Hashable, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        when = loop.time() + delay
        if existing is not None:
            if existing.when() <= when:
                return
            existing.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.add(key)

        self._timers[key] = loop.call_at(when, fire)

    def add_rate_limited(self, key: Hashable) -> None:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        self.add_after(key, min(self._base * (2 ** n), self._max))

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    async def get(self) -> Hashable | None:
        # Always give the event loop a turn: a reconcile that re-adds its own key (a requeue
        # with no delay) must not starve the API server and every other task in this process.
        await asyncio.sleep(0)
        while not self._queue and not self._shutdown:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut in self._getters:
                    self._getters.remove(fut)
                raise
        if self._shutdown and not self._queue:
            return None
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: Hashable) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._notify()

    async def shutdown(self) -> None:
        self._shutdown = True
        for t in self._timers.values():
            t.cancel()
        for fut in self._getters:
            if not fut.done():
                fut.set_result(None)
        self._getters.clear()


async def run_workers(queue: WorkQueue, reconcile: Callable[[Hashable], Awaitable[None]], workers: int = 1) -> None:
    """Process keys until shutdown; a reconcile that raises is retried with backoff."""

    async def worker() -> None:
        while True:
            key = await queue.get()
            if key is None:
                return
            try:
                await reconcile(key)
                queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                from ..api import errors

                if isinstance(e, errors.StatusError):
                    log.info("%s: %s requeued: %s", queue.name, key, e.message)
                else:
                    log.exception("%s: reconcile of %s failed", queue.name, key)
                queue.add_rate_limited(key)
            finally:
                queue.done(key)

    async with asyncio.TaskGroup() as tg:  # cancellation ends every worker cleanly
        for i in range(workers):
            tg.create_task(worker(), name=f"{queue.name}-worker-{i}")
