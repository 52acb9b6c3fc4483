"""The HPA controller's reconcile against a fake API: conditions, events and scale writes for the
cases where no metric decides (scaling disabled, out of bounds, no metrics API, unsupported
metric types, an unknown target)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from kubeling.api import errors
from kubeling.controllers.hpa.controller import HorizontalController

Obj = dict[str, Any]


class FakeAPI:
    """Scale subresources of Deployments, no metrics API, and every write recorded."""

    def __init__(self, replicas: int) -> None:
        self.scale = {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "web", "namespace": "ns"},
                      "spec": {"replicas": replicas}, "status": {"replicas": replicas, "selector": "app=web"}}
        self.scale_writes: list[int] = []
        self.status_writes: list[Obj] = []
        self.events: list[tuple[str, str, str]] = []

    async def get(self, res: Any, ns: Any, name: str, sub: str | None = None) -> Obj:
        assert (res.plural, sub) == ("deployments", "scale")
        return copy.deepcopy(self.scale)

    async def update(self, res: Any, obj: Obj, *, sub: str | None = None, **_: Any) -> Obj:
        if sub == "scale":
            self.scale_writes.append(obj["spec"]["replicas"])
        else:
            self.status_writes.append(copy.deepcopy(obj))
        return obj

    async def update_status(self, res: Any, obj: Obj, **_: Any) -> Obj:
        return await self.update(res, obj, sub="status")

    async def list(self, res: Any, ns: Any = None, **_: Any) -> Obj:
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")

    async def create(self, res: Any, ns: Any, obj: Obj, **_: Any) -> Obj:
        self.events.append((obj["type"], obj["reason"], obj["message"]))
        return obj


class Cache:
    def __init__(self, objs: list[Obj]) -> None:
        self.objs = objs

    def get_by_key(self, key: str) -> Obj | None:
        return next((o for o in self.objs if f"{o['metadata']['namespace']}/{o['metadata']['name']}" == key), None)

    def list(self, ns: str | None = None) -> list[Obj]:
        return list(self.objs)


def hpa(min_r: int = 1, max_r: int = 5, metrics: list[Obj] | None = None, kind: str = "Deployment") -> Obj:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "u", "generation": 1},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": "web"},
                     "minReplicas": min_r, "maxReplicas": max_r,
                     "metrics": metrics or [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}}


def reconcile(api: FakeAPI, obj: Obj) -> Obj:
    async def go() -> None:
        c = HorizontalController(api, clock=lambda: 1_800_000_000.0)  # type: ignore[arg-type]
        c.hpas, c.pods = Cache([obj]), Cache([])  # type: ignore[assignment]
        try:
            await c.reconcile("ns/web")
        except errors.StatusError:
            pass
        await c.recorder.flush()

    asyncio.run(go())
    assert api.status_writes, "the status is always written on a change"
    return api.status_writes[-1]["status"]


def conditions(status: Obj) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in status["conditions"]}


def test_target_at_zero_disables_scaling():
    api = FakeAPI(0)
    st = reconcile(api, hpa())
    assert conditions(st)["ScalingActive"] == (
        "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
    assert api.scale_writes == [] and (st["currentReplicas"], st["desiredReplicas"]) == (0, 0)


def test_above_max_scales_to_max_without_metrics():
    api = FakeAPI(8)
    st = reconcile(api, hpa(max_r=5))
    assert api.scale_writes == [5]
    assert ("Normal", "SuccessfulRescale", "New size: 5; reason: Current number of replicas above Spec.MaxReplicas") \
        in api.events
    assert conditions(st)["AbleToScale"] == (
        "True", "SucceededRescale", "the HPA controller was able to update the target scale to 5")
    assert "lastScaleTime" in st


def test_below_min_scales_to_min():
    api = FakeAPI(1)
    reconcile(api, hpa(min_r=3))
    assert api.scale_writes == [3]
    assert api.events[-1][2] == "New size: 3; reason: Current number of replicas below Spec.MinReplicas"


def test_no_metrics_api_keeps_replicas():
    api = FakeAPI(2)
    st = reconcile(api, hpa())
    assert api.scale_writes == []
    cause = ("failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from "
             "resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)")
    assert ("Warning", "FailedGetResourceMetric", cause) in api.events
    assert ("Warning", "FailedComputeMetricsReplicas", "invalid metrics (1 invalid out of 1), first error is: "
            f"failed to get cpu resource metric value: {cause}") in api.events
    assert conditions(st)["ScalingActive"] == (
        "False", "FailedGetResourceMetric", f"the HPA was unable to compute the replica count: {cause}")
    assert conditions(st)["AbleToScale"][1] == "SucceededGetScale"
    assert st["currentReplicas"] == 2 and st["currentMetrics"] == [{"type": ""}]


def test_pods_and_external_metrics_without_an_adapter():
    api = FakeAPI(2)
    st = reconcile(api, hpa(metrics=[
        {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "1"}}},
        {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "1"}}}]))
    assert conditions(st)["ScalingActive"][:2] == ("False", "FailedGetPodsMetric")
    assert {e[1] for e in api.events} >= {"FailedGetPodsMetric", "FailedGetExternalMetric"}
    assert api.scale_writes == []


def test_unknown_target_kind_cannot_scale():
    api = FakeAPI(2)
    st = reconcile(api, hpa(kind="Frobnicator"))
    able = conditions(st)["AbleToScale"]
    assert able[:2] == ("False", "FailedGetScale")
    assert able[2].startswith("the HPA controller was unable to get the target's current scale: ")
