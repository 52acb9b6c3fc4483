"""Every write is decoded into its kind's types first: wrong types are 400/422, never stored, never 500."""

from __future__ import annotations

import json

import pytest

from .conftest import Cluster

JSON_CT = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def api(cluster: Cluster):
    return cluster.session(), cluster.url


def _status(r, code: int) -> dict:
    assert r.status_code == code, (r.status_code, r.text)
    body = r.json()
    assert body["kind"] == "Status" and body["code"] == code
    return body


def _deployment(name: str, replicas) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


def test_wrongly_typed_create_is_400_and_not_stored(api, ns: str) -> None:
    s, url = api
    for replicas, shown in [("3", "string"), ([], "array"), (1.5, "number 1.5"), (2**63, "number 9223372036854775808")]:
        r = s.post(f"{url}/apis/apps/v1/namespaces/{ns}/deployments", data=json.dumps(_deployment("d", replicas)),
                   headers=JSON_CT)
        assert _status(r, 400)["message"] == (
            f'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal {shown} into Go '
            'struct field DeploymentSpec.spec.replicas of type int32')
        assert s.get(f"{url}/apis/apps/v1/namespaces/{ns}/deployments/d").status_code == 404


def test_service_selector_and_port_name(api, ns: str) -> None:
    s, url = api
    svc = {"metadata": {"name": "s"}, "spec": {"selector": True, "ports": [{"port": 80}]}}
    r = s.post(f"{url}/api/v1/namespaces/{ns}/services", json=svc)
    assert "ServiceSpec.spec.selector of type map[string]string" in _status(r, 400)["message"]
    svc = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "name": [1]}]}}
    r = s.post(f"{url}/api/v1/namespaces/{ns}/services", json=svc)
    assert "ServicePort.spec.ports.name of type string" in _status(r, 400)["message"]
    assert s.get(f"{url}/api/v1/namespaces/{ns}/services/s").status_code == 404


def test_kubectl_patch_labels_string(cluster: Cluster, ns: str) -> None:
    """test/cmd/core.sh: `kubectl patch pod valid-pod -p '{"metadata":{"labels":"invalid"}}'`."""
    cluster.kubectl("run", "valid-pod", "-n", ns, "--image=busybox", "--labels=name=valid-pod")
    p = cluster.kubectl("patch", "pod", "valid-pod", "-n", ns, "-p", '{"metadata":{"labels":"invalid"}}', check=False)
    assert p.returncode == 1 and "cannot restore map from string" in p.stderr, p.stderr
    p = cluster.kubectl("patch", "pod", "valid-pod", "-n", ns, "--type=merge", "-p", '{"metadata":{"labels":"invalid"}}', check=False)
    assert p.returncode == 1 and "cannot unmarshal string into Go struct field ObjectMeta.metadata.labels" in p.stderr
    assert cluster.json("get", "pod", "valid-pod", "-n", ns)["metadata"]["labels"] == {"name": "valid-pod"}


def test_bodies_that_used_to_500(api, cluster: Cluster, ns: str) -> None:
    s, url = api
    assert s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "cm"}}).status_code == 201
    pods = f"{url}/api/v1/namespaces/{ns}/pods"
    base = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    cases = [
        ("put", f"{url}/api/v1/namespaces/{ns}/configmaps/cm", {"metadata": "x"}, 400, "ConfigMap.metadata of type v1.ObjectMeta"),
        ("post", pods, {**base, "spec": {"containers": True}}, 400, "PodSpec.spec.containers of type []v1.Container"),
        ("post", pods, {**base, "metadata": {"name": "p", "annotations": True}}, 400, "ObjectMeta.metadata.annotations"),
        ("post", pods, {**base, "metadata": {"name": 99999999999999999999999999}}, 400, "ObjectMeta.metadata.name of type string"),
        ("post", f"{url}/apis/authentication.k8s.io/v1/tokenreviews", {"metadata": [1], "spec": {"token": "x"}}, 400,
         "TokenReview.metadata of type v1.ObjectMeta"),
        ("post", f"{pods}/p/binding", {"metadata": {"name": "p"}, "target": "x"}, 400, "Binding.target of type v1.ObjectReference"),
        ("put", f"{url}/apis/apps/v1/namespaces/{ns}/deployments/d/scale", {"spec": [1]}, 400, "Scale.spec of type v1.ScaleSpec"),
        ("delete", f"{url}/api/v1/namespaces/{ns}/configmaps/cm", {"preconditions": "x"}, 400,
         "DeleteOptions.preconditions of type v1.Preconditions"),
    ]
    for method, u, body, code, text in cases:
        r = getattr(s, method)(u, data=json.dumps(body), headers=JSON_CT)
        assert text in _status(r, code)["message"], (method, u, r.text)
    assert s.get(f"{url}/api/v1/namespaces/{ns}/configmaps/cm").json()["metadata"]["name"] == "cm"
    r = s.post(pods, data=b"metadata: {name: 99999999999999999999999999}\n", headers={"Content-Type": "application/yaml"})
    assert "ObjectMeta.metadata.name of type string" in _status(r, 400)["message"]


def test_yaml_integral_float_is_an_int(api, ns: str) -> None:
    """sigs.k8s.io/yaml re-encodes 3.0 as 3, so a YAML body may say `replicas: 3.0`."""
    import yaml

    s, url = api
    body = yaml.safe_dump(_deployment("yd", 3.0))  # (a name of `y` is a YAML 1.1 bool)
    assert "replicas: 3.0" in body
    r = s.post(f"{url}/apis/apps/v1/namespaces/{ns}/deployments", data=body.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["replicas"] == 3


def test_unknown_fields_are_dropped_and_warnings_bounded(api, ns: str) -> None:
    s, url = api
    huge = "x" * 8_000  # small enough for one TLS record: reading bodies whole is issue 7 §1
    r = s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "u"}, "data": {"a": "b"}, huge: 1, "bogus": 2})
    assert r.status_code == 201, r.text
    warnings = r.raw.headers.getlist("Warning")
    assert len(warnings) == 2 and all(len(w) < 300 for w in warnings)
    stored = s.get(f"{url}/api/v1/namespaces/{ns}/configmaps/u").json()
    assert "bogus" not in stored and huge not in stored and stored["data"] == {"a": "b"}
    r = s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", params={"fieldValidation": "Strict"},
               json={"metadata": {"name": "u2"}, "bogus": 2})
    assert _status(r, 400)["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: '
                                          'strict decoding error: unknown field "bogus"')


def test_yaml_only_values_are_json_after_decode(api, ns: str) -> None:
    """YAML timestamps, !!binary and !!set values are what sigs.k8s.io/yaml makes of them, not a 500."""
    s, url = api
    yaml_ct = {"Content-Type": "application/yaml"}
    body = b"metadata:\n  name: yy\n  annotations:\n    when: 2024-01-01\n    bin: !!binary aGVsbG8=\ndata: {a: b}\n"
    r = s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", data=body, headers=yaml_ct)
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["annotations"] == {"when": "2024-01-01", "bin": "hello"}
    r = s.post(f"{url}/api/v1/namespaces/{ns}/configmaps", data=b"metadata: {name: zz}\ndata: {s: !!set {a, b}}\n", headers=yaml_ct)
    assert "ConfigMap.data of type string" in _status(r, 400)["message"]
