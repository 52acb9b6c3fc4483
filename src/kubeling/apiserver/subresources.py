"""Subresources that are not the object itself: pods/binding, pods/eviction, <workload>/scale.

Upstream keeps each in its kind's registry (`registry/core/pod/storage/storage.go` BindingREST,
`eviction.go`, the `ScaleREST`s). They know nothing of HTTP: the handlers decode the request
body and encode what these return, and every write goes through the registry (admission,
conflict retries and the Status errors of storage failures).
"""

from __future__ import annotations

from typing import Any, Callable

from ..api import customresource, errors, selectors
from ..api.resources import Resource, lookup
from ..store.base import Entry
from .registry import DeleteOptions, Registry, WriteOptions, stale

PODS = lookup("", "v1", "pods")
BINDINGS = lookup("", "v1", "bindings")
PDBS = lookup("policy", "v1", "poddisruptionbudgets")
assert PODS is not None and BINDINGS is not None and PDBS is not None

SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


# ---- pods/binding ------------------------------------------------------------------------------
async def bind(registry: Registry, namespace: str | None, binding: Any, opts: WriteOptions,
               pod_name: str | None = None) -> None:
    """BindingREST.Create: admit the Binding, then set spec.nodeName once and mark the pod
    scheduled (assignPod). A pod already bound or being deleted is a 409 on `pods/binding`."""
    if not isinstance(binding, dict):
        raise errors.bad_request("the body of the request was in an unknown format")
    name = pod_name or (binding.get("metadata") or {}).get("name")
    node = (binding.get("target") or {}).get("name")
    if not name or not node:
        raise errors.invalid("Binding", name or "", "", [errors.field_cause(
            "FieldValueRequired", "target.name", "target.name: Required value")])
    registry.admission.admit_create(registry, BINDINGS, binding, opts.dry_run)
    annotations = (binding.get("metadata") or {}).get("annotations") or {}

    def assign(pod: dict[str, Any], cur: Entry) -> dict[str, Any]:
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.conflict("pods/binding", name, "", f"pod {name} is being deleted, cannot be assigned to a host")
        if pod.get("spec", {}).get("nodeName"):
            raise errors.conflict("pods/binding", name, "",
                                  f"pod {name} is already assigned to node \"{pod['spec']['nodeName']}\"")
        pod["spec"]["nodeName"] = node
        if annotations:
            pod["metadata"]["annotations"] = {**(pod["metadata"].get("annotations") or {}), **annotations}
        conds = [c for c in pod.setdefault("status", {}).get("conditions", []) if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": registry.now()})
        pod["status"]["conditions"] = conds
        return pod

    opts.subresource = ""
    await registry.storage_update(PODS, namespace, name, assign, opts)


# ---- pods/eviction -----------------------------------------------------------------------------
async def evict(registry: Registry, res: Resource, namespace: str | None, name: str, body: Any) -> None:
    """pods/eviction (upstream registry/core/pod/storage/eviction.go): delete unless a PDB forbids.

    Pending, terminal or terminating pods skip the budget; otherwise the one matching
    PodDisruptionBudget must allow a disruption, which is taken (disruptionsAllowed - 1,
    the pod noted in disruptedPods) before the delete. A refusal is 429 TooManyRequests.
    """
    if isinstance(body, dict) and (body.get("metadata") or {}).get("name") not in (None, name):
        raise errors.bad_request("name in URL does not match name in Eviction object")
    opts = DeleteOptions.from_body((body or {}).get("deleteOptions") if isinstance(body, dict) else None)
    pod = registry.get(res, namespace, name).obj()
    if res.kind == "Pod" and not _eviction_ignores_pdb(pod):
        await _take_disruption(registry, pod, opts.dry_run)
    await registry.delete(res, namespace, name, opts)


async def _take_disruption(registry: Registry, pod: dict[str, Any], dry_run: bool) -> None:
    ns, labels = pod["metadata"].get("namespace"), pod["metadata"].get("labels") or {}
    matching = []
    for e in registry.list(PDBS, ns)[0]:
        try:
            if selectors.from_label_selector_object((e.obj().get("spec") or {}).get("selector")).matches(labels):
                matching.append(e.obj())
        except errors.StatusError:
            continue
    if len(matching) > 1:
        raise errors.StatusError(500, "", "This pod has more than one PodDisruptionBudget, which the eviction "
                                          "subresource does not support.")
    if not matching:
        return
    pdb = matching[0]
    name, st = pdb["metadata"]["name"], pdb.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in (pod.get("status") or {}).get("conditions") or [])
    if not ready and ((pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow" or (
            st.get("currentHealthy", 0) >= st.get("desiredHealthy", 0) > 0)):
        return  # an unready pod of a healthy budget goes without spending a disruption

    def take(obj: dict[str, Any], cur: Entry) -> dict[str, Any]:
        s = obj.setdefault("status", {})
        if s.get("observedGeneration", 0) < obj["metadata"].get("generation", 0):
            raise _pdb_too_many(f"The disruption budget {name} is still being processed by the server.")
        allowed = s.get("disruptionsAllowed", 0)
        if allowed < 0:
            raise errors.forbidden("poddisruptionbudget", name, "policy", "pdb disruptions allowed is negative")
        if allowed == 0:
            raise _pdb_too_many(f"The disruption budget {name} needs {s.get('desiredHealthy', 0)} healthy pods "
                                f"and has {s.get('currentHealthy', 0)} currently")
        s["disruptionsAllowed"] = allowed - 1
        s.setdefault("disruptedPods", {})[pod["metadata"]["name"]] = registry.now()
        obj["metadata"]["resourceVersion"] = str(cur.mod_rev)
        return obj

    await registry.guaranteed_update(PDBS, ns, name, take, WriteOptions(
        dry_run=dry_run, field_manager="kube-apiserver", subresource="status"))


def _eviction_ignores_pdb(pod: dict[str, Any]) -> bool:
    """canIgnorePDB: a pod that is not running (yet or any more) disrupts nothing."""
    return ((pod.get("status") or {}).get("phase") in ("Succeeded", "Failed", "Pending", None)
            or bool(pod["metadata"].get("deletionTimestamp")))


def _pdb_too_many(cause: str) -> errors.StatusError:
    return errors.StatusError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                              {"causes": [{"reason": "DisruptionBudget", "message": cause}]})


# ---- <workload>/scale --------------------------------------------------------------------------
SCALE_GVK = ("autoscaling", "v1", "Scale")


async def write_scale(registry: Registry, res: Resource, namespace: str | None, name: str,
                      change: Callable[[dict[str, Any]], Any], opts: WriteOptions) -> Entry:
    """Scale writes: compute the new Scale from the current one, then set spec.replicas."""

    def mutate(obj: dict[str, Any], cur: Entry) -> dict[str, Any]:
        scale = change(scale_of(res, cur))
        if not isinstance(scale, dict):
            raise errors.bad_request("the body of the request was in an unknown format")
        replicas = scale.get("spec", {}).get("replicas", 0)
        if replicas < 0:
            raise errors.invalid("Scale", name, "autoscaling", [errors.field_cause(
                "FieldValueInvalid", "spec.replicas",
                f"spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0")])
        if stale((scale.get("metadata") or {}).get("resourceVersion"), cur):
            raise errors.conflict(res.plural, name, res.group)
        if res.custom is not None:
            customresource.set_path(obj, res.custom.scale.get("specReplicasPath", ".spec.replicas"), replicas)
        else:
            obj.setdefault("spec", {})["replicas"] = replicas
        obj["metadata"]["resourceVersion"] = str(cur.mod_rev)
        return obj

    return await registry.guaranteed_update(res, namespace, name, mutate, opts)


def scale_of(res: Resource, entry: Entry) -> dict[str, Any]:
    """The autoscaling/v1 Scale view of a Deployment / ReplicaSet / StatefulSet / RC."""
    if res.custom is not None:
        return _custom_scale(res, entry)
    obj = entry.obj()
    meta = obj["metadata"]
    sel = obj.get("spec", {}).get("selector")
    if res.kind == "ReplicationController":
        selector = str(selectors.selector_from_set(sel))
    else:
        selector = str(selectors.from_label_selector_object(sel))
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "uid": meta.get("uid"),
                     "resourceVersion": str(entry.mod_rev), "creationTimestamp": meta.get("creationTimestamp")},
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {"replicas": obj.get("status", {}).get("replicas", 0), "selector": selector},
    }


def _custom_scale(res: Resource, entry: Entry) -> dict[str, Any]:
    """A custom resource's Scale: replicas and selector read at the CRD's paths (scale.go)."""
    obj, paths = entry.obj(), res.custom.scale
    meta = obj["metadata"]
    spec_r = customresource.get_path(obj, paths.get("specReplicasPath", ""))
    status_r = customresource.get_path(obj, paths.get("statusReplicasPath", ""))
    selector = customresource.get_path(obj, paths.get("labelSelectorPath") or "")
    scale: dict[str, Any] = {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta.get("namespace"), "uid": meta.get("uid"),
                     "resourceVersion": str(entry.mod_rev), "creationTimestamp": meta.get("creationTimestamp")},
        "spec": {"replicas": spec_r if type(spec_r) is int else 0},
        "status": {"replicas": status_r if type(status_r) is int else 0},
    }
    if isinstance(selector, str) and selector:
        scale["status"]["selector"] = selector
    if scale["metadata"]["namespace"] is None:
        del scale["metadata"]["namespace"]
    return scale
