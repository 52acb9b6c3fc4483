"""Progress reporting (upstream `pkg/controller/deployment/progress.go`): write the status with the
Progressing condition estimated, and come back when the progress deadline is due."""

from __future__ import annotations

from typing import Any, Optional

from . import util
from .context import DeploymentContext
from .sync import update_deployment_status


Obj = dict[str, Any]


async def sync_rollout_status(dc: DeploymentContext, all_rss: list[Optional[Obj]], new_rs: Optional[Obj],
                              d: Obj) -> None:
    """syncRolloutStatus: NewReplicaSetAvailable when complete, ReplicaSetUpdated while it moves,
    ProgressDeadlineExceeded when it hasn't moved for progressDeadlineSeconds."""
    now = dc.clock()
    new_status = util.roll_status_conditions(d, all_rss, new_rs, now)
    if util.status_equal(d.get("status"), new_status):
        after = util.progress_recheck_after(d, new_status, now)
        if after is not None:
            dc.enqueue_after(d, after)
        return
    d["status"] = new_status
    await update_deployment_status(dc, d)
