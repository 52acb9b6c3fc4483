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
- Weighted canary traffic (kubeling's, for the Rollout controller): a Service annotated
  `rollouts.kubeling.io/canary-service: <Service in the same namespace>` and
  `rollouts.kubeling.io/canary-weight: "<0..100>"` sends that percentage of its new connections
  to the canary Service's endpoints of the matching port (`Canary`), the rest to its own. The
  split is between the two sides first, then even within each (`Split.shares`): 5 % is 5 % of
  connections with one canary pod and ten stable ones. A side without endpoints gets nothing
  (weight 0 excepted: then the canary gets nothing, whatever the stable side has).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

log = logging.getLogger("kubeling.proxy")

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
CANARY_SERVICE = "rollouts.kubeling.io/canary-service"
CANARY_WEIGHT = "rollouts.kubeling.io/canary-weight"
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
class Canary:
    """The canary side of a weighted Service port: the canary Service's matching port."""

    service: str  # the canary Service (same namespace)
    port_name: str  # its port that matched
    weight: int  # 0..100: the percentage of new connections it asks for
    endpoints: tuple[Endpoint, ...] = ()


@dataclass(frozen=True)
class Split:
    """Where the new connections of one traffic policy go: `weight` % to `canary`, the rest to
    `stable`, evenly within each. Only the sides that receive traffic are filled: weight 0 has
    no canary, weight 100 no stable."""

    stable: tuple[Endpoint, ...] = ()
    canary: tuple[Endpoint, ...] = ()
    weight: int = 0

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Every endpoint that receives new connections (each address once)."""
        seen = {e.addr: e for e in self.stable}
        return self.stable + tuple(e for e in self.canary if e.addr not in seen)

    @property
    def weighted(self) -> bool:
        """Both sides take traffic."""
        return bool(self.stable and self.canary)

    def shares(self) -> list[tuple[Endpoint, int]]:
        """Each receiving endpoint with its share of new connections, in integers: a side's
        weight divided evenly among its endpoints. 10 stable, 1 canary at 20 %: 80/10 and 20/1,
        i.e. 2 for each stable endpoint and 5 for the canary one (of 25)."""
        if not self.weighted:
            return [(e, 1) for e in self.endpoints]
        n, m = len(self.stable), len(self.canary)
        raw = [(e, (100 - self.weight) * m) for e in self.stable] + [(e, self.weight * n) for e in self.canary]
        g = math.gcd(*(s for _, s in raw))
        return [(e, s // g) for e, s in raw]

    def __bool__(self) -> bool:
        return bool(self.stable or self.canary)


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
    canary: Canary | None = None

    @property
    def key(self) -> str:
        """upstream's ServicePortName string: `ns/name:port` (`ns/name` for an unnamed port)."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.lb_ips)


def _usable(eps: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    """Ready endpoints, else serving-terminating ones (upstream: ProxyTerminatingEndpoints)."""
    eps = list(eps)
    ready = [e for e in eps if e.ready]
    return tuple(ready or [e for e in eps if e.serving and e.terminating])


def split(sp: ServicePort, local: bool = False) -> Split:
    """Who gets the new connections under the Cluster (`local` False) or Local policy."""
    stable = _usable(e for e in sp.endpoints if e.local or not local)
    if sp.canary is None or not sp.canary.weight:
        return Split(stable)
    canary = _usable(e for e in sp.canary.endpoints if e.local or not local)
    if not canary:
        return Split(stable)
    if not stable or sp.canary.weight >= 100:
        return Split((), canary, 100)
    return Split(stable, canary, sp.canary.weight)


def internal_split(sp: ServicePort) -> Split:
    """Where ClusterIP traffic goes (internalTrafficPolicy)."""
    return split(sp, sp.internal_local)


def external_split(sp: ServicePort) -> Split:
    """Where NodePort / external / load-balancer traffic goes (externalTrafficPolicy)."""
    return split(sp, sp.external_local)


def cluster_endpoints(sp: ServicePort) -> list[Endpoint]:
    """The endpoints of the Cluster policy (every node's), both sides of a canary split."""
    return list(split(sp).endpoints)


def local_endpoints(sp: ServicePort) -> list[Endpoint]:
    """The endpoints of the Local policy (this node's only)."""
    return list(split(sp, True).endpoints)


def internal_endpoints(sp: ServicePort) -> list[Endpoint]:
    return list(internal_split(sp).endpoints)


def external_endpoints(sp: ServicePort) -> list[Endpoint]:
    return list(external_split(sp).endpoints)


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


def canary_ref(svc: dict[str, Any]) -> tuple[str, int] | None:
    """The canary annotations of a Service as (canary Service name, weight); None without them.
    ValueError says what is wrong with them (they are then ignored)."""
    ann = svc["metadata"].get("annotations") or {}
    name, weight = ann.get(CANARY_SERVICE), ann.get(CANARY_WEIGHT)
    if name is None and weight is None:
        return None
    if not name:
        raise ValueError(f"{CANARY_WEIGHT} without {CANARY_SERVICE}")
    if name == svc["metadata"]["name"]:
        raise ValueError(f"{CANARY_SERVICE} names the Service itself")
    if not isinstance(weight, str) or not re.fullmatch(r"[0-9]{1,3}", weight) or int(weight) > 100:
        raise ValueError(f"{CANARY_WEIGHT} {weight!r} is not an integer 0..100")
    return name, int(weight)


def _canary_target(svc: dict[str, Any]) -> tuple[str, int] | None:
    try:
        return canary_ref(svc)
    except ValueError:
        return None


def _matching_port(p: dict[str, Any], ports: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The canary Service's port for the stable port `p`: same protocol, then the same name,
    else the same port number, else the same targetPort."""
    proto = p.get("protocol") or "TCP"
    same = [c for c in ports if (c.get("protocol") or "TCP") == proto]
    target = p.get("targetPort", p.get("port"))
    for match in (lambda c: bool(p.get("name")) and c.get("name") == p.get("name"),
                  lambda c: c.get("port") == p.get("port"),
                  lambda c: c.get("targetPort", c.get("port")) == target):
        found = next((c for c in same if match(c)), None)
        if found is not None:
            return found
    return None


def _canaries(svc: dict[str, Any], canary_svc: dict[str, Any] | None, canary_slices: list[dict[str, Any]],
              node_name: str) -> list[Canary | None]:
    """The Canary of each port of `svc` (None: all traffic stays on the Service's own endpoints).
    Logs once per derivation why the annotations are ignored."""
    ports = (svc.get("spec") or {}).get("ports") or []
    where = f"{svc['metadata'].get('namespace')}/{svc['metadata']['name']}"
    try:
        ref = canary_ref(svc)
    except ValueError as e:
        log.warning("service %s: ignoring its canary annotations: %s", where, e)
        return [None] * len(ports)
    if ref is None:
        return [None] * len(ports)
    if canary_svc is None:
        log.warning("service %s: ignoring its canary annotations: canary Service %r not found", where, ref[0])
        return [None] * len(ports)
    cports = (canary_svc.get("spec") or {}).get("ports") or []
    out: list[Canary | None] = []
    for p in ports:
        c = _matching_port(p, cports)
        if c is None:
            log.warning("service %s: canary Service %r has no port matching %s", where, ref[0],
                        p.get("name") or p.get("port"))
            out.append(None)
            continue
        eps = slice_endpoints(canary_slices, c.get("name") or "", c.get("protocol") or "TCP", node_name)
        out.append(Canary(ref[0], c.get("name") or "", ref[1], eps))
    return out


def service_ports(svc: dict[str, Any], slices: Iterable[dict[str, Any]], node_name: str,
                  lb_class_ok: bool = True, canary_svc: dict[str, Any] | None = None,
                  canary_slices: Iterable[dict[str, Any]] = ()) -> list[ServicePort]:
    """The ServicePorts of one Service (empty when the proxy does not handle it); `canary_svc`
    and its slices: the Service its canary annotations name, if it exists."""
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
    canaries = _canaries(svc, canary_svc, list(canary_slices), node_name)
    out = []
    for p, canary in zip(spec.get("ports") or [], canaries):
        proto = p.get("protocol") or "TCP"
        name = p.get("name") or ""
        out.append(ServicePort(
            namespace=meta.get("namespace", ""), name=meta["name"], port_name=name, protocol=proto,
            cluster_ip=spec["clusterIP"], port=int(p["port"]),
            node_port=int(p.get("nodePort") or 0) if typ in ("NodePort", "LoadBalancer") else 0,
            external_ips=ext_ips, lb_ips=lb_ips, affinity_timeout=affinity,
            external_local=spec.get("externalTrafficPolicy") == "Local" and typ in ("NodePort", "LoadBalancer"),
            internal_local=spec.get("internalTrafficPolicy") == "Local",
            endpoints=slice_endpoints(slices, name, proto, node_name), canary=canary))
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
    return ModelCache()(services, slices, node_name)


Inputs = tuple[dict[str, Any], "dict[str, Any] | None", list[dict[str, Any]], list[dict[str, Any]]]


def _same(a: Inputs, b: Inputs) -> bool:
    """The same objects (Service, canary Service, their slices): nothing to re-derive."""
    return a[0] is b[0] and a[1] is b[1] and all(
        len(x) == len(y) and all(p is q for p, q in zip(x, y)) for x, y in ((a[2], b[2]), (a[3], b[3])))


class ModelCache:
    """`all_service_ports` that re-derives only the Services whose object or slices changed, or
    whose canary Service or its slices did (informer caches replace an object on every update, so
    identity is the version; the memo holds the objects themselves, so an id can't be reused by
    a newer one)."""

    def __init__(self) -> None:
        self._memo: dict[str, tuple[Inputs, list[ServicePort]]] = {}

    def __call__(self, services: Iterable[dict[str, Any]], slices: Iterable[dict[str, Any]],
                 node_name: str) -> list[ServicePort]:
        by_svc = slices_by_service(slices)
        services = sorted(services, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"]))
        by_name = {f"{s['metadata'].get('namespace')}/{s['metadata']['name']}": s for s in services}
        memo: dict[str, tuple[Inputs, list[ServicePort]]] = {}
        out: list[ServicePort] = []
        for key, svc in by_name.items():
            ref = _canary_target(svc)
            ckey = f"{svc['metadata'].get('namespace')}/{ref[0]}" if ref else ""
            inputs: Inputs = (svc, by_name.get(ckey), by_svc.get(key, []), by_svc.get(ckey, []) if ref else [])
            hit = self._memo.get(key)
            if hit is not None and _same(hit[0], inputs):
                ports = hit[1]
            else:
                ports = service_ports(svc, inputs[2], node_name, canary_svc=inputs[1], canary_slices=inputs[3])
            memo[key] = (inputs, ports)
            out += ports
        self._memo = memo
        return out
