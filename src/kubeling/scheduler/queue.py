"""Scheduling queue: activeQ, backoffQ and unschedulable pods (upstream internal/queue).

- activeQ pops the highest `spec.priority` first, then the pod queued earliest (PrioritySort).
- A pod that failed goes to the unschedulable set; a cluster event (node added or changed, an
  assigned pod deleted) moves every such pod back, to backoffQ while its backoff (1 s doubling
  to 10 s per attempt) runs, else straight to activeQ. Pods left unschedulable for
  `unschedulable_timeout` (upstream 5 min) are moved back by `flush_leftover()`.
- A pod whose scheduling attempt overlapped a cluster event goes to backoffQ, not unschedulable,
  so the event that might have helped it is not lost (upstream's moveRequestCycle).
Pure bookkeeping: time is passed in, so tests need no sleeps.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass
class QueuedPod:
    key: str
    pod: Obj
    timestamp: float  # when it was first queued (ordering inside a priority)
    attempts: int = 0
    last_failure: float = 0.0
    cycle: int = 0  # the scheduling cycle of its last attempt
    where: str = ""  # "active" | "backoff" | "unschedulable" | "" (popped)

    @property
    def priority(self) -> int:
        return int((self.pod.get("spec") or {}).get("priority") or 0)


@dataclass
class SchedulingQueue:
    backoff_initial: float = 1.0
    backoff_max: float = 10.0
    unschedulable_timeout: float = 300.0
    pods: dict[str, QueuedPod] = field(default_factory=dict)
    _active: list[tuple[int, float, int, str]] = field(default_factory=list)
    _backoff: list[tuple[float, int, str]] = field(default_factory=list)
    _seq: Any = field(default_factory=itertools.count)
    scheduling_cycle: int = 0
    move_request_cycle: int = -1

    # ---- adds --------------------------------------------------------------------------------
    def add(self, key: str, pod: Obj, now: float) -> None:
        """A new pending pod (or a changed one): straight to activeQ."""
        qp = self.pods.get(key)
        if qp is None:
            qp = self.pods[key] = QueuedPod(key, pod, now)
        else:
            qp.pod = pod
            if qp.where == "active":
                return
        self._to_active(qp)

    def update(self, key: str, pod: Obj, now: float) -> None:
        """Pod spec/labels changed: an unschedulable pod gets another try (after its backoff)."""
        qp = self.pods.get(key)
        if qp is None:
            self.add(key, pod, now)
            return
        qp.pod = pod
        if qp.where == "unschedulable":
            self._requeue(qp, now)

    def delete(self, key: str) -> None:
        qp = self.pods.pop(key, None)
        if qp is not None:
            qp.where = ""  # lazily dropped from the heaps

    def __contains__(self, key: str) -> bool:
        return key in self.pods

    # ---- pops --------------------------------------------------------------------------------
    def pop(self, now: float) -> QueuedPod | None:
        """The next pod to schedule, or None when activeQ is empty (after flushing backoff)."""
        self.flush_backoff(now)
        while self._active:
            _, _, _, key = heapq.heappop(self._active)
            qp = self.pods.get(key)
            if qp is None or qp.where != "active":
                continue
            qp.where = ""
            self.scheduling_cycle += 1
            qp.cycle = self.scheduling_cycle
            qp.attempts += 1
            return qp
        return None

    def next_backoff_expiry(self) -> float | None:
        while self._backoff:
            when, _, key = self._backoff[0]
            qp = self.pods.get(key)
            if qp is None or qp.where != "backoff":
                heapq.heappop(self._backoff)
                continue
            return when
        return None

    def flush_backoff(self, now: float) -> None:
        while self._backoff and self._backoff[0][0] <= now:
            _, _, key = heapq.heappop(self._backoff)
            qp = self.pods.get(key)
            if qp is not None and qp.where == "backoff":
                self._to_active(qp)

    # ---- outcomes ----------------------------------------------------------------------------
    def done(self, key: str) -> None:
        """Scheduled (assumed): the pod leaves the queue."""
        self.pods.pop(key, None)

    def unschedulable(self, qp: QueuedPod, now: float) -> None:
        """AddUnschedulableIfNotPresent: park it, or back it off if an event raced the attempt."""
        if self.pods.get(qp.key) is not qp:
            return  # deleted or bound meanwhile
        qp.last_failure = now
        if self.move_request_cycle >= qp.cycle:
            self._to_backoff(qp, now)
        else:
            qp.where = "unschedulable"

    def error(self, qp: QueuedPod, now: float) -> None:
        """A bind or API error: retry after the backoff."""
        if self.pods.get(qp.key) is not qp:
            self.pods[qp.key] = qp
        qp.last_failure = now
        self._to_backoff(qp, now)

    def move_all(self, now: float) -> int:
        """MoveAllToActiveOrBackoffQueue on a cluster event; returns how many pods moved."""
        self.move_request_cycle = self.scheduling_cycle
        moved = 0
        for qp in list(self.pods.values()):
            if qp.where == "unschedulable":
                self._requeue(qp, now)
                moved += 1
        return moved

    def flush_leftover(self, now: float) -> int:
        """flushUnschedulablePodsLeftover: pods parked longer than the timeout get another try."""
        moved = 0
        for qp in list(self.pods.values()):
            if qp.where == "unschedulable" and now - qp.last_failure >= self.unschedulable_timeout:
                self._requeue(qp, now)
                moved += 1
        return moved

    # ---- helpers -----------------------------------------------------------------------------
    def backoff_duration(self, qp: QueuedPod) -> float:
        d = self.backoff_initial
        for _ in range(1, qp.attempts):
            d *= 2
            if d >= self.backoff_max:
                return self.backoff_max
        return min(d, self.backoff_max)

    def _requeue(self, qp: QueuedPod, now: float) -> None:
        if qp.last_failure + self.backoff_duration(qp) > now:
            self._to_backoff(qp, now)
        else:
            self._to_active(qp)

    def _to_active(self, qp: QueuedPod) -> None:
        qp.where = "active"
        heapq.heappush(self._active, (-qp.priority, qp.timestamp, next(self._seq), qp.key))

    def _to_backoff(self, qp: QueuedPod, now: float) -> None:
        qp.where = "backoff"
        heapq.heappush(self._backoff, (qp.last_failure + self.backoff_duration(qp), next(self._seq), qp.key))

    def counts(self) -> dict[str, int]:
        out = {"active": 0, "backoff": 0, "unschedulable": 0}
        for qp in self.pods.values():
            if qp.where in out:
                out[qp.where] += 1
        return out
