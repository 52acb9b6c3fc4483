"""Per-kind write rules that upstream keeps in each registry's `strategy.go`.

Which kinds track `metadata.generation`, what status looks like right after create, which kinds
return the deleted object from DELETE, and how a pod is graceful-deleted. The registry calls these
hooks; everything else about a write is generic.
"""

from __future__ import annotations

from typing import Any

from ..api.resources import Resource

# Kinds whose strategy sets generation=1 on create and bumps it when the spec changes.
GENERATION_KINDS = frozenset({
    ("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
    ("", "ReplicationController"), ("batch", "Job"), ("batch", "CronJob"),
    ("policy", "PodDisruptionBudget"), ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"), ("autoscaling", "HorizontalPodAutoscaler"),
})

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
    ("", "Namespace"): {"phase": "Active"},
    ("", "PersistentVolumeClaim"): {"phase": "Pending"},
    ("", "PersistentVolume"): {"phase": "Pending"},
    ("autoscaling", "HorizontalPodAutoscaler"): {"currentReplicas": 0, "desiredReplicas": 0},
    ("policy", "PodDisruptionBudget"): {"disruptionsAllowed": 0, "currentHealthy": 0,
                                        "desiredHealthy": 0, "expectedPods": 0},
    ("networking.k8s.io", "Ingress"): {"loadBalancer": {}},
}


def tracks_generation(res: Resource) -> bool:
    return (res.group, res.kind) in GENERATION_KINDS


def returns_deleted_object(res: Resource) -> bool:
    return (res.group, res.kind) in RETURN_DELETED_KINDS


def prepare_for_create(res: Resource, obj: dict[str, Any]) -> None:
    """Reset what a client may not set on create (status, for kinds with a status subresource)."""
    key = (res.group, res.kind)
    if key == ("", "Pod"):
        obj["status"] = {"phase": "Pending"}
        from ..api.defaults import pod_qos_class

        obj["status"]["qosClass"] = pod_qos_class(obj)
    elif key in _INITIAL_STATUS:
        import copy

        obj["status"] = copy.deepcopy(_INITIAL_STATUS[key])
    if key == ("", "Namespace"):
        # upstream namespaceStrategy.PrepareForCreate: the namespace controller's finalizer
        fins = obj.setdefault("spec", {}).setdefault("finalizers", [])
        if "kubernetes" not in fins:
            fins.append("kubernetes")
    elif key == ("", "Node"):
        pass  # nodes may be created with status (the kubelet registers that way)
    if tracks_generation(res):
        obj["metadata"]["generation"] = 1


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
