"""HorizontalPodAutoscaler on real containers (issue 14's acceptance): a Deployment whose
container burns CPU while /tmp/burn exists (cpu request 100m, limit 300m) and an HPA at 50 %.
`kubectl top pods` shows the load, the HPA scales up within a few (1 s) sync periods, and back
to the minimum once the load stops and the (3 s) stabilization window has passed.

The cluster is this module's own: temp data dir, free ports, bridge `klhpaN`, CIDRs
10.240.N.0/24 / 10.241.N.0/24, own pod log dir; `kubeling down --data-dir` cleans up.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from typing import Iterator

import pytest

from kubeling.kubelet.images import build
from tests.e2e.realcluster import own_cluster
from tests.integration.conftest import Cluster

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runc") or not shutil.which("kubectl")
    or not os.path.exists("/usr/lib/cni/bridge") or not shutil.which("docker-registry") or build.missing_packages(),
    reason="needs root, runc, kubectl, containernetworking-plugins, docker-registry and the test images' packages")

NET = random.Random(os.getpid() + 14).randrange(1, 250)

# burns one CPU (throttled to the 300m limit) while /tmp/burn exists, idles otherwise
BURNER = "while true; do while [ -f /tmp/burn ]; do :; done; sleep 0.2; done"
DEPLOY = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "burner"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "burner"}}, "template": {
        "metadata": {"labels": {"app": "burner"}},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
            "name": "burn", "image": "busybox", "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c", BURNER],
            "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "300m"}}}]}}}}


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = str(tmp_path_factory.mktemp("kubeling-hpa"))
    with own_cluster(base, f"klhpa{NET}", f"10.240.{NET}.0/24", f"10.241.{NET}.0/24", "hpa-node", extra_args=(
            "--metric-resolution", "2s", "--horizontal-pod-autoscaler-sync-period", "1s",
            "--horizontal-pod-autoscaler-downscale-stabilization", "3s")) as c:
        yield c


def _replicas(kc: Cluster) -> int:
    return kc.json("get", "deployment", "burner")["spec"]["replicas"]


def _top(kc: Cluster) -> dict[str, int]:
    """Pod -> millicores, from `kubectl top pods`."""
    out = kc.kubectl("top", "pods", "--no-headers", check=False).stdout
    return {ln.split()[0]: int(ln.split()[1].rstrip("m")) for ln in out.splitlines() if ln.split()[1:2]
            and ln.split()[1].endswith("m")}


def test_scale_up_under_load_and_back_down(kc: Cluster) -> None:
    kc.kubectl("apply", "-f", "-", input=json.dumps(DEPLOY))
    pod = kc.wait_for(lambda: next((p["metadata"]["name"] for p in kc.json("get", "pods", "-l", "app=burner")["items"]
                                    if p.get("status", {}).get("phase") == "Running"), None), 60, 0.5, "a running pod")
    kc.wait_for(lambda: pod in _top(kc), 90, 1.0, "kubectl top pods lists the pod")
    # the HPA only once its metrics exist: before, every 1 s sync records FailedGetResourceMetric and
    # FailedComputeMetricsReplicas on it, and past 25 events about one object the recorder's spam
    # filter (upstream's: burst 25, then one per 5 min) drops the SuccessfulRescale events waited for below
    kc.kubectl("autoscale", "deployment", "burner", "--min=1", "--max=3", "--cpu-percent=50")
    kc.kubectl("exec", pod, "--", "touch", "/tmp/burn")
    # the load shows (≥ 150m: well above half the request) ...
    kc.wait_for(lambda: _top(kc).get(pod, 0) >= 150, 90, 1.0, "the load in kubectl top pods")
    # ... and ~300 % of the request at a 50 % target scales to the maximum
    kc.wait_for(lambda: _replicas(kc) == 3, 120, 1.0, "scale up to 3")
    kc.wait_for(lambda: _rescaled(kc, "reason: cpu resource utilization (percentage of request) above target"),
                60, 1.0, "the scale-up event")
    assert "cpu: " in kc.kubectl("get", "hpa", "burner").stdout
    kc.kubectl("exec", pod, "--", "rm", "-f", "/tmp/burn")
    kc.wait_for(lambda: _replicas(kc) == 1, 120, 1.0, "scale back down to 1")
    # the event is written after the scale: wait for it rather than read describe at once
    kc.wait_for(lambda: _rescaled(kc, "reason: All metrics below target"), 60, 1.0, "the scale-down event")
    described = kc.kubectl("describe", "hpa", "burner").stdout
    assert "All metrics below target" in described


def _rescaled(kc: Cluster, reason: str) -> bool:
    """A SuccessfulRescale event whose message ends with `reason` exists."""
    events = json.loads(kc.kubectl("get", "events", "--field-selector", "reason=SuccessfulRescale", "-o", "json").stdout)
    return any(e["message"].endswith(reason) for e in events["items"])
