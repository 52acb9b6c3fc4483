"""Server-side apply (merge/update.go Updater.Apply, lastappliedmanager, prune)."""

from __future__ import annotations

import orjson

from kubeling.api.errors import StatusError, bad_request
from .fieldset import (FieldSet, ManagerId, difference, go_json, has, intersection, recursive_difference, sorted_fields,
                       union)
from .managed import (LAST_APPLIED, TOTAL_ANNOTATION_SIZE_LIMIT, Conflicts, Managed, Versioned, cap_managers,
                      conflict_error, decode_managed, encode_managed, ignored_with_meta, strip_meta, structured_update,
                      updater_update, reset_fields)
from .typedmerge import (SchemaError, SmdType, gvk_string, gvknn, meta_of, compare, merge, remove_items, to_field_set,
                         type_for, typed_error_text, typed_patch_error)


# Server-side apply
# --------------------------------------------------------------------------------------------

def _apply_core(live: dict, config: dict, t: SmdType, managed: Managed, mid: ManagerId, api_version: str,
                force: bool, ignored: FieldSet | None) -> tuple[dict, bool]:
    """merge.Updater.Apply: returns (new object, changed); raises Conflicts."""
    bad = typed_patch_error(config, t)  # ObjectToTyped(patchObj) comes before any merge
    if bad is not None:
        raise bad
    try:
        return _apply_typed(live, config, t, managed, mid, api_version, force, ignored)
    except SchemaError as err:  # the live object does not fit (ObjectToTyped(live) fails upstream)
        raise StatusError(500, "", f"failed to create typed live object ({gvknn(live)}): {err}") from None


def _apply_typed(live: dict, config: dict, t: SmdType, managed: Managed, mid: ManagerId, api_version: str,
                 force: bool, ignored: FieldSet | None) -> tuple[dict, bool]:
    new = merge(live, config, t)
    cfg_set = to_field_set(config, t)
    if ignored:
        cfg_set = recursive_difference(cfg_set, ignored)
    last = managed.fields.get(mid)
    managed.fields[mid] = Versioned(cfg_set, api_version, True)
    if last is not None and last.fields:
        new = _prune(new, managed, last.fields, t)
    cmp = compare(live, new, t, ignored_with_meta(ignored))
    updater_update(cmp, managed, mid, force)
    return new, not cmp.is_same()


def _prune(merged: dict, managed: Managed, last: FieldSet, t: SmdType) -> dict:
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


def _allowed_from_last_applied(live: dict, t: SmdType, api_version: str) -> FieldSet | None:
    """lastAppliedManager: fields client-side apply set whose live values still match."""
    raw = (meta_of(live).get("annotations") or {}).get(LAST_APPLIED)
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
    except SchemaError:
        return None
    return difference(difference(difference(last_set, cmp.modified), cmp.added), cmp.removed)


def _last_applied_value(config: dict) -> str:
    """buildLastApplied: the applied object, without the annotation, as Go's encoder writes it."""
    obj = dict(config)
    meta = dict(meta_of(config))
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
        raise bad_request(f"invalid object type: {gvk_string(config)}")
    if meta_of(config).get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    t = type_for(config, schema)
    if ignored is True:
        group, _, _v = api_version.rpartition("/")
        ignored = reset_fields(group, kind, subresource)
    ignored = ignored or None
    try:
        managed = decode_managed(meta_of(live).get("managedFields"), trusted=True)
    except (ValueError, orjson.JSONDecodeError) as err:
        # a plain fmt.Errorf in FieldManager.Apply: ErrorToAPIStatus makes it a 500 with no reason
        raise StatusError(500, "", f"failed to decode managed fields: {err}") from None
    base = live if live is not None else {}
    if not managed.fields and live is not None:
        # skipNonAppliedManager: the existing fields belong to "before-first-apply".
        try:
            structured_update(None, live, t, managed, ("before-first-apply", "Update", api_version, subresource),
                               api_version, now, ignored)
        except SchemaError as err:  # a live object SMD can't type (stored by a create or update)
            text = typed_error_text(live, t) or str(err)
            raise StatusError(500, "", "failed to create manager for existing fields: failed to convert new object "
                                       f"({gvknn(live)}) to smd typed: {text}") from None
        cap_managers(managed)
    mid = (manager or "unknown", "Apply", "", subresource)
    attempt = managed.copy()
    try:
        new, changed = _apply_core(base, config, t, attempt, mid, api_version, force, ignored)
    except Conflicts as conflicts:
        remaining = conflicts.conflicts
        if manager == "kubectl" and live is not None:
            allowed = _allowed_from_last_applied(live, t, api_version)
            if allowed is not None:
                remaining = [(m, p) for m, p in remaining if not has(allowed, list(p))]
        if remaining:
            raise conflict_error(remaining) from None
        attempt = managed.copy()
        new, changed = _apply_core(base, config, t, attempt, mid, api_version, True, ignored)
    managed = attempt
    if changed:
        managed.times[mid] = now
    else:
        new = base
    vs = managed.fields.get(mid)
    if vs is not None:
        stripped = strip_meta(vs.fields)
        if stripped:
            managed.fields[mid] = Versioned(stripped, vs.api_version, vs.applied)
        else:
            del managed.fields[mid]
    out = orjson.loads(orjson.dumps(new))
    out.setdefault("metadata", {})
    if manager == "kubectl" and (meta_of(out).get("annotations") or {}).get(LAST_APPLIED):
        _set_last_applied(out, _last_applied_value(config))
    entries = encode_managed(managed)
    if entries:
        out["metadata"]["managedFields"] = entries
    else:
        out["metadata"].pop("managedFields", None)
    return out


def fields_v1(obj: dict, schema: dict | None = None, ignored: FieldSet | None = None) -> FieldSet:
    """FieldsV1 of the fields an object sets, as an applier of it would own them."""
    t = type_for(obj, schema)
    s = strip_meta(to_field_set(obj, t))
    if ignored:
        s = recursive_difference(s, ignored)
    return sorted_fields(s)
