"""The prober manager: one worker task per container probe (upstream `pkg/kubelet/prober/prober_manager.go`).

The kubelet calls `add_pod` when it syncs a pod (idempotent), `remove_pod` when the pod is
gone, and asks:
- `started(uid, name, cid)` / `ready(uid, name, cid)` while computing the pod status
  (None = this container has no such probe: started/ready once running, as upstream);
- `kill_reason(cid)` while syncing a running container: a liveness or startup failure means
  "kill it (and restart it under the restart policy)".
Every result *change* that matters calls `on_change(pod_uid)` (the kubelet re-syncs the pod:
new readiness → a status write → Endpoints; a liveness failure → a kill).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

from ..status import is_restartable_init
from .prober import Prober, ProbeType, Recorder
from .results import Result, ResultsManager
from .worker import Worker

log = logging.getLogger("kubeling.kubelet.prober")


class ProbeManager:
    def __init__(self, runtime: Any, record: Recorder, get_status: Callable[[str], dict[str, Any] | None],
                 get_pod: Callable[[str], dict[str, Any] | None], on_change: Callable[[str], None]) -> None:
        self.prober = Prober(runtime, record)
        self.get_status = get_status
        self.get_pod = get_pod
        self.on_change = on_change
        self.results = {kind: ResultsManager(self._changed(kind)) for kind in ProbeType}
        self.workers: dict[tuple[str, str, ProbeType], Worker] = {}
        self._pods: set[str] = set()
        self.started_at = time.monotonic()
        self.changes: list[tuple[float, str, str, ProbeType, Result]] | None = None  # (bench) change log

    def _changed(self, kind: ProbeType) -> Callable[[str, str, Result], None]:
        def changed(uid: str, cid: str, result: Result) -> None:
            if self.changes is not None:
                self.changes.append((time.time(), uid, cid, kind, result))
            if kind is ProbeType.LIVENESS and result is not Result.FAILURE:
                return  # only a failure needs the kubelet
            log.debug("%s result of %s/%s: %s", kind.value, uid, cid[:12], result.value)
            self.on_change(uid)
        return changed

    # ---- pods -------------------------------------------------------------------------------------
    def add_pod(self, pod: dict[str, Any]) -> None:
        """Start a worker for each probe of the pod's containers and sidecars (once per pod)."""
        uid = pod["metadata"]["uid"]
        if uid in self._pods:
            return
        self._pods.add(uid)
        spec = pod.get("spec") or {}
        containers = [(c, True) for c in spec.get("initContainers") or [] if is_restartable_init(c)]
        containers += [(c, False) for c in spec.get("containers") or []]
        for c, init in containers:
            for kind in ProbeType:
                if c.get(kind.field) is None:
                    continue
                w = Worker(self, kind, pod, c, init)
                self.workers[w.key] = w
                w.task = asyncio.get_running_loop().create_task(w.run(), name=f"probe-{kind.value}-{c.get('name')}")

    def remove_pod(self, uid: str) -> None:
        if uid not in self._pods:
            return
        self._pods.discard(uid)
        for key in [k for k in self.workers if k[0] == uid]:
            w = self.workers.pop(key)
            if w.task is not None:
                w.task.cancel()

    def worker_done(self, w: Worker) -> None:
        if self.workers.get(w.key) is w:
            del self.workers[w.key]

    async def close(self) -> None:
        tasks = [w.task for w in self.workers.values() if w.task is not None]
        self.workers.clear()
        self._pods.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---- what the kubelet asks --------------------------------------------------------------------
    def started(self, uid: str, name: str, cid: str) -> bool | None:
        """isContainerStarted for a running container; None = no startup probe."""
        r = self.results[ProbeType.STARTUP].get(cid)
        if r is not None:
            return r is Result.SUCCESS
        return False if (uid, name, ProbeType.STARTUP) in self.workers else None

    def ready(self, uid: str, name: str, cid: str) -> bool | None:
        """Readiness of a started container; None = no readiness probe. A container that has a
        probe but no success yet is not ready, and its worker probes at once (upstream does the
        same in UpdatePodStatus, so a container turns Ready without waiting a period)."""
        if self.results[ProbeType.READINESS].get(cid) is Result.SUCCESS:
            return True
        w = self.workers.get((uid, name, ProbeType.READINESS))
        if w is None:
            return None
        w.trigger()
        return False

    def kill_reason(self, cid: str) -> ProbeType | None:
        """The probe whose failure means this running container must be killed, if any."""
        for kind in (ProbeType.LIVENESS, ProbeType.STARTUP):
            if self.results[kind].get(cid) is Result.FAILURE:
                return kind
        return None
