"""Defaulting: the tutorial Deployment must come out exactly like a real kube-apiserver stores it."""

from __future__ import annotations

import copy
import json

import pytest

from kubeling.api.defaults import image_pull_policy, pod_qos_class
from kubeling.api.strategy import apply_defaults, prepare_for_create, validate

SAMPLE = "/work/shared/reference/samples/deployment_nginx.json"

MY_NGINX = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {"containers": [{"image": "nginx:1.24", "name": "nginx", "ports": [{"containerPort": 80}]}]},
        },
    },
}


def defaulted(group: str, version: str, kind: str, obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    apply_defaults(group, version, kind, obj)
    return obj


def test_deployment_matches_real_apiserver_sample():
    with open(SAMPLE) as f:
        sample = json.load(f)
    d = defaulted("apps", "v1", "Deployment", MY_NGINX)
    assert d["spec"] == sample["spec"]
    assert d["status"] == {}


def test_deployment_defaults_are_idempotent():
    once = defaulted("apps", "v1", "Deployment", MY_NGINX)
    assert defaulted("apps", "v1", "Deployment", once) == once


def test_deployment_replicas_and_partial_rolling_update():
    d = defaulted("apps", "v1", "Deployment", {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}})
    assert d["spec"]["replicas"] == 1
    assert d["spec"]["strategy"] == {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}, "type": "RollingUpdate"}


def test_deployment_recreate_gets_no_rolling_update():
    d = defaulted("apps", "v1", "Deployment", {"spec": {"strategy": {"type": "Recreate"}}})
    assert d["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize(
    "image,policy",
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.24", "IfNotPresent"),
        ("localhost:5000/nginx", "Always"),
        ("localhost:5000/nginx:1.2", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("registry.k8s.io/pause:3.9", "IfNotPresent"),
    ],
)
def test_image_pull_policy(image, policy):
    assert image_pull_policy(image) == policy


def test_pod_defaults():
    pod = defaulted("", "v1", "Pod", {
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{
                "name": "c", "image": "busybox",
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                "livenessProbe": {"httpGet": {"port": 80}},
                "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 5},
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            }],
            "volumes": [{"name": "a"}, {"name": "b", "configMap": {"name": "cm"}}, {"name": "s", "secret": {"secretName": "x"}},
                        {"name": "h", "hostPath": {"path": "/tmp"}}],
        },
    })
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert c["livenessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                  "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert c["readinessProbe"]["periodSeconds"] == 5
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert spec["volumes"][0] == {"name": "a", "emptyDir": {}}
    assert spec["volumes"][1]["configMap"]["defaultMode"] == 420
    assert spec["volumes"][2]["secret"]["defaultMode"] == 420
    assert spec["volumes"][3]["hostPath"]["type"] == ""


def test_pod_template_does_not_get_enable_service_links():
    d = defaulted("apps", "v1", "Deployment", MY_NGINX)
    assert "enableServiceLinks" not in d["spec"]["template"]["spec"]


def test_host_network_defaults_host_port():
    pod = defaulted("", "v1", "Pod", {"spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "x:1", "ports": [{"containerPort": 8080}]}]}})
    assert pod["spec"]["containers"][0]["ports"][0] == {"containerPort": 8080, "protocol": "TCP", "hostPort": 8080}


def test_service_defaults():
    svc = defaulted("", "v1", "Service", {"metadata": {"name": "x"}, "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}})
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert "externalTrafficPolicy" not in spec
    assert spec["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    assert spec["ports"][1] == {"port": 53, "protocol": "UDP", "targetPort": "dns"}
    assert svc["status"] == {"loadBalancer": {}}


def test_service_nodeport_and_loadbalancer():
    np = defaulted("", "v1", "Service", {"spec": {"type": "NodePort", "ports": [{"port": 80}]}})
    assert np["spec"]["externalTrafficPolicy"] == "Cluster"
    lb = defaulted("", "v1", "Service", {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    cip = defaulted("", "v1", "Service", {"spec": {"sessionAffinity": "ClientIP"}})
    assert cip["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    ext = defaulted("", "v1", "Service", {"spec": {"type": "ExternalName", "externalName": "example.com"}})
    assert "ipFamilyPolicy" not in ext["spec"] and "internalTrafficPolicy" not in ext["spec"]
    headless = defaulted("", "v1", "Service", {"spec": {"clusterIP": "None"}})
    assert headless["spec"]["ipFamilyPolicy"] == "RequireDualStack"


def test_secret_type_and_string_data():
    s = defaulted("", "v1", "Secret", {"stringData": {"a": "hello"}, "data": {"b": "eA=="}})
    assert s["type"] == "Opaque"
    assert s["data"] == {"b": "eA==", "a": "aGVsbG8="}
    assert "stringData" not in s


def test_namespace_label_status_and_create_finalizer():
    ns = defaulted("", "v1", "Namespace", {"metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "wrong"}}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert ns["status"] == {"phase": "Active"}
    assert "finalizers" not in ns["spec"]
    prepare_for_create("", "Namespace", ns)
    assert ns["spec"]["finalizers"] == ["kubernetes"]


def test_job_defaults_and_generated_selector():
    job = defaulted("batch", "v1", "Job", {
        "metadata": {"name": "pi", "uid": "u-1"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5"}]}}},
    })
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    prepare_for_create("batch", "Job", job)
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert spec["template"]["metadata"]["labels"] == {
        "job-name": "pi", "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "u-1", "batch.kubernetes.io/controller-uid": "u-1",
    }
    assert job["metadata"]["generation"] == 1
    assert validate("batch", "v1", "Job", {**job, "metadata": {**job["metadata"], "namespace": "default"}}) == []


def test_job_parallelism_only():
    job = defaulted("batch", "v1", "Job", {"spec": {"parallelism": 3}})
    assert job["spec"]["parallelism"] == 3 and "completions" not in job["spec"]


def test_cronjob_defaults():
    cj = defaulted("batch", "v1", "CronJob", {"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}}})
    spec = cj["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"], spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == ("Allow", False, 3, 1)
    assert "backoffLimit" not in spec["jobTemplate"]["spec"]  # SetDefaults_Job is for Job objects only
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Always"


def test_hpa_v2_and_v1():
    v2 = defaulted("autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}})
    spec = v2["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    assert spec["behavior"]["scaleDown"] == {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                                             "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
    assert spec["behavior"]["scaleUp"]["policies"][0] == {"type": "Pods", "value": 4, "periodSeconds": 15}
    v1 = defaulted("autoscaling", "v1", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 3}})
    # `kubectl autoscale` without --cpu-percent: the 80 % that upstream's v1 -> v2 conversion adds
    assert v1["spec"] == {"maxReplicas": 3, "minReplicas": 1, "targetCPUUtilizationPercentage": 80}
    other = [{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1"}}}]
    v1 = defaulted("autoscaling", "v1", "HorizontalPodAutoscaler", {
        "metadata": {"annotations": {"autoscaling.alpha.kubernetes.io/metrics": json.dumps(other)}}, "spec": {"maxReplicas": 3}})
    assert "targetCPUUtilizationPercentage" not in v1["spec"]  # other metrics: no CPU default


def test_apps_other_kinds():
    ds = defaulted("apps", "v1", "DaemonSet", {"spec": {}})
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["spec"]["revisionHistoryLimit"] == 10
    sts = defaulted("apps", "v1", "StatefulSet", {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "d"}, "spec": {}}]}})
    s = sts["spec"]
    assert s["podManagementPolicy"] == "OrderedReady"
    assert s["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert s["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert (s["replicas"], s["revisionHistoryLimit"]) == (1, 10)
    assert s["volumeClaimTemplates"][0]["spec"]["volumeMode"] == "Filesystem"
    rs = defaulted("apps", "v1", "ReplicaSet", {"spec": {}})
    assert rs["spec"]["replicas"] == 1 and rs["status"] == {"replicas": 0}


def test_rbac_networking_discovery():
    rb = defaulted("rbac.authorization.k8s.io", "v1", "RoleBinding", {"roleRef": {"kind": "Role", "name": "r"},
                   "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "sa"}]})
    assert rb["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert rb["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io" and rb["subjects"][1]["apiGroup"] == ""
    np = defaulted("networking.k8s.io", "v1", "NetworkPolicy", {"spec": {"egress": [{"ports": [{"port": 53}]}]}})
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert np["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"
    es = defaulted("discovery.k8s.io", "v1", "EndpointSlice", {"ports": [{"port": 80}]})
    assert es["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]


def _pod(*resources: dict, init: tuple[dict, ...] = ()) -> dict:
    return {"spec": {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)],
                     "initContainers": [{"name": f"i{i}", "resources": r} for i, r in enumerate(init)]}}


@pytest.mark.parametrize(
    "pod,qos",
    [
        (_pod({}), "BestEffort"),
        (_pod({"requests": {"cpu": "0"}}), "BestEffort"),
        (_pod({"requests": {"nvidia.com/gpu": "1"}}), "BestEffort"),
        (_pod({"requests": {"cpu": "100m"}}), "Burstable"),
        (_pod({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}), "Guaranteed"),
        (_pod({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1024Mi"}}), "Guaranteed"),
        (_pod({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}), "Burstable"),
        (_pod({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}), "Burstable"),
        (_pod({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, {}), "Burstable"),
        (_pod({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}},
              init=({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}},)), "Guaranteed"),
    ],
)
def test_pod_qos_class(pod, qos):
    assert pod_qos_class(pod) == qos


def test_pod_create_sets_status_and_qos_after_defaulting():
    pod = defaulted("", "v1", "Pod", {"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [
        {"name": "c", "image": "x:1", "resources": {"limits": {"cpu": "1", "memory": "64Mi"}}}]}})
    prepare_for_create("", "Pod", pod)
    assert pod["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}
    assert validate("", "v1", "Pod", pod) == []
