"""The status view of `kubectl kubeling rollout get` (pure: objects in, text out), after Argo
Rollouts' `get rollout`: the summary (phase and message, strategy, current step, weights,
images, replica counts), the steps with a marker each, and the ReplicaSets by revision with
their pods' readiness."""

from __future__ import annotations

import json
from typing import Any

from .rollout import HASH_LABEL, Obj, history, revision, steps, strategy

ICONS = {"Healthy": "✔", "Paused": "॥", "Degraded": "✖", "Progressing": "◌"}
DONE, CURRENT, PENDING, FAILED = "✔", "▶", "·", "✖"


def _field(label: str, value: Any, indent: int = 0) -> str:
    return f"{' ' * indent}{label + ':' if label else '':<{17 - indent}}{value}"


def describe_step(step: Obj) -> str:
    """One canary step as a line: `setWeight: 20`, `pause 30s`, `pause (until promoted)`, ..."""
    if "setWeight" in step:
        return f"setWeight: {step['setWeight']}"
    if "pause" in step:
        d = (step.get("pause") or {}).get("duration")
        return f"pause {d}s" if isinstance(d, int) else f"pause {d}" if d else "pause (until promoted)"
    if "analysis" in step:
        get = (step.get("analysis") or {}).get("httpGet") or {}
        return f"analysis: GET :{get.get('port', '?')}{get.get('path', '/')}"
    return json.dumps(step, sort_keys=True)


def _all_steps_done(ro: Obj) -> bool:
    return int((ro.get("status") or {}).get("currentStepIndex") or 0) >= len(steps(ro))


def set_weight(ro: Obj) -> int:
    """Argo's GetCurrentSetWeight: 0 once aborted, 100 when every step is done (the new version
    is the whole of it), else the last setWeight at or before the current step (0 before any)."""
    st = ro.get("status") or {}
    if st.get("abort"):
        return 0
    if _all_steps_done(ro):
        return 100
    done = steps(ro)[:int(st.get("currentStepIndex") or 0) + 1]
    weights = [s["setWeight"] for s in done if "setWeight" in s]
    return weights[-1] if weights else 0


def _roles(ro: Obj) -> dict[str, str]:
    """pod-template-hash → what that version is now (stable, canary, active, preview)."""
    st = ro.get("status") or {}
    out: dict[str, str] = {}
    if strategy(ro) == "BlueGreen":
        bg = st.get("blueGreen") or {}
        for role in ("preview", "active"):
            if bg.get(f"{role}Selector"):
                out[bg[f"{role}Selector"]] = role
    elif st.get("currentPodHash") and st.get("currentPodHash") != st.get("stableRS"):
        out[st["currentPodHash"]] = "canary"
    if st.get("stableRS"):
        out[st["stableRS"]] = "stable" if st["stableRS"] not in out else f"stable, {out[st['stableRS']]}"
    return out


def _hash(obj: Obj) -> str:
    return str((obj["metadata"].get("labels") or {}).get(HASH_LABEL, ""))


def _images(template: Obj) -> list[str]:
    return [c.get("image", "") for c in ((template or {}).get("spec") or {}).get("containers") or []]


def _ready(pod: Obj) -> tuple[int, int]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or []) or len(statuses)
    return sum(1 for c in statuses if c.get("ready")), total


def _pod_line(pod: Obj) -> str:
    ready, total = _ready(pod)
    st = pod.get("status") or {}
    phase = "Terminating" if pod["metadata"].get("deletionTimestamp") else st.get("phase") or "Pending"
    icon = "✔" if ready == total and total and phase == "Running" else "✖" if phase == "Failed" else "◌"
    restarts = sum(int(c.get("restartCount") or 0) for c in st.get("containerStatuses") or [])
    extra = f"  restarts:{restarts}" if restarts else ""
    return f"      {icon} {pod['metadata']['name']:<40} {phase:<12} ready:{ready}/{total}{extra}"


def _step_lines(ro: Obj) -> list[str]:
    st = ro.get("status") or {}
    index = int(st.get("currentStepIndex") or 0)
    aborted, paused = bool(st.get("abort")), bool(st.get("pauseConditions"))
    out = ["Steps:"]
    for i, step in enumerate(steps(ro)):
        if i < index:
            mark = DONE
        elif i == index:
            mark = FAILED if aborted else "॥" if paused else CURRENT
        else:
            mark = PENDING
        out.append(f"  {mark} {i + 1}. {describe_step(step)}")
    if steps(ro) and index >= len(steps(ro)) and not aborted:
        out.append("  ✔ all steps done")
    return out


def _traffic(ro: Obj, rev_of: dict[str, int]) -> list[str]:
    st = ro.get("status") or {}
    weights = (st.get("canary") or {}).get("weights") or {}
    out = []
    for side in ("stable", "canary"):
        w = weights.get(side) or {}
        if "weight" in w:
            h = w.get("podTemplateHash", "")
            rev = f"revision {rev_of[h]}" if h in rev_of else "revision ?"
            svc = f", service {w['serviceName']}" if w.get("serviceName") else ""
            out.append(_field(side.capitalize(), f"{w['weight']:>3} %  {rev} ({h}{svc})", 2))
    return ["Traffic:", *out] if out else []


def render(ro: Obj, rses: list[Obj], pods: list[Obj]) -> str:
    """The whole view, one string (so `--watch` redraws it in one write)."""
    meta, spec, st = ro["metadata"], ro.get("spec") or {}, ro.get("status") or {}
    phase = st.get("phase") or "Progressing"
    lines = [_field("Name", meta["name"]), _field("Namespace", meta.get("namespace", "default")),
             _field("Status", f"{ICONS.get(phase, '?')} {phase}")]
    if st.get("message"):
        lines.append(_field("Message", st["message"]))
    kind = strategy(ro)
    lines.append(_field("Strategy", kind))
    if kind == "Canary" and steps(ro):
        index = min(int(st.get("currentStepIndex") or 0), len(steps(ro)))
        lines.append(_field("Step", f"{index}/{len(steps(ro))}", 2))
        lines.append(_field("SetWeight", set_weight(ro), 2))
        actual = ((st.get("canary") or {}).get("weights") or {}).get("canary", {}).get("weight")
        if _all_steps_done(ro) and not st.get("abort"):
            actual = 100  # as Argo's info: the canary became the stable, all traffic is the new version's
        lines.append(_field("ActualWeight", actual if actual is not None else "-", 2))
    if kind == "BlueGreen":
        bg, bgs = (spec.get("strategy") or {}).get("blueGreen") or {}, st.get("blueGreen") or {}
        lines.append(_field("ActiveService", f"{bg.get('activeService', '-')} ({bgs.get('activeSelector') or '-'})", 2))
        if bg.get("previewService"):
            lines.append(_field("PreviewService", f"{bg['previewService']} ({bgs.get('previewSelector') or '-'})", 2))
    owned = history(ro, rses)
    roles = _roles(ro)
    rev_of = {_hash(rs): revision(rs) for rs in owned}
    # Argo's Images(): the versions that have pods (an aborted canary's scaled-down RS has none)
    images = [f"{img} ({roles[_hash(rs)]})" for rs in owned
              if _hash(rs) in roles and (rs.get("status") or {}).get("replicas")
              for img in _images(rs["spec"].get("template"))]
    for i, img in enumerate(images or _images(spec.get("template"))):
        lines.append(_field("Images" if i == 0 else "", img))
    lines.append("Replicas:")
    for label, value in (("Desired", spec.get("replicas", 1)), ("Current", st.get("replicas", 0)),
                         ("Updated", st.get("updatedReplicas", 0)), ("Ready", st.get("readyReplicas", 0)),
                         ("Available", st.get("availableReplicas", 0))):
        lines.append(_field(label, value, 2))
    lines += _traffic(ro, rev_of)
    if kind == "Canary" and steps(ro):
        lines += ["", *_step_lines(ro)]
    lines += ["", "ReplicaSets:"] if owned else ["", "ReplicaSets:    none yet"]
    by_owner: dict[str, list[Obj]] = {}
    for pod in pods:
        for ref in pod["metadata"].get("ownerReferences") or []:
            if ref.get("controller"):
                by_owner.setdefault(ref.get("uid", ""), []).append(pod)
    for rs in owned:
        want, ready = int(rs["spec"].get("replicas") or 0), int((rs.get("status") or {}).get("readyReplicas") or 0)
        icon = "•" if want == 0 else "✔" if ready >= want else "◌"
        role = roles.get(_hash(rs), "scaled down" if want == 0 else "old")
        lines.append(f"  {icon} {rs['metadata']['name']:<42} revision:{revision(rs):<4} {role:<16} "
                     f"ready:{ready}/{want}")
        for pod in sorted(by_owner.get(rs["metadata"].get("uid", ""), []), key=lambda p: p["metadata"]["name"]):
            lines.append(_pod_line(pod))
    return "\n".join(lines) + "\n"
