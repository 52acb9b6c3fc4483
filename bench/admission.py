"""CPU cost of a pod create through the registry and `kubeling up`'s admission chain.

No HTTP: `Registry.create` over a real SQLite store in a temporary directory, with
`plugins.default_chain()`. Prints microseconds of CPU time (process_time) per create, best of
several batches, and the store lists per create. With --configs, the namespace has a LimitRange
and the cluster N ValidatingAdmissionPolicies + bindings and N validating webhook configurations
that match Deployments only (consulted on every pod create, never called).

    .venv/bin/python bench/admission.py [--n 1000] [--batches 5] [--configs 5] [--profile]

To compare two trees, run it alternately with PYTHONPATH=<other>/src.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import copy
import os
import pstats
import shutil
import tempfile
import time
from typing import Any

from kubeling.api.resources import lookup
from kubeling.apiserver.plugins import default_chain
from kubeling.apiserver.registry import Registry, WriteOptions
from kubeling.store.sqlite import SQLiteStore

G = "admissionregistration.k8s.io"
PODS = lookup("", "v1", "pods")
POD = {"metadata": {"labels": {"app": "bench"}}, "spec": {"containers": [
    {"name": "c", "image": "busybox:1.35", "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}]}}
DEPLOYMENTS = [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments"]}]


async def configure(reg: Registry, n: int) -> None:
    async def create(plural: str, ns: str | None, obj: dict[str, Any], group: str = G) -> None:
        res = lookup(group, "v1", plural)
        assert res is not None
        await reg.create(res, ns, obj, WriteOptions())

    await create("limitranges", "default", {"metadata": {"name": "lr"}, "spec": {"limits": [
        {"type": "Container", "default": {"cpu": "100m", "memory": "64Mi"}, "max": {"cpu": "2"}}]}}, "")
    for k in range(n):
        await create("validatingadmissionpolicies", None, {"metadata": {"name": f"p{k}"}, "spec": {
            "matchConstraints": {"resourceRules": DEPLOYMENTS}, "validations": [{"expression": "true"}]}})
        await create("validatingadmissionpolicybindings", None, {"metadata": {"name": f"b{k}"}, "spec": {
            "policyName": f"p{k}", "validationActions": ["Deny"]}})
        await create("validatingwebhookconfigurations", None, {"metadata": {"name": f"w{k}"}, "webhooks": [{
            "name": f"w{k}.example.com", "clientConfig": {"url": "https://127.0.0.1:1/"}, "sideEffects": "None",
            "admissionReviewVersions": ["v1"], "rules": DEPLOYMENTS}]})


async def run(args: argparse.Namespace) -> None:
    tmp = tempfile.mkdtemp(prefix="kubeling-admission-")
    store = SQLiteStore(os.path.join(tmp, "state.db"))
    reg = Registry(store, admission=default_chain())
    for res, ns, name in ((lookup("", "v1", "namespaces"), None, "default"),
                          (lookup("", "v1", "serviceaccounts"), "default", "default")):
        assert res is not None
        await reg.create(res, ns, {"metadata": {"name": name}}, WriteOptions())
    if args.configs:
        await configure(reg, args.configs)
    lists = 0
    real_list = store.list

    def counted(prefix: str) -> Any:
        nonlocal lists
        lists += 1
        return real_list(prefix)

    store.list = counted  # type: ignore[method-assign]
    seq = iter(range(10**9))

    async def batch(n: int) -> float:
        pods = []
        for _ in range(n):
            pod = copy.deepcopy(POD)
            pod["metadata"]["name"] = f"p-{next(seq)}"
            pods.append(pod)
        t = time.process_time()
        for pod in pods:
            await reg.create(PODS, "default", pod, WriteOptions())
        return (time.process_time() - t) / n * 1e6

    await batch(50)
    lists = 0
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        await batch(args.n)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(r"admission|plugins|derived|sqlite", 25)
    else:
        best = min([await batch(args.n) for _ in range(args.batches)])
        print(f"pod create through Registry + admission: {best:.1f} us CPU, "
              f"{lists / (args.n * args.batches):.2f} store lists per create", flush=True)
    store.close()
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--batches", type=int, default=5)
    p.add_argument("--configs", type=int, default=0, help="policies, bindings and webhook configurations")
    p.add_argument("--profile", action="store_true", help="one batch under cProfile")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
