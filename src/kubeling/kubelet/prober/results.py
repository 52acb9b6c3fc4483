"""Probe results, cached per container ID (upstream `pkg/kubelet/prober/results`).

One `ResultsManager` per probe type. Workers `set` results; the kubelet reads them when it
computes a pod's status (readiness, startup) or decides to kill a container (liveness,
startup). Only a *change* is reported (`on_change`), so a probe that keeps failing costs no
pod sync.
"""

from __future__ import annotations

import enum
from typing import Callable


class Result(enum.Enum):
    """results.Result: what the kubelet acts on (probe outcomes are mapped onto these)."""

    UNKNOWN = "Unknown"
    SUCCESS = "Success"
    FAILURE = "Failure"


class ResultsManager:
    """container ID → latest result; `on_change(pod_uid, container_id, result)` on every change."""

    def __init__(self, on_change: Callable[[str, str, Result], None] | None = None) -> None:
        self._cache: dict[str, Result] = {}
        self.on_change = on_change

    def get(self, container_id: str) -> Result | None:
        return self._cache.get(container_id)

    def set(self, container_id: str, result: Result, pod_uid: str) -> None:
        if self._cache.get(container_id) is result:
            return
        self._cache[container_id] = result
        if self.on_change is not None:
            self.on_change(pod_uid, container_id, result)

    def remove(self, container_id: str) -> None:
        self._cache.pop(container_id, None)
