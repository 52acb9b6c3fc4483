"""Issue 14's acceptance on a real node: a StatefulSet `web` of 3 nginx with a
volumeClaimTemplate (pods in order, each writes its hostname to its volume, a deleted `web-1`
comes back with the same data, scaling down and up keeps the claims), and `kubectl rollout
undo` of a StatefulSet and of a DaemonSet, with runc containers and local-path volumes.

The cluster is this module's own: temp data dir, free ports, its own bridge and CIDRs
(`klstsN`, 10.242.N.0/24, 10.243.N.0/24) and pod log dir; `kubeling down --data-dir` cleans up,
also when a test failed.
"""

from __future__ import annotations

import os
import random
import shutil
from typing import Any, Iterator

import pytest
import yaml

from kubeling.kubelet.images import build
from tests.e2e.realcluster import own_cluster
from tests.integration.conftest import Cluster

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runc") or not shutil.which("kubectl")
    or not os.path.exists("/usr/lib/cni/bridge") or not shutil.which("docker-registry") or build.missing_packages(),
    reason="needs root, runc, kubectl, containernetworking-plugins, docker-registry and the test images' packages")

NET = random.Random(os.getpid() + 20).randrange(1, 250)
BRIDGE = f"klsts{NET}"
CLUSTER_CIDR = f"10.242.{NET}.0/24"
SERVICE_CIDR = f"10.243.{NET}.0/24"
HTML = "/usr/share/nginx/html"


def web(image: str = "nginx:1.14.2") -> str:
    """The documentation's StatefulSet (its volumeMount names the claim template)."""
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
           "spec": {"clusterIP": "None", "selector": {"app": "nginx"}, "ports": [{"port": 80, "name": "web"}]}}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
           "spec": {"selector": {"matchLabels": {"app": "nginx"}}, "serviceName": "nginx", "replicas": 3,
                    "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {
                        "terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "nginx", "image": image,
                                        "ports": [{"containerPort": 80, "name": "web"}],
                                        "volumeMounts": [{"name": "www", "mountPath": HTML}]}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}
    return yaml.safe_dump_all([svc, sts])


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = str(tmp_path_factory.mktemp("statefulset"))
    with own_cluster(base, BRIDGE, CLUSTER_CIDR, SERVICE_CIDR, "sts-node") as c:
        c.wait_for(lambda: c.kubectl("get", "nodes", "--no-headers").stdout.split()[1:2] == ["Ready"],
                   timeout=60, what="node Ready")
        yield c


def ready(pod: dict[str, Any]) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def pods(c: Cluster, selector: str = "app=nginx") -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in c.json("get", "pods", "-l", selector)["items"]}


def settled(c: Cluster, names: set[str], image: str | None = None) -> dict[str, dict[str, Any]]:
    def check() -> dict[str, dict[str, Any]] | None:
        ps = pods(c)
        ok = set(ps) == names and all(ready(p) for p in ps.values()) and \
            all(image is None or p["spec"]["containers"][0]["image"] == image for p in ps.values())
        return ps if ok else None
    return c.wait_for(check, timeout=60, interval=0.3, what=f"{sorted(names)} ready")


def content(c: Cluster, pod: str) -> str:
    return c.kubectl("exec", pod, "--", "cat", f"{HTML}/index.html").stdout.strip()


def claims(c: Cluster) -> set[str]:
    return {p["metadata"]["name"] for p in c.json("get", "pvc")["items"]}


WEB = {"web-0", "web-1", "web-2"}


def test_web_statefulset_keeps_identity_and_data(kc: Cluster) -> None:
    kc.kubectl("apply", "-f", "-", input=web())
    ps = settled(kc, WEB)
    for i in range(2):  # in order: web-(i+1) is created once web-i is Ready
        ready_at = next(x for x in ps[f"web-{i}"]["status"]["conditions"] if x["type"] == "Ready")["lastTransitionTime"]
        assert ps[f"web-{i + 1}"]["metadata"]["creationTimestamp"] >= ready_at
    for name in sorted(WEB):
        kc.kubectl("exec", name, "--", "sh", "-c", f"hostname > {HTML}/index.html")
        assert content(kc, name) == name
    pv = kc.json("get", "pv", kc.json("get", "pvc", "www-web-1")["spec"]["volumeName"])
    assert open(os.path.join(pv["spec"]["hostPath"]["path"], "index.html")).read().strip() == "web-1"

    old = ps["web-1"]["metadata"]["uid"]
    kc.kubectl("delete", "pod", "web-1", "--wait=false")
    kc.wait_for(lambda: (lambda p: p is not None and p["metadata"]["uid"] != old and ready(p))(pods(kc).get("web-1")),
                timeout=60, what="web-1 back")
    assert content(kc, "web-1") == "web-1"

    kc.kubectl("scale", "sts", "web", "--replicas=1")
    settled(kc, {"web-0"})
    assert claims(kc) == {"www-web-0", "www-web-1", "www-web-2"}
    kc.kubectl("scale", "sts", "web", "--replicas=3")
    settled(kc, WEB)
    assert {n: content(kc, n) for n in sorted(WEB)} == {n: n for n in WEB}


def test_statefulset_rollout_undo(kc: Cluster) -> None:
    kc.kubectl("set", "image", "sts/web", "nginx=nginx:1.16.1")
    kc.kubectl("rollout", "status", "sts/web", "--timeout=90s", timeout=100)
    settled(kc, WEB, "nginx:1.16.1")
    assert kc.kubectl("rollout", "undo", "sts/web").stdout.strip() == "statefulset.apps/web rolled back"
    kc.kubectl("rollout", "status", "sts/web", "--timeout=90s", timeout=100)
    settled(kc, WEB, "nginx:1.14.2")
    assert content(kc, "web-2") == "web-2"  # the data survived two rolling updates


def test_daemonset_rollout_undo(kc: Cluster) -> None:
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
          "spec": {"selector": {"matchLabels": {"app": "agent"}},
                   "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {
                       "terminationGracePeriodSeconds": 1,
                       "containers": [{"name": "nginx", "image": "nginx:1.14.2"}]}}}}
    kc.kubectl("apply", "-f", "-", input=yaml.safe_dump(ds))
    kc.kubectl("rollout", "status", "ds/agent", "--timeout=60s", timeout=70)
    kc.kubectl("set", "image", "ds/agent", "nginx=nginx:1.16.1")
    kc.kubectl("rollout", "status", "ds/agent", "--timeout=60s", timeout=70)

    def image() -> str | None:
        ps = [p for p in kc.json("get", "pods", "-l", "app=agent")["items"] if ready(p)]
        return ps[0]["spec"]["containers"][0]["image"] if len(ps) == 1 else None
    kc.wait_for(lambda: image() == "nginx:1.16.1", timeout=60, what="updated daemon pod")
    assert kc.kubectl("rollout", "undo", "ds/agent").stdout.strip() == "daemonset.apps/agent rolled back"
    kc.kubectl("rollout", "status", "ds/agent", "--timeout=60s", timeout=70)
    kc.wait_for(lambda: image() == "nginx:1.14.2", timeout=60, what="rolled back daemon pod")
