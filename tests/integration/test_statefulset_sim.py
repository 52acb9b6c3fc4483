"""StatefulSet on simulated nodes (issue 14): ordered pods with a stable identity and one PVC per
ordinal, recreation under the same name, scaling that keeps claims, RollingUpdate with a
partition, OnDelete, Parallel, the PVC retention policy and `kubectl rollout status/history/undo
statefulset`, through the real kubectl. The tests share one cluster and run in file order."""

from __future__ import annotations

from typing import Iterator

import pytest
import yaml

from .conftest import Cluster, free_port
from .test_tutorial_sim import condition, is_ready, live, ready_nodes

NODES = {"sim-node-1", "sim-node-2", "sim-node-3"}


def web(name: str = "web", replicas: int = 3, policy: str = "OrderedReady", image: str = "nginx:1.14.2",
        retention: dict | None = None) -> str:
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
           "spec": {"selector": {"matchLabels": {"app": name}}, "serviceName": name, "replicas": replicas,
                    "podManagementPolicy": policy,
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                        {"name": "nginx", "image": image,
                         "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}]}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}
    if retention:
        sts["spec"]["persistentVolumeClaimRetentionPolicy"] = retention
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
           "spec": {"clusterIP": "None", "selector": {"app": name}, "ports": [{"port": 80}]}}
    return yaml.safe_dump_all([svc, sts])


@pytest.fixture(scope="module")
def c(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cl = Cluster(str(tmp_path_factory.mktemp("kubeling-sts")), free_port(),
                 extra_args=("--sim-nodes", "3", "--node-status-update-frequency", "1"))
    cl.start()
    cl.wait_for(lambda: ready_nodes(cl) == NODES, timeout=30, what="3 Ready simulated nodes")
    yield cl
    cl.stop()


def sts_pods(c: Cluster, name: str = "web") -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in live(c.json("get", "pods", "-l", f"app={name}")["items"])}


def settled(c: Cluster, n: int, name: str = "web", image: str | None = None) -> dict[str, dict]:
    want = {f"{name}-{i}" for i in range(n)}

    def check() -> dict[str, dict] | None:
        ps = sts_pods(c, name)
        ok = set(ps) == want and all(is_ready(p) for p in ps.values()) and \
            all(image is None or p["spec"]["containers"][0]["image"] == image for p in ps.values())
        st = c.json("get", "sts", name)["status"]
        return ps if ok and st.get("readyReplicas", 0) == n and st.get("replicas") == n else None
    return c.wait_for(check, timeout=40, interval=0.2, what=f"{sorted(want)} ready")


def claims(c: Cluster) -> set[str]:
    return {p["metadata"]["name"] for p in c.json("get", "pvc")["items"]}


def test_ordered_pods_with_stable_identity_and_claims(c: Cluster) -> None:
    c.kubectl("apply", "-f", "-", input=web())
    ps = settled(c, 3)
    for i in range(2):  # OrderedReady: web-(i+1) was created only once web-i was Ready
        ready_at = condition(ps[f"web-{i}"], "Ready")["lastTransitionTime"]
        assert ps[f"web-{i + 1}"]["metadata"]["creationTimestamp"] >= ready_at
    p = ps["web-1"]
    assert (p["spec"]["hostname"], p["spec"]["subdomain"]) == ("web-1", "web")
    assert p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert p["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}} in p["spec"]["volumes"]
    assert claims(c) == {"www-web-0", "www-web-1", "www-web-2"}
    st = c.json("get", "sts", "web")["status"]
    assert st["currentRevision"] == st["updateRevision"] == p["metadata"]["labels"]["controller-revision-hash"]
    assert (st["replicas"], st["readyReplicas"], st["currentReplicas"], st["updatedReplicas"],
            st["availableReplicas"], st["observedGeneration"]) == (3, 3, 3, 3, 3, 1)
    assert c.kubectl("get", "sts", "web", "--no-headers").stdout.split()[:2] == ["web", "3/3"]


def test_deleted_pod_comes_back_with_the_same_name_and_claim(c: Cluster) -> None:
    old = sts_pods(c)["web-1"]["metadata"]["uid"]
    c.kubectl("delete", "pod", "web-1", "--wait=false")  # kubectl may miss the old uid going
    ps = c.wait_for(lambda: (lambda p: p if "web-1" in p and p["web-1"]["metadata"]["uid"] != old
                             and is_ready(p["web-1"]) else None)(sts_pods(c)), timeout=30, what="web-1 back")
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}} in ps["web-1"]["spec"]["volumes"]


def test_scale_down_and_up_keeps_claims(c: Cluster) -> None:
    c.kubectl("scale", "sts", "web", "--replicas=1")
    settled(c, 1)
    assert claims(c) == {"www-web-0", "www-web-1", "www-web-2"}
    c.kubectl("scale", "sts", "web", "--replicas=3")
    settled(c, 3)
    assert claims(c) == {"www-web-0", "www-web-1", "www-web-2"}


def test_rolling_update_partition_history_and_undo(c: Cluster) -> None:
    c.kubectl("patch", "sts", "web", "-p", '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}')
    c.kubectl("set", "image", "sts/web", "nginx=nginx:1.16.1")
    out = c.kubectl("rollout", "status", "sts/web", "--timeout=40s", timeout=50).stdout
    assert out.splitlines()[-1] == "partitioned roll out complete: 1 new pods have been updated...", out
    ps = settled(c, 3)
    assert {n: p["spec"]["containers"][0]["image"] for n, p in ps.items()} == {
        "web-0": "nginx:1.14.2", "web-1": "nginx:1.14.2", "web-2": "nginx:1.16.1"}
    c.kubectl("patch", "sts", "web", "-p", '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')
    settled(c, 3, image="nginx:1.16.1")
    st = c.wait_for(lambda: (lambda s: s if s.get("currentRevision") == s.get("updateRevision") else None)(
        c.json("get", "sts", "web")["status"]), what="current revision = update revision")
    assert st["currentReplicas"] == st["updatedReplicas"] == 3
    out = c.kubectl("rollout", "status", "sts/web", "--timeout=40s", timeout=50).stdout
    assert out.splitlines()[-1] == "partitioned roll out complete: 3 new pods have been updated...", out
    out = c.kubectl("rollout", "history", "sts/web").stdout.splitlines()
    assert out[0] == "statefulset.apps/web " and [x.split()[0] for x in out[2:] if x.strip()] == ["1", "2"], out
    assert c.kubectl("rollout", "undo", "sts/web").stdout.strip() == "statefulset.apps/web rolled back"
    settled(c, 3, image="nginx:1.14.2")
    out = c.kubectl("rollout", "history", "sts/web").stdout.splitlines()
    assert [x.split()[0] for x in out[2:] if x.strip()] == ["2", "3"], out


def test_on_delete_updates_only_deleted_pods(c: Cluster) -> None:
    c.kubectl("patch", "sts", "web", "-p", '{"spec":{"updateStrategy":{"type":"OnDelete","rollingUpdate":null}}}')
    c.kubectl("set", "image", "sts/web", "nginx=nginx:1.17")
    c.wait_for(lambda: c.json("get", "sts", "web")["status"].get("observedGeneration")
               == c.json("get", "sts", "web")["metadata"]["generation"], what="observed")
    settled(c, 3, image="nginx:1.14.2")
    c.kubectl("delete", "pod", "web-0", "--wait=false")
    c.wait_for(lambda: (lambda p: "web-0" in p and is_ready(p["web-0"])
                        and p["web-0"]["spec"]["containers"][0]["image"] == "nginx:1.17")(sts_pods(c)),
               timeout=30, what="web-0 updated")
    assert {p["spec"]["containers"][0]["image"] for n, p in sts_pods(c).items() if n != "web-0"} == {"nginx:1.14.2"}


def test_parallel_and_retention_policy(c: Cluster) -> None:
    c.kubectl("apply", "-f", "-", input=web("par", 3, "Parallel", retention={"whenScaled": "Delete",
                                                                             "whenDeleted": "Delete"}))
    settled(c, 3, "par")
    assert {"www-par-0", "www-par-1", "www-par-2"} <= claims(c)
    c.kubectl("scale", "sts", "par", "--replicas=1")
    settled(c, 1, "par")
    c.wait_for(lambda: not ({"www-par-1", "www-par-2"} & claims(c)), timeout=30, what="scaled-down claims deleted")
    c.kubectl("delete", "sts", "par")
    c.wait_for(lambda: "www-par-0" not in claims(c), timeout=30, what="claims deleted with the set")
    assert "www-web-0" in claims(c)
