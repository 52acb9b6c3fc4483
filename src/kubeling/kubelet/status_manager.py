"""The kubelet's status manager (upstream pkg/kubelet/status/status_manager.go): the latest status
the kubelet generated per pod, written as pods/status only when the merge with the API's status
changes something; bursts coalesce (the newest wins) and conflicts are retried."""

from __future__ import annotations

import time
from typing import Any, Callable

from ..api import errors
from ..api.resources import lookup
from ..api.timestamps import rfc3339
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_workers
from . import status as st
from .sync_helpers import pod_uid

PODS = lookup("", "v1", "pods")
assert PODS is not None


class StatusManager:
    """Writes pod statuses: `set(uid, generated)` records the kubelet's view; writer tasks merge it
    with the API's current status and PUT pods/status only if something changed."""

    def __init__(self, client: Client, get_pod: Callable[[str], dict[str, Any] | None],
                 put_pod: Callable[[dict[str, Any]], None], name: str) -> None:
        self.client = client
        self.get_pod = get_pod
        self.put_pod = put_pod
        self.queue = WorkQueue(f"pod-status-{name}")
        self._want: dict[str, dict[str, Any]] = {}
        self.writes = 0

    def set(self, uid: str, generated: dict[str, Any]) -> None:
        self._want[uid] = generated
        self.queue.add(uid)

    def forget(self, uid: str) -> None:
        self._want.pop(uid, None)

    def generated(self, uid: str) -> dict[str, Any] | None:
        return self._want.get(uid)

    async def write(self, uid: Any) -> None:
        gen = self._want.get(uid)
        pod = self.get_pod(uid)
        if gen is None or pod is None:
            return
        for _ in range(5):
            merged = st.merge_status(pod.get("status") or {}, gen, rfc3339(time.time()))
            if merged == pod.get("status"):
                return
            try:
                new = await self.client.update_status(PODS, {**pod, "status": merged})
                self.writes += 1
                self.put_pod(new)
                return
            except errors.StatusError as e:
                if e.code == 404:
                    return
                if e.code != 409:
                    raise
                pod = await self.client.get(PODS, pod["metadata"].get("namespace"), pod["metadata"]["name"])
                if pod_uid(pod) != uid:
                    return

    async def run(self, writers: int) -> None:
        await run_workers(self.queue, self.write, writers)
