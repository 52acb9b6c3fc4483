"""Host-side setup for one node's pod network: the bridge with the gateway address, routes
for the cluster pod CIDR and the service CIDR onto the bridge, forwarding sysctls, and the
outbound masquerade rule.

The service CIDR route matters for safety: a packet to a service IP that has no DNAT rule
(kube-proxy not synced yet, or a stale IP) is routed onto the bridge, where nothing answers
ARP, so it dies locally instead of leaving through the default route.

iptables state is shared between nodes on one host (each node = one bridge), so our chains
(KUBELING-POSTROUTING in nat, KUBELING-FORWARD in filter) hold one rule set per bridge,
tagged with the comment `kubeling:<bridge>:<owner>` (owner = the data dir's hash, see
claim.py). Teardown removes its own rules and drops a chain (and its jump) only when no other
bridge still has rules in it.

Every `ensure_*` is idempotent and returns what it had to change (for a node repairing its host
network, see PodNetwork.reconcile): nothing when all was in place.
"""

from __future__ import annotations

import os
import shlex

from ...hostcmd import run
from . import claim

POSTROUTING_CHAIN = "KUBELING-POSTROUTING"
FORWARD_CHAIN = "KUBELING-FORWARD"
# (table, our chain, built-in chain it hangs off, insert at top?)
CHAINS = (("nat", POSTROUTING_CHAIN, "POSTROUTING", False), ("filter", FORWARD_CHAIN, "FORWARD", True))
PORTMAP_CHAINS = (("nat", "CNI-HOSTPORT-DNAT"), ("nat", "CNI-HOSTPORT-MASQ"), ("nat", "CNI-HOSTPORT-SETMARK"))


def comment(bridge: str, owner: str = "") -> str:
    """The tag on a node's rules: `kubeling:<bridge>:<owner>` (`kubeling:<bridge>` before owners)."""
    return f"kubeling:{bridge}:{owner}" if owner else f"kubeling:{bridge}"


def masquerade_rules(bridge: str, pod_cidr: str, cluster_cidr: str, owner: str = "") -> list[list[str]]:
    """nat rules: pod traffic leaving through any other interface to outside the cluster CIDR
    is masqueraded (pod↔pod and pod↔host on the bridge keep their source IPs)."""
    c = ["-m", "comment", "--comment", comment(bridge, owner)]
    return [["-s", pod_cidr, "!", "-d", cluster_cidr, "!", "-o", bridge, *c, "-j", "MASQUERADE"]]


def forward_rules(bridge: str, pod_cidr: str, owner: str = "") -> list[list[str]]:
    """filter rules: accept forwarding to and from the pods even when FORWARD's policy is
    DROP (e.g. with Docker installed)."""
    c = ["-m", "comment", "--comment", comment(bridge, owner)]
    return [["-s", pod_cidr, *c, "-j", "ACCEPT"], ["-d", pod_cidr, *c, "-j", "ACCEPT"]]


def rules_to_delete(listing: str, chain: str, bridge: str, owner: str | None = None) -> list[list[str]]:
    """From `iptables -S CHAIN` output, the `-D` argv tails for this bridge's rules: those of
    `owner` (and untagged-owner ones from before owners), or of any owner when owner is None."""
    tags = {comment(bridge), comment(bridge, owner)} if owner else {comment(bridge)}
    prefix = comment(bridge, "*")[:-1] if owner is None else None
    out = []
    for line in listing.splitlines():
        words = shlex.split(line)
        if len(words) > 2 and words[0] == "-A" and words[1] == chain and \
                any(w in tags or (prefix and w.startswith(prefix)) for w in words):
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


async def ensure_chain(table: str, chain: str, parent: str, top: bool) -> list[str]:
    """Create chain and its jump from parent, both idempotently."""
    done = []
    if not await chain_exists(table, chain):
        rc, err = await iptables(table, "-N", chain)
        if rc and not await chain_exists(table, chain):
            raise OSError(f"iptables -t {table} -N {chain}: {err}")
        done.append(f"created chain {table}/{chain}")
    rc, _ = await iptables(table, "-C", parent, "-j", chain)
    if rc:
        rc, err = await iptables(table, "-I", parent, "1", "-j", chain) if top else \
            await iptables(table, "-A", parent, "-j", chain)
        if rc:
            raise OSError(f"iptables -t {table} jump {parent} -> {chain}: {err}")
        done.append(f"added jump {table}/{parent} -> {chain}")
    return done


async def ensure_rule(table: str, chain: str, rule: list[str]) -> list[str]:
    rc, _ = await iptables(table, "-C", chain, *rule)
    if not rc:
        return []
    rc, err = await iptables(table, "-A", chain, *rule)
    if rc:
        raise OSError(f"iptables -t {table} -A {chain} {' '.join(rule)}: {err}")
    return [f"added rule {table}/{chain} {' '.join(rule)}"]


async def remove_bridge_rules(bridge: str, owner: str | None = None) -> None:
    """Delete this bridge's rules (only `owner`'s, see rules_to_delete) from our chains; drop
    chains that end up empty."""
    for table, chain, parent, _top in CHAINS:
        rc, listing = await iptables(table, "-S", chain)
        if rc:
            continue
        for d in rules_to_delete(listing, chain, bridge, owner):
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


def link_is_up(name: str) -> bool:
    try:
        with open(f"/sys/class/net/{name}/flags") as f:
            return bool(int(f.read().strip(), 16) & 1)  # IFF_UP
    except (OSError, ValueError):
        return False


async def ensure_bridge(name: str, gateway_cidr: str, alias: str = "") -> list[str]:
    """Create the bridge (if the CNI plugin hasn't yet), mark it with alias (its owner), put
    the gateway address on it, set it up."""
    done = []
    if not await link_exists(name):
        r = await run(["ip", "link", "add", name, "type", "bridge"])
        if not r.ok and not await link_exists(name):
            raise OSError(f"ip link add {name} type bridge: {r.text()}")
        done.append(f"created bridge {name}")
    if alias and claim.link_alias(name) != alias:
        r = await run(["ip", "link", "set", "dev", name, "alias", alias])
        if not r.ok:
            raise OSError(f"ip link set dev {name} alias {alias}: {r.text()}")
    r = await run(["ip", "-o", "addr", "show", "dev", name])
    if gateway_cidr not in r.stdout.decode().split():
        r = await run(["ip", "addr", "replace", gateway_cidr, "dev", name])
        if not r.ok:
            raise OSError(f"ip addr add {gateway_cidr} dev {name}: {r.text()}")
        done.append(f"added address {gateway_cidr}")
    if not link_is_up(name):
        r = await run(["ip", "link", "set", name, "up"])
        if not r.ok:
            raise OSError(f"ip link set {name} up: {r.text()}")
        done.append(f"set {name} up")
    return done


def link_master(name: str) -> str | None:
    """The bridge a port is enslaved to ('' for none), None when there is no such link."""
    if not os.path.exists(f"/sys/class/net/{name}"):
        return None
    try:
        return os.path.basename(os.readlink(f"/sys/class/net/{name}/master"))
    except OSError:
        return ""


async def ensure_port(port: str, bridge: str) -> list[str]:
    """Keep a pod's host-side veth on the bridge with hairpin on (as the bridge plugin set
    it): a deleted and re-created bridge has no ports."""
    master = link_master(port)
    if master is None or master == bridge:
        return []
    for argv in (["ip", "link", "set", "dev", port, "master", bridge, "up"],
                 ["ip", "link", "set", "dev", port, "type", "bridge_slave", "hairpin", "on"]):
        r = await run(argv)
        if not r.ok:
            raise OSError(f"{' '.join(argv[1:])}: {r.text()}")
    return [f"re-attached {port}"]


async def delete_link(name: str) -> None:
    if await link_exists(name):
        r = await run(["ip", "link", "delete", name])
        if not r.ok and await link_exists(name):
            raise OSError(f"ip link delete {name}: {r.text()}")


async def route_devs(cidr: str) -> list[str]:
    """The devices of the routes for exactly cidr (main table)."""
    r = await run(["ip", "-o", "route", "show", "exact", cidr])
    devs = []
    for line in r.stdout.decode().splitlines():
        words = line.split()
        if "dev" in words:
            devs.append(words[words.index("dev") + 1])
    return devs


async def ensure_route(cidr: str, dev: str, src: str = "", shared: bool = False) -> list[str]:
    """`ip route replace CIDR dev DEV` unless it is in place; fixes a route left on another
    device. shared: a route on another kubeling node's bridge (marked, up) is left alone."""
    devs = await route_devs(cidr)
    if dev in devs:
        return []
    if shared and any(link_is_up(d) and (claim.link_alias(d) or "").startswith(claim.MARK_PREFIX) for d in devs):
        return []
    argv = ["ip", "route", "replace", cidr, "dev", dev, "proto", "static"]
    if src:
        argv += ["src", src]
    r = await run(argv)
    if not r.ok:
        raise OSError(f"{' '.join(argv[1:])}: {r.text()}")
    return [f"added route {cidr} dev {dev}"]


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
