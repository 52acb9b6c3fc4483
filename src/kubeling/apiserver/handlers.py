"""REST handlers: one generic implementation of every verb for every resource in the table.

The request flow is upstream's: parse the path → negotiate the representation → decode the body
→ registry (admission, defaulting, validation, store) → encode. Stored objects are kept encoded,
so a GET or LIST in plain JSON is mostly byte concatenation.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
import posixpath
import re
import traceback
from typing import Any, AsyncIterator

import orjson
from aiohttp import web
from multidict import CIMultiDict

from ..api import bounds, conversion, errors, fieldselectors, printers, schema, selectors
from ..api.apply.ssa import server_side_apply
from ..api.patch.common import check_strict_decode, gofmt
from ..api.patch.jsonpatch import json_patch
from ..api.patch.merge import merge_patch
from ..api.patch.strategic import strategic_merge_patch_for
from ..api.typed import json_kind
from ..api.wire import Request, Response
from ..api.validation import meta as meta_validation, strict
from ..api.validation.field import go_quote, invalid_error
from ..api.resources import METRICS_GROUP, REVIEW_GROUPS, Resource
from ..store.base import Entry
from . import decoding, discovery, negotiation, paths, subresources
from .negotiation import Wanted
from .query import query_bool
from .registry import DeleteOptions, Registry, WriteOptions, encoded, object_rv, stale, view
from .watchstream import BOOKMARK, ERROR, WatchStream

log = logging.getLogger("kubeling.apiserver")

JSON_CT = "application/json"
_OPTIONS_KINDS = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response ending in "\\n", as upstream's serializer (json.Encoder.Encode) writes every
    object, Status errors included: clients that compare the body text see the same bytes."""
    if not isinstance(body, (bytes, bytearray)):
        data = orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE)
    else:  # stored bytes get a copy with "\n" (~0.1 ms per MB); a list body is built with it
        data = body if body.endswith(b"\n") else body + b"\n"
    return Response(status, data, JSON_CT, list(headers.items()) if headers else None)


def status_response(err: errors.StatusError) -> Response:
    if isinstance(err, errors.FilterTimeout):
        body = {k: v for k, v in err.status().items() if k not in ("kind", "apiVersion")}
        # the rest of the body is never read: over HTTP the connection closes (as net/http's does)
        return Response(err.code, orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE), "text/plain; charset=utf-8",
                        close_connection=True)
    return _json(err.status(), err.code, err.headers or None)


def as_status(exc: Exception, what: str) -> errors.StatusError:
    """The Status a request that raised `exc` is answered with, over HTTP and in process alike:
    a `StatusError` as it is, aiohttp's HTTP errors (routing, body size) as upstream words them,
    anything else a bug, logged and reported as upstream reports a panic."""
    if isinstance(exc, errors.StatusError):
        return exc
    if isinstance(exc, web.HTTPException):
        if exc.status == 404:
            return errors.resource_not_found_for_path()
        if exc.status == 405:
            return errors.method_not_allowed()
        if exc.status == 413:
            return errors.too_large()
        return errors.StatusError(exc.status, exc.reason or "Unknown", exc.text or exc.reason or "")
    log.error("unhandled error on %s: %s", what, traceback.format_exc())
    return errors.internal(f"{type(exc).__name__}: {exc}")


def web_response(resp: Response) -> web.Response:
    """A whole `Response` as aiohttp sends it."""
    if resp.headers or (resp.content_type and "charset=" in resp.content_type):
        headers = CIMultiDict(resp.headers)
        if resp.content_type is not None:
            headers["Content-Type"] = resp.content_type
        out = web.Response(body=resp.body, status=resp.status, headers=headers)
    else:  # the common case, without a copy of the headers
        out = web.Response(body=resp.body, status=resp.status, content_type=resp.content_type)
    if resp.close_connection:
        out.force_close()
    return out


async def send(resp: Response, request: web.Request) -> web.StreamResponse:
    """A `Response` on an HTTP connection: a stream as a chunked body, written batch by batch
    until the stream ends or the client goes away."""
    if resp.stream is None:
        return web_response(resp)
    out = web.StreamResponse(status=resp.status, headers={"Content-Type": resp.content_type or JSON_CT,
                                                          "Cache-Control": "no-cache, private", **dict(resp.headers)})
    out.enable_chunked_encoding()
    try:
        await out.prepare(request)
        try:
            async for frames in resp.stream:
                await out.write(b"".join(frames))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
    finally:
        await resp.aclose()
    return out


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_DECIMAL = re.compile(r"[+-]?[0-9]+\Z")


def _query_int(q: Any, name: str) -> int:
    """An int64 query parameter (limit, timeoutSeconds): strconv.ParseInt(s, 10, 64), whose
    error the parameter codec answers as a 400."""
    raw = q.get(name)
    if raw in (None, ""):
        return 0
    if not _DECIMAL.match(raw):
        raise errors.bad_request(f'strconv.ParseInt: parsing {go_quote(raw)}: invalid syntax')
    v = int(raw)
    if not _INT64_MIN <= v <= _INT64_MAX:
        raise errors.bad_request(f'strconv.ParseInt: parsing {go_quote(raw)}: value out of range')
    return v


class Selectors:
    """Label and field selectors of a list/watch request, parsed once."""

    def __init__(self, res: Resource, query: Any) -> None:
        self.res = res
        self.storage_version = res.strategy.storage_version
        ls, fs = query.get("labelSelector", ""), query.get("fieldSelector", "")
        self.label = selectors.parse_label_selector(ls) if ls else None
        self.field = fieldselectors.field_selector_for(fs, res.group, res.version, res.kind) if fs else None
        if self.label is not None and self.label.empty():
            self.label = None
        if self.field is not None and self.field.empty():
            self.field = None
        self.empty = self.label is None and self.field is None

    def matches(self, obj: dict[str, Any]) -> bool:
        """Does a stored object match? Field selectors read the storage version's shape (the
        kind's field labels were converted to its field names). One of the wrong shape (labels that are not a map of
        strings, a string where a field's parent should be) matches nothing it lacks."""
        if self.label is not None:
            meta = obj.get("metadata")
            labels = meta.get("labels") if isinstance(meta, dict) else None
            if not isinstance(labels, dict):
                labels = {}
            try:
                if not self.label.matches(labels):
                    return False
            except TypeError:  # an unhashable label value
                if not self.label.matches({k: v for k, v in labels.items() if isinstance(v, str)}):
                    return False
        if self.field is not None:
            if self.storage_version is not None and obj.get("apiVersion") != self.storage_version:
                obj = conversion.convert(obj, self.storage_version)  # stored by an older kubeling
            try:
                return self.field.matches(obj, self.res.group, self.res.kind)
            except (AttributeError, TypeError):
                return False
        return True


def _continue_token(rv: int, key: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": key + "\x00"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parse_continue(token: str) -> tuple[int, str]:
    """storage.DecodeContinue: (resourceVersion, start key) of a continue token, or the 400
    its errors become ("invalid continue token: continue key is not valid: ...")."""
    def invalid(why: str) -> errors.StatusError:
        return errors.bad_request(f"invalid continue token: continue key is not valid{why}")

    bad = next((i for i, c in enumerate(token) if c not in _RAW_URL_B64), None)
    if bad is not None or len(token) % 4 == 1:
        raise invalid(f": illegal base64 data at input byte {bad if bad is not None else len(token)}")
    try:
        d = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, orjson.JSONDecodeError) as e:
        raise invalid(f": {e}") from None
    if not isinstance(d, dict):
        raise invalid(f": json: cannot unmarshal {_json_kind(d)} into Go value of type storage.continueToken")
    for field, go_type in (("v", "string"), ("rv", "int64"), ("start", "string")):
        v = d.get(field)
        if v is None:
            continue
        kind = _json_kind(v)
        if go_type == "string" and kind != "string":
            raise invalid(f": json: cannot unmarshal {kind} into Go struct field continueToken.{field} of type string")
        if go_type == "int64" and not (type(v) is int and _INT64_MIN <= v <= _INT64_MAX):
            shown = f"number {v}" if kind == "number" else kind
            raise invalid(f": json: cannot unmarshal {shown} into Go struct field continueToken.{field} of type int64")
    if d.get("v") != "meta.k8s.io/v1":
        raise invalid(f": server does not recognize this encoded version {d.get('v') or ''}")
    rv, start = d.get("rv") or 0, d.get("start") or ""
    if rv == 0:
        raise invalid(": incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not start:
        raise invalid(": encoded start key empty (version meta.k8s.io/v1)")
    key = start if start.startswith("/") else "/" + start
    if posixpath.normpath(key) != key:  # path.Clean: no traversal out of the listed prefix
        raise invalid(f": {start}")
    return rv, start


_RAW_URL_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _json_kind(v: Any) -> str:
    """The JSON type name Go's decoder prints in `cannot unmarshal <kind> into ...`."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(v), "null")


STREAMING = ("log", "exec", "attach", "portforward")
_STREAMING_SUFFIXES = tuple("/" + s for s in STREAMING)


def _is_streaming(target: paths.Target) -> bool:
    res = target.resource
    return target.subresource in STREAMING and res.kind == "Pod" and res.group == "" and bool(target.name)


def _streaming_target(path: str) -> paths.Target | None:
    """The target of a streaming subresource request (pods/{name}/log, exec, attach,
    portforward), or None for every other path."""
    if not path.endswith(_STREAMING_SUFFIXES):
        return None
    try:
        target = paths.parse(path)
    except paths.UnknownPath:
        return None
    return target if _is_streaming(target) else None


class RestAPI:
    """Turns HTTP requests on resource paths into registry calls."""

    def __init__(self, registry: Registry, server_address: str, request_timeout: float = 60.0) -> None:
        self.registry = registry
        # kube-apiserver --request-timeout: a body still arriving after it is a 504 (a client that
        # sends a byte now and then must not hold a handler forever)
        self.request_timeout = request_timeout
        self.store = registry.store
        self.server_address = server_address
        self.metrics: Any = None  # the metrics component (metrics/server.py) that answers metrics.k8s.io
        self.crds: Any = None  # crds.CRDServer: installs the resources CRDs define
        self.authn: Any = None  # app.Authenticator: TokenReviews ask it
        self.authz: Any = None  # auth.rbac.Authorizer: access and rules reviews ask it
        self.token_issuer: Any = None  # tokens.TokenIssuer: answers serviceaccounts/{name}/token
        self.auditor: Any = None  # audit.Auditor: in-process requests are audited too

    # ---- entry points ---------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp entry point, a thin adapter over `serve`: the streaming subresources,
        which need the connection itself (upgrades, relays), go to kubeletproxy.py."""
        target = _streaming_target(request.path)
        if target is not None:
            from . import kubeletproxy  # pods/log, exec, attach, portforward: relayed to the kubelet

            return await kubeletproxy.handle(self, request, target.resource, target.namespace, target.name or "",
                                          target.subresource or "")
        req = Request(request.method, request.path, request.query, request.headers,
                      content=request.content, content_length=request.content_length)
        req.user = request.get("user")
        try:
            resp = await self.serve(req)
        finally:
            if req.decoded is not None:
                request["body"] = req.decoded  # the audit log's requestObject
        return await send(resp, request)

    async def serve(self, request: Request) -> Response:
        """Any request on /api and /apis but the streaming subresources, whichever transport
        brought it; errors are raised as `StatusError`s (the caller answers them)."""
        path = request.path
        method = request.method
        if method == "GET":
            disc = self._discovery(path, request.headers.get("Accept"))
            if disc is not None:
                return disc
        try:
            target = paths.parse(path)
        except paths.UnknownPath:
            raise errors.resource_not_found_for_path() from None
        res = target.resource
        q = request.query
        if res.group == METRICS_GROUP:
            from .metricsapi import answer

            as_table = negotiation.negotiate(request.headers.get("Accept")).as_kind == "Table"
            return _json(answer(self.metrics, res, method, target.namespace, target.name, q, as_table))
        if _is_streaming(target):
            raise errors.bad_request(f"{target.subresource} needs an HTTP connection")
        if method == "GET":
            wanted = negotiation.negotiate(request.headers.get("Accept"))
            if target.name is None:
                if query_bool(q, "watch"):
                    if "watch" not in res.verbs:
                        raise errors.method_not_allowed()
                    return self.watch(request, target, wanted)
                if "list" not in res.verbs:
                    raise errors.method_not_allowed()
                return self.list(request, target, wanted)
            return await self.get(request, target, wanted)
        resp = await self._write(request, target, method)
        if res.kind == "CustomResourceDefinition" and self.crds is not None:
            await self.crds.sync()  # served at once: the response's client may use the new kind next
        return resp

    async def _write(self, request: Request, target: paths.Target, method: str) -> Response:
        if method == "POST":
            return await self.post(request, target)
        if method == "PUT":
            return await self.put(request, target)
        if method == "PATCH":
            return await self.patch(request, target)
        if method == "DELETE":
            if target.name is None:
                return await self.delete_collection(request, target)
            return await self.delete(request, target)
        raise errors.method_not_allowed()

    def _discovery(self, path: str, accept: str | None) -> Response | None:
        p = path.rstrip("/")
        if p == "/api":
            if discovery.wants_aggregated(accept):
                return Response(200, discovery.aggregated(True), discovery.AGGREGATED_CT)
            return _json(discovery.api_versions(self.server_address))
        if p == "/apis":
            if discovery.wants_aggregated(accept):
                return Response(200, discovery.aggregated(False), discovery.AGGREGATED_CT)
            return _json(discovery.api_group_list())
        parts = p.split("/")[1:]
        if parts == ["api", "v1"]:
            return _json(discovery.api_resource_list("", "v1"))
        if len(parts) == 2 and parts[0] == "apis":
            g = discovery.api_group(parts[1])
            if g is None:
                raise errors.resource_not_found_for_path()
            return _json(g)
        if len(parts) == 3 and parts[0] == "apis":
            doc = discovery.api_resource_list(parts[1], parts[2])
            if not doc["resources"]:
                raise errors.resource_not_found_for_path()
            return _json(doc)
        return None

    # ---- encoding -------------------------------------------------------------------------
    def _encode_one(self, res: Resource, entry: Entry, wanted: Wanted, status: int = 200) -> Response:
        if wanted.as_kind == "Table":
            return _json(self._table(res, [view(res, entry)], str(entry.mod_rev)), status)
        if wanted.as_kind == "PartialObjectMetadata":
            return _json(_partial(entry.obj()), status)
        if wanted.yaml:
            return Response(status, negotiation.encode_yaml(view(res, entry)), "application/yaml")
        return _json(encoded(res, entry), status)

    def _table(self, res: Resource, objs: list[dict[str, Any]], rv: str, *, with_columns: bool = True,
               include: str = "Metadata", cont: str | None = None, remaining: int | None = None) -> dict[str, Any]:
        return printers.table(res.group, res.kind, objs, datetime.datetime.now(datetime.timezone.utc), rv,
                              include_object=include, with_columns=with_columns, continue_token=cont,
                              remaining=remaining, handler=res.strategy.printer)

    # ---- reads ----------------------------------------------------------------------------
    async def get(self, request: Request, target: paths.Target, wanted: Wanted) -> Response:
        res, sub = target.resource, target.subresource
        assert target.name is not None
        if sub in (None, "status"):
            if "get" not in (res.verbs if sub is None else res.subresource(sub).verbs):  # type: ignore[union-attr]
                raise errors.method_not_allowed()
            entry = self.registry.get(res, target.namespace, target.name)
            return self._encode_one(res, entry, wanted if sub is None else Wanted(yaml=wanted.yaml))
        if sub == "scale":
            entry = self.registry.get(res, target.namespace, target.name)
            return _json(subresources.scale_of(res, entry))
        raise errors.method_not_allowed()

    def list(self, request: Request, target: paths.Target, wanted: Wanted) -> Response:
        res = target.resource
        q = request.query
        sel = Selectors(res, q)
        entries, rev = self.registry.list(res, target.namespace)
        limit = _query_int(q, "limit")
        cont = q.get("continue")
        if cont:
            rev_c, start = _parse_continue(cont)
            entries = [e for e in entries if e.key >= start]
            if rev_c > 0:  # a negative one asks for the latest state
                rev = rev_c
        if not sel.empty:
            entries = [e for e in entries if sel.matches(e.obj())]
        next_token = None
        remaining = None
        if limit > 0 and len(entries) > limit:
            remaining = len(entries) - limit
            entries = entries[:limit]
            next_token = _continue_token(rev, entries[-1].key)
        rv = str(rev)
        if wanted.as_kind == "Table":
            return _json(self._table(res, [view(res, e) for e in entries], rv, include=q.get("includeObject", "Metadata"),
                                     cont=next_token, remaining=remaining))
        meta: dict[str, Any] = {"resourceVersion": rv}
        if next_token:
            meta["continue"] = next_token
            meta["remainingItemCount"] = remaining
        if wanted.as_kind in ("PartialObjectMetadataList", "PartialObjectMetadata"):
            doc = {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                   "items": [_partial(e.obj()) for e in entries]}
            return _json(doc)
        if wanted.yaml:
            doc = {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta, "items": [view(res, e) for e in entries]}
            return Response(200, negotiation.encode_yaml(doc), "application/yaml")
        head = orjson.dumps({"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta})[:-1]
        body = b"".join((head, b',"items":[', b",".join(encoded(res, e) for e in entries), b"]}\n"))
        return _json(body)

    def watch(self, request: Request, target: paths.Target, wanted: Wanted) -> Response:
        """A stream of JSON lines, one per event. Opened here, so a bad selector or
        resourceVersion is an error answer; a compacted one (410) is an ERROR event, as upstream."""
        res = target.resource
        q = request.query
        if target.name is not None:
            raise errors.method_not_allowed()
        stream = WatchStream(self.store, res, target.namespace, Selectors(res, q), q.get("resourceVersion", ""),
                             timeout=float(_query_int(q, "timeoutSeconds")) or None,
                             bookmarks=query_bool(q, "allowWatchBookmarks"))
        try:
            stream.open()
        except errors.StatusError as e:
            if e.code != 410:
                raise
            return Response(stream=_once([orjson.dumps({"type": "ERROR", "object": e.status()}) + b"\n"]))
        first_table = True

        def frame(kind: str, item: Any) -> bytes:
            """A bookmark, an error, or an event as a Table or metadata."""
            nonlocal first_table
            if kind in (BOOKMARK, ERROR):
                return orjson.dumps({"type": kind, "object": item}) + b"\n"
            if wanted.as_kind == "Table":
                obj = self._table(res, [view(res, item)], str(item.mod_rev), with_columns=first_table,
                                  include=q.get("includeObject", "Metadata"))
                first_table = False
                return orjson.dumps({"type": kind, "object": obj}) + b"\n"
            return orjson.dumps({"type": kind, "object": _partial(item.obj())}) + b"\n"

        plain = _EVENT_PREFIX if not wanted.as_kind else {}

        async def frames() -> AsyncIterator[list[bytes]]:
            # the common case inline (no call per event): the stored bytes, copied once into the frame
            async for batch in stream.batches():
                yield [b"".join((plain[kind], encoded(res, item), b"}\n")) if kind in plain else frame(kind, item)
                       for kind, item in batch]

        return Response(stream=frames(), on_close=stream.close)

    # ---- writes ---------------------------------------------------------------------------
    async def _body(self, request: Request, optional: bool = False) -> tuple[Any, bytes]:
        """The decoded body and its bytes; an `optional` body (DELETE options) may be empty."""
        try:
            async with asyncio.timeout(self.request_timeout):
                raw = await negotiation.read_body(request.content, request.content_length)
        except TimeoutError:
            raise errors.FilterTimeout() from None
        if optional and not raw.strip():
            return None, raw
        obj = await negotiation.decode_body_async(raw, request.headers.get("Content-Type"))
        request.decoded = obj  # the audit log's requestObject (JSON, YAML or protobuf alike)
        return obj, raw

    def _write_opts(self, request: Request, subresource: str = "") -> WriteOptions:
        q = request.query
        kind = _OPTIONS_KINDS.get(request.method, "CreateOptions")
        patch_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        causes = meta_validation.validate_write_options(kind, q, patch_type)
        if causes:
            raise invalid_error(kind, "", "meta.k8s.io", causes)
        return WriteOptions(dry_run="All" in q.getall("dryRun", []), field_manager=q.get("fieldManager", ""),
                            user_agent=request.headers.get("User-Agent", ""), subresource=subresource)

    def _decode(self, request: Request, gvk: tuple[str, str, str], obj: Any, raw: bytes, opts: WriteOptions,
                how: str = "write", patch_repr: Any = None) -> None:
        """The typed decode of a body or patch result, with the request's fieldValidation (decoding.py)."""
        decoding.decode(gvk, obj, mode=decoding.directive(request.query), how=how, raw=raw,
                        warnings=opts.warnings, patch_repr=patch_repr)

    def _respond_write(self, res: Resource, entry: Entry, request: Request, opts: WriteOptions,
                       status: int) -> Response:
        wanted = negotiation.negotiate(request.headers.get("Accept"))
        resp = self._encode_one(res, entry, Wanted(yaml=wanted.yaml), status)
        if opts.warnings:
            for w in strict.warning_headers(opts.warnings):
                resp.add_header("Warning", w)
        return resp

    async def post(self, request: Request, target: paths.Target) -> Response:
        res, sub = target.resource, target.subresource
        if target.name is None:
            if "create" not in res.verbs:
                raise errors.method_not_allowed()
            obj, raw = await self._body(request)
            opts = self._write_opts(request)
            self._decode(request, _gvk(res), obj, raw, opts)
            if res.group in REVIEW_GROUPS:
                from .reviews import review

                return _json(review(res, obj, request.user, getattr(self.authn, "authenticate_token", None),
                                    self.authz, target.namespace), 201)
            if res.kind == "Binding" and res.group == "":
                await subresources.bind(self.registry, target.namespace, obj, opts)
                return _json(subresources.SUCCESS, 201)
            entry = await self.registry.create(res, target.namespace, obj, opts)
            return self._respond_write(res, entry, request, opts, 201)
        if sub == "binding":
            obj, raw = await self._body(request)
            opts = self._write_opts(request)
            self._decode(request, ("", "v1", "Binding"), obj, raw, opts)
            await subresources.bind(self.registry, target.namespace, obj, opts, target.name)
            return _json(subresources.SUCCESS, 201)
        if sub == "eviction":
            obj, raw = await self._body(request)
            self._decode(request, ("policy", "v1", "Eviction"), obj, raw, self._write_opts(request))
            assert target.name is not None
            await subresources.evict(self.registry, target.resource, target.namespace, target.name, obj)
            return _json(subresources.SUCCESS, 201)
        if sub == "token":
            return await self.token_request(request, target)
        raise errors.method_not_allowed()

    async def token_request(self, request: Request, target: paths.Target) -> Response:
        """serviceaccounts/{name}/token: a TokenRequest answered by `tokens.TokenIssuer`."""
        issuer = self.token_issuer
        if issuer is None or target.resource.kind != "ServiceAccount":
            raise errors.method_not_allowed()
        obj, raw = await self._body(request)
        self._decode(request, ("authentication.k8s.io", "v1", "TokenRequest"), obj, raw, self._write_opts(request))
        return _json(issuer.token_request(target.namespace or "", target.name or "", obj), 201)

    async def put(self, request: Request, target: paths.Target) -> Response:
        res, sub = target.resource, target.subresource
        if target.name is None:
            raise errors.method_not_allowed()
        obj, raw = await self._body(request)
        opts = self._write_opts(request, sub or "")
        if sub == "scale":
            self._decode(request, subresources.SCALE_GVK, obj, raw, opts)
            entry = await subresources.write_scale(self.registry, res, target.namespace, target.name,
                                                   lambda scale: obj, opts)
            return _json(subresources.scale_of(res, entry))
        if sub not in (None, "status", "finalize"):
            raise errors.method_not_allowed()
        if sub == "finalize":
            opts.subresource = ""
        self._decode(request, _gvk(res), obj, raw, opts)
        entry = await self.registry.update(res, target.namespace, target.name, obj, opts)
        return self._respond_write(res, entry, request, opts, 200)

    async def patch(self, request: Request, target: paths.Target) -> Response:
        res, sub = target.resource, target.subresource
        if target.name is None or sub not in (None, "status", "scale"):
            raise errors.method_not_allowed()
        ctype = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if res.custom is not None and ctype == negotiation.STRATEGIC_PATCH:  # crdHandler: no Go struct to merge by
            raise errors.StatusError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                     "accepted media types include: application/json-patch+json, "
                                     "application/merge-patch+json, application/apply-patch+yaml")
        if ctype not in negotiation.PATCH_TYPES:
            raise errors.StatusError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                     "accepted media types include: " + ", ".join(negotiation.PATCH_TYPES))
        body, raw = await self._body(request)
        opts = self._write_opts(request, sub or "")
        q = request.query
        if ctype == negotiation.APPLY_PATCH:
            return await self.server_side_apply(request, target, body, raw, opts, force=query_bool(q, "force"))

        if q.get("fieldValidation", "Warn") != "Ignore":
            check_strict_decode(ctype, body)

        def apply_patch(doc: dict[str, Any]) -> dict[str, Any]:
            if ctype == negotiation.JSON_PATCH:
                return json_patch(doc, body)
            if ctype == negotiation.MERGE_PATCH:
                return merge_patch(doc, body)
            return strategic_merge_patch_for(doc, body, *gvk)

        gvk = subresources.SCALE_GVK if sub == "scale" else _gvk(res)
        strategic = ctype == negotiation.STRATEGIC_PATCH

        def patched(doc: dict[str, Any]) -> dict[str, Any]:
            """The patch result, decoded into the kind's type like patch.go does."""
            new = apply_patch(doc)
            if not isinstance(new, dict):
                raise errors.bad_request("the patched object is not an object")
            if bounds.depth_exceeds(new):  # a JSON patch can nest its values below the document's
                raise errors.bad_request(bounds.too_deep_message())
            self._decode(request, gvk, new, raw, opts, how="strategic" if strategic else "patch",
                         patch_repr=(lambda: gofmt(body)) if strategic else None)
            return new

        if sub == "scale":
            entry = await subresources.write_scale(self.registry, res, target.namespace, target.name, patched, opts)
            return _json(subresources.scale_of(res, entry))

        def mutate(obj: dict[str, Any], cur: Entry) -> dict[str, Any]:
            new = patched(obj)
            meta = new.get("metadata")
            if meta is not None and object_rv(meta.get("resourceVersion")) == 0:
                meta["resourceVersion"] = str(cur.mod_rev)
            return new

        entry = await self.registry.guaranteed_update(res, target.namespace, target.name, mutate, opts)
        return self._respond_write(res, entry, request, opts, 200)

    async def server_side_apply(self, request: Request, target: paths.Target, config: Any, raw: bytes,
                                opts: WriteOptions, force: bool) -> Response:
        res = target.resource
        assert target.name is not None
        if config is None:
            config = {}  # yaml `null`: an empty object, which then is of no known type
        if not isinstance(config, dict):  # sigs.k8s.io/yaml.Unmarshal into the object's map
            raise errors.bad_request("error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot "
                                     f"unmarshal {json_kind(config)} into Go value of type map[string]interface {{}}")
        self._decode(request, _gvk(res), config, raw, opts, how="apply")
        sch = schema.for_kind(res.group, res.version, res.kind)
        cur = self.store.get(res.key(target.namespace, target.name))
        if cur is None:
            if opts.subresource:
                raise errors.not_found(res.plural, target.name, res.group)
            base = self.registry.prepare_new(res, target.namespace, {
                "metadata": {"name": target.name, **({"namespace": target.namespace} if res.namespaced else {})}})
            self.registry._check_namespace(res, target.namespace, target.name)
            new = server_side_apply(None, config, opts.field_manager, force, res.api_version, self.registry.now(),
                                          sch, kind=res.kind, subresource=opts.subresource)
            decoding.decode(_gvk(res), new, mode="Ignore", how="applied")
            meta = new.setdefault("metadata", {})
            for k in ("uid", "creationTimestamp", "name", "namespace"):
                if k in base["metadata"]:
                    meta[k] = base["metadata"][k]
            new["apiVersion"], new["kind"] = res.api_version, res.kind
            entry = await self.registry.insert(res, new, opts, managed_fields=meta.get("managedFields") or [])
            return self._respond_write(res, entry, request, opts, 201)

        pinned_rv = (config.get("metadata") or {}).get("resourceVersion") if isinstance(config.get("metadata"), dict) else None

        def mutate(obj: dict[str, Any], cur: Entry) -> dict[str, Any]:
            if stale(pinned_rv, cur):  # a precondition, as upstream
                raise errors.conflict(res.plural, target.name or "", res.group)
            new = server_side_apply(obj, config, opts.field_manager, force, res.api_version,
                                          self.registry.now(), sch, kind=res.kind, subresource=opts.subresource)
            decoding.decode(_gvk(res), new, mode="Ignore", how="applied")
            new["metadata"]["resourceVersion"] = str(cur.mod_rev)
            return new

        entry = await self.registry.guaranteed_update(res, target.namespace, target.name, mutate, opts,
                                                      keep_managed_fields=True)
        return self._respond_write(res, entry, request, opts, 200)

    async def delete(self, request: Request, target: paths.Target) -> Response:
        res = target.resource
        assert target.name is not None
        if target.subresource is not None or "delete" not in res.verbs:
            raise errors.method_not_allowed()
        body, _ = await self._body(request, optional=True)
        opts = DeleteOptions.from_body(body, request.query)
        entry, gone = await self.registry.delete(res, target.namespace, target.name, opts)
        wanted = negotiation.negotiate(request.headers.get("Accept"))
        if not gone:
            return self._encode_one(res, entry, Wanted(yaml=wanted.yaml), 200)
        if res.strategy.returns_deleted_object:
            return self._encode_one(res, entry, Wanted(yaml=wanted.yaml))
        obj = entry.obj()
        return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                      "details": {"name": obj["metadata"]["name"], **({"group": res.group} if res.group else {}),
                                  "kind": res.plural, "uid": obj["metadata"].get("uid")}})

    async def delete_collection(self, request: Request, target: paths.Target) -> Response:
        res = target.resource
        if "deletecollection" not in res.verbs:
            raise errors.method_not_allowed()
        body, _ = await self._body(request, optional=True)
        opts = DeleteOptions.from_body(body, request.query)
        sel = Selectors(res, request.query)
        entries, rev = self.registry.list(res, target.namespace)
        items = []
        for e in entries:
            if sel.empty or sel.matches(e.obj()):
                meta = e.obj()["metadata"]
                try:
                    entry, _ = await self.registry.delete(res, meta.get("namespace"), meta["name"], opts)
                    items.append(view(res, entry))
                except errors.StatusError as err:
                    if err.code != 404:
                        raise
        return _json({"kind": res.list_kind, "apiVersion": res.api_version,
                      "metadata": {"resourceVersion": str(self.store.revision)}, "items": items})


def _gvk(res: Resource) -> tuple[str, str, str]:
    return res.group, res.version, res.kind


_EVENT_PREFIX = {kind: b'{"type":"%s","object":' % kind.encode() for kind in ("ADDED", "MODIFIED", "DELETED")}


async def _once(frames: list[bytes]) -> AsyncIterator[list[bytes]]:
    yield frames


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}
