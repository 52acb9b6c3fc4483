"""The HPA controller's reconcile against the real API (tests/unit/realapi.py): conditions,
events and scale writes for the cases where no metric decides (scaling disabled, out of bounds,
no metrics API, unsupported metric types, an unknown target)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from kubeling.api import errors
from kubeling.api.resources import lookup
from kubeling.controllers.hpa.controller import HorizontalController

from .realapi import RealAPI

Obj = dict[str, Any]
DEPLOYMENTS, HPAS = lookup("apps", "v1", "deployments"), lookup("autoscaling", "v2", "horizontalpodautoscalers")
EVENTS, PODS = lookup("", "v1", "events"), lookup("", "v1", "pods")


@dataclass
class Outcome:
    """What one reconcile did through the API."""

    status: Obj  # the HPA's status as stored
    scale_writes: list[int] = field(default_factory=list)  # replicas written to deployments/web/scale
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message) stored


def deployment(replicas: int) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}}}


def hpa(min_r: int = 1, max_r: int = 5, metrics: list[Obj] | None = None, kind: str = "Deployment") -> Obj:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": "web"},
                     "minReplicas": min_r, "maxReplicas": max_r,
                     "metrics": metrics or [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}}


def reconcile(replicas: int, obj: Obj) -> Outcome:
    """Reconcile `obj` once against a Deployment of `replicas`; no metrics component is attached."""
    async def go() -> Outcome:
        api = await RealAPI().start("ns")
        await api.create(DEPLOYMENTS, deployment(replicas))
        await api.create(HPAS, obj)
        c = HorizontalController(api.client, clock=lambda: 1_800_000_000.0)
        c.hpas, c.pods = api.view(HPAS), api.view(PODS)  # type: ignore[assignment]
        try:
            await c.reconcile("ns/web")
        except errors.StatusError:
            pass
        await c.recorder.flush()
        assert api.writes("PUT")[-1][1].endswith("/horizontalpodautoscalers/web/status"), \
            "the status is always written on a change"
        out = Outcome((await api.client.get(HPAS, "ns", "web"))["status"])
        out.scale_writes = [body["spec"]["replicas"] for _, path, body in api.writes("PUT")
                            if path.endswith("/deployments/web/scale")]
        out.events = [(e["type"], e["reason"], e["message"]) for e in (await api.client.list(EVENTS, "ns"))["items"]]
        api.close()
        return out

    return asyncio.run(go())


def conditions(status: Obj) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in status["conditions"]}


def test_target_at_zero_disables_scaling():
    out = reconcile(0, hpa())
    st = out.status
    assert conditions(st)["ScalingActive"] == (
        "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
    assert out.scale_writes == [] and (st["currentReplicas"], st["desiredReplicas"]) == (0, 0)


def test_above_max_scales_to_max_without_metrics():
    out = reconcile(8, hpa(max_r=5))
    st = out.status
    assert out.scale_writes == [5]
    assert ("Normal", "SuccessfulRescale", "New size: 5; reason: Current number of replicas above Spec.MaxReplicas") \
        in out.events
    assert conditions(st)["AbleToScale"] == (
        "True", "SucceededRescale", "the HPA controller was able to update the target scale to 5")
    assert "lastScaleTime" in st


def test_below_min_scales_to_min():
    out = reconcile(1, hpa(min_r=3))
    assert out.scale_writes == [3]
    assert out.events[-1][2] == "New size: 3; reason: Current number of replicas below Spec.MinReplicas"


def test_no_metrics_api_keeps_replicas():
    out = reconcile(2, hpa())
    st = out.status
    assert out.scale_writes == []
    # metrics.k8s.io answers 503 until a metrics component is attached (upstream: metrics-server unavailable)
    cause = ("failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from "
             "resource metrics API: the server is currently unable to handle the request")
    assert ("Warning", "FailedGetResourceMetric", cause) in out.events
    assert ("Warning", "FailedComputeMetricsReplicas", "invalid metrics (1 invalid out of 1), first error is: "
            f"failed to get cpu resource metric value: {cause}") in out.events
    assert conditions(st)["ScalingActive"] == (
        "False", "FailedGetResourceMetric", f"the HPA was unable to compute the replica count: {cause}")
    assert conditions(st)["AbleToScale"][1] == "SucceededGetScale"
    assert st["currentReplicas"] == 2 and st["currentMetrics"] == [{"type": ""}]


def test_pods_and_external_metrics_without_an_adapter():
    out = reconcile(2, hpa(metrics=[
        {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "1"}}},
        {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "1"}}}]))
    st = out.status
    assert conditions(st)["ScalingActive"][:2] == ("False", "FailedGetPodsMetric")
    assert {e[1] for e in out.events} >= {"FailedGetPodsMetric", "FailedGetExternalMetric"}
    assert out.scale_writes == []


def test_unknown_target_kind_cannot_scale():
    out = reconcile(2, hpa(kind="Frobnicator"))
    st = out.status
    able = conditions(st)["AbleToScale"]
    assert able[:2] == ("False", "FailedGetScale")
    assert able[2].startswith("the HPA controller was unable to get the target's current scale: ")
