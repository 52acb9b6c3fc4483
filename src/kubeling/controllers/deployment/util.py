"""Pure Deployment arithmetic and bookkeeping: a port of upstream
`pkg/controller/deployment/util/deployment_util.go` on plain dict objects.

Nothing here does I/O. Functions that "set" something mutate the dict they are given and return
whether they changed it, like upstream's helpers, so callers know whether a write is needed.
"""

from __future__ import annotations

import copy
import math
import struct
from typing import Any, Iterable, Optional

import orjson

from ...api.timestamps import parse_rfc3339, rfc3339
from ...client.controller import new_controller_ref

Obj = dict[str, Any]
RS = Optional[Obj]

MAX_INT32 = 2147483647

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEPRECATED_ROLLBACK_TO = "deprecated.deployment.rollback.to"
POD_TEMPLATE_HASH = "pod-template-hash"
# upstream maxRevHistoryLengthInChars: the revision-history annotation never grows past this
MAX_REV_HISTORY_CHARS = 2000

# Progressing reasons
REPLICA_SET_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_REPLICA_SET = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
# Available reasons
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

_SKIP_COPY = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                        DEPRECATED_ROLLBACK_TO})

# ---------------------------------------------------------------------------------------------
# accessors
# ---------------------------------------------------------------------------------------------


def replicas(obj: RS) -> int:
    """`*spec.replicas` (defaulted to 1 by the API server, so absent only in hand-made tests)."""
    if obj is None:
        return 0
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def status_of(obj: RS, field: str) -> int:
    if obj is None:
        return 0
    return int((obj.get("status") or {}).get(field) or 0)


def annotations(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("annotations") or {}


def strategy_type(d: Obj) -> str:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate")


def is_rolling_update(d: Obj) -> bool:
    return strategy_type(d) == "RollingUpdate"


# ---------------------------------------------------------------------------------------------
# maxSurge / maxUnavailable
# ---------------------------------------------------------------------------------------------


def scaled_value(v: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, "N%" of total rounded up or down.

    25% of 10 is 2.5: rounded up (maxSurge) that is 3, rounded down (maxUnavailable) 2.
    """
    if v is None:
        return 0
    if isinstance(v, bool):
        raise ValueError(f"invalid value for IntOrString: {v!r}")
    if isinstance(v, int):
        return v
    s = str(v)
    if not s.endswith("%"):
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        pct = int(s[:-1])
    except ValueError:
        raise ValueError(f"invalid value for IntOrString: invalid value {s!r}") from None
    exact = pct * total / 100
    return int(math.ceil(exact)) if round_up else int(math.floor(exact))


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """ResolveFenceposts: surge rounds up, unavailable rounds down; if both come out 0, unavailable
    becomes 1 (the rollout must be able to move, even when surge is blocked by quota).

    2 desired, unavailable 1%, surge 0%: 0 and 0.02→0 → (0, 1): old -1, new +1, old -1, new +1.
    2 desired, unavailable 25%, surge 1%: 0.5→0 and 0.02→1 → (1, 0): new +1, old -1, ...
    """
    surge = scaled_value(0 if max_surge is None else max_surge, desired, True)
    unavailable = scaled_value(0 if max_unavailable is None else max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling_params(d: Obj) -> tuple[Any, Any]:
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    return ru.get("maxSurge"), ru.get("maxUnavailable")


def max_surge(d: Obj) -> int:
    """MaxSurge: 0 for Recreate."""
    if not is_rolling_update(d):
        return 0
    return resolve_fenceposts(*_rolling_params(d), replicas(d))[0]


def max_unavailable(d: Obj) -> int:
    """MaxUnavailable: 0 for Recreate or 0 replicas, never more than the replicas."""
    n = replicas(d)
    if not is_rolling_update(d) or n == 0:
        return 0
    u = resolve_fenceposts(*_rolling_params(d), n)[1]
    return min(u, n)


def min_available(d: Obj) -> int:
    if not is_rolling_update(d):
        return 0
    return replicas(d) - max_unavailable(d)


# ---------------------------------------------------------------------------------------------
# replica counts
# ---------------------------------------------------------------------------------------------


def replica_count(rss: Iterable[RS]) -> int:
    """GetReplicaCountForReplicaSets: sum of spec.replicas."""
    return sum(replicas(rs) for rs in rss if rs is not None)


def actual_replica_count(rss: Iterable[RS]) -> int:
    return sum(status_of(rs, "replicas") for rs in rss if rs is not None)


def ready_replica_count(rss: Iterable[RS]) -> int:
    return sum(status_of(rs, "readyReplicas") for rs in rss if rs is not None)


def available_replica_count(rss: Iterable[RS]) -> int:
    return sum(status_of(rs, "availableReplicas") for rs in rss if rs is not None)


def new_rs_new_replicas(d: Obj, all_rss: Iterable[RS], new_rs: Obj) -> int:
    """NewRSNewReplicas: how big the new ReplicaSet may be now.

    Rolling, 10 replicas, maxSurge 3 (so at most 13 pods): with the old RS at 10 and the new at 0,
    the new RS may grow by min(13 - 10, 10 - 0) = 3. Once the old one is scaled down to 8 (the
    total is 11) the new one may grow by min(13 - 11, 10 - 3) = 2, to 5. Recreate: all at once.
    """
    want = replicas(d)
    if is_rolling_update(d):
        surge = scaled_value(_rolling_params(d)[0], want, True)
        current = replica_count(all_rss)
        max_total = want + surge
        if current >= max_total:
            return replicas(new_rs)
        scale_up = min(max_total - current, want - replicas(new_rs))
        return replicas(new_rs) + scale_up
    if strategy_type(d) == "Recreate":
        return want
    raise ValueError(f"deployment type {strategy_type(d)} isn't supported")


def is_saturated(d: Obj, rs: RS) -> bool:
    """IsSaturated: the new RS owns all desired replicas, believes so (annotation) and all are available."""
    if rs is None:
        return False
    try:
        desired = int(annotations(rs).get(DESIRED_REPLICAS, ""))
    except ValueError:
        return False
    n = replicas(d)
    return replicas(rs) == n and desired == n and status_of(rs, "availableReplicas") == n


def _int_annotation(rs: Obj, key: str) -> int | None:
    try:
        return int(annotations(rs)[key])
    except (KeyError, ValueError):
        return None


def desired_replicas_annotation(rs: Obj) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS)


def replica_set_fraction(rs: Obj, d: Obj) -> int:
    """getReplicaSetFraction: how much this RS grows (or shrinks, negative) in a proportional scale.

    Deployment scaled from 10 to 15 (maxSurge 3) while an RS of 4 replicas was created when the
    deployment allowed 13 pods (max-replicas annotation): 4 * 18 / 13 = 5.54 → 6, so +2.
    """
    if replicas(d) == 0:
        return -replicas(rs)
    deployment_replicas = replicas(d) + max_surge(d)
    annotated = _int_annotation(rs, MAX_REPLICAS)
    if annotated is None:
        annotated = status_of(d, "replicas")
    if not annotated:
        return 0
    new_size = replicas(rs) * deployment_replicas / annotated
    return _round_half_away(new_size) - replicas(rs)


def _round_half_away(x: float) -> int:
    """integer.RoundToInt32: math.Round, halves away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def replica_set_proportion(rs: RS, d: Obj, to_add: int, added: int) -> int:
    """GetReplicaSetProportion: the share of `to_add` this RS takes, bounded by what is left."""
    if rs is None or replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, d)
    allowed = to_add - added
    if to_add > 0:
        return min(fraction, allowed)
    return max(fraction, allowed)


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if ann.get(key) != value:
            ann[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = annotations(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(max_replicas)


# ---------------------------------------------------------------------------------------------
# replica set sets
# ---------------------------------------------------------------------------------------------


def creation_key(rs: Obj) -> tuple[float, str]:
    """ReplicaSetsByCreationTimestamp: older first, then by name."""
    return (parse_rfc3339(rs["metadata"].get("creationTimestamp")) or 0.0, rs["metadata"]["name"])


def filter_active(rss: Iterable[RS]) -> list[Obj]:
    """FilterActiveReplicaSets: non-nil with spec.replicas > 0."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def sort_by_size_newer(rss: list[Obj]) -> list[Obj]:
    """ReplicaSetsBySizeNewer: bigger first; equal sizes newer first (scale-up order)."""
    return sorted(sorted(rss, key=creation_key, reverse=True), key=lambda rs: -replicas(rs))


def sort_by_size_older(rss: list[Obj]) -> list[Obj]:
    """ReplicaSetsBySizeOlder: bigger first; equal sizes older first (scale-down order)."""
    return sorted(rss, key=lambda rs: (-replicas(rs), creation_key(rs)))


def pod_template_without_hash(template: Obj | None) -> Obj:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(POD_TEMPLATE_HASH, None)
    return t


def _semantic(v: Any) -> Any:
    """Semantic.DeepEqual treats nil and empty maps/lists alike: drop empties before comparing."""
    if isinstance(v, dict):
        out = {k: _semantic(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in (None, {}, [])}
    if isinstance(v, list):
        return [_semantic(x) for x in v]
    return v


def equal_ignore_hash(t1: Obj | None, t2: Obj | None) -> bool:
    """EqualIgnoreHash: pod templates equal apart from the pod-template-hash label."""
    return _semantic(pod_template_without_hash(t1)) == _semantic(pod_template_without_hash(t2))


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    uid = owner["metadata"].get("uid")
    return any(r.get("controller") and r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])


def find_new_replica_set(d: Obj, rss: list[Obj]) -> Obj | None:
    """FindNewReplicaSet: the oldest RS whose template equals the deployment's (ignoring the hash)."""
    tpl = (d.get("spec") or {}).get("template")
    for rs in sorted(rss, key=creation_key):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), tpl):
            return rs
    return None


def find_old_replica_sets(d: Obj, rss: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """FindOldReplicaSets: (old RSs with replicas, all old RSs)."""
    new = find_new_replica_set(d, rss)
    new_uid = new["metadata"]["uid"] if new is not None else None
    all_old = [rs for rs in rss if new is None or rs["metadata"]["uid"] != new_uid]
    return [rs for rs in all_old if replicas(rs) != 0], all_old


def find_active_or_latest(new_rs: RS, old_rss: list[Obj]) -> Obj | None:
    """FindActiveOrLatest: the only active RS, or the newest if none is active; None if several are."""
    if new_rs is None and not old_rss:
        return None
    olds = sorted(old_rss, key=creation_key, reverse=True)
    active = filter_active(olds + [new_rs])
    if not active:
        return new_rs if new_rs is not None else olds[0]
    if len(active) == 1:
        return active[0]
    return None


# ---------------------------------------------------------------------------------------------
# revisions and annotations
# ---------------------------------------------------------------------------------------------


def revision(obj: Obj, key: str = REVISION) -> int:
    """Revision: the revision annotation (`key`: a Rollout's ReplicaSets use Argo's) as an int,
    0 when absent. Raises ValueError if garbled."""
    v = annotations(obj).get(key)
    return 0 if v is None else int(v)


def max_revision(rss: Iterable[RS], key: str = REVISION) -> int:
    best = 0
    for rs in rss:
        if rs is None:
            continue
        try:
            best = max(best, revision(rs, key))
        except ValueError:
            continue
    return best


def last_revision(rss: Iterable[RS]) -> int:
    """LastRevision: the second highest revision."""
    top, second = 0, 0
    for rs in rss:
        if rs is None:
            continue
        try:
            v = revision(rs)
        except ValueError:
            continue
        if v >= top:
            top, second = v, top
        elif v > second:
            second = v
    return second


def set_deployment_revision(d: Obj, rev: str) -> bool:
    ann = d["metadata"].setdefault("annotations", {})
    if ann.get(REVISION) != rev:
        ann[REVISION] = rev
        return True
    return False


def copy_deployment_annotations(d: Obj, rs: Obj) -> bool:
    """copyDeploymentAnnotationsToReplicaSet: all but the skipped ones (change-cause is copied)."""
    ann = rs["metadata"].setdefault("annotations", {})
    changed = False
    for k, v in annotations(d).items():
        if k in _SKIP_COPY or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    return changed


def set_new_replica_set_annotations(d: Obj, rs: Obj, new_revision: str, exists: bool,
                                    history_limit_chars: int = MAX_REV_HISTORY_CHARS) -> bool:
    """SetNewReplicaSetAnnotations: copy the deployment's annotations, raise the revision, and keep
    the revisions a rolled-back-to RS served before in `revision-history` ("1,3" after two undos).
    """
    changed = copy_deployment_annotations(d, rs)
    ann = rs["metadata"].setdefault("annotations", {})
    had = REVISION in ann
    old_revision = ann.get(REVISION, "")
    try:
        old_int = int(old_revision) if old_revision else 0
    except ValueError:
        return False
    try:
        new_int = int(new_revision)
    except ValueError:
        return False
    if old_int < new_int:
        ann[REVISION] = new_revision
        changed = True
    if had and old_int < new_int:
        history = ann.get(REVISION_HISTORY, "")
        olds = history.split(",")
        if not olds[0]:
            ann[REVISION_HISTORY] = old_revision
        else:
            total = len(history) + len(old_revision) + 1
            start = 0
            while total > history_limit_chars and start < len(olds):
                total -= len(olds[start]) + 1
                start += 1
            if total <= history_limit_chars:
                ann[REVISION_HISTORY] = ",".join(olds[start:] + [old_revision])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


# ---------------------------------------------------------------------------------------------
# pod-template-hash
# ---------------------------------------------------------------------------------------------

_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode_string(s: str) -> str:
    """rand.SafeEncodeString: map each byte onto an alphabet without vowels and look-alikes."""
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in s.encode())


def fnv32a(data: bytes, h: int = 0x811C9DC5) -> int:
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def compute_hash(template: Obj | None, collision_count: int | None) -> str:
    """controller.ComputeHash: FNV-32a of the pod template (+ collisionCount as 8 little-endian
    bytes), its decimal value rendered through SafeEncodeString.

    Deviation: upstream hashes Go's spew dump of the typed PodTemplateSpec struct; we hash the
    canonical JSON (sorted keys, empties dropped) of the template instead. The result is
    deterministic, stable across restarts, 1-10 characters of the same alphabet, but not
    byte-identical to the hash a real kube-controller-manager would compute.
    """
    h = fnv32a(orjson.dumps(_semantic(template or {}), option=orjson.OPT_SORT_KEYS))
    if collision_count is not None:
        h = fnv32a(struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\0\0\0\0", h)
    return safe_encode_string(str(h))


def replica_set_for(owner: Obj, api_version: str, kind: str, template: Obj | None, hash_label: str, pth: str) -> Obj:
    """The ReplicaSet a workload (a Deployment, a Rollout) owns for `template`: named
    `<owner>-<hash>`, its pods labelled `hash_label: <hash>` and selected by it too, 0 replicas."""
    spec = owner.get("spec") or {}
    template = copy.deepcopy(template or {})
    tmeta = template.setdefault("metadata", {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), hash_label: pth}
    rs: Obj = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": f'{owner["metadata"]["name"]}-{pth}',
            "namespace": owner["metadata"].get("namespace"),
            "ownerReferences": [new_controller_ref(owner, api_version, kind)],
            "labels": dict(tmeta["labels"]),
        },
        "spec": {"replicas": 0, "selector": clone_selector_and_add_label(spec.get("selector"), hash_label, pth),
                 "template": template},
    }
    if spec.get("minReadySeconds"):
        rs["spec"]["minReadySeconds"] = spec["minReadySeconds"]
    return rs


def clone_selector_and_add_label(selector: Obj | None, key: str, value: str) -> Obj:
    """labelsutil.CloneSelectorAndAddLabel."""
    out = copy.deepcopy(selector or {})
    out.setdefault("matchLabels", {})[key] = value
    return out


# ---------------------------------------------------------------------------------------------
# conditions
# ---------------------------------------------------------------------------------------------


def new_condition(ctype: str, status: str, reason: str, message: str, now: float) -> Obj:
    t = rfc3339(now)
    return {"type": ctype, "status": status, "lastUpdateTime": t, "lastTransitionTime": t,
            "reason": reason, "message": message}


def get_condition(status: Obj | None, ctype: str) -> Obj | None:
    for c in (status or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def set_condition(status: Obj, cond: Obj) -> None:
    """SetDeploymentCondition: no-op when status and reason are unchanged; keeps the transition
    time when only the reason changes; the condition moves to the end of the list."""
    cur = get_condition(status, cond["type"])
    if cur is not None and cur.get("status") == cond["status"] and cur.get("reason") == cond["reason"]:
        return
    cond = dict(cond)
    if cur is not None and cur.get("status") == cond["status"]:
        cond["lastTransitionTime"] = cur.get("lastTransitionTime")
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: Obj, ctype: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


def rs_condition_to_deployment(cond: Obj) -> Obj:
    return {"type": cond.get("type"), "status": cond.get("status"),
            "lastUpdateTime": cond.get("lastTransitionTime"), "lastTransitionTime": cond.get("lastTransitionTime"),
            "reason": cond.get("reason"), "message": cond.get("message")}


# ---------------------------------------------------------------------------------------------
# status and progress
# ---------------------------------------------------------------------------------------------


def _omit_zero(status: Obj) -> Obj:
    """DeploymentStatus fields are all omitempty: a zero count is absent on the wire."""
    return {k: v for k, v in status.items() if v not in (0, None, [])}


def calculate_status(all_rss: list[RS], new_rs: RS, d: Obj, now: float) -> Obj:
    """calculateStatus: counts from the ReplicaSets, and Available from minAvailable.

    3 replicas at 25%/25%: maxUnavailable floor(0.75) = 0 (maxSurge ceil(0.75) = 1, so the
    fencepost rule doesn't apply): Available=True needs all 3 pods available.
    """
    available = available_replica_count(all_rss)
    total = replica_count(all_rss)
    st = d.get("status") or {}
    status: Obj = {
        "observedGeneration": d["metadata"].get("generation", 0),
        "replicas": actual_replica_count(all_rss),
        "updatedReplicas": actual_replica_count([new_rs]),
        "readyReplicas": ready_replica_count(all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0),
        "collisionCount": st.get("collisionCount"),
    }
    status = _omit_zero(status)
    if st.get("collisionCount") is not None:
        status["collisionCount"] = st["collisionCount"]  # a pointer: 0 is kept
    conds = copy.deepcopy(st.get("conditions") or [])
    if conds:
        status["conditions"] = conds
    if available >= replicas(d) - max_unavailable(d):
        set_condition(status, new_condition("Available", "True", MIN_AVAILABLE,
                                            "Deployment has minimum availability.", now))
    else:
        set_condition(status, new_condition("Available", "False", MIN_UNAVAILABLE,
                                            "Deployment does not have minimum availability.", now))
    return status


def deployment_complete(d: Obj, status: Obj) -> bool:
    """DeploymentComplete: every desired replica updated and available, no old pods, spec observed."""
    n = replicas(d)
    return (int(status.get("updatedReplicas") or 0) == n and int(status.get("replicas") or 0) == n
            and int(status.get("availableReplicas") or 0) == n
            and int(status.get("observedGeneration") or 0) >= d["metadata"].get("generation", 0))


def deployment_progressing(d: Obj, new_status: Obj) -> bool:
    """DeploymentProgressing: more updated, fewer old, more ready or more available pods than before."""
    old = d.get("status") or {}

    def g(s: Obj, k: str) -> int:
        return int(s.get(k) or 0)

    old_old = g(old, "replicas") - g(old, "updatedReplicas")
    new_old = g(new_status, "replicas") - g(new_status, "updatedReplicas")
    return (g(new_status, "updatedReplicas") > g(old, "updatedReplicas") or new_old < old_old
            or g(new_status, "readyReplicas") > g(old, "readyReplicas")
            or g(new_status, "availableReplicas") > g(old, "availableReplicas"))


def has_progress_deadline(d: Obj) -> bool:
    v = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return v is not None and v != MAX_INT32


def has_revision_history_limit(d: Obj) -> bool:
    v = (d.get("spec") or {}).get("revisionHistoryLimit")
    return v is not None and v != MAX_INT32


def deployment_timed_out(d: Obj, new_status: Obj, now: float) -> bool:
    """DeploymentTimedOut: the Progressing condition was last updated more than
    progressDeadlineSeconds ago (600 s by default) and the rollout hasn't completed."""
    if not has_progress_deadline(d):
        return False
    cond = get_condition(new_status, "Progressing")
    if cond is None:
        return False
    if cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_rfc3339(cond.get("lastUpdateTime"))
    if since is None:
        return False
    return since + d["spec"]["progressDeadlineSeconds"] < now


def progress_recheck_after(d: Obj, new_status: Obj, now: float) -> float | None:
    """requeueStuckDeployment: seconds until the deadline check is due (None: no check needed).

    Progressing last updated at 00:00:00, now 00:03:00, deadline 600 s: check again in 7 min (+1 s).
    """
    cur = get_condition(d.get("status"), "Progressing")
    if not has_progress_deadline(d) or cur is None:
        return None
    if deployment_complete(d, new_status) or cur.get("reason") == TIMED_OUT:
        return None
    since = parse_rfc3339(cur.get("lastUpdateTime"))
    if since is None:
        return None
    after = since + d["spec"]["progressDeadlineSeconds"] - now
    if after < 1:
        return 0.0
    return after + 1


def roll_status_conditions(d: Obj, all_rss: list[RS], new_rs: RS, now: float) -> Obj:
    """syncRolloutStatus's decision: the new status with Progressing estimated and replica
    failures promoted (the I/O around it lives in progress.py)."""
    new_status = calculate_status(all_rss, new_rs, d, now)
    if not has_progress_deadline(d):
        remove_condition(new_status, "Progressing")
    cur = get_condition(d.get("status"), "Progressing")
    complete_before = (int(new_status.get("replicas") or 0) == int(new_status.get("updatedReplicas") or 0)
                       and cur is not None and cur.get("reason") == NEW_RS_AVAILABLE)
    name = d["metadata"]["name"]
    if has_progress_deadline(d) and not complete_before:
        if deployment_complete(d, new_status):
            msg = (f'ReplicaSet "{new_rs["metadata"]["name"]}" has successfully progressed.' if new_rs is not None
                   else f'Deployment "{name}" has successfully progressed.')
            set_condition(new_status, new_condition("Progressing", "True", NEW_RS_AVAILABLE, msg, now))
        elif deployment_progressing(d, new_status):
            msg = (f'ReplicaSet "{new_rs["metadata"]["name"]}" is progressing.' if new_rs is not None
                   else f'Deployment "{name}" is progressing.')
            cond = new_condition("Progressing", "True", REPLICA_SET_UPDATED, msg, now)
            if cur is not None:
                if cur.get("status") == "True":
                    cond["lastTransitionTime"] = cur.get("lastTransitionTime")
                remove_condition(new_status, "Progressing")
            set_condition(new_status, cond)
        elif deployment_timed_out(d, new_status, now):
            msg = (f'ReplicaSet "{new_rs["metadata"]["name"]}" has timed out progressing.' if new_rs is not None
                   else f'Deployment "{name}" has timed out progressing.')
            set_condition(new_status, new_condition("Progressing", "False", TIMED_OUT, msg, now))
    failures = replica_failures(all_rss, new_rs)
    if failures:
        set_condition(new_status, failures[0])
    else:
        remove_condition(new_status, "ReplicaFailure")
    return new_status


def replica_failures(all_rss: list[RS], new_rs: RS) -> list[Obj]:
    """getReplicaFailures: the new RS's ReplicaFailure conditions first, else the old ones'."""
    def of(rs: RS) -> list[Obj]:
        if rs is None:
            return []
        return [rs_condition_to_deployment(c) for c in (rs.get("status") or {}).get("conditions") or []
                if c.get("type") == "ReplicaFailure"]

    found = of(new_rs)
    if found:
        return found
    out: list[Obj] = []
    for rs in all_rss:
        out.extend(of(rs))
    return out


def status_equal(a: Obj | None, b: Obj | None) -> bool:
    return _semantic(a or {}) == _semantic(b or {})
