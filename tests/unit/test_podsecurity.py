"""PodSecurity levels and upstream's messages (k8s.io/pod-security-admission)."""

from __future__ import annotations

from kubeling.apiserver.plugins.podsecurity import evaluate


def pod(**container_sc) -> dict:
    c = {"name": "nginx", "image": "nginx"}
    if container_sc:
        c["securityContext"] = container_sc
    return {"metadata": {"name": "p"}, "spec": {"containers": [c]}}


def text(level: str, p: dict) -> str:
    return ", ".join(f"{r} ({d})" for r, d in evaluate(level, p))


def test_a_plain_pod_passes_baseline_and_fails_restricted_as_upstream_documents() -> None:
    assert evaluate("baseline", pod()) == []
    assert evaluate("privileged", pod(privileged=True)) == []
    assert text("restricted", pod()) == (
        'allowPrivilegeEscalation != false (container "nginx" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "nginx" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "nginx" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "nginx" must set securityContext.seccompProfile.type to "RuntimeDefault" '
        'or "Localhost")')


def test_privileged_and_host_access_fail_baseline() -> None:
    p = pod(privileged=True)
    p["spec"].update(hostNetwork=True, volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    assert text("baseline", p) == (
        'host namespaces (hostNetwork=true), hostPath volumes (volume "root"), '
        'hostPort (container "nginx" uses hostPort 8080), '
        'privileged (container "nginx" must not set securityContext.privileged=true)')
    assert 'restricted volume types (volume "root" uses restricted volume type "hostPath")' in text("restricted", p)


def test_a_compliant_pod_passes_restricted() -> None:
    p = pod(allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})
    p["spec"]["securityContext"] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    p["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}]
    assert evaluate("restricted", p) == []
    p["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = False
    assert text("restricted", p) == 'runAsNonRoot != true (container "nginx" must not set securityContext.runAsNonRoot=false)'


class _Entry:
    def __init__(self, obj: dict) -> None:
        self._obj = obj

    def obj(self) -> dict:
        return self._obj


class _Registry:
    """Only the namespace lookup PodSecurity does."""

    def __init__(self, labels: dict) -> None:
        self.store = self
        self.labels = labels

    def get(self, key: str) -> _Entry:
        return _Entry({"metadata": {"name": "ns", "labels": self.labels}})


def _admit(labels: dict, obj: dict, kind: str = "Pod") -> tuple[dict, list, str]:
    """(audit annotations, warnings, denial message) of admitting `obj`."""
    from kubeling.api.errors import StatusError
    from kubeling.api.resources import lookup
    from kubeling.apiserver.auth.user import acting
    from kubeling.identity import User
    from kubeling.apiserver.plugins.podsecurity import PodSecurity

    res = lookup("", "v1", "pods") if kind == "Pod" else lookup("apps", "v1", "deployments")
    annotations: dict = {}
    warnings: list = []
    denied = ""
    with acting(User("u", ()), None, warnings, annotations):
        try:
            PodSecurity().admit_create(_Registry(labels), res, obj, False)
        except StatusError as e:
            denied = e.message
    return annotations, warnings, denied


def test_audit_level_annotates_the_audit_event_without_warning_or_denying() -> None:
    p = {"metadata": {"name": "p", "namespace": "ns"}, **pod(privileged=True)}
    annotations, warnings, denied = _admit({"pod-security.kubernetes.io/audit": "baseline"}, p)
    assert annotations == {
        "pod-security.kubernetes.io/enforce-policy": "privileged:latest",
        "pod-security.kubernetes.io/audit-violations": 'would violate PodSecurity "baseline:latest": privileged '
                                                       '(container "nginx" must not set securityContext.privileged=true)'}
    assert warnings == [] and denied == ""
    annotations, _, _ = _admit({}, p)  # no labels: only the enforced policy is recorded
    assert annotations == {"pod-security.kubernetes.io/enforce-policy": "privileged:latest"}


def test_audit_level_annotates_a_denied_pod_and_a_workload_template() -> None:
    p = {"metadata": {"name": "p", "namespace": "ns"}, **pod(privileged=True)}
    labels = {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/audit": "baseline",
              "pod-security.kubernetes.io/audit-version": "v1.32"}
    annotations, _, denied = _admit(labels, p)
    assert denied.startswith('pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged')
    assert annotations["pod-security.kubernetes.io/enforce-policy"] == "baseline:latest"
    assert annotations["pod-security.kubernetes.io/audit-violations"].startswith(
        'would violate PodSecurity "baseline:v1.32": privileged')
    deploy = {"metadata": {"name": "d", "namespace": "ns"}, "spec": {"template": pod(privileged=True)}}
    annotations, _, _ = _admit({"pod-security.kubernetes.io/audit": "baseline"}, deploy, kind="Deployment")
    assert annotations["pod-security.kubernetes.io/audit-violations"].startswith(
        'would violate PodSecurity "baseline:latest": privileged')
    assert "pod-security.kubernetes.io/enforce-policy" not in annotations
