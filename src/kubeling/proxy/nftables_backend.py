"""nftables mode, the I/O part: apply `nftables.script` with `nft -f -` (one transaction per
sync); a failed transaction or a vanished table makes the next sync replace the whole table."""

from __future__ import annotations

import logging
from typing import Sequence

from ..hostcmd import run
from . import nftables as nft
from .iptables import Context
from .iptables_backend import SyncStats
from .model import ServicePort

log = logging.getLogger("kubeling.proxy")


class NftablesBackend:
    name = "nftables"

    def __init__(self, ctx: Context, node_ips: Sequence[str]) -> None:
        self.ctx = ctx
        self.node_ips = list(node_ips)
        self.applied: nft.State | None = None
        self.generate = nft.Generator(ctx)

    async def sync(self, ports: Sequence[ServicePort]) -> SyncStats:
        desired = self.generate(ports)
        full = self.applied is None
        text = nft.script(desired, self.applied, self.ctx, self.node_ips)
        if text:
            r = await run(["nft", "-f", "-"], input=text.encode(), timeout=300)
            if not r.ok:
                self.applied = None
                raise OSError(f"nft -f: {r.text()[:2000]}")
        self.applied = desired
        return SyncStats(desired.rule_count(), text.count("\n"), full)

    async def check(self) -> None:
        r = await run(["nft", "list", "chain", "ip", nft.table_name(self.ctx), "services"])
        if not r.ok and self.applied is not None:
            log.warning("nftables proxy: table %s is gone; rewriting it", nft.table_name(self.ctx))
            self.applied = None

    async def cleanup(self) -> None:
        self.applied = None
        await delete_table(self.ctx)


async def delete_table(ctx: Context) -> list[str]:
    r = await run(["nft", "delete", "table", "ip", nft.table_name(ctx)])
    return [f"nft ip {nft.table_name(ctx)}"] if r.ok else []
