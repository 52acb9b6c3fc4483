"""Kubernetes timestamps on the wire: metav1.Time (RFC 3339 in UTC, whole seconds:
`2026-01-02T03:04:05Z`), metav1.MicroTime (microseconds: Leases, events.k8s.io Events, audit
events) and reading either back as seconds since the epoch.

The one place these formats are written: components pass epoch seconds (`time.time()`) around
and format at the edge.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone


def rfc3339(t: float | None = None) -> str:
    """metav1.Time of epoch seconds `t` (now when None), truncated to the second as upstream's
    JSON encoding of a Time does."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(time.time() if t is None else t)))


def rfc3339_micro(t: float | None = None) -> str:
    """metav1.MicroTime of epoch seconds `t` (now when None)."""
    return datetime.fromtimestamp(time.time() if t is None else t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(s: str | None) -> float | None:
    """Epoch seconds of an RFC 3339 stamp (with or without fractional seconds); None for a
    missing, empty (Go's zero time) or malformed one."""
    if not s:
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
