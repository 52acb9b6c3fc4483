"""REST client for the Kubernetes API: the one way components talk to the cluster.

Controllers, scheduler, kubelet, proxy and DNS use this client. Inside `kubeling up` its
transport is `apiserver/local.py`'s: requests call the API server's handlers in process as the
client's identity (`as_user`, `as_service_account`, `as_node`), and streaming subresources
(logs, exec, attach, port-forward) go over the root-only unix socket. Otherwise it speaks HTTPS
(`client/transport.py`), as a component on another machine would. Both give the same API
semantics, so logic never depends on the transport; errors come back as the same `StatusError`
the server raised.
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from typing import Any, AsyncIterator

import orjson

from ..api import errors
from ..api.resources import Resource
from ..api.wire import JSON, Request
from .transport import ClientConfig, HTTPTransport, Transport

log = logging.getLogger("kubeling.client")

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


def _path(res: Resource, namespace: str | None, name: str | None = None, sub: str | None = None) -> str:
    base = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
    if res.namespaced and namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{res.plural}"
    if name:
        base += f"/{name}"
    if sub:
        base += f"/{sub}"
    return base


class Client:
    """Async API client with typed verbs over `Resource` rows."""

    def __init__(self, config: ClientConfig | None = None, *, transport: Transport | None = None) -> None:
        """`config` says where and who over HTTPS; an in-process client passes its `transport`
        (its config then only carries the user agent and the cluster CA it may hand out)."""
        self.config = config or ClientConfig()
        self.transport: Transport = transport if transport is not None else HTTPTransport(self.config)
        self._headers = {"Accept": JSON, "User-Agent": self.config.user_agent}

    def as_user(self, name: str, *groups: str, own_informers: bool = False) -> "Client":
        """This client acting as another identity, for components inside `kubeling up` that
        authenticate as themselves (upstream gives each its own credentials): requests carry
        that identity. Informers stay shared with this client and read as its identity, as
        kube-controller-manager's informer factory does, unless `own_informers` (a component of
        its own, e.g. kube-proxy: its informers read as itself). A remote client is its credentials."""
        transport = self.transport.as_user(name, groups)
        if transport is self.transport:
            return self
        c = Client(self.config, transport=transport)
        if not own_informers:
            c.informers_from = self  # type: ignore[attr-defined]  # SharedInformers.of(c) is ours
        return c

    def as_service_account(self, namespace: str, name: str, own_informers: bool = False) -> "Client":
        return self.as_user(f"system:serviceaccount:{namespace}:{name}", "system:serviceaccounts",
                            f"system:serviceaccounts:{namespace}", own_informers=own_informers)

    def as_node(self, node: str, own_informers: bool = False) -> "Client":
        return self.as_user(f"system:node:{node}", "system:nodes", own_informers=own_informers)

    async def close(self) -> None:
        await self.transport.close()

    def _request(self, method: str, path: str, params: dict[str, str] | None, body: Any,
                 content_type: str = JSON) -> Request:
        data = None if body is None else orjson.dumps(body)
        headers = self._headers if data is None else {**self._headers, "Content-Type": content_type}
        return Request(method, path, params, headers, data)

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None,
                      content_type: str = JSON) -> Any:
        resp = await self.transport.request(self._request(method, path, params, body, content_type))
        if resp.status >= 400:
            raise resp.error()
        return orjson.loads(resp.body) if resp.body else None

    # ---- verbs ----------------------------------------------------------------------------
    async def get(self, res: Resource, namespace: str | None, name: str, sub: str | None = None) -> dict[str, Any]:
        return await self.request("GET", _path(res, namespace, name, sub))

    async def list(self, res: Resource, namespace: str | None = None, *, label_selector: str = "",
                   field_selector: str = "", resource_version: str | None = None, limit: int = 0) -> dict[str, Any]:
        params = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        if limit:
            params["limit"] = str(limit)
        return await self.request("GET", _path(res, namespace), params=params)

    async def create(self, res: Resource, namespace: str | None, obj: dict[str, Any], *,
                     field_manager: str = "", sub_name: str | None = None, sub: str | None = None) -> dict[str, Any]:
        params = {"fieldManager": field_manager} if field_manager else None
        return await self.request("POST", _path(res, namespace, sub_name, sub), params=params, body=obj)

    async def update(self, res: Resource, obj: dict[str, Any], *, sub: str | None = None,
                     field_manager: str = "") -> dict[str, Any]:
        meta = obj["metadata"]
        params = {"fieldManager": field_manager} if field_manager else None
        return await self.request("PUT", _path(res, meta.get("namespace"), meta["name"], sub), params=params, body=obj)

    async def update_status(self, res: Resource, obj: dict[str, Any], field_manager: str = "") -> dict[str, Any]:
        return await self.update(res, obj, sub="status", field_manager=field_manager)

    async def patch(self, res: Resource, namespace: str | None, name: str, patch: Any, *, patch_type: str = "merge",
                    sub: str | None = None, field_manager: str = "", force: bool = False) -> dict[str, Any]:
        params = {}
        if field_manager:
            params["fieldManager"] = field_manager
        if force:
            params["force"] = "true"
        return await self.request("PATCH", _path(res, namespace, name, sub), params=params, body=patch,
                                  content_type=PATCH_TYPES[patch_type])

    async def delete(self, res: Resource, namespace: str | None, name: str, *, propagation: str | None = None,
                     grace_period: int | None = None, preconditions: dict[str, str] | None = None) -> Any:
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation:
            body["propagationPolicy"] = propagation
        if grace_period is not None:
            body["gracePeriodSeconds"] = grace_period
        if preconditions:
            body["preconditions"] = preconditions
        return await self.request("DELETE", _path(res, namespace, name), body=body)

    async def watch(self, res: Resource, namespace: str | None = None, *, resource_version: str = "",
                    label_selector: str = "", field_selector: str = "", timeout_seconds: int | None = None,
                    bookmarks: bool = True) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Yield (type, object) until the server ends the stream; ERROR events raise StatusError."""
        params = {"watch": "true", "allowWatchBookmarks": "true" if bookmarks else "false"}
        if resource_version:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if timeout_seconds:
            params["timeoutSeconds"] = str(timeout_seconds)
        async with aclosing(self.transport.stream(self._request("GET", _path(res, namespace), params, None))) as chunks:
            async for lines in chunks:
                for line in lines:
                    if not line or line.isspace():
                        continue
                    ev = orjson.loads(line)
                    kind = ev["type"]
                    if kind == "ERROR":
                        st = ev["object"]
                        raise errors.StatusError(st.get("code", 500), st.get("reason", ""), st.get("message", ""))
                    yield kind, ev["object"]
