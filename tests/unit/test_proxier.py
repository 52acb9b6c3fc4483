"""The proxy's sync loop (proxy/proxier.py) with a fake dataplane: batching within the minimum
sync interval, and stale UDP conntrack entries flushed when an endpoint goes away."""

from __future__ import annotations

import asyncio
import types
from typing import Any, Sequence

from kubeling.proxy import proxier as px
from kubeling.proxy.model import ServicePort


class FakeBackend:
    name = "fake"

    def __init__(self) -> None:
        self.syncs: list[list[ServicePort]] = []
        self.synced = asyncio.Event()

    async def sync(self, ports: Sequence[ServicePort]) -> None:
        self.syncs.append(list(ports))
        self.synced.set()

    async def check(self) -> None:
        pass

    async def cleanup(self) -> None:
        pass


def svc(name: str, proto: str = "TCP") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "resourceVersion": "1"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.1.2",
                     "ports": [{"name": "p", "port": 53, "protocol": proto}]}}


def eps(name: str, *ips: str, proto: str = "TCP") -> dict[str, Any]:
    return {"metadata": {"name": f"{name}-x", "namespace": "default", "resourceVersion": "1",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "p", "port": 5353, "protocol": proto}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]}


def proxier(min_sync: float = 0.3) -> tuple[px.Proxier, FakeBackend]:
    cfg = px.ProxyConfig("iptables", "n1", ("10.244.0.1",), "0123456789ab", "10.244.0.0/16", min_sync_period=min_sync)
    backend = FakeBackend()
    p = px.Proxier(types.SimpleNamespace(), cfg, backend)  # type: ignore[arg-type]
    for inf in (p.services, p.slices):
        inf.run = types.MethodType(lambda self: asyncio.Event().wait(), inf)  # type: ignore[method-assign]
        inf.synced.set()
    return p, backend


async def test_a_burst_of_changes_is_one_sync() -> None:
    p, backend = proxier()
    task = asyncio.create_task(p.run())
    try:
        await asyncio.wait_for(backend.synced.wait(), 5)
        assert len(backend.syncs) == 1 and backend.syncs[0] == []
        backend.synced.clear()
        for i in range(50):  # all within one loop turn: well inside the minimum interval
            p.services.apply_event("ADDED", svc(f"s{i}"))
        await asyncio.wait_for(backend.synced.wait(), 5)
        assert len(backend.syncs) == 2 and len(backend.syncs[1]) == 50
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_stale_udp_flows_are_flushed_when_an_endpoint_goes(monkeypatch: Any) -> None:
    deleted: list[tuple[Any, ...]] = []

    async def delete_flows(ip: str, port: int, proto: str, endpoint: str = "") -> None:
        deleted.append((ip, port, proto, endpoint))
    monkeypatch.setattr(px.conntrack, "delete_flows", delete_flows)
    p, _ = proxier()
    p.services.apply_event("ADDED", svc("dns", "UDP"))
    p.slices.apply_event("ADDED", eps("dns", "10.244.0.5", "10.244.0.6", proto="UDP"))
    await p.sync()
    assert deleted == []
    p.slices.apply_event("MODIFIED", eps("dns", "10.244.0.6", proto="UDP"))
    await p.sync()
    assert deleted == [("10.96.1.2", 53, "udp", "10.244.0.5")]
    p.slices.apply_event("MODIFIED", eps("dns", proto="UDP"))
    await p.sync()
    p.slices.apply_event("MODIFIED", eps("dns", "10.244.0.7", proto="UDP"))
    await p.sync()  # had no endpoints: the flows cached while it rejected are dropped
    assert deleted[-1] == ("10.96.1.2", 53, "udp", "")
