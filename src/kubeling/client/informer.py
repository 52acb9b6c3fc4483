"""Informer: a list+watch cache of one resource, with event handlers (client-go tools/cache).

`run()` lists, fills the cache, then watches from the list's resourceVersion; on a 410 Gone or a
dropped stream it relists and replays the difference as add/update/delete callbacks, so handlers
see a consistent sequence whatever happened on the wire. Handlers should only enqueue keys.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Iterable

from ..api import errors
from ..api.resources import Resource
from .rest import Client

log = logging.getLogger("kubeling.informer")

Handler = Callable[..., None]


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
                 label_selector: str = "", field_selector: str = "", resync: float = 0.0) -> None:
        self.client = client
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

    # ---- handlers -------------------------------------------------------------------------
    def add_handlers(self, on_add: Handler | None = None, on_update: Handler | None = None,
                     on_delete: Handler | None = None) -> None:
        if on_add:
            self._on_add.append(on_add)
        if on_update:
            self._on_update.append(on_update)
        if on_delete:
            self._on_delete.append(on_delete)

    def _emit(self, handlers: Iterable[Handler], *args: Any) -> None:
        for h in handlers:
            try:
                h(*args)
            except Exception:
                log.exception("%s informer handler failed", self.res.plural)

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

    async def run(self) -> None:
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
                    if typ == "BOOKMARK":
                        continue
                    key = object_key(obj)
                    if typ == "DELETED":
                        old = self.cache.pop(key, None)
                        self._emit(self._on_delete, old or obj)
                    else:
                        old = self.cache.get(key)
                        self.cache[key] = obj
                        if old is None:
                            self._emit(self._on_add, obj)
                        else:
                            self._emit(self._on_update, old, obj)
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
