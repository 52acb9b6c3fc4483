"""managedFields: decode / encode (apimachinery managedfields.go), the manager chain of
`NewDefaultFieldManager` (stripmeta, capmanagers, ...) and merge.Updater with its 409 body
(conflict.go). `update_managed_fields` is what every non-apply write runs."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import orjson

from kubeling.api.errors import StatusError, bad_request, field_cause, invalid
from .fieldset import (FieldSet, ManagerId, go_quote, kids_of, decode_fields, difference, has, intersection, iterate,
                       path_string, recursive_difference, sorted_fields, union)
from .typedmerge import Comparison, SchemaError, SmdType, added_children, meta_of, compare, type_for


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_UPDATE_MANAGERS = 10  # DefaultMaxUpdateManagers
FIELD_MANAGER_MAX_LENGTH = 128
MAX_SUBRESOURCE_NAME_LENGTH = 256
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
_CURRENT = ("current-operation", "Update", "", "")

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


def strip_meta(s: FieldSet) -> FieldSet:
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
            kids = kids_of(node)
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
                kids = kids_of(node)
                if kids:
                    m[k] = kids
                else:
                    del m[k]
        if m is not None or not meta or "." in meta:
            m = kids_of(m if m is not None else meta)
            if out is None:
                out = dict(s)
            if m:
                out["f:metadata"] = m
            else:
                del out["f:metadata"]
    return s if out is None else out


# Managed fields: decode / encode (managedfields.go)
# --------------------------------------------------------------------------------------------

@dataclass
class Versioned:
    fields: FieldSet
    api_version: str
    applied: bool


class Managed:
    """fieldpath.ManagedFields plus the times map."""

    def __init__(self) -> None:
        self.fields: dict[ManagerId, Versioned] = {}
        self.times: dict[ManagerId, str | None] = {}
        self.entries: dict[ManagerId, dict] = {}  # original entries, reused when unchanged

    def copy(self) -> "_Managed":
        m = Managed()
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


def decode_managed(entries: list | None, trusted: bool = False) -> Managed:
    """DecodeManagedFields; ValueError on entries upstream rejects."""
    m = Managed()
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
        m.fields[mid] = Versioned(fields, e["apiVersion"], op == "Apply")
        m.times[mid] = e.get("time")
        m.entries[mid] = e
    return m


def encode_managed(m: Managed) -> list[dict]:
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


def _print_manager(mid: ManagerId, m: Managed | None = None) -> str:
    """conflict.go printManager: `"kubectl" with subresource "scale" using apps/v1`."""
    manager, op, api_version, sub = mid
    s = go_quote(manager)
    if sub:
        s += f" with subresource {go_quote(sub)}"
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
                                      f'{p}.operation: Invalid value: {go_quote(op)}: must be `Apply` or `Update`'))
        ft = e.get("fieldsType") or ""
        if ft and ft != "FieldsV1":
            causes.append(field_cause("FieldValueInvalid", f"{p}.fieldsType",
                                      f'{p}.fieldsType: Invalid value: {go_quote(ft)}: must be `FieldsV1`'))
        manager = e.get("manager") or ""
        if len(manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
            causes.append(field_cause("FieldValueTooLong", f"{p}.manager",
                                      f"{p}.manager: Too long: may not be more than {FIELD_MANAGER_MAX_LENGTH} bytes"))
        for pos, ch in enumerate(manager):
            if not ch.isprintable():
                causes.append(field_cause(
                    "FieldValueInvalid", f"{p}.manager",
                    f"{p}.manager: Invalid value: {go_quote(manager)}: invalid character "
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

class Conflicts(Exception):
    def __init__(self, conflicts: list[tuple[ManagerId, tuple[str, ...]]]) -> None:
        super().__init__("conflicts")
        self.conflicts = conflicts


def conflict_error(conflicts: list[tuple[ManagerId, tuple[str, ...]]]) -> StatusError:
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


def updater_update(cmp: Comparison, managed: Managed, workflow: ManagerId, force: bool) -> None:
    """Updater.update: take changed fields from other managers (or report them as conflicts)."""
    _updater_update_sets(union(cmp.modified, cmp.added), cmp.removed, managed, workflow, force)


def _updater_update_sets(changed: FieldSet, removed: FieldSet, managed: Managed, workflow: ManagerId,
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
        raise Conflicts(out)
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
                managed.fields[mid] = Versioned(fields, vs.api_version, vs.applied)
            else:
                del managed.fields[mid]


_IGNORED_WITH_META: dict[int, tuple[FieldSet, FieldSet]] = {}


def ignored_with_meta(ignored: FieldSet | None) -> FieldSet:
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


def structured_update(live: Any, new: dict, t: SmdType, managed: Managed, mid: ManagerId,
                       api_version: str, now: str, ignored: FieldSet | None) -> None:
    """managedFieldsUpdater + stripMeta + structuredMerge Update, in place on `managed`."""
    if live is None or live == {}:
        # a create: everything in `new` is added (compare({}, new) without the split)
        changed = added_children({}, new, t, ignored_with_meta(ignored)) if new else {}
        removed: FieldSet = {}
    else:
        cmp = compare(live, new, t, ignored_with_meta(ignored))
        changed, removed = union(cmp.modified, cmp.added), cmp.removed
    _updater_update_sets(changed, removed, managed, _CURRENT, True)
    fields = difference(changed, removed)
    if ignored:
        fields = recursive_difference(fields, ignored)
    fields = strip_meta(fields)
    if not fields:
        return
    prev = managed.fields.get(mid)
    if prev is not None:
        fields = union(prev.fields, fields)
    managed.fields[mid] = Versioned(fields, api_version, False)
    managed.times[mid] = now


def cap_managers(managed: Managed, max_updaters: int = MAX_UPDATE_MANAGERS) -> None:
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
            managed.fields[bucket] = Versioned(union(vs.fields, managed.fields[bucket].fields), vs.api_version, False)
            del managed.fields[mid]
            length -= 1
            managed.times[bucket] = when
        else:
            first_by_version[vs.api_version] = mid


def _is_reset(entries: Any) -> bool:
    """isResetManagedFields: `[]` or `[{}]` clears managedFields."""
    if entries is None or not isinstance(entries, list):
        return False
    return len(entries) == 0 or (len(entries) == 1 and entries[0] == {})


def _decode_or_empty(entries: Any, trusted: bool) -> Managed:
    try:
        return decode_managed(entries, trusted=trusted)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        return Managed()


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
    live_entries = meta_of(old).get("managedFields")
    new_entries = meta_of(new).get("managedFields")
    if subresource:
        managed = _decode_or_empty(live_entries, trusted=True)
    elif _is_reset(new_entries):
        managed = Managed()
    elif new_entries is live_entries or new_entries == live_entries:
        managed = _decode_or_empty(live_entries, trusted=True)
    else:
        managed = _decode_or_empty(new_entries, trusted=False)
        if not managed.fields:
            managed = _decode_or_empty(live_entries, trusted=True)
    creating = old is None or not meta_of(old).get("uid")
    if not managed.fields and not creating:
        return []  # skipNonAppliedManager: no tracking for objects without managedFields
    mid = (manager or "unknown", "Update", api_version, subresource)
    try:
        structured_update(old, new, t, managed, mid, api_version, now, ignored or None)
    except SchemaError:
        # UpdateNoErrors: an object SMD can't type keeps the live managedFields.
        return list(live_entries or [])
    cap_managers(managed)
    return encode_managed(managed)


# --------------------------------------------------------------------------------------------
