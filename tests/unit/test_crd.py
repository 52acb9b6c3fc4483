"""CRD machinery without a server: the CRD's validation and rows, the structural decode
(prune, defaults), schema validation messages and printer columns."""

from __future__ import annotations

import copy
import datetime

import pytest

from kubeling.api import crd, crdprint, customresource, printers, resources, structural, typed

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "string", "enum": ["small", "large"]},
                "replicas": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "properties": {
                              "name": {"type": "string"}, "port": {"type": "integer", "default": 80}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
    },
}


def make_crd(**spec_changes) -> dict:
    spec = {
        "group": "example.com", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [
            {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)},
             "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                      "statusReplicasPath": ".status.replicas"}},
             "additionalPrinterColumns": [{"name": "Size", "type": "string", "jsonPath": ".spec.size"},
                                          {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}]},
            {"name": "v1beta1", "served": True, "storage": False,
             "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
            {"name": "v1alpha1", "served": False, "storage": False,
             "schema": {"openAPIV3Schema": {"type": "object"}}},
        ],
    }
    spec.update(spec_changes)
    obj = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com", "uid": "u1"}, "spec": spec}
    crd.apply_defaults(obj)
    return obj


def messages(causes) -> list[str]:
    return [c["message"] for c in causes]


# ---- the CRD object ---------------------------------------------------------------------------


def test_valid_crd_has_no_causes_and_defaults_names():
    obj = make_crd()
    assert crd.validate(obj, None) == []
    assert obj["spec"]["names"]["listKind"] == "WidgetList"
    assert obj["spec"]["conversion"] == {"strategy": "None"}


def test_crd_validation_messages():
    obj = make_crd(group="example", scope="Weird")
    obj["spec"]["names"]["plural"] = "Widgets"
    obj["spec"]["versions"][0]["storage"] = False
    obj["spec"]["versions"][1]["schema"]["openAPIV3Schema"] = {
        "type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}}
    got = messages(crd.validate(obj, None))
    assert 'metadata.name: Invalid value: "widgets.example.com": must be spec.names.plural+"."+spec.group' in got
    assert 'spec.group: Invalid value: "example": should be a domain with at least one dot' in got
    assert 'spec.scope: Unsupported value: "Weird": supported values: "Cluster", "Namespaced"' in got
    assert any(m.startswith('spec.names.plural: Invalid value: "Widgets": a DNS-1035 label') for m in got)
    assert ("spec.versions[1].schema.openAPIV3Schema.properties[spec].type: Required value: "
            "must not be empty for specified object fields") in got
    assert any("must have exactly one version marked as storage version" in m for m in got)


def test_structural_rules():
    got = messages(crd.structural_errors({"type": "array", "items": {"type": "string"}}, "s"))
    assert got == ['s.type: Invalid value: "array": must be object at the root']
    got = messages(crd.structural_errors(
        {"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}},
                                                "additionalProperties": {"type": "string"}}}}, "s"))
    assert got == ["s.properties[a].additionalProperties: Forbidden: additionalProperties and properties are "
                   "mutual exclusive"]


def test_immutable_fields_on_update():
    old = make_crd()
    new = make_crd(scope="Cluster")
    assert 'spec.scope: Invalid value: "Cluster": field is immutable' in messages(crd.validate(new, old))


def test_rows_one_per_served_version_preferred_first():
    rows = customresource.rows(make_crd())
    assert [r.version for r in rows] == ["v1", "v1beta1"]
    v1 = rows[0]
    assert (v1.group, v1.kind, v1.plural, v1.singular, v1.short_names) == (
        "example.com", "Widget", "widgets", "widget", ("wd",))
    assert [s.name for s in v1.subresources] == ["scale", "status"]
    assert rows[1].subresources == ()
    assert v1.custom.storage_version == "v1"


def test_status_conditions_and_names_conflict():
    obj = make_crd()
    st = crd.status_for(obj, "", "2026-01-01T00:00:00Z")
    assert [(c["type"], c["status"], c["reason"]) for c in st["conditions"]] == [
        ("NamesAccepted", "True", "NoConflicts"), ("Established", "True", "InitialNamesAccepted")]
    assert st["acceptedNames"]["kind"] == "Widget" and st["storedVersions"] == ["v1"]
    st = crd.status_for(obj, '"widgets" is already in use', "2026-01-01T00:00:00Z")
    assert [(c["type"], c["status"], c["reason"]) for c in st["conditions"]] == [
        ("NamesAccepted", "False", "NamesConflict"), ("Established", "False", "NotAccepted")]


def test_install_custom_rows_copy_on_write():
    before = resources.generation()
    rows = tuple(customresource.rows(make_crd()))
    try:
        assert resources.install_custom(rows)
        assert resources.lookup("example.com", "v1", "widgets") is rows[0]
        assert resources.by_kind("example.com", "v1beta1", "Widget") is rows[1]
        assert resources.group_versions()["example.com"] == ["v1", "v1beta1"]
        assert not resources.install_custom(rows)  # unchanged: discovery caches stay
        assert resources.generation() == before + 1
        # a CRD can never shadow a built-in resource
        shadow = customresource.rows(make_crd(group="apps", names={"plural": "deployments", "kind": "Deployment"}))
        resources.install_custom(tuple(shadow))
        assert resources.lookup("apps", "v1", "deployments").custom is None
    finally:
        resources.install_custom(())
    assert resources.lookup("example.com", "v1", "widgets") is None


# ---- custom resources: decode (prune, default) and validation ---------------------------------


def decode(obj: dict) -> list[str]:
    return typed.compile_structural(SCHEMA)(obj, "", [])


def test_prune_and_default():
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "top": 1,
           "spec": {"size": "small", "bogus": {"x": 1}, "extra": {"anything": [1]},
                    "ports": [{"name": "a", "junk": 1}], "labels": {"a": "b"}}}
    unknown: list[str] = []
    typed.compile_structural(SCHEMA)(obj, "", unknown)
    assert unknown == ["top", "spec.bogus", "spec.ports[0].junk"]
    assert obj == {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                   "spec": {"size": "small", "replicas": 1, "extra": {"anything": [1]},
                            "ports": [{"name": "a", "port": 80}], "labels": {"a": "b"}}}


def test_defaults_do_not_replace_values_and_are_copies():
    check = typed.compile_structural(SCHEMA)
    a, b = {"spec": {"replicas": 3}}, {"spec": {}}
    check(a, "", [])
    check(b, "", [])
    assert a["spec"]["replicas"] == 3 and b["spec"]["replicas"] == 1


def test_object_without_properties_prunes_everything():
    unknown: list[str] = []
    obj = {"spec": {"a": 1}}
    typed.compile_structural({"type": "object", "properties": {"spec": {"type": "object"}}})(obj, "", unknown)
    assert obj == {"spec": {}} and unknown == ["spec.a"]


def validate(obj: dict) -> list[str]:
    return messages(structural.validate(structural.compile_schema(SCHEMA), obj))


def test_schema_validation_messages():
    got = validate({"spec": {"size": "huge", "replicas": 20, "name": "Abcdefg", "tags": ["a", "b", "a"],
                             "ports": [{"name": "x"}, {"name": "x"}], "labels": {"a": 1}}})
    assert got == [
        'spec.size: Unsupported value: "huge": supported values: "small", "large"',
        "spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10",
        "spec.name: Too long: may not be more than 5 bytes",
        "spec.name: Invalid value: \"Abcdefg\": spec.name in body should match '^[a-z]+$'",
        'spec.tags[2]: Duplicate value: "a"',
        'spec.ports[1]: Duplicate value: map[string]interface {}{"name":"x"}',
        'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',
    ]


def test_schema_validation_types_and_required():
    assert validate({"spec": {"replicas": "3"}}) == [
        "spec.size: Required value",
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"']
    assert validate({"spec": "x"}) == ['spec: Invalid value: "string": spec in body must be of type object: "string"']
    assert validate({"spec": {"size": 1}}) == [
        'spec.size: Invalid value: "integer": spec.size in body must be of type string: "integer"',
        'spec.size: Unsupported value: 1: supported values: "small", "large"']
    assert validate({"spec": {"size": "small", "extra": {"anything": "goes"}}}) == []


def test_validate_dispatches_to_the_crd_schema():
    rows = tuple(customresource.rows(make_crd()))
    try:
        resources.install_custom(rows)
        obj = {"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": "w", "namespace": "default"}, "spec": {"size": "x"}}
        got = messages(resources.by_kind("example.com", "v1", "Widget").strategy.check(obj, None, "v1", True))
        assert got == ['spec.size: Unsupported value: "x": supported values: "small", "large"']
        assert typed.decode("example.com", "v1", "Widget", {"spec": {"size": "small", "z": 1}}) == ["spec.z"]
    finally:
        resources.install_custom(())


# ---- printer columns ----------------------------------------------------------------------------


@pytest.mark.parametrize("path,want", [
    (".spec.size", "small"),
    (".status.conditions[?(@.type==\"Ready\")].status", "True"),
    (".spec.tags[1]", "b"),
    (".spec.tags[*]", "a"),
    (".spec.missing", None),
    ("{.metadata.name}", "w"),
])
def test_jsonpath(path, want):
    obj = {"metadata": {"name": "w"}, "spec": {"size": "small", "tags": ["a", "b"]},
           "status": {"conditions": [{"type": "Other", "status": "False"}, {"type": "Ready", "status": "True"}]}}
    assert crdprint.first(obj, crdprint.parse(path)) == want


def test_table_of_printer_columns():
    v1 = customresource.rows(make_crd())[0]
    now = datetime.datetime(2026, 1, 1, 0, 1, tzinfo=datetime.timezone.utc)
    objs = [{"metadata": {"name": "w", "creationTimestamp": "2026-01-01T00:00:00Z"},
             "spec": {"size": "small", "replicas": 2}},
            {"metadata": {"name": "v"}, "spec": {}}]
    t = printers.table("example.com", "Widget", objs, now, "7", handler=v1.strategy.printer)
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Size", "Replicas"]
    assert [r["cells"] for r in t["rows"]] == [["w", "small", 2], ["v", None, None]]
    plain = customresource.rows(make_crd())[1]  # no columns: Name and Age
    t = printers.table("example.com", "Widget", objs[:1], now, "7", handler=plain.strategy.printer)
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Age"]
    assert t["rows"][0]["cells"] == ["w", "60s"]


def test_openapi_documents_follow_the_installed_crds():
    import orjson

    from kubeling.apiserver import openapi

    assert "apis/example.com/v1" not in openapi.group_version_paths()
    try:
        resources.install_custom(tuple(customresource.rows(make_crd())))
        doc = orjson.loads(openapi.v3_document("apis/example.com/v1"))
        widget = doc["components"]["schemas"]["com.example.v1.Widget"]
        assert widget["x-kubernetes-group-version-kind"] == [{"group": "example.com", "kind": "Widget",
                                                              "version": "v1"}]
        assert widget["properties"]["spec"]["required"] == ["size"]
        assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in doc["components"]["schemas"]
        assert "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/scale" in doc["paths"]
        patch = doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
        assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
        assert "application/merge-patch+json" in patch["requestBody"]["content"]
        assert b"com.example.v1.WidgetList" in openapi.v2_document()
    finally:
        resources.install_custom(())
    assert openapi.v3_document("apis/example.com/v1") is None
    assert b"com.example.v1.Widget" not in openapi.v2_document()


def test_int_or_string_field_inside_an_object_compiles_and_validates():
    """Regression: an `x-kubernetes-int-or-string` node failed to compile (UnboundLocalError), so a
    CRD with one (the built-in Rollout's maxSurge) was not served at all."""
    v = structural.compile_schema({"type": "object", "properties": {
        "surge": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}}})
    assert v is not None
    assert structural.validate(v, {"surge": "25%"}) == [] and structural.validate(v, {"surge": 2}) == []
    assert [c["message"] for c in structural.validate(v, {"surge": True})] == [
        'surge: Invalid value: true: surge in body must be of type integer,string: "boolean"']


def test_openapi_v2_drops_any_of_as_upstream():
    """Regression: an int-or-string field's `anyOf` reached swagger 2.0, which has no such
    keyword, and /openapi/v2 (protobuf, what kubectl reads) answered 500."""
    from kubeling.apiserver import openapi

    obj = make_crd()
    obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["surge"] = {
        "x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    try:
        resources.install_custom(tuple(customresource.rows(obj)))
        import orjson

        widget = orjson.loads(openapi.v2_document())["definitions"]["com.example.v1.Widget"]
        assert widget["properties"]["spec"]["properties"]["surge"] == {"x-kubernetes-int-or-string": True}
        assert openapi.v2_protobuf()
    finally:
        resources.install_custom(())


def test_custom_resource_metadata_is_decoded_as_object_meta():
    """Regression (found by the fuzzer once the Rollout CRD was served): a custom resource with
    `metadata.labels` of the wrong type reached validation and answered 500 (AttributeError)."""
    decoder = typed.compile_structural(SCHEMA)
    with pytest.raises(typed.Mismatch):
        decoder({"metadata": {"name": "w", "labels": "a=b"}, "spec": {"size": "small"}}, "", [])
    unknown: list = []
    obj = {"metadata": {"name": "w", "labels": {"a": "b"}, "bogus": 1}, "spec": {"size": "small"}}
    decoder(obj, "", unknown)
    assert obj["metadata"] == {"name": "w", "labels": {"a": "b"}} and unknown == ["metadata.bogus"]


def test_integer_ranges_as_go_and_kube_openapi_decide() -> None:
    """Past int64 Go's decoder yields a float64, which kube-openapi takes as an integer only within
    ±2^53; `format: int32|int64` bounds the value (kube-openapi, enforced for CRDs since 1.36)."""
    from kubeling.api.structural import compile_schema
    check = compile_schema({"type": "object", "properties": {
        "small": {"type": "integer", "format": "int32"}, "any": {"type": "integer"}}})
    assert check is not None

    def messages(obj: dict) -> list[str]:
        out: list = []
        check(obj, "spec", out)
        return [c["message"] for c in out]
    assert messages({"small": 2**31 - 1, "any": 2**63 - 1}) == []
    assert messages({"small": 2**31}) == [
        "spec.small: Invalid value: 2147483648: Checked value must be of type integer with format int32 in spec.small"]
    assert messages({"any": 2**63}) == ['spec.any: Invalid value: "number": spec.any in body must be of type integer: "number"']
    assert messages({"any": 2.0**60}) != [] and messages({"any": 2.0**52}) == []


# ---- `pattern` is Go's regexp (RE2) ------------------------------------------------------------

def _with_pattern(pattern: str) -> dict:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "name": {"type": "string", "pattern": pattern}}}}}


@pytest.mark.parametrize("pattern, why", [
    ("+", "error parsing regexp: missing argument to repetition operator: `+`"),  # upstream's own test case
    ("[", "error parsing regexp: missing closing ]: `[`"),
    ("(?<=a)b", "error parsing regexp: invalid named capture: `(?<=a)b`"),  # Python's re takes it (lookbehind)
    ("a(?!b)", "error parsing regexp: invalid or unsupported Perl syntax: `(?!`"),
])
def test_a_pattern_go_refuses_is_invalid(pattern, why):
    """apiextensions validation compiles `pattern` with Go's regexp: a CRD whose pattern does not
    compile is a 422 (it was stored, then never served: the schema did not compile)."""
    got = messages(crd.structural_errors(_with_pattern(pattern), "s"))
    assert got == [f's.properties[spec].properties[name].pattern: Invalid value: "{pattern}": '
                   f"must be a valid regular expression, but isn't: {why}"]


def test_a_go_pattern_compiles_and_matches():
    r"""`\p{L}` is Go (RE2) syntax that Python's re refuses: the CRD was Established and never served."""
    assert crd.structural_errors(_with_pattern(r"^\p{L}+$"), "s") == []
    check = structural.compile_schema(_with_pattern(r"^\p{L}+$"))
    assert structural.validate(check, {"spec": {"name": "héllo"}}) == []
    assert messages(structural.validate(check, {"spec": {"name": "a1"}})) == [
        "spec.name: Invalid value: \"a1\": spec.name in body should match '^\\p{L}+$'"]

