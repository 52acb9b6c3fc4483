"""The fuzz suite's own judge: its served-API reader, type checker, mutations and 5xx allow-list."""

from __future__ import annotations

import random

from tests.integration.fuzzing.gen import Gen, get_path, patch_for, pointer, set_path
from tests.integration.fuzzing.oracles import allowed_5xx
from tests.integration.fuzzing.schema import ServedAPI

REF = "#/components/schemas/"
DOC = {
    "components": {"schemas": {
        "io.k8s.apimachinery.pkg.api.resource.Quantity": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"format": "int-or-string",
                                                            "oneOf": [{"type": "integer"}, {"type": "string"}]},
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {"type": "object", "properties": {
            "name": {"type": "string"}, "namespace": {"type": "string"}, "labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "x.Thing": {
            "type": "object",
            "x-kubernetes-group-version-kind": [{"group": "x", "version": "v1", "kind": "Thing"}],
            "properties": {
                "metadata": {"allOf": [{"$ref": REF + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]},
                "replicas": {"type": "integer", "format": "int32"},
                "big": {"type": "integer", "format": "int64"},
                "data": {"type": "object", "additionalProperties": {"type": "string", "format": "byte"}},
                "cpu": {"allOf": [{"$ref": REF + "io.k8s.apimachinery.pkg.api.resource.Quantity"}]},
                "port": {"allOf": [{"$ref": REF + "io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]},
                "items": {"type": "array", "items": {"type": "boolean"}},
                "policy": {"type": "string", "description": 'Possible enum values:\n - `"Always"` a\n - `"Never"` b'},
            },
        },
    }},
    "paths": {
        "/apis/x/v1/things": {"get": {"x-kubernetes-action": "list",
                                      "x-kubernetes-group-version-kind": {"group": "x", "version": "v1", "kind": "Thing"}}},
        "/apis/x/v1/namespaces/{namespace}/things": {"post": {
            "x-kubernetes-action": "post", "x-kubernetes-group-version-kind": {"group": "x", "version": "v1", "kind": "Thing"},
            "requestBody": {"content": {"*/*": {"schema": {"$ref": REF + "x.Thing"}}}}}},
        "/apis/x/v1/namespaces/{namespace}/things/{name}/status": {"patch": {
            "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": {"group": "x", "version": "v1", "kind": "Thing"},
            "requestBody": {"content": {"application/apply-patch+yaml": {"schema": {"$ref": REF + "io.k8s.Patch"}}}}}},
    },
}
API = ServedAPI([DOC])
THING = {"$ref": REF + "x.Thing"}


def errors(obj: dict) -> list[str]:
    return list(API.check(obj, THING))


def test_served_operations_and_lists() -> None:
    assert [(o.method, o.namespaced, o.subresource, o.body) for o in API.ops] == [
        ("post", True, "", "x.Thing"), ("patch", True, "status", "x.Thing")]
    assert API.ops[1].collection == "/apis/x/v1/namespaces/{namespace}/things"
    assert [(li.path, li.item) for li in API.lists] == [("/apis/x/v1/things", "x.Thing")]


def test_well_typed_object_passes() -> None:
    assert errors({"metadata": {"name": "a", "labels": {"k": "v"}}, "replicas": 2**31 - 1, "big": -2**63,
                   "data": {"k": "aGVsbG8="}, "cpu": "100m", "port": "http", "items": [True], "policy": None}) == []


def test_what_upstream_decoding_refuses_is_reported() -> None:
    bad = [{"replicas": 2**31}, {"replicas": "3"}, {"replicas": 1.0}, {"replicas": True}, {"big": 2**63},
           {"data": {"k": "not base64!"}}, {"cpu": 1}, {"cpu": "1.5.5"}, {"port": 1.5}, {"items": [1]},
           {"metadata": {"labels": "x"}}, {"metadata": {"labels": {"k": 1}}}, {"extra": 1}, {"metadata": []}]
    for obj in bad:
        assert errors(obj), obj


def test_generated_values_are_well_typed_and_mutations_are_not() -> None:
    policies, refused = set(), 0
    for seed in range(40):
        gen = Gen(API, random.Random(seed))
        obj = gen.obj("x.Thing", "x/v1", "Thing", "fz-a", "ns")
        assert errors({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}) == [], obj
        assert obj["metadata"] == {**obj["metadata"], "name": "fz-a", "namespace": "ns"}
        policies.add(obj.get("policy"))
        mutated, _ = gen.mutate({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}, "x.Thing")
        refused += bool(errors(mutated))
    assert {"Always", "Never"} & policies  # enum values come from the schema's description
    assert refused > 20  # most mutations are wrong types (the rest: huge or odd values of the right type)


def test_paths_and_patches() -> None:
    obj = set_path({}, ("spec", "containers", 1, "name"), "c")
    assert obj == {"spec": {"containers": [{}, {"name": "c"}]}} and get_path(obj, ("spec", "containers", 1, "name")) == "c"
    assert patch_for(("metadata", "labels"), "x") == {"metadata": {"labels": "x"}}
    assert pointer(("metadata", "labels", "a/b~c")) == "/metadata/labels/a~1b~0c"


def test_the_5xx_allow_list_is_narrow() -> None:
    smp, apply = "application/strategic-merge-patch+json", "application/apply-patch+yaml"
    assert allowed_5xx(smp, "map: map[] does not contain declared merge key: name")
    assert allowed_5xx(apply, "failed to create typed patch object (ns/x; /v1, Kind=Pod): .spec: expected map, got &{1}")
    assert allowed_5xx("application/json", 'strconv.ParseUint: parsing "x": invalid syntax')
    assert allowed_5xx("application/merge-patch+json", "etcdserver: request is too large")
    assert not allowed_5xx("application/merge-patch+json", "map: map[] does not contain declared merge key: name")
    assert not allowed_5xx(apply, "Internal error occurred: AttributeError")
