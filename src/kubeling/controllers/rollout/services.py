"""The Services a Rollout steers: each one's selector gets `rollouts-pod-template-hash: <hash>`
of the version it should reach (Argo's way), and the stable Service of a canary carries the
weight for kube-proxy:

    rollouts.kubeling.io/canary-service: <canaryService name>
    rollouts.kubeling.io/canary-weight: "<0..100>"

(both removed when the rollout is fully promoted or aborted). Writes are merge patches, so
what else users put on their Services is left alone."""

from __future__ import annotations

from typing import Any, Optional

from ...api import errors
from . import steps
from .context import SERVICES, Sync

Obj = dict[str, Any]


async def point(s: Sync, name: Optional[str], pod_hash: Optional[str],
                weight: Optional[tuple[str, int]] = None) -> bool:
    """Make Service `name` select the pods of `pod_hash` and carry `weight` ((canary Service,
    percent); None removes it). False when the Service does not exist (`s.problem` says so)."""
    if not name or not pod_hash:
        return True
    ns = s.ro["metadata"].get("namespace")
    svc = s.rc.svc_informer.get(ns, name)
    if svc is None:
        s.problem = f'ServiceNotFound: service "{name}" not found'
        s.after(5.0)
        return False
    selector = (svc.get("spec") or {}).get("selector") or {}
    ann = svc["metadata"].get("annotations") or {}
    patch: Obj = {}
    old_hash = selector.get(steps.POD_TEMPLATE_HASH)
    if old_hash != pod_hash:
        patch["spec"] = {"selector": {steps.POD_TEMPLATE_HASH: pod_hash}}
    want = {steps.CANARY_SERVICE: weight[0], steps.CANARY_WEIGHT: str(weight[1])} if weight else {
        steps.CANARY_SERVICE: None, steps.CANARY_WEIGHT: None}
    changed_ann = {k: v for k, v in want.items() if ann.get(k) != v}
    if changed_ann:
        patch["metadata"] = {"annotations": changed_ann}
    if not patch:
        return True
    try:
        await s.rc.client.patch(SERVICES, ns, name, patch, patch_type="merge")
    except errors.StatusError as e:
        if e.code != 404:
            raise
        s.problem = f'ServiceNotFound: service "{name}" not found'
        return False
    if "spec" in patch:
        s.event("SwitchService", f"Switched selector for service '{name}' from '{old_hash or ''}' to '{pod_hash}'")
    if changed_ann and weight:
        before = ann.get(steps.CANARY_WEIGHT) or "0"
        if before != str(weight[1]):
            s.event("TrafficWeightUpdated", f"Traffic weight updated from {before} to {weight[1]}")
    elif changed_ann and ann.get(steps.CANARY_WEIGHT) is not None:
        s.event("TrafficWeightUpdated", f"Traffic weight updated from {ann.get(steps.CANARY_WEIGHT)} to 0")
    return True
