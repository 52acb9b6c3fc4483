"""From a metric-based recommendation to the replica count the HPA writes (upstream horizontal.go:
normalizeDesiredReplicas, normalizeDesiredReplicasWithBehaviors and their helpers), pure given
`now`, with the state upstream keeps in the controller: recent recommendations per HPA (for
the stabilization windows) and recent scale events (for the rate policies).

Example without `behavior`: recommendations 5, 3, 2 within the 5-minute down-scale window ->
the HPA stays at 5 ("ScaleDownStabilized") until the 5 ages out. Scale-up is limited to
max(2 × current, 4) per step ("ScaleUpLimit"). With `behavior`, the default scale-up policies
(100 % or 4 pods per 15 s, whichever is more) and the scale-down policy (100 % per 15 s) cap how
far one period may move from the count at the start of that period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization


@dataclass
class _Stamped:
    value: int
    at: float
    outdated: bool = False


@dataclass(frozen=True)
class Decision:
    replicas: int
    able_reason: str  # AbleToScale=True reason
    able_message: str
    limited: bool  # ScalingLimited status
    limited_reason: str
    limited_message: str


READY = ("ReadyForNewScale", "recommended size matches current size")
WITHIN = ("DesiredWithinRange", "the desired count is within the acceptable range")
TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
UP_LIMIT = ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
DOWN_LIMIT = ("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
DOWN_STABILIZED = ("ScaleDownStabilized",
                   "recent recommendations were higher than current one, applying the highest recent recommendation")
UP_STABILIZED = ("ScaleUpStabilized",
                 "recent recommendations were lower than current one, applying the lowest recent recommendation")


def scale_up_limit(current: int) -> int:
    """calculateScaleUpLimit (no behavior): at most double, and at least to 4."""
    return max(2 * current, 4)


def _within(desired: int, lo: int, hi: int, hi_reason: tuple[str, str]) -> tuple[int, tuple[str, str]]:
    """convertDesiredReplicasWithRules: the minimum first, then the maximum."""
    if desired < lo:
        return lo, TOO_FEW
    if desired > hi:
        return hi, hi_reason
    return desired, WITHIN


def _change_in_period(period: float, events: list[_Stamped], now: float) -> int:
    """getReplicasChangePerPeriod."""
    return sum(e.value for e in events if e.at > now - period)


def _longest_period(rules: Obj) -> float:
    return max((p.get("periodSeconds", 0) for p in rules.get("policies") or []), default=0)


def policy_limit(current: int, ups: list[_Stamped], downs: list[_Stamped], rules: Obj, now: float, up: bool) -> int:
    """calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors: each policy
    moves from the count at the start of its period (current minus what was added plus what was
    removed since); `selectPolicy` Max picks the largest change, Min the smallest."""
    select = rules.get("selectPolicy", "Max")
    if select == "Disabled":
        return current
    largest_change = select != "Min"
    pick = (max if largest_change else min) if up else (min if largest_change else max)
    result: int | None = None
    for p in rules.get("policies") or []:
        period = p.get("periodSeconds", 0)
        start = current - _change_in_period(period, ups, now) + _change_in_period(period, downs, now)
        if p.get("type") == "Pods":
            proposed = start + p["value"] if up else start - p["value"]
        else:
            proposed = math.ceil(start * (1 + p["value"] / 100)) if up else int(start * (1 - p["value"] / 100))
        result = proposed if result is None else pick(result, proposed)
    return current if result is None else result


@dataclass
class Normalizer:
    """Recommendations and scale events of every HPA, keyed by `namespace/name`."""
    downscale_stabilization: float = DOWNSCALE_STABILIZATION
    recommendations: dict[str, list[_Stamped]] = field(default_factory=dict)
    scale_ups: dict[str, list[_Stamped]] = field(default_factory=dict)
    scale_downs: dict[str, list[_Stamped]] = field(default_factory=dict)

    def forget(self, key: str) -> None:
        for d in (self.recommendations, self.scale_ups, self.scale_downs):
            d.pop(key, None)

    def initial(self, key: str, current: int, now: float) -> None:
        """recordInitialRecommendation."""
        self.recommendations.setdefault(key, [_Stamped(current, now)])

    def _record(self, key: str, value: int, now: float, old: int | None) -> None:
        recs = self.recommendations.setdefault(key, [])
        if old is None:
            recs.append(_Stamped(value, now))
        else:
            recs[old] = _Stamped(value, now)

    def normalize(self, key: str, spec: Obj, current: int, desired: int, now: float) -> Decision:
        min_r = spec.get("minReplicas", 1)
        max_r = spec["maxReplicas"]
        behavior = spec.get("behavior")
        if behavior is None:
            return self._plain(key, current, desired, min_r, max_r, now)
        return self._with_behavior(key, behavior, current, desired, min_r, max_r, now)

    def _plain(self, key: str, current: int, desired: int, min_r: int, max_r: int, now: float) -> Decision:
        """normalizeDesiredReplicas: the highest recommendation of the down-scale window, then
        min/max and the scale-up rate."""
        stabilized, old = desired, None
        for i, rec in enumerate(self.recommendations.get(key, [])):
            if rec.at < now - self.downscale_stabilization:
                old = i
            elif rec.value > stabilized:
                stabilized = rec.value
        self._record(key, desired, now, old)
        able = DOWN_STABILIZED if stabilized != desired else READY
        up = scale_up_limit(current)
        hi, hi_reason = (up, UP_LIMIT) if max_r > up else (max_r, TOO_MANY)
        replicas, reason = _within(stabilized, min_r, hi, hi_reason)
        return Decision(replicas, *able, replicas != stabilized, *reason)

    def _with_behavior(self, key: str, behavior: Obj, current: int, desired: int, min_r: int, max_r: int,
                       now: float) -> Decision:
        """normalizeDesiredReplicasWithBehaviors: stabilize between the lowest recommendation of
        the up window and the highest of the down window, then apply the rate policies."""
        up_rules = behavior.get("scaleUp") or {}
        down_rules = behavior.get("scaleDown") or {}
        up_window = up_rules.get("stabilizationWindowSeconds", 0) or 0
        down_window = down_rules.get("stabilizationWindowSeconds")
        if down_window is None:
            down_window = self.downscale_stabilization
        up_rec = down_rec = desired
        old = None
        for i, rec in enumerate(self.recommendations.get(key, [])):
            if rec.at > now - up_window:
                up_rec = min(rec.value, up_rec)
            if rec.at > now - down_window:
                down_rec = max(rec.value, down_rec)
            if rec.at < now - up_window and rec.at < now - down_window:
                old = i
        stabilized = min(max(current, up_rec), down_rec)
        self._record(key, desired, now, old)
        able = READY if stabilized == desired else (UP_STABILIZED if desired >= current else DOWN_STABILIZED)
        ups, downs = self.scale_ups.get(key, []), self.scale_downs.get(key, [])
        replicas, reason = stabilized, WITHIN
        if stabilized > current:
            limit = max(policy_limit(current, ups, downs, up_rules, now, up=True), current)
            hi, hi_reason = (limit, UP_LIMIT) if max_r > limit else (max_r, TOO_MANY)
            if stabilized > hi:
                replicas, reason = hi, hi_reason
        elif stabilized < current:
            limit = min(policy_limit(current, ups, downs, down_rules, now, up=False), current)
            lo, lo_reason = (limit, DOWN_LIMIT) if min_r < limit else (min_r, TOO_FEW)
            if stabilized < lo:
                replicas, reason = lo, lo_reason
        return Decision(replicas, *able, replicas != stabilized, *reason)

    def scaled(self, key: str, behavior: Obj | None, before: int, after: int, now: float) -> None:
        """storeScaleEvent: remember a rescale for the rate policies (only with `behavior`)."""
        if behavior is None or before == after:
            return
        up = after > before
        events = (self.scale_ups if up else self.scale_downs).setdefault(key, [])
        longest = _longest_period(behavior.get("scaleUp" if up else "scaleDown") or {})
        for e in events:
            if e.at < now - longest:
                e.outdated = True
        change = _Stamped(abs(after - before), now)
        for i, e in enumerate(events):
            if e.outdated:
                events[i] = change
                return
        events.append(change)
