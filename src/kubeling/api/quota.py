"""ResourceQuota usage (upstream pkg/quota/v1/evaluator/core): what one object uses of each
quota resource name, and what a namespace's objects use together. Pure functions."""

from __future__ import annotations

from typing import Any, Iterable

from .quantity import Quantity, parse_quantity

Obj = dict[str, Any]

# the standard names counted by kind (besides count/<plural>[.<group>])
OBJECT_COUNTS = {"pods": "pods", "services": "services", "configmaps": "configmaps", "secrets": "secrets",
                 "persistentvolumeclaims": "persistentvolumeclaims", "replicationcontrollers": "replicationcontrollers",
                 "resourcequotas": "resourcequotas"}
POD_COMPUTE = {"requests.cpu": ("requests", "cpu"), "cpu": ("requests", "cpu"),
               "requests.memory": ("requests", "memory"), "memory": ("requests", "memory"),
               "limits.cpu": ("limits", "cpu"), "limits.memory": ("limits", "memory")}
ZERO = parse_quantity("0")


def count_name(group: str, plural: str) -> str:
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def pod_counts(pod: Obj) -> bool:
    """A terminal pod, or one past its deletion, no longer uses quota."""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _pod_total(pod: Obj, kind: str, resource: str) -> Quantity | None:
    """PodRequests/PodLimits: the containers' sum or the largest init container, whichever is more;
    None when some container does not say (quota then cannot account for it)."""
    spec = pod.get("spec") or {}

    def one(c: Obj) -> Quantity | None:
        v = ((c.get("resources") or {}).get(kind) or {}).get(resource)
        return parse_quantity(str(v)) if v is not None else None

    total = ZERO
    for c in spec.get("containers") or ():
        q = one(c)
        if q is None:
            return None
        total = total + q
    for c in spec.get("initContainers") or ():
        q = one(c)
        if q is not None and q > total:
            total = q
    return total


def usage(group: str, plural: str, obj: Obj, names: Iterable[str]) -> dict[str, Quantity]:
    """What `obj` uses of each of `names` (the quota's hard resource names)."""
    out: dict[str, Quantity] = {}
    one = parse_quantity("1")
    if plural == "pods" and group == "" and not pod_counts(obj):
        return out
    for n in names:
        if n == count_name(group, plural) or (group == "" and OBJECT_COUNTS.get(plural) == n):
            out[n] = one
        elif group == "" and plural == "pods" and n in POD_COMPUTE:
            q = _pod_total(obj, *POD_COMPUTE[n])
            if q is not None:
                out[n] = q
        elif group == "" and plural == "services":
            t = (obj.get("spec") or {}).get("type", "ClusterIP")
            if n == "services.loadbalancers" and t == "LoadBalancer":
                out[n] = one
            elif n == "services.nodeports" and t in ("NodePort", "LoadBalancer"):
                out[n] = parse_quantity(str(len((obj.get("spec") or {}).get("ports") or ())))
    return out


def missing_compute(pod: Obj, names: Iterable[str]) -> list[str]:
    """`<name> for: <containers>` for each compute resource the quota tracks that a container leaves unset."""
    out = []
    for n in sorted(names):
        if n not in POD_COMPUTE:
            continue
        kind, res = POD_COMPUTE[n]
        unset = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or ()
                 if ((c.get("resources") or {}).get(kind) or {}).get(res) is None]
        if unset:
            out.append(f"{n} for: {','.join(unset)}")
    return out


def total(objs: Iterable[tuple[str, str, Obj]], names: Iterable[str]) -> dict[str, Quantity]:
    """The sum of what (group, plural, object) triples use, for every name (0 when unused)."""
    names = list(names)
    sums: dict[str, Quantity] = {n: ZERO for n in names}
    for group, plural, obj in objs:
        for n, q in usage(group, plural, obj, names).items():
            sums[n] = sums[n] + q
    return sums


def tracked(names: Iterable[str]) -> set[tuple[str, str]]:
    """(group, plural) of the kinds whose objects count toward these names."""
    out: set[tuple[str, str]] = set()
    for n in names:
        if n in POD_COMPUTE:
            out.add(("", "pods"))
        elif n.startswith("services."):
            out.add(("", "services"))
        elif n in OBJECT_COUNTS.values():
            out.add(("", n))
        elif n.startswith("count/"):
            plural, _, group = n[len("count/"):].partition(".")
            out.add((group, plural))
    return out

