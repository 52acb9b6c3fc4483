"""JSON merge patch (RFC 7386) as evanphx `MergePatch` applies it (nulls inside new values are pruned)."""

from __future__ import annotations

from typing import Any

import orjson

from .. import errors
from .common import deep_copy, walk_copy


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
            doc[k] = walk_copy(v)  # an object replaced by a non-object is taken as is
        else:
            _merge_docs(cur, v)


def merge_patch(obj: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply an RFC 7386 JSON merge patch (`kubectl scale`, `kubectl patch --type merge`)."""
    if isinstance(patch, dict):
        doc = deep_copy(obj)
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
