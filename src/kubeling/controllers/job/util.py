"""The Job controller's pure parts: conditions, which pods count how, how many to run, the pods it
creates and which it removes first (upstream pkg/controller/job/job_controller.go helpers and
pkg/controller/job/util)."""

from __future__ import annotations

import copy
from typing import Any

from ...api.resources import lookup
from ...api.timestamps import parse_rfc3339, rfc3339
from .. import podutil
from .indexed import (COMPLETION_INDEX_ANNOTATION, COMPLETION_INDEX_ENV, COMPLETION_INDEX_LABEL, completion_index,
                      is_indexed)

PODS = lookup("", "v1", "pods")
JOBS = lookup("batch", "v1", "jobs")
assert PODS is not None and JOBS is not None

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
BUILTIN_CONTROLLER = "kubernetes.io/job-controller"

Obj = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# conditions
# ---------------------------------------------------------------------------------------------


def find_condition(job: Obj, ctype: str) -> Obj | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def has_true_condition(job: Obj, ctype: str) -> bool:
    c = find_condition(job, ctype)
    return c is not None and c.get("status") == "True"


def is_job_finished(job: Obj) -> bool:
    """util.IsJobFinished: Complete or Failed is True."""
    return has_true_condition(job, "Complete") or has_true_condition(job, "Failed")


def new_condition(ctype: str, status: str, reason: str, message: str, now: float) -> Obj:
    t = rfc3339(now)
    return {"type": ctype, "status": status, "lastProbeTime": t, "lastTransitionTime": t,
            "reason": reason, "message": message}


def ensure_condition(conds: list[Obj], ctype: str, status: str, reason: str, message: str,
                     now: float) -> bool:
    """ensureJobConditionStatus: update in place or append (never append a False one)."""
    for i, c in enumerate(conds):
        if c.get("type") == ctype:
            if c.get("status") != status or c.get("reason", "") != reason or c.get("message", "") != message:
                conds[i] = new_condition(ctype, status, reason, message, now)
                return True
            return False
    if status != "False":
        conds.append(new_condition(ctype, status, reason, message, now))
        return True
    return False


def success_condition(now: float) -> Obj:
    return new_condition("SuccessCriteriaMet", "True", "CompletionsReached",
                         "Reached expected number of succeeded pods", now)


def failure_condition(reason: str, message: str, now: float) -> Obj:
    return new_condition("FailureTarget", "True", reason, message, now)


# ---------------------------------------------------------------------------------------------
# pods
# ---------------------------------------------------------------------------------------------


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def only_replace_failed_pods(job: Obj) -> bool:
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """A Failed pod, or (unless only failed pods are replaced) one deleted before it succeeded."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Failed":
        return True
    if only_replace_failed_pods(job):
        return False
    return bool(pod["metadata"].get("deletionTimestamp")) and phase != "Succeeded"


def is_terminating(pod: Obj) -> bool:
    """controller.CountTerminatingPods counts these."""
    return bool(pod["metadata"].get("deletionTimestamp")) and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def finished_time(pod: Obj) -> float:
    """getFinishedTime: last container termination, else when Ready turned False, else the
    deletion time minus its grace period, else creation."""
    st = pod.get("status") or {}
    statuses = (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or [])
    latest = None
    if statuses:
        for cs in statuses:
            term = (cs.get("state") or {}).get("terminated")
            t = parse_rfc3339((term or {}).get("finishedAt"))
            if t is None:
                latest = None
                break
            latest = t if latest is None else max(latest, t)
        if latest is not None:
            return latest
    ready = podutil.pod_ready_condition(pod)
    if ready is not None and ready.get("status") == "False":
        t = parse_rfc3339(ready.get("lastTransitionTime"))
        if t is not None:
            return t
    dt = parse_rfc3339(pod["metadata"].get("deletionTimestamp"))
    if dt is not None:
        return dt - float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
    return parse_rfc3339(pod["metadata"].get("creationTimestamp")) or 0.0


# ---------------------------------------------------------------------------------------------
# counting, creating, removing
# ---------------------------------------------------------------------------------------------


def want_active(job: Obj, succeeded: int, active: int) -> int:
    """manageJob's target: parallelism, but never more than the completions still missing;
    without completions, once one pod succeeded no new pods are started."""
    spec = job.get("spec") or {}
    parallelism = int(spec.get("parallelism") if spec.get("parallelism") is not None else 1)
    completions = spec.get("completions")
    if completions is None:
        return active if succeeded > 0 else parallelism
    return max(0, min(int(completions) - succeeded, parallelism))


def past_backoff_limit_on_failure(job: Obj, pods: list[Obj]) -> bool:
    """For restartPolicy OnFailure the container restarts count against backoffLimit."""
    spec = job.get("spec") or {}
    if (((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")) != "OnFailure":
        return False
    total = 0
    for p in pods:
        st = p.get("status") or {}
        if st.get("phase") in ("Running", "Pending"):
            for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
                total += int(cs.get("restartCount") or 0)
    limit = int(spec.get("backoffLimit") or 0)
    return total > 0 if limit == 0 else total >= limit


def pod_from_job(job: Obj, index: int | None = None) -> Obj:
    """The pod a Job creates: its template, the tracking finalizer, a controller reference and,
    for Indexed jobs, the completion index (annotation, label, hostname, env)."""
    tpl = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    tmeta = tpl.get("metadata") or {}
    name = job["metadata"]["name"]
    meta: Obj = {"generateName": f"{name}-" if index is None else f"{name}-{index}-",
                 "namespace": job["metadata"].get("namespace"),
                 "ownerReferences": [podutil.new_controller_ref(job, "batch/v1", "Job")]}
    for k in ("labels", "annotations"):
        if tmeta.get(k):
            meta[k] = dict(tmeta[k])
    fins = list(tmeta.get("finalizers") or [])
    if TRACKING_FINALIZER not in fins:
        fins.append(TRACKING_FINALIZER)
    meta["finalizers"] = fins
    spec = tpl.get("spec") or {}
    if index is not None:
        meta.setdefault("annotations", {})[COMPLETION_INDEX_ANNOTATION] = str(index)
        meta.setdefault("labels", {})[COMPLETION_INDEX_LABEL] = str(index)
        spec["hostname"] = f"{name}-{index}"
        env = {"name": COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {
            "apiVersion": "v1", "fieldPath": f"metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"}}}
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            if not any(e.get("name") == COMPLETION_INDEX_ENV for e in c.get("env") or []):
                c["env"] = [env] + list(c.get("env") or [])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def removal_order(job: Obj, active: list[Obj], n: int, now: float) -> list[Obj]:
    """activePodsForRemoval: duplicate or out-of-range indexes first, then the least advanced pods."""
    rm: list[Obj] = []
    left = list(active)
    if is_indexed(job):
        completions = int((job.get("spec") or {}).get("completions") or 0)
        seen: set[int] = set()
        left = []
        for p in sorted(active, key=lambda p: (completion_index(p), podutil.deletion_order_key(p, 0, now))):
            i = completion_index(p)
            if i < 0 or i >= completions or i in seen:
                rm.append(p)
            else:
                seen.add(i)
                left.append(p)
    if len(rm) < n:
        left.sort(key=lambda p: podutil.deletion_order_key(p, 0, now))
        rm += left[:n - len(rm)]
    return rm


def status_equal(a: Obj, b: Obj) -> bool:
    keys = ("active", "succeeded", "failed", "ready", "terminating", "startTime", "completionTime",
            "conditions", "uncountedTerminatedPods", "completedIndexes")
    norm = {"active": 0, "succeeded": 0, "failed": 0}

    def get(s: Obj, k: str) -> Any:
        v = s.get(k)
        if k == "uncountedTerminatedPods":
            v = {kk: vv for kk, vv in (v or {}).items() if vv}
        return norm.get(k) if v is None and k in norm else v

    return all(get(a, k) == get(b, k) for k in keys)
