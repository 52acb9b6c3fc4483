"""ReplicaSet controller: keep `spec.replicas` active pods matching the selector, report status.

A port of upstream `pkg/controller/replicaset/replica_set.go`:
- pods are created from the template with `generateName: <rs>-` and a controller reference, in
  slow-start batches (1, 2, 4, ...) so a failing quota or admission stops after one error;
- surplus pods are picked by `podutil.pods_to_delete` (unscheduled, pending, not ready first);
- expectations keep a ReplicaSet from acting again until the informer has seen its own writes;
- orphans matching the selector are adopted, owned pods that stopped matching are released;
- status counts replicas, fullyLabeledReplicas, readyReplicas and availableReplicas
  (ready for minReadySeconds), with ReplicaFailure when creating or deleting fails.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any, Awaitable, Callable, Iterable

from ..api import errors
from ..api.resources import lookup
from ..api.selectors import from_label_selector_object, selector_from_set
from ..api.timestamps import parse_rfc3339, rfc3339
from ..client.events import EventRecorder
from ..client.controller import Controller, ControllerRefManager
from ..client.informer import (CONTROLLER_UID, ORPHANS_BY_NAMESPACE, add_owner_indexes, object_key, shared_informer,
                               split_key)
from ..client.rest import Client
from . import podcontrol, podutil

log = logging.getLogger("kubeling.replicaset")

PODS = lookup("", "v1", "pods")
REPLICASETS = lookup("apps", "v1", "replicasets")
assert PODS is not None and REPLICASETS is not None

BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1
STATUS_UPDATE_RETRIES = 1

Obj = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# pure parts
# ---------------------------------------------------------------------------------------------


def pod_from_template(rs: Obj, api_version: str = "apps/v1", kind: str = "ReplicaSet") -> Obj:
    """controller.GetPodFromTemplate: labels, annotations, finalizers and spec of the template."""
    tpl = (rs.get("spec") or {}).get("template") or {}
    tmeta = tpl.get("metadata") or {}
    meta: Obj = {"generateName": rs["metadata"]["name"] + "-", "namespace": rs["metadata"].get("namespace"),
                 "ownerReferences": [podutil.new_controller_ref(rs, api_version, kind)]}
    for k in ("labels", "annotations", "finalizers"):
        if tmeta.get(k):
            meta[k] = copy.deepcopy(tmeta[k])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(tpl.get("spec") or {})}


# What a sync needs to know about one pod: (active, matches the selector, matches the template's
# labels, Ready, lastTransitionTime of Ready, uid of its controller or None). `PodFacts`
# remembers it per pod version.
Facts = tuple[bool, bool, bool, bool, Any, Any]
Counts = tuple[int, int, int, int]


def pod_facts(pod: Obj, selector: Any, tpl_labels: Any) -> Facts:
    labels = pod["metadata"].get("labels") or {}
    cond = podutil.pod_ready_condition(pod)
    ready = cond is not None and cond.get("status") == "True"
    ref = podutil.controller_of(pod)
    return (podutil.is_pod_active(pod), selector.matches(labels), tpl_labels.matches(labels), ready,
            cond.get("lastTransitionTime") if ready and cond is not None else None,
            ref.get("uid") if ref is not None else None)


class PodFacts:
    """`pod_facts` computed once per pod version instead of once per pod per sync.

    A ReplicaSet of 10,000 pods is synced on every event of any of its pods, and every sync
    looks at all of them: without this, selector matching and condition scans dominate the
    controller. The informer replaces a pod's dict on every change, so the dict's identity is
    its version; the ReplicaSet's uid and generation stand for its selector and template.
    """

    def __init__(self) -> None:
        self._memo: dict[str, tuple[Obj, Any, Facts]] = {}

    def for_sync(self, rs: Obj, selector: Any, tpl_labels: Any) -> Callable[[Obj], Facts]:
        """The facts function of one sync of `rs`."""
        token = (rs["metadata"].get("uid"), rs["metadata"].get("generation"))
        memo = self._memo

        def facts(pod: Obj) -> Facts:
            uid = pod["metadata"].get("uid") or object_key(pod)
            hit = memo.get(uid)
            if hit is not None and hit[0] is pod and hit[1] == token:
                return hit[2]
            f = pod_facts(pod, selector, tpl_labels)
            memo[uid] = (pod, token, f)
            return f

        return facts

    def forget(self, pod: Obj) -> None:
        self._memo.pop(pod["metadata"].get("uid") or object_key(pod), None)


def template_selector(rs: Obj) -> Any:
    return selector_from_set((((rs.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels"))


def count_pods(pods: Iterable[Obj], facts: Callable[[Obj], Facts], min_ready: int, now: float) -> Counts:
    """(replicas, fullyLabeledReplicas, readyReplicas, availableReplicas) of claimed active pods."""
    replicas = fully = ready = available = 0
    for p in pods:
        _, _, labelled, is_ready, since, _ = facts(p)
        replicas += 1
        if labelled:
            fully += 1
        if is_ready:
            ready += 1
            if not min_ready:
                available += 1
            else:  # podutil.IsPodAvailable: ready for longer than minReadySeconds
                t = parse_rfc3339(since)
                if t is not None and t + min_ready < now:
                    available += 1
    return replicas, fully, ready, available


def calculate_status(rs: Obj, pods: list[Obj], manage_error: str | None, now: float,
                     facts: Callable[[Obj], Facts] | None = None) -> Obj:
    """calculateStatus: counts over the claimed active pods, and the ReplicaFailure condition."""
    if facts is None:
        tpl_labels = template_selector(rs)
        everything = from_label_selector_object({})
        facts = lambda p: pod_facts(p, everything, tpl_labels)  # noqa: E731
    min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
    return status_from_counts(rs, count_pods(pods, facts, min_ready, now), manage_error, now)


def status_from_counts(rs: Obj, counts: Counts, manage_error: str | None, now: float) -> Obj:
    spec = rs.get("spec") or {}
    status = copy.deepcopy(rs.get("status") or {})
    replicas, fully, ready, available = counts
    failure = next((c for c in status.get("conditions") or [] if c.get("type") == "ReplicaFailure"), None)
    if manage_error is not None and failure is None:
        diff = replicas - int(spec.get("replicas", 1))
        reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
        status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != "ReplicaFailure"] + [
            {"type": "ReplicaFailure", "status": "True", "lastTransitionTime": rfc3339(now),
             "reason": reason, "message": manage_error}]
    elif manage_error is None and failure is not None:
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        if conds:
            status["conditions"] = conds
        else:
            status.pop("conditions", None)
    status["replicas"] = replicas
    for key, value in (("fullyLabeledReplicas", fully), ("readyReplicas", ready), ("availableReplicas", available)):
        if value:
            status[key] = value
        else:
            status.pop(key, None)  # omitempty
    return status


class Tally:
    """A ReplicaSet's claimed active pods as of its last sync, with their counts kept up to date
    from the pods that changed since (see `ReplicaSetController.reconcile`)."""

    def __init__(self, token: Any) -> None:
        self.token = token  # (uid, generation) of the ReplicaSet it was built for
        self.facts: dict[str, Facts] = {}  # pod key -> facts
        self.replicas = self.fully = self.ready = 0

    def add(self, key: str, f: Facts) -> None:
        self.remove(key)
        self.facts[key] = f
        self.replicas += 1
        self.fully += f[2]
        self.ready += f[3]

    def remove(self, key: str) -> None:
        f = self.facts.pop(key, None)
        if f is not None:
            self.replicas -= 1
            self.fully -= f[2]
            self.ready -= f[3]

    def counts(self) -> Counts:
        """Only used without minReadySeconds, so available == ready."""
        return self.replicas, self.fully, self.ready, self.ready


def status_unchanged(rs: Obj, new_status: Obj) -> bool:
    """updateReplicaSetStatus's steady-state check."""
    old = rs.get("status") or {}
    return (all(int(old.get(k) or 0) == int(new_status.get(k) or 0)
                for k in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas"))
            and rs["metadata"].get("generation", 0) == int(old.get("observedGeneration") or 0)
            and (old.get("conditions") or []) == (new_status.get("conditions") or []))


async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[None]]) -> tuple[int, Exception | None]:
    """slowStartBatch: run fn count times in batches of 1, 2, 4, ...; stop after a batch with errors.

    Creating 10 pods under a quota that allows 2: batch 1 succeeds, batch 2 has one failure, so
    3 calls were made, not 10. Returns (successes, first error).
    """
    remaining, successes = count, 0
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errs = [r for r in results if isinstance(r, Exception)]
        successes += batch - len(errs)
        if errs:
            return successes, errs[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


# ---------------------------------------------------------------------------------------------
# controller
# ---------------------------------------------------------------------------------------------


class ReplicaSetController(Controller):
    def __init__(self, client: Client, *, burst_replicas: int = BURST_REPLICAS,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__("replicaset")
        self.client = client
        self.burst = burst_replicas
        self.clock = clock
        self.expectations = podutil.Expectations()
        self.recorder = EventRecorder(client, "replicaset-controller")
        self.rs_informer = self.watch(shared_informer(client, REPLICASETS),
                                      on_add=lambda o: self.queue.add(object_key(o)),
                                      on_update=self._on_rs_update, on_delete=self._on_rs_delete)
        self.pod_informer = shared_informer(client, PODS)
        self.watch(self.pod_informer, on_add=self._track, on_update=self._track, on_delete=self._track)
        self.watch(self.pod_informer, on_add=self._on_pod_add, on_update=self._on_pod_update,
                   on_delete=self._on_pod_delete)
        add_owner_indexes(self.pod_informer)
        self.queue = self.add_queue("replicaset", self.reconcile, workers=5)
        self.pod_refs = ControllerRefManager(client, self.rs_informer, PODS)
        self.facts = PodFacts()
        self._tallies: dict[str, Tally] = {}  # ReplicaSet key -> its claimed pods at the last sync
        self._touched: dict[str, set[str]] = {}  # controller uid -> keys of its pods changed since

    # ---- handlers ---------------------------------------------------------------------------
    def _on_rs_update(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("uid") != cur["metadata"].get("uid"):
            self._on_rs_delete(old)
        self.queue.add(object_key(cur))

    def _on_rs_delete(self, rs: Obj) -> None:
        key = object_key(rs)
        self.expectations.delete(key)
        if self.rs_informer.get_by_key(key) is None:
            self._tallies.pop(key, None)
            self._touched.pop(rs["metadata"].get("uid", ""), None)
        self.queue.add(key)

    def _on_pod_add(self, pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._on_pod_delete(pod)
            return
        ref = podutil.controller_of(pod)
        if ref is not None:
            rs = self.pod_refs.resolve(pod["metadata"].get("namespace"), ref)
            if rs is not None:
                key = object_key(rs)
                self.expectations.creation_observed(key)
                self.queue.add(key)
            return
        for rs in self.pod_refs.owners_selecting(pod):
            self.queue.add(object_key(rs))

    def _on_pod_update(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        labels_changed = (old["metadata"].get("labels") or {}) != (cur["metadata"].get("labels") or {})
        if cur["metadata"].get("deletionTimestamp"):
            self._on_pod_delete(cur)
            if labels_changed:
                self._on_pod_delete(old)
            return
        ns = cur["metadata"].get("namespace")
        cur_ref, old_ref = podutil.controller_of(cur), podutil.controller_of(old)
        ref_changed = (cur_ref or {}).get("uid") != (old_ref or {}).get("uid")
        if ref_changed and old_ref is not None:
            rs = self.pod_refs.resolve(ns, old_ref)
            if rs is not None:
                self.queue.add(object_key(rs))
        if cur_ref is not None:
            rs = self.pod_refs.resolve(ns, cur_ref)
            if rs is None:
                return
            self.queue.add(object_key(rs))
            min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not podutil.is_pod_ready(old) and podutil.is_pod_ready(cur):
                self.queue.add_after(object_key(rs), min_ready + 1)
            return
        if labels_changed or ref_changed:
            for rs in self.pod_refs.owners_selecting(cur):
                self.queue.add(object_key(rs))

    def _on_pod_delete(self, pod: Obj) -> None:
        cached = self.pod_informer.get(pod["metadata"].get("namespace"), pod["metadata"]["name"])
        if cached is None or cached["metadata"].get("uid") != pod["metadata"].get("uid"):
            self.facts.forget(pod)  # gone from the cache (not just terminating)
        ref = podutil.controller_of(pod)
        if ref is None:
            return
        rs = self.pod_refs.resolve(pod["metadata"].get("namespace"), ref)
        if rs is None:
            return
        key = object_key(rs)
        self.expectations.deletion_observed(key, object_key(pod))
        self.queue.add(key)

    # ---- reconcile --------------------------------------------------------------------------
    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        rs = self.rs_informer.get(ns, name)
        if rs is None:
            self.expectations.delete(key)
            return
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = from_label_selector_object((rs.get("spec") or {}).get("selector"))
        except errors.StatusError as e:
            log.warning("replicaset %s has an invalid selector: %s", key, e.message)
            return
        tpl_labels = template_selector(rs)
        of = self.facts.for_sync(rs, selector, tpl_labels)
        rs_uid = rs["metadata"]["uid"]
        touched = self._touched.pop(rs_uid, None)  # before reading the cache: later events count next time
        token = (rs_uid, rs["metadata"].get("generation"))
        want = int((rs.get("spec") or {}).get("replicas", 1))
        tally = self._tallies.get(key)
        manage = needs_sync and not rs["metadata"].get("deletionTimestamp")
        manage_error: str | None = None
        failure: Exception | None = None
        if (tally is not None and tally.token == token and not (rs.get("spec") or {}).get("minReadySeconds")
                and not rs["metadata"].get("deletionTimestamp")
                and not self._adoptable_orphans(ns, of)
                and self._apply_touched(tally, touched, rs_uid, of)
                and not (manage and tally.replicas > want)):
            # The claimed pods are known and only `touched` changed: no orphan to adopt, none of
            # ours to release, nothing to delete. This is the sync of every pod event of a big
            # ReplicaSet, and it costs O(changed pods) instead of O(pods).
            if manage:
                try:
                    await self._manage_replicas(rs, tally.replicas, lambda: [])  # never deletes here
                except errors.StatusError as e:
                    manage_error, failure = e.message, e
            new_status = status_from_counts(rs, tally.counts(), manage_error, self.clock())
        else:
            seen: dict[int, Facts] = {}  # this sync's pods (alive in `active`, so ids are stable)
            active = []
            for p in self._candidate_pods(rs):
                f = seen[id(p)] = of(p)
                if f[0]:  # FilterActivePods
                    active.append(p)

            def facts(p: Obj) -> Facts:
                f = seen.get(id(p))
                return f if f is not None else of(p)

            pods = await self._claim_pods(rs, active, facts)
            tally = self._tallies[key] = Tally(token)
            for p in pods:
                tally.add(object_key(p), facts(p))
            if manage:
                try:
                    await self._manage_replicas(rs, len(pods), lambda: pods)
                except errors.StatusError as e:
                    manage_error, failure = e.message, e
            new_status = calculate_status(rs, pods, manage_error, self.clock(), facts)
        updated = await self._update_status(rs, new_status)
        spec = updated.get("spec") or {}
        st = updated.get("status") or {}
        want = int(spec.get("replicas", 1))
        min_ready = int(spec.get("minReadySeconds") or 0)
        if (failure is None and min_ready > 0 and int(st.get("readyReplicas") or 0) == want
                and int(st.get("availableReplicas") or 0) != want):
            self.queue.add_after(key, min_ready)
        if failure is not None:
            raise failure

    def _track(self, *pods: Obj) -> None:
        """Pod handler: note the pod under the uid of its controller, before and after the change."""
        for pod in pods:
            ref = podutil.controller_of(pod)
            if ref is not None and ref.get("uid"):
                self._touched.setdefault(ref["uid"], set()).add(object_key(pod))

    def _adoptable_orphans(self, ns: str | None, facts: Callable[[Obj], Facts]) -> bool:
        """Is there an active pod without a controller in the namespace that matches the selector?"""
        return any(f[0] and f[1] for f in map(facts, self.pod_informer.by_index(ORPHANS_BY_NAMESPACE, ns or "")))

    def _apply_touched(self, tally: Tally, touched: set[str] | None, rs_uid: str,
                       facts: Callable[[Obj], Facts]) -> bool:
        """Bring `tally` up to date with the pods that changed; False if a full claim is needed
        (a pod of ours stopped matching the selector and must be released)."""
        for k in touched or ():
            tally.remove(k)
            pod = self.pod_informer.get_by_key(k)
            if pod is None:
                continue
            f = facts(pod)
            if f[5] != rs_uid or not f[0]:  # not ours (any more), or not active
                continue
            if not f[1]:
                return False
            tally.add(k, f)
        return True

    def _candidate_pods(self, rs: Obj) -> list[Obj]:
        """The pods ClaimPods can keep or adopt: the ones this ReplicaSet controls and the orphans
        of its namespace (pods controlled by someone else are skipped anyway). Read from
        indexes: a sync costs O(own pods), not O(pods in the namespace)."""
        inf = self.pod_informer
        return inf.by_index(CONTROLLER_UID, rs["metadata"]["uid"]) + \
            inf.by_index(ORPHANS_BY_NAMESPACE, rs["metadata"].get("namespace") or "")

    async def _claim_pods(self, rs: Obj, pods: list[Obj], facts: Callable[[Obj], Facts]) -> list[Obj]:
        """ControllerRefManager.ClaimPods, reading "matches the selector" and the controller uid
        from the pods' memoized facts."""
        return await self.pod_refs.claim(rs, pods, lambda p: facts(p)[1], ref_uid=lambda p: facts(p)[5])

    async def _manage_replicas(self, rs: Obj, count: int, pods: Callable[[], list[Obj]]) -> None:
        """Create or delete pods so that `count` claimed active pods become spec.replicas
        (`pods()` lists them; only needed to pick pods to delete)."""
        key = object_key(rs)
        want = int((rs.get("spec") or {}).get("replicas", 1))
        diff = count - want
        if diff < 0:
            n = min(-diff, self.burst)
            self.expectations.expect_creations(key, n)

            async def create_one() -> None:
                await self._create_pod(rs)

            successes, err = await slow_start_batch(n, SLOW_START_INITIAL_BATCH, create_one)
            for _ in range(n - successes):  # the informer will never see these
                self.expectations.creation_observed(key)
            if err is not None:
                raise err
        elif diff > 0:
            n = min(diff, self.burst)
            victims = podutil.pods_to_delete(pods(), self._related_pods(rs), n, self.clock())
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])
            results = await asyncio.gather(*(podcontrol.delete_pod(self.client, self.recorder, self.expectations, rs, p) for p in victims), return_exceptions=True)
            errs = [r for r in results if isinstance(r, Exception)]
            if errs:
                raise errs[0]

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """getIndirectlyRelatedPods: pods of every ReplicaSet that shares this one's controller."""
        ns = rs["metadata"].get("namespace")
        owner = podutil.controller_of(rs)
        rs_uids = {rs["metadata"]["uid"]}
        if owner is not None:
            for other in self.rs_informer.list(ns):
                o = podutil.controller_of(other)
                if o is not None and o.get("uid") == owner.get("uid"):
                    rs_uids.add(other["metadata"]["uid"])
        return [p for uid in rs_uids for p in self.pod_informer.by_index(CONTROLLER_UID, uid)]

    async def _create_pod(self, rs: Obj) -> None:
        pod = pod_from_template(rs)
        if not (pod["metadata"].get("labels")):
            raise errors.StatusError(422, "Invalid", "unable to create pods, no labels")
        try:
            created = await self.client.create(PODS, rs["metadata"].get("namespace"), pod)
        except errors.StatusError as e:
            if "is being terminated" in e.message:  # NamespaceTerminatingCause: nothing to do
                self.expectations.creation_observed(object_key(rs))
                return
            self.recorder.event(rs, "Warning", "FailedCreate", f"Error creating: {e.message}")
            raise
        self.recorder.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _update_status(self, rs: Obj, new_status: Obj) -> Obj:
        if status_unchanged(rs, new_status):
            return rs
        new_status = dict(new_status)
        gen = rs["metadata"].get("generation")
        if gen:
            new_status["observedGeneration"] = gen
        cur = copy.deepcopy(rs)
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            cur["status"] = new_status
            try:
                return await self.client.update_status(REPLICASETS, cur)
            except errors.StatusError as e:
                if e.code == 404:
                    return rs
                if e.code != 409 or attempt >= STATUS_UPDATE_RETRIES:
                    raise
            cur = await self.client.get(REPLICASETS, rs["metadata"].get("namespace"), rs["metadata"]["name"])
        return rs
