"""Service ClusterIP and NodePort allocation (upstream pkg/registry/core/service: ipallocator,
portallocator and storage/alloc.go), as an admission plugin on Services.

Allocators are in-memory maps value -> owner ("namespace/name"), rebuilt from the stored Services
the first time the plugin runs, so allocations survive a restart without a separate snapshot.
Like upstream's bitmap allocators (1.32, `NewAllocationMapWithOffset`), dynamic values come from
the upper part of the range first, leaving a low band for static requests: 10.96.0.0/12 hands out
random IPs from 10.96.1.1 up, and NodePorts come from 30086-32767 before 30000-30085.

Outcomes of writes are settled lazily: an update that allocates a value (or stops using one)
records it as pending; the next call checks the stored Service and keeps or releases the value.
That is upstream's commit/revert transaction without a commit hook (the registry's admission and
its store write happen in one event-loop step, so the next call always sees the outcome).
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from ...api import errors
from ...api.validation.field import go_strings, invalid
from ..admission import BasePlugin, Objects

if TYPE_CHECKING:
    from ...api.resources import Resource


class AllocationError(Exception):
    """ErrAllocated, ErrNotInRange or ErrFull, with upstream's text."""


def range_offset(size: int, lo: int, hi: int, step: int) -> int:
    """calculateRangeOffset: min(max(lo, size/step), hi), 0 for tiny ranges."""
    if size <= lo:
        return 0
    return max(lo, min(hi, size // step))


@dataclass
class OffsetMap:
    """allocator.AllocationMapWithOffset: values 0..size-1, owners by value, random dynamic picks
    from [offset, size) first, then [0, offset)."""

    size: int
    offset: int
    rng: random.Random = field(default_factory=random.Random)
    owners: dict[int, str] = field(default_factory=dict)

    def next_free(self) -> int | None:
        for lo, hi in ((self.offset, self.size), (0, self.offset)):
            n = hi - lo
            if n <= 0 or len(self.owners) >= self.size:
                continue
            start = self.rng.randrange(n)
            for k in range(n):
                i = lo + (start + k) % n
                if i not in self.owners:
                    return i
        return None

    def release(self, i: int, owner: str | None = None) -> None:
        if owner is None or self.owners.get(i) == owner:
            self.owners.pop(i, None)


class IPAllocator:
    """ipallocator.Range over one service CIDR (network and broadcast addresses excluded)."""

    def __init__(self, cidr: str, rng: random.Random | None = None) -> None:
        self.net = ipaddress.ip_network(cidr, strict=False)
        self.cidr = str(self.net)
        self.family = "IPv4" if self.net.version == 4 else "IPv6"
        size = self.net.num_addresses - (2 if self.net.version == 4 else 1)
        size = max(0, min(size, 1 << 16) if self.net.version == 6 else size)
        self.base = int(self.net.network_address) + 1
        self.map = OffsetMap(size, range_offset(size, 16, 256, 16), rng or random.Random())

    def _offset(self, ip: str) -> int:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            raise AllocationError(f"the provided IP ({ip}) is not in the valid range. "
                                  f"The range of valid IPs is {self.cidr}") from None
        i = int(addr) - self.base
        if addr.version != self.net.version or addr not in self.net or not 0 <= i < self.map.size:
            raise AllocationError(f"the provided IP ({ip}) is not in the valid range. "
                                  f"The range of valid IPs is {self.cidr}")
        return i

    def contains(self, ip: str) -> bool:
        try:
            self._offset(ip)
            return True
        except AllocationError:
            return False

    def has(self, ip: str) -> bool:
        return self.contains(ip) and self._offset(ip) in self.map.owners

    def owner(self, ip: str) -> str | None:
        return self.map.owners.get(self._offset(ip)) if self.contains(ip) else None

    def allocate(self, ip: str, owner: str, dry_run: bool = False) -> None:
        i = self._offset(ip)
        if i in self.map.owners:
            raise AllocationError("provided IP is already allocated")
        if not dry_run:
            self.map.owners[i] = owner

    def allocate_next(self, owner: str, dry_run: bool = False) -> str:
        i = self.map.next_free()
        if i is None:
            raise AllocationError("range is full")
        if not dry_run:
            self.map.owners[i] = owner
        return str(ipaddress.ip_address(self.base + i))

    def release(self, ip: str, owner: str | None = None) -> None:
        if self.contains(ip):
            self.map.release(self._offset(ip), owner)

    def allocated(self) -> list[str]:
        return [str(ipaddress.ip_address(self.base + i)) for i in sorted(self.map.owners)]


class PortAllocator:
    """portallocator.PortAllocator over `base-max` (inclusive), e.g. 30000-32767."""

    def __init__(self, port_range: str, rng: random.Random | None = None) -> None:
        lo, _, hi = port_range.partition("-")
        self.base, last = int(lo), int(hi or lo)
        self.spec = f"{self.base}-{last}"
        size = last - self.base + 1
        self.map = OffsetMap(size, range_offset(size, 16, 128, 32), rng or random.Random())

    def contains(self, port: int) -> bool:
        return 0 <= port - self.base < self.map.size

    def has(self, port: int) -> bool:
        return self.contains(port) and (port - self.base) in self.map.owners

    def owner(self, port: int) -> str | None:
        return self.map.owners.get(port - self.base) if self.contains(port) else None

    def allocate(self, port: int, owner: str, dry_run: bool = False) -> None:
        if not self.contains(port):
            raise AllocationError(f"provided port is not in the valid range. The range of valid ports is {self.spec}")
        if port - self.base in self.map.owners:
            raise AllocationError("provided port is already allocated")
        if not dry_run:
            self.map.owners[port - self.base] = owner

    def allocate_next(self, owner: str, dry_run: bool = False) -> int:
        i = self.map.next_free()
        if i is None:
            raise AllocationError("range is full")
        if not dry_run:
            self.map.owners[i] = owner
        return self.base + i

    def release(self, port: int, owner: str | None = None) -> None:
        if self.contains(port):
            self.map.release(port - self.base, owner)

    def allocated(self) -> list[int]:
        return [self.base + i for i in sorted(self.map.owners)]


# ---- what a Service uses ----------------------------------------------------------------------

def needs_cluster_ip(svc: dict[str, Any]) -> bool:
    return _spec(svc).get("type", "ClusterIP") != "ExternalName"


def needs_node_port(svc: dict[str, Any]) -> bool:
    return _spec(svc).get("type") in ("NodePort", "LoadBalancer")


def needs_hc_node_port(svc: dict[str, Any]) -> bool:
    spec = _spec(svc)
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _spec(svc: dict[str, Any]) -> dict[str, Any]:
    """The spec of a typed Service (api/typed.py decoded it, so it is absent or an object)."""
    return svc.get("spec") or {}


def _ports(svc: dict[str, Any]) -> list[dict[str, Any]]:
    return _spec(svc).get("ports") or []


def service_ips(svc: dict[str, Any]) -> list[str]:
    """The cluster IPs a stored Service holds (none for headless and ExternalName)."""
    if not needs_cluster_ip(svc):
        return []
    spec = _spec(svc)
    ips = [ip for ip in spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []) if ip]
    return [] if ips[:1] == ["None"] else ips


def service_node_ports(svc: dict[str, Any]) -> list[int]:
    """collectServiceNodePorts plus the health-check node port."""
    out = [p["nodePort"] for p in _ports(svc) if p.get("nodePort")]
    hc = _spec(svc).get("healthCheckNodePort")
    if hc:
        out.append(hc)
    return list(dict.fromkeys(out))


def _key(svc: dict[str, Any]) -> str:
    meta = svc.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _invalid(svc: dict[str, Any], causes: list[dict[str, str]]) -> errors.StatusError:
    return errors.invalid("Service", (svc.get("metadata") or {}).get("name", ""), "", causes)


# ---- update-time field rules (service strategy PrepareForUpdate) ------------------------------

def _same_cluster_ips(old: dict[str, Any], new: dict[str, Any]) -> bool:
    o, n = _spec(old), _spec(new)
    return o.get("clusterIP") == n.get("clusterIP") and (o.get("clusterIPs") or []) == (n.get("clusterIPs") or [])


def patch_allocated_values(new: dict[str, Any], old: dict[str, Any]) -> None:
    """patchAllocatedValues: a resubmitted manifest keeps the IPs and node ports we allocated."""
    ns, os_ = new.setdefault("spec", {}), _spec(old)
    if needs_cluster_ip(old) and needs_cluster_ip(new):
        if not ns.get("clusterIP") and os_.get("clusterIP"):
            ns["clusterIP"] = os_["clusterIP"]
        if not ns.get("clusterIPs") and os_.get("clusterIPs"):
            ns["clusterIPs"] = list(os_["clusterIPs"])
    if needs_node_port(old) and needs_node_port(new):
        used = set(p.get("nodePort") for p in _ports(old) if p.get("nodePort")) & \
            set(p.get("nodePort") for p in _ports(new) if p.get("nodePort"))
        by_name = {p.get("name", ""): p.get("nodePort") for p in _ports(old)}
        for p in _ports(new):
            if not p.get("nodePort"):
                v = by_name.get(p.get("name", ""))
                if v and v not in used:
                    p["nodePort"] = v
    if needs_hc_node_port(old) and needs_hc_node_port(new) and not ns.get("healthCheckNodePort") \
            and os_.get("healthCheckNodePort"):
        ns["healthCheckNodePort"] = os_["healthCheckNodePort"]


def normalize_cluster_ips(new: dict[str, Any], old: dict[str, Any] | None) -> None:
    """NormalizeClusterIPs: keep the singular and plural fields in step for old clients."""
    ns = new.setdefault("spec", {})
    ip, ips = ns.get("clusterIP") or "", ns.get("clusterIPs") or []
    if old is None:
        if ip and not ips:
            ns["clusterIPs"] = [ip]
        return
    os_ = _spec(old)
    if os_.get("clusterIPs") and not ips and (os_.get("clusterIP") or "") == ip:
        ns["clusterIPs"] = list(os_["clusterIPs"])
    if (os_.get("clusterIP") or "") != (ns.get("clusterIP") or ""):
        if os_.get("clusterIP") and not ns.get("clusterIP"):
            if (os_.get("clusterIPs") or []) == (ns.get("clusterIPs") or []):
                ns.pop("clusterIPs", None)
        elif (os_.get("clusterIPs") or []) == (ns.get("clusterIPs") or []):
            ns["clusterIPs"] = [ns.get("clusterIP")]


def drop_type_dependent_fields(new: dict[str, Any], old: dict[str, Any]) -> None:
    """dropTypeDependentFields: switching type wipes values we set, unless the user changed them."""
    ns, os_ = new.setdefault("spec", {}), _spec(old)
    if needs_cluster_ip(old) and not needs_cluster_ip(new):
        if _same_cluster_ips(old, new):
            ns.pop("clusterIP", None)
            ns.pop("clusterIPs", None)
        if os_.get("ipFamilies") == ns.get("ipFamilies"):
            ns.pop("ipFamilies", None)
        if os_.get("ipFamilyPolicy") == ns.get("ipFamilyPolicy"):
            ns.pop("ipFamilyPolicy", None)
    if needs_node_port(old) and not needs_node_port(new):
        if [p.get("nodePort") for p in _ports(old)] == [p.get("nodePort") for p in _ports(new)]:
            for p in _ports(new):
                p.pop("nodePort", None)
    if os_.get("type") == "LoadBalancer" and ns.get("type") != "LoadBalancer":
        if "allocateLoadBalancerNodePorts" in ns and \
                ns.get("allocateLoadBalancerNodePorts") == os_.get("allocateLoadBalancerNodePorts"):
            ns.pop("allocateLoadBalancerNodePorts", None)
        if ns.get("loadBalancerClass") == os_.get("loadBalancerClass"):
            ns.pop("loadBalancerClass", None)
    if needs_hc_node_port(old) and not needs_hc_node_port(new):
        if ns.get("healthCheckNodePort") == os_.get("healthCheckNodePort"):
            ns.pop("healthCheckNodePort", None)
    if needs_node_port(old) or os_.get("externalIPs"):
        if not (needs_node_port(new) or ns.get("externalIPs")) and \
                ns.get("externalTrafficPolicy") == os_.get("externalTrafficPolicy"):
            ns.pop("externalTrafficPolicy", None)


# ---- the plugin -------------------------------------------------------------------------------

class ServiceAllocator(BasePlugin):
    """Allocates spec.clusterIP(s) and spec.ports[*].nodePort for Services."""

    kinds = (("", "Service"),)

    def __init__(self, service_cidr: str = "10.96.0.0/12", node_port_range: str = "30000-32767",
                 rng: random.Random | None = None) -> None:
        rng = rng or random.Random()
        self.ips = IPAllocator(service_cidr, rng)
        self.ports = PortAllocator(node_port_range, rng)
        self._loaded = False
        self._pending: list[tuple[str, str | None, int | None]] = []  # (svc key, ip, port)

    # ---- state ----------------------------------------------------------------------------
    def load(self, services: Iterable[dict[str, Any]]) -> None:
        """Rebuild the maps from stored Services (upstream's repair loop, run once at start)."""
        for svc in services:
            owner = _key(svc)
            for ip in service_ips(svc):
                if self.ips.contains(ip) and not self.ips.has(ip):
                    self.ips.allocate(ip, owner)
            for port in service_node_ports(svc):
                if self.ports.contains(port) and not self.ports.has(port):
                    self.ports.allocate(port, owner)
        self._loaded = True

    def _ensure(self, registry: "Objects", res: "Resource") -> None:
        if not self._loaded:
            entries, _ = registry.store.list(res.prefix(None))
            self.load(e.obj() for e in entries)
        if self._pending:
            self._settle(registry, res)

    def _settle(self, registry: "Objects", res: "Resource") -> None:
        """Keep pending values the stored Service uses; release the others."""
        pending, self._pending = self._pending, []
        for owner, ip, port in pending:
            ns, _, name = owner.partition("/")
            entry = registry.store.get(res.key(ns, name))
            stored = entry.obj() if entry is not None else {}
            if ip is not None and ip not in service_ips(stored):
                self.ips.release(ip, owner)
            if port is not None and port not in service_node_ports(stored):
                self.ports.release(port, owner)

    # ---- hooks ----------------------------------------------------------------------------
    def admit_create(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None:
        self._ensure(registry, res)
        normalize_cluster_ips(obj, None)
        self._init_ip_families(obj)
        taken: list[tuple[str | None, int | None]] = []
        try:
            self._alloc_cluster_ips(obj, dry_run, taken)
            self._alloc_node_ports(obj, None, dry_run, taken)
        except BaseException:
            self._undo(_key(obj), taken)
            raise

    def admit_update(self, registry: "Objects", res: "Resource", old: dict[str, Any], new: dict[str, Any],
                     dry_run: bool) -> None:
        self._ensure(registry, res)
        patch_allocated_values(new, old)
        normalize_cluster_ips(new, old)
        drop_type_dependent_fields(new, old)
        self._init_ip_families(new, old)
        owner = _key(new)
        taken: list[tuple[str | None, int | None]] = []
        try:
            if not needs_cluster_ip(old) and needs_cluster_ip(new):
                self._alloc_cluster_ips(new, dry_run, taken)
            self._alloc_node_ports(new, old, dry_run, taken)
        except BaseException:
            self._undo(owner, taken)
            raise
        if dry_run:
            return
        # allocations are kept if the write lands; values the old object used are released if not
        self._pending += [(owner, ip, port) for ip, port in taken]
        self._pending += [(owner, ip, None) for ip in service_ips(old) if ip not in service_ips(new)]
        self._pending += [(owner, None, p) for p in service_node_ports(old) if p not in service_node_ports(new)]

    def after_delete(self, registry: "Objects", res: "Resource", obj: dict[str, Any]) -> None:
        self._ensure(registry, res)
        owner = _key(obj)
        for ip in service_ips(obj):
            self.ips.release(ip, owner)
        for port in service_node_ports(obj):
            self.ports.release(port, owner)

    def _undo(self, owner: str, taken: list[tuple[str | None, int | None]]) -> None:
        for ip, port in taken:
            if ip is not None:
                self.ips.release(ip, owner)
            if port is not None:
                self.ports.release(port, owner)

    # ---- cluster IPs ----------------------------------------------------------------------
    def _init_ip_families(self, svc: dict[str, Any], old: dict[str, Any] | None = None) -> None:
        """initIPFamilyFields for a single-stack cluster: policy, then families from the IPs."""
        if not needs_cluster_ip(svc):
            return
        spec = svc.setdefault("spec", {})
        if spec.get("ipFamilyPolicy") is None:
            ops = _spec(old) if old is not None else {}
            if ops.get("ipFamilyPolicy"):
                spec["ipFamilyPolicy"] = ops["ipFamilyPolicy"]
            elif spec.get("clusterIP") == "None" and not spec.get("selector"):
                spec["ipFamilyPolicy"] = "RequireDualStack"
            else:
                spec["ipFamilyPolicy"] = "SingleStack"
        causes = []
        fams = list(spec.get("ipFamilies") or [])
        for i, ip in enumerate(spec.get("clusterIPs") or []):
            if ip == "None":
                break
            try:
                fam = "IPv4" if ipaddress.ip_address(ip).version == 4 else "IPv6"
            except (ValueError, TypeError):
                return  # validation reports malformed IPs
            if i >= len(fams):
                if fam != self.ips.family:
                    causes.append(invalid(f"spec.clusterIPs[{i}]", go_strings(spec.get("clusterIPs")),
                                          f"{fam} is not configured on this cluster"))
                else:
                    fams.append(fam)
        if causes:
            raise _invalid(svc, causes)
        headless_selectorless = spec.get("clusterIP") == "None" and not spec.get("selector")
        if headless_selectorless:
            if not fams:
                fams = [self.ips.family]
            if len(fams) < 2 and spec["ipFamilyPolicy"] != "SingleStack":
                fams.append("IPv6" if fams[0] == "IPv4" else "IPv4")
            spec["ipFamilies"] = fams
            return
        if spec["ipFamilyPolicy"] == "RequireDualStack":
            causes.append(invalid("spec.ipFamilyPolicy", spec["ipFamilyPolicy"],
                                  "this cluster is not configured for dual-stack services"))
        for i, fam in enumerate(fams):
            if fam != self.ips.family:
                causes.append(invalid(f"spec.ipFamilies[{i}]", fam, "not configured on this cluster"))
        if causes:
            raise _invalid(svc, causes)
        spec["ipFamilies"] = fams or [self.ips.family]

    def _alloc_cluster_ips(self, svc: dict[str, Any], dry_run: bool,
                           taken: list[tuple[str | None, int | None]]) -> None:
        if not needs_cluster_ip(svc):
            return
        spec = svc["spec"]
        ips = list(spec.get("clusterIPs") or [])
        if ips[:1] == ["None"]:
            return
        want = ips[0] if ips else ""
        if want:
            try:
                ipaddress.ip_address(want)
            except ValueError:
                return  # validation reports it
            try:
                self.ips.allocate(want, _key(svc), dry_run)
            except AllocationError as e:
                raise _invalid(svc, [invalid("spec.clusterIPs", go_strings(ips),
                                             f"failed to allocate IP {want}: {e}")]) from None
            ip = want
        else:
            try:
                ip = self.ips.allocate_next(_key(svc), dry_run)
            except AllocationError as e:
                raise errors.internal(f"failed to allocate a serviceIP: {e}") from None
        if not dry_run:
            taken.append((ip, None))
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip, *ips[1:]]

    # ---- node ports -----------------------------------------------------------------------
    def _alloc_node_ports(self, svc: dict[str, Any], old: dict[str, Any] | None, dry_run: bool,
                          taken: list[tuple[str | None, int | None]]) -> None:
        """initNodePorts (create) / updateNodePorts (update), plus the health-check node port."""
        owner = _key(svc)
        spec = svc["spec"]
        old_ports = set(service_node_ports(old)) if old is not None else set()

        def grab(port: int, i: int | None) -> None:
            if port in old_ports or port in mine:
                return
            try:
                self.ports.allocate(port, owner, dry_run)
            except AllocationError as e:
                fld = f"spec.ports[{i}].nodePort" if i is not None else "spec.healthCheckNodePort"
                raise _invalid(svc, [invalid(fld, port, str(e))]) from None
            mine.add(port)
            if not dry_run:
                taken.append((None, port))

        def grab_next() -> int:
            try:
                port = self.ports.allocate_next(owner, dry_run)
            except AllocationError as e:
                raise errors.internal(f"failed to allocate a nodePort: {e}") from None
            mine.add(port)
            if not dry_run:
                taken.append((None, port))
            return port

        mine: set[int] = set()
        if needs_node_port(svc):
            allocate_new = spec.get("type") == "NodePort" or spec.get("allocateLoadBalancerNodePorts") is not False
            by_port: dict[Any, int] = {}
            ports = _ports(svc)
            for i, p in enumerate(ports):
                np = p.get("nodePort") or 0
                if not np and not allocate_new:
                    continue
                if old is None:
                    # the same service port on two protocols shares one node port
                    shared = by_port.get(p.get("port"))
                    if shared is None:
                        np = np or next((q.get("nodePort") for q in ports[i:] if q.get("port") == p.get("port")
                                         and q.get("nodePort")), 0)
                        if np:
                            grab(np, i)
                        else:
                            np = grab_next()
                        by_port[p.get("port")] = np
                    elif np and np != shared:
                        grab(np, i)
                    else:
                        np = shared
                elif np:
                    grab(np, i)
                else:
                    np = grab_next()
                p["nodePort"] = np
        if needs_hc_node_port(svc):
            hc = spec.get("healthCheckNodePort") or 0
            if hc:
                grab(hc, None)
            else:
                spec["healthCheckNodePort"] = grab_next()
