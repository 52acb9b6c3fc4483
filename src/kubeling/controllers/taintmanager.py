"""Taint eviction controller (upstream pkg/controller/tainteviction/taint_eviction.go).

A pod bound to a node with NoExecute taints it does not tolerate is deleted at once; if it
tolerates them all, it is deleted after the smallest `tolerationSeconds` among the tolerations
used (never, if none of them has one). Work is keyed by pod and restarted or cancelled whenever
the node's taints or the pod's tolerations change. Before deleting, the pod gets the
`DisruptionTarget` condition (reason `DeletionByTaintManager`), and an event
`TaintManagerEviction` "Marking for deletion Pod ns/name" is recorded.

Example: the node becomes unreachable at 12:00:00 and a pod tolerates
`node.kubernetes.io/unreachable:NoExecute` for 300 s (the admission default): it is deleted at
12:05:00, unless the taint goes away before (then "Cancelling deletion of Pod ns/name").
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..api.taints import tolerates
from ..api import errors
from ..api.timestamps import rfc3339
from ..client.controller import Controller
from ..client.events import EventRecorder
from ..client.rest import Client
from .nodelifecycle import NO_EXECUTE, PODS, NodeInformers, get_condition

log = logging.getLogger("kubeling.tainteviction")

Obj = dict[str, Any]
DELETE_RETRIES = 5


# ---- pure parts --------------------------------------------------------------------------------

def no_execute_taints(taints: list[Obj] | None) -> list[Obj]:
    return [t for t in taints or [] if t.get("effect") == NO_EXECUTE]


tolerates_taint = tolerates  # the upstream name, kept for callers and tests


def matching_tolerations(taints: list[Obj], tolerations: list[Obj] | None) -> tuple[bool, list[Obj]]:
    """v1helper.GetMatchingTolerations: (all tolerated, the first toleration used per taint)."""
    used = []
    for taint in taints:
        match = next((t for t in tolerations or [] if tolerates_taint(t, taint)), None)
        if match is None:
            return False, []
        used.append(match)
    return True, used


def min_toleration_seconds(tolerations: list[Obj]) -> float:
    """getMinTolerationTime: the smallest tolerationSeconds (negative values count as 0);
    -1 means "forever" (none of the used tolerations has tolerationSeconds)."""
    best: float = -1
    for t in tolerations:
        secs = t.get("tolerationSeconds")
        if secs is None:
            continue
        secs = max(0, int(secs))
        if best < 0 or secs < best:
            best = secs
    return best


def eviction_delay(taints: list[Obj], tolerations: list[Obj] | None) -> float | None:
    """Seconds until the pod must go (0: now), or None if it may stay (no taints or tolerated forever)."""
    if not taints:
        return None
    ok, used = matching_tolerations(taints, tolerations)
    if not ok:
        return 0.0
    m = min_toleration_seconds(used)
    return None if m < 0 else m


def disruption_condition(now: float) -> Obj:
    return {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": rfc3339(now)}


# ---- controller --------------------------------------------------------------------------------

@dataclass
class _Work:
    created_at: float
    fire_at: float
    handle: asyncio.TimerHandle | None = None


class TaintEvictionController(Controller):
    def __init__(self, client: Client, *, informers: NodeInformers | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__("taint-eviction-controller")
        self.client = client
        self.clock = clock
        self.inf = informers or NodeInformers(client)
        self.recorder = EventRecorder(client, "taint-eviction-controller")
        self.work: dict[tuple[str, str], _Work] = {}
        self.node_taints: dict[str, list[Obj]] = {}
        self.watch(self.inf.nodes, on_add=self._on_node, on_update=lambda old, new: self._on_node(new),
                   on_delete=lambda n: self._on_node(n, deleted=True))
        self.watch(self.inf.pods, on_add=lambda p: self._on_pod(None, p), on_update=self._on_pod,
                   on_delete=self._on_pod_delete)
        self.on_synced(self._on_all_nodes)
        self.on_stop(self._cancel_timers)

    def _on_all_nodes(self) -> None:
        """Nodes listed before our handlers were added."""
        for n in self.inf.nodes.list():
            self._on_node(n)

    # ---- scheduling ---------------------------------------------------------------------------
    def _cancel(self, key: tuple[str, str], event: bool = True) -> None:
        w = self.work.pop(key, None)
        if w is None:
            return
        if w.handle is not None:
            w.handle.cancel()
        if event:
            self.recorder.event(_pod_ref(*key), "Normal", "TaintManagerEviction",
                                f"Cancelling deletion of Pod {key[0]}/{key[1]}")

    def _add_work(self, key: tuple[str, str], created: float, fire: float) -> None:
        loop = asyncio.get_running_loop()
        w = _Work(created, fire)
        self.work[key] = w
        delay = max(0.0, fire - self.clock())

        def go() -> None:
            if self.work.get(key) is w:
                self.spawn(self._evict(key, w), f"taint-evict-{key[0]}/{key[1]}")

        w.handle = loop.call_later(delay, go)

    def process_pod_on_node(self, key: tuple[str, str], taints: list[Obj], tolerations: list[Obj] | None) -> None:
        """processPodOnNode: (re)schedule, keep or cancel the deletion of one pod."""
        now = self.clock()
        if not taints:
            self._cancel(key)
            return
        delay = eviction_delay(taints, tolerations)
        if delay is None:
            self._cancel(key)
            return
        if delay == 0:
            self._cancel(key)
            self._add_work(key, now, now)
            return
        start, trigger = now, now + delay
        existing = self.work.get(key)
        if existing is not None:
            start = existing.created_at
            if start + delay < trigger:  # the earlier schedule still stands
                return
            self._cancel(key)
        self._add_work(key, start, start + delay)

    async def _evict(self, key: tuple[str, str], w: _Work) -> None:
        ns, name = key
        self.recorder.event(_pod_ref(ns, name), "Normal", "TaintManagerEviction",
                            f"Marking for deletion Pod {ns}/{name}")
        for attempt in range(DELETE_RETRIES):
            try:
                await self._add_condition_and_delete(ns, name)
                break
            except errors.StatusError as e:
                log.info("evicting pod %s/%s failed: %s", ns, name, e.message)
                await asyncio.sleep(0.01)
        if self.work.get(key) is w:
            del self.work[key]

    async def _add_condition_and_delete(self, ns: str, name: str) -> None:
        try:
            pod = await self.client.get(PODS, ns, name)
        except errors.StatusError as e:
            if e.code == 404:
                return
            raise
        if get_condition(pod.get("status"), "DisruptionTarget") is None:
            new = copy.deepcopy(pod)
            new.setdefault("status", {}).setdefault("conditions", []).append(disruption_condition(self.clock()))
            try:
                await self.client.update_status(PODS, new)
            except errors.StatusError as e:
                if e.code == 404:
                    return
                raise
        try:
            await self.client.delete(PODS, ns, name)
        except errors.StatusError as e:
            if e.code != 404:
                raise

    # ---- handlers -----------------------------------------------------------------------------
    def _on_pod(self, old: Obj | None, pod: Obj) -> None:
        meta = pod["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        node = (pod.get("spec") or {}).get("nodeName")
        if old is not None:
            old_node = (old.get("spec") or {}).get("nodeName")
            if (old_node == node and (old.get("spec") or {}).get("tolerations") ==
                    (pod.get("spec") or {}).get("tolerations")):
                return
        if not node:
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            self._cancel(key, event=False)
            return
        taints = self.node_taints.get(node)
        if not taints:
            self._cancel(key)
            return
        self.process_pod_on_node(key, taints, (pod.get("spec") or {}).get("tolerations"))

    def _on_pod_delete(self, pod: Obj) -> None:
        self._cancel((pod["metadata"].get("namespace", ""), pod["metadata"]["name"]), event=False)

    def _on_node(self, node: Obj, deleted: bool = False) -> None:
        """handleNodeUpdate: a node's NoExecute taints changed; re-process each of its pods."""
        name = node["metadata"]["name"]
        taints = [] if deleted else no_execute_taints((node.get("spec") or {}).get("taints"))
        old = self.node_taints.get(name, [])
        if deleted:
            self.node_taints.pop(name, None)
        elif taints:
            self.node_taints[name] = taints
        else:
            self.node_taints.pop(name, None)
        if _taint_keys(old) == _taint_keys(taints):
            return
        for pod in self.inf.pods_on_node(name):
            key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
            if not taints:
                self._cancel(key)
                continue
            self.process_pod_on_node(key, taints, (pod.get("spec") or {}).get("tolerations"))

    def _cancel_timers(self) -> None:
        for w in self.work.values():
            if w.handle is not None:
                w.handle.cancel()


def _taint_keys(taints: list[Obj]) -> list[tuple[Any, ...]]:
    return sorted((t.get("key", ""), t.get("value", "") or "", t.get("effect", "")) for t in taints)


def _pod_ref(ns: str, name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": ns, "name": name}}
