"""The kubelet's usage summary: cgroup v1 / v2 files -> /stats/summary -> metrics.k8s.io."""

from __future__ import annotations

import asyncio
import os

from kubeling.kubelet.runtime import cgroups
from kubeling.kubelet.runtime.base import EXITED, RUNNING, ContainerStatus
from kubeling.kubelet.stats import StatsProvider
from kubeling.metrics.api import Window


def _write(d: str, files: dict[str, str]) -> None:
    os.makedirs(d, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)


def test_cgroup_v1_and_v2_stats(tmp_path):
    v1 = cgroups.Layout(cgroups.HYBRID, {"memory": str(tmp_path / "memory"), "cpuacct": str(tmp_path / "cpuacct"),
                                         "cpu": str(tmp_path / "cpuacct")}, str(tmp_path / "unified"))
    _write(str(tmp_path / "memory/k/c1"), {"memory.usage_in_bytes": "10485760\n",
                                           "memory.stat": "total_inactive_file 2097152\ntotal_rss 4194304\n"})
    _write(str(tmp_path / "cpuacct/k/c1"), {"cpuacct.usage": "5000000000\n"})
    st = cgroups.stats(v1, "/k/c1")
    assert (st.memory_usage, st.memory_working_set, st.memory_rss, st.cpu_usage_ns) == (
        10485760, 8388608, 4194304, 5_000_000_000)
    v2 = cgroups.Layout(cgroups.V2, {}, str(tmp_path / "v2"))
    _write(str(tmp_path / "v2/k/c1"), {"memory.current": "8192\n", "memory.stat": "anon 4096\ninactive_file 1024\n",
                                       "cpu.stat": "usage_usec 1500\nuser_usec 1000\n"})
    st = cgroups.stats(v2, "/k/c1")
    assert (st.memory_working_set, st.cpu_usage_ns) == (7168, 1_500_000)


class FakeRuntime:
    def __init__(self) -> None:
        self.cpu = {"a": 1_000_000_000, "b": 0}
        self.layout = None

    async def list_containers(self, pod_uid=None):
        return [ContainerStatus("a", "u1", "app", 0, RUNNING, started_at=90.0),
                ContainerStatus("b", "u1", "side", 0, RUNNING, started_at=90.0),
                ContainerStatus("x", "u1", "old", 0, EXITED, started_at=10.0),
                ContainerStatus("z", "other", "c", 0, RUNNING, started_at=10.0)]

    async def container_stats(self, cid):
        return cgroups.Stats(memory_usage=3 << 20, memory_working_set=2 << 20, cpu_usage_ns=self.cpu[cid])


def test_summary_rates_and_sums():
    rt = FakeRuntime()
    mono = iter([1000.0, 1000.0, 1010.0, 1010.0])
    pod = {"metadata": {"name": "web", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
           "status": {"startTime": "2026-01-01T00:00:00Z"}}
    prov = StatsProvider(rt, lambda: [pod], "n1", clock=lambda: 100.0, monotonic=lambda: next(mono))
    s = asyncio.run(prov.summary())
    (p,) = s["pods"]
    assert p["podRef"] == {"name": "web", "namespace": "ns", "uid": "u1"}
    assert [c["name"] for c in p["containers"]] == ["app", "side"]  # exited and foreign containers left out
    # first sight: 1 s of CPU over the 10 s since the start = 100 millicores
    assert p["containers"][0]["cpu"]["usageNanoCores"] == 100_000_000
    assert p["memory"]["workingSetBytes"] == 4 << 20
    rt.cpu["a"] += 5_000_000_000  # 5 s of CPU in the next 10 s: half a core
    s = asyncio.run(prov.summary())
    assert s["pods"][0]["containers"][0]["cpu"]["usageNanoCores"] == 500_000_000
    w = Window()
    w.replace_node(s, 15.0, {}, {("ns", "web"): {"app": "web"}})
    (m,) = w.pod_items("ns", None, "now")
    assert m["containers"][0] == {"name": "app", "usage": {"cpu": "500m", "memory": "2Mi"}}
    assert m["window"] == "15s" and m["metadata"]["labels"] == {"app": "web"}


def test_window_replaces_a_node_and_forgets_it():
    def summary(pods: list[str]) -> dict:
        stats = {"cpu": {"time": "t", "usageNanoCores": 1_000_000}, "memory": {"time": "t", "workingSetBytes": 1024}}
        return {"node": {"nodeName": "n1", **stats},
                "pods": [{"podRef": {"name": p, "namespace": "ns"}, "containers": [{"name": "c", **stats}], **stats}
                         for p in pods]}

    w = Window()
    w.replace_node(summary(["a", "b"]), 15.0, {}, {})
    w.replace_node(summary(["b"]), 15.0, {}, {})  # a is gone from the node
    assert [m["metadata"]["name"] for m in w.pod_items(None, None, "now")] == ["b"]
    assert w.node_items(None, "now")[0]["usage"] == {"cpu": "1m", "memory": "1Ki"}
    w.forget_node("n1")
    assert w.pod_items(None, None, "now") == [] and w.node_items(None, "now") == []
