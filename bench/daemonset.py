"""DaemonSet fan-out on simulated nodes (issue 14).

Starts `kubeling up --sim-nodes N` (simulated runtime: no containers), creates a DaemonSet and
prints the seconds until one pod per node is Running (seen through a watch) and until the
DaemonSet's status says so (numberReady = N); then a rolling update (maxUnavailable 10 %) and
the seconds until every node runs the new template; kubeling CPU for each phase.

    .venv/bin/python bench/daemonset.py [--nodes 100]
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
from typing import Any, Callable

import aiohttp
import orjson
import psutil

DS_PATH = "/apis/apps/v1/namespaces/default/daemonsets"
DS = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "fanout", "namespace": "default"},
      "spec": {"selector": {"matchLabels": {"app": "fanout"}},
               "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
               "template": {"metadata": {"labels": {"app": "fanout"}},
                            "spec": {"containers": [{"name": "c", "image": "busybox:1.35"}]}}}}


def start(nodes: int) -> tuple[subprocess.Popen[bytes], str, int]:
    data = tempfile.mkdtemp(prefix="kubeling-dsbench-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "kubeling.cli", "up", "--data-dir", data, "--port", str(port),
                             "--sim-nodes", str(nodes)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    for raw in proc.stdout:
        if b"kubeling is ready" in raw:
            break
    return proc, data, port


async def until(s: aiohttp.ClientSession, path: str, pred: Callable[[Any], bool]) -> None:
    while True:
        async with s.get(path) as r:
            if pred(await r.json()):
                return
        await asyncio.sleep(0.1)


async def watch_pods(s: aiohttp.ClientSession, done: Callable[[dict[str, dict]], bool]) -> None:
    """Follow the DaemonSet's pods (name -> pod, deleted ones dropped) until `done(pods)`."""
    async with s.get("/api/v1/namespaces/default/pods", params={"labelSelector": "app=fanout"}) as r:
        body = await r.json()
    pods = {p["metadata"]["name"]: p for p in body["items"]}
    if done(pods):
        return
    async with s.get("/api/v1/namespaces/default/pods",
                     params={"watch": "true", "labelSelector": "app=fanout",
                             "resourceVersion": body["metadata"]["resourceVersion"]},
                     timeout=aiohttp.ClientTimeout(None)) as r:
        async for raw in r.content:
            ev = orjson.loads(raw)
            pod = ev["object"]
            if ev["type"] == "DELETED":
                pods.pop(pod["metadata"]["name"], None)
            else:
                pods[pod["metadata"]["name"]] = pod
            if done(pods):
                return


def running(pods: dict[str, dict], image: str) -> int:
    return sum(1 for p in pods.values() if p.get("status", {}).get("phase") == "Running"
               and not p["metadata"].get("deletionTimestamp") and p["spec"]["containers"][0]["image"] == image)


async def run(args: argparse.Namespace) -> None:
    t0 = time.monotonic()
    proc, data, port = start(args.nodes)
    print(f"{'start to ready':<40} {time.monotonic() - t0:8.2f} s", flush=True)
    ps = psutil.Process(proc.pid)
    ctx = ssl.create_default_context(cafile=os.path.join(data, "server", "tls", "server-ca.crt"))
    token = open(os.path.join(data, "server", "token")).read().split(",")[0]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    n = args.nodes

    def cpu() -> float:
        return sum(ps.cpu_times()[:2])

    try:
        async with aiohttp.ClientSession(base_url=f"https://127.0.0.1:{port}", headers=headers,
                                         connector=aiohttp.TCPConnector(ssl=ctx)) as s:
            await until(s, "/api/v1/nodes", lambda b: sum(
                any(c["type"] == "Ready" and c["status"] == "True" for c in x.get("status", {}).get("conditions", []))
                for x in b.get("items") or []) >= n)
            print(f"{'nodes Ready':<40} {n:8d}   after {time.monotonic() - t0:.1f} s", flush=True)
            c0, t1 = cpu(), time.monotonic()
            async with s.post(DS_PATH, data=orjson.dumps(DS)) as r:
                assert r.status == 201, await r.text()
            await asyncio.wait_for(watch_pods(s, lambda p: running(p, "busybox:1.35") >= n), args.timeout)
            print(f"{'create -> a pod Running on every node':<40} {time.monotonic() - t1:8.2f} s", flush=True)
            await until(s, f"{DS_PATH}/fanout", lambda d: d.get("status", {}).get("numberReady") == n)
            print(f"{'create -> status numberReady = nodes':<40} {time.monotonic() - t1:8.2f} s   "
                  f"(kubeling CPU {cpu() - c0:.1f} s)", flush=True)
            c0, t1 = cpu(), time.monotonic()
            patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}}
            async with s.patch(f"{DS_PATH}/fanout", data=orjson.dumps(patch),
                               headers={"Content-Type": "application/strategic-merge-patch+json"}) as r:
                assert r.status == 200, await r.text()
            await asyncio.wait_for(watch_pods(s, lambda p: running(p, "busybox:1.36") >= n and len(p) == n),
                                   args.timeout)
            print(f"{'rolling update (maxUnavailable 10%)':<40} {time.monotonic() - t1:8.2f} s   "
                  f"(kubeling CPU {cpu() - c0:.1f} s)", flush=True)
            print(f"{'RSS':<40} {ps.memory_info().rss / 2**20:8.0f} MB", flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--timeout", type=float, default=300)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
