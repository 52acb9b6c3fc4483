"""Audit log with the real kubectl: audit.k8s.io/v1 Events as JSON lines at the policy's levels."""

from __future__ import annotations

import json
import os

from .conftest import Cluster, free_port

POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  verbs: ["get", "list", "watch"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["configmaps"]
- level: Metadata
"""


def test_audit_log_levels(tmp_path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    c = Cluster(str(tmp_path / "data"), free_port(), extra_args=("--audit-policy-file", str(policy)))
    c.start()
    try:
        c.kubectl("create", "configmap", "audited", "--from-literal=k=v")
        c.kubectl("get", "configmap", "audited")  # level None: not logged
        c.kubectl("create", "namespace", "audit-ns")
        c.kubectl("label", "namespace", "audit-ns", "pod-security.kubernetes.io/audit=restricted")
        c.kubectl("run", "rooty", "--image=busybox", "-n", "audit-ns", "--dry-run=server")
        c.kubectl("create", "secret", "generic", "s", "--from-literal=k=v", "--as=nobody", check=False)
        path = os.path.join(c.data_dir, "server", "audit.log")
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        events = [json.loads(line) for line in open(path)]
    finally:
        c.stop()
    assert not any(e["verb"] in ("get", "list", "watch") for e in events)
    # kubectl's requests: the components inside `kubeling up` are audited too (the root-CA
    # publisher's ConfigMap may be logged before kubectl's)
    events = [e for e in events if e["user"]["username"] == "kubernetes-admin"]
    cm = next(e for e in events if e.get("objectRef", {}).get("resource") == "configmaps")
    assert (cm["kind"], cm["apiVersion"], cm["level"], cm["stage"], cm["verb"]) == (
        "Event", "audit.k8s.io/v1", "RequestResponse", "ResponseComplete", "create")
    assert cm["responseStatus"]["code"] == 201
    assert cm["requestObject"]["data"] == {"k": "v"} and cm["responseObject"]["metadata"]["name"] == "audited"
    assert cm["objectRef"] == {"resource": "configmaps", "namespace": "default", "apiVersion": "v1"}
    assert cm["auditID"] and cm["requestReceivedTimestamp"] <= cm["stageTimestamp"]
    ns = next(e for e in events if e.get("objectRef", {}).get("resource") == "namespaces")
    pod = next(e for e in events if e.get("objectRef", {}).get("resource") == "pods")
    assert pod["responseStatus"]["code"] == 201  # audit never denies
    assert pod["annotations"]["pod-security.kubernetes.io/enforce-policy"] == "privileged:latest"
    assert pod["annotations"]["pod-security.kubernetes.io/audit-violations"].startswith(
        'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "rooty" '
        'must set securityContext.allowPrivilegeEscalation=false)')
    assert ns["level"] == "Metadata" and "requestObject" not in ns and "responseObject" not in ns
    denied = next(e for e in events if e.get("objectRef", {}).get("resource") == "secrets")
    assert denied["impersonatedUser"]["username"] == "nobody"
    assert denied["responseStatus"]["code"] == 403 and denied["responseStatus"]["reason"] == "Forbidden"
    assert denied["annotations"]["authorization.k8s.io/decision"] == "forbid"
