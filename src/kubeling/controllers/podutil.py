"""Shared helpers of the workload controllers: pod readiness and availability, controller refs,
expectations and the order in which a ReplicaSet picks pods to delete.

Ports of upstream `pkg/api/v1/pod/util.go` (IsPodReady, IsPodAvailable) and
`pkg/controller/controller_utils.go` (FilterActivePods, ActivePodsWithRanks, ControllerExpectations,
NewControllerRef) on plain dict objects. Pure functions, except `Expectations`, which is a small
in-memory ledger owned by one controller.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..api.timestamps import parse_rfc3339
from ..client.controller import new_controller_ref  # noqa: F401 (re-exported)
from ..client.informer import controller_of  # noqa: F401 (re-exported)

Obj = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# pods
# ---------------------------------------------------------------------------------------------


def pod_ready_condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c
    return None


def is_pod_ready(pod: Obj) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    c = pod_ready_condition(pod)
    return c is not None and c.get("status") == "True"


def is_pod_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """podutil.IsPodAvailable: ready, and ready for longer than minReadySeconds.

    With minReadySeconds 10, a pod Ready since 12:00:00 becomes available strictly after 12:00:10.
    """
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = parse_rfc3339((pod_ready_condition(pod) or {}).get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds < now


def is_pod_active(pod: Obj) -> bool:
    """controller.IsPodActive: not Succeeded/Failed and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def filter_active_pods(pods: Iterable[Obj]) -> list[Obj]:
    return [p for p in pods if is_pod_active(p)]


_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"


def _deletion_cost(pod: Obj) -> int:
    v = (pod["metadata"].get("annotations") or {}).get(DELETION_COST_ANNOTATION)
    try:
        return int(v) if v is not None else 0
    except ValueError:
        return 0


def _max_restarts(pod: Obj) -> tuple[int, int]:
    """(regular, sidecar) highest restart counts, as upstream's maxContainerRestarts."""
    st = pod.get("status") or {}
    regular = max((c.get("restartCount", 0) for c in st.get("containerStatuses") or []), default=0)
    sidecars = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []
                if c.get("restartPolicy") == "Always"}
    sidecar = max((c.get("restartCount", 0) for c in st.get("initContainerStatuses") or []
                   if c.get("name") in sidecars), default=0)
    return regular, sidecar


def _log_rank(t: float | None, now: float) -> int:
    """LogarithmicScaleDown bucket: floor(log2(age in ns)), -1 for no age."""
    if t is None:
        return -1
    d = (now - t) * 1e9
    return int(math.log2(d)) if d > 0 else -1


def deletion_order_key(pod: Obj, rank: int, now: float) -> tuple[Any, ...]:
    """Sort key of upstream ActivePodsWithRanks.Less: smaller sorts first and is deleted first.

    1. unassigned < assigned; 2. Pending < Unknown < Running; 3. not ready < ready;
    4. lower pod-deletion-cost first; 5. more ready pods of the same owner on its node first;
    6. ready more recently first (log2 buckets); 7. more restarts first; 8. newer first (log2 buckets).
    Ties are broken by UID as upstream does within a log bucket.
    """
    spec, st = pod.get("spec") or {}, pod.get("status") or {}
    ready = is_pod_ready(pod)
    ready_since = parse_rfc3339((pod_ready_condition(pod) or {}).get("lastTransitionTime")) if ready else None
    created = parse_rfc3339(pod["metadata"].get("creationTimestamp"))
    regular, sidecar = _max_restarts(pod)
    return (
        1 if spec.get("nodeName") else 0,
        _PHASE_ORDINAL.get(st.get("phase", ""), 3),
        1 if ready else 0,
        _deletion_cost(pod),
        -rank,
        # zero ready time sorts first, then younger (smaller log-age) first
        (0, 0) if not ready else ((0, 0) if ready_since is None else (1, _log_rank(ready_since, now))),
        -regular, -sidecar,
        (0, 0) if created is None else (1, _log_rank(created, now)),
        pod["metadata"].get("uid", ""),
    )


def pods_to_delete(pods: list[Obj], related: list[Obj], diff: int, now: float | None = None) -> list[Obj]:
    """getPodsToDelete: the `diff` pods a ReplicaSet scales down first.

    `related` are the pods of every ReplicaSet of the same owner: a pod sharing its node with many
    ready siblings ranks higher (is deleted sooner), which spreads the survivors over nodes.
    """
    if diff >= len(pods):
        return list(pods)
    now = time.time() if now is None else now
    on_node: dict[str, int] = {}
    for p in related:
        if is_pod_active(p) and is_pod_ready(p):
            n = (p.get("spec") or {}).get("nodeName", "")
            on_node[n] = on_node.get(n, 0) + 1
    keyed = sorted(pods, key=lambda p: deletion_order_key(p, on_node.get((p.get("spec") or {}).get("nodeName", ""), 0), now))
    return keyed[:diff]


# ---------------------------------------------------------------------------------------------
# expectations
# ---------------------------------------------------------------------------------------------

EXPECTATIONS_TIMEOUT = 5 * 60.0


@dataclass
class _Expectation:
    add: int = 0
    delete: set[str] = field(default_factory=set)
    stamp: float = 0.0


class Expectations:
    """ControllerExpectations (UID-tracking for deletions): what a controller has asked for and not
    yet seen in its informer. A key with outstanding expectations is not synced again, so a
    controller never creates the same pods twice while its cache catches up. Expectations older
    than five minutes are considered satisfied, so a lost watch event can't wedge a controller.
    """

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._items: dict[str, _Expectation] = {}
        self._clock = clock

    def satisfied(self, key: str) -> bool:
        e = self._items.get(key)
        if e is None:
            return True
        if e.add <= 0 and not e.delete:
            return True
        return self._clock() - e.stamp > EXPECTATIONS_TIMEOUT

    def expect_creations(self, key: str, n: int) -> None:
        self._items[key] = _Expectation(add=n, stamp=self._clock())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        self._items[key] = _Expectation(delete=set(pod_keys), stamp=self._clock())

    def expect(self, key: str, n: int, pod_keys: Iterable[str]) -> None:
        """Both at once: `n` creations and the deletion of `pod_keys` (a DaemonSet sync does both)."""
        self._items[key] = _Expectation(add=n, delete=set(pod_keys), stamp=self._clock())

    def creation_observed(self, key: str) -> None:
        e = self._items.get(key)
        if e is not None:
            e.add -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        e = self._items.get(key)
        if e is not None:
            e.delete.discard(pod_key)

    def delete(self, key: str) -> None:
        self._items.pop(key, None)
