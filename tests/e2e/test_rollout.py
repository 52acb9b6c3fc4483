"""Rollouts end to end (issue 13's acceptance): real containers, the real kube-proxy, the real
kubectl. Each pod serves its version ("v1", "v2", ...) as its page; a "bad" version has no
/health page, so an analysis of it fails.

- canary 20 % → pause → 50 % → pause → 100 %: the share of requests through the stable
  Service that reach the canary matches the weight (kube-proxy's weighted endpoints, driven by
  the stable Service's `rollouts.kubeling.io/canary-weight`), promote moves it on;
- a canary whose analysis fails aborts, and all traffic is back on stable;
- blue-green: preview serves the new version while active serves the old, promotion switches
  active with zero failed requests in a client loop, the old ReplicaSet goes after the delay.

The cluster is this module's own (bridge `klroN`, cluster CIDR 10.232.N.0/24, service CIDR
10.233.N.0/24; see realcluster.py), one for the module, few pods, short durations.
"""

from __future__ import annotations

import collections
import json
import math
import os
import random
import threading
from typing import Any, Iterator

import pytest
import yaml

from tests.e2e.realcluster import own_cluster
from tests.e2e.test_tutorial_real import RealCluster, _ready, http_get

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/usr/lib/cni/bridge") or not os.path.exists("/usr/sbin/iptables-restore"),
    reason="needs root, the CNI plugins and iptables")

NET = random.Random(os.getpid() * 13).randrange(1, 250)
BRIDGE = f"klro{NET}"
CLUSTER_CIDR = f"10.232.{NET}.0/24"
SERVICE_CIDR = f"10.233.{NET}.0/24"
HASH = "rollouts-pod-template-hash"


def _proxy_weights() -> bool:
    """Whether this tree's kube-proxy honours the stable Service's canary weight (the contract
    in docs/rollouts.md; kube-proxy's side is model.CANARY_WEIGHT)."""
    from kubeling.proxy import model

    return getattr(model, "CANARY_WEIGHT", None) == "rollouts.kubeling.io/canary-weight"


def template(app: str, version: str) -> dict[str, Any]:
    """Pods that serve `version` as their page (and /health unless the version is "bad")."""
    return {"metadata": {"labels": {"app": app}}, "spec": {
        "terminationGracePeriodSeconds": 1,
        "initContainers": [{"name": "page", "image": "busybox", "env": [{"name": "VERSION", "value": version}],
                            "command": ["sh", "-c", 'echo $VERSION > /html/index.html && '
                                                    'if [ "$VERSION" != bad ]; then echo ok > /html/health; fi'],
                            "volumeMounts": [{"name": "html", "mountPath": "/html"}]}],
        "containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80, "name": "http"}],
                        "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1},
                        "volumeMounts": [{"name": "html", "mountPath": "/usr/share/nginx/html"}]}],
        "volumes": [{"name": "html", "emptyDir": {}}]}}


def rollout(name: str, replicas: int, strategy: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "rollouts.kubeling.io/v1alpha1", "kind": "Rollout", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": template(name, "v1"), "strategy": strategy}}


def service(name: str, app: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 80}]}}


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    base = str(tmp_path_factory.mktemp("rollout"))
    with own_cluster(base, BRIDGE, CLUSTER_CIDR, SERVICE_CIDR, "rollout-node", cls=RealCluster) as c:
        yield c


def apply(kc: RealCluster, *objs: dict[str, Any]) -> None:
    kc.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objs))


def set_version(kc: RealCluster, name: str, version: str) -> None:
    kc.kubectl("patch", "ro", name, "--type", "json", "-p", json.dumps(
        [{"op": "replace", "path": "/spec/template/spec/initContainers/0/env/0/value", "value": version}]))


def promote(kc: RealCluster, name: str) -> None:
    kc.kubectl("patch", "ro", name, "--subresource", "status", "--type", "merge", "-p",
               '{"status":{"pauseConditions":null}}')


def wait_status(kc: RealCluster, name: str, what: str, timeout: float = 90, **want: Any) -> dict[str, Any]:
    def check() -> Any:
        st = kc.json("get", "ro", name).get("status") or {}
        return st if all(st.get(k) == v for k, v in want.items()) else None
    return kc.wait_for(check, timeout, 0.3, f"{what}: {want}")


def cluster_ip(kc: RealCluster, svc: str) -> str:
    return kc.json("get", "svc", svc)["spec"]["clusterIP"]


def get(url: str) -> str:
    """The page, or the error (a failed request is a result the tests count)."""
    try:
        return http_get(url, timeout=3).strip()
    except Exception as e:  # noqa: BLE001
        return f"error: {e}"


def versions(ip: str, n: int) -> collections.Counter[str]:
    """What `n` requests (each a new connection) to the Service get back."""
    return collections.Counter(get(f"http://{ip}/") for _ in range(n))


def settled(kc: RealCluster, app: str, want: dict[str, int]) -> None:
    """Ready pods per version, exactly `want` (old pods gone)."""
    def check() -> Any:
        got: collections.Counter[str] = collections.Counter()
        for p in kc.json("get", "pods", "-l", f"app={app}")["items"]:
            if p["metadata"].get("deletionTimestamp"):
                return None
            if _ready(p):
                got[p["spec"]["initContainers"][0]["env"][0]["value"]] += 1
        return dict(got) == want or None
    kc.wait_for(check, 90, 0.3, f"{app} pods {want}")


def wait_served(kc: RealCluster, ip: str, pred: Any, what: str, n: int = 10) -> collections.Counter[str]:
    """Samples of `n` requests until one satisfies `pred`: kube-proxy's rules follow the Rollout's
    Services and endpoints after a moment, which pods being Ready does not tell."""
    return kc.wait_for(lambda: (lambda c: c if pred(c) else None)(versions(ip, n)), 60, 0.2, what)


@pytest.mark.skipif(not _proxy_weights(), reason="kube-proxy without canary weights (branch rollout-proxy)")
def test_canary_weights_through_the_stable_service(kc: RealCluster) -> None:
    strategy = {"canary": {"canaryService": "web-canary", "stableService": "web", "scaleDownDelaySeconds": 2,
                           "steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]}}
    apply(kc, service("web", "web"), service("web-canary", "web"), rollout("web", 2, strategy))
    wait_status(kc, "web", "v1 healthy", phase="Healthy", availableReplicas=2)
    ip = cluster_ip(kc, "web")
    wait_served(kc, ip, lambda c: set(c) == {"v1"}, "v1 through the stable service")

    set_version(kc, "web", "v2")
    wait_status(kc, "web", "paused at 20 %", phase="Paused", currentStepIndex=1)
    settled(kc, "web", {"v1": 2, "v2": 1})  # stable keeps its 2 pods, one canary pod carries 20 %
    wait_served(kc, ip, lambda c: "v2" in c, "the canary in the stable service's traffic")
    n = 300
    got = versions(ip, n)
    print(f"20 %: {dict(got)}")
    assert set(got) == {"v1", "v2"} and _near(got["v2"], n, 0.20), got

    promote(kc, "web")
    wait_status(kc, "web", "paused at 50 %", phase="Paused", currentStepIndex=3)
    settled(kc, "web", {"v1": 2, "v2": 1})
    # the 50 % rule is live: 23 of 60 is 3.5 sigma above 20 % and almost always reached at 50 %
    wait_served(kc, ip, lambda c: c["v2"] >= 23, "the canary at 50 %", n=60)
    got = versions(ip, n)
    print(f"50 %: {dict(got)}")
    assert set(got) == {"v1", "v2"} and _near(got["v2"], n, 0.50), got

    promote(kc, "web")
    st = wait_status(kc, "web", "promoted", phase="Healthy", currentStepIndex=4)
    assert st["stableRS"] == st["currentPodHash"]
    wait_served(kc, ip, lambda c: set(c) == {"v2"}, "all traffic on v2")
    settled(kc, "web", {"v2": 2})  # the old pods go after scaleDownDelaySeconds
    assert versions(ip, 50) == {"v2": 50}


def test_failing_analysis_aborts_and_traffic_returns_to_stable(kc: RealCluster) -> None:
    health = {"httpGet": {"path": "/health", "port": "http"}, "intervalSeconds": 1, "count": 2}
    strategy = {"canary": {"steps": [{"setWeight": 50}, {"analysis": health}, {"setWeight": 100}]}}
    apply(kc, service("api", "api"), rollout("api", 2, strategy))
    wait_status(kc, "api", "v1 healthy", phase="Healthy", availableReplicas=2)
    ip = cluster_ip(kc, "api")

    set_version(kc, "api", "v2")  # a good version: its analysis passes and it is promoted
    st = wait_status(kc, "api", "v2 promoted", phase="Healthy", currentStepIndex=3)
    assert st["canary"]["currentStepAnalysisRunStatus"]["status"] == "Successful"
    wait_served(kc, ip, lambda c: set(c) == {"v2"}, "v2 everywhere")

    set_version(kc, "api", "bad")  # no /health page: the analysis fails and aborts
    st = wait_status(kc, "api", "aborted", phase="Degraded")
    assert st["abort"] is True and st["message"].startswith("RolloutAborted: Rollout aborted update to revision 3")
    assert "404" in st["canary"]["currentStepAnalysisRunStatus"]["message"]
    settled(kc, "api", {"v2": 2})
    assert versions(ip, 30) == {"v2": 30}
    reasons = {e["reason"] for e in kc.json("get", "events", "--field-selector", "involvedObject.name=api")["items"]}
    assert {"AnalysisRunSuccessful", "AnalysisRunFailed", "RolloutAborted"} <= reasons


def test_blue_green_switch_without_failed_requests(kc: RealCluster) -> None:
    strategy = {"blueGreen": {"activeService": "bg", "previewService": "bg-preview", "autoPromotionEnabled": False,
                              "scaleDownDelaySeconds": 3}}
    apply(kc, service("bg", "bg"), service("bg-preview", "bg"), rollout("bg", 2, strategy))
    wait_status(kc, "bg", "v1 healthy", phase="Healthy", availableReplicas=2)
    active, preview = cluster_ip(kc, "bg"), cluster_ip(kc, "bg-preview")

    set_version(kc, "bg", "v2")
    wait_status(kc, "bg", "waiting for promotion", phase="Paused", message="BlueGreenPause")
    wait_served(kc, preview, lambda c: set(c) == {"v2"}, "preview serves v2")
    assert versions(active, 20) == {"v1": 20}

    results: collections.Counter[str] = collections.Counter()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            results[get(f"http://{active}/")] += 1

    t = threading.Thread(target=client, daemon=True)
    t.start()
    try:
        kc.wait_for(lambda: results["v1"] >= 20, 30, 0.1, "the client loop running on v1")
        promote(kc, "bg")
        wait_status(kc, "bg", "promoted", phase="Healthy")
        kc.wait_for(lambda: results["v2"] >= 50, 60, 0.1, "the client loop on v2")
    finally:
        stop.set()
        t.join(10)
    print(f"blue-green switch: {dict(results)}")
    assert {k for k in results if k.startswith("error")} == set(), results
    rs = {r["metadata"]["labels"][HASH]: r for r in kc.json("get", "rs", "-l", "app=bg")["items"]}
    assert len(rs) == 2
    settled(kc, "bg", {"v2": 2})  # the old ReplicaSet scaled down after scaleDownDelaySeconds
    assert versions(active, 20) == {"v2": 20}


def _near(hits: int, n: int, p: float) -> bool:
    """`hits` of `n` independent draws at probability `p`, within 4.5 standard deviations: a
    correct split fails this about once in 150,000 runs, a wrong weight (e.g. replica share)
    does not pass it."""
    return abs(hits - n * p) <= 4.5 * math.sqrt(n * p * (1 - p))
