"""Priority admission (upstream plugin/pkg/admission/priority/admission.go).

On pod create, `spec.priority` and `spec.preemptionPolicy` come from the pod's PriorityClass, or
from the global default class, or are 0 / PreemptLowerPriority when there is none. On update the
stored values are kept (validation forbids changing them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...api import errors
from ...api.resources import lookup
from ...store.base import Entry
from ...store.derived import Derived
from ..admission import BasePlugin, Objects

if TYPE_CHECKING:
    from ...api.resources import Resource

PRIORITY_CLASSES = lookup("scheduling.k8s.io", "v1", "priorityclasses")
assert PRIORITY_CLASSES is not None

PREEMPT_LOWER = "PreemptLowerPriority"
# The apiserver's bootstrap classes (scheduling/v1 SystemPriorityClasses).
SYSTEM_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


def _class(registry: "Objects", name: str) -> dict[str, Any] | None:
    entry = registry.store.get(PRIORITY_CLASSES.key(None, name))
    if entry is not None:
        return entry.obj()
    if name in SYSTEM_CLASSES:
        return {"metadata": {"name": name}, "value": SYSTEM_CLASSES[name], "preemptionPolicy": PREEMPT_LOWER}
    return None


def _default_class(entries: list[Entry]) -> dict[str, Any] | None:
    best = None
    for e in entries:
        pc = e.obj()
        if pc.get("globalDefault") and (best is None or pc.get("value", 0) > best.get("value", 0)):
            best = pc
    return best


DEFAULT_CLASS: Derived[dict[str, Any] | None] = Derived(_default_class)


def default_class(registry: "Objects") -> dict[str, Any] | None:
    """getDefaultPriorityClass: the globalDefault class with the highest value."""
    return DEFAULT_CLASS.get(registry.store, PRIORITY_CLASSES.prefix(None))


class PriorityAdmission(BasePlugin):
    kinds = (("", "Pod"),)

    def admit_create(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None:
        spec = obj.setdefault("spec", {})
        pod_name = (obj.get("metadata") or {}).get("name", "")
        name = spec.get("priorityClassName") or ""
        if not name:
            pc = default_class(registry)
            if pc is not None:
                spec["priorityClassName"] = pc["metadata"]["name"]
                priority, policy = pc.get("value", 0), pc.get("preemptionPolicy") or PREEMPT_LOWER
            else:
                priority, policy = 0, PREEMPT_LOWER
        else:
            pc = _class(registry, name)
            if pc is None:
                raise errors.forbidden(res.plural, pod_name, res.group, f"no PriorityClass with name {name} was found")
            priority, policy = pc.get("value", 0), pc.get("preemptionPolicy") or PREEMPT_LOWER
        if spec.get("priority") is not None and spec["priority"] != priority:
            raise errors.forbidden(res.plural, pod_name, res.group,
                                   f"the integer value of priority ({spec['priority']}) must not be provided in pod "
                                   f"spec; priority admission controller computed {priority} from the given "
                                   f"PriorityClass name")
        spec["priority"] = priority
        if spec.get("preemptionPolicy") is not None and spec["preemptionPolicy"] != policy:
            raise errors.forbidden(res.plural, pod_name, res.group,
                                   f"the string value of PreemptionPolicy ({spec['preemptionPolicy']}) must not be "
                                   f"provided in pod spec; priority admission controller computed {policy} from the "
                                   f"given PriorityClass name")
        spec["preemptionPolicy"] = policy

    def admit_update(self, registry: "Objects", res: "Resource", old: dict[str, Any], new: dict[str, Any],
                     dry_run: bool) -> None:
        spec, ospec = new.setdefault("spec", {}), old.get("spec") or {}
        for k in ("priority", "preemptionPolicy"):
            if spec.get(k) is None and ospec.get(k) is not None:
                spec[k] = ospec[k]
