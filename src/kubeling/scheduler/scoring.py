"""The default profile's scores (upstream pkg/scheduler/framework/plugins: TaintToleration,
NodeAffinity, NodeResourcesFit LeastAllocated, PodTopologySpread with the system default
constraints, NodeResourcesBalancedAllocation), each normalised as its NormalizeScore does and
weighted as the profile weighs them; and selectHost. Pure, no I/O."""

from __future__ import annotations

import math
import random
from typing import Iterable

from .framework import (LABEL_ZONE, MAX_NODE_SCORE, NodeInfo, Obj, PodInfo, required_affinity_matches, term_matches,
                        tolerations_tolerate)

# default profile score weights (apis/config/v1/default_plugins.go)
WEIGHT_TAINT, WEIGHT_AFFINITY, WEIGHT_FIT, WEIGHT_SPREAD, WEIGHT_BALANCED = 3, 2, 1, 2, 1


def default_normalize(scores: list[int], reverse: bool = False) -> list[int]:
    """helper.DefaultNormalizeScore: scale to 0..100 by the maximum; `reverse` flips it."""
    top = max(scores, default=0)
    if top == 0:
        return [MAX_NODE_SCORE if reverse else 0 for _ in scores]
    out = []
    for s in scores:
        v = MAX_NODE_SCORE * s // top
        out.append(MAX_NODE_SCORE - v if reverse else v)
    return out


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def least_allocated(pi: PodInfo, ni: NodeInfo) -> int:
    """NodeResourcesFit LeastAllocated over cpu and memory (weights 1), non-zero request view.

    A 4-cpu node with 1 cpu requested, pod asking 1 cpu: cpu score (4000-2000)*100/4000 = 50.
    """
    total = weights = 0
    for alloc, req in ((ni.allocatable.milli_cpu, ni.non_zero_requested.milli_cpu + pi.non_zero.milli_cpu),
                       (ni.allocatable.memory, ni.non_zero_requested.memory + pi.non_zero.memory)):
        if alloc == 0:
            continue
        total += least_requested_score(req, alloc)
        weights += 1
    return total // weights if weights else 0


def balanced_allocation(pi: PodInfo, ni: NodeInfo) -> int:
    """NodeResourcesBalancedAllocation: 100 * (1 - |cpu fraction - memory fraction| / 2)."""
    fractions = []
    for alloc, req in ((ni.allocatable.milli_cpu, ni.requested.milli_cpu + pi.requests.milli_cpu),
                       (ni.allocatable.memory, ni.requested.memory + pi.requests.memory)):
        if alloc == 0:
            continue
        fractions.append(min(req / alloc, 1.0))
    std = abs(fractions[0] - fractions[1]) / 2 if len(fractions) == 2 else 0.0
    return int((1 - std) * MAX_NODE_SCORE)


def taint_toleration_score(pi: PodInfo, ni: NodeInfo) -> int:
    """Raw count of PreferNoSchedule taints the pod does not tolerate (normalized reversed)."""
    tols = [t for t in pi.tolerations if not t.get("effect") or t.get("effect") == "PreferNoSchedule"]
    return sum(1 for t in ni.prefer_taints if not tolerations_tolerate(tols, t))


def preferred_terms(pod: Obj) -> list[Obj]:
    return ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
            .get("preferredDuringSchedulingIgnoredDuringExecution") or [])


def node_affinity_score(terms: list[Obj], ni: NodeInfo) -> int:
    """Sum of the weights of the preferred terms the node matches."""
    return sum(int(t.get("weight") or 0) for t in terms if term_matches(t.get("preference"), ni.labels, ni.name))


def topology_spread_scores(pi: PodInfo, feasible: list[NodeInfo], all_nodes: Iterable[NodeInfo]) -> list[int] | None:
    """PodTopologySpread scoring with the system default constraints, normalized.

    Constraints: hostname maxSkew 3 and zone maxSkew 5, both ScheduleAnyway, over the pods of the
    same controller (upstream's DefaultSelector). Raw score per node: sum over the constraints
    whose key the node has of `count * log(domains + 2) + (maxSkew - 1)`; then
    `100 * (max + min - s) / max`, so the node with fewest siblings scores highest. Three
    replicas on three empty nodes: after the first lands on node-1, node-1 scores
    round(1*log(5)+2)=4 vs 2 for the others, normalized 100*(4+2-4)/4 = 50 vs 100.
    Returns None when the pod has no owner (the plugin skips it).
    """
    owner = pi.owner
    if owner is None or not feasible:
        return None
    hostnames = len(feasible)
    zones = {ni.labels[LABEL_ZONE] for ni in feasible if LABEL_ZONE in ni.labels}
    zone_counts: dict[str, int] = {}
    if zones:
        for ni in all_nodes:
            z = ni.labels.get(LABEL_ZONE)
            if z in zones and ni.node is not None and required_affinity_matches(pi.pod, ni.labels, ni.name):
                zone_counts[z] = zone_counts.get(z, 0) + ni.owner_counts.get(owner, 0)
    w_host = math.log(hostnames + 2)
    w_zone = math.log(len(zones) + 2)
    floor = math.floor
    if zones:
        raw = []
        for ni in feasible:
            s = ni.owner_counts.get(owner, 0) * w_host + (3 - 1)
            z = ni.labels.get(LABEL_ZONE)
            if z is not None:
                s += zone_counts.get(z, 0) * w_zone + (5 - 1)
            raw.append(int(floor(s + 0.5)))  # math.Round of a non-negative score
    else:
        raw = [int(floor(ni.owner_counts.get(owner, 0) * w_host + 2.5)) for ni in feasible]
    lo, hi = min(raw), max(raw)
    if hi == 0:
        return [MAX_NODE_SCORE] * len(raw)
    return [MAX_NODE_SCORE * (hi + lo - s) // hi for s in raw]


def score_nodes(pi: PodInfo, feasible: list[NodeInfo], all_nodes: Iterable[NodeInfo]) -> list[int]:
    """RunScorePlugins: weighted sum of every enabled plugin's normalized score, per feasible node.

    LeastAllocated and BalancedAllocation are computed in one pass over the nodes (same
    arithmetic as `least_allocated` / `balanced_allocation`); plugins whose normalized score is
    the same on every node (no PreferNoSchedule taints, no preferred affinity) add that constant.
    """
    nz_cpu, nz_mem = pi.non_zero.milli_cpu, pi.non_zero.memory
    rq_cpu, rq_mem = pi.requests.milli_cpu, pi.requests.memory
    balanced = bool(rq_cpu or rq_mem)  # BalancedAllocation skips best-effort pods
    totals = []
    for ni in feasible:
        alloc = ni.allocatable
        a_cpu, a_mem = alloc.milli_cpu, alloc.memory
        if not (a_cpu and a_mem):  # the general (rare) case
            total = WEIGHT_FIT * least_allocated(pi, ni)
            if balanced:
                total += WEIGHT_BALANCED * balanced_allocation(pi, ni)
            totals.append(total)
            continue
        nzr = ni.non_zero_requested
        r1, r2 = nzr.milli_cpu + nz_cpu, nzr.memory + nz_mem
        s1 = (a_cpu - r1) * MAX_NODE_SCORE // a_cpu if r1 <= a_cpu else 0
        s2 = (a_mem - r2) * MAX_NODE_SCORE // a_mem if r2 <= a_mem else 0
        total = WEIGHT_FIT * ((s1 + s2) // 2)
        if balanced:
            req = ni.requested
            f1, f2 = (req.milli_cpu + rq_cpu) / a_cpu, (req.memory + rq_mem) / a_mem
            total += WEIGHT_BALANCED * int((1 - abs((f1 if f1 < 1.0 else 1.0) - (f2 if f2 < 1.0 else 1.0)) / 2)
                                           * MAX_NODE_SCORE)
        totals.append(total)
    if any(ni.prefer_taints for ni in feasible):
        for i, s in enumerate(default_normalize([taint_toleration_score(pi, ni) for ni in feasible], reverse=True)):
            totals[i] += WEIGHT_TAINT * s
    else:
        totals = [t + WEIGHT_TAINT * MAX_NODE_SCORE for t in totals]
    prefs = preferred_terms(pi.pod)
    if prefs:
        for i, s in enumerate(default_normalize([node_affinity_score(prefs, ni) for ni in feasible])):
            totals[i] += WEIGHT_AFFINITY * s
    spread = topology_spread_scores(pi, feasible, all_nodes)
    if spread is not None:
        totals = [t + WEIGHT_SPREAD * s for t, s in zip(totals, spread)]
    return totals


def select_host(feasible: list[NodeInfo], scores: list[int], rng: random.Random) -> NodeInfo:
    """selectHost: the highest total; ties broken uniformly at random (one draw, seedable)."""
    top = max(scores)
    ties = [i for i, s in enumerate(scores) if s == top]
    return feasible[ties[rng.randrange(len(ties))] if len(ties) > 1 else ties[0]]
