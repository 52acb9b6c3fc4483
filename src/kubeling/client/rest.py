"""REST client for the Kubernetes API: the one way components talk to the cluster.

Controllers, scheduler, kubelet and proxy use this client whether they run inside `kubeling up`
(over the API server's local unix socket, no TLS) or in `kubeling agent` on another machine
(over HTTPS). Both are the same HTTP API, so logic never depends on the transport.
Errors come back as the same `StatusError` the server raised.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Any, AsyncIterator

import aiohttp
import orjson

from ..api import errors
from ..api.resources import Resource

log = logging.getLogger("kubeling.client")

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


@dataclass(frozen=True)
class ClientConfig:
    """Where the API is and who we are: a unix socket (in-process) or an HTTPS URL."""

    server: str = ""  # https://host:port
    unix_socket: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    token: str = ""
    user_agent: str = "kubeling"

    @classmethod
    def from_kubeconfig(cls, path: str, user_agent: str = "kubeling") -> "ClientConfig":
        """Build a config from a kubeconfig file (current context), writing inline certs to temp files."""
        import base64
        import tempfile

        import yaml

        with open(path) as f:
            cfg = yaml.safe_load(f)
        ctx_name = cfg.get("current-context")
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])

        def materialize(data_key: str, file_key: str, src: dict[str, Any]) -> str:
            if src.get(file_key):
                return src[file_key]
            if src.get(data_key):
                fd, p = tempfile.mkstemp(prefix="kubeling-")
                with open(fd, "wb") as out:
                    out.write(base64.b64decode(src[data_key]))
                return p
            return ""

        return cls(server=cluster["server"],
                   ca_file=materialize("certificate-authority-data", "certificate-authority", cluster),
                   cert_file=materialize("client-certificate-data", "client-certificate", user),
                   key_file=materialize("client-key-data", "client-key", user),
                   token=user.get("token", ""), user_agent=user_agent)


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


def _error(status: int, body: bytes) -> errors.StatusError:
    try:
        st = orjson.loads(body)
        if isinstance(st, dict) and st.get("kind") == "Status":
            return errors.StatusError(st.get("code", status), st.get("reason", ""), st.get("message", ""), st.get("details"))
    except orjson.JSONDecodeError:
        pass
    return errors.StatusError(status, "InternalError", body[:200].decode(errors="replace"))


class Client:
    """Async API client with typed verbs over `Resource` rows."""

    def __init__(self, config: ClientConfig, local: "LocalTransport | None" = None) -> None:
        self.config = config
        self.local = local  # in-process watches (kubeling up); None for remote agents and tools
        self._session: aiohttp.ClientSession | None = None

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            c = self.config
            headers = {"User-Agent": c.user_agent, "Accept": "application/json"}
            if c.token:
                headers["Authorization"] = f"Bearer {c.token}"
            if c.unix_socket:
                connector: aiohttp.BaseConnector = aiohttp.UnixConnector(path=c.unix_socket, limit=0)
                base = "http://localhost"
            else:
                ctx = ssl.create_default_context(cafile=c.ca_file or None)
                if c.cert_file:
                    ctx.load_cert_chain(c.cert_file, c.key_file)
                connector = aiohttp.TCPConnector(ssl=ctx, limit=0)
                base = c.server
            self._session = aiohttp.ClientSession(base_url=base, connector=connector, headers=headers,
                                                  json_serialize=lambda o: orjson.dumps(o).decode())
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None,
                      content_type: str = "application/json") -> Any:
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else None
        async with self._sess().request(method, path, params=params, data=data, headers=headers) as r:
            raw = await r.read()
            if r.status >= 400:
                raise _error(r.status, raw)
            return orjson.loads(raw) if raw else None

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
        if self.local is not None:
            async for ev in self.local.watch(res, namespace, params):
                yield ev
            return
        async with self._sess().get(_path(res, namespace), params=params,
                                    timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as r:
            if r.status >= 400:
                raise _error(r.status, await r.read())
            async for line in r.content:
                if not line.strip():
                    continue
                ev = orjson.loads(line)
                if ev["type"] == "ERROR":
                    st = ev["object"]
                    raise errors.StatusError(st.get("code", 500), st.get("reason", ""), st.get("message", ""))
                yield ev["type"], ev["object"]


class LocalTransport:
    """Watches for components inside `kubeling up`, served from the API server's own watch
    streams: same selectors, resourceVersion rules, bookmarks and errors as the HTTP watch, but
    no HTTP framing and no socket. Each receiver gets its own decoded copy of every object."""

    def __init__(self, api: Any) -> None:
        self.api = api  # apiserver.handlers.RestAPI

    async def watch(self, res: Resource, namespace: str | None,
                    params: dict[str, str]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        stream = self.api.open_watch(res, namespace, params)
        async for batch in stream.batches():
            for kind, item in batch:
                if kind == "BOOKMARK":
                    yield kind, item
                elif kind == "ERROR":
                    raise errors.StatusError(item.get("code", 500), item.get("reason", ""), item.get("message", ""))
                else:
                    yield kind, orjson.loads(self.api.entry_bytes(res, item))


async def wait_ready(client: Client, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            async with client._sess().get("/readyz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("API server not ready")
        await asyncio.sleep(0.05)
