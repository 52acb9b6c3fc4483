"""LimitRanger with the real kubectl: defaults filled in and noted, min/max enforced."""

from __future__ import annotations

import json

from .conftest import Cluster


def test_limit_range_defaults_and_bounds(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "200m"},
                             "max": {"cpu": "1"}, "min": {"cpu": "100m"}}]}}))
    cluster.kubectl("-n", ns, "run", "d", "--image=busybox")
    pod = cluster.json("-n", ns, "get", "pod", "d")
    assert pod["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "500m"}, "requests": {"cpu": "200m"}}
    assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == \
        "LimitRanger plugin set: cpu request for container d; cpu limit for container d"
    big = '{"spec":{"containers":[{"name":"big","image":"busybox","resources":{"limits":{"cpu":"2"}}}]}}'
    p = cluster.kubectl("-n", ns, "run", "big", "--image=busybox", "--overrides", big, check=False)
    assert 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2' in p.stderr
    small = '{"spec":{"containers":[{"name":"small","image":"busybox","resources":{"requests":{"cpu":"50m"}}}]}}'
    p = cluster.kubectl("-n", ns, "run", "small", "--image=busybox", "--overrides", small, check=False)
    assert 'pods "small" is forbidden: minimum cpu usage per Container is 100m, but request is 50m' in p.stderr
