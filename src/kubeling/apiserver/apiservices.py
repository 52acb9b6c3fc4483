"""APIService registrations (kube-aggregator's autoregister): one `apiregistration.k8s.io/v1`
APIService per served group version, named `<version>.<group>` (`v1.` for core), as upstream
lists them in `kubectl get apiservices`. All are Local: metrics.k8s.io too, because its
server (metrics/server.py) runs inside this process instead of behind a Service."""

from __future__ import annotations

from typing import Any

from ..api import errors, resources
from .registry import Registry, WriteOptions

APISERVICES = resources.lookup("apiregistration.k8s.io", "v1", "apiservices")
assert APISERVICES is not None

# upstream's groupPriorityMinimum / versionPriority for the built-in groups that differ from the default
_PRIORITY = {"": 18000, "apiregistration.k8s.io": 17800, "apps": 17800, "events.k8s.io": 17750,
             "authentication.k8s.io": 17700, "authorization.k8s.io": 17600, "autoscaling": 17500, "batch": 17400,
             "networking.k8s.io": 17200, "policy": 17100, "rbac.authorization.k8s.io": 17000,
             "storage.k8s.io": 16800, "scheduling.k8s.io": 16600, "coordination.k8s.io": 16500,
             "discovery.k8s.io": 16200, "metrics.k8s.io": 100}


def apiservice(group: str, version: str, version_priority: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"version": version, "groupPriorityMinimum": _PRIORITY.get(group, 1000),
                            "versionPriority": version_priority}
    if group:
        spec["group"] = group
    labels = {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": f"{version}.{group}", "labels": labels}, "spec": spec}


AVAILABLE = {"type": "Available", "status": "True", "reason": "Local",
             "message": "Local APIServices are always available"}


async def register(registry: Registry, now: str) -> None:
    """Create the missing registrations and mark them Available."""
    opts = WriteOptions(field_manager="kube-apiserver")
    for group, versions in resources.group_versions().items():
        for i, version in enumerate(versions):
            obj = apiservice(group, version, 100 if i == 0 else 9)
            name = obj["metadata"]["name"]
            try:
                cur = registry.get(APISERVICES, None, name).obj()
            except errors.StatusError:
                cur = (await registry.create(APISERVICES, None, obj, opts)).obj()
            if (cur.get("status") or {}).get("conditions"):
                continue
            cur["status"] = {"conditions": [{**AVAILABLE, "lastTransitionTime": now}]}
            await registry.update(APISERVICES, None, name, cur,
                                  WriteOptions(field_manager="kube-apiserver", subresource="status"))
