"""client/workqueue.py: the queue, the delaying queue and the rate limiters (client-go's
queue_test, delaying_queue_test, rate_limiting_queue_test and default_rate_limiters_test)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kubeling.api import errors
from kubeling.client.workqueue import (BucketRateLimiter, FailureLog, ItemExponentialFailureRateLimiter,
                                       MaxOfRateLimiter, WorkQueue, default_controller_rate_limiter, run_workers)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 10))


# ---- queue ----------------------------------------------------------------------------------


def test_fifo_and_dedupe() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        for k in ("a", "b", "a", "c", "b"):
            q.add(k)
        assert len(q) == 3
        assert [await q.get() for _ in range(3)] == ["a", "b", "c"]

    run(main())


def test_key_added_while_processing_comes_back_once_after_done() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        q.add("a")
        assert await q.get() == "a"
        q.add("a")
        q.add("a")
        assert len(q) == 0  # never handed to a second worker while the first holds it
        q.done("a")
        assert len(q) == 1
        assert await q.get() == "a"
        q.done("a")
        assert len(q) == 0

    run(main())


def test_get_waits_for_add_and_shutdown_releases_waiters() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        waiter = asyncio.create_task(q.get())
        await asyncio.sleep(0)
        q.add("x")
        assert await waiter == "x"
        blocked = asyncio.create_task(q.get())
        await asyncio.sleep(0)
        await q.shutdown()
        assert await blocked is None
        q.add("y")  # ignored after shutdown
        assert await q.get() is None

    run(main())


# ---- delaying queue -------------------------------------------------------------------------


def test_add_after_delivers_later_and_keeps_the_earliest_deadline() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        q.add_after("k", 3600)
        q.add_after("k", 0.01)  # earlier: replaces the hour
        q.add_after("k", 7200)  # later: ignored
        assert len(q) == 0
        assert await q.get() == "k"
        q.done("k")
        assert len(q) == 0 and not q._timers
        q.add_after("now", 0)  # no delay: straight in
        assert len(q) == 1

    run(main())


# ---- rate limiters --------------------------------------------------------------------------


def test_item_exponential_backoff_doubles_to_the_cap() -> None:
    r = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    assert [r.when("k") for _ in range(4)] == [0.005, 0.01, 0.02, 0.04]
    assert r.num_requeues("k") == 4
    assert r.when("other") == 0.005  # per key
    r.forget("k")
    assert r.num_requeues("k") == 0 and r.when("k") == 0.005


def test_item_exponential_backoff_never_overflows() -> None:
    """Regression: base * 2**n raised OverflowError after ~1,000 retries of one key and took the
    controller down; the cap holds for any number of retries."""
    r = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    delays = [r.when("bad") for _ in range(10_000)]
    assert delays[18] == 1000.0 and delays[17] < 1000.0
    assert max(delays) == 1000.0 and delays[-1] == 1000.0
    assert r.num_requeues("bad") == 10_000


def test_bucket_limiter_bursts_then_paces() -> None:
    clock = Clock()
    b = BucketRateLimiter(qps=10, burst=3, clock=clock)
    assert [b.when(i) for i in range(3)] == [0, 0, 0]
    assert b.when("x") == pytest.approx(0.1)
    assert b.when("y") == pytest.approx(0.2)  # each retry past the burst waits one more slot
    clock.t += 1.0  # 10 tokens refilled, the debt of 2 paid: capped at the burst
    assert [b.when(i) for i in range(3)] == [0, 0, 0]
    assert b.when("z") > 0
    assert b.num_requeues("z") == 0


def test_bucket_allow_takes_no_debt() -> None:
    clock = Clock()
    b = BucketRateLimiter(qps=1, burst=2, clock=clock)
    assert [b.allow() for _ in range(4)] == [True, True, False, False]
    clock.t += 1.0
    assert b.allow() and not b.allow()


def test_max_of_and_default_limiter() -> None:
    clock = Clock()
    r = MaxOfRateLimiter(ItemExponentialFailureRateLimiter(1.0, 8.0), BucketRateLimiter(10, 1, clock))
    assert r.when("a") == 1.0
    assert r.when("b") == 1.0  # bucket says 0.1, item says 1
    assert r.num_requeues("a") == 1
    r.forget("a")
    assert r.num_requeues("a") == 0
    d = default_controller_rate_limiter()
    assert d.when("k") == 0.005 and d.when("k") == 0.01


def test_add_rate_limited_10000_times_does_not_raise() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        for _ in range(10_000):
            q.add_rate_limited("bad")
        assert q.num_requeues("bad") == 10_000
        q.forget("bad")
        assert q.num_requeues("bad") == 0
        await q.shutdown()

    run(main())


# ---- workers and failure logging --------------------------------------------------------------


def test_failure_log_is_bounded_per_key_and_overall(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    flog = FailureLog(logging.getLogger("t.failures"), burst=5, per_second=1, clock=clock)
    with caplog.at_level(logging.INFO, logger="t.failures"):
        for n in range(10_000):
            flog.failed("q", "bad", n, ValueError("boom"))
    lines = [r for r in caplog.records if r.name == "t.failures"]
    assert len(lines) == 5  # 0, 1, 2, 4, 8 logged, then the bucket of 5 is empty
    assert lines[0].exc_info is not None and all(r.exc_info is None for r in lines[1:])
    caplog.clear()
    clock.t += 60
    with caplog.at_level(logging.INFO, logger="t.failures"):
        flog.failed("q", "bad", 16384, errors.StatusError(409, "Conflict", "the object has been modified"))
    (line,) = caplog.records
    assert "similar messages suppressed" in line.getMessage() and "the object has been modified" in line.getMessage()


def test_workers_keep_serving_other_keys_when_one_always_fails() -> None:
    async def main() -> None:
        q = WorkQueue("t", ItemExponentialFailureRateLimiter(0.0, 0.0))
        served: list[str] = []
        bad_tries = 0
        all_good = asyncio.Event()

        async def reconcile(key: str) -> None:
            nonlocal bad_tries
            if key == "bad":
                bad_tries += 1
                if bad_tries % 7 == 0:
                    raise OverflowError("not a StatusError either")
                raise RuntimeError("cannot process")
            served.append(key)
            if len(served) == 50:
                all_good.set()

        workers = asyncio.create_task(run_workers(q, reconcile, 2, FailureLog(logging.getLogger("t.quiet"))))
        q.add("bad")
        for i in range(50):
            q.add(f"good-{i}")
            await asyncio.sleep(0)
        await all_good.wait()
        while bad_tries < 1000:
            await asyncio.sleep(0)
        assert not workers.done()
        await q.shutdown()
        await workers
        assert sorted(served) == sorted(f"good-{i}" for i in range(50))

    run(main())
