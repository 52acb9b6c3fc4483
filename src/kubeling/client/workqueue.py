"""Rate-limited work queue with client-go semantics (util/workqueue).

A key is never processed by two workers at once; a key added while being processed is requeued
once when `done()` is called; adding a key that is already waiting is a no-op. Failed keys come
back after the delay their rate limiter says: by default client-go's DefaultControllerRateLimiter,
the larger of a per-key exponential backoff (5 ms doubling to a cap of 1000 s) and an overall
token bucket (10 retries per second, bursts of 100). The backoff never overflows however often a
key fails: one object that can never be processed is retried every 1000 s, not in a hot loop.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Awaitable, Callable, Hashable, Protocol

log = logging.getLogger("kubeling.workqueue")


class RateLimiter(Protocol):
    """client-go's workqueue.RateLimiter: how long to wait before retrying a key."""

    def when(self, key: Hashable) -> float: ...

    def forget(self, key: Hashable) -> None: ...

    def num_requeues(self, key: Hashable) -> int: ...


class ItemExponentialFailureRateLimiter:
    """base * 2**failures, capped at `max_delay`: 5 ms, 10 ms, 20 ms, ... 1000 s from the 19th
    failure of a key on. The exponent stops growing once the cap is reached, so the thousandth
    (or millionth) retry costs the same arithmetic as the first and cannot overflow."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base, self.max = base_delay, max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        if n >= 1024:  # 2.0 ** 1024 is past the largest float: the cap was reached long before
            return self.max
        return min(self.base * 2.0 ** n, self.max)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)


class BucketRateLimiter:
    """An overall token bucket (golang.org/x/time/rate's Reserve): `qps` retries per second with
    bursts of `burst`, whichever keys they are for. Tokens may go negative: each retry past the
    burst waits one more 1/qps slot."""

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Callable[[], float] = time.monotonic) -> None:
        self.qps, self.burst, self.clock = qps, burst, clock
        self._tokens = float(burst)
        self._last = clock()

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now

    def when(self, key: Hashable) -> float:
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def allow(self) -> bool:
        """Take a token if one is there now (rate.Limiter.Allow); never waits, never owes."""
        self._refill()
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def forget(self, key: Hashable) -> None:
        pass

    def num_requeues(self, key: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay of several limiters (client-go NewMaxOfRateLimiter)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, key: Hashable) -> float:
        return max(limiter.when(key) for limiter in self.limiters)

    def forget(self, key: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)


def default_controller_rate_limiter(base_delay: float = 0.005, max_delay: float = 1000.0, qps: float = 10.0,
                                    burst: int = 100) -> RateLimiter:
    """DefaultControllerRateLimiter: per-key exponential backoff and an overall bucket."""
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(base_delay, max_delay), BucketRateLimiter(qps, burst))


class WorkQueue:
    def __init__(self, name: str, rate_limiter: RateLimiter | None = None) -> None:
        self.name = name
        self._queue: collections.deque[Hashable] = collections.deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._getters: list[asyncio.Future[None]] = []
        self.rate_limiter = rate_limiter if rate_limiter is not None else default_controller_rate_limiter()
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
        """Add `key` after its rate limiter's delay (a retry after a failure)."""
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: Hashable) -> None:
        """The key succeeded: its next failure starts the backoff again from the base delay."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return self.rate_limiter.num_requeues(key)

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


class FailureLog:
    """Logs the failures of a queue's keys without flooding the log (utilruntime.HandleError's
    intent): a key's failure is logged on its 1st, 2nd, 4th, 8th, ... retry only (14 lines for
    10,000 retries), with a traceback on the first one only; and across all keys at most `burst`
    lines, then `per_second` lines a second, the next line saying how many were suppressed."""

    def __init__(self, log: logging.Logger, burst: int = 20, per_second: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.bucket = BucketRateLimiter(per_second, burst, clock)
        self.suppressed = 0

    def failed(self, queue: str, key: Hashable, retries: int, e: Exception) -> None:
        """`retries`: how often the key was requeued before this failure."""
        if retries & (retries - 1):  # not 0 and not a power of two
            return
        if not self.bucket.allow():
            self.suppressed += 1
            return
        note = f" ({self.suppressed} similar messages suppressed)" if self.suppressed else ""
        self.suppressed = 0
        from ..api import errors

        if isinstance(e, errors.StatusError):
            self.log.info("%s: %s failed after %d retries, will retry: %s%s", queue, key, retries, e.message, note)
        elif retries == 0:
            self.log.error("%s: %s failed%s", queue, key, note, exc_info=e)
        else:
            self.log.error("%s: %s failed again after %d retries: %r%s", queue, key, retries, e, note)


async def run_workers(queue: WorkQueue, reconcile: Callable[[Hashable], Awaitable[None]], workers: int = 1,
                      failures: FailureLog | None = None) -> None:
    """Process keys until shutdown. A reconcile that raises is logged (see `FailureLog`) and its
    key retried with backoff; the worker goes on with the other keys whatever the exception."""
    failures = failures if failures is not None else FailureLog(log)

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
                try:
                    failures.failed(queue.name, key, queue.num_requeues(key), e)
                    queue.add_rate_limited(key)
                except Exception:  # never let the error path end the worker
                    log.exception("%s: could not requeue %s", queue.name, key)
            finally:
                queue.done(key)

    async with asyncio.TaskGroup() as tg:  # cancellation ends every worker cleanly
        for i in range(workers):
            tg.create_task(worker(), name=f"{queue.name}-worker-{i}")
