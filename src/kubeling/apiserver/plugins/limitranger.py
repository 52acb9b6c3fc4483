"""LimitRanger admission (upstream plugin/pkg/admission/limitranger) for pods: a namespace's
LimitRanges of type Container fill in unset limits (`default`) and requests (`defaultRequest`),
noting it in the `kubernetes.io/limit-ranger` annotation, and refuse containers outside `min`/`max`
with upstream's messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...api import errors
from ...api.quantity import parse_quantity
from ...api.resources import lookup
from ...store.derived import Derived
from ..admission import BasePlugin, Objects

if TYPE_CHECKING:
    from ...api.resources import Resource

LIMIT_RANGES = lookup("", "v1", "limitranges")
assert LIMIT_RANGES is not None
ANNOTATION = "kubernetes.io/limit-ranger"


def _defaulted(item: dict[str, Any]) -> dict[str, Any]:
    """SetDefaults_LimitRangeItem for Container items: default limit from max, default request
    from the default limit, then from min."""
    default = {**(item.get("max") or {}), **(item.get("default") or {})}
    request = {**(item.get("min") or {}), **default, **(item.get("defaultRequest") or {})}
    return {**item, "default": default, "defaultRequest": request}


# a namespace's Container items, defaulted
ITEMS: Derived[list[dict[str, Any]]] = Derived(lambda entries: [
    _defaulted(item) for e in entries
    for item in (e.obj().get("spec") or {}).get("limits") or () if item.get("type") == "Container"])


def _items(registry: "Objects", namespace: str) -> list[dict[str, Any]]:
    return ITEMS.get(registry.store, LIMIT_RANGES.prefix(namespace))


def set_defaults(pod: dict[str, Any], items: list[dict[str, Any]]) -> None:
    notes = []
    spec = pod.get("spec") or {}
    for kind, containers in (("init container", spec.get("initContainers") or ()),
                             ("container", spec.get("containers") or ())):
        for c in containers:
            res = c.setdefault("resources", {})
            set_req, set_lim = [], []
            for item in items:
                for field, target, noted in (("default", "limits", set_lim), ("defaultRequest", "requests", set_req)):
                    for name, value in (item.get(field) or {}).items():
                        if name not in (res.get(target) or {}):
                            res.setdefault(target, {})[name] = value
                            noted.append(name)
            if set_req:
                notes.append(f"{', '.join(sorted(set_req))} request for {kind} {c.get('name', '')}")
            if set_lim:
                notes.append(f"{', '.join(sorted(set_lim))} limit for {kind} {c.get('name', '')}")
    if notes:
        pod.setdefault("metadata", {}).setdefault("annotations", {})[ANNOTATION] = \
            "LimitRanger plugin set: " + "; ".join(notes)


def violations(pod: dict[str, Any], items: list[dict[str, Any]]) -> list[str]:
    out = []
    spec = pod.get("spec") or {}
    for c in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
        req = (c.get("resources") or {}).get("requests") or {}
        lim = (c.get("resources") or {}).get("limits") or {}
        for item in items:
            for name, v in sorted((item.get("min") or {}).items()):
                enforced = parse_quantity(str(v))
                if name not in req:
                    out.append(f"minimum {name} usage per Container is {enforced}.  No request is specified")
                elif parse_quantity(str(req[name])) < enforced:
                    out.append(f"minimum {name} usage per Container is {enforced}, but request is "
                               f"{parse_quantity(str(req[name]))}")
                elif name in lim and parse_quantity(str(lim[name])) < enforced:
                    out.append(f"minimum {name} usage per Container is {enforced}, but limit is "
                               f"{parse_quantity(str(lim[name]))}")
            for name, v in sorted((item.get("max") or {}).items()):
                enforced = parse_quantity(str(v))
                if name not in lim:
                    out.append(f"maximum {name} usage per Container is {enforced}.  No limit is specified")
                elif parse_quantity(str(lim[name])) > enforced:
                    out.append(f"maximum {name} usage per Container is {enforced}, but limit is "
                               f"{parse_quantity(str(lim[name]))}")
                elif name in req and parse_quantity(str(req[name])) > enforced:
                    out.append(f"maximum {name} usage per Container is {enforced}, but request is "
                               f"{parse_quantity(str(req[name]))}")
    return out


class LimitRanger(BasePlugin):
    kinds = (("", "Pod"),)

    def admit_create(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None:
        items = _items(registry, (obj.get("metadata") or {}).get("namespace") or "")
        if not items:
            return
        set_defaults(obj, items)
        errs = violations(obj, items)
        if errs:
            why = errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
            raise errors.forbidden("pods", (obj.get("metadata") or {}).get("name", ""), "", why)
