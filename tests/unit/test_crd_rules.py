"""x-kubernetes-validations (api/crdrules.py): rules, messages, reasons, fieldPath, transition
rules with oldSelf, list-map correlation, evaluation errors and compile errors of the CRD."""

from __future__ import annotations

from kubeling.api import crdrules

SCHEMA = {"type": "object", "properties": {"spec": {
    "type": "object",
    "x-kubernetes-validations": [
        {"rule": "self.minReplicas <= self.maxReplicas", "message": "min must not exceed max"},
        {"rule": "self.maxReplicas < 100"},
        {"rule": "!has(self.mode) || self.mode != 'bad'", "messageExpression": "'mode ' + self.mode + ' is bad'",
         "reason": "FieldValueForbidden", "fieldPath": ".mode"},
        {"rule": "self.maxReplicas >= oldSelf.maxReplicas", "message": "maxReplicas may not shrink"},
    ],
    "properties": {
        "minReplicas": {"type": "integer"}, "maxReplicas": {"type": "integer"}, "mode": {"type": "string"},
        "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}]},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                            "x-kubernetes-validations": [{"rule": "self.port == oldSelf.port",
                                                          "message": "port is immutable"}]}},
        "labels": {"type": "object", "additionalProperties": {
            "type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 5"}]}},
    }}}}


def messages(obj: dict, old: dict | None = None) -> list[str]:
    return [c["message"] for c in crdrules.validate(crdrules.compile_rules(SCHEMA), obj, old)]


def test_rules_on_create() -> None:
    assert messages({"spec": {"minReplicas": 1, "maxReplicas": 3}}) == []
    assert messages({"spec": {"minReplicas": 500, "maxReplicas": 300, "mode": "bad", "labels": {"a": "toolong"}}}) == [
        'spec: Invalid value: "object": min must not exceed max',
        'spec: Invalid value: "object": failed rule: self.maxReplicas < 100',
        "spec.mode: Forbidden: mode bad is bad",
        'spec.labels[a]: Invalid value: "string": failed rule: self.size() < 5',
    ]


def test_transition_rules_see_the_correlated_old_value() -> None:
    old = {"spec": {"minReplicas": 1, "maxReplicas": 5, "name": "a", "ports": [{"name": "http", "port": 80}]}}
    new = {"spec": {"minReplicas": 1, "maxReplicas": 4, "name": "b",
                    "ports": [{"name": "extra", "port": 1}, {"name": "http", "port": 81}]}}
    assert messages(new, old) == [
        'spec: Invalid value: "object": maxReplicas may not shrink',
        'spec.name: Invalid value: "string": immutable',
        'spec.ports[1]: Invalid value: "object": port is immutable',  # correlated by key, not index
    ]
    assert messages({"spec": {"minReplicas": 1, "maxReplicas": 4, "name": "b"}}) == []  # create: no oldSelf


def test_evaluation_errors_name_the_rule() -> None:
    assert messages({"spec": {"minReplicas": 1}}) == [
        'spec: Invalid value: "object": no such key: maxReplicas evaluating rule: min must not exceed max',
        'spec: Invalid value: "object": no such key: maxReplicas evaluating rule: self.maxReplicas < 100']


def test_rules_that_do_not_compile_are_refused_on_the_crd() -> None:
    bad = {"type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-validations": [
        {"rule": "self.x == nosuch"}, {"rule": ""}, {"rule": "true", "reason": "Nope"}]}}}
    causes = crdrules.rule_errors(bad, "spec.versions[0].schema.openAPIV3Schema")
    fld = "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations"
    assert [c["field"] for c in causes] == [f"{fld}[0].rule", f"{fld}[1].rule", f"{fld}[2].reason"]
    assert ('Invalid value: apiextensions.ValidationRule{Rule:"self.x == nosuch", Message:"", MessageExpression:"", '
            'Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:"", OptionalOldSelf:(*bool)(nil)}: '
            "compilation failed: ERROR: <input>:1:11: undeclared reference to 'nosuch' (in container '')") \
        in causes[0]["message"]
