"""Garbage collector: ownerReferences, cascading deletion and the orphan / foreground finalizers.

Same contract as upstream's pkg/controller/garbagecollector:
- a dependent whose owners are all gone is deleted (background propagation);
- an owner being deleted with the `orphan` finalizer first has its ownerReferences removed from
  every dependent, then loses the finalizer;
- an owner being deleted with `foregroundDeletion` has its dependents deleted first (those with
  blockOwnerDeletion hold it), then loses the finalizer.
Absence of an owner is confirmed with a live GET before anything is deleted, because the informer
caches lag behind the API server.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from ..api import errors
from ..api.resources import RESOURCES, Resource, by_kind
from ..client.controller import Controller
from ..client.informer import Informer, shared_informer
from ..client.rest import Client

log = logging.getLogger("kubeling.gc")

CRDS = by_kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
assert CRDS is not None

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"

# Kinds whose objects never own or depend on anything worth watching.
_SKIP = {("", "Event"), ("events.k8s.io", "Event"), ("", "Binding"), ("coordination.k8s.io", "Lease")}


def _watched() -> list[Resource]:
    """One version per stored kind (the first in the table), if it supports list+watch."""
    seen: set[str] = set()
    out = []
    for r in RESOURCES:
        if "watch" not in r.verbs or (r.group, r.kind) in _SKIP or r.storage_prefix in seen:
            continue
        seen.add(r.storage_prefix)
        out.append(r)
    return out


def _resource_for(api_version: str, kind: str) -> Resource | None:
    group, _, version = api_version.rpartition("/")
    return by_kind(group, version, kind)


class GarbageCollector(Controller):
    def __init__(self, client: Client) -> None:
        super().__init__("garbage-collector")
        self.client = client
        self.by_uid: dict[str, tuple[Resource, dict[str, Any]]] = {}
        self.dependents: dict[str, set[str]] = defaultdict(set)  # owner uid -> dependent uids
        self.informers: dict[str, Informer] = {
            res.storage_prefix: self.watch(shared_informer(client, res), on_add=lambda o, r=res: self._index(r, o),
                                           on_update=lambda old, new, r=res: self._index(r, new),
                                           on_delete=self._forget)
            for res in _watched()}
        self.queue = self.add_queue("garbagecollector", self.reconcile, workers=2)
        # custom resources own and depend like any kind: one informer per CRD, started and
        # stopped as CRDs come and go (upstream's GC follows discovery the same way)
        self.custom: dict[str, tuple[Informer, asyncio.Task[None]]] = {}
        self.watch(shared_informer(client, CRDS), on_add=self._crd_seen,
                   on_update=lambda old, new: self._crd_seen(new), on_delete=self._crd_gone)
        self.on_stop(lambda: [t.cancel() for _, t in self.custom.values()])

    # ---- custom resources -----------------------------------------------------------------
    @staticmethod
    def _custom_resource(crd: dict[str, Any]) -> Resource | None:
        """The CRD's resource in its first served version (None while it is not established)."""
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        served = [v.get("name") for v in spec.get("versions") or () if v.get("served")]
        established = any(c.get("type") == "Established" and c.get("status") == "True"
                          for c in (crd.get("status") or {}).get("conditions") or ())
        if not served or not established or crd["metadata"].get("deletionTimestamp"):
            return None
        return Resource(spec.get("group", ""), served[0], names.get("kind", ""), names.get("plural", ""),
                        namespaced=spec.get("scope") != "Cluster")

    def _crd_seen(self, crd: dict[str, Any]) -> None:
        res = self._custom_resource(crd)
        if res is None:
            self._crd_gone(crd)
            return
        if res.storage_prefix in self.custom:
            return
        informer = Informer(self.client, res)
        informer.add_handlers(on_add=lambda o, r=res: self._index(r, o),
                              on_update=lambda old, new, r=res: self._index(r, new), on_delete=self._forget)
        task = asyncio.get_running_loop().create_task(informer.run(), name=f"garbage-collector-informer-{res.plural}")
        self.custom[res.storage_prefix] = (informer, task)

    def _crd_gone(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        prefix = f"/registry/{spec.get('group', '')}/{(spec.get('names') or {}).get('plural', '')}/"
        entry = self.custom.pop(prefix, None)
        if entry is not None:
            entry[1].cancel()

    # ---- graph ----------------------------------------------------------------------------
    def _index(self, res: Resource, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        uid = meta.get("uid")
        if not uid:
            return
        old = self.by_uid.get(uid)
        old_refs = (old[1]["metadata"].get("ownerReferences") or []) if old is not None else []
        refs = meta.get("ownerReferences") or []
        for ref in old_refs:
            self.dependents[ref["uid"]].discard(uid)
        self.by_uid[uid] = (res, obj)
        for ref in refs:
            self.dependents[ref["uid"]].add(uid)
        # Like upstream's graph builder, only changes that can change a decision cause work (a
        # ReplicaSet's status update must not re-check its 10,000 pods): a new object, changed
        # owner references (the old and new owners too: one deleting in the foreground may be
        # waiting for this reference to go), and anything about an object being deleted (its
        # dependents then have to be orphaned or deleted).
        being_deleted = bool(meta.get("deletionTimestamp"))
        if old is None or being_deleted or refs != old_refs:
            self.queue.add(uid)
        if refs != old_refs and old is not None:
            for ref in old_refs + refs:
                self.queue.add(ref["uid"])
        if being_deleted:
            for dep in self.dependents.get(uid, ()):
                self.queue.add(dep)

    def _forget(self, obj: dict[str, Any]) -> None:
        uid = obj["metadata"].get("uid")
        if not uid:
            return
        self.by_uid.pop(uid, None)
        for ref in obj["metadata"].get("ownerReferences") or []:
            self.dependents[ref["uid"]].discard(uid)
            self.queue.add(ref["uid"])  # a foreground owner may be waiting for this one
        for dep in self.dependents.get(uid, ()):
            self.queue.add(dep)

    # ---- reconcile ------------------------------------------------------------------------
    async def reconcile(self, uid: str) -> None:
        item = self.by_uid.get(uid)
        if item is None:
            return
        res, obj = item
        meta = obj["metadata"]
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp"):
            if ORPHAN in finalizers:
                await self._orphan_dependents(uid)
                await self._remove_finalizer(res, obj, ORPHAN)
                return
            if FOREGROUND in finalizers:
                await self._delete_dependents_foreground(uid, res, obj)
                return
        refs = meta.get("ownerReferences") or []
        if not refs:
            return
        alive, waiting_foreground = [], []
        for ref in refs:
            state = await self._owner_state(meta.get("namespace"), ref)
            if state == "absent":
                continue
            alive.append(ref)
            if state == "foreground":
                waiting_foreground.append(ref)
        if not alive:
            await self._delete(res, obj, "Background")
        elif len(alive) == len(waiting_foreground):
            await self._delete(res, obj, "Foreground")
        elif len(alive) < len(refs):
            # some owners are gone: drop the dangling references, keep the object
            gone = {r["uid"] for r in refs} - {r["uid"] for r in alive}
            await self._patch_refs(res, obj, gone)

    async def _owner_state(self, namespace: str | None, ref: dict[str, Any]) -> str:
        """'present', 'foreground' (being deleted in foreground) or 'absent' (confirmed by the API)."""
        cached = self.by_uid.get(ref["uid"])
        if cached is not None:
            m = cached[1]["metadata"]
            if m.get("deletionTimestamp") and FOREGROUND in (m.get("finalizers") or []):
                return "foreground"
            return "present"
        owner_res = _resource_for(ref.get("apiVersion", ""), ref.get("kind", ""))
        if owner_res is None:
            return "present"  # unknown kind: never delete on a guess
        try:
            live = await self.client.get(owner_res, namespace if owner_res.namespaced else None, ref["name"])
        except errors.StatusError as e:
            if e.code == 404:
                return "absent"
            raise
        if live["metadata"].get("uid") != ref["uid"]:
            return "absent"
        m = live["metadata"]
        if m.get("deletionTimestamp") and FOREGROUND in (m.get("finalizers") or []):
            return "foreground"
        return "present"

    async def _delete(self, res: Resource, obj: dict[str, Any], propagation: str) -> None:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return
        log.info("deleting %s %s/%s (owners gone)", res.kind, meta.get("namespace", ""), meta["name"])
        try:
            await self.client.delete(res, meta.get("namespace"), meta["name"], propagation=propagation,
                                     preconditions={"uid": meta["uid"]})
        except errors.StatusError as e:
            if e.code not in (404, 409):
                raise

    async def _patch_refs(self, res: Resource, obj: dict[str, Any], drop: set[str]) -> None:
        meta = obj["metadata"]
        refs = [r for r in meta.get("ownerReferences") or [] if r["uid"] not in drop]
        patch = {"metadata": {"ownerReferences": refs or None, "uid": meta["uid"]}}
        try:
            await self.client.patch(res, meta.get("namespace"), meta["name"], patch, patch_type="merge")
        except errors.StatusError as e:
            if e.code != 404:
                raise

    async def _orphan_dependents(self, owner_uid: str) -> None:
        for dep_uid in list(self.dependents.get(owner_uid, ())):
            item = self.by_uid.get(dep_uid)
            if item is not None:
                await self._patch_refs(item[0], item[1], {owner_uid})

    async def _delete_dependents_foreground(self, owner_uid: str, res: Resource, obj: dict[str, Any]) -> None:
        blocking = 0
        for dep_uid in list(self.dependents.get(owner_uid, ())):
            item = self.by_uid.get(dep_uid)
            if item is None:
                continue
            dres, dep = item
            ref = next((r for r in dep["metadata"].get("ownerReferences") or [] if r["uid"] == owner_uid), {})
            if ref.get("blockOwnerDeletion"):
                blocking += 1
            if not dep["metadata"].get("deletionTimestamp"):
                await self._delete(dres, dep, "Foreground")
        if blocking == 0:
            await self._remove_finalizer(res, obj, FOREGROUND)

    async def _remove_finalizer(self, res: Resource, obj: dict[str, Any], finalizer: str) -> None:
        meta = obj["metadata"]
        for _ in range(5):
            try:
                live = await self.client.get(res, meta.get("namespace"), meta["name"])
            except errors.StatusError as e:
                if e.code == 404:
                    return
                raise
            fins = live["metadata"].get("finalizers") or []
            if finalizer not in fins:
                return
            live["metadata"]["finalizers"] = [f for f in fins if f != finalizer]
            try:
                await self.client.update(res, live)
                return
            except errors.StatusError as e:
                if e.code == 404:
                    return
                if e.code != 409:
                    raise
