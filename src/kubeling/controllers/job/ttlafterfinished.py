"""TTL-after-finished controller: deletes a finished Job `ttlSecondsAfterFinished` after its
Complete or Failed condition (upstream pkg/controller/ttlafterfinished)."""

from __future__ import annotations

import logging
import time
from typing import Callable

from ...api import errors
from ...api.timestamps import parse_rfc3339
from ...client.controller import Controller
from ...client.informer import Informer, object_key, split_key
from ...client.rest import Client
from .util import JOBS, Obj, is_job_finished

log = logging.getLogger("kubeling.job")


def finish_time(job: Obj) -> float | None:
    """The lastTransitionTime of the True Complete or Failed condition."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return parse_rfc3339(c.get("lastTransitionTime"))
    return None


def ttl_remaining(job: Obj, now: float) -> float | None:
    """Seconds until a finished Job with ttlSecondsAfterFinished expires (<= 0: now), else None."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None or job["metadata"].get("deletionTimestamp") or not is_job_finished(job):
        return None
    t = finish_time(job)
    if t is None:
        return None
    return t + int(ttl) - now


class TTLAfterFinishedController(Controller):
    def __init__(self, client: Client, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__("ttl-after-finished")
        self.client = client
        self.clock = clock
        self.informer = self.watch(Informer(client, JOBS), on_add=self._enqueue,
                                   on_update=lambda old, new: self._enqueue(new))
        self.queue = self.add_queue("ttl_jobs_to_delete", self.sync, workers=2)

    def _enqueue(self, job: Obj) -> None:
        if ttl_remaining(job, self.clock()) is not None:
            self.queue.add(object_key(job))

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        job = self.informer.get(ns, name)
        if job is None:
            return
        left = ttl_remaining(job, self.clock())
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        try:  # re-check the live object: the TTL may have been changed
            fresh = await self.client.get(JOBS, ns, name)
        except errors.StatusError as e:
            if e.code == 404:
                return
            raise
        left = ttl_remaining(fresh, self.clock())
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        log.info("cleaning up finished job %s (ttlSecondsAfterFinished)", key)
        try:
            await self.client.delete(JOBS, ns, name, propagation="Foreground",
                                     preconditions={"resourceVersion": fresh["metadata"]["resourceVersion"]})
        except errors.StatusError as e:
            if e.code != 404:
                raise
