"""Blue-green: the new version comes up at full size behind the preview Service while the active
Service still selects the old one; once every new pod is available (and the pre-promotion
analysis passed) it is promoted — at once, after `autoPromotionSeconds`, or when a user promotes
(`autoPromotionEnabled: false`) — by switching the active Service's selector. The old pods stay
up `scaleDownDelaySeconds` (default 30) so clients and kube-proxy move over before they go.
An abort scales the new version down and points preview back at the active one."""

from __future__ import annotations

from typing import Any

from . import replicasets as rsets
from . import services, steps
from .analysis import FAILED, SUCCESSFUL
from .checks import run_analysis
from .context import Sync

Obj = dict[str, Any]


async def sync_blue_green(s: Sync, bg: Obj) -> None:
    st = s.status
    n = s.replicas
    active, preview = bg.get("activeService"), bg.get("previewService")
    if s.stable_rs is None:
        if await rsets.ensure_new(s) is None:
            return
        st["stableRS"], s.stable_rs = s.hash, s.new_rs
    stable_hash = st["stableRS"]
    if s.hash == stable_hash:
        s.runs.clear()
        for k in ("abort", "abortedAt", "promoteFull"):
            st.pop(k, None)
        steps.clear_pause(st)
        await rsets.scale(s, s.stable_rs, n)
        await _select(s, active, preview, s.hash, s.hash)
        await rsets.scale_down_others(s, s.stable_rs)
        return
    new = await rsets.ensure_new(s)
    if new is None:
        return
    await rsets.scale(s, s.stable_rs, n)
    if st.get("abort"):
        await _aborted(s, active, preview, stable_hash)
        return
    await rsets.scale(s, new, n)
    if not await _select(s, active, preview, stable_hash, s.hash):
        return
    if rsets.available(s.new_rs) < n:
        return  # the new ReplicaSet's status updates bring us back
    pre = bg.get("prePromotionAnalysis")
    if pre is not None:
        result = await run_analysis(s, f"{s.ro['metadata']['name']}-{s.hash}-pre", pre, "blueGreen",
                                    "prePromotionAnalysisRunStatus")
        if result == FAILED:
            st["abort"] = True
            await _aborted(s, active, preview, stable_hash)
            return
        if result != SUCCESSFUL:
            return
    if not st.get("promoteFull"):
        if (s.ro.get("spec") or {}).get("paused"):
            return
        auto = bg.get("autoPromotionEnabled", True) is not False
        seconds = bg.get("autoPromotionSeconds")
        if not auto or seconds is not None:
            if not s.pause(steps.BLUE_GREEN_PAUSE, float(seconds) if auto else None):
                return
    await _promote(s, bg, active, preview)


async def _select(s: Sync, active: str | None, preview: str | None, active_hash: str | None,
                  preview_hash: str | None) -> bool:
    """Point the Services; status.blueGreen records what they select."""
    bg_status = s.status.setdefault("blueGreen", {})
    if not await services.point(s, active, active_hash):
        return False
    bg_status["activeSelector"] = active_hash
    if preview:
        if not await services.point(s, preview, preview_hash):
            return False
        bg_status["previewSelector"] = preview_hash
    return True


async def _promote(s: Sync, bg: Obj, active: str | None, preview: str | None) -> None:
    """Switch the active Service to the new version; the old one goes after the delay."""
    st = s.status
    if not await _select(s, active, preview, s.hash, s.hash):
        return
    old = s.stable_rs
    st["stableRS"], s.stable_rs = s.hash, s.new_rs
    how = "Fully promoted" if st.pop("promoteFull", None) else "Switched active service"
    steps.clear_pause(st)
    s.event("RolloutCompleted", f"Rollout completed update to revision {s.revision()} ({s.hash}): {how}")
    delay = bg.get("scaleDownDelaySeconds")
    await rsets.scale_down_later(s, old, float(steps.DEFAULT_SCALE_DOWN_DELAY if delay is None else delay))
    await rsets.scale_down_others(s, s.stable_rs, old)


async def _aborted(s: Sync, active: str | None, preview: str | None, stable_hash: str) -> None:
    st = s.status
    s.mark_aborted()
    steps.clear_pause(st)
    s.runs.clear()
    await _select(s, active, preview, stable_hash, stable_hash)
    await rsets.scale(s, s.new_rs, 0)
    await rsets.scale_down_others(s, s.stable_rs)
