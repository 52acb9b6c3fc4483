"""JSON patch (RFC 6902) as gopkg.in/evanphx/json-patch.v4 applies it, the library the apiserver uses,
including its leniencies (`replace` of a missing object key adds it, negative array indices) and its
messages (`add operation does not apply: doc is missing path: "/x": missing value`). A failed
operation is a 422 "the server rejected our request due to an error in our request" with empty
details, exactly as upstream; the library message is kept as the exception's `__cause__` for logs."""

from __future__ import annotations

import re
from typing import Any, Callable

import orjson

from .. import bounds, errors
from ..typed import json_kind
from .common import JSON_PATCH_MAX_COPY_BYTES, MAX_JSON_PATCH_OPERATIONS, deep_copy, unprocessable


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
        _add(found[0], found[1], deep_copy(op.get("value")))
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
    val = deep_copy(op.get("value"))
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
        return deep_copy(obj)
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
    doc = deep_copy(obj)
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
            raise unprocessable() from e
        except RecursionError:  # copies and moves nested the document too deep to walk
            raise errors.bad_request(bounds.too_deep_message()) from None
    return doc
