"""ValidatingAdmissionPolicy with the real kubectl: upstream's docs example (replicas <= 5 for
Deployments in namespaces labelled environment=test), params, Warn and Audit actions, DELETE,
compile errors as 422, and the printer columns."""

from __future__ import annotations

import json
import os

import pytest

from .conftest import Cluster, free_port

POLICY = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: demo-policy.example.com}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["deployments"]}
  validations:
  - expression: "object.spec.replicas <= 5"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: demo-binding-test.example.com}
spec:
  policyName: demo-policy.example.com
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {environment: test}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: max-keys}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE", "DELETE"], resources: ["configmaps"]}
    excludeResourceRules:
    - {apiGroups: [""], apiVersions: ["v1"], operations: ["*"], resources: ["configmaps"], resourceNames: ["limits"]}
  matchConditions:
  - {name: not-skipped, expression: "!(object != null ? object : oldObject).metadata.name.startsWith('skip-')"}
  variables:
  - {name: keys, expression: "object == null ? 0 : size(object.data)"}
  validations:
  - expression: "variables.keys <= int(params.data.max)"
    messageExpression: "'at most ' + params.data.max + ' keys, not ' + string(variables.keys)"
    reason: Forbidden
  - expression: >-
      request.operation != 'DELETE' || !has(oldObject.metadata.labels) || !('keep' in oldObject.metadata.labels)
      || oldObject.metadata.labels.keep != 'yes'
    message: "kept objects are not deleted"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: max-keys-binding}
spec:
  policyName: max-keys
  validationActions: [Deny]
  paramRef: {name: limits, namespace: default, parameterNotFoundAction: Deny}
  matchResources:
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: default}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: no-latest}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}
  validations:
  - expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))"
    message: "images must be pinned"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: no-latest-warn}
spec:
  policyName: no-latest
  validationActions: [Warn, Audit]
"""

AUDIT = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  verbs: [create]\n"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Cluster:
    d = tmp_path_factory.mktemp("vap")
    (d / "audit.yaml").write_text(AUDIT)
    c = Cluster(str(d / "data"), free_port(), extra_args=("--audit-policy-file", str(d / "audit.yaml")))
    c.start()
    c.kubectl("create", "namespace", "t1")
    c.kubectl("label", "namespace", "t1", "environment=test")
    c.kubectl("apply", "-f", "-", input=POLICY)
    yield c
    c.stop()


def test_the_upstream_docs_example_denies_with_upstreams_message(cluster: Cluster) -> None:
    p = cluster.kubectl("create", "deployment", "big", "--image=nginx", "--replicas=7", "-n", "t1", check=False)
    assert p.returncode != 0
    assert ('deployments.apps "big" is forbidden: ValidatingAdmissionPolicy \'demo-policy.example.com\' with binding '
            "'demo-binding-test.example.com' denied request: failed expression: object.spec.replicas <= 5") in p.stderr
    cluster.kubectl("create", "deployment", "small", "--image=nginx", "--replicas=2", "-n", "t1")
    p = cluster.kubectl("patch", "deployment", "small", "-n", "t1", "-p", '{"spec":{"replicas":6}}', check=False)
    assert p.returncode != 0 and "denied request: failed expression" in p.stderr  # updates too
    cluster.kubectl("create", "deployment", "big", "--image=nginx", "--replicas=7")  # default: not bound there
    out = cluster.kubectl("get", "validatingadmissionpolicies", "demo-policy.example.com").stdout.split()
    assert out[:8] == ["NAME", "VALIDATIONS", "PARAMKIND", "AGE", "demo-policy.example.com", "1", "<unset>"] + out[7:8]
    out = cluster.kubectl("get", "validatingadmissionpolicybinding", "max-keys-binding").stdout.split()
    assert out[4:7] == ["max-keys-binding", "max-keys", "default/limits"]


def test_params_variables_message_expression_and_reason(cluster: Cluster) -> None:
    p = cluster.kubectl("create", "configmap", "c1", "--from-literal=a=1", check=False)
    assert "failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction" \
        in p.stderr
    cluster.kubectl("create", "configmap", "limits", "--from-literal=max=2")  # excluded by name
    cluster.kubectl("create", "configmap", "c1", "--from-literal=a=1", "--from-literal=b=2")
    p = cluster.kubectl("create", "-f", "-", "--dry-run=server", check=False, input=json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c2"}, "data": {"a": "1", "b": "2", "c": "3"}}))
    assert "Error from server (Forbidden)" in p.stderr  # the validation's reason
    assert "with binding 'max-keys-binding' denied request: at most 2 keys, not 3" in p.stderr
    cluster.kubectl("create", "configmap", "skip-c2", "--from-literal=a=1", "--from-literal=b=2",
                    "--from-literal=c=3")  # its matchConditions are false


def test_delete_is_validated_with_old_object(cluster: Cluster) -> None:
    cluster.kubectl("create", "configmap", "limits", "--from-literal=max=2", check=False)
    cluster.kubectl("create", "configmap", "kept", "--from-literal=a=1")
    cluster.kubectl("label", "configmap", "kept", "keep=yes")
    p = cluster.kubectl("delete", "configmap", "kept", check=False)
    assert p.returncode != 0  # upstream's kubectl text of an Invalid without a field:
    assert ('The configmaps "kept" is invalid: : ValidatingAdmissionPolicy \'max-keys\' with binding '
            "'max-keys-binding' denied request: kept objects are not deleted") in p.stderr
    cluster.kubectl("label", "configmap", "kept", "keep-")
    cluster.kubectl("delete", "configmap", "kept")


def test_warn_and_audit_actions_admit_the_request(cluster: Cluster) -> None:
    p = cluster.kubectl("run", "latest", "--image=nginx:latest", "-n", "t1")
    assert ("Warning: Validation failed for ValidatingAdmissionPolicy 'no-latest' with binding 'no-latest-warn': "
            "images must be pinned") in p.stderr
    events = [json.loads(line) for line in open(os.path.join(cluster.data_dir, "server", "audit.log"))]
    ev = next(e for e in events if e.get("objectRef", {}).get("resource") == "pods" and e["verb"] == "create"
              and e["user"]["username"] == "kubernetes-admin")  # not the ReplicaSet controller's
    failure = json.loads(ev["annotations"]["validation.policy.admission.k8s.io/validation_failure"])
    assert failure == [{"message": "images must be pinned", "policy": "no-latest", "binding": "no-latest-warn",
                        "expressionIndex": 0, "validationActions": ["Warn", "Audit"]}]


def test_policies_that_do_not_compile_are_invalid(cluster: Cluster) -> None:
    p = cluster.kubectl("apply", "-f", "-", check=False, input="""apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: bad}
spec:
  matchConstraints: {resourceRules: [{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}]}
  validations: [{expression: "object.spec == nosuch"}]
""")
    assert ('The ValidatingAdmissionPolicy "bad" is invalid: spec.validations[0].expression: Invalid value: '
            '"object.spec == nosuch": compilation failed: ERROR: <input>:1:16: undeclared reference to \'nosuch\' '
            "(in container '')") in p.stderr
    p = cluster.kubectl("apply", "-f", "-", check=False, input="""apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: both}
spec: {policyName: x, validationActions: [Deny, Warn]}
""")
    assert "spec.validationActions: Invalid value" in p.stderr and "must not contain both Deny and Warn" in p.stderr


def test_the_authorizer_variable_checks_the_requests_user(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "authz")
    cluster.kubectl("create", "role", "cm-writer", "--verb=create,get", "--resource=configmaps", "-n", "authz")
    cluster.kubectl("create", "rolebinding", "alice", "--role=cm-writer", "--user=alice", "-n", "authz")
    cluster.kubectl("apply", "-f", "-", input="""apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: secret-readers-only}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"]}]
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: authz}}
  validations:
  - expression: "authorizer.group('').resource('secrets').namespace(request.namespace).check('list').allowed()"
    message: "only those who may list secrets create configmaps here"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: secret-readers-only}
spec: {policyName: secret-readers-only, validationActions: [Deny]}
""")
    cluster.kubectl("create", "configmap", "by-admin", "-n", "authz")
    p = cluster.kubectl("create", "configmap", "by-alice", "-n", "authz", "--as=alice", check=False)
    assert "denied request: only those who may list secrets create configmaps here" in p.stderr, p.stderr
