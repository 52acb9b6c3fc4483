"""Recreate (upstream `pkg/controller/deployment/recreate.go`): scale every old ReplicaSet to 0,
wait until no old pod is running, then create/scale the new ReplicaSet to full size."""

from __future__ import annotations

from typing import Any, Optional

from . import util
from .context import DeploymentContext
from .progress import sync_rollout_status
from .sync import cleanup_deployment, get_all_replica_sets_and_sync_revision, scale_replica_set_and_record_event


Obj = dict[str, Any]


def old_pods_running(new_rs: Optional[Obj], old_rss: list[Obj], pod_map: dict[str, list[Obj]]) -> bool:
    """oldPodsRunning: old RSs still report pods, or a pod of an old RS isn't terminal yet."""
    if util.actual_replica_count(old_rss) > 0:
        return True
    new_uid = new_rs["metadata"]["uid"] if new_rs is not None else None
    for rs_uid, pods in pod_map.items():
        if rs_uid == new_uid:
            continue
        for pod in pods:
            if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                return True
    return False


async def rollout_recreate(dc: DeploymentContext, d: Obj, rs_list: list[Obj],
                           pod_map: dict[str, list[Obj]]) -> None:
    # Don't create the new RS yet: nothing may scale up before everything old is gone.
    new_rs, old_rss = await get_all_replica_sets_and_sync_revision(dc, d, rs_list, False)
    all_rss: list[Optional[Obj]] = [*old_rss, new_rs]
    scaled = False
    for rs in util.filter_active(old_rss):
        changed, _ = await scale_replica_set_and_record_event(dc, rs, 0, d)
        scaled = scaled or changed
    if scaled:
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if old_pods_running(new_rs, old_rss, pod_map):
        await sync_rollout_status(dc, all_rss, new_rs, d)
        return
    if new_rs is None:
        new_rs, old_rss = await get_all_replica_sets_and_sync_revision(dc, d, rs_list, True)
        all_rss = [*old_rss, new_rs]
    assert new_rs is not None
    await scale_replica_set_and_record_event(dc, new_rs, util.replicas(d), d)
    if util.deployment_complete(d, d.get("status") or {}):
        await cleanup_deployment(dc, old_rss, d)
    await sync_rollout_status(dc, all_rss, new_rs, d)
