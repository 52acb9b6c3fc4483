"""HPA, metrics.k8s.io and `kubectl top` on simulated nodes (synthetic usage by annotation)."""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from .conftest import Cluster, free_port

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {sim.kubeling.io/cpu-usage: "%s", sim.kubeling.io/memory-usage: "20Mi"}
    spec:
      containers:
      - {name: c, image: nginx, resources: {requests: {cpu: 100m}}}
"""


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(str(tmp_path_factory.mktemp("kubeling-hpa")), free_port(),
                extra_args=("--sim-nodes", "2", "--metric-resolution", "1s",
                            "--horizontal-pod-autoscaler-sync-period", "1s",
                            "--horizontal-pod-autoscaler-downscale-stabilization", "3s",
                            "--pod-log-dir", str(tmp_path_factory.mktemp("pod-logs"))))
    c.start()
    yield c
    c.stop()


def _hpa(sim: Cluster, ns: str) -> dict:
    return sim.json("get", "hpa", "web", "-n", ns)


def _cond(hpa: dict, ctype: str) -> dict:
    return next((c for c in (hpa.get("status") or {}).get("conditions") or [] if c["type"] == ctype), {})


def test_apiservice_and_discovery(sim: Cluster) -> None:
    out = sim.kubectl("get", "apiservices").stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("v1beta1.metrics.k8s.io"))
    assert line.split()[1:3] == ["Local", "True"]
    assert "metrics.k8s.io/v1beta1" in sim.kubectl("api-versions").stdout.split()
    res = sim.kubectl("api-resources", "--api-group=metrics.k8s.io", "-o", "wide").stdout
    assert "PodMetrics" in res and "NodeMetrics" in res


def test_scale_up_and_down_with_synthetic_usage(sim: Cluster) -> None:
    ns = "hpa-up"
    sim.kubectl("create", "namespace", ns)
    sim.kubectl("apply", "-n", ns, "-f", "-", input=DEPLOY % "90m")
    sim.kubectl("autoscale", "-n", ns, "deployment", "web", "--min=2", "--max=5", "--cpu-percent=50")
    # 90m of 100m = 90 % vs 50 %: ceil(1.8 * 2) = 4
    sim.wait_for(lambda: (_hpa(sim, ns).get("status") or {}).get("desiredReplicas") == 4, 30, 0.3, "scale up to 4")
    events = sim.kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.kind=HorizontalPodAutoscaler",
                         "-o", "json").stdout
    msgs = [(e["reason"], e["message"]) for e in json.loads(events)["items"]]
    assert ("SuccessfulRescale", "New size: 4; reason: cpu resource utilization (percentage of request) above target") in msgs
    hpa = _hpa(sim, ns)
    assert _cond(hpa, "AbleToScale")["status"] == "True"
    assert _cond(hpa, "ScalingActive")["reason"] == "ValidMetricFound"
    row = sim.wait_for(lambda: next((ln for ln in sim.kubectl("get", "hpa", "-n", ns).stdout.splitlines()
                                     if ln.startswith("web ")), None), 10, 0.3, "row")
    assert "cpu: 90%/50%" in row
    described = sim.kubectl("describe", "hpa", "web", "-n", ns).stdout
    assert "ScalingActive" in described and "SuccessfulRescale" in described
    # kubectl top shows the synthetic usage
    sim.wait_for(lambda: "90m" in sim.kubectl("top", "pods", "-n", ns, check=False).stdout, 20, 0.5, "top pods")
    top = sim.kubectl("top", "pods", "-n", ns, "--containers").stdout
    assert top.splitlines()[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert "20Mi" in top
    assert sim.kubectl("top", "nodes").stdout.splitlines()[0].split()[:3] == ["NAME", "CPU(cores)", "CPU(%)"]
    # load stops: after the 3 s stabilization window it goes back to the minimum
    sim.kubectl("patch", "-n", ns, "deployment", "web", "-p",
                '{"spec":{"template":{"metadata":{"annotations":{"sim.kubeling.io/cpu-usage":"5m"}}}}}')
    sim.wait_for(lambda: sim.json("get", "deployment", "web", "-n", ns)["spec"]["replicas"] == 2, 60, 0.5,
                 "scale down to 2")


def test_without_metrics_keeps_replicas(sim: Cluster) -> None:
    ns = "hpa-nometrics"
    sim.kubectl("create", "namespace", ns)
    sim.kubectl("apply", "-n", ns, "-f", "-", input=(DEPLOY % "10m").replace("cpu: 100m", "memory: 10Mi"))
    sim.kubectl("autoscale", "-n", ns, "deployment", "web", "--max=5")  # the 80 % CPU default
    # first no sample at all ("no metrics returned from resource metrics API"), then samples of
    # pods without a CPU request: either way ScalingActive=False and the replicas stay
    hpa = sim.wait_for(lambda: (h := _hpa(sim, ns)) and "missing request for cpu in container c of Pod"
                       in _cond(h, "ScalingActive").get("message", "") and h, 30, 0.3, "ScalingActive=False")
    assert _cond(hpa, "ScalingActive")["status"] == "False"
    assert _cond(hpa, "ScalingActive")["reason"] == "FailedGetResourceMetric"
    reasons = json.loads(sim.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    assert "FailedGetResourceMetric" in {e["reason"] for e in reasons}
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    assert hpa["status"]["currentMetrics"] == [{"type": ""}]  # the failed metric, as upstream
    assert sim.json("get", "deployment", "web", "-n", ns)["spec"]["replicas"] == 2
    assert "cpu: <unknown>/80%" in sim.kubectl("get", "hpa", "-n", ns).stdout


def test_metrics_tables_and_not_found(sim: Cluster) -> None:
    ns = "hpa-tables"
    sim.kubectl("create", "namespace", ns)
    sim.kubectl("apply", "-n", ns, "-f", "-", input=(DEPLOY % "30m").replace("replicas: 2", "replicas: 1"))
    out = sim.wait_for(lambda: (o := sim.kubectl("get", "podmetrics", "-n", ns, check=False).stdout) and "30m" in o
                       and o, 30, 0.5, "podmetrics")
    assert out.splitlines()[0].split() == ["NAME", "CPU", "MEMORY", "WINDOW"]
    assert out.splitlines()[1].split()[1:] == ["30m", "20Mi", "1s"]
    assert sim.kubectl("get", "nodemetrics").stdout.splitlines()[0].split() == ["NAME", "CPU", "MEMORY", "WINDOW"]
    missing = sim.kubectl("top", "pod", "nope", "-n", ns, check=False)
    assert 'pods "nope" not found' in missing.stderr
    watch = sim.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods?watch=true", check=False)
    assert watch.returncode != 0
    assert "the server does not allow this method on the requested resource" in watch.stderr


def test_apiservice_name_must_be_version_dot_group(sim: Cluster) -> None:
    assert "apiservice.apiregistration.k8s.io/v1." in sim.kubectl("get", "apiservices", "-o", "name").stdout.splitlines()
    bad = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1.wrong.io"},
           "spec": {"group": "example.io", "version": "v1", "groupPriorityMinimum": 100, "versionPriority": 10}}
    r = sim.kubectl("create", "-f", "-", input=json.dumps(bad), check=False)
    assert r.returncode != 0
    assert 'metadata.name: Invalid value: "v1.wrong.io": must be `spec.version+"."+spec.group`: "v1.example.io"' in r.stderr
