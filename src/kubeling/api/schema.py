"""Upstream OpenAPI schemas of the built-in kinds, loaded lazily from `kubernetes-validate`.

The package ships the v1.32 definitions as JSON Schema (`type: [T, "null"]`, `$ref: #/$defs/..`).
We turn them back into OpenAPI v2 form once (plain `type`, `$ref: #/definitions/..`,
int-or-string / quantity formats) because that is what the OpenAPI endpoints serve and what the
patch, apply and field-validation code walk. Loading costs ~100 ms, so it happens on first use.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import orjson

SCHEMA_VERSION = "v1.32.0"
_REF_PREFIX = "#/$defs/"
REF_PREFIX = "#/definitions/"

# Upstream serves these two as plain strings with a format, not as oneOf.
_SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string", "format": "quantity"},
}


def _schema_path() -> str:
    import kubernetes_validate

    base = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
    return os.path.join(base, f"{SCHEMA_VERSION}-local", "_definitions.json")


def _to_openapi(node: Any) -> Any:
    """Rewrite one JSON-Schema node to OpenAPI v2 form (recursively)."""
    if isinstance(node, list):
        return [_to_openapi(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "$ref":
            out["$ref"] = REF_PREFIX + v[len(_REF_PREFIX):]
        elif k == "type" and isinstance(v, list):
            types = [t for t in v if t != "null"]
            out["type"] = types[0] if len(types) == 1 else types
        elif k == "enum" and isinstance(v, list):
            out[k] = [e for e in v if e is not None]
        elif k in ("properties",):
            out[k] = {pk: _to_openapi(pv) for pk, pv in v.items()}
        else:
            out[k] = _to_openapi(v)
    return out


@functools.cache
def definitions() -> dict[str, dict[str, Any]]:
    """All definitions, OpenAPI v2 style, keyed by upstream name (io.k8s.api.apps.v1.Deployment)."""
    with open(_schema_path(), "rb") as f:
        raw = orjson.loads(f.read())["$defs"]
    defs: dict[str, dict[str, Any]] = {}
    for name, schema in raw.items():
        if name in _SPECIAL:
            defs[name] = {"description": schema.get("description", ""), **_SPECIAL[name]}
        else:
            defs[name] = _to_openapi(schema)
    return defs


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            index.setdefault((gvk.get("group", ""), gvk["version"], gvk["kind"]), name)
    return index


def definition_name(group: str, version: str, kind: str) -> str | None:
    """Name of the top-level definition for a kind, e.g. ('apps','v1','Deployment')."""
    return _gvk_index().get((group, version, kind))


def for_kind(group: str, version: str, kind: str) -> dict[str, Any] | None:
    name = definition_name(group, version, kind)
    return definitions()[name] if name else None


def resolve(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """Follow `$ref` (and a single-element `allOf`) to the schema it names."""
    while schema is not None:
        if "$ref" in schema:
            schema = definitions().get(schema["$ref"][len(REF_PREFIX):])
        elif "allOf" in schema and len(schema["allOf"]) == 1:
            schema = schema["allOf"][0]
        else:
            return schema
    return None


def child(schema: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """Schema of property `key` of an object schema, or of values of a map schema."""
    s = resolve(schema)
    if s is None:
        return None
    props = s.get("properties")
    if props is not None and key in props:
        return props[key]
    extra = s.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    return None


def items(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    s = resolve(schema)
    return s.get("items") if s else None
