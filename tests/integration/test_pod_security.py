"""PodSecurity admission with the real kubectl: a `restricted` namespace rejects a privileged pod
with upstream's message and admits a compliant one."""

from __future__ import annotations

import json

from .conftest import Cluster


def test_restricted_namespace_rejects_a_privileged_pod(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
    p = cluster.kubectl("-n", ns, "run", "priv", "--image=busybox", "--privileged", check=False)
    assert p.returncode != 0  # checks in upstream's order: by check ID (capabilities_restricted < privileged)
    assert ('Error from server (Forbidden): pods "priv" is forbidden: violates PodSecurity "restricted:latest": '
            'allowPrivilegeEscalation != false (container "priv" must set securityContext.allowPrivilegeEscalation=false), '
            'unrestricted capabilities (container "priv" must set securityContext.capabilities.drop=["ALL"]), '
            'privileged (container "priv" must not set securityContext.privileged=true), '
            'runAsNonRoot != true (pod or container "priv" must set securityContext.runAsNonRoot=true), '
            'seccompProfile (pod or container "priv" must set securityContext.seccompProfile.type to "RuntimeDefault" '
            'or "Localhost")') in p.stderr
    ok = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ok"}, "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "c", "image": "busybox", "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]}}
    cluster.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(ok))
    cluster.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=baseline", "--overwrite")
    p = cluster.kubectl("-n", ns, "run", "priv", "--image=busybox", "--privileged", check=False)
    assert 'violates PodSecurity "baseline:latest": privileged (container "priv" must not set ' \
           'securityContext.privileged=true)' in p.stderr
    cluster.kubectl("-n", ns, "run", "plain", "--image=busybox")  # baseline allows a plain pod


def test_warn_level_and_workload_templates_warn(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/warn=baseline")
    p = cluster.kubectl("-n", ns, "run", "priv", "--image=busybox", "--privileged")
    assert ('Warning: would violate PodSecurity "baseline:latest": privileged (container "priv" must not set '
            'securityContext.privileged=true)') in p.stderr
    cluster.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
    p = cluster.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx")  # created, with a warning
    assert 'Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false' in p.stderr
