"""Readiness probes at scale on the real node (issue "Probes" benchmark).

100 busybox httpd pods behind one Service, each with an httpGet readiness probe every second
(failureThreshold 1), for 60 s. Each pod serves a hostPath dir, so the bench flips a pod's
readiness by removing / re-creating `ready` on the host (no exec). Prints:
  - the kubeling process's CPU % with the same 100 pods running without probes (baseline),
    probed with unchanging results (20 s), and during the 60 s of probing while a pod's
    readiness flips every 0.25 s (kubeling runs the kubelet, API server and controllers; the
    probes' cost is the difference to the baseline),
  - probe result → EndpointSlice update latency, p50 / p99 / max, over every flip: the probe's
    time is the httpd's own log line for the first answer that changed (`-vv` logs
    `response:404`; CRI log timestamps), the update's time is when a watch on the Service's
    EndpointSlices shows the pod's new `ready` condition. Target p99 ≤ 1 s.
Starts its own cluster (temp data dir, own bridge and CIDRs) and cleans up with `kubeling down`.

    .venv/bin/python bench/probes.py [--pods 100] [--seconds 60] [--flip-every 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import random
import sys
import time
from datetime import datetime, timezone
from typing import Any

import aiohttp
import orjson
import psutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pods import PODS, Bench, pct  # noqa: E402

SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
SERVICES = "/api/v1/namespaces/default/services"


def probe_pod(i: int, www: str, probe: bool = True, group: str = "probes") -> dict[str, Any]:
    """The bench's pod; without `probe` it is the baseline (the same httpd, nobody probing it)."""
    readiness = {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 1, "failureThreshold": 1}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{group}-{i}", "labels": {"bench": group}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "volumes": [{"name": "www", "hostPath": {"path": www, "type": "Directory"}}],
                     "containers": [{"name": "web", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                                     "command": ["httpd", "-f", "-vv", "-p", "8080", "-h", "/www"],
                                     "volumeMounts": [{"name": "www", "mountPath": "/www"}],
                                     **({"readinessProbe": readiness} if probe else {})}]}}


def parse_cri_time(s: str) -> float:
    """2026-12-07T11:50:00.123456789Z → epoch seconds (µs precision)."""
    head, _, frac = s.rstrip("Z").partition(".")
    t = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return t + float("0." + (frac or "0")[:6])


class ProbeBench(Bench):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.ready_at: dict[str, list[tuple[float, bool]]] = {}  # pod IP → (time seen, ready) changes

    def cpu(self) -> float:
        assert self.proc is not None
        t = psutil.Process(self.proc.pid).cpu_times()
        return t.user + t.system

    async def cpu_percent(self, seconds: float) -> float:
        c0, t0 = self.cpu(), time.monotonic()
        await asyncio.sleep(seconds)
        return 100 * (self.cpu() - c0) / (time.monotonic() - t0)

    async def watch_slices(self, rv: str) -> None:
        assert self.s is not None
        last: dict[str, bool] = {}
        async with self.s.get(SLICES, params={"watch": "true", "resourceVersion": rv,
                                              "labelSelector": "kubernetes.io/service-name=bench"},
                              timeout=aiohttp.ClientTimeout(None)) as r:
            async for raw in r.content:
                now = time.time()
                ev = orjson.loads(raw)
                for e in ev["object"].get("endpoints") or []:
                    ip, ready = e["addresses"][0], bool((e.get("conditions") or {}).get("ready"))
                    if last.get(ip) != ready:
                        last[ip] = ready
                        self.ready_at.setdefault(ip, []).append((now, ready))

    def probe_answers(self, name: str, uid: str) -> list[tuple[float, int]]:
        """(time, HTTP status) of every answer the pod's httpd logged."""
        out = []
        for path in glob.glob(os.path.join(self.data, "logs", f"default_{name}_{uid}", "web", "*.log")):
            with open(path) as f:
                for line in f:
                    parts = line.split(" ", 3)
                    if len(parts) == 4 and "response:" in parts[3]:
                        out.append((parse_cri_time(parts[0]), int(parts[3].rsplit(":", 1)[1])))
        return sorted(out)

    async def run(self) -> None:  # type: ignore[override]
        a = self.args
        self.line("start to ready", f"{self.start():.2f} s")
        try:
            async with self.session() as self.s:
                www = [os.path.join(self.data, "www", str(i)) for i in range(a.pods)]
                for d in www:
                    os.makedirs(d)
                    open(os.path.join(d, "ready"), "w").write("ok\n")
                await self.baseline(www)
                await self.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bench"},
                                             "spec": {"selector": {"bench": "probes"}, "ports": [{"port": 80}]}})
                t0 = time.monotonic()
                await asyncio.gather(*(self.create(PODS, probe_pod(i, www[i])) for i in range(a.pods)))

                pods = await self.all_ready("probes")
                self.line(f"{a.pods} pods Ready", f"{time.monotonic() - t0:.1f} s")
                rv = (await self.get(SLICES, limit="1"))["metadata"]["resourceVersion"]
                watcher = asyncio.create_task(self.watch_slices(rv))
                await asyncio.sleep(2)
                self.line(f"kubeling CPU, {a.pods} pods probed every 1 s",
                          f"{await self.cpu_percent(a.seconds / 3):5.1f} %   (results unchanged)")

                flips: list[tuple[int, float, bool]] = []  # (pod, time of the flip, ready after)
                busy: dict[int, float] = {}
                cpu = asyncio.create_task(self.cpu_percent(a.seconds))
                end = time.monotonic() + a.seconds
                while time.monotonic() < end:
                    free = [j for j in range(a.pods) if busy.get(j, 0) < time.monotonic()]
                    if not free:
                        await asyncio.sleep(a.flip_every)
                        continue
                    i = random.choice(free)
                    path = os.path.join(www[i], "ready")
                    ready = not os.path.exists(path)
                    if ready:
                        open(path, "w").write("ok\n")
                    else:
                        os.unlink(path)
                    flips.append((i, time.time(), ready))
                    busy[i] = time.monotonic() + 3  # let the flip reach the endpoints first
                    await asyncio.sleep(a.flip_every)
                self.line(f"kubeling CPU, ... and a pod flipped every {a.flip_every} s",
                          f"{await cpu:5.1f} %   (status writes, EndpointSlices, events)")
                await asyncio.sleep(3)
                watcher.cancel()
                lat, missed = self.latencies_of(pods, flips)
                self.line(f"probe result → EndpointSlice, {len(lat)} flips",
                          f"p50 {pct(lat, 50):6.3f} s   p99 {pct(lat, 99):6.3f} s   max {max(lat):6.3f} s"
                          + (f"   ({missed} not matched)" if missed else ""))
        finally:
            self.stop()

    async def all_ready(self, group: str) -> list[dict[str, Any]]:
        async def ready() -> list[dict[str, Any]] | None:
            pods = (await self.get(PODS, labelSelector=f"bench={group}"))["items"]
            ok = all(any(c["type"] == "Ready" and c["status"] == "True"
                         for c in (p.get("status") or {}).get("conditions") or []) for p in pods)
            return pods if ok and len(pods) == self.args.pods else None
        return await self.wait_for(ready, 600, f"all {group} pods Ready")

    async def baseline(self, www: list[str]) -> None:
        """The same pods without probes: kubeling's CPU with nothing to probe."""
        t0 = time.monotonic()
        await asyncio.gather(*(self.create(PODS, probe_pod(i, d, False, "plain")) for i, d in enumerate(www)))
        await self.all_ready("plain")
        self.line(f"{len(www)} pods without probes Running", f"{time.monotonic() - t0:.1f} s")
        await asyncio.sleep(3)
        self.line(f"kubeling CPU, {len(www)} pods, no probes", f"{await self.cpu_percent(20):5.1f} %")
        await self.delete_group("plain")

    def latencies_of(self, pods: list[dict[str, Any]], flips: list[tuple[int, float, bool]]) -> tuple[list[float], int]:
        by_index = {int(p["metadata"]["name"].split("-")[1]): p for p in pods}
        answers = {i: self.probe_answers(p["metadata"]["name"], p["metadata"]["uid"]) for i, p in by_index.items()}
        lat, missed = [], 0
        for i, t, ready in flips:
            ip = by_index[i]["status"]["podIP"]
            want = 200 if ready else 404
            probe = next((at for at, code in answers[i] if at >= t and code == want), None)
            seen = next((at for at, r in self.ready_at.get(ip, []) if at >= t and r == ready), None)
            if probe is None or seen is None or seen < probe:
                missed += 1
                continue
            lat.append(seen - probe)
        return lat, missed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pods", type=int, default=100)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--flip-every", type=float, default=0.25)
    asyncio.run(ProbeBench(p.parse_args()).run())


if __name__ == "__main__":
    main()
