"""Control-plane scale benchmark on simulated nodes (issue "Control plane").

Starts `kubeling up --sim-nodes N` (a labelled simulated runtime: no containers), creates one
Deployment and scales it to R replicas, and prints:
  - seconds from the scale-up until every pod is Running (seen through a watch),
  - scheduler throughput (pods bound per second, from the watch),
  - peak RSS of the kubeling process,
  - API GET latency p50/p99 sampled during the run.

    .venv/bin/python bench/scale.py [--nodes 100] [--replicas 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import aiohttp
import orjson
import psutil
from benchutil import pct

DEPLOY = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "scale", "namespace": "default"},
    "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "scale"}},
             "template": {"metadata": {"labels": {"app": "scale"}},
                          "spec": {"containers": [{"name": "c", "image": "busybox:1.35",
                                                   "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}]}}},
}


async def run(args: argparse.Namespace) -> None:
    data = tempfile.mkdtemp(prefix="kubeling-scale-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "kubeling.cli", "up", "--data-dir", data, "--port", str(port),
                             "--sim-nodes", str(args.nodes)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    for raw in proc.stdout:
        if b"kubeling is ready" in raw:
            break
    print(f"{'start to ready':<34} {time.monotonic() - t0:10.2f} s", flush=True)
    ps = psutil.Process(proc.pid)
    peak_rss = ps.memory_info().rss
    ctx = ssl.create_default_context(cafile=os.path.join(data, "server", "tls", "server-ca.crt"))
    token = open(os.path.join(data, "server", "token")).read().split(",")[0]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        async with aiohttp.ClientSession(base_url=f"https://127.0.0.1:{port}", headers=headers,
                                         connector=aiohttp.TCPConnector(ssl=ctx)) as s:
            while True:  # wait for every simulated node to be Ready
                async with s.get("/api/v1/nodes") as r:
                    nodes = (await r.json()).get("items") or []
                ready = [n for n in nodes if any(c["type"] == "Ready" and c["status"] == "True"
                                                 for c in n.get("status", {}).get("conditions", []))]
                if len(ready) >= args.nodes:
                    break
                await asyncio.sleep(0.2)
            print(f"{'nodes Ready':<34} {len(ready):10d}   after {time.monotonic() - t0:.1f} s", flush=True)
            async with s.post("/apis/apps/v1/namespaces/default/deployments", data=orjson.dumps(DEPLOY)) as r:
                assert r.status == 201, await r.text()
            async with s.get("/api/v1/namespaces/default/pods", params={"limit": "1"}) as r:
                rv = (await r.json())["metadata"]["resourceVersion"]
            bound: dict[str, float] = {}
            running: set[str] = set()
            done = asyncio.Event()
            start = time.monotonic()

            async def watch() -> None:
                async with aiohttp.ClientSession(base_url=f"https://127.0.0.1:{port}", headers=headers,
                                                 connector=aiohttp.TCPConnector(ssl=ctx)) as ws:
                    async with ws.get("/api/v1/namespaces/default/pods",
                                      params={"watch": "true", "resourceVersion": rv},
                                      timeout=aiohttp.ClientTimeout(None)) as r:
                        async for raw in r.content:
                            ev = orjson.loads(raw)
                            pod = ev["object"]
                            name = pod["metadata"]["name"]
                            if pod.get("spec", {}).get("nodeName") and name not in bound:
                                bound[name] = time.monotonic()
                            if pod.get("status", {}).get("phase") == "Running":
                                running.add(name)
                            if len(running) >= args.replicas:
                                done.set()
                                return

            lat: list[float] = []

            async def sample() -> None:
                nonlocal peak_rss
                while not done.is_set():
                    t = time.perf_counter()
                    async with s.get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt") as r:
                        await r.read()
                    lat.append(time.perf_counter() - t)
                    peak_rss = max(peak_rss, ps.memory_info().rss)
                    await asyncio.sleep(0.1)

            tasks = [asyncio.create_task(watch()), asyncio.create_task(sample())]
            cpu0 = sum(ps.cpu_times()[:2])
            patch = orjson.dumps({"spec": {"replicas": args.replicas}})
            async with s.patch("/apis/apps/v1/namespaces/default/deployments/scale/scale", data=patch,
                               headers={"Content-Type": "application/merge-patch+json"}) as r:
                assert r.status == 200, await r.text()
            try:
                await asyncio.wait_for(done.wait(), args.timeout)
            except asyncio.TimeoutError:
                pass
            elapsed = time.monotonic() - start
            cpu = sum(ps.cpu_times()[:2]) - cpu0
            for t in tasks:
                t.cancel()
            print(f"{'pods Running':<34} {len(running):10d} / {args.replicas} in {elapsed:.1f} s", flush=True)
            if len(bound) > 1:
                times = sorted(bound.values())
                span = max(times[-1] - times[0], 1e-6)
                print(f"{'scheduler throughput':<34} {len(bound) / span:10.0f} pods/s", flush=True)
            print(f"{'kubeling CPU during the run':<34} {cpu:10.1f} s   ({100 * cpu / elapsed:.0f}% of a core, "
                  f"{1000 * cpu / max(len(running), 1):.1f} ms/pod; load avg {os.getloadavg()[0]:.1f} "
                  f"on {os.cpu_count()} CPUs)", flush=True)
            print(f"{'peak RSS':<34} {peak_rss / 2**20:10.0f} MB", flush=True)
            print(f"{'API GET p50 / p99 during run':<34} {pct(lat, 50) * 1e3:6.1f} / {pct(lat, 99) * 1e3:.1f} ms",
                  flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data, ignore_errors=True)  # ~25 MB per run (the database of 1000 pods)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--replicas", type=int, default=10000)
    p.add_argument("--timeout", type=float, default=600)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
