"""Object semantics over the store: what create, update, patch and delete mean.

This is upstream's generic registry (`k8s.io/apiserver/pkg/registry/generic/registry/store.go`)
plus the admission steps that every write goes through: namespace lifecycle, defaulting,
validation, managedFields, generation, graceful deletion and finalizers. It knows nothing about
HTTP, so the in-process client and the REST handlers share it.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson
from multidict import MultiDict, MultiDictProxy, MultiMapping

from ..api import conversion, errors, strategy, typed
from ..api.apply.managed import update_managed_fields
from ..api.conversion import CONVERTIBLE_KINDS
from ..api.resources import Resource, lookup
from ..api.timestamps import rfc3339
from ..api.validation.field import invalid_error
from ..api.validation.meta import validate_delete_options
from ..store.base import Entry, KeyExists, KeyNotFound, RevisionConflict
from .admission import Chain
from .names import new_uid, random_suffix
from .query import query_bool

CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"
NAMESPACES = lookup("", "v1", "namespaces")
assert NAMESPACES is not None

_SERVER_SET_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


_now_cache: list = [0, ""]


def now_rfc3339() -> str:
    """Current time in RFC 3339 seconds (cached per second: it is on every write's path)."""
    sec = int(time.time())
    if _now_cache[0] != sec:
        _now_cache[0] = sec
        _now_cache[1] = rfc3339(sec)
    return _now_cache[1]


def object_rv(rv: Any) -> int:
    """storage.APIObjectVersioner.ObjectResourceVersion: metadata.resourceVersion as a uint64, ""
    being 0. An update with 0 is unconditional (every kind here AllowUnconditionalUpdate), so
    `kubectl replace` of an object read at rv "0" is not a Conflict. What does not parse is the
    strconv error upstream's store returns as is: a 500 without a reason."""
    text = "" if rv is None else str(rv)
    if not text:
        return 0
    if text.isascii() and text.isdigit():
        if int(text) < 1 << 64:
            return int(text)
        why = "value out of range"
    else:
        why = "invalid syntax"
    raise errors.StatusError(500, "", f"strconv.ParseUint: parsing {orjson.dumps(text).decode()}: {why}")


def stale(rv: Any, cur: Entry) -> bool:
    """Whether a write pinned to `rv` must fail with a Conflict against the stored `cur`."""
    n = object_rv(rv)
    return n != 0 and n != cur.mod_rev


def _rv_set_on_create(rv: Any) -> bool:
    """etcd3 store.Create: `err == nil && version != 0` (an rv that does not parse is ignored)."""
    try:
        return object_rv(rv) != 0
    except errors.StatusError:
        return False


def view(res: Resource, entry: Entry) -> dict[str, Any]:
    """The stored object as `res`'s version sees it (shared, read-only)."""
    if res.custom is not None:
        obj = entry.obj()
        return obj if obj.get("apiVersion") == res.api_version else {**obj, "apiVersion": res.api_version}
    if res.kind not in CONVERTIBLE_KINDS:
        return entry.obj()
    return conversion.convert(entry.obj(), res.api_version)


def encoded(res: Resource, entry: Entry) -> bytes:
    """JSON bytes of the object in `res`'s version: the stored bytes unless a conversion applies."""
    if (res.kind not in CONVERTIBLE_KINDS and res.custom is None) or entry.obj().get("apiVersion") == res.api_version:
        return entry.value
    return orjson.dumps(view(res, entry))


def to_storage(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` in its kind's storage version (upstream encodes every write to it: HPAs as
    autoscaling/v2, events.k8s.io Events as core Events), so one stored shape serves every
    version: reads in the storage version send the stored bytes as they are."""
    version = res.strategy.storage_version
    if version is None or obj.get("apiVersion") == version:
        return obj
    if res.custom is not None:  # conversion None: only apiVersion changes
        return {**obj, "apiVersion": version}
    return conversion.convert(obj, version)


def copy_view(res: Resource, entry: Entry) -> dict[str, Any]:
    """A private, mutable copy of the object in `res`'s version."""
    return orjson.loads(encoded(res, entry))


NO_QUERY: MultiMapping[str] = MultiDictProxy(MultiDict())  # a DELETE without query parameters


@dataclass
class WriteOptions:
    """What a request says about a write besides its body."""

    dry_run: bool = False
    field_manager: str = ""
    user_agent: str = ""
    subresource: str = ""
    warnings: list[str] = field(default_factory=list)

    def manager(self) -> str:
        """Upstream defaults the manager to the user agent's program name (`kubectl`, `python`)."""
        if self.field_manager:
            return self.field_manager
        ua = self.user_agent.split("/", 1)[0] if self.user_agent else "unknown"
        return ua or "unknown"


@dataclass
class DeleteOptions:
    grace_period: int | None = None
    propagation: str | None = None  # Background | Foreground | Orphan
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False

    @classmethod
    def from_body(cls, body: Any, query: MultiMapping[str] = NO_QUERY) -> "DeleteOptions":
        """Options of a DELETE from its body (None: no body; else decoded as a v1.DeleteOptions first,
        so `[]` or `"x"` is upstream's 400) or its query, validated as ValidateDeleteOptions (422)."""
        if body is not None:
            try:
                typed.decode("", "v1", "DeleteOptions", body)
            except typed.Mismatch as e:  # handlers/delete.go: the decoder's error as a BadRequest
                raise errors.bad_request(e.message()) from None
        body = body or {}
        opts = cls()
        gp = body.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        if gp is not None:
            try:
                opts.grace_period = int(gp)
            except ValueError:
                raise errors.bad_request(f"invalid gracePeriodSeconds: {gp!r}") from None
        opts.propagation = body.get("propagationPolicy") or query.get("propagationPolicy")
        if body.get("orphanDependents") is True or query_bool(query, "orphanDependents"):
            opts.propagation = opts.propagation or "Orphan"
        pre = body.get("preconditions", {})
        opts.precondition_uid = pre.get("uid")
        opts.precondition_rv = pre.get("resourceVersion")
        dry = body.get("dryRun") or query.getall("dryRun", [])
        causes = validate_delete_options(opts.propagation, dry)
        if causes:
            raise invalid_error("DeleteOptions", "", "meta.k8s.io", causes)
        opts.dry_run = "All" in dry
        return opts


class Registry:
    """Generic CRUD with Kubernetes semantics for every resource in the table."""

    def __init__(self, store: Any, now: Callable[[], str] = now_rfc3339, admission: Chain | None = None) -> None:
        self.store = store
        self.now = now
        self.admission = admission or Chain([])

    # ---- reads --------------------------------------------------------------------------
    def get(self, res: Resource, namespace: str | None, name: str) -> Entry:
        e = self.store.get(res.key(namespace, name))
        if e is None:
            raise errors.not_found(res.plural, name, res.group)
        return e

    def list(self, res: Resource, namespace: str | None) -> tuple[list[Entry], int]:
        return self.store.list(res.prefix(namespace))

    # ---- admission helpers -----------------------------------------------------------------
    def _check_namespace(self, res: Resource, namespace: str | None, name: str) -> None:
        """NamespaceLifecycle admission: the namespace must exist and not be terminating."""
        if not res.namespaced:
            return
        ns = self.store.get(NAMESPACES.key(None, namespace or ""))
        if ns is None:
            raise errors.not_found("namespaces", namespace or "")
        if ns.obj().get("metadata", {}).get("deletionTimestamp") or ns.obj().get("status", {}).get("phase") == "Terminating":
            raise errors.forbidden(
                res.plural, name, res.group,
                f"unable to create new content in namespace {namespace} because it is being terminated")

    def _validate(self, res: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        causes = res.strategy.check(obj, old, res.version, res.namespaced)
        if causes:
            raise errors.invalid(res.kind, obj.get("metadata", {}).get("name", ""), res.group, causes)

    def _managed(self, res: Resource, old: dict[str, Any] | None, new: dict[str, Any], opts: WriteOptions) -> None:
        new.setdefault("metadata", {})["managedFields"] = update_managed_fields(
            old, new, opts.manager(), res.api_version, self.now(), opts.subresource)
        if not new["metadata"]["managedFields"]:
            del new["metadata"]["managedFields"]

    def _dry_entry(self, key: str, obj: dict[str, Any], base: Entry | None) -> Entry:
        rev = base.mod_rev if base else 0
        if base:
            obj["metadata"]["resourceVersion"] = str(rev)
        else:
            obj["metadata"].pop("resourceVersion", None)
        return Entry(key, orjson.dumps(obj), rev, base.create_rev if base else 0, obj)

    # ---- create ----------------------------------------------------------------------------
    def prepare_new(self, res: Resource, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        """Kind checks and metadata rules shared by create and create-on-apply (the body is typed:
        apiserver/decoding.py ran first)."""
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request was in an unknown format")
        self._check_type(res, obj)
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"][:58] + random_suffix()
        if not meta.get("name"):
            raise errors.invalid(res.kind, "", res.group, [errors.field_cause(
                "FieldValueRequired", "metadata.name", "metadata.name: Required value: name or generateName is required")])
        for k in _SERVER_SET_META:
            meta.pop(k, None)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = self.now()
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        return obj

    def _check_type(self, res: Resource, obj: dict[str, Any]) -> None:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != res.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")
        if api_version and api_version != res.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({res.api_version})")

    async def create(self, res: Resource, namespace: str | None, obj: dict[str, Any], opts: WriteOptions) -> Entry:
        obj = self.prepare_new(res, namespace, obj)
        self._check_namespace(res, namespace, obj["metadata"]["name"])
        return await self.insert(res, obj, opts)

    async def insert(self, res: Resource, obj: dict[str, Any], opts: WriteOptions,
                     managed_fields: list[dict[str, Any]] | None = None) -> Entry:
        """The create pipeline after metadata is set: defaults → strategy → admission →
        validation → managedFields (computed, or given by server-side apply) → store."""
        meta = obj["metadata"]
        name, namespace = meta["name"], meta.get("namespace")
        res.strategy.default(obj, res.version)
        res.strategy.prepare(obj)
        key = res.key(namespace, name)
        if self.store.get(key) is not None:
            raise errors.already_exists(res.plural, name, res.group)
        # managedFields record the request, before admission fills in allocations (as upstream)
        if managed_fields is None:
            self._managed(res, None, obj, opts)
        else:
            meta["managedFields"] = managed_fields
        self.admission.admit_create(self, res, obj, opts.dry_run)
        try:
            await self.admission.call_webhooks(self, res, obj, None, opts.dry_run, mutating=True)
            self._validate(res, obj, None)
            await self.admission.call_webhooks(self, res, obj, None, opts.dry_run, mutating=False)
            if opts.dry_run:
                return self._dry_entry(key, obj, None)
            if _rv_set_on_create(meta.get("resourceVersion")):  # a plain error of the etcd3 store: 500
                raise errors.StatusError(500, "", "resourceVersion should not be set on objects to be created")
            try:
                return await self.store.create(key, to_storage(res, obj))
            except KeyExists:
                raise errors.already_exists(res.plural, name, res.group) from None
        except BaseException:
            self.admission.after_delete(self, res, obj)  # release what admission allocated
            raise

    # ---- update ----------------------------------------------------------------------------
    def merge_for_update(self, res: Resource, old: dict[str, Any], new: dict[str, Any], subresource: str) -> dict[str, Any]:
        """Keep what a write may not change: server-set metadata, and spec or status by subresource."""
        self._check_type(res, new)
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        if meta.get("name") and meta["name"] != old_meta["name"]:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({old_meta['name']})")
        if res.namespaced and meta.get("namespace") and meta["namespace"] != old_meta.get("namespace"):
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["name"] = old_meta["name"]
        if res.namespaced:
            meta["namespace"] = old_meta["namespace"]
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        if subresource == "status":
            # upstream status strategies: everything but status (and metadata) comes from the old
            # object; metadata is taken from the write except what the kind's strategy pins
            merged = {k: copy.deepcopy(v) for k, v in old.items() if k not in ("status", "metadata")}
            if "status" in new:
                merged["status"] = new["status"]
            merged["metadata"] = meta
            for k in res.strategy.status_pinned:
                if k in old_meta:
                    meta[k] = copy.deepcopy(old_meta[k])
                else:
                    meta.pop(k, None)
            merged["apiVersion"], merged["kind"] = res.api_version, res.kind
            return merged
        if res.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if res.strategy.generation and strategy.spec_changed(old, new):
            meta["generation"] = old_meta.get("generation", 1) + 1
        return new

    async def update(
        self, res: Resource, namespace: str | None, name: str, new: dict[str, Any], opts: WriteOptions,
        *, current: Entry | None = None, managed_fields: list[dict[str, Any]] | None = None,
    ) -> Entry:
        """PUT semantics (also the last step of patch and apply): optimistic concurrency on
        resourceVersion. Server-side apply passes the managedFields its merge computed."""
        cur = current or self.get(res, namespace, name)
        old = view(res, cur)
        if not isinstance(new, dict):
            raise errors.bad_request("the body of the request was in an unknown format")
        if stale((new.get("metadata") or {}).get("resourceVersion"), cur):
            raise errors.conflict(res.plural, name, res.group)
        new = self.merge_for_update(res, old, new, opts.subresource)
        res.strategy.default(new, res.version)
        self.admission.admit_update(self, res, old, new, opts.dry_run)
        await self.admission.call_webhooks(self, res, new, old, opts.dry_run, mutating=True)
        self._validate(res, new, old)
        await self.admission.call_webhooks(self, res, new, old, opts.dry_run, mutating=False)
        if managed_fields is None:
            self._managed(res, old, new, opts)
        else:
            new["metadata"]["managedFields"] = managed_fields
        return await self._write(res, cur, new, opts)

    async def _write(self, res: Resource, cur: Entry, new: dict[str, Any], opts: WriteOptions) -> Entry:
        old = view(res, cur)
        if _same(old, new) and not self.store.stale(cur.key):
            return cur  # a no-op write changes nothing, not even the resourceVersion (unless an old key encrypted it)
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not self._has_finalizers(res, new) and not self._awaits_grace(res, new):
            if opts.dry_run:
                return self._dry_entry(cur.key, new, cur)
            return await self._delete_now(res, cur)
        if opts.dry_run:
            return self._dry_entry(cur.key, new, cur)
        try:
            return await self.store.update(cur.key, to_storage(res, new), cur.mod_rev)
        except RevisionConflict:
            raise errors.conflict(res.plural, meta["name"], res.group) from None
        except KeyNotFound:
            raise errors.not_found(res.plural, meta["name"], res.group) from None

    @staticmethod
    def _has_finalizers(res: Resource, obj: dict[str, Any]) -> bool:
        """Namespaces also wait for `spec.finalizers` (emptied by the namespace controller)."""
        if obj["metadata"].get("finalizers"):
            return True
        return res.kind == "Namespace" and res.group == "" and bool((obj.get("spec") or {}).get("finalizers"))

    def _awaits_grace(self, res: Resource, obj: dict[str, Any]) -> bool:
        """A pod being gracefully deleted stays until the kubelet deletes it with grace 0."""
        return res.kind == "Pod" and res.group == "" and bool(obj["metadata"].get("deletionGracePeriodSeconds"))

    async def guaranteed_update(
        self, res: Resource, namespace: str | None, name: str,
        mutate: Callable[[dict[str, Any], Entry], dict[str, Any]], opts: WriteOptions, retries: int = 5,
        *, keep_managed_fields: bool = False,
    ) -> Entry:
        """Read, mutate, write; retry on conflicts the caller did not ask for (like GuaranteedUpdate).
        With keep_managed_fields the mutation's own managedFields are stored (server-side apply)."""
        for attempt in range(retries):
            cur = self.get(res, namespace, name)
            new = mutate(copy_view(res, cur), cur)
            mf = new.get("metadata", {}).get("managedFields") if keep_managed_fields else None
            try:
                return await self.update(res, namespace, name, new, opts, current=cur, managed_fields=mf)
            except errors.StatusError as e:
                pinned = stale((new.get("metadata") or {}).get("resourceVersion"), cur)
                if e.reason != "Conflict" or pinned or attempt == retries - 1 or self.get(res, namespace, name).mod_rev == cur.mod_rev:
                    raise
        raise errors.conflict(res.plural, name, res.group)

    async def storage_update(
        self, res: Resource, namespace: str | None, name: str,
        mutate: Callable[[dict[str, Any], Entry], dict[str, Any]], opts: WriteOptions, retries: int = 5,
    ) -> Entry:
        """GuaranteedUpdate straight on storage, past the kind's strategy (upstream's BindingREST
        writes spec.nodeName and a status condition together this way). managedFields record the
        write; a concurrent write retries; what storage reports is mapped to a Status."""
        for _ in range(retries):
            cur = self.get(res, namespace, name)
            new = mutate(copy_view(res, cur), cur)
            self._managed(res, cur.obj(), new, opts)
            if opts.dry_run:
                return self._dry_entry(cur.key, new, cur)
            try:
                return await self.store.update(cur.key, new, cur.mod_rev)
            except RevisionConflict:
                continue
            except KeyNotFound:
                raise errors.not_found(res.plural, name, res.group) from None
        raise errors.conflict(res.plural, name, res.group)

    # ---- delete ----------------------------------------------------------------------------
    async def delete(self, res: Resource, namespace: str | None, name: str, opts: DeleteOptions) -> tuple[Entry, bool]:
        """Returns (entry, gone): `gone` is False when the object lingers (finalizers, grace)."""
        cur = self.get(res, namespace, name)
        obj = cur.copy()
        meta = obj["metadata"]
        if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
            raise errors.conflict(res.plural, name, res.group,
                                  f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in object meta: {meta.get('uid')}")
        if opts.precondition_rv and opts.precondition_rv != str(cur.mod_rev):
            raise errors.conflict(res.plural, name, res.group,
                                  f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, ResourceVersion in object meta: {cur.mod_rev}")
        self.admission.validate_delete(self, res, cur.obj(), opts.dry_run)
        finalizers = list(meta.get("finalizers") or [])
        if res.kind == "Namespace" and res.group == "":
            return await self._delete_namespace(res, cur, obj, opts)
        if res.kind == "CustomResourceDefinition" and CRD_CLEANUP not in finalizers and not meta.get("deletionTimestamp"):
            finalizers.append(CRD_CLEANUP)  # its objects go first (apiserver/crds.py)
        if opts.propagation == "Orphan" and "orphan" not in finalizers and self._has_dependents_possible(res):
            finalizers.append("orphan")
        elif opts.propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        grace = 0
        if res.kind == "Pod" and res.group == "":
            grace = strategy.pod_grace_period(obj, opts.grace_period)
            if meta.get("deletionTimestamp") and meta.get("deletionGracePeriodSeconds") is not None:
                grace = min(grace, meta["deletionGracePeriodSeconds"])
        if not finalizers and grace == 0:
            if opts.dry_run:
                return cur, True
            return await self._delete_now(res, cur), True
        # graceful: mark and keep
        if not meta.get("deletionTimestamp") or (grace and grace < (meta.get("deletionGracePeriodSeconds") or grace + 1)):
            meta["deletionTimestamp"] = rfc3339(time.time() + grace)
            meta["deletionGracePeriodSeconds"] = grace
        if finalizers:
            meta["finalizers"] = finalizers
        if opts.dry_run:
            return self._dry_entry(cur.key, obj, cur), False
        try:
            entry = await self.store.update(cur.key, obj, cur.mod_rev)
        except RevisionConflict:
            raise errors.conflict(res.plural, name, res.group) from None
        if not finalizers and grace == 0:
            return await self._delete_now(res, entry), True
        return entry, False

    def _has_dependents_possible(self, res: Resource) -> bool:
        return True

    async def _delete_namespace(self, res: Resource, cur: Entry, obj: dict[str, Any], opts: DeleteOptions) -> tuple[Entry, bool]:
        """Namespaces go Terminating; the namespace controller empties and then finalizes them."""
        meta = obj["metadata"]
        name = meta["name"]
        if name in ("default", "kube-system", "kube-public"):
            raise errors.forbidden("namespaces", name, "", f"this namespace may not be deleted")
        if meta.get("deletionTimestamp"):
            return cur, False
        meta["deletionTimestamp"] = self.now()
        meta["deletionGracePeriodSeconds"] = 0
        if opts.propagation == "Orphan":
            meta.setdefault("finalizers", []).append("orphan")
        obj.setdefault("status", {})["phase"] = "Terminating"
        if opts.dry_run:
            return self._dry_entry(cur.key, obj, cur), False
        if not obj.get("spec", {}).get("finalizers") and not meta.get("finalizers"):
            return await self._delete_now(res, cur), True
        return await self.store.update(cur.key, obj, cur.mod_rev), False

    async def _delete_now(self, res: Resource, cur: Entry) -> Entry:
        try:
            gone = await self.store.delete(cur.key, cur.mod_rev)
            self.admission.after_delete(self, res, gone.obj())
            return gone
        except RevisionConflict:
            raise errors.conflict(res.plural, cur.obj()["metadata"]["name"], res.group) from None
        except KeyNotFound:
            raise errors.not_found(res.plural, cur.obj()["metadata"]["name"], res.group) from None


def _strip_volatile(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata", {})
    mf = [{k: v for k, v in m.items() if k != "time"} for m in meta.get("managedFields", [])]
    return {**obj, "metadata": {**{k: v for k, v in meta.items() if k != "resourceVersion"}, "managedFields": mf}}


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Equal except for resourceVersion and managedFields timestamps (upstream skips such writes)."""
    return _strip_volatile(old) == _strip_volatile(new)
