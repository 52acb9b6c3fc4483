"""RollingUpdate (upstream `pkg/controller/deployment/rolling.go`): grow the new ReplicaSet within
maxSurge, shrink old ones within maxUnavailable, one step per sync.

Each step returns whether it changed something; a sync that scaled stops there and reports
status, and the ReplicaSet's own status updates bring the next sync.
"""

from __future__ import annotations

from typing import Any

from . import util
from .context import DeploymentContext
from .progress import sync_rollout_status
from .sync import cleanup_deployment, get_all_replica_sets_and_sync_revision, scale_replica_set_and_record_event


Obj = dict[str, Any]


async def rollout_rolling(dc: DeploymentContext, d: Obj, rs_list: list[Obj]) -> None:
    new_rs, old_rss = await get_all_replica_sets_and_sync_revision(dc, d, rs_list, True)
    assert new_rs is not None
    all_rss = old_rss + [new_rs]
    if await reconcile_new_replica_set(dc, all_rss, new_rs, d):
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if await reconcile_old_replica_sets(dc, all_rss, util.filter_active(old_rss), new_rs, d):
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if util.deployment_complete(d, d.get("status") or {}):
        await cleanup_deployment(dc, old_rss, d)
    await sync_rollout_status(dc, all_rss, new_rs, d)


async def reconcile_new_replica_set(dc: DeploymentContext, all_rss: list[Obj], new_rs: Obj, d: Obj) -> bool:
    """Scale the new RS up to what NewRSNewReplicas allows (or down, if it is too big)."""
    if util.replicas(new_rs) == util.replicas(d):
        return False
    if util.replicas(new_rs) > util.replicas(d):
        scaled, _ = await scale_replica_set_and_record_event(dc, new_rs, util.replicas(d), d)
        return scaled
    count = util.new_rs_new_replicas(d, all_rss, new_rs)
    scaled, _ = await scale_replica_set_and_record_event(dc, new_rs, count, d)
    return scaled


def max_scaled_down(all_rss: list[Obj], new_rs: Obj, d: Obj) -> int:
    """How many old pods may go now: allPods - minAvailable - unavailable pods of the new RS.

    10 replicas, maxUnavailable 2, maxSurge 3. The new RS was scaled to 5 after the old one went
    to 8 (13 pods), and its pods crash-loop: 13 - 8 - 5 = 0, nothing more is scaled down even if a
    node failure makes an old pod unavailable. After `rollout undo` the crash-looping RS is the
    old one and the good RS the new one with 1 unavailable: 13 - 8 - 1 = 4 bad pods can go.
    Pushing yet another template instead ("roll over"): the newest RS starts at 0 (13 pods
    already), so 13 - 8 - 0 = 5 can go from the two old RSs, making room for the new one.
    """
    min_avail = util.replicas(d) - util.max_unavailable(d)
    new_unavailable = util.replicas(new_rs) - util.status_of(new_rs, "availableReplicas")
    return util.replica_count(all_rss) - min_avail - new_unavailable


async def reconcile_old_replica_sets(dc: DeploymentContext, all_rss: list[Obj], old_rss: list[Obj],
                                     new_rs: Obj, d: Obj) -> bool:
    if util.replica_count(old_rss) == 0:
        return False
    limit = max_scaled_down(all_rss, new_rs, d)
    if limit <= 0:
        return False
    old_rss, cleaned = await cleanup_unhealthy_replicas(dc, old_rss, d, limit)
    scaled = await scale_down_old_replica_sets(dc, old_rss + [new_rs], old_rss, d)
    return cleaned + scaled > 0


def unhealthy_cleanup_plan(old_rss: list[Obj], limit: int) -> list[tuple[Obj, int]]:
    """cleanupUnhealthyReplicas' arithmetic: (rs, new size) dropping unavailable pods first, oldest
    RS first, at most `limit` in total. An RS of 5 with 3 available may lose 2 without hurting."""
    plan, total = [], 0
    for rs in sorted(old_rss, key=util.creation_key):
        if total >= limit:
            break
        size = util.replicas(rs)
        available = util.status_of(rs, "availableReplicas")
        if size == 0 or size == available:
            continue
        n = min(limit - total, size - available)
        plan.append((rs, size - n))
        total += n
    return plan


async def cleanup_unhealthy_replicas(dc: DeploymentContext, old_rss: list[Obj], d: Obj,
                                     limit: int) -> tuple[list[Obj], int]:
    by_uid = {rs["metadata"]["uid"]: rs for rs in old_rss}
    total = 0
    for rs, size in unhealthy_cleanup_plan(old_rss, limit):
        _, updated = await scale_replica_set_and_record_event(dc, rs, size, d)
        by_uid[rs["metadata"]["uid"]] = updated
        total += util.replicas(rs) - size
    return sorted(by_uid.values(), key=util.creation_key), total


def scale_down_plan(all_rss: list[Obj], old_rss: list[Obj], d: Obj) -> list[tuple[Obj, int]]:
    """scaleDownOldReplicaSetsForRollingUpdate's arithmetic: take available pods above minAvailable
    from the oldest RSs first. 10 replicas, maxUnavailable 2, 11 available: 3 old pods may go."""
    min_avail = util.replicas(d) - util.max_unavailable(d)
    available = util.available_replica_count(all_rss)
    if available <= min_avail:
        return []
    budget = available - min_avail
    plan, total = [], 0
    for rs in sorted(old_rss, key=util.creation_key):
        if total >= budget:
            break
        size = util.replicas(rs)
        if size == 0:
            continue
        n = min(size, budget - total)
        plan.append((rs, size - n))
        total += n
    return plan


async def scale_down_old_replica_sets(dc: DeploymentContext, all_rss: list[Obj], old_rss: list[Obj],
                                      d: Obj) -> int:
    total = 0
    for rs, size in scale_down_plan(all_rss, old_rss, d):
        await scale_replica_set_and_record_event(dc, rs, size, d)
        total += util.replicas(rs) - size
    return total
