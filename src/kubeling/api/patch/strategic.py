"""Strategic merge patch: a port of k8s.io/apimachinery/pkg/util/strategicpatch `StrategicMergeMapPatch`
with the patch metadata (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`) read from the
upstream OpenAPI schema instead of Go struct tags. Where the schema does not know a field the patch
falls back to JSON-merge semantics (maps merge, lists are replaced), as upstream does for
unstructured content."""

from __future__ import annotations

from typing import Any

from .. import errors
from .. import schema as schemas
from ..typed import json_kind
from .common import deep_copy, go_s, go_type, gofmt, unknown_error, unprocessable


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
            return unprocessable()
        return unknown_error(str(self))


def _no_merge_key(m: dict[str, Any], key: str) -> _SMPError:
    return _SMPError(f"map: {gofmt(m)} does not contain declared merge key: {key}")


def _bad_arg_type(expected: str, actual: Any) -> _SMPError:
    return _SMPError(f"expected a {expected}, but received a {go_type(actual)}")


def _bad_patch_type(directive: Any, m: dict[str, Any]) -> _SMPError:
    return _SMPError(f"unknown patch type: {go_s(directive)} in map: {gofmt(m)}")


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
                raise _SMPError(f"list element types are not identical: [{' '.join(gofmt(x) for x in lists)}]")
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
        raise _SMPError(f"the order in patch list:\n{gofmt(patch_list)}\n doesn't match "
                        f"{_ORDER_PREFIX} list:\n{gofmt(order)}")


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
        return deep_copy(obj)
    if not isinstance(patch, dict):
        raise errors.bad_request(
            f"json: cannot unmarshal {json_kind(patch)} into Go value of type map[string]interface {{}}")
    try:
        return _merge_map(deep_copy(obj), patch, schema)
    except _SMPError as e:
        raise e.status() from e


def strategic_merge_patch_for(obj: dict[str, Any], patch: dict[str, Any], group: str, version: str,
                              kind: str) -> dict[str, Any]:
    """`strategic_merge_patch` with the schema of the built-in kind (group, version, kind)."""
    return strategic_merge_patch(obj, patch, schemas.for_kind(group, version, kind))
