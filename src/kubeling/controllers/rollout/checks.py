"""The glue between a Rollout's sync and its analyses: which pods an analysis measures (the ready
pods of the new ReplicaSet, read from the pod cache at each measurement), and running one or
reading its recorded outcome."""

from __future__ import annotations

from typing import Any, Optional

from ...client.informer import CONTROLLER_UID
from ..podutil import is_pod_ready
from .analysis import FAILED, RUNNING, SUCCESSFUL, Targets
from .context import Sync

Obj = dict[str, Any]


def targets_of(s: Sync, spec: Obj) -> Targets:
    """The (pod, container) pairs to measure: ready pods of the new ReplicaSet, each with the
    container that declares the named port (else its first container)."""
    uid = (s.new_rs or {}).get("metadata", {}).get("uid", "")
    port = (spec.get("httpGet") or {}).get("port")
    pods = s.rc.pod_informer

    def targets() -> list[tuple[Obj, Obj]]:
        out = []
        for pod in pods.by_index(CONTROLLER_UID, uid):
            if pod["metadata"].get("deletionTimestamp") or not is_pod_ready(pod):
                continue
            containers = (pod.get("spec") or {}).get("containers") or [{}]
            named = [c for c in containers if any(p.get("name") == port for p in c.get("ports") or [])]
            out.append((pod, (named or containers)[0]))
        return out
    return targets


async def run_analysis(s: Sync, name: str, spec: Obj, section: str, field: str, *, background: bool = False) -> str:
    """Run analysis `name` (or read its recorded outcome): Running, Successful or Failed. Its
    summary goes to status.<section>.<field>; an outcome is announced once, with an event."""
    sub = s.status.setdefault(section, {})
    prev: Optional[Obj] = sub.get(field)
    if prev is not None and prev.get("name") == name and prev.get("status") in (SUCCESSFUL, FAILED):
        return str(prev["status"])
    run = s.rc.analysis.ensure(s.key, name, spec, targets_of(s, spec), background=background)
    s.runs.add(name)
    sub[field] = run.summary()
    if run.status == FAILED:
        s.event("AnalysisRunFailed", f"Analysis '{name}' failed: {run.message}", warning=True)
    elif run.status == SUCCESSFUL:
        s.event("AnalysisRunSuccessful", f"Analysis '{name}' succeeded: {run.message}")
    return run.status if run.status in (SUCCESSFUL, FAILED) else RUNNING
