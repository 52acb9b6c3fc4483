"""metrics.k8s.io/v1beta1 answered from the metrics component's memory (upstream: the
kube-aggregator proxies to metrics-server; here the component runs in this process). get and
list only, label selectors on the nodes' and pods' labels; 503 until a metrics component is
attached, as upstream while metrics-server is unavailable."""

from __future__ import annotations

from typing import Any

from ..api import errors, quantity
from ..api.resources import Resource
from ..api.selectors import parse_label_selector
from .query import query_bool

NOT_SERVING = errors.StatusError(503, "ServiceUnavailable", "the server is currently unable to handle the request")


def _usage(obj: dict[str, Any]) -> dict[str, quantity.Quantity]:
    """A NodeMetrics' usage, or a PodMetrics' containers summed."""
    if "usage" in obj:
        return {k: quantity.parse_quantity(v) for k, v in obj["usage"].items()}
    out: dict[str, quantity.Quantity] = {}
    for c in obj.get("containers") or []:
        for k, v in (c.get("usage") or {}).items():
            q = quantity.parse_quantity(v)
            out[k] = out[k] + q if k in out else q
    return out


def table(items: list[dict[str, Any]]) -> dict[str, Any]:
    """metrics-server's addNodeMetricsToTable / addPodMetricsToTable: Name, one column per
    resource (sorted), Window; no columns at all for an empty list."""
    doc: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
                           "columnDefinitions": None, "rows": []}
    names: list[str] | None = None
    for obj in items:
        usage = _usage(obj)
        if names is None:
            names = sorted(usage)
            doc["columnDefinitions"] = [
                {"name": "Name", "type": "string", "format": "name", "description": "Name of the resource", "priority": 0},
                *({"name": n, "type": "string", "format": "quantity", "description": "", "priority": 0} for n in names),
                {"name": "Window", "type": "string", "format": "duration", "description": "", "priority": 0}]
        cells = [obj["metadata"]["name"], *(str(usage.get(n, quantity.parse_quantity("0"))) for n in names),
                 obj.get("window", "")]
        partial = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
        doc["rows"].append({"cells": cells, "object": partial})
    return doc


def answer(server: Any, res: Resource, method: str, namespace: str | None, name: str | None,
           query: Any, as_table: bool = False) -> dict[str, Any]:
    """The body for GET /apis/metrics.k8s.io/v1beta1/... (`server` is a metrics.server.MetricsServer)."""
    if method != "GET" or query_bool(query, "watch"):
        raise errors.method_not_allowed()
    if server is None:
        raise NOT_SERVING
    created = server.now()
    sel = parse_label_selector(query.get("labelSelector", "")) if query.get("labelSelector") else None
    if res.kind == "NodeMetrics":
        items = server.window.node_items(sel, created)
    else:
        items = server.window.pod_items(namespace, sel, created)
    if name is not None:
        found = [o for o in items if o["metadata"]["name"] == name]
        if not found:  # as metrics-server: no such object, or no sample of it yet
            if res.kind == "NodeMetrics":
                if server.nodes.get(None, name) is None:
                    raise errors.not_found("nodes", name)
                raise errors.not_found("nodemetrics", name, res.group)
            if server.pods.get(namespace, name) is None:
                raise errors.not_found("pods", name)
            raise errors.not_found("podmetrics", f"{namespace}/{name}", res.group)
        return table(found) if as_table else found[0]
    if as_table:
        return table(items)
    return {"kind": res.kind + "List", "apiVersion": res.group_version, "metadata": {}, "items": items}
