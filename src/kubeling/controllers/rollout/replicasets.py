"""The ReplicaSets of a Rollout: find or create the one of the current template (with Argo's
`rollouts-pod-template-hash` label and `rollout.argoproj.io/revision` annotation), scale them,
keep an old one up until its scale-down deadline, and prune history beyond
revisionHistoryLimit. The ReplicaSet object itself and the hash come from the Deployment
controller's helpers: a Rollout's ReplicaSets are built exactly like a Deployment's."""

from __future__ import annotations

import copy
import logging
from typing import Any, Optional

from ...api import errors
from ...api.rollout import GROUP, KIND, VERSION
from ..deployment import util
from ..deployment.sync import cleanup_deployment
from ...api.timestamps import rfc3339
from . import steps
from .context import REPLICASETS, Sync

log = logging.getLogger("kubeling.rollout")

Obj = dict[str, Any]


def find(rs_list: list[Obj], pod_hash: str | None) -> Optional[Obj]:
    """The ReplicaSet whose pods carry `pod_hash` (the oldest, should there be two)."""
    if not pod_hash:
        return None
    for rs in sorted(rs_list, key=util.creation_key):
        if (rs["metadata"].get("labels") or {}).get(steps.POD_TEMPLATE_HASH) == pod_hash:
            return rs
    return None


def available(rs: Optional[Obj]) -> int:
    return util.status_of(rs, "availableReplicas")


async def ensure_new(s: Sync) -> Optional[Obj]:
    """The ReplicaSet of spec.template, created (0 replicas) if missing; its revision is raised
    above every other one when it is not the newest (an undo brings an old template back).
    None when it cannot be created (`s.problem` says why)."""
    others = [rs for rs in s.rs_list if s.new_rs is None or rs["metadata"]["uid"] != s.new_rs["metadata"]["uid"]]
    top = util.max_revision(others, steps.REVISION)
    if s.new_rs is not None:
        if s.revision(s.new_rs) > top:
            return s.new_rs
        rs = copy.deepcopy(s.new_rs)
        rs["metadata"].setdefault("annotations", {})[steps.REVISION] = str(top + 1)
        s.new_rs = await s.rc.client.update(REPLICASETS, rs)
        s.rc.rs_written(s.ro, s.new_rs)
        return s.new_rs
    ro = s.ro
    rs = util.replica_set_for(ro, f"{GROUP}/{VERSION}", KIND, ro["spec"].get("template"), steps.POD_TEMPLATE_HASH,
                              s.hash)
    rs["metadata"]["annotations"] = {steps.REVISION: str(top + 1)}
    ns = ro["metadata"].get("namespace")
    try:
        created = await s.rc.client.create(REPLICASETS, ns, rs)
    except errors.StatusError as e:
        if e.code == 409 and e.reason == "AlreadyExists":
            found = s.rc.rs_informer.get(ns, rs["metadata"]["name"]) or await s.rc.client.get(
                REPLICASETS, ns, rs["metadata"]["name"])
            if util.is_controlled_by(found, ro) and util.equal_ignore_hash(
                    (found.get("spec") or {}).get("template"), rs["spec"]["template"]):
                s.new_rs = found
                return found
            # a hash collision: the next sync computes another name
            s.status["collisionCount"] = int(s.status.get("collisionCount") or 0) + 1
            return None
        if e.code == 422 or e.code == 403:  # the template is invalid, or quota/policy forbids it
            s.problem = f'ReplicaSetCreateError: Failed to create new replica set "{rs["metadata"]["name"]}": ' \
                        f"{e.message}"
            s.event(util.FAILED_RS_CREATE, s.problem.split(": ", 1)[1], warning=True)
            return None
        raise
    s.rc.rs_written(ro, created)
    s.event(util.NEW_REPLICA_SET, f"Created ReplicaSet {created['metadata']['name']} (revision {top + 1})")
    s.new_rs = created
    s.rs_list.append(created)
    return created


async def scale(s: Sync, rs: Optional[Obj], count: int) -> bool:
    """Scale `rs` to `count` (dropping a scale-down deadline: it is wanted again, or gone);
    whether it changed. Argo's ScalingReplicaSet event."""
    if rs is None:
        return False
    cur = util.replicas(rs)
    deadline = steps.SCALE_DOWN_DEADLINE in (rs["metadata"].get("annotations") or {})
    if cur == count and not (deadline and count > 0):
        return False
    new = copy.deepcopy(rs)
    new["spec"]["replicas"] = count
    (new["metadata"].get("annotations") or {}).pop(steps.SCALE_DOWN_DEADLINE, None)
    updated = await s.rc.client.update(REPLICASETS, new)
    s.rc.rs_written(s.ro, updated)
    _replace(s, rs, updated)
    if cur != count:
        s.event("ScalingReplicaSet", f"Scaled {'up' if count > cur else 'down'} ReplicaSet {rs['metadata']['name']} "
                                     f"(revision {s.revision(rs)}) from {cur} to {count}")
    return cur != count


def _replace(s: Sync, old: Obj, new: Obj) -> None:
    """Keep the sync's view of its ReplicaSets in step with what it wrote."""
    uid = old["metadata"]["uid"]
    s.rs_list = [new if rs["metadata"]["uid"] == uid else rs for rs in s.rs_list]
    if s.new_rs is not None and s.new_rs["metadata"]["uid"] == uid:
        s.new_rs = new
    if s.stable_rs is not None and s.stable_rs["metadata"]["uid"] == uid:
        s.stable_rs = new


async def scale_down_later(s: Sync, rs: Optional[Obj], delay: float) -> None:
    """Keep `rs` up for `delay` more seconds (after a switch, so the Services' endpoints and
    kube-proxy move on before its pods go); a deadline already set stands."""
    if rs is None or util.replicas(rs) == 0 or steps.scale_down_deadline(rs) is not None:
        return
    if delay <= 0:
        await scale(s, rs, 0)
        return
    new = copy.deepcopy(rs)
    new["metadata"].setdefault("annotations", {})[steps.SCALE_DOWN_DEADLINE] = rfc3339(s.now + delay)
    updated = await s.rc.client.update(REPLICASETS, new)
    s.rc.rs_written(s.ro, updated)
    _replace(s, rs, updated)
    s.after(delay)


async def scale_down_others(s: Sync, *keep: Optional[Obj]) -> None:
    """Scale every ReplicaSet but `keep` to 0, each when its scale-down deadline (if any) is past;
    then delete the oldest empty ones beyond revisionHistoryLimit."""
    kept = {rs["metadata"]["uid"] for rs in keep if rs is not None}
    for rs in list(s.rs_list):
        if rs["metadata"]["uid"] in kept or util.replicas(rs) == 0:
            continue
        deadline = steps.scale_down_deadline(rs)
        if deadline is not None and deadline > s.now:
            s.after(deadline - s.now)
            continue
        await scale(s, rs, 0)
    olds = [rs for rs in s.rs_list if rs["metadata"]["uid"] not in kept]
    limit = (s.ro.get("spec") or {}).get("revisionHistoryLimit")
    if limit is not None:
        await cleanup_deployment(s.rc, olds, {**s.ro, "kind": KIND}, steps.REVISION)  # type: ignore[arg-type]
