"""Steps shared by every Deployment strategy (upstream `pkg/controller/deployment/sync.go`):
find or create the new ReplicaSet and keep revisions in step, scale (proportionally while a
rollout is in flight), clean up old ReplicaSets beyond revisionHistoryLimit, write status.

Each step takes the controller (`dc`: client, caches, recorder, clock) and a private copy of the
Deployment `d`, which it updates as upstream updates its deep copy.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Optional

from ...api import errors
from . import util
from .context import DEPLOYMENTS, REPLICASETS, DeploymentContext


log = logging.getLogger("kubeling.deployment")

Obj = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# writes
# ---------------------------------------------------------------------------------------------


async def update_deployment_status(dc: DeploymentContext, d: Obj) -> Obj:
    """UpdateStatus of our copy of the Deployment.

    Upstream's status strategy for Deployments lets a status write change annotations (that is
    how the revision annotation reaches the Deployment); our API server keeps metadata on status
    writes, so a changed revision annotation is written first with an update of the Deployment
    (the verb upstream's system:controller:deployment-controller role grants; it has no patch).
    """
    meta = d["metadata"]
    live = dc.d_informer.get(meta.get("namespace"), meta["name"])
    want_rev = util.annotations(d).get(util.REVISION)
    if want_rev is not None and (live is None or util.annotations(live).get(util.REVISION) != want_rev):
        patched = await dc.client.update(DEPLOYMENTS, d)  # status is ignored on the main resource
        meta["resourceVersion"] = patched["metadata"]["resourceVersion"]
    updated = await dc.client.update_status(DEPLOYMENTS, d)
    meta["resourceVersion"] = updated["metadata"]["resourceVersion"]
    return updated


async def scale_replica_set(dc: DeploymentContext, rs: Obj, new_scale: int, d: Obj,
                            operation: str) -> tuple[bool, Obj]:
    """scaleReplicaSet: write size and the desired/max-replicas annotations; event on a size change."""
    size_changed = util.replicas(rs) != new_scale
    desired, max_total = util.replicas(d), util.replicas(d) + util.max_surge(d)
    if not size_changed and not util.replicas_annotations_need_update(rs, desired, max_total):
        return False, rs
    old_scale = util.replicas(rs)
    rs_copy = copy.deepcopy(rs)
    rs_copy["spec"]["replicas"] = new_scale
    util.set_replicas_annotations(rs_copy, desired, max_total)
    updated = await dc.client.update(REPLICASETS, rs_copy)
    dc.rs_written(d, updated)
    if size_changed:
        dc.recorder.event(d, "Normal", "ScalingReplicaSet",
                          f"Scaled {operation} replica set {updated['metadata']['name']} from {old_scale} to {new_scale}")
    return size_changed, updated


async def scale_replica_set_and_record_event(dc: DeploymentContext, rs: Obj, new_scale: int,
                                             d: Obj) -> tuple[bool, Obj]:
    if util.replicas(rs) == new_scale:
        return False, rs
    operation = "up" if util.replicas(rs) < new_scale else "down"
    return await scale_replica_set(dc, rs, new_scale, d, operation)


# ---------------------------------------------------------------------------------------------
# the new ReplicaSet and revisions
# ---------------------------------------------------------------------------------------------


async def get_all_replica_sets_and_sync_revision(dc: DeploymentContext, d: Obj, rs_list: list[Obj],
                                                 create: bool) -> tuple[Optional[Obj], list[Obj]]:
    """(new RS or None, all old RSs), with the new RS's and the deployment's revision updated."""
    _, all_old = util.find_old_replica_sets(d, rs_list)
    new_rs = await get_new_replica_set(dc, d, rs_list, all_old, create)
    return new_rs, all_old


async def get_new_replica_set(dc: DeploymentContext, d: Obj, rs_list: list[Obj], old_rss: list[Obj],
                              create: bool) -> Optional[Obj]:
    """getNewReplicaSet: sync the existing new RS's annotations, or create it (revision = max old + 1)."""
    existing = util.find_new_replica_set(d, rs_list)
    new_revision = str(util.max_revision(old_rss) + 1)
    now = dc.clock()
    min_ready = (d.get("spec") or {}).get("minReadySeconds") or 0

    if existing is not None:
        rs_copy = copy.deepcopy(existing)
        annotations_updated = util.set_new_replica_set_annotations(d, rs_copy, new_revision, True)
        if annotations_updated or ((rs_copy.get("spec") or {}).get("minReadySeconds") or 0) != min_ready:
            if min_ready:
                rs_copy["spec"]["minReadySeconds"] = min_ready
            else:
                rs_copy["spec"].pop("minReadySeconds", None)
            updated = await dc.client.update(REPLICASETS, rs_copy)
            dc.rs_written(d, updated)
            return updated
        needs_update = util.set_deployment_revision(d, util.annotations(rs_copy).get(util.REVISION, new_revision))
        if util.has_progress_deadline(d) and util.get_condition(d.get("status"), "Progressing") is None:
            msg = f'Found new replica set "{rs_copy["metadata"]["name"]}"'
            util.set_condition(d.setdefault("status", {}),
                               util.new_condition("Progressing", "True", util.FOUND_NEW_RS, msg, now))
            needs_update = True
        if needs_update:
            await update_deployment_status(dc, d)
        return rs_copy

    if not create:
        return None

    spec = d["spec"]
    status = d.setdefault("status", {})
    pth = util.compute_hash(spec.get("template"), status.get("collisionCount"))
    new_rs = util.replica_set_for(d, "apps/v1", "Deployment", spec.get("template"), util.POD_TEMPLATE_HASH, pth)
    new_replicas = util.new_rs_new_replicas(d, old_rss + [new_rs], new_rs)
    new_rs["spec"]["replicas"] = new_replicas
    util.set_new_replica_set_annotations(d, new_rs, new_revision, False)

    already_exists = False
    try:
        created = await dc.client.create(REPLICASETS, d["metadata"].get("namespace"), new_rs)
        dc.rs_written(d, created)
    except errors.StatusError as e:
        if e.code == 409 and e.reason == "AlreadyExists":
            already_exists = True
            found = dc.rs_informer.get(d["metadata"].get("namespace"), new_rs["metadata"]["name"])
            if found is None:
                found = await dc.client.get(REPLICASETS, d["metadata"].get("namespace"), new_rs["metadata"]["name"])
            ref = next((r for r in found["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
            if (ref is not None and ref.get("uid") == d["metadata"]["uid"]
                    and util.equal_ignore_hash(spec.get("template"), (found.get("spec") or {}).get("template"))):
                created = found
            else:
                # A hash collision: bump collisionCount so the next sync computes another name.
                before = status.get("collisionCount")
                status["collisionCount"] = (before or 0) + 1
                try:
                    await update_deployment_status(dc, d)
                    log.info("hash collision for deployment %s: collisionCount %s -> %s",
                             d["metadata"]["name"], before, status["collisionCount"])
                except errors.StatusError:
                    pass
                raise
        elif "is being terminated" in e.message:
            raise
        else:
            msg = f'Failed to create new replica set "{new_rs["metadata"]["name"]}": {e.message}'
            if util.has_progress_deadline(d):
                util.set_condition(status, util.new_condition("Progressing", "False", util.FAILED_RS_CREATE, msg, now))
                try:
                    await update_deployment_status(dc, d)
                except errors.StatusError:
                    pass
            dc.recorder.event(d, "Warning", util.FAILED_RS_CREATE, msg)
            raise
    if not already_exists and new_replicas > 0:
        dc.recorder.event(d, "Normal", "ScalingReplicaSet",
                          f"Scaled up replica set {created['metadata']['name']} from 0 to {new_replicas}")
    needs_update = util.set_deployment_revision(d, new_revision)
    if not already_exists and util.has_progress_deadline(d):
        msg = f'Created new replica set "{created["metadata"]["name"]}"'
        util.set_condition(status, util.new_condition("Progressing", "True", util.NEW_REPLICA_SET, msg, now))
        needs_update = True
    if needs_update:
        await update_deployment_status(dc, d)
    return created


# ---------------------------------------------------------------------------------------------
# scaling, cleanup, status
# ---------------------------------------------------------------------------------------------


async def scale(dc: DeploymentContext, d: Obj, new_rs: Optional[Obj], old_rss: list[Obj]) -> None:
    """scale: a scaling event (or a paused deployment) without a template change.

    One active RS takes the full count. A saturated new RS means old ones go to 0. Otherwise the
    difference is spread proportionally: 10 → 15 replicas (maxSurge 3, so 18 allowed) during a
    rollout with old=8 and new=5 (13 pods): 5 to add, old gets +3 (8*18/13=11.08 → 11), new +2.
    """
    active_or_latest = util.find_active_or_latest(new_rs, old_rss)
    if active_or_latest is not None:
        if util.replicas(active_or_latest) == util.replicas(d):
            return
        await scale_replica_set_and_record_event(dc, active_or_latest, util.replicas(d), d)
        return
    if util.is_saturated(d, new_rs):
        for old in util.filter_active(old_rss):
            await scale_replica_set_and_record_event(dc, old, 0, d)
        return
    if not util.is_rolling_update(d):
        return
    all_rss = util.filter_active(old_rss + [new_rs])
    all_replicas = util.replica_count(all_rss)
    allowed = util.replicas(d) + util.max_surge(d) if util.replicas(d) > 0 else 0
    to_add = allowed - all_replicas
    operation = ""
    if to_add > 0:
        all_rss = util.sort_by_size_newer(all_rss)
        operation = "up"
    elif to_add < 0:
        all_rss = util.sort_by_size_older(all_rss)
        operation = "down"
    added = 0
    sizes: dict[str, int] = {}
    for rs in all_rss:
        if to_add != 0:
            proportion = util.replica_set_proportion(rs, d, to_add, added)
            sizes[rs["metadata"]["name"]] = util.replicas(rs) + proportion
            added += proportion
        else:
            sizes[rs["metadata"]["name"]] = util.replicas(rs)
    for i, rs in enumerate(all_rss):
        name = rs["metadata"]["name"]
        if i == 0 and to_add != 0:
            sizes[name] = max(sizes[name] + to_add - added, 0)  # leftovers go to the largest
        await scale_replica_set(dc, rs, sizes[name], d, operation)


async def cleanup_deployment(dc: DeploymentContext, old_rss: list[Obj], d: Obj, revision_key: str = util.REVISION) -> None:
    """cleanupDeployment: delete the oldest revisions beyond revisionHistoryLimit, only if empty
    (a Rollout's too: its ReplicaSets count revisions in `revision_key`)."""
    if not util.has_revision_history_limit(d):
        return
    alive = [rs for rs in old_rss if rs is not None and not rs["metadata"].get("deletionTimestamp")]
    diff = len(alive) - int(d["spec"]["revisionHistoryLimit"])
    if diff <= 0:
        return

    def by_revision(rs: Obj) -> tuple[Any, ...]:
        try:
            rev = util.revision(rs, revision_key)
        except ValueError:
            rev = 0
        return (rev, util.creation_key(rs))

    for rs in sorted(alive, key=by_revision)[:diff]:
        st = rs.get("status") or {}
        if (int(st.get("replicas") or 0) != 0 or util.replicas(rs) != 0
                or rs["metadata"].get("generation", 0) > int(st.get("observedGeneration") or 0)
                or rs["metadata"].get("deletionTimestamp")):
            continue
        log.info("cleaning up replica set %s of %s %s", rs["metadata"]["name"], d.get("kind", "Deployment"),
                 d["metadata"]["name"])
        try:
            await dc.client.delete(REPLICASETS, rs["metadata"].get("namespace"), rs["metadata"]["name"])
        except errors.StatusError as e:
            if e.code != 404:
                raise


async def sync_deployment_status(dc: DeploymentContext, all_rss: list[Optional[Obj]], new_rs: Optional[Obj],
                                 d: Obj) -> None:
    new_status = util.calculate_status(all_rss, new_rs, d, dc.clock())
    if util.status_equal(d.get("status"), new_status):
        return
    d["status"] = new_status
    await update_deployment_status(dc, d)


async def sync(dc: DeploymentContext, d: Obj, rs_list: list[Obj]) -> None:
    """sync: reconcile a scaling event or a paused deployment (no rollout)."""
    new_rs, old_rss = await get_all_replica_sets_and_sync_revision(dc, d, rs_list, False)
    await scale(dc, d, new_rs, old_rss)
    if d["spec"].get("paused"):
        await cleanup_deployment(dc, old_rss, d)
    await sync_deployment_status(dc, old_rss + [new_rs], new_rs, d)


async def sync_status_only(dc: DeploymentContext, d: Obj, rs_list: list[Obj]) -> None:
    new_rs, old_rss = await get_all_replica_sets_and_sync_revision(dc, d, rs_list, False)
    await sync_deployment_status(dc, old_rss + [new_rs], new_rs, d)


async def check_paused_conditions(dc: DeploymentContext, d: Obj) -> None:
    """checkPausedConditions: Progressing=Unknown DeploymentPaused / DeploymentResumed, so time
    spent paused never counts against progressDeadlineSeconds."""
    if not util.has_progress_deadline(d):
        return
    cond = util.get_condition(d.get("status"), "Progressing")
    if cond is not None and cond.get("reason") == util.TIMED_OUT:
        return
    paused_cond = cond is not None and cond.get("reason") == util.PAUSED
    now = dc.clock()
    status = d.setdefault("status", {})
    if d["spec"].get("paused") and not paused_cond:
        util.set_condition(status, util.new_condition("Progressing", "Unknown", util.PAUSED, "Deployment is paused", now))
    elif not d["spec"].get("paused") and paused_cond:
        util.set_condition(status, util.new_condition("Progressing", "Unknown", util.RESUMED, "Deployment is resumed", now))
    else:
        return
    await update_deployment_status(dc, d)


async def is_scaling_event(dc: DeploymentContext, d: Obj, rs_list: list[Obj]) -> bool:
    """isScalingEvent: an active RS records a different desired-replicas than the deployment wants."""
    new_rs, old_rss = await get_all_replica_sets_and_sync_revision(dc, d, rs_list, False)
    for rs in util.filter_active(old_rss + [new_rs]):
        desired = util.desired_replicas_annotation(rs)
        if desired is not None and desired != util.replicas(d):
            return True
    return False
