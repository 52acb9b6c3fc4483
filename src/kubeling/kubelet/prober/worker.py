"""One probe of one container, run periodically (upstream `pkg/kubelet/prober/worker.go`).

A worker lives as long as its pod: it follows the container across restarts (a new container
ID resets its result to the type's initial value), waits `initialDelaySeconds` after each
start, runs liveness and readiness only once the container has started (startup succeeded),
applies `successThreshold` / `failureThreshold`, and after a liveness or startup failure holds
off until the kubelet has replaced the container. It stops when the pod is finished, or when
its container ended and will not be restarted.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any, Callable, Protocol

from ...api.timestamps import parse_rfc3339
from .prober import INITIAL, Prober, ProbeType
from .results import Result, ResultsManager

log = logging.getLogger("kubeling.kubelet.prober")


def find_status(status: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The container's status (regular, then init containers) once it has a container ID."""
    for key in ("containerStatuses", "initContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") == name and cs.get("containerID"):
                return cs
    return None


class WorkerOwner(Protocol):
    """What a worker needs of the manager that owns it (prober/manager.py)."""

    prober: Prober
    results: dict[ProbeType, ResultsManager]
    started_at: float
    get_status: Callable[[str], dict[str, Any] | None]
    get_pod: Callable[[str], dict[str, Any] | None]

    def worker_done(self, w: "Worker") -> None: ...


class Worker:
    def __init__(self, manager: WorkerOwner, kind: ProbeType, pod: dict[str, Any], container: dict[str, Any],
                 init: bool = False) -> None:
        self.manager = manager
        self.kind = kind
        self.pod = pod
        self.uid = pod["metadata"]["uid"]
        self.container = container
        self.init = init
        self.spec: dict[str, Any] = container[kind.field]
        self.results = manager.results[kind]
        self.container_id = ""
        self.last_result: Result | None = None
        self.result_run = 0
        self.on_hold = False
        self._triggered = False  # a manual run is pending (a channel of size 1, like upstream's)
        self._waiter: asyncio.Future[None] | None = None
        self._started: tuple[str, float] = ("", 0.0)  # startedAt as written → parsed (cached)
        self.task: asyncio.Task[None] | None = None

    @property
    def key(self) -> tuple[str, str, ProbeType]:
        return (self.uid, self.container.get("name", ""), self.kind)

    def trigger(self) -> None:
        """Probe now instead of at the next tick (coalesced, like the manualTriggerCh of size 1)."""
        self._triggered = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _sleep_until(self, when: float) -> None:
        """Sleep until the loop time `when` or a trigger, whichever first (one timer, no task)."""
        if self._triggered:
            return
        loop = asyncio.get_running_loop()
        self._waiter = fut = loop.create_future()
        timer = loop.call_at(when, lambda: fut.done() or fut.set_result(None))
        try:
            await fut
        finally:
            timer.cancel()
            self._waiter = None

    @property
    def period(self) -> float:
        return float(self.spec.get("periodSeconds") or 10)

    async def run(self) -> None:
        """Probe every period until `do_probe` says stop; a kubelet that just started spreads its
        workers' first probes over one period (jitter), so a restart does not probe in lockstep."""
        loop = asyncio.get_running_loop()
        period = self.period
        try:
            if period > time.monotonic() - self.manager.started_at:
                await asyncio.sleep(random.random() * period)
            next_tick = loop.time() + period
            while await self.do_probe():
                await self._sleep_until(next_tick)
                self._triggered = False
                now = loop.time()
                while next_tick <= now:  # a ticker drops the ticks it missed
                    next_tick += period
        finally:
            if self.container_id:
                self.results.remove(self.container_id)
            self.manager.worker_done(self)

    async def do_probe(self) -> bool:
        """One round (upstream doProbe); False ends the worker."""
        status = self.manager.get_status(self.uid)
        if status is None:
            return True  # not synced yet, or gone (remove_pod stops us)
        if status.get("phase") in ("Succeeded", "Failed"):
            return False
        cs = find_status(status, self.container.get("name", ""))
        if cs is None:
            return True  # no container yet
        cid = cs["containerID"].split("://", 1)[-1]
        if cid != self.container_id:
            if self.container_id:
                self.results.remove(self.container_id)
            self.container_id = cid
            self.results.set(cid, INITIAL[self.kind], self.uid)
            self.on_hold = False  # a new container: probe it
        if self.on_hold:
            return True
        state = cs.get("state") or {}
        running = state.get("running")
        if running is None:
            self.results.set(cid, Result.FAILURE, self.uid)
            # stop only if it ended and will not be restarted
            return "terminated" not in state or (self.pod.get("spec") or {}).get("restartPolicy") != "Never"
        pod = self.manager.get_pod(self.uid) or self.pod
        if (pod.get("metadata") or {}).get("deletionTimestamp") and self.kind is not ProbeType.READINESS:
            self.results.set(cid, Result.SUCCESS, self.uid)  # graceful shutdown: never kill now
            return False
        delay = int(self.spec.get("initialDelaySeconds") or 0)
        if delay and int(time.time() - self._started_time(running.get("startedAt") or "")) < delay:
            return True
        if cs.get("started"):
            if self.kind is ProbeType.STARTUP:
                return True  # done with startup; keep the worker for the next container
        elif self.kind is not ProbeType.STARTUP:
            return True  # liveness and readiness wait for startup
        result = await self.manager.prober.probe(self.kind, pod, status.get("podIP") or "", self.container, cid,
                                                 self.init)
        if result is None or cid != self.container_id:
            return True  # errored: keep the last result
        return self.record(result)

    def _started_time(self, started_at: str) -> float:
        if self._started[0] != started_at:
            self._started = (started_at, parse_rfc3339(started_at) or 0.0)
        return self._started[1]

    def record(self, result: Result) -> bool:
        """Apply the thresholds and publish; a liveness/startup failure puts the worker on hold."""
        if self.last_result is result:
            self.result_run += 1
        else:
            self.last_result, self.result_run = result, 1
        if ((result is Result.FAILURE and self.result_run < int(self.spec.get("failureThreshold") or 3))
                or (result is Result.SUCCESS and self.result_run < int(self.spec.get("successThreshold") or 1))):
            return True  # below the threshold: the result stands
        self.results.set(self.container_id, result, self.uid)
        if self.kind is not ProbeType.READINESS and result is Result.FAILURE:
            self.on_hold = True  # until the kubelet replaced the container
            self.result_run = 0
        return True
