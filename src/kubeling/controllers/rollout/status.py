"""A Rollout's status as Argo reports it: replica counts from its ReplicaSets, the phase
(Progressing, Paused, Healthy, Degraded) with its message, and conditions. Pure: the sync has
already decided everything else in the status."""

from __future__ import annotations

from typing import Any, Optional

from ...api.selectors import from_label_selector_object
from ...api import errors
from ..deployment import util
from . import steps

Obj = dict[str, Any]

PROGRESSING, PAUSED, HEALTHY, DEGRADED = "Progressing", "Paused", "Healthy", "Degraded"
_RUNS = (("canary", "currentStepAnalysisRunStatus"), ("canary", "currentBackgroundAnalysisRunStatus"),
         ("blueGreen", "prePromotionAnalysisRunStatus"))


def counts(status: Obj, rs_list: list[Obj], new_rs: Optional[Obj]) -> None:
    """replicas / updatedReplicas / readyReplicas / availableReplicas over the ReplicaSets."""
    status["replicas"] = sum(util.status_of(rs, "replicas") for rs in rs_list)
    status["updatedReplicas"] = util.status_of(new_rs, "replicas")
    status["readyReplicas"] = sum(util.status_of(rs, "readyReplicas") for rs in rs_list)
    status["availableReplicas"] = sum(util.status_of(rs, "availableReplicas") for rs in rs_list)


def selector(ro: Obj) -> str:
    """status.selector, the scale subresource's labelSelectorPath (for `kubectl scale` and HPA)."""
    try:
        return str(from_label_selector_object((ro.get("spec") or {}).get("selector")))
    except errors.StatusError:
        return ""


def failed_analysis(status: Obj) -> str:
    for section, field in _RUNS:
        run = (status.get(section) or {}).get(field) or {}
        if run.get("status") == "Failed":
            return str(run.get("message") or run.get("name") or "")
    return ""


def complete(ro: Obj, status: Obj) -> bool:
    """Argo's RolloutHealthy: every replica updated and available, the new version is stable
    (canary: all steps done, old pods gone; blue-green: the active Service selects it)."""
    n = steps.replicas(ro)
    kind, _ = steps.strategy(ro)
    h = status.get("currentPodHash")
    if status.get("stableRS") != h or int(status.get("updatedReplicas") or 0) != n \
            or int(status.get("availableReplicas") or 0) < n:
        return False
    if kind == "blueGreen":
        return (status.get("blueGreen") or {}).get("activeSelector") == h
    return int(status.get("replicas") or 0) == n


def phase(ro: Obj, status: Obj, problem: str, revision: int = 0) -> tuple[str, str]:
    """(phase, message), Argo's rules in Argo's order."""
    if problem:
        return DEGRADED, problem
    if status.get("abort"):
        msg = f"RolloutAborted: Rollout aborted update to revision {revision}"
        why = failed_analysis(status)
        return DEGRADED, f"{msg}: {why}" if why else msg
    if (ro.get("spec") or {}).get("paused"):
        return PAUSED, "manually paused"
    conds = status.get("pauseConditions") or []
    if conds:
        return PAUSED, str(conds[0].get("reason", ""))
    if complete(ro, status):
        return HEALTHY, ""
    n = steps.replicas(ro)
    if int(status.get("updatedReplicas") or 0) < n and steps.strategy(ro)[0] == "blueGreen":
        return PROGRESSING, "more replicas need to be updated"
    if status.get("stableRS") != status.get("currentPodHash"):
        return PROGRESSING, "waiting for all steps to complete" if steps.strategy(ro)[0] == "canary" \
            else "waiting for the active service to switch"
    if int(status.get("availableReplicas") or 0) < n:
        return PROGRESSING, "updated replicas are still becoming available"
    return PROGRESSING, "old replicas are pending termination"


def conditions(status: Obj, ph: str, message: str, now: float) -> None:
    """Progressing, Paused, Available, Healthy and Completed, kept with their transition times."""
    def put(ctype: str, ok: bool, reason: str, msg: str) -> None:
        util.set_condition(status, util.new_condition(ctype, "True" if ok else "False", reason, msg, now))

    n_ok = int(status.get("availableReplicas") or 0) >= 1 and ph != DEGRADED
    put("Available", n_ok, "AvailableReason",
        "Rollout has minimum availability" if n_ok else "Rollout does not have minimum availability")
    if ph == DEGRADED:
        reason = "RolloutAborted" if status.get("abort") else message.split(":", 1)[0] or "InvalidSpec"
        put("Progressing", False, reason, message)
    elif ph == PAUSED:
        util.set_condition(status, util.new_condition("Progressing", "Unknown", "RolloutPaused",
                                                      "Rollout is paused", now))
    elif ph == HEALTHY:
        put("Progressing", True, "NewReplicaSetAvailable", "Rollout is healthy")
    else:
        put("Progressing", True, "ReplicaSetUpdated", f"Rollout is progressing: {message}")
    if ph == PAUSED:
        put("Paused", True, "RolloutPaused", "Rollout is paused")
    else:
        util.remove_condition(status, "Paused")
    put("Healthy", ph == HEALTHY, "RolloutHealthy", "Rollout is healthy" if ph == HEALTHY else "Rollout is not healthy")
    done = bool(status.get("stableRS")) and status.get("stableRS") == status.get("currentPodHash")
    put("Completed", done, "RolloutCompleted" if done else "RolloutNotCompleted",
        "Rollout completed update" if done else "Rollout not completed")


def finish(ro: Obj, status: Obj, rs_list: list[Obj], new_rs: Optional[Obj], pod_hash: str, revision: int,
           problem: str, now: float) -> Obj:
    """Fill in what every sync reports; returns `status`."""
    status["currentPodHash"] = pod_hash
    status["observedGeneration"] = str(ro["metadata"].get("generation", 0))
    status["selector"] = selector(ro)
    counts(status, rs_list, new_rs)
    ph, msg = phase(ro, status, problem, revision)
    status["phase"] = ph
    if msg:
        status["message"] = msg
    else:
        status.pop("message", None)
    conditions(status, ph, msg, now)
    return status
