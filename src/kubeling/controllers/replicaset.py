"""ReplicaSet controller: keep `spec.replicas` active pods matching the selector, report status.

A port of upstream `pkg/controller/replicaset/replica_set.go`:
- pods are created from the template with `generateName: <rs>-` and a controller reference, in
  slow-start batches (1, 2, 4, ...) so a failing quota or admission stops after one error;
- surplus pods are picked by `podutil.pods_to_delete` (unscheduled, pending, not ready first);
- expectations keep a ReplicaSet from acting again until the informer has seen its own writes;
- orphans matching the selector are adopted, owned pods that stopped matching are released;
- status counts replicas, fullyLabeledReplicas, readyReplicas and availableReplicas
  (ready for minReadySeconds), with ReplicaFailure when creating or deleting fails.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any, Awaitable, Callable

from ..api import errors
from ..api.resources import lookup
from ..api.selectors import from_label_selector_object, selector_from_set
from ..client.events import EventRecorder
from ..client.informer import Informer, object_key, split_key, wait_synced
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_workers
from . import podutil

log = logging.getLogger("kubeling.replicaset")

PODS = lookup("", "v1", "pods")
REPLICASETS = lookup("apps", "v1", "replicasets")
assert PODS is not None and REPLICASETS is not None

BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1
STATUS_UPDATE_RETRIES = 1

Obj = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# pure parts
# ---------------------------------------------------------------------------------------------


def pod_from_template(rs: Obj, api_version: str = "apps/v1", kind: str = "ReplicaSet") -> Obj:
    """controller.GetPodFromTemplate: labels, annotations, finalizers and spec of the template."""
    tpl = (rs.get("spec") or {}).get("template") or {}
    tmeta = tpl.get("metadata") or {}
    meta: Obj = {"generateName": rs["metadata"]["name"] + "-", "namespace": rs["metadata"].get("namespace"),
                 "ownerReferences": [podutil.new_controller_ref(rs, api_version, kind)]}
    for k in ("labels", "annotations", "finalizers"):
        if tmeta.get(k):
            meta[k] = copy.deepcopy(tmeta[k])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(tpl.get("spec") or {})}


def calculate_status(rs: Obj, pods: list[Obj], manage_error: str | None, now: float) -> Obj:
    """calculateStatus: counts over the claimed active pods, and the ReplicaFailure condition."""
    spec = rs.get("spec") or {}
    status = copy.deepcopy(rs.get("status") or {})
    tpl_labels = selector_from_set(((spec.get("template") or {}).get("metadata") or {}).get("labels"))
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully = ready = available = 0
    for p in pods:
        if tpl_labels.matches(p["metadata"].get("labels") or {}):
            fully += 1
        if podutil.is_pod_ready(p):
            ready += 1
            if podutil.is_pod_available(p, min_ready, now):
                available += 1
    failure = next((c for c in status.get("conditions") or [] if c.get("type") == "ReplicaFailure"), None)
    if manage_error is not None and failure is None:
        diff = len(pods) - int(spec.get("replicas", 1))
        reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "ReplicaFailure"] + [
            {"type": "ReplicaFailure", "status": "True", "lastTransitionTime": podutil.format_time(now),
             "reason": reason, "message": manage_error}]
    elif manage_error is None and failure is not None:
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        if conds:
            status["conditions"] = conds
        else:
            status.pop("conditions", None)
    status["replicas"] = len(pods)
    for key, value in (("fullyLabeledReplicas", fully), ("readyReplicas", ready), ("availableReplicas", available)):
        if value:
            status[key] = value
        else:
            status.pop(key, None)  # omitempty
    return status


def status_unchanged(rs: Obj, new_status: Obj) -> bool:
    """updateReplicaSetStatus's steady-state check."""
    old = rs.get("status") or {}
    return (all(int(old.get(k) or 0) == int(new_status.get(k) or 0)
                for k in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas"))
            and rs["metadata"].get("generation", 0) == int(old.get("observedGeneration") or 0)
            and (old.get("conditions") or []) == (new_status.get("conditions") or []))


async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[None]]) -> tuple[int, Exception | None]:
    """slowStartBatch: run fn count times in batches of 1, 2, 4, ...; stop after a batch with errors.

    Creating 10 pods under a quota that allows 2: batch 1 succeeds, batch 2 has one failure, so
    3 calls were made, not 10. Returns (successes, first error).
    """
    remaining, successes = count, 0
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errs = [r for r in results if isinstance(r, Exception)]
        successes += batch - len(errs)
        if errs:
            return successes, errs[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


# ---------------------------------------------------------------------------------------------
# controller
# ---------------------------------------------------------------------------------------------


class ReplicaSetController:
    def __init__(self, client: Client, *, burst_replicas: int = BURST_REPLICAS,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.burst = burst_replicas
        self.clock = clock
        self.queue = WorkQueue("replicaset")
        self.expectations = podutil.Expectations()
        self.recorder = EventRecorder(client, "replicaset-controller")
        self.rs_informer = Informer(client, REPLICASETS)
        self.pod_informer = Informer(client, PODS)

    # ---- handlers ---------------------------------------------------------------------------
    def _resolve(self, namespace: str | None, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != "ReplicaSet" or not str(ref.get("apiVersion", "")).startswith("apps/"):
            return None
        rs = self.rs_informer.get(namespace, ref.get("name", ""))
        if rs is None or rs["metadata"].get("uid") != ref.get("uid"):
            return None
        return rs

    def _replica_sets_for_pod(self, pod: Obj) -> list[Obj]:
        labels = pod["metadata"].get("labels") or {}
        if not labels:
            return []
        out = []
        for rs in self.rs_informer.list(pod["metadata"].get("namespace")):
            try:
                sel = from_label_selector_object((rs.get("spec") or {}).get("selector"))
            except errors.StatusError:
                continue
            if not sel.empty() and sel.matches(labels):
                out.append(rs)
        return out

    def _on_rs_update(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("uid") != cur["metadata"].get("uid"):
            self._on_rs_delete(old)
        self.queue.add(object_key(cur))

    def _on_rs_delete(self, rs: Obj) -> None:
        key = object_key(rs)
        self.expectations.delete(key)
        self.queue.add(key)

    def _on_pod_add(self, pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._on_pod_delete(pod)
            return
        ref = podutil.controller_of(pod)
        if ref is not None:
            rs = self._resolve(pod["metadata"].get("namespace"), ref)
            if rs is not None:
                key = object_key(rs)
                self.expectations.creation_observed(key)
                self.queue.add(key)
            return
        for rs in self._replica_sets_for_pod(pod):
            self.queue.add(object_key(rs))

    def _on_pod_update(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        labels_changed = (old["metadata"].get("labels") or {}) != (cur["metadata"].get("labels") or {})
        if cur["metadata"].get("deletionTimestamp"):
            self._on_pod_delete(cur)
            if labels_changed:
                self._on_pod_delete(old)
            return
        ns = cur["metadata"].get("namespace")
        cur_ref, old_ref = podutil.controller_of(cur), podutil.controller_of(old)
        ref_changed = (cur_ref or {}).get("uid") != (old_ref or {}).get("uid")
        if ref_changed and old_ref is not None:
            rs = self._resolve(ns, old_ref)
            if rs is not None:
                self.queue.add(object_key(rs))
        if cur_ref is not None:
            rs = self._resolve(ns, cur_ref)
            if rs is None:
                return
            self.queue.add(object_key(rs))
            min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not podutil.is_pod_ready(old) and podutil.is_pod_ready(cur):
                self.queue.add_after(object_key(rs), min_ready + 1)
            return
        if labels_changed or ref_changed:
            for rs in self._replica_sets_for_pod(cur):
                self.queue.add(object_key(rs))

    def _on_pod_delete(self, pod: Obj) -> None:
        ref = podutil.controller_of(pod)
        if ref is None:
            return
        rs = self._resolve(pod["metadata"].get("namespace"), ref)
        if rs is None:
            return
        key = object_key(rs)
        self.expectations.deletion_observed(key, object_key(pod))
        self.queue.add(key)

    # ---- reconcile --------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        rs = self.rs_informer.get(ns, name)
        if rs is None:
            self.expectations.delete(key)
            return
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = from_label_selector_object((rs.get("spec") or {}).get("selector"))
        except errors.StatusError as e:
            log.warning("replicaset %s has an invalid selector: %s", key, e.message)
            return
        active = podutil.filter_active_pods(self.pod_informer.list(ns))
        pods = await self._claim_pods(rs, selector, active)
        manage_error: str | None = None
        failure: Exception | None = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            try:
                await self._manage_replicas(rs, pods)
            except errors.StatusError as e:
                manage_error, failure = e.message, e
        new_status = calculate_status(rs, pods, manage_error, self.clock())
        updated = await self._update_status(rs, new_status)
        spec = updated.get("spec") or {}
        st = updated.get("status") or {}
        want = int(spec.get("replicas", 1))
        min_ready = int(spec.get("minReadySeconds") or 0)
        if (failure is None and min_ready > 0 and int(st.get("readyReplicas") or 0) == want
                and int(st.get("availableReplicas") or 0) != want):
            self.queue.add_after(key, min_ready)
        if failure is not None:
            raise failure

    async def _claim_pods(self, rs: Obj, selector: Any, pods: list[Obj]) -> list[Obj]:
        """ControllerRefManager.ClaimPods: keep ours that match, adopt matching orphans, release ours that don't."""
        claimed: list[Obj] = []
        rs_uid = rs["metadata"]["uid"]
        being_deleted = bool(rs["metadata"].get("deletionTimestamp"))
        can_adopt: bool | None = None
        for pod in pods:
            ref = podutil.controller_of(pod)
            matches = selector.matches(pod["metadata"].get("labels") or {})
            if ref is not None:
                if ref.get("uid") != rs_uid:
                    continue
                if matches:
                    claimed.append(pod)
                elif not being_deleted:
                    await self._patch_pod(pod, podutil.release_patch(rs_uid, pod["metadata"]["uid"]))
                continue
            if being_deleted or not matches or pod["metadata"].get("deletionTimestamp"):
                continue
            if can_adopt is None:
                can_adopt = await self._can_adopt(rs)
            if not can_adopt:
                continue
            if await self._patch_pod(pod, podutil.adopt_patch(rs, "apps/v1", "ReplicaSet", pod["metadata"]["uid"])):
                claimed.append(pod)
        return claimed

    async def _can_adopt(self, rs: Obj) -> bool:
        """RecheckDeletionTimestamp: a live read, so we never adopt for a ReplicaSet being deleted."""
        try:
            live = await self.client.get(REPLICASETS, rs["metadata"].get("namespace"), rs["metadata"]["name"])
        except errors.StatusError as e:
            if e.code == 404:
                return False
            raise
        return live["metadata"].get("uid") == rs["metadata"]["uid"] and not live["metadata"].get("deletionTimestamp")

    async def _patch_pod(self, pod: Obj, patch: Obj) -> bool:
        try:
            await self.client.patch(PODS, pod["metadata"].get("namespace"), pod["metadata"]["name"], patch,
                                    patch_type="strategic")
            return True
        except errors.StatusError as e:
            if e.code in (404, 409, 422):
                return False
            raise

    async def _manage_replicas(self, rs: Obj, pods: list[Obj]) -> None:
        key = object_key(rs)
        want = int((rs.get("spec") or {}).get("replicas", 1))
        diff = len(pods) - want
        if diff < 0:
            n = min(-diff, self.burst)
            self.expectations.expect_creations(key, n)

            async def create_one() -> None:
                await self._create_pod(rs)

            successes, err = await slow_start_batch(n, SLOW_START_INITIAL_BATCH, create_one)
            for _ in range(n - successes):  # the informer will never see these
                self.expectations.creation_observed(key)
            if err is not None:
                raise err
        elif diff > 0:
            n = min(diff, self.burst)
            victims = podutil.pods_to_delete(pods, self._related_pods(rs), n, self.clock())
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])
            results = await asyncio.gather(*(self._delete_pod(rs, p) for p in victims), return_exceptions=True)
            errs = [r for r in results if isinstance(r, Exception)]
            if errs:
                raise errs[0]

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """getIndirectlyRelatedPods: pods of every ReplicaSet that shares this one's controller."""
        ns = rs["metadata"].get("namespace")
        owner = podutil.controller_of(rs)
        rs_uids = {rs["metadata"]["uid"]}
        if owner is not None:
            for other in self.rs_informer.list(ns):
                o = podutil.controller_of(other)
                if o is not None and o.get("uid") == owner.get("uid"):
                    rs_uids.add(other["metadata"]["uid"])
        return [p for p in self.pod_informer.list(ns) if (podutil.controller_of(p) or {}).get("uid") in rs_uids]

    async def _create_pod(self, rs: Obj) -> None:
        pod = pod_from_template(rs)
        if not (pod["metadata"].get("labels")):
            raise errors.StatusError(422, "Invalid", "unable to create pods, no labels")
        try:
            created = await self.client.create(PODS, rs["metadata"].get("namespace"), pod)
        except errors.StatusError as e:
            if "is being terminated" in e.message:  # NamespaceTerminatingCause: nothing to do
                self.expectations.creation_observed(object_key(rs))
                return
            self.recorder.event(rs, "Warning", "FailedCreate", f"Error creating: {e.message}")
            raise
        self.recorder.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _delete_pod(self, rs: Obj, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            await self.client.delete(PODS, meta.get("namespace"), meta["name"])
        except errors.StatusError as e:
            self.expectations.deletion_observed(object_key(rs), object_key(pod))
            if e.code == 404:
                return
            self.recorder.event(rs, "Warning", "FailedDelete", f"Error deleting: {e.message}")
            raise
        self.recorder.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}")

    async def _update_status(self, rs: Obj, new_status: Obj) -> Obj:
        if status_unchanged(rs, new_status):
            return rs
        new_status = dict(new_status)
        gen = rs["metadata"].get("generation")
        if gen:
            new_status["observedGeneration"] = gen
        cur = copy.deepcopy(rs)
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            cur["status"] = new_status
            try:
                return await self.client.update_status(REPLICASETS, cur)
            except errors.StatusError as e:
                if e.code == 404:
                    return rs
                if e.code != 409 or attempt >= STATUS_UPDATE_RETRIES:
                    raise
            cur = await self.client.get(REPLICASETS, rs["metadata"].get("namespace"), rs["metadata"]["name"])
        return rs

    # ---- run --------------------------------------------------------------------------------
    async def run(self, workers: int = 5) -> None:
        self.rs_informer.add_handlers(on_add=lambda o: self.queue.add(object_key(o)),
                                      on_update=self._on_rs_update, on_delete=self._on_rs_delete)
        self.pod_informer.add_handlers(on_add=self._on_pod_add, on_update=self._on_pod_update,
                                       on_delete=self._on_pod_delete)
        tasks = [asyncio.create_task(self.rs_informer.run(), name="replicaset-informer-rs"),
                 asyncio.create_task(self.pod_informer.run(), name="replicaset-informer-pods")]
        try:
            await wait_synced([self.rs_informer, self.pod_informer])
            await run_workers(self.queue, self.reconcile, workers)
        finally:
            for t in tasks:
                t.cancel()
