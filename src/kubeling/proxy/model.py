"""What the proxy forwards, as plain values: Services + EndpointSlices → `ServicePort`s (upstream
pkg/proxy servicechangetracker/endpointschangetracker and topology.go's CategorizeEndpoints).

Pure functions, no I/O: every backend (iptables, nftables, userspace) renders the same list, and
the unit tests build it from plain dicts.

- One `ServicePort` per (Service, port) that the proxy handles: headless Services (clusterIP
  None) and ExternalName Services bypass the proxy; IPv4 only.
- Endpoints come from the Service's EndpointSlices (label `kubernetes.io/service-name`), matched
  to the Service port by port name and protocol; an address listed twice counts once.
- Which endpoints receive new connections (`cluster_endpoints`, `local_endpoints`): the ready
  ones; when none is ready, the serving-and-terminating ones (upstream's terminating-endpoint
  fallback, so a rolling update never blackholes a Service whose pods all terminate).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_AFFINITY_TIMEOUT = 10800  # sessionAffinityConfig.clientIP.timeoutSeconds default (3 h)


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    local: bool = True  # on this node (nodeName matches)

    @property
    def addr(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # TCP | UDP | SCTP
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()  # spec.externalIPs
    lb_ips: tuple[str, ...] = ()  # status.loadBalancer.ingress[].ip
    affinity_timeout: int = 0  # seconds of sessionAffinity ClientIP; 0 = no affinity
    external_local: bool = False  # externalTrafficPolicy Local
    internal_local: bool = False  # internalTrafficPolicy Local
    endpoints: tuple[Endpoint, ...] = field(default=())

    @property
    def key(self) -> str:
        """upstream's ServicePortName string: `ns/name:port` (`ns/name` for an unnamed port)."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.lb_ips)


def _usable(eps: Iterable[Endpoint]) -> list[Endpoint]:
    """Ready endpoints, else serving-terminating ones (upstream: ProxyTerminatingEndpoints)."""
    eps = list(eps)
    ready = [e for e in eps if e.ready]
    return ready or [e for e in eps if e.serving and e.terminating]


def cluster_endpoints(sp: ServicePort) -> list[Endpoint]:
    """The endpoints of the Cluster policy (every node's)."""
    return _usable(sp.endpoints)


def local_endpoints(sp: ServicePort) -> list[Endpoint]:
    """The endpoints of the Local policy (this node's only)."""
    return _usable(e for e in sp.endpoints if e.local)


def internal_endpoints(sp: ServicePort) -> list[Endpoint]:
    """Where ClusterIP traffic goes (internalTrafficPolicy)."""
    return local_endpoints(sp) if sp.internal_local else cluster_endpoints(sp)


def external_endpoints(sp: ServicePort) -> list[Endpoint]:
    """Where NodePort / external / load-balancer traffic goes (externalTrafficPolicy)."""
    return local_endpoints(sp) if sp.external_local else cluster_endpoints(sp)


def _is_ipv4(ip: Any) -> bool:
    try:
        return ipaddress.ip_address(str(ip)).version == 4
    except ValueError:
        return False


def proxied(svc: dict[str, Any]) -> bool:
    """Does the proxy handle this Service (not headless, not ExternalName, has an IPv4 ClusterIP)?"""
    spec = svc.get("spec") or {}
    return spec.get("type") != "ExternalName" and _is_ipv4(spec.get("clusterIP"))


def slice_endpoints(slices: Iterable[dict[str, Any]], port_name: str, protocol: str,
                    node_name: str) -> tuple[Endpoint, ...]:
    """The endpoints of one Service port across its slices, deduplicated, in a stable order."""
    seen: dict[str, Endpoint] = {}
    for sl in slices:
        if sl.get("addressType", "IPv4") != "IPv4":
            continue
        port = next((p.get("port") for p in sl.get("ports") or []
                     if (p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol), None)
        if not port:
            continue
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            ready = cond.get("ready") is not False  # nil means ready
            serving = cond["serving"] if cond.get("serving") is not None else ready
            terminating = bool(cond.get("terminating"))
            node = ep.get("nodeName")
            for ip in (ep.get("addresses") or [])[:1]:
                if not _is_ipv4(ip):
                    continue
                e = Endpoint(ip, int(port), ready, serving, terminating, local=not node or node == node_name)
                if f"{ip}:{port}" not in seen or (e.ready and not seen[f"{ip}:{port}"].ready):
                    seen[f"{ip}:{port}"] = e
    return tuple(sorted(seen.values(), key=lambda e: (ipaddress.ip_address(e.ip), e.port)))


def service_ports(svc: dict[str, Any], slices: Iterable[dict[str, Any]], node_name: str,
                  lb_class_ok: bool = True) -> list[ServicePort]:
    """The ServicePorts of one Service (empty when the proxy does not handle it)."""
    if not proxied(svc):
        return []
    meta, spec = svc["metadata"], svc.get("spec") or {}
    slices = list(slices)
    typ = spec.get("type") or "ClusterIP"
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
        affinity = int(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)
    ext_ips = tuple(ip for ip in spec.get("externalIPs") or [] if _is_ipv4(ip))
    lb_ips: tuple[str, ...] = ()
    if typ == "LoadBalancer" and lb_class_ok:
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        lb_ips = tuple(i["ip"] for i in ingress if _is_ipv4(i.get("ip")))
    out = []
    for p in spec.get("ports") or []:
        proto = p.get("protocol") or "TCP"
        name = p.get("name") or ""
        out.append(ServicePort(
            namespace=meta.get("namespace", ""), name=meta["name"], port_name=name, protocol=proto,
            cluster_ip=spec["clusterIP"], port=int(p["port"]),
            node_port=int(p.get("nodePort") or 0) if typ in ("NodePort", "LoadBalancer") else 0,
            external_ips=ext_ips, lb_ips=lb_ips, affinity_timeout=affinity,
            external_local=spec.get("externalTrafficPolicy") == "Local" and typ in ("NodePort", "LoadBalancer"),
            internal_local=spec.get("internalTrafficPolicy") == "Local",
            endpoints=slice_endpoints(slices, name, proto, node_name)))
    return out


def slices_by_service(slices: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """`ns/name` of the owning Service → its slices."""
    out: dict[str, list[dict[str, Any]]] = {}
    for sl in slices:
        svc = (sl["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
        if svc:
            out.setdefault(f"{sl['metadata'].get('namespace')}/{svc}", []).append(sl)
    return out


def all_service_ports(services: Iterable[dict[str, Any]], slices: Iterable[dict[str, Any]],
                      node_name: str) -> list[ServicePort]:
    """Every ServicePort of the cluster, in a stable order (namespace, name, port)."""
    by_svc = slices_by_service(slices)
    out: list[ServicePort] = []
    for svc in sorted(services, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
        key = f"{svc['metadata'].get('namespace')}/{svc['metadata']['name']}"
        out += service_ports(svc, by_svc.get(key, ()), node_name)
    return out


class ModelCache:
    """`all_service_ports` that re-derives only the Services whose object or slices changed
    (informer caches replace an object on every update, so identity is the version; the memo
    holds the objects themselves, so an id can't be reused by a newer one)."""

    def __init__(self) -> None:
        self._memo: dict[str, tuple[dict[str, Any], list[dict[str, Any]], list[ServicePort]]] = {}

    def __call__(self, services: Iterable[dict[str, Any]], slices: Iterable[dict[str, Any]],
                 node_name: str) -> list[ServicePort]:
        by_svc = slices_by_service(slices)
        memo: dict[str, tuple[dict[str, Any], list[dict[str, Any]], list[ServicePort]]] = {}
        out: list[ServicePort] = []
        for svc in sorted(services, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
            key = f"{svc['metadata'].get('namespace')}/{svc['metadata']['name']}"
            sls = by_svc.get(key, [])
            hit = self._memo.get(key)
            if hit is not None and hit[0] is svc and len(hit[1]) == len(sls) and \
                    all(a is b for a, b in zip(hit[1], sls)):
                ports = hit[2]
            else:
                ports = service_ports(svc, sls, node_name)
            memo[key] = (svc, sls, ports)
            out += ports
        self._memo = memo
        return out
