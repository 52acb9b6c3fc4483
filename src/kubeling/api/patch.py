"""The three PATCH flavours of the API server: JSON patch, JSON merge patch, strategic merge patch.

Each function takes a stored object and a decoded patch body and returns a new object; the inputs are
never modified. Errors are `StatusError`s with the codes and messages kube-apiserver v1.32 answers:

* JSON patch (RFC 6902) follows gopkg.in/evanphx/json-patch.v4, the library the apiserver uses, including
  its leniencies (`replace` of a missing object key adds it, negative array indices) and its messages
  (`add operation does not apply: doc is missing path: "/x": missing value`). A failed operation is a 422
  "the server rejected our request due to an error in our request" with empty details, exactly as
  upstream; the library message is kept as the exception's `__cause__` for logs.
* Merge patch (RFC 7386) follows evanphx `MergePatch` (nulls inside new values are pruned).
* Strategic merge patch is a port of k8s.io/apimachinery/pkg/util/strategicpatch `StrategicMergeMapPatch`
  with the patch metadata (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`) read from the
  upstream OpenAPI schema instead of Go struct tags. Where the schema does not know a field the patch falls
  back to JSON-merge semantics (maps merge, lists are replaced), as upstream does for unstructured content.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import orjson

from . import bounds, errors
from . import schema as schemas
from .typed import json_kind

__all__ = [
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
    "strategic_merge_patch_for",
    "check_strict_decode",
    "MAX_JSON_PATCH_OPERATIONS",
]

MAX_JSON_PATCH_OPERATIONS = 10000  # apiserver handlers.maxJSONPatchOperations
JSON_PATCH_MAX_COPY_BYTES = 3 * 1024 * 1024  # the apiserver's JSONPatchMaxCopyBytes (a copy bomb's bound)


# --------------------------------------------------------------------------------------------------
# shared helpers


def _deepcopy(v: Any) -> Any:
    """Copy a JSON value. orjson round-trips a Deployment ~5x faster than a Python-level walk."""
    t = type(v)
    if t is dict or t is list:
        try:
            return orjson.loads(orjson.dumps(v))
        except (TypeError, orjson.JSONEncodeError):
            return _walk_copy(v)
    return v


def _walk_copy(v: Any) -> Any:
    t = type(v)
    if t is dict:
        return {k: _walk_copy(x) for k, x in v.items()}
    if t is list:
        return [_walk_copy(x) for x in v]
    return v


def _go_type(v: Any) -> str:
    """reflect.TypeOf(v).String() for a value decoded the apiserver way (ints preserved)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _go_float(f: float) -> str:
    """Go's %v of a float64 (strconv 'g' with shortest digits: exponent form when < -4 or >= 6)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    digits, exp = repr(abs(f)).lower().partition("e")[::2]
    mant = digits.replace(".", "")
    point = digits.index(".") if "." in digits else len(digits)
    lead = len(mant) - len(mant.lstrip("0"))
    mant = mant.strip("0") or "0"
    x = point - lead - 1 + (int(exp) if exp else 0)  # decimal exponent of the first digit
    sign = "-" if f < 0 else ""
    if x < -4 or x >= 6:
        frac = "." + mant[1:] if len(mant) > 1 else ""
        return f"{sign}{mant[0]}{frac}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if x >= len(mant) - 1:
        return sign + mant + "0" * (x - len(mant) + 1)
    if x >= 0:
        return f"{sign}{mant[:x + 1]}.{mant[x + 1:]}"
    return f"{sign}0.{'0' * (-x - 1)}{mant}"


def _gofmt(v: Any) -> str:
    """Go's fmt %v of a decoded JSON value (maps print with sorted keys: map[a:1 b:[x y]])."""
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, list):
        return "[" + " ".join(_gofmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_gofmt(v[k])}" for k in sorted(v)) + "]"
    return str(v)


def _go_s(v: Any) -> str:
    """Go's %s of an interface value: strings as-is, anything else as %!s(type=value)."""
    if isinstance(v, str):
        return v
    if v is None:
        return "%!s(<nil>)"
    return f"%!s({_go_type(v)}={_gofmt(v)})"


def _unprocessable() -> errors.StatusError:
    """errors.NewGenericServerResponse(422, ..., isUnexpectedResponse=false): how the apiserver reports a
    patch that cannot apply. The library's message is not sent (details stay empty), so kubectl prints
    `The request is invalid: the server rejected our request due to an error in our request`; we chain
    it as the exception's __cause__ for logs."""
    return errors.StatusError(422, "Invalid", "the server rejected our request due to an error in our request", {})


def _unknown(message: str) -> errors.StatusError:
    """A plain Go error reaching the apiserver's error writer: 500 with an empty (Unknown) reason."""
    return errors.StatusError(500, "", message)


# --------------------------------------------------------------------------------------------------
# JSON patch (RFC 6902, evanphx/json-patch v4 semantics)


class _OpError(Exception):
    """An operation failed; the message is the evanphx error chain ("ctx: ctx: cause")."""


_MISSING = "missing value"
_TEST_FAILED = "test failed"
_INVALID_INDEX = "invalid index referenced"
_ATOI = re.compile(r"[+-]?[0-9]+\Z")
_POINTER_ESCAPE = re.compile(r"~[01]")


def _decode_key(part: str) -> str:
    if "~" not in part:
        return part
    return _POINTER_ESCAPE.sub(lambda m: "/" if m.group() == "~1" else "~", part)


def _atoi(key: str) -> int:
    if not _ATOI.match(key):
        raise _OpError(f'strconv.Atoi: parsing "{key}": invalid syntax')
    return int(key)


def _op_string(op: dict[str, Any], field: str, missing: str) -> str:
    """Operation.Path()/From(): the field decoded as a string, or the error evanphx gives."""
    v = op.get(field)
    if v is None:
        raise _OpError(f"{missing}: {_MISSING}")
    if not isinstance(v, str):
        raise _OpError(f"json: cannot unmarshal {json_kind(v)} into Go value of type string")
    return v


def _path(op: dict[str, Any], context: str, keep_cause: bool = True) -> str:
    try:
        return _op_string(op, "path", "operation missing path field")
    except _OpError as e:
        raise _OpError(f"{context}: {e}" if keep_cause else f"{context}: {_MISSING}") from None


def _from(op: dict[str, Any], context: str) -> str:
    try:
        return _op_string(op, "from", "operation, missing from field")
    except _OpError as e:
        raise _OpError(f"{context}: {e}") from None


def _find_container(doc: Any, path: str) -> tuple[Any, str] | None:
    """findObject: the parent container of `path` and the last (decoded) key, or None if absent."""
    split = path.split("/")
    if len(split) < 2:
        return None
    cur = doc
    for part in split[1:-1]:
        key = _decode_key(part)
        if type(cur) is dict:
            nxt = cur.get(key)
        else:
            try:
                nxt = _array_get(cur, key)
            except _OpError:
                return None
        if type(nxt) is not dict and type(nxt) is not list:
            return None
        cur = nxt
    return cur, _decode_key(split[-1])


def _array_index(arr: list[Any], key: str, size: int) -> int:
    idx = _atoi(key)
    if idx >= size or idx < -size:
        raise _OpError(f"Unable to access invalid index: {idx}: {_INVALID_INDEX}")
    return idx + size if idx < 0 else idx


def _array_get(arr: list[Any], key: str) -> Any:
    return arr[_array_index(arr, key, len(arr))]


def _get(con: Any, key: str) -> Any:
    if type(con) is dict:
        return con.get(key)
    return _array_get(con, key)


def _add(con: Any, key: str, val: Any) -> None:
    if type(con) is dict:
        con[key] = val
        return
    if key == "-":
        con.append(val)
        return
    try:
        idx = _atoi(key)
    except _OpError as e:
        raise _OpError(f"value was not a proper array index: '{key}': {e}") from None
    size = len(con) + 1
    if idx >= size or idx < -size:
        raise _OpError(f"Unable to access invalid index: {idx}: {_INVALID_INDEX}")
    con.insert(idx + size if idx < 0 else idx, val)


def _remove(con: Any, key: str) -> None:
    if type(con) is dict:
        if key not in con:
            raise _OpError(f"Unable to remove nonexistent key: {key}: {_MISSING}")
        del con[key]
        return
    del con[_array_index(con, key, len(con))]


def _json_text(v: Any) -> bytes:
    try:
        return orjson.dumps(v)
    except (TypeError, orjson.JSONEncodeError):
        return repr(v).encode()


def _lazy_equal(doc_val: Any, test_val: Any) -> bool:
    """lazyNode.equal: structural; object keys of the document value must all match (extra keys in
    the test value are tolerated, as in evanphx v4); scalars compare by their JSON text."""
    if type(doc_val) is dict:
        if type(test_val) is not dict:
            return False
        for k, v in doc_val.items():
            if k not in test_val:
                return False
            ov = test_val[k]
            if v is None and ov is None:
                continue
            if v is None or ov is None or not _lazy_equal(v, ov):
                return False
        return True
    if type(doc_val) is list:
        if type(test_val) is not list or len(doc_val) != len(test_val):
            return False
        return all(
            (a is None and b is None) or (a is not None and b is not None and _lazy_equal(a, b))
            for a, b in zip(doc_val, test_val)
        )
    if type(test_val) is dict or type(test_val) is list:
        return False
    return _json_text(doc_val) == _json_text(test_val)


def _op_add(doc: Any, op: dict[str, Any]) -> None:
    path = _path(op, "add operation failed to decode path", keep_cause=False)
    found = _find_container(doc, path)
    if found is None:
        raise _OpError(f'add operation does not apply: doc is missing path: "{path}": {_MISSING}')
    try:
        _add(found[0], found[1], _deepcopy(op.get("value")))
    except _OpError as e:
        raise _OpError(f"error in add for path: '{path}': {e}") from None


def _op_remove(doc: Any, op: dict[str, Any]) -> None:
    path = _path(op, "remove operation failed to decode path", keep_cause=False)
    found = _find_container(doc, path)
    if found is None:
        raise _OpError(f'remove operation does not apply: doc is missing path: "{path}": {_MISSING}')
    try:
        _remove(found[0], found[1])
    except _OpError as e:
        raise _OpError(f"error in remove for path: '{path}': {e}") from None


def _op_replace(doc: Any, op: dict[str, Any]) -> None:
    path = _path(op, "replace operation failed to decode path")
    found = _find_container(doc, path)
    if found is None:
        raise _OpError(f"replace operation does not apply: doc is missing path: {path}: {_MISSING}")
    con, key = found
    val = _deepcopy(op.get("value"))
    if type(con) is dict:
        con[key] = val  # evanphx v4: replacing a missing object key adds it
        return
    try:
        idx = _array_index(con, key, len(con))
    except _OpError:
        raise _OpError(f"replace operation does not apply: doc is missing key: {path}: {_MISSING}") from None
    con[idx] = val


def _op_move(doc: Any, op: dict[str, Any]) -> None:
    src = _from(op, "move operation failed to decode from")
    found = _find_container(doc, src)
    if found is None:
        raise _OpError(f"move operation does not apply: doc is missing from path: {src}: {_MISSING}")
    con, key = found
    try:
        val = _get(con, key)
        _remove(con, key)
    except _OpError as e:
        raise _OpError(f"error in move for path: '{key}': {e}") from None
    path = _path(op, "move operation failed to decode path")
    found = _find_container(doc, path)
    if found is None:
        raise _OpError(f"move operation does not apply: doc is missing destination path: {path}: {_MISSING}")
    try:
        _add(found[0], found[1], val)
    except _OpError as e:
        raise _OpError(f"error in move for path: '{path}': {e}") from None


def _op_copy(doc: Any, op: dict[str, Any], budget: list[int]) -> None:
    """`budget[0]`: bytes copied so far by this patch (evanphx AccumulatedCopySizeLimit)."""
    src = _from(op, "copy operation failed to decode from")
    found = _find_container(doc, src)
    if found is None:
        raise _OpError(f"copy operation does not apply: doc is missing from path: {src}: {_MISSING}")
    try:
        val = _get(found[0], found[1])
    except _OpError as e:
        raise _OpError(f"error in copy for from: '{src}': {e}") from None
    path = _path(op, "copy operation failed to decode path", keep_cause=False)
    found = _find_container(doc, path)
    if found is None:
        raise _OpError(f"copy operation does not apply: doc is missing destination path: {path}: {_MISSING}")
    try:
        raw = orjson.dumps(val)  # the copy and its size, as evanphx's deepCopy marshals it
    except TypeError:  # nested deeper than orjson encodes
        raise RecursionError from None
    budget[0] += len(raw)
    if budget[0] > JSON_PATCH_MAX_COPY_BYTES:
        raise _OpError(f"Unable to complete the copy, the accumulated size increase of copy is {budget[0]}, "
                       f"exceeding the limit {JSON_PATCH_MAX_COPY_BYTES}")
    try:
        _add(found[0], found[1], orjson.loads(raw))
    except _OpError as e:
        raise _OpError(f"error while adding value during copy: {e}") from None


def _op_test(doc: Any, op: dict[str, Any]) -> None:
    path = _path(op, "test operation failed to decode path")
    want = op.get("value")
    if path == "":
        if want is not None and _lazy_equal(doc, want):
            return
        raise _OpError(f"testing value {path} failed: {_TEST_FAILED}")
    found = _find_container(doc, path)
    if found is None:
        raise _OpError(f"test operation does not apply: is missing path: {path}: {_MISSING}")
    try:
        val = _get(found[0], found[1])
    except _OpError as e:
        raise _OpError(f"error in test for path: '{path}': {e}") from None
    if val is None:
        if want is None:
            return
    elif want is not None and _lazy_equal(val, want):
        return
    raise _OpError(f"testing value {path} failed: {_TEST_FAILED}")


_OPS: dict[str, Callable[..., None]] = {
    "add": _op_add,
    "remove": _op_remove,
    "replace": _op_replace,
    "move": _op_move,
    "copy": _op_copy,
    "test": _op_test,
}


def json_patch(obj: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """Apply an RFC 6902 JSON patch the way kube-apiserver does (evanphx/json-patch v4).

    A body that is not a list of objects is a 400 (decode error); more than 10000 operations is a 413;
    an operation that does not apply is a 422 carrying the library's message, e.g.
    `testing value /spec/replicas failed: test failed`.
    """
    if ops is None:
        return _deepcopy(obj)
    if not isinstance(ops, list):
        raise errors.bad_request(f"json: cannot unmarshal {json_kind(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise errors.bad_request(
                f"json: cannot unmarshal {json_kind(op)} into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise errors.StatusError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}",
        )
    doc = _deepcopy(obj)
    copied = [0]
    for op in ops:
        op = op or {}
        kind = op.get("op")
        if not isinstance(kind, str):
            kind = "unknown"
        fn = _OPS.get(kind)
        try:
            if fn is None:
                raise _OpError(f"Unexpected kind: {kind}")
            if fn is _op_copy:
                _op_copy(doc, op, copied)
            else:
                fn(doc, op)
        except _OpError as e:
            raise _unprocessable() from e
        except RecursionError:  # copies and moves nested the document too deep to walk
            raise errors.bad_request(bounds.too_deep_message()) from None
    return doc


def check_strict_decode(content_type: str, patch: Any) -> None:
    """What upstream's patch handler does first with fieldValidation Strict or Warn (the default):
    kjson.UnmarshalStrict of a JSON patch into []jsonPatchOp and of a merge patch into a map; a
    body of the wrong shape is a 400 `error decoding patch: json: cannot unmarshal ...`. (With
    Ignore the libraries decode it themselves: see json_patch and merge_patch.)"""
    if patch is None:
        return
    if content_type == "application/json-patch+json":
        if not isinstance(patch, list):
            raise _decode_error(f"{json_kind(patch)} into Go value of type []handlers.jsonPatchOp")
        for op in patch:
            if op is not None and not isinstance(op, dict):
                raise _decode_error(f"{json_kind(op)} into Go value of type handlers.jsonPatchOp")
            for key, value in (op or {}).items():
                if key in ("op", "path", "from") and value is not None and not isinstance(value, str):
                    raise _decode_error(f"{json_kind(value)} into Go struct field jsonPatchOp.{key} of type string")
    elif content_type == "application/merge-patch+json" and not isinstance(patch, dict):
        raise _decode_error(f"{json_kind(patch)} into Go value of type map[string]interface {{}}")


def _decode_error(what: str) -> errors.StatusError:
    return errors.bad_request(f"error decoding patch: json: cannot unmarshal {what}")


# --------------------------------------------------------------------------------------------------
# JSON merge patch (RFC 7386, evanphx MergePatch semantics)


def _pruned(v: Any) -> Any:
    """A copy of a new value with null object members removed (pruneNulls); null list items stay."""
    t = type(v)
    if t is dict:
        return {k: _pruned(x) for k, x in v.items() if x is not None}
    if t is list:
        return [_pruned(x) for x in v]
    return v


def _merge_docs(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    for k, v in patch.items():
        if v is None:
            doc.pop(k, None)
            continue
        cur = doc.get(k)
        if type(cur) is not dict:
            doc[k] = _pruned(v)  # absent, null or not an object: the patch value wins
        elif type(v) is not dict:
            doc[k] = _walk_copy(v)  # an object replaced by a non-object is taken as is
        else:
            _merge_docs(cur, v)


def merge_patch(obj: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply an RFC 7386 JSON merge patch (`kubectl scale`, `kubectl patch --type merge`)."""
    if isinstance(patch, dict):
        doc = _deepcopy(obj)
        _merge_docs(doc, patch)
        return doc
    if isinstance(patch, list):
        # evanphx returns the array itself, which then fails to decode as an object.
        text = orjson.dumps(_pruned(patch)).decode()
        msg = ('couldn\'t get version/kind; json parse error: json: cannot unmarshal array into Go value '
               'of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
               'Kind string "json:\\"kind,omitempty\\"" }')
        raise errors.invalid("", "", "", [errors.field_cause(
            "FieldValueInvalid", "patch", f"patch: Invalid value: {orjson.dumps(text).decode()}: {msg}")])
    raise errors.bad_request("Invalid JSON Patch")


# --------------------------------------------------------------------------------------------------
# strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch, server side)

_DIRECTIVE = "$patch"
_DELETE = "delete"
_REPLACE = "replace"
_MERGE = "merge"
_RETAIN_KEYS = "retainKeys"
_RETAIN_KEYS_DIRECTIVE = "$retainKeys"
_DELETE_PREFIX = "$deleteFromPrimitiveList"
_ORDER_PREFIX = "$setElementOrder"

# mergepatch package errors and how interpretStrategicMergePatchError maps them to HTTP codes.
_ERR_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_ERR_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_ERR_BAD_SET_ORDER = "invalid patch format of setElementOrder list"
_ERR_LIST_OF_LISTS = "lists of lists are not supported"


class _SMPError(Exception):
    """A strategicpatch error; `code` is what the apiserver answers for it (400, 422 or 500)."""

    def __init__(self, message: str, code: int = 500) -> None:
        super().__init__(message)
        self.code = code

    def status(self) -> errors.StatusError:
        if self.code == 400:
            return errors.bad_request(str(self))
        if self.code == 422:
            return _unprocessable()
        return _unknown(str(self))


def _no_merge_key(m: dict[str, Any], key: str) -> _SMPError:
    return _SMPError(f"map: {_gofmt(m)} does not contain declared merge key: {key}")


def _bad_arg_type(expected: str, actual: Any) -> _SMPError:
    return _SMPError(f"expected a {expected}, but received a {_go_type(actual)}")


def _bad_patch_type(directive: Any, m: dict[str, Any]) -> _SMPError:
    return _SMPError(f"unknown patch type: {_go_s(directive)} in map: {_gofmt(m)}")


_MAP = "map[string]interface {}"
_SLICE = "[]interface {}"


def _is_directive_key(k: str) -> bool:
    return k == _RETAIN_KEYS_DIRECTIVE or k.startswith(_ORDER_PREFIX + "/") or k.startswith(_DELETE_PREFIX + "/")


def _clean(v: Any) -> tuple[Any, bool]:
    """A copy of a patch value taken as a whole (no original to merge with).

    Upstream drops null members (discardNullValuesFromPatch) and elements carrying `$patch`
    (removeDirectives); the typed decode that follows drops the other directive keys, so we do too.
    Returns (value, keep): keep is False when the value itself is a `$patch` map.
    """
    t = type(v)
    if t is dict:
        if _DIRECTIVE in v:
            return None, False
        out = {}
        for k, x in v.items():
            if x is None or (k[:1] == "$" and _is_directive_key(k)):
                continue
            cx, keep = _clean(x)
            if keep:
                out[k] = cx
        return out, True
    if t is list:
        out_l = []
        for x in v:
            cx, keep = _clean(x)
            if keep:
                out_l.append(cx)
        return out_l, True
    return v, True


def _cleaned(v: Any) -> Any:
    return _clean(v)[0]


def _patch_meta(node: Any, key: str) -> tuple[Any, str, str, bool]:
    """(field schema, patch strategy, merge key, known) of `key` under object schema `node`.

    The strategy has retainKeys stripped (extractRetainKeysPatchStrategy): "merge,retainKeys" → "merge".
    """
    if node is None:
        return None, "", "", False
    sub = schemas.child(node, key)
    if sub is None:
        return None, "", "", False
    raw = sub.get("x-kubernetes-patch-strategy")
    strategy = ""
    if raw:
        parts = raw.split(",")
        if len(parts) == 1:
            strategy = "" if parts[0] == _RETAIN_KEYS else parts[0]
        elif len(parts) == 2 and _RETAIN_KEYS in parts:
            strategy = parts[1] if parts[0] == _RETAIN_KEYS else parts[0]
        else:
            raise _SMPError(f"unexpected patch strategy: [{' '.join(parts)}]")
    return sub, strategy, sub.get("x-kubernetes-patch-merge-key") or "", True


def _items(node: Any) -> Any:
    return schemas.items(node) if node is not None else None


def _extract_key(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        if prefix == _DELETE_PREFIX:
            raise _SMPError(_ERR_BAD_PRIMITIVE_LIST, 400)
        raise _SMPError(_ERR_BAD_SET_ORDER, 400)
    return rest


def _elem_type(*lists: list[Any]) -> type:
    """sliceElementType: the one element type of the lists (dict for lists of maps)."""
    prev: type | None = None
    for lst in lists:
        for v in lst:
            t = type(v)
            if prev is None:
                prev = t
                if t is list:
                    raise _SMPError(_ERR_LIST_OF_LISTS, 422)
            elif t is not prev:
                raise _SMPError(f"list element types are not identical: [{' '.join(_gofmt(x) for x in lists)}]")
    if prev is None:
        raise _SMPError("no elements in any of the given slices")
    return prev


class _Positions:
    """First index of each merge-key value (or primitive) in an ordering list (strategicpatch.index)."""

    __slots__ = ("_map", "_keys")

    def __init__(self, order: list[Any], merge_key: str, maps: bool) -> None:
        keys = [(o.get(merge_key) if type(o) is dict else None) if maps else o for o in order]
        self._keys = keys
        self._map: dict[Any, int] | None = {}
        try:
            for i, k in enumerate(keys):
                self._map.setdefault(k, i)
        except TypeError:
            self._map = None

    def find(self, value: Any) -> int:
        if self._map is not None:
            try:
                return self._map.get(value, -1)
            except TypeError:
                pass
        for i, k in enumerate(self._keys):
            if k == value:
                return i
        return -1


def _key_of(item: Any, merge_key: str, maps: bool) -> Any:
    if not maps:
        return item
    return item.get(merge_key) if type(item) is dict else None


def _validate_merge_key(merge_key: str, *lists: list[Any]) -> None:
    for lst in lists:
        for item in lst:
            if type(item) is not dict:
                raise _bad_arg_type(_MAP, item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)


def _sort_by(to_sort: list[Any], order: list[Any], merge_key: str, maps: bool) -> list[Any]:
    """normalizeSliceOrder: stable sort by position in `order`; `$patch: delete` items go last."""
    to_delete: list[Any] = []
    if maps:
        _validate_merge_key(merge_key, to_sort, order)
        keep = []
        for v in to_sort:
            (to_delete if v.get(_DIRECTIVE, None) == _DELETE else keep).append(v)
        to_sort = keep
    if len(to_sort) > 1:
        pos = _Positions(order, merge_key, maps)
        to_sort = sorted(to_sort, key=lambda v: pos.find(_key_of(v, merge_key, maps)))
    return to_sort + to_delete if to_delete else to_sort


def _merge_sorted(left: list[Any], right: list[Any], server_order: list[Any], merge_key: str,
                  maps: bool) -> list[Any]:
    """mergeSortedSlice: interleave server-only items (left) with patch items (right).

    A left item goes first only when both items are in the live list and it came first there, so
    items the server has never seen stay ahead of server-only items.
    """
    if not left:
        return right
    if not right:
        return left
    pos = _Positions(server_order, merge_key, maps)
    out: list[Any] = []
    i = j = 0
    while i < len(left) and j < len(right):
        li = pos.find(_key_of(left[i], merge_key, maps))
        ri = pos.find(_key_of(right[j], merge_key, maps))
        if li >= 0 and ri >= 0 and li < ri:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    out.extend(left[i:])
    out.extend(right[j:])
    return out


def _normalize_order(patch_items: list[Any], server_only: list[Any], patch_order: list[Any],
                     server_order: list[Any], merge_key: str, maps: bool) -> list[Any]:
    patch_items = _sort_by(patch_items, patch_order, merge_key, maps)
    server_only = _sort_by(server_only, server_order, merge_key, maps)
    return _merge_sorted(server_only, patch_items, server_order, merge_key, maps)


def _partition(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split merged items into those named in `by` (patch order) and server-only ones."""
    inside: list[Any] = []
    outside: list[Any] = []
    if not merge_key:
        try:
            present = set(by)
            for v in merged:
                (inside if v in present else outside).append(v)
            return inside, outside
        except TypeError:
            for v in merged:
                (inside if any(v == b for b in by) else outside).append(v)
            return inside, outside
    if not merged:
        return inside, outside
    for i, b in enumerate(by):
        if type(b) is not dict:
            raise _SMPError(f"value for key {i} is not a map.")
    pos = _Positions([b for b in by if merge_key in b], merge_key, True)
    for v in merged:
        if type(v) is not dict:
            raise _bad_arg_type(_MAP, v)
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        (inside if pos.find(v[merge_key]) >= 0 else outside).append(v)
    return inside, outside


def _find_by_key(items: list[Any], n: int, merge_key: str, value: Any) -> int:
    for i in range(n):
        v = items[i]
        if type(v) is not dict:
            raise _SMPError(f"value for key {i} is not a map.")
        if merge_key in v and v[merge_key] == value:
            return i
    return -1


class _Backing:
    """Go's aliasing of the original slice's backing array.

    Upstream merges lists in place: deleting an element shifts the array left and appending reuses
    free capacity, so the *original* list that later orders the result (mergePatchIntoOriginal)
    sees those writes. Its tests depend on it, so we replay the writes on a copy of the array with
    the capacity encoding/json gives a decoded slice (powers of two).
    """

    __slots__ = ("arr", "cap", "shared")

    def __init__(self, items: list[Any]) -> None:
        n = len(items)
        self.cap = 0 if n == 0 else 1 << (n - 1).bit_length()
        self.arr: list[Any] = list(items) + [None] * (self.cap - n)
        self.shared = True

    def view(self, n: int) -> list[Any]:
        return self.arr[:n]


def _merge_slice(original: list[Any], patch: list[Any], item_schema: Any, merge_key: str,
                 is_delete_list: bool, backing: _Backing | None) -> list[Any]:
    """mergeSlice: union of primitives, or merge of maps by merge key, then order enforcement."""
    if not original and not patch:
        return original
    maps = _elem_type(original, patch) is dict
    if not maps:
        if is_delete_list:
            try:
                drop = set(patch)
                return [v for v in original if v not in drop]
            except TypeError:
                return [v for v in original if not any(v == d for d in patch)]
        merged, server_order = _union(original, patch, backing)
        inside, outside = _partition(merged, patch, "")
        return _normalize_order(inside, outside, patch, server_order, "", False)
    if not merge_key:
        raise _SMPError("cannot merge lists without merge key for struct")
    return _merge_map_list(original, patch, item_schema, merge_key, backing)


def _union(original: list[Any], patch: list[Any], backing: _Backing | None) -> tuple[list[Any], list[Any]]:
    """append + deduplicateScalars, replayed on the shared array (the dedup swaps in the last item)."""
    buf = list(original) + list(patch)
    n = len(buf)
    length = n - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if buf[i] == buf[j]:
                buf[j] = buf[length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    merged = buf[:length + 1] if n else []
    server_order = original
    if backing is None:
        backing = _Backing(original)  # mergeSlice orders by its own (aliased) original too
    if backing.shared and n <= backing.cap:
        backing.arr[:n] = buf
        server_order = backing.view(len(original))
    return merged, server_order


def _merge_map_list(original: list[Any], patch: list[Any], item_schema: Any, merge_key: str,
                    backing: _Backing | None) -> list[Any]:
    """mergeSliceWithSpecialElements + mergeSliceWithoutSpecialElements + ordering, for lists of maps."""
    cur = list(original)
    plain: list[Any] = []
    replace = False
    for v in patch:
        if _DIRECTIVE not in v:
            plain.append(v)
            continue
        d = v[_DIRECTIVE]
        if d == _DELETE and isinstance(d, str):
            if merge_key not in v:
                raise _no_merge_key(v, merge_key)
            value = v[merge_key]
            while True:
                i = _find_by_key(cur, len(cur), merge_key, value)
                if i < 0:
                    break
                if backing is not None and backing.shared:
                    n = len(cur)
                    backing.arr[i:n - 1] = backing.arr[i + 1:n]
                del cur[i]
        elif d == _REPLACE and isinstance(d, str):
            replace = True
        elif d == _MERGE and isinstance(d, str):
            raise _SMPError("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(d, v)
    if replace:
        _validate_merge_key(merge_key, plain)
        return [_cleaned(v) for v in plain]
    server_order = list(cur)
    for v in plain:
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        i = _find_by_key(cur, len(cur), merge_key, v[merge_key])
        if i >= 0:
            cur[i] = _merge_map(cur[i], v, item_schema)
            if backing is not None and backing.shared:
                backing.arr[i] = cur[i]
            continue
        item, keep = _clean(v)
        if backing is not None and backing.shared:
            if len(cur) < backing.cap:
                backing.arr[len(cur)] = item
            else:
                backing.shared = False
        cur.append(item)
    inside, outside = _partition(cur, plain, merge_key)
    return _normalize_order(inside, outside, plain, server_order, merge_key, True)


def _merge_list_field(original: Any, patch: Any, item_schema: Any, strategy: str, merge_key: str,
                      is_delete_list: bool, backing: _Backing | None = None) -> list[Any]:
    """mergeSliceHandler: delete lists and `merge` lists merge, other lists are replaced."""
    if type(original) is not list:
        raise _bad_arg_type(_SLICE, original)
    if type(patch) is not list:
        raise _bad_arg_type(_SLICE, patch)
    if strategy == _MERGE or is_delete_list:
        return _merge_slice(original, patch, item_schema, merge_key, is_delete_list, backing)
    return _cleaned(patch)


def _map_directive(directive: Any, patch: dict[str, Any]) -> dict[str, Any]:
    """handleDirectiveInMergeMap: `$patch: replace` takes the patch map, `$patch: delete` empties it."""
    if directive == _REPLACE and isinstance(directive, str):
        return _cleaned({k: v for k, v in patch.items() if k != _DIRECTIVE})
    if directive == _DELETE and isinstance(directive, str):
        return {}
    raise _bad_patch_type(directive, patch)


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """`$retainKeys`: every patch field must be listed, and unlisted fields are cleared from original."""
    keep = patch[_RETAIN_KEYS_DIRECTIVE]
    if type(keep) is not list:
        raise _SMPError(_ERR_BAD_RETAIN_KEYS, 400)
    try:
        allowed = set(keep)
    except TypeError:
        allowed = {k for k in keep if isinstance(k, str)}
    for k, v in patch.items():
        if k == _RETAIN_KEYS_DIRECTIVE or v is None or k.startswith(_DELETE_PREFIX) or k.startswith(_ORDER_PREFIX):
            continue
        if k not in allowed:
            raise _SMPError(_ERR_BAD_RETAIN_KEYS, 400)
    for k in [k for k in original if k not in allowed]:
        del original[k]


def _validate_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """validatePatchWithSetOrderList: patch items must appear in `$setElementOrder` in the same order."""
    if not order or not patch_list:
        return
    if merge_key:
        for v in patch_list:
            if type(v) is not dict:
                raise _bad_arg_type(_MAP, v)
        items = [v for v in patch_list if v.get(_DIRECTIVE, None) != _DELETE]
    else:
        items = patch_list
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        item = items[pi]
        if type(item) is dict and _DIRECTIVE in item:
            pi += 1
            continue
        if _same_key(item, order[oi], merge_key):
            pi += 1
        oi += 1
    if pi < len(items) and oi >= len(order):
        raise _SMPError(f"the order in patch list:\n{_gofmt(patch_list)}\n doesn't match "
                        f"{_ORDER_PREFIX} list:\n{_gofmt(order)}")


def _same_key(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return left == right
    for v in (left, right):
        if type(v) is not dict:
            raise _bad_arg_type(_MAP, v)
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
    return left[merge_key] == right[merge_key]


def _apply_element_order(original: dict[str, Any], patch: dict[str, Any], schema: Any,
                         done: set[str]) -> None:
    """mergePatchIntoOriginal: merge each list that has a `$setElementOrder/<field>` and order it.

    Precedence of order: the directive's list, then the order in the patch, then the live order.
    """
    for key, order in patch.items():
        if not key.startswith(_ORDER_PREFIX):
            continue
        done.add(key)
        if type(order) is not list:
            raise _bad_arg_type(_SLICE, order)
        field = _extract_key(key, _ORDER_PREFIX)
        olist = original.get(field)
        found_o = olist is not None
        found_p = field in patch
        plist = patch.get(field)
        if found_o and type(olist) is not list:
            raise _bad_arg_type(_SLICE, olist)
        if found_p and type(plist) is not list:
            raise _bad_arg_type(_SLICE, plist)
        sub, strategy, merge_key, known = _patch_meta(schema, field)
        if not known:
            continue  # no schema: the list is handled with merge-patch semantics below
        _validate_order(plist or [], order, merge_key)
        backing = None
        if found_o and found_p:
            backing = _Backing(olist)
            merged = _merge_list_field(olist, plist, _items(sub), strategy, merge_key, False, backing)
        elif found_o:
            merged = olist
        elif found_p:
            merged = _cleaned(plist)
        else:
            continue
        inside, outside = _partition(merged, order, merge_key)
        maps = _elem_type(olist or [], plist or []) is dict
        server_order = backing.view(len(olist)) if backing is not None else (olist or [])
        original[field] = _normalize_order(inside, outside, order, server_order, merge_key, maps)
        done.add(field)


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: Any) -> dict[str, Any]:
    """mergeMap: merge `patch` into `original` (modified in place; it is our private copy)."""
    if _DIRECTIVE in patch:
        return _map_directive(patch[_DIRECTIVE], patch)
    done: set[str] = set()
    has_order = False
    for k in patch:
        if k[:1] == "$":
            if k == _RETAIN_KEYS_DIRECTIVE:
                _apply_retain_keys(original, patch)
                done.add(k)
            elif k.startswith(_ORDER_PREFIX):
                has_order = True
    if has_order:
        _apply_element_order(original, patch, schema, done)
    for k, pv in patch.items():
        if k in done:
            continue
        is_delete_list = False
        if k[:1] == "$" and k.startswith(_DELETE_PREFIX):
            k = _extract_key(k, _DELETE_PREFIX)
            is_delete_list = True
        if pv is None:
            original.pop(k, None)
            continue
        ov = original.get(k, _ABSENT)
        if ov is _ABSENT or type(ov) is not type(pv):
            if not is_delete_list:
                value, keep = _clean(pv)
                if keep:
                    original[k] = value
                else:
                    original.pop(k, None)
            continue
        if type(ov) is dict:
            sub, strategy, _, _ = _patch_meta(schema, k)
            original[k] = _cleaned(pv) if strategy == _REPLACE else _merge_map(ov, pv, sub)
        elif type(ov) is list:
            sub, strategy, merge_key, _ = _patch_meta(schema, k)
            original[k] = _merge_list_field(ov, pv, _items(sub), strategy, merge_key, is_delete_list)
        else:
            original[k] = pv
    return original


_ABSENT: Any = object()


def strategic_merge_patch(obj: dict[str, Any], patch: dict[str, Any],
                          schema: dict[str, Any] | None) -> dict[str, Any]:
    """Apply a strategic merge patch (kubectl apply / set image / edit) against `schema`.

    `schema` is the kind's OpenAPI definition (see `kubeling.api.schema.for_kind`); None means
    JSON-merge semantics throughout, with the directives still honoured.
    """
    if patch is None:
        return _deepcopy(obj)
    if not isinstance(patch, dict):
        raise errors.bad_request(
            f"json: cannot unmarshal {json_kind(patch)} into Go value of type map[string]interface {{}}")
    try:
        return _merge_map(_deepcopy(obj), patch, schema)
    except _SMPError as e:
        raise e.status() from e


def strategic_merge_patch_for(obj: dict[str, Any], patch: dict[str, Any], group: str, version: str,
                              kind: str) -> dict[str, Any]:
    """`strategic_merge_patch` with the schema of the built-in kind (group, version, kind)."""
    return strategic_merge_patch(obj, patch, schemas.for_kind(group, version, kind))
