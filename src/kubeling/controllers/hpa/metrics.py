"""Where the HPA controller reads metrics: the resource metrics API (metrics.k8s.io) through the
API server, as upstream's pkg/controller/podautoscaler/metrics/client.go. Pods/Object/External
metrics need a custom or external metrics API that kubeling does not serve: they fail with the
message a cluster without such an adapter gives."""

from __future__ import annotations

from typing import Any

from ...api import errors, quantity
from ...api.resources import lookup
from ...api.timestamps import parse_rfc3339
from ...client.rest import Client
from .replicas import MetricsError, PodMetric

POD_METRICS = lookup("metrics.k8s.io", "v1beta1", "pods")


def _window(s: Any) -> float:
    """A metav1.Duration string such as "15s" or "1m0.5s"."""
    if not isinstance(s, str) or not s:
        return 0.0
    total, num = 0.0, ""
    for ch in s:
        if ch.isdigit() or ch == ".":
            num += ch
        elif num:
            total += float(num) * {"h": 3600, "m": 60, "s": 1}.get(ch, 0)
            num = ""
    return total


def pod_metrics(items: list[dict[str, Any]], resource: str, container: str = "") -> dict[str, PodMetric]:
    """getPodMetrics / getContainerMetrics: per pod the summed usage (milli) of its containers
    (or of the one named container); a pod missing the resource in any container is left out."""
    out: dict[str, PodMetric] = {}
    for m in items:
        containers = m.get("containers") or []
        total, missing = 0, not containers
        for c in containers:
            if container and c.get("name") != container:
                continue
            usage = (c.get("usage") or {}).get(resource)
            if usage is None:
                if container:
                    raise MetricsError(f"failed to get container metrics: missing resource metric {resource} "
                                       f"for container {container} in pod {m['metadata'].get('namespace')}/"
                                       f"{m['metadata']['name']}")
                missing = True
                break
            total += quantity.to_milli(str(usage))
        if not missing:
            out[m["metadata"]["name"]] = PodMetric(total, parse_rfc3339(m.get("timestamp")) or 0.0, _window(m.get("window")))
    return out


async def resource_metric(client: Client, namespace: str, selector: str, resource: str,
                          container: str = "") -> tuple[dict[str, PodMetric], float]:
    """GetResourceMetric: (metrics per pod, timestamp of the first sample)."""
    if POD_METRICS is None:
        raise MetricsError("unable to fetch metrics from resource metrics API: the server could not find "
                           "the requested resource (get pods.metrics.k8s.io)")
    try:
        lst = await client.list(POD_METRICS, namespace, label_selector=selector)
    except errors.StatusError as e:
        msg = "the server could not find the requested resource (get pods.metrics.k8s.io)" if e.code == 404 \
            else e.message
        raise MetricsError(f"unable to fetch metrics from resource metrics API: {msg}") from None
    items = lst.get("items") or []
    if not items:
        raise MetricsError("no metrics returned from resource metrics API")
    return pod_metrics(items, resource, container), parse_rfc3339(items[0].get("timestamp")) or 0.0
