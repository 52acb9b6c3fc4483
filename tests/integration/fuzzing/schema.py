"""The API as the cluster *serves* it (OpenAPI v3), and an independent type checker.

Nothing here imports kubeling: the operations, kinds and schemas come from `/openapi/v3` over
HTTPS, and the checker encodes what upstream's Go decoder accepts (JSON types, int32/int64
ranges, base64 for `[]byte`, strings for Quantity/Time, no unknown fields), so a stored object
that fails it is one the real kube-apiserver could never have stored.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Iterator

Schema = dict[str, Any]
_REF = "#/components/schemas/"
_INT_RANGES = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}
# resource.Quantity's grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go)
_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")
# metav1.Time / MicroTime: RFC 3339 (time.RFC3339 / RFC3339Micro on the wire)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
OPAQUE = {"io.k8s.apimachinery.pkg.runtime.RawExtension", "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"}
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
TIMES = {"io.k8s.apimachinery.pkg.apis.meta.v1.Time", "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"}


@dataclass(frozen=True)
class Operation:
    """One write the server documents: method, path template, and the kind of its body."""

    method: str  # post | put | patch | delete
    path: str  # e.g. /api/v1/namespaces/{namespace}/pods/{name}/binding
    action: str  # post | put | patch | delete | deletecollection
    kind: str  # x-kubernetes-group-version-kind of the operation
    api_version: str
    body: str  # component name of the request body (for patch: the resource's own kind)

    @property
    def namespaced(self) -> bool:
        return "{namespace}" in self.path

    @property
    def collection(self) -> str:
        """The collection whose member `{name}` names (for /namespaces/{name}: the namespaces)."""
        return self.path.split("/{name}")[0]

    @property
    def subresource(self) -> str:
        return self.path.split("/{name}/")[1] if "/{name}/" in self.path else ""


@dataclass(frozen=True)
class Listing:
    """A cluster-wide LIST path and the schema of its items."""

    path: str
    item: str


class ServedAPI:
    """Every group-version document of `/openapi/v3`, merged: schemas by name, writes, lists."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.schemas: dict[str, Schema] = {}
        self.ops: list[Operation] = []
        self.lists: list[Listing] = []
        by_gvk: dict[tuple[str, str, str], str] = {}
        for doc in docs:
            self.schemas.update(doc.get("components", {}).get("schemas", {}))
        for name, s in self.schemas.items():
            for g in s.get("x-kubernetes-group-version-kind", []):
                by_gvk.setdefault((g["group"], g["version"], g["kind"]), name)
        for doc in docs:
            for path, item in doc.get("paths", {}).items():
                for method, op in item.items():
                    if not isinstance(op, dict) or "x-kubernetes-group-version-kind" not in op:
                        continue
                    g = op["x-kubernetes-group-version-kind"]
                    gvk = (g["group"], g["version"], g["kind"])
                    api_version = f"{g['group']}/{g['version']}" if g["group"] else g["version"]
                    action = op.get("x-kubernetes-action", "")
                    if method == "get" and action == "list" and "{" not in path and gvk in by_gvk:
                        self.lists.append(Listing(path, by_gvk[gvk]))
                    if method not in ("post", "put", "patch", "delete") or action == "connect":
                        continue
                    content = op.get("requestBody", {}).get("content", {})
                    ref = next((c["schema"].get("$ref", "") for c in content.values()), "")
                    body = by_gvk.get(gvk, "") if method == "patch" else ref.removeprefix(_REF)
                    if body in self.schemas:
                        self.ops.append(Operation(method, path, action, g["kind"], api_version, body))

    def resolve(self, s: Schema) -> tuple[str, Schema]:
        """Follow `$ref` and the one-element `allOf` wrappers v3 uses: (component name, schema)."""
        name = ""
        while True:
            if "$ref" in s:
                name = s["$ref"].removeprefix(_REF)
                s = self.schemas[name]
            elif len(s.get("allOf", ())) == 1 and not s.get("properties"):
                s = s["allOf"][0]
            else:
                return name, s

    def check(self, value: Any, s: Schema, path: str = "") -> Iterator[str]:
        """Why `value` could not have come out of upstream's typed decode of schema `s`."""
        name, s = self.resolve(s)
        if value is None:  # null decodes to the zero value; nil maps/slices encode as null
            return
        where = path or "<root>"
        if name in OPAQUE:
            return
        if name == QUANTITY:
            if not (isinstance(value, str) and _QUANTITY.match(value)):
                yield f"{where}: Quantity stored as {value!r:.60}"
            return
        if name == INT_OR_STRING:
            if not (isinstance(value, str) or _is_int(value, "int32")):
                yield f"{where}: IntOrString stored as {value!r:.60}"
            return
        if name in TIMES:
            if not (isinstance(value, str) and _RFC3339.match(value)):
                yield f"{where}: time stored as {value!r:.60}"
            return
        t = s.get("type")
        if t == "object" or "properties" in s:
            if not isinstance(value, dict):
                yield f"{where}: object stored as {type(value).__name__} {value!r:.60}"
                return
            props, extra = s.get("properties", {}), s.get("additionalProperties")
            for k, v in value.items():
                if k in props:
                    yield from self.check(v, props[k], f"{path}.{k}")
                elif isinstance(extra, dict):
                    yield from self.check(v, extra, f"{path}[{k[:40]!r}]")
                elif props and not s.get("x-kubernetes-preserve-unknown-fields"):
                    yield f"{where}: unknown field {k[:60]!r} stored"
        elif t == "array":
            if not isinstance(value, list):
                yield f"{where}: array stored as {type(value).__name__} {value!r:.60}"
                return
            for i, v in enumerate(value):
                yield from self.check(v, s.get("items", {}), f"{path}[{i}]")
        elif t == "string":
            if not isinstance(value, str):
                yield f"{where}: string stored as {type(value).__name__} {value!r:.60}"
            elif s.get("format") == "byte" and not _is_base64(value):
                yield f"{where}: []byte stored as non-base64 {value!r:.60}"
        elif t == "integer":
            if not _is_int(value, s.get("format", "int64")):
                yield f"{where}: {s.get('format', 'integer')} stored as {value!r:.60}"
        elif t == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                yield f"{where}: number stored as {value!r:.60}"
        elif t == "boolean":
            if not isinstance(value, bool):
                yield f"{where}: boolean stored as {value!r:.60}"


def _is_int(value: Any, fmt: str) -> bool:
    lo, hi = _INT_RANGES.get(fmt, _INT_RANGES["int64"])
    return type(value) is int and lo <= value <= hi


def _is_base64(value: str) -> bool:
    """Go's encoding/json decodes []byte with base64.StdEncoding (padding required, \\r\\n ignored)."""
    try:
        base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
        return True
    except (binascii.Error, ValueError):
        return False
