"""Pods and pod templates (printers.go printPod: the STATUS column's many reasons, READY, RESTARTS)."""

from __future__ import annotations

from typing import Iterable

from .columns import Cells, meta_of
from .fmt import Clock, EMPTY, NO_ITEMS, NONE, human_us, layout_containers, parse_us, format_labels


# -- core/v1 Pod

_POD_SUCCEEDED = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                   "message": "The pod has completed successfully."}]
_POD_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def pod_conditions(pod: dict) -> list[dict] | None:
    phase = (pod.get("status") or EMPTY).get("phase")
    if phase == "Succeeded":
        return _POD_SUCCEEDED
    if phase == "Failed":
        return _POD_FAILED
    return None


def _restartable(c: dict | None) -> bool:
    """podutil.IsRestartableInitContainer: a sidecar (restartPolicy Always)."""
    return c is not None and c.get("restartPolicy") == "Always"


def _terminated_reason(term: dict, prefix: str) -> str:
    if term.get("reason"):
        return prefix + term["reason"]
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def _finished_us(cs: dict) -> int | None:
    term = (cs.get("lastState") or EMPTY).get("terminated")
    if term is None or not term.get("finishedAt"):
        return None
    return parse_us(term["finishedAt"])


def _later(a: int | None, b: int | None) -> int | None:
    """metav1.Time.Before on possibly-zero times: keep the later one."""
    if b is None:
        return a
    return b if a is None or a < b else a


def pod_status(pod: dict) -> tuple[str, int, int, int, int | None]:
    """The STATUS logic of `kubectl get pods`.

    Returns (reason, ready containers, total containers, restarts, last restart time in us).
    Example: one init container still running and the Initialized condition not yet True gives
    "Init:0/1"; a main container waiting with reason CrashLoopBackOff gives that reason; any
    deletionTimestamp on a non-terminal pod gives "Terminating".
    """
    spec = pod.get("spec") or EMPTY
    status = pod.get("status") or EMPTY
    init_specs = spec.get("initContainers") or NO_ITEMS
    total = len(spec.get("containers") or NO_ITEMS)
    ready = restarts = sidecar_restarts = 0
    last: int | None = None
    sidecar_last: int | None = None

    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    conditions = status.get("conditions") or NO_ITEMS
    for c in conditions:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_by_name: dict[str, dict] = {}
    for c in init_specs:
        init_by_name[c.get("name", "")] = c
        if _restartable(c):
            total += 1

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or NO_ITEMS):
        restarts += cs.get("restartCount") or 0
        finished = _finished_us(cs)
        last = _later(last, finished)
        sidecar = _restartable(init_by_name.get(cs.get("name", "")))
        if sidecar:
            sidecar_restarts += cs.get("restartCount") or 0
            sidecar_last = _later(sidecar_last, finished)
        state = cs.get("state") or EMPTY
        term = state.get("terminated")
        waiting = state.get("waiting")
        if term is not None and (term.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started") is True:
            if cs.get("ready"):
                ready += 1
            continue
        if term is not None:
            reason = _terminated_reason(term, "Init:")  # initialization failed
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _has_condition_true(conditions, "Initialized"):
        restarts = sidecar_restarts
        last = sidecar_last
        has_running = False
        for cs in reversed(status.get("containerStatuses") or NO_ITEMS):
            restarts += cs.get("restartCount") or 0
            last = _later(last, _finished_us(cs))
            state = cs.get("state") or EMPTY
            waiting = state.get("waiting")
            term = state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None:
                reason = _terminated_reason(term, "")
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        # A Completed container next to a running one: the pod is still running.
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition_true(conditions, "Ready") else "NotReady"

    if meta_of(pod).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return reason, ready, total, restarts, last


def _has_condition_true(conds: Iterable[dict], ctype: str) -> bool:
    """Any condition of this type with status True (isPodInitializedConditionTrue et al.)."""
    for c in conds:
        if c.get("type") == ctype and c.get("status") == "True":
            return True
    return False


def pod_row(pod: dict, clock: Clock) -> Cells:
    reason, ready, total, restarts, last = pod_status(pod)
    restarts_s = str(restarts)
    if restarts and last is not None:
        restarts_s = f"{restarts} ({human_us(clock.now_us - last)} ago)"
    md = meta_of(pod)
    spec = pod.get("spec") or EMPTY
    status = pod.get("status") or EMPTY
    ips = status.get("podIPs") or NO_ITEMS
    # v1 -> internal conversion fills podIPs from podIP when only the latter is set.
    ip = (ips[0].get("ip") if ips else status.get("podIP")) or NONE
    gates_s = NONE
    gates = spec.get("readinessGates") or NO_ITEMS
    if gates:
        conds = status.get("conditions") or NO_ITEMS
        true_count = 0
        for g in gates:
            for c in conds:
                if c.get("type") == g.get("conditionType"):
                    true_count += c.get("status") == "True"
                    break
        gates_s = f"{true_count}/{len(gates)}"
    return [md.get("name", ""), f"{ready}/{total}", reason, restarts_s, clock.since(md.get("creationTimestamp")),
            ip, spec.get("nodeName") or NONE, status.get("nominatedNodeName") or NONE, gates_s]


def pod_template_row(obj: dict, clock: Clock) -> Cells:
    tmpl = obj.get("template") or EMPTY
    names, images = layout_containers((tmpl.get("spec") or EMPTY).get("containers"))
    return [meta_of(obj).get("name", ""), names, images, format_labels((tmpl.get("metadata") or EMPTY).get("labels"))]
