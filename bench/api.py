"""API server benchmark: creates, gets, lists, watch delay, start time and RSS.

Starts its own `kubeling up` on a free port with a temporary data dir (or uses --kubeconfig of a
running server), then prints one line per figure. The reference numbers in the comparison column
are the real kube-apiserver v1.24 + etcd 3.4 measured on this kind of machine with the same
workload (see issue "API server + embedded store").

    .venv/bin/python bench/api.py [--n 2000] [--clients 8] [--policy]

--policy binds a ValidatingAdmissionPolicy (one CEL validation) to every ConfigMap write first,
to measure what evaluating it costs a write.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp
import orjson
import psutil
from benchutil import pct

REFERENCE = {
    "create_seq": "546-622/s", "create_par": "1292-1538/s", "list_json": "20-26 ms", "list_table": "29-30 ms",
    "watch_p50": "3.3 ms", "watch_p99": "9 ms", "ready": "5.1 s", "rss_idle": "325+44 MB",
}
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
POLICY = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
          "metadata": {"name": "bench"}, "spec": {
              "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                      "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}]},
              "validations": [{"expression": "!has(object.data) || object.data.size() < 100"}]}}
BINDING = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
           "metadata": {"name": "bench"}, "spec": {"policyName": "bench", "validationActions": ["Deny"]}}


def line(name: str, value: str, ref: str = "") -> None:
    print(f"{name:<34} {value:>14}   {('kube-apiserver: ' + ref) if ref else ''}", flush=True)


class Server:
    def __init__(self, *extra_args: str) -> None:
        self.extra_args = extra_args  # more `kubeling up` flags
        self.dir = tempfile.mkdtemp(prefix="kubeling-bench-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        t0 = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "kubeling.cli", "up", "--data-dir", self.dir,
                                      "--port", str(self.port), "--no-node", *self.extra_args],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if b"kubeling is ready" in raw:
                return time.monotonic() - t0
        raise RuntimeError("server did not start")

    def rss_mb(self) -> float:
        assert self.proc is not None
        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def session(server: Server, connections: int, token: str = "") -> aiohttp.ClientSession:
    """HTTPS to the server as `token` (default: the admin's static token)."""
    ctx = ssl.create_default_context(cafile=os.path.join(server.dir, "server", "tls", "server-ca.crt"))
    token = token or open(os.path.join(server.dir, "server", "token")).read().split(",")[0]
    return aiohttp.ClientSession(
        base_url=f"https://127.0.0.1:{server.port}",
        connector=aiohttp.TCPConnector(ssl=ctx, limit=connections),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


async def create_many(s: aiohttp.ClientSession, ns: str, n: int, clients: int, prefix: str) -> tuple[float, list[float]]:
    lat: list[float] = []
    names = iter(range(n))

    async def worker() -> None:
        for i in names:
            body = orjson.dumps({"metadata": {"name": f"{prefix}-{i}", "labels": {"bench": "yes"}},
                                 "data": {"key": "value", "n": str(i)}})
            t = time.perf_counter()
            async with s.post(f"/api/v1/namespaces/{ns}/configmaps", data=body) as r:
                await r.read()
                assert r.status == 201, r.status
            lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - t0, lat


async def run(args: argparse.Namespace) -> None:
    server = Server()
    ready = server.start()
    line("start to ready", f"{ready:.2f} s", REFERENCE["ready"])
    await asyncio.sleep(1.0)
    line("idle RSS", f"{server.rss_mb():.0f} MB", REFERENCE["rss_idle"])
    try:
        async with session(server, args.clients) as s:
            if args.policy:
                for path, obj in (("validatingadmissionpolicies", POLICY), ("validatingadmissionpolicybindings", BINDING)):
                    async with s.post(f"/apis/admissionregistration.k8s.io/v1/{path}", data=orjson.dumps(obj)) as r:
                        assert r.status == 201, await r.text()
                line("ValidatingAdmissionPolicy", "bound", "")
            for ns in ("bench-seq", "bench-par"):
                async with s.post("/api/v1/namespaces", data=orjson.dumps({"metadata": {"name": ns}})) as r:
                    assert r.status == 201
            # warm-up (imports, schema loading, connection setup)
            await create_many(s, "bench-seq", 50, 1, "warm")

            total, lat = await create_many(s, "bench-seq", args.n, 1, "seq")
            line("create, 1 client", f"{args.n / total:.0f} /s", REFERENCE["create_seq"])
            line("create p50 / p99, 1 client", f"{pct(lat, 50)*1e3:.2f} / {pct(lat, 99)*1e3:.2f} ms", "p99 3.5-5.4 ms")
            total, lat = await create_many(s, "bench-par", args.n, args.clients, "par")
            line(f"create, {args.clients} clients", f"{args.n / total:.0f} /s", REFERENCE["create_par"])

            lat = []
            for i in range(1000):
                t = time.perf_counter()
                async with s.get(f"/api/v1/namespaces/bench-seq/configmaps/seq-{i}") as r:
                    await r.read()
                lat.append(time.perf_counter() - t)
            line("get p50 / p99", f"{pct(lat, 50)*1e3:.2f} / {pct(lat, 99)*1e3:.2f} ms", "")

            for name, accept, ref in (("list 2000, JSON", "application/json", REFERENCE["list_json"]),
                                      ("list 2000, Table", TABLE, REFERENCE["list_table"])):
                lat = []
                for _ in range(20):
                    t = time.perf_counter()
                    async with s.get("/api/v1/namespaces/bench-par/configmaps", headers={"Accept": accept}) as r:
                        body = await r.read()
                    lat.append(time.perf_counter() - t)
                n_items = len(orjson.loads(body).get("items") or orjson.loads(body).get("rows"))
                assert n_items >= args.n, n_items  # plus kube-root-ca.crt
                line(name + " (median)", f"{statistics.median(lat)*1e3:.1f} ms", ref)

            # watch delay: create → event observed by a watcher
            async with s.get("/api/v1/namespaces/bench-seq/configmaps", params={"limit": "1"}) as r:
                rv = (await r.json())["metadata"]["resourceVersion"]
            sent: dict[str, float] = {}
            delays: list[float] = []
            done = asyncio.Event()
            n_watch = 500

            async def watcher() -> None:
                async with session(server, 1) as ws:
                    async with ws.get("/api/v1/namespaces/bench-seq/configmaps",
                                      params={"watch": "true", "resourceVersion": rv}, timeout=aiohttp.ClientTimeout(None)) as r:
                        async for raw in r.content:
                            ev = orjson.loads(raw)
                            name = ev["object"]["metadata"]["name"]
                            if name in sent:
                                delays.append(time.perf_counter() - sent[name])
                                if len(delays) == n_watch:
                                    done.set()
                                    return

            task = asyncio.create_task(watcher())
            await asyncio.sleep(0.3)
            for i in range(n_watch):
                name = f"w-{i}"
                sent[name] = time.perf_counter()
                async with s.post("/api/v1/namespaces/bench-seq/configmaps",
                                  data=orjson.dumps({"metadata": {"name": name}})) as r:
                    await r.read()
            await asyncio.wait_for(done.wait(), 30)
            task.cancel()
            line("watch delay p50 / p99", f"{pct(delays, 50)*1e3:.2f} / {pct(delays, 99)*1e3:.2f} ms",
                 f"{REFERENCE['watch_p50']} / {REFERENCE['watch_p99']}")
            line("RSS after load", f"{server.rss_mb():.0f} MB", "")
    finally:
        server.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--policy", action="store_true", help="a ValidatingAdmissionPolicy on every ConfigMap write")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
