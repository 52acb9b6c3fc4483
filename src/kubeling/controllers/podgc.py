"""Pod garbage collector (upstream pkg/controller/podgc/gc_controller.go, v1.32 rules).

Every 20 s it force-deletes (grace period 0), after marking them Failed:
- terminated pods (Succeeded/Failed) beyond `--terminated-pod-gc-threshold` (12500), evicted
  ones first, then oldest first;
- pods terminating on a node that is not Ready and carries the `node.kubernetes.io/out-of-service`
  taint (an administrator's statement that the node is gone for good);
- pods bound to a node that does not exist (seen missing for the 40 s quarantine and confirmed
  by a live GET), with the DisruptionTarget condition `DeletionByPodGC`;
- pods being deleted that were never scheduled.
A pod on an unreachable node that was merely deleted stays Terminating: only its kubelet, an
out-of-service taint or the node's removal ends it, exactly as upstream.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any, Callable

from ..api import errors
from ..api.timestamps import parse_rfc3339, rfc3339
from ..client.controller import Controller
from ..client.rest import Client
from .nodelifecycle import NODES, PODS, TAINT_OUT_OF_SERVICE, NodeInformers, NodeLifecycleSettings, is_node_ready

log = logging.getLogger("kubeling.podgc")

Obj = dict[str, Any]


# ---- pure parts --------------------------------------------------------------------------------

def is_terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Pending", "Running", "Unknown")


def is_evicted(pod: Obj) -> bool:
    st = pod.get("status") or {}
    return st.get("phase") == "Failed" and st.get("reason") == "Evicted"


def gc_order_key(pod: Obj) -> tuple[Any, ...]:
    """byEvictionAndCreationTimestamp: evicted first, then oldest, then by name."""
    return (0 if is_evicted(pod) else 1, parse_rfc3339(pod["metadata"].get("creationTimestamp")) or 0.0,
            pod["metadata"]["name"])


def terminated_to_delete(pods: list[Obj], threshold: int) -> list[Obj]:
    """gcTerminated: with 12500 as threshold and 12503 terminated pods, the 3 oldest go."""
    if threshold <= 0:
        return []
    terminated = [p for p in pods if is_terminated(p)]
    n = len(terminated) - threshold
    if n <= 0:
        return []
    return sorted(terminated, key=gc_order_key)[:n]


def terminating_out_of_service(pods: list[Obj], nodes: dict[str, Obj]) -> list[Obj]:
    """gcTerminating: terminating pods on a not-ready node tainted out-of-service."""
    out = []
    for p in pods:
        if not p["metadata"].get("deletionTimestamp"):
            continue
        node = nodes.get((p.get("spec") or {}).get("nodeName", ""))
        if node is None:
            continue
        taints = (node.get("spec") or {}).get("taints") or []
        if not is_node_ready(node) and any(t.get("key") == TAINT_OUT_OF_SERVICE for t in taints):
            out.append(p)
    return sorted(out, key=gc_order_key)


def unscheduled_terminating(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if p["metadata"].get("deletionTimestamp") and not (p.get("spec") or {}).get("nodeName")]


def failed_status(pod: Obj, condition: Obj | None, now: float) -> Obj:
    """The status markFailedAndDeletePodWithCondition writes: phase Failed (+ the condition)."""
    st = copy.deepcopy(pod.get("status") or {})
    st["phase"] = "Failed"
    if condition is not None:
        conds = [c for c in st.get("conditions") or [] if c.get("type") != condition["type"]]
        conds.append({**condition, "lastTransitionTime": rfc3339(now)})
        st["conditions"] = conds
    return st


ORPHAN_CONDITION = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists"}


# ---- controller --------------------------------------------------------------------------------

class PodGCController(Controller):
    def __init__(self, client: Client, settings: NodeLifecycleSettings | None = None, *,
                 informers: NodeInformers | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__("pod-garbage-collector")
        self.client = client
        self.s = settings or NodeLifecycleSettings()
        self.inf = informers or NodeInformers(client)
        self.clock = clock
        self.quarantine: dict[str, float] = {}  # missing node name -> when to check it
        self.watch(self.inf.nodes)
        self.watch(self.inf.pods)
        self.every(self.s.podgc_period, self.gc, "gc")

    async def gc(self) -> None:
        pods = self.inf.pods.list()
        nodes = {n["metadata"]["name"]: n for n in self.inf.nodes.list()}
        await self._delete_all(terminated_to_delete(pods, self.s.terminated_pod_gc_threshold), None)
        await self._delete_all(terminating_out_of_service(pods, nodes), None)
        await self._gc_orphaned(pods, nodes)
        await self._delete_all(unscheduled_terminating(pods), None)

    async def _gc_orphaned(self, pods: list[Obj], nodes: dict[str, Obj]) -> None:
        now = self.clock()
        for p in pods:
            n = (p.get("spec") or {}).get("nodeName")
            if n and n not in nodes and n not in self.quarantine:
                self.quarantine[n] = now + self.s.podgc_quarantine
        deleted: set[str] = set()
        for n, at in list(self.quarantine.items()):
            if at > now:
                continue
            del self.quarantine[n]
            if n in nodes:
                continue
            try:
                await self.client.get(NODES, None, n)
            except errors.StatusError as e:
                if e.code == 404:
                    deleted.add(n)
                else:
                    log.warning("checking node %s: %s", n, e.message)
        orphans = [p for p in pods if (p.get("spec") or {}).get("nodeName") in deleted]
        for p in orphans:
            log.info("found orphaned pod %s/%s on deleted node %s", p["metadata"].get("namespace"),
                     p["metadata"]["name"], p["spec"]["nodeName"])
        await self._delete_all(orphans, ORPHAN_CONDITION)

    async def _delete_all(self, pods: list[Obj], condition: Obj | None) -> None:
        results = await asyncio.gather(*(self.mark_failed_and_delete(p, condition) for p in pods),
                                       return_exceptions=True)
        for p, r in zip(pods, results):
            if isinstance(r, Exception):
                log.warning("pod GC of %s/%s failed: %s", p["metadata"].get("namespace"), p["metadata"]["name"], r)

    async def mark_failed_and_delete(self, pod: Obj, condition: Obj | None) -> None:
        meta = pod["metadata"]
        log.info("PodGC is force deleting pod %s/%s", meta.get("namespace"), meta["name"])
        if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            new = copy.deepcopy(pod)
            new["status"] = failed_status(pod, condition, self.clock())
            try:
                await self.client.update_status(PODS, new)
            except errors.StatusError as e:
                if e.code == 404:
                    return
                if e.code != 409:
                    raise
                live = await self.client.get(PODS, meta.get("namespace"), meta["name"])
                if live["metadata"].get("uid") != meta.get("uid"):
                    return
                live["status"] = failed_status(live, condition, self.clock())
                await self.client.update_status(PODS, live)
        try:
            await self.client.delete(PODS, meta.get("namespace"), meta["name"], grace_period=0,
                                     preconditions={"uid": meta["uid"]} if meta.get("uid") else None)
        except errors.StatusError as e:
            if e.code not in (404, 409):
                raise
