"""The typed decode (api/typed.py, apiserver/decoding.py): Go's decoders, their messages and status codes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeling.api import errors, typed
from kubeling.api.validation.strict import warning_headers
from kubeling.apiserver import decoding
from kubeling.apiserver.registry import DeleteOptions

DEP = ("apps", "v1", "Deployment")
POD = ("", "v1", "Pod")
SVC = ("", "v1", "Service")
QTY_MSG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def _err(gvk: tuple[str, str, str], obj: Any, mode: str = typed.JSON) -> str:
    with pytest.raises(typed.Mismatch) as e:
        typed.decode(*gvk, obj, mode)
    return e.value.message()


# encoding/json (create, update, JSON/merge patch results): sigs.k8s.io/json UnmarshalTypeError text
JSON_CASES = [
    (DEP, {"spec": {"replicas": "3"}}, "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (DEP, {"spec": {"replicas": []}}, "json: cannot unmarshal array into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (DEP, {"spec": {"replicas": 1.5}}, "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (DEP, {"spec": {"replicas": 3.0}}, "json: cannot unmarshal number 3.0 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (DEP, {"spec": {"replicas": 2**63}},
     "json: cannot unmarshal number 9223372036854775808 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (DEP, {"spec": {"replicas": 2**31}},
     "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (DEP, {"spec": {"paused": "yes"}}, "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
    (DEP, {"spec": {"template": {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": "80"}]}]}}}},
     "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"),
    (SVC, {"spec": {"selector": True}}, "json: cannot unmarshal bool into Go struct field ServiceSpec.spec.selector of type map[string]string"),
    (SVC, {"spec": {"ports": [{"name": [1], "port": 80}]}},
     "json: cannot unmarshal array into Go struct field ServicePort.spec.ports.name of type string"),
    (SVC, {"spec": {"ports": [{"port": 80, "targetPort": True}]}},
     "json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort of type int32"),
    (POD, {"metadata": {"labels": "invalid"}},
     "json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string"),
    (POD, {"metadata": {"labels": {"a": 1}}}, "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
    (POD, {"metadata": {"annotations": True}},
     "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.annotations of type map[string]string"),
    (POD, {"metadata": "x"}, "json: cannot unmarshal string into Go struct field Pod.metadata of type v1.ObjectMeta"),
    (POD, {"metadata": {"name": 1e26}}, "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string"),
    (POD, {"metadata": {"name": 99999999999999999999999999}},
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string"),
    (POD, {"spec": {"containers": True}}, "json: cannot unmarshal bool into Go struct field PodSpec.spec.containers of type []v1.Container"),
    (POD, {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": True}}}]}}, QTY_MSG),
    (POD, {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "lots"}}}]}}, QTY_MSG),
    (POD, {"metadata": {"creationTimestamp": 5}},
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string"),
    (POD, {"metadata": {"creationTimestamp": "yesterday"}},
     'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"'),
    (("", "v1", "Secret"), {"data": {"k": "abc"}}, "illegal base64 data at input byte 0"),
    (("", "v1", "Secret"), {"data": {"k": "YWJj!"}}, "illegal base64 data at input byte 4"),
    (("", "v1", "Secret"), {"data": {"k": 5}}, "json: cannot unmarshal number into Go struct field Secret.data of type []uint8"),
    (("authentication.k8s.io", "v1", "TokenReview"), {"metadata": [1]},
     "json: cannot unmarshal array into Go struct field TokenReview.metadata of type v1.ObjectMeta"),
    (("", "v1", "Binding"), {"target": "x"}, "json: cannot unmarshal string into Go struct field Binding.target of type v1.ObjectReference"),
    (("autoscaling", "v1", "Scale"), {"spec": [1]}, "json: cannot unmarshal array into Go struct field Scale.spec of type v1.ScaleSpec"),
    (("", "v1", "DeleteOptions"), {"preconditions": "x"},
     "json: cannot unmarshal string into Go struct field DeleteOptions.preconditions of type v1.Preconditions"),
    # map keys are not part of Go's field path; a recursive schema (JSONSchemaProps) compiles
    (("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
     {"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"properties": {"a": {"type": 1}}}}}]}},
     "json: cannot unmarshal number into Go struct field JSONSchemaProps.spec.versions.schema.openAPIV3Schema.properties.type of type string"),
]


@pytest.mark.parametrize("gvk,obj,message", JSON_CASES)
def test_json_decode_errors(gvk: tuple[str, str, str], obj: dict, message: str) -> None:
    assert _err(gvk, obj) == message


# the unstructured converter (strategic merge patch results): runtime/converter.go text
UNSTRUCTURED_CASES = [
    (POD, {"metadata": {"labels": "invalid"}}, "cannot restore map from string"),
    (POD, {"metadata": "x"}, "cannot restore struct from: string"),
    (POD, {"spec": {"containers": {}}}, "cannot restore slice from map"),
    (DEP, {"spec": {"replicas": "3"}}, "cannot convert string to int32"),
    (DEP, {"spec": {"replicas": 1.5}}, "cannot convert float64 to int32"),
    (DEP, {"spec": {"replicas": {}}}, "cannot convert map[string]interface {} to int32"),
    (SVC, {"spec": {"ports": [{"port": 80, "targetPort": True}]}}, "json: cannot unmarshal bool into Go value of type int32"),
    # sliceFromUnstructured decodes a []byte string with encoding/json too: a strategic merge
    # patch cannot store what create, update and the other patches refuse
    (("", "v1", "ConfigMap"), {"binaryData": {"b.c": "not base64!"}}, "error decoding from json: illegal base64 data at input byte 3"),
    (("", "v1", "Secret"), {"data": {"k": "YWJj!"}}, "error decoding from json: illegal base64 data at input byte 4"),
]


@pytest.mark.parametrize("gvk,obj,message", UNSTRUCTURED_CASES)
def test_unstructured_decode_errors(gvk: tuple[str, str, str], obj: dict, message: str) -> None:
    assert _err(gvk, obj, typed.UNSTRUCTURED) == message


def test_integral_floats_only_in_the_unstructured_converter() -> None:
    d = {"spec": {"replicas": 3.0, "template": {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80.0}]}]}}}}
    assert typed.decode(*DEP, d, typed.UNSTRUCTURED) == []
    assert d["spec"]["replicas"] == 3 and type(d["spec"]["replicas"]) is int
    assert type(d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]) is int


def test_valid_objects_pass_unchanged() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "labels": {"a": "b"}, "creationTimestamp": "2024-01-02T03:04:05Z",
                        "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {"f:x": {}}}}]},
           "spec": {"containers": [{"name": "a", "image": "busybox", "ports": [{"containerPort": 80}],
                                    "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}},
                                    "readinessProbe": {"httpGet": {"port": "http"}}}]},
           "status": {"conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None}]}}
    before = copy.deepcopy(pod)
    assert typed.decode(*POD, pod) == []
    assert pod == before


def test_unknown_fields_dropped_and_reported_in_document_order() -> None:
    d = {"metadata": {"name": "d", "labels": {"any-key": "ok"}},
         "spec": {"template": {"spec": {"containers": [{"name": "a", "imagee": "x"}]}}, "replica": 3},
         "foo": 1}
    assert typed.decode(*DEP, d) == ["spec.template.spec.containers[0].imagee", "spec.replica", "foo"]
    assert d == {"metadata": {"name": "d", "labels": {"any-key": "ok"}}, "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}
    assert typed.decode("", "v1", "ConfigMap", {"data": {"x": "y"}, "binaryData": {}}) == []


def test_nulls_decode_to_zero_values() -> None:
    """Go: a null struct field keeps the zero value (absent once encoded; a zero Time is null);
    a null list item or map value becomes the item type's zero value."""
    pod = {"metadata": {"name": "p", "labels": {"a": None}, "creationTimestamp": None, "namespace": None},
           "spec": {"containers": [{"name": "a", "args": [None, "x"], "ports": [None]}], "nodeName": None}}
    typed.decode(*POD, pod)
    assert pod == {"metadata": {"name": "p", "labels": {"a": ""}, "creationTimestamp": None},
                   "spec": {"containers": [{"name": "a", "args": ["", "x"], "ports": [{}]}]}}
    svc = {"spec": {"ports": [{"port": 80, "targetPort": None}], "replicas": None}}
    typed.decode(*SVC, svc)
    assert svc == {"spec": {"ports": [{"port": 80}]}}  # Go: targetPort 0, which defaulting treats as unset


def test_quantities_are_canonical() -> None:
    pod = {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": 0.5, "memory": 1024}, "requests": {"cpu": "1000m"}}}]}}
    typed.decode(*POD, pod)
    res = pod["spec"]["containers"][0]["resources"]
    assert res == {"limits": {"cpu": "500m", "memory": "1024"}, "requests": {"cpu": "1"}}


def test_preserve_unknown_fields_and_raw_extensions_are_free() -> None:
    crd_obj = {"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"default": {"any": [1, {"x": None}]}}}}]}}
    assert typed.decode("apiextensions.k8s.io", "v1", "CustomResourceDefinition", crd_obj) == []
    assert crd_obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["default"] == {"any": [1, {"x": None}]}


@pytest.mark.parametrize("s,err", [
    ("", None), ("YWJj", None), ("YWI=", None), ("YQ==", None), ("YW\nJj", None),
    ("abc", "illegal base64 data at input byte 0"), ("YWJjZ", "illegal base64 data at input byte 4"),
    ("YW*j", "illegal base64 data at input byte 2"), ("Y===", "illegal base64 data at input byte 1"),
    ("YW=", "illegal base64 data at input byte 3"), ("YW=x", "illegal base64 data at input byte 2"),
    ("YWI=YWJj", "illegal base64 data at input byte 4"),
])
def test_base64_errors(s: str, err: str | None) -> None:
    assert typed.base64_error(s) == err


# ---- decoding.py: the status each handler answers -----------------------------------------------

def _status(how: str, obj: dict, gvk: tuple[str, str, str] = DEP, mode: str = "Warn", **kw: Any) -> dict:
    with pytest.raises(errors.StatusError) as e:
        decoding.decode(gvk, obj, mode=mode, how=how, **kw)
    return e.value.status()


def test_create_update_type_error_is_400() -> None:
    st = _status("write", {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "3"}})
    assert st["code"] == 400 and st["reason"] == "BadRequest" and "details" not in st
    assert st["message"] == ('Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
                             'string into Go struct field DeploymentSpec.spec.replicas of type int32')


def test_patch_type_errors_are_422_on_the_patch() -> None:
    st = _status("patch", {"metadata": {"labels": "invalid"}}, POD)
    assert st["code"] == 422 and st["reason"] == "Invalid"
    assert st["message"] == (' "" is invalid: patch: Invalid value: "{\\"metadata\\":{\\"labels\\":\\"invalid\\"}}": json: '
                             'cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string')
    st = _status("strategic", {"metadata": {"labels": "invalid"}}, POD, patch_repr=lambda: "map[metadata:map[labels:invalid]]")
    assert st["code"] == 422
    assert st["message"] == ' "" is invalid: patch: Invalid value: "map[metadata:map[labels:invalid]]": cannot restore map from string'


def test_type_error_wins_over_strict_errors_and_strict_forms() -> None:
    st = _status("write", {"spec": {"replicas": "3", "foo": 1}}, mode="Strict")
    assert "cannot unmarshal string" in st["message"] and "strict" not in st["message"]
    st = _status("write", {"spec": {"replica": 1}, "kind": "Deployment"}, mode="Strict",
                 raw=b'{"spec":{"replica":1},"kind":"Deployment","kind":"Deployment"}')
    assert st["code"] == 400
    assert st["message"] == ('Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
                             'duplicate field "kind", unknown field "spec.replica"')
    st = _status("patch", {"spec": {"replica": 1}}, mode="Strict")
    assert st["code"] == 422
    assert st["message"] == (' "" is invalid: patch: Invalid value: "{\\"spec\\":{}}": '
                             'strict decoding error: unknown field "spec.replica"')


def test_warn_collects_and_ignore_drops_silently() -> None:
    warnings: list[str] = []
    obj = {"spec": {"replica": 1}}
    decoding.decode(DEP, obj, mode="Warn", warnings=warnings)
    assert warnings == ['unknown field "spec.replica"'] and obj == {"spec": {}}
    obj = {"spec": {"replica": 1}}
    decoding.decode(DEP, obj, mode="Ignore", warnings=warnings)
    assert len(warnings) == 1 and obj == {"spec": {}}


def test_delete_options_are_typed() -> None:
    with pytest.raises(errors.StatusError) as e:
        DeleteOptions.from_body({"preconditions": "x"})
    assert e.value.code == 400
    assert e.value.message == "json: cannot unmarshal string into Go struct field DeleteOptions.preconditions of type v1.Preconditions"
    with pytest.raises(errors.StatusError):
        DeleteOptions.from_body({"gracePeriodSeconds": "5"})
    assert DeleteOptions.from_body({"gracePeriodSeconds": 5, "preconditions": {"uid": "u"}}).precondition_uid == "u"


def test_warning_headers_are_bounded() -> None:
    assert warning_headers(['unknown field "spec.replica"']) == ['299 - "unknown field \\"spec.replica\\""']
    assert warning_headers(["a", "a", "b"]) == ['299 - "a"', '299 - "b"']
    huge = 'unknown field "' + "x" * 60_000 + '"'
    (h,) = warning_headers([huge])
    assert len(h) < 300
    many = [f'unknown field "f{i:05d}"' for i in range(10_000)]
    hs = warning_headers(many)
    assert sum(len(h) for h in hs) < 2 * 4096 + 20 * len(hs) and len(hs) < 400

