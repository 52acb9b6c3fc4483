"""The cluster DNS server (what CoreDNS is in a kubeadm or k3s cluster), run by the node.

- Answers the cluster domain from the shared informers of Services and EndpointSlices
  (records.py; the zone is rebuilt lazily, on the first query after a change).
- Forwards every other name to the upstream resolvers (default: the nameservers of the host's
  /etc/resolv.conf), one after the other with a short timeout each; SERVFAIL when none answers,
  so a pod's lookup fails fast instead of hanging.
- Listens on UDP and TCP port 53 of the node's address, and publishes itself as the Service
  `kube-system/kube-dns` (ClusterIP: the 10th address of the service CIDR, as kubeadm and k3s
  choose) with its Endpoints/EndpointSlice pointing at that address: kube-proxy carries pods'
  queries to 10.96.0.10:53 here.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any

from dnslib import RCODE, DNSRecord

from ..api.resources import lookup
from ..client.controller import Controller
from ..client.informer import shared_informer
from ..client.published import PublishedService, published_endpoints, published_slice
from ..client.rest import Client
from ..resolvconf import parse_resolv_conf
from .records import Zone

log = logging.getLogger("kubeling.dns")

SERVICES = lookup("", "v1", "services")
SLICES = lookup("discovery.k8s.io", "v1", "endpointslices")
assert SERVICES is not None and SLICES is not None
NAME, NAMESPACE = "kube-dns", "kube-system"
FORWARD_TIMEOUT = 2.0


def parse_upstream(s: str) -> tuple[str, int]:
    """`1.2.3.4`, `1.2.3.4:5353`, `[::1]:53` → (host, port)."""
    if s.startswith("["):
        host, _, port = s[1:].partition("]")
        return host, int(port.lstrip(":") or 53)
    if s.count(":") == 1:
        host, port = s.split(":")
        return host, int(port)
    return s, 53


def host_upstreams(path: str = "/etc/resolv.conf") -> list[str]:
    try:
        with open(path) as f:
            return parse_resolv_conf(f.read())["servers"]
    except OSError:
        return []


def kube_dns_service(dns_ip: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                    "kubernetes.io/name": "kubeling-dns"}},
            "spec": {"type": "ClusterIP", "clusterIP": dns_ip,
                     "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                               {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}}


def kube_dns_static_pod(port: int, image: str) -> dict[str, Any]:
    """What the node runs in-process, as a static pod (kubelet/mirror.py shows it in the API).

    Labelled `k8s-app: kube-dns` like kubeadm's and k3s's DNS pods (so `-l k8s-app=kube-dns`
    finds it); the Service stays selector-less, its endpoints written by `publisher`."""
    ports = [{"name": "dns", "containerPort": port, "protocol": "UDP"},
             {"name": "dns-tcp", "containerPort": port, "protocol": "TCP"}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"k8s-app": "kube-dns"}},
            "spec": {"hostNetwork": True, "dnsPolicy": "Default", "priorityClassName": "system-cluster-critical",
                     "containers": [{"name": NAME, "image": image, "ports": ports}]}}


def publisher(client: Client, dns_ip: str, node_ip: str, port: int) -> PublishedService:
    ports = [{"name": "dns", "port": port, "protocol": "UDP"}, {"name": "dns-tcp", "port": port, "protocol": "TCP"}]
    return PublishedService(client, kube_dns_service(dns_ip), published_endpoints(NAMESPACE, NAME, node_ip, ports),
                            published_slice(NAMESPACE, NAME, node_ip, ports), name="kube-dns-endpoints")


class _Forwarder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


class ClusterDNS(Controller):
    def __init__(self, client: Client, listen: str, upstreams: list[str], domain: str = "cluster.local",
                 port: int = 53, timeout: float = FORWARD_TIMEOUT) -> None:
        super().__init__("cluster-dns")
        self.client = client
        self.listen = listen
        self.port = port
        self.upstreams = [parse_upstream(u) for u in upstreams]
        self.timeout = timeout
        self.zone = Zone(domain)
        self._stale = True
        self.listening = asyncio.Event()  # its mirror pod says Running only once it serves
        changed = lambda _o, _n: self._changed(None)  # noqa: E731
        self.services = self.watch(shared_informer(client, SERVICES), self._changed, changed, self._changed)
        self.slices = self.watch(shared_informer(client, SLICES), self._changed, changed, self._changed)
        self.add_task("listen", self._serve)

    def _changed(self, _obj: Any) -> None:
        self._stale = True

    def _zone(self) -> Zone:
        if self._stale:
            self._stale = False
            self.zone.load(self.services.list(), self.slices.list())
        return self.zone

    async def resolve(self, data: bytes) -> bytes | None:
        """One query's reply (None for garbage we can't even answer)."""
        try:
            req = DNSRecord.parse(data)
        except Exception:
            return None
        if not req.questions:
            return req.reply(ra=1).pack()
        q = req.questions[0]
        ans = self._zone().answer(str(q.qname), q.qtype)
        if ans is None:
            return await self.forward(req, data)
        reply = req.reply(ra=1, aa=1)
        reply.header.rcode = ans.rcode
        for rr in ans.rrs:
            reply.add_answer(rr)
        for rr in ans.additional:
            reply.add_ar(rr)
        return reply.pack()

    async def forward(self, req: DNSRecord, data: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        for host, port in self.upstreams:
            if (host, port) == (self.listen, self.port):
                continue  # never to ourselves
            try:
                transport, proto = await loop.create_datagram_endpoint(_Forwarder, remote_addr=(host, port))
            except OSError:
                continue
            try:
                transport.sendto(data)
                return await asyncio.wait_for(proto.reply, self.timeout)
            except (asyncio.TimeoutError, OSError):
                log.info("upstream resolver %s:%d did not answer %s", host, port, req.q.qname)
            finally:
                transport.close()
        fail = req.reply(ra=1)
        fail.header.rcode = RCODE.SERVFAIL
        return fail.pack()

    # ---- listeners -------------------------------------------------------------------------
    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            udp, _ = await loop.create_datagram_endpoint(lambda: _UDP(self), local_addr=(self.listen, self.port))
        except OSError as e:
            log.error("cluster DNS: cannot listen on %s:%d (%s); pods can't resolve names", self.listen, self.port, e)
            return
        try:
            tcp = await asyncio.start_server(self._tcp, self.listen, self.port)
        except BaseException:
            udp.close()
            raise
        self.listening.set()
        log.info("cluster DNS listening on %s:%d (forwarding to %s)", self.listen, self.port,
                 ", ".join(f"{h}:{p}" for h, p in self.upstreams) or "nothing")
        try:
            await asyncio.Event().wait()
        finally:
            udp.close()
            tcp.close()

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                n = struct.unpack("!H", await reader.readexactly(2))[0]
                reply = await self.resolve(await reader.readexactly(n))
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: ClusterDNS) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        asyncio.get_running_loop().create_task(self._answer(data, addr))

    async def _answer(self, data: bytes, addr: Any) -> None:
        reply = await self.server.resolve(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


__all__ = ["ClusterDNS", "host_upstreams", "parse_upstream", "publisher"]
