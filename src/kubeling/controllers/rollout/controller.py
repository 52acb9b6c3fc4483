"""Rollout controller: informers on Rollouts, their ReplicaSets and the Services they steer, whose
handlers enqueue Rollout keys, and `reconcile(key)`, which claims the Rollout's ReplicaSets, hands
over to its strategy (canary.py, bluegreen.py) and writes the status (status.py)."""

from __future__ import annotations

import copy
import time
from typing import Any, Callable

from ...api import errors
from ...api import rollout as api
from ...api.resources import lookup
from ...api.selectors import from_label_selector_object
from ...client.controller import Controller, ControllerRefManager, WriteExpectations
from ...client.events import EventRecorder
from ...client.informer import add_owner_indexes, object_key, shared_informer, split_key
from ...client.rest import Client
from .. import podutil
from ..deployment import util
from . import replicasets as rsets
from . import status as rstatus
from . import steps
from .analysis import AnalysisRunner, Probe
from .bluegreen import sync_blue_green
from .canary import sync_canary
from .context import PODS, REPLICASETS, SERVICES, Sync

Obj = dict[str, Any]


def rollouts_resource() -> Any:
    res = lookup(api.GROUP, api.VERSION, api.PLURAL)
    if res is None:
        raise RuntimeError(f"the {api.NAME} CRD is not served (the API server installs it at start)")
    return res


class RolloutController(Controller):
    def __init__(self, client: Client, *, clock: Callable[[], float] = time.time, probe: Probe | None = None) -> None:
        super().__init__("rollout")
        self.client = client
        self.clock = clock
        self.res = rollouts_resource()
        self.recorder = EventRecorder(client, "rollouts-controller")
        self.ro_informer = self.watch(shared_informer(client, self.res), on_add=self._enqueue,
                                      on_update=lambda old, new: self._enqueue(new), on_delete=self._on_delete)
        self.rs_informer = self.watch(shared_informer(client, REPLICASETS), on_add=self._on_rs,
                                      on_update=lambda old, new: self._on_rs(new, old), on_delete=self._on_rs_delete)
        self.svc_informer = self.watch(shared_informer(client, SERVICES), on_add=self._on_svc,
                                       on_update=lambda old, new: self._on_svc(new), on_delete=self._on_svc)
        self.pod_informer = self.watch(shared_informer(client, PODS))
        add_owner_indexes(self.pod_informer)
        self.queue = self.add_queue("rollout", self.reconcile, workers=2)
        self.rs_refs = ControllerRefManager(client, self.ro_informer, REPLICASETS, written=self.rs_written)
        self.expectations = WriteExpectations(self.rs_informer)
        # our own status writes too: a sync on a copy without them would redo a step (and its event)
        self.status_writes = WriteExpectations(self.ro_informer)
        self.analysis = AnalysisRunner(self.queue.add, probe)
        self.on_stop(self.analysis.stop)

    def rs_written(self, ro: Obj, rs: Obj) -> None:
        self.expectations.wrote(object_key(ro), rs)

    # ---- handlers ---------------------------------------------------------------------------
    def _enqueue(self, ro: Obj) -> None:
        self.queue.add(object_key(ro))

    def _on_delete(self, ro: Obj) -> None:
        key = object_key(ro)
        self.expectations.forget(key)
        self.status_writes.forget(key)
        self.analysis.retain(key, set())

    def _on_rs(self, rs: Obj, old: Obj | None = None) -> None:
        ro = self.rs_refs.controller_of(rs)
        if ro is not None:
            self._enqueue(ro)
        elif podutil.controller_of(rs) is None:
            for owner in self.rs_refs.owners_selecting(rs):
                self._enqueue(owner)
        if old is not None and podutil.controller_of(old) != podutil.controller_of(rs):
            prev = self.rs_refs.controller_of(old)
            if prev is not None:
                self._enqueue(prev)

    def _on_rs_delete(self, rs: Obj) -> None:
        ro = self.rs_refs.controller_of(rs)
        if ro is not None:
            self.expectations.deleted(object_key(ro), rs)
            self._enqueue(ro)

    def _on_svc(self, svc: Obj) -> None:
        """A Service a Rollout steers appeared or changed: that Rollout checks it again."""
        name = svc["metadata"]["name"]
        for ro in self.ro_informer.list(svc["metadata"].get("namespace")):
            _, settings = steps.strategy(ro)
            if name in {settings.get(k) for k in ("canaryService", "stableService", "activeService",
                                                  "previewService")}:
                self._enqueue(ro)

    # ---- reconcile --------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.ro_informer.get(ns, name)
        if cached is None:
            self._on_delete({"metadata": {"namespace": ns, "name": name}})
            return
        if not (self.expectations.satisfied(key) and self.status_writes.satisfied(key)) \
                or cached["metadata"].get("deletionTimestamp"):
            return  # the cache has not caught up with our last write: its event enqueues us again
        ro = copy.deepcopy(cached)
        ro.setdefault("apiVersion", self.res.api_version)
        ro.setdefault("kind", self.res.kind)
        st = copy.deepcopy(ro.get("status") or {})
        s = Sync(self, ro, st, [], "", self.clock())
        s.problem = steps.invalid_spec(ro)
        if s.problem:
            s.problem = "InvalidSpec: " + s.problem
        else:
            await self._sync(s)
        self.analysis.retain(key, s.runs)
        await self._write_status(s)
        if s.recheck is not None:
            self.queue.add_after(key, s.recheck)

    async def _sync(self, s: Sync) -> None:
        ro, st = s.ro, s.status
        selector = from_label_selector_object(ro["spec"].get("selector"))
        s.rs_list = await self.rs_refs.claim(ro, self.rs_informer.list(ro["metadata"].get("namespace")),
                                             lambda rs: selector.matches(rs["metadata"].get("labels") or {}))
        s.hash = util.compute_hash(ro["spec"].get("template"), st.get("collisionCount"))
        s.new_rs = rsets.find(s.rs_list, s.hash)
        s.stable_rs = rsets.find(s.rs_list, st.get("stableRS"))
        kind, settings = steps.strategy(ro)
        step_count = len(settings.get("steps") or []) if kind == "canary" else 0
        if st.get("currentPodHash") != s.hash:
            if st.get("currentPodHash") is not None:
                s.event("RolloutUpdated", f"Rollout updated to revision {self._next_revision(s)}")
            steps.reset_for_new_revision(st, step_count)
        elif not st.get("abort") and st.get("abortedAt"):  # `status.abort: false` after an abort: retry
            steps.reset_for_new_revision(st, step_count)
            s.event("RolloutRetry", "Retrying Rollout after abort")
        if st.get("abort"):
            s.mark_aborted()
        if kind == "canary":
            await sync_canary(s, settings)
        else:
            await sync_blue_green(s, settings)

    @staticmethod
    def _next_revision(s: Sync) -> int:
        """The revision the new template gets: its ReplicaSet's if that is the newest, else the next."""
        top = util.max_revision(s.rs_list, steps.REVISION)
        return top if s.new_rs is not None and s.revision(s.new_rs) == top else top + 1

    async def _write_status(self, s: Sync) -> None:
        new = rstatus.finish(s.ro, s.status, s.rs_list, s.new_rs, s.hash or (s.ro.get("status") or {}).get(
            "currentPodHash", ""), s.revision(), s.problem, s.now)
        if util.status_equal(s.ro.get("status"), new):
            return
        before = (s.ro.get("status") or {}).get("phase")
        s.ro["status"] = new
        try:
            written = await self.client.update_status(self.res, s.ro)
        except errors.StatusError as e:
            if e.code != 409:
                raise
            return  # a user wrote the status (promote, abort) meanwhile: that write's event syncs us again
        self.status_writes.wrote(s.key, written)
        if before != new["phase"] and new["phase"] == rstatus.HEALTHY and before is not None:
            s.event("RolloutHealthy", "Rollout is healthy")
