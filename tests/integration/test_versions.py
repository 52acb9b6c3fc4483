"""One object, several API versions: HPAs in autoscaling/v1 and v2, Events in core/v1 and
events.k8s.io/v1, read and written through either."""

from __future__ import annotations

from .conftest import Cluster

HPA_V1 = """
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 5
  targetCPUUtilizationPercentage: 60
"""


def test_hpa_written_in_v1_read_in_v2(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=HPA_V1)
    v2 = cluster.json("get", "-n", ns, "horizontalpodautoscalers.v2.autoscaling", "web")
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]
    v1 = cluster.json("get", "-n", ns, "horizontalpodautoscalers.v1.autoscaling", "web")
    assert v1["apiVersion"] == "autoscaling/v1" and v1["spec"]["targetCPUUtilizationPercentage"] == 60
    out = cluster.kubectl("get", "-n", ns, "hpa", "web").stdout.splitlines()
    assert out[0].split()[:3] == ["NAME", "REFERENCE", "TARGETS"] and "Deployment/web" in out[1]
    # kubectl autoscale writes v2; the v1 view shows the same target
    cluster.kubectl("create", "-n", ns, "deployment", "api", "--image=nginx:1.14.2")
    cluster.kubectl("autoscale", "-n", ns, "deployment", "api", "--min=2", "--max=4", "--cpu-percent=70")
    v1 = cluster.json("get", "-n", ns, "horizontalpodautoscalers.v1.autoscaling", "api")
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 70 and v1["spec"]["minReplicas"] == 2


def test_events_in_both_groups(cluster: Cluster, ns: str) -> None:
    ev = f"""
apiVersion: v1
kind: Event
metadata: {{name: e1}}
involvedObject: {{kind: Pod, name: p, namespace: {ns}}}
reason: Testing
message: hello from core
type: Normal
source: {{component: test}}
"""
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=ev)
    new = cluster.json("get", "-n", ns, "events.v1.events.k8s.io", "e1")
    assert new["apiVersion"] == "events.k8s.io/v1" and new["note"] == "hello from core"
    assert new["regarding"]["name"] == "p"
    core = cluster.json("get", "-n", ns, "events.v1.", "e1")
    assert core["message"] == "hello from core"
