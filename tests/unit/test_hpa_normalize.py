"""Stabilization windows, min/max and behavior rate policies (horizontal.go normalize*)."""

from __future__ import annotations

from kubeling.controllers.hpa.normalize import Normalizer

T = 1000.0
UP_DEFAULT = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
    {"type": "Percent", "value": 100, "periodSeconds": 15}, {"type": "Pods", "value": 4, "periodSeconds": 15}]}
DOWN_DEFAULT = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def spec(min_r: int = 1, max_r: int = 10, behavior: dict | None = None) -> dict:
    s = {"minReplicas": min_r, "maxReplicas": max_r}
    if behavior is not None:
        s["behavior"] = behavior
    return s


def test_downscale_stabilization_without_behavior():
    n = Normalizer(downscale_stabilization=300)
    n.initial("k", 5, T)
    d = n.normalize("k", spec(), 5, 2, T + 10)
    assert (d.replicas, d.able_reason, d.limited) == (5, "ScaleDownStabilized", False)
    d = n.normalize("k", spec(), 5, 2, T + 301)  # the 5 has aged out; the 2 at T+10 is the highest
    assert (d.replicas, d.able_reason) == (2, "ReadyForNewScale")


def test_limits_without_behavior():
    n = Normalizer()
    d = n.normalize("a", spec(max_r=20), 1, 10, T)
    assert (d.replicas, d.limited, d.limited_reason) == (4, True, "ScaleUpLimit")
    d = n.normalize("b", spec(max_r=5), 3, 10, T)
    assert (d.replicas, d.limited, d.limited_reason) == (5, True, "TooManyReplicas")
    d = n.normalize("c", spec(min_r=2), 3, 1, T)
    assert (d.replicas, d.limited_reason, d.limited_message) == (
        2, "TooFewReplicas", "the desired replica count is less than the minimum replica count")
    d = n.normalize("d", spec(), 3, 5, T)
    assert (d.replicas, d.limited, d.limited_reason) == (5, False, "DesiredWithinRange")


def test_default_scale_up_policies_per_period():
    n = Normalizer()
    b = {"scaleUp": UP_DEFAULT, "scaleDown": DOWN_DEFAULT}
    # from 2: max(100 % -> 4, +4 pods -> 6) = 6
    d = n.normalize("k", spec(max_r=50, behavior=b), 2, 20, T)
    assert (d.replicas, d.limited_reason) == (6, "ScaleUpLimit")
    n.scaled("k", b, 2, 6, T)
    # 5 s later the period still started at 2: no further growth
    d = n.normalize("k", spec(max_r=50, behavior=b), 6, 20, T + 5)
    assert (d.replicas, d.limited_reason) == (6, "ScaleUpLimit")
    # next period starts at 6: max(12, 10) = 12
    d = n.normalize("k", spec(max_r=50, behavior=b), 6, 20, T + 16)
    assert d.replicas == 12


def test_scale_down_pods_policy_and_window():
    b = {"scaleUp": UP_DEFAULT, "scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                                               "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    n = Normalizer()
    d = n.normalize("k", spec(behavior=b), 5, 1, T)
    assert (d.replicas, d.limited_reason) == (4, "ScaleDownLimit")
    n.scaled("k", b, 5, 4, T)
    d = n.normalize("k", spec(behavior=b), 4, 1, T + 10)
    assert d.replicas == 4
    d = n.normalize("k", spec(behavior=b), 4, 1, T + 61)
    assert d.replicas == 3


def test_scale_down_window_defaults_to_the_flag_and_up_window_holds_back():
    b = {"scaleUp": dict(UP_DEFAULT, stabilizationWindowSeconds=60), "scaleDown": DOWN_DEFAULT}
    n = Normalizer(downscale_stabilization=30)
    n.initial("k", 3, T)
    d = n.normalize("k", spec(behavior=b), 3, 8, T + 10)  # the 3 of T is within the 60 s up window
    assert (d.replicas, d.able_reason) == (3, "ScaleUpStabilized")
    n2 = Normalizer(downscale_stabilization=30)
    n2.initial("k", 6, T)
    assert n2.normalize("k", spec(behavior=b), 6, 2, T + 10).replicas == 6  # within 30 s
    assert n2.normalize("k", spec(behavior=b), 6, 2, T + 45).replicas == 2


def test_disabled_policy_keeps_current():
    b = {"scaleUp": dict(UP_DEFAULT, selectPolicy="Disabled"), "scaleDown": DOWN_DEFAULT}
    d = Normalizer().normalize("k", spec(behavior=b), 3, 9, T)
    assert (d.replicas, d.limited_reason) == (3, "ScaleUpLimit")


def test_select_policy_min_picks_the_smallest_change():
    b = {"scaleUp": dict(UP_DEFAULT, selectPolicy="Min"),
         "scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Min", "policies": [
             {"type": "Percent", "value": 50, "periodSeconds": 15}, {"type": "Pods", "value": 1, "periodSeconds": 15}]}}
    assert Normalizer().normalize("u", spec(max_r=50, behavior=b), 2, 20, T).replicas == 4  # min(4, 6)
    assert Normalizer().normalize("d", spec(behavior=b), 10, 1, T).replicas == 9  # max(5, 9)
