"""Per-key exponential back-off, a port of client-go's `util/flowcontrol.Backoff` as the kubelet
uses it (pure logic, no timers; the caller passes the times).

The kubelet keeps two of these, both `NewBackOff(10s, 5m)` without jitter:
- container restarts (CrashLoopBackOff), keyed `<pod name>_<ns>_<uid>_<container>_<spec hash>`
  and measured from the *finish time* of the last exited container (`is_in_backoff_since`);
- image pulls (ImagePullBackOff), keyed `<uid>_<image>` and measured from the *last failure*
  (`is_in_backoff_since_update`).

Worked example (container crashing right after start, restartPolicy Always):
  crash 1 at t=0  → no entry → not in back-off → next(): window 10 s → restart at once
  crash 2 at t=1  → 1 s since finish < 10 s → CrashLoopBackOff "back-off 10s ..." until t=11
  at t=11         → window over → next(): 20 s → restart; crash 3 at t=12 → wait until t=32
  ... 40 s, 1m20s, 2m40s, then capped at 5m0s.
An entry untouched for more than 2 × max (10 minutes) has "expired": the container ran stably,
so the next failure starts again at 10 s (upstream's "reset after 10 minutes of running").
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

INITIAL = 10.0  # kubelet backOffPeriod
MAXIMUM = 300.0  # MaxContainerBackOff / MaxImageBackOff


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    """Delays per key: `next()` doubles the window (from `initial`, capped at `maximum`)."""

    def __init__(self, initial: float = INITIAL, maximum: float = MAXIMUM,
                 clock: Callable[[], float] = time.time) -> None:
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self._entries: dict[str, _Entry] = {}

    def _expired(self, event_time: float, last_update: float) -> bool:
        """Stable for twice the max delay: forget the history (hasExpired)."""
        return event_time - last_update > 2 * self.maximum

    def get(self, key: str) -> float:
        """The current window (0 when the key has none)."""
        e = self._entries.get(key)
        return e.backoff if e else 0.0

    def next(self, key: str, event_time: float) -> None:
        """Record one more failure: start at `initial`, else double up to `maximum`."""
        e = self._entries.get(key)
        if e is None or self._expired(event_time, e.last_update):
            e = self._entries[key] = _Entry(self.initial, 0.0)
        else:
            e.backoff = min(e.backoff * 2, self.maximum)
        e.last_update = self.clock()

    def is_in_backoff_since(self, key: str, event_time: float) -> bool:
        """True while less than the window has passed since `event_time` (e.g. finishedAt)."""
        e = self._entries.get(key)
        if e is None or self._expired(event_time, e.last_update):
            return False
        return self.clock() - event_time < e.backoff

    def is_in_backoff_since_update(self, key: str, event_time: float) -> bool:
        """True while less than the window has passed between the last `next()` and `event_time`."""
        e = self._entries.get(key)
        if e is None or self._expired(event_time, e.last_update):
            return False
        return event_time - e.last_update < e.backoff

    def remaining_since(self, key: str, event_time: float) -> float:
        """Seconds until `is_in_backoff_since(key, event_time)` turns false (0 if it is)."""
        e = self._entries.get(key)
        if e is None:
            return 0.0
        return max(0.0, e.backoff - (self.clock() - event_time))

    def remaining_since_update(self, key: str) -> float:
        """Seconds until the window opened by the last `next()` closes."""
        e = self._entries.get(key)
        if e is None:
            return 0.0
        return max(0.0, e.backoff - (self.clock() - e.last_update))

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        """Drop every key of one pod (keys start with something pod-unique)."""
        for k in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[k]

    def gc(self) -> None:
        """Drop entries that have expired (upstream GC: older than 2 × max)."""
        now = self.clock()
        for k in [k for k, e in self._entries.items() if self._expired(now, e.last_update)]:
            del self._entries[k]

    def __len__(self) -> int:
        return len(self._entries)
