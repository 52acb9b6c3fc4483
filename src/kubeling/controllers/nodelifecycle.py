"""Node lifecycle controller (upstream pkg/controller/nodelifecycle/node_lifecycle_controller.go).

A node is healthy while its kubelet renews the node's Lease in `kube-node-lease` (or posts a
new Ready heartbeat). When neither has happened for the grace period (`--node-monitor-grace-period`,
upstream 40 s) the controller:
- sets the Ready, MemoryPressure, DiskPressure and PIDPressure conditions to Unknown, reason
  `NodeStatusUnknown`, message `Kubelet stopped posting node status.`;
- records `NodeNotReady` on the node and marks the node's pods not Ready (MarkPodsNotReady);
- queues the node for the NoExecute taint (`node.kubernetes.io/unreachable` for Unknown,
  `node.kubernetes.io/not-ready` for False), added by a per-zone rate limiter (0.1 node/s);
- keeps the NoSchedule taints in step with the conditions (and `spec.unschedulable`).
A node whose Ready condition is True again loses both NoExecute taints. If every node of every
zone is not ready, the controller assumes the problem is its own ("master disruption mode"),
removes the taints and stops tainting, as upstream does.

Evicting pods from tainted nodes is the taint eviction controller's job (`taintmanager.py`).
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..api import errors
from ..api.resources import lookup
from ..api.timestamps import parse_rfc3339, rfc3339
from ..client.events import EventRecorder
from ..client.controller import Controller
from ..client.informer import shared_informer
from ..client.rest import Client

log = logging.getLogger("kubeling.nodelifecycle")

NODES = lookup("", "v1", "nodes")
PODS = lookup("", "v1", "pods")
LEASES = lookup("coordination.k8s.io", "v1", "leases")
assert NODES is not None and PODS is not None and LEASES is not None

NODE_LEASE_NAMESPACE = "kube-node-lease"

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
NO_EXECUTE = "NoExecute"
NO_SCHEDULE = "NoSchedule"

UNREACHABLE_TAINT = {"key": TAINT_UNREACHABLE, "effect": NO_EXECUTE}
NOT_READY_TAINT = {"key": TAINT_NOT_READY, "effect": NO_EXECUTE}

# nodeConditionToTaintKeyStatusMap: which condition status maps to which NoSchedule taint.
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": TAINT_NOT_READY, "Unknown": TAINT_UNREACHABLE},
    "MemoryPressure": {"True": "node.kubernetes.io/memory-pressure"},
    "DiskPressure": {"True": "node.kubernetes.io/disk-pressure"},
    "NetworkUnavailable": {"True": "node.kubernetes.io/network-unavailable"},
    "PIDPressure": {"True": "node.kubernetes.io/pid-pressure"},
}
_CONDITION_TAINT_KEYS = {k for m in CONDITION_TAINTS.values() for k in m.values()}

# Conditions the controller owns once the kubelet goes silent (NetworkUnavailable is left alone).
MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")

STATE_INITIAL = "Initial"
STATE_NORMAL = "Normal"
STATE_FULL_DISRUPTION = "FullDisruption"
STATE_PARTIAL_DISRUPTION = "PartialDisruption"

EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption"
NODE_EVICTION_PERIOD = 0.1  # scheduler.NodeEvictionPeriod: how often the taint queues are tried

Obj = dict[str, Any]


@dataclass
class NodeLifecycleSettings:
    """kube-controller-manager's node lifecycle flags (upstream defaults)."""

    node_monitor_period: float = 5.0  # --node-monitor-period
    node_monitor_grace_period: float = 40.0  # --node-monitor-grace-period
    node_startup_grace_period: float = 60.0  # --node-startup-grace-period
    eviction_qps: float = 0.1  # --node-eviction-rate
    secondary_eviction_qps: float = 0.01  # --secondary-node-eviction-rate
    large_cluster_threshold: int = 50  # --large-cluster-size-threshold
    unhealthy_zone_threshold: float = 0.55  # --unhealthy-zone-threshold
    podgc_period: float = 20.0  # podgc gcCheckPeriod
    podgc_quarantine: float = 40.0  # podgc quarantineTime
    terminated_pod_gc_threshold: int = 12500  # --terminated-pod-gc-threshold


# ---------------------------------------------------------------------------------------------
# pure parts
# ---------------------------------------------------------------------------------------------


def get_condition(status: Obj | None, ctype: str) -> Obj | None:
    for c in (status or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def is_node_ready(node: Obj) -> bool:
    c = get_condition(node.get("status"), "Ready")
    return c is not None and c.get("status") == "True"


def zone_key(node: Obj) -> str:
    """nodetopology.GetZoneKey: region and zone labels, `""` when the node has neither."""
    labels = node["metadata"].get("labels") or {}
    region = labels.get("topology.kubernetes.io/region") or labels.get("failure-domain.beta.kubernetes.io/region", "")
    zone = labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone", "")
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def mark_conditions_unknown(node: Obj, now: float) -> None:
    """The conditions a silent kubelet leaves behind: Unknown, as tryUpdateNodeHealth writes them.

    A condition the kubelet never posted is added with reason NodeStatusNeverUpdated and the
    node's creation time as heartbeat; one that is not already Unknown flips to Unknown with
    reason NodeStatusUnknown and a new transition time (its heartbeat is kept).
    """
    status = node.setdefault("status", {})
    conds = status.setdefault("conditions", [])
    stamp = rfc3339(now)
    for ctype in MONITORED_CONDITIONS:
        c = get_condition(status, ctype)
        if c is None:
            conds.append({"type": ctype, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                          "message": "Kubelet never posted node status.",
                          "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                          "lastTransitionTime": stamp})
        elif c.get("status") != "Unknown":
            c["status"] = "Unknown"
            c["reason"] = "NodeStatusUnknown"
            c["message"] = "Kubelet stopped posting node status."
            c["lastTransitionTime"] = stamp


def taint_matches(a: Obj, b: Obj) -> bool:
    """Taint.MatchTaint: same key and effect (value and timeAdded don't matter)."""
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def taint_exists(taints: list[Obj] | None, taint: Obj) -> bool:
    return any(taint_matches(t, taint) for t in taints or [])


def swap_taints(taints: list[Obj] | None, add: list[Obj], remove: list[Obj], now: float) -> list[Obj]:
    """SwapNodeControllerTaint on a taint list: new taints get `timeAdded`, matches are replaced."""
    out = [t for t in taints or [] if not any(taint_matches(t, r) for r in remove)]
    for a in add:
        new = {**a, "timeAdded": rfc3339(now)}
        out = [t for t in out if not taint_matches(t, new)] + [new]
    return out


def no_schedule_taints(node: Obj) -> list[Obj]:
    """The NoSchedule taints doNoScheduleTaintingPass wants for the node's conditions."""
    out = []
    for c in (node.get("status") or {}).get("conditions") or []:
        key = CONDITION_TAINTS.get(c.get("type", ""), {}).get(c.get("status", ""))
        if key:
            out.append({"key": key, "effect": NO_SCHEDULE})
    if (node.get("spec") or {}).get("unschedulable"):
        out.append({"key": TAINT_UNSCHEDULABLE, "effect": NO_SCHEDULE})
    return out


def no_schedule_taint_diff(node: Obj) -> tuple[list[Obj], list[Obj]]:
    """(to add, to remove) among the controller-owned NoSchedule taints (TaintSetDiff)."""
    want = no_schedule_taints(node)
    have = [t for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") == NO_SCHEDULE and (t.get("key") == TAINT_UNSCHEDULABLE
                                                   or t.get("key") in _CONDITION_TAINT_KEYS)]
    add = [t for t in want if not taint_exists(have, t)]
    remove = [t for t in have if not taint_exists(want, t)]
    return add, remove


def compute_zone_state(ready: list[bool], unhealthy_threshold: float = 0.55) -> tuple[int, str]:
    """ComputeZoneState: all nodes not ready is a full disruption; more than two and at least
    55% not ready is a partial one. 3 nodes, 3 not ready: full; 5 nodes, 3 not ready (60%):
    partial; 4 nodes, 2 not ready: normal (two nodes are never a partial disruption)."""
    ready_n = sum(1 for r in ready if r)
    not_ready = len(ready) - ready_n
    if ready_n == 0 and not_ready > 0:
        return not_ready, STATE_FULL_DISRUPTION
    if not_ready > 2 and not_ready / (not_ready + ready_n) >= unhealthy_threshold:
        return not_ready, STATE_PARTIAL_DISRUPTION
    return not_ready, STATE_NORMAL


def zone_qps(state: str, zone_size: int, s: NodeLifecycleSettings) -> float:
    """setLimiterInZone: the tainting rate a zone gets in each state."""
    if state == STATE_PARTIAL_DISRUPTION:  # ReducedQPSFunc
        return s.secondary_eviction_qps if zone_size > s.large_cluster_threshold else 0.0
    return s.eviction_qps  # Normal and (HealthyQPSFunc) FullDisruption


def pod_not_ready_status(pod: Obj, now: float) -> Obj | None:
    """MarkPodsNotReady for one pod: a copy whose Ready condition is False, or None if unchanged."""
    conds = (pod.get("status") or {}).get("conditions") or []
    for i, c in enumerate(conds):
        if c.get("type") != "Ready":
            continue
        if c.get("status") == "False":
            return None
        new = copy.deepcopy(pod)
        nc = new["status"]["conditions"][i]
        nc["status"] = "False"
        nc["lastTransitionTime"] = rfc3339(now)
        return new
    return None


def lease_renew_time(lease: Obj | None) -> float | None:
    if lease is None:
        return None
    return parse_rfc3339((lease.get("spec") or {}).get("renewTime"))


# ---------------------------------------------------------------------------------------------
# rate-limited queue (scheduler.RateLimitedTimedQueue with a token bucket of burst 1)
# ---------------------------------------------------------------------------------------------


class TokenBucket:
    """flowcontrol.NewTokenBucketRateLimiter(qps, 1); qps 0 never accepts (evictions stopped)."""

    def __init__(self, qps: float, clock: Callable[[], float], burst: int = 1) -> None:
        self.qps, self.burst, self.clock = qps, burst, clock
        self.tokens = float(burst)
        self.last = clock()

    def try_accept(self) -> bool:
        if self.qps <= 0:
            return False
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimitedTimedQueue:
    """Nodes waiting to be tainted in one zone. A name stays in the set after it was processed,
    so `add` of an already handled node is a no-op until `remove` (as upstream's UniqueQueue)."""

    def __init__(self, qps: float, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.limiter = TokenBucket(qps, clock)
        self.queue: dict[str, float] = {}  # name -> process at
        self.known: set[str] = set()

    def add(self, name: str) -> bool:
        if name in self.known:
            return False
        self.known.add(name)
        self.queue[name] = self.clock()
        return True

    def remove(self, name: str) -> None:
        self.known.discard(name)
        self.queue.pop(name, None)

    def swap_limiter(self, qps: float) -> None:
        if qps != self.limiter.qps:
            self.limiter = TokenBucket(qps, self.clock)

    def due(self) -> list[str]:
        now = self.clock()
        return [n for n, at in sorted(self.queue.items(), key=lambda kv: kv[1]) if at <= now]

    def done(self, name: str, ok: bool, retry_after: float = 0.0) -> None:
        if ok:
            self.queue.pop(name, None)
        elif name in self.queue:
            self.queue[name] = self.clock() + retry_after


# ---------------------------------------------------------------------------------------------
# shared informers (nodes, pods, node leases) for the node lifecycle, taint eviction and pod GC
# ---------------------------------------------------------------------------------------------


class NodeInformers:
    """The (shared) nodes, pods and node Leases informers of the node controllers."""

    def __init__(self, client: Client) -> None:
        self.nodes = shared_informer(client, NODES)
        self.pods = shared_informer(client, PODS)
        self.leases = shared_informer(client, LEASES, NODE_LEASE_NAMESPACE)

    def pods_on_node(self, node_name: str) -> list[Obj]:
        return [p for p in self.pods.list() if (p.get("spec") or {}).get("nodeName") == node_name]


def node_ref(node: Obj) -> Obj:
    """The object an Event about a node points to (RecordNodeEvent/RecordNodeStatusChange)."""
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node["metadata"]["name"], "uid": node["metadata"].get("uid", "")}}


async def patch_node_taints(client: Client, node: Obj, add: list[Obj], remove: list[Obj],
                            now: Callable[[], float]) -> bool:
    """AddOrUpdateTaintOnNode + RemoveTaintOffNode: one merge patch guarded by resourceVersion,
    retried with a fresh read on conflict. False if the node is gone or keeps conflicting."""
    cur = node
    for _ in range(5):
        taints = (cur.get("spec") or {}).get("taints") or []
        new = swap_taints(taints, add, remove, now())
        if [(t.get("key"), t.get("effect"), t.get("value")) for t in new] == \
                [(t.get("key"), t.get("effect"), t.get("value")) for t in taints]:
            return True
        patch = {"metadata": {"resourceVersion": cur["metadata"].get("resourceVersion")},
                 "spec": {"taints": new or None}}
        try:
            await client.patch(NODES, None, cur["metadata"]["name"], patch, patch_type="merge")
            return True
        except errors.StatusError as e:
            if e.code == 404:
                return False
            if e.code != 409:
                raise
        try:
            cur = await client.get(NODES, None, node["metadata"]["name"])
        except errors.StatusError as e:
            if e.code == 404:
                return False
            raise
    return False


# ---------------------------------------------------------------------------------------------
# controller
# ---------------------------------------------------------------------------------------------


@dataclass
class NodeHealth:
    """nodeHealthData: what we last saw and when we last heard from the node."""

    status: Obj
    probe_timestamp: float
    ready_transition_timestamp: float
    lease_renew: float | None = None


@dataclass
class _Monitor:
    zone_states: dict[str, str] = field(default_factory=dict)
    known: dict[str, Obj] = field(default_factory=dict)
    tainters: dict[str, RateLimitedTimedQueue] = field(default_factory=dict)
    retry: set[str] = field(default_factory=set)


class NodeLifecycleController(Controller):
    def __init__(self, client: Client, settings: NodeLifecycleSettings | None = None, *,
                 informers: NodeInformers | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__("node-lifecycle")
        self.client = client
        self.s = settings or NodeLifecycleSettings()
        self.clock = clock
        self.inf = informers or NodeInformers(client)
        self.recorder = EventRecorder(client, "node-controller")
        self.health: dict[str, NodeHealth] = {}
        self.m = _Monitor()
        self.watch(self.inf.nodes, on_add=self._enqueue_node, on_update=lambda old, new: self._enqueue_node(new))
        self.watch(self.inf.pods, on_add=lambda p: self._on_pod(None, p), on_update=self._on_pod)
        self.watch(self.inf.leases)
        self.on_synced(self._enqueue_all_nodes)
        self.node_queue = self.add_queue("node-lifecycle-noschedule", self.do_no_schedule_tainting_pass, workers=2)
        self.pod_queue = self.add_queue("node-lifecycle-pods", self.process_pod, workers=2)
        self.every(self.s.node_monitor_period, self.monitor_node_health, "monitorNodeHealth")
        self.every(NODE_EVICTION_PERIOD, self.do_no_execute_tainting_pass, "NoExecute tainting")

    def _enqueue_node(self, node: Obj) -> None:
        self.node_queue.add(node["metadata"]["name"])

    def _enqueue_all_nodes(self) -> None:
        for n in self.inf.nodes.list():
            self._enqueue_node(n)

    # ---- health -----------------------------------------------------------------------------
    def _new_health(self, node: Obj, probe: float, transition: float) -> NodeHealth:
        return NodeHealth(status=copy.deepcopy(node.get("status") or {}), probe_timestamp=probe,
                          ready_transition_timestamp=transition)

    async def try_update_node_health(self, node: Obj) -> tuple[float, Obj, Obj | None]:
        """tryUpdateNodeHealth: (grace period, observed Ready condition, current Ready condition).

        `node` is a private copy; when the node is overdue its conditions become Unknown and the
        status is written back.
        """
        name = node["metadata"]["name"]
        now = self.clock()
        health = self.health.get(name)
        created = parse_rfc3339(node["metadata"].get("creationTimestamp")) or now
        current = get_condition(node.get("status"), "Ready")
        if current is None:
            observed: Obj = {"type": "Ready", "status": "Unknown",
                             "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                             "lastTransitionTime": node["metadata"].get("creationTimestamp")}
            grace = self.s.node_startup_grace_period
            if health is not None:
                health.status = copy.deepcopy(node.get("status") or {})
            else:
                health = self._new_health(node, created, created)
        else:
            observed = copy.deepcopy(current)
            grace = self.s.node_monitor_grace_period
        saved = get_condition(health.status, "Ready") if health is not None else None
        saved_lease = health.lease_renew if health is not None else None
        if health is None:
            health = self._new_health(node, now, now)
        elif saved is None and current is not None:
            health = self._new_health(node, now, now)
        elif saved is not None and current is None:
            log.error("Ready condition was removed from the status of node %s", name)
            health = self._new_health(node, now, now)
        elif saved is not None and current is not None and \
                saved.get("lastHeartbeatTime") != current.get("lastHeartbeatTime"):
            transition = now if saved.get("lastTransitionTime") != current.get("lastTransitionTime") \
                else health.ready_transition_timestamp
            health = self._new_health(node, now, transition)
        health.lease_renew = saved_lease
        renew = lease_renew_time(self.inf.leases.get(NODE_LEASE_NAMESPACE, name))
        if renew is not None and (saved_lease is None or saved_lease < renew):
            health.lease_renew = renew
            health.probe_timestamp = now
        self.health[name] = health
        if now > health.probe_timestamp + grace:
            mark_conditions_unknown(node, now)
            current = get_condition(node.get("status"), "Ready")
            if current != observed:
                log.info("node %s has not been heard from for %.1fs: conditions Unknown",
                         name, now - health.probe_timestamp)
                updated = await self.client.update_status(NODES, node)
                node["metadata"]["resourceVersion"] = updated["metadata"].get("resourceVersion")
                self.health[name] = NodeHealth(status=copy.deepcopy(node["status"]),
                                               probe_timestamp=health.probe_timestamp,
                                               ready_transition_timestamp=now, lease_renew=health.lease_renew)
        return grace, observed, current

    # ---- monitor ----------------------------------------------------------------------------
    def _tainter(self, zone: str) -> RateLimitedTimedQueue:
        q = self.m.tainters.get(zone)
        if q is None:
            q = self.m.tainters[zone] = RateLimitedTimedQueue(self.s.eviction_qps, self.clock)
        return q

    async def monitor_node_health(self) -> None:
        nodes = [copy.deepcopy(n) for n in self.inf.nodes.list()]
        names = {n["metadata"]["name"] for n in nodes}
        for n in nodes:
            name = n["metadata"]["name"]
            if name not in self.m.known:
                log.info("observed a new node %s", name)
                self.recorder.event(node_ref(n), "Normal", "RegisteredNode", f"Registered Node {name} in Controller")
                self.m.known[name] = n
                self._tainter(zone_key(n))
                await self.mark_node_as_reachable(n)
        for name in list(self.m.known):
            if name not in names:
                gone = self.m.known.pop(name)
                self.recorder.event(node_ref(gone), "Normal", "RemovingNode", f"Removing Node {name} from Controller")
                self.health.pop(name, None)
                for q in self.m.tainters.values():
                    q.remove(name)
        zone_conditions: dict[str, list[bool]] = {}
        for node in nodes:
            name = node["metadata"]["name"]
            try:
                _, observed, current = await self.try_update_node_health(node)
            except errors.StatusError as e:
                log.warning("updating health of node %s failed: %s; no pods will be evicted", name, e.message)
                continue
            if EXCLUDE_DISRUPTION_LABEL not in (node["metadata"].get("labels") or {}):
                zone_conditions.setdefault(zone_key(node), []).append(
                    current is not None and current.get("status") == "True")
            if current is None:
                continue
            await self.process_taint_based_eviction(node, observed)
            transition = current.get("status") != "True" and observed.get("status") == "True"
            if transition:
                self.recorder.event(node_ref(node), "Normal", "NodeNotReady",
                                    f"Node {name} status is now: NodeNotReady")
            if transition or (name in self.m.retry and observed.get("status") != "True"):
                if not await self.mark_pods_not_ready(self.inf.pods_on_node(name), name):
                    self.m.retry.add(name)
                    continue
            self.m.retry.discard(name)
        await self.handle_disruption(zone_conditions, nodes)

    async def process_taint_based_eviction(self, node: Obj, observed: Obj) -> None:
        status = observed.get("status")
        taints = (node.get("spec") or {}).get("taints")
        zone = zone_key(node)
        name = node["metadata"]["name"]
        if status == "False":
            if taint_exists(taints, UNREACHABLE_TAINT):
                await patch_node_taints(self.client, node, [NOT_READY_TAINT], [UNREACHABLE_TAINT], self.clock)
            else:
                if not taint_exists(taints, NOT_READY_TAINT):
                    self._tainter(zone).remove(name)
                if self._tainter(zone).add(name):
                    log.info("node %s is NotReady; adding it to the taint queue", name)
        elif status == "Unknown":
            if taint_exists(taints, NOT_READY_TAINT):
                await patch_node_taints(self.client, node, [UNREACHABLE_TAINT], [NOT_READY_TAINT], self.clock)
            else:
                if not taint_exists(taints, UNREACHABLE_TAINT):
                    self._tainter(zone).remove(name)
                if self._tainter(zone).add(name):
                    log.info("node %s is unresponsive; adding it to the taint queue", name)
        elif status == "True":
            if await self.mark_node_as_reachable(node):
                log.info("node %s is healthy again, removing all taints", name)

    async def mark_node_as_reachable(self, node: Obj) -> bool:
        """Remove both NoExecute taints and forget any queued tainting. True if a taint was removed."""
        taints = (node.get("spec") or {}).get("taints")
        had = taint_exists(taints, UNREACHABLE_TAINT) or taint_exists(taints, NOT_READY_TAINT)
        if had:
            await patch_node_taints(self.client, node, [], [UNREACHABLE_TAINT, NOT_READY_TAINT], self.clock)
        self._tainter(zone_key(node)).remove(node["metadata"]["name"])
        return had

    async def do_no_execute_tainting_pass(self) -> None:
        """Taint the queued nodes, as fast as each zone's limiter allows."""
        for q in list(self.m.tainters.values()):
            for name in q.due():
                if not q.limiter.try_accept():
                    break
                node = self.inf.nodes.get(None, name)
                if node is None:
                    q.done(name, True)
                    continue
                ready = (get_condition(node.get("status"), "Ready") or {}).get("status")
                if ready == "False":
                    add, opposite = NOT_READY_TAINT, UNREACHABLE_TAINT
                elif ready == "Unknown":
                    add, opposite = UNREACHABLE_TAINT, NOT_READY_TAINT
                else:
                    q.done(name, True)
                    continue
                try:
                    ok = await patch_node_taints(self.client, node, [add], [opposite], self.clock)
                except errors.StatusError as e:
                    log.warning("tainting node %s failed: %s", name, e.message)
                    ok = False
                if ok:
                    log.info("tainted node %s with %s:NoExecute", name, add["key"])
                q.done(name, ok, 0.05)

    async def handle_disruption(self, zone_conditions: dict[str, list[bool]], nodes: list[Obj]) -> None:
        new_states: dict[str, str] = {}
        all_fully = True
        for zone, ready in zone_conditions.items():
            _, state = compute_zone_state(ready, self.s.unhealthy_zone_threshold)
            if state != STATE_FULL_DISRUPTION:
                all_fully = False
            new_states[zone] = state
            self.m.zone_states.setdefault(zone, STATE_INITIAL)
        all_was_fully = True
        for zone in list(self.m.zone_states):
            if zone not in zone_conditions:
                del self.m.zone_states[zone]
                continue
            if self.m.zone_states[zone] != STATE_FULL_DISRUPTION:
                all_was_fully = False
                break
        if all_fully and all_was_fully:
            return
        if all_fully:
            log.warning("all nodes are not ready: entering master disruption mode")
            for n in nodes:
                await self.mark_node_as_reachable(n)
            for zone in self.m.zone_states:
                self._tainter(zone).swap_limiter(0.0)
                self.m.zone_states[zone] = STATE_FULL_DISRUPTION
            return
        if all_was_fully:
            log.info("some nodes are ready: exiting master disruption mode")
            now = self.clock()
            for n in nodes:
                h = self.health.get(n["metadata"]["name"])
                if h is not None:
                    h.probe_timestamp = h.ready_transition_timestamp = now
            for zone in self.m.zone_states:
                self._tainter(zone).swap_limiter(zone_qps(new_states[zone], len(zone_conditions[zone]), self.s))
                self.m.zone_states[zone] = new_states[zone]
            return
        for zone, old in self.m.zone_states.items():
            new = new_states[zone]
            if old != new:
                log.info("zone %r is now in state %s", zone, new)
                self._tainter(zone).swap_limiter(zone_qps(new, len(zone_conditions[zone]), self.s))
                self.m.zone_states[zone] = new

    # ---- pods -------------------------------------------------------------------------------
    async def mark_pods_not_ready(self, pods: list[Obj], node_name: str) -> bool:
        """MarkPodsNotReady: set Ready=False on each pod of the node; event NodeNotReady per pod."""
        ok = True
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") != node_name:
                continue
            new = pod_not_ready_status(pod, self.clock())
            if new is None:
                continue
            try:
                await self.client.update_status(PODS, new)
            except errors.StatusError as e:
                if e.code == 404:
                    continue
                log.info("marking pod %s/%s not ready failed: %s", pod["metadata"].get("namespace"),
                         pod["metadata"]["name"], e.message)
                ok = False
                continue
            self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")
        return ok

    def _on_pod(self, old: Obj | None, new: Obj) -> None:
        """podUpdated: a pod newly bound to a node gets checked against that node's readiness."""
        node = (new.get("spec") or {}).get("nodeName")
        if node and (old is None or (old.get("spec") or {}).get("nodeName") != node):
            self.pod_queue.add((new["metadata"].get("namespace"), new["metadata"]["name"]))

    async def process_pod(self, key: tuple[str, str]) -> None:
        pod = self.inf.pods.get(*key)
        if pod is None:
            return
        name = (pod.get("spec") or {}).get("nodeName", "")
        health = self.health.get(name)
        if health is None:
            return
        ready = get_condition(health.status, "Ready")
        if ready is None or ready.get("status") == "True":
            return
        if not await self.mark_pods_not_ready([pod], name):
            raise errors.StatusError(500, "InternalError", f"could not mark pod {key[0]}/{key[1]} not ready")

    # ---- NoSchedule taints ------------------------------------------------------------------
    async def do_no_schedule_tainting_pass(self, name: str) -> None:
        node = self.inf.nodes.get(None, name)
        if node is None:
            return
        add, remove = no_schedule_taint_diff(node)
        if add or remove:
            if not await patch_node_taints(self.client, node, add, remove, self.clock):
                log.warning("failed to swap NoSchedule taints of node %s", name)


def settings_from_config(cfg: Any) -> NodeLifecycleSettings:
    """Node lifecycle settings from `kubeling up`'s Config (defaults when a field is absent)."""
    s = NodeLifecycleSettings()
    if cfg is None:
        return s
    for name, attr in (("node_monitor_period", "node_monitor_period"),
                       ("node_monitor_grace_period", "node_monitor_grace_period"),
                       ("node_startup_grace_period", "node_startup_grace_period"),
                       ("eviction_qps", "node_eviction_rate")):
        v = getattr(cfg, attr, None)
        if v is not None:
            setattr(s, name, v)
    return s
