"""Per-operation cost of the API server's pure hot-path steps (no server, no I/O).

Prints microseconds per operation, best of 5 batches. These used to be timing assertions in
unit tests; timings live here so tests never depend on machine load.

    .venv/bin/python bench/hotpath.py
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import time
from typing import Any, Callable

from kubeling.api import apply, defaults, patch, printers, selectors, validation

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
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1e6


def main() -> None:
    dep = copy.deepcopy(MY_NGINX)
    defaults.apply_defaults("apps", "v1", "Deployment", dep)

    def default_validate() -> None:
        o = copy.deepcopy(MY_NGINX)
        defaults.apply_defaults("apps", "v1", "Deployment", o)
        validation.validate("apps", "v1", "Deployment", o)

    live = copy.deepcopy(dep)
    live["metadata"]["managedFields"] = apply.update_managed_fields(None, live, "kubectl", "apps/v1", "2026-01-01T00:00:00Z")
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
        ("managedFields update (replicas)", best_us(lambda: apply.update_managed_fields(live, new, "kubectl", "apps/v1", "2026-01-01T00:00:01Z"))),
        ("strategic merge patch (set image)", best_us(lambda: patch.strategic_merge_patch_for(dep, smp, "apps", "v1", "Deployment"))),
        ("unknown_fields Deployment", best_us(lambda: validation.unknown_fields("apps", "v1", "Deployment", dep))),
        ("label selector match", best_us(lambda: sel.matches(labels), 20000)),
        ("Table of 2,000 ConfigMaps", best_us(lambda: printers.table("", "ConfigMap", cms, now, "1"), 5)),
    ]
    for name, us in rows:
        print(f"{name:<38} {us:10.1f} us")


if __name__ == "__main__":
    main()
