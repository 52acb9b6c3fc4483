"""Canary (and gray: a canary with several setWeight steps). Argo's step walk, one sync at a time:

- a new template gets its ReplicaSet; the stable one keeps serving;
- at each step the canary is scaled for the current weight (steps.replica_counts); once its
  pods are available the weight goes live (the stable Service's annotations with services,
  the replica share without) and the step runs: setWeight is then done, a pause waits (for its
  duration or a promote), an analysis measures the canary pods;
- past the last step (or on `status.promoteFull`) the canary takes all replicas, becomes
  stable, the Services switch to it, and the old pods go (after scaleDownDelaySeconds with
  Services, so kube-proxy has moved on first);
- `status.abort` (by a user, or a failed analysis) scales the canary to zero and sends all
  traffic to stable; `status.abort: false` retries from step 0.
"""

from __future__ import annotations

from typing import Any

from . import replicasets as rsets
from . import services, steps
from .analysis import FAILED, SUCCESSFUL
from .checks import run_analysis
from .context import Sync

Obj = dict[str, Any]


async def sync_canary(s: Sync, c: Obj) -> None:
    st = s.status
    step_list: list[Obj] = c.get("steps") or []
    routed = bool(c.get("canaryService") and c.get("stableService"))
    n = s.replicas
    if s.stable_rs is None:
        # the first version (or the stable ReplicaSet is gone): nothing to protect, it is stable at once
        if await rsets.ensure_new(s) is None:
            return
        st["stableRS"], s.stable_rs = s.hash, s.new_rs
    if s.hash == st.get("stableRS"):
        await _stable(s, c, step_list, n)
        return
    new = await rsets.ensure_new(s)
    if new is None:
        return
    if st.get("abort"):
        await _aborted(s, c, n)
        return
    index = len(step_list) if st.get("promoteFull") else min(int(st.get("currentStepIndex") or 0), len(step_list))
    if c.get("analysis") is not None and await run_analysis(
            s, f"{s.ro['metadata']['name']}-{s.hash}-background", c["analysis"], "canary",
            "currentBackgroundAnalysisRunStatus", background=True) == FAILED:
        await _abort(s, c, n)
        return
    while True:
        weight = steps.weight_at(step_list, index)
        if not await _scale_for(s, weight, routed, n):
            break  # the canary's pods are not available yet: their ReplicaSet's updates bring us back
        _weights(s, c, weight)
        if routed and weight < 100 and not await _route(s, c, weight):
            break
        if (s.ro.get("spec") or {}).get("paused"):
            break  # paused by the user: hold at this weight
        if index >= len(step_list):
            await _promote(s, c, routed)
            break
        step = step_list[index]
        if step.get("setWeight") is not None:
            index = _completed(s, step_list, index)
            continue
        if step.get("pause") is not None:
            dur = steps.parse_duration(step["pause"].get("duration"))
            if not s.pause(steps.CANARY_PAUSE, dur if isinstance(dur, float) else None):
                break
            index = _completed(s, step_list, index)
            continue
        result = await run_analysis(s, f"{s.ro['metadata']['name']}-{s.hash}-{index}", step["analysis"], "canary",
                                    "currentStepAnalysisRunStatus")
        if result == FAILED:
            await _abort(s, c, n)
            return
        if result != SUCCESSFUL:
            break
        index = _completed(s, step_list, index)
    if step_list and not st.get("abort"):
        st["currentStepIndex"] = index
    await rsets.scale_down_others(s, s.new_rs, s.stable_rs)


async def _route(s: Sync, c: Obj, weight: int) -> bool:
    """During a canary: canaryService selects it, the stable Service carries its weight."""
    if not await services.point(s, c["canaryService"], s.hash):
        return False
    return await services.point(s, c["stableService"], s.status["stableRS"],
                                (c["canaryService"], weight) if weight > 0 else None)


def _completed(s: Sync, step_list: list[Obj], index: int) -> int:
    s.event("RolloutStepCompleted", f"Rollout step {index + 1}/{len(step_list)} completed "
                                    f"({steps.step_string(step_list[index])})")
    return index + 1


async def _scale_for(s: Sync, weight: int, routed: bool, n: int) -> bool:
    """Scale canary and stable for `weight`: the canary first; the stable side shrinks only once
    the canary pods are available, so capacity never dips. Whether the canary is there."""
    canary, stable = steps.replica_counts(n, weight, routed)
    await rsets.scale(s, s.new_rs, canary)
    ready = rsets.available(s.new_rs) >= canary
    cur_stable = int((s.stable_rs or {}).get("spec", {}).get("replicas") or 0)
    await rsets.scale(s, s.stable_rs, stable if ready else max(stable, cur_stable))
    return ready


def _weights(s: Sync, c: Obj, weight: int) -> None:
    """status.canary.weights, as Argo reports them."""
    st = s.status
    canary_hash = s.hash if weight > 0 else st.get("stableRS")
    st.setdefault("canary", {})["weights"] = {
        "canary": {"weight": weight, "podTemplateHash": canary_hash, "serviceName": c.get("canaryService") or ""},
        "stable": {"weight": 100 - weight, "podTemplateHash": st.get("stableRS"),
                   "serviceName": c.get("stableService") or ""}}
    for side in st["canary"]["weights"].values():
        if not side["serviceName"]:
            del side["serviceName"]


async def _stable(s: Sync, c: Obj, step_list: list[Obj], n: int) -> None:
    """Fully promoted (or rolled back to the stable template): stable takes everything."""
    st = s.status
    await rsets.scale(s, s.stable_rs, n)
    s.runs.clear()
    for k in ("abort", "abortedAt", "promoteFull"):
        st.pop(k, None)
    steps.clear_pause(st)
    if step_list:
        st["currentStepIndex"] = len(step_list)
    _weights(s, c, 0)
    if await services.point(s, c.get("stableService"), s.hash):
        await services.point(s, c.get("canaryService"), s.hash)
    await rsets.scale_down_others(s, s.stable_rs)


async def _promote(s: Sync, c: Obj, routed: bool) -> None:
    """The canary has all replicas and is available: it becomes stable and the Services follow."""
    st = s.status
    old = s.stable_rs
    if routed:
        if not await services.point(s, c["stableService"], s.hash):
            return
        await services.point(s, c["canaryService"], s.hash)
    st["stableRS"], s.stable_rs = s.hash, s.new_rs
    how = "Fully promoted" if st.pop("promoteFull", None) else "Completed all steps"
    steps.clear_pause(st)
    _weights(s, c, 0)
    s.event("RolloutCompleted", f"Rollout completed update to revision {s.revision()} ({s.hash}): {how}")
    if routed:
        delay = c.get("scaleDownDelaySeconds")
        await rsets.scale_down_later(s, old, float(steps.DEFAULT_SCALE_DOWN_DELAY if delay is None else delay))
    else:
        await rsets.scale(s, old, 0)


async def _abort(s: Sync, c: Obj, n: int) -> None:
    s.status["abort"] = True
    await _aborted(s, c, n)


async def _aborted(s: Sync, c: Obj, n: int) -> None:
    """All traffic and replicas back on stable; the canary scaled to zero. Phase Degraded."""
    st = s.status
    s.mark_aborted()
    if c.get("stableService"):
        if not await services.point(s, c["stableService"], st.get("stableRS")):
            return
        await services.point(s, c.get("canaryService"), st.get("stableRS"))
    await rsets.scale(s, s.stable_rs, n)
    await rsets.scale(s, s.new_rs, 0)
    steps.clear_pause(st)
    _weights(s, c, 0)
    if c.get("steps"):
        st["currentStepIndex"] = 0
    s.runs.clear()
    await rsets.scale_down_others(s, s.stable_rs)
