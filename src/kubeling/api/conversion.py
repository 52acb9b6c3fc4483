"""Conversion between API versions that share one storage: HorizontalPodAutoscaler
autoscaling/v1 ⇄ v2 and Event core/v1 ⇄ events.k8s.io/v1.

Objects are stored in their kind's storage version (autoscaling/v2, core/v1: the strategy
record's `storage_version`); writes in the other version are converted to it and reads convert
to the version asked for (pkg/apis/autoscaling/v1/conversion.go, pkg/apis/events/v1/conversion.go). v1 HPAs
keep what they cannot express in the `autoscaling.alpha.kubernetes.io/*` annotations, as
upstream does, so a round trip through v1 loses nothing.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import orjson

HPA_V1, HPA_V2 = "autoscaling/v1", "autoscaling/v2"
EVENT_CORE, EVENT_NEW = "v1", "events.k8s.io/v1"

ANN_METRICS = "autoscaling.alpha.kubernetes.io/metrics"
_ANN_CURRENT = "autoscaling.alpha.kubernetes.io/current-metrics"
_ANN_CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
_ANN_BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"


DEFAULT_CPU_UTILIZATION = 80  # autoscaling.DefaultCPUUtilization


def default_cpu_metric() -> dict[str, Any]:
    """The metric an HPA without any gets: CPU at 80 % utilization."""
    return {"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}


def _is_cpu_utilization(m: dict[str, Any]) -> bool:
    r = m.get("resource") or {}
    return (m.get("type") == "Resource" and r.get("name") == "cpu"
            and (r.get("target") or {}).get("type") == "Utilization")


def hpa_v2_to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["apiVersion"] = HPA_V1
    spec = out.get("spec") or {}
    status = out.get("status") or {}
    ann = dict(out.get("metadata", {}).get("annotations") or {})
    metrics = spec.pop("metrics", None) or []
    others = []
    for m in metrics:
        if _is_cpu_utilization(m) and "targetCPUUtilizationPercentage" not in spec:
            spec["targetCPUUtilizationPercentage"] = m["resource"]["target"].get("averageUtilization")
        else:
            others.append(m)
    if others:
        ann[ANN_METRICS] = orjson.dumps(others).decode()
    behavior = spec.pop("behavior", None)
    if behavior:
        ann[_ANN_BEHAVIOR] = orjson.dumps(behavior).decode()
    if status:
        current = status.pop("currentMetrics", None) or []
        rest = []
        for m in current:
            r = m.get("resource") or {}
            if m.get("type") == "Resource" and r.get("name") == "cpu" and "averageUtilization" in (r.get("current") or {}):
                status["currentCPUUtilizationPercentage"] = r["current"]["averageUtilization"]
            else:
                rest.append(m)
        if rest:
            ann[_ANN_CURRENT] = orjson.dumps(rest).decode()
        conds = status.pop("conditions", None)
        if conds:
            ann[_ANN_CONDITIONS] = orjson.dumps(conds).decode()
    if ann:
        out.setdefault("metadata", {})["annotations"] = ann
    return out


def hpa_v1_to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["apiVersion"] = HPA_V2
    spec = out.setdefault("spec", {})
    meta = out.setdefault("metadata", {})
    ann = dict(meta.get("annotations") or {})
    metrics: list[dict[str, Any]] = []
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": target}}})
    if ANN_METRICS in ann:
        metrics += orjson.loads(ann.pop(ANN_METRICS))
    # upstream defaults the CPU target here (Convert_v1_HorizontalPodAutoscaler_To_autoscaling_...):
    # only conversion sees both targetCPUUtilizationPercentage and the other metrics' annotation
    spec["metrics"] = metrics or [default_cpu_metric()]
    if _ANN_BEHAVIOR in ann:
        spec["behavior"] = orjson.loads(ann.pop(_ANN_BEHAVIOR))
    status = out.get("status")
    if status is not None:
        current: list[dict[str, Any]] = []
        cpu = status.pop("currentCPUUtilizationPercentage", None)
        if cpu is not None:
            current.append({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}})
        if _ANN_CURRENT in ann:
            current += orjson.loads(ann.pop(_ANN_CURRENT))
        if current:
            status["currentMetrics"] = current
        if _ANN_CONDITIONS in ann:
            status["conditions"] = orjson.loads(ann.pop(_ANN_CONDITIONS))
    for k in (ANN_METRICS, _ANN_CURRENT, _ANN_CONDITIONS, _ANN_BEHAVIOR):
        ann.pop(k, None)
    if ann:
        meta["annotations"] = ann
    else:
        meta.pop("annotations", None)
    return out


# core/v1 field ⇄ events.k8s.io/v1 field
_EVENT_FIELDS = (
    ("involvedObject", "regarding"), ("message", "note"), ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"), ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"), ("reportingComponent", "reportingController"),
)


def event_core_to_new(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["apiVersion"] = EVENT_NEW
    for old, new in _EVENT_FIELDS:
        if old in out:
            out[new] = out.pop(old)
    return out


def event_new_to_core(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["apiVersion"] = EVENT_CORE
    for old, new in _EVENT_FIELDS:
        if new in out:
            out[old] = out.pop(new)
    return out


_CONVERTERS: dict[tuple[str, str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("HorizontalPodAutoscaler", HPA_V2, HPA_V1): hpa_v2_to_v1,
    ("HorizontalPodAutoscaler", HPA_V1, HPA_V2): hpa_v1_to_v2,
    ("Event", EVENT_CORE, EVENT_NEW): event_core_to_new,
    ("Event", EVENT_NEW, EVENT_CORE): event_new_to_core,
}

CONVERTIBLE_KINDS = frozenset(k for k, _, _ in _CONVERTERS)


def convert(obj: dict[str, Any], api_version: str) -> dict[str, Any]:
    """`obj` in `api_version` (the same object when it already is)."""
    have = obj.get("apiVersion")
    if have == api_version or not have:
        return obj
    fn = _CONVERTERS.get((obj.get("kind", ""), have, api_version))
    return fn(obj) if fn else obj
