"""Smaller API gaps (issue 7 §5) over the real HTTPS port, judged by the real kubectl and Python client."""

from __future__ import annotations

import json

from .conftest import Cluster

KUBECTL_OPENAPI_V2 = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def test_replace_with_resource_version_zero(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "-n", ns, "configmap", "rv0", "--from-literal=a=1")
    cluster.kubectl("patch", "-n", ns, "configmap", "rv0", "-p", '{"data":{"a":"2"}}')
    obj = cluster.json("get", "-n", ns, "configmap", "rv0")
    obj["metadata"]["resourceVersion"] = "0"  # as read from a watch cache at rv 0: unconditional
    obj["data"]["a"] = "3"
    cluster.kubectl("replace", "-f", "-", input=json.dumps(obj))
    assert cluster.json("get", "-n", ns, "configmap", "rv0")["data"] == {"a": "3"}


def test_non_resource_paths_with_and_without_trailing_slash(cluster: Cluster) -> None:
    s = cluster.session()
    want = {"/version": 200, "/version/": 200, "/api": 200, "/api/": 200, "/apis": 200, "/apis/": 200,
            "/healthz": 200, "/livez": 200, "/readyz": 200, "/healthz/ping": 200, "/readyz/ping": 200,
            "/healthz/": 404, "/openapi/v2": 200, "/openapi/v2/": 404, "/.well-known/openid-configuration": 200,
            "/.well-known/openid-configuration/": 404, "/openid/v1/jwks": 200, "/openid/v1/jwks/": 404,
            "/openapi/v3": 200, "/openapi/v3/": 404, "/openapi/v3/apis/apps/v1": 200, "/openapi/v3/apis/apps/v1/": 404}
    got = {p: s.get(cluster.url + p).status_code for p in want}
    assert got == want
    assert s.get(cluster.url + "/version/").json()["gitVersion"].startswith("v1.")


def test_python_client_version_api(cluster: Cluster) -> None:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=cluster.kubeconfig)
    try:
        info = client.VersionApi(api).get_code()  # GET /version/
        assert info.git_version.startswith("v1.") and info.major == "1"
    finally:
        api.close()


def test_error_and_object_bodies_end_with_newline(cluster: Cluster, ns: str) -> None:
    s = cluster.session()
    url = f"{cluster.url}/api/v1/namespaces/{ns}/configmaps"
    created = s.post(url, json={"metadata": {"name": "nl"}})
    assert created.status_code == 201 and created.content.endswith(b"}\n")
    dup = s.post(url, json={"metadata": {"name": "nl"}})
    assert dup.status_code == 409 and dup.content.endswith(b'"code":409}\n')
    assert s.get(url).content.endswith(b"]}\n")
    assert s.get(f"{url}/nl").content.endswith(b"}\n")


def test_openapi_v2_protobuf_for_kubectl(cluster: Cluster) -> None:
    s = cluster.session()
    r = s.get(cluster.url + "/openapi/v2", headers={"Accept": KUBECTL_OPENAPI_V2})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert r.content[:5] == b"\x0a\x032.0"  # Document.swagger = "2.0"
    assert r.headers["Etag"] == s.get(cluster.url + "/openapi/v2").headers["Etag"]
    out = cluster.kubectl("explain", "deployment.spec.strategy", "--output=plaintext-openapiv2", "-v=6")
    assert "RESOURCE: strategy <Object>" in out.stdout and "rollingUpdate" in out.stdout
    assert "/openapi/v2?timeout=32s 200 OK" in out.stderr


def test_autoscale_without_cpu_percent_defaults_to_80(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "-n", ns, "deployment", "web", "--image=nginx")
    cluster.kubectl("autoscale", "-n", ns, "deployment", "web", "--min=2", "--max=3")
    v2 = cluster.json("get", "-n", ns, "hpa.v2.autoscaling", "web")
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 80}}}]
    s = cluster.session()
    v1 = s.get(f"{cluster.url}/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers/web").json()
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 80


def test_changing_cluster_ip_may_not_change_once_set(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "-n", ns, "service", "clusterip", "s", "--tcp=80")
    r = cluster.kubectl("patch", "-n", ns, "service", "s", "-p", '{"spec":{"clusterIP":"10.96.0.99"}}', check=False)
    assert r.returncode == 1
    assert 'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.99"}: may not change once set' in r.stderr


def test_server_side_apply_of_a_wrongly_typed_field(cluster: Cluster, ns: str) -> None:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typed", "namespace": ns}, "data": {"a": 1}}
    r = cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(doc), check=False)
    assert r.returncode == 1
    assert (f"failed to create typed patch object ({ns}/typed; /v1, Kind=ConfigMap): .data.a: expected string, "
            "got &value.valueUnstructured{Value:1}") in r.stderr
    assert cluster.kubectl("get", "-n", ns, "configmap", "typed", check=False).returncode == 1  # nothing stored


def test_service_account_issuer_discovery(cluster: Cluster, ns: str) -> None:
    """A relying party finds the issuer's keys and verifies a service-account token with them."""
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    def b64(s: str) -> bytes:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

    s = cluster.session()
    meta = s.get(cluster.url + "/.well-known/openid-configuration")
    assert meta.status_code == 200 and meta.headers["Content-Type"] == "application/json"
    doc = meta.json()
    assert doc["issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert doc["jwks_uri"].endswith("/openid/v1/jwks") and doc["id_token_signing_alg_values_supported"] == ["ES256"]
    jwks = s.get(cluster.url + "/openid/v1/jwks")
    assert jwks.status_code == 200 and jwks.headers["Content-Type"] == "application/jwk-set+json"
    (key,) = jwks.json()["keys"]
    public = ec.EllipticCurvePublicNumbers(int.from_bytes(b64(key["x"]), "big"), int.from_bytes(b64(key["y"]), "big"),
                                           ec.SECP256R1()).public_key()
    token = cluster.kubectl("create", "token", "default", "-n", ns).stdout.strip()
    head, body, sig = token.split(".")
    assert json.loads(b64(head))["kid"] == key["kid"]
    raw = b64(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if not ours


def test_write_options_are_422_like_upstream(cluster: Cluster, ns: str) -> None:
    s = cluster.session()
    url = f"{cluster.url}/api/v1/namespaces/{ns}/configmaps"
    r = s.post(url, params={"dryRun": "x"}, json={"metadata": {"name": "opt"}})
    assert r.status_code == 422 and r.json()["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"x"}: supported values: "All"')
    s.post(url, json={"metadata": {"name": "opt"}})
    r = s.patch(f"{url}/opt", data="{}", headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status_code == 422 and r.json()["details"] == {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
        {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]}


def test_apply_body_that_is_not_an_object(cluster: Cluster, ns: str) -> None:
    s = cluster.session()
    url = f"{cluster.url}/api/v1/namespaces/{ns}/configmaps/ab?fieldManager=m"
    apply = {"Content-Type": "application/apply-patch+yaml"}
    r = s.patch(url, data="[1]", headers=apply)
    assert r.status_code == 400 and r.json()["message"] == (
        "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go "
        "value of type map[string]interface {}")
    r = s.patch(url, data="null", headers=apply)
    assert r.status_code == 400 and r.json()["message"] == "invalid object type: /, Kind="
