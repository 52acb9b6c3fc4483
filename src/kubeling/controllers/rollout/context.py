"""What one sync of a Rollout works on (`Sync`), and what it needs from the controller
(`RolloutContext`), so the strategy modules depend on this small module, never on the
controller itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

from ...api.resources import lookup
from ...client.events import EventRecorder
from ...client.informer import Informer, object_key
from ...client.rest import Client
from ..deployment.util import revision
from ...api.timestamps import rfc3339
from . import steps
from .analysis import AnalysisRunner

REPLICASETS = lookup("apps", "v1", "replicasets")
SERVICES = lookup("", "v1", "services")
PODS = lookup("", "v1", "pods")
assert REPLICASETS is not None and SERVICES is not None and PODS is not None

Obj = dict[str, Any]


class RolloutContext(Protocol):
    client: Client
    clock: Callable[[], float]
    recorder: EventRecorder
    rs_informer: Informer
    svc_informer: Informer
    pod_informer: Informer
    analysis: AnalysisRunner

    def rs_written(self, ro: Obj, rs: Obj) -> None:
        """`rs` was written for `ro`: wait for the cache to show it before syncing `ro` again."""


@dataclass
class Sync:
    """One reconcile of one Rollout: its private copy, the status being built, its ReplicaSets."""

    rc: RolloutContext
    ro: Obj
    status: Obj  # the new status (the controller writes it when it differs)
    rs_list: list[Obj]
    hash: str  # the pod-template hash of spec.template: the new version
    now: float
    new_rs: Optional[Obj] = None
    stable_rs: Optional[Obj] = None
    recheck: Optional[float] = None  # sync again after this many seconds
    problem: str = ""  # why the rollout cannot go on (a missing Service, an invalid template)
    runs: set[str] = field(default_factory=set)  # the analysis runs still wanted

    @property
    def key(self) -> str:
        return object_key(self.ro)

    @property
    def replicas(self) -> int:
        return steps.replicas(self.ro)

    def after(self, seconds: float) -> None:
        """Sync again in `seconds` (the earliest of all asked for wins)."""
        seconds = max(seconds, 0.05)
        self.recheck = seconds if self.recheck is None else min(self.recheck, seconds)

    def event(self, reason: str, message: str, warning: bool = False) -> None:
        self.rc.recorder.event(self.ro, "Warning" if warning else "Normal", reason, message)

    def pause(self, reason: str, duration: float | None) -> bool:
        """Hold at a pause (steps.pause): whether it is over; Argo's event when it begins, and a
        sync when its duration runs out."""
        out = steps.pause(self.status, reason, duration, self.now)
        if out.started:
            self.event("RolloutPaused", f"Rollout is paused ({reason})")
        if out.recheck is not None and not out.done:
            self.after(out.recheck)
        return out.done

    def mark_aborted(self) -> None:
        """The abort is seen for the first time: when, and Argo's event."""
        if not self.status.get("abortedAt"):
            self.status["abortedAt"] = rfc3339(self.now)
            self.event("RolloutAborted", f"Rollout aborted update to revision {self.revision()}", warning=True)

    def revision(self, rs: Optional[Obj] = None) -> int:
        """The revision of `rs` (the new ReplicaSet by default), 0 if unknown."""
        target = rs if rs is not None else self.new_rs
        try:
            return revision(target, steps.REVISION) if target is not None else 0
        except ValueError:
            return 0
