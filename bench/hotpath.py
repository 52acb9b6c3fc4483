"""Per-operation cost of the API server's pure hot-path steps (no server, no I/O).

Prints microseconds of CPU time (process_time, so other jobs on a shared machine disturb it
less than wall time) per operation, best of 5 batches. These used to be timing assertions in
unit tests; timings live here so tests never depend on machine load.

    .venv/bin/python bench/hotpath.py
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import json
import os
import shutil
import tempfile
import time
from typing import Any, Callable

import orjson

from kubeling.api import printers, selectors, strategy, typed
from kubeling.api.apply import managed as AM
from kubeling.api.patch.strategic import strategic_merge_patch_for
from kubeling.api.validation import strict
from kubeling.api.resources import lookup
from kubeling.apiserver.registry import Registry, WriteOptions
from kubeling.store.sqlite import SQLiteStore

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "reference", "samples")
MY_NGINX = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "nginx-deployment", "namespace": "default", "labels": {"app": "nginx"}},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"}},
             "template": {"metadata": {"labels": {"app": "nginx"}},
                          "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2",
                                                   "ports": [{"containerPort": 80}]}]}}},
}


def best_us(fn: Callable[[], Any], n: int = 200) -> float:
    fn()
    best = float("inf")
    for _ in range(5):
        t = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - t) / n)
    return best * 1e6


CM_BODY = orjson.dumps({"metadata": {"name": "x", "labels": {"bench": "yes"}}, "data": {"key": "value", "n": "1"}})


def configmap_rows() -> list[tuple[str, float]]:
    """The bench/api.py create: each step alone, then the registry's whole create on SQLite."""
    cm = orjson.loads(CM_BODY)
    cm["metadata"].update(namespace="default", uid="6a1c9f4e-3b0d-4c55-9d8e-0f1e2d3c4b5a",
                          creationTimestamp="2026-01-01T00:00:00Z")
    cm["apiVersion"], cm["kind"] = "v1", "ConfigMap"
    mf = AM.update_managed_fields(None, cm, "python", "v1", "2026-01-01T00:00:00Z")
    live = {**cm, "metadata": {**cm["metadata"], "managedFields": mf}}
    changed = orjson.loads(orjson.dumps(live))
    changed["data"]["n"] = "2"
    tmp = tempfile.mkdtemp(prefix="kubeling-hotpath-")
    store = SQLiteStore(os.path.join(tmp, "state.db"))
    reg = Registry(store)
    loop = asyncio.new_event_loop()
    cms, nss = lookup("", "v1", "configmaps"), lookup("", "v1", "namespaces")
    assert cms is not None and nss is not None
    loop.run_until_complete(reg.create(nss, None, {"metadata": {"name": "default"}}, WriteOptions()))
    seq = iter(range(10**9))

    def create(dry_run: bool) -> None:
        obj = orjson.loads(CM_BODY)
        obj["metadata"]["name"] = f"cm-{next(seq)}"
        loop.run_until_complete(reg.create(cms, "default", obj, WriteOptions(user_agent="python/1", dry_run=dry_run)))

    try:
        return [
            ("managedFields create (ConfigMap)", best_us(lambda: AM.update_managed_fields(None, cm, "python", "v1", "2026-01-01T00:00:00Z"), 2000)),
            ("managedFields update (ConfigMap)", best_us(lambda: AM.update_managed_fields(live, changed, "python", "v1", "2026-01-01T00:00:01Z"), 2000)),
            ("validate ConfigMap", best_us(lambda: strategy.validate("", "v1", "ConfigMap", cm), 2000)),
            ("typed decode ConfigMap", best_us(lambda: typed.decode("", "v1", "ConfigMap", cm), 2000)),
            ("may_have_duplicates ConfigMap", best_us(lambda: strict.may_have_duplicates(CM_BODY, cm), 2000)),
            ("registry create ConfigMap, dry run", best_us(lambda: create(True), 1000)),
            ("registry create ConfigMap, SQLite", best_us(lambda: create(False), 1000)),
        ]
    finally:
        store.close()
        loop.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    dep = copy.deepcopy(MY_NGINX)
    strategy.apply_defaults("apps", "v1", "Deployment", dep)

    def default_validate() -> None:
        o = copy.deepcopy(MY_NGINX)
        strategy.apply_defaults("apps", "v1", "Deployment", o)
        strategy.validate("apps", "v1", "Deployment", o)

    live = copy.deepcopy(dep)
    live["metadata"]["managedFields"] = AM.update_managed_fields(None, live, "kubectl", "apps/v1", "2026-01-01T00:00:00Z")
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 7
    smp = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}],
                                          "containers": [{"image": "nginx:1.25", "name": "nginx"}]}}}}
    sel = selectors.parse_label_selector("app=nginx,tier in (web,api),!canary")
    labels = {"app": "nginx", "tier": "web", "pod-template-hash": "123"}
    now = datetime.datetime.now(datetime.timezone.utc)
    cms = [{"metadata": {"name": f"cm-{i}", "namespace": "default", "uid": str(i), "resourceVersion": str(i),
                         "creationTimestamp": "2026-01-01T00:00:00Z"}, "data": {"k": "v"}} for i in range(2000)]
    rows = [
        ("default + validate Deployment", best_us(default_validate)),
        ("managedFields update (replicas)", best_us(lambda: AM.update_managed_fields(live, new, "kubectl", "apps/v1", "2026-01-01T00:00:01Z"))),
        ("strategic merge patch (set image)", best_us(lambda: strategic_merge_patch_for(dep, smp, "apps", "v1", "Deployment"))),
        ("typed decode Deployment", best_us(lambda: typed.decode("apps", "v1", "Deployment", dep))),
        ("label selector match", best_us(lambda: sel.matches(labels), 20000)),
        ("Table of 2,000 ConfigMaps", best_us(lambda: printers.table("", "ConfigMap", cms, now, "1"), 5)),
    ] + configmap_rows()
    for name, us in rows:
        print(f"{name:<38} {us:10.1f} us")


if __name__ == "__main__":
    main()
