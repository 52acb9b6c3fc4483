"""iptables mode, the I/O part: apply `iptables.generate`'s rules with `iptables-restore --noflush`
(one atomic transaction per table), keep the hooks from the built-in chains in place, and remove
everything of this cluster on cleanup.

After a failed restore (someone flushed our chains, a rule the kernel refused) the next sync
rewrites every chain: the applied state is forgotten rather than trusted.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass
from typing import Callable, Sequence

from ..hostcmd import run
from . import iptables as ipt
from .model import ServicePort

log = logging.getLogger("kubeling.proxy")


class ProxyError(Exception):
    """The proxy cannot run in the requested mode here (the message says why and what to do)."""


@dataclass
class SyncStats:
    rules: int = 0  # rules in our chains after the sync
    written: int = 0  # lines handed to the kernel
    full: bool = False


async def _iptables(table: str, *args: str) -> tuple[int, str]:
    r = await run(["iptables", "-w", "5", "-t", table, *args])
    return r.rc, (r.stdout.decode() if r.ok else r.text())


def set_route_localnet() -> None:
    """Node ports on 127.0.0.1 need route_localnet (as kube-proxy sets it), else the DNATed
    packet with source 127.0.0.1 is dropped as a martian."""
    try:
        with open("/proc/sys/net/ipv4/conf/all/route_localnet", "r+") as f:
            if f.read().strip() != "1":
                f.seek(0)
                f.write("1")
    except OSError as e:
        log.warning("could not set net.ipv4.conf.all.route_localnet=1 (node ports on 127.0.0.1 won't work): %s", e)


Generate = Callable[[Sequence[ServicePort]], ipt.Ruleset]
Hooks = Callable[[ipt.Context], list[tuple[str, str, list[str]]]]


class IptablesBackend:
    """Applies a generator's rules (iptables mode's, or the userspace mode's portals)."""

    name = "iptables"

    def __init__(self, ctx: ipt.Context, generate: Generate | None = None, hooks: Hooks = ipt.hooks) -> None:
        self.ctx = ctx
        self.generate = generate or ipt.Generator(ctx)
        self.hooks = hooks
        self.applied: ipt.Ruleset | None = None

    async def sync(self, ports: Sequence[ServicePort]) -> SyncStats:
        desired = self.generate(ports)
        full = self.applied is None
        applied = self.applied if not full else await self._existing()
        text = ipt.restore_text(desired, applied)
        if text:
            r = await run(["iptables-restore", "-w", "5", "--noflush"], input=text.encode(), timeout=300)
            if not r.ok:
                self.applied = None
                raise OSError(f"iptables-restore: {r.text()}")
        self.applied = desired
        if full:
            await self.ensure_hooks()
        return SyncStats(ipt.rule_count(desired), text.count("\n"), full)

    async def _existing(self) -> ipt.Ruleset:
        """Before a full sync: this owner's chains as they are (content unknown, so all get
        rewritten, and those we no longer want — another mode's, a vanished Service's — get
        deleted), after dropping the jumps into them that our hooks no longer include."""
        want = {(t, c, " ".join(r)) for t, c, r in self.hooks(self.ctx)}
        out: ipt.Ruleset = {}
        for table in ipt.TABLES:
            rc, listing = await _iptables(table, "-S")
            if rc:
                continue
            for words in _jumps_into(listing, self.ctx.owner):
                if (table, words[1], " ".join(words[2:])) not in want:
                    await _iptables(table, "-D", *words[1:])
            out[table] = {c: None for c in ipt.owned_chains(listing, self.ctx.owner)}  # type: ignore[misc]
        return out

    async def ensure_hooks(self) -> list[str]:
        """Jumps from the built-in chains into ours, at their top (before the node's and others'
        rules, as kube-proxy's): idempotent; returns what it added."""
        added = []
        for table, chain, rule in reversed(self.hooks(self.ctx)):
            rc, _ = await _iptables(table, "-C", chain, *rule)
            if rc:
                rc, err = await _iptables(table, "-I", chain, "1", *rule)
                if rc:
                    raise OSError(f"iptables -t {table} -I {chain}: {err}")
                added.append(f"{table}/{chain}")
        return added

    async def check(self) -> None:
        """Repair: missing hooks are re-added, missing chains make the next sync a full one."""
        if await self.ensure_hooks():
            log.warning("%s proxy: re-added missing jumps into our chains", self.name)
        rc, listing = await _iptables("nat", "-S")
        if rc == 0 and self.applied is not None and \
                not set(self.applied.get("nat", {})) <= set(ipt.owned_chains(listing, self.ctx.owner)):
            self.applied = None

    async def cleanup(self) -> None:
        self.applied = None
        await remove_chains(self.ctx.owner)


def _jumps_into(listing: str, owner: str) -> list[list[str]]:
    """`-A` rules of other chains (built-in ones) that jump into this owner's chains."""
    sfx = "-" + ipt.owner_suffix(owner)
    out = []
    for line in listing.splitlines():
        head = line.split(None, 2)
        if len(head) < 3 or head[0] != "-A" or head[1].endswith(sfx) or sfx not in head[2]:
            continue  # cheap filter: shlex only the few jumps from other chains
        w = shlex.split(line)
        if "-j" in w:
            target = w[w.index("-j") + 1]
            if target.startswith("KUBE-") and target.endswith(sfx):
                out.append(w)
    return out


async def remove_chains(owner: str) -> list[str]:
    """Delete every chain of this owner (KUBE-*-<owner6>) in nat and filter: the jumps into them
    first, then all of them in one iptables-restore transaction (thousands of chains at scale)."""
    removed = []
    for table in ipt.TABLES:
        rc, listing = await _iptables(table, "-S")
        if rc:
            continue
        for w in _jumps_into(listing, owner):
            await _iptables(table, "-D", *w[1:])
        chains = ipt.owned_chains(listing, owner)
        if not chains:
            continue
        text = "\n".join([f"*{table}", *(f":{c} - [0:0]" for c in chains), *(f"-X {c}" for c in chains), "COMMIT", ""])
        r = await run(["iptables-restore", "-w", "5", "--noflush"], input=text.encode(), timeout=300)
        if r.ok:
            removed += [f"{table}/{c}" for c in chains]
        else:
            log.warning("removing the proxy chains of %s in %s: %s", owner, table, r.text())
    return removed