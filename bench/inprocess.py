"""CPU cost of the in-process client path: what a controller inside `kubeling up` pays per call.

A real `Client` over the in-process transport, the real registry and a SQLite store in a temporary
directory (no server, no sockets). Prints microseconds of CPU time (process_time, so other jobs on
a shared machine disturb it less than wall time) per operation, best of several batches: get,
create, merge patch, a 404, list of 500, and a watch event delivered to a client's watch.

    .venv/bin/python bench/inprocess.py [--n 300] [--batches 5]

To compare two trees under load, run it alternately with PYTHONPATH=<other>/src.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any, Awaitable, Callable

from kubeling.api import errors
from kubeling.api.resources import lookup
from kubeling.apiserver.handlers import RestAPI
from kubeling.apiserver.registry import Registry
from kubeling.client.rest import Client, ClientConfig
from kubeling.store.sqlite import SQLiteStore
from kubeling.up import bootstrap

CONFIGMAPS = lookup("", "v1", "configmaps")


def client_for(api: RestAPI) -> Client:
    from kubeling.apiserver.local import LocalTransport

    return Client(ClientConfig(user_agent="bench"), transport=LocalTransport(api))


async def best(n: int, batches: int, op: Callable[[int], Awaitable[Any]]) -> float:
    seq = iter(range(10**9))
    times = []
    for _ in range(batches):
        t = time.process_time()
        for _ in range(n):
            await op(next(seq))
        times.append((time.process_time() - t) / n * 1e6)
    return min(times)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="kubeling-inprocess-") as tmp:
        await measure(args, SQLiteStore(os.path.join(tmp, "state.db")))


async def measure(args: argparse.Namespace, store: SQLiteStore) -> None:
    registry = Registry(store)
    await bootstrap(registry)
    client = client_for(RestAPI(registry, "127.0.0.1:6443"))
    await client.create(lookup("", "v1", "namespaces"), None, {"metadata": {"name": "bench"}})

    def cm(i: int) -> dict[str, Any]:
        return {"metadata": {"name": f"c-{i}", "labels": {"bench": "yes"}}, "data": {"key": "value", "n": str(i)}}

    for i in range(500):
        await client.create(CONFIGMAPS, "bench", cm(10**8 + i))

    async def create(i: int) -> None:
        await client.create(CONFIGMAPS, "bench", cm(i))

    async def get(i: int) -> None:
        await client.get(CONFIGMAPS, "bench", f"c-{10**8 + i % 500}")

    async def patch(i: int) -> None:
        await client.patch(CONFIGMAPS, "bench", f"c-{10**8 + i % 500}", {"data": {"n": str(i)}})

    async def missing(i: int) -> None:
        try:
            await client.get(CONFIGMAPS, "bench", "nope")
        except errors.StatusError:
            pass

    async def list_500(i: int) -> None:
        await client.list(CONFIGMAPS, "bench", label_selector="bench=yes", limit=500)

    line = lambda name, us: print(f"{name:<34} {us:8.1f} us CPU", flush=True)  # noqa: E731
    line("get", await best(args.n, args.batches, get))
    line("create", await best(args.n, args.batches, create))
    line("patch (merge)", await best(args.n, args.batches, patch))
    line("get of a missing object (404)", await best(args.n, args.batches, missing))
    line("list of 500", await best(max(args.n // 30, 3), args.batches, list_500))

    # watch events: what a watching client pays per event (the writes happen before the clock starts)
    events = client.watch(CONFIGMAPS, "bench", resource_version=str(store.revision))
    times = []
    for b in range(args.batches):
        for i in range(args.n):
            await client.patch(CONFIGMAPS, "bench", "c-100000000", {"data": {"n": f"{b}-{i}"}})
        t = time.process_time()
        for _ in range(args.n):
            await anext(events)
        times.append((time.process_time() - t) / args.n * 1e6)
    line("watch event delivered", min(times))
    await events.aclose()
    store.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--batches", type=int, default=5)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
