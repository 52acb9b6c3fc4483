"""Job controller (upstream pkg/controller/job/job_controller.go, v1.32 behavior).

A Job runs pods from its template until `completions` of them succeeded (or, without completions,
until one succeeded and none is left running), at most `parallelism` at a time. Pods carry the
`batch.kubernetes.io/job-tracking` finalizer so a finished pod is counted exactly once: the
controller first records its UID in `status.uncountedTerminatedPods`, then removes the finalizer,
then moves it into `succeeded`/`failed`. Failures beyond `backoffLimit` (or a passed
`activeDeadlineSeconds`) fail the Job: first the interim `FailureTarget` condition, then, when no
pod is left terminating, `Failed`; success works the same way with `SuccessCriteriaMet` then
`Complete` (reason CompletionsReached). A failed pod is replaced after an exponential backoff of
10 s, doubling per consecutive failure, capped at 10 minutes (upstream's MaxJobPodFailureBackOff).

Not ported: podFailurePolicy, successPolicy, backoffLimitPerIndex, managedBy (jobs with a
managedBy other than the built-in controller are skipped, as upstream does).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from ...api import errors
from ...api.selectors import from_label_selector_object
from ...api.timestamps import parse_rfc3339, rfc3339
from ...client.events import EventRecorder
from ...client.controller import Controller, ControllerRefManager
from ...client.informer import Informer, object_key, shared_informer, split_key
from ...client.rest import Client
from .. import podutil
from .backoff import (DEFAULT_POD_FAILURE_BACKOFF, MAX_POD_FAILURE_BACKOFF, BackoffRecord, new_backoff_record,
                      remaining_backoff)
from .indexed import completion_index, first_pending_indexes, format_indexes, is_indexed, parse_indexes
from .util import (BUILTIN_CONTROLLER, JOBS, PODS, TRACKING_FINALIZER, Obj, ensure_condition, failure_condition,
                   find_condition, has_tracking_finalizer, has_true_condition, is_job_finished, is_pod_failed,
                   is_terminating, new_condition, only_replace_failed_pods, past_backoff_limit_on_failure,
                   pod_from_job, removal_order, status_equal, success_condition, want_active)

log = logging.getLogger("kubeling.job")

MAX_UNCOUNTED_PODS = 500
MAX_POD_CREATE_DELETE_PER_SYNC = 500


@dataclass
class JobSettings:
    sync_batch_period: float = 1.0  # syncJobBatchPeriod
    pod_failure_backoff: float = DEFAULT_POD_FAILURE_BACKOFF
    max_pod_failure_backoff: float = MAX_POD_FAILURE_BACKOFF


@dataclass
class _Ctx:
    job: Obj
    pods: list[Obj]
    active: list[Obj]
    ready: int
    succeeded: int = 0
    failed: int = 0
    terminating: int = 0
    uncounted_succeeded: set[str] = field(default_factory=set)
    uncounted_failed: set[str] = field(default_factory=set)
    expected_rm: set[str] = field(default_factory=set)
    finished: Obj | None = None
    backoff: BackoffRecord = field(default_factory=BackoffRecord)
    succeeded_indexes: set[int] = field(default_factory=set)


class JobController(Controller):
    def __init__(self, client: Client, settings: JobSettings | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__("job")
        self.client = client
        self.s = settings or JobSettings()
        self.clock = clock
        self.expectations = podutil.Expectations()
        self.rm_finalizers: dict[str, set[str]] = {}  # job key -> pod UIDs whose finalizer removal we await
        self.backoffs: dict[str, BackoffRecord] = {}
        self.recorder = EventRecorder(client, "job-controller")
        self.job_informer = self.watch(Informer(client, JOBS), on_add=lambda j: self.queue.add(object_key(j)),
                                       on_update=self._on_job_update, on_delete=self._on_job_delete)
        self.pod_informer = self.watch(shared_informer(client, PODS), on_add=self._on_pod_add,
                                       on_update=self._on_pod_update, on_delete=self._on_pod_delete)
        self.queue = self.add_queue("job", self.sync, workers=5)
        self.orphans = self.add_queue("job-orphan-pods", self.sync_orphan_pod)
        self.pod_refs = ControllerRefManager(client, self.job_informer, PODS, adopt_finalizers=[TRACKING_FINALIZER])

    # ---- handlers ---------------------------------------------------------------------------
    def _enqueue_batched(self, job: Obj) -> None:
        self.queue.add_after(object_key(job), self.s.sync_batch_period)

    def _on_pod_add(self, pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._on_pod_delete(pod, final=False)
            return
        ref = podutil.controller_of(pod)
        if ref is not None:
            job = self.pod_refs.resolve(pod["metadata"].get("namespace"), ref)
            if job is not None:
                self.expectations.creation_observed(object_key(job))
                self._enqueue_batched(job)
            return
        if has_tracking_finalizer(pod):
            self.orphans.add(object_key(pod))
        for job in self.pod_refs.owners_selecting(pod):
            self._enqueue_batched(job)

    def _on_pod_update(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        if cur["metadata"].get("deletionTimestamp"):
            self._on_pod_delete(cur, final=False)
            return
        ns = cur["metadata"].get("namespace")
        removed = not has_tracking_finalizer(cur)
        cur_ref, old_ref = podutil.controller_of(cur), podutil.controller_of(old)
        if cur_ref != old_ref and old_ref is not None:
            job = self.pod_refs.resolve(ns, old_ref)
            if job is not None:
                if removed:
                    self.rm_finalizers.get(object_key(job), set()).discard(cur["metadata"].get("uid"))
                self._enqueue_batched(job)
        if cur_ref is not None:
            job = self.pod_refs.resolve(ns, cur_ref)
            if job is None:
                return
            if removed:
                self.rm_finalizers.get(object_key(job), set()).discard(cur["metadata"].get("uid"))
            self._enqueue_batched(job)
            return
        if has_tracking_finalizer(cur):
            self.orphans.add(object_key(cur))
        if (old["metadata"].get("labels") != cur["metadata"].get("labels")) or cur_ref != old_ref:
            for job in self.pod_refs.owners_selecting(cur):
                self._enqueue_batched(job)

    def _on_pod_delete(self, pod: Obj, final: bool = True) -> None:
        ref = podutil.controller_of(pod)
        has_fin = has_tracking_finalizer(pod)
        if ref is None:
            if has_fin:
                self.orphans.add(object_key(pod))
            return
        job = self.pod_refs.resolve(pod["metadata"].get("namespace"), ref)
        if job is None or is_job_finished(job):
            if has_fin:
                self.orphans.add(object_key(pod))
            return
        key = object_key(job)
        self.expectations.deletion_observed(key, object_key(pod))
        if final or not has_fin:
            self.rm_finalizers.get(key, set()).discard(pod["metadata"].get("uid"))
        self._enqueue_batched(job)

    def _on_job_update(self, old: Obj, cur: Obj) -> None:
        key = object_key(cur)
        if cur["metadata"].get("generation") == old["metadata"].get("generation"):
            self._enqueue_batched(cur)
        else:
            self.queue.add(key)
        if is_job_finished(cur):
            self._cleanup_pod_finalizers(cur)
        start = parse_rfc3339((cur.get("status") or {}).get("startTime"))
        ads = (cur.get("spec") or {}).get("activeDeadlineSeconds")
        if start is not None and ads is not None and ads != (old.get("spec") or {}).get("activeDeadlineSeconds"):
            self.queue.add_after(key, max(0.0, start + ads - self.clock()))

    def _on_job_delete(self, job: Obj) -> None:
        self.queue.add(object_key(job))
        self._cleanup_pod_finalizers(job)

    def _cleanup_pod_finalizers(self, job: Obj) -> None:
        uid = job["metadata"].get("uid")
        for pod in self.pod_informer.list(job["metadata"].get("namespace")):
            if has_tracking_finalizer(pod) and (podutil.controller_of(pod) or {}).get("uid") == uid:
                self.orphans.add(object_key(pod))

    # ---- orphan pods ------------------------------------------------------------------------
    async def sync_orphan_pod(self, key: str) -> None:
        ns, name = split_key(key)
        pod = self.pod_informer.get(ns, name)
        if pod is None or not has_tracking_finalizer(pod):
            return
        ref = podutil.controller_of(pod)
        if ref is not None:
            if ref.get("kind") != "Job" or ref.get("apiVersion") != "batch/v1":
                return
            job = self.pod_refs.resolve(ns, ref)
            if job is not None and not is_job_finished(job):
                return
        await self._remove_finalizer(pod)

    async def _remove_finalizer(self, pod: Obj) -> bool:
        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}}
        try:
            await self.client.patch(PODS, pod["metadata"].get("namespace"), pod["metadata"]["name"], patch,
                                    patch_type="strategic")
        except errors.StatusError as e:
            if e.code != 404:
                raise
        return True

    # ---- sync -------------------------------------------------------------------------------
    async def _claim_pods(self, job: Obj) -> list[Obj]:
        """getPodsForJob: ours, plus matching unfinished orphans adopted (with the tracking
        finalizer). A Job being deleted keeps every pod it controls."""
        try:
            sel = from_label_selector_object((job.get("spec") or {}).get("selector"))
        except errors.StatusError:
            return []
        deleting = bool(job["metadata"].get("deletionTimestamp"))
        candidates = [p for p in self.pod_informer.list(job["metadata"].get("namespace"))
                      if podutil.controller_of(p) is not None
                      or (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        return await self.pod_refs.claim(
            job, candidates, lambda p: deleting or (not sel.empty() and sel.matches(p["metadata"].get("labels") or {})))

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        shared = self.job_informer.get(ns, name)
        if shared is None:
            self.expectations.delete(key)
            self.rm_finalizers.pop(key, None)
            self.backoffs.pop(key, None)
            return
        managed_by = (shared.get("spec") or {}).get("managedBy")
        if managed_by and managed_by != BUILTIN_CONTROLLER:
            return
        job = copy.deepcopy(shared)
        if is_job_finished(job):
            self.backoffs.pop(key, None)
            return
        mode = (job.get("spec") or {}).get("completionMode") or "NonIndexed"
        if mode not in ("NonIndexed", "Indexed"):
            self.recorder.event(job, "Warning", "UnknownCompletionMode",
                                "Skipped Job sync because completion mode is unknown")
            return
        now = self.clock()
        status = job.setdefault("status", {})
        unc = status.get("uncountedTerminatedPods") or {}
        status["uncountedTerminatedPods"] = {k: list(v) for k, v in unc.items() if v}
        satisfied = self.expectations.satisfied(key)
        pods = await self._claim_pods(job)
        active = podutil.filter_active_pods(pods)
        ctx = _Ctx(job=job, pods=pods, active=active, ready=sum(1 for p in active if podutil.is_pod_ready(p)),
                   uncounted_succeeded=set(unc.get("succeeded") or []), uncounted_failed=set(unc.get("failed") or []),
                   expected_rm=set(self.rm_finalizers.get(key, set())))
        ctx.terminating = sum(1 for p in pods if is_terminating(p))
        n_active = len(active)
        new_succ, new_fail = self._new_finished_pods(ctx)
        ctx.succeeded = int(status.get("succeeded") or 0) + len(new_succ) + len(ctx.uncounted_succeeded)
        ctx.failed = int(status.get("failed") or 0) + len(new_fail) + len(ctx.uncounted_failed)
        suspended = bool((job.get("spec") or {}).get("suspend"))
        if status.get("startTime") is None and not suspended:
            status["startTime"] = rfc3339(now)
        ctx.backoff = new_backoff_record(self.backoffs.get(key), new_succ, new_fail)
        spec = job.get("spec") or {}
        backoff_limit = int(spec.get("backoffLimit") if spec.get("backoffLimit") is not None else 6)

        if has_true_condition(job, "SuccessCriteriaMet"):
            ctx.finished = find_condition(job, "SuccessCriteriaMet")
        elif has_true_condition(job, "FailureTarget"):
            ft = find_condition(job, "FailureTarget") or {}
            ctx.finished = new_condition("Failed", "True", ft.get("reason", ""), ft.get("message", ""), now)
        if ctx.finished is None:
            if ctx.failed > backoff_limit or past_backoff_limit_on_failure(job, pods):
                ctx.finished = failure_condition("BackoffLimitExceeded", "Job has reached the specified backoff limit", now)
            elif self._past_active_deadline(job, now):
                ctx.finished = failure_condition("DeadlineExceeded", "Job was active longer than specified deadline", now)
            elif spec.get("activeDeadlineSeconds") is not None and not suspended:
                start = parse_rfc3339(status.get("startTime")) or now
                self.queue.add_after(key, max(0.0, start + int(spec["activeDeadlineSeconds"]) - now))
        if is_indexed(job):
            completions = int(spec.get("completions") or 0)
            ctx.succeeded_indexes = parse_indexes(status.get("completedIndexes"), completions) | {
                completion_index(p) for p in pods
                if (p.get("status") or {}).get("phase") == "Succeeded" and 0 <= completion_index(p) < completions}
            ctx.succeeded = len(ctx.succeeded_indexes)

        suspend_changed = False
        manage_err: Exception | None = None
        if ctx.finished is not None:
            deleted_ready, deleted, err = await self._delete_pods(job, active, keep_finalizer=True)
            if deleted != n_active or not satisfied:
                ctx.finished = None
            n_active -= deleted
            ctx.terminating += deleted
            ctx.ready -= deleted_ready
            manage_err = err
        else:
            called = False
            if satisfied and not job["metadata"].get("deletionTimestamp"):
                try:
                    n_active = await self._manage(job, ctx, key, now)
                except errors.StatusError as e:
                    manage_err = e
                    n_active = len(ctx.active)
                called = True
            completions = spec.get("completions")
            if completions is None:
                complete = ctx.succeeded > 0 and n_active == 0
            else:
                complete = ctx.succeeded >= int(completions) and n_active == 0
            if complete:
                ctx.finished = success_condition(now)
            elif called:
                conds = status.setdefault("conditions", [])
                if suspended:
                    if ensure_condition(conds, "Suspended", "True", "JobSuspended", "Job suspended", now):
                        suspend_changed = True
                        self.recorder.event(job, "Normal", "Suspended", "Job suspended")
                elif ensure_condition(conds, "Suspended", "False", "JobResumed", "Job resumed", now):
                    suspend_changed = True
                    self.recorder.event(job, "Normal", "Resumed", "Job resumed")
                    status["startTime"] = rfc3339(now)
                if not conds:
                    status.pop("conditions", None)
        status["active"] = n_active
        status["ready"] = ctx.ready
        status["terminating"] = ctx.terminating
        await self._track_status(ctx, shared, key, now)
        if manage_err is not None:
            raise manage_err

    def _new_finished_pods(self, ctx: _Ctx) -> tuple[list[Obj], list[Obj]]:
        """getNewFinishedPods: finished pods still holding our finalizer and not yet recorded."""
        succ, fail = [], []
        completions = int((ctx.job.get("spec") or {}).get("completions") or 0)
        for p in ctx.pods:
            uid = p["metadata"].get("uid", "")
            if not has_tracking_finalizer(p) or uid in ctx.expected_rm:
                continue
            if is_indexed(ctx.job) and not 0 <= completion_index(p) < completions:
                continue
            if (p.get("status") or {}).get("phase") == "Succeeded" and uid not in ctx.uncounted_succeeded:
                succ.append(p)
            elif is_pod_failed(p, ctx.job) and uid not in ctx.uncounted_failed:
                fail.append(p)
        return succ, fail

    def _past_active_deadline(self, job: Obj, now: float) -> bool:
        spec, st = job.get("spec") or {}, job.get("status") or {}
        ads = spec.get("activeDeadlineSeconds")
        start = parse_rfc3339(st.get("startTime"))
        if ads is None or start is None or spec.get("suspend"):
            return False
        return now - start >= int(ads)

    async def _manage(self, job: Obj, ctx: _Ctx, key: str, now: float) -> int:
        """manageJob: delete surplus pods, or create missing ones once the backoff has passed."""
        active = len(ctx.active)
        spec = job.get("spec") or {}
        suspended = bool(spec.get("suspend"))
        want = 0 if suspended else want_active(job, ctx.succeeded, active)
        if suspended:  # a suspended Job deletes all its active pods and creates none
            victims = removal_order(job, ctx.active, active, now)
        else:
            victims = removal_order(job, ctx.active, max(0, active - want), now)[:MAX_POD_CREATE_DELETE_PER_SYNC]
        if suspended or victims:
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])
            dr, d, err = await self._delete_pods(job, victims, keep_finalizer=False, key=key)
            ctx.terminating += d
            ctx.ready -= dr
            if err is not None:
                raise err
            return active - d
        terminating = ctx.terminating if only_replace_failed_pods(job) else 0
        diff = want - terminating - active
        if diff <= 0:
            return active
        wait = remaining_backoff(ctx.backoff, now, self.s.pod_failure_backoff, self.s.max_pod_failure_backoff)
        if wait > 0:
            self.queue.add_after(key, max(wait, self.s.sync_batch_period))
            return active
        diff = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
        indexes: list[int | None] = [None] * diff
        if is_indexed(job):
            completions = int(spec.get("completions") or 0)
            found = first_pending_indexes(ctx.active, ctx.succeeded_indexes, diff, completions)
            indexes = list(found)
            diff = len(indexes)
        if diff == 0:
            return active
        self.expectations.expect_creations(key, diff)
        created, err = 0, None
        batch = 1
        pending = list(indexes)
        while pending:
            chunk, pending = pending[:batch], pending[batch:]
            results = await asyncio.gather(*(self._create_pod(job, i) for i in chunk), return_exceptions=True)
            errs = [r for r in results if isinstance(r, Exception)]
            created += len(chunk) - len(errs)
            for _ in errs:
                self.expectations.creation_observed(key)
            if errs:
                err = errs[0]
                for _ in pending:  # skipped: the informer will never see these
                    self.expectations.creation_observed(key)
                break
            batch *= 2
        if err is not None:
            raise err
        return active + created

    async def _create_pod(self, job: Obj, index: int | None) -> None:
        pod = pod_from_job(job, index)
        try:
            created = await self.client.create(PODS, job["metadata"].get("namespace"), pod)
        except errors.StatusError as e:
            if "is being terminated" in e.message:
                return
            self.recorder.event(job, "Warning", "FailedCreate", f"Error creating: {e.message}")
            raise
        self.recorder.event(job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _delete_pods(self, job: Obj, pods: list[Obj], *, keep_finalizer: bool,
                           key: str = "") -> tuple[int, int, Exception | None]:
        """deleteActivePods / deleteJobPods: (ready deleted, deleted, first error)."""
        async def one(p: Obj) -> bool:
            meta = p["metadata"]
            try:
                if not keep_finalizer and has_tracking_finalizer(p):
                    await self._remove_finalizer(p)
                await self.client.delete(PODS, meta.get("namespace"), meta["name"])
            except errors.StatusError as e:
                if key:
                    self.expectations.deletion_observed(key, object_key(p))
                if e.code == 404:
                    return True
                self.recorder.event(job, "Warning", "FailedDelete", f"Error deleting: {e.message}")
                raise
            self.recorder.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}")
            return True

        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        errs = [r for r in results if isinstance(r, Exception)]
        deleted = len(pods) - len(errs)
        ready = sum(1 for p, r in zip(pods, results) if not isinstance(r, Exception) and podutil.is_pod_ready(p))
        return ready, deleted, (errs[0] if errs else None)

    async def _track_status(self, ctx: _Ctx, shared: Obj, key: str, now: float) -> None:
        """trackJobStatusAndRemoveFinalizers."""
        job = ctx.job
        status = job["status"]
        unc = status["uncountedTerminatedPods"]
        with_fin = {p["metadata"]["uid"] for p in ctx.pods
                    if has_tracking_finalizer(p) and p["metadata"]["uid"] not in ctx.expected_rm}
        self._clean_uncounted(status, with_fin)
        to_remove: list[Obj] = []
        indexed = is_indexed(job)
        completions = int((job.get("spec") or {}).get("completions") or 0)
        for p in ctx.pods:
            uid = p["metadata"]["uid"]
            if not has_tracking_finalizer(p) or uid in ctx.expected_rm:
                continue
            failed = is_pod_failed(p, job)
            phase = (p.get("status") or {}).get("phase")
            if not (job["metadata"].get("deletionTimestamp") or ctx.finished is not None or phase == "Succeeded" or failed):
                continue
            to_remove.append(p)
            if phase == "Succeeded" and uid not in ctx.uncounted_failed:
                if not indexed and uid not in ctx.uncounted_succeeded and uid not in unc.get("succeeded", []):
                    unc.setdefault("succeeded", []).append(uid)
            elif failed or (ctx.finished is not None and ctx.finished["type"] != "SuccessCriteriaMet"):
                ix = completion_index(p)
                if uid not in ctx.uncounted_failed and uid not in unc.get("failed", []) and \
                        (not indexed or 0 <= ix < completions):
                    unc.setdefault("failed", []).append(uid)
            if len(unc.get("succeeded", [])) + len(unc.get("failed", [])) >= MAX_UNCOUNTED_PODS:
                break
        if indexed:
            status["succeeded"] = len(ctx.succeeded_indexes)
            status["completedIndexes"] = format_indexes(ctx.succeeded_indexes)
        conds = status.setdefault("conditions", [])
        if ctx.finished is not None and ctx.finished["type"] == "FailureTarget":
            conds.append(ctx.finished)
            ctx.finished = new_condition("Failed", "True", ctx.finished["reason"], ctx.finished["message"], now)
        elif ctx.finished is not None and ctx.finished["type"] == "SuccessCriteriaMet":
            if find_condition(job, "SuccessCriteriaMet") is None:
                conds.append(ctx.finished)
            ctx.finished = new_condition("Complete", "True", ctx.finished.get("reason", ""),
                                         ctx.finished.get("message", ""), now)
        if not conds:
            status.pop("conditions", None)
        # flush the uncounted UIDs (and interim condition) before touching finalizers
        if not status_equal(status, shared.get("status") or {}):
            job = await self._update_status(job)
            self.backoffs[key] = ctx.backoff
            status = job["status"]
            status.setdefault("uncountedTerminatedPods", {})
        else:
            self.backoffs[key] = ctx.backoff
        flushed = copy.deepcopy(status)
        if to_remove:
            self.rm_finalizers.setdefault(key, set()).update(p["metadata"]["uid"] for p in to_remove)
            results = await asyncio.gather(*(self._remove_finalizer(p) for p in to_remove), return_exceptions=True)
            for p, r in zip(to_remove, results):
                if not isinstance(r, Exception):
                    with_fin.discard(p["metadata"]["uid"])
                else:
                    self.rm_finalizers.get(key, set()).discard(p["metadata"]["uid"])
        self._clean_uncounted(status, with_fin)
        finished = self._enact_finished(job, ctx, now)
        if finished or not status_equal(status, flushed):
            job = await self._update_status(job)
            if finished and ctx.finished is not None:
                if ctx.finished["type"] == "Complete":
                    spec_c = (job.get("spec") or {}).get("completions")
                    if spec_c is not None and int(job["status"].get("succeeded") or 0) > int(spec_c):
                        self.recorder.event(job, "Warning", "TooManySucceededPods",
                                            "Too many succeeded pods running after completion count reached")
                    self.recorder.event(job, "Normal", "Completed", "Job completed")
                else:
                    self.recorder.event(job, "Warning", ctx.finished["reason"], ctx.finished["message"])

    @staticmethod
    def _clean_uncounted(status: Obj, with_fin: set[str]) -> bool:
        """cleanUncountedPodsWithoutFinalizers: UIDs whose finalizer is gone become counts."""
        unc = status.setdefault("uncountedTerminatedPods", {})
        changed = False
        for k in ("succeeded", "failed"):
            uids = unc.get(k) or []
            keep = [u for u in uids if u in with_fin]
            if len(keep) != len(uids):
                changed = True
                status[k] = int(status.get(k) or 0) + len(uids) - len(keep)
            if keep:
                unc[k] = keep
            else:
                unc.pop(k, None)
        return changed

    def _enact_finished(self, job: Obj, ctx: _Ctx, now: float) -> bool:
        """Set Complete/Failed once nothing is uncounted and no pod is terminating."""
        if ctx.finished is None:
            return False
        unc = job["status"].get("uncountedTerminatedPods") or {}
        if unc.get("succeeded") or unc.get("failed"):
            return False
        if ctx.terminating > 0:
            return False
        conds = job["status"].setdefault("conditions", [])
        f = ctx.finished
        ensure_condition(conds, f["type"], f["status"], f.get("reason", ""), f.get("message", ""), now)
        if f["type"] == "Complete":
            job["status"]["completionTime"] = f["lastTransitionTime"]
        return True

    async def _update_status(self, job: Obj) -> Obj:
        body = copy.deepcopy(job)
        return await self.client.update_status(JOBS, body)
