"""metrics.k8s.io/v1beta1 answered from the metrics component's memory (upstream: the
kube-aggregator proxies to metrics-server; here the component runs in this process). get and
list only, label selectors on the nodes' and pods' labels; 503 until a metrics component is
attached, as upstream while metrics-server is unavailable."""

from __future__ import annotations

from typing import Any

from ..api import errors
from ..api.resources import Resource
from ..api.selectors import parse_label_selector

NOT_SERVING = errors.StatusError(503, "ServiceUnavailable", "the server is currently unable to handle the request")


def answer(server: Any, res: Resource, method: str, namespace: str | None, name: str | None,
           query: Any) -> dict[str, Any]:
    """The body for GET /apis/metrics.k8s.io/v1beta1/... (`server` is a metrics.server.MetricsServer)."""
    if method != "GET" or query.get("watch") in ("true", "1"):
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
        for o in items:
            if o["metadata"]["name"] == name:
                return o
        raise errors.not_found(res.plural, name, res.group)
    return {"kind": res.kind + "List", "apiVersion": res.group_version, "metadata": {}, "items": items}
