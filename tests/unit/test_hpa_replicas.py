"""The HPA's replica calculation against upstream's replica_calculator.go rules."""

from __future__ import annotations

import pytest

from kubeling.api.timestamps import rfc3339
from kubeling.controllers.hpa.replicas import MetricsError, PodMetric, plain_replicas, resource_replicas

NOW = 1_800_000_000.0
LONG_AGO = NOW - 3600


def pod(name: str, request: str | None = "1", *, phase: str = "Running", ready: str = "True",
        started: float = LONG_AGO, transition: float = LONG_AGO + 10, deleted: bool = False) -> dict:
    res = {"requests": {"cpu": request}} if request is not None else {}
    p = {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "resources": res}]},
         "status": {"phase": phase, "startTime": rfc3339(started),
                    "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": rfc3339(transition)}]}}
    if deleted:
        p["metadata"]["deletionTimestamp"] = rfc3339(NOW)
    return p


def m(**usage: int) -> dict[str, PodMetric]:
    return {k: PodMetric(v, NOW - 5, 15.0) for k, v in usage.items()}


def calc(current: int, target: int, metrics: dict, pods: list, resource: str = "cpu"):
    return resource_replicas(current, target, resource, metrics, pods, now=NOW)


@pytest.mark.parametrize("current,target,usage,requests,expected,utilization", [
    # (300+500+700) / 3000 = 50 %, ratio 50/30 -> ceil(1.67 * 3) = 5
    (3, 30, [300, 500, 700], ["1", "1", "1"], 5, 50),
    # (100+300+500+250+250) / 5000 = 28 %, ratio 0.56 -> ceil(2.8) = 3
    (5, 50, [100, 300, 500, 250, 250], ["1"] * 5, 3, 28),
    # 3060 / 3000 = 102 %: within the 0.1 tolerance -> unchanged
    (3, 100, [1010, 1030, 1020], ["900m", "1", "1100m"], 3, 102),
    # 109 %: inside the tolerance. (110 % is outside, as in Go: |1 - 1.1| is 0.10000000000000009)
    (2, 100, [1090, 1090], ["1", "1"], 2, 109),
    (2, 100, [1100, 1100], ["1", "1"], 3, 110),
    # 111 %: just outside -> ceil(1.11 * 2) = 3
    (2, 100, [1110, 1110], ["1", "1"], 3, 111),
])
def test_ready_pods(current, target, usage, requests, expected, utilization):
    pods = [pod(f"p{i}", r) for i, r in enumerate(requests)]
    metrics = m(**{f"p{i}": u for i, u in enumerate(usage)})
    p = calc(current, target, metrics, pods)
    assert (p.replicas, p.utilization) == (expected, utilization)


def test_unready_pod_counts_zero_when_scaling_up():
    # ready: (500+700)/2000 = 60 % -> ratio 2; the unready pod at 0: 1200/3000 = 40 % -> ceil(1.33*3) = 4
    pods = [pod("a", ready="False"), pod("b"), pod("c")]
    p = calc(3, 30, m(a=300, b=500, c=700), pods)
    assert (p.replicas, p.utilization) == (4, 60)


def test_unready_pods_ignored_when_scaling_down():
    # ready: 900/3000 = 30 % -> ratio 0.6 -> ceil(1.8) = 2; unready pods don't vote
    pods = [pod("a"), pod("b"), pod("c"), pod("d", ready="False"), pod("e", ready="False")]
    p = calc(5, 50, m(a=100, b=300, c=500, d=250, e=250), pods)
    assert (p.replicas, p.utilization) == (2, 30)


def test_pending_pod_is_unready_and_failed_or_deleted_pods_are_ignored():
    pods = [pod("a"), pod("b"), pod("p", phase="Pending"), pod("f", phase="Failed"), pod("d", deleted=True)]
    # ready a, b: 2000/2000 = 100 % of a 50 % target -> ratio 2; pending p at 0 -> 2000/3000 = 66 %
    # -> ratio 1.33 -> ceil(1.33 * 3) = 4
    p = calc(3, 50, m(a=1000, b=1000, f=5000, d=5000), pods)
    assert p.replicas == 4
    # from 5 the same recomputation would shrink while the ratio says grow: unchanged
    assert calc(5, 50, m(a=1000, b=1000, f=5000, d=5000), pods).replicas == 5


def test_cpu_in_initialization_sampled_before_readiness_is_unready():
    # started 60 s ago (within the 5-minute CPU initialization period), Ready 2 s ago: the sample
    # (taken 5 s ago over a 15 s window) predates readiness -> unready; scale-up counts it at 0
    young = pod("y", started=NOW - 60, transition=NOW - 2)
    p = calc(2, 50, m(x=1000, y=1000), [pod("x"), young])
    # ready x: 100 % -> ratio 2; y at 0 -> 50 % -> ratio 1.0 -> unchanged
    assert p.replicas == 2


def test_never_ready_pod_is_unready_but_a_flapping_one_counts():
    never = pod("n", ready="False", started=LONG_AGO, transition=LONG_AGO + 1)  # unready since start
    flapped = pod("f", ready="False", started=LONG_AGO, transition=NOW - 60)  # was ready, now not
    p = calc(3, 50, m(a=100, n=100, f=100), [pod("a"), never, flapped])
    # n is unready (never ready); f counts: (100+100)/2000 = 10 % -> ratio 0.2 -> ceil(0.4) = 1
    assert p.replicas == 1


def test_missing_metrics_scale_up_counts_missing_as_zero():
    # a, b: 4000/2000 = 200 % of 100 -> ratio 2; c missing at 0 -> 133 % -> ceil(1.33 * 3) = 4
    p = calc(3, 100, m(a=2000, b=2000), [pod("a"), pod("b"), pod("c")])
    assert (p.replicas, p.utilization) == (4, 200)


def test_missing_metrics_scale_down_counts_missing_at_request():
    # a, b: 200/2000 = 10 % of 50 -> ratio 0.2; c, d missing at max(50,100) % of request = 1000 each
    # -> 2200/4000 = 55 % -> ratio 1.1 flips direction -> unchanged
    p = calc(4, 50, m(a=100, b=100), [pod("a"), pod("b"), pod("c"), pod("d")])
    assert p.replicas == 4
    # with one missing: (100+100+1000)/3000 = 40 % -> ratio 0.8 -> ceil(2.4) = 3
    p = calc(3, 50, m(a=100, b=100), [pod("a"), pod("b"), pod("c")])
    assert p.replicas == 3


def test_missing_metrics_within_tolerance_after_fill_keeps_current():
    # a: 1000/1000 = 100 % of 100 -> ratio 1.0, within tolerance, but b is missing: recompute
    # with b at its request (ratio < 1 is false, > 1 false: nothing filled) -> 100 % -> unchanged
    p = calc(2, 100, m(a=1000), [pod("a"), pod("b")])
    assert p.replicas == 2


def test_errors():
    with pytest.raises(MetricsError, match="no pods returned by selector while calculating replica count"):
        calc(1, 50, m(a=1), [])
    with pytest.raises(MetricsError, match=r"did not receive metrics for targeted pods \(pods might be unready\)"):
        calc(1, 50, m(a=1), [pod("a", phase="Pending")])
    with pytest.raises(MetricsError, match="missing request for cpu in container c of Pod a"):
        calc(1, 50, m(a=1), [pod("a", request=None)])


def test_average_value_target():
    # average (300+500+700)/3 = 500m against 250m -> ratio 2 -> 6
    pods = [pod("a"), pod("b"), pod("c")]
    p = plain_replicas(3, 250, "cpu", m(a=300, b=500, c=700), pods, now=NOW)
    assert (p.replicas, p.raw, p.utilization) == (6, 500, None)
    # a missing pod counts at the target when scaling down: (100+100+250)/3 = 150 -> ratio 0.6 -> 2
    p = plain_replicas(3, 250, "cpu", m(a=100, b=100), pods, now=NOW)
    assert p.replicas == 2


def test_memory_ignores_cpu_readiness_rules():
    pods = [pod("a", ready="False"), pod("b", ready="False")]
    for p_ in pods:
        p_["spec"]["containers"][0]["resources"]["requests"] = {"memory": "100Mi"}
    mi = 1024 * 1024 * 1000  # milli-bytes per MiB
    p = resource_replicas(2, 50, "memory", m(a=100 * mi, b=100 * mi), pods, now=NOW)
    assert (p.replicas, p.utilization) == (4, 100)
