"""Deployment controller (upstream `pkg/controller/deployment/deployment_controller.go`): informers
on Deployments, ReplicaSets and Pods whose handlers enqueue Deployment keys, and `reconcile(key)`,
which claims the Deployment's ReplicaSets and hands over to the strategy.

Rollback (`kubectl rollout undo`) is done by kubectl itself from the ReplicaSets' templates and
annotations, so there is no server-side rollback step here.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any, Callable

from ...api import errors
from ...api.selectors import from_label_selector_object
from ...client.events import EventRecorder
from ...client.controller import Controller, ControllerRefManager, WriteExpectations
from ...client.informer import CONTROLLER_UID, add_owner_indexes, object_key, shared_informer, split_key
from ...client.rest import Client
from .. import podutil
from . import util
from .context import DEPLOYMENTS, PODS, REPLICASETS
from .recreate import rollout_recreate
from .rolling import rollout_rolling
from .sync import check_paused_conditions, is_scaling_event, sync, sync_status_only

log = logging.getLogger("kubeling.deployment")


Obj = dict[str, Any]


class DeploymentController(Controller):
    def __init__(self, client: Client, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__("deployment")
        self.client = client
        self.clock = clock
        self.recorder = EventRecorder(client, "deployment-controller")
        self.d_informer = self.watch(shared_informer(client, DEPLOYMENTS), on_add=self._enqueue,
                                     on_update=lambda old, new: self._enqueue(new), on_delete=self._on_delete)
        self.rs_informer = self.watch(shared_informer(client, REPLICASETS), on_add=self._on_rs_add,
                                      on_update=self._on_rs_update, on_delete=self._on_rs_delete)
        self.pod_informer = self.watch(shared_informer(client, PODS), on_delete=self._on_pod_delete)
        add_owner_indexes(self.pod_informer)
        self.queue = self.add_queue("deployment", self.reconcile, workers=5)
        self.rs_refs = ControllerRefManager(client, self.d_informer, REPLICASETS, written=self.rs_written)
        self.expectations = WriteExpectations(self.rs_informer)

    # ---- hooks used by the strategy steps ---------------------------------------------------
    def enqueue_after(self, d: Obj, delay: float) -> None:
        """Recheck later; "now" is a rate-limited requeue, as upstream's requeueStuckDeployment."""
        if delay <= 0:
            self.queue.add_rate_limited(object_key(d))
        else:
            self.queue.add_after(object_key(d), delay)

    def rs_written(self, d: Obj, rs: Obj) -> None:
        """We wrote `rs` for `d`: don't sync `d` again until the cache shows that write."""
        self.expectations.wrote(object_key(d), rs)

    # ---- handlers ---------------------------------------------------------------------------
    def _enqueue(self, d: Obj) -> None:
        self.queue.add(object_key(d))

    def _on_delete(self, d: Obj) -> None:
        self.expectations.forget(object_key(d))
        self._enqueue(d)

    def _on_rs_add(self, rs: Obj) -> None:
        if rs["metadata"].get("deletionTimestamp"):
            self._on_rs_delete(rs)
            return
        if podutil.controller_of(rs) is not None:
            d = self.rs_refs.controller_of(rs)
            if d is not None:
                self._enqueue(d)
            return
        for d in self.rs_refs.owners_selecting(rs):
            self._enqueue(d)

    def _on_rs_update(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        cur_ref, old_ref = podutil.controller_of(cur), podutil.controller_of(old)
        ref_changed = (cur_ref or {}).get("uid") != (old_ref or {}).get("uid")
        if ref_changed and old_ref is not None:
            d = self.rs_refs.controller_of(old)
            if d is not None:
                self._enqueue(d)
        if cur_ref is not None:
            d = self.rs_refs.controller_of(cur)
            if d is not None:
                self._enqueue(d)
            return
        labels_changed = (old["metadata"].get("labels") or {}) != (cur["metadata"].get("labels") or {})
        if labels_changed or ref_changed:
            for d in self.rs_refs.owners_selecting(cur):
                self._enqueue(d)

    def _on_rs_delete(self, rs: Obj) -> None:
        d = self.rs_refs.controller_of(rs)
        if d is not None:
            self.expectations.deleted(object_key(d), rs)
            self._enqueue(d)

    def _on_pod_delete(self, pod: Obj) -> None:
        """A Recreate rollout waits for old pods to be gone: wake it when one disappears."""
        ref = podutil.controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.get(pod["metadata"].get("namespace"), ref.get("name", ""))
        if rs is None:
            return
        d = self.rs_refs.controller_of(rs)
        if d is not None and util.strategy_type(d) == "Recreate":
            self._enqueue(d)

    # ---- reconcile --------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.d_informer.get(ns, name)
        if cached is None:
            self.expectations.forget(key)
            return
        if not self.expectations.satisfied(key):
            return  # the cache has not caught up with our last write: its event enqueues us again
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
        return await self.rs_refs.claim(d, self.rs_informer.list(d["metadata"].get("namespace")),
                                        lambda rs: selector.matches(rs["metadata"].get("labels") or {}))

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
