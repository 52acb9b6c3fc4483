"""REST client for the Kubernetes API: the one way components talk to the cluster.

Controllers, scheduler, kubelet, proxy and DNS use this client. Inside `kubeling up` it has a
`LocalTransport`: requests call the API server's handlers in process as the client's identity
(`as_user`, `as_service_account`, `as_node`), watches read its watch streams directly, and
streaming subresources (logs, exec, attach, port-forward) go over the root-only unix socket.
Without one it speaks HTTPS to `server`, as a component on another machine would. Both give the
same API semantics, so logic never depends on the transport; errors come back as the same
`StatusError` the server raised.
"""

from __future__ import annotations

import asyncio
import logging
import os
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
        import yaml

        with open(path) as f:
            cfg = yaml.safe_load(f)
        return cls.from_kubeconfig_data(cfg, user_agent)

    @classmethod
    def from_kubeconfig_data(cls, cfg: dict[str, Any], user_agent: str = "kubeling") -> "ClientConfig":
        """The same from a parsed kubeconfig (its current context)."""
        import atexit
        import base64
        import tempfile

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
                # ssl loads certificates and keys from files only: gone again when the process ends
                atexit.register(_remove_quietly, p)
                return p
            return ""

        return cls(server=cluster["server"],
                   ca_file=materialize("certificate-authority-data", "certificate-authority", cluster),
                   cert_file=materialize("client-certificate-data", "client-certificate", user),
                   key_file=materialize("client-key-data", "client-key", user),
                   token=user.get("token", ""), user_agent=user_agent)


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


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

    def as_user(self, name: str, *groups: str, own_informers: bool = False) -> "Client":
        """This client acting as another identity, for components inside `kubeling up` that
        authenticate as themselves (upstream gives each its own credentials): requests carry
        that identity. Informers stay shared with this client and read as its identity, as
        kube-controller-manager's informer factory does, unless `own_informers` (a component of
        its own, e.g. kube-proxy: its informers read as itself). A remote client is its credentials."""
        if self.local is None:
            return self
        from ..apiserver.auth.user import AUTHENTICATED, User

        user = User(name, (*groups, AUTHENTICATED))
        c = Client(self.config, local=LocalTransport(self.local.api, user))
        if not own_informers:
            c.informers_from = self  # type: ignore[attr-defined]  # SharedInformers.of(c) is ours
        return c

    def as_service_account(self, namespace: str, name: str, own_informers: bool = False) -> "Client":
        return self.as_user(f"system:serviceaccount:{namespace}:{name}", "system:serviceaccounts",
                            f"system:serviceaccounts:{namespace}", own_informers=own_informers)

    def as_node(self, node: str, own_informers: bool = False) -> "Client":
        return self.as_user(f"system:node:{node}", "system:nodes", own_informers=own_informers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None,
                      content_type: str = "application/json") -> Any:
        data = None if body is None else orjson.dumps(body)
        if self.local is not None and self.local.serves(path):
            return await self.local.request(method, path, params, data, content_type, self.config.user_agent)
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


class _Body:
    """`request.content` of an in-process request: the whole body, already in memory, read
    once like a stream (the handlers read until they get b"")."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    async def read(self, n: int = -1) -> bytes:
        start = self.pos
        end = len(self.data) if n < 0 else min(len(self.data), start + n)
        self.pos = end
        return self.data if (start, end) == (0, len(self.data)) else self.data[start:end]


class _LocalRequest(dict):  # type: ignore[type-arg]
    """The part of aiohttp's `web.Request` that the REST handlers read (path, method, query,
    headers, body, and the authenticated user stored by the authentication middleware)."""

    __slots__ = ("method", "path", "query", "headers", "content", "content_length", "app", "transport",
                 "path_qs", "remote")

    def __init__(self, method: str, path: str, params: dict[str, str] | None, body: bytes | None,
                 content_type: str, user_agent: str) -> None:
        super().__init__()
        from multidict import CIMultiDict, MultiDict, MultiDictProxy

        self.method, self.path = method, path
        self.query = MultiDictProxy(MultiDict(params or {}))
        headers = CIMultiDict({"Accept": "application/json", "User-Agent": user_agent})
        if body is not None:
            headers["Content-Type"] = content_type
        self.headers = headers
        self.content = _Body(body or b"")
        self.content_length = len(body) if body is not None else None
        self.app: dict[str, Any] = {}
        self.transport = None
        self.path_qs = path
        self.remote = None  # no peer address: the audit log's sourceIPs stay empty


# Subresources that need a real HTTP connection (upgrades, streaming): never served in-process.
_STREAMING = ("/log", "/exec", "/attach", "/portforward", "/proxy")


class LocalTransport:
    """The in-process transport for components inside `kubeling up` (DESIGN §7): requests call the
    API server's REST handlers directly and watches read its watch streams — same handlers,
    admission, validation, selectors, resourceVersion rules, bookmarks and errors as over HTTP,
    but no HTTP framing, no socket and no second event-loop round trip per request. The caller
    is the component's own identity (`user`; by default system:admin, as the root-only unix socket
    gives), authorized like any other. Each receiver gets its
    own decoded copy of every object."""

    def __init__(self, api: Any, user: Any = None) -> None:
        self.api = api  # apiserver.handlers.RestAPI
        self.user = user  # auth.user.User the component runs as; None: system:admin

    def _user(self) -> Any:
        from ..apiserver.app import LOCAL_USER

        return self.user or LOCAL_USER

    @staticmethod
    def serves(path: str) -> bool:
        return path.startswith("/api") and not path.endswith(_STREAMING)

    async def request(self, method: str, path: str, params: dict[str, str] | None, body: bytes | None,
                      content_type: str, user_agent: str) -> Any:
        from ..apiserver.app import authorize
        from ..apiserver.auth.user import acting

        if method in ("POST", "PUT", "PATCH") and not (params and "fieldValidation" in params):
            # Warn (the default) only produces Warning headers, which an in-process caller never
            # reads: skip the unknown/duplicate-field scans. Explicit modes are honoured.
            params = {**(params or {}), "fieldValidation": "Ignore"}
        req = _LocalRequest(method, path, params, body, content_type, user_agent)
        user = self._user()
        audit = _Audit.start(self.api, user, req)
        try:
            authz = getattr(self.api, "authz", None)
            attrs = authorize(authz, user, req) if authz is not None else None  # type: ignore[arg-type]
            if audit is not None:
                audit.allowed = True
            req["user"] = user
            # Called directly, in the caller's task: no task, no extra event-loop turns before and
            # after (under load one turn is many milliseconds). The handlers never suspend for these
            # verbs (the store commits synchronously; only admission webhooks, when configured, are
            # awaited, before anything is written), so a cancelled caller cannot interrupt a write
            # half-way, just as the HTTP server runs a request it received to completion.
            with acting(user, attrs, annotations=audit.annotations if audit is not None else None):
                resp = await self._handle(req)
        except errors.StatusError as e:
            if audit is not None:
                audit.done(e.code, orjson.dumps(e.status()))
            raise
        raw = resp.body if isinstance(resp.body, (bytes, bytearray)) else b""
        if audit is not None:
            audit.done(resp.status, raw)
        if resp.status >= 400:
            raise _error(resp.status, raw)
        return orjson.loads(raw) if raw else None

    async def _handle(self, req: _LocalRequest) -> Any:
        from aiohttp import web

        try:
            return await self.api.handle(req)
        except errors.StatusError:
            raise
        except web.HTTPException as e:  # as the app's middleware maps them
            if e.status == 404:
                raise errors.resource_not_found_for_path() from None
            if e.status == 405:
                raise errors.method_not_allowed() from None
            raise errors.StatusError(e.status, e.reason or "Unknown", e.text or e.reason or "") from None
        except Exception as e:
            log.exception("unhandled error on in-process %s %s", req.method, req.path)
            raise errors.internal(f"{type(e).__name__}: {e}") from None

    async def watch(self, res: Resource, namespace: str | None,
                    params: dict[str, str]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        authz = getattr(self.api, "authz", None)
        req = _LocalRequest("GET", _path(res, namespace), {**params, "watch": "true"}, None, "", "")
        audit = _Audit.start(self.api, self._user(), req)
        if authz is not None:
            from ..apiserver.app import authorize

            try:
                authorize(authz, self._user(), req)  # type: ignore[arg-type]
            except errors.StatusError as e:
                if audit is not None:
                    audit.done(e.code, orjson.dumps(e.status()))
                raise
        if audit is not None:  # logged once the watch is open (upstream: stage ResponseStarted)
            audit.allowed = True
            audit.done(200, None)
        stream = self.api.open_watch(res, namespace, params)
        async for batch in stream.batches():
            for kind, item in batch:
                if kind == "BOOKMARK":
                    yield kind, item
                elif kind == "ERROR":
                    raise errors.StatusError(item.get("code", 500), item.get("reason", ""), item.get("message", ""))
                else:
                    yield kind, orjson.loads(self.api.entry_bytes(res, item))


class _Audit:
    """The audit event of one in-process request: components inside `kubeling up` are audited
    like any client (upstream's kube-controller-manager, kubelet... reach the API over HTTPS)."""

    __slots__ = ("auditor", "user", "req", "received", "allowed", "annotations")

    def __init__(self, auditor: Any, user: Any, req: _LocalRequest) -> None:
        from ..apiserver.app import audit_now

        self.auditor, self.user, self.req, self.received, self.allowed = auditor, user, req, audit_now(), False
        self.annotations: dict[str, str] = {}  # e.g. PodSecurity's audit-violations

    @classmethod
    def start(cls, api: Any, user: Any, req: _LocalRequest) -> "_Audit | None":
        auditor = getattr(api, "auditor", None)
        return cls(auditor, user, req) if auditor is not None else None

    def done(self, status: int, body: bytes | None) -> None:
        from ..apiserver.auth.attributes import from_request

        error = None
        if status >= 400 and body:
            st = orjson.loads(body)
            error = {k: st[k] for k in ("status", "message", "reason") if k in st}
        req = self.req
        self.auditor.log(self.auditor.new_id(), self.received, self.user, self.user,
                         from_request(self.user, req.method, req.path, req.query), req, status, req.get("body"),
                         body, error, self.allowed, self.annotations)


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
