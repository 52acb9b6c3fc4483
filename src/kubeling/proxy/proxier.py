"""kube-proxy for one node: Services and EndpointSlices (shared `client/` informers) → the mode's
dataplane (upstream cmd/kube-proxy + pkg/proxy/*/proxier.go's syncProxyRules loop).

- A `client/controller.py` Controller: its event handlers only mark the state dirty and wake
  the sync loop (a task of the controller).
- Minimum sync interval with batching (upstream's BoundedFrequencyRunner): the first change
  after a quiet period syncs at once, changes arriving within `min_sync_period` of the last sync
  are batched into the next one; a full periodic sync every `sync_period` repairs what others
  changed (missing hooks, flushed chains).
- Each sync renders all ServicePorts (model.py) and hands them to the backend, which writes only
  what changed (partial sync); stale UDP conntrack entries are flushed when endpoints go away.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from ..api.resources import lookup
from ..client.controller import Controller
from ..client.informer import shared_informer
from ..client.rest import Client
from . import conntrack
from .model import ModelCache, ServicePort, cluster_endpoints

log = logging.getLogger("kubeling.proxy")

SERVICES = lookup("", "v1", "services")
SLICES = lookup("discovery.k8s.io", "v1", "endpointslices")
assert SERVICES is not None and SLICES is not None
MODES = ("iptables", "nftables", "ipvs", "userspace")


class Backend(Protocol):
    name: str

    async def sync(self, ports: Sequence[ServicePort]) -> Any: ...

    async def check(self) -> None: ...

    async def cleanup(self) -> None: ...


@dataclass
class ProxyConfig:
    mode: str
    node_name: str
    node_ips: tuple[str, ...]  # node-port addresses
    owner: str  # the data dir's owner id: every chain/table name carries it
    cluster_cidr: str
    bridge: str = ""
    min_sync_period: float = 0.25  # upstream: 1 s; partial syncs are cheap here (see bench/proxy.py)
    sync_period: float = 30.0
    extra: dict[str, Any] = field(default_factory=dict)


class Proxier(Controller):
    def __init__(self, client: Client, cfg: ProxyConfig, backend: Backend) -> None:
        super().__init__("kube-proxy")
        self.client = client
        self.cfg = cfg
        self.backend = backend
        handlers = (self._changed, self._changed_update, self._changed)
        self.services = self.watch(shared_informer(client, SERVICES), *handlers)
        self.slices = self.watch(shared_informer(client, SLICES), *handlers)
        self._dirty = asyncio.Event()
        self._last_sync = 0.0
        self._udp: dict[str, tuple[str, ...]] = {}  # UDP service key -> endpoint IPs last synced
        self.ports: list[ServicePort] = []
        self._model = ModelCache()
        self.synced = asyncio.Event()  # the first sync is done
        self.sync_count = 0
        self.last_sync_seconds = 0.0
        self.add_task("sync", self._loop)

    def _changed(self, _obj: Any) -> None:
        self._dirty.set()

    def _changed_update(self, _old: Any, _new: Any) -> None:
        self._dirty.set()

    async def sync(self) -> None:
        t0 = time.monotonic()
        ports = self._model(self.services.list(), self.slices.list(), self.cfg.node_name)
        stats = await self.backend.sync(ports)
        self.ports = ports
        await self._flush_stale_udp(ports)
        self.last_sync_seconds = time.monotonic() - t0
        self.sync_count += 1
        log.debug("%s proxy synced %d service ports in %.1f ms (%s)", self.backend.name, len(ports),
                  self.last_sync_seconds * 1000, stats)

    async def _flush_stale_udp(self, ports: Sequence[ServicePort]) -> None:
        """conntrack keeps UDP flows pointed at a removed endpoint: delete them (upstream's
        deleteUDPEndpointConnections), and flows to a service IP that had no endpoints."""
        now: dict[str, tuple[str, ...]] = {}
        for sp in ports:
            if sp.protocol == "UDP":
                now[sp.key] = tuple(e.ip for e in cluster_endpoints(sp))
        for sp in ports:
            if sp.protocol != "UDP":
                continue
            before = self._udp.get(sp.key)
            gone = set(before or ()) - set(now[sp.key])
            for ip in gone:
                await conntrack.delete_flows(sp.cluster_ip, sp.port, "udp", endpoint=ip)
            if before == () and now[sp.key]:  # had no endpoints: drop the cached "unreplied" flows
                await conntrack.delete_flows(sp.cluster_ip, sp.port, "udp")
        self._udp = now

    async def _loop(self) -> None:
        log.info("kube-proxy (%s mode) starting on node %s", self.backend.name, self.cfg.node_name)
        self._dirty.set()
        next_full = time.monotonic() + self.cfg.sync_period
        while True:
            timeout = max(next_full - time.monotonic(), 0.0)
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout)
            except asyncio.TimeoutError:
                await self._guarded(self.backend.check)
                next_full = time.monotonic() + self.cfg.sync_period
                self._dirty.set()
                continue
            wait = self._last_sync + self.cfg.min_sync_period - time.monotonic()
            if wait > 0:  # batch what arrives until the interval is up
                await asyncio.sleep(wait)
            self._dirty.clear()
            self._last_sync = time.monotonic()
            if not await self._guarded(self.sync):
                self._dirty.set()  # retry after the interval
            else:
                self.synced.set()

    async def _guarded(self, fn: Any) -> bool:
        try:
            await fn()
            return True
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.error("%s proxy: %s", self.backend.name, e)
            return False
