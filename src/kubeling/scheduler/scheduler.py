"""kube-scheduler: watch pending pods, pick a node, bind through `pods/binding`.

One scheduling cycle per pod (upstream scheduleOne), synchronous and O(nodes):
  pop from the queue → filters on every node (framework.find_fit) → scores → pick the best
  (random among ties) → assume the pod on that node in the cache → bind in the background.
Assumed pods count against their node at once, so the next cycle sees them even before the
informer delivers the binding. A failed cycle records `FailedScheduling` with upstream's message
and sets PodScheduled=False/Unschedulable; the pod waits in the queue until a node is added or
changed, an assigned pod goes away, or the leftover flush (5 min) gives it another try.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

from ..api import errors
from ..api.resources import lookup
from ..api.timestamps import rfc3339
from ..client.events import EventRecorder
from ..client.controller import Controller
from ..client.informer import shared_informer
from ..client.rest import Client
from . import framework as fw
from . import scoring
from .queue import QueuedPod, SchedulingQueue
from .volumebinding import CLASSES, PVCS, PVS, PodVolumes, VolumeBinder, claim_names

log = logging.getLogger("kubeling.scheduler")

PODS = lookup("", "v1", "pods")
NODES = lookup("", "v1", "nodes")
assert PODS is not None and NODES is not None

DEFAULT_SCHEDULER_NAME = "default-scheduler"

Obj = dict[str, Any]


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_assigned(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def responsible_for(pod: Obj, scheduler_name: str = DEFAULT_SCHEDULER_NAME) -> bool:
    """A pod this scheduler should place: unassigned, ours, not being deleted, not gated."""
    spec = pod.get("spec") or {}
    return (not spec.get("nodeName") and (spec.get("schedulerName") or DEFAULT_SCHEDULER_NAME) == scheduler_name
            and not pod["metadata"].get("deletionTimestamp") and not spec.get("schedulingGates")
            and not is_terminal(pod))


def _conditions_sans_heartbeat(node: Obj) -> list[tuple[Any, ...]]:
    return [(c.get("type"), c.get("status"), c.get("reason"), c.get("message"))
            for c in (node.get("status") or {}).get("conditions") or []]


def node_scheduling_properties_changed(old: Obj, new: Obj) -> bool:
    """nodeSchedulingPropertiesChange: the updates that can make an unschedulable pod fit."""
    os_, ns = old.get("spec") or {}, new.get("spec") or {}
    return (bool(os_.get("unschedulable")) != bool(ns.get("unschedulable"))
            or (old.get("status") or {}).get("allocatable") != (new.get("status") or {}).get("allocatable")
            or old["metadata"].get("labels") != new["metadata"].get("labels")
            or os_.get("taints") != ns.get("taints")
            or _conditions_sans_heartbeat(old) != _conditions_sans_heartbeat(new)
            or old["metadata"].get("annotations") != new["metadata"].get("annotations"))


def scheduled_condition_patch(pod: Obj, message: str) -> Obj | None:
    """The PodScheduled=False/Unschedulable condition, or None when the pod already has it."""
    cur = next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"), None)
    if cur and cur.get("status") == "False" and cur.get("reason") == "Unschedulable" and cur.get("message") == message:
        return None
    ltt = cur.get("lastTransitionTime") if cur and cur.get("status") == "False" else rfc3339()
    return {"status": {"conditions": [{"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                                       "lastTransitionTime": ltt, "reason": "Unschedulable",
                                       "message": message}]}}


class Cache:
    """The scheduler cache: NodeInfos with their pods, including assumed (not yet bound) ones."""

    def __init__(self) -> None:
        self.nodes: dict[str, fw.NodeInfo] = {}
        self.pod_node: dict[str, str] = {}  # pod key -> node name
        self.assumed: set[str] = set()

    def _node(self, name: str) -> fw.NodeInfo:
        ni = self.nodes.get(name)
        if ni is None:
            ni = self.nodes[name] = fw.NodeInfo(name)
        return ni

    def set_node(self, node: Obj) -> None:
        self._node(node["metadata"]["name"]).set_node(node)

    def remove_node(self, name: str) -> None:
        ni = self.nodes.get(name)
        if ni is None:
            return
        if ni.pods:
            ni.node = None  # pods still reference it until they are deleted
        else:
            del self.nodes[name]

    def add_pod(self, pi: fw.PodInfo, node_name: str) -> None:
        prev = self.pod_node.get(pi.key)
        if prev is not None and prev != node_name:
            self.remove_pod(pi.key)
        self._node(node_name).add_pod(pi)
        self.pod_node[pi.key] = node_name

    def remove_pod(self, key: str) -> bool:
        self.assumed.discard(key)
        name = self.pod_node.pop(key, None)
        if name is None:
            return False
        ni = self.nodes.get(name)
        if ni is not None:
            ni.remove_pod(key)
            if ni.node is None and not ni.pods:
                del self.nodes[name]
        return True

    def assume(self, pi: fw.PodInfo, node_name: str) -> None:
        self.add_pod(pi, node_name)
        self.assumed.add(pi.key)

    def ready_nodes(self) -> list[fw.NodeInfo]:
        return [ni for ni in self.nodes.values() if ni.node is not None]


class Scheduler(Controller):
    def __init__(self, client: Client, *, scheduler_name: str = DEFAULT_SCHEDULER_NAME, seed: int | None = None,
                 backoff_initial: float = 1.0, backoff_max: float = 10.0, unschedulable_timeout: float = 300.0,
                 flush_interval: float = 30.0, bind_concurrency: int = 256,
                 clock: Any = time.monotonic) -> None:
        super().__init__(scheduler_name)
        self.client = client
        self.rng = random.Random(seed)
        self.clock = clock
        self.flush_interval = flush_interval
        self.queue = SchedulingQueue(backoff_initial, backoff_max, unschedulable_timeout)
        self.cache = Cache()
        self.recorder = EventRecorder(client, scheduler_name)
        self.pod_informer = shared_informer(client, PODS)
        self.node_informer = shared_informer(client, NODES)
        self._wake = asyncio.Event()
        self._bind_slots = asyncio.Semaphore(bind_concurrency)
        self._backoff_timer: asyncio.TimerHandle | None = None
        self.scheduled = 0
        self.watch(self.node_informer, self._node_added, self._node_updated, self._node_deleted)
        self.watch(self.pod_informer, self._pod_added, self._pod_updated, self._pod_deleted)
        volume_informers = [self.watch(shared_informer(client, r), on_add=lambda o: self._move_all(),
                                       on_update=lambda o, n: self._move_all()) for r in (PVCS, PVS, CLASSES)]
        self.volumes = VolumeBinder(client, *volume_informers)
        self.on_synced(lambda: log.info("scheduler %s started with %d nodes", self.name, len(self.cache.nodes)))
        self.every(flush_interval, self._flush_leftover, "flush")
        self.add_task("loop", self._loop)

    # ---- informer handlers --------------------------------------------------------------------
    def _kick(self) -> None:
        self._wake.set()

    def _move_all(self) -> None:
        if self.queue.move_all(self.clock()):
            self._kick()
        self._arm_backoff_timer()

    def _node_added(self, node: Obj) -> None:
        self.cache.set_node(node)
        self._move_all()

    def _node_updated(self, old: Obj, new: Obj) -> None:
        self.cache.set_node(new)
        if node_scheduling_properties_changed(old, new):
            self._move_all()

    def _node_deleted(self, node: Obj) -> None:
        self.cache.remove_node(node["metadata"]["name"])

    def _pod_added(self, pod: Obj) -> None:
        key = fw.pod_key(pod)
        if is_assigned(pod):
            if not is_terminal(pod):
                self.cache.add_pod(fw.PodInfo.of(pod), pod["spec"]["nodeName"])
                self.cache.assumed.discard(key)
            self.queue.delete(key)
        elif responsible_for(pod, self.name):
            self.queue.add(key, pod, self.clock())
            self._kick()

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        key = fw.pod_key(new)
        if is_assigned(new):
            self.queue.delete(key)
            if is_terminal(new):
                if self.cache.remove_pod(key):
                    self._move_all()  # a finished pod frees its node, like an assigned-pod delete
                return
            self.cache.add_pod(fw.PodInfo.of(new), new["spec"]["nodeName"])
            self.cache.assumed.discard(key)
            return
        if key in self.cache.assumed:
            return  # our binding is in flight; the informer has not seen it yet
        if not responsible_for(new, self.name):
            self.queue.delete(key)
            return
        if key not in self.queue:
            self.queue.add(key, new, self.clock())
            self._kick()
        elif (old.get("spec") != new.get("spec") or old["metadata"].get("labels") != new["metadata"].get("labels")):
            self.queue.update(key, new, self.clock())
            self._kick()
            self._arm_backoff_timer()
        else:
            self.queue.pods[key].pod = new

    def _pod_deleted(self, pod: Obj) -> None:
        key = fw.pod_key(pod)
        self.queue.delete(key)
        if self.cache.remove_pod(key):
            self._move_all()

    # ---- timers -------------------------------------------------------------------------------
    def _arm_backoff_timer(self) -> None:
        when = self.queue.next_backoff_expiry()
        if when is None:
            return
        if self._backoff_timer is not None and not self._backoff_timer.cancelled():
            if abs(self._backoff_timer.when() - self._to_loop_time(when)) < 1e-3:
                return
            self._backoff_timer.cancel()
        loop = asyncio.get_running_loop()
        self._backoff_timer = loop.call_at(self._to_loop_time(when) + 0.001, self._backoff_fired)

    def _to_loop_time(self, t: float) -> float:
        return asyncio.get_running_loop().time() + (t - self.clock())

    def _backoff_fired(self) -> None:
        self._backoff_timer = None
        self._kick()

    async def _flush_leftover(self) -> None:
        if self.queue.flush_leftover(self.clock()):
            self._kick()
            self._arm_backoff_timer()

    # ---- the loop -----------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            qp = self.queue.pop(self.clock())
            if qp is None:
                self._arm_backoff_timer()
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._bind_slots.acquire()
            try:
                self.schedule_one(qp)
            except Exception:
                self._bind_slots.release()
                log.exception("scheduling %s failed", qp.key)
                self.queue.error(qp, self.clock())
                self._arm_backoff_timer()
            await asyncio.sleep(0)  # let informer events in between pods

    def schedule_one(self, qp: QueuedPod) -> str | None:
        """One scheduling cycle; returns the chosen node (binding continues in the background)."""
        pod = qp.pod
        pi = fw.PodInfo.of(pod)
        nodes = self.cache.ready_nodes()
        vols: PodVolumes | None = None
        filters = fw.FILTERS
        if claim_names(pod):
            vols, why = self.volumes.prefilter(pod)
            if vols is None:
                self._bind_slots.release()
                self._unschedulable(qp, pi, fw.FitError(len(nodes), {}, prefilter_msg=why or ""))
                return None
            filters = fw.FILTERS + (vols.filter,)
        feasible, fit = fw.find_fit(pi, nodes, filters)
        if not feasible:
            self._bind_slots.release()
            self._unschedulable(qp, pi, fit)
            return None
        if len(feasible) == 1:
            chosen = feasible[0]
        else:
            scores = scoring.score_nodes(pi, feasible, self.cache.nodes.values())
            chosen = scoring.select_host(feasible, scores, self.rng)
        self.cache.assume(pi, chosen.name)
        self.queue.done(qp.key)
        self.spawn(self._bind(qp, pi, chosen.name, vols), f"bind-{qp.key}")
        return chosen.name

    def _unschedulable(self, qp: QueuedPod, pi: fw.PodInfo, fit: fw.FitError) -> None:
        if fit.num_all_nodes == 0:
            msg = "no nodes available to schedule pods"  # ErrNoNodesAvailable
        else:
            fit.postfilter_msg = fw.preemption_message(pi, fit, self.cache.nodes)
            msg = fit.message()
        log.info("pod %s unschedulable: %s", qp.key, msg)
        self.queue.unschedulable(qp, self.clock())
        self._arm_backoff_timer()
        self.recorder.event(qp.pod, "Warning", "FailedScheduling", msg)
        patch = scheduled_condition_patch(qp.pod, msg)
        if patch is not None:
            self.spawn(self._patch_status(qp.pod, patch), f"status-{qp.key}")

    async def _patch_status(self, pod: Obj, patch: Obj) -> None:
        """PATCH pods/status, pinned to the version we scheduled so a racing bind is never undone."""
        m = pod["metadata"]
        if m.get("resourceVersion"):
            patch = {"metadata": {"resourceVersion": m["resourceVersion"]}, **patch}
        try:
            await self.client.patch(PODS, m.get("namespace"), m["name"], patch, patch_type="strategic", sub="status")
        except errors.StatusError as e:
            if e.code not in (404, 409):
                log.info("could not update condition of %s/%s: %s", m.get("namespace"), m["name"], e.message)

    async def _bind(self, qp: QueuedPod, pi: fw.PodInfo, node: str, vols: PodVolumes | None = None) -> None:
        m = qp.pod["metadata"]
        ns, name = m.get("namespace"), m["name"]
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": name, "namespace": ns, "uid": m.get("uid")},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        try:
            if vols is not None and vols.to_provision:
                await self.volumes.prebind(vols, node)
            await self.client.create(PODS, ns, binding, sub_name=name, sub="binding")
        except asyncio.CancelledError:
            raise
        except Exception as e:
            msg = e.message if isinstance(e, errors.StatusError) else str(e)
            log.info("binding %s to %s failed: %s", qp.key, node, msg)
            if pi.key in self.cache.assumed:
                self.cache.remove_pod(pi.key)
            gone = isinstance(e, errors.StatusError) and e.code == 404
            current = self.pod_informer.get(ns, name)
            if not gone and current is not None and responsible_for(current, self.name):
                qp.pod = current
                self.queue.error(qp, self.clock())
                self._arm_backoff_timer()
                self.recorder.event(qp.pod, "Warning", "FailedScheduling", f"Binding rejected: {msg}")
            return
        finally:
            self._bind_slots.release()
        self.scheduled += 1
        self.recorder.event(qp.pod, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {node}")
