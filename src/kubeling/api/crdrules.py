"""CRD validation rules: `x-kubernetes-validations` of a structural schema, in CEL (upstream
apiextensions-apiserver pkg/apiserver/schema/cel/validation.go).

Each schema node's rules see the node's value as `self` and, for transition rules (those that
name `oldSelf`), the correlated value of the old object as `oldSelf`: a transition rule runs on
updates only, where an old value exists at the same place (same property, same map key, same
list-map keys). A rule that is not true is a field error at the node (or at the node plus the
rule's `fieldPath`), with the rule's `reason` (FieldValueInvalid by default) and message
(`messageExpression`, then `message`, then `failed rule: RULE`); an evaluation error is upstream's
`<error> evaluating rule: <rule or message>`. The rules of a CRD version compile once; a CRD
whose rules do not compile is refused (rule_errors) with cel-go's text.
"""

from __future__ import annotations

from typing import Any, Callable

from . import cel
from .structural import Causes, _cause, go_value
from .validation.field import GoRaw, go_quote, invalid, not_supported, required

SELF = ("self",)
TRANSITION = ("self", "oldSelf")
RuleValidator = Callable[[Any, Any, str, Causes, list[int]], None]  # (value, old value, path, out, budget)


def _is_transition(rule: str) -> bool:
    return "oldSelf" in rule


def _program(rule: dict[str, Any]) -> cel.Program:
    text = rule.get("rule", "")
    return cel.compile(text, TRANSITION if _is_transition(text) else SELF)


def _rule_text(rule: dict[str, Any]) -> str:
    """upstream ruleErrorString: the message if there is one, else the rule."""
    return (rule.get("message") or "").strip() or (rule.get("rule") or "").strip()


def _at(path: str, field_path: str) -> str:
    if not field_path:
        return path
    return (path + field_path) if path else field_path.lstrip(".")


def _failure(rule: dict[str, Any], act: dict[str, Any], budget: list[int], typ: str, path: str) -> dict[str, Any]:
    message = ""
    if rule.get("messageExpression"):
        try:
            got = cel.compile(rule["messageExpression"], TRANSITION if "oldSelf" in act else SELF).evaluate(act, budget)
            if isinstance(got, str) and got.strip() and "\n" not in got:
                message = got.strip()
        except (cel.CompileError, cel.EvalError):
            pass
    message = message or (rule.get("message") or "").strip() or f"failed rule: {(rule.get('rule') or '').strip()}"
    at = _at(path, rule.get("fieldPath") or "")
    reason = rule.get("reason") or "FieldValueInvalid"
    if reason == "FieldValueForbidden":
        return _cause(reason, at, f"Forbidden: {message}")
    if reason == "FieldValueRequired":
        return _cause(reason, at, f"Required value: {message}")
    if reason == "FieldValueDuplicate":
        return _cause(reason, at, f"Duplicate value: {go_value(message)}")
    return _cause("FieldValueInvalid", at, f"Invalid value: {go_value(typ)}: {message}")


def _node_rules(s: dict[str, Any]) -> RuleValidator | None:
    rules = [r for r in s.get("x-kubernetes-validations") or () if isinstance(r, dict) and r.get("rule")]
    if not rules:
        return None
    compiled = [(r, _program(r)) for r in rules]
    typ = s.get("type") or ""

    def check(v: Any, old: Any, path: str, out: Causes, budget: list[int]) -> None:
        if budget[0] <= 0:
            return
        this = cel.to_cel(v)
        before = cel.to_cel(old) if old is not None else None
        for rule, program in compiled:
            transition = _is_transition(rule["rule"])
            if transition and old is None:
                continue
            act = {"self": this, "oldSelf": before} if transition else {"self": this}
            try:
                ok = program.evaluate(act, budget)
            except cel.EvalError as e:
                text = str(e)
                if text.startswith("operation cancelled"):
                    out.append(_cause("FieldValueInvalid", path, f"Invalid value: {go_value(typ)}: {text}: no further "
                                      f"validation rules will be run due to call cost exceeds limit for rule: "
                                      f"{_rule_text(rule)}"))
                    budget[0] = 0
                    return
                if text.startswith("no such overload"):
                    text = (f"'{text}': call arguments did not match a supported operator, function or macro "
                            f"signature for rule: {_rule_text(rule)}")
                else:
                    text = f"{text} evaluating rule: {_rule_text(rule)}"
                out.append(_cause("FieldValueInvalid", path, f"Invalid value: {go_value(typ)}: {text}"))
                continue
            if ok is not True:
                out.append(_failure(rule, act, budget, typ, path))
    return check


def _correlate_items(s: dict[str, Any], old: Any) -> Callable[[Any], Any]:
    """The old item of a new one: by keys for list-type map, by value for set, none for atomic."""
    if not isinstance(old, list):
        return lambda item: None
    if s.get("x-kubernetes-list-type") == "map":
        keys = tuple(s.get("x-kubernetes-list-map-keys") or ())
        by_key = {tuple(repr(o.get(k)) for k in keys): o for o in old if isinstance(o, dict)}
        return lambda item: by_key.get(tuple(repr(item.get(k)) for k in keys)) if isinstance(item, dict) else None
    if s.get("x-kubernetes-list-type") == "set":
        return lambda item: item if item in old else None
    return lambda item: None


def compile_rules(s: Any) -> RuleValidator | None:
    """The rules of a schema node and everything below it (None: no rules anywhere)."""
    if not isinstance(s, dict):
        return None
    here = _node_rules(s)
    props = {k: c for k, c in ((k, compile_rules(p)) for k, p in (s.get("properties") or {}).items()) if c}
    extra = compile_rules(s.get("additionalProperties")) if isinstance(s.get("additionalProperties"), dict) else None
    item = compile_rules(s.get("items"))
    if not (here or props or extra or item):
        return None

    def check(v: Any, old: Any, path: str, out: Causes, budget: list[int]) -> None:
        if v is None:
            return
        if here is not None:
            here(v, old, path, out, budget)
        if isinstance(v, dict):
            prev = old if isinstance(old, dict) else {}
            for k, c in props.items():
                if k in v:
                    c(v[k], prev.get(k), f"{path}.{k}" if path else k, out, budget)
            if extra is not None:
                for k, x in v.items():
                    extra(x, prev.get(k), f"{path}[{k}]", out, budget)
        elif isinstance(v, list) and item is not None:
            find = _correlate_items(s, old)
            for i, x in enumerate(v):
                item(x, find(x), f"{path}[{i}]", out, budget)
    return check


def _root(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """`self` at the root: apiVersion, kind, metadata.name/generateName and the rest of the body."""
    if obj is None:
        return None
    meta = obj.get("metadata") or {}
    return {**obj, "metadata": {k: meta[k] for k in ("name", "generateName") if k in meta}}


def validate(rules: RuleValidator | None, obj: dict[str, Any], old: dict[str, Any] | None) -> Causes:
    out: Causes = []
    if rules is not None:
        rules(_root(obj), _root(old), "", out, [cel.REQUEST_LIMIT])
    return out


def _go_rule(r: dict[str, Any]) -> str:
    """The rule as field.Invalid prints an apiextensions.ValidationRule (%#v)."""
    def ptr(v: Any, typ: str) -> str:
        return f"({typ})(nil)" if v is None else f"({typ})(0x0)"  # Go prints the pointer's address
    return (f'apiextensions.ValidationRule{{Rule:{go_quote(r.get("rule", ""))}, '
            f'Message:{go_quote(r.get("message", ""))}, MessageExpression:{go_quote(r.get("messageExpression", ""))}, '
            f'Reason:{ptr(r.get("reason"), "*apiextensions.FieldValueErrorReason")}, '
            f'FieldPath:{go_quote(r.get("fieldPath", ""))}, OptionalOldSelf:{ptr(r.get("optionalOldSelf"), "*bool")}}}')


def rule_errors(s: Any, fld: str) -> Causes:
    """CRD validation: every rule (and messageExpression) compiles; reasons are known ones."""
    if not isinstance(s, dict):
        return []
    out: Causes = []
    for i, r in enumerate(s.get("x-kubernetes-validations") or ()):
        p = f"{fld}.x-kubernetes-validations[{i}]"
        if not isinstance(r, dict):
            continue
        if not r.get("rule"):
            out.append(required(f"{p}.rule", ""))
            continue
        try:
            _program(r)
        except cel.CompileError as e:
            out.append(invalid(f"{p}.rule", GoRaw(_go_rule(r)), f"compilation failed: {e}"))
        if r.get("messageExpression"):
            try:
                cel.compile(r["messageExpression"], TRANSITION if _is_transition(r["rule"]) else SELF)
            except cel.CompileError as e:
                out.append(invalid(f"{p}.messageExpression", r["messageExpression"],
                                   f"messageExpression compilation failed: {e}"))
        reasons = ("FieldValueRequired", "FieldValueForbidden", "FieldValueInvalid", "FieldValueDuplicate")
        if r.get("reason") is not None and r["reason"] not in reasons:
            out.append(not_supported(f"{p}.reason", r["reason"], reasons))
    for k, p in (s.get("properties") or {}).items():
        out += rule_errors(p, f"{fld}.properties[{k}]")
    if isinstance(s.get("items"), dict):
        out += rule_errors(s["items"], f"{fld}.items")
    if isinstance(s.get("additionalProperties"), dict):
        out += rule_errors(s["additionalProperties"], f"{fld}.additionalProperties")
    return out
