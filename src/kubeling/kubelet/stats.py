"""The kubelet's resource usage summary (`/stats/summary`, stats/v1alpha1 as cAdvisor-backed
kubelets serve it), from cgroups v1, v2 or hybrid (runtime/cgroups.py): per container the
cumulative CPU time and the memory working set (usage minus inactive file pages), summed per
pod, and the node's root cgroup.

CPU is cumulative in the kernel; `usageNanoCores` is the rate between this summary and the
previous one (cAdvisor's housekeeping does the same between its samples). The first time a
container is seen, the rate is its average since it started; the node's first rate is over
the time since boot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..api.timestamps import rfc3339
from .runtime import cgroups
from .runtime.base import RUNNING

Obj = dict[str, Any]


@dataclass
class _Sample:
    at: float  # seconds (monotonic)
    cpu_ns: int


def _boot_seconds_ago() -> float:
    try:
        with open("/proc/uptime") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


class StatsProvider:
    def __init__(self, runtime: Any, pods: Callable[[], Iterable[Obj]], node_name: str,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.runtime = runtime
        self.pods = pods
        self.node_name = node_name
        self.clock = clock
        self.monotonic = monotonic
        self.layout = getattr(runtime, "layout", None)
        self._last: dict[str, _Sample] = {}  # container id ("" = the node) -> previous sample

    def _rate(self, key: str, cpu_ns: int, since_start: float) -> int:
        """Nanocores since the previous sample (or over `since_start` seconds the first time)."""
        now = self.monotonic()
        prev = self._last.get(key)
        self._last[key] = _Sample(now, cpu_ns)
        if prev is not None and now > prev.at and cpu_ns >= prev.cpu_ns:
            return int((cpu_ns - prev.cpu_ns) / (now - prev.at))
        return int(cpu_ns / since_start) if since_start > 0 else 0

    def _stats(self, st: cgroups.Stats, key: str, since_start: float, stamp: str) -> tuple[Obj, Obj]:
        cpu = {"time": stamp, "usageNanoCores": self._rate(key, st.cpu_usage_ns, since_start),
               "usageCoreNanoSeconds": st.cpu_usage_ns}
        mem = {"time": stamp, "usageBytes": st.memory_usage, "workingSetBytes": st.memory_working_set,
               "rssBytes": st.memory_rss}
        return cpu, mem

    async def summary(self) -> Obj:
        now = self.clock()
        stamp = rfc3339(now)
        by_uid = {p["metadata"].get("uid"): p for p in self.pods()}
        seen: set[str] = {""}
        pods: dict[str, Obj] = {}
        for c in await self.runtime.list_containers():
            pod = by_uid.get(c.pod_uid)
            if pod is None or c.state != RUNNING or not hasattr(self.runtime, "container_stats"):
                continue
            st = await self.runtime.container_stats(c.id)
            seen.add(c.id)
            cpu, mem = self._stats(st, c.id, now - c.started_at, stamp)
            meta = pod["metadata"]
            entry = pods.setdefault(c.pod_uid, {
                "podRef": {"name": meta["name"], "namespace": meta.get("namespace", ""), "uid": c.pod_uid},
                "startTime": (pod.get("status") or {}).get("startTime"), "containers": [],
                "cpu": {"time": stamp, "usageNanoCores": 0, "usageCoreNanoSeconds": 0},
                "memory": {"time": stamp, "usageBytes": 0, "workingSetBytes": 0, "rssBytes": 0}})
            entry["containers"].append({"name": c.name, "startTime": rfc3339(c.started_at), "cpu": cpu,
                                        "memory": mem})
            for part, values in (("cpu", cpu), ("memory", mem)):
                for k, v in values.items():
                    if k != "time":
                        entry[part][k] += v
        for key in [k for k in self._last if k not in seen]:
            del self._last[key]  # containers that are gone
        node: Obj = {"nodeName": self.node_name}
        if self.layout is not None:
            node["cpu"], node["memory"] = self._stats(cgroups.stats(self.layout, "/"), "", _boot_seconds_ago(), stamp)
        return {"node": node, "pods": list(pods.values())}
