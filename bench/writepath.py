"""CPU cost of one ConfigMap create inside the API server, without sockets, TLS or HTTP parsing.

Drives `RestAPI.serve` (the transport-neutral REST handler kubectl's requests reach) with
requests carrying the same headers and body as bench/api.py's, over a real SQLite store in a temporary directory, and
prints microseconds of CPU time (process_time) per create, best of several batches. This is the
part of a create that kubeling's own code decides: decode, field validation, admission,
defaulting, validation, managedFields, the store commit and the response encoding.

    .venv/bin/python bench/writepath.py [--n 500] [--batches 7] [--watchers 0] [--admission]

With --admission, the registry runs `kubeling up`'s admission chain (plugins/default_chain), with
no webhook, policy, quota or limit configured, as in bench/scale.py.

With --watchers N, N in-process watches on configmaps consume every event (like informers).
To compare two trees under load, run it alternately with PYTHONPATH=<other>/src.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time

import orjson

from kubeling.api.resources import lookup
from kubeling.api.wire import Request
from kubeling.apiserver.handlers import RestAPI
from kubeling.apiserver.plugins import default_chain
from kubeling.apiserver.registry import Registry, WriteOptions
from kubeling.store.sqlite import SQLiteStore


def request(path: str, body: bytes) -> Request:
    return Request("POST", path, None, {"Content-Type": "application/json", "Accept": "application/json, */*",
                                        "User-Agent": "Python/3.11 aiohttp/3.9"}, body)


async def run(args: argparse.Namespace) -> None:
    tmp = tempfile.mkdtemp(prefix="kubeling-writepath-")
    store = SQLiteStore(os.path.join(tmp, "state.db"))
    registry = Registry(store, admission=default_chain()) if args.admission else Registry(store)
    api = RestAPI(registry, "127.0.0.1:6443")
    await registry.create(lookup("", "v1", "namespaces"), None, {"metadata": {"name": "bench"}}, WriteOptions())
    watchers = [store.watch("/registry/core/configmaps/", store.revision) for _ in range(args.watchers)]

    async def drain(w: object) -> None:
        async for ev in w.events():  # type: ignore[attr-defined]
            ev.entry.obj()

    drains = [asyncio.create_task(drain(w)) for w in watchers]
    seq = iter(range(10**9))

    async def batch(n: int) -> float:
        requests = []
        for _ in range(n):  # building the requests is not part of the measurement
            i = next(seq)
            body = orjson.dumps({"metadata": {"name": f"c-{i}", "labels": {"bench": "yes"}},
                                 "data": {"key": "value", "n": str(i)}})
            requests.append(request("/api/v1/namespaces/bench/configmaps", body))
        t = time.process_time()
        for req in requests:
            resp = await api.serve(req)
            assert resp.status == 201, resp.status
            await asyncio.sleep(0)  # let watchers run, as the server's loop would
        return (time.process_time() - t) / n * 1e6

    await batch(50)
    best = min([await batch(args.n) for _ in range(args.batches)])
    print(f"create ConfigMap through RestAPI.serve: {best:.1f} us CPU", flush=True)
    for d in drains:
        d.cancel()
    store.close()
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--batches", type=int, default=7)
    p.add_argument("--watchers", type=int, default=0)
    p.add_argument("--admission", action="store_true")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
