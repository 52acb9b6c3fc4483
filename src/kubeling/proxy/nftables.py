"""nftables mode (upstream pkg/proxy/nftables/proxier.go's layout), pure: ServicePorts → an
`nft -f` script, and the partial-sync diff; `NftablesBackend` applies it.

One table per cluster, `ip kubeling-<owner6>` (upstream's is `ip kube-proxy`), commented with the
node's `kubeling:<bridge>:<owner>`. Lookups are verdict maps keyed by (ip . protocol . port), so
the cost per packet does not grow with the number of Services:

  services                `ip daddr . meta l4proto . th dport vmap @service-ips`, then node ports:
                          `ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports`
  service-<H>-ns/svc/proto/port  masquerade from outside the cluster CIDR, affinity checks, then
                          `numgen random mod N vmap { 0 : goto endpoint-…, … }`
  endpoint-<H>-…__ip/port hairpin masquerade, affinity update, `dnat to ip:port`
  external-<H>-…          external traffic (node ports, external and load-balancer IPs)
  local-<H>-…             this node's endpoints (traffic policy Local)
                          A canary-weighted service (model.Split) maps ranges of the number to
                          the endpoints of both sides by their shares: 10 stable endpoints and one
                          canary at 20 %: `numgen random mod 25 vmap { 0-1 : …, …, 20-24 : canary }`
  no-endpoint-services / no-endpoint-nodeports  vmaps → reject (checked in filter hooks)

Node ports answer on the node IP only: upstream's nftables mode does not do localhost node ports.
Partial sync: one transaction that adds new chains, flushes and refills changed ones, updates
map elements and deletes what went away; the first sync replaces the whole table atomically.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Sequence

from .iptables import Context
from .model import Endpoint, ServicePort, Split, external_split, internal_split, split

MASQ_MARK = "0x4000"
MAPS = ("service-ips", "service-nodeports", "no-endpoint-services", "no-endpoint-nodeports")


def table_name(ctx: Context) -> str:
    return f"kubeling-{ctx.sfx}"


def _hash(*parts: str) -> str:
    return base64.b32encode(hashlib.sha256("".join(parts).encode()).digest()).decode()[:8]


def _base(sp: ServicePort) -> str:
    """upstream servicePortChainNameBase: `ns/svc/proto/port-name` (hash first)."""
    name = f"{sp.namespace}/{sp.name}/{sp.protocol.lower()}/{sp.port_name}"
    return f"{_hash(sp.key, sp.protocol)}-{name}"


def svc_chain(sp: ServicePort) -> str:
    return f"service-{_base(sp)}"


def local_chain(sp: ServicePort) -> str:
    return f"local-{_base(sp)}"


def ext_chain(sp: ServicePort) -> str:
    return f"external-{_base(sp)}"


def ep_chain(sp: ServicePort, ep: Endpoint) -> str:
    return f"endpoint-{_hash(sp.key, sp.protocol, ep.addr)}-{sp.namespace}/{sp.name}/{sp.protocol.lower()}/" \
           f"{sp.port_name}__{ep.ip}/{ep.port}"


def affinity_set(sp: ServicePort, ep: Endpoint) -> str:
    return f"affinity-{_hash(sp.key, sp.protocol, ep.addr)}-{sp.namespace}/{sp.name}/{sp.protocol.lower()}/" \
           f"{sp.port_name}__{ep.ip}/{ep.port}"


@dataclass
class State:
    """The per-Service part of the table (the static skeleton is the same for every sync)."""

    chains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)  # affinity sets: name -> declaration body
    elements: dict[str, dict[str, str]] = field(default_factory=lambda: {m: {} for m in MAPS})

    def rule_count(self) -> int:
        return sum(len(r) for r in self.chains.values()) + sum(len(e) for e in self.elements.values())


def static_script(ctx: Context, node_ips: Sequence[str]) -> list[str]:
    """The table's skeleton: base chains on the hooks, masquerading, the maps and dispatch chains."""
    t = f"ip {table_name(ctx)}"
    ips = ", ".join(node_ips)
    lines = [f'add table {t} {{ comment "{ctx.tag} kube-proxy" ; }}']
    for name, typ, hook, prio in (("nat-prerouting", "nat", "prerouting", "-100"),
                                  ("nat-output", "nat", "output", "-100"),
                                  ("nat-postrouting", "nat", "postrouting", "100"),
                                  ("filter-input", "filter", "input", "-10"),
                                  ("filter-forward", "filter", "forward", "-10"),
                                  ("filter-output", "filter", "output", "-10")):
        lines.append(f"add chain {t} {name} {{ type {typ} hook {hook} priority {prio} ; }}")
    for chain in ("mark-for-masquerade", "masquerading", "services", "service-endpoints-check",
                  "nodeport-endpoints-check", "reject-chain"):
        lines.append(f"add chain {t} {chain}")
    lines += [
        f"add map {t} service-ips {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}",
        f"add map {t} service-nodeports {{ type inet_proto . inet_service : verdict ; }}",
        f"add map {t} no-endpoint-services {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}",
        f"add map {t} no-endpoint-nodeports {{ type inet_proto . inet_service : verdict ; }}",
        f"add set {t} nodeport-ips {{ type ipv4_addr ; }}",
    ]
    if ips:
        lines.append(f"add element {t} nodeport-ips {{ {ips} }}")
    lines += [
        f"add rule {t} nat-prerouting jump services",
        f"add rule {t} nat-output jump services",
        f"add rule {t} nat-postrouting jump masquerading",
        f"add rule {t} filter-input ct state new jump nodeport-endpoints-check",
        f"add rule {t} filter-input ct state new jump service-endpoints-check",
        f"add rule {t} filter-forward ct state new jump service-endpoints-check",
        f"add rule {t} filter-output ct state new jump service-endpoints-check",
        f"add rule {t} mark-for-masquerade mark set mark or {MASQ_MARK}",
        f"add rule {t} masquerading mark and {MASQ_MARK} == 0 return",
        f"add rule {t} masquerading mark set mark xor {MASQ_MARK}",
        f"add rule {t} masquerading masquerade fully-random",
        f"add rule {t} services ip daddr . meta l4proto . th dport vmap @service-ips",
        f"add rule {t} services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
        f"add rule {t} service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
        f"add rule {t} nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap "
        f"@no-endpoint-nodeports",
        f"add rule {t} reject-chain reject",
    ]
    return lines


def _q(name: str) -> str:
    return name


def _pick(sp: ServicePort, sides: Split) -> str:
    """The rule that picks an endpoint by its share: equal ones `numgen random mod n vmap
    { 0 : …, 1 : … }` (upstream's), unequal ones (a canary split) ranges of the number."""
    shares = sides.shares()
    if len(shares) == 1:
        return f"goto {_q(ep_chain(sp, shares[0][0]))}"
    arms, at = [], 0
    for ep, share in shares:
        key = f"{at}" if share == 1 else f"{at}-{at + share - 1}"
        arms.append(f"{key} : goto {_q(ep_chain(sp, ep))}")
        at += share
    return f"numgen random mod {at} vmap {{ {' , '.join(arms)} }}"


def _spread(st: State, chain: str, sp: ServicePort, sides: Split, first: tuple[str, ...] = ()) -> None:
    rules = list(first)
    if sp.affinity_timeout:
        rules += [f"ip saddr @{_q(affinity_set(sp, e))} goto {_q(ep_chain(sp, e))}" for e in sides.endpoints]
    rules.append(_pick(sp, sides))
    st.chains[chain] = tuple(rules)


def _service_port(st: State, sp: ServicePort, ctx: Context) -> None:
    proto = sp.protocol.lower()
    internal, external = internal_split(sp), external_split(sp)
    cluster, local = split(sp), split(sp, True)
    svc, loc, ext = svc_chain(sp), local_chain(sp), ext_chain(sp)
    ips, np_, nes, nen = (st.elements[m] for m in MAPS)
    key = f"{sp.cluster_ip} . {proto} . {sp.port}"
    if internal:
        ips[key] = f"goto {_q(loc if sp.internal_local else svc)}"
    else:
        nes[key] = "drop" if sp.internal_local and cluster else "goto reject-chain"
    ext_used = bool(external) and sp.externally_accessible
    for ip in sp.external_ips + sp.lb_ips:
        k = f"{ip} . {proto} . {sp.port}"
        if ext_used:
            ips[k] = f"goto {_q(ext)}"
        else:
            nes[k] = "goto reject-chain"
    if sp.node_port:
        k = f"{proto} . {sp.node_port}"
        if ext_used:
            np_[k] = f"goto {_q(ext)}"
        else:
            nen[k] = "goto reject-chain"
    if ext_used:
        if sp.external_local:
            st.chains[ext] = (f"ip saddr {ctx.cluster_cidr} goto {_q(svc)}",
                              "fib saddr type local jump mark-for-masquerade",
                              f"fib saddr type local goto {_q(svc)}", f"goto {_q(loc)}")
        else:
            st.chains[ext] = ("jump mark-for-masquerade", f"goto {_q(svc)}")
    used: dict[str, Endpoint] = {}
    if (internal and not sp.internal_local) or ext_used:
        masq = (f"ip daddr {sp.cluster_ip} {proto} dport {sp.port} ip saddr != {ctx.cluster_cidr} "
                "jump mark-for-masquerade")
        _spread(st, svc, sp, cluster, first=(masq,))
        used.update((e.addr, e) for e in cluster.endpoints)
    if local and ((internal and sp.internal_local) or (ext_used and sp.external_local)):
        _spread(st, loc, sp, local)
        used.update((e.addr, e) for e in local.endpoints)
    for ep in used.values():
        rules = [f"ip saddr {ep.ip} jump mark-for-masquerade"]
        if sp.affinity_timeout:
            aff = affinity_set(sp, ep)
            st.sets[aff] = f"type ipv4_addr ; flags dynamic,timeout ; timeout {sp.affinity_timeout}s ;"
            rules.append(f"update @{_q(aff)} {{ ip saddr }}")
        rules.append(f"meta l4proto {proto} dnat to {ep.addr}")
        st.chains[ep_chain(sp, ep)] = tuple(rules)


class Generator:
    """`generate` with a memo per ServicePort (see iptables.Generator)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._memo: dict[ServicePort, State] = {}

    def __call__(self, ports: Sequence[ServicePort]) -> State:
        st = State()
        memo: dict[ServicePort, State] = {}
        for sp in ports:
            one = self._memo.get(sp)
            if one is None:
                one = State()
                _service_port(one, sp, self.ctx)
            memo[sp] = one
            st.chains.update(one.chains)
            st.sets.update(one.sets)
            for m in MAPS:
                st.elements[m].update(one.elements[m])
        self._memo = memo
        return st


def generate(ports: Sequence[ServicePort], ctx: Context) -> State:
    return Generator(ctx)(ports)


def script(desired: State, applied: State | None, ctx: Context, node_ips: Sequence[str]) -> str:
    """One `nft -f` transaction from `applied` (None: replace the whole table) to `desired`."""
    t = f"ip {table_name(ctx)}"
    lines: list[str] = []
    if applied is None:
        lines += [f"add table {t}", f"delete table {t}"] + static_script(ctx, node_ips)
        applied = State()
    new_chains = [c for c in desired.chains if c not in applied.chains]
    changed = [c for c in desired.chains if c in applied.chains and applied.chains[c] != desired.chains[c]]
    gone_chains = [c for c in applied.chains if c not in desired.chains]
    new_sets = [s for s in desired.sets if s not in applied.sets]
    gone_sets = [s for s in applied.sets if s not in desired.sets]
    lines += [f"add chain {t} {_q(c)}" for c in new_chains]
    lines += [f"add set {t} {_q(s)} {{ {desired.sets[s]} }}" for s in new_sets]
    lines += [f"flush chain {t} {_q(c)}" for c in changed + gone_chains]
    for m in MAPS:
        have, want = applied.elements.get(m, {}), desired.elements.get(m, {})
        drop = [k for k, v in have.items() if want.get(k) != v]
        if drop:
            lines.append(f"delete element {t} {m} {{ {', '.join(drop)} }}")
    lines += [f"delete chain {t} {_q(c)}" for c in gone_chains]
    lines += [f"delete set {t} {_q(s)}" for s in gone_sets]
    for c in new_chains + changed:
        lines += [f"add rule {t} {_q(c)} {r}" for r in desired.chains[c]]
    for m in MAPS:
        have, want = applied.elements.get(m, {}), desired.elements.get(m, {})
        add = [f"{k} : {v}" for k, v in want.items() if have.get(k) != v]
        if add:
            lines.append(f"add element {t} {m} {{ {', '.join(add)} }}")
    return "\n".join(lines) + "\n" if lines else ""
