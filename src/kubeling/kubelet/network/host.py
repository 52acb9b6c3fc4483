"""Host-side setup for one node's pod network: the bridge with the gateway address, routes
for the cluster pod CIDR and the service CIDR onto the bridge, forwarding sysctls, and the
outbound masquerade rule.

The service CIDR route matters for safety: a packet to a service IP that has no DNAT rule
(kube-proxy not synced yet, or a stale IP) is routed onto the bridge, where nothing answers
ARP, so it dies locally instead of leaving through the default route.

iptables state is shared between nodes on one host (each node = one bridge), so our chains
(KUBELING-POSTROUTING in nat, KUBELING-FORWARD in filter) hold one rule set per bridge,
tagged with the comment `kubeling:<bridge>`. Teardown removes this bridge's rules and drops a
chain (and its jump) only when no other bridge still has rules in it.
"""

from __future__ import annotations

import os
import shlex

from .proc import run

POSTROUTING_CHAIN = "KUBELING-POSTROUTING"
FORWARD_CHAIN = "KUBELING-FORWARD"
# (table, our chain, built-in chain it hangs off, insert at top?)
CHAINS = (("nat", POSTROUTING_CHAIN, "POSTROUTING", False), ("filter", FORWARD_CHAIN, "FORWARD", True))
PORTMAP_CHAINS = (("nat", "CNI-HOSTPORT-DNAT"), ("nat", "CNI-HOSTPORT-MASQ"), ("nat", "CNI-HOSTPORT-SETMARK"))


def comment(bridge: str) -> str:
    return f"kubeling:{bridge}"


def masquerade_rules(bridge: str, pod_cidr: str, cluster_cidr: str) -> list[list[str]]:
    """nat rules: pod traffic leaving through any other interface to outside the cluster CIDR
    is masqueraded (pod↔pod and pod↔host on the bridge keep their source IPs)."""
    c = ["-m", "comment", "--comment", comment(bridge)]
    return [["-s", pod_cidr, "!", "-d", cluster_cidr, "!", "-o", bridge, *c, "-j", "MASQUERADE"]]


def forward_rules(bridge: str, pod_cidr: str) -> list[list[str]]:
    """filter rules: accept forwarding to and from the pods even when FORWARD's policy is
    DROP (e.g. with Docker installed)."""
    c = ["-m", "comment", "--comment", comment(bridge)]
    return [["-s", pod_cidr, *c, "-j", "ACCEPT"], ["-d", pod_cidr, *c, "-j", "ACCEPT"]]


def rules_to_delete(listing: str, chain: str, bridge: str) -> list[list[str]]:
    """From `iptables -S CHAIN` output, the `-D` argv tails for this bridge's rules."""
    tag = comment(bridge)
    out = []
    for line in listing.splitlines():
        words = shlex.split(line)
        if len(words) > 2 and words[0] == "-A" and words[1] == chain and tag in words:
            out.append(["-D", *words[1:]])
    return out


def chain_rule_count(listing: str, chain: str) -> int:
    return sum(1 for line in listing.splitlines() if line.startswith(f"-A {chain} "))


async def iptables(table: str, *args: str) -> tuple[int, str]:
    r = await run(["iptables", "-w", "5", "-t", table, *args])
    return r.rc, (r.stdout.decode() if r.ok else r.text())


async def chain_exists(table: str, chain: str) -> bool:
    rc, _ = await iptables(table, "-S", chain)
    return rc == 0


async def ensure_chain(table: str, chain: str, parent: str, top: bool) -> None:
    """Create chain and its jump from parent, both idempotently."""
    if not await chain_exists(table, chain):
        rc, err = await iptables(table, "-N", chain)
        if rc and not await chain_exists(table, chain):
            raise OSError(f"iptables -t {table} -N {chain}: {err}")
    rc, _ = await iptables(table, "-C", parent, "-j", chain)
    if rc:
        rc, err = await iptables(table, "-I", parent, "1", "-j", chain) if top else \
            await iptables(table, "-A", parent, "-j", chain)
        if rc:
            raise OSError(f"iptables -t {table} jump {parent} -> {chain}: {err}")


async def ensure_rule(table: str, chain: str, rule: list[str]) -> None:
    rc, _ = await iptables(table, "-C", chain, *rule)
    if rc:
        rc, err = await iptables(table, "-A", chain, *rule)
        if rc:
            raise OSError(f"iptables -t {table} -A {chain} {' '.join(rule)}: {err}")


async def remove_bridge_rules(bridge: str) -> None:
    """Delete this bridge's rules from our chains; drop chains that end up empty."""
    for table, chain, parent, _top in CHAINS:
        rc, listing = await iptables(table, "-S", chain)
        if rc:
            continue
        for d in rules_to_delete(listing, chain, bridge):
            await iptables(table, *d)
        await drop_chain_if_empty(table, chain, parent)


async def drop_chain_if_empty(table: str, chain: str, parent: str | None) -> bool:
    """Remove chain (with every jump to it from parent) when it holds no rules."""
    rc, listing = await iptables(table, "-S", chain)
    if rc:
        return True
    if chain_rule_count(listing, chain):
        return False
    return await delete_chain(table, chain, parent)


async def delete_chain(table: str, chain: str, parent: str | None) -> bool:
    """Flush and delete chain, removing jumps to it from parent (or from every chain)."""
    rc, listing = await iptables(table, "-S")
    if rc:
        return False
    for line in listing.splitlines():
        words = shlex.split(line)
        if len(words) > 3 and words[0] == "-A" and "-j" in words and words[words.index("-j") + 1] == chain:
            if parent is None or words[1] == parent:
                await iptables(table, "-D", *words[1:])
    await iptables(table, "-F", chain)
    rc, _ = await iptables(table, "-X", chain)
    return rc == 0


async def drop_portmap_chains_if_unused() -> None:
    """portmap's shared CNI-HOSTPORT-* chains outlive the pods; remove them when no pod
    mapping (a CNI-DN-* jump) is left in them."""
    rc, listing = await iptables("nat", "-S", "CNI-HOSTPORT-DNAT")
    if rc or chain_rule_count(listing, "CNI-HOSTPORT-DNAT"):
        return
    for table, chain in PORTMAP_CHAINS:
        if await chain_exists(table, chain):
            await delete_chain(table, chain, None)


# --- links, addresses, routes -------------------------------------------------------------

async def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


async def ensure_bridge(name: str, gateway_cidr: str) -> None:
    """Create the bridge (if the CNI plugin hasn't yet), put the gateway address on it, set it up."""
    if not await link_exists(name):
        r = await run(["ip", "link", "add", name, "type", "bridge"])
        if not r.ok and not await link_exists(name):
            raise OSError(f"ip link add {name} type bridge: {r.text()}")
    r = await run(["ip", "-o", "addr", "show", "dev", name])
    if gateway_cidr not in r.stdout.decode().split():
        r = await run(["ip", "addr", "replace", gateway_cidr, "dev", name])
        if not r.ok:
            raise OSError(f"ip addr add {gateway_cidr} dev {name}: {r.text()}")
    r = await run(["ip", "link", "set", name, "up"])
    if not r.ok:
        raise OSError(f"ip link set {name} up: {r.text()}")


async def delete_link(name: str) -> None:
    if await link_exists(name):
        r = await run(["ip", "link", "delete", name])
        if not r.ok and await link_exists(name):
            raise OSError(f"ip link delete {name}: {r.text()}")


async def ensure_route(cidr: str, dev: str, src: str = "") -> None:
    """`ip route replace CIDR dev DEV`: idempotent, and fixes a route left on another device."""
    argv = ["ip", "route", "replace", cidr, "dev", dev, "proto", "static"]
    if src:
        argv += ["src", src]
    r = await run(argv)
    if not r.ok:
        raise OSError(f"{' '.join(argv[1:])}: {r.text()}")


async def delete_route(cidr: str, dev: str) -> None:
    """Delete the route only if it still points at our device (never someone else's route)."""
    r = await run(["ip", "route", "show", "exact", cidr, "dev", dev])
    if r.ok and r.stdout.strip():
        await run(["ip", "route", "delete", cidr, "dev", dev])


async def route_dev(ip: str) -> str:
    """The device `ip route get IP` picks (for checks and tests)."""
    r = await run(["ip", "-o", "route", "get", ip])
    words = r.stdout.decode().split()
    return words[words.index("dev") + 1] if "dev" in words else ""


# --- sysctls --------------------------------------------------------------------------------

def write_sysctl(path: str, value: str) -> bool:
    """Set a /proc/sys value if it differs; False when it can't be written."""
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return True
        with open(path, "w") as f:
            f.write(value)
        return True
    except OSError:
        return False


async def ensure_sysctls() -> list[str]:
    """ip_forward=1 and bridge-nf-call-iptables=1 (kube-proxy's DNAT must see bridged pod→pod
    traffic); loads br_netfilter when the knob is missing. Returns warnings, not errors: a
    single-node cluster without kube-proxy still works without br_netfilter."""
    warnings = []
    if not write_sysctl("/proc/sys/net/ipv4/ip_forward", "1"):
        warnings.append("could not set net.ipv4.ip_forward=1")
    knob = "/proc/sys/net/bridge/bridge-nf-call-iptables"
    if not os.path.exists(knob):
        await run(["modprobe", "br_netfilter"])
    if not write_sysctl(knob, "1"):
        warnings.append("could not set net.bridge.bridge-nf-call-iptables=1 (br_netfilter not loaded)")
    return warnings
