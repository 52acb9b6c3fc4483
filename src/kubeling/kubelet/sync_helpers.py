"""Pure helpers of the pod sync (no I/O): restart policy, keys, event messages, container config
math. Kept apart from `kubelet.py` so the decisions are unit-testable without a runtime.
"""

from __future__ import annotations

from typing import Any

from ..api.goduration import seconds_duration
from ..api.quantity import quantity_from_json

# Event reasons (pkg/kubelet/events/event.go).
CREATED = "Created"
STARTED = "Started"
FAILED = "Failed"
KILLING = "Killing"
BACK_OFF = "BackOff"
PULLING = "Pulling"
PULLED = "Pulled"
SANDBOX_CHANGED = "SandboxChanged"
FAILED_CREATE_SANDBOX = "FailedCreatePodSandBox"
FAILED_MOUNT = "FailedMount"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
INSPECT_FAILED = "InspectFailed"  # events.FailedToInspectImage

MIN_SHARES = 2
SHARES_PER_CPU = 1024
QUOTA_PERIOD = 100_000  # µs
MIN_QUOTA = 1000


def pod_uid(pod: dict[str, Any]) -> str:
    return (pod.get("metadata") or {}).get("uid", "")


def format_pod(pod: dict[str, Any]) -> str:
    """format.Pod: `name_namespace(uid)`."""
    m = pod.get("metadata") or {}
    return f"{m.get('name', '')}_{m.get('namespace', '')}({m.get('uid', '')})"


def should_restart(policy: str, exit_code: int) -> bool:
    """Restart an exited container? Always: yes; OnFailure: when it failed; Never: no."""
    if policy == "Never":
        return False
    if policy == "OnFailure":
        return exit_code != 0
    return True


def crash_key(pod: dict[str, Any], container: str) -> str:
    """getStableKey: `<name>_<namespace>_<uid>_<container>` (upstream also appends the spec hash)."""
    m = pod.get("metadata") or {}
    return f"{m.get('uid', '')}_{m.get('name', '')}_{m.get('namespace', '')}_{container}"


def pull_key(pod: dict[str, Any], image: str) -> str:
    return f"{(pod.get('metadata') or {}).get('uid', '')}_{image}"


def msg_crash_backoff(pod: dict[str, Any], container: str, window: float) -> str:
    """The CrashLoopBackOff waiting message."""
    return f"back-off {seconds_duration(window)} restarting failed container={container} pod={format_pod(pod)}"


def msg_backoff_event(pod: dict[str, Any], container: str) -> str:
    """The Warning/BackOff event while a container waits to be restarted."""
    return f"Back-off restarting failed container {container} in pod {format_pod(pod)}"


def field_path(container: str, init: bool) -> str:
    return f"spec.{'initContainers' if init else 'containers'}{{{container}}}"


def grace_period(pod: dict[str, Any]) -> int:
    """Seconds to wait for a graceful stop: the deletion's own grace, else the spec's (30)."""
    meta = pod.get("metadata") or {}
    if meta.get("deletionGracePeriodSeconds") is not None:
        return int(meta["deletionGracePeriodSeconds"])
    return int((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))


def resolve_command(container: dict[str, Any], entrypoint: list[str], cmd: list[str]) -> list[str]:
    """Docker's rule as the kubelet applies it: command replaces ENTRYPOINT (and drops CMD),
    args replace CMD."""
    command = list(container.get("command") or [])
    args = list(container.get("args") or [])
    if command:
        return command + args
    return list(entrypoint or []) + (args if args else list(cmd or []))


def _millis(q: Any) -> int | None:
    if q is None:
        return None
    try:
        return quantity_from_json(q).to_milli()
    except Exception:
        return None


def _bytes(q: Any) -> int | None:
    if q is None:
        return None
    try:
        return quantity_from_json(q).to_int()
    except Exception:
        return None


def cpu_memory(container: dict[str, Any]) -> tuple[int | None, int | None, int | None, int | None]:
    """(cpu shares, cpu quota µs, cpu period µs, memory limit bytes) from requests/limits
    (milliCPUToShares / milliCPUToQuota)."""
    res = container.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    req_cpu = _millis(req.get("cpu"))
    lim_cpu = _millis(lim.get("cpu"))
    if req_cpu is None and lim_cpu is not None:
        req_cpu = lim_cpu
    shares = max(MIN_SHARES, req_cpu * SHARES_PER_CPU // 1000) if req_cpu else MIN_SHARES
    quota = period = None
    if lim_cpu:
        period = QUOTA_PERIOD
        quota = max(MIN_QUOTA, lim_cpu * QUOTA_PERIOD // 1000)
    return shares, quota, period, _bytes(lim.get("memory"))
