"""The node repairs its host network, as kube-proxy and flannel resync theirs.

If the bridge, its address, the routes or the iptables chains disappear (another program, a
network restart), the pods become unreachable while everything else looks fine. The monitor
runs `PodNetwork.reconcile()` every `period` seconds and soon after any netlink change that
names the bridge (`ip -o monitor link address route`: deleting a bridge is seen in well under
a second; iptables changes make no netlink event and wait for the period). It reports through
`on_change(ok, message, repaired)`: the node records an event and sets NetworkUnavailable.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from typing import Any, Callable

from .cni import NetworkError

log = logging.getLogger("kubeling.kubelet.network")

Report = Callable[[bool, str, list[str]], None]


class NetworkMonitor:
    def __init__(self, network: Any, on_change: Report, period: float = 10.0, settle: float = 0.2) -> None:
        self.network = network
        self.on_change = on_change
        self.period = period
        self.settle = settle  # let a burst of netlink events end before looking
        self.ok = True
        self._kick = asyncio.Event()
        self._proc: subprocess.Popen[bytes] | None = None

    def kick(self) -> None:
        self._kick.set()

    async def check(self) -> list[str]:
        """One reconcile; reports a repair, a failure, and the recovery after a failure."""
        try:
            repaired = await self.network.reconcile()
        except (OSError, NetworkError) as e:
            msg = getattr(e, "message", None) or str(e)
            if self.ok:
                log.error("pod network on %s is broken and could not be repaired: %s", self.network.bridge, msg)
            self.ok = False
            self.on_change(False, msg, [])
            return []
        if repaired or not self.ok:
            log.warning("pod network on %s repaired: %s", self.network.bridge, "; ".join(repaired) or "in place")
            self.ok = True
            self.on_change(True, "", repaired)
        return repaired

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch(), name="netlink-watch")
        try:
            while True:
                try:
                    await asyncio.wait_for(self._kick.wait(), self.period)
                    await asyncio.sleep(self.settle)
                except asyncio.TimeoutError:
                    pass
                self._kick.clear()
                await self.check()
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def _watch(self) -> None:
        """Follow netlink through `ip monitor`, started again if it exits; without it, rely on
        the period."""
        while True:
            try:
                await self._follow()
            except OSError as e:
                log.warning("ip monitor unavailable (%s): network checks every %gs only", e, self.period)
                return
            await asyncio.sleep(self.period)

    async def _follow(self) -> None:
        """Kick on every netlink line that mentions the bridge, until `ip monitor` exits."""
        loop = asyncio.get_running_loop()
        proc = subprocess.Popen(["ip", "-o", "monitor", "link", "address", "route"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
        self._proc = proc
        reader = asyncio.StreamReader()
        assert proc.stdout is not None
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), proc.stdout)
        needle = self.network.bridge.encode()
        try:
            while line := await reader.readline():
                if needle in line:
                    self._kick.set()
        finally:
            transport.close()
            proc.terminate()
            await loop.run_in_executor(None, proc.wait)
            self._proc = None
