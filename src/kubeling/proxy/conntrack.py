"""Stale conntrack entries (upstream pkg/proxy/conntrack): a UDP flow keeps going to the endpoint
it was DNATed to, even after that endpoint is gone, until the entry is deleted."""

from __future__ import annotations

import logging
import shutil

from ..hostcmd import run

log = logging.getLogger("kubeling.proxy")
_warned = False


async def delete_flows(service_ip: str, port: int, protocol: str, endpoint: str = "") -> None:
    """`conntrack -D` the flows to service_ip:port (only those DNATed to endpoint, if given)."""
    global _warned
    if not shutil.which("conntrack"):
        if not _warned:
            log.warning("conntrack not installed: stale UDP flows are not cleared when endpoints change")
            _warned = True
        return
    argv = ["conntrack", "-D", "-p", protocol, "--orig-dst", service_ip, "--dport", str(port)]
    if endpoint:
        argv += ["--dst-nat", endpoint]
    await run(argv)  # rc 1 = nothing matched
