"""Informer: a list+watch cache of one resource, with event handlers (client-go tools/cache).

`run()` lists, fills the cache, then watches from the list's resourceVersion; on a 410 Gone or a
dropped stream it relists and replays the difference as add/update/delete callbacks, so handlers
see a consistent sequence whatever happened on the wire. Handlers should only enqueue keys.

`SharedInformers` (client-go's SharedInformerFactory) hands out one informer per (resource,
namespace, selectors) per client, so the controllers of one process share one list, one watch
stream, one decoded copy of every object and one cache: at 10,000 pods the difference between
a dozen pod caches and one. Cached objects are therefore shared: never modify them in place
(copy first, as client-go requires too). Indexes (`add_index`/`by_index`, client-go Indexers)
answer "the pods this ReplicaSet owns" without scanning the namespace.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Iterable, Iterator

from ..api import errors
from ..api.resources import Resource
from .rest import Client

log = logging.getLogger("kubeling.informer")

Handler = Callable[..., None]
IndexFunc = Callable[[dict[str, Any]], Iterable[str]]


def object_key(obj: dict[str, Any]) -> str:
    """`namespace/name` (or `name` for cluster-scoped objects), like cache.MetaNamespaceKeyFunc."""
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else meta["name"]


def split_key(key: str) -> tuple[str | None, str]:
    ns, _, name = key.rpartition("/")
    return (ns or None), name


class Informer:
    def __init__(self, client: Client, res: Resource, namespace: str | None = None, *,
                 label_selector: str = "", field_selector: str = "", resync: float = 0.0,
                 shared: bool = False) -> None:
        self.client = client
        self.shared = shared  # run() by many users: one loop, started by the first
        self.res = res
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync = resync
        self.cache: dict[str, dict[str, Any]] = {}
        self.synced = asyncio.Event()
        self.resource_version = ""
        self._on_add: list[Handler] = []
        self._on_update: list[Handler] = []
        self._on_delete: list[Handler] = []
        self._task: asyncio.Task[None] | None = None
        self._index_funcs: dict[str, IndexFunc] = {}
        self._indexes: dict[str, dict[str, dict[str, None]]] = {}  # index -> value -> keys (ordered)

    # ---- handlers -------------------------------------------------------------------------
    def add_handlers(self, on_add: Handler | None = None, on_update: Handler | None = None,
                     on_delete: Handler | None = None) -> None:
        if on_add:
            self._on_add.append(on_add)
        if on_update:
            self._on_update.append(on_update)
        if on_delete:
            self._on_delete.append(on_delete)
        if on_add and self.synced.is_set():  # a late handler of a running informer sees what is there
            for o in list(self.cache.values()):
                self._emit((on_add,), o)

    def _emit(self, handlers: Iterable[Handler], *args: Any) -> None:
        for h in handlers:
            try:
                h(*args)
            except Exception:
                log.exception("%s informer handler failed", self.res.plural)

    # ---- indexes --------------------------------------------------------------------------
    def add_index(self, name: str, fn: IndexFunc) -> None:
        """Index the cache by `fn(obj)` values; the first registration of a name wins (shared)."""
        if name in self._index_funcs:
            return
        self._index_funcs[name] = fn
        idx: dict[str, dict[str, None]] = {}
        for k, o in self.cache.items():
            for v in fn(o):
                idx.setdefault(v, {})[k] = None
        self._indexes[name] = idx

    def by_index(self, name: str, value: str) -> list[dict[str, Any]]:
        keys = self._indexes[name].get(value)
        if not keys:
            return []
        cache = self.cache
        return [cache[k] for k in keys if k in cache]

    def _index_remove(self, key: str, obj: dict[str, Any]) -> None:
        for name, fn in self._index_funcs.items():
            idx = self._indexes[name]
            for v in fn(obj):
                bucket = idx.get(v)
                if bucket is not None:
                    bucket.pop(key, None)
                    if not bucket:
                        del idx[v]

    def _index_update(self, key: str, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        """Move `key` between buckets only where its values changed (buckets keep their order)."""
        for name, fn in self._index_funcs.items():
            idx = self._indexes[name]
            before = list(fn(old)) if old is not None else []
            after = list(fn(new))
            if before == after:
                continue
            for v in before:
                bucket = idx.get(v)
                if bucket is not None:
                    bucket.pop(key, None)
                    if not bucket:
                        del idx[v]
            for v in after:
                idx.setdefault(v, {})[key] = None

    def _reindex(self) -> None:
        for name in list(self._index_funcs):
            fn = self._index_funcs.pop(name)
            self.add_index(name, fn)

    # ---- reads ----------------------------------------------------------------------------
    def get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.cache.get(f"{namespace}/{name}" if namespace else name)

    def get_by_key(self, key: str) -> dict[str, Any] | None:
        return self.cache.get(key)

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        if namespace is None:
            return list(self.cache.values())
        prefix = namespace + "/"
        return [o for k, o in self.cache.items() if k.startswith(prefix)]

    # ---- loop -----------------------------------------------------------------------------
    async def _relist(self) -> None:
        lst = await self.client.list(self.res, self.namespace, label_selector=self.label_selector,
                                     field_selector=self.field_selector)
        fresh = {object_key(o): o for o in lst.get("items") or []}
        for o in fresh.values():
            o.setdefault("apiVersion", self.res.api_version)
            o.setdefault("kind", self.res.kind)
        old = self.cache
        self.cache = fresh
        if self._index_funcs:
            self._reindex()
        for k, o in fresh.items():
            if k not in old:
                self._emit(self._on_add, o)
            elif old[k]["metadata"].get("resourceVersion") != o["metadata"].get("resourceVersion"):
                self._emit(self._on_update, old[k], o)
        for k, o in old.items():
            if k not in fresh:
                self._emit(self._on_delete, o)
        self.resource_version = lst["metadata"]["resourceVersion"]
        self.synced.set()

    def apply_event(self, typ: str, obj: dict[str, Any]) -> None:
        """One watch event (ADDED, MODIFIED, DELETED): update the cache and indexes, call handlers."""
        key = object_key(obj)
        if typ == "DELETED":
            old = self.cache.pop(key, None)
            if self._index_funcs and old is not None:
                self._index_remove(key, old)
            self._emit(self._on_delete, old or obj)
            return
        old = self.cache.get(key)
        self.cache[key] = obj
        if self._index_funcs:
            self._index_update(key, old, obj)
        if old is None:
            self._emit(self._on_add, obj)
        else:
            self._emit(self._on_update, old, obj)

    async def run(self) -> None:
        """List and watch until cancelled. A shared informer runs one loop for all its users:
        the first call starts it, every call waits on it, and cancelling a caller leaves it
        running for the others (`SharedInformers.shutdown()` ends it)."""
        if not self.shared:
            await self._loop()
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name=f"informer-{self.res.plural}{'-' + self.namespace if self.namespace else ''}")
        await asyncio.shield(self._task)

    async def _loop(self) -> None:
        backoff = 0.1
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                async for typ, obj in self.client.watch(
                        self.res, self.namespace, resource_version=self.resource_version,
                        label_selector=self.label_selector, field_selector=self.field_selector,
                        timeout_seconds=300):
                    rv = obj.get("metadata", {}).get("resourceVersion")
                    if rv:
                        self.resource_version = rv
                    if typ != "BOOKMARK":
                        self.apply_event(typ, obj)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except errors.StatusError as e:
                if e.code == 410:
                    need_list = True
                    continue
                log.warning("%s watch failed: %s", self.res.plural, e.message)
                need_list = True
            except Exception as e:  # connection dropped, server restarting
                log.info("%s watch interrupted: %s", self.res.plural, e)
                need_list = True
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


async def wait_synced(informers: Iterable[Informer], timeout: float = 30.0) -> None:
    await asyncio.wait_for(asyncio.gather(*(i.synced.wait() for i in informers)), timeout)


class SharedInformers:
    """One informer per (resource, namespace, label selector, field selector) for one client
    (client-go's SharedInformerFactory). Get it with `SharedInformers.of(client)`."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._informers: dict[tuple[str, str, str, str | None, str, str], Informer] = {}

    @classmethod
    def of(cls, client: Client) -> "SharedInformers":
        """The factory of this client (created on first use); a client made by `as_user` shares
        the factory of the client it was made from (`informers_from`)."""
        factory = getattr(client, "shared_informers", None)
        if factory is None:
            parent = getattr(client, "informers_from", None)
            factory = cls.of(parent) if parent is not None else cls(client)
            client.shared_informers = factory  # type: ignore[attr-defined]
        return factory

    def informer(self, res: Resource, namespace: str | None = None, *, label_selector: str = "",
                 field_selector: str = "") -> Informer:
        key = (res.group, res.version, res.plural, namespace, label_selector, field_selector)
        inf = self._informers.get(key)
        if inf is None:
            inf = Informer(self.client, res, namespace, label_selector=label_selector,
                           field_selector=field_selector, shared=True)
            self._informers[key] = inf
        return inf

    def __iter__(self) -> Iterator[Informer]:
        return iter(list(self._informers.values()))

    async def shutdown(self) -> None:
        """Stop every informer loop (the process is shutting down)."""
        tasks = [i._task for i in self._informers.values() if i._task is not None and not i._task.done()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def shared_informer(client: Client, res: Resource, namespace: str | None = None, *, label_selector: str = "",
                    field_selector: str = "") -> Informer:
    """`SharedInformers.of(client).informer(...)`: what a controller uses instead of `Informer(...)`."""
    return SharedInformers.of(client).informer(res, namespace, label_selector=label_selector,
                                               field_selector=field_selector)


# ---- common indexes -------------------------------------------------------------------------------
CONTROLLER_UID = "controller-uid"
ORPHANS_BY_NAMESPACE = "orphans-by-namespace"


def controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """metav1.GetControllerOf: the ownerReference with controller=true."""
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def index_controller_uid(obj: dict[str, Any]) -> list[str]:
    """The uid of the object's controller (upstream's controllerUIDIndex)."""
    ref = controller_of(obj)
    return [ref["uid"]] if ref is not None and ref.get("uid") else []


def index_orphans_by_namespace(obj: dict[str, Any]) -> list[str]:
    """Objects without a controller, by namespace: what a controller may adopt."""
    return [obj["metadata"].get("namespace") or ""] if controller_of(obj) is None else []


def add_owner_indexes(inf: Informer) -> None:
    inf.add_index(CONTROLLER_UID, index_controller_uid)
    inf.add_index(ORPHANS_BY_NAMESPACE, index_orphans_by_namespace)
