"""What the strategy steps (sync, rolling, recreate, progress) need from the Deployment controller:
the resources it works on and a `DeploymentContext` protocol, so that the steps depend on this
small module and the controller depends on the steps, never the other way round."""

from __future__ import annotations

from typing import Any, Callable, Protocol

from ...api.resources import lookup
from ...client.events import EventRecorder
from ...client.informer import Informer
from ...client.rest import Client

DEPLOYMENTS = lookup("apps", "v1", "deployments")
REPLICASETS = lookup("apps", "v1", "replicasets")
PODS = lookup("", "v1", "pods")
assert DEPLOYMENTS is not None and REPLICASETS is not None and PODS is not None

Obj = dict[str, Any]


class DeploymentContext(Protocol):
    client: Client
    clock: Callable[[], float]
    recorder: EventRecorder
    d_informer: Informer
    rs_informer: Informer

    def enqueue_after(self, d: Obj, delay: float) -> None:
        """Sync `d` again after `delay` seconds (0: a rate-limited requeue)."""

    def rs_written(self, d: Obj, rs: Obj) -> None:
        """`rs` was written for `d`: wait for the cache to show it before syncing `d` again."""
