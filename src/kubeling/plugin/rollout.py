"""What each `kubectl kubeling rollout` command writes, as Argo Rollouts' plugin does
(pkg/kubectl-argo-rollouts/cmd/{promote,abort,retry,undo,set}): pure functions of the Rollout
(and its ReplicaSets), returning patches; `PluginError` says why a command cannot apply."""

from __future__ import annotations

import copy
from typing import Any

from ..api.resources import Resource

Obj = dict[str, Any]

GROUP, VERSION = "rollouts.kubeling.io", "v1alpha1"
ROLLOUTS = Resource(GROUP, VERSION, "Rollout", "rollouts", short_names=("ro",))
NAMES = ("rollout", "rollouts", "ro", f"rollout.{GROUP}", f"rollouts.{GROUP}")  # accepted TYPE/NAME prefixes
REVISION = "rollout.argoproj.io/revision"
HASH_LABEL = "rollouts-pod-template-hash"


class PluginError(Exception):
    """A command that cannot apply: its message is printed as kubectl's one-line `error: ...`."""


def rollout_name(arg: str) -> str:
    """NAME or TYPE/NAME (`rollout/web`); another TYPE is not a Rollout."""
    if "/" not in arg:
        return arg
    kind, name = arg.split("/", 1)
    if kind.lower() not in NAMES:
        raise PluginError(f"{arg} is not a Rollout")
    return name


def steps(ro: Obj) -> list[Obj]:
    return list((((ro.get("spec") or {}).get("strategy") or {}).get("canary") or {}).get("steps") or [])


def strategy(ro: Obj) -> str:
    s = (ro.get("spec") or {}).get("strategy") or {}
    return "BlueGreen" if s.get("blueGreen") is not None else "Canary"


def promote(ro: Obj, full: bool = False) -> tuple[Obj | None, Obj | None]:
    """(spec patch, status patch) of `promote [--full]`, Argo's getPatches: a full promotion sets
    status.promoteFull (nothing to do when the new version is already stable); otherwise unpause
    the spec and clear the pause conditions, or, when there is no pause to clear (an analysis
    step), move a canary to its next step."""
    status = ro.get("status") or {}
    if full:
        if status.get("currentPodHash") == status.get("stableRS"):
            return None, None
        return None, {"status": {"promoteFull": True}}
    spec = {"spec": {"paused": False}} if (ro.get("spec") or {}).get("paused") else None
    if status.get("pauseConditions"):
        return spec, {"status": {"pauseConditions": None}}
    if strategy(ro) == "Canary" and steps(ro):
        index = min(int(status.get("currentStepIndex") or 0) + 1, len(steps(ro)))
        return spec, {"status": {"pauseConditions": None, "currentStepIndex": index}}
    return spec, None


ABORT: Obj = {"status": {"abort": True}}
RETRY: Obj = {"status": {"abort": False}}


def _owned(ro: Obj, rses: list[Obj]) -> list[Obj]:
    uid = ro["metadata"].get("uid")
    return [rs for rs in rses if any(r.get("controller") and r.get("uid") == uid
                                     for r in rs["metadata"].get("ownerReferences") or [])]


def revision(rs: Obj) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION) or 0)
    except ValueError:
        return 0


def history(ro: Obj, rses: list[Obj]) -> list[Obj]:
    """The Rollout's ReplicaSets (those it controls), newest revision first."""
    return sorted(_owned(ro, rses), key=revision, reverse=True)


def _derived(a: Any, b: Any) -> bool:
    """apimachinery's Semantic.DeepDerivative: `a` (as written) equals `b` (defaulted), fields
    unset in `a` ignored."""
    if a is None or a == "" or a == {} or a == []:
        return True
    if isinstance(a, dict):
        return isinstance(b, dict) and all(_derived(v, b.get(k)) for k, v in a.items())
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_derived(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template or {})
    ((t.get("metadata") or {}).get("labels") or {}).pop(HASH_LABEL, None)
    return t


def undo(ro: Obj, rses: list[Obj], to_revision: int = 0) -> list[Obj] | None:
    """The JSON patch restoring spec.template from the ReplicaSet of `to_revision` (0: the one
    before the newest), or None when the template already is that one (Argo's RunUndoRollout)."""
    owned = [rs for rs in history(ro, rses) if revision(rs)]
    if to_revision:
        rs = next((r for r in owned if revision(r) == to_revision), None)
        if rs is None:
            raise PluginError(f"unable to find specified revision {to_revision} in history")
    elif len(owned) < 2:
        raise PluginError(f'no revision found for rollout "{ro["metadata"]["name"]}"')
    else:
        rs = owned[1]
    template = _without_hash(rs["spec"].get("template") or {})
    if _derived(_without_hash((ro.get("spec") or {}).get("template") or {}), template):
        return None
    return [{"op": "replace", "path": "/spec/template", "value": template}]


def set_image(ro: Obj, container: str, image: str) -> list[Obj]:
    """The JSON patch of `set image CONTAINER=IMAGE` (`*`: every container): each replace is
    guarded by a test of the container's name, so a concurrent edit fails rather than
    changing another container."""
    pod = (((ro.get("spec") or {}).get("template") or {}).get("spec") or {})
    ops: list[Obj] = []
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(pod.get(field) or []):
            if c.get("name") == container or container == "*":
                path = f"/spec/template/spec/{field}/{i}"
                ops += [{"op": "test", "path": f"{path}/name", "value": c.get("name")},
                        {"op": "replace" if "image" in c else "add", "path": f"{path}/image", "value": image}]
    if not ops:
        raise PluginError(f'unable to find container named "{container}"')
    return ops
