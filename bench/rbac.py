"""What authorization costs: ConfigMap creates/s with RBAC on (`Node,RBAC`) vs off (`AlwaysAllow`).

The clients are a ServiceAccount bound to `edit` in its namespace (a token, not system:masters,
which RBAC never consults), so every create is authorized by the rules; the admin's figure is
printed too. Target (issue 12): RBAC on ≤ 10 % slower than off.

    .venv/bin/python bench/rbac.py [--n 2000] [--clients 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys

import orjson
import psutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from api import Server, create_many, line, session  # noqa: E402


def cpu_seconds(server: Server) -> float:
    assert server.proc is not None
    t = psutil.Process(server.proc.pid).cpu_times()
    return t.user + t.system


async def measure(mode: str, n: int, clients: int) -> tuple[float, float, float]:
    """(creates/s as the ServiceAccount, creates/s as the admin, server CPU µs per ServiceAccount
    create) on a fresh server. CPU per create is the steadier figure on a shared machine."""
    server = Server("--authorization-mode", mode)
    server.start()
    try:
        async with session(server, clients) as admin:
            for path, body in (("/api/v1/namespaces", {"metadata": {"name": "b"}}),
                               ("/api/v1/namespaces/b/serviceaccounts", {"metadata": {"name": "bench"}}),
                               ("/apis/rbac.authorization.k8s.io/v1/namespaces/b/rolebindings", {
                                   "metadata": {"name": "bench-edit"},
                                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                               "name": "edit"},
                                   "subjects": [{"kind": "ServiceAccount", "name": "bench", "namespace": "b"}]})):
                async with admin.post(path, data=orjson.dumps(body)) as r:
                    assert r.status == 201, (path, r.status, await r.text())
            async with admin.post("/api/v1/namespaces/b/serviceaccounts/bench/token",
                                  data=orjson.dumps({"spec": {"expirationSeconds": 3600}})) as r:
                token = (await r.json())["status"]["token"]
            await create_many(admin, "b", 100, clients, "warm")
            total, _ = await create_many(admin, "b", n, clients, "admin")
            admin_rate = n / total
        async with session(server, clients, token) as sa:
            await create_many(sa, "b", 100, clients, "sawarm")
            cpu0 = cpu_seconds(server)
            total, _ = await create_many(sa, "b", n, clients, "sa")
            return n / total, admin_rate, (cpu_seconds(server) - cpu0) / n * 1e6
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


async def run(args: argparse.Namespace) -> None:
    results: dict[str, list[tuple[float, float, float]]] = {"Node,RBAC": [], "AlwaysAllow": []}
    for _ in range(args.rounds):  # alternate, so drift on a shared machine hits both alike
        for mode in results:
            results[mode].append(await measure(mode, args.n, args.clients))
    med = {m: tuple(statistics.median(r[i] for r in rs) for i in range(3)) for m, rs in results.items()}
    for mode, (sa, admin, cpu) in med.items():
        line(f"create, {args.clients} clients, {mode}", f"{sa:.0f} /s", "")
        line("  server CPU per create", f"{cpu:.0f} µs", "")
        line("  (admin, system:masters)", f"{admin:.0f} /s", "")
    on, off = med["Node,RBAC"], med["AlwaysAllow"]
    line("RBAC on vs off, creates/s", f"{(off[0] - on[0]) / off[0] * 100:+.1f} % slower", "")
    line("RBAC on vs off, CPU per create", f"{(on[2] - off[2]) / off[2] * 100:+.1f} % more", "")
    print("target (issue 12): at most 10 % slower", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--rounds", type=int, default=2)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
