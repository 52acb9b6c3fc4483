"""DaemonSet controller: one pod per eligible node (upstream `pkg/controller/daemon`).

- A node is eligible when the pod the DaemonSet would put there fits its name, node selector,
  required node affinity and untolerated NoSchedule/NoExecute taints (`node_should_run`); a pod
  already there keeps running while it tolerates every NoExecute taint.
- Pods are created with `generateName: <ds>-`, the DaemonSet's default tolerations and a
  required node affinity `matchFields metadata.name In [<node>]`: the scheduler binds them.
- The template's revisions are ControllerRevisions (`history.py`); pods carry
  `controller-revision-hash` and `pod-template-generation`.
- RollingUpdate deletes old pods within `maxUnavailable` (or, with `maxSurge`, starts the new pod
  first and deletes the old one once the new one is available); OnDelete only replaces pods
  the user deleted.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any, Callable

from ..api import errors
from ..api.resources import lookup
from ..api.selectors import from_label_selector_object
from ..api.taints import tolerates
from ..client.controller import Controller, ControllerRefManager
from ..client.events import EventRecorder
from ..client.informer import (CONTROLLER_UID, ORPHANS_BY_NAMESPACE, add_owner_indexes, object_key, shared_informer,
                               split_key)
from ..client.rest import Client
from ..scheduler.framework import required_affinity_matches
from . import history, podcontrol, podutil
from .deployment.util import scaled_value
from .replicaset import slow_start_batch

log = logging.getLogger("kubeling.daemonset")

PODS = lookup("", "v1", "pods")
NODES = lookup("", "v1", "nodes")
DAEMONSETS = lookup("apps", "v1", "daemonsets")
assert PODS is not None and NODES is not None and DAEMONSETS is not None

TEMPLATE_GENERATION = "pod-template-generation"  # extensions.DaemonSetTemplateGenerationKey
BURST_REPLICAS = 250

Obj = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# pure parts
# ---------------------------------------------------------------------------------------------

_DEFAULT_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule"),
)


def with_default_tolerations(spec: Obj) -> list[Obj]:
    """AddOrUpdateDaemonPodTolerations: a daemon pod survives its node's conditions."""
    defaults = list(_DEFAULT_TOLERATIONS)
    if spec.get("hostNetwork"):
        defaults.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
    tols = list(spec.get("tolerations") or [])
    for key, effect in defaults:
        new = {"key": key, "operator": "Exists", "effect": effect}
        tols = [t for t in tols if not (t.get("key") == key and t.get("effect") == effect)] + [new]
    return tols


def node_affinity_for(affinity: Obj | None, node: str) -> Obj:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: the required node terms become "this node"."""
    out = copy.deepcopy(affinity or {})
    na = out.setdefault("nodeAffinity", {})
    req = na.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    req["nodeSelectorTerms"] = [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
    return out


def target_node(pod: Obj) -> str | None:
    """GetTargetNodeName: spec.nodeName, or the node of the affinity we set before binding."""
    name = (pod.get("spec") or {}).get("nodeName")
    if name:
        return name
    terms = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for t in terms:
        for f in t.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return f["values"][0]
    return None


def template_generation(ds: Obj) -> str:
    return str(ds["metadata"].get("generation") or 0)


def new_pod(ds: Obj, node: str, hash_: str) -> Obj:
    """The pod for `node`: template + owner + revision labels + node affinity + tolerations."""
    tpl = (ds.get("spec") or {}).get("template") or {}
    tmeta = tpl.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    labels[TEMPLATE_GENERATION] = template_generation(ds)
    labels[history.HASH_LABEL] = hash_
    meta: Obj = {"generateName": ds["metadata"]["name"] + "-", "namespace": ds["metadata"].get("namespace"),
                 "labels": labels, "ownerReferences": [podutil.new_controller_ref(ds, "apps/v1", "DaemonSet")]}
    for k in ("annotations", "finalizers"):
        if tmeta.get(k):
            meta[k] = copy.deepcopy(tmeta[k])
    spec = copy.deepcopy(tpl.get("spec") or {})
    spec["affinity"] = node_affinity_for(spec.get("affinity"), node)
    spec["tolerations"] = with_default_tolerations(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def _untolerated(taints: list[Obj], tolerations: list[Obj], effects: tuple[str, ...]) -> bool:
    return any(t.get("effect") in effects and not any(tolerates(x, t) for x in tolerations) for t in taints)


def node_should_run(node: Obj, ds: Obj, tolerations: list[Obj] | None = None) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (should run a pod there, may keep a pod already there).
    `tolerations` are the template's with the defaults, if the caller computed them already."""
    name = node["metadata"]["name"]
    spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    if spec.get("nodeName") and spec["nodeName"] != name:
        return False, False
    if not required_affinity_matches({"spec": spec}, node["metadata"].get("labels") or {}, name):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    if not taints:
        return True, True
    tols = tolerations if tolerations is not None else with_default_tolerations(spec)
    if _untolerated(taints, tols, ("NoSchedule", "NoExecute")):
        return False, not _untolerated(taints, tols, ("NoExecute",))
    return True, True


def is_pod_updated(pod: Obj, hash_: str, generation: str) -> bool:
    """IsPodUpdated: the pod has the current revision hash (or template generation)."""
    labels = pod["metadata"].get("labels") or {}
    return labels.get(history.HASH_LABEL) == hash_ or labels.get(TEMPLATE_GENERATION) == generation


def _by_age(pods: list[Obj]) -> list[Obj]:
    """podByCreationTimestampAndPhase: running first is not needed here; oldest first."""
    return sorted(pods, key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))


def updated_and_old(pods: list[Obj], hash_: str, generation: str) -> tuple[Obj | None, Obj | None, bool]:
    """findUpdatedPodsOnNode: (new pod, old pod, ok); not ok when a node has two of a kind."""
    new = old = None
    for p in pods:
        if p["metadata"].get("deletionTimestamp"):
            continue
        if is_pod_updated(p, hash_, generation):
            if new is not None:
                return None, None, False
            new = p
        else:
            if old is not None:
                return None, None, False
            old = p
    return new, old, True


def surge_and_unavailable(ds: Obj, desired: int) -> tuple[int, int]:
    """updatedDesiredNodeCounts: maxSurge and maxUnavailable scaled to desiredNumberScheduled
    (rounding up); both zero would stall the update, so maxUnavailable becomes 1."""
    ru = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    surge = scaled_value(ru.get("maxSurge", 0), desired, True)
    unavailable = scaled_value(ru.get("maxUnavailable", 1), desired, True)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def rolling_update_plan(ds: Obj, node_pods: dict[str, list[Obj]], wants: dict[str, bool],
                        hash_: str, now: float) -> tuple[list[Obj], list[str]]:
    """rollingUpdate (update.go): (old pods to delete, nodes to surge a new pod onto).

    `wants` is node name -> should run a daemon pod, for every node. 3 nodes, maxUnavailable 1,
    no surge: one old available pod is deleted per pass; the manage loop creates its replacement,
    and the next old pod goes only once that one is available. A node that should run a pod but
    has none (its old pod gone, the new one not yet seen) counts as unavailable, as upstream's
    updatedDesiredNodeCounts adds it to nodeToDaemonPods. With maxSurge 1: a new pod starts next
    to one old pod, which is deleted once the new is available.
    """
    gen = template_generation(ds)
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    desired = sum(wants.values())
    surge, max_unavailable = surge_and_unavailable(ds, desired)
    node_pods = {**{n: [] for n, run in wants.items() if run}, **node_pods}

    def should_run(node: str) -> bool:
        return wants.get(node, False)

    def available(p: Obj) -> bool:
        return podutil.is_pod_available(p, min_ready, now)

    if surge == 0:
        unavailable, allowed, candidates = 0, [], []
        for pods in node_pods.values():
            new, old, ok = updated_and_old(pods, hash_, gen)
            if not ok or (new is None) == (old is None):
                unavailable += 1
            elif new is not None:
                unavailable += not available(new)
            elif not available(old):  # type: ignore[arg-type]
                allowed.append(old)
            elif unavailable < max_unavailable:
                candidates.append(old)
        room = min(max(max_unavailable - unavailable, 0), len(candidates))
        return allowed + candidates[:room], []
    to_delete: list[Obj] = []
    not_running: list[Obj] = []
    allowed_nodes: list[str] = []
    candidate_nodes: list[str] = []
    surged = n_available = 0
    for node, pods in node_pods.items():
        new, old, ok = updated_and_old(pods, hash_, gen)
        if not ok:
            surged += 1
            continue
        if old is not None:
            n_available += available(old)
        elif new is not None:
            n_available += available(new)
        if old is None:
            continue
        if new is None:
            if not available(old):
                if not should_run(node):
                    to_delete.append(old)
                else:
                    allowed_nodes.append(node)
            elif not should_run(node):
                not_running.append(old)
            elif surged < surge:
                candidate_nodes.append(node)
        elif not available(new):
            surged += 1
        else:
            to_delete.append(old)
    deletable = min(max(n_available - desired, 0), len(not_running))
    to_delete += not_running[:deletable]
    room = min(max(surge - surged, 0), len(candidate_nodes))
    return to_delete, allowed_nodes + candidate_nodes[:room]


def eligibility(ds: Obj, nodes: list[Obj]) -> dict[str, tuple[bool, bool]]:
    """node name -> node_should_run, once per sync."""
    tols = with_default_tolerations(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    return {n["metadata"]["name"]: node_should_run(n, ds, tols) for n in nodes}


def calculate_status(ds: Obj, eligible: dict[str, tuple[bool, bool]], node_pods: dict[str, list[Obj]], hash_: str,
                     now: float) -> Obj:
    """updateDaemonSetStatus's counters over the nodes; the oldest pod of a node speaks for it."""
    gen = template_generation(ds)
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    desired = current = misscheduled = ready = available = updated = 0
    for name, (run, _) in eligible.items():
        pods = node_pods.get(name) or []
        if not run:
            misscheduled += bool(pods)
            continue
        desired += 1
        if not pods:
            continue
        current += 1
        pod = _by_age(pods)[0]
        if podutil.is_pod_ready(pod):
            ready += 1
            available += podutil.is_pod_available(pod, min_ready, now)
        updated += is_pod_updated(pod, hash_, gen)
    status = {k: v for k, v in (ds.get("status") or {}).items() if k in ("collisionCount", "conditions")}
    status.update(currentNumberScheduled=current, numberMisscheduled=misscheduled,
                  desiredNumberScheduled=desired, numberReady=ready)
    for key, value in (("updatedNumberScheduled", updated), ("numberAvailable", available),
                       ("numberUnavailable", desired - available)):
        if value:
            status[key] = value
    gen_ = ds["metadata"].get("generation")
    if gen_:
        status["observedGeneration"] = gen_
    return status


# ---------------------------------------------------------------------------------------------
# controller
# ---------------------------------------------------------------------------------------------


class DaemonSetController(Controller):
    def __init__(self, client: Client, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__("daemonset")
        self.client = client
        self.clock = clock
        self.expectations = podutil.Expectations()
        self.recorder = EventRecorder(client, "daemonset-controller")
        self.ds_informer = self.watch(shared_informer(client, DAEMONSETS), on_add=self._enqueue,
                                      on_update=lambda o, n: self._enqueue(n), on_delete=self._on_ds_delete)
        self.node_informer = self.watch(shared_informer(client, NODES), on_add=lambda n: self._enqueue_all(),
                                        on_update=self._on_node_update, on_delete=lambda n: self._enqueue_all())
        self.pod_informer = self.watch(shared_informer(client, PODS), on_add=self._on_pod_add,
                                       on_update=self._on_pod_update, on_delete=self._on_pod_delete)
        add_owner_indexes(self.pod_informer)
        self.rev_informer = self.watch(shared_informer(client, history.REVISIONS))
        add_owner_indexes(self.rev_informer)
        self.queue = self.add_queue("daemonset", self.reconcile, workers=2)
        self.pod_refs = ControllerRefManager(client, self.ds_informer, PODS)
        self.rev_refs = ControllerRefManager(client, self.ds_informer, history.REVISIONS)

    # ---- handlers ---------------------------------------------------------------------------
    def _enqueue(self, ds: Obj) -> None:
        self.queue.add(object_key(ds))

    def _enqueue_all(self) -> None:
        for ds in self.ds_informer.list():
            self._enqueue(ds)

    def _on_ds_delete(self, ds: Obj) -> None:
        self.expectations.delete(object_key(ds))
        self._enqueue(ds)

    def _on_node_update(self, old: Obj, cur: Obj) -> None:
        """shouldIgnoreNodeUpdate: only labels, taints and conditions change where pods go."""
        def relevant(n: Obj) -> Any:
            return (n["metadata"].get("labels"), (n.get("spec") or {}).get("taints"),
                    [(c.get("type"), c.get("status")) for c in (n.get("status") or {}).get("conditions") or []])
        if relevant(old) != relevant(cur):
            self._enqueue_all()

    def _owner_of(self, pod: Obj) -> Obj | None:
        return self.pod_refs.controller_of(pod)

    def _on_pod_add(self, pod: Obj) -> None:
        ds = self._owner_of(pod)
        if ds is not None:
            self.expectations.creation_observed(object_key(ds))
            self._enqueue(ds)
        elif podutil.controller_of(pod) is None:
            for ds in self.pod_refs.owners_selecting(pod):
                self._enqueue(ds)

    def _on_pod_update(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        for p in (old, cur):
            ds = self._owner_of(p)
            if ds is not None:
                self._enqueue(ds)
                min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
                if p is cur and min_ready and not podutil.is_pod_ready(old) and podutil.is_pod_ready(cur):
                    self.queue.add_after(object_key(ds), min_ready + 1)

    def _on_pod_delete(self, pod: Obj) -> None:
        ds = self._owner_of(pod)
        if ds is not None:
            self.expectations.deletion_observed(object_key(ds), object_key(pod))
            self._enqueue(ds)

    # ---- reconcile --------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        ds = self.ds_informer.get(ns, name)
        if ds is None:
            self.expectations.delete(key)
            return
        try:
            selector = from_label_selector_object((ds.get("spec") or {}).get("selector"))
        except errors.StatusError as e:
            log.warning("daemonset %s has an invalid selector: %s", key, e.message)
            return
        if selector.empty():
            return  # an empty selector would select every pod (upstream emits SelectingAll)
        nodes = self.node_informer.list()
        if ds["metadata"].get("deletionTimestamp"):
            return
        cur, old = await self._construct_history(ds, selector)
        if cur is None:
            return  # collision: collisionCount was bumped, the update requeues us
        hash_ = (cur["metadata"].get("labels") or {}).get(history.HASH_LABEL) or history.daemon_set_hash(ds)
        node_pods = await self._node_pods(ds, selector)
        eligible = eligibility(ds, nodes)
        if self.expectations.satisfied(key):
            await self._manage(ds, eligible, node_pods, hash_)
            strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate"
            if strategy == "RollingUpdate" and self.expectations.satisfied(key):  # manage's writes were all seen
                node_pods = await self._node_pods(ds, selector)  # as upstream's rollingUpdate: not the pre-manage view
                to_delete, surge_nodes = rolling_update_plan(
                    ds, node_pods, {n: run for n, (run, _) in eligible.items()}, hash_, self.clock())
                await self._sync_nodes(ds, to_delete, surge_nodes, hash_)
            await self._cleanup_history(ds, cur, old)
            node_pods = await self._node_pods(ds, selector)
        await self._update_status(ds, eligible, node_pods, hash_)

    async def _node_pods(self, ds: Obj, selector: Any) -> dict[str, list[Obj]]:
        """getNodesToDaemonPods: claimed pods by target node (terminal pods being deleted left out)."""
        inf = self.pod_informer
        candidates = inf.by_index(CONTROLLER_UID, ds["metadata"]["uid"]) + \
            inf.by_index(ORPHANS_BY_NAMESPACE, ds["metadata"].get("namespace") or "")
        labels_match = lambda p: selector.matches(p["metadata"].get("labels") or {})  # noqa: E731
        pods = await self.pod_refs.claim(ds, candidates, labels_match)
        out: dict[str, list[Obj]] = {}
        for p in pods:
            terminal = (p.get("status") or {}).get("phase") in ("Succeeded", "Failed")
            if terminal and p["metadata"].get("deletionTimestamp"):
                continue
            node = target_node(p)
            if node:
                out.setdefault(node, []).append(p)
        return out

    async def _manage(self, ds: Obj, eligible: dict[str, tuple[bool, bool]], node_pods: dict[str, list[Obj]],
                      hash_: str) -> None:
        """manage: a pod where one should run, none where none may run, one at most per node."""
        create: list[str] = []
        delete: list[Obj] = []
        surge = surge_and_unavailable(ds, 1)[0] > 0 and \
            ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        gen = template_generation(ds)
        now = self.clock()
        for name, (run, keep) in eligible.items():
            pods = node_pods.get(name) or []
            if run and not pods:
                create.append(name)
            elif keep:
                running = []
                for p in pods:
                    if p["metadata"].get("deletionTimestamp"):
                        continue
                    if (p.get("status") or {}).get("phase") == "Failed":
                        self.recorder.event(ds, "Warning", "FailedDaemonPod", f"Found failed daemon pod "
                                            f"{object_key(p)} on node {name}, will try to kill it")
                        delete.append(p)
                        continue
                    running.append(p)
                running = _by_age(running)
                if len(running) > 1 and not surge:
                    delete += running[1:]
                elif len(running) > 1:
                    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
                    delete += _surge_extras(running, hash_, gen, min_ready, now)
            elif pods:
                delete += [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        for name, pods in node_pods.items():  # pods targeting nodes that are gone
            if name not in eligible:
                delete += [p for p in pods if not p["metadata"].get("deletionTimestamp")
                           and not (p.get("spec") or {}).get("nodeName")]
        await self._sync_nodes(ds, delete, create, hash_)

    async def _sync_nodes(self, ds: Obj, delete: list[Obj], create: list[str], hash_: str) -> None:
        """syncNodes: create on `create` in slow-start batches, delete `delete`, within the burst."""
        key = object_key(ds)
        create, delete = create[:BURST_REPLICAS], delete[:BURST_REPLICAS]
        if not create and not delete:
            return
        self.expectations.expect(key, len(create), [object_key(p) for p in delete])
        todo = list(create)

        async def create_one() -> None:
            node = todo.pop(0)
            pod = new_pod(ds, node, hash_)
            try:
                made = await self.client.create(PODS, ds["metadata"].get("namespace"), pod)
            except errors.StatusError as e:
                self.expectations.creation_observed(key)
                if "is being terminated" in e.message:
                    return
                self.recorder.event(ds, "Warning", "FailedCreate", f"Error creating: {e.message}")
                raise
            self.recorder.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {made['metadata']['name']}")

        _, err = await slow_start_batch(len(create), 1, create_one)
        for _ in todo:  # never tried after a failed batch: the informer will not see these
            self.expectations.creation_observed(key)
        results = await asyncio.gather(*(podcontrol.delete_pod(self.client, self.recorder, self.expectations, ds, p) for p in delete), return_exceptions=True)
        errs = [r for r in results if isinstance(r, Exception)]
        if err is not None:
            raise err
        if errs:
            raise errs[0]

    # ---- history ----------------------------------------------------------------------------
    async def _construct_history(self, ds: Obj, selector: Any) -> tuple[Obj | None, list[Obj]]:
        """constructHistory: the current revision (created or renumbered) and the old ones."""
        inf = self.rev_informer
        candidates = inf.by_index(CONTROLLER_UID, ds["metadata"]["uid"]) + \
            inf.by_index(ORPHANS_BY_NAMESPACE, ds["metadata"].get("namespace") or "")
        revs = await self.rev_refs.claim(ds, candidates, lambda r: selector.matches(r["metadata"].get("labels") or {}))
        hash_ = history.daemon_set_hash(ds)
        current = [r for r in revs if (r["metadata"].get("labels") or {}).get(history.HASH_LABEL) == hash_
                   or history.data_equal(r, ds)]
        old = [r for r in revs if r not in current]
        next_rev = history.max_revision(old) + 1
        if not current:
            labels = dict((((ds.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})
            labels[history.HASH_LABEL] = hash_
            rev = history.new_revision(ds, "DaemonSet", history.revision_name(ds["metadata"]["name"], hash_),
                                       labels, next_rev)
            cur = await history.create_revision(self.client, rev)
            if cur is None:
                await self._bump_collision_count(ds)
            return cur, old
        current = history.sort_revisions(current)
        cur = current[-1]
        for dup in current[:-1]:  # dedupCurHistories (pods are relabelled by their next update)
            await self._delete_revision(dup)
        return await history.set_revision_number(self.client, cur, next_rev), old

    async def _delete_revision(self, rev: Obj) -> None:
        try:
            await self.client.delete(history.REVISIONS, rev["metadata"].get("namespace"), rev["metadata"]["name"])
        except errors.StatusError as e:
            if e.code != 404:
                raise

    async def _bump_collision_count(self, ds: Obj) -> None:
        cur = copy.deepcopy(ds)
        st = cur.setdefault("status", {})
        st["collisionCount"] = int(st.get("collisionCount") or 0) + 1
        await self.client.update_status(DAEMONSETS, cur)

    async def _cleanup_history(self, ds: Obj, cur: Obj, old: list[Obj]) -> None:
        """cleanupHistory: keep revisionHistoryLimit old revisions, and any a live pod still runs."""
        limit = int((ds.get("spec") or {}).get("revisionHistoryLimit", 10))
        if len(old) <= limit:
            return
        live = {(p["metadata"].get("labels") or {}).get(history.HASH_LABEL)
                for p in self.pod_informer.by_index(CONTROLLER_UID, ds["metadata"]["uid"])}
        keep = {cur["metadata"]["name"]} | {r["metadata"]["name"] for r in old
                                             if (r["metadata"].get("labels") or {}).get(history.HASH_LABEL) in live}
        await history.truncate(self.client, old, keep, limit)

    # ---- status -----------------------------------------------------------------------------
    async def _update_status(self, ds: Obj, eligible: dict[str, tuple[bool, bool]], node_pods: dict[str, list[Obj]],
                             hash_: str) -> None:
        status = calculate_status(ds, eligible, node_pods, hash_, self.clock())
        if status == (ds.get("status") or {}):
            return
        cur = copy.deepcopy(ds)
        cur["status"] = status
        try:
            await self.client.update_status(DAEMONSETS, cur)
        except errors.StatusError as e:
            if e.code not in (404, 409):
                raise
            if e.code == 409:
                self.queue.add_rate_limited(object_key(ds))
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready and status.get("numberAvailable", 0) != status["numberReady"]:
            self.queue.add_after(object_key(ds), min_ready)


def _surge_extras(running: list[Obj], hash_: str, gen: str, min_ready: int, now: float) -> list[Obj]:
    """With surge, two pods may share a node: the oldest new one, and the oldest old one while
    the new one is not yet available (and the old one still ready). All others go."""
    new = old = None
    extra = []
    for p in running:
        if is_pod_updated(p, hash_, gen):
            if new is None:
                new = p
                continue
        elif old is None:
            old = p
            continue
        extra.append(p)
    if new is not None and old is not None and \
            (not podutil.is_pod_ready(old) or podutil.is_pod_available(new, min_ready, now)):
        extra.append(old)
    return extra
