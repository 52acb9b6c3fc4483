"""ControllerRevisions of DaemonSets and StatefulSets (upstream `pkg/controller/history` and the
`getPatch` / `snapshot` / `cleanupHistory` helpers of both controllers).

A revision stores a strategic merge patch that puts the owner's pod template back:
`{"spec":{"template":{...,"$patch":"replace"}}}`, serialized with sorted keys as Go's
json.Marshal of a map does. `kubectl rollout history` lists revisions by their `revision` number
and `kubectl rollout undo` sends that patch to the owner as it is.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

import orjson

from ..api import errors
from ..api.resources import lookup
from ..client.controller import new_controller_ref
from ..client.rest import Client
from .deployment.util import compute_hash, safe_encode_string

Obj = dict[str, Any]

REVISIONS = lookup("apps", "v1", "controllerrevisions")
assert REVISIONS is not None

HASH_LABEL = "controller-revision-hash"  # apps.ControllerRevisionHashLabelKey (= DefaultDaemonSetUniqueLabelKey)
CHANGE_CAUSE = "kubernetes.io/change-cause"


def template_patch(owner: Obj) -> Obj:
    """getPatch: the owner's pod template, to be restored with `$patch: replace`. The template's
    metadata carries `creationTimestamp: null` as Go's typed encoding does, so the bytes equal
    what kubectl computes from the owner when it checks whether a revision is the current one."""
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    meta = template.setdefault("metadata", {})
    meta.setdefault("creationTimestamp", None)
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def patch_bytes(owner: Obj) -> bytes:
    return orjson.dumps(template_patch(owner), option=orjson.OPT_SORT_KEYS)


def revision_name(prefix: str, hash_: str) -> str:
    """ControllerRevisionName: `<owner>-<hash>`, the owner's name cut so the result fits 253."""
    if len(prefix) > 223:
        prefix = prefix[:223]
    return f"{prefix}-{hash_}"


def fnv32(data: bytes, h: int = 0x811C9DC5) -> int:
    """hash/fnv.New32 (FNV-1: multiply, then xor)."""
    for b in data:
        h = ((h * 0x01000193) & 0xFFFFFFFF) ^ b
    return h


def hash_revision_data(data: bytes, collision_count: int | None) -> str:
    """HashControllerRevision: FNV-1 32 of the revision's data, then collisionCount in decimal."""
    h = fnv32(data)
    if collision_count is not None:
        h = fnv32(str(collision_count).encode(), h)
    return safe_encode_string(str(h))


def daemon_set_hash(ds: Obj) -> str:
    """The DaemonSet's `controller-revision-hash`: ComputeHash of its pod template."""
    return compute_hash((ds.get("spec") or {}).get("template"), (ds.get("status") or {}).get("collisionCount"))


def new_revision(owner: Obj, kind: str, name: str, labels: dict[str, str], revision: int) -> Obj:
    """A ControllerRevision owned by `owner` holding its template patch; annotations (the
    change-cause kubectl prints) are copied from the owner."""
    meta = owner["metadata"]
    out: Obj = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": name, "namespace": meta.get("namespace"), "labels": labels,
                             "ownerReferences": [new_controller_ref(owner, "apps/v1", kind)]},
                "data": orjson.loads(patch_bytes(owner)), "revision": revision}
    if meta.get("annotations"):
        out["metadata"]["annotations"] = dict(meta["annotations"])
    return out


def data_equal(rev: Obj, owner: Obj) -> bool:
    """history.Match: the revision restores exactly the owner's current template."""
    return orjson.dumps(rev.get("data"), option=orjson.OPT_SORT_KEYS) == patch_bytes(owner)


def max_revision(revs: Iterable[Obj]) -> int:
    return max((int(r.get("revision") or 0) for r in revs), default=0)


def sort_revisions(revs: Iterable[Obj]) -> list[Obj]:
    """history.SortControllerRevisions: by revision, then creation time, then name."""
    return sorted(revs, key=lambda r: (int(r.get("revision") or 0), r["metadata"].get("creationTimestamp") or "",
                                       r["metadata"]["name"]))


async def create_revision(client: Client, rev: Obj) -> Obj | None:
    """Create `rev`; on a name collision return the existing object if it holds the same data
    (None when it is someone else's: the caller bumps collisionCount)."""
    ns = rev["metadata"].get("namespace")
    try:
        return await client.create(REVISIONS, ns, rev)
    except errors.StatusError as e:
        if e.code != 409:
            raise
    existing = await client.get(REVISIONS, ns, rev["metadata"]["name"])
    same_owner = any(r.get("uid") == rev["metadata"]["ownerReferences"][0]["uid"]
                     for r in existing["metadata"].get("ownerReferences") or [])
    if same_owner and orjson.dumps(existing.get("data"), option=orjson.OPT_SORT_KEYS) == \
            orjson.dumps(rev.get("data"), option=orjson.OPT_SORT_KEYS):
        return existing
    return None


async def set_revision_number(client: Client, rev: Obj, revision: int) -> Obj:
    """Renumber a revision that became current again (an undo): history shows it as the newest."""
    if int(rev.get("revision") or 0) >= revision:
        return rev
    upd = copy.deepcopy(rev)
    upd["revision"] = revision
    return await client.update(REVISIONS, upd)


async def truncate(client: Client, revs: list[Obj], keep: set[str], limit: int) -> None:
    """cleanupHistory: delete the oldest revisions beyond `limit`, never one named in `keep`
    (the current and update revisions, or those live pods still run)."""
    candidates = [r for r in sort_revisions(revs) if r["metadata"]["name"] not in keep]
    for r in candidates[:max(len(candidates) - limit, 0)]:
        try:
            await client.delete(REVISIONS, r["metadata"].get("namespace"), r["metadata"]["name"])
        except errors.StatusError as e:
            if e.code != 404:
                raise
