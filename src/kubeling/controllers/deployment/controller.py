"""Deployment controller (upstream `pkg/controller/deployment/deployment_controller.go`): informers
on Deployments, ReplicaSets and Pods whose handlers enqueue Deployment keys, and `reconcile(key)`,
which claims the Deployment's ReplicaSets and hands over to the strategy.

Rollback (`kubectl rollout undo`) is done by kubectl itself from the ReplicaSets' templates and
annotations, so there is no server-side rollback step here.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any, Callable

from ...api import errors
from ...api.resources import lookup
from ...api.selectors import from_label_selector_object
from ...client.events import EventRecorder
from ...client.informer import CONTROLLER_UID, add_owner_indexes, object_key, shared_informer, split_key, wait_synced
from ...client.rest import Client
from ...client.workqueue import WorkQueue, run_workers
from .. import podutil
from . import util
from .recreate import rollout_recreate
from .rolling import rollout_rolling
from .sync import check_paused_conditions, is_scaling_event, sync, sync_status_only

log = logging.getLogger("kubeling.deployment")

DEPLOYMENTS = lookup("apps", "v1", "deployments")
REPLICASETS = lookup("apps", "v1", "replicasets")
PODS = lookup("", "v1", "pods")
assert DEPLOYMENTS is not None and REPLICASETS is not None and PODS is not None

Obj = dict[str, Any]


class DeploymentController:
    def __init__(self, client: Client, *, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.clock = clock
        self.queue = WorkQueue("deployment")
        self.recorder = EventRecorder(client, "deployment-controller")
        self.d_informer = shared_informer(client, DEPLOYMENTS)
        self.rs_informer = shared_informer(client, REPLICASETS)
        self.pod_informer = shared_informer(client, PODS)
        add_owner_indexes(self.pod_informer)

    # ---- hooks used by the strategy steps ---------------------------------------------------
    def enqueue_after(self, d: Obj, delay: float) -> None:
        """Recheck later; "now" is a rate-limited requeue, as upstream's requeueStuckDeployment."""
        if delay <= 0:
            self.queue.add_rate_limited(object_key(d))
        else:
            self.queue.add_after(object_key(d), delay)

    def rs_written(self, rs: Obj) -> None:
        """Put a ReplicaSet we just wrote into the cache, so the next sync doesn't act on a stale copy."""
        key = object_key(rs)
        cached = self.rs_informer.cache.get(key)
        try:
            newer = cached is None or int(rs["metadata"]["resourceVersion"]) > int(cached["metadata"]["resourceVersion"])
        except (KeyError, ValueError):
            newer = False
        if newer:
            rs.setdefault("apiVersion", "apps/v1")
            rs.setdefault("kind", "ReplicaSet")
            self.rs_informer.cache[key] = rs

    # ---- handlers ---------------------------------------------------------------------------
    def _enqueue(self, d: Obj) -> None:
        self.queue.add(object_key(d))

    def _resolve(self, namespace: str | None, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.d_informer.get(namespace, ref.get("name", ""))
        if d is None or d["metadata"].get("uid") != ref.get("uid"):
            return None
        return d

    def _deployments_for_rs(self, rs: Obj) -> list[Obj]:
        labels = rs["metadata"].get("labels") or {}
        if not labels:
            return []
        out = []
        for d in self.d_informer.list(rs["metadata"].get("namespace")):
            try:
                sel = from_label_selector_object((d.get("spec") or {}).get("selector"))
            except errors.StatusError:
                continue
            if not sel.empty() and sel.matches(labels):
                out.append(d)
        return out

    def _on_rs_add(self, rs: Obj) -> None:
        if rs["metadata"].get("deletionTimestamp"):
            self._on_rs_delete(rs)
            return
        ref = podutil.controller_of(rs)
        if ref is not None:
            d = self._resolve(rs["metadata"].get("namespace"), ref)
            if d is not None:
                self._enqueue(d)
            return
        for d in self._deployments_for_rs(rs):
            self._enqueue(d)

    def _on_rs_update(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        ns = cur["metadata"].get("namespace")
        cur_ref, old_ref = podutil.controller_of(cur), podutil.controller_of(old)
        ref_changed = (cur_ref or {}).get("uid") != (old_ref or {}).get("uid")
        if ref_changed and old_ref is not None:
            d = self._resolve(ns, old_ref)
            if d is not None:
                self._enqueue(d)
        if cur_ref is not None:
            d = self._resolve(ns, cur_ref)
            if d is not None:
                self._enqueue(d)
            return
        labels_changed = (old["metadata"].get("labels") or {}) != (cur["metadata"].get("labels") or {})
        if labels_changed or ref_changed:
            for d in self._deployments_for_rs(cur):
                self._enqueue(d)

    def _on_rs_delete(self, rs: Obj) -> None:
        d = self._resolve(rs["metadata"].get("namespace"), podutil.controller_of(rs))
        if d is not None:
            self._enqueue(d)

    def _on_pod_delete(self, pod: Obj) -> None:
        """A Recreate rollout waits for old pods to be gone: wake it when one disappears."""
        ns = pod["metadata"].get("namespace")
        ref = podutil.controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.get(ns, ref.get("name", ""))
        if rs is None:
            return
        d = self._resolve(ns, podutil.controller_of(rs))
        if d is not None and util.strategy_type(d) == "Recreate":
            self._enqueue(d)

    # ---- reconcile --------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.d_informer.get(ns, name)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        selector_obj = (d.get("spec") or {}).get("selector")
        if selector_obj == {} or (selector_obj is not None and not selector_obj.get("matchLabels")
                                  and not selector_obj.get("matchExpressions")):
            self.recorder.event(d, "Warning", "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            if int((d.get("status") or {}).get("observedGeneration") or 0) < d["metadata"].get("generation", 0):
                d.setdefault("status", {})["observedGeneration"] = d["metadata"]["generation"]
                await self.client.update_status(DEPLOYMENTS, d)
            return
        rs_list = await self._replica_sets_for(d)
        if d["metadata"].get("deletionTimestamp"):
            await sync_status_only(self, d, rs_list)
            return
        await check_paused_conditions(self, d)
        if d["spec"].get("paused"):
            await sync(self, d, rs_list)
            return
        if await is_scaling_event(self, d, rs_list):
            await sync(self, d, rs_list)
            return
        kind = util.strategy_type(d)
        if kind == "Recreate":
            # getPodMapForDeployment: only Recreate reads it, so only Recreate pays for it
            await rollout_recreate(self, d, rs_list, self._pod_map(d, rs_list))
        elif kind == "RollingUpdate":
            await rollout_rolling(self, d, rs_list)
        else:
            raise ValueError(f"unexpected deployment strategy type: {kind}")

    async def _replica_sets_for(self, d: Obj) -> list[Obj]:
        """getReplicaSetsForDeployment: ClaimReplicaSets (adopt matching orphans, release non-matching)."""
        selector = from_label_selector_object(d["spec"].get("selector"))
        uid = d["metadata"]["uid"]
        being_deleted = bool(d["metadata"].get("deletionTimestamp"))
        can_adopt: bool | None = None
        claimed = []
        for rs in self.rs_informer.list(d["metadata"].get("namespace")):
            ref = podutil.controller_of(rs)
            matches = selector.matches(rs["metadata"].get("labels") or {})
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches:
                    claimed.append(rs)
                elif not being_deleted:
                    await self._patch_rs(rs, podutil.release_patch(uid, rs["metadata"]["uid"]))
                continue
            if being_deleted or not matches or rs["metadata"].get("deletionTimestamp"):
                continue
            if can_adopt is None:
                can_adopt = await self._can_adopt(d)
            if not can_adopt:
                continue
            adopted = await self._patch_rs(rs, podutil.adopt_patch(d, "apps/v1", "Deployment", rs["metadata"]["uid"]))
            if adopted is not None:
                claimed.append(adopted)
        return claimed

    async def _can_adopt(self, d: Obj) -> bool:
        try:
            live = await self.client.get(DEPLOYMENTS, d["metadata"].get("namespace"), d["metadata"]["name"])
        except errors.StatusError as e:
            if e.code == 404:
                return False
            raise
        return live["metadata"].get("uid") == d["metadata"]["uid"] and not live["metadata"].get("deletionTimestamp")

    async def _patch_rs(self, rs: Obj, patch: Obj) -> Obj | None:
        try:
            out = await self.client.patch(REPLICASETS, rs["metadata"].get("namespace"), rs["metadata"]["name"], patch,
                                          patch_type="strategic")
            self.rs_written(out)
            return out
        except errors.StatusError as e:
            if e.code in (404, 409, 422):
                return None
            raise

    def _pod_map(self, d: Obj, rs_list: list[Obj]) -> dict[str, list[Obj]]:
        """getPodMapForDeployment: the deployment's pods grouped by the uid of their ReplicaSet."""
        out: dict[str, list[Obj]] = {rs["metadata"]["uid"]: [] for rs in rs_list}
        try:
            selector = from_label_selector_object(d["spec"].get("selector"))
        except errors.StatusError:
            return out
        for uid, pods in out.items():  # by the controller-uid index: O(the deployment's pods)
            pods.extend(p for p in self.pod_informer.by_index(CONTROLLER_UID, uid)
                        if selector.matches(p["metadata"].get("labels") or {}))
        return out

    # ---- run --------------------------------------------------------------------------------
    async def run(self, workers: int = 5) -> None:
        self.d_informer.add_handlers(on_add=self._enqueue, on_update=lambda old, new: self._enqueue(new),
                                     on_delete=self._enqueue)
        self.rs_informer.add_handlers(on_add=self._on_rs_add, on_update=self._on_rs_update,
                                      on_delete=self._on_rs_delete)
        self.pod_informer.add_handlers(on_delete=self._on_pod_delete)
        informers = [self.d_informer, self.rs_informer, self.pod_informer]
        tasks = [asyncio.create_task(i.run(), name=f"deployment-informer-{i.res.plural}") for i in informers]
        try:
            await wait_synced(informers)
            await run_workers(self.queue, self.reconcile, workers)
        finally:
            for t in tasks:
                t.cancel()
