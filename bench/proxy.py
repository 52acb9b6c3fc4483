"""kube-proxy benchmark (issue "Services that carry traffic").

Prints one line per figure:
  1. endpoint change → rule live, per mode (iptables, nftables, userspace): a selector-less
     Service whose EndpointSlice is switched between two HTTP servers on the node address; the
     time from the API write until a new connection to the ClusterIP reaches the new one. p50/p99
     (target p99 ≤ 1 s), for changes back to back (batched by the minimum sync interval) and
     `--gap` seconds apart.
  2. sync time and rule count with 1,000 and 5,000 Services × 2 endpoints (fake endpoint IPs in
     the pod CIDR, no traffic), iptables vs nftables: the first (full) sync and a sync after one
     endpoint change (partial); then the same with half of the Services canary-weighted (20 % to
     a one-endpoint canary side, issue 13). Runs in a scratch network namespace: the host's rules
     are untouched.
  3. requests/s through a ClusterIP to 3 nginx pods vs straight to one pod IP, per mode (a Python
     client, one new connection per request, on this machine).

Starts its own `kubeling up` (temp data dir, free ports, its own bridge and CIDRs), restarted in
each mode (the pods keep running), and cleans up with `kubeling down`.

    .venv/bin/python bench/proxy.py [--changes 40] [--seconds 3] [--services 1000,5000] [--only sync]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import http.server
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any
from benchutil import free_port, pct

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

MODES = ("iptables", "nftables", "userspace")


def line(what: str, text: str) -> None:
    print(f"{what:<60} {text}", flush=True)


# ---- 2. sync time, in a scratch netns ------------------------------------------------------------
def fake_ports(n: int, change: int = -1, weighted: bool = False) -> list[Any]:
    """`n` Services × 2 endpoints; `weighted`: every other one sends 20 % to a canary endpoint."""
    from kubeling.proxy.model import Canary, Endpoint, ServicePort

    out = []
    for i in range(n):
        ip = ipaddress.ip_address("10.96.16.0") + i
        a, b = ipaddress.ip_address("10.244.0.0") + 2 * i + 2, ipaddress.ip_address("10.244.0.0") + 2 * i + 3
        if i == change:
            b = ipaddress.ip_address("10.245.0.1")
        canary = None
        if weighted and i % 2:
            canary = Canary(f"svc-{i}-canary", "http", 20, (Endpoint(str(ipaddress.ip_address("10.246.0.0") + i), 8080),))
        out.append(ServicePort("bench", f"svc-{i}", "http", "TCP", str(ip), 80, node_port=0,
                               endpoints=(Endpoint(str(a), 8080), Endpoint(str(b), 8080)), canary=canary))
    return out


async def sync_figures(counts: list[int]) -> None:
    from kubeling.proxy.iptables import Context
    from kubeling.proxy.iptables_backend import IptablesBackend
    from kubeling.proxy.nftables_backend import NftablesBackend

    ctx = Context("0123456789ab", "10.244.0.0/16", ("10.244.0.1",), tag="kubeling:bench:0123456789ab")
    for n, weighted in ((n, w) for n in counts for w in (False, True)):
        for name, backend in (("iptables", IptablesBackend(ctx)), ("nftables", NftablesBackend(ctx, ["10.244.0.1"]))):
            before, after = fake_ports(n, weighted=weighted), fake_ports(n, change=n // 2 + 1, weighted=weighted)
            t0 = time.monotonic()
            full = await backend.sync(before)
            t1 = time.monotonic()
            part = await backend.sync(after)
            t2 = time.monotonic()
            line(f"sync {n} Services x 2 endpoints{', half weighted' if weighted else ''}, {name}",
                 f"full {t1 - t0:6.2f} s   one endpoint changed {(t2 - t1) * 1000:7.0f} ms "
                 f"({part.written} lines)   rules {full.rules}")
            await backend.cleanup()


def run_sync_in_netns(counts: list[int]) -> None:
    ns = f"klbench{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", ns, sys.executable, __file__, "--only", "sync-here",
                        "--services", ",".join(map(str, counts))], check=True)
    finally:
        subprocess.run(["ip", "netns", "del", ns])


# ---- the cluster --------------------------------------------------------------------------------
class Cluster:
    def __init__(self) -> None:
        self.data = tempfile.mkdtemp(prefix="kubeling-proxy-")
        self.port = free_port()
        net = random.randrange(1, 250)
        self.node_ip = f"10.246.{net}.1"
        self.flags = ["--kubelet-port", str(free_port()), "--pod-bridge", f"klpb{net}",
                      "--cluster-cidr", f"10.246.{net}.0/24", "--service-cidr", f"10.247.{net}.0/24",
                      "--pod-log-dir", os.path.join(self.data, "logs"), "--node-name", "bench-node",
                      "--cluster-dns", "none"]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, mode: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "kubeling.cli", "up", "--data-dir", self.data,
                                      "--port", str(self.port), "--proxy-mode", mode, *self.flags],
                                     stdout=subprocess.PIPE, stderr=open(os.path.join(self.data, "up.log"), "ab"))
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            if b"kubeling is ready" in raw:
                return
        raise RuntimeError(f"kubeling exited; see {self.data}/up.log")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def down(self) -> None:
        self.stop()
        r = subprocess.run([sys.executable, "-m", "kubeling.cli", "down", "--data-dir", self.data, "-q"],
                           capture_output=True, text=True)
        if r.returncode:
            print(f"kubeling down: {r.stdout}{r.stderr}", file=sys.stderr)
        else:
            shutil.rmtree(self.data, ignore_errors=True)

    def kubectl(self, *args: str, input: str | None = None) -> str:
        env = {**os.environ, "KUBECONFIG": os.path.join(self.data, "kubeconfig.yaml")}
        return subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, env=env,
                              check=True).stdout

    def session(self) -> Any:
        import requests  # type: ignore[import-untyped]

        token = open(os.path.join(self.data, "server", "token")).read().split(",")[0]
        s = requests.Session()
        s.trust_env = False
        s.headers["Authorization"] = f"Bearer {token}"
        s.verify = os.path.join(self.data, "server", "tls", "server-ca.crt")
        return s


def wait(fn: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(interval)
    raise TimeoutError(what)


def get(host: str, port: int, timeout: float = 0.5) -> str | None:
    try:
        c = http.client.HTTPConnection(host, port, timeout=timeout)
        c.request("GET", "/")
        body = c.getresponse().read().decode()
        c.close()
        return body
    except OSError:
        return None


def _bindable(ip: str) -> bool:
    with socket.socket() as s:
        try:
            s.bind((ip, 0))
            return True
        except OSError:
            return False


def serve(host: str, text: str) -> tuple[http.server.ThreadingHTTPServer, int]:
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: Any) -> None:
            pass
    srv = http.server.ThreadingHTTPServer((host, 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


LAT_SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bench-lat"},
           "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}


def slice_body(ip: str, port: int) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "bench-lat-1", "labels": {"kubernetes.io/service-name": "bench-lat"}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip]}]}


def latency(c: Cluster, mode: str, changes: int, servers: dict[str, int], gap: float) -> None:
    """`gap` seconds between a change being live and the next one: with a gap shorter than the
    proxy's minimum sync interval (0.25 s) the next change waits for the interval (batching)."""
    s = c.session()
    base = f"https://127.0.0.1:{c.port}"
    path = f"{base}/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
    cur = s.get(f"{path}/bench-lat-1").json()
    ip = c.kubectl("get", "svc", "bench-lat", "-o", "jsonpath={.spec.clusterIP}")
    lat = []
    for i in range(changes):
        want = "B" if cur["ports"][0]["port"] == servers["A"] else "A"
        body = slice_body(c.node_ip, servers[want])
        body["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        t0 = time.monotonic()
        r = s.put(f"{path}/bench-lat-1", json=body)
        r.raise_for_status()
        cur = r.json()
        wait(lambda: get(ip, 80, 0.3) == want, 10, f"{want} live", 0.005)
        lat.append(time.monotonic() - t0)
        time.sleep(gap)
    line(f"endpoint change -> rule live, {mode} ({changes}x, {gap:g} s apart)",
         f"p50 {pct(lat, 50) * 1000:6.0f} ms   p99 {pct(lat, 99) * 1000:6.0f} ms   max {max(lat) * 1000:6.0f} ms")


def rps(host: str, port: int, seconds: float, threads: int = 4) -> float:
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def worker(i: int) -> None:
        while time.monotonic() < stop:
            if get(host, port, 2.0) is not None:
                counts[i] += 1
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / seconds


WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench-web}
spec:
  replicas: 3
  selector: {matchLabels: {app: bench-web}}
  template:
    metadata: {labels: {app: bench-web}}
    spec:
      containers: [{name: nginx, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: bench-web}
spec:
  selector: {app: bench-web}
  ports: [{port: 80}]
"""


def cluster_figures(args: argparse.Namespace) -> None:
    c = Cluster()
    servers: dict[str, int] = {}
    try:
        for n, mode in enumerate(MODES):
            c.start(mode)
            if n == 0:
                wait(lambda: _bindable(c.node_ip), 30, "the node address on the bridge")
                for name in ("A", "B"):
                    servers[name] = serve(c.node_ip, name)[1]
                c.kubectl("apply", "-f", "-", input=json.dumps(LAT_SVC))
                c.kubectl("apply", "-f", "-", input=json.dumps(slice_body(c.node_ip, servers["A"])))
                c.kubectl("apply", "-f", "-", input=WEB)
                wait(lambda: c.kubectl("get", "deploy", "bench-web", "-o",
                                       "jsonpath={.status.readyReplicas}") == "3", 120, "3 nginx pods", 0.5)
            ip = c.kubectl("get", "svc", "bench-lat", "-o", "jsonpath={.spec.clusterIP}")
            wait(lambda: get(ip, 80) in ("A", "B"), 30, "bench-lat live")
            for gap in (0.0, args.gap):
                latency(c, mode, args.changes, servers, gap)
            web = c.kubectl("get", "svc", "bench-web", "-o", "jsonpath={.spec.clusterIP}")
            pod_ip = c.kubectl("get", "pods", "-l", "app=bench-web", "-o", "jsonpath={.items[0].status.podIP}")
            wait(lambda: get(web, 80), 30, "bench-web live")
            via, direct = rps(web, 80, args.seconds), rps(pod_ip, 80, args.seconds)
            line(f"requests/s, 3 nginx pods via ClusterIP, {mode}",
                 f"{via:7.0f}   straight to one pod {direct:7.0f}   ratio {via / direct:4.2f}")
            c.stop()
    finally:
        c.down()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--changes", type=int, default=40)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--gap", type=float, default=0.5, help="seconds between changes in the second latency run")
    p.add_argument("--services", default="1000,5000")
    p.add_argument("--only", choices=("sync", "cluster", "sync-here"), default=None)
    args = p.parse_args()
    counts = [int(x) for x in args.services.split(",") if x]
    if args.only == "sync-here":
        asyncio.run(sync_figures(counts))
        return
    if args.only in (None, "cluster"):
        cluster_figures(args)
    if args.only in (None, "sync"):
        run_sync_in_netns(counts)


if __name__ == "__main__":
    main()
