"""The in-process transport: components inside `kubeling up` call the REST handlers directly.

It implements `client.transport.Transport` (structurally: the API server imports nothing from
`client/`). A request is the client's own `api.wire.Request`, handed to `RestAPI.serve` with the
same authorization, admission, validation, selectors, resourceVersion rules and Status errors as
over HTTP, but without HTTP framing, a socket, TLS or a second event-loop turn per request. What
it does not serve (the streaming subresources, which need a connection, and the non-resource
paths) goes to its `fallback` transport: plain HTTP on the root-only unix socket. The contract is
in docs/architecture.md, "The in-process transport".
"""

from __future__ import annotations

from contextlib import aclosing
from types import SimpleNamespace
from typing import Any, AsyncIterator

import orjson
from multidict import MultiDict

from ..api import errors
from ..api.wire import Request, Response
from .app import LOCAL_USER, audit_now, authorize
from .auth.attributes import from_request
from .auth.user import AUTHENTICATED, User, acting
from .handlers import STREAMING, RestAPI, as_status, status_response

_NOT_SERVED = tuple("/" + s for s in (*STREAMING, "proxy"))


def serves(path: str) -> bool:
    """Is `path` answered in process? Resource paths but the streaming subresources."""
    return path.startswith("/api") and not path.endswith(_NOT_SERVED)


class LocalTransport:
    """Requests as `user` (None: system:admin, as the root-only unix socket gives), authorized
    like any other client's; each caller gets its own decoded copy of every object."""

    def __init__(self, api: RestAPI, user: User | None = None, fallback: Any = None) -> None:
        self.api = api
        self.user = user
        self.fallback = fallback  # a client.transport.Transport for what is not served in process

    def as_user(self, name: str, groups: tuple[str, ...] = ()) -> "LocalTransport":
        """The same transport acting as another identity (each component authenticates as itself)."""
        return LocalTransport(self.api, User(name, (*groups, AUTHENTICATED)), self.fallback)

    async def close(self) -> None:
        if self.fallback is not None:
            await self.fallback.close()

    async def request(self, req: Request) -> Response:
        if not serves(req.path):
            return await self._fallback().request(req)
        resp = await self._serve(req)
        if resp.stream is not None:  # a watch asked for as a whole answer: never ends
            await resp.aclose()
            raise errors.bad_request("a watch is read with stream()")
        return resp

    async def stream(self, req: Request) -> AsyncIterator[list[bytes]]:
        """The lines of a streamed answer, a list per batch the handler produced (a watch: one
        JSON event a line); an error answer raises."""
        if not serves(req.path):
            async with aclosing(self._fallback().stream(req)) as chunks:
                async for lines in chunks:
                    yield lines
            return
        resp = await self._serve(req)
        if resp.status >= 400:
            raise resp.error()
        if resp.stream is None:
            yield [resp.body]
            return
        try:
            async for frames in resp.stream:
                yield frames
        finally:
            await resp.aclose()

    def _fallback(self) -> Any:
        if self.fallback is None:
            raise errors.resource_not_found_for_path()
        return self.fallback

    async def _serve(self, req: Request) -> Response:
        if req.method in ("POST", "PUT", "PATCH") and "fieldValidation" not in req.query:
            # Warn (the server's default) only produces Warning headers, which an in-process caller
            # never reads: skip the unknown/duplicate-field scans. Explicit modes are honoured.
            query = MultiDict(req.query)
            query["fieldValidation"] = "Ignore"
            req.query = query
        user = req.user = self.user or LOCAL_USER
        audit = _Audit(self.api.auditor, user, req) if self.api.auditor is not None else None
        try:
            attrs = authorize(self.api.authz, user, req) if self.api.authz is not None else None  # type: ignore[arg-type]
            if audit is not None:
                audit.allowed = True
            if attrs is not None:
                self.api.authz.restrict(attrs)  # type: ignore[union-attr]
            # Called directly, in the caller's task: no task, no extra event-loop turns before and
            # after (under load one turn is many milliseconds). The handlers never suspend halfway
            # through a write (the store commits synchronously; what they await — a large body's
            # decode, admission webhooks — comes before anything is written), so a cancelled
            # caller cannot interrupt a write half-way, just as the HTTP server runs a request it
            # received to completion. A store whose commit awaits (etcd) breaks this: see
            # docs/architecture.md.
            with acting(user, attrs, annotations=audit.annotations if audit is not None else None):
                resp = await self.api.serve(req)
        except Exception as e:
            resp = status_response(as_status(e, f"in-process {req.method} {req.path}"))
        if audit is not None:  # a watch is logged once it is open (upstream: stage ResponseStarted)
            audit.done(resp.status, resp.body if resp.stream is None else None)
        return resp


class _Audit:
    """The audit event of one in-process request: components inside `kubeling up` are audited
    like any client (upstream's kube-controller-manager, kubelet... reach the API over HTTPS)."""

    __slots__ = ("auditor", "user", "req", "received", "allowed", "annotations")

    def __init__(self, auditor: Any, user: User, req: Request) -> None:
        self.auditor, self.user, self.req, self.received, self.allowed = auditor, user, req, audit_now(), False
        self.annotations: dict[str, str] = {}  # e.g. PodSecurity's audit-violations

    def done(self, status: int, body: bytes | None) -> None:
        error = None
        if status >= 400 and body:
            st = orjson.loads(body)
            error = {k: st[k] for k in ("status", "message", "reason") if k in st}
        req = self.req
        # requestURI: the path (the query holds the transport's own fieldValidation); no peer address
        seen = SimpleNamespace(path_qs=req.path, remote=None, headers=req.headers)
        self.auditor.log(self.auditor.new_id(), self.received, self.user, self.user,
                         from_request(self.user, req.method, req.path, req.query), seen, status, req.decoded,
                         body, error, self.allowed, self.annotations)
