"""Deleting a controller's pod, as upstream's `RealPodControl.DeletePod` does for the ReplicaSet
and DaemonSet controllers: the event on the owner, and the expectation lowered when the delete
failed (the informer will then never report it)."""

from __future__ import annotations

from typing import Any

from ..api import errors
from ..api.resources import lookup
from ..client.informer import object_key
from .podutil import Expectations

PODS = lookup("", "v1", "pods")

Obj = dict[str, Any]


async def delete_pod(client: Any, recorder: Any, expectations: Expectations, owner: Obj, pod: Obj) -> None:
    """Delete `pod` of `owner`; a pod already gone counts as deleted."""
    meta = pod["metadata"]
    try:
        await client.delete(PODS, meta.get("namespace"), meta["name"])
    except errors.StatusError as e:
        expectations.deletion_observed(object_key(owner), object_key(pod))
        if e.code == 404:
            return
        recorder.event(owner, "Warning", "FailedDelete", f"Error deleting: {e.message}")
        raise
    recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}")
