"""Pod status as the kubelet reports it, computed from runtime state (pure, no I/O).

A port of the parts of upstream's `kubelet_pods.go` (generateAPIPodStatus, getPhase,
convertToAPIContainerStatuses), `status/generate.go` (the four kubelet-owned conditions) and
`status/status_manager.go` (mergePodStatus, updateLastTransitionTime) that decide what
`kubectl get/describe pod` shows. Every runtime (OCI or simulated) goes through this module,
so a simulated pod walks the same state machine as a real one.

Inputs the kubelet gathers per sync: the sandbox and the runtime containers of the pod, the
"reason cache" (why a container is waiting: ErrImagePull, CrashLoopBackOff, ...), readiness
and startup results (the probe hook: `None` = no result, which counts as ready/started for a
running container; the prober will set explicit values), and image IDs (repo digests).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..api.timestamps import rfc3339
from .runtime.base import EXITED, RUNNING, UNKNOWN, ContainerStatus, SandboxStatus

PENDING, RUNNING_PHASE, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"

# Waiting reasons the kubelet itself sets (pkg/kubelet/container/sync_result.go, kubelet_pods.go).
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
CREATE_CONTAINER_ERROR = "CreateContainerError"
RUN_CONTAINER_ERROR = "RunContainerError"

# Condition reasons (status/generate.go).
UNKNOWN_CONTAINER_STATUSES = "UnknownContainerStatuses"
POD_COMPLETED = "PodCompleted"
POD_FAILED = "PodFailed"
CONTAINERS_NOT_READY = "ContainersNotReady"
CONTAINERS_NOT_INITIALIZED = "ContainersNotInitialized"
READINESS_GATES_NOT_READY = "ReadinessGatesNotReady"

# Conditions the kubelet owns (kubetypes.PodConditionsByKubelet + PodReadyToStartContainers).
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


@dataclass
class Reason:
    """Why a container is not running (the kubelet's reasonCache entry)."""

    reason: str
    message: str = ""


@dataclass
class PodRuntimeState:
    """What the runtime knows about one pod (kubecontainer.PodStatus)."""

    sandbox: SandboxStatus | None = None
    containers: list[ContainerStatus] = field(default_factory=list)

    def by_name(self) -> dict[str, list[ContainerStatus]]:
        """Each container name → its runtime containers, newest first."""
        out: dict[str, list[ContainerStatus]] = {}
        for c in sorted(self.containers, key=lambda c: (c.attempt, c.created_at), reverse=True):
            out.setdefault(c.name, []).append(c)
        return out


@dataclass
class StatusInputs:
    """Everything besides the pod spec and runtime state that the status depends on."""

    runtime_name: str = "simulated"
    node_ips: list[str] = field(default_factory=list)
    reasons: dict[str, Reason] = field(default_factory=dict)  # container name → waiting reason
    readiness: Callable[[str], bool | None] = lambda name: None
    startup: Callable[[str], bool | None] = lambda name: None
    image_id: Callable[[ContainerStatus], str] = lambda cs: cs.image_ref
    image_name: Callable[[ContainerStatus], str] = lambda cs: cs.image
    terminal: bool = False  # the pod worker decided the pod is done (e.g. deleted and stopped)


# ---- container statuses ------------------------------------------------------------------------
def is_restartable_init(container: dict[str, Any]) -> bool:
    """A sidecar: an init container with restartPolicy Always."""
    return container.get("restartPolicy") == "Always"


def _terminated(cs: ContainerStatus, runtime_name: str) -> dict[str, Any]:
    t: dict[str, Any] = {"exitCode": cs.exit_code, "reason": cs.reason or ("Completed" if cs.exit_code == 0 else "Error")}
    if cs.message:
        t["message"] = cs.message
    t["startedAt"] = rfc3339(cs.started_at) if cs.started_at else None
    t["finishedAt"] = rfc3339(cs.finished_at) if cs.finished_at else None
    t["containerID"] = f"{runtime_name}://{cs.id}"
    return t


def container_state(cs: ContainerStatus, runtime_name: str) -> dict[str, Any]:
    """convertContainerStatus's State: running / terminated / waiting (created but not started)."""
    if cs.state == RUNNING:
        return {"running": {"startedAt": rfc3339(cs.started_at or cs.created_at)}}
    if cs.state == EXITED:
        return {"terminated": _terminated(cs, runtime_name)}
    if cs.state == UNKNOWN:
        return {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                               "message": "The container could not be located when the pod was terminated",
                               "startedAt": None, "finishedAt": None, "containerID": f"{runtime_name}://{cs.id}"}}
    return {"waiting": {}}  # created, not yet running


def _volume_mounts(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for vm in spec.get("volumeMounts") or []:
        st: dict[str, Any] = {"name": vm.get("name", ""), "mountPath": vm.get("mountPath", "")}
        if vm.get("readOnly"):
            st["readOnly"] = True
            st["recursiveReadOnly"] = vm.get("recursiveReadOnly") if vm.get("recursiveReadOnly") == "Enabled" else "Disabled"
        out.append(st)
    return out


def container_statuses(pod: dict[str, Any], specs: list[dict[str, Any]], state: PodRuntimeState, inp: StatusInputs,
                       old: Iterable[dict[str, Any]], *, init: bool) -> list[dict[str, Any]]:
    """convertToAPIContainerStatuses for the init or the regular containers, in spec order."""
    has_init = bool(pod.get("spec", {}).get("initContainers"))
    default_waiting = POD_INITIALIZING if has_init else CONTAINER_CREATING
    old_by_name = {s.get("name"): s for s in old or []}
    by_name = state.by_name()
    out = []
    for spec in specs:
        name = spec.get("name", "")
        st: dict[str, Any] = {"name": name, "state": {"waiting": {"reason": default_waiting}}, "lastState": {},
                              "ready": False, "restartCount": 0, "image": spec.get("image", ""), "imageID": "",
                              "started": False}
        prev = old_by_name.get(name)
        if prev is not None:
            if (prev.get("state") or {}).get("terminated"):
                st = copy.deepcopy(prev)
            else:
                st["lastState"] = copy.deepcopy(prev.get("lastState") or {})
                st["restartCount"] = prev.get("restartCount", 0)
        runs = by_name.get(name, [])
        if runs:
            cur = runs[0]
            st["state"] = container_state(cur, inp.runtime_name)
            st["lastState"] = container_state(runs[1], inp.runtime_name) if len(runs) > 1 else {}
            st["restartCount"] = cur.attempt
            st["image"] = inp.image_name(cur) or spec.get("image", "")
            st["imageID"] = inp.image_id(cur)
            st["containerID"] = f"{inp.runtime_name}://{cur.id}"
            running = cur.state == RUNNING
            if init and not is_restartable_init(spec):
                st["ready"] = cur.state == EXITED and cur.exit_code == 0
                st["started"] = running
            else:
                started = running and inp.startup(name) is not False
                st["started"] = started
                st["ready"] = started and inp.readiness(name) is not False
            if spec.get("volumeMounts"):
                st["volumeMounts"] = _volume_mounts(spec)
        reason = inp.reasons.get(name)
        if reason is not None and not (runs and runs[0].state == RUNNING):
            if st["state"].get("terminated"):
                st["lastState"] = st["state"]
            waiting = {"reason": reason.reason}
            if reason.message:
                waiting["message"] = reason.message
            st["state"] = {"waiting": waiting}
            st["ready"] = False
            st["started"] = False
        out.append(st)
    return out


# ---- phase ---------------------------------------------------------------------------------------
def _state_kind(st: dict[str, Any] | None) -> str:
    s = (st or {}).get("state") or {}
    for k in ("running", "terminated", "waiting"):
        if k in s:
            return k
    return ""


def has_any_regular_container_started(spec: dict[str, Any], statuses: list[dict[str, Any]]) -> bool:
    names = {c.get("name") for c in spec.get("containers") or []}
    return any(s.get("name") in names and _state_kind(s) in ("running", "terminated") for s in statuses)


def get_phase(pod: dict[str, Any], init_statuses: list[dict[str, Any]], statuses: list[dict[str, Any]],
              terminal: bool = False) -> str:
    """Port of kubelet getPhase (v1.32), including restartable init containers."""
    spec = pod.get("spec") or {}
    init_by = {s["name"]: s for s in init_statuses}
    by = {s["name"]: s for s in statuses}
    pending_init = failed_init = 0
    for c in spec.get("initContainers") or []:
        if is_restartable_init(c):
            continue
        s = init_by.get(c.get("name"))
        kind = _state_kind(s)
        if s is None or kind in ("running", ""):
            pending_init += 1
        elif kind == "terminated":
            if s["state"]["terminated"].get("exitCode", 0) != 0:
                failed_init += 1
        else:  # waiting
            last = (s.get("lastState") or {}).get("terminated")
            if last is not None:
                if last.get("exitCode", 0) != 0:
                    failed_init += 1
            else:
                pending_init += 1
    unknown = running = waiting = stopped = succeeded = 0
    for c in spec.get("initContainers") or []:
        if not is_restartable_init(c):
            continue
        s = init_by.get(c.get("name"))
        kind = _state_kind(s)
        if s is None:
            unknown += 1
        elif kind == "running":
            if not s.get("started"):
                pending_init += 1
            running += 1
        elif kind == "waiting" and not (s.get("lastState") or {}).get("terminated"):
            pending_init += 1
            waiting += 1
        elif kind == "":
            pending_init += 1
            unknown += 1
    for c in spec.get("containers") or []:
        s = by.get(c.get("name"))
        kind = _state_kind(s)
        if s is None or kind == "":
            unknown += 1
        elif kind == "running":
            running += 1
        elif kind == "terminated":
            stopped += 1
            if s["state"]["terminated"].get("exitCode", 0) == 0:
                succeeded += 1
        elif (s.get("lastState") or {}).get("terminated"):
            stopped += 1
        else:
            waiting += 1
    policy = spec.get("restartPolicy", "Always")
    if failed_init > 0 and policy == "Never":
        return FAILED
    if (pending_init > 0 and not has_any_regular_container_started(spec, statuses)) or waiting > 0:
        return PENDING
    if running > 0 and unknown == 0:
        return RUNNING_PHASE
    if running == 0 and stopped > 0 and unknown == 0:
        if terminal:
            return SUCCEEDED if stopped == succeeded else FAILED
        if policy == "Always":
            return RUNNING_PHASE
        if stopped == succeeded:
            return SUCCEEDED
        if policy == "Never":
            return FAILED
        return RUNNING_PHASE
    return PENDING


# ---- conditions ----------------------------------------------------------------------------------
def _names(xs: list[str]) -> str:
    """Go's %s of a []string: [a b]."""
    return "[" + " ".join(xs) + "]"


def _cond(typ: str, ok: bool, reason: str = "", message: str = "") -> dict[str, Any]:
    c: dict[str, Any] = {"type": typ, "status": "True" if ok else "False", "lastProbeTime": None,
                         "lastTransitionTime": None}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def containers_ready_condition(pod: dict[str, Any], statuses: list[dict[str, Any]], phase: str) -> dict[str, Any]:
    spec = pod.get("spec") or {}
    by = {s["name"]: s for s in statuses}
    unknown: list[str] = []
    unready: list[str] = []
    for c in [c for c in spec.get("initContainers") or [] if is_restartable_init(c)] + list(spec.get("containers") or []):
        s = by.get(c.get("name"))
        if s is None:
            unknown.append(c.get("name", ""))
        elif not s.get("ready"):
            unready.append(c.get("name", ""))
    if (phase == SUCCEEDED and not unknown) or phase == FAILED:
        return _cond("ContainersReady", False, POD_COMPLETED if phase == SUCCEEDED else POD_FAILED)
    msgs = []
    if unknown:
        msgs.append(f"containers with unknown status: {_names(unknown)}")
    if unready:
        msgs.append(f"containers with unready status: {_names(unready)}")
    if msgs:
        return _cond("ContainersReady", False, CONTAINERS_NOT_READY, ", ".join(msgs))
    return _cond("ContainersReady", True)


def pod_ready_condition(pod: dict[str, Any], conditions: list[dict[str, Any]], statuses: list[dict[str, Any]],
                        phase: str) -> dict[str, Any]:
    cr = containers_ready_condition(pod, statuses, phase)
    if cr["status"] != "True":
        return _cond("Ready", False, cr.get("reason", ""), cr.get("message", ""))
    msgs = []
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        typ = gate.get("conditionType", "")
        c = next((c for c in conditions if c.get("type") == typ), None)
        if c is None:
            msgs.append(f'corresponding condition of pod readiness gate "{typ}" does not exist.')
        elif c.get("status") != "True":
            msgs.append(f'the status of pod readiness gate "{typ}" is not "True", but {c.get("status")}')
    if msgs:
        return _cond("Ready", False, READINESS_GATES_NOT_READY, ", ".join(msgs))
    return _cond("Ready", True)


def initialized_condition(pod: dict[str, Any], statuses: list[dict[str, Any]], phase: str) -> dict[str, Any]:
    spec = pod.get("spec") or {}
    by = {s["name"]: s for s in statuses}
    unknown: list[str] = []
    incomplete: list[str] = []
    for c in spec.get("initContainers") or []:
        s = by.get(c.get("name"))
        if s is None:
            unknown.append(c.get("name", ""))
        elif not (s.get("started") if is_restartable_init(c) else s.get("ready")):
            incomplete.append(c.get("name", ""))
    if phase == SUCCEEDED and not unknown:
        return _cond("Initialized", True, POD_COMPLETED)
    if has_any_regular_container_started(spec, statuses):
        return _cond("Initialized", True)
    msgs = []
    if unknown:
        msgs.append(f"containers with unknown status: {_names(unknown)}")
    if incomplete:
        msgs.append(f"containers with incomplete status: {_names(incomplete)}")
    if msgs:
        return _cond("Initialized", False, CONTAINERS_NOT_INITIALIZED, ", ".join(msgs))
    return _cond("Initialized", True)


# ---- whole status --------------------------------------------------------------------------------
def generate_pod_status(pod: dict[str, Any], state: PodRuntimeState, inp: StatusInputs) -> dict[str, Any]:
    """generateAPIPodStatus: the kubelet's view, before merging with what the API holds."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    init_st = container_statuses(pod, list(spec.get("initContainers") or []), state, inp,
                                 old.get("initContainerStatuses") or [], init=True)
    main_st = container_statuses(pod, list(spec.get("containers") or []), state, inp,
                                 old.get("containerStatuses") or [], init=False)
    phase = get_phase(pod, init_st, main_st, inp.terminal)
    if old.get("phase") in (SUCCEEDED, FAILED) and phase not in (SUCCEEDED, FAILED):
        phase = old["phase"]  # a terminal phase never goes back (upstream checks the same)
    all_st = init_st + main_st
    sandbox_ready = state.sandbox is not None and state.sandbox.ready
    conds = [_cond("PodReadyToStartContainers", sandbox_ready), initialized_condition(pod, all_st, phase)]
    other = [c for c in old.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    conds.append(pod_ready_condition(pod, other, all_st, phase))
    conds.append(containers_ready_condition(pod, all_st, phase))
    conds.append(_cond("PodScheduled", True))
    st: dict[str, Any] = {"phase": phase, "conditions": conds}
    if inp.node_ips:
        st["hostIP"] = inp.node_ips[0]
        st["hostIPs"] = [{"ip": ip} for ip in inp.node_ips]
    ips: list[str] = []
    if spec.get("hostNetwork"):
        ips = list(inp.node_ips)
    elif state.sandbox is not None:
        ips = list(state.sandbox.ips or ([state.sandbox.ip] if state.sandbox.ip else []))
    if not ips:
        ips = [p.get("ip") for p in old.get("podIPs") or [] if p.get("ip")]
    if ips:
        st["podIP"] = ips[0]
        st["podIPs"] = [{"ip": ip} for ip in ips]
    if init_st:
        st["initContainerStatuses"] = init_st
    st["containerStatuses"] = main_st
    return st


def merge_status(old: dict[str, Any], new: dict[str, Any], now: str) -> dict[str, Any]:
    """The status to write: `new` over `old` (status manager mergePodStatus + updateLastTransitionTime).

    Conditions the kubelet does not own stay first; each kubelet condition keeps its
    lastTransitionTime while its status is unchanged; startTime is set once; qosClass,
    nominatedNodeName and the other fields the kubelet does not compute are kept.
    """
    out = {k: v for k, v in old.items() if k not in ("phase", "conditions", "hostIP", "hostIPs", "podIP", "podIPs",
                                                  "initContainerStatuses", "containerStatuses", "message", "reason")}
    old_conds = {c.get("type"): c for c in old.get("conditions") or []}
    conds = [c for c in old.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    for c in new.get("conditions") or []:
        c = dict(c)
        prev = old_conds.get(c["type"])
        c["lastTransitionTime"] = (prev.get("lastTransitionTime") if prev is not None and prev.get("status") == c["status"]
                                   else now)
        conds.append(c)
    for k, v in new.items():
        if k != "conditions":
            out[k] = v
    out["conditions"] = conds
    out.setdefault("startTime", old.get("startTime") or now)
    if not out.get("startTime"):
        out["startTime"] = now
    return _ordered(out)


_ORDER = ("phase", "conditions", "message", "reason", "nominatedNodeName", "hostIP", "hostIPs", "podIP", "podIPs",
          "startTime", "initContainerStatuses", "containerStatuses", "qosClass")


def _ordered(st: dict[str, Any]) -> dict[str, Any]:
    """Field order as upstream's Go struct (only cosmetic in JSON, kept for readable diffs)."""
    out = {k: st[k] for k in _ORDER if k in st}
    out.update({k: v for k, v in st.items() if k not in out})
    return out


def pod_status_for_api(pod: dict[str, Any], state: PodRuntimeState, inp: StatusInputs, now: str) -> dict[str, Any]:
    """generate + merge: exactly what the kubelet PUTs to pods/status."""
    return merge_status(pod.get("status") or {}, generate_pod_status(pod, state, inp), now)
