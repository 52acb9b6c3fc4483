"""Swagger 2.0 JSON -> protobuf `openapi_v2.Document` (google/gnostic OpenAPIv2.proto).

Why: kubectl asks `/openapi/v2` with `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`
only (client-side apply's patch metadata and validation when v3 is missing, `explain
--output=plaintext-openapiv2`), and a 406 there makes it fall back or fail. Upstream's kube-openapi
converts its JSON document with gnostic's ParseDocument + proto.Marshal; this is the same mapping
for what a Kubernetes document contains. gnostic keeps maps as ordered (name, value) pairs and
carries free-form values (vendor extensions `x-*`, `default`, `example`, `enum`) as an `Any` whose
`yaml` field holds the value; we write that value as JSON, which is YAML, so clients read the same
data (kube-openapi's VendorExtensionToMap yaml-unmarshals it).

A key this module does not know raises ValueError, like gnostic's "has invalid property" errors:
the unit test encodes the whole served document, so a new key is caught there, not silently lost.
"""

from __future__ import annotations

import struct
from typing import Any, Callable

import orjson

_Codec = Callable[[Any], bytes]


# ---- wire format ---------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 -> ten bytes of two's complement, as proto does
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _string(v: Any) -> bytes:
    if not isinstance(v, str):
        raise ValueError(f"expected a string, got {v!r}")
    return v.encode()


def _any(v: Any) -> bytes:
    """gnostic `Any{yaml: 2}`: the value as YAML text (JSON is YAML)."""
    return _len_field(2, orjson.dumps(v) + b"\n")


# Field kinds: (field number, kind, codec for messages). Scalars follow proto3: zero values are
# not written; messages always are when present.
_S, _B, _I, _D, _SS, _M, _RM = "s", "b", "i", "d", "ss", "m", "rm"


def _message(fields: dict[str, tuple[int, str, _Codec | None]], ext: int | None = None) -> _Codec:
    """An encoder for a JSON object whose keys map to proto fields; `x-*` keys go to `ext`."""

    def encode(obj: Any) -> bytes:
        if not isinstance(obj, dict):
            raise ValueError(f"expected an object, got {obj!r}")
        parts: list[tuple[int, bytes]] = []
        for key, value in obj.items():
            spec = fields.get(key)
            if spec is None:
                if ext is not None and key.startswith("x-"):
                    parts.append((ext, _len_field(ext, _len_field(1, key.encode()) + _len_field(2, _any(value)))))
                    continue
                raise ValueError(f"openapi v2: unknown property {key!r}")
            num, kind, codec = spec
            parts.append((num, _scalar(num, kind, codec, value)))
        parts.sort(key=lambda p: p[0])  # Go's proto.Marshal writes fields in number order
        return b"".join(p for _, p in parts)

    return encode


def _scalar(num: int, kind: str, codec: _Codec | None, value: Any) -> bytes:
    if kind == _S:
        return _len_field(num, _string(value)) if value != "" else b""
    if kind == _B:
        return _varint(num << 3) + b"\x01" if value is True else b""
    if kind == _I:
        return _varint(num << 3) + _varint(int(value)) if value else b""
    if kind == _D:
        return _varint(num << 3 | 1) + struct.pack("<d", float(value)) if value else b""
    if kind == _SS:
        return b"".join(_len_field(num, _string(v)) for v in value)
    assert codec is not None
    if kind == _RM:
        return b"".join(_len_field(num, codec(v)) for v in value)
    return _len_field(num, codec(value))


def _named(value_codec: _Codec, ext: int | None = None, field: int = 1) -> _Codec:
    """A JSON map as gnostic's repeated Named<T>{name: 1, value: 2} at `field`."""

    def encode(obj: Any) -> bytes:
        if not isinstance(obj, dict):
            raise ValueError(f"expected an object, got {obj!r}")
        out = []
        for k, v in obj.items():
            if ext is not None and k.startswith("x-"):
                out.append(_len_field(ext, _len_field(1, k.encode()) + _len_field(2, _any(v))))
            else:
                out.append(_len_field(field, _len_field(1, k.encode()) + _len_field(2, value_codec(v))))
        return b"".join(out)

    return encode


def _oneof(choose: Callable[[Any], tuple[int, _Codec]]) -> _Codec:
    def encode(obj: Any) -> bytes:
        num, codec = choose(obj)
        return _len_field(num, codec(obj))

    return encode


# ---- messages (field numbers from OpenAPIv2.proto) ----------------------------------------

_external_docs = _message({"description": (1, _S, None), "url": (2, _S, None)}, ext=3)
_any_codec: _Codec = _any


def _schema(obj: Any) -> bytes:
    return _SCHEMA(obj)


def _additional_properties(v: Any) -> bytes:
    if isinstance(v, bool):  # a oneof: false is written too
        return _varint(2 << 3) + (b"\x01" if v else b"\x00")
    return _len_field(1, _schema(v))


def _type_item(v: Any) -> bytes:
    return b"".join(_len_field(1, _string(t)) for t in (v if isinstance(v, list) else [v]))


def _items_item(v: Any) -> bytes:
    return b"".join(_len_field(1, _schema(s)) for s in (v if isinstance(v, list) else [v]))


_xml = _message({"name": (1, _S, None), "namespace": (2, _S, None), "prefix": (3, _S, None),
                 "attribute": (4, _B, None), "wrapped": (5, _B, None)}, ext=6)

_SCHEMA = _message({
    "$ref": (1, _S, None), "format": (2, _S, None), "title": (3, _S, None), "description": (4, _S, None),
    "default": (5, _M, _any_codec), "multipleOf": (6, _D, None), "maximum": (7, _D, None),
    "exclusiveMaximum": (8, _B, None), "minimum": (9, _D, None), "exclusiveMinimum": (10, _B, None),
    "maxLength": (11, _I, None), "minLength": (12, _I, None), "pattern": (13, _S, None),
    "maxItems": (14, _I, None), "minItems": (15, _I, None), "uniqueItems": (16, _B, None),
    "maxProperties": (17, _I, None), "minProperties": (18, _I, None), "required": (19, _SS, None),
    "enum": (20, _RM, _any_codec), "additionalProperties": (21, _M, _additional_properties),
    "type": (22, _M, _type_item), "items": (23, _M, _items_item), "allOf": (24, _RM, _schema),
    "properties": (25, _M, _named(_schema)), "discriminator": (26, _S, None), "readOnly": (27, _B, None),
    "xml": (28, _M, _xml), "externalDocs": (29, _M, _external_docs), "example": (30, _M, _any_codec),
}, ext=31)

_primitives_items: _Codec


def _primitives(obj: Any) -> bytes:
    return _primitives_items(obj)


def _validations(first: int) -> dict[str, tuple[int, str, _Codec | None]]:
    """The run of fields every non-body parameter and PrimitivesItems share, from `type` on."""
    names = [("type", _S, None), ("format", _S, None), ("items", _M, _primitives),
             ("collectionFormat", _S, None), ("default", _M, _any_codec), ("maximum", _D, None),
             ("exclusiveMaximum", _B, None), ("minimum", _D, None), ("exclusiveMinimum", _B, None),
             ("maxLength", _I, None), ("minLength", _I, None), ("pattern", _S, None), ("maxItems", _I, None),
             ("minItems", _I, None), ("uniqueItems", _B, None), ("enum", _RM, _any_codec),
             ("multipleOf", _D, None)]
    return {name: (first + i, kind, codec) for i, (name, kind, codec) in enumerate(names)}


_primitives_items = _message(_validations(1), ext=18)
_HEAD = {"required": (1, _B, None), "in": (2, _S, None), "description": (3, _S, None), "name": (4, _S, None)}
# query and formData parameters have allowEmptyValue (5) before the shared run; header and path don't
_query_like = _message({**_HEAD, "allowEmptyValue": (5, _B, None), **_validations(6)}, ext=23)
_path_like = _message({**_HEAD, **_validations(5)}, ext=22)
_NON_BODY = {"header": (1, _path_like), "formData": (2, _query_like), "query": (3, _query_like), "path": (4, _path_like)}

_body_parameter = _message({"description": (1, _S, None), "name": (2, _S, None), "in": (3, _S, None),
                            "required": (4, _B, None), "schema": (5, _M, _schema)}, ext=6)
_json_reference = _message({"$ref": (1, _S, None), "description": (2, _S, None)})


def _parameter(obj: Any) -> bytes:
    """Parameter{body_parameter: 1 | non_body_parameter: 2{header 1, formData 2, query 3, path 4}}."""
    where = obj.get("in") if isinstance(obj, dict) else None
    if where == "body":
        return _len_field(1, _body_parameter(obj))
    if where not in _NON_BODY:
        raise ValueError(f"openapi v2: parameter location {where!r}")
    num, codec = _NON_BODY[where]
    return _len_field(2, _len_field(num, codec(obj)))


_parameters_item = _oneof(lambda p: (2, _json_reference) if isinstance(p, dict) and "$ref" in p else (1, _parameter))


def _schema_item(obj: Any) -> bytes:
    return _len_field(1, _schema(obj))  # SchemaItem{schema: 1} (file_schema is for type: file)


_response = _message({"description": (1, _S, None), "schema": (2, _M, _schema_item)}, ext=5)
_response_value = _oneof(lambda r: (2, _json_reference) if isinstance(r, dict) and "$ref" in r else (1, _response))
_responses = _named(_response_value, ext=2)
_security_requirement = _named(lambda scopes: b"".join(_len_field(1, _string(s)) for s in scopes))

_operation = _message({
    "tags": (1, _SS, None), "summary": (2, _S, None), "description": (3, _S, None),
    "externalDocs": (4, _M, _external_docs), "operationId": (5, _S, None), "produces": (6, _SS, None),
    "consumes": (7, _SS, None), "parameters": (8, _RM, _parameters_item), "responses": (9, _M, _responses),
    "schemes": (10, _SS, None), "deprecated": (11, _B, None), "security": (12, _RM, _security_requirement),
}, ext=13)
_path_item = _message({
    "$ref": (1, _S, None), "get": (2, _M, _operation), "put": (3, _M, _operation), "post": (4, _M, _operation),
    "delete": (5, _M, _operation), "options": (6, _M, _operation), "head": (7, _M, _operation),
    "patch": (8, _M, _operation), "parameters": (9, _RM, _parameters_item),
}, ext=10)
_paths = _named(_path_item, ext=1, field=2)

_api_key = _message({"type": (1, _S, None), "name": (2, _S, None), "in": (3, _S, None),
                     "description": (4, _S, None)}, ext=5)
_basic = _message({"type": (1, _S, None), "description": (2, _S, None)}, ext=3)


def _security_scheme(obj: Any) -> bytes:
    """SecurityDefinitionsItem: basic 1, apiKey 2 (oauth2 flows are not used by Kubernetes)."""
    kind = obj.get("type") if isinstance(obj, dict) else None
    if kind == "apiKey":
        return _len_field(2, _api_key(obj))
    if kind == "basic":
        return _len_field(1, _basic(obj))
    raise ValueError(f"openapi v2: security scheme type {kind!r}")


_contact = _message({"name": (1, _S, None), "url": (2, _S, None), "email": (3, _S, None)}, ext=4)
_license = _message({"name": (1, _S, None), "url": (2, _S, None)}, ext=3)
_info = _message({"title": (1, _S, None), "version": (2, _S, None), "description": (3, _S, None),
                  "termsOfService": (4, _S, None), "contact": (5, _M, _contact), "license": (6, _M, _license)}, ext=7)
_tag = _message({"name": (1, _S, None), "description": (2, _S, None), "externalDocs": (3, _M, _external_docs)}, ext=4)

_document = _message({
    "swagger": (1, _S, None), "info": (2, _M, _info), "host": (3, _S, None), "basePath": (4, _S, None),
    "schemes": (5, _SS, None), "consumes": (6, _SS, None), "produces": (7, _SS, None),
    "paths": (8, _M, _paths), "definitions": (9, _M, _named(_schema)),
    "parameters": (10, _M, _named(_parameter)), "responses": (11, _M, _named(_response)),
    "security": (12, _RM, _security_requirement), "securityDefinitions": (13, _M, _named(_security_scheme)),
    "tags": (14, _RM, _tag), "externalDocs": (15, _M, _external_docs),
}, ext=16)


def encode_document(doc: dict[str, Any]) -> bytes:
    """The protobuf bytes of a Swagger 2.0 document (a parsed /openapi/v2 JSON)."""
    return _document(doc)
