"""Cluster DNS records, pure (what CoreDNS's `kubernetes` plugin answers; the DNS spec is
kubernetes/dns docs/specification.md):

  <svc>.<ns>.svc.<domain>                A    the ClusterIP; headless: every ready endpoint
  <host>.<svc>.<ns>.svc.<domain>         A    a headless endpoint (<host>: its hostname, else its
                                              IP with dashes: 10-244-0-5)
  _<port>._<proto>.<svc>.<ns>.svc.<domain> SRV named ports (headless: one per endpoint)
  <svc>.<ns>.svc.<domain>                CNAME ExternalName Services
  a-b-c-d.<ns>.pod.<domain>              A    a.b.c.d (CoreDNS `pods insecure`)
  d.c.b.a.in-addr.arpa                   PTR  service and headless endpoint IPs

A name under the cluster domain that does not exist is NXDOMAIN; one that exists without
records of the asked type (AAAA of an IPv4 Service, a namespace) is NOERROR with no answer.
Names outside the cluster domain return None: the server forwards them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable

from dnslib import AAAA, CNAME, PTR, QTYPE, RCODE, RR, SRV, A

TTL = 30  # kubeadm's Corefile: `kubernetes cluster.local ... { ttl 30 }`
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass
class Answer:
    rcode: int = RCODE.NOERROR
    rrs: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)


@dataclass
class _Svc:
    name: str
    namespace: str
    cluster_ip: str  # "" for headless
    external_name: str
    ports: list[tuple[str, str, int]]  # (name, protocol, port) of the Service
    endpoints: list[tuple[str, str, list[tuple[str, str, int]]]] = field(default_factory=list)  # (host, ip, ports)


def _ip_ok(ip: Any) -> bool:
    try:
        ipaddress.ip_address(str(ip))
        return True
    except ValueError:
        return False


def dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


class Zone:
    """The cluster's records, indexed for lookup; rebuild with `load()` when objects change."""

    def __init__(self, domain: str = "cluster.local") -> None:
        self.domain = domain.strip(".").lower()
        self.services: dict[tuple[str, str], _Svc] = {}
        self.namespaces: set[str] = set()
        self.ptr: dict[str, str] = {}  # ip -> name

    def load(self, services: Iterable[dict[str, Any]], slices: Iterable[dict[str, Any]]) -> None:
        svcs: dict[tuple[str, str], _Svc] = {}
        for s in services:
            meta, spec = s["metadata"], s.get("spec") or {}
            ip = spec.get("clusterIP") or ""
            svcs[(meta.get("namespace", ""), meta["name"])] = _Svc(
                meta["name"], meta.get("namespace", ""), ip if _ip_ok(ip) else "",
                spec.get("externalName", "") if spec.get("type") == "ExternalName" else "",
                [(p.get("name") or "", p.get("protocol") or "TCP", int(p.get("port") or 0))
                 for p in spec.get("ports") or []])
        for sl in slices:
            key = (sl["metadata"].get("namespace", ""), (sl["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL))
            svc = svcs.get(key)  # type: ignore[arg-type]
            if svc is None or svc.cluster_ip:
                continue  # only headless Services publish their endpoints
            ports = [(p.get("name") or "", p.get("protocol") or "TCP", int(p.get("port") or 0))
                     for p in sl.get("ports") or []]
            for ep in sl.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is False:
                    continue
                for ip in ep.get("addresses") or []:
                    svc.endpoints.append(((ep.get("hostname") or dashed(ip)).lower(), ip, ports))
        self.services = svcs
        self.namespaces = {ns for ns, _ in svcs}
        self.ptr = {}
        for s in svcs.values():
            base = f"{s.name}.{s.namespace}.svc.{self.domain}"
            if s.cluster_ip:
                self.ptr[s.cluster_ip] = base
            for host, ip, _ in s.endpoints:
                self.ptr.setdefault(ip, f"{host}.{base}")

    # ---- lookup ----------------------------------------------------------------------------
    def answer(self, qname: str, qtype: int) -> Answer | None:
        """The answer for (qname, qtype), or None when the name is not ours (forward it)."""
        name = qname.rstrip(".").lower()
        if name.endswith(".in-addr.arpa") or name.endswith(".ip6.arpa"):
            return self._reverse(name, qtype)
        if name != self.domain and not name.endswith("." + self.domain):
            return None
        labels = name[: -len(self.domain)].rstrip(".").split(".") if name != self.domain else []
        if not labels:
            return Answer()
        if labels[-1] == "svc":
            return self._svc(labels[:-1], name, qtype)
        if labels[-1] == "pod" and len(labels) == 3:
            return self._pod(labels[0], labels[1], name, qtype)
        if labels[-1] == "pod" and len(labels) <= 2:
            return Answer() if len(labels) == 1 or labels[0] in self.namespaces else Answer(RCODE.NXDOMAIN)
        return Answer(RCODE.NXDOMAIN)

    def _svc(self, labels: list[str], name: str, qtype: int) -> Answer:
        if not labels:
            return Answer()  # svc.<domain>
        ns = labels[-1]
        if len(labels) == 1:
            return Answer() if ns in self.namespaces else Answer(RCODE.NXDOMAIN)
        svc = self.services.get((ns, labels[-2]))
        if svc is None:
            return Answer(RCODE.NXDOMAIN)
        rest = labels[:-2]
        base = f"{svc.name}.{svc.namespace}.svc.{self.domain}"
        if not rest:
            return self._service_records(svc, name, qtype)
        if len(rest) == 1:  # a headless endpoint by hostname
            ips = [ip for host, ip, _ in svc.endpoints if host == rest[0]]
            return _addresses(name, ips, qtype) if ips else Answer(RCODE.NXDOMAIN)
        if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
            return self._srv(svc, base, name, rest[0][1:], rest[1][1:].upper(), qtype)
        return Answer(RCODE.NXDOMAIN)

    def _service_records(self, svc: _Svc, name: str, qtype: int) -> Answer:
        if svc.external_name:
            if qtype in (QTYPE.CNAME, QTYPE.A, QTYPE.AAAA, QTYPE.ANY):
                return Answer(rrs=[RR(name, QTYPE.CNAME, rdata=CNAME(svc.external_name), ttl=TTL)])
            return Answer()
        if qtype == QTYPE.SRV:
            out = Answer()
            for pname, proto, port in svc.ports:
                if pname:
                    out.rrs += self._srv(svc, name, name, pname, proto, qtype).rrs
            return out
        ips = [svc.cluster_ip] if svc.cluster_ip else [ip for _, ip, _ in svc.endpoints]
        return _addresses(name, ips, qtype)

    def _srv(self, svc: _Svc, base: str, name: str, port_name: str, proto: str, qtype: int) -> Answer:
        if qtype not in (QTYPE.SRV, QTYPE.ANY):
            return Answer()
        if svc.cluster_ip:
            port = next((p for n, pr, p in svc.ports if n == port_name and pr == proto), None)
            if port is None:
                return Answer(RCODE.NXDOMAIN)
            return Answer(rrs=[RR(name, QTYPE.SRV, rdata=SRV(0, 100, port, base), ttl=TTL)],
                          additional=[RR(base, QTYPE.A, rdata=A(svc.cluster_ip), ttl=TTL)])
        out = Answer()
        eps = [(h, ip, p) for h, ip, ports in svc.endpoints for n, pr, p in ports if n == port_name and pr == proto]
        for host, ip, port in eps:
            target = f"{host}.{base}"
            out.rrs.append(RR(name, QTYPE.SRV, rdata=SRV(0, 100 // len(eps), port, target), ttl=TTL))
            out.additional += _addresses(target, [ip], QTYPE.A).rrs
        return out if eps else Answer(RCODE.NXDOMAIN)

    def _pod(self, ip_label: str, ns: str, name: str, qtype: int) -> Answer:
        ip = ip_label.replace("-", ".")
        if not _ip_ok(ip):
            return Answer(RCODE.NXDOMAIN)
        return _addresses(name, [ip], qtype)

    def _reverse(self, name: str, qtype: int) -> Answer | None:
        if not name.endswith(".in-addr.arpa"):
            return None
        parts = name[: -len(".in-addr.arpa")].split(".")
        if len(parts) != 4:
            return None
        ip = ".".join(reversed(parts))
        target = self.ptr.get(ip)
        if target is None:
            return None
        if qtype not in (QTYPE.PTR, QTYPE.ANY):
            return Answer()
        return Answer(rrs=[RR(name, QTYPE.PTR, rdata=PTR(target), ttl=TTL)])


def _addresses(name: str, ips: list[str], qtype: int) -> Answer:
    out = Answer()
    for ip in ips:
        v = ipaddress.ip_address(ip).version
        if v == 4 and qtype in (QTYPE.A, QTYPE.ANY):
            out.rrs.append(RR(name, QTYPE.A, rdata=A(ip), ttl=TTL))
        elif v == 6 and qtype in (QTYPE.AAAA, QTYPE.ANY):
            out.rrs.append(RR(name, QTYPE.AAAA, rdata=AAAA(ip), ttl=TTL))
    return out
