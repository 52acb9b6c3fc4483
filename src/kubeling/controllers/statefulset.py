"""StatefulSet controller (upstream `pkg/controller/statefulset`): pods with stable names
`<set>-<ordinal>`, stable network identity (hostname = pod name, subdomain = the governing
Service) and stable storage (one PVC per volumeClaimTemplate and ordinal, kept when the pod goes).

One pass of `sync` (stateful_set_control.go updateStatefulSet):
1. the update revision (a ControllerRevision of the template) and the current one;
2. every ordinal in [start, start+replicas) gets a pod: failed pods are recreated, missing PVCs
   created, missing pods created from the current or the update revision (below the partition,
   the current one); with OrderedReady each step waits for the previous pod to be Running and
   Ready, with Parallel it does not;
3. pods beyond the range are deleted, highest ordinal first (their PVCs are kept, or deleted
   when `persistentVolumeClaimRetentionPolicy.whenScaled` is Delete);
4. RollingUpdate deletes out-of-date pods from the highest ordinal down to the partition, at
   most `maxUnavailable` unhealthy at a time; OnDelete leaves that to the user;
5. the status: replicas, ready/available/current/updated counts, revisions, observedGeneration.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from typing import Any, Callable

from ..api import errors
from ..api.resources import lookup
from ..api.selectors import from_label_selector_object
from ..client.controller import Controller, ControllerRefManager, WriteExpectations
from ..client.events import EventRecorder
from ..client.informer import (CONTROLLER_UID, ORPHANS_BY_NAMESPACE, add_owner_indexes, object_key, shared_informer,
                               split_key)
from ..client.rest import Client
from . import history, podutil
from .deployment.util import scaled_value

log = logging.getLogger("kubeling.statefulset")

PODS = lookup("", "v1", "pods")
PVCS = lookup("", "v1", "persistentvolumeclaims")
STATEFULSETS = lookup("apps", "v1", "statefulsets")
assert PODS is not None and PVCS is not None and STATEFULSETS is not None

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"

Obj = dict[str, Any]

# ---------------------------------------------------------------------------------------------
# pure parts (stateful_set_utils.go)
# ---------------------------------------------------------------------------------------------


def spec_of(o: Obj) -> Obj:
    return o.get("spec") or {}


def start_ordinal(sts: Obj) -> int:
    return int((spec_of(sts).get("ordinals") or {}).get("start") or 0)


def replicas(sts: Obj) -> int:
    return int(spec_of(sts).get("replicas", 1))


def ordinal_of(sts: Obj, pod: Obj) -> int | None:
    """getParentNameAndOrdinal: the ordinal of `<set>-<n>`, None for a pod not named so."""
    m = re.fullmatch(r"(.*)-([0-9]+)", pod["metadata"]["name"])
    if m is None or m.group(1) != sts["metadata"]["name"]:
        return None
    return int(m.group(2))


def claim_name(sts: Obj, template_name: str, ordinal: int) -> str:
    return f"{template_name}-{sts['metadata']['name']}-{ordinal}"


def claims_for(sts: Obj, ordinal: int) -> dict[str, Obj]:
    """getPersistentVolumeClaims: template name -> the PVC of this ordinal (labels: the claim
    template's plus the set's matchLabels)."""
    out = {}
    match = (spec_of(sts).get("selector") or {}).get("matchLabels") or {}
    for tpl in spec_of(sts).get("volumeClaimTemplates") or []:
        claim = copy.deepcopy(tpl)
        meta = claim.setdefault("metadata", {})
        tname = meta.get("name", "")
        meta["name"] = claim_name(sts, tname, ordinal)
        meta["namespace"] = sts["metadata"].get("namespace")
        meta["labels"] = {**(meta.get("labels") or {}), **match}
        claim.pop("status", None)
        claim.update(apiVersion="v1", kind="PersistentVolumeClaim")
        out[tname] = claim
    return out


def new_pod(sts: Obj, revision: Obj, ordinal: int) -> Obj:
    """newVersionedStatefulSetPod: the template of `revision` (applied to the set), named for
    the ordinal, with its identity (hostname, subdomain, labels) and its claims as volumes."""
    tpl = spec_of(revision_set(sts, revision)).get("template") or {}
    tmeta = tpl.get("metadata") or {}
    name = f"{sts['metadata']['name']}-{ordinal}"
    labels = {**(tmeta.get("labels") or {}), history.HASH_LABEL: revision["metadata"]["name"],
              POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal)}
    meta: Obj = {"name": name, "namespace": sts["metadata"].get("namespace"), "labels": labels,
                 "ownerReferences": [podutil.new_controller_ref(sts, "apps/v1", "StatefulSet")]}
    for k in ("annotations", "finalizers"):
        if tmeta.get(k):
            meta[k] = copy.deepcopy(tmeta[k])
    spec = copy.deepcopy(tpl.get("spec") or {})
    spec["hostname"] = name
    if spec_of(sts).get("serviceName"):
        spec["subdomain"] = spec_of(sts)["serviceName"]
    claims = claims_for(sts, ordinal)
    vols = [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    vols += [{"name": t, "persistentVolumeClaim": {"claimName": c["metadata"]["name"]}} for t, c in claims.items()]
    if vols:
        spec["volumes"] = vols
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def revision_set(sts: Obj, revision: Obj) -> Obj:
    """ApplyRevision: the set with the revision's template."""
    out = copy.deepcopy(sts)
    tpl = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    tpl.pop("$patch", None)
    (tpl.get("metadata") or {}).pop("creationTimestamp", None)
    out.setdefault("spec", {})["template"] = tpl
    return out


def pod_revision(pod: Obj) -> str:
    return (pod["metadata"].get("labels") or {}).get(history.HASH_LABEL, "")


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_running_and_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and podutil.is_pod_ready(pod)


def is_healthy(pod: Obj, min_ready: int, now: float) -> bool:
    """Running, Ready for minReadySeconds, and not on its way out."""
    return is_running_and_ready(pod) and not is_terminating(pod) and podutil.is_pod_available(pod, min_ready, now)


def is_finished(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")


def update_strategy(sts: Obj) -> tuple[str, int, int]:
    """(type, partition, maxUnavailable) of spec.updateStrategy."""
    us = spec_of(sts).get("updateStrategy") or {}
    ru = us.get("rollingUpdate") or {}
    max_unavailable = max(scaled_value(ru.get("maxUnavailable", 1), replicas(sts), False), 1)
    return us.get("type") or "RollingUpdate", int(ru.get("partition") or 0), max_unavailable


def calculate_status(sts: Obj, pods: list[Obj], current: Obj, update: Obj, now: float) -> Obj:
    """The counters of updateStatefulSet, and completeRollingUpdate: once every replica runs the
    update revision and is ready, it becomes the current revision."""
    min_ready = int(spec_of(sts).get("minReadySeconds") or 0)
    cur_name, upd_name = current["metadata"]["name"], update["metadata"]["name"]
    n = ready = available = cur = upd = 0
    for p in pods:
        if is_terminating(p):
            continue
        n += 1
        if is_running_and_ready(p):
            ready += 1
            available += podutil.is_pod_available(p, min_ready, now)
        cur += pod_revision(p) == cur_name
        upd += pod_revision(p) == upd_name
    status: Obj = {"replicas": n, "availableReplicas": available,
                   "collisionCount": int((sts.get("status") or {}).get("collisionCount") or 0)}
    if sts["metadata"].get("generation"):
        status["observedGeneration"] = sts["metadata"]["generation"]
    if update_strategy(sts)[0] == "RollingUpdate" and upd == ready == n == replicas(sts):
        cur_name, cur = upd_name, upd
    for key, value in (("readyReplicas", ready), ("currentReplicas", cur), ("updatedReplicas", upd),
                       ("currentRevision", cur_name), ("updateRevision", upd_name)):
        if value:
            status[key] = value
    conds = (sts.get("status") or {}).get("conditions")
    if conds:
        status["conditions"] = conds
    return status


# ---------------------------------------------------------------------------------------------
# controller
# ---------------------------------------------------------------------------------------------


class StatefulSetController(Controller):
    def __init__(self, client: Client, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__("statefulset")
        self.client = client
        self.clock = clock
        self.recorder = EventRecorder(client, "statefulset-controller")
        self.sts_informer = self.watch(shared_informer(client, STATEFULSETS), on_add=self._enqueue,
                                       on_update=lambda o, n: self._enqueue(n), on_delete=self._on_delete)
        self.pod_informer = self.watch(shared_informer(client, PODS), on_add=self._on_pod,
                                       on_update=self._on_pod_update, on_delete=self._on_pod_delete)
        add_owner_indexes(self.pod_informer)
        self.rev_informer = self.watch(shared_informer(client, history.REVISIONS))
        add_owner_indexes(self.rev_informer)
        self.pvc_informer = self.watch(shared_informer(client, PVCS))
        self.queue = self.add_queue("statefulset", self.reconcile, workers=2)
        self.pod_refs = ControllerRefManager(client, self.sts_informer, PODS)
        self.rev_refs = ControllerRefManager(client, self.sts_informer, history.REVISIONS)
        self.expectations = WriteExpectations(self.pod_informer)

    # ---- handlers ---------------------------------------------------------------------------
    def _enqueue(self, sts: Obj) -> None:
        self.queue.add(object_key(sts))

    def _on_delete(self, sts: Obj) -> None:
        self.expectations.forget(object_key(sts))
        self._enqueue(sts)

    def _on_pod(self, pod: Obj) -> None:
        sts = self.pod_refs.controller_of(pod)
        if sts is not None:
            self._enqueue(sts)
        elif podutil.controller_of(pod) is None:
            for sts in self.pod_refs.owners_selecting(pod):
                self._enqueue(sts)

    def _on_pod_delete(self, pod: Obj) -> None:
        sts = self.pod_refs.controller_of(pod)
        if sts is not None:
            self.expectations.deleted(object_key(sts), pod)
        self._on_pod(pod)

    def _on_pod_update(self, old: Obj, cur: Obj) -> None:
        self._on_pod(old)
        self._on_pod(cur)
        sts = self.pod_refs.controller_of(cur)
        min_ready = int(spec_of(sts).get("minReadySeconds") or 0) if sts else 0
        if sts is not None and min_ready and not podutil.is_pod_ready(old) and podutil.is_pod_ready(cur):
            self.queue.add_after(object_key(sts), min_ready + 1)

    # ---- reconcile --------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        sts = self.sts_informer.get(ns, name)
        if sts is None:
            self.expectations.forget(key)
            return
        try:
            selector = from_label_selector_object(spec_of(sts).get("selector"))
        except errors.StatusError as e:
            log.warning("statefulset %s has an invalid selector: %s", key, e.message)
            return
        if selector.empty() or not self.expectations.satisfied(key):
            return  # our own writes not seen yet: their events requeue us
        match = lambda o: selector.matches(o["metadata"].get("labels") or {})  # noqa: E731
        revs = await self.rev_refs.claim(sts, self._candidates(self.rev_informer, sts), match)
        current, update = await self._revisions(sts, revs)
        if update is None:
            return
        pods = await self.pod_refs.claim(sts, self._candidates(self.pod_informer, sts),
                                         lambda p: match(p) and ordinal_of(sts, p) is not None)
        if not sts["metadata"].get("deletionTimestamp"):
            await self._sync(sts, pods, current, update)
        pods = [p for p in self.pod_informer.by_index(CONTROLLER_UID, sts["metadata"]["uid"])]
        status = calculate_status(sts, pods, current, update, self.clock())
        await self._update_status(sts, status)
        keep = {status.get("currentRevision"), status.get("updateRevision")} | {pod_revision(p) for p in pods}
        limit = int(spec_of(sts).get("revisionHistoryLimit", 10))
        await history.truncate(self.client, [r for r in revs if r["metadata"]["name"] not in keep],
                               set(), limit)

    @staticmethod
    def _candidates(inf: Any, sts: Obj) -> list[Obj]:
        return inf.by_index(CONTROLLER_UID, sts["metadata"]["uid"]) + \
            inf.by_index(ORPHANS_BY_NAMESPACE, sts["metadata"].get("namespace") or "")

    async def _revisions(self, sts: Obj, revs: list[Obj]) -> tuple[Obj, Obj | None]:
        """getStatefulSetRevisions: the update revision (an equal old one renumbered, or a new
        one) and the current one (status.currentRevision, or the update revision)."""
        revs = history.sort_revisions(revs)
        next_rev = history.max_revision(revs) + 1
        equal = [r for r in revs if history.data_equal(r, sts)]
        if equal and equal[-1] is revs[-1]:
            update: Obj | None = revs[-1]
        elif equal:
            update = await history.set_revision_number(self.client, equal[-1], next_rev)
        else:
            collisions = (sts.get("status") or {}).get("collisionCount")
            data = history.patch_bytes(sts)
            name = history.revision_name(sts["metadata"]["name"], history.hash_revision_data(data, collisions))
            labels = dict(((spec_of(sts).get("template") or {}).get("metadata") or {}).get("labels") or {})
            update = await history.create_revision(self.client, history.new_revision(sts, "StatefulSet", name,
                                                                                       labels, next_rev))
            if update is None:
                await self._bump_collision_count(sts)
                return {}, None
        cur_name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revs if r["metadata"]["name"] == cur_name), None) or update
        return current, update

    async def _bump_collision_count(self, sts: Obj) -> None:
        cur = copy.deepcopy(sts)
        st = cur.setdefault("status", {})
        st["collisionCount"] = int(st.get("collisionCount") or 0) + 1
        await self.client.update_status(STATEFULSETS, cur)

    async def _sync(self, sts: Obj, pods: list[Obj], current: Obj, update: Obj) -> None:
        """updateStatefulSet: create, recreate, condemn and update pods; see the module docstring."""
        start, n = start_ordinal(sts), replicas(sts)
        monotonic = spec_of(sts).get("podManagementPolicy", "OrderedReady") != "Parallel"
        min_ready = int(spec_of(sts).get("minReadySeconds") or 0)
        now = self.clock()
        strategy, partition, max_unavailable = update_strategy(sts)
        by_ord: dict[int, Obj] = {}
        condemned: list[Obj] = []
        for p in pods:
            o = ordinal_of(sts, p)
            if o is not None and start <= o < start + n:
                by_ord[o] = p
            elif o is not None:
                condemned.append(p)
        condemned.sort(key=lambda p: -(ordinal_of(sts, p) or 0))
        for o in range(start, start + n):
            pod = by_ord.get(o)
            if pod is not None and is_finished(pod) and not is_terminating(pod):
                self.recorder.event(sts, "Warning", "RecreatingFailedPod" if pod["status"]["phase"] == "Failed"
                                    else "RecreatingTerminatedPod",
                                    f"StatefulSet {object_key(sts)} is recreating {pod['status']['phase'].lower()} "
                                    f"Pod {pod['metadata']['name']}")
                await self._delete_pod(sts, pod)
                if monotonic:
                    return
                continue
            if pod is None:
                rev = current if strategy == "RollingUpdate" and o < start + partition else update
                await self._create_claims(sts, o)
                await self._create_pod(sts, new_pod(sts, rev, o))
                if monotonic:
                    return
                continue
            if is_terminating(pod) and monotonic:
                return
            if monotonic and not is_healthy(pod, min_ready, now):
                return
            await self._create_claims(sts, o)  # storage identity: a deleted PVC comes back
        for pod in condemned:
            if is_terminating(pod):
                if monotonic:
                    return
                continue
            if monotonic and not is_running_and_ready(pod) and pod is not condemned[0]:
                return
            await self._release_claims_on_scale_down(sts, pod)
            await self._delete_pod(sts, pod)
            if monotonic:
                return
        if strategy != "RollingUpdate":
            return
        upd_name = update["metadata"]["name"]
        unavailable = sum(1 for o in range(start + partition, start + n)
                          if o in by_ord and not is_healthy(by_ord[o], min_ready, now))
        for o in range(start + n - 1, start + partition - 1, -1):
            pod = by_ord.get(o)
            if pod is None:
                return
            if pod_revision(pod) != upd_name and not is_terminating(pod):
                if unavailable >= max_unavailable and is_healthy(pod, min_ready, now):
                    return
                self.recorder.event(sts, "Normal", "SuccessfulDelete",
                                    f"delete Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} "
                                    "successful")
                await self._delete_pod(sts, pod, event=False)
                unavailable += is_healthy(pod, min_ready, now)
                if unavailable >= max_unavailable:
                    return
            elif not is_healthy(pod, min_ready, now) and max_unavailable == 1:
                return  # wait for this one to be healthy before touching the next

    # ---- writes -----------------------------------------------------------------------------
    async def _create_claims(self, sts: Obj, ordinal: int) -> None:
        """createPersistentVolumeClaims: the claims of this ordinal that do not exist yet, owned
        by the set when `whenDeleted: Delete` (the garbage collector then removes them with it)."""
        policy = spec_of(sts).get("persistentVolumeClaimRetentionPolicy") or {}
        for claim in claims_for(sts, ordinal).values():
            ns, name = claim["metadata"]["namespace"], claim["metadata"]["name"]
            if self.pvc_informer.get(ns, name) is not None:
                continue
            if policy.get("whenDeleted") == "Delete":
                claim["metadata"]["ownerReferences"] = [podutil.new_controller_ref(sts, "apps/v1", "StatefulSet")]
            pod_name = f"{sts['metadata']['name']}-{ordinal}"
            try:
                await self.client.create(PVCS, ns, claim)
            except errors.StatusError as e:
                if e.code == 409:
                    continue
                self.recorder.event(sts, "Warning", "FailedCreate",
                                    f"create Claim {name} for Pod {pod_name} in StatefulSet {sts['metadata']['name']} "
                                    f"failed error: {e.message}")
                raise
            self.recorder.event(sts, "Normal", "SuccessfulCreate",
                                f"create Claim {name} Pod {pod_name} in StatefulSet {sts['metadata']['name']} success")

    async def _release_claims_on_scale_down(self, sts: Obj, pod: Obj) -> None:
        """`whenScaled: Delete`: the condemned pod owns its claims, so they go with it
        (updateClaimOwnerRefForSetAndPod)."""
        policy = spec_of(sts).get("persistentVolumeClaimRetentionPolicy") or {}
        if policy.get("whenScaled") != "Delete":
            return
        pod_ref = {"apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}
        drop = sts["metadata"]["uid"] if policy.get("whenDeleted") == "Delete" else None  # the pod's alone
        ordinal = ordinal_of(sts, pod)
        assert ordinal is not None
        for claim in claims_for(sts, ordinal).values():
            cur = self.pvc_informer.get(claim["metadata"]["namespace"], claim["metadata"]["name"])
            if cur is None:
                continue
            old = cur["metadata"].get("ownerReferences") or []
            refs = [r for r in old if r.get("uid") != drop]
            if not any(r.get("uid") == pod_ref["uid"] for r in refs):
                refs.append(pod_ref)
            if refs == old:
                continue
            try:  # an update, as upstream (the controller's role grants update on claims, not patch)
                await self.client.update(PVCS, {**cur, "metadata": {**cur["metadata"], "ownerReferences": refs}})
            except errors.StatusError as e:
                if e.code != 404:
                    raise

    async def _create_pod(self, sts: Obj, pod: Obj) -> None:
        key = object_key(sts)
        try:
            made = await self.client.create(PODS, sts["metadata"].get("namespace"), pod)
        except errors.StatusError as e:
            if e.code == 409:
                return
            self.recorder.event(sts, "Warning", "FailedCreate",
                                f"create Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} "
                                f"failed error: {e.message}")
            raise
        self.expectations.wrote(key, made)
        self.recorder.event(sts, "Normal", "SuccessfulCreate",
                            f"create Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} successful")

    async def _delete_pod(self, sts: Obj, pod: Obj, *, event: bool = True) -> None:
        meta = pod["metadata"]
        try:
            gone = await self.client.delete(PODS, meta.get("namespace"), meta["name"],
                                            preconditions={"uid": meta["uid"]})
        except errors.StatusError as e:
            if e.code in (404, 409):
                return
            self.recorder.event(sts, "Warning", "FailedDelete",
                                f"delete Pod {meta['name']} in StatefulSet {sts['metadata']['name']} failed error: "
                                f"{e.message}")
            raise
        terminating = isinstance(gone, dict) and gone.get("kind") == "Pod" and \
            bool((gone.get("metadata") or {}).get("deletionTimestamp"))
        if terminating:  # wait to see it terminating, not for it to be gone (Parallel goes on)
            self.expectations.wrote(object_key(sts), gone)
        else:
            self.expectations.deleting(object_key(sts), pod)
        if event:
            self.recorder.event(sts, "Normal", "SuccessfulDelete",
                                f"delete Pod {meta['name']} in StatefulSet {sts['metadata']['name']} successful")

    async def _update_status(self, sts: Obj, status: Obj) -> None:
        if status == (sts.get("status") or {}):
            return
        cur = copy.deepcopy(sts)
        cur["status"] = status
        try:
            await self.client.update_status(STATEFULSETS, cur)
        except errors.StatusError as e:
            if e.code == 409:
                self.queue.add_rate_limited(object_key(sts))
            elif e.code != 404:
                raise
        min_ready = int(spec_of(sts).get("minReadySeconds") or 0)
        if min_ready and status.get("availableReplicas", 0) != status.get("readyReplicas", 0):
            self.queue.add_after(object_key(sts), min_ready)
