"""iptables mode, the pure part: ServicePorts → iptables-restore input (upstream
pkg/proxy/iptables/proxier.go's chain layout), and the partial-sync diff.

Chains, per cluster (every name ends in `-<owner6>`, the first 6 hex digits of the data dir's
owner id, so two clusters on one host never touch each other's chains; upstream's names are the
part before it):

  nat   PREROUTING, OUTPUT → KUBE-SERVICES-o     POSTROUTING → KUBE-POSTROUTING-o
        KUBE-SERVICES-o   per service port: `-d clusterIP --dport port -j KUBE-SVC-…` (or the
                          KUBE-SVL-… chain for internalTrafficPolicy Local), external and
                          load-balancer IPs → KUBE-EXT-…; last, `-d <node address> -j KUBE-NODEPORTS-o`
        KUBE-NODEPORTS-o  `--dport nodePort -j KUBE-EXT-…`
        KUBE-EXT-…        external traffic: masquerade (Cluster policy), then KUBE-SVC-… or KUBE-SVL-…
        KUBE-SVC-…        masquerade traffic from outside the cluster CIDR, then one rule per
                          endpoint: `-m statistic --mode random --probability 1/(n-i)` → KUBE-SEP-…
                          (ClientIP affinity first: `-m recent --rcheck --seconds T --reap`)
        KUBE-SVL-…        the same over this node's endpoints
                          A canary-weighted Service port (model.Split) lists the canary Service's
                          endpoints there too, each rule's probability making the canary side's
                          total the weight (no extra chain: chains are what iptables-restore pays for)
        KUBE-SEP-…        hairpin masquerade, `-m recent --set` (affinity), DNAT to the endpoint
        KUBE-MARK-MASQ-o  sets the 0x4000 mark; KUBE-POSTROUTING-o masquerades marked packets
  filter INPUT → KUBE-EXTERNAL-SVCS-o, KUBE-FIREWALL-o; FORWARD → KUBE-SERVICES-o, KUBE-FORWARD-o;
        OUTPUT → KUBE-SERVICES-o, KUBE-FIREWALL-o
        KUBE-SERVICES-o / KUBE-EXTERNAL-SVCS-o  REJECT for service ports without endpoints
        KUBE-FORWARD-o    accept marked and established service traffic
        KUBE-FIREWALL-o   drop martian packets to 127.0.0.0/8 that were not DNATed (localhost node ports)

Partial sync: `restore_text(desired, applied)` declares (flushes) and rewrites only the chains whose
rules changed since the last successful apply and deletes the chains that went away, so a sync
after one endpoint change writes a handful of lines whatever the number of Services.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Iterable

from .model import Endpoint, ServicePort, Split, external_split, internal_split, split

MASQ_MARK = "0x4000"
TABLES = ("nat", "filter")
Ruleset = dict[str, dict[str, tuple[str, ...]]]  # table -> chain -> rule lines (in order)


def owner_suffix(owner: str) -> str:
    return owner[:6]


@dataclass(frozen=True)
class Context:
    """What the rules need besides the Services: whose they are and the node's addresses."""

    owner: str  # the data dir's owner id (kubelet/network/claim.py)
    cluster_cidr: str
    node_ips: tuple[str, ...]  # where node ports answer (the node IP, 127.0.0.1)
    tag: str = ""  # `kubeling:<bridge>:<owner>`: the comment on the hooks in built-in chains

    @property
    def sfx(self) -> str:
        return owner_suffix(self.owner)

    def top(self, name: str) -> str:
        """A per-cluster top-level chain: KUBE-SERVICES → KUBE-SERVICES-<owner6>."""
        return f"{name}-{self.sfx}"

    def _hashed(self, prefix: str, *parts: str) -> str:
        h = hashlib.sha256("".join((self.owner, *parts)).encode()).digest()
        return f"{prefix}-{base64.b32encode(h).decode()[:12]}-{self.sfx}"

    def svc(self, sp: ServicePort) -> str:
        return self._hashed("KUBE-SVC", sp.key, sp.protocol)

    def svl(self, sp: ServicePort) -> str:
        return self._hashed("KUBE-SVL", sp.key, sp.protocol)

    def ext(self, sp: ServicePort) -> str:
        return self._hashed("KUBE-EXT", sp.key, sp.protocol)

    def sep(self, sp: ServicePort, ep: Endpoint) -> str:
        return self._hashed("KUBE-SEP", sp.key, sp.protocol, ep.addr)


def hooks(ctx: Context) -> list[tuple[str, str, list[str]]]:
    """(table, built-in chain, rule) jumps into our chains, in the order they go at the top."""
    c = ["-m", "comment", "--comment", f"{ctx.tag} kubernetes service portals".strip()]
    new = ["-m", "conntrack", "--ctstate", "NEW"]
    return [
        ("nat", "PREROUTING", [*c, "-j", ctx.top("KUBE-SERVICES")]),
        ("nat", "OUTPUT", [*c, "-j", ctx.top("KUBE-SERVICES")]),
        ("nat", "POSTROUTING", [*c, "-j", ctx.top("KUBE-POSTROUTING")]),
        ("filter", "INPUT", [*c, *new, "-j", ctx.top("KUBE-EXTERNAL-SVCS")]),
        ("filter", "INPUT", [*c, "-j", ctx.top("KUBE-FIREWALL")]),
        ("filter", "FORWARD", [*c, *new, "-j", ctx.top("KUBE-SERVICES")]),
        ("filter", "FORWARD", [*c, "-j", ctx.top("KUBE-FORWARD")]),
        ("filter", "OUTPUT", [*c, *new, "-j", ctx.top("KUBE-SERVICES")]),
        ("filter", "OUTPUT", [*c, "-j", ctx.top("KUBE-FIREWALL")]),
    ]


def _q(s: str) -> str:
    return f'"{s}"' if any(ch in s for ch in ' "') else s


def _match(sp: ServicePort, dst: str = "", port: int = 0) -> str:
    proto = sp.protocol.lower()
    out = f"-m {proto} -p {proto}"
    if dst:
        out += f" -d {dst}/32"
    return out + f" --dport {port or sp.port}"


class _Builder:
    def __init__(self, ctx: Context, large: bool = False) -> None:
        self.ctx = ctx
        self.rules: dict[str, dict[str, list[str]]] = {t: {} for t in TABLES}
        self.large = large  # upstream's large cluster mode: no comments on the per-endpoint rules

    def comment(self, text: str) -> str:
        return "" if self.large else f"-m comment --comment {_q(text)} "

    def add(self, table: str, chain: str, *lines: str) -> None:
        self.rules[table].setdefault(chain, []).extend(f"-A {chain} {ln}" for ln in lines)

    def declare(self, table: str, chain: str) -> None:
        self.rules[table].setdefault(chain, [])

    def result(self) -> Ruleset:
        return {t: {c: tuple(r) for c, r in chains.items()} for t, chains in self.rules.items()}


def _static(b: _Builder) -> None:
    ctx = b.ctx
    for t, names in (("nat", ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")),
                     ("filter", ("KUBE-SERVICES", "KUBE-EXTERNAL-SVCS", "KUBE-FORWARD", "KUBE-FIREWALL"))):
        for n in names:
            b.declare(t, ctx.top(n))
    b.add("nat", ctx.top("KUBE-MARK-MASQ"), f"-j MARK --or-mark {MASQ_MARK}")
    post = ctx.top("KUBE-POSTROUTING")
    b.add("nat", post, f"-m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
          f"-j MARK --xor-mark {MASQ_MARK}",
          '-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully')
    fwd = ctx.top("KUBE-FORWARD")
    b.add("filter", fwd, f'-m comment --comment "kubernetes forwarding rules" -m mark --mark {MASQ_MARK}/{MASQ_MARK} '
                         "-j ACCEPT",
          '-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED '
          "-j ACCEPT")
    b.add("filter", ctx.top("KUBE-FIREWALL"),
          '-m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 '
          "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")


def _endpoint_chain(b: _Builder, chain: str, sp: ServicePort, sides: Split) -> None:
    """KUBE-SVC / KUBE-SVL body: affinity checks, then one rule per endpoint whose probability is
    its share of what the rules before it left: `1/(n-i)` for equal shares (upstream's); with a
    canary split, 10 stable endpoints and 1 canary at 20 %: 2/25, 2/23, ..., 2/7, then the canary."""
    ctx = b.ctx
    if sp.affinity_timeout:
        for ep in sides.endpoints:
            sep = ctx.sep(sp, ep)
            b.add("nat", chain, f"{b.comment(f'{sp.key} -> {ep.addr}')}-m recent --name {sep} --rcheck "
                                f"--seconds {sp.affinity_timeout} --reap -j {sep}")
    shares = sides.shares()
    left = sum(s for _, s in shares)
    canary = {e.addr for e in sides.canary} if sides.weighted else set()
    for i, (ep, share) in enumerate(shares):
        stat = f"-m statistic --mode random --probability {share / left:0.10f} " if i < len(shares) - 1 else ""
        left -= share
        to = f"canary {ep.addr}" if ep.addr in canary else ep.addr
        b.add("nat", chain, f"{b.comment(f'{sp.key} -> {to}')}{stat}-j {ctx.sep(sp, ep)}")


def _service_port(b: _Builder, sp: ServicePort) -> None:
    ctx = b.ctx
    services, c = ctx.top("KUBE-SERVICES"), _q(sp.key)
    internal, external = internal_split(sp), external_split(sp)
    all_cluster, local = split(sp), split(sp, True)
    svc, svl, ext = ctx.svc(sp), ctx.svl(sp), ctx.ext(sp)
    internal_chain = svl if sp.internal_local else svc
    # cluster IP
    if internal:
        b.add("nat", services,
              f'-m comment --comment "{sp.key} cluster IP" {_match(sp, sp.cluster_ip)} -j {internal_chain}')
    else:
        why = "has no local endpoints" if sp.internal_local and all_cluster else "has no endpoints"
        verdict = "DROP" if why == "has no local endpoints" else "REJECT"
        b.add("filter", ctx.top("KUBE-SERVICES"), f'-m comment --comment "{sp.key} {why}" {_match(sp, sp.cluster_ip)} '
                                                  f"-j {verdict}")
    # external addresses: externalIPs, load-balancer IPs and node ports
    ext_dsts = [("external IP", ip) for ip in sp.external_ips] + [("loadbalancer IP", ip) for ip in sp.lb_ips]
    for what, ip in ext_dsts:
        if external:
            b.add("nat", services, f'-m comment --comment "{sp.key} {what}" {_match(sp, ip)} -j {ext}')
        else:
            b.add("filter", ctx.top("KUBE-EXTERNAL-SVCS") if what == "external IP" else ctx.top("KUBE-SERVICES"),
                  f'-m comment --comment "{sp.key} has no endpoints" {_match(sp, ip)} -j REJECT')
    if sp.node_port:
        if external:
            b.add("nat", ctx.top("KUBE-NODEPORTS"),
                  f"-m comment --comment {c} {_match(sp, port=sp.node_port)} -j {ext}")
        else:
            for ip in ctx.node_ips:
                b.add("filter", ctx.top("KUBE-EXTERNAL-SVCS"),
                      f'-m comment --comment "{sp.key} has no endpoints" {_match(sp, ip, sp.node_port)} -j REJECT')
    ext_used = bool(external) and sp.externally_accessible
    if ext_used:
        if sp.external_local:  # short-circuit pods and the node itself to the cluster-wide chain
            b.add("nat", ext, f'-m comment --comment "pod traffic for {sp.key} external destinations" '
                              f"-s {ctx.cluster_cidr} -j {svc}",
                  f'-m comment --comment "masquerade LOCAL traffic for {sp.key} external destinations" '
                  f"-m addrtype --src-type LOCAL -j {ctx.top('KUBE-MARK-MASQ')}",
                  f'-m comment --comment "route LOCAL traffic for {sp.key} external destinations" '
                  f"-m addrtype --src-type LOCAL -j {svc}",
                  f"-j {svl}")
        else:
            b.add("nat", ext, f'-m comment --comment "masquerade traffic for {sp.key} external destinations" '
                              f"-j {ctx.top('KUBE-MARK-MASQ')}", f"-j {svc}")
    # the endpoint chains that something jumps to (every usable endpoint is also a cluster one)
    uses_svc = bool(internal and not sp.internal_local) or ext_used
    uses_svl = bool(internal and sp.internal_local) or (ext_used and sp.external_local)
    used: dict[str, Endpoint] = {}
    if uses_svc:
        b.add("nat", svc, f'-m comment --comment "{sp.key} cluster IP" {_match(sp, sp.cluster_ip)} '
                          f"! -s {ctx.cluster_cidr} -j {ctx.top('KUBE-MARK-MASQ')}")
        _endpoint_chain(b, svc, sp, all_cluster)
        used.update((e.addr, e) for e in all_cluster.endpoints)
    if uses_svl:
        _endpoint_chain(b, svl, sp, local)
        used.update((e.addr, e) for e in local.endpoints)
    for ep in used.values():
        sep = ctx.sep(sp, ep)
        recent = f"-m recent --name {sep} --set " if sp.affinity_timeout else ""
        proto = sp.protocol.lower()
        c = b.comment(sp.key)
        b.add("nat", sep, f"{c}-s {ep.ip}/32 -j {ctx.top('KUBE-MARK-MASQ')}",
              f"{c}{recent}-m {proto} -p {proto} -j DNAT --to-destination {ep.addr}")


LARGE_CLUSTER_ENDPOINTS = 1000  # upstream largeClusterEndpointsThreshold
Fragment = list[tuple[str, str, list[str]]]  # (table, chain, lines) one ServicePort adds


class Generator:
    """`generate` with a memo per ServicePort (a frozen value: same Service, same rules), so a
    sync after one change renders one Service, not all of them."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._memo: dict[tuple[ServicePort, bool], Fragment] = {}

    def __call__(self, ports: Iterable[ServicePort]) -> Ruleset:
        ports = list(ports)
        large = sum(len(sp.endpoints) for sp in ports) > LARGE_CLUSTER_ENDPOINTS
        b = _Builder(self.ctx, large)
        _static(b)
        memo: dict[tuple[ServicePort, bool], Fragment] = {}
        for sp in ports:
            frag = self._memo.get((sp, large))
            if frag is None:
                one = _Builder(self.ctx, large)
                _service_port(one, sp)
                frag = [(t, c, lines) for t, chains in one.rules.items() for c, lines in chains.items()]
            memo[(sp, large)] = frag
            for table, chain, lines in frag:
                b.rules[table].setdefault(chain, []).extend(lines)
        self._memo = memo
        nodeports = self.ctx.top("KUBE-NODEPORTS")
        b.add("nat", self.ctx.top("KUBE-SERVICES"), *(
            f'-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" '
            f"-d {ip}/32 -j {nodeports}" for ip in self.ctx.node_ips))
        return b.result()


def generate(ports: Iterable[ServicePort], ctx: Context) -> Ruleset:
    """The whole desired state of our chains (both tables)."""
    return Generator(ctx)(ports)


def rule_count(rules: Ruleset) -> int:
    return sum(len(r) for chains in rules.values() for r in chains.values())


def restore_text(desired: Ruleset, applied: Ruleset | None) -> str:
    """iptables-restore --noflush input that turns `applied` (None: unknown, rewrite all) into
    `desired`: changed chains are declared (flushed) and rewritten, vanished ones deleted."""
    out: list[str] = []
    for table in TABLES:
        want = desired.get(table, {})
        have = (applied or {}).get(table, {}) if applied is not None else None
        changed = [c for c, r in want.items() if have is None or have.get(c) != r]
        gone = [c for c in (have or {}) if c not in want]
        if not changed and not gone:
            continue
        out.append(f"*{table}")
        out += [f":{c} - [0:0]" for c in changed + gone]
        for c in changed:
            out += want[c]
        out += [f"-X {c}" for c in gone]
        out.append("COMMIT")
    return "\n".join(out) + "\n" if out else ""


def owned_chains(listing: str, owner: str) -> list[str]:
    """Our chains (KUBE-*-<owner6>) in `iptables -S` output."""
    sfx = "-" + owner_suffix(owner)
    return [w[1] for w in (ln.split() for ln in listing.splitlines())
            if len(w) == 2 and w[0] == "-N" and w[1].startswith("KUBE-") and w[1].endswith(sfx)]
