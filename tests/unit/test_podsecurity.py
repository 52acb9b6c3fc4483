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
