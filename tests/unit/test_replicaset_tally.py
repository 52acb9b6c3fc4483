"""ReplicaSet controller: the incremental status path (Tally) agrees with a full recount.

A fake API server keeps pods and the ReplicaSet; every write it accepts is delivered to the
controller's (real, not running) informers as a watch event, exactly like the shared informer
would. Random pod changes — readiness flips, deletions, terminations, label changes that release
a pod, orphans that get adopted, template-label drift — are applied one by one; after each the
controller syncs and the status it wrote must equal the counts over the pods it should own.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import random
from typing import Any

import pytest

from kubeling.api import errors
from kubeling.api.patch.merge import merge_patch
from kubeling.client.informer import object_key
from kubeling.controllers import podutil
from kubeling.controllers.replicaset import ReplicaSetController

RS_UID = "rs-uid-1"
LABELS = {"app": "web", "pod-template-hash": "abc"}


class FakeAPI:
    def __init__(self) -> None:
        self.rv = itertools.count(10)
        self.names = itertools.count()
        self.rc: ReplicaSetController | None = None
        self.rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": "web", "namespace": "ns", "uid": RS_UID, "generation": 1,
                                "resourceVersion": "1"},
                   "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web"}},
                            "template": {"metadata": {"labels": dict(LABELS)},
                                         "spec": {"containers": [{"name": "c", "image": "x"}]}}},
                   "status": {}}

    def deliver(self, typ: str, obj: dict) -> None:
        assert self.rc is not None
        inf = self.rc.rs_informer if obj.get("kind") == "ReplicaSet" else self.rc.pod_informer
        inf.apply_event(typ, copy.deepcopy(obj))

    def pods(self) -> dict[str, dict]:
        assert self.rc is not None
        return self.rc.pod_informer.cache

    async def create(self, res: Any, ns: str, obj: dict, **_: Any) -> dict:
        pod = copy.deepcopy(obj)
        n = next(self.names)
        pod["metadata"].update(name=f"web-{n}", uid=f"pod-uid-{n}", resourceVersion=str(next(self.rv)))
        pod["status"] = {"phase": "Pending"}
        self.deliver("ADDED", pod)
        return pod

    async def get(self, res: Any, ns: str, name: str, sub: Any = None) -> dict:
        return copy.deepcopy(self.rs)

    async def update_status(self, res: Any, obj: dict, **_: Any) -> dict:
        self.rs = {**copy.deepcopy(obj), "metadata": {**obj["metadata"], "resourceVersion": str(next(self.rv))}}
        self.deliver("MODIFIED", self.rs)
        return copy.deepcopy(self.rs)

    async def patch(self, res: Any, ns: str, name: str, patch: Any, **_: Any) -> dict:
        cur = self.pods().get(f"{ns}/{name}")
        if cur is None:
            raise errors.StatusError(404, "NotFound", "not found")
        new = merge_patch(copy.deepcopy(cur), {k: v for k, v in patch.items()})
        new["metadata"]["resourceVersion"] = str(next(self.rv))
        self.deliver("MODIFIED", new)
        return new

    async def delete(self, res: Any, ns: str, name: str, **_: Any) -> None:
        cur = self.pods().get(f"{ns}/{name}")
        if cur is None:
            raise errors.StatusError(404, "NotFound", "not found")
        self.deliver("DELETED", cur)


def owned_counts(api: FakeAPI) -> tuple[int, int, int]:
    """What the status must say: claimed active pods, those with the template's labels, ready ones."""
    n = fully = ready = 0
    for p in api.pods().values():
        ref = podutil.controller_of(p)
        if ref is None or ref["uid"] != RS_UID or not podutil.is_pod_active(p):
            continue
        if (p["metadata"].get("labels") or {}).get("app") != "web":
            continue
        n += 1
        fully += all((p["metadata"].get("labels") or {}).get(k) == v for k, v in LABELS.items())
        ready += podutil.is_pod_ready(p)
    return n, fully, ready


def mutate(api: FakeAPI, rnd: random.Random) -> None:
    pods = sorted(api.pods().values(), key=lambda p: p["metadata"]["name"])
    op = rnd.choice(["ready", "ready", "ready", "unready", "terminate", "delete", "fail", "relabel",
                     "drift", "orphan", "scale"])
    if op == "orphan" or not pods:
        n = next(api.names)
        labels = {"app": "web"} if rnd.random() < 0.7 else {"app": "other"}
        api.deliver("ADDED", {"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Running"},
                              "metadata": {"name": f"orphan-{n}", "namespace": "ns", "uid": f"o-{n}",
                                           "resourceVersion": str(next(api.rv)), "labels": labels}})
        return
    if op == "scale":
        api.rs["spec"]["replicas"] = rnd.randint(3, 9)
        api.rs["metadata"]["generation"] += 1
        api.rs["metadata"]["resourceVersion"] = str(next(api.rv))
        api.deliver("MODIFIED", api.rs)
        return
    p = copy.deepcopy(rnd.choice(pods))
    p["metadata"]["resourceVersion"] = str(next(api.rv))
    if op in ("ready", "unready"):
        p["status"] = {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True" if op == "ready" else "False"}]}
    elif op == "terminate":
        p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    elif op == "delete":
        api.deliver("DELETED", p)
        return
    elif op == "fail":
        p["status"] = {"phase": "Failed"}
    elif op == "relabel":
        p["metadata"]["labels"] = {"app": "gone"}
    elif op == "drift":
        p["metadata"]["labels"] = {"app": "web"}
    api.deliver("MODIFIED", p)


@pytest.mark.parametrize("seed", range(12))
def test_incremental_status_matches_a_full_recount(seed: int) -> None:
    async def run() -> None:
        api = FakeAPI()
        rc = ReplicaSetController(api)  # type: ignore[arg-type]
        api.rc = rc
        rc.rs_informer.add_handlers(on_add=lambda o: None)
        rc.pod_informer.add_handlers(on_add=rc._track, on_update=rc._track, on_delete=rc._track)
        rc.pod_informer.add_handlers(on_add=rc._on_pod_add, on_update=rc._on_pod_update,
                                     on_delete=rc._on_pod_delete)
        api.deliver("ADDED", api.rs)
        rnd = random.Random(seed)
        key = object_key(api.rs)
        incremental = 0
        for step in range(150):
            mutate(api, rnd)
            rc.expectations.delete(key)  # the fake API answers at once: nothing is in flight
            before = dict(rc._tallies)
            await rc.reconcile(key)
            incremental += key in before and rc._tallies.get(key) is before[key]
            for _ in range(3):  # pods this sync created or deleted are seen by the next one
                rc.expectations.delete(key)
                await rc.reconcile(key)
            st = api.rs["status"]
            got = (st.get("replicas", 0), st.get("fullyLabeledReplicas", 0), st.get("readyReplicas", 0))
            assert got == owned_counts(api), (seed, step, got, owned_counts(api))
            tally = rc._tallies[key]
            assert (tally.replicas, tally.fully, tally.ready) == got
        assert incremental > 30  # the cheap path was actually taken

    asyncio.run(run())
