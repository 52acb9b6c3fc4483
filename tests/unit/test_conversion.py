"""HPA autoscaling/v1 ⇄ v2 and Event core/v1 ⇄ events.k8s.io/v1 conversions round-trip."""

from kubeling.api.conversion import convert

HPA_V2 = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
             "minReplicas": 1, "maxReplicas": 10,
             "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                         {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}]},
    "status": {"currentReplicas": 2, "desiredReplicas": 3,
               "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 70}}}],
               "conditions": [{"type": "AbleToScale", "status": "True"}]},
}


def test_hpa_v2_to_v1_and_back() -> None:
    v1 = convert(HPA_V2, "autoscaling/v1")
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50 and "metrics" not in v1["spec"]
    assert v1["status"]["currentCPUUtilizationPercentage"] == 70
    assert "autoscaling.alpha.kubernetes.io/metrics" in v1["metadata"]["annotations"]
    back = convert(v1, "autoscaling/v2")
    assert back == HPA_V2
    assert convert(HPA_V2, "autoscaling/v2") is HPA_V2  # same version: no copy


def test_hpa_v1_without_target() -> None:
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x"},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 3}}
    v2 = convert(v1, "autoscaling/v2")
    # Convert_v1_HorizontalPodAutoscaler_To_autoscaling_...: no CPU target, no other metrics -> 80 %
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 80}}}]
    assert "annotations" not in v2["metadata"]


def test_event_conversion() -> None:
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Started", "message": "Started container x",
            "source": {"component": "kubelet"}, "count": 2, "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:00:01Z", "type": "Normal", "reportingComponent": "kubelet"}
    new = convert(core, "events.k8s.io/v1")
    assert new["regarding"] == {"kind": "Pod", "name": "p"} and new["note"] == "Started container x"
    assert new["deprecatedCount"] == 2 and new["reportingController"] == "kubelet"
    assert "involvedObject" not in new and "message" not in new
    assert convert(new, "v1") == core
