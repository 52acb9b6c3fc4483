"""The replica calculation of upstream's pkg/controller/podautoscaler/replica_calculator.go, pure.

Worked example (resource metric, target 50 % of request): 2 ready pods requesting 100m each use
80m and 90m -> utilization (170 * 100) // 200 = 85 %, usage ratio 85 / 50 = 1.7, outside the
tolerance (|1 - 1.7| > 0.1) -> ceil(1.7 * 2) = 4 replicas. A pod still Pending, or whose
readiness says it has not warmed up, does not vote for a scale-up: when the ratio is above 1 it
is counted at 0 usage; a pod without a sample counts at 0 when scaling up and at its full request
(or the target, whichever is higher) when scaling down, so missing data always damps a change.
A recomputation that would flip the direction keeps the current count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ...api import quantity
from ...api.timestamps import parse_rfc3339
from ..podutil import pod_ready_condition

Obj = dict[str, Any]

TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
CPU_INITIALIZATION_PERIOD = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY = 30.0  # --horizontal-pod-autoscaler-initial-readiness-delay


class MetricsError(Exception):
    """No replica count could be computed (the message is upstream's)."""


@dataclass(frozen=True)
class PodMetric:
    """One pod's usage (milli-units), when it was sampled and over which window (seconds)."""
    value: int
    timestamp: float = 0.0
    window: float = 0.0


@dataclass
class PodGroups:
    ready: int = 0
    unready: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    ignored: set[str] = field(default_factory=set)


def group_pods(pods: Iterable[Obj], metrics: dict[str, PodMetric], resource: str, now: float,
               cpu_init: float = CPU_INITIALIZATION_PERIOD,
               readiness_delay: float = INITIAL_READINESS_DELAY) -> PodGroups:
    """groupPods: deleted or failed pods are ignored; pending pods are unready; for CPU a pod is
    also unready when not Ready within its initialization period, or when its sample predates a
    readiness change, or when it was never Ready since starting."""
    g = PodGroups()
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        if pod["metadata"].get("deletionTimestamp") or status.get("phase") == "Failed":
            g.ignored.add(name)
            continue
        if status.get("phase") == "Pending":
            g.unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            g.missing.add(name)
            continue
        if resource == "cpu":
            cond = pod_ready_condition(pod)
            start = parse_rfc3339(status.get("startTime"))
            if cond is None or start is None:
                unready = True
            else:
                transition = parse_rfc3339(cond.get("lastTransitionTime")) or 0.0
                if start + cpu_init > now:
                    unready = cond.get("status") == "False" or metric.timestamp < transition + metric.window
                else:
                    unready = cond.get("status") == "False" and start + readiness_delay > transition
            if unready:
                g.unready.add(name)
                continue
        g.ready += 1
    return g


def pod_requests(pods: Iterable[Obj], container: str, resource: str) -> dict[str, int]:
    """calculatePodRequests: the pod's summed request (milli), or an error for a container without one."""
    out: dict[str, int] = {}
    for pod in pods:
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            if container and c.get("name") != container:
                continue
            req = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if req is None:
                raise MetricsError(f"missing request for {resource} in container {c.get('name')} "
                                   f"of Pod {pod['metadata']['name']}")
            total += quantity.to_milli(str(req))
        out[pod["metadata"]["name"]] = total
    return out


def utilization_ratio(metrics: dict[str, int], requests: dict[str, int], target: int) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (ratio to target, utilization %, average raw usage)."""
    used = requested = n = 0
    for name, value in metrics.items():
        if name not in requests:
            continue
        used += value
        requested += requests[name]
        n += 1
    if requested == 0:
        raise MetricsError("no metrics returned matched known pods")
    utilization = used * 100 // requested
    return utilization / target, utilization, used // n


def usage_ratio(metrics: dict[str, int], target: int) -> tuple[float, int]:
    """GetMetricUsageRatio: (ratio of the average to the target, the average)."""
    usage = sum(metrics.values()) // len(metrics)
    return usage / target, usage


@dataclass(frozen=True)
class Proposal:
    replicas: int
    utilization: int | None  # percent of request (Utilization targets)
    raw: int  # average usage, milli-units
    timestamp: float


def _replicas(current: int, groups: PodGroups, values: dict[str, int], ratio: float,
              ratio_of: Callable[[dict[str, int]], float], scale_down_fill: Callable[[str], int],
              tolerance: float) -> int:
    """The common second half of both calculations: with no unready or missing pods, scale the
    ready count by the ratio; otherwise fill in the damping values, recompute, and keep
    `current` when the recomputed ratio is within tolerance or flipped direction, or when the
    new count would move against it."""
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        return current if abs(1.0 - ratio) <= tolerance else math.ceil(ratio * groups.ready)
    for name in groups.missing:
        if ratio < 1.0:
            values[name] = scale_down_fill(name)
        elif ratio > 1.0:
            values[name] = 0
    if scale_up_with_unready:
        for name in groups.unready:
            values[name] = 0
    new_ratio = ratio_of(values)
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    replicas = math.ceil(new_ratio * len(values))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas


def _prepare(metrics: dict[str, PodMetric], pods: list[Obj], resource: str, now: float) -> tuple[PodGroups, dict[str, int]]:
    if not pods:
        raise MetricsError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, resource, now)
    values = {n: m.value for n, m in metrics.items() if n not in groups.ignored and n not in groups.unready}
    if not values:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    return groups, values


def resource_replicas(current: int, target_utilization: int, resource: str, metrics: dict[str, PodMetric],
                      pods: list[Obj], *, container: str = "", now: float, timestamp: float = 0.0,
                      tolerance: float = TOLERANCE) -> Proposal:
    """GetResourceReplicas: a Utilization target (percent of the pods' requests)."""
    groups, values = _prepare(metrics, pods, resource, now)
    requests = pod_requests(pods, container, resource)
    ratio, utilization, raw = utilization_ratio(values, requests, target_utilization)
    fallback = max(target_utilization, 100)
    replicas = _replicas(current, groups, values, ratio,
                         lambda v: utilization_ratio(v, requests, target_utilization)[0],
                         lambda name: requests[name] * fallback // 100, tolerance)
    return Proposal(replicas, utilization, raw, timestamp)


def plain_replicas(current: int, target_usage: int, resource: str, metrics: dict[str, PodMetric],
                   pods: list[Obj], *, now: float, timestamp: float = 0.0,
                   tolerance: float = TOLERANCE) -> Proposal:
    """GetRawResourceReplicas / calcPlainMetricReplicas: an AverageValue target (milli-units per pod)."""
    groups, values = _prepare(metrics, pods, resource, now)
    ratio, usage = usage_ratio(values, target_usage)
    replicas = _replicas(current, groups, values, ratio, lambda v: usage_ratio(v, target_usage)[0],
                         lambda name: target_usage, tolerance)
    return Proposal(replicas, None, usage, timestamp)
