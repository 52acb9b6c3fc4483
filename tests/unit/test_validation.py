"""Validation: upstream rules with upstream's exact messages (field.Error.Error() text)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeling.api.strategy import apply_defaults, validate
from kubeling.api.validation.field import invalid_error
from kubeling.api.validation.strict import duplicate_fields, warning_headers

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
QNAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def deployment(**spec_overrides: Any) -> dict:
    d = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}},
                         "spec": {"containers": [{"name": "nginx", "image": "nginx:1.24", "ports": [{"containerPort": 80}]}]}},
        },
    }
    d["spec"].update(spec_overrides)
    apply_defaults("apps", "v1", "Deployment", d)
    return d


def pod(**spec: Any) -> dict:
    p = {"metadata": {"name": "p", "namespace": "default"},
         "spec": {"containers": [{"name": "c", "image": "busybox:1"}], **spec}}
    apply_defaults("", "v1", "Pod", p)
    return p


def messages(group: str, version: str, kind: str, obj: dict, old: dict | None = None) -> list[str]:
    return [c["message"] for c in validate(group, version, kind, obj, old)]


def test_valid_objects_have_no_causes():
    assert validate("apps", "v1", "Deployment", deployment()) == []
    assert validate("", "v1", "Pod", pod()) == []


# ---------------------------------------------------------------------------------------------
# metadata


@pytest.mark.parametrize(
    "meta,expected",
    [
        ({"name": "Bad_Name"}, [f'metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN_MSG}']),
        ({}, ["metadata.name: Required value: name or generateName is required"]),
        ({"name": "x" * 254}, ['metadata.name: Invalid value: "' + "x" * 254 + '": must be no more than 253 characters']),
        ({"name": "ok", "generateName": "Bad-"}, [f'metadata.generateName: Invalid value: "Bad-": {SUBDOMAIN_MSG}']),
        ({"name": "ok", "labels": {"a b": "x"}}, [f'metadata.labels: Invalid value: "a b": {QNAME_MSG}']),
        ({"name": "ok", "labels": {"a": "x" * 64}},
         ['metadata.labels: Invalid value: "' + "x" * 64 + '": must be no more than 63 characters']),
        ({"name": "ok", "labels": {"a": "-x"}}, [f'metadata.labels: Invalid value: "-x": {LABEL_VALUE_MSG}']),
        ({"name": "ok", "labels": {"Example.com/a": "x"}},
         [f'metadata.labels: Invalid value: "Example.com/a": prefix part {SUBDOMAIN_MSG}']),
        ({"name": "ok", "labels": {"/a": "x"}}, ['metadata.labels: Invalid value: "/a": prefix part must be non-empty']),
        ({"name": "ok", "annotations": {"Example.com/A": "x"}}, []),  # annotation keys are checked lowercased
        ({"name": "ok", "annotations": {"a": "x" * (256 * 1024)}},
         ["metadata.annotations: Too long: may not be more than 262144 bytes"]),
        ({"name": "ok", "generation": -1}, ["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]),
    ],
)
def test_object_meta(meta, expected):
    cm = {"metadata": {"namespace": "default", **meta}}
    assert messages("", "v1", "ConfigMap", cm) == expected


def test_namespace_required_and_forbidden():
    assert messages("", "v1", "ConfigMap", {"metadata": {"name": "x"}}) == ["metadata.namespace: Required value"]
    assert messages("", "v1", "Node", {"metadata": {"name": "n", "namespace": "x"}}) == \
        ["metadata.namespace: Forbidden: not allowed on this type"]


@pytest.mark.parametrize(
    "group,kind,name,expected",
    [
        ("", "Namespace", "a.b", ['metadata.name: Invalid value: "a.b": must not contain dots']),
        ("", "Namespace", "Ab", [f'metadata.name: Invalid value: "Ab": {LABEL_MSG}']),
        ("", "Service", "1abc", [f'metadata.name: Invalid value: "1abc": {DNS1035_MSG}']),
        ("rbac.authorization.k8s.io", "ClusterRole", "system:Weird Name", []),
        ("rbac.authorization.k8s.io", "ClusterRole", "a/b", ['metadata.name: Invalid value: "a/b": may not contain \'/\'']),
        ("rbac.authorization.k8s.io", "ClusterRole", "..", ['metadata.name: Invalid value: "..": may not be \'..\'']),
    ],
)
def test_name_rules_per_kind(group, kind, name, expected):
    obj: dict = {"metadata": {"name": name}}
    if kind == "Service":
        obj = {"metadata": {"name": name, "namespace": "d"}, "spec": {"clusterIP": "None"}}
        apply_defaults("", "v1", "Service", obj)
    assert messages(group, "v1", kind, obj) == expected


def test_owner_references():
    refs = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": True},
            {"apiVersion": "", "kind": "ReplicaSet", "name": "", "uid": "", "controller": True}]
    msgs = messages("", "v1", "ConfigMap", {"metadata": {"name": "x", "namespace": "d", "ownerReferences": refs}})
    assert msgs[:3] == [
        'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
        'metadata.ownerReferences.name: Invalid value: "": must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
    ]
    assert msgs[3].endswith(
        'Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/a and ReplicaSet/')


# ---------------------------------------------------------------------------------------------
# Deployment / ReplicaSet / DaemonSet / StatefulSet


def test_deployment_without_selector():
    d = deployment()
    del d["spec"]["selector"]
    assert messages("apps", "v1", "Deployment", d) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"nginx"}: `selector` does not match template `labels`',
    ]


@pytest.mark.parametrize(
    "overrides,expected",
    [
        ({"selector": {"matchLabels": {"app": "x"}}},
         ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"nginx"}: `selector` does not match template `labels`']),
        ({"selector": {"matchLabels": {}}},
         ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, "
          "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]),
        ({"replicas": -1}, ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
        ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}},
         ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: '
          "may not be 0 when `maxSurge` is 0"]),
        ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "0%"}}},
         ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"0%"}: '
          "may not be 0 when `maxSurge` is 0"]),
        ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "110%"}}},
         ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"110%"}: '
          "must not be greater than 100%"]),
        ({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "x", "maxUnavailable": 1}}},
         ['spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"x"}: '
          "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', "
          "regex used for validation is '[0-9]+%')"]),
        ({"strategy": {"type": "Recreate", "rollingUpdate": {}}},
         ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]),
        ({"strategy": {"type": "Blue"}},
         ['spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"Blue", '
          'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate"']),
        ({"progressDeadlineSeconds": 5, "minReadySeconds": 10},
         ["spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"]),
        ({"revisionHistoryLimit": -2}, ["spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0"]),
    ],
)
def test_deployment_spec_rules(overrides, expected):
    d = deployment(**overrides)
    assert messages("apps", "v1", "Deployment", d) == expected


def test_deployment_template_restart_policy():
    d = deployment()
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert messages("apps", "v1", "Deployment", d) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']


def test_deployment_selector_is_immutable():
    old = deployment()
    new = deployment(selector={"matchLabels": {"app": "nginx2"}})
    new["spec"]["template"]["metadata"]["labels"] = {"app": "nginx2"}
    assert messages("apps", "v1", "Deployment", new, old) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"nginx2"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]


def test_deployment_update_allows_image_and_replicas():
    old = deployment()
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.25"
    assert validate("apps", "v1", "Deployment", new, old) == []


def test_metadata_identity_immutable_on_update():
    old = deployment()
    old["metadata"]["uid"] = "u1"
    new = copy.deepcopy(old)
    new["metadata"]["uid"] = "u2"
    new["metadata"]["name"] = "other"
    assert messages("apps", "v1", "Deployment", new, old) == [
        'metadata.name: Invalid value: "other": field is immutable',
        'metadata.uid: Invalid value: "u2": field is immutable',
    ]


def test_selector_match_expressions():
    d = deployment(selector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["nginx"]}]})
    assert validate("apps", "v1", "Deployment", d) == []
    d = deployment(selector={"matchExpressions": [{"key": "app", "operator": "In"}]})
    assert messages("apps", "v1", "Deployment", d)[0] == \
        "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"


def test_replicaset_daemonset_statefulset():
    tpl = deployment()["spec"]["template"]
    rs = {"metadata": {"name": "r", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"app": "nginx"}}, "template": tpl}}
    apply_defaults("apps", "v1", "ReplicaSet", rs)
    assert validate("apps", "v1", "ReplicaSet", rs) == []
    ds = copy.deepcopy(rs)
    apply_defaults("apps", "v1", "DaemonSet", ds)
    ds["spec"]["selector"] = {}
    assert messages("apps", "v1", "DaemonSet", ds)[0] == (
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for daemonset")
    sts = copy.deepcopy(rs)
    apply_defaults("apps", "v1", "StatefulSet", sts)
    assert validate("apps", "v1", "StatefulSet", sts) == []
    new = copy.deepcopy(sts)
    new["spec"]["serviceName"] = "changed"
    assert messages("apps", "v1", "StatefulSet", new, sts) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]


def test_statefulset_volume_mount_may_name_a_claim_template():
    """The documentation's `web` StatefulSet: the mount names a volumeClaimTemplate, not a volume."""
    sts = {"metadata": {"name": "web", "namespace": "d"}, "spec": {
        "selector": {"matchLabels": {"app": "nginx"}}, "serviceName": "nginx",
        "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [
            {"name": "nginx", "image": "nginx",
             "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}]}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}
    apply_defaults("apps", "v1", "StatefulSet", sts)
    assert validate("apps", "v1", "StatefulSet", sts) == []
    sts["spec"]["template"]["spec"].update(restartPolicy="Never", activeDeadlineSeconds=5)
    assert messages("apps", "v1", "StatefulSet", sts) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
        "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported"]


# ---------------------------------------------------------------------------------------------
# Pod spec


def _pod_with_container(**container: Any) -> dict:
    p = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": "busybox:1", **container}]}}
    apply_defaults("", "v1", "Pod", p)
    return p


@pytest.mark.parametrize(
    "container,expected",
    [
        ({"name": ""}, ["spec.containers[0].name: Required value"]),
        ({"name": "C_1"}, [f'spec.containers[0].name: Invalid value: "C_1": {LABEL_MSG}']),
        ({"image": ""}, ["spec.containers[0].image: Required value"]),
        ({"ports": [{"containerPort": 70000}]},
         ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
        ({"ports": [{"containerPort": 80, "protocol": "HTTP"}]},
         ['spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']),
        ({"ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]},
         ['spec.containers[0].ports[1].name: Duplicate value: "http"']),
        ({"ports": [{"containerPort": 80, "name": "a-very-long-port-name"}]},
         ['spec.containers[0].ports[0].name: Invalid value: "a-very-long-port-name": must be no more than 15 characters']),
        ({"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
         ['spec.containers[0].volumeMounts[0].name: Not found: "data"']),
        ({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}},
         ['spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1']),
        ({"resources": {"requests": {"memory": "-1Mi"}}},
         ['spec.containers[0].resources.requests[memory]: Invalid value: "-1Mi": must be greater than or equal to 0']),
        ({"livenessProbe": {"periodSeconds": 1}},
         ["spec.containers[0].livenessProbe: Required value: must specify a handler type"]),
        ({"readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}},
         ["spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"]),
        ({"livenessProbe": {"exec": {"command": ["true"]}, "successThreshold": 2}},
         ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"]),
        ({"startupProbe": {"exec": {"command": ["true"]}, "successThreshold": 3}},
         ["spec.containers[0].startupProbe.successThreshold: Invalid value: 3: must be 1"]),
        ({"livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": -1, "failureThreshold": -2}},
         ["spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
          "spec.containers[0].livenessProbe.failureThreshold: Invalid value: -2: must be greater than or equal to 0"]),
        ({"readinessProbe": {"tcpSocket": {"port": 80}, "terminationGracePeriodSeconds": 5}},
         ["spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: "
          "must not be set for readinessProbes"]),
        ({"livenessProbe": {"tcpSocket": {"port": 80}, "terminationGracePeriodSeconds": 0}},
         ["spec.containers[0].livenessProbe.terminationGracePeriodSeconds: Invalid value: 0: must be greater than 0"]),
        ({"imagePullPolicy": "Sometimes"},
         ['spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"']),
    ],
)
def test_container_rules(container, expected):
    assert messages("", "v1", "Pod", _pod_with_container(**container)) == expected


def test_sidecar_probes_are_validated():
    sidecar = {"name": "side", "image": "x:1", "restartPolicy": "Always",
               "livenessProbe": {"exec": {"command": ["true"]}, "successThreshold": 2}}
    assert messages("", "v1", "Pod", pod(initContainers=[sidecar])) == [
        "spec.initContainers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"]


def test_pod_spec_rules():
    assert messages("", "v1", "Pod", pod(containers=[])) == ["spec.containers: Required value"]
    assert messages("", "v1", "Pod", pod(restartPolicy="Sometimes")) == [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']
    two = pod(containers=[{"name": "c", "image": "x:1"}, {"name": "c", "image": "y:1"}])
    assert messages("", "v1", "Pod", two) == ['spec.containers[1].name: Duplicate value: "c"']
    vols = pod(volumes=[{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}])
    assert messages("", "v1", "Pod", vols) == ['spec.volumes[1].name: Duplicate value: "v"']
    both = pod(volumes=[{"name": "v", "emptyDir": {}, "configMap": {"name": "x"}}])
    assert messages("", "v1", "Pod", both) == ["spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type"]
    mounted = pod(volumes=[{"name": "v", "emptyDir": {}}],
                  containers=[{"name": "c", "image": "x:1", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}])
    assert validate("", "v1", "Pod", mounted) == []


def test_pod_update_forbidden_fields():
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "busybox:2"
    new["spec"]["activeDeadlineSeconds"] = 30
    assert validate("", "v1", "Pod", new, old) == []
    bad = copy.deepcopy(old)
    bad["spec"]["restartPolicy"] = "Never"
    (cause,) = validate("", "v1", "Pod", bad, old)
    assert cause["reason"] == "FieldValueForbidden" and cause["field"] == "spec"
    assert cause["message"].startswith(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n")
    assert "spec.restartPolicy" in cause["message"]


def test_pod_update_tolerations_only_additions():
    old = pod(tolerations=[{"key": "a", "operator": "Exists"}])
    new = copy.deepcopy(old)
    new["spec"]["tolerations"].append({"key": "b", "operator": "Exists"})
    assert validate("", "v1", "Pod", new, old) == []
    new["spec"]["tolerations"] = [{"key": "b", "operator": "Exists"}]
    assert messages("", "v1", "Pod", new, old) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]


# ---------------------------------------------------------------------------------------------
# Service


def service(**spec: Any) -> dict:
    s = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}, **spec}}
    apply_defaults("", "v1", "Service", s)
    return s


@pytest.mark.parametrize(
    "spec,expected",
    [
        ({"ports": [{"port": 80}]}, []),
        ({}, ["spec.ports: Required value"]),
        ({"clusterIP": "None"}, []),
        ({"ports": [{"port": 0}]}, ["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                                     "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"]),
        ({"ports": [{"port": 80}, {"port": 81}]}, ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]),
        ({"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]}, ['spec.ports[1].name: Duplicate value: "a"']),
        ({"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]},
         ['spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, '
          'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}']),
        ({"type": "Magic", "ports": [{"port": 80}]},
         ['spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']),
        ({"ports": [{"port": 80, "nodePort": 30001}]},
         ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
        ({"ports": [{"port": 80, "targetPort": "HTTP"}]},
         ['spec.ports[0].targetPort: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)']),
        ({"type": "ExternalName"}, ["spec.externalName: Required value"]),
        ({"type": "NodePort", "clusterIP": "None", "ports": [{"port": 80}]},
         ['spec.clusterIPs[0]: Invalid value: "None": may not be set to \'None\' for NodePort services']),
    ],
)
def test_service_rules(spec, expected):
    assert messages("", "v1", "Service", service(**spec)) == expected


def test_service_cluster_ip_immutable():
    old = service(ports=[{"port": 80}], clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"])
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.11"
    new["spec"]["clusterIPs"] = ["10.96.0.11"]
    assert messages("", "v1", "Service", new, old) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set']


# ---------------------------------------------------------------------------------------------
# ConfigMap / Secret / Namespace / Job / HPA / Lease / Event / RBAC


def test_config_map_keys_size_and_immutability():
    cm = {"metadata": {"name": "c", "namespace": "d"}, "data": {"a b": "x", "..x": "y"}}
    assert messages("", "v1", "ConfigMap", cm) == [
        "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
        "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        "data[..x]: Invalid value: \"..x\": must not start with '..'",
    ]
    big = {"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "x" * (1024 * 1024 + 1)}}
    assert messages("", "v1", "ConfigMap", big) == ["[]: Too long: may not be more than 1048576 bytes"]
    old = {"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}, "immutable": True}
    new = {**old, "data": {"a": "2"}}
    assert messages("", "v1", "ConfigMap", new, old) == ["data: Forbidden: field is immutable when `immutable` is set"]
    assert messages("", "v1", "ConfigMap", {**old, "immutable": False}, old) == [
        "immutable: Forbidden: field is immutable when `immutable` is set"]


def test_secret_rules():
    s = {"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}
    assert messages("", "v1", "Secret", s) == ["data[tls.key]: Required value"]
    old = {"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque"}
    assert messages("", "v1", "Secret", {**old, "type": "foo"}, old) == ['type: Invalid value: "foo": field is immutable']


def test_job_template_restart_policy_and_immutability():
    job = {"metadata": {"name": "j", "namespace": "d", "uid": "u"},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}}}
    apply_defaults("batch", "v1", "Job", job)
    assert messages("batch", "v1", "Job", job) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"']
    job["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    job["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}
    job["spec"]["template"]["metadata"]["labels"] = {"batch.kubernetes.io/controller-uid": "u"}
    assert validate("batch", "v1", "Job", job) == []
    new = copy.deepcopy(job)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "x:2"
    assert messages("batch", "v1", "Job", new, job) == ["spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"]


def test_hpa_rules():
    hpa = {"metadata": {"name": "h", "namespace": "d"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 5, "maxReplicas": 2}}
    assert messages("autoscaling", "v2", "HorizontalPodAutoscaler", hpa) == [
        "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"]
    hpa["spec"].update(minReplicas=0, maxReplicas=0, scaleTargetRef={})
    assert messages("autoscaling", "v1", "HorizontalPodAutoscaler", hpa) == [
        "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
        "spec.maxReplicas: Invalid value: 0: must be greater than 0",
        "spec.scaleTargetRef.kind: Required value",
        "spec.scaleTargetRef.name: Required value",
    ]


def test_lease_event_namespace_rbac():
    lease = {"metadata": {"name": "l", "namespace": "kube-node-lease"}, "spec": {"leaseDurationSeconds": 0}}
    assert messages("coordination.k8s.io", "v1", "Lease", lease) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
    ev = {"metadata": {"name": "e.1", "namespace": "default"}, "involvedObject": {"kind": "Pod", "namespace": "other"}}
    assert messages("", "v1", "Event", ev) == ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']
    ev["involvedObject"]["namespace"] = "default"
    assert validate("", "v1", "Event", ev) == []
    ns = {"metadata": {"name": "x"}, "spec": {"finalizers": ["foo"]}}
    assert messages("", "v1", "Namespace", ns) == [
        'spec.finalizers: Invalid value: "foo": name is neither a standard finalizer name nor is it fully qualified']
    rb = {"metadata": {"name": "b", "namespace": "d"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Pod", "name": "r"},
          "subjects": [{"kind": "ServiceAccount", "name": "default"}]}
    assert messages("rbac.authorization.k8s.io", "v1", "RoleBinding", rb) == [
        'roleRef.kind: Unsupported value: "Pod": supported values: "Role", "ClusterRole"']
    role = {"metadata": {"name": "r", "namespace": "d"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]}
    assert messages("rbac.authorization.k8s.io", "v1", "Role", role) == [
        "rules[0].verbs: Required value: verbs must contain at least one value"]
    old = {**rb, "roleRef": {**rb["roleRef"], "kind": "Role"}}
    new = {**rb, "roleRef": {**rb["roleRef"], "kind": "ClusterRole"}}
    assert messages("rbac.authorization.k8s.io", "v1", "RoleBinding", new, old) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"r"}: cannot change roleRef']


# ---------------------------------------------------------------------------------------------
# Status errors, strict field validation


def test_invalid_error_matches_upstream_status():
    d = deployment()
    del d["spec"]["selector"]
    err = invalid_error("Deployment", "nginx", "apps", validate("apps", "v1", "Deployment", d))
    st = err.status()
    assert st["code"] == 422 and st["reason"] == "Invalid"
    assert st["message"] == (
        'Deployment.apps "nginx" is invalid: [spec.selector: Required value, spec.template.metadata.labels: '
        'Invalid value: map[string]string{"app":"nginx"}: `selector` does not match template `labels`]')
    assert st["details"]["causes"][0] == {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"}


def test_duplicate_fields():
    raw = b'{"spec":{"replicas":1,"replicas":2,"template":{"spec":{"containers":[{"name":"a","name":"b"}]}}},"kind":"x","kind":"y"}'
    assert duplicate_fields(raw) == [
        'duplicate field "kind"',
        'duplicate field "spec.replicas"',
        'duplicate field "spec.template.spec.containers[0].name"',
    ]
    assert duplicate_fields(b"not json") == []
