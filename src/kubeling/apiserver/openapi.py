"""OpenAPI documents (`/openapi/v2`, `/openapi/v3`, `/openapi/v3/<group-version>`), built from the
resource table and the upstream schemas.

Why: kubectl 1.32 `apply` and `explain` read `/openapi/v3` first and then fetch only the
group-versions they need; `explain` renders fields from `components.schemas`, client-side apply
builds strategic merge patches from the `x-kubernetes-patch-*` extensions. The documents only
describe what we serve (the kinds and versions in `RESOURCES`), in upstream's shape: schema names
like `io.k8s.api.apps.v1.Deployment`, v3 `$ref`s under `#/components/schemas/`, a `$ref` with
siblings wrapped in `allOf`, paths with the same operation ids, parameters and responses as
kube-apiserver 1.32.

Everything is built lazily on first use and cached (bytes), so importing this module costs
nothing and the server starts fast. Serving (done by the handler):
  GET /openapi/v3            -> v3_root(), Content-Type application/json, Etag "<v3_etag(root)>"
  GET /openapi/v3/<gv>?hash= -> v3_document(gv) or 404; Etag "<v3_hash(gv)>"; if `hash` is given
                                and differs, 301 to v3_url(gv); if it matches, also
                                Cache-Control "public, immutable", Expires now+1y, Vary Accept.
                                Content-Type application/json (Accept must allow it, else 406).
  GET /openapi/v2            -> v2_document() as application/json when Accept allows JSON
                                (406 for a protobuf-only Accept: kubectl then uses v3).

The operations (paths, parameters, responses) are modelled in openapi_paths.py; this module
adds the schemas, renders v2 and v3, and serves the documents.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any, Iterable

import orjson

from kubeling import GIT_VERSION
from kubeling.api import crdopenapi, resources, schema

from .openapi_paths import STRING, Operation, Param, PathItem, group_version_items

V2_REF = "#/definitions/"
V3_REF = "#/components/schemas/"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

SECURITY_SCHEME = {
    "BearerToken": {
        "description": "Bearer Token authentication",
        "in": "header",
        "name": "authorization",
        "type": "apiKey",
    }
}

# Upstream descriptions of the two special string types (lost in the JSON-schema source).
_INT_OR_STRING_DOC = (
    "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling "
    "and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, "
    "a JSON field that can accept a name or number."
)
_QUANTITY_DOC = (
    "Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling "
    "in JSON and YAML, in addition to String() and AsInt64() accessors.\n\nThe serialization format is:\n\n"
    "``` <quantity>        ::= <signedNumber><suffix>\n\n\t(Note that <suffix> may be empty, from the \"\" "
    "case in <decimalSI>.)\n\n<digit>           ::= 0 | 1 | ... | 9 <digits>          ::= <digit> | "
    "<digit><digits> <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits> <sign>"
    "            ::= \"+\" | \"-\" <signedNumber>    ::= <number> | <sign><number> <suffix>          ::= "
    "<binarySI> | <decimalExponent> | <decimalSI> <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n\n\t"
    "(International System of units; See: http://physics.nist.gov/cuu/Units/binary.html)\n\n<decimalSI>"
    "       ::= m | \"\" | k | M | G | T | P | E\n\n\t(Note that 1024 = 1Ki but 1000 = 1k; I didn't choose "
    "the capitalization.)\n\n<decimalExponent> ::= \"e\" <signedNumber> | \"E\" <signedNumber> ```\n\n"
    "No matter which of the three exponent forms is used, no quantity may represent a number greater "
    "than 2^63-1 in magnitude, nor may it have more than 3 decimal places. Numbers larger or more precise "
    "will be capped or rounded up. (E.g.: 0.1m will rounded up to 1m.) This may be extended in the future "
    "if we require larger or smaller quantities.\n\nWhen a Quantity is parsed from a string, it will "
    "remember the type of suffix it had, and will use the same type again when it is serialized.\n\n"
    "Before serializing, Quantity will be put in \"canonical form\". This means that Exponent/suffix will "
    "be adjusted up or down (with a corresponding increase or decrease in Mantissa) such that:\n\n"
    "- No precision is lost - No fractional digits will be emitted - The exponent (or suffix) is as large "
    "as possible.\n\nThe sign will be omitted unless the number is negative.\n\nExamples:\n\n- 1.5 will be "
    "serialized as \"1500m\" - 1.5Gi will be serialized as \"1536Mi\"\n\nNote that the quantity will NEVER "
    "be internally represented by a floating point number. That is the whole point of this exercise.\n\n"
    "Non-canonical values will still parse as long as they are well formed, but will be re-emitted in "
    "their canonical form. (So always use canonical form, or don't diff.)\n\nThis format is intended to "
    "make it difficult to use these numbers without writing some sort of special handling code in the "
    "hopes that that will cause implementors to also use a fixed point implementation."
)
_V2_SPECIAL = {
    INT_OR_STRING: {"description": _INT_OR_STRING_DOC, "format": "int-or-string", "type": "string"},
    QUANTITY: {"description": _QUANTITY_DOC, "type": "string"},
}
_V3_SPECIAL = {
    INT_OR_STRING: {"description": _INT_OR_STRING_DOC, "format": "int-or-string",
                    "oneOf": [{"type": "integer"}, {"type": "string"}]},
    QUANTITY: {"description": _QUANTITY_DOC, "oneOf": [{"type": "string"}, {"type": "number"}]},
}

# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


_GENERATION_CACHES: list[Any] = []
_seen_generation = [0]


def _cached(fn: Any) -> Any:
    """functools.cache, emptied when the served custom resources change (a CRD write): every
    document and schema derived from the resource table is rebuilt on next use."""
    cached = functools.cache(fn)
    _GENERATION_CACHES.append(cached)

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        gen = resources.generation()
        if gen != _seen_generation[0]:
            _seen_generation[0] = gen
            for c in _GENERATION_CACHES:
                c.cache_clear()
        return cached(*args)
    wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return wrapper


@_cached
def _custom_definitions() -> dict[str, dict[str, Any]]:
    return crdopenapi.definitions()


def _upstream_v2(name: str) -> dict[str, Any]:
    """One definition as upstream's swagger.json has it (the JSON-schema source adds enums to
    apiVersion/kind and loses the two special string types' descriptions)."""
    if name in _V2_SPECIAL:
        return dict(_V2_SPECIAL[name])
    custom = _custom_definitions()
    if name in custom:
        return custom[name]
    d = schema.definitions()[name]
    props = d.get("properties")
    if not props or not any("enum" in props.get(k, {}) for k in ("apiVersion", "kind")):
        return d
    props = dict(props)
    for k in ("apiVersion", "kind"):
        if k in props and "enum" in props[k]:
            props[k] = {pk: pv for pk, pv in props[k].items() if pk != "enum"}
    return {**d, "properties": props}


def _to_v3(node: Any) -> Any:
    """Rewrite a v2 schema node for v3: refs under components, a ref with siblings wrapped in allOf."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, val in node.items():
        if k == "$ref":
            continue
        if k == "properties":
            out[k] = {pk: _to_v3(pv) for pk, pv in val.items()}
        elif k in ("items", "additionalProperties", "not"):
            out[k] = _to_v3(val)
        elif k in ("allOf", "oneOf", "anyOf"):
            out[k] = [_to_v3(x) for x in val]
        else:
            out[k] = val
    if "$ref" in node:
        ref = {"$ref": V3_REF + node["$ref"][len(V2_REF):]}
        return {"allOf": [ref], **out} if out else ref
    return out


@_cached
def _v3_schema(name: str) -> dict[str, Any]:
    if name in _V3_SPECIAL:
        return dict(_V3_SPECIAL[name])
    return _to_v3(_upstream_v2(name))


def _refs(node: Any, prefix: str, out: set[str]) -> None:
    """Collect the definition names a schema node references."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(prefix):
            out.add(ref[len(prefix):])
        for k, val in node.items():
            if k == "properties" and isinstance(val, dict):  # names, not keywords (`x-kubernetes-validations`)
                for p in val.values():
                    _refs(p, prefix, out)
            elif not k.startswith("x-"):
                _refs(val, prefix, out)
    elif isinstance(node, list):
        for x in node:
            _refs(x, prefix, out)


@_cached
def _direct_refs(name: str) -> frozenset[str]:
    out: set[str] = set()
    _refs(_upstream_v2(name), V2_REF, out)
    return frozenset(out)


def closure(names: Iterable[str]) -> list[str]:
    """The named definitions plus every definition they reference, transitively, sorted."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(_direct_refs(n) - seen)
    return sorted(seen)


def _referenced(items: list[PathItem]) -> set[str]:
    names: set[str] = set()
    for item in items:
        for op in item.operations:
            names.update(n for _, n in op.responses.values() if n and n != STRING)
            if op.body:
                names.add(op.body)
    return names


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def _v3_param(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"description": p.description, "in": p.location, "name": p.name}
    if p.required:
        out["required"] = True
    out["schema"] = {"type": p.type, "uniqueItems": True}
    return out


def _v3_media(name: str, types: Iterable[str]) -> dict[str, Any]:
    s = {"type": "string"} if name == STRING else {"$ref": V3_REF + name}
    return {t: {"schema": s} for t in types}


def _v3_operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"description": op.description, "operationId": op.operation_id}
    if op.params:
        out["parameters"] = [_v3_param(p) for p in op.params]
    if op.body:
        body: dict[str, Any] = {"content": _v3_media(op.body, op.body_types)}
        if op.body_required:
            body["required"] = True
        out["requestBody"] = body
    out["responses"] = {
        code: ({"content": _v3_media(n, op.produces), "description": d} if n else {"description": d})
        for code, (d, n) in op.responses.items()
    }
    out["tags"] = [op.tag]
    if op.action:
        out["x-kubernetes-action"] = op.action
    if op.gvk:
        out["x-kubernetes-group-version-kind"] = op.gvk
    return out


def _v3_paths(items: list[PathItem]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for item in items:
        entry: dict[str, Any] = {op.method: _v3_operation(op) for op in item.operations}
        if item.common:
            entry["parameters"] = [_v3_param(p) for p in item.common]
        paths[item.path] = entry
    return paths


def _v2_param(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"description": p.description, "in": p.location, "name": p.name}
    if p.required:
        out["required"] = True
    out["type"] = p.type
    out["uniqueItems"] = True
    return out


def _v2_operation(op: Operation) -> dict[str, Any]:
    params = []
    if op.body:
        body: dict[str, Any] = {"in": "body", "name": "body", "schema": {"$ref": V2_REF + op.body}}
        if op.body_required:
            body["required"] = True
        params.append(body)
    params.extend(_v2_param(p) for p in op.params)
    out: dict[str, Any] = {"consumes": list(op.body_types), "description": op.description,
                           "operationId": op.operation_id}
    if params:
        out["parameters"] = params
    out["produces"] = list(op.produces)
    out["responses"] = {code: _v2_response(d, n) for code, (d, n) in op.responses.items()}
    out["schemes"] = ["https"]
    out["tags"] = [op.tag]
    if op.action:
        out["x-kubernetes-action"] = op.action
    if op.gvk:
        out["x-kubernetes-group-version-kind"] = op.gvk
    return out


def _v2_response(description: str, name: str | None) -> dict[str, Any]:
    if name is None:
        return {"description": description}
    s = {"type": "string"} if name == STRING else {"$ref": V2_REF + name}
    return {"description": description, "schema": s}


def _v2_paths(items: list[PathItem]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for item in items:
        entry: dict[str, Any] = {op.method: _v2_operation(op) for op in item.operations}
        if item.common:
            entry["parameters"] = [_v2_param(p) for p in item.common]
        paths[item.path] = entry
    return paths


def _dumps(doc: dict[str, Any]) -> bytes:
    """Go's encoding/json sorts map keys; so do we, so the bytes (and the hash) are stable."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _documented() -> dict[str, list[str]]:
    """Served groups with upstream schemas: metrics.k8s.io is an aggregated API whose schema
    (metrics-server's) kubernetes-validate does not ship, so it is left out, as a cluster whose
    metrics-server publishes no OpenAPI."""
    return {g: v for g, v in resources.group_versions().items() if g != resources.METRICS_GROUP}


def group_version_paths() -> list[str]:
    """Served group-versions as the v3 root names them: 'api/v1', 'apis/apps/v1', ..."""
    out = []
    for group, versions in _documented().items():
        for version in versions:
            out.append(f"api/{version}" if not group else f"apis/{group}/{version}")
    return out


def _canonical(path: str) -> str:
    return path.strip("/").removeprefix("openapi/v3/")


def _parse(path: str) -> tuple[str, str] | None:
    """'apis/apps/v1' -> ('apps', 'v1'); anything we do not serve -> None."""
    path = _canonical(path)
    if path not in _served_paths():
        return None
    parts = path.split("/")
    return ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])


@_cached
def _served_paths() -> frozenset[str]:
    return frozenset(group_version_paths())


@_cached
def _v3_bytes(group: str, version: str) -> bytes:
    items = group_version_items(group, version)
    doc = {
        "components": {
            "schemas": {n: _v3_schema(n) for n in closure(_referenced(items))},
            "securitySchemes": SECURITY_SCHEME,
        },
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "openapi": "3.0.0",
        "paths": _v3_paths(items),
        "security": [{"BearerToken": []}],
    }
    return _dumps(doc)


def v3_document(path: str) -> bytes | None:
    """The OpenAPI 3.0 document of one served group-version ('api/v1', 'apis/apps/v1'); None -> 404."""
    gv = _parse(path)
    return _v3_bytes(*gv) if gv else None


@_cached
def _v3_hash(group: str, version: str) -> str:
    return etag(_v3_bytes(group, version))


def v3_hash(path: str) -> str | None:
    """Upstream's ETag of a group-version document: uppercase hex SHA-512 of its bytes."""
    gv = _parse(path)
    return _v3_hash(*gv) if gv else None


def v3_url(path: str) -> str | None:
    """The serverRelativeURL the root advertises for a group-version."""
    h = v3_hash(path)
    return f"/openapi/v3/{_canonical(path)}?hash={h}" if h else None


def etag(data: bytes) -> str:
    """kube-openapi's computeETag: fmt.Sprintf("%X", sha512.Sum512(data))."""
    return hashlib.sha512(data).hexdigest().upper()


@_cached
def v3_root() -> bytes:
    """The v3 discovery document: {"paths": {"apis/apps/v1": {"serverRelativeURL": ...}}}."""
    return _dumps({"paths": {p: {"serverRelativeURL": v3_url(p)} for p in group_version_paths()}})


@_cached
def v2_document() -> bytes:
    """The Swagger 2.0 document of everything served (JSON), as /openapi/v2 returns it."""
    items = [i for g, versions in _documented().items() for v in versions
             for i in group_version_items(g, v)]
    doc = {
        "definitions": {n: _upstream_v2(n) for n in closure(_referenced(items))},
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": _v2_paths(items),
        "security": [{"BearerToken": []}],
        "securityDefinitions": SECURITY_SCHEME,
        "swagger": "2.0",
    }
    return _dumps(doc)


V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_V2_TYPES = {"json": "application/json", "com.github.proto-openapi.spec.v2@v1.0+protobuf": V2_PROTOBUF,
             "com.github.proto-openapi.spec.v2.v1.0+protobuf": V2_PROTOBUF}


def v2_content_type(accept: str | None) -> str | None:
    """The Content-Type /openapi/v2 answers an Accept header with (kube-openapi's handler: JSON or
    gnostic protobuf under either name, `*` matching), None -> 406."""
    for clause in (accept or "*/*").split(","):
        kind, _, sub = clause.split(";", 1)[0].strip().lower().partition("/")
        if kind not in ("application", "*"):
            continue
        for name, ctype in _V2_TYPES.items():
            if sub in (name, "*"):
                return ctype
    return None


@_cached
def v2_protobuf() -> bytes:
    """/openapi/v2 as a protobuf `openapi_v2.Document` (built on first use, ~0.15 s)."""
    from .openapi_pb import encode_document

    return encode_document(orjson.loads(v2_document()))


@_cached
def v2_etag() -> str:
    """One ETag for both encodings, as upstream (the Vary header tells them apart)."""
    return etag(v2_document())


def warm() -> None:
    """Build every document now (e.g. in a thread after startup) so the first kubectl call is fast."""
    v3_root()
    v2_document()


def json_acceptable(accept: str | None) -> bool:
    """Whether an Accept header lets us answer with JSON, matched like kube-openapi's handlers
    (goautoneg clauses; a missing Accept means */*). False -> answer 406: e.g. kubectl's
    protobuf-only Accept on /openapi/v2, which it only asks for when v3 is unavailable."""
    for clause in (accept or "*/*").split(","):
        media = clause.split(";", 1)[0].strip().lower()
        kind, _, sub = media.partition("/")
        if kind in ("application", "*") and sub in ("json", "*"):
            return True
    return False
