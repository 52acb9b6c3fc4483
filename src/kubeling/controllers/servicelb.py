"""The built-in load balancer (like k3s's ServiceLB, or MetalLB in L2 mode): Services of type
LoadBalancer get `status.loadBalancer.ingress`, so `kubectl get svc` shows an EXTERNAL-IP instead
of `<pending>`, and kube-proxy forwards that address:port to the endpoints (proxy/model.py reads
the ingress IPs).

- Default (no pool): the InternalIPs of the real nodes, shared by every LoadBalancer Service, as
  k3s's ServiceLB does.
- `--lb-pool` (`10.0.0.10-10.0.0.20`, a CIDR, or IPs, comma-separated): one address per Service,
  kept while it stays in the pool, else the lowest free one; a Service without a free address
  stays `<pending>`.
- A Service with `spec.loadBalancerClass` belongs to another implementation: left alone.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
from typing import Any, Iterable

from ..api import errors
from ..api.resources import lookup
from ..client.controller import Controller
from ..client.informer import object_key, shared_informer, split_key
from ..client.rest import Client

log = logging.getLogger("kubeling.servicelb")

SERVICES = lookup("", "v1", "services")
NODES = lookup("", "v1", "nodes")
assert SERVICES is not None and NODES is not None
SIMULATED_LABEL = "node.kubeling.io/simulated"


def parse_pool(spec: str) -> list[str]:
    """`a-b` ranges, CIDRs (without network/broadcast for prefixes < 31) and single IPs."""
    out: list[str] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if "-" in part:
            lo, hi = (ipaddress.ip_address(x.strip()) for x in part.split("-", 1))
            if hi < lo:
                raise ValueError(f"bad address range {part!r}")
            out += [str(ipaddress.ip_address(i)) for i in range(int(lo), int(hi) + 1)]
        elif "/" in part:
            net = ipaddress.ip_network(part, strict=False)
            out += [str(ip) for ip in (net.hosts() if net.prefixlen < 31 else net)]
        else:
            out.append(str(ipaddress.ip_address(part)))
    return list(dict.fromkeys(out))


def is_ours(svc: dict[str, Any]) -> bool:
    spec = svc.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def current_ips(svc: dict[str, Any]) -> list[str]:
    return [i.get("ip") for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if i.get("ip")]


def want_ips(svc: dict[str, Any], pool: list[str], node_ips: list[str], others: Iterable[dict[str, Any]]) -> list[str]:
    """The ingress IPs this Service should have; `others`: the rest of the cluster's Services."""
    if not is_ours(svc):
        return []
    if not pool:
        return list(node_ips)
    taken = {ip for o in others if is_ours(o) for ip in current_ips(o)}
    keep = [ip for ip in current_ips(svc) if ip in pool and ip not in taken]
    if keep:
        return keep[:1]
    free = next((ip for ip in pool if ip not in taken), None)
    return [free] if free else []


def node_addresses(nodes: Iterable[dict[str, Any]]) -> list[str]:
    """InternalIPs of the real nodes, sorted by node name."""
    out = []
    for n in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        if (n["metadata"].get("labels") or {}).get(SIMULATED_LABEL) == "true":
            continue
        out += [a["address"] for a in (n.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"]
    return out


class ServiceLBController(Controller):
    def __init__(self, client: Client, pool: str = "") -> None:
        super().__init__("service-lb")
        self.client = client
        self.pool = parse_pool(pool)
        self.services = self.watch(shared_informer(client, SERVICES), self._enqueue,
                                   lambda _o, n: self._enqueue(n), self._released)
        self.nodes = self.watch(shared_informer(client, NODES), self._all, lambda _o, _n: self._all(None), self._all)
        self.queue = self.add_queue("service-lb", self.reconcile)

    def _enqueue(self, svc: dict[str, Any]) -> None:
        if is_ours(svc) or current_ips(svc):
            self.queue.add(object_key(svc))

    def _released(self, svc: dict[str, Any]) -> None:
        """A deleted Service frees its address: pending ones may get it now."""
        if is_ours(svc) and self.pool:
            self._all(None)

    def _all(self, _obj: Any) -> None:
        for s in self.services.list():
            self._enqueue(s)

    async def reconcile(self, key: Any) -> None:
        ns, name = split_key(key)
        svc = self.services.get(ns, name)
        if svc is None:
            return
        if (svc.get("spec") or {}).get("loadBalancerClass"):
            return  # another implementation's
        others = (o for k, o in self.services.cache.items() if k != key)  # read only with a pool
        want = want_ips(svc, self.pool, node_addresses(self.nodes.list()), others)
        if want == current_ips(svc):
            return
        new = copy.deepcopy(svc)
        new.setdefault("status", {})["loadBalancer"] = \
            {"ingress": [{"ip": ip, "ipMode": "VIP"} for ip in want]} if want else {}
        try:
            await self.client.update_status(SERVICES, new)
        except errors.StatusError as e:
            if e.code == 404:
                return
            raise  # a conflict: retried with the informer's newer copy
        log.info("service %s: load-balancer ingress %s", key, ", ".join(want) or "<pending>")
