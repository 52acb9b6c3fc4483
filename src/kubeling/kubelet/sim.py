"""`kubeling up --sim-nodes N`: N simulated kubelets in one process (`sim-node-1..N`).

Each is a full `Kubelet` over a `SimulatedRuntime` (see runtime/simulated.py): same pod sync,
restart policy, back-off, status and events as a real node; only the runtime is simulated.

Why one shared pod informer instead of one per kubelet: N informers with
`fieldSelector=spec.nodeName=<node>` are N watch streams, and the API server evaluates every pod
event against N selectors and encodes it for each match. One informer over all pods is one list
and one watch: every event is decoded once and routed in O(1) by `spec.nodeName` to that node's
`NodeView`, which the kubelet consumes exactly like its own informer (cache, handlers, synced).
At 100 nodes × 100 pods this is the difference between 100 streams and 1. Likewise one Node
informer (label `node.kubeling.io/simulated=true`) serves the `sim.kubeling.io/stop-heartbeat`
annotation to all of them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any, Callable

from ..api.resources import lookup
from ..client.informer import Informer, object_key
from ..client.rest import Client
from .kubelet import Kubelet, KubeletConfig
from .node import NodeConfig
from .runtime.simulated import NODE_LABEL, STOP_HEARTBEAT, SimulatedRuntime

log = logging.getLogger("kubeling.kubelet.sim")

PODS = lookup("", "v1", "pods")
NODES = lookup("", "v1", "nodes")
assert PODS is not None and NODES is not None

SIM_NODE_IP_BASE = ipaddress.ip_address("127.0.1.0")  # loopback: nothing ever leaves the machine


def sim_node_name(i: int) -> str:
    return f"sim-node-{i}"


def sim_pod_cidr(i: int, cluster_cidr: str = "10.244.0.0/16") -> str:
    """Node i gets the i-th /24 of the cluster CIDR (10.244.i.0/24); the real node is 0."""
    net = ipaddress.ip_network(cluster_cidr)
    subnets = list(net.subnets(new_prefix=24)) if net.prefixlen <= 24 else [net]
    if i >= len(subnets):
        raise ValueError(f"pod CIDR {cluster_cidr} has no room for node {i}")
    return str(subnets[i])


def sim_node_ip(i: int) -> str:
    return str(SIM_NODE_IP_BASE + i)


class NodeView:
    """The pods bound to one node, fed by a `PodDispatcher` (the kubelet's PodSource)."""

    def __init__(self, synced: asyncio.Event) -> None:
        self.cache: dict[str, dict[str, Any]] = {}
        self.synced = synced
        self._add: list[Callable[..., None]] = []
        self._update: list[Callable[..., None]] = []
        self._delete: list[Callable[..., None]] = []

    def add_handlers(self, on_add: Any = None, on_update: Any = None, on_delete: Any = None) -> None:
        for lst, h in ((self._add, on_add), (self._update, on_update), (self._delete, on_delete)):
            if h is not None:
                lst.append(h)

    def get_by_key(self, key: str) -> dict[str, Any] | None:
        return self.cache.get(key)

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.cache.values() if namespace is None or o["metadata"].get("namespace") == namespace]

    def _emit(self, handlers: list[Callable[..., None]], *args: Any) -> None:
        for h in handlers:
            try:
                h(*args)
            except Exception:
                log.exception("pod handler failed")

    def added(self, pod: dict[str, Any]) -> None:
        self.cache[object_key(pod)] = pod
        self._emit(self._add, pod)

    def updated(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.cache[object_key(new)] = new
        self._emit(self._update, old, new)

    def deleted(self, pod: dict[str, Any]) -> None:
        self.cache.pop(object_key(pod), None)
        self._emit(self._delete, pod)


class PodDispatcher:
    """One pod informer for many in-process kubelets, routed by `spec.nodeName`."""

    def __init__(self, client: Client) -> None:
        self.informer = Informer(client, PODS)
        self.views: dict[str, NodeView] = {}
        self.informer.add_handlers(self._on_add, self._on_update, self._on_delete)

    def view(self, node: str) -> NodeView:
        v = self.views.get(node)
        if v is None:
            v = self.views[node] = NodeView(self.informer.synced)
        return v

    @staticmethod
    def _node(pod: dict[str, Any]) -> str:
        return (pod.get("spec") or {}).get("nodeName") or ""

    def _on_add(self, pod: dict[str, Any]) -> None:
        v = self.views.get(self._node(pod))
        if v is not None:
            v.added(pod)

    def _on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        before, after = self._node(old), self._node(new)
        if before == after:
            v = self.views.get(after)
            if v is not None:
                v.updated(old, new)
            return
        if before and before in self.views:
            self.views[before].deleted(old)
        if after and after in self.views:
            self.views[after].added(new)

    def _on_delete(self, pod: dict[str, Any]) -> None:
        v = self.views.get(self._node(pod))
        if v is not None:
            v.deleted(pod)

    async def run(self) -> None:
        await self.informer.run()


class SimulatedNodes:
    """N simulated kubelets sharing one pod informer and one node informer."""

    def __init__(self, client: Client, count: int, *, first_index: int = 1, cluster_cidr: str = "10.244.0.0/16",
                 pod_log_dir: str = "/var/log/pods", lease_duration: int = 40,
                 status_update_frequency: float = 10.0, workers: int = 4) -> None:
        # the informers all kubelets share read as the first one: every node may list and watch
        # pods and nodes (system:node), so what they see is what each kubelet would
        reader = client.as_node(sim_node_name(first_index), own_informers=True) if client is not None else client
        self.client = reader
        self.dispatcher = PodDispatcher(reader)
        self.nodes_informer = Informer(reader, NODES, label_selector=f"{NODE_LABEL}=true")
        self.nodes_informer.add_handlers(self._on_node, lambda old, new: self._on_node(new))
        self.kubelets: dict[str, Kubelet] = {}
        for i in range(first_index, first_index + count):
            name = sim_node_name(i)
            cidr = sim_pod_cidr(i, cluster_cidr)
            runtime = SimulatedRuntime(pod_cidr=cidr, node_name=name)
            node = NodeConfig(name=name, ip=sim_node_ip(i), pod_cidr=cidr,
                              runtime_version=f"{runtime.name}://{runtime.version}", simulated=True,
                              lease_duration=lease_duration, status_update_frequency=status_update_frequency)
            cfg = KubeletConfig(node=node, pod_log_dir=pod_log_dir, workers=workers)
            # each kubelet acts as its node (system:node:<name>); the shared informers read as `client`
            node_client = client.as_node(name) if client is not None else client  # None: wiring tests
            self.kubelets[name] = Kubelet(node_client, cfg, runtime, pod_source=self.dispatcher.view(name))

    def _on_node(self, node: dict[str, Any]) -> None:
        """`sim.kubeling.io/stop-heartbeat: "true"` on the Node pauses that kubelet's heartbeat."""
        k = self.kubelets.get(node["metadata"]["name"])
        if k is None:
            return
        stop = ((node["metadata"].get("annotations") or {}).get(STOP_HEARTBEAT, "")).lower() == "true"
        if stop:
            k.pause_heartbeat()
        else:
            k.resume_heartbeat()

    async def run(self) -> None:
        tasks = [asyncio.create_task(k.run(), name=f"sim-kubelet-{n}") for n, k in self.kubelets.items()]
        tasks.append(asyncio.create_task(self.dispatcher.run(), name="sim-pod-informer"))
        tasks.append(asyncio.create_task(self.nodes_informer.run(), name="sim-node-informer"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
