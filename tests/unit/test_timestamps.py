"""metav1.Time / MicroTime on the wire and back (api/timestamps.py)."""

from __future__ import annotations

import pytest

from kubeling.api.timestamps import parse_rfc3339, rfc3339, rfc3339_micro

T = 1_767_323_045.987654  # 2026-01-02T03:04:05.987654Z


def test_time_is_whole_seconds_truncated() -> None:
    assert rfc3339(T) == "2026-01-02T03:04:05Z"
    assert rfc3339(0) == "1970-01-01T00:00:00Z"


def test_micro_time_keeps_microseconds() -> None:
    assert rfc3339_micro(T) == "2026-01-02T03:04:05.987654Z"


@pytest.mark.parametrize("s, want", [
    ("2026-01-02T03:04:05Z", 1_767_323_045.0),
    ("2026-01-02T03:04:05.5Z", 1_767_323_045.5),
    ("2026-01-02T04:04:05+01:00", 1_767_323_045.0),
    ("", None), (None, None), ("yesterday", None),
])
def test_parse(s: str | None, want: float | None) -> None:
    assert parse_rfc3339(s) == want


def test_round_trip() -> None:
    assert parse_rfc3339(rfc3339(T)) == float(int(T))
