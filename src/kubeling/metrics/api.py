"""metrics.k8s.io/v1beta1 objects from kubelet stats summaries (metrics-server's decode and
storage, pure): CPU as a nanocore Quantity, memory as the working set in binary SI, the pods'
labels copied as metrics-server does so label selectors work on PodMetrics."""

from __future__ import annotations

from typing import Any, Iterable

from ..api import quantity
from ..api.goduration import seconds_duration
from ..api.selectors import LabelSelector

Obj = dict[str, Any]
GROUP_VERSION = "metrics.k8s.io/v1beta1"


def cpu_quantity(nano: int) -> str:
    return str(quantity.Quantity(int(nano), -9, quantity.DECIMAL_SI))


def memory_quantity(b: int) -> str:
    return str(quantity.new_quantity(int(b), quantity.BINARY_SI))


def _usage(stats: Obj) -> Obj | None:
    cpu = (stats.get("cpu") or {}).get("usageNanoCores")
    mem = (stats.get("memory") or {}).get("workingSetBytes")
    if cpu is None or mem is None:
        return None  # metrics-server skips a sample without both
    return {"cpu": cpu_quantity(cpu), "memory": memory_quantity(mem)}


class Window:
    """The latest sample of every node and pod (what metrics-server keeps in memory)."""

    def __init__(self) -> None:
        self.nodes: dict[str, Obj] = {}
        self.pods: dict[tuple[str, str], Obj] = {}
        self._on_node: dict[str, list[tuple[str, str]]] = {}  # node -> its pods' keys (O(pods) per node pass)

    def replace_node(self, summary: Obj, window: float, node_labels: dict[str, str],
                     pod_labels: dict[tuple[str, str], dict[str, str]]) -> None:
        node = summary.get("node") or {}
        name = node.get("nodeName", "")
        self.forget_node(name)
        keys = self._on_node[name] = []
        usage = _usage(node)
        win = seconds_duration(window)
        if usage is not None:
            self.nodes[name] = {"kind": "NodeMetrics", "apiVersion": GROUP_VERSION,
                                "metadata": {"name": name, "labels": node_labels},
                                "timestamp": (node.get("cpu") or {}).get("time"), "window": win, "usage": usage}
        for p in summary.get("pods") or []:
            ref = p.get("podRef") or {}
            key = (ref.get("namespace", ""), ref.get("name", ""))
            containers = []
            for c in p.get("containers") or []:
                u = _usage(c)
                if u is not None:
                    containers.append({"name": c.get("name", ""), "usage": u})
            if not containers:
                continue
            self.pods[key] = {"kind": "PodMetrics", "apiVersion": GROUP_VERSION,
                              "metadata": {"name": key[1], "namespace": key[0], "labels": pod_labels.get(key, {})},
                              "timestamp": (p.get("cpu") or {}).get("time"), "window": win,
                              "containers": containers}
            keys.append(key)

    def forget_node(self, name: str) -> None:
        self.nodes.pop(name, None)
        for key in self._on_node.pop(name, ()):
            self.pods.pop(key, None)

    def node_items(self, selector: LabelSelector | None, created: str) -> list[Obj]:
        return [_public(o, created) for o in self._select(self.nodes.values(), selector)]

    def pod_items(self, namespace: str | None, selector: LabelSelector | None, created: str) -> list[Obj]:
        pods = (v for (ns, _), v in sorted(self.pods.items()) if namespace is None or ns == namespace)
        return [_public(o, created) for o in self._select(pods, selector)]

    @staticmethod
    def _select(objs: Iterable[Obj], selector: LabelSelector | None) -> Iterable[Obj]:
        for o in objs:
            if selector is None or selector.matches(o["metadata"].get("labels") or {}):
                yield o


def _public(o: Obj, created: str) -> Obj:
    """What the API returns: creationTimestamp is the time of the request, as metrics-server does."""
    return {**o, "metadata": {**o["metadata"], "creationTimestamp": created}}
