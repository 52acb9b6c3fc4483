"""Pod startup on the real node (issue "Real node" benchmark).

Starts its own `kubeling up` (temp data dir, free ports, a bridge and CIDRs of its own, so a
running kubeling is not disturbed), waits until the test images are in the node's store, then
prints one line per figure:
  - pod create → Running (seen through a watch), 50 pods one by one: p50 / p99,
  - the same with 50 pods created at once: p50 / p99 (and until the last one runs),
  - RSS of the kubeling process with 30 running pods (and of the 30 container monitors),
  - the tutorial's rolling update (3 replicas, nginx:1.14.2 → 1.16.1) until complete.
Targets (DESIGN.md): p50 ≤ 0.5 s, p99 ≤ 1 s. Cleans up with `kubeling down`.

    .venv/bin/python bench/pods.py [--pods 50] [--rss-pods 30] [--py-spy burst.svg]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp
import orjson
import psutil
from benchutil import free_port, pct

NS = "default"
PODS = f"/api/v1/namespaces/{NS}/pods"
DEPLOYS = f"/apis/apps/v1/namespaces/{NS}/deployments"
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


def pod(name: str, group: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": group}},
            "spec": {"terminationGracePeriodSeconds": 2,
                     "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                                     "command": COMMAND}]}}


def deployment(image: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "nginx-deployment", "labels": {"app": "nginx"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"}},
                     "template": {"metadata": {"labels": {"app": "nginx"}},
                                  "spec": {"containers": [{"name": "nginx", "image": image,
                                                           "ports": [{"containerPort": 80}]}]}}}}


def running(p: dict[str, Any]) -> bool:
    st = p.get("status") or {}
    return st.get("phase") == "Running" and all(c.get("ready") for c in st.get("containerStatuses") or [{}])


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data = tempfile.mkdtemp(prefix="kubeling-pods-")
        self.port = free_port()
        net = random.randrange(1, 250)
        self.flags = ["--kubelet-port", str(free_port()), "--pod-bridge", f"klbench{net}",
                      "--cluster-cidr", f"10.254.{net}.0/24", "--service-cidr", f"10.255.{net}.0/24",
                      "--pod-log-dir", os.path.join(self.data, "logs"), "--node-name", "bench-node"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.running_at: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.s: aiohttp.ClientSession | None = None

    # ---- cluster ----
    def start(self) -> float:
        t0 = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "kubeling.cli", "up", "--data-dir", self.data,
                                      "--port", str(self.port), "-v", *self.flags], stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(self.data, "kubeling.log"), "ab"))
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if b"kubeling is ready" in raw:
                return time.monotonic() - t0
        raise RuntimeError(f"kubeling exited; see {self.data}/kubeling.log")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        r = subprocess.run([sys.executable, "-m", "kubeling.cli", "down", "--data-dir", self.data, "-q"],
                           capture_output=True, text=True)
        if r.returncode:
            print(f"kubeling down: {r.stdout}{r.stderr}", file=sys.stderr)
        else:
            shutil.rmtree(self.data, ignore_errors=True)

    def session(self) -> aiohttp.ClientSession:
        ctx = ssl.create_default_context(cafile=os.path.join(self.data, "server", "tls", "server-ca.crt"))
        token = open(os.path.join(self.data, "server", "token")).read().split(",")[0]
        return aiohttp.ClientSession(base_url=f"https://127.0.0.1:{self.port}",
                                     headers={"Authorization": f"Bearer {token}"},
                                     connector=aiohttp.TCPConnector(ssl=ctx, limit=200))

    async def get(self, path: str, **params: str) -> Any:
        assert self.s is not None
        async with self.s.get(path, params=params) as r:
            return await r.json()

    async def create(self, path: str, obj: dict[str, Any]) -> None:
        assert self.s is not None
        async with self.s.post(path, data=orjson.dumps(obj), headers={"Content-Type": "application/json"}) as r:
            if r.status != 201:
                raise RuntimeError(f"create {obj['metadata']['name']}: {r.status} {await r.text()}")

    async def wait_for(self, fn: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = await fn()
            if got:
                return got
            await asyncio.sleep(0.1)
        raise TimeoutError(what)

    # ---- watch ----
    async def watch(self, rv: str) -> None:
        assert self.s is not None
        async with self.s.get(PODS, params={"watch": "true", "resourceVersion": rv},
                              timeout=aiohttp.ClientTimeout(None)) as r:
            async for raw in r.content:
                ev = orjson.loads(raw)
                p = ev["object"]
                name = p["metadata"]["name"]
                if ev["type"] != "DELETED" and running(p) and name not in self.running_at:
                    t = self.running_at[name] = time.monotonic()
                    fut = self.waiters.pop(name, None)
                    if fut is not None and not fut.done():
                        fut.set_result(t)

    async def create_and_time(self, name: str, group: str) -> float:
        """Seconds from sending the create to the watch showing the pod Running."""
        fut = self.waiters[name] = asyncio.get_running_loop().create_future()
        t0 = time.monotonic()
        await self.create(PODS, pod(name, group))
        return await asyncio.wait_for(fut, 120) - t0

    async def delete_group(self, group: str) -> None:
        assert self.s is not None
        async with self.s.delete(PODS, params={"labelSelector": f"bench={group}"}) as r:
            await r.read()

        async def gone() -> bool:
            return not (await self.get(PODS, labelSelector=f"bench={group}"))["items"]
        await self.wait_for(gone, 120, f"pods of {group} gone")

    # ---- figures ----
    def line(self, what: str, text: str) -> None:
        print(f"{what:<44} {text}", flush=True)

    async def latencies(self, name: str, lat: list[float], total: float | None = None) -> None:
        extra = f"   (all {len(lat)} Running after {total:.2f} s)" if total is not None else ""
        self.line(name, f"p50 {pct(lat, 50):6.3f} s   p99 {pct(lat, 99):6.3f} s   max {max(lat):6.3f} s{extra}")

    def rss(self) -> tuple[float, float, float, int]:
        """(kubeling RSS, monitors' RSS sum, monitors' USS sum, monitors) in MB."""
        assert self.proc is not None
        main = psutil.Process(self.proc.pid).memory_info().rss
        rss = uss = n = 0
        for f in glob.glob(os.path.join(self.data, "agent", "containers", "*", "state.json")):
            try:
                st = json.load(open(f))
                p = psutil.Process(st["monitor_pid"])
                mi = p.memory_full_info()
                rss, uss, n = rss + mi.rss, uss + mi.uss, n + 1
            except (OSError, ValueError, KeyError, psutil.Error):
                pass
        return main / 2**20, rss / 2**20, uss / 2**20, n

    async def run(self) -> None:
        a = self.args
        self.line("start to ready", f"{self.start():.2f} s")
        try:
            async with self.session() as self.s:
                async def node_ready() -> bool:
                    nodes = (await self.get("/api/v1/nodes"))["items"]
                    return any(c["type"] == "Ready" and c["status"] == "True"
                               for n in nodes for c in n["status"].get("conditions", []))
                await self.wait_for(node_ready, 60, "node Ready")
                rv = (await self.get(PODS, limit="1"))["metadata"]["resourceVersion"]
                watcher = asyncio.create_task(self.watch(rv))
                t0 = time.monotonic()
                await self.create_and_time("warmup", "warmup")  # waits for the test images
                self.line("warm-up pod Running (images ready)", f"{time.monotonic() - t0:.2f} s")
                await self.delete_group("warmup")

                lat = [await self.create_and_time(f"seq-{i}", "seq") for i in range(a.pods)]
                await self.latencies(f"create → Running, {a.pods} one by one", lat)
                await self.delete_group("seq")

                spy = self.py_spy(a.py_spy) if a.py_spy else None
                t0 = time.monotonic()
                lat = await asyncio.gather(*(self.create_and_time(f"burst-{i}", "burst") for i in range(a.pods)))
                total = time.monotonic() - t0
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(60)
                await self.latencies(f"create → Running, {a.pods} at once", list(lat), total)
                await self.delete_group("burst")

                await asyncio.gather(*(self.create_and_time(f"rss-{i}", "rss") for i in range(a.rss_pods)))
                await asyncio.sleep(2)
                main, mrss, muss, n = self.rss()
                self.line(f"RSS with {a.rss_pods} running pods", f"kubeling {main:6.0f} MB   "
                          f"{n} monitors: RSS {mrss:.0f} MB, USS {muss:.0f} MB")
                await self.delete_group("rss")

                await self.create(DEPLOYS, deployment("nginx:1.14.2"))

                async def complete() -> bool:
                    d = await self.get(f"{DEPLOYS}/nginx-deployment")
                    st = d.get("status") or {}
                    return (st.get("observedGeneration", 0) >= d["metadata"]["generation"]
                            and st.get("updatedReplicas") == 3 and st.get("replicas") == 3
                            and st.get("availableReplicas") == 3)
                await self.wait_for(complete, 120, "deployment available")
                assert self.s is not None
                t0 = time.monotonic()
                patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.16.1"}]}}}}
                async with self.s.patch(f"{DEPLOYS}/nginx-deployment", data=orjson.dumps(patch),
                                        headers={"Content-Type": "application/strategic-merge-patch+json"}) as r:
                    assert r.status == 200, await r.text()
                await self.wait_for(complete, 120, "rollout complete")
                self.line("rolling update, 3 replicas, 1.14.2 → 1.16.1", f"{time.monotonic() - t0:.2f} s")
                watcher.cancel()
        finally:
            self.stop()

    def py_spy(self, out: str) -> subprocess.Popen[bytes]:
        assert self.proc is not None
        spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
        fmt = ["-f", "raw"] if out.endswith(".txt") else []  # folded stacks, for scripts
        return subprocess.Popen([spy, "record", "-p", str(self.proc.pid), "-o", out, "-r", "200", *fmt],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pods", type=int, default=50)
    p.add_argument("--rss-pods", type=int, default=30)
    p.add_argument("--py-spy", default="", metavar="OUT.svg", help="profile kubeling during the 50-at-once step (.svg flame graph, .txt folded)")
    asyncio.run(Bench(p.parse_args()).run())


if __name__ == "__main__":
    main()
