"""The CRD server inside the API server: serves what CustomResourceDefinitions define.

Upstream splits this between the naming controller (NamesAccepted, acceptedNames), the
establishing controller (Established), the crdHandler (serving) and the finalizer controller
(`customresourcecleanup.apiextensions.k8s.io`: a deleted CRD's objects go first). Here one
`sync` converges all of it from the stored CRDs: it is called after every CRD write the API
answers (so a created CRD is served before its response reaches the client) and by a watch on
the CRD prefix (so a CRD written by any other path converges too). The apiserver owns the
store, so it reads and writes it directly.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..api import crd, customresource, errors, resources
from ..api.resources import Resource
from ..store.base import Entry, KeyNotFound, RevisionConflict

log = logging.getLogger("kubeling.apiserver.crds")

CRDS = resources.lookup(crd.GROUP, "v1", "customresourcedefinitions")
assert CRDS is not None


def _conflict(spec: dict[str, Any], taken: dict[tuple[str, str], str], built_in: set[tuple[str, str]]) -> str:
    """The naming controller's message when a name is already in use in the group."""
    names = spec.get("names") or {}
    group = spec.get("group", "")
    checks = [("plural", names.get("plural")), ("singular", names.get("singular"))]
    checks += [("shortNames", s) for s in names.get("shortNames") or []]
    for what, value in checks:
        if value and ((group, value) in taken or (group, value) in built_in):
            return f'"{value}" is already in use'
    for what in ("kind", "listKind"):
        v = names.get(what)
        if v and (group, "kind:" + v) in taken:
            return f'"{v}" is already in use'
    return ""


class CRDServer:
    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self.store = registry.store
        self._lock = asyncio.Lock()
        self._built_in = {(r.group, r.plural) for r in resources.RESOURCES}
        # compiled rows per CRD uid, for the generation they were compiled from (status writes
        # do not change it, so most syncs compile nothing)
        self._compiled: dict[str, tuple[int, list[Resource]]] = {}

    async def sync(self) -> None:
        async with self._lock:
            await self._sync()

    async def _sync(self) -> None:
        entries, _ = self.store.list(CRDS.prefix(None))
        entries.sort(key=lambda e: e.create_rev)  # the older CRD keeps a contested name
        taken: dict[tuple[str, str], str] = {}
        rows: list[Resource] = []
        for e in entries:
            obj = e.obj()
            spec = obj.get("spec") or {}
            meta = obj["metadata"]
            if meta.get("deletionTimestamp"):
                await self._clean_up(e)
                continue
            conflict = _conflict(spec, taken, self._built_in)
            await self._write_status(e, conflict)
            if conflict:
                continue
            names, group = spec.get("names") or {}, spec.get("group", "")
            for v in (names.get("plural"), names.get("singular"), *(names.get("shortNames") or [])):
                if v:
                    taken[(group, v)] = meta["name"]
            for v in (names.get("kind"), names.get("listKind")):
                if v:
                    taken[(group, "kind:" + v)] = meta["name"]
            rows += self._rows(obj)
        live = {e.obj()["metadata"].get("uid") for e in entries}
        for uid in [u for u in self._compiled if u not in live]:
            del self._compiled[uid]
        if resources.install_custom(tuple(rows)):
            log.info("serving %d custom resource versions", len(rows))

    def _rows(self, obj: dict[str, Any]) -> list[Resource]:
        meta = obj["metadata"]
        uid, generation = meta.get("uid", ""), meta.get("generation", 0)
        hit = self._compiled.get(uid)
        if hit is not None and hit[0] == generation:
            return hit[1]
        try:
            rows = customresource.rows(obj)
        except Exception:  # a schema we cannot compile must not stop the others being served
            log.exception("CRD %s: cannot serve", meta["name"])
            rows = []
        self._compiled[uid] = (generation, rows)
        return rows

    async def _write_status(self, e: Entry, conflict: str) -> None:
        obj = e.copy()
        status = crd.status_for(obj, conflict, self.registry.now())
        if _strip_times(status) == _strip_times(obj.get("status") or {}):
            return
        obj["status"] = status
        try:
            await self.store.update(e.key, obj, e.mod_rev)
        except (RevisionConflict, KeyNotFound):
            pass  # a newer write: the watch brings it back here

    async def _clean_up(self, e: Entry) -> None:
        """The finalizer controller: delete every object of the CRD, then drop the finalizer."""
        obj = e.copy()
        spec = obj.get("spec") or {}
        prefix = f"/registry/{spec.get('group', '')}/{(spec.get('names') or {}).get('plural', '')}/"
        items, _ = self.store.list(prefix)
        for item in items:
            try:
                await self.store.delete(item.key, item.mod_rev)
            except (RevisionConflict, KeyNotFound):
                pass
        meta = obj["metadata"]
        fins = [f for f in meta.get("finalizers") or [] if f != crd.CLEANUP_FINALIZER]
        try:
            if fins:
                meta["finalizers"] = fins
                await self.store.update(e.key, obj, e.mod_rev)
            else:
                await self.store.delete(e.key, e.mod_rev)
        except (RevisionConflict, KeyNotFound):
            pass

    async def run(self) -> None:
        """Watch the CRDs and converge on every change (until cancelled)."""
        while True:
            rev = self.store.revision
            await self.sync()
            w = self.store.watch(CRDS.prefix(None), rev)
            try:
                async for _ in w.events():
                    await self.sync()
            finally:
                self.store.unwatch(w)


async def ensure_builtin(registry: Any, crd_obj: dict[str, Any]) -> None:
    """Install a CRD kubeling ships (the Rollout kind): create it, or update it when the stored
    one differs (an older kubeling's schema), so a restart converges on the code's definition."""
    from .registry import WriteOptions

    opts = WriteOptions(field_manager="kube-apiserver")
    name = crd_obj["metadata"]["name"]
    stored = registry.store.get(CRDS.key(None, name))
    if stored is None:
        try:
            await registry.create(CRDS, None, crd_obj, opts)
            return
        except errors.StatusError as e:
            if e.code != 409:
                raise
            stored = registry.store.get(CRDS.key(None, name))
            if stored is None:
                return
    cur = stored.copy()
    want_spec = {**crd_obj["spec"], "conversion": (cur.get("spec") or {}).get("conversion") or {"strategy": "None"}}
    want_labels = {**(cur["metadata"].get("labels") or {}), **crd_obj["metadata"].get("labels", {})}
    if cur.get("spec") == want_spec and cur["metadata"].get("labels") == want_labels:
        return
    cur["spec"], cur["metadata"]["labels"] = want_spec, want_labels
    await registry.update(CRDS, None, name, cur, opts, current=stored)


def _strip_times(status: dict[str, Any]) -> Any:
    conds = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or []]
    return {**status, "conditions": conds}
