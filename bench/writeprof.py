"""The API server's write path under load: ConfigMap creates, server CPU per create, py-spy.

Starts its own `kubeling up` (free port, temporary data dir), warms up, then creates ConfigMaps
with N concurrent clients and prints creates/s, p50 latency and the server's CPU time per
create (user+system; more stable than wall time on a shared machine).

    .venv/bin/python bench/writeprof.py [--clients 8] [--n 2000] [--rounds 3]
    .venv/bin/python bench/writeprof.py --profile out.raw [--gil]      # py-spy raw profile + summary
    .venv/bin/python bench/writeprof.py --base /tmp/base/src           # A/B: a second server runs
                                                                        # the code under that src dir;
                                                                        # rounds alternate between them
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import subprocess
import sys

import psutil

sys.path.insert(0, os.path.dirname(__file__))
from api import Server, create_many, session  # noqa: E402


def summarize(path: str, top: int = 40) -> None:
    """Inclusive and self sample shares per function from a py-spy raw (collapsed) file."""
    incl: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    total = 0
    for line in open(path):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        count = int(n)
        total += count
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0] + ")" if " (" in f else f
                  for f in stack.split(";")]
        for f in set(frames):
            incl[f] += count
        self_[frames[-1]] += count
    print(f"samples: {total}")
    for title, counter in (("inclusive", incl), ("self", self_)):
        print(f"-- {title} --")
        for f, c in counter.most_common(top):
            print(f"{100 * c / total:5.1f}%  {f}")


async def one_round(server: Server, ns: str, args: argparse.Namespace, profile: str = "") -> tuple[float, float, float]:
    """(creates/s, server CPU us per create, p50 ms) for args.n creates into a fresh namespace."""
    async with session(server, args.clients) as s:
        async with s.post("/api/v1/namespaces", data=('{"metadata":{"name":"%s"}}' % ns).encode()) as r:
            assert r.status == 201, r.status
        await create_many(s, ns, 200, args.clients, "warm")
        assert server.proc is not None
        proc = psutil.Process(server.proc.pid)
        spy = None
        if profile:
            cmd = [os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "-f", "raw", "-o", profile,
                   "-r", "250", "-p", str(server.proc.pid)] + (["--gil"] if args.gil else [])
            spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            await asyncio.sleep(1.0)
        cpu0 = sum(proc.cpu_times()[:2])
        total, lat = await create_many(s, ns, args.n, args.clients, "c")
        cpu = sum(proc.cpu_times()[:2]) - cpu0
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
        lat.sort()
        return args.n / total, cpu / args.n * 1e6, lat[len(lat) // 2] * 1e3


def start(src: str | None) -> Server:
    env = os.environ.get("PYTHONPATH")
    if src:
        os.environ["PYTHONPATH"] = src
    try:
        server = Server()
        server.start()
        return server
    finally:
        if src:
            if env is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = env


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--profile", default="")
    p.add_argument("--gil", action="store_true")
    p.add_argument("--base", default="", help="src dir of the code to compare against (A/B)")
    args = p.parse_args()
    servers = {"new": start(None)}
    if args.base:
        servers["base"] = start(args.base)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in servers}
    try:
        for i in range(args.rounds):
            for name, server in (servers.items() if i % 2 == 0 else reversed(list(servers.items()))):
                r = asyncio.run(one_round(server, f"prof{i}", args, args.profile if i == 0 and name == "new" else ""))
                results[name].append(r)
                print(f"{name:>4} round {i}: {r[0]:6.0f} creates/s   server CPU {r[1]:5.0f} us/create   "
                      f"p50 {r[2]:.2f} ms   ({args.clients} clients)", flush=True)
    finally:
        for server in servers.values():
            server.stop()
    for name, rs in results.items():
        best_rate = max(r[0] for r in rs)
        best_cpu = min(r[1] for r in rs)
        print(f"{name:>4} best: {best_rate:6.0f} creates/s   server CPU {best_cpu:5.0f} us/create")
    if args.profile:
        summarize(args.profile)


if __name__ == "__main__":
    main()
