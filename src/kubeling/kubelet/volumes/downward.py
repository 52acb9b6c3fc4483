"""The downward API: pod fields and container resources as strings, shared by downwardAPI
volumes (and projected sources) and by env `valueFrom` (upstream fieldpath + resource helpers)."""

from __future__ import annotations

import math
from typing import Any

from ...api.quantity import parse_quantity, quantity_from_json
from ...api.validation.field import go_quote, is_qualified_name
from .atomic_writer import FileProjection, clean_path
from .configmap_secret import DEFAULT_MODE


class DownwardAPIError(Exception):
    pass


def split_maybe_subscripted(field_path: str) -> tuple[str, str, bool]:
    """fieldpath.SplitMaybeSubscriptedPath: "metadata.labels['app']" -> ("metadata.labels", "app")."""
    if not field_path.endswith("']"):
        return field_path, "", False
    parts = field_path[:-2].split("['", 1)
    if len(parts) < 2 or not parts[0]:
        return field_path, "", False
    return parts[0], parts[1], True


def format_map(m: dict[str, str] | None) -> str:
    """fieldpath.FormatMap: sorted `key="value"` lines, values quoted like Go's %q."""
    return "\n".join(f"{k}={go_quote(v)}" for k, v in sorted((m or {}).items()))


def extract_field_path(pod: dict[str, Any], field_path: str) -> str:
    """fieldpath.ExtractFieldPathAsString over the pod's metadata."""
    meta = pod.get("metadata") or {}
    path, sub, ok = split_maybe_subscripted(field_path)
    if ok:
        if path == "metadata.annotations":
            errs = is_qualified_name(sub.lower())
            if errs:
                raise DownwardAPIError(f"invalid key subscript in {field_path}: {';'.join(errs)}")
            return (meta.get("annotations") or {}).get(sub, "")
        if path == "metadata.labels":
            errs = is_qualified_name(sub)
            if errs:
                raise DownwardAPIError(f"invalid key subscript in {field_path}: {';'.join(errs)}")
            return (meta.get("labels") or {}).get(sub, "")
        raise DownwardAPIError(f'fieldPath "{field_path}" does not support subscript')
    if field_path == "metadata.annotations":
        return format_map(meta.get("annotations"))
    if field_path == "metadata.labels":
        return format_map(meta.get("labels"))
    if field_path == "metadata.name":
        return meta.get("name", "")
    if field_path == "metadata.namespace":
        return meta.get("namespace", "")
    if field_path == "metadata.uid":
        return meta.get("uid", "")
    raise DownwardAPIError(f"unsupported fieldPath: {field_path}")


# ---- resources ----------------------------------------------------------------------------------

DEFAULTED_FROM_ALLOCATABLE = ("cpu", "memory", "ephemeral-storage")


def _find_container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") == name:
            return c
    raise DownwardAPIError(f"container {name} not found")


def default_limits(container: dict[str, Any], node_allocatable: dict[str, Any] | None) -> dict[str, Any]:
    """MergeContainerResourceLimits: a missing cpu/memory/ephemeral-storage limit reads as the
    node's allocatable amount (what the container could actually use)."""
    if not node_allocatable:
        return container
    res = dict(container.get("resources") or {})
    limits = dict(res.get("limits") or {})
    for r in DEFAULTED_FROM_ALLOCATABLE:
        if r not in limits and r in node_allocatable:
            limits[r] = node_allocatable[r]
    res["limits"] = limits
    return {**container, "resources": res}


def _q(resources: dict[str, Any], kind: str, name: str) -> Any:
    v = ((resources or {}).get(kind) or {}).get(name)
    return quantity_from_json(v) if v is not None else parse_quantity("0")


def container_resource_value(selector: dict[str, Any], container: dict[str, Any]) -> str:
    """ExtractContainerResourceValue: ceil(value / divisor) as an integer string."""
    divisor = selector.get("divisor")
    div = quantity_from_json(divisor) if divisor not in (None, "", 0, "0") else parse_quantity("1")
    if div.to_milli() == 0:
        div = parse_quantity("1")
    res = container.get("resources") or {}
    r = selector.get("resource", "")
    kind, _, name = r.partition(".")
    if kind in ("limits", "requests") and name == "cpu":
        return str(int(math.ceil(float(_q(res, kind, "cpu").to_milli()) / float(div.to_milli()))))
    if kind in ("limits", "requests") and (name in ("memory", "ephemeral-storage") or name.startswith("hugepages-")):
        return str(int(math.ceil(float(_q(res, kind, name).to_int()) / float(div.to_int()))))
    raise DownwardAPIError(f"unsupported container resource : {r}")


def resource_value(selector: dict[str, Any], pod: dict[str, Any], container: dict[str, Any] | None,
                   node_allocatable: dict[str, Any] | None) -> str:
    """By `containerName` when set (volumes), else the given container (env)."""
    name = selector.get("containerName") or ""
    if name or container is None:
        container = _find_container(pod, name)
    return container_resource_value(selector, default_limits(container, node_allocatable))


def collect(items: list[dict[str, Any]], pod: dict[str, Any], default_mode: int | None,
            node_allocatable: dict[str, Any] | None) -> dict[str, FileProjection]:
    """downwardapi.CollectData: one file per item; errors are aggregated like upstream."""
    mode_default = DEFAULT_MODE if default_mode is None else default_mode
    data: dict[str, FileProjection] = {}
    errs: list[str] = []
    for item in items or []:
        mode = item.get("mode")
        mode = mode_default if mode is None else mode
        value = b""
        try:
            if item.get("fieldRef"):
                value = extract_field_path(pod, item["fieldRef"].get("fieldPath", "")).encode()
            elif item.get("resourceFieldRef"):
                value = resource_value(item["resourceFieldRef"], pod, None, node_allocatable).encode()
        except DownwardAPIError as e:
            errs.append(str(e))
        data[clean_path(item.get("path", ""))] = FileProjection(value, mode)
    if errs:
        raise DownwardAPIError(aggregate(errs))
    return data


def aggregate(errs: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message, or `[a, b]`."""
    return errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
