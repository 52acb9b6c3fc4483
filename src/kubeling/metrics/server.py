"""The metrics component (what metrics-server does, in the control-plane process): every
`--metric-resolution` (15 s) it reads each node's stats summary and keeps the latest window in
memory; the API server answers metrics.k8s.io from it (apiserver `RestAPI.metrics`).

Real nodes are scraped over HTTPS at `/stats/summary` on the kubelet port with the bearer token of
the account `kube-system:metrics-server` (as metrics-server's pod uses its own token; the kubelet
asks the API server who that is and whether it may get `nodes/stats`); simulated nodes (label `node.kubeling.io/simulated=true`) report the
synthetic usage of their pods' annotations (kubelet/simstats.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

import aiohttp
import orjson

from ..api.nodeaddress import kubelet_endpoint
from ..api.resources import lookup
from ..api.timestamps import rfc3339
from ..client.controller import Controller
from ..client.informer import shared_informer
from ..client.rest import Client
from ..kubelet import simstats
from ..kubelet.runtime.simulated import NODE_LABEL
from .api import Window

log = logging.getLogger("kubeling.metrics")

NODES = lookup("", "v1", "nodes")
PODS = lookup("", "v1", "pods")
assert NODES is not None and PODS is not None

RESOLUTION = 15.0  # --metric-resolution
SCRAPE_TIMEOUT = 10.0


class MetricsServer(Controller):
    def __init__(self, client: Client, *, resolution: float = RESOLUTION, kubelet_ssl: Any = None,
                 token: Callable[[], Awaitable[str]] | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__("metrics-server")
        self.client = client
        self.resolution = resolution
        self.kubelet_ssl = kubelet_ssl  # verifies the kubelets' serving certificates
        self.token = token
        self.clock = clock
        self.window = Window()
        self.nodes = self.watch(shared_informer(client, NODES), on_delete=self._node_gone)
        self.pods = self.watch(shared_informer(client, PODS))
        self.every(resolution, self.scrape, "scrape")
        self.last_scrape_seconds = 0.0  # CPU seconds of the last pass (bench/metrics_scrape.py)

    def _node_gone(self, node: dict[str, Any]) -> None:
        self.window.forget_node(node["metadata"]["name"])

    def now(self) -> str:
        return rfc3339(self.clock())

    async def scrape(self) -> None:
        """One pass over every node, concurrently; a node that fails keeps no stale sample."""
        t0 = time.process_time()
        by_node: dict[str, list[dict[str, Any]]] = {}
        labels: dict[tuple[str, str], dict[str, str]] = {}
        for p in self.pods.list():
            meta = p["metadata"]
            labels[(meta.get("namespace", ""), meta["name"])] = meta.get("labels") or {}
            node = (p.get("spec") or {}).get("nodeName")
            if node:
                by_node.setdefault(node, []).append(p)
        nodes = self.nodes.list()
        await asyncio.gather(*(self._scrape_node(n, by_node.get(n["metadata"]["name"], []), labels) for n in nodes))
        self.last_scrape_seconds = time.process_time() - t0

    async def _scrape_node(self, node: dict[str, Any], pods: list[dict[str, Any]],
                           labels: dict[tuple[str, str], dict[str, str]]) -> None:
        name = node["metadata"]["name"]
        node_labels = node["metadata"].get("labels") or {}
        try:
            if node_labels.get(NODE_LABEL) == "true":
                summary = simstats.summary(name, pods, self.clock())
            else:
                summary = await self._fetch(node)
        except Exception as e:  # one node failing does not stop the others
            log.info("unable to fully scrape metrics from node %s: %s", name, e)
            self.window.forget_node(name)
            return
        self.window.replace_node(summary, self.resolution, node_labels, labels)

    async def _fetch(self, node: dict[str, Any]) -> dict[str, Any]:
        if self.kubelet_ssl is None or self.token is None:
            raise RuntimeError("no credentials for kubelets")
        host, port = kubelet_endpoint(node)
        host = f"[{host}]" if ":" in host else host
        timeout = aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT)
        headers = {"Authorization": f"Bearer {await self.token()}"}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.kubelet_ssl), timeout=timeout) as s:
            async with s.get(f"https://{host}:{port}/stats/summary?only_cpu_and_memory=true", headers=headers) as r:
                if r.status != 200:
                    raise RuntimeError(f"request failed, status: {r.status}")
                return orjson.loads(await r.read())
