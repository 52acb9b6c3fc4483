"""Services, endpoints, service accounts and pod admission, driven by the real kubectl."""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile

import pytest
import yaml

from .conftest import Cluster, free_port, manifest

pytestmark = pytest.mark.integration

CIDR = ipaddress.ip_network("10.96.0.0/12")


def pod_manifest(name: str, labels: dict[str, str], ports: list[dict] | None = None) -> str:
    c = {"name": "nginx", "image": "nginx:1.14.2"}
    if ports:
        c["ports"] = ports
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
                       "spec": {"containers": [c]}})


def set_status(cluster: Cluster, ns: str, pod: str, ip: str, ready: bool) -> None:
    status = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
              "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                              "lastTransitionTime": "2025-01-01T00:00:00Z"}]}
    cluster.kubectl("patch", "pod", pod, "-n", ns, "--subresource=status", "--type=merge",
                    "-p", json.dumps({"status": status}))


def test_kubernetes_service(cluster: Cluster) -> None:
    out = cluster.kubectl("get", "svc", "kubernetes", "-n", "default").stdout
    assert "10.96.0.1" in out and "443/TCP" in out and "ClusterIP" in out
    ep = cluster.json("get", "endpoints", "kubernetes", "-n", "default")
    assert ep["subsets"][0]["ports"] == [{"name": "https", "port": cluster.port, "protocol": "TCP"}]
    sl = cluster.json("get", "endpointslice", "kubernetes", "-n", "default")
    assert sl["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
    assert sl["endpoints"][0]["conditions"] == {"ready": True}


def test_node_port_service_allocation(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", manifest("my_service.yaml"))
    svc = cluster.json("get", "svc", "my-nginx", "-n", ns)
    ip = svc["spec"]["clusterIP"]
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert ipaddress.ip_address(ip) in CIDR and svc["spec"]["clusterIPs"] == [ip]
    assert svc["spec"]["ipFamilies"] == ["IPv4"] and svc["spec"]["ipFamilyPolicy"] == "SingleStack"
    assert 30000 <= node_port <= 32767
    header, row = cluster.kubectl("get", "svc", "my-nginx", "-n", ns).stdout.splitlines()
    assert header.split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert row.split()[:5] == ["my-nginx", "NodePort", ip, "<none>", f"8080:{node_port}/TCP"]
    # re-applying the same manifest keeps what was allocated
    cluster.kubectl("apply", "-n", ns, "-f", manifest("my_service.yaml"))
    again = cluster.json("get", "svc", "my-nginx", "-n", ns)
    assert again["spec"]["clusterIP"] == ip and again["spec"]["ports"][0]["nodePort"] == node_port
    # a taken node port and a taken / foreign cluster IP are 422s with upstream's messages
    p = cluster.kubectl("create", "service", "nodeport", "dup", "-n", ns, "--tcp=80:80",
                        f"--node-port={node_port}", check=False)
    assert p.returncode != 0
    assert (f'Service "dup" is invalid: spec.ports[0].nodePort: Invalid value: {node_port}: '
            f'provided port is already allocated') in p.stderr
    p = cluster.kubectl("create", "service", "clusterip", "dup2", "-n", ns, "--tcp=80:80", f"--clusterip={ip}",
                        check=False)
    assert (f'spec.clusterIPs: Invalid value: []string{{"{ip}"}}: failed to allocate IP {ip}: '
            f'provided IP is already allocated') in p.stderr
    p = cluster.kubectl("create", "service", "nodeport", "low", "-n", ns, "--tcp=80:80", "--node-port=80",
                        check=False)
    assert "provided port is not in the valid range. The range of valid ports is 30000-32767" in p.stderr
    # deleting releases: the node port can be taken by another service
    cluster.kubectl("delete", "svc", "my-nginx", "-n", ns)
    cluster.kubectl("create", "service", "nodeport", "reuse", "-n", ns, "--tcp=80:80", f"--node-port={node_port}")


def test_endpoints_follow_pod_readiness(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-n", ns, "-f", manifest("my_service.yaml"))
    ips = {"web-0": "10.244.0.5", "web-1": "10.244.0.6", "web-2": "10.244.0.7"}
    for name in ips:
        cluster.kubectl("apply", "-n", ns, "-f", "-", input=pod_manifest(name, {"run": "my-nginx"}))
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=pod_manifest("other", {"run": "other"}))
    for name, ip in ips.items():
        set_status(cluster, ns, name, ip, ready=True)
    set_status(cluster, ns, "other", "10.244.0.9", ready=True)

    def described() -> str | None:
        out = cluster.kubectl("describe", "svc", "my-nginx", "-n", ns).stdout
        line = next((ln for ln in out.splitlines() if ln.startswith("Endpoints:")), "")
        return line if "10.244.0.5:80,10.244.0.6:80,10.244.0.7:80" in line else None

    cluster.wait_for(described, what="describe svc endpoints")
    ep = cluster.json("get", "endpoints", "my-nginx", "-n", ns)
    (subset,) = ep["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == list(ips.values())
    assert subset["addresses"][0]["targetRef"]["kind"] == "Pod" and subset["addresses"][0]["targetRef"]["name"] == "web-0"
    assert subset["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
    assert "endpoints.kubernetes.io/last-change-trigger-time" in ep["metadata"]["annotations"]

    def slice_ready() -> dict | None:
        items = cluster.json("get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=my-nginx")["items"]
        if len(items) == 1 and len(items[0].get("endpoints") or []) == 3:
            return items[0]
        return None

    sl = cluster.wait_for(slice_ready, what="endpointslice")
    assert sl["metadata"]["name"].startswith("my-nginx-") and len(sl["metadata"]["name"]) == len("my-nginx-") + 5
    assert sl["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert sl["addressType"] == "IPv4" and sl["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
    assert sl["endpoints"][0]["conditions"] == {"ready": True, "serving": True, "terminating": False}

    # a pod that stops being ready moves to notReadyAddresses (and ready: false in the slice)
    set_status(cluster, ns, "web-1", ips["web-1"], ready=False)

    def not_ready() -> dict | None:
        e = cluster.json("get", "endpoints", "my-nginx", "-n", ns)["subsets"][0]
        return e if [a["ip"] for a in e.get("notReadyAddresses", [])] == ["10.244.0.6"] else None

    sub = cluster.wait_for(not_ready, what="notReadyAddresses")
    assert [a["ip"] for a in sub["addresses"]] == ["10.244.0.5", "10.244.0.7"]
    cluster.wait_for(lambda: any(e["addresses"] == ["10.244.0.6"] and e["conditions"]["ready"] is False
                                 for e in (slice_ready() or {}).get("endpoints", [])), what="slice not ready")


def test_named_target_port_and_publish_not_ready(cluster: Cluster, ns: str) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "named"},
           "spec": {"selector": {"app": "named"}, "publishNotReadyAddresses": True,
                    "ports": [{"name": "web", "port": 80, "targetPort": "http-alt"}]}}
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(svc))
    cluster.kubectl("apply", "-n", ns, "-f", "-",
                    input=pod_manifest("p", {"app": "named"}, [{"name": "http-alt", "containerPort": 8080}]))
    set_status(cluster, ns, "p", "10.244.1.3", ready=False)

    def subset() -> dict | None:
        subs = cluster.json("get", "endpoints", "named", "-n", ns).get("subsets") or []
        return subs[0] if subs else None

    sub = cluster.wait_for(subset, what="endpoints for named port")
    assert [a["ip"] for a in sub["addresses"]] == ["10.244.1.3"]  # published although not ready
    assert sub["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]


def test_selectorless_service_gets_no_endpoints(cluster: Cluster, ns: str) -> None:
    manual = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "manual"}, "spec": {"ports": [{"port": 80}]}}
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(manual))
    cluster.kubectl("create", "service", "clusterip", "probe", "-n", ns, "--tcp=80:80")
    cluster.wait_for(lambda: cluster.kubectl("get", "endpoints", "probe", "-n", ns, check=False).returncode == 0,
                     what="probe endpoints")
    p = cluster.kubectl("get", "endpoints", "manual", "-n", ns, check=False)
    assert p.returncode != 0 and "NotFound" in p.stderr


def test_pod_admission(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("run", "adm", "-n", ns, "--image=nginx")
    pod = cluster.json("get", "pod", "adm", "-n", ns)
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert spec["enableServiceLinks"] is True
    (vol,) = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert len(vol["name"]) == len("kube-api-access-") + 5
    assert vol["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": vol["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
    assert spec["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
    out = cluster.kubectl("describe", "pod", "adm", "-n", ns).stdout
    assert "node.kubernetes.io/not-ready:NoExecute op=Exists for 300s" in out
    assert "node.kubernetes.io/unreachable:NoExecute op=Exists for 300s" in out
    assert "/var/run/secrets/kubernetes.io/serviceaccount from kube-api-access-" in out
    # a missing (non-default) service account is refused, as upstream's admission does
    p = cluster.kubectl("run", "nosa", "-n", ns, "--image=nginx", "--overrides",
                        '{"spec":{"serviceAccountName":"ghost"}}', check=False)
    assert p.returncode != 0
    assert (f'pods "nosa" is forbidden: error looking up service account {ns}/ghost: '
            f'serviceaccount "ghost" not found') in p.stderr
    # automount off: no volume
    cluster.kubectl("run", "noauto", "-n", ns, "--image=nginx", "--overrides",
                    '{"spec":{"automountServiceAccountToken":false}}')
    spec = cluster.json("get", "pod", "noauto", "-n", ns)["spec"]
    assert not spec.get("volumes") and not spec["containers"][0].get("volumeMounts")


def test_new_namespace_gets_default_sa_and_root_ca(cluster: Cluster, ns: str) -> None:
    cluster.wait_for(lambda: cluster.kubectl("get", "sa", "default", "-n", ns, check=False).returncode == 0,
                     what="default serviceaccount")
    cm = cluster.wait_for(lambda: (lambda p: json.loads(p.stdout) if p.returncode == 0 else None)(
        cluster.kubectl("get", "cm", "kube-root-ca.crt", "-n", ns, "-o", "json", check=False)), what="root CA")
    assert cm["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
    kc = yaml.safe_load(open(cluster.kubeconfig))
    import base64

    assert cm["data"]["ca.crt"] == base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    # deleting the default account brings it back
    cluster.kubectl("delete", "sa", "default", "-n", ns)
    cluster.wait_for(lambda: cluster.kubectl("get", "sa", "default", "-n", ns, check=False).returncode == 0,
                     what="default serviceaccount recreated")


def _token_kubeconfig(cluster: Cluster, token: str) -> str:
    kc = yaml.safe_load(open(cluster.kubeconfig))
    kc["users"] = [{"name": "sa", "user": {"token": token}}]
    kc["contexts"][0]["context"]["user"] = "sa"
    fd, path = tempfile.mkstemp(suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(kc, f)
    return path


def test_create_token_authenticates(cluster: Cluster, ns: str) -> None:
    cluster.wait_for(lambda: cluster.kubectl("get", "sa", "default", "-n", ns, check=False).returncode == 0,
                     what="default serviceaccount")
    token = cluster.kubectl("create", "token", "default", "-n", ns).stdout.strip()
    assert token.count(".") == 2 and token.startswith("eyJ")
    good = _token_kubeconfig(cluster, token)
    # authenticated as the account (whoami is open to everyone authenticated; RBAC grants it nothing else)
    p = cluster.kubectl("--kubeconfig", good, "auth", "whoami", env={"KUBECONFIG": good})
    assert f"system:serviceaccount:{ns}:default" in p.stdout
    p = cluster.kubectl("--kubeconfig", good, "get", "sa", "-n", ns, env={"KUBECONFIG": good}, check=False)
    assert "Forbidden" in p.stderr
    head, body, sig = token.split(".")
    bad = _token_kubeconfig(cluster, f"{head}.{body}.{sig[::-1]}")
    p = cluster.kubectl("--kubeconfig", bad, "get", "sa", "-n", ns, env={"KUBECONFIG": bad}, check=False)
    assert p.returncode != 0 and "Unauthorized" in p.stderr
    p = cluster.kubectl("create", "token", "default", "-n", ns, "--duration=1m", check=False)
    assert ('TokenRequest.authentication.k8s.io "default" is invalid: spec.expirationSeconds: Invalid value: 60: '
            'may not specify a duration less than 10 minutes') in p.stderr
    # deleting the account revokes its tokens
    cluster.kubectl("delete", "sa", "default", "-n", ns)
    p = cluster.kubectl("--kubeconfig", good, "auth", "whoami", env={"KUBECONFIG": good}, check=False)
    assert p.returncode != 0 and "Unauthorized" in p.stderr


def test_allocations_survive_restart(tmp_path) -> None:
    c = Cluster(str(tmp_path), free_port())
    c.start()
    try:
        c.kubectl("apply", "-n", "default", "-f", manifest("my_service.yaml"))
        svc = c.json("get", "svc", "my-nginx", "-n", "default")
        ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
        c.stop()
        c.start()
        p = c.kubectl("create", "service", "clusterip", "again", "--tcp=80:80", f"--clusterip={ip}", check=False)
        assert "provided IP is already allocated" in p.stderr
        p = c.kubectl("create", "service", "nodeport", "again2", "--tcp=80:80", f"--node-port={node_port}", check=False)
        assert "provided port is already allocated" in p.stderr
        c.kubectl("create", "service", "nodeport", "fresh", "--tcp=80:80")
        fresh = c.json("get", "svc", "fresh")
        assert fresh["spec"]["clusterIP"] not in (ip, "10.96.0.1")
        assert fresh["spec"]["ports"][0]["nodePort"] != node_port
        assert "10.96.0.1" in c.kubectl("get", "svc", "kubernetes").stdout
    finally:
        c.stop()
