"""ResourceQuota with the real kubectl: a quota blocks the 4th pod with upstream's message and
`kubectl describe quota` shows the usage."""

from __future__ import annotations

from .conftest import Cluster


def test_quota_blocks_the_fourth_pod(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "quota", "compute", "--hard=pods=3,configmaps=20")
    for i in range(3):
        cluster.kubectl("-n", ns, "run", f"p{i}", "--image=busybox")
    p = cluster.kubectl("-n", ns, "run", "p3", "--image=busybox", check=False)
    assert p.returncode != 0
    assert ('Error from server (Forbidden): pods "p3" is forbidden: exceeded quota: compute, requested: pods=1, '
            'used: pods=3, limited: pods=3') in p.stderr

    def described() -> bool:
        out = cluster.kubectl("-n", ns, "describe", "quota", "compute").stdout
        return any(line.split() == ["pods", "3", "3"] for line in out.splitlines())

    cluster.wait_for(described, what="quota status used pods=3")
    cluster.kubectl("-n", ns, "delete", "pod", "p0", "--grace-period=0", "--force")
    cluster.wait_for(lambda: cluster.kubectl("-n", ns, "run", "p3", "--image=busybox", check=False).returncode == 0,
                     what="room for one more pod")


def test_compute_quota_needs_requests(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "quota", "cpu", "--hard=requests.cpu=1")
    p = cluster.kubectl("-n", ns, "run", "nocpu", "--image=busybox", check=False)
    assert 'pods "nocpu" is forbidden: failed quota: cpu: must specify requests.cpu for: nocpu' in p.stderr
    cluster.kubectl("-n", ns, "run", "half", "--image=busybox", "--overrides",
                    '{"spec":{"containers":[{"name":"half","image":"busybox","resources":{"requests":{"cpu":"600m"}}}]}}')
    p = cluster.kubectl("-n", ns, "run", "more", "--image=busybox", "--overrides",
                        '{"spec":{"containers":[{"name":"more","image":"busybox","resources":{"requests":{"cpu":"500m"}}}]}}',
                        check=False)
    assert ("exceeded quota: cpu, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1"
            in p.stderr), p.stderr
