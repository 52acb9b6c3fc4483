"""Bad input gets a Kubernetes Status with the right code, never a 500 or a hang."""

from __future__ import annotations

import json
import os

import pytest
import requests  # type: ignore[import-untyped]

from .conftest import Cluster


@pytest.fixture(scope="module")
def api(cluster: Cluster):
    return cluster.session(), cluster.url


def _status(r: requests.Response) -> dict:
    body = r.json()
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == r.status_code
    return body


def test_anonymous_is_unauthorized(cluster: Cluster) -> None:
    ca = os.path.join(cluster.data_dir, "server", "tls", "server-ca.crt")
    r = requests.get(f"{cluster.url}/api/v1/namespaces", verify=ca)
    assert r.status_code == 401 and _status(r)["reason"] == "Unauthorized"
    for p in ("/healthz", "/livez", "/readyz", "/version"):
        assert requests.get(cluster.url + p, verify=ca).status_code == 200
    r = requests.get(f"{cluster.url}/api/v1/namespaces", verify=ca, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_big_headers_fit_upstreams_budget_and_bigger_ones_log_one_line(cluster: Cluster) -> None:
    """net/http reads 1 MiB of headers: a 10 KB bearer token is a 401 Status, not aiohttp's plain
    400 for a field over 8190 bytes; a header past the budget is net/http's plain 431, logged in
    one line without a traceback or the header."""
    ca = os.path.join(cluster.data_dir, "server", "tls", "server-ca.crt")
    url = f"{cluster.url}/api/v1/namespaces"
    r = requests.get(url, verify=ca, headers={"Authorization": "Bearer " + "x" * 10_000})
    assert r.status_code == 401 and _status(r)["reason"] == "Unauthorized"
    r = requests.get(url, verify=ca, headers={"X-Big": "y" * 500_000})
    assert r.status_code == 401 and _status(r)["reason"] == "Unauthorized"
    start = os.path.getsize(cluster.log_path)
    r = requests.get(url, verify=ca, headers={"X-Big": "y" * (1 << 21)})
    assert (r.status_code, r.text) == (431, "431 Request Header Fields Too Large")

    def logged() -> str:
        with open(cluster.log_path, "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        return text if "431 Request Header Fields Too Large" in text else ""

    text = cluster.wait_for(logged, what="the refused request in the log")
    assert "Traceback" not in text and "yyyy" not in text


def test_malformed_bodies_are_400(api, ns: str) -> None:
    s, url = api
    r = s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", data=b'{"metadata": {', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and _status(r)["reason"] == "BadRequest"
    r = s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", data=b"a: [b", headers={"Content-Type": "application/yaml"})
    assert r.status_code == 400
    r = s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", data=b"k8s\x00\xff\xff", headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert r.status_code == 400


def test_namespace_mismatch_missing_namespace_duplicate(api, ns: str) -> None:
    s, url = api
    r = s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "x", "namespace": "other"}})
    assert r.status_code == 400
    r = s.post(f"{url}/api/v1/namespaces/no-such-ns/configmaps", json={"metadata": {"name": "x"}})
    assert r.status_code == 404 and _status(r)["message"] == 'namespaces "no-such-ns" not found'
    assert s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "dup"}}).status_code == 201
    r = s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "dup"}})
    assert r.status_code == 409 and _status(r)["reason"] == "AlreadyExists"
    assert _status(r)["message"] == 'configmaps "dup" already exists'


def test_stale_resource_version_is_conflict(api, ns: str) -> None:
    s, url = api
    obj = s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "cas"}, "data": {"a": "1"}}).json()
    obj["data"]["a"] = "2"
    assert s.put(f"{url}/api/v1/namespaces/{ns}/configmaps/cas", json=obj).status_code == 200
    obj["data"]["a"] = "3"
    r = s.put(f"{url}/api/v1/namespaces/{ns}/configmaps/cas", json=obj)
    assert r.status_code == 409
    assert _status(r)["message"] == ('Operation cannot be fulfilled on configmaps "cas": the object has been modified; '
                                    'please apply your changes to the latest version and try again')


def test_invalid_objects_are_422_with_causes(cluster: Cluster, ns: str) -> None:
    bad_name = cluster.kubectl("create", "-n", ns, "configmap", "Bad_Name", check=False)
    assert bad_name.returncode == 1
    assert 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain' in bad_name.stderr
    no_selector = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: c, image: nginx}]}
"""
    r = cluster.kubectl("apply", "-n", ns, "-f", "-", input=no_selector, check=False)
    assert r.returncode == 1 and 'The Deployment "x" is invalid' in r.stderr and "spec.selector: Required value" in r.stderr


def test_unknown_fields_strict_and_warn(cluster: Cluster, api, ns: str) -> None:
    doc = """
apiVersion: v1
kind: ConfigMap
metadata: {name: unk}
data: {a: b}
bogus: 1
"""
    strict = cluster.kubectl("apply", "-n", ns, "-f", "-", input=doc, check=False)
    assert strict.returncode == 1 and 'unknown field "bogus"' in strict.stderr
    warn = cluster.kubectl("apply", "-n", ns, "--validate=warn", "-f", "-", input=doc)
    assert 'unknown field "bogus"' in warn.stderr
    s, url = api
    r = s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", params={"fieldValidation": "Strict"},
               json={"metadata": {"name": "unk2"}, "nope": True})
    assert r.status_code in (400, 422) and "nope" in _status(r)["message"]


def test_immutable_selector_is_422(cluster: Cluster, ns: str) -> None:
    from .conftest import manifest

    cluster.kubectl("apply", "-n", ns, "-f", manifest("my-nginx.yaml"))
    r = cluster.kubectl("patch", "-n", ns, "deploy", "nginx-deployment", "--type=merge",
                        "-p", '{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}',
                        check=False)
    assert r.returncode == 1 and "field is immutable" in r.stderr


def test_oversized_body_and_unknown_resource(api, ns: str, cluster: Cluster) -> None:
    s, url = api
    big = {"metadata": {"name": "big"}, "data": {"a": "x" * (3 * 1024 * 1024 + 10)}}
    r = s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", data=json.dumps(big), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = s.get(f"{url}/api/v1/namespaces/{ns}/widgets")
    assert r.status_code == 404 and _status(r)["reason"] == "NotFound"
    r = cluster.kubectl("get", "widgets", check=False)
    assert r.returncode == 1 and 'the server doesn\'t have a resource type "widgets"' in r.stderr

# The fuzzer (random bodies, content types and query parameters on every write path, with its
# oracles) lives in test_fuzz.py.


def test_a_malformed_delete_deletes_nothing(api, ns: str) -> None:
    """A DELETE's options are decoded and validated before anything goes: `?dryRun=` is [""] (422,
    not "no dry run") and a body that is no DeleteOptions is a 400, as upstream's handlers/delete.go.
    The fuzzer's `DELETE .../clusterroles?dryRun=` with body `[]` deleted every ClusterRole."""
    s, url = api
    cms = f"{url}/api/v1/namespaces/{ns}/configmaps"
    assert s.post(cms, json={"metadata": {"name": "keep-me"}}).status_code == 201
    for path in (cms, f"{cms}/keep-me"):
        r = s.delete(path, params={"dryRun": ""})
        assert r.status_code == 422, r.text
        assert _status(r)["message"] == \
            'DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{""}: supported values: "All"'
        r = s.delete(path, data=b"[]", headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        assert _status(r)["message"] == "json: cannot unmarshal array into Go value of type v1.DeleteOptions"
    assert s.get(f"{cms}/keep-me").status_code == 200
