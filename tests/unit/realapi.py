"""One API for the unit tests of clients and controllers: the real one, in process.

`RealAPI` is the real registry (defaults, strategies, validation, resourceVersion rules, Status
errors) over an in-memory SQLite store, reached by a real `Client` through the in-process
transport (`apiserver/local.py`), as the components inside `kubeling up` reach it. A test that
drives a controller with it runs against the API's rules instead of a re-implementation of them
that can drift. It also remembers every request its clients sent (`sent`), for tests that
assert which writes a component made.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable

import orjson

from kubeling.api.resources import Resource, lookup
from kubeling.api.wire import Request, Response
from kubeling.apiserver.admission import Chain
from kubeling.apiserver.handlers import RestAPI
from kubeling.apiserver.local import LocalTransport
from kubeling.apiserver.registry import Registry, now_rfc3339
from kubeling.client.rest import Client, ClientConfig
from kubeling.up import bootstrap
from kubeling.store.sqlite import MEMORY, SQLiteStore

NAMESPACES = lookup("", "v1", "namespaces")


class Recording:
    """A transport that passes every request on and remembers it (a test's spy, not a fake)."""

    def __init__(self, inner: Any, sent: list[Request]) -> None:
        self.inner, self.sent = inner, sent

    async def request(self, req: Request) -> Response:
        self.sent.append(req)
        return await self.inner.request(req)

    def stream(self, req: Request) -> AsyncIterator[list[bytes]]:
        self.sent.append(req)
        return self.inner.stream(req)

    def as_user(self, name: str, groups: tuple[str, ...] = ()) -> "Recording":
        return Recording(self.inner.as_user(name, groups), self.sent)

    async def close(self) -> None:
        await self.inner.close()


class RealAPI:
    """Build it inside the test's event loop, then `await api.start(namespace, ...)`."""

    def __init__(self, admission: Chain | None = None, now: Callable[[], str] = now_rfc3339) -> None:
        """`now` stamps creationTimestamp and the like (a test's clock)."""
        self.store = SQLiteStore(MEMORY)
        self.registry = Registry(self.store, now=now, admission=admission)
        self.rest = RestAPI(self.registry, "127.0.0.1:6443")
        self.sent: list[Request] = []
        self.client = Client(ClientConfig(user_agent="kubeling-test"),
                             transport=Recording(LocalTransport(self.rest), self.sent))

    async def start(self, *namespaces: str) -> "RealAPI":
        """The namespaces every cluster has, and `namespaces`."""
        await bootstrap(self.registry)
        for ns in namespaces:
            await self.client.create(NAMESPACES, None, {"metadata": {"name": ns}})
        self.sent.clear()
        return self

    async def create(self, res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """`obj` as the API stores it (uid, resourceVersion, defaults); not counted in `sent`."""
        out = await self.client.create(res, obj["metadata"].get("namespace"), obj)
        self.sent.pop()
        return out

    def view(self, res: Resource) -> "StoreView":
        """An informer cache that is always caught up, for a controller driven step by step."""
        return StoreView(self.registry, res)

    def writes(self, method: str | None = None) -> list[tuple[str, str, Any]]:
        """(method, path, decoded body) of every write the clients sent, in order."""
        return [(r.method, r.path, orjson.loads(r.body) if r.body else None) for r in self.sent
                if r.method != "GET" and (method is None or r.method == method)]

    def close(self) -> None:
        self.store.close()


class StoreView:
    """The read side of an informer (list, get, get_by_key) over the store itself: every write
    the test or the controller made is visible at once, and each read is a copy of its own."""

    def __init__(self, registry: Registry, res: Resource) -> None:
        self.registry, self.res = registry, res

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [e.copy() for e in self.registry.list(self.res, namespace or None)[0]]

    def get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        e = self.registry.store.get(self.res.key(namespace, name))
        return e.copy() if e is not None else None

    def get_by_key(self, key: str) -> dict[str, Any] | None:
        ns, _, name = key.rpartition("/")
        return self.get(ns or None, name)
