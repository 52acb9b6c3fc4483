"""How long a Job waits before replacing failed pods: 10 s, doubling per consecutive failure,
capped at 10 minutes (upstream pkg/controller/job/backoff_utils.go)."""

from __future__ import annotations

from dataclasses import dataclass

from .util import Obj, finished_time

DEFAULT_POD_FAILURE_BACKOFF = 10.0
MAX_POD_FAILURE_BACKOFF = 600.0  # upstream's MaxJobPodFailureBackOff


@dataclass
class BackoffRecord:
    failures_after_last_success: int = 0
    last_failure_time: float | None = None


def new_backoff_record(old: BackoffRecord | None, new_succeeded: list[Obj], new_failed: list[Obj]) -> BackoffRecord:
    """backoffStore.newBackoffRecord: failures since the last success, and the last failure time.

    A success resets the count; failures that finished after the latest new success still count.
    """
    rec = BackoffRecord(old.failures_after_last_success, old.last_failure_time) if old else BackoffRecord()
    succ = sorted(finished_time(p) for p in new_succeeded)
    fail = sorted(finished_time(p) for p in new_failed)
    if not succ:
        if not fail:
            return rec
        return BackoffRecord(rec.failures_after_last_success + len(fail), fail[-1])
    rec = BackoffRecord()
    last_success = succ[-1]
    for t in reversed(fail):
        if not t > last_success:
            break
        if rec.last_failure_time is None:
            rec.last_failure_time = t
        rec.failures_after_last_success += 1
    return rec


def backoff_duration(failures: int, default: float = DEFAULT_POD_FAILURE_BACKOFF,
                     maximum: float = MAX_POD_FAILURE_BACKOFF) -> float:
    """10 s, 20 s, 40 s, ... capped: the delay before replacing the n-th consecutive failure."""
    if failures <= 0:
        return 0.0
    d = default
    for _ in range(1, failures):
        d *= 2
        if d >= maximum:
            return maximum
    return d


def remaining_backoff(rec: BackoffRecord, now: float, default: float = DEFAULT_POD_FAILURE_BACKOFF,
                      maximum: float = MAX_POD_FAILURE_BACKOFF) -> float:
    """getRemainingTime: how long pod creation still waits after the last failure."""
    if rec.failures_after_last_success == 0 or rec.last_failure_time is None:
        return 0.0
    d = backoff_duration(rec.failures_after_last_success, default, maximum)
    elapsed = now - rec.last_failure_time
    return 0.0 if d < elapsed else d - elapsed
