"""userspace mode: the historical kube-proxy the tutorial describes (upstream pkg/proxy/userspace,
removed in 1.26). Every service port gets a proxy socket in this process (TCP: asyncio streams,
UDP: one relay socket per client), on the node's address and a port the kernel picks; iptables
DNATs the ClusterIP:port (and node ports, external and load-balancer IPs) to it. The proxy picks
a backend round-robin (or the client's, with ClientIP affinity) and, when a connect fails, tries
the next one, so a dead backend costs the client nothing but a retry. A canary-weighted Service
(model.Split) first draws the side at random by its weight, then round-robins within it.

Rules (`portal_rules`, pure): nat PREROUTING/OUTPUT → KUBE-PORTALS-<owner6> with one DNAT per
service address; filter REJECT for service ports without endpoints, as in iptables mode.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import iptables as ipt
from .iptables_backend import IptablesBackend, SyncStats
from .model import Endpoint, ServicePort, Split, external_endpoints, external_split, internal_endpoints, internal_split

log = logging.getLogger("kubeling.proxy")

CONNECT_TIMEOUT = 1.0
UDP_IDLE = 60.0
BUFFER = 65536


def portal_hooks(ctx: ipt.Context) -> list[tuple[str, str, list[str]]]:
    c = ["-m", "comment", "--comment", f"{ctx.tag} kubernetes service portals".strip()]
    new = ["-m", "conntrack", "--ctstate", "NEW"]
    return [("nat", "PREROUTING", [*c, "-j", ctx.top("KUBE-PORTALS")]),
            ("nat", "OUTPUT", [*c, "-j", ctx.top("KUBE-PORTALS")]),
            ("filter", "INPUT", [*c, *new, "-j", ctx.top("KUBE-EXTERNAL-SVCS")]),
            ("filter", "FORWARD", [*c, *new, "-j", ctx.top("KUBE-SERVICES")]),
            ("filter", "OUTPUT", [*c, *new, "-j", ctx.top("KUBE-SERVICES")])]


def portal_rules(ports: Sequence[ServicePort], ctx: ipt.Context, portals: dict[str, int],
                 proxy_ip: str) -> ipt.Ruleset:
    """DNAT every service address to its proxy socket (`portals`: ServicePort key+proto → port)."""
    nat, reject, ext_reject = ctx.top("KUBE-PORTALS"), ctx.top("KUBE-SERVICES"), ctx.top("KUBE-EXTERNAL-SVCS")
    rules: dict[str, dict[str, list[str]]] = {"nat": {nat: []}, "filter": {reject: [], ext_reject: []}}

    def add(table: str, chain: str, line: str) -> None:
        rules[table][chain].append(f"-A {chain} {line}")

    for sp in ports:
        proto = sp.protocol.lower()
        port = portals.get(portal_key(sp))
        dsts = [(sp.cluster_ip, sp.port, bool(internal_endpoints(sp)), reject)]
        has_ext = bool(external_endpoints(sp))
        dsts += [(ip, sp.port, has_ext, reject) for ip in sp.external_ips + sp.lb_ips]
        if sp.node_port:
            dsts += [(ip, sp.node_port, has_ext, ext_reject) for ip in ctx.node_ips]
        for ip, dport, ok, rej in dsts:
            match = f"-m {proto} -p {proto} -d {ip}/32 --dport {dport}"
            if ok and port:
                add("nat", nat, f'-m comment --comment "{sp.key}" {match} -j DNAT --to-destination {proxy_ip}:{port}')
            elif not ok:
                add("filter", rej, f'-m comment --comment "{sp.key} has no endpoints" {match} -j REJECT')
    return {t: {c: tuple(r) for c, r in chains.items()} for t, chains in rules.items()}


def portal_key(sp: ServicePort) -> str:
    return f"{sp.key}/{sp.protocol}"


@dataclass
class Balancer:
    """Round-robin over the endpoints, with ClientIP affinity (upstream's LoadBalancerRR); with a
    canary split, a weighted random draw of the side first, then round-robin within it."""

    endpoints: list[Endpoint] = field(default_factory=list)
    affinity_timeout: int = 0
    canary: list[Endpoint] = field(default_factory=list)
    weight: int = 0  # % of new connections to `canary` when both sides have endpoints
    rng: random.Random = field(default_factory=random.Random)
    _next: dict[bool, int] = field(default_factory=dict)  # per side (canary?): the next index
    _affinity: dict[str, tuple[str, float]] = field(default_factory=dict)  # client ip -> (endpoint addr, last used)

    def set(self, sides: Split) -> None:
        self.endpoints, self.canary, self.weight = list(sides.stable), list(sides.canary), sides.weight

    def order(self, client_ip: str) -> list[Endpoint]:
        """The endpoints to try for a new connection, first choice first (then the rest of its
        side, then the other side: a failed connect falls back rather than failing)."""
        every = self.endpoints + self.canary
        if not every:
            return []
        now = time.monotonic()
        if self.affinity_timeout:
            hit = self._affinity.get(client_ip)
            if hit and now - hit[1] < self.affinity_timeout:
                first = next((e for e in every if e.addr == hit[0]), None)
                if first is not None:
                    return [first] + [e for e in every if e is not first]
        to_canary = bool(self.canary) and (not self.endpoints or self.rng.random() * 100 < self.weight)
        eps, other = (self.canary, self.endpoints) if to_canary else (self.endpoints, self.canary)
        i = self._next.get(to_canary, 0) % len(eps)
        self._next[to_canary] = i + 1
        return eps[i:] + eps[:i] + other

    def used(self, client_ip: str, ep: Endpoint) -> None:
        if self.affinity_timeout:
            self._affinity[client_ip] = (ep.addr, time.monotonic())


class TCPProxy:
    def __init__(self, key: str, balancer: Balancer) -> None:
        self.key = key
        self.balancer = balancer
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str) -> None:
        self.server = await asyncio.start_server(self._handle, host, 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client_ip = (writer.get_extra_info("peername") or ("",))[0]
        for ep in self.balancer.order(client_ip):
            try:
                br, bw = await asyncio.wait_for(asyncio.open_connection(ep.ip, ep.port), CONNECT_TIMEOUT)
            except (OSError, asyncio.TimeoutError) as e:
                log.info("userspace proxy %s: backend %s failed (%s), trying the next", self.key, ep.addr, e)
                continue
            self.balancer.used(client_ip, ep)
            await asyncio.gather(_pipe(reader, bw), _pipe(br, writer))
            return
        writer.close()  # no endpoint took it

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(BUFFER):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass
    finally:
        if reader.at_eof():
            writer.close()


class UDPProxy(asyncio.DatagramProtocol):
    """One relay socket per client address toward its backend; idle relays close."""

    def __init__(self, key: str, balancer: Balancer) -> None:
        self.key = key
        self.balancer = balancer
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0
        self.relays: dict[Any, tuple[asyncio.DatagramTransport, float]] = {}

    async def start(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, 0))
        self.port = self.transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        relay = self.relays.get(addr)
        if relay is not None:
            relay[0].sendto(data)
            self.relays[addr] = (relay[0], time.monotonic())
            return
        asyncio.get_running_loop().create_task(self._open(data, addr))

    async def _open(self, data: bytes, addr: Any) -> None:
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        for a, (t, last) in list(self.relays.items()):
            if now - last > UDP_IDLE:
                t.close()
                del self.relays[a]
        for ep in self.balancer.order(addr[0])[:1]:
            back = self

            class Reply(asyncio.DatagramProtocol):
                def datagram_received(self, reply: bytes, _a: Any) -> None:
                    if back.transport is not None:
                        back.transport.sendto(reply, addr)

            t, _ = await loop.create_datagram_endpoint(Reply, remote_addr=(ep.ip, ep.port))
            self.balancer.used(addr[0], ep)
            self.relays[addr] = (t, now)
            t.sendto(data)

    async def stop(self) -> None:
        for t, _ in self.relays.values():
            t.close()
        if self.transport is not None:
            self.transport.close()


class UserspaceBackend:
    name = "userspace"

    def __init__(self, ctx: ipt.Context, proxy_ip: str) -> None:
        self.ctx = ctx
        self.proxy_ip = proxy_ip
        self.proxies: dict[str, TCPProxy | UDPProxy] = {}
        self.rules = IptablesBackend(ctx, self._generate, portal_hooks)
        self.rules.name = self.name

    def _generate(self, ports: Sequence[ServicePort]) -> ipt.Ruleset:
        return portal_rules(ports, self.ctx, {k: p.port for k, p in self.proxies.items()}, self.proxy_ip)

    async def sync(self, ports: Sequence[ServicePort]) -> SyncStats:
        want = {portal_key(sp): sp for sp in ports if sp.protocol in ("TCP", "UDP")}
        for key in set(self.proxies) - set(want):
            await self.proxies.pop(key).stop()
        for key, sp in want.items():
            proxy = self.proxies.get(key)
            if proxy is None:
                bal = Balancer()
                proxy = TCPProxy(key, bal) if sp.protocol == "TCP" else UDPProxy(key, bal)
                await proxy.start(self.proxy_ip)
                self.proxies[key] = proxy
            sides = internal_split(sp) or external_split(sp)
            bal = proxy.balancer
            if (bal.endpoints, bal.canary, bal.weight) != (list(sides.stable), list(sides.canary), sides.weight):
                bal.set(sides)
            proxy.balancer.affinity_timeout = sp.affinity_timeout
        return await self.rules.sync(list(want.values()))

    async def check(self) -> None:
        await self.rules.check()

    async def cleanup(self) -> None:
        for p in self.proxies.values():
            await p.stop()
        self.proxies.clear()
        await self.rules.cleanup()
