"""admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy and its Binding (and the webhook
configurations' matchConditions): defaults and
validation (upstream pkg/apis/admissionregistration/{v1/defaults.go,validation/validation.go}).
CEL expressions are compiled here (api/cel.py), so a policy that would not compile is a 422 with
upstream's `compilation failed: ERROR: <input>:L:C: ...` rather than a surprise at admission."""

from __future__ import annotations

from typing import Any

from .. import cel
from .core import validate_meta
from .field import Causes, dict_of, invalid, list_of, name_is_dns_subdomain, not_supported, required

BASE_VARIABLES = ("object", "oldObject", "request", "params", "namespaceObject", "authorizer")
WITH_VARIABLES = (*BASE_VARIABLES, "variables")
WEBHOOK_VARIABLES = ("object", "oldObject", "request", "authorizer")
FAILURE_POLICIES = ("Fail", "Ignore")
ACTIONS = ("Audit", "Deny", "Warn")
REASONS = ("Unauthorized", "Forbidden", "Invalid", "RequestEntityTooLarge")


# ---- defaults ---------------------------------------------------------------------------------

def _default_match_resources(m: dict[str, Any]) -> None:
    m.setdefault("matchPolicy", "Equivalent")
    m.setdefault("namespaceSelector", {})
    m.setdefault("objectSelector", {})
    for key in ("resourceRules", "excludeResourceRules"):
        for r in m.get(key) or ():
            if isinstance(r, dict):
                r.setdefault("scope", "*")


def policy_defaults(obj: dict[str, Any], version: str) -> None:
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        spec.setdefault("failurePolicy", "Fail")
        if isinstance(spec.get("matchConstraints"), dict):
            _default_match_resources(spec["matchConstraints"])


def binding_defaults(obj: dict[str, Any], version: str) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("matchResources"), dict):
        _default_match_resources(spec["matchResources"])


# ---- validation -------------------------------------------------------------------------------

def expression(value: Any, fld: str, variables: tuple[str, ...]) -> Causes:
    """Required, and compiles."""
    if not value:
        return [required(fld, "expression is not specified")]
    try:
        cel.compile(value, variables)
    except cel.CompileError as e:
        return [invalid(fld, value, f"compilation failed: {e}")]
    return []


def _named_expressions(items: Any, fld: str, variables: tuple[str, ...], names_required: bool = True) -> Causes:
    out: Causes = []
    seen: set[str] = set()
    for i, item in enumerate(list_of(items)):
        p = f"{fld}[{i}]"
        name = dict_of(item).get("name")
        if names_required and not name:
            out.append(required(p + ".name", ""))
        elif name in seen:
            out.append(invalid(p + ".name", name, "must be unique"))  # upstream: Duplicate value
        seen.add(name or "")
        out += expression(dict_of(item).get("expression"), p + ".expression", variables)
    return out


def _match_resources(m: Any, fld: str, rules_required: bool) -> Causes:
    m = dict_of(m)
    out: Causes = []
    if rules_required and not m.get("resourceRules"):
        out.append(required(fld + ".resourceRules", ""))
    if m.get("matchPolicy") not in (None, "Exact", "Equivalent"):
        out.append(not_supported(fld + ".matchPolicy", m["matchPolicy"], ("Equivalent", "Exact")))
    return out


def validate_policy(obj: dict[str, Any], old: dict[str, Any] | None) -> Causes:
    out = validate_meta(obj, old, False, name_is_dns_subdomain)
    spec = dict_of(obj.get("spec"))
    if spec.get("failurePolicy") not in FAILURE_POLICIES:
        out.append(not_supported("spec.failurePolicy", spec.get("failurePolicy"), FAILURE_POLICIES))
    if not spec.get("matchConstraints"):
        out.append(required("spec.matchConstraints", ""))
    else:
        out += _match_resources(spec["matchConstraints"], "spec.matchConstraints", True)
    if not spec.get("validations") and not spec.get("auditAnnotations"):
        out.append(required("spec.validations", "validations or auditAnnotations must contain at least one item"))
    out += _named_expressions(spec.get("matchConditions"), "spec.matchConditions", BASE_VARIABLES)
    out += _named_expressions(spec.get("variables"), "spec.variables", WITH_VARIABLES)
    for i, v in enumerate(list_of(spec.get("validations"))):
        p = f"spec.validations[{i}]"
        v = dict_of(v)
        out += expression(v.get("expression"), p + ".expression", WITH_VARIABLES)
        if v.get("messageExpression"):
            out += expression(v["messageExpression"], p + ".messageExpression", WITH_VARIABLES)
        if v.get("reason") is not None and v["reason"] not in REASONS:
            out.append(not_supported(p + ".reason", v["reason"], REASONS))
        if "\n" in (v.get("message") or ""):
            out.append(invalid(p + ".message", v["message"], "message must not contain line breaks"))
    for i, a in enumerate(list_of(spec.get("auditAnnotations"))):
        p = f"spec.auditAnnotations[{i}]"
        a = dict_of(a)
        if not a.get("key"):
            out.append(required(p + ".key", ""))
        out += expression(a.get("valueExpression"), p + ".valueExpression", WITH_VARIABLES)
    pk = spec.get("paramKind")
    if pk is not None:
        pk = dict_of(pk)
        if not pk.get("apiVersion"):
            out.append(required("spec.paramKind.apiVersion", ""))
        if not pk.get("kind"):
            out.append(required("spec.paramKind.kind", ""))
    return out


def validate_binding(obj: dict[str, Any], old: dict[str, Any] | None) -> Causes:
    out = validate_meta(obj, old, False, name_is_dns_subdomain)
    spec = dict_of(obj.get("spec"))
    if not spec.get("policyName"):
        out.append(required("spec.policyName", ""))
    actions = list_of(spec.get("validationActions"))
    if not actions:
        out.append(required("spec.validationActions", "at least one validation action is required"))
    for i, a in enumerate(actions):
        if a not in ACTIONS:
            out.append(not_supported(f"spec.validationActions[{i}]", a, ACTIONS))
    if "Deny" in actions and "Warn" in actions:
        out.append(invalid("spec.validationActions", actions,
                           "must not contain both Deny and Warn (repeating the same validation failure "
                           "information in the API response and headers serves no purpose)"))
    if spec.get("matchResources") is not None:
        out += _match_resources(spec["matchResources"], "spec.matchResources", False)
    ref = spec.get("paramRef")
    if ref is not None:
        ref = dict_of(ref)
        if ref.get("name") and ref.get("selector") is not None:
            out.append(invalid("spec.paramRef.name", ref["name"], "name and selector are mutually exclusive"))
        if not ref.get("name") and ref.get("selector") is None:
            out.append(required("spec.paramRef", "one of name or selector must be specified"))
        if ref.get("parameterNotFoundAction") not in ("Allow", "Deny"):
            out.append(required("spec.paramRef.parameterNotFoundAction", "")
                       if not ref.get("parameterNotFoundAction")
                       else not_supported("spec.paramRef.parameterNotFoundAction", ref["parameterNotFoundAction"],
                                          ("Allow", "Deny")))
    return out


def validate_webhook_configuration(obj: dict[str, Any], old: dict[str, Any] | None) -> Causes:
    """Mutating/ValidatingWebhookConfiguration: ObjectMeta, and matchConditions that compile."""
    out = validate_meta(obj, old, False, name_is_dns_subdomain)
    for i, hook in enumerate(list_of(obj.get("webhooks"))):
        out += _named_expressions(dict_of(hook).get("matchConditions"), f"webhooks[{i}].matchConditions",
                                  WEBHOOK_VARIABLES)
    return out
