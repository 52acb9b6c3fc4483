"""The typed decode: every written object is checked against its kind's Go types first.

kube-apiserver decodes each body into the kind's Go struct before anything else runs, so a
wrongly typed field is a decode error (400 on create/update, 422 on patch) and nothing
downstream ever sees it. kubeling keeps objects as dicts, so this module plays the decoder:
from the kind's OpenAPI schema it compiles, once per schema node, a checker that walks the
object, and

- raises `Mismatch` for the first value Go could not decode (a string `replicas`, `labels:
  "x"`, a 2**63 int32, a malformed quantity / base64 / timestamp), with upstream's text;
- drops the fields the struct does not declare (Go ignores them) and reports their paths,
  for fieldValidation Warn (a warning) and Strict (an error);
- drops `null` struct fields (Go leaves the zero value, which is encoded as absent), except
  timestamps (a zero metav1.Time encodes as `null`), and gives `null` list items and map
  values their type's zero value;
- canonicalizes quantities (`0.5` → `"500m"`), as a decode/encode round trip does.

Two decoders exist upstream and each has its own messages: encoding/json (sigs.k8s.io/json) for
create, update and JSON/merge patch results (`json: cannot unmarshal string into Go struct
field DeploymentSpec.spec.replicas of type int32`), and the unstructured converter for
strategic-merge-patch results (`cannot restore map from string`, `cannot convert string to
int32`; integral floats are accepted there). `mode` picks one. YAML bodies arrive as the JSON
values sigs.k8s.io/yaml would make of them (api/yamljson.py), so they decode as JSON.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import orjson

from . import quantity, resources, schema

JSON = "json"
UNSTRUCTURED = "unstructured"

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

# A checker: (value, strict path of the value, unknown-field sink) -> the decoded value.
Checker = Callable[[Any, str, list], Any]


class Mismatch(Exception):
    """A value the Go decoder rejects. `message()` renders it like the decoder would.

    For encoding/json, a type error names the innermost struct and the chain of struct field
    names above it (`ObjectMeta.metadata.labels`): frames add themselves while unwinding,
    so the happy path never builds a path.
    """

    def __init__(self, value: str, go_type: str, plain: str | None = None) -> None:
        super().__init__(plain or value)
        self.value, self.go_type, self.plain = value, go_type, plain
        self.fields: list[str] = []
        self.struct = ""

    def within(self, field: str, struct: str) -> "Mismatch":
        self.fields.append(field)
        if not self.struct:
            self.struct = struct
        return self

    def message(self) -> str:
        if self.plain is not None:
            return self.plain
        if self.fields:
            where = f"Go struct field {self.struct}.{'.'.join(reversed(self.fields))}"
        else:
            where = "Go value"
        return f"json: cannot unmarshal {self.value} into {where} of type {self.go_type}"


# ---- describing values the way the Go decoders do ----------------------------------------------

_JSON_KIND = {type(None): "null", bool: "bool", int: "number", float: "number", dict: "object", list: "array",
              str: "string"}


def json_kind(v: Any) -> str:
    """encoding/json's name for a JSON value (UnmarshalTypeError.Value, without the literal)."""
    return _JSON_KIND.get(type(v), "string")


def _literal(v: Any) -> str:
    """`number 1.5`: the literal Go prints when a number does not fit a numeric type."""
    return f"number {v!r}" if isinstance(v, float) else f"number {v}"


_GO_KIND = {str: "string", bool: "bool", int: "int64", float: "float64", dict: "map", list: "slice"}
_GO_TYPE = {str: "string", bool: "bool", int: "int64", float: "float64",
            dict: "map[string]interface {}", list: "[]interface {}"}


def _go_kind(v: Any) -> str:
    return _GO_KIND.get(type(v), "string")


def _go_type_of(v: Any) -> str:
    return _GO_TYPE.get(type(v), "string")


# ---- leaf checkers ------------------------------------------------------------------------------

def _mismatch(mode: str, v: Any, go_type: str, numeric: bool = False) -> Mismatch:
    """`v` does not decode into the primitive `go_type` (a number into an int type shows its literal)."""
    if mode == UNSTRUCTURED:
        return Mismatch("", "", f"cannot convert {_go_type_of(v)} to {go_type}")
    if numeric and type(v) in (int, float):
        return Mismatch(_literal(v), go_type)
    return Mismatch(json_kind(v), go_type)


def _scalar(mode: str, types: tuple[type, ...], go_type: str) -> Checker:
    """string, bool, float64: a value of exactly these Python types (bool is not a number)."""
    def check(v: Any, path: str, unknown: list) -> Any:
        if type(v) in types:
            return v
        raise _mismatch(mode, v, go_type)
    return check


def _integer(mode: str, bits: int, integral_floats: bool | None = None) -> Checker:
    """int32 / int64: in range; an integral float only where the converter takes it (3.0 → 3)."""
    lo, hi = INT32 if bits == 32 else INT64
    go_type = f"int{bits}"
    if integral_floats is None:
        integral_floats = mode == UNSTRUCTURED

    def check(v: Any, path: str, unknown: list) -> Any:
        t = type(v)
        if t is int:
            if lo <= v <= hi:
                return v
        elif t is float and integral_floats and v.is_integer() and lo <= v <= hi:
            return int(v)
        raise _mismatch(mode, v, go_type, numeric=True)
    return check


def _int_or_string(mode: str) -> Checker:
    """intstr.IntOrString.UnmarshalJSON: a JSON string, else json.Unmarshal into an int32."""
    # json.Unmarshal into an int32 (also behind the converter, whose json.Marshal(3.0) is "3")
    inner = _integer(JSON, 32, integral_floats=mode == UNSTRUCTURED)

    def check(v: Any, path: str, unknown: list) -> Any:
        if type(v) is str:
            return v
        if v is None:
            return 0  # UnmarshalJSON("null") leaves IntVal 0
        try:
            return inner(v, path, unknown)
        except Mismatch as e:
            if mode == UNSTRUCTURED:  # the converter calls UnmarshalJSON: no struct context
                raise Mismatch("", "", e.message()) from None
            raise
    return check


def _quantity(mode: str) -> Checker:
    """resource.Quantity.UnmarshalJSON parses strings and bare numbers; stored canonical."""
    def check(v: Any, path: str, unknown: list) -> Any:
        try:
            if type(v) is str:
                return quantity.canonical(v.strip())
            return str(quantity.quantity_from_json(v))
        except quantity.QuantityError as e:
            raise Mismatch("", "", e.message) from None
    return check


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def base64_error(s: str) -> str | None:
    """Go's base64.StdEncoding error for `s` (`illegal base64 data at input byte N`), or None.

    Like decodeQuantum: CR/LF are skipped, `=` may only fill the last one or two places of the
    final 4-byte quantum, and a final quantum must be complete.
    """
    t = s.replace("\r", "").replace("\n", "") if ("\r" in s or "\n" in s) else s
    n = len(t)
    for i, ch in enumerate(t):
        if ch in _B64_ALPHABET:
            continue
        if ch != "=" or i % 4 < 2:
            return f"illegal base64 data at input byte {i}"
        if i % 4 == 2:  # "xx=" needs a second "="
            if i + 1 == n:
                return f"illegal base64 data at input byte {n}"
            if t[i + 1] != "=":
                return f"illegal base64 data at input byte {i}"
            i += 1
        if i + 1 < n:  # nothing may follow the padding
            return f"illegal base64 data at input byte {i + 1}"
        return None
    if n % 4:
        return f"illegal base64 data at input byte {n - n % 4}"
    return None


def _bytes(mode: str) -> Checker:
    """[]byte: a base64 string. The converter (sliceFromUnstructured) decodes a non-empty string
    with encoding/json too, and wraps its error."""
    prefix = "error decoding from json: " if mode == UNSTRUCTURED else ""

    def check(v: Any, path: str, unknown: list) -> Any:
        if type(v) is str:
            err = base64_error(v)
            if err:
                raise Mismatch("", "", prefix + err)
            return v
        if mode == UNSTRUCTURED:
            raise Mismatch("", "", f"cannot restore slice from {_go_kind(v)}")
        raise Mismatch(json_kind(v), "[]uint8")
    return check


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_RFC3339_LAYOUT = "2006-01-02T15:04:05Z07:00"


def _date_time(mode: str) -> Checker:
    """metav1.Time / MicroTime: a JSON string in RFC 3339 (null is the zero time)."""
    def check(v: Any, path: str, unknown: list) -> Any:
        if type(v) is str:
            if _RFC3339.fullmatch(v):
                return v
            plain = f'parsing time "{v}" as "{_RFC3339_LAYOUT}": cannot parse "{v}" as "2006"'
            raise Mismatch("", "", plain)
        if v is None:
            return None
        if mode == UNSTRUCTURED:
            raise Mismatch("", "", f"json: cannot unmarshal {json_kind(v)} into Go value of type string")
        raise Mismatch(json_kind(v), "string")
    return check


# ---- containers ---------------------------------------------------------------------------------

def _collection(mode: str, elem: Checker | None, go_type: str, is_map: bool) -> Checker:
    """A Go slice (`[]T`) or map (`map[string]T`): each element decoded as T; a `null` element
    becomes T's zero value (None when T is free-form)."""
    zero = getattr(elem, "zero", None)
    make_zero = zero if callable(zero) else (lambda: zero)
    want, restore = (dict, "map") if is_map else (list, "slice")
    nested = getattr(elem, "nested", False)

    def check(v: Any, path: str, unknown: list) -> Any:
        if type(v) is not want:
            if mode == UNSTRUCTURED:
                raise Mismatch("", "", f"cannot restore {restore} from {_go_kind(v)}")
            raise Mismatch(json_kind(v), go_type)
        if elem is None:
            return v
        for k, x in (v.items() if is_map else enumerate(v)):
            if x is None:
                v[k] = make_zero()
                continue
            if not nested:
                nx = elem(x, path, unknown)
            else:
                nx = elem(x, (f"{path}.{k}" if path else k) if is_map else f"{path}[{k}]", unknown)
            if nx is not x:
                v[k] = nx
        return v
    check.zero = want  # type: ignore[attr-defined]
    check.nested = elem is not None  # type: ignore[attr-defined]
    return check


def _struct(mode: str, props: dict[str, Checker | None], struct: str, go_type: str) -> Checker:
    """A Go struct: declared fields are checked, others dropped and reported."""
    # field -> (checker, whether it can hold unknown fields (needs its path), keeps null)
    fields = {k: (c, getattr(c, "nested", False), getattr(c, "keeps_null", False)) for k, c in props.items()}

    def check(v: Any, path: str, unknown: list) -> Any:
        if type(v) is not dict:
            if mode == UNSTRUCTURED:
                raise Mismatch("", "", f"cannot restore struct from: {_go_kind(v)}")
            raise Mismatch(json_kind(v), go_type)
        drop = None
        for k, x in v.items():
            f = fields.get(k)
            if f is None:
                unknown.append(f"{path}.{k}" if path else k)
                drop = (drop or []) + [k]
                continue
            c, nested, keeps_null = f
            if x is None:
                if not keeps_null:
                    drop = (drop or []) + [k]
                continue
            if c is None:
                continue
            try:
                nx = c(x, (f"{path}.{k}" if path else k) if nested else path, unknown)
            except Mismatch as e:
                raise e.within(k, struct)
            if nx is not x:
                v[k] = nx
        if drop:
            for k in drop:
                del v[k]
        return v
    check.zero = dict  # type: ignore[attr-defined]
    check.nested = True  # type: ignore[attr-defined]
    return check


# ---- compiling schemas --------------------------------------------------------------------------

def _go_name(definition: str) -> str:
    """`io.k8s.api.apps.v1.DeploymentSpec` → `v1.DeploymentSpec` (package.Type, as %T prints)."""
    parts = definition.split(".")
    return f"{parts[-2]}.{parts[-1]}"


_CACHE: dict[tuple[int, str], Checker | None] = {}
_BUILDING: set[tuple[int, str]] = set()


def _deref(sch: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    """Follow `$ref`/single `allOf`; also return the last definition name seen."""
    name = ""
    while sch is not None:
        if "$ref" in sch:
            name = sch["$ref"][len(schema.REF_PREFIX):]
            sch = schema.definitions().get(name)
        elif "allOf" in sch and len(sch["allOf"]) == 1:
            sch = sch["allOf"][0]
        else:
            break
    return sch, name


def _go_type(sch: dict[str, Any] | None) -> str:
    """The Go type a schema node decodes into, as encoding/json names it in errors."""
    s, name = _deref(sch)
    if s is None:
        return "interface {}"
    fmt, t = s.get("format"), s.get("type")
    if fmt == "int-or-string":
        return "intstr.IntOrString"
    if fmt == "quantity":
        return "resource.Quantity"
    if t == "string":
        return "[]uint8" if fmt == "byte" else "string"
    if t == "integer":
        return "int64" if fmt == "int64" else "int32"
    if t == "number":
        return "float64"
    if t == "boolean":
        return "bool"
    if t == "array":
        return "[]" + _go_type(s.get("items"))
    if name and s.get("properties"):
        return _go_name(name)
    extra = s.get("additionalProperties")
    if isinstance(extra, dict) and not s.get("properties"):
        return "map[string]" + _go_type(extra)
    return _go_name(name) if name else "map[string]interface {}"


def compile_node(sch: dict[str, Any] | None, mode: str) -> Checker | None:
    """The checker of one schema node (None: anything goes), compiled once per node and mode."""
    s, name = _deref(sch)
    if s is None:
        return None
    key = (id(s), mode)
    if key in _CACHE:
        return _CACHE[key]
    if key in _BUILDING:  # a recursive schema: resolve the checker when first called
        def later(v: Any, path: str, unknown: list) -> Any:
            return _CACHE[key](v, path, unknown)  # type: ignore[misc]
        later.zero = dict  # type: ignore[attr-defined]
        later.nested = True  # type: ignore[attr-defined]
        return later
    _BUILDING.add(key)
    try:
        c = _build(s, name, mode)
    finally:
        _BUILDING.discard(key)
    _CACHE[key] = c
    return c


def _build(s: dict[str, Any], name: str, mode: str) -> Checker | None:
    if s.get("x-kubernetes-preserve-unknown-fields"):
        return None
    fmt, t = s.get("format"), s.get("type")
    c: Checker | None
    if fmt == "int-or-string":
        c = _int_or_string(mode)
        c.zero = 0  # type: ignore[attr-defined]
    elif fmt == "quantity":
        c = _quantity(mode)
        c.zero = "0"  # type: ignore[attr-defined]
    elif t == "string":
        if fmt == "byte":
            c = _bytes(mode)
        elif fmt == "date-time":
            c = _date_time(mode)
            c.keeps_null = True  # type: ignore[attr-defined]
        else:
            c = _scalar(mode, (str,), "string")
        c.zero = ""  # type: ignore[attr-defined]
    elif t == "integer":
        c = _integer(mode, 64 if fmt == "int64" else 32)
        c.zero = 0  # type: ignore[attr-defined]
    elif t == "number":
        c = _scalar(mode, (float, int), "float64")
        c.zero = 0  # type: ignore[attr-defined]
    elif t == "boolean":
        c = _scalar(mode, (bool,), "bool")
        c.zero = False  # type: ignore[attr-defined]
    elif t == "array":
        c = _collection(mode, compile_node(s.get("items"), mode), "[]" + _go_type(s.get("items")), is_map=False)
    elif s.get("properties"):
        props = {k: compile_node(p, mode) for k, p in s["properties"].items()}
        c = _struct(mode, props, name.rpartition(".")[2] or "", _go_name(name) if name else "struct")
    elif isinstance(s.get("additionalProperties"), dict):
        extra = s["additionalProperties"]
        c = _collection(mode, compile_node(extra, mode), "map[string]" + _go_type(extra), is_map=True)
    else:
        return None  # RawExtension, FieldsV1, JSON: raw JSON, anything goes
    return c


_ROOTS: dict[tuple[str, str, str, str], Checker | None] = {}


def checker(group: str, version: str, kind: str, mode: str = JSON) -> Checker | None:
    """The compiled checker of a kind (None for kinds without a schema); a custom resource's
    is its CRD version's, compiled when the CRD was installed (api/crd.py)."""
    key = (group, version, kind, mode)
    c = _ROOTS.get(key)
    if c is not None:
        return c
    row = resources.by_kind(group, version, kind)
    if row is not None and row.custom is not None:
        return row.custom.decoder
    if key in _ROOTS:
        return None
    name = schema.definition_name(group, version, kind)
    c = _ROOTS[key] = compile_node({"$ref": schema.REF_PREFIX + name}, mode) if name else None
    return c


def decode(group: str, version: str, kind: str, obj: Any, mode: str = JSON) -> list[str]:
    """Type-check `obj` (a dict, changed in place) as the kind's Go type.

    Returns the unknown fields it dropped (`spec.foo`, `spec.containers[0].bar`, in document
    order); raises `Mismatch` for the first value the decoder rejects.
    """
    c = checker(group, version, kind, mode)
    unknown: list[str] = []
    if c is not None:
        c(obj, "", unknown)
    return unknown



# ---- custom resources: structural schemas ------------------------------------------------------

_ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _object_meta() -> Checker:
    c = compile_node({"$ref": schema.REF_PREFIX + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}, JSON)
    assert c is not None
    return c


def compile_structural(s: dict[str, Any] | None, root: bool = True) -> Checker:
    """The decode step of a custom resource, compiled from its CRD version's openAPIV3Schema.

    The unstructured decoder accepts any JSON, so there are no type errors here (the schema
    validator reports them, api/structural.py); what it does, as the crdHandler's codec:
    defaults from the schema fill absent (or null, non-nullable) fields, then fields the
    schema does not declare are pruned and reported (fieldValidation Warn/Strict), except
    under `x-kubernetes-preserve-unknown-fields` and, at the root and in embedded resources,
    apiVersion, kind and metadata.
    """
    s = s or {}
    preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    keep = _ROOT_KEEP if root or s.get("x-kubernetes-embedded-resource") else ()
    props = {k: compile_structural(p, root=False) for k, p in (s.get("properties") or {}).items()}
    if keep:  # metadata is decoded as ObjectMeta (upstream's objectmeta coercion): typed, pruned
        props["metadata"] = _object_meta()
    defaults = {k: p["default"] for k, p in (s.get("properties") or {}).items()
                if isinstance(p, dict) and "default" in p}
    nullable = {k for k, p in (s.get("properties") or {}).items() if isinstance(p, dict) and p.get("nullable")}
    extra = s.get("additionalProperties")
    extra_c = compile_structural(extra, root=False) if isinstance(extra, dict) else None
    items = s.get("items")
    items_c = compile_structural(items, root=False) if isinstance(items, dict) else None
    is_object = s.get("type") == "object" or bool(props) or extra_c is not None or root

    def check(v: Any, path: str, unknown: list) -> Any:
        if isinstance(v, list) and items_c is not None:
            for i, x in enumerate(v):
                nx = items_c(x, f"{path}[{i}]", unknown)
                if nx is not x:
                    v[i] = nx
            return v
        if not isinstance(v, dict) or not is_object:
            return v
        for k, d in defaults.items():
            if k not in v or (v[k] is None and k not in nullable):
                v[k] = orjson.loads(orjson.dumps(d))
        drop = None
        for k, x in v.items():
            c = props.get(k)
            if c is None:
                if extra_c is not None:
                    c = extra_c
                elif preserve or k in keep or extra is True:
                    continue
                else:
                    unknown.append(f"{path}.{k}" if path else k)
                    drop = (drop or []) + [k]
                    continue
            nx = c(x, f"{path}.{k}" if path else k, unknown)
            if nx is not x:
                v[k] = nx
        if drop:
            for k in drop:
                del v[k]
        return v
    return check
