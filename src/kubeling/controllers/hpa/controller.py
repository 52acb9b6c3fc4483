"""HorizontalPodAutoscaler controller (upstream pkg/controller/podautoscaler/horizontal.go).

Every sync period each HPA is reconciled: read the target's `scale` subresource, compute a
proposal per metric (replicas.py over the resource metrics API), take the highest, normalize it
(normalize.py: stabilization windows, min/max, rate policies), write `scale` when it changed,
and record conditions (AbleToScale, ScalingActive, ScalingLimited), current metrics and events
(SuccessfulRescale, FailedGetResourceMetric, ...) as upstream. Without metrics the HPA keeps
the current replica count (never 0).
"""

from __future__ import annotations

import copy
import time
from typing import Any, Callable

from ...api import errors, quantity
from ...api.resources import by_kind, lookup
from ...api.selectors import parse_label_selector
from ...api.timestamps import rfc3339
from ...client.controller import Controller
from ...client.events import EventRecorder
from ...client.informer import object_key, shared_informer
from ...client.rest import Client
from . import metrics as metrics_api
from .normalize import DOWNSCALE_STABILIZATION, Normalizer
from .replicas import TOLERANCE, MetricsError, plain_replicas, resource_replicas

Obj = dict[str, Any]

HPAS = lookup("autoscaling", "v2", "horizontalpodautoscalers")
PODS = lookup("", "v1", "pods")
assert HPAS is not None and PODS is not None

SYNC_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period

# metric source type -> (spec key, condition reason when it cannot be read, error noun)
_FAILED = {"Pods": "FailedGetPodsMetric", "Object": "FailedGetObjectMetric", "External": "FailedGetExternalMetric",
           "Resource": "FailedGetResourceMetric", "ContainerResource": "FailedGetContainerResourceMetric"}


class Conditions:
    """setCondition: update a condition in place (transition time only on a status change)."""

    def __init__(self, hpa: Obj, now: float) -> None:
        self.status = hpa.setdefault("status", {})
        self.now = now

    def set(self, ctype: str, status: str, reason: str, message: str) -> None:
        conds = self.status.setdefault("conditions", [])
        for c in conds:
            if c.get("type") == ctype:
                if c.get("status") != status:
                    c["lastTransitionTime"] = rfc3339(self.now)
                c.update(status=status, reason=reason, message=message)
                return
        conds.append({"type": ctype, "status": status, "lastTransitionTime": rfc3339(self.now),
                      "reason": reason, "message": message})


class _MetricFailure(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class HorizontalController(Controller):
    def __init__(self, client: Client, *, sync_period: float = SYNC_PERIOD,
                 downscale_stabilization: float = DOWNSCALE_STABILIZATION, tolerance: float = TOLERANCE,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__("horizontal-pod-autoscaler")
        self.client = client
        self.clock = clock
        self.tolerance = tolerance
        self.recorder = EventRecorder(client, "horizontal-pod-autoscaler")
        self.normalizer = Normalizer(downscale_stabilization)
        self.hpas = self.watch(shared_informer(client, HPAS), on_add=self._enqueue,
                               on_update=self._on_update, on_delete=self._on_delete)
        self.pods = self.watch(shared_informer(client, PODS))
        self.queue = self.add_queue("horizontal-pod-autoscaler", self.reconcile, workers=2)
        self.every(sync_period, self._resync, "resync")

    def _enqueue(self, hpa: Obj) -> None:
        self.queue.add(object_key(hpa))

    def _on_update(self, old: Obj, new: Obj) -> None:
        if old["metadata"].get("generation") != new["metadata"].get("generation"):
            self._enqueue(new)  # a status write of our own waits for the next sync period

    def _on_delete(self, hpa: Obj) -> None:
        self.normalizer.forget(object_key(hpa))

    async def _resync(self) -> None:
        for hpa in self.hpas.list():
            self._enqueue(hpa)

    # ---- reconcile ----------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        cached = self.hpas.get_by_key(key)
        if cached is None:
            self.normalizer.forget(key)
            return
        hpa = copy.deepcopy(cached)
        hpa.setdefault("apiVersion", HPAS.api_version)
        hpa.setdefault("kind", HPAS.kind)
        original = copy.deepcopy(hpa.get("status") or {})
        try:
            await self._reconcile(key, hpa)
        finally:
            if (hpa.get("status") or {}) != original:
                await self._write_status(hpa)

    async def _reconcile(self, key: str, hpa: Obj) -> None:
        now = self.clock()
        conds = Conditions(hpa, now)
        spec = hpa["spec"]
        ns = hpa["metadata"]["namespace"]
        ref = spec.get("scaleTargetRef") or {}
        group, _, version = (ref.get("apiVersion") or "").rpartition("/")
        target = by_kind(group, version, ref.get("kind", ""))
        reference = f"{ref.get('kind')}/{ref.get('name')}"
        try:
            if target is None or target.subresource("scale") is None:
                raise errors.StatusError(404, "NotFound", f'no matches for kind "{ref.get("kind")}" in group "{group}"')
            scale = await self.client.get(target, ns, ref.get("name", ""), sub="scale")
        except errors.StatusError as e:
            conds.set("AbleToScale", "False", "FailedGetScale",
                      f"the HPA controller was unable to get the target's current scale: {e.message}")
            self.recorder.event(hpa, "Warning", "FailedGetScale", e.message)
            self._set_status(hpa, (hpa.get("status") or {}).get("currentReplicas", 0),
                             (hpa.get("status") or {}).get("desiredReplicas", 0), None, False, now)
            raise
        conds.set("AbleToScale", "True", "SucceededGetScale",
                  "the HPA controller was able to get the target's current scale")
        current = (scale.get("spec") or {}).get("replicas", 0)
        self.normalizer.initial(key, current, now)
        min_r, max_r = spec.get("minReplicas", 1), spec["maxReplicas"]
        statuses: list[Obj] | None = None
        rescale_reason = ""
        if current == 0 and min_r != 0:
            desired = 0
            conds.set("ScalingActive", "False", "ScalingDisabled",
                      "scaling is disabled since the replica count of the target is zero")
        elif current > max_r:
            rescale_reason, desired = "Current number of replicas above Spec.MaxReplicas", max_r
        elif current < min_r:
            rescale_reason, desired = "Current number of replicas below Spec.MinReplicas", min_r
        else:
            proposal, metric, statuses, err = await self._compute(hpa, scale, conds, now)
            if proposal == -1:
                self._set_status(hpa, current, (hpa.get("status") or {}).get("desiredReplicas", 0), statuses, False, now)
                self.recorder.event(hpa, "Warning", "FailedComputeMetricsReplicas", err)
                self.log.info("failed to compute desired number of replicas based on listed metrics for %s: %s",
                              reference, err)
                return
            desired = proposal
            if desired > current:
                rescale_reason = f"{metric} above target"
            elif desired < current:
                rescale_reason = "All metrics below target"
            decision = self.normalizer.normalize(key, spec, current, desired, now)
            conds.set("AbleToScale", "True", decision.able_reason, decision.able_message)
            conds.set("ScalingLimited", "True" if decision.limited else "False", decision.limited_reason,
                      decision.limited_message)
            desired = decision.replicas
        rescale = desired != current
        if rescale:
            scale.setdefault("spec", {})["replicas"] = desired
            try:
                await self.client.update(target, scale, sub="scale")  # type: ignore[arg-type]
            except errors.StatusError as e:
                self.recorder.event(hpa, "Warning", "FailedRescale",
                                    f"New size: {desired}; reason: {rescale_reason}; error: {e.message}")
                conds.set("AbleToScale", "False", "FailedUpdateScale",
                          f"the HPA controller was unable to update the target scale: {e.message}")
                self._set_status(hpa, current, (hpa.get("status") or {}).get("desiredReplicas", 0), statuses, False, now)
                raise
            conds.set("AbleToScale", "True", "SucceededRescale",
                      f"the HPA controller was able to update the target scale to {desired}")
            self.recorder.event(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {rescale_reason}")
            self.normalizer.scaled(key, spec.get("behavior"), current, desired, now)
            self.log.info("successful rescale of %s/%s, old size: %d, new size: %d, reason: %s",
                          ns, hpa["metadata"]["name"], current, desired, rescale_reason)
        else:
            desired = current
        self._set_status(hpa, current, desired, statuses, rescale, now)

    def _set_status(self, hpa: Obj, current: int, desired: int, statuses: list[Obj] | None, rescale: bool,
                    now: float) -> None:
        """setStatus: replicas, the current metrics of this pass (a metric that failed is an empty
        entry, `type: ""`, as upstream), the last scale time."""
        status = hpa.setdefault("status", {})
        status["currentReplicas"] = current
        status["desiredReplicas"] = desired
        if statuses:
            status["currentMetrics"] = [s or {"type": ""} for s in statuses]
        else:
            status.pop("currentMetrics", None)
        if rescale:
            status["lastScaleTime"] = rfc3339(now)

    async def _write_status(self, hpa: Obj) -> None:
        try:
            await self.client.update_status(HPAS, hpa)
        except errors.StatusError as e:
            if e.code not in (404, 409):
                raise

    # ---- metrics ------------------------------------------------------------------------------
    async def _compute(self, hpa: Obj, scale: Obj, conds: Conditions, now: float
                       ) -> tuple[int, str, list[Obj], str]:
        """computeReplicasForMetrics: (replicas or -1, metric name, statuses, error message)."""
        specs = hpa["spec"].get("metrics") or []
        current = (scale.get("spec") or {}).get("replicas", 0)
        selector = (scale.get("status") or {}).get("selector") or ""
        if not selector:
            self.recorder.event(hpa, "Warning", "SelectorRequired", "selector is required")
            conds.set("ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector")
            return -1, "", [], "selector is required"
        try:
            sel = parse_label_selector(selector)
        except errors.StatusError as e:
            self.recorder.event(hpa, "Warning", "InvalidSelector", f"couldn't convert selector into a corresponding "
                                f"internal selector object: {e.message}")
            conds.set("ScalingActive", "False", "InvalidSelector", f"the HPA target's scale has an invalid selector: "
                      f"{e.message}")
            return -1, "", [], e.message
        ns = hpa["metadata"]["namespace"]
        pods = [p for p in self.pods.list(ns) if sel.matches(p["metadata"].get("labels") or {})]
        statuses: list[Obj] = [{} for _ in specs]
        replicas, metric, first, invalid = 0, "", None, 0
        for i, spec in enumerate(specs):
            try:
                proposal, name, statuses[i] = await self._one(spec, current, ns, selector, pods, now)
            except _MetricFailure as f:
                self.recorder.event(hpa, "Warning", f.reason, str(f.__cause__ or f))
                if first is None:
                    first = (f.reason, f"the HPA was unable to compute the replica count: {f.__cause__ or f}", str(f))
                invalid += 1
                continue
            if replicas == 0 or proposal > replicas:
                replicas, metric = proposal, name
        err = ""
        if first is not None:
            err = f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: {first[2]}"
        if first is not None and (invalid >= len(specs) or replicas < current):
            conds.set("ScalingActive", "False", first[0], first[1])
            return -1, "", statuses, err
        conds.set("ScalingActive", "True", "ValidMetricFound",
                  f"the HPA was able to successfully calculate a replica count from {metric}")
        return replicas, metric, statuses, err

    async def _one(self, spec: Obj, current: int, ns: str, selector: str, pods: list[Obj], now: float
                   ) -> tuple[int, str, Obj]:
        """computeReplicasForMetric for one metric spec: (replicas, metric name, MetricStatus)."""
        mtype = spec.get("type", "")
        if mtype not in ("Resource", "ContainerResource"):
            if mtype not in _FAILED:
                msg = f'unknown metric source type "{mtype}"'
                raise _MetricFailure("InvalidMetricSourceType", msg) from MetricsError(msg)
            name = ((spec.get(mtype[0].lower() + mtype[1:]) or {}).get("metric") or {}).get("name", "")
            api = "external metrics API (external.metrics.k8s.io)" if mtype == "External" \
                else "custom metrics API (custom.metrics.k8s.io)"
            cause = MetricsError(f"unable to get metric {name}: unable to fetch metrics from {api}: "
                                 f"the server could not find the requested resource")
            noun = f"{name} external metric" if mtype == "External" else f"{mtype.lower()} metric"
            raise _MetricFailure(_FAILED[mtype], f"failed to get {noun} value: {cause}") from cause
        key = "resource" if mtype == "Resource" else "containerResource"
        src = spec.get(key) or {}
        resource, container = src.get("name", ""), src.get("container", "") if mtype == "ContainerResource" else ""
        target = src.get("target") or {}
        average = target.get("averageValue")
        try:
            try:
                metrics, ts = await metrics_api.resource_metric(self.client, ns, selector, resource, container)
            except MetricsError as e:
                raise MetricsError(f"unable to get metrics for resource {resource}: {e}") from None
            if average is not None:
                p = plain_replicas(current, quantity.to_milli(str(average)), resource, metrics, pods, now=now,
                                   timestamp=ts, tolerance=self.tolerance)
                name = f"{resource} resource"
            elif target.get("averageUtilization") is not None:
                p = resource_replicas(current, target["averageUtilization"], resource, metrics, pods,
                                      container=container, now=now, timestamp=ts, tolerance=self.tolerance)
                kind = "container resource" if container else "resource"
                name = f"{resource} {kind} utilization (percentage of request)"
            else:
                raise MetricsError("invalid resource metric source: neither an average utilization target nor an "
                                   "average value (usage) target was set")
        except MetricsError as e:
            cause = MetricsError(f"failed to get {resource} {'usage' if average is not None else 'utilization'}: {e}")
            source = f"{container} container" if container else f"{resource} resource"
            raise _MetricFailure(_FAILED[mtype], f"failed to get {source} metric value: {cause}") from cause
        value: Obj = {"averageValue": str(quantity.new_milli_quantity(p.raw))}
        if p.utilization is not None:
            value = {"averageUtilization": p.utilization, **value}
        status: Obj = {"name": resource, "current": value}
        if container:
            status["container"] = container
        return p.replicas, name, {"type": mtype, key: status}


