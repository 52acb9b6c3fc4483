"""kubelet back-off: upstream flowcontrol.Backoff as the kubelet uses it (10 s doubling to 5 min)."""

from __future__ import annotations

import pytest

from kubeling.api.goduration import seconds_duration
from kubeling.kubelet.backoff import Backoff


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_windows_double_and_cap() -> None:
    clock = Clock()
    b = Backoff(clock=clock)
    seen = []
    for _ in range(8):
        b.next("k", clock.t)
        seen.append(b.get("k"))
        clock.t += 1
    assert seen == [10, 20, 40, 80, 160, 300, 300, 300]


def test_crash_loop_sequence() -> None:
    """First restart is immediate, the next waits 10 s measured from finishedAt."""
    clock = Clock()
    b = Backoff(clock=clock)
    finished = clock.t
    assert not b.is_in_backoff_since("c", finished)  # crash 1: no entry → restart now
    b.next("c", finished)
    clock.t += 1
    finished = clock.t  # crash 2, 1 s later
    assert b.is_in_backoff_since("c", finished)
    assert b.remaining_since("c", finished) == pytest.approx(10)
    clock.t += 9.5
    assert b.is_in_backoff_since("c", finished)
    clock.t += 0.5
    assert not b.is_in_backoff_since("c", finished)  # window over → restart
    b.next("c", finished)
    assert b.get("c") == 20


def test_reset_after_ten_minutes_running() -> None:
    clock = Clock()
    b = Backoff(clock=clock)
    for _ in range(5):
        b.next("c", clock.t)
    assert b.get("c") == 160
    clock.t += 601  # ran for more than 2 × 5 min
    finished = clock.t
    assert not b.is_in_backoff_since("c", finished)
    b.next("c", finished)
    assert b.get("c") == 10


def test_not_reset_before_ten_minutes() -> None:
    clock = Clock()
    b = Backoff(clock=clock)
    b.next("c", clock.t)
    b.next("c", clock.t)
    clock.t += 599
    b.next("c", clock.t)
    assert b.get("c") == 40


def test_image_pull_backoff_since_update() -> None:
    clock = Clock()
    b = Backoff(clock=clock)
    assert not b.is_in_backoff_since_update("uid_nginx:1.161", clock.t)
    b.next("uid_nginx:1.161", clock.t)  # ErrImagePull
    clock.t += 3
    assert b.is_in_backoff_since_update("uid_nginx:1.161", clock.t)  # ImagePullBackOff
    assert b.remaining_since_update("uid_nginx:1.161") == pytest.approx(7)
    clock.t += 7
    assert not b.is_in_backoff_since_update("uid_nginx:1.161", clock.t)  # pull again


def test_gc_and_forget_prefix() -> None:
    clock = Clock()
    b = Backoff(clock=clock)
    b.next("uid1_a", clock.t)
    b.next("uid1_b", clock.t)
    b.next("uid2_a", clock.t)
    b.forget_prefix("uid1_")
    assert len(b) == 1
    clock.t += 601
    b.gc()
    assert len(b) == 0


@pytest.mark.parametrize("seconds,text", [
    (10, "10s"), (20, "20s"), (80, "1m20s"), (160, "2m40s"), (300, "5m0s"), (1.5, "1.5s"), (0.25, "250ms"),
    (0, "0s"), (3600, "1h0m0s"),
])
def test_go_duration(seconds: float, text: str) -> None:
    assert seconds_duration(seconds) == text
