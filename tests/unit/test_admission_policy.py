"""ValidatingAdmissionPolicy evaluation (apiserver/plugins/policy.py) and validation
(api/validation/admission_policy.py), without a server."""

from __future__ import annotations

from kubeling.api import cel
from kubeling.api.validation.admission_policy import policy_defaults, validate_binding, validate_policy
from kubeling.apiserver.plugins.policy import evaluate_policy

OBJ = {"metadata": {"name": "d"}, "spec": {"replicas": 7}}


def decisions(spec: dict, obj: dict | None = OBJ, params: dict | None = None) -> list[tuple[str, str, int]]:
    act = {"object": cel.to_cel(obj), "oldObject": None, "request": cel.to_cel({"operation": "CREATE"}),
           "params": cel.to_cel(params), "namespaceObject": None, "authorizer": None}
    return [(d.message, d.reason, d.index) for d in evaluate_policy("p", spec, act, [cel.REQUEST_LIMIT])]


def test_messages_fall_back_from_message_expression_to_message_to_the_expression() -> None:
    v = {"expression": "object.spec.replicas <= 5"}
    assert decisions({"validations": [v]}) == [("failed expression: object.spec.replicas <= 5", "Invalid", 0)]
    assert decisions({"validations": [{**v, "message": " too many "}]}) == [("too many", "Invalid", 0)]
    got = decisions({"validations": [{**v, "message": "m", "messageExpression": "'got ' + string(object.spec.replicas)",
                                      "reason": "Forbidden"}]})
    assert got == [("got 7", "Forbidden", 0)]
    bad = decisions({"validations": [{**v, "message": "m", "messageExpression": "object.nosuch"}]})
    assert bad == [("m", "Invalid", 0)]  # a failing messageExpression falls back
    assert decisions({"validations": [{"expression": "object.spec.replicas <= 10"}]}) == []


def test_errors_follow_the_failure_policy() -> None:
    v = [{"expression": "object.spec.nosuch > 1"}]
    assert decisions({"validations": v}) == [
        ("expression 'object.spec.nosuch > 1' resulted in error: no such key: nosuch", "Invalid", 0)]
    assert decisions({"validations": v, "failurePolicy": "Ignore"}) == []


def test_match_conditions_and_variables() -> None:
    spec = {"matchConditions": [{"name": "big", "expression": "object.spec.replicas > 5"}],
            "variables": [{"name": "r", "expression": "object.spec.replicas"},
                          {"name": "twice", "expression": "variables.r * 2"}],
            "validations": [{"expression": "variables.twice <= params.max"}]}
    assert decisions(spec, params={"max": 10}) == [("failed expression: variables.twice <= params.max", "Invalid", 0)]
    assert decisions(spec, params={"max": 20}) == []
    assert decisions(spec, obj={"spec": {"replicas": 1}}, params={"max": 0}) == []  # a false condition skips
    broken = {**spec, "matchConditions": [{"name": "x", "expression": "object.nosuch"}]}
    assert decisions(broken, params={"max": 0}) == [
        ("expression 'object.nosuch' resulted in error: no such key: nosuch", "Invalid", -1)]


def test_policy_defaults_and_validation() -> None:
    policy = {"metadata": {"name": "p"}, "spec": {"matchConstraints": {"resourceRules": [{"resources": ["pods"]}]},
                                                  "validations": [{"expression": "object.x =="}]}}
    policy_defaults(policy, "v1")
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert policy["spec"]["matchConstraints"]["matchPolicy"] == "Equivalent"
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["scope"] == "*"
    causes = validate_policy(policy, None)
    assert [c["field"] for c in causes] == ["spec.validations[0].expression"]
    assert "compilation failed: ERROR: <input>:1:" in causes[0]["message"]
    policy["spec"]["validations"] = [{"expression": "true", "reason": "Teapot"}]
    assert [c["field"] for c in validate_policy(policy, None)] == ["spec.validations[0].reason"]
    causes = validate_policy({"metadata": {"name": "p"}, "spec": {"failurePolicy": "Fail"}}, None)
    assert [c["field"] for c in causes] == ["spec.matchConstraints", "spec.validations"]
    causes = validate_binding({"metadata": {"name": "b"}, "spec": {"validationActions": ["Deny", "Nope"]}}, None)
    assert [c["field"] for c in causes] == ["spec.policyName", "spec.validationActions[1]"]


def test_a_failing_variable_fails_only_the_validations_that_use_it() -> None:
    spec = {"variables": [{"name": "bad", "expression": "object.nosuch"}],
            "validations": [{"expression": "variables.bad == 1"}, {"expression": "object.spec.replicas > 100"}]}
    assert decisions(spec) == [
        ("expression 'variables.bad == 1' resulted in error: composited variable \"bad\" fails to evaluate: "
         "no such key: nosuch", "Invalid", 0),
        ("failed expression: object.spec.replicas > 100", "Invalid", 1)]
