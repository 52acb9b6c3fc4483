"""ValidatingAdmissionPolicy (upstream apiserver/pkg/admission/plugin/policy/validating).

After mutation and object validation, with the validating webhooks (and on deletes), every
ValidatingAdmissionPolicy whose matchConstraints match the request is evaluated once per binding
(ValidatingAdmissionPolicyBinding with its `policyName`) that matches too, and per param object
the binding's paramRef selects. Its matchConditions must all be true; its variables are computed
in order (`variables.<name>`); each validation that is not true becomes a decision acted on by the
binding's validationActions: Deny (the request fails with upstream's
`ValidatingAdmissionPolicy 'P' with binding 'B' denied request: MESSAGE`, code from `reason`,
Invalid/422 by default), Warn (a Warning header) and Audit (the
`validation.policy.admission.k8s.io/validation_failure` audit annotation). An expression that
fails to evaluate follows the policy's failurePolicy (Fail by default). Expressions see
`object`, `oldObject`, `request`, `params`, `namespaceObject` and `variables` (api/cel.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ...api import cel, celauthz, errors
from ...api.resources import by_kind, lookup
from ...api.selectors import from_label_selector_object
from ...api.validation.admission_policy import BASE_VARIABLES
from ...api.validation.admission_policy import WITH_VARIABLES as VALIDATION_VARIABLES
from ...store.base import Entry
from ...store.derived import Derived
from ..auth.attributes import Attributes
from ..auth.user import annotate, current_request, current_user, warn

if TYPE_CHECKING:
    from ...api.resources import Resource
    from ..admission import Objects

GROUP = "admissionregistration.k8s.io"
POLICIES = lookup(GROUP, "v1", "validatingadmissionpolicies")
BINDINGS = lookup(GROUP, "v1", "validatingadmissionpolicybindings")
NAMESPACES = lookup("", "v1", "namespaces")
assert POLICIES and BINDINGS and NAMESPACES


def _by_policy(entries: list[Entry]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        b = e.obj()
        out.setdefault((b.get("spec") or {}).get("policyName") or "", []).append(b)
    return out


POLICY_LIST: Derived[list[dict[str, Any]]] = Derived(lambda entries: [e.obj() for e in entries])
BINDINGS_BY_POLICY: Derived[dict[str, list[dict[str, Any]]]] = Derived(_by_policy)

REASON_CODES = {"Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413, "Invalid": 422}
MAX_MESSAGE = 5 * 1024  # celconfig.MaxEvaluatedMessageExpressionSizeBytes
MAX_AUDIT_VALUE = 10 * 1024


# ---- matching (shared with the webhooks) -------------------------------------------------------

def _any(values: list[str], value: str) -> bool:
    return "*" in values or value in values


def rule_matches(rule: dict[str, Any], op: str, res: "Resource", sub: str, exact_version: bool = True) -> bool:
    """A RuleWithOperations: operations, apiGroups, apiVersions (any version under
    `matchPolicy: Equivalent`), resources (`res`, `res/sub`, `res/*`, `*/sub`, `*`), scope."""
    combined = f"{res.plural}/{sub}" if sub else res.plural
    resources = rule.get("resources") or []
    scope = rule.get("scope") or "*"
    return (_any(rule.get("operations") or [], op) and _any(rule.get("apiGroups") or [], res.group)
            and (not exact_version or _any(rule.get("apiVersions") or [], res.version))
            and ("*" in resources or combined in resources or (bool(sub) and f"{res.plural}/*" in resources)
                 or (bool(sub) and f"*/{sub}" in resources))
            and (scope == "*" or scope == ("Namespaced" if res.namespaced else "Cluster")))


def _labels(obj: dict[str, Any] | None) -> dict[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def selectors_match(registry: "Objects", match: dict[str, Any], res: "Resource", obj: dict[str, Any] | None,
                    old: dict[str, Any] | None) -> bool:
    """objectSelector (on the new or the old object) and namespaceSelector (on the request's
    namespace; a Namespace matches on its own labels; other cluster-scoped objects always)."""
    obj_sel = from_label_selector_object(match.get("objectSelector") or {})
    if not ((obj is not None and obj_sel.matches(_labels(obj))) or (old is not None and obj_sel.matches(_labels(old)))):
        return False
    ns_sel = from_label_selector_object(match.get("namespaceSelector") or {})
    if res.namespaced:
        ns = registry.store.get(NAMESPACES.key(None, ((obj or old or {}).get("metadata") or {}).get("namespace", "")))
        return ns_sel.matches(_labels(ns.obj()) if ns is not None else {})
    if res.kind == "Namespace" and res.group == "":
        return ns_sel.matches(_labels(obj if obj is not None else old))
    return True


def _name_matches(rule: dict[str, Any], name: str) -> bool:
    names = rule.get("resourceNames") or []
    return not names or name in names


def resources_match(registry: "Objects", match: dict[str, Any] | None, req: "Request") -> bool:
    """MatchResources: selectors, resourceRules minus excludeResourceRules (upstream matching.go).
    The rules are checked first: they are cheap and usually decide (no side effects either way)."""
    if not match:
        return True
    exact = match.get("matchPolicy") == "Exact"
    if any(rule_matches(r, req.op, req.res, req.sub, exact) and _name_matches(r, req.name)
           for r in match.get("excludeResourceRules") or ()):
        return False
    rules = match.get("resourceRules")  # None: a binding's matchResources without rules narrows by selectors only
    if rules is not None and not any(rule_matches(r, req.op, req.res, req.sub, exact) and _name_matches(r, req.name)
                                     for r in rules):
        return False
    return selectors_match(registry, match, req.res, req.obj, req.old)


# ---- one request ----------------------------------------------------------------------------

@dataclass
class Request:
    res: "Resource"
    sub: str
    op: str  # CREATE, UPDATE, DELETE
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    dry_run: bool

    @property
    def meta(self) -> dict[str, Any]:
        return ((self.obj if self.obj is not None else self.old) or {}).get("metadata") or {}

    @property
    def name(self) -> str:
        return self.meta.get("name", "")

    @property
    def namespace(self) -> str:
        return self.meta.get("namespace", "") if self.res.namespaced else ""

    def admission_request(self) -> dict[str, Any]:
        """The `request` variable: admission.k8s.io/v1 AdmissionRequest's fields."""
        user = current_user.get()
        kind = {"group": self.res.group, "version": self.res.version, "kind": self.res.kind}
        resource = {"group": self.res.group, "version": self.res.version, "resource": self.res.plural}
        options = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}[self.op]
        return {"kind": kind, "resource": resource, "subResource": self.sub, "requestKind": kind,
                "requestResource": resource, "requestSubResource": self.sub, "name": self.name,
                "namespace": self.namespace, "operation": self.op,
                "userInfo": user.info() if user is not None else {"username": "system:apiserver",
                                                                   "groups": ["system:masters"]},
                "dryRun": self.dry_run, "options": {"apiVersion": "meta.k8s.io/v1", "kind": options}}


@dataclass
class Decision:
    message: str
    reason: str = "Invalid"
    index: int = -1  # the validation's index, for the audit annotation; -1: not a validation


def _deny(f: str, message: str) -> list[Decision]:
    return [Decision(message)] if f != "Ignore" else []


def _message(v: dict[str, Any], act: dict[str, Any], budget: list[int]) -> str:
    """messageExpression's string if it gives a usable one, else `message`, else `failed expression: E`."""
    if v.get("messageExpression"):
        try:
            got = cel.compile(v["messageExpression"], VALIDATION_VARIABLES).evaluate(act, budget)
            if isinstance(got, str) and got.strip() and "\n" not in got.strip() and len(got.strip()) <= MAX_MESSAGE:
                return got.strip()
        except (cel.CompileError, cel.EvalError):
            pass
    if (v.get("message") or "").strip():
        return v["message"].strip()
    return f"failed expression: {(v.get('expression') or '').strip()}"


def match_conditions(conditions: list[dict[str, Any]], act: dict[str, Any], budget: list[int]) -> bool:
    """All matchConditions true: match; one false: no match (even if another errs); otherwise
    raise cel.EvalError with upstream's text (the caller applies its failurePolicy)."""
    failed: list[str] = []
    for c in conditions:
        try:
            ok = cel.compile(c.get("expression", ""), BASE_VARIABLES).evaluate(act, budget)
        except (cel.CompileError, cel.EvalError) as e:
            failed.append(f"expression '{c.get('expression', '')}' resulted in error: {e}")
            continue
        if ok is not True:
            return False
    if failed:  # utilerrors.NewAggregate's text
        raise cel.EvalError(failed[0] if len(failed) == 1 else "[" + ", ".join(failed) + "]")
    return True


def _variables(policy_spec: dict[str, Any], act: dict[str, Any], budget: list[int]) -> dict[str, Any]:
    """`variables.<name>` in order, each seeing the ones before; a failed one is an EvalError value."""
    values: dict[str, Any] = {}
    for var in policy_spec.get("variables") or ():
        try:
            values[var["name"]] = cel.to_cel(cel.compile(var.get("expression", ""), VALIDATION_VARIABLES).evaluate(
                {**act, "variables": cel.to_cel(_usable(values))}, budget))
        except (cel.CompileError, cel.EvalError) as e:
            values[var["name"]] = e
    return values


def _usable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not isinstance(v, Exception)}


def evaluate_policy(name: str, spec: dict[str, Any], act: dict[str, Any], budget: list[int]) -> list[Decision]:
    """The policy's decisions for one (binding, param): matchConditions, variables, validations."""
    f = spec.get("failurePolicy") or "Fail"
    try:
        if not match_conditions(spec.get("matchConditions") or [], act, budget):
            return []
    except cel.EvalError as e:
        return _deny(f, str(e))
    values = _variables(spec, act, budget)
    act = {**act, "variables": cel.to_cel(_usable(values))}
    out: list[Decision] = []
    for i, v in enumerate(spec.get("validations") or ()):
        expr = v.get("expression", "")
        broken = next((k for k, e in values.items() if isinstance(e, Exception) and f"variables.{k}" in expr), None)
        try:
            if broken is not None:
                raise cel.EvalError(f'composited variable "{broken}" fails to evaluate: {values[broken]}')
            ok = cel.compile(expr, VALIDATION_VARIABLES).evaluate(act, budget)
        except (cel.CompileError, cel.EvalError) as e:
            out += [Decision(f"expression '{expr}' resulted in error: {e}", index=i)] if f != "Ignore" else []
            continue
        if ok is not True:
            out.append(Decision(_message(v, act, budget), v.get("reason") or "Invalid", i))
    for a in spec.get("auditAnnotations") or ():
        try:
            value = cel.compile(a.get("valueExpression", ""), VALIDATION_VARIABLES).evaluate(act, budget)
        except (cel.CompileError, cel.EvalError) as e:
            out += _deny(f, f"expression '{a.get('valueExpression', '')}' resulted in error: {e}")
            continue
        if isinstance(value, str) and value.strip():
            annotate(f"{name}/{a.get('key', '')}", value.strip()[:MAX_AUDIT_VALUE])
        elif value is not None and not isinstance(value, str):
            out += _deny(f, f"valueExpression '{a.get('valueExpression', '')}' resulted in unsupported return type: "
                            f"{type(value).__name__}. Return type must be either string or null.")
    return out


def _authorize(authz: Any, user: Any) -> Any:
    """The check function of the `authorizer` variable: the request's user against `authz`."""
    if authz is None or user is None:
        return None

    def authorize(c: celauthz.Check, verb: str) -> tuple[bool, str]:
        return authz.authorize(Attributes(
            user=user, verb=verb, resource_request=c.resource_request, path=c.path, api_group=c.group,
            api_version=c.version or "*", namespace=c.namespace, resource=c.resource, subresource=c.subresource,
            name=c.name))
    return authorize


def _strip(obj: dict[str, Any] | None) -> Any:
    if obj is None:
        return None
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


class ValidatingAdmissionPolicies:
    """The admission step; stateless: policies, bindings and params are read from the store.
    `authz` (the API server's authorizer, set by `kubeling up`) answers the `authorizer` variable."""

    def __init__(self, authz: Any = None) -> None:
        self.authz = authz

    def admit(self, registry: "Objects", res: "Resource", obj: dict[str, Any] | None,
              old: dict[str, Any] | None, dry_run: bool) -> None:
        if res.group == GROUP:  # admission configuration is exempt, as upstream
            return
        policies = POLICY_LIST.get(registry.store, POLICIES.prefix(None))
        if not policies:
            return
        by_policy = BINDINGS_BY_POLICY.get(registry.store, BINDINGS.prefix(None))
        attrs = current_request.get()
        op = "DELETE" if obj is None else ("CREATE" if old is None else "UPDATE")
        req = Request(res, getattr(attrs, "subresource", "") or "", op, obj, old, dry_run)
        base: dict[str, Any] | None = None
        budget = [cel.REQUEST_LIMIT]
        denied: list[tuple[str, str, Decision]] = []
        for policy in policies:
            spec, pname = policy.get("spec") or {}, (policy.get("metadata") or {}).get("name", "")
            bindings = by_policy.get(pname)
            if not bindings or not resources_match(registry, spec.get("matchConstraints") or {"resourceRules": []},
                                                   req):
                continue
            for binding in bindings:
                bspec = binding.get("spec") or {}
                if not resources_match(registry, bspec.get("matchResources"), req):
                    continue
                bname = (binding.get("metadata") or {}).get("name", "")
                if base is None:
                    base = self._activation(registry, req, self.authz)
                try:
                    params = self._params(registry, spec, bspec, req)
                except LookupError as e:
                    if (spec.get("failurePolicy") or "Fail") != "Ignore":
                        denied.append((pname, bname, Decision(f"failed to configure binding: {e}")))
                    continue
                for param in params:
                    act = {**base, "params": cel.to_cel(param)}
                    for d in evaluate_policy(pname, spec, act, budget):
                        self._act(pname, bname, bspec, d, denied)
        if denied:
            pname, bname, d = denied[0]
            message = f"ValidatingAdmissionPolicy '{pname}' with binding '{bname}' denied request: {d.message}"
            err = errors.forbidden(res.plural, req.name, res.group, message)
            err.reason, err.code = d.reason, REASON_CODES.get(d.reason, 422)
            err.details = {**(err.details or {}), "causes": [{"message": message}]}
            raise err

    @staticmethod
    def _act(pname: str, bname: str, bspec: dict[str, Any], d: Decision,
             denied: list[tuple[str, str, Decision]]) -> None:
        actions = bspec.get("validationActions") or ["Deny"]
        if "Deny" in actions:
            denied.append((pname, bname, d))
        if "Warn" in actions:
            warn(f"Validation failed for ValidatingAdmissionPolicy '{pname}' with binding '{bname}': {d.message}")
        if "Audit" in actions:
            annotate("validation.policy.admission.k8s.io/validation_failure", orjson.dumps([{
                "message": d.message, "policy": pname, "binding": bname, "expressionIndex": d.index,
                "validationActions": actions}]).decode())

    @staticmethod
    def _activation(registry: "Objects", req: Request, authz: Any) -> dict[str, Any]:
        ns_obj = None
        if req.namespace and not (req.res.kind == "Namespace" and req.res.group == ""):
            ns = registry.store.get(NAMESPACES.key(None, req.namespace))
            ns_obj = _strip(ns.obj()) if ns is not None else None
        return {"object": cel.to_cel(_strip(req.obj)), "oldObject": cel.to_cel(_strip(req.old)),
                "request": cel.to_cel(req.admission_request()), "namespaceObject": cel.to_cel(ns_obj),
                "authorizer": celauthz.for_request(_authorize(authz, current_user.get()), req.res.group,
                                                   req.res.version, req.res.plural, req.sub, req.namespace, req.name)}

    @staticmethod
    def _params(registry: "Objects", spec: dict[str, Any], bspec: dict[str, Any], req: Request) -> list[Any]:
        """The binding's param objects ([None] without paramKind); LookupError: a config error."""
        kind = spec.get("paramKind")
        if not kind:
            return [None]
        ref = bspec.get("paramRef")
        if not ref:
            raise LookupError(f"paramKind kind `{kind.get('kind', '')}` is set but paramRef is not set in binding")
        group, _, version = (kind.get("apiVersion") or "").rpartition("/")
        pres = by_kind(group, version, kind.get("kind", ""))
        if pres is None:
            raise LookupError(f"failed to find resource referenced by paramKind: "
                              f"'{kind.get('apiVersion', '')}, Kind={kind.get('kind', '')}'")
        ns = ref.get("namespace") or (req.namespace if pres.namespaced else None)
        if pres.namespaced and not ns:
            raise LookupError("cannot use namespaced paramRef in policy binding that matches cluster-scoped resources")
        if ref.get("name"):
            entry = registry.store.get(pres.key(ns if pres.namespaced else None, ref["name"]))
            found = [entry.obj()] if entry is not None else []
        else:
            sel = from_label_selector_object(ref.get("selector") or {})
            found = [e.obj() for e in registry.store.list(pres.prefix(ns if pres.namespaced else None))[0]
                     if sel.matches(_labels(e.obj()))]
        if not found:
            if ref.get("parameterNotFoundAction") == "Allow":
                return []
            raise LookupError("no params found for policy binding with `Deny` parameterNotFoundAction")
        return [_strip(p) for p in found]
