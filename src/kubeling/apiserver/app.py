"""The API server: aiohttp application, TLS, authentication and the non-resource endpoints."""

from __future__ import annotations

import hmac
import logging
import os
import ssl
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .. import GIT_VERSION, KUBE_VERSION
from ..api import errors
from ..api.wire import Request
from ..pki import ClusterPKI, peer_identity
from .auth.attributes import Attributes, forbidden_message, from_request
from .auth.impersonation import impersonate
from .auth.rbac import Authorizer
from .auth.user import User, acting
from .handlers import RestAPI, as_status, status_response, web_response
from .headlimit import MAX_HEADER_BYTES, HeadBudgetRunner
from .negotiation import MAX_BODY
from .registry import Registry

log = logging.getLogger("kubeling.apiserver")

# system:public-info-viewer's nonResourceURLs (what anonymous clients may read upstream)
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/"})


def version_info() -> dict[str, str]:
    major, minor = KUBE_VERSION.lstrip("v").split(".")[:2]
    import platform
    import sys

    return {
        "major": major, "minor": minor, "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2026-11-26T00:00:00Z", "goVersion": f"python{sys.version.split()[0]}",
        "compiler": "cpython", "platform": f"linux/{'amd64' if platform.machine() == 'x86_64' else platform.machine()}",
    }


LOCAL_USER = User("system:admin", ("system:masters", "system:authenticated"))


class Authenticator:
    """x509 client certificates signed by the cluster CA, and static bearer tokens."""

    def __init__(self, token_file: str | None, sa_tokens: Any = None) -> None:
        self.tokens: dict[str, User] = {}
        self.sa_tokens = sa_tokens  # tokens.TokenIssuer: service-account JWTs
        if token_file:
            self._load_tokens(token_file)

    def _load_tokens(self, path: str) -> None:
        import csv

        with open(path, newline="") as f:
            for row in csv.reader(f):
                if len(row) >= 2 and row[0]:
                    groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
                    self.tokens[row[0]] = User(row[1], groups)

    def authenticate_token(self, token: str) -> User | None:
        """A bearer token: the static admin tokens, then service-account JWTs (also TokenReview)."""
        presented = token.encode("utf-8", "surrogateescape")  # a header may hold any bytes
        for known, user in self.tokens.items():
            if hmac.compare_digest(known.encode(), presented):
                return user
        if self.sa_tokens is not None and token:
            ident = self.sa_tokens.authenticate(token)
            if ident is not None:  # the token's pod and node travel as user extra, as upstream
                return User(ident.name, ident.groups, extra=tuple(sorted((k, tuple(v)) for k, v in ident.extra.items())))
        return None

    def authenticate(self, request: web.Request) -> User | None:
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            return self.authenticate_token(auth[7:].strip())
        transport = request.transport
        if transport is not None and isinstance(transport.get_extra_info("sockname"), str):
            return LOCAL_USER  # the root-only unix socket that in-process components use
        cn, orgs = peer_identity(transport.get_extra_info("peercert") if transport is not None else None)
        if cn:
            return User(cn, orgs + ("system:authenticated",))
        return None


def _ssl_context(pki: ClusterPKI) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki.server_cert, pki.server_key)
    ctx.load_verify_locations(pki.ca_cert)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def authorize(authz: Authorizer, user: User, request: "web.Request | Request") -> Attributes:
    """The request's attributes; raises upstream's 403 unless the authorizer allows it. What
    NodeRestriction checks on deletes comes after (`Authorizer.restrict`): its refusals are
    admission's, not the authorizer's, and are audited as allowed requests that failed."""
    attrs = from_request(user, request.method, request.path, request.query)
    allowed, reason = authz.authorize(attrs)
    if not allowed:
        msg = forbidden_message(attrs) + (f": {reason}" if reason else "")
        if not attrs.resource_request:
            raise errors.StatusError(403, "Forbidden", f"forbidden: {msg}", {})
        raise errors.forbidden(attrs.resource, attrs.name, attrs.api_group, msg)
    return attrs


def audit_now() -> str:
    from ..api.timestamps import rfc3339_micro

    return rfc3339_micro()


async def _audit(auditor: Any, audit: tuple, request: web.Request, resp: web.StreamResponse) -> None:
    """Write the request's audit event (the Audit-Id header names it, as upstream's)."""
    audit_id, received, caller, user, attrs, authorized, annotations = audit
    if not resp.prepared:
        resp.headers["Audit-Id"] = audit_id
    body = resp.body if isinstance(resp, web.Response) and isinstance(resp.body, (bytes, bytearray)) else None
    error = None
    if resp.status >= 400 and body:
        try:
            st = orjson.loads(body)
            error = {k: st[k] for k in ("status", "message", "reason") if k in st}
        except orjson.JSONDecodeError:
            pass
    request_body = request.get("body")
    auditor.log(audit_id, received, caller, user, attrs, request, resp.status, request_body, body, error,
                authorized[0], annotations)


def build_app(registry: Registry, pki: ClusterPKI | None, server_address: str,
              ready: Callable[[], bool] = lambda: True, authz: Authorizer | None = None,
              auditor: Any = None, request_timeout: float = 60.0) -> web.Application:
    api = RestAPI(registry, server_address, request_timeout)
    sa_tokens = None
    if pki is not None and os.path.exists(pki.sa_key):
        from .tokens import TokenIssuer

        sa_tokens = TokenIssuer(pki.sa_key, registry.store)
    api.token_issuer = sa_tokens
    authn = api.authn = Authenticator(pki.token_file if pki else None, sa_tokens)
    authz = authz or Authorizer(None)  # AlwaysAllow unless the caller brings RBAC

    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        audit: tuple | None = None
        try:
            if request.path in PUBLIC_PATHS:
                resp = await handler(request)
            else:
                caller = authn.authenticate(request)
                if caller is None:
                    raise errors.unauthorized()
                user = impersonate(authz, caller, request.headers)
                if auditor is not None:  # denied requests are audited too
                    audit = (auditor.new_id(), audit_now(), caller, user,
                             from_request(user, request.method, request.path, request.query), [False], {})
                attrs = authorize(authz, user, request)
                if audit is not None:
                    audit[5][0] = True
                authz.restrict(attrs)
                request["user"] = user
                warnings: list[str] = []
                with acting(user, attrs, warnings, audit[6] if audit is not None else None):
                    resp = await handler(request)
                if warnings and not resp.prepared:
                    from ..api.validation.strict import warning_headers

                    for w in warning_headers(warnings):
                        resp.headers.add("Warning", w)
        except (web.HTTPRedirection, ConnectionResetError):
            raise
        except Exception as e:  # a Status error, or a bug: answered as upstream does, and keep serving
            resp = web_response(status_response(as_status(e, f"{request.method} {request.path_qs}")))
        if not resp.prepared:
            resp.headers.setdefault("Cache-Control", "no-cache, private")
        if audit is not None:
            await _audit(auditor, audit, request, resp)
        return resp

    async def healthz(request: web.Request) -> web.Response:
        if request.path == "/readyz" and not ready():
            return web.Response(text="[-]ready failed\nreadyz check failed", status=500)
        return web.Response(text="ok", content_type="text/plain")

    async def version(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(version_info(), option=orjson.OPT_INDENT_2), content_type="application/json")

    async def openapi_v3(request: web.Request) -> web.Response:
        """kube-openapi handler3: the root lists group-versions with content hashes; a document
        fetched with the current hash is immutable, a stale hash is redirected."""
        from . import openapi

        if not openapi.json_acceptable(request.headers.get("Accept")):
            raise errors.not_acceptable("only application/json is served for /openapi/v3")
        sub = request.match_info.get("tail")  # None: /openapi/v3 itself
        if sub is None:
            body = openapi.v3_root()
            return web.Response(body=body, content_type="application/json",
                                headers={"Etag": f'"{openapi.etag(body)}"'})
        # handler3 looks the rest of the path up as is: `/openapi/v3/` or `.../apps/v1/` are 404s
        doc = openapi.v3_document(sub) if sub and sub == sub.strip("/") else None
        if doc is None:
            raise errors.StatusError(404, "NotFound", "404 page not found")
        current = openapi.v3_hash(sub)
        headers = {"Etag": f'"{current}"', "Vary": "Accept"}
        asked = request.query.get("hash")
        if asked and asked != current:
            raise web.HTTPMovedPermanently(openapi.v3_url(sub), headers=headers)
        if asked:
            import email.utils
            import time

            headers["Cache-Control"] = "public, immutable"
            headers["Expires"] = email.utils.formatdate(time.time() + 365 * 86400, usegmt=True)
        return web.Response(body=doc, content_type="application/json", headers=headers)

    async def openapi_v2(request: web.Request) -> web.Response:
        from . import openapi

        ctype = openapi.v2_content_type(request.headers.get("Accept"))
        if ctype is None:
            raise errors.not_acceptable("only application/json and application/com.github.proto-openapi.spec.v2"
                                        ".v1.0+protobuf are served for /openapi/v2")
        body = openapi.v2_protobuf() if ctype == openapi.V2_PROTOBUF else openapi.v2_document()  # cached
        return web.Response(body=body, content_type=None, headers={
            "Content-Type": ctype, "Etag": f'"{openapi.v2_etag()}"', "Vary": "Accept"})

    async def oidc(request: web.Request) -> web.Response:
        """ServiceAccountIssuerDiscovery: the issuer's OIDC metadata and its keys (cacheable an hour)."""
        if sa_tokens is None:
            raise errors.resource_not_found_for_path()
        if request.path == "/openid/v1/jwks":
            body, ctype = sa_tokens.jwks(), "application/jwk-set+json"
        else:
            body, ctype = sa_tokens.openid_configuration(f"https://{server_address}/openid/v1/jwks"), "application/json"
        return web.Response(body=body, content_type=None, headers={
            "Content-Type": ctype, "Cache-Control": "public, max-age=3600"})

    app = web.Application(middlewares=[middleware], client_max_size=MAX_BODY)
    app.router.add_get("/.well-known/openid-configuration", oidc)
    app.router.add_get("/openid/v1/jwks", oidc)
    for p in ("/healthz", "/livez", "/readyz"):  # exact paths, and one per check: `/healthz/` is a 404 upstream
        app.router.add_get(p, healthz)
        app.router.add_get(p + "/ping", healthz)
    for p in ("/version", "/version/"):  # go-restful serves both (the Python client's VersionApi asks `/version/`)
        app.router.add_get(p, version)
    app.router.add_get("/openapi/v2", openapi_v2)
    app.router.add_get("/openapi/v3", openapi_v3)
    app.router.add_get("/openapi/v3/{tail:.*}", openapi_v3)
    app.router.add_route("*", "/api{tail:.*}", api.handle)
    app.router.add_route("*", "/apis{tail:.*}", api.handle)
    app["api"] = api
    app["pki"] = pki  # the streaming proxy needs the cluster CA to reach kubelets
    api.authz = authz  # the in-process transport and the access reviews ask it
    api.auditor = auditor  # in-process requests (apiserver/local.py) are audited too
    return app


# aiohttp's defaults (8190 bytes a line or field) refused a 10 KB bearer token with a plain 400
# where upstream answers a 401 Status: a line or field may use net/http's whole head budget, and
# HeadBudgetRunner bounds their sum (headlimit.py). Their number is bounded by that budget alone,
# as net/http's: aiohttp's 128 fields answered a plain 400 'Too many headers received' to kubectl
# with 130 --as-group flags (upstream: impersonation decides). A field is at least 3 bytes ("a:\n").
MAX_HEADERS = MAX_HEADER_BYTES // 3


class _ConnectionLog(logging.LoggerAdapter):
    """aiohttp.server's log. What aiohttp refuses before kubeling sees it (a header past the
    limits, bytes that are not HTTP) is the client's error: one line without the traceback or
    the offending bytes (they may hold a token). Anything else keeps its traceback."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            self.warning(f"{msg}: %s (%s)", *args, type(exc_info).__name__, exc_info.code, **kwargs)
        else:
            super().exception(msg, *args, exc_info=exc_info, **kwargs)


def _freebind_socket(host: str, port: int) -> "socket.socket":
    """A listening socket on an address that may not exist yet (IP_FREEBIND): the node's
    address appears when its bridge is set up, after the API server started."""
    import socket

    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_IP, getattr(socket, "IP_FREEBIND", 15), 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def serve(app: web.Application, host: str, port: int, pki: ClusterPKI | None,
                unix_socket: str = "", also: tuple[str, ...] = ()) -> web.AppRunner:
    """HTTPS on host:port for users and agents (and on the `also` addresses: the node's, for
    pods); plain HTTP on a root-only unix socket for the components inside this process (like
    k3s's loopback listener)."""
    runner = HeadBudgetRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0,
                           max_line_size=MAX_HEADER_BYTES, max_field_size=MAX_HEADER_BYTES, max_headers=MAX_HEADERS,
                           logger=_ConnectionLog(logging.getLogger("aiohttp.server"), {}))
    await runner.setup()
    ssl_context = _ssl_context(pki) if pki else None
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context, reuse_address=True, backlog=1024)
    await site.start()
    for extra in also:
        if extra != host:
            await web.SockSite(runner, _freebind_socket(extra, port), ssl_context=ssl_context).start()
    if unix_socket:
        import os

        if os.path.exists(unix_socket):
            os.unlink(unix_socket)
        old = os.umask(0o077)
        try:
            await web.UnixSite(runner, unix_socket).start()
        finally:
            os.umask(old)
    return runner
