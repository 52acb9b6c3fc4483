"""Typed values (structured-merge-diff `typed`): the schema as SMD sees it, AsTyped validation,
ToFieldSet, Compare, Merge and RemoveItems."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubeling.api import resources
from kubeling.api import schema as schemas
from kubeling.api.errors import StatusError
from kubeling.api.patch.common import go_type, gofmt
from .fieldset import FieldSet, MEMBER, MISSING, go_quote, is_member, make_node, pe_string, go_json, has, union


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


class SmdType:
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
        self._children: dict[str, SmdType] = {}
        self._elem_t: SmdType | None = None

    def child(self, key: str) -> "_Type":
        t = self._children.get(key)
        if t is None:
            raw = self.props.get(key, MISSING)
            if raw is MISSING:
                t = self.elem_type()
            else:
                t = _compile(raw)
            self._children[key] = t
        return t

    def elem_type(self) -> "_Type":
        if self._elem_t is None:
            self._elem_t = _compile(self.elem) if self.elem is not None else _DEDUCED
        return self._elem_t


_DEDUCED = SmdType(DEDUCED)
_UNTYPED_ATOMIC = SmdType(SCALAR, scalar="")  # RawExtension: atomic whatever it holds
_CACHE: dict[int, tuple[Any, SmdType]] = {}
_NAMES: dict[int, str] = {}


def _def_names() -> dict[int, str]:
    if not _NAMES:
        for name, d in schemas.definitions().items():
            _NAMES[id(d)] = name
    return _NAMES


def _compile(raw: Any) -> SmdType:
    if raw is None:
        return _DEDUCED
    hit = _CACHE.get(id(raw))
    if hit is not None and hit[0] is raw:
        return hit[1]
    t = _build(raw)
    _CACHE[id(raw)] = (raw, t)
    return t


def _build(raw: dict) -> SmdType:
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
        return SmdType(SCALAR)
    if typ == "array" or "items" in s:
        return _build_list(s)
    if typ == "object" or "properties" in s or "additionalProperties" in s:
        props = s.get("properties")
        extra = s.get("additionalProperties")
        if not props and not isinstance(extra, dict):
            return _DEDUCED
        map_type = map_type or s.get("x-kubernetes-map-type")
        t = SmdType(STRUCT, atomic=map_type == "atomic")
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
    return SmdType(SCALAR, scalar=_scalar_kind(typ, s.get("format")))


def _scalar_kind(typ: Any, fmt: Any) -> str:
    """schemaconv convertPrimitive: strings with a format (date-time, ...) are untyped."""
    if typ in ("integer", "number"):
        return "numeric"
    if typ == "boolean":
        return "boolean"
    return "string" if typ == "string" and fmt in (None, "", "byte") else "untyped"


def _build_list(s: dict) -> SmdType:
    t = SmdType(LIST, atomic=True)
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
            default = (props.get(k) or {}).get("default", _KEY_DEFAULTS.get((name, k), MISSING))
            if default is not MISSING:
                t.key_defaults[k] = default
    return t


_TYPES: dict[tuple[str, str], SmdType] = {}


def type_for(obj: dict, schema: dict | None = None) -> SmdType:
    """The SMD type of a whole object (from its schema, or looked up by apiVersion/kind)."""
    if schema is None:
        api_version, kind = obj.get("apiVersion") or "", obj.get("kind") or ""
        cacheable = type(api_version) is str and type(kind) is str
        t = _TYPES.get((api_version, kind)) if cacheable else None
        if t is None:
            group, _, version = api_version.rpartition("/")
            schema = schemas.for_kind(group, version, kind)
            if schema is None and cacheable:
                custom = resources.by_kind(group, version, kind)
                if custom is not None and custom.custom is not None:  # a CR: its CRD's schema, never cached
                    return _compile(custom.custom.smd_schema)
            t = _compile(schema) if schema is not None else _DEDUCED
            if cacheable and len(_TYPES) < 4096:
                _TYPES[(api_version, kind)] = t
        return t
    return _compile(schema)


def _effective(t: SmdType, v: Any) -> int:
    """deduceAtom: the shape that applies to value v (deduced types follow the value)."""
    if t.kind == DEDUCED:
        if isinstance(v, dict):
            return STRUCT
        return SCALAR  # lists of deduced types are atomic, like scalars
    return t.kind


class SchemaError(Exception):
    pass


def _item_pe(t: SmdType, item: Any) -> str:
    """listItemToPathElement for an associative list."""
    if t.keys:
        if item is None:
            raise SchemaError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise SchemaError("associative list with keys may not have non-map elements")
        key = {}
        for k in t.keys:
            if k in item:
                key[k] = item[k]
            elif k in t.key_defaults:
                key[k] = t.key_defaults[k]
            else:
                raise SchemaError(
                    f'associative list with keys has an element that omits key field "{k}" '
                    "(and doesn't have default value)")
        return "k:" + go_json(key)
    if item is None:
        raise SchemaError("associative list without keys has an element that's an explicit null")
    if isinstance(item, dict):
        raise SchemaError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise SchemaError("not supported: associative list with lists as elements")
    return "v:" + go_json(item)


def _index_items(t: SmdType, items: list, path: str) -> tuple[list[str], dict[str, Any]]:
    order: list[str] = []
    seen: dict[str, Any] = {}
    for i, item in enumerate(items):
        try:
            pe = _item_pe(t, item)
        except SchemaError as err:
            raise SchemaError(f"{path}: element {i}: {err}" if path else f"element {i}: {err}") from None
        if pe in seen:
            raise SchemaError(f"{path}: duplicate entries for key {pe_string(pe)}")
        seen[pe] = item
        order.append(pe)
    return order, seen


def _is_leaf(t: SmdType, kind: int) -> bool:
    return kind == SCALAR or t.atomic


# --------------------------------------------------------------------------------------------
# typed.AsTyped: validating an apply configuration against its schema
# --------------------------------------------------------------------------------------------

def typed_errors(v: Any, t: SmdType) -> list[tuple[str, str]]:
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


def _list_errors(items: list, t: SmdType) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    et = t.elem_type()
    for i, item in enumerate(items):
        if t.atomic:
            pe = f"[{i}]"
        else:
            try:
                pe = pe_string(_item_pe(t, item))
            except SchemaError as err:
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
        return go_quote(v)
    if isinstance(v, dict):
        return "map[string]interface {}{" + ", ".join(f"{go_quote(k)}:{_go_sharp(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_go_sharp(x) for x in v) + "}"
    return gofmt(v)


def typed_error_text(obj: dict, t: SmdType) -> str | None:
    """ValidationErrors.Error() of ObjectToTyped(obj): None when the object fits the schema."""
    errs = typed_errors(obj, t)
    if not errs:
        return None
    texts = [f"{p}: {m}" if p else m for p, m in errs]
    return texts[0] if len(texts) == 1 else "errors:\n  " + "\n  ".join(texts)


def typed_patch_error(config: dict, t: SmdType) -> StatusError | None:
    """`failed to create typed patch object (ns/name; gvk): ...`: a plain error upstream (500)."""
    text = typed_error_text(config, t)
    if text is None:
        return None
    return StatusError(500, "", f"failed to create typed patch object ({gvknn(config)}): {text}")


def gvknn(obj: dict) -> str:
    """objectGVKNN: `namespace/name; group/version, Kind=kind`; a non-string name or namespace
    reads as "" (Unstructured.GetName), not as Python's `True` or `[1]`."""
    meta = meta_of(obj)
    ns, name = meta.get("namespace"), meta.get("name")
    return (f"{ns if isinstance(ns, str) else ''}/{name if isinstance(name, str) else ''}; "
            f"{gvk_string(obj)}")


# --------------------------------------------------------------------------------------------
# typed.ToFieldSet
# --------------------------------------------------------------------------------------------

def to_field_set(value: Any, t: SmdType) -> FieldSet:
    """The set of fields a value sets (leaves, map entries, list items); root children."""
    return _fs_children(value, t, "")


def _fs_children(v: Any, t: SmdType, path: str) -> FieldSet:
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
                out[pe] = MEMBER
                continue
            is_field = k in props
            if isinstance(cv, (dict, list)) and _shape_ok(_effective(ct, cv), cv):
                kids = _fs_children(cv, ct, path + "." + k)
                if is_field:
                    if kids:
                        out[pe] = kids
                else:
                    out[pe] = make_node(True, kids) or MEMBER
            elif not is_field:
                out[pe] = MEMBER
    elif kind == LIST and isinstance(v, list):
        et = t.elem_type()
        order, seen = _index_items(t, v, path)
        for pe in order:
            item = seen[pe]
            kids = _fs_children(item, et, path) if isinstance(item, (dict, list)) else {}
            out[pe] = make_node(True, kids) or MEMBER
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


def compare(lhs: Any, rhs: Any, t: SmdType, ignored: FieldSet | None = None) -> Comparison:
    """Fields added, modified and removed going from lhs to rhs (roots are objects).

    `ignored` paths (and everything below them) are left out, like Comparison.ExcludeFields.
    """
    a: FieldSet = {}
    m: FieldSet = {}
    r: FieldSet = {}
    if lhs != rhs:
        _cmp_children(lhs if lhs is not None else {}, rhs if rhs is not None else {}, t, ignored or {}, a, m, r)
    return Comparison(a, m, r)


def _cmp_children(l: Any, r: Any, t: SmdType, ign: FieldSet, A: FieldSet, M: FieldSet, R: FieldSet) -> None:
    kind = _effective(t, l if l is not None else r)
    if kind == STRUCT:
        ld = l if isinstance(l, dict) else {}
        rd = r if isinstance(r, dict) else {}
        present = t.present
        for k, rv in rd.items():
            pe = "f:" + k
            ig = ign.get(pe) if ign else None
            if ig is not None and is_member(ig):
                continue
            lv = ld.get(k, MISSING)
            if lv is MISSING and k in present and isinstance(l, dict):
                lv = {} if present[k] else None
            _cmp_item(pe, lv, rv, t.child(k), ig or {}, A, M, R)
        for k, lv in ld.items():
            if k in rd:
                continue
            pe = "f:" + k
            ig = ign.get(pe) if ign else None
            if ig is not None and is_member(ig):
                continue
            rv = MISSING
            if k in present and isinstance(r, dict):
                rv = {} if present[k] else None
            _cmp_item(pe, lv, rv, t.child(k), ig or {}, A, M, R)
    elif kind == LIST:
        et = t.elem_type()
        lorder, lseen = _index_items(t, l or [], "")
        rorder, rseen = _index_items(t, r or [], "")
        for pe in rorder:
            ig = ign.get(pe) if ign else None
            if ig is not None and is_member(ig):
                continue
            _cmp_item(pe, lseen.get(pe, MISSING), rseen[pe], et, ig or {}, A, M, R)
        for pe in lorder:
            if pe in rseen:
                continue
            ig = ign.get(pe) if ign else None
            if ig is not None and is_member(ig):
                continue
            _cmp_item(pe, lseen[pe], MISSING, et, ig or {}, A, M, R)


def _cmp_item(pe: str, l: Any, r: Any, t: SmdType, ign: FieldSet, A: FieldSet, M: FieldSet, R: FieldSet) -> None:
    if l is MISSING:
        if r is not MISSING:
            A[pe] = _subtree(r, t, ign)
        return
    if r is MISSING:
        R[pe] = _subtree(l, t, ign)
        return
    if l == r and type(l) is type(r):
        return
    kind = _effective(t, r if r is not None else l)
    if _is_leaf(t, kind) or _empty(l) and _empty(r) or not _shape_ok(kind, l) or not _shape_ok(kind, r):
        M[pe] = MEMBER
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


def _subtree(v: Any, t: SmdType, ign: FieldSet) -> FieldSet:
    """Every node of a value added or removed as a whole (compare's Added/Removed).

    Hot on every create, so the leaf tests of `_effective` / `_is_leaf` / `_empty` /
    `_shape_ok` are inlined: a leaf, a null, an empty or a mis-shaped value is one member.
    """
    kind = t.kind
    if kind == DEDUCED:
        kind = STRUCT if isinstance(v, dict) else SCALAR
    if kind == SCALAR or t.atomic:
        return MEMBER
    kids: FieldSet = {}
    if kind == STRUCT:
        if not isinstance(v, dict) or not v:
            return MEMBER
        children = t._children
        for k, cv in v.items():
            pe = "f:" + k
            if ign:
                ig = ign.get(pe)
                if ig is not None:
                    if is_member(ig):
                        continue
                    kids[pe] = _subtree(cv, t.child(k), ig)
                    continue
            ct = children.get(k) or t.child(k)
            if ct.kind == SCALAR or ct.atomic:
                kids[pe] = MEMBER
            else:
                kids[pe] = _subtree(cv, ct, MEMBER)
    else:
        if not isinstance(v, list) or not v:
            return MEMBER
        et = t.elem_type()
        order, seen = _index_items(t, v, "")
        for pe in order:
            ig = ign.get(pe) if ign else None
            if ig is not None and is_member(ig):
                continue
            kids[pe] = _subtree(seen[pe], et, ig or MEMBER)
    return {".": MEMBER, **kids} if kids else MEMBER


def added_children(l: Any, r: Any, t: SmdType, ign: FieldSet) -> FieldSet:
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
            if ig is not None and is_member(ig):
                continue
            if present and k in present:
                node = _added_item({} if present[k] else None, rv, t.child(k), ig or MEMBER)
                if node is not None:
                    out[pe] = node
                continue
            ct = t.child(k)
            if ig is None and (ct.kind == SCALAR or ct.atomic):
                out[pe] = MEMBER  # what _subtree says of a leaf
            else:
                out[pe] = _subtree(rv, ct, ig or MEMBER)
    elif kind == LIST:
        et = t.elem_type()
        rorder, rseen = _index_items(t, r or [], "")
        for pe in rorder:
            ig = ign.get(pe) if ign else None
            if ig is not None and is_member(ig):
                continue
            out[pe] = _subtree(rseen[pe], et, ig or {})
    return out


def _added_item(l: Any, r: Any, t: SmdType, ign: FieldSet) -> FieldSet | None:
    """`_cmp_item` for an always-present field of a new object (l is its zero value)."""
    if l == r and type(l) is type(r):
        return None
    kind = _effective(t, r if r is not None else l)
    if _is_leaf(t, kind) or _empty(l) and _empty(r) or not _shape_ok(kind, l) or not _shape_ok(kind, r):
        return MEMBER
    return added_children(l, r, t, ign) or None


# --------------------------------------------------------------------------------------------
# typed.Merge (apply: the right-hand side wins at the leaves)
# --------------------------------------------------------------------------------------------

def merge(lhs: Any, rhs: Any, t: SmdType, path: str = "") -> Any:
    """Merge an applied configuration (rhs) into a live value (lhs)."""
    if rhs is MISSING:
        return lhs
    if lhs is MISSING or lhs is None:
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
            mv = merge(lhs.get(k, MISSING), rv, t.child(k), path + "." + k)
            if mv is None:
                out.pop(k, None)
            else:
                out[k] = mv
        return out
    return _merge_list(lhs, rhs, t, path)


def _check_lists(v: Any, t: SmdType, path: str) -> None:
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


def _merge_list(lhs: list, rhs: list, t: SmdType, path: str) -> list:
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
            out.append(merge(lseen.get(pe, MISSING), rseen[pe], et, path))
            ri += 1
            if next_shared is not None and next_shared == pe:
                advance()
        elif li < ln:
            li += 1  # a shared item already merged
    return out


# --------------------------------------------------------------------------------------------
# typed.RemoveItems
# --------------------------------------------------------------------------------------------

def remove_items(v: Any, s: FieldSet, t: SmdType) -> Any:
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
            if is_member(sub):
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
        if is_member(sub):
            continue
        nv = remove_items(item, sub, et)
        items.append(nv)
    return items or None


# --------------------------------------------------------------------------------------------
def meta_of(obj: dict | None) -> dict:
    if not obj:
        return {}
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def gvk_string(config: dict) -> str:
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
