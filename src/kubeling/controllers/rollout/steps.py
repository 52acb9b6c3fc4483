"""Pure arithmetic and bookkeeping of a Rollout: names of its annotations and labels, the
canary's step walk, weights and replica counts, pauses. No I/O here, so all of it is
table-tested (tests/unit/test_rollout_steps.py)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Optional

from ...api.timestamps import parse_rfc3339, rfc3339

Obj = dict[str, Any]

# Argo's names, so its users (and tools reading ReplicaSets) feel at home
POD_TEMPLATE_HASH = "rollouts-pod-template-hash"
REVISION = "rollout.argoproj.io/revision"
# kubeling's: the weight contract with kube-proxy lives on the stable Service
CANARY_SERVICE = "rollouts.kubeling.io/canary-service"
CANARY_WEIGHT = "rollouts.kubeling.io/canary-weight"
# an old ReplicaSet kept up after a switch (blue-green, canary with services) until this time
SCALE_DOWN_DEADLINE = "rollouts.kubeling.io/scale-down-deadline"

CANARY_PAUSE = "CanaryPauseStep"
BLUE_GREEN_PAUSE = "BlueGreenPause"
DEFAULT_SCALE_DOWN_DELAY = 30


def replicas(ro: Obj) -> int:
    r = (ro.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def strategy(ro: Obj) -> tuple[str, Obj]:
    """("canary" | "blueGreen", its settings); a Rollout without a strategy is a canary without
    steps (a plain rolling replacement)."""
    st = (ro.get("spec") or {}).get("strategy") or {}
    if st.get("blueGreen") is not None:
        return "blueGreen", st["blueGreen"]
    return "canary", st.get("canary") or {}


def invalid_spec(ro: Obj) -> str:
    """What makes a Rollout unusable (Argo's InvalidSpec condition), "" if nothing."""
    spec = ro.get("spec") or {}
    sel = spec.get("selector") or {}
    if not sel.get("matchLabels") and not sel.get("matchExpressions"):
        return "This rollout is selecting all pods. A non-empty selector is required."
    st = spec.get("strategy") or {}
    if st.get("canary") is not None and st.get("blueGreen") is not None:
        return "Multiple Strategies can not be listed"
    kind, s = strategy(ro)
    if kind == "blueGreen" and s.get("activeService") == s.get("previewService"):
        return ("This rollout uses the same service for the active and preview services, but two different "
                "services are required.")
    if kind == "canary":
        if bool(s.get("canaryService")) != bool(s.get("stableService")):
            return "canaryService and stableService must be set together"
        if s.get("canaryService") and s.get("canaryService") == s.get("stableService"):
            return "This rollout uses the same service for the stable and canary services, but two different " \
                   "services are required."
        for i, step in enumerate(s.get("steps") or []):
            if len([k for k in ("setWeight", "pause", "analysis") if step.get(k) is not None]) != 1:
                return f"Step {i} must have exactly one of setWeight, pause, analysis"
            if step.get("pause") is not None and parse_duration(step["pause"].get("duration")) is False:
                return f"Step {i}: invalid pause duration {step['pause'].get('duration')!r}"
    return ""


_DURATION = re.compile(r"^(\d+)(s|m|h)?$")


def parse_duration(v: Any) -> Optional[float] | bool:
    """A pause duration in seconds: an int, or "30s" / "5m" / "1h" / "30" (Argo's forms); None
    without one (wait for promotion); False when malformed."""
    if v is None:
        return None
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return float(v) if v >= 0 else False
    m = _DURATION.match(str(v))
    if not m:
        return False
    return float(int(m.group(1)) * {None: 1, "s": 1, "m": 60, "h": 3600}[m.group(2)])


def step_string(step: Obj) -> str:
    """rolloututil.CanaryStepString: how events name a step."""
    if step.get("setWeight") is not None:
        return f"setWeight: {step['setWeight']}"
    if step.get("pause") is not None:
        d = step["pause"].get("duration")
        return "pause" if d is None else f"pause: {d}"
    return "analysis"


def weight_at(steps: list[Obj], index: int) -> int:
    """The canary's traffic weight while at step `index`: the last setWeight at or before it
    (0 before the first); past the last step, 100.

    Steps [20, pause, 50, pause]: index 0-1 → 20, 2-3 → 50, 4 → 100.
    """
    if index >= len(steps):
        return 100
    for step in reversed(steps[:index + 1]):
        if step.get("setWeight") is not None:
            return int(step["setWeight"])
    return 0


def replica_counts(total: int, weight: int, routed: bool) -> tuple[int, int]:
    """(canary, stable) replicas for a weight.

    Without services (Argo's basic canary) the weight *is* the replica share, both rounded up:
    5 replicas at 20 % → 1 canary + 4 stable; 3 at 50 % → 2 + 2 (one surge pod).
    With services the weight is realized by kube-proxy, so the stable side stays whole and the
    canary only needs enough pods to carry its share (at least one): 5 replicas at 5 % → 1 + 5.
    """
    canary = min(total, math.ceil(total * weight / 100))
    if routed:
        if weight > 0 and total > 0:
            canary = max(canary, 1)
        return canary, total
    stable = min(total, math.ceil(total * (100 - weight) / 100))
    return canary, stable


# ---- pauses ------------------------------------------------------------------------------------

def pause_condition(status: Obj, reason: str) -> Obj | None:
    return next((c for c in status.get("pauseConditions") or [] if c.get("reason") == reason), None)


@dataclass
class PauseOutcome:
    done: bool  # the pause is over (expired or promoted): move on
    recheck: float | None = None  # seconds until it expires
    started: bool = False  # it began in this sync (for the event)


def pause(status: Obj, reason: str, duration: float | None, now: float) -> PauseOutcome:
    """One pause (a canary pause step, the blue-green wait for promotion), Argo's way: the
    controller adds a pause condition and sets `controllerPause`; a promote clears the
    conditions, so `controllerPause` without the condition means "promoted". A pause with a
    duration ends by itself that long after it started. Mutates `status`."""
    cond = pause_condition(status, reason)
    if cond is None:
        if status.get("controllerPause"):
            status["controllerPause"] = False
            return PauseOutcome(True)
        status.setdefault("pauseConditions", []).append({"reason": reason, "startTime": rfc3339(now)})
        status["controllerPause"] = True
        return PauseOutcome(False, duration, started=True)
    if duration is not None:
        left = (parse_rfc3339(cond.get("startTime")) or now) + duration - now
        if left <= 0:
            clear_pause(status, reason)
            return PauseOutcome(True)
        return PauseOutcome(False, left)
    return PauseOutcome(False)


def clear_pause(status: Obj, reason: str | None = None) -> None:
    """Drop the pause condition(s) (all when `reason` is None) and controllerPause with them."""
    conds = [c for c in status.get("pauseConditions") or [] if reason is not None and c.get("reason") != reason]
    if conds:
        status["pauseConditions"] = conds
    else:
        status.pop("pauseConditions", None)
        status.pop("controllerPause", None)


def reset_for_new_revision(status: Obj, steps: int) -> None:
    """A new pod template: start at step 0, forget pauses, an abort and a full promotion of the
    previous one (Argo's resetRolloutStatus: a changed template is also how to retry)."""
    if steps:
        status["currentStepIndex"] = 0
    else:
        status.pop("currentStepIndex", None)
    for k in ("pauseConditions", "controllerPause", "abort", "abortedAt", "promoteFull"):
        status.pop(k, None)
    for k in ("canary", "blueGreen"):
        sub = status.get(k) or {}
        for run in ("currentStepAnalysisRunStatus", "currentBackgroundAnalysisRunStatus",
                    "prePromotionAnalysisRunStatus"):
            sub.pop(run, None)


def scale_down_deadline(rs: Obj) -> float | None:
    return parse_rfc3339(((rs["metadata"].get("annotations") or {}).get(SCALE_DOWN_DEADLINE)))
