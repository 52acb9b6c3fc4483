"""Cost of metrics collection: CPU per scrape of a node with 100 pods (issue 14's benchmark).

Measured in one process, without a cluster, on the real code paths:
  kubelet summary   StatsProvider.summary() over 100 running containers whose cgroup v1 files
                    (memory.usage_in_bytes, a 35-line memory.stat, cpuacct.usage) are real files
                    in a temp dir, plus the node's root cgroup;
  kubelet HTTP      GET /stats/summary from the KubeletServer over loopback (plain HTTP: the
                    TLS handshake of a real scrape is not included) and decoding it;
  metrics window    Window.replace_node (summary -> NodeMetrics/PodMetrics) and the PodMetricsList
                    the HPA reads, encoded;
  simulated node    kubelet/simstats.summary for 100 annotated pods (what --sim-nodes report).
Prints CPU milliseconds per scrape (process time, median of N rounds).

    .venv/bin/python bench/metrics_scrape.py [--pods 100] [--rounds 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from typing import Any, Awaitable, Callable

import aiohttp
import orjson

from kubeling.kubelet import simstats
from kubeling.kubelet.runtime import cgroups
from kubeling.kubelet.runtime.base import RUNNING, ContainerStatus
from kubeling.kubelet.server import KubeletServer
from kubeling.kubelet.stats import StatsProvider
from kubeling.metrics.api import Window
from benchutil import free_port

MEMORY_STAT = "\n".join(f"{k} {i * 4096}" for i, k in enumerate(
    "cache rss rss_huge shmem mapped_file dirty writeback swap pgpgin pgpgout pgfault pgmajfault inactive_anon "
    "active_anon inactive_file active_file unevictable hierarchical_memory_limit total_cache total_rss "
    "total_rss_huge total_shmem total_mapped_file total_dirty total_writeback total_swap total_pgpgin "
    "total_pgpgout total_pgfault total_pgmajfault total_inactive_anon total_active_anon total_inactive_file "
    "total_active_file total_unevictable".split())) + "\n"


def cgroup_tree(root: str, n: int) -> cgroups.Layout:
    for sub in [""] + [f"kubeling/pod{i}/c{i}" for i in range(n)]:
        for ctrl, files in (("memory", {"memory.usage_in_bytes": "52428800\n", "memory.stat": MEMORY_STAT}),
                            ("cpuacct", {"cpuacct.usage": "123456789012\n"})):
            d = os.path.join(root, ctrl, sub)
            os.makedirs(d, exist_ok=True)
            for name, text in files.items():
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
    return cgroups.Layout(cgroups.V1, {"memory": f"{root}/memory", "cpuacct": f"{root}/cpuacct"}, "")


class FakeRuntime:
    """Lists n running containers; their stats come from the real cgroup files."""

    def __init__(self, layout: cgroups.Layout, n: int) -> None:
        self.layout = layout
        self.n = n

    async def list_containers(self, pod_uid: str | None = None) -> list[ContainerStatus]:
        started = time.time() - 60
        return [ContainerStatus(f"c{i}", f"u{i}", "app", 0, RUNNING, started_at=started) for i in range(self.n)]

    async def container_stats(self, cid: str) -> cgroups.Stats:
        return cgroups.stats(self.layout, f"/kubeling/pod{cid[1:]}/{cid}")


def pods(n: int) -> list[dict[str, Any]]:
    return [{"metadata": {"name": f"web-{i}", "namespace": "default", "uid": f"u{i}", "labels": {"app": "web"},
                          "annotations": {simstats.CPU_USAGE: "80m", simstats.MEMORY_USAGE: "20Mi"}},
             "spec": {"containers": [{"name": "app"}]}, "status": {"phase": "Running"}} for i in range(n)]


async def cpu_ms(fn: Callable[[], Awaitable[Any]], rounds: int) -> float:
    await fn()  # warm up
    samples = []
    for _ in range(rounds):
        t0 = time.process_time()
        await fn()
        samples.append((time.process_time() - t0) * 1000)
    return statistics.median(samples)


async def main(n: int, rounds: int) -> None:
    tmp = tempfile.mkdtemp(prefix="kubeling-bench-cgroups-")
    all_pods = pods(n)
    labels = {("default", p["metadata"]["name"]): p["metadata"]["labels"] for p in all_pods}
    provider = StatsProvider(FakeRuntime(cgroup_tree(tmp, n), n), lambda: all_pods, "bench-node")
    port = free_port()
    server = KubeletServer(provider.runtime, lambda ns, name: None,  # type: ignore[arg-type]
                           host="127.0.0.1", port=port, authenticate=False, stats=provider.summary)
    await server.start()
    window = Window()
    try:
        async with aiohttp.ClientSession() as s:
            async def fetch() -> Any:
                async with s.get(f"http://127.0.0.1:{port}/stats/summary") as r:
                    return orjson.loads(await r.read())

            summary = await fetch()

            async def to_window() -> None:
                window.replace_node(summary, 15.0, {}, labels)
                orjson.dumps({"items": window.pod_items("default", None, "now")})

            async def sim() -> None:
                simstats.summary("sim-node-1", all_pods, time.time())

            figures = [("kubelet summary (cgroup reads)", await cpu_ms(provider.summary, rounds)),
                       ("kubelet HTTP fetch + decode (incl. summary)", await cpu_ms(fetch, rounds)),
                       ("metrics window + PodMetricsList", await cpu_ms(to_window, rounds)),
                       ("simulated node summary", await cpu_ms(sim, rounds))]
    finally:
        await server.stop()
    print(f"CPU per scrape of one node with {n} pods (median of {rounds}, process time):")
    for name, ms in figures:
        print(f"  {name:<44} {ms:8.2f} ms")
    total = figures[1][1] + figures[2][1]
    print(f"  {'real node, end to end (fetch + window)':<44} {total:8.2f} ms"
          f"  = {total / 15000 * 100:.3f} % of one core at the 15 s resolution")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=50)
    a = ap.parse_args()
    asyncio.run(main(a.pods, a.rounds))
