"""Per-kind write rules that upstream keeps in each registry's `strategy.go`.

Which kinds track `metadata.generation`, what status looks like right after create, which kinds
return the deleted object from DELETE, and how a pod is graceful-deleted. The registry calls these
hooks; everything else about a write is generic.
"""

from __future__ import annotations

import copy
from typing import Any

from ..api.resources import Resource

# Registries with ReturnDeletedObject: true answer DELETE with the object, others with a Status.
RETURN_DELETED_KINDS = frozenset({
    ("", "Pod"), ("", "Service"), ("", "ServiceAccount"), ("", "PersistentVolume"),
    ("", "PersistentVolumeClaim"), ("", "Namespace"),
})

# Status written on create (the strategy's PrepareForCreate drops what the client sent).
_INITIAL_STATUS: dict[tuple[str, str], Any] = {
    ("apps", "Deployment"): {},
    ("apps", "ReplicaSet"): {"replicas": 0},
    ("apps", "StatefulSet"): {"replicas": 0, "availableReplicas": 0},
    ("apps", "DaemonSet"): {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                            "desiredNumberScheduled": 0, "numberReady": 0},
    ("", "ReplicationController"): {"replicas": 0},
    ("batch", "Job"): {},
    ("batch", "CronJob"): {},
    ("", "Service"): {"loadBalancer": {}},
    ("", "PersistentVolumeClaim"): {"phase": "Pending"},
    ("", "PersistentVolume"): {"phase": "Pending"},
    ("autoscaling", "HorizontalPodAutoscaler"): {"currentReplicas": 0, "desiredReplicas": 0},
    ("policy", "PodDisruptionBudget"): {"disruptionsAllowed": 0, "currentHealthy": 0,
                                        "desiredHealthy": 0, "expectedPods": 0},
    ("networking.k8s.io", "Ingress"): {"loadBalancer": {}},
}


def tracks_generation(res: Resource) -> bool:
    from ..api.defaults import GENERATION_KINDS

    return (res.group, res.kind) in GENERATION_KINDS


def status_pinned_metadata(res: Resource) -> tuple[str, ...]:
    """Metadata a status write may not change (the rest of the write's metadata is kept).

    Pods: ownerReferences and deletion fields (podStatusStrategy); workload kinds: labels
    (their status strategies reset them); every kind: finalizers and deletion state.
    """
    pinned = ("deletionTimestamp", "deletionGracePeriodSeconds", "finalizers")
    if (res.group, res.kind) == ("", "Pod"):
        return pinned + ("ownerReferences",)
    if res.group in ("apps", "batch") or (res.group, res.kind) == ("", "ReplicationController"):
        return pinned + ("labels",)
    return pinned


def returns_deleted_object(res: Resource) -> bool:
    return (res.group, res.kind) in RETURN_DELETED_KINDS


def prepare_for_create(res: Resource, obj: dict[str, Any]) -> None:
    """Reset what a client may not set on create: the kind's own steps (api.defaults), then
    the initial status of kinds with a status subresource."""
    from ..api import defaults

    defaults.prepare_for_create(res.group, res.version, res.kind, obj)
    initial = _INITIAL_STATUS.get((res.group, res.kind))
    if initial is not None:
        obj["status"] = copy.deepcopy(initial)


def spec_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """What counts as a spec change for generation: everything but metadata and status."""
    for k in set(old) | set(new):
        if k in ("metadata", "status", "apiVersion", "kind"):
            continue
        if old.get(k) != new.get(k):
            return True
    return False


def pod_grace_period(pod: dict[str, Any], requested: int | None) -> int:
    """Upstream pod strategy CheckGracefulDelete: unscheduled or terminal pods go at once."""
    spec = pod.get("spec", {})
    if requested is None:
        requested = spec.get("terminationGracePeriodSeconds", 30)
    if not spec.get("nodeName"):
        return 0
    if pod.get("status", {}).get("phase") in ("Failed", "Succeeded"):
        return 0
    return max(int(requested), 0)
