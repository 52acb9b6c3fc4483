"""Server-side apply and managedFields, ported from structured-merge-diff and apimachinery.

Sources followed (upstream names in brackets so the logic can be compared line by line):
- sigs.k8s.io/structured-merge-diff/v4: `fieldpath` (sets, FieldsV1 encoding, path strings),
  `typed` (ToFieldSet, Compare, Merge, RemoveItems) and `merge/update.go` (Updater.Update/Apply,
  prune, conflicts).
- k8s.io/apimachinery/pkg/util/managedfields/internal: the manager chain of
  `NewDefaultFieldManager` (versioncheck, lastappliedupdater, lastappliedmanager,
  skipnonapplied, capmanagers, buildmanagerinfo, managedfieldsupdater, stripmeta,
  structuredmerge), `managedfields.go` (decode/encode/sort) and `conflict.go` (409 body).

Field sets are kept in the FieldsV1 wire form itself (`{"f:spec": {"f:replicas": {}}}`): a child
`{}` is a member leaf, a child with `"."` is a member that also has members below it, any other
child only has members below it. The root dict is the set's children. Keys are canonical
(`k:` JSON with sorted key names, Go escaping), so plain string equality is path equality.
Sets are never mutated once built; operations return new dicts and share unchanged subtrees.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Iterator

import orjson

from kubeling.api import schema as schemas
from kubeling.api.errors import StatusError, bad_request, field_cause, invalid
from kubeling.api.patch.common import go_type, gofmt

FieldSet = dict[str, Any]
ManagerId = tuple[str, str, str, str]  # (manager, operation, apiVersion ("" for Apply), subresource)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS = 10  # DefaultMaxUpdateManagers
FIELD_MANAGER_MAX_LENGTH = 128
MAX_SUBRESOURCE_NAME_LENGTH = 256
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
_CURRENT = ("current-operation", "Update", "", "")

_MISSING: Any = object()  # "no value" (Go nil), distinct from JSON null (None)
_MEMBER: FieldSet = {}  # shared empty node; never mutated

# stripMetaManager: fields that are never part of a manager's set.
_STRIP: FieldSet = {
    "f:apiVersion": {},
    "f:kind": {},
    "f:metadata": {
        ".": {},
        "f:name": {},
        "f:namespace": {},
        "f:creationTimestamp": {},
        "f:selfLink": {},
        "f:uid": {},
        "f:clusterName": {},
        "f:generation": {},
        "f:managedFields": {},
        "f:resourceVersion": {},
    },
}
_NO_MANAGED_FIELDS: FieldSet = {"f:metadata": {"f:managedFields": {}}}
_STRIP_META = tuple(k for k in _STRIP["f:metadata"] if k != ".")


def _strip(s: FieldSet) -> FieldSet:
    """difference(s, _STRIP), spelled out for its one shape (it runs on every write).

    Set.Difference is not recursive: a stripped path loses its own membership but keeps any
    members below it, and metadata itself stops being a member.
    """
    out = None
    for k in ("f:apiVersion", "f:kind"):
        node = s.get(k)
        if node is not None and (not node or "." in node):
            if out is None:
                out = dict(s)
            kids = _kids(node)
            if kids:
                out[k] = kids
            else:
                del out[k]
    meta = s.get("f:metadata")
    if meta is not None:
        m = None
        for k in _STRIP_META:
            node = meta.get(k)
            if node is not None and (not node or "." in node):
                if m is None:
                    m = dict(meta)
                kids = _kids(node)
                if kids:
                    m[k] = kids
                else:
                    del m[k]
        if m is not None or not meta or "." in meta:
            m = _kids(m if m is not None else meta)
            if out is None:
                out = dict(s)
            if m:
                out["f:metadata"] = m
            else:
                del out["f:metadata"]
    return s if out is None else out


# --------------------------------------------------------------------------------------------
# Go-compatible JSON (path element keys, last-applied annotation)
# --------------------------------------------------------------------------------------------

def go_json(value: Any) -> str:
    """Compact JSON with sorted keys and Go's HTML escaping, like encoding/json.Marshal."""
    s = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if "<" in s or ">" in s or "&" in s or "\u2028" in s or "\u2029" in s:
        s = (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
             .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return s


def _go_quote(s: str) -> str:
    """Go's %q for the strings that appear in conflict messages (close enough: JSON quoting)."""
    return json.dumps(s, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Field set algebra over FieldsV1 dicts (fieldpath.Set)
# --------------------------------------------------------------------------------------------

def _is_member(node: FieldSet) -> bool:
    return not node or "." in node


def _mk(member: bool, kids: FieldSet) -> FieldSet | None:
    """Build a node from its membership and its children (None if it would hold nothing)."""
    if not kids:
        return _MEMBER if member else None
    if member and "." not in kids:
        return {".": _MEMBER, **kids}
    if not member and "." in kids:
        kids = dict(kids)
        del kids["."]
        return kids or None
    return kids


def _kids(node: FieldSet) -> FieldSet:
    if "." in node:
        return {k: v for k, v in node.items() if k != "."}
    return node


def union(a: FieldSet, b: FieldSet) -> FieldSet:
    """Set union of two roots (children maps)."""
    if not b:
        return a
    if not a or a is b:
        return b
    out = dict(a)
    for k, bv in b.items():
        if k == ".":
            continue
        av = out.get(k)
        out[k] = bv if av is None else _node_union(av, bv)
    return out


def _node_union(a: FieldSet, b: FieldSet) -> FieldSet:
    if a is b:
        return a
    node = _mk(_is_member(a) or _is_member(b), union(_kids(a), _kids(b)))
    return node if node is not None else _MEMBER


def difference(a: FieldSet, b: FieldSet) -> FieldSet:
    """Members of a that are not members of b (Set.Difference; not recursive)."""
    if not a or not b:
        return a
    out = None
    for k, bv in b.items():
        if k == ".":
            continue
        av = a.get(k)
        if av is None:
            continue
        nv = _node_mk_diff(av, bv)
        if nv is av:
            continue
        if out is None:
            out = dict(a)
        if nv is None:
            del out[k]
        else:
            out[k] = nv
    return a if out is None else out


def _node_mk_diff(a: FieldSet, b: FieldSet) -> FieldSet | None:
    member = _is_member(a) and not _is_member(b)
    ka = _kids(a)
    kids = difference(ka, _kids(b))
    if member == _is_member(a) and kids is ka:
        return a
    return _mk(member, kids)


def recursive_difference(a: FieldSet, b: FieldSet) -> FieldSet:
    """Removes members of b and everything below them (Set.RecursiveDifference)."""
    if not a or not b:
        return a
    out = None
    for k, bv in b.items():
        if k == ".":
            continue
        av = a.get(k)
        if av is None:
            continue
        if _is_member(bv):
            nv = None
        else:
            kids = recursive_difference(_kids(av), bv)
            nv = _mk(_is_member(av), kids)
        if out is None:
            out = dict(a)
        if nv is None:
            del out[k]
        else:
            out[k] = nv
    return a if out is None else out


def intersection(a: FieldSet, b: FieldSet) -> FieldSet:
    """Members in both a and b."""
    if not a or not b:
        return {}
    if len(b) < len(a):
        small, big = b, a
    else:
        small, big = a, b
    out: FieldSet = {}
    for k, sv in small.items():
        if k == ".":
            continue
        bv = big.get(k)
        if bv is None:
            continue
        node = _mk(_is_member(sv) and _is_member(bv), intersection(_kids(sv), _kids(bv)))
        if node is not None:
            out[k] = node
    return out


def has(s: FieldSet, path: list[str]) -> bool:
    node = s
    for pe in path:
        node = node.get(pe) if pe != "." else None
        if node is None:
            return False
    return bool(path) and _is_member(node)


def _with_prefix(s: FieldSet, pe: str) -> FieldSet:
    node = s.get(pe)
    return _kids(node) if node else {}


def iterate(s: FieldSet, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Member paths in upstream order (members of a node first, then its children)."""
    items = sorted((k, v) for k, v in s.items() if k != ".")
    for k, v in items:
        if _is_member(v):
            yield prefix + (k,)
    for k, v in items:
        kids = _kids(v)
        if kids:
            yield from iterate(kids, prefix + (k,))


def sorted_fields(s: FieldSet) -> FieldSet:
    """Copy with keys in the order Go's encoder emits them (sorted; '.' first)."""
    return {k: (sorted_fields(s[k]) if s[k] else {}) for k in sorted(s)}


def _pe_string(pe: str) -> str:
    """One path element as in fieldpath.PathElement.String()."""
    kind, raw = pe[:2], pe[2:]
    if kind == "f:":
        return "." + raw
    if kind == "k:":
        fields = orjson.loads(raw)
        return "[" + ",".join(f"{n}={_value_string(v)}" for n, v in fields.items()) + "]"
    if kind == "v:":
        return f"[={_value_string(orjson.loads(raw))}]"
    if kind == "i:":
        return f"[{raw}]"
    return "{{invalid path element}}"


def _value_string(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return _go_quote(v)
    if isinstance(v, (int, float)):
        return str(v)
    return go_json(v)


def path_string(path: tuple[str, ...] | list[str]) -> str:
    """`.spec.template.spec.containers[name="nginx"].image` (fieldpath.Path.String)."""
    return "".join(_pe_string(pe) for pe in path)


# --------------------------------------------------------------------------------------------
# Decoding FieldsV1 from clients (canonical keys, validation)
# --------------------------------------------------------------------------------------------

_CANON: dict[str, str] = {}


def _canonical_pe(k: str) -> str:
    if k.startswith("f:") or k == ".":
        return k
    hit = _CANON.get(k)
    if hit is not None:
        return hit
    kind, raw = k[:2], k[2:]
    if kind == "k:":
        value = orjson.loads(raw)
        if not isinstance(value, dict) or not value:
            raise ValueError(f"invalid key {k!r}")
        out = "k:" + go_json(value)
    elif kind == "v:":
        out = "v:" + go_json(orjson.loads(raw))
    elif kind == "i:":
        out = "i:" + str(int(raw))
    else:
        raise ValueError(f"unknown path element type {k!r}")
    if len(_CANON) > 50_000:
        _CANON.clear()
    _CANON[k] = out
    return out


def decode_fields(raw: Any) -> FieldSet:
    """A client's FieldsV1 as a canonical set; ValueError when malformed (FieldsToSet)."""
    if not isinstance(raw, dict):
        raise ValueError("fieldsV1 must be an object")
    return _decode_node(raw, root=True)


def _decode_node(raw: dict, root: bool = False) -> FieldSet:
    out: FieldSet = {}
    for k, v in raw.items():
        if not isinstance(v, dict):
            raise ValueError(f"expected an object at {k!r}")
        if k == ".":
            if root:
                raise ValueError("'.' at the root of a field set")
            out["."] = _MEMBER
            continue
        child = _decode_node(v)
        out[_canonical_pe(k)] = child if child else _MEMBER
    return out


# --------------------------------------------------------------------------------------------
# Schema → types (kube-openapi schemaconv, as structured-merge-diff sees the OpenAPI)
# --------------------------------------------------------------------------------------------

SCALAR, STRUCT, LIST, DEDUCED = 0, 1, 2, 3

# Fields that are value structs (not pointers) in the Go types, so a decoded empty object has
# them as `{}`; with required fields they decide which added nodes get a "." in managedFields.
_VALUE_STRUCTS: dict[str, tuple[str, ...]] = {
    "io.k8s.api.core.v1.PodTemplateSpec": ("metadata", "spec"),
    "io.k8s.api.batch.v1.JobTemplateSpec": ("metadata", "spec"),
    "io.k8s.api.apps.v1.DeploymentSpec": ("template", "strategy"),
    "io.k8s.api.apps.v1.ReplicaSetSpec": ("template",),
    "io.k8s.api.apps.v1.StatefulSetSpec": ("template", "updateStrategy"),
    "io.k8s.api.apps.v1.DaemonSetSpec": ("template", "updateStrategy"),
    "io.k8s.api.batch.v1.JobSpec": ("template",),
    "io.k8s.api.batch.v1.CronJobSpec": ("jobTemplate",),
    "io.k8s.api.core.v1.Container": ("resources",),
    "io.k8s.api.core.v1.EphemeralContainer": ("resources",),
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec": ("resources",),
    "io.k8s.api.core.v1.ServiceStatus": ("loadBalancer",),
    "io.k8s.api.networking.v1.IngressStatus": ("loadBalancer",),
    "io.k8s.api.core.v1.NodeStatus": ("daemonEndpoints", "nodeInfo"),
    "io.k8s.api.core.v1.NodeDaemonEndpoints": ("kubeletEndpoint",),
    "io.k8s.api.core.v1.Event": ("involvedObject", "source"),
}
# Value fields that are never omitted yet are not structs for SMD (metav1.Time encodes as null).
_VALUE_NULLS: dict[str, tuple[str, ...]] = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": ("creationTimestamp",),
    "io.k8s.api.core.v1.Event": ("firstTimestamp", "lastTimestamp", "eventTime"),
}
# Defaults of list-map key fields (upstream OpenAPI `default`, dropped by our schema source).
_KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
}


class _Type:
    __slots__ = ("kind", "atomic", "scalar", "props", "elem", "keys", "key_defaults", "present", "_children",
                 "_elem_t")

    def __init__(self, kind: int, atomic: bool = False, scalar: str = "untyped") -> None:
        self.kind = kind
        self.atomic = atomic
        self.scalar = scalar  # SCALAR: numeric, string, boolean, untyped; "" accepts any shape
        self.props: dict[str, Any] = {}
        self.elem: Any = None
        self.keys: tuple[str, ...] | None = None  # list: None = set (or atomic); tuple = map keys
        self.key_defaults: dict[str, Any] = {}
        self.present: dict[str, bool] = {}  # always-present fields -> is a value struct
        self._children: dict[str, _Type] = {}
        self._elem_t: _Type | None = None

    def child(self, key: str) -> "_Type":
        t = self._children.get(key)
        if t is None:
            raw = self.props.get(key, _MISSING)
            if raw is _MISSING:
                t = self.elem_type()
            else:
                t = _compile(raw)
            self._children[key] = t
        return t

    def elem_type(self) -> "_Type":
        if self._elem_t is None:
            self._elem_t = _compile(self.elem) if self.elem is not None else _DEDUCED
        return self._elem_t


_DEDUCED = _Type(DEDUCED)
_UNTYPED_ATOMIC = _Type(SCALAR, scalar="")  # RawExtension: atomic whatever it holds
_CACHE: dict[int, tuple[Any, _Type]] = {}
_NAMES: dict[int, str] = {}


def _def_names() -> dict[int, str]:
    if not _NAMES:
        for name, d in schemas.definitions().items():
            _NAMES[id(d)] = name
    return _NAMES


def _compile(raw: Any) -> _Type:
    if raw is None:
        return _DEDUCED
    hit = _CACHE.get(id(raw))
    if hit is not None and hit[0] is raw:
        return hit[1]
    t = _build(raw)
    _CACHE[id(raw)] = (raw, t)
    return t


def _build(raw: dict) -> _Type:
    ref = raw.get("$ref", "")
    if ref.endswith("io.k8s.apimachinery.pkg.runtime.RawExtension"):
        return _UNTYPED_ATOMIC
    map_type = raw.get("x-kubernetes-map-type")
    s = schemas.resolve(raw)
    if s is None:
        return _DEDUCED
    if s.get("x-kubernetes-preserve-unknown-fields"):
        return _DEDUCED
    typ = s.get("type")
    if s.get("format") in ("int-or-string", "quantity"):
        return _Type(SCALAR)
    if typ == "array" or "items" in s:
        return _build_list(s)
    if typ == "object" or "properties" in s or "additionalProperties" in s:
        props = s.get("properties")
        extra = s.get("additionalProperties")
        if not props and not isinstance(extra, dict):
            return _DEDUCED
        map_type = map_type or s.get("x-kubernetes-map-type")
        t = _Type(STRUCT, atomic=map_type == "atomic")
        t.props = props or {}
        t.elem = extra if isinstance(extra, dict) else None
        name = _def_names().get(id(s), "")
        present = {p: False for p in s.get("required", ()) if p in t.props}
        for p in _VALUE_NULLS.get(name, ()):
            present[p] = False
        for p in _VALUE_STRUCTS.get(name, ()):
            present[p] = True
        if s.get("x-kubernetes-group-version-kind"):
            for p in ("metadata", "spec", "status"):
                if p in t.props:
                    present[p] = True
        t.present = present
        return t
    return _Type(SCALAR, scalar=_scalar_kind(typ, s.get("format")))


def _scalar_kind(typ: Any, fmt: Any) -> str:
    """schemaconv convertPrimitive: strings with a format (date-time, ...) are untyped."""
    if typ in ("integer", "number"):
        return "numeric"
    if typ == "boolean":
        return "boolean"
    return "string" if typ == "string" and fmt in (None, "", "byte") else "untyped"


def _build_list(s: dict) -> _Type:
    t = _Type(LIST, atomic=True)
    t.elem = s.get("items")
    list_type = s.get("x-kubernetes-list-type")
    if list_type is not None:
        if list_type == "set":
            t.atomic = False
        elif list_type == "map":
            t.atomic = False
            t.keys = tuple(s.get("x-kubernetes-list-map-keys") or ())
    else:
        strategy = s.get("x-kubernetes-patch-strategy")
        if strategy in ("merge", "merge,retainKeys"):
            t.atomic = False
            key = s.get("x-kubernetes-patch-merge-key")
            t.keys = (key,) if key else None
    if t.keys:
        item = schemas.resolve(t.elem) or {}
        name = _def_names().get(id(item), "")
        props = item.get("properties") or {}
        for k in t.keys:
            default = (props.get(k) or {}).get("default", _KEY_DEFAULTS.get((name, k), _MISSING))
            if default is not _MISSING:
                t.key_defaults[k] = default
    return t


_TYPES: dict[tuple[str, str], _Type] = {}


def type_for(obj: dict, schema: dict | None = None) -> _Type:
    """The SMD type of a whole object (from its schema, or looked up by apiVersion/kind)."""
    if schema is None:
        api_version, kind = obj.get("apiVersion") or "", obj.get("kind") or ""
        cacheable = type(api_version) is str and type(kind) is str
        t = _TYPES.get((api_version, kind)) if cacheable else None
        if t is None:
            group, _, version = api_version.rpartition("/")
            schema = schemas.for_kind(group, version, kind)
            t = _compile(schema) if schema is not None else _DEDUCED
            if cacheable and len(_TYPES) < 4096:
                _TYPES[(api_version, kind)] = t
        return t
    return _compile(schema)


def _effective(t: _Type, v: Any) -> int:
    """deduceAtom: the shape that applies to value v (deduced types follow the value)."""
    if t.kind == DEDUCED:
        if isinstance(v, dict):
            return STRUCT
        return SCALAR  # lists of deduced types are atomic, like scalars
    return t.kind


class _SchemaError(Exception):
    pass


def _item_pe(t: _Type, item: Any) -> str:
    """listItemToPathElement for an associative list."""
    if t.keys:
        if item is None:
            raise _SchemaError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise _SchemaError("associative list with keys may not have non-map elements")
        key = {}
        for k in t.keys:
            if k in item:
                key[k] = item[k]
            elif k in t.key_defaults:
                key[k] = t.key_defaults[k]
            else:
                raise _SchemaError(
                    f'associative list with keys has an element that omits key field "{k}" '
                    "(and doesn't have default value)")
        return "k:" + go_json(key)
    if item is None:
        raise _SchemaError("associative list without keys has an element that's an explicit null")
    if isinstance(item, dict):
        raise _SchemaError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise _SchemaError("not supported: associative list with lists as elements")
    return "v:" + go_json(item)


def _index_items(t: _Type, items: list, path: str) -> tuple[list[str], dict[str, Any]]:
    order: list[str] = []
    seen: dict[str, Any] = {}
    for i, item in enumerate(items):
        try:
            pe = _item_pe(t, item)
        except _SchemaError as err:
            raise _SchemaError(f"{path}: element {i}: {err}" if path else f"element {i}: {err}") from None
        if pe in seen:
            raise _SchemaError(f"{path}: duplicate entries for key {_pe_string(pe)}")
        seen[pe] = item
        order.append(pe)
    return order, seen


def _is_leaf(t: _Type, kind: int) -> bool:
    return kind == SCALAR or t.atomic


# --------------------------------------------------------------------------------------------
# typed.AsTyped: validating an apply configuration against its schema
# --------------------------------------------------------------------------------------------

def typed_errors(v: Any, t: _Type) -> list[tuple[str, str]]:
    """SMD's validatingObjectWalker: (path, message) for every value that does not fit the
    schema (wrong shape or scalar type, undeclared field, bad or duplicate list keys). Null fits
    everything; deduced and RawExtension parts accept anything."""
    if v is None or t.kind == DEDUCED:
        return []
    if t.kind == SCALAR:
        msg = _scalar_error(t.scalar, v)
        return [("", msg)] if msg else []
    if t.kind == LIST:
        if not isinstance(v, list):
            return [("", f"expected list, got {_go_value_v(v)}")]
        return _list_errors(v, t)
    if not isinstance(v, dict):
        return [("", f"expected map, got {_go_value_v(v)}")]
    out: list[tuple[str, str]] = []
    for k, cv in v.items():
        if k not in t.props and t.elem is None:
            out.append(("." + k, "field not declared in schema"))
            break  # visitCurrentMapItem stops the map's iteration here
        out += [("." + k + p, m) for p, m in typed_errors(cv, t.child(k))]
    return out


def _list_errors(items: list, t: _Type) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    et = t.elem_type()
    for i, item in enumerate(items):
        if t.atomic:
            pe = f"[{i}]"
        else:
            try:
                pe = _pe_string(_item_pe(t, item))
            except _SchemaError as err:
                out.append(("", f"element {i}: {err}"))
                return out  # no path element: the rest of the list is not checked
            if pe in seen:
                out.append(("", f"duplicate entries for key {pe}"))
            seen.add(pe)
        out += [(pe + p, m) for p, m in typed_errors(item, et)]
    return out


def _scalar_error(kind: str, v: Any) -> str:
    """validateScalar, with Go's %T / %#v / %v of the value as the message prints it."""
    is_bool = isinstance(v, bool)
    is_num = isinstance(v, (int, float)) and not is_bool
    if kind == "numeric" and not is_num:
        return f"expected numeric (int or float), got {go_type(v)}"
    if kind == "string" and not isinstance(v, str):
        return f"expected string, got &value.valueUnstructured{{Value:{_go_sharp(v)}}}"
    if kind == "boolean" and not is_bool:
        return f"expected boolean, got {_go_value_v(v)}"
    if kind == "untyped" and isinstance(v, (dict, list)):
        return f"expected any scalar, got {_go_value_v(v)}"
    return ""


def _go_value_v(v: Any) -> str:
    """%v of an SMD value (a *valueUnstructured): `&{x}`, `&{map[a:1]}`."""
    return "&{" + gofmt(v) + "}"


def _go_sharp(v: Any) -> str:
    """Go's %#v of a decoded JSON value."""
    if v is None:
        return "interface {}(nil)"
    if isinstance(v, str):
        return _go_quote(v)
    if isinstance(v, dict):
        return "map[string]interface {}{" + ", ".join(f"{_go_quote(k)}:{_go_sharp(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_go_sharp(x) for x in v) + "}"
    return gofmt(v)


def typed_patch_error(config: dict, t: _Type) -> StatusError | None:
    """`failed to create typed patch object (ns/name; gvk): ...`: a plain error upstream (500)."""
    errs = typed_errors(config, t)
    if not errs:
        return None
    texts = [f"{p}: {m}" if p else m for p, m in errs]
    text = texts[0] if len(texts) == 1 else "errors:\n  " + "\n  ".join(texts)
    return StatusError(500, "", f"failed to create typed patch object ({_gvknn(config)}): {text}")


def _gvknn(obj: dict) -> str:
    """objectGVKNN: `namespace/name; group/version, Kind=kind`."""
    meta = _meta(obj)
    return (f"{meta.get('namespace', '')}/{meta.get('name', '')}; "
            f"{_gvk_string(obj)}")


# --------------------------------------------------------------------------------------------
# typed.ToFieldSet
# --------------------------------------------------------------------------------------------

def to_field_set(value: Any, t: _Type) -> FieldSet:
    """The set of fields a value sets (leaves, map entries, list items); root children."""
    return _fs_children(value, t, "")


def _fs_children(v: Any, t: _Type, path: str) -> FieldSet:
    kind = _effective(t, v)
    out: FieldSet = {}
    if t.atomic:
        return out
    if kind == STRUCT and isinstance(v, dict):
        props = t.props
        for k, cv in v.items():
            ct = t.child(k)
            pe = "f:" + k
            if _is_leaf(ct, _effective(ct, cv)):
                out[pe] = _MEMBER
                continue
            is_field = k in props
            if isinstance(cv, (dict, list)) and _shape_ok(_effective(ct, cv), cv):
                kids = _fs_children(cv, ct, path + "." + k)
                if is_field:
                    if kids:
                        out[pe] = kids
                else:
                    out[pe] = _mk(True, kids) or _MEMBER
            elif not is_field:
                out[pe] = _MEMBER
    elif kind == LIST and isinstance(v, list):
        et = t.elem_type()
        order, seen = _index_items(t, v, path)
        for pe in order:
            item = seen[pe]
            kids = _fs_children(item, et, path) if isinstance(item, (dict, list)) else {}
            out[pe] = _mk(True, kids) or _MEMBER
    return out


# --------------------------------------------------------------------------------------------
# typed.Compare
# --------------------------------------------------------------------------------------------

@dataclass
class Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    def is_same(self) -> bool:
        return not self.added and not self.modified and not self.removed


def compare(lhs: Any, rhs: Any, t: _Type, ignored: FieldSet | None = None) -> Comparison:
    """Fields added, modified and removed going from lhs to rhs (roots are objects).

    `ignored` paths (and everything below them) are left out, like Comparison.ExcludeFields.
    """
    a: FieldSet = {}
    m: FieldSet = {}
    r: FieldSet = {}
    if lhs != rhs:
        _cmp_children(lhs if lhs is not None else {}, rhs if rhs is not None else {}, t, ignored or {}, a, m, r)
    return Comparison(a, m, r)


def _cmp_children(l: Any, r: Any, t: _Type, ign: FieldSet, A: FieldSet, M: FieldSet, R: FieldSet) -> None:
    kind = _effective(t, l if l is not None else r)
    if kind == STRUCT:
        ld = l if isinstance(l, dict) else {}
        rd = r if isinstance(r, dict) else {}
        present = t.present
        for k, rv in rd.items():
            pe = "f:" + k
            ig = ign.get(pe) if ign else None
            if ig is not None and _is_member(ig):
                continue
            lv = ld.get(k, _MISSING)
            if lv is _MISSING and k in present and isinstance(l, dict):
                lv = {} if present[k] else None
            _cmp_item(pe, lv, rv, t.child(k), ig or {}, A, M, R)
        for k, lv in ld.items():
            if k in rd:
                continue
            pe = "f:" + k
            ig = ign.get(pe) if ign else None
            if ig is not None and _is_member(ig):
                continue
            rv = _MISSING
            if k in present and isinstance(r, dict):
                rv = {} if present[k] else None
            _cmp_item(pe, lv, rv, t.child(k), ig or {}, A, M, R)
    elif kind == LIST:
        et = t.elem_type()
        lorder, lseen = _index_items(t, l or [], "")
        rorder, rseen = _index_items(t, r or [], "")
        for pe in rorder:
            ig = ign.get(pe) if ign else None
            if ig is not None and _is_member(ig):
                continue
            _cmp_item(pe, lseen.get(pe, _MISSING), rseen[pe], et, ig or {}, A, M, R)
        for pe in lorder:
            if pe in rseen:
                continue
            ig = ign.get(pe) if ign else None
            if ig is not None and _is_member(ig):
                continue
            _cmp_item(pe, lseen[pe], _MISSING, et, ig or {}, A, M, R)


def _cmp_item(pe: str, l: Any, r: Any, t: _Type, ign: FieldSet, A: FieldSet, M: FieldSet, R: FieldSet) -> None:
    if l is _MISSING:
        if r is not _MISSING:
            A[pe] = _subtree(r, t, ign)
        return
    if r is _MISSING:
        R[pe] = _subtree(l, t, ign)
        return
    if l == r and type(l) is type(r):
        return
    kind = _effective(t, r if r is not None else l)
    if _is_leaf(t, kind) or _empty(l) and _empty(r) or not _shape_ok(kind, l) or not _shape_ok(kind, r):
        M[pe] = _MEMBER
        return
    a: FieldSet = {}
    m: FieldSet = {}
    rm: FieldSet = {}
    _cmp_children(l, r, t, ign, a, m, rm)
    if a:
        A[pe] = a
    if m:
        M[pe] = m
    if rm:
        R[pe] = rm


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, (dict, list)) and not v)


def _shape_ok(kind: int, v: Any) -> bool:
    if v is None:
        return True
    if kind == STRUCT:
        return isinstance(v, dict)
    if kind == LIST:
        return isinstance(v, list)
    return True


def _subtree(v: Any, t: _Type, ign: FieldSet) -> FieldSet:
    """Every node of a value added or removed as a whole (compare's Added/Removed).

    Hot on every create, so the leaf tests of `_effective` / `_is_leaf` / `_empty` /
    `_shape_ok` are inlined: a leaf, a null, an empty or a mis-shaped value is one member.
    """
    kind = t.kind
    if kind == DEDUCED:
        kind = STRUCT if isinstance(v, dict) else SCALAR
    if kind == SCALAR or t.atomic:
        return _MEMBER
    kids: FieldSet = {}
    if kind == STRUCT:
        if not isinstance(v, dict) or not v:
            return _MEMBER
        children = t._children
        for k, cv in v.items():
            pe = "f:" + k
            if ign:
                ig = ign.get(pe)
                if ig is not None:
                    if _is_member(ig):
                        continue
                    kids[pe] = _subtree(cv, t.child(k), ig)
                    continue
            ct = children.get(k) or t.child(k)
            if ct.kind == SCALAR or ct.atomic:
                kids[pe] = _MEMBER
            else:
                kids[pe] = _subtree(cv, ct, _MEMBER)
    else:
        if not isinstance(v, list) or not v:
            return _MEMBER
        et = t.elem_type()
        order, seen = _index_items(t, v, "")
        for pe in order:
            ig = ign.get(pe) if ign else None
            if ig is not None and _is_member(ig):
                continue
            kids[pe] = _subtree(seen[pe], et, ig or _MEMBER)
    return {".": _MEMBER, **kids} if kids else _MEMBER


def _added_children(l: Any, r: Any, t: _Type, ign: FieldSet) -> FieldSet:
    """union(Added, Modified) of compare(l, r) when l holds nothing: `{}` (a new object, or a
    value struct that is always present) or None (an always-present null field).

    The create path: one walk instead of compare + union. It mirrors `_cmp_children` branch for
    branch (Removed is always empty here, since l has no keys), including the quirk that fields
    in `t.present` are compared against their zero value rather than added.
    """
    kind = _effective(t, l if l is not None else r)
    out: FieldSet = {}
    if kind == STRUCT:
        rd = r if isinstance(r, dict) else {}
        present = t.present if isinstance(l, dict) else None
        for k, rv in rd.items():
            pe = "f:" + k
            ig = ign.get(pe) if ign else None
            if ig is not None and _is_member(ig):
                continue
            if present and k in present:
                node = _added_item({} if present[k] else None, rv, t.child(k), ig or _MEMBER)
                if node is not None:
                    out[pe] = node
                continue
            ct = t.child(k)
            if ig is None and (ct.kind == SCALAR or ct.atomic):
                out[pe] = _MEMBER  # what _subtree says of a leaf
            else:
                out[pe] = _subtree(rv, ct, ig or _MEMBER)
    elif kind == LIST:
        et = t.elem_type()
        rorder, rseen = _index_items(t, r or [], "")
        for pe in rorder:
            ig = ign.get(pe) if ign else None
            if ig is not None and _is_member(ig):
                continue
            out[pe] = _subtree(rseen[pe], et, ig or {})
    return out


def _added_item(l: Any, r: Any, t: _Type, ign: FieldSet) -> FieldSet | None:
    """`_cmp_item` for an always-present field of a new object (l is its zero value)."""
    if l == r and type(l) is type(r):
        return None
    kind = _effective(t, r if r is not None else l)
    if _is_leaf(t, kind) or _empty(l) and _empty(r) or not _shape_ok(kind, l) or not _shape_ok(kind, r):
        return _MEMBER
    return _added_children(l, r, t, ign) or None


# --------------------------------------------------------------------------------------------
# typed.Merge (apply: the right-hand side wins at the leaves)
# --------------------------------------------------------------------------------------------

def merge(lhs: Any, rhs: Any, t: _Type, path: str = "") -> Any:
    """Merge an applied configuration (rhs) into a live value (lhs)."""
    if rhs is _MISSING:
        return lhs
    if lhs is _MISSING or lhs is None:
        if isinstance(rhs, (dict, list)):
            _check_lists(rhs, t, path)
        return rhs
    kind = _effective(t, rhs)
    if _is_leaf(t, kind) or rhs is None or _empty(lhs) and _empty(rhs) or not _shape_ok(kind, lhs) or not _shape_ok(kind, rhs):
        if isinstance(rhs, (dict, list)):
            _check_lists(rhs, t, path)
        return rhs
    if kind == STRUCT:
        out = dict(lhs)
        for k, rv in rhs.items():
            mv = merge(lhs.get(k, _MISSING), rv, t.child(k), path + "." + k)
            if mv is None:
                out.pop(k, None)
            else:
                out[k] = mv
        return out
    return _merge_list(lhs, rhs, t, path)


def _check_lists(v: Any, t: _Type, path: str) -> None:
    """Validate key uniqueness of associative lists inside a value taken whole from rhs."""
    kind = _effective(t, v)
    if _is_leaf(t, kind):
        return
    if kind == STRUCT and isinstance(v, dict):
        for k, cv in v.items():
            if isinstance(cv, (dict, list)):
                _check_lists(cv, t.child(k), path + "." + k)
    elif kind == LIST and isinstance(v, list):
        _index_items(t, v, path)
        et = t.elem_type()
        for item in v:
            if isinstance(item, (dict, list)):
                _check_lists(item, et, path)


def _merge_list(lhs: list, rhs: list, t: _Type, path: str) -> list:
    """Associative list merge keeping live order around the applied order (mergingWalker)."""
    et = t.elem_type()
    rorder, rseen = _index_items(t, rhs, path)
    lorder, lseen = _index_items(t, lhs, path)
    shared = [pe for pe in rorder if pe in lseen]
    si = 0
    next_shared = shared[0] if shared else None
    out: list = []
    li = ri = 0
    ln, rn = len(lorder), len(rorder)

    def advance() -> None:
        nonlocal si, next_shared
        si += 1
        next_shared = shared[si] if si < len(shared) else None

    while li < ln or ri < rn:
        if li < ln and ri < rn:
            pe = lorder[li]
            if pe == rorder[ri]:
                out.append(merge(lseen[pe], rseen[pe], et, path))
                li += 1
                ri += 1
                advance()
                continue
            if pe in rseen and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < ln:
            pe = lorder[li]
            if pe not in rseen:
                out.append(lseen[pe])
                li += 1
                continue
        if ri < rn:
            pe = rorder[ri]
            out.append(merge(lseen.get(pe, _MISSING), rseen[pe], et, path))
            ri += 1
            if next_shared is not None and next_shared == pe:
                advance()
        elif li < ln:
            li += 1  # a shared item already merged
    return out


# --------------------------------------------------------------------------------------------
# typed.RemoveItems
# --------------------------------------------------------------------------------------------

def remove_items(v: Any, s: FieldSet, t: _Type) -> Any:
    """The value without the members of s (None when nothing is left of a map or list)."""
    if not s:
        return v
    kind = _effective(t, v)
    if kind == SCALAR:
        return v
    if kind == STRUCT:
        if not isinstance(v, dict) or not v or t.atomic:
            return None
        out = {}
        for k, cv in v.items():
            sub = s.get("f:" + k)
            if sub is None:
                out[k] = cv
                continue
            if _is_member(sub):
                continue
            nv = remove_items(cv, sub, t.child(k))
            if nv is not None:
                out[k] = nv
        return out or None
    if not isinstance(v, list) or not v or t.atomic:
        return None
    et = t.elem_type()
    items = []
    for item in v:
        pe = _item_pe(t, item)
        sub = s.get(pe)
        if sub is None:
            items.append(item)
            continue
        if _is_member(sub):
            continue
        nv = remove_items(item, sub, et)
        items.append(nv)
    return items or None


# --------------------------------------------------------------------------------------------
# Managed fields: decode / encode (managedfields.go)
# --------------------------------------------------------------------------------------------

@dataclass
class _Versioned:
    fields: FieldSet
    api_version: str
    applied: bool


class _Managed:
    """fieldpath.ManagedFields plus the times map."""

    def __init__(self) -> None:
        self.fields: dict[ManagerId, _Versioned] = {}
        self.times: dict[ManagerId, str | None] = {}
        self.entries: dict[ManagerId, dict] = {}  # original entries, reused when unchanged

    def copy(self) -> "_Managed":
        m = _Managed()
        m.fields = dict(self.fields)
        m.times = dict(self.times)
        m.entries = dict(self.entries)
        return m


def _manager_id(entry: dict) -> ManagerId:
    op = entry.get("operation") or ""
    return (
        entry.get("manager") or "",
        op,
        "" if op == "Apply" else (entry.get("apiVersion") or ""),
        entry.get("subresource") or "",
    )


def _decode_managed(entries: list | None, trusted: bool = False) -> _Managed:
    """DecodeManagedFields; ValueError on entries upstream rejects."""
    m = _Managed()
    for i, e in enumerate(entries or ()):
        if not isinstance(e, dict):
            raise ValueError(f"managed fields entry {i} is not an object")
        op = e.get("operation")
        if op not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        if not e.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        ft = e.get("fieldsType")
        if not ft:
            raise ValueError(f"missing fieldsType in managed fields entry {i}")
        if ft != "FieldsV1":
            raise ValueError(f'invalid fieldsType "{ft}" in managed fields entry {i}')
        raw = e.get("fieldsV1")
        raw = {} if raw is None else raw
        fields = raw if trusted and isinstance(raw, dict) else decode_fields(raw)
        mid = _manager_id(e)
        m.fields[mid] = _Versioned(fields, e["apiVersion"], op == "Apply")
        m.times[mid] = e.get("time")
        m.entries[mid] = e
    return m


def _encode_managed(m: _Managed) -> list[dict]:
    out = []
    for mid, vs in m.fields.items():
        old = m.entries.get(mid)
        t = m.times.get(mid)
        if (old is not None and old.get("fieldsV1") is vs.fields and old.get("time") == t
                and old.get("apiVersion") == vs.api_version):
            out.append(old)
            continue
        manager, op, _, sub = mid
        e: dict[str, Any] = {
            "manager": manager,
            "operation": "Apply" if vs.applied else "Update",
            "apiVersion": vs.api_version,
        }
        if t:
            e["time"] = t
        e["fieldsType"] = "FieldsV1"
        e["fieldsV1"] = sorted_fields(vs.fields)
        if sub:
            e["subresource"] = sub
        vs.fields = e["fieldsV1"]
        out.append(e)

    def key(e: dict) -> tuple:
        return (e.get("operation") or "", e.get("time") or "", e.get("manager") or "",
                e.get("apiVersion") or "", e.get("subresource") or "")

    out.sort(key=key)
    return out


def _print_manager(mid: ManagerId, m: _Managed | None = None) -> str:
    """conflict.go printManager: `"kubectl" with subresource "scale" using apps/v1`."""
    manager, op, api_version, sub = mid
    s = _go_quote(manager)
    if sub:
        s += f" with subresource {_go_quote(sub)}"
    if op == "Update":
        return f"{s} using {api_version}"
    return s


def validate_managed_fields(entries: Any, kind: str = "", name: str = "", group: str = "") -> None:
    """ObjectMeta validation of metadata.managedFields (ValidateManagedFields): 422 on errors."""
    causes = []
    if entries is None:
        return
    if not isinstance(entries, list):
        raise bad_request("metadata.managedFields must be a list")
    for i, e in enumerate(entries):
        p = f"metadata.managedFields[{i}]"
        if not isinstance(e, dict):
            causes.append(field_cause("FieldValueInvalid", p, f"{p}: Invalid value: must be an object"))
            continue
        op = e.get("operation") or ""
        if op not in ("Apply", "Update"):
            causes.append(field_cause("FieldValueInvalid", f"{p}.operation",
                                      f'{p}.operation: Invalid value: {_go_quote(op)}: must be `Apply` or `Update`'))
        ft = e.get("fieldsType") or ""
        if ft and ft != "FieldsV1":
            causes.append(field_cause("FieldValueInvalid", f"{p}.fieldsType",
                                      f'{p}.fieldsType: Invalid value: {_go_quote(ft)}: must be `FieldsV1`'))
        manager = e.get("manager") or ""
        if len(manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
            causes.append(field_cause("FieldValueTooLong", f"{p}.manager",
                                      f"{p}.manager: Too long: may not be more than {FIELD_MANAGER_MAX_LENGTH} bytes"))
        for pos, ch in enumerate(manager):
            if not ch.isprintable():
                causes.append(field_cause(
                    "FieldValueInvalid", f"{p}.manager",
                    f"{p}.manager: Invalid value: {_go_quote(manager)}: invalid character "
                    f"U+{ord(ch):04X} (at position {pos})"))
        sub = e.get("subresource") or ""
        if len(sub) > MAX_SUBRESOURCE_NAME_LENGTH:
            causes.append(field_cause("FieldValueTooLong", f"{p}.subresource",
                                      f"{p}.subresource: Too long: may not be more than {MAX_SUBRESOURCE_NAME_LENGTH} bytes"))
        fv = e.get("fieldsV1")
        if fv is not None:
            try:
                decode_fields(fv)
            except (ValueError, orjson.JSONDecodeError) as err:
                causes.append(field_cause("FieldValueInvalid", f"{p}.fieldsV1",
                                          f"{p}.fieldsV1: Invalid value: {err}"))
    if causes:
        raise invalid(kind, name, group, causes)


def manager_from_user_agent(field_manager: str, user_agent: str) -> str:
    """managerOrUserAgent: `kubectl/v1.32.4 (linux/amd64) ...` -> `kubectl`."""
    if field_manager:
        return field_manager
    prefix = (user_agent or "").split("/", 1)[0]
    out = []
    size = 0
    for ch in prefix:
        if not ch.isprintable():
            continue
        n = len(ch.encode())
        if size + n > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
        size += n
    return "".join(out)


@functools.lru_cache(maxsize=512)
def reset_fields(group: str, kind: str, subresource: str = "") -> FieldSet | None:
    """ResetFieldsStrategy: paths a write through this endpoint never owns (shared; don't mutate)."""
    from kubeling.api import resources

    res = None
    for r in resources.RESOURCES:
        if r.group == group and r.kind == kind:
            res = r
            break
    if subresource == "status":
        if kind == "Pod" and group == "":
            return {"f:spec": {}, "f:metadata": {"f:deletionTimestamp": {}, "f:ownerReferences": {}}}
        if group == "apps" and kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            return {"f:spec": {}, "f:metadata": {"f:labels": {}}}
        return {"f:spec": {}}
    if subresource:
        return None
    if res is not None and res.has_status:
        return {"f:status": {}}
    return None


# --------------------------------------------------------------------------------------------
# merge.Updater
# --------------------------------------------------------------------------------------------

class _Conflicts(Exception):
    def __init__(self, conflicts: list[tuple[ManagerId, tuple[str, ...]]]) -> None:
        super().__init__("conflicts")
        self.conflicts = conflicts


def _conflict_error(conflicts: list[tuple[ManagerId, tuple[str, ...]]]) -> StatusError:
    """NewConflictError: the 409 body kubectl prints."""
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {_print_manager(mid)}", "field": path_string(p)}
        for mid, p in conflicts
    ]
    if len(conflicts) == 1:
        mid, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {_print_manager(mid)}: {path_string(p)}"
    else:
        by_manager: dict[ManagerId, list[tuple[str, ...]]] = {}
        for mid, p in conflicts:
            by_manager.setdefault(mid, []).append(p)
        lines = []
        for mid in sorted(by_manager, key=_id_json):
            lines.append(f"conflicts with {_print_manager(mid)}:")
            lines.extend(f"- {path_string(p)}" for p in by_manager[mid])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, {"causes": causes})


def _id_json(mid: ManagerId) -> str:
    """The upstream manager identifier string (BuildManagerIdentifier), used for ordering."""
    manager, op, api_version, sub = mid
    d: dict[str, str] = {"manager": manager, "operation": op}
    if api_version:
        d["apiVersion"] = api_version
    if sub:
        d["subresource"] = sub
    return json.dumps(d, separators=(",", ":"))


def _updater_update(cmp: Comparison, managed: _Managed, workflow: ManagerId, force: bool) -> None:
    """Updater.update: take changed fields from other managers (or report them as conflicts)."""
    _updater_update_sets(union(cmp.modified, cmp.added), cmp.removed, managed, workflow, force)


def _updater_update_sets(changed: FieldSet, removed: FieldSet, managed: _Managed, workflow: ManagerId,
                         force: bool) -> None:
    """Updater.update given union(modified, added) and removed."""
    conflicts: dict[ManagerId, FieldSet] = {}
    for mid, vs in managed.fields.items():
        if mid == workflow:
            continue
        c = intersection(vs.fields, changed) if changed else {}
        if c:
            conflicts[mid] = c
    if conflicts and not force:
        out = []
        for mid in sorted(conflicts, key=_id_json):
            out.extend((mid, p) for p in iterate(conflicts[mid]))
        raise _Conflicts(out)
    for mid, vs in list(managed.fields.items()):
        if not vs.fields:
            del managed.fields[mid]  # upstream drops every empty manager after an update
            continue
        if mid == workflow:
            continue
        fields = vs.fields
        if mid in conflicts:
            fields = difference(fields, conflicts[mid])
        if removed:
            fields = difference(fields, removed)
        if fields is not vs.fields:
            if fields:
                managed.fields[mid] = _Versioned(fields, vs.api_version, vs.applied)
            else:
                del managed.fields[mid]


_IGNORED_WITH_META: dict[int, tuple[FieldSet, FieldSet]] = {}


def _ignored_with_meta(ignored: FieldSet | None) -> FieldSet:
    """The reset fields plus metadata.managedFields (cached: reset sets are shared constants)."""
    if not ignored:
        return _NO_MANAGED_FIELDS
    hit = _IGNORED_WITH_META.get(id(ignored))
    if hit is not None and hit[0] is ignored:
        return hit[1]
    out = union(_NO_MANAGED_FIELDS, ignored)
    if len(_IGNORED_WITH_META) > 1024:
        _IGNORED_WITH_META.clear()
    _IGNORED_WITH_META[id(ignored)] = (ignored, out)
    return out


def _structured_update(live: Any, new: dict, t: _Type, managed: _Managed, mid: ManagerId,
                       api_version: str, now: str, ignored: FieldSet | None) -> None:
    """managedFieldsUpdater + stripMeta + structuredMerge Update, in place on `managed`."""
    if live is None or live == {}:
        # a create: everything in `new` is added (compare({}, new) without the split)
        changed = _added_children({}, new, t, _ignored_with_meta(ignored)) if new else {}
        removed: FieldSet = {}
    else:
        cmp = compare(live, new, t, _ignored_with_meta(ignored))
        changed, removed = union(cmp.modified, cmp.added), cmp.removed
    _updater_update_sets(changed, removed, managed, _CURRENT, True)
    fields = difference(changed, removed)
    if ignored:
        fields = recursive_difference(fields, ignored)
    fields = _strip(fields)
    if not fields:
        return
    prev = managed.fields.get(mid)
    if prev is not None:
        fields = union(prev.fields, fields)
    managed.fields[mid] = _Versioned(fields, api_version, False)
    managed.times[mid] = now


def _cap_managers(managed: _Managed, max_updaters: int = MAX_UPDATE_MANAGERS) -> None:
    """capManagersManager: fold the oldest Update entries into "ancient-changes" buckets."""
    updaters = [mid for mid, vs in managed.fields.items() if not vs.applied]
    if len(updaters) <= max_updaters:
        return
    updaters.sort(key=lambda mid: (managed.times.get(mid) or "", _id_json(mid)))
    first_by_version: dict[str, ManagerId] = {}
    length = len(updaters)
    for mid in updaters:
        if length <= max_updaters:
            break
        vs = managed.fields[mid]
        when = managed.times.get(mid)
        bucket = ("ancient-changes", "Update", vs.api_version, "")
        if vs.api_version in first_by_version:
            if bucket not in managed.fields:
                first = first_by_version[vs.api_version]
                managed.fields[bucket] = managed.fields.pop(first)
            managed.fields[bucket] = _Versioned(union(vs.fields, managed.fields[bucket].fields), vs.api_version, False)
            del managed.fields[mid]
            length -= 1
            managed.times[bucket] = when
        else:
            first_by_version[vs.api_version] = mid


def _meta(obj: dict | None) -> dict:
    if not obj:
        return {}
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def _is_reset(entries: Any) -> bool:
    """isResetManagedFields: `[]` or `[{}]` clears managedFields."""
    if entries is None or not isinstance(entries, list):
        return False
    return len(entries) == 0 or (len(entries) == 1 and entries[0] == {})


def _decode_or_empty(entries: Any, trusted: bool) -> _Managed:
    try:
        return _decode_managed(entries, trusted=trusted)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        return _Managed()


def update_managed_fields(
    old: dict | None,
    new: dict,
    manager: str,
    api_version: str,
    now: str,
    subresource: str = "",
    *,
    schema: dict | None = None,
    ignored: FieldSet | None | bool = True,
) -> list[dict]:
    """managedFields after a create/update/patch (operation Update) by `manager`.

    `old` is the stored object (None on create), `new` the object about to be stored (after
    defaulting). Returns the entries to store as `metadata.managedFields` (empty list: store
    none). `ignored` is the reset-fields set; True derives it from the resource table.
    A request that sets `metadata.managedFields` itself (e.g. kubectl's csaupgrade JSON patch)
    has its entries taken as the starting point, like upstream.
    """
    t = type_for(new, schema)
    if ignored is True:
        group, _, _v = (new.get("apiVersion") or "").rpartition("/")
        ignored = reset_fields(group, new.get("kind") or "", subresource)
    live_entries = _meta(old).get("managedFields")
    new_entries = _meta(new).get("managedFields")
    if subresource:
        managed = _decode_or_empty(live_entries, trusted=True)
    elif _is_reset(new_entries):
        managed = _Managed()
    elif new_entries is live_entries or new_entries == live_entries:
        managed = _decode_or_empty(live_entries, trusted=True)
    else:
        managed = _decode_or_empty(new_entries, trusted=False)
        if not managed.fields:
            managed = _decode_or_empty(live_entries, trusted=True)
    creating = old is None or not _meta(old).get("uid")
    if not managed.fields and not creating:
        return []  # skipNonAppliedManager: no tracking for objects without managedFields
    mid = (manager or "unknown", "Update", api_version, subresource)
    try:
        _structured_update(old, new, t, managed, mid, api_version, now, ignored or None)
    except _SchemaError:
        # UpdateNoErrors: an object SMD can't type keeps the live managedFields.
        return list(live_entries or [])
    _cap_managers(managed)
    return _encode_managed(managed)


# --------------------------------------------------------------------------------------------
# Server-side apply
# --------------------------------------------------------------------------------------------

def _apply_core(live: dict, config: dict, t: _Type, managed: _Managed, mid: ManagerId, api_version: str,
                force: bool, ignored: FieldSet | None) -> tuple[dict, bool]:
    """merge.Updater.Apply: returns (new object, changed); raises _Conflicts."""
    bad = typed_patch_error(config, t)  # ObjectToTyped(patchObj) comes before any merge
    if bad is not None:
        raise bad
    try:
        return _apply_typed(live, config, t, managed, mid, api_version, force, ignored)
    except _SchemaError as err:  # the live object does not fit (ObjectToTyped(live) fails upstream)
        raise StatusError(500, "", f"failed to create typed live object ({_gvknn(live)}): {err}") from None


def _apply_typed(live: dict, config: dict, t: _Type, managed: _Managed, mid: ManagerId, api_version: str,
                 force: bool, ignored: FieldSet | None) -> tuple[dict, bool]:
    new = merge(live, config, t)
    cfg_set = to_field_set(config, t)
    if ignored:
        cfg_set = recursive_difference(cfg_set, ignored)
    last = managed.fields.get(mid)
    managed.fields[mid] = _Versioned(cfg_set, api_version, True)
    if last is not None and last.fields:
        new = _prune(new, managed, last.fields, t)
    cmp = compare(live, new, t, _ignored_with_meta(ignored))
    _updater_update(cmp, managed, mid, force)
    return new, not cmp.is_same()


def _prune(merged: dict, managed: _Managed, last: FieldSet, t: _Type) -> dict:
    """Remove what the applier owned last time, applied no more, and no one else owns."""
    pruned = remove_items(merged, last, t) or {}
    # addBackOwnedItems
    owned: FieldSet = {}
    for vs in managed.fields.values():
        owned = union(owned, vs.fields)
    merged_set = to_field_set(merged, t)
    pruned_set = to_field_set(pruned, t)
    pruned = remove_items(merged, difference(merged_set, union(pruned_set, owned)), t) or {}
    # addBackDanglingItems
    pruned_set = to_field_set(pruned, t)
    return remove_items(merged, intersection(difference(merged_set, pruned_set), last), t) or {}


def _allowed_from_last_applied(live: dict, t: _Type, api_version: str) -> FieldSet | None:
    """lastAppliedManager: fields client-side apply set whose live values still match."""
    raw = (_meta(live).get("annotations") or {}).get(LAST_APPLIED)
    if not raw:
        return None
    try:
        last = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != api_version:
        return None
    try:
        last_set = to_field_set(last, t)
        cmp = compare(last, live, t)
    except _SchemaError:
        return None
    return difference(difference(difference(last_set, cmp.modified), cmp.added), cmp.removed)


def _last_applied_value(config: dict) -> str:
    """buildLastApplied: the applied object, without the annotation, as Go's encoder writes it."""
    obj = dict(config)
    meta = dict(_meta(config))
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        annotations = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        meta["annotations"] = annotations
        obj["metadata"] = meta
    return go_json(obj) + "\n"


def _set_last_applied(obj: dict, value: str) -> None:
    meta = obj.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations[LAST_APPLIED] = value
    if sum(len(k) + len(v) for k, v in annotations.items()) > TOTAL_ANNOTATION_SIZE_LIMIT:
        annotations.pop(LAST_APPLIED)
    meta["annotations"] = annotations


def _gvk_string(config: dict) -> str:
    """The applied object's GroupVersionKind as Unstructured.GroupVersionKind reads it and %v
    prints it: a non-string apiVersion or kind reads as "", and an apiVersion that
    schema.ParseGroupVersion refuses (two or more slashes) as an empty GVK."""
    api_version, kind = config.get("apiVersion"), config.get("kind")
    api_version = api_version if isinstance(api_version, str) else ""
    kind = kind if isinstance(kind, str) else ""
    if api_version.count("/") > 1:
        api_version, kind = "", ""
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def server_side_apply(
    live: dict | None,
    config: dict,
    manager: str,
    force: bool,
    api_version: str,
    now: str,
    schema: dict | None = None,
    *,
    kind: str | None = None,
    subresource: str = "",
    ignored: FieldSet | None | bool = True,
) -> dict:
    """The object after applying `config` as `manager` (PATCH application/apply-patch+yaml).

    `live` is the stored object (None: create). Returns a new object (deep copy) carrying the new
    `metadata.managedFields`; the caller still defaults, validates and stores it. Raises the
    upstream StatusErrors: 409 Conflict with FieldManagerConflict causes, 400 for a wrong
    apiVersion/kind or managedFields in the configuration.
    """
    kind = kind or (live or {}).get("kind") or config.get("kind") or ""
    if config.get("apiVersion") != api_version or config.get("kind") != kind:
        raise bad_request(f"invalid object type: {_gvk_string(config)}")
    if _meta(config).get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    t = type_for(config, schema)
    if ignored is True:
        group, _, _v = api_version.rpartition("/")
        ignored = reset_fields(group, kind, subresource)
    ignored = ignored or None
    try:
        managed = _decode_managed(_meta(live).get("managedFields"), trusted=True)
    except (ValueError, orjson.JSONDecodeError) as err:
        # a plain fmt.Errorf in FieldManager.Apply: ErrorToAPIStatus makes it a 500 with no reason
        raise StatusError(500, "", f"failed to decode managed fields: {err}") from None
    base = live if live is not None else {}
    if not managed.fields and live is not None:
        # skipNonAppliedManager: the existing fields belong to "before-first-apply".
        _structured_update(None, live, t, managed, ("before-first-apply", "Update", api_version, subresource),
                           api_version, now, ignored)
        _cap_managers(managed)
    mid = (manager or "unknown", "Apply", "", subresource)
    attempt = managed.copy()
    try:
        new, changed = _apply_core(base, config, t, attempt, mid, api_version, force, ignored)
    except _Conflicts as conflicts:
        remaining = conflicts.conflicts
        if manager == "kubectl" and live is not None:
            allowed = _allowed_from_last_applied(live, t, api_version)
            if allowed is not None:
                remaining = [(m, p) for m, p in remaining if not has(allowed, list(p))]
        if remaining:
            raise _conflict_error(remaining) from None
        attempt = managed.copy()
        new, changed = _apply_core(base, config, t, attempt, mid, api_version, True, ignored)
    managed = attempt
    if changed:
        managed.times[mid] = now
    else:
        new = base
    vs = managed.fields.get(mid)
    if vs is not None:
        stripped = _strip(vs.fields)
        if stripped:
            managed.fields[mid] = _Versioned(stripped, vs.api_version, vs.applied)
        else:
            del managed.fields[mid]
    out = orjson.loads(orjson.dumps(new))
    out.setdefault("metadata", {})
    if manager == "kubectl" and (_meta(out).get("annotations") or {}).get(LAST_APPLIED):
        _set_last_applied(out, _last_applied_value(config))
    entries = _encode_managed(managed)
    if entries:
        out["metadata"]["managedFields"] = entries
    else:
        out["metadata"].pop("managedFields", None)
    return out


def fields_v1(obj: dict, schema: dict | None = None, ignored: FieldSet | None = None) -> FieldSet:
    """FieldsV1 of the fields an object sets, as an applier of it would own them."""
    t = type_for(obj, schema)
    s = _strip(to_field_set(obj, t))
    if ignored:
        s = recursive_difference(s, ignored)
    return sorted_fields(s)
