"""Field sets (structured-merge-diff `fieldpath`): set algebra, path strings and FieldsV1 decoding.

Field sets are kept in the FieldsV1 wire form itself (`{"f:spec": {"f:replicas": {}}}`): a child
`{}` is a member leaf, a child with `"."` is a member that also has members below it, any other
child only has members below it. The root dict is the set's children. Keys are canonical
(`k:` JSON with sorted key names, Go escaping), so plain string equality is path equality.
Sets are never mutated once built; operations return new dicts and share unchanged subtrees.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import orjson


FieldSet = dict[str, Any]
ManagerId = tuple[str, str, str, str]  # (manager, operation, apiVersion ("" for Apply), subresource)

MISSING: Any = object()  # "no value" (Go nil), distinct from JSON null (None)
MEMBER: FieldSet = {}  # shared empty node; never mutated

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


def go_quote(s: str) -> str:
    """Go's %q for the strings that appear in conflict messages (close enough: JSON quoting)."""
    return json.dumps(s, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Field set algebra over FieldsV1 dicts (fieldpath.Set)
# --------------------------------------------------------------------------------------------

def is_member(node: FieldSet) -> bool:
    return not node or "." in node


def make_node(member: bool, kids: FieldSet) -> FieldSet | None:
    """Build a node from its membership and its children (None if it would hold nothing)."""
    if not kids:
        return MEMBER if member else None
    if member and "." not in kids:
        return {".": MEMBER, **kids}
    if not member and "." in kids:
        kids = dict(kids)
        del kids["."]
        return kids or None
    return kids


def kids_of(node: FieldSet) -> FieldSet:
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
    node = make_node(is_member(a) or is_member(b), union(kids_of(a), kids_of(b)))
    return node if node is not None else MEMBER


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
    member = is_member(a) and not is_member(b)
    ka = kids_of(a)
    kids = difference(ka, kids_of(b))
    if member == is_member(a) and kids is ka:
        return a
    return make_node(member, kids)


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
        if is_member(bv):
            nv = None
        else:
            kids = recursive_difference(kids_of(av), bv)
            nv = make_node(is_member(av), kids)
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
        node = make_node(is_member(sv) and is_member(bv), intersection(kids_of(sv), kids_of(bv)))
        if node is not None:
            out[k] = node
    return out


def has(s: FieldSet, path: list[str]) -> bool:
    node = s
    for pe in path:
        node = node.get(pe) if pe != "." else None
        if node is None:
            return False
    return bool(path) and is_member(node)


def _with_prefix(s: FieldSet, pe: str) -> FieldSet:
    node = s.get(pe)
    return kids_of(node) if node else {}


def iterate(s: FieldSet, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Member paths in upstream order (members of a node first, then its children)."""
    items = sorted((k, v) for k, v in s.items() if k != ".")
    for k, v in items:
        if is_member(v):
            yield prefix + (k,)
    for k, v in items:
        kids = kids_of(v)
        if kids:
            yield from iterate(kids, prefix + (k,))


def sorted_fields(s: FieldSet) -> FieldSet:
    """Copy with keys in the order Go's encoder emits them (sorted; '.' first)."""
    return {k: (sorted_fields(s[k]) if s[k] else {}) for k in sorted(s)}


def pe_string(pe: str) -> str:
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
        return go_quote(v)
    if isinstance(v, (int, float)):
        return str(v)
    return go_json(v)


def path_string(path: tuple[str, ...] | list[str]) -> str:
    """`.spec.template.spec.containers[name="nginx"].image` (fieldpath.Path.String)."""
    return "".join(pe_string(pe) for pe in path)


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
            out["."] = MEMBER
            continue
        child = _decode_node(v)
        out[_canonical_pe(k)] = child if child else MEMBER
    return out


# --------------------------------------------------------------------------------------------
