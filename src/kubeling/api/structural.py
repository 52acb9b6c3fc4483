"""Validation of custom resources against a CRD version's structural schema.

Upstream runs kube-openapi's validator (`k8s.io/kube-openapi/pkg/validation/validate`) on every
custom resource after pruning and defaulting; its messages name the field twice (`spec.replicas:
Invalid value: "x": spec.replicas in body must be of type integer: "x"`). Here the schema is
compiled once per CRD version into nested closures that collect field causes. Pruning and
defaults belong to the decode step (api/typed.py `compile_structural`).
"""

from __future__ import annotations

from typing import Any, Callable

from . import errors, goregexp

Causes = list[dict[str, Any]]
Validator = Callable[[Any, str, Causes], None]

_INT64 = (-2**63, 2**63 - 1)
_INT_FORMATS = {"int32": (-2**31, 2**31 - 1), "int64": _INT64}

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    # Go decodes a JSON integer past int64 as a float64, and kube-openapi takes a float as an
    # integer only within ±2^53 (swag.IsFloat64AJSONInteger)
    "integer": lambda v: (type(v) is int and _INT64[0] <= v <= _INT64[1])
    or (type(v) is float and v.is_integer() and abs(v) <= 2**53),
    "number": lambda v: type(v) in (int, float),
    "boolean": lambda v: type(v) is bool,
}


def go_value(v: Any) -> str:
    """A value as field.Invalid prints it (%#v-ish: strings quoted, numbers bare)."""
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return '"' + type(v).__name__ + '"'
    return str(v)


def _cause(reason: str, path: str, message: str) -> dict[str, Any]:
    return errors.field_cause(reason, path, f"{path}: {message}")


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer" if _INT64[0] <= v <= _INT64[1] else "number"
    if isinstance(v, float):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(v), "null")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def compile_schema(s: dict[str, Any] | None) -> Validator | None:
    """The validator of one structural schema node (None: nothing to check)."""
    if not isinstance(s, dict):
        return None
    checks: list[Validator] = []
    typ = s.get("type")
    nullable = bool(s.get("nullable"))
    of_type: Callable[[Any, str, Causes], bool] | None = None
    if s.get("x-kubernetes-int-or-string"):
        def int_or_string(v: Any, path: str, out: Causes) -> None:
            if not isinstance(v, (str, int)) or isinstance(v, bool):
                out.append(_cause("FieldValueInvalid", path, f"Invalid value: {go_value(v)}: {path} in body must be "
                                  f"of type integer,string: {go_value(_json_type(v))}"))
        checks.append(int_or_string)
    elif typ in _TYPES:
        ok = _TYPES[typ]

        def typed(v: Any, path: str, out: Causes) -> bool:
            if ok(v) or (v is None and nullable):
                return True
            got = go_value(_json_type(v))  # the value shown is its JSON type, as kube-openapi's error
            out.append(_cause("FieldValueInvalid", path, f"Invalid value: {got}: {path} in body must be of type "
                              f"{typ}: {got}"))
            return False
        of_type = typed
    enum: Validator | None = None
    if "enum" in s:
        allowed = s["enum"]
        listed = ", ".join(go_value(a) for a in allowed)

        def enum(v: Any, path: str, out: Causes) -> None:
            if v not in allowed:
                out.append(_cause("FieldValueNotSupported", path,
                                  f"Unsupported value: {go_value(v)}: supported values: {listed}"))
        checks.append(enum)
    if typ == "string":
        checks += _string_checks(s)
    if typ in ("integer", "number"):
        checks += _number_checks(s)
    if typ == "array":
        checks += _array_checks(s)
    if typ == "object" or "properties" in s:
        checks += _object_checks(s)
    if of_type is None and not checks:
        return None

    def validate(v: Any, path: str, out: Causes) -> None:
        if of_type is not None and not of_type(v, path, out):
            if enum is not None:  # reported as well, as upstream does
                enum(v, path, out)
            return
        if v is None:
            return
        for c in checks:
            c(v, path, out)
    return validate


def _string_checks(s: dict[str, Any]) -> list[Validator]:
    out: list[Validator] = []
    if "maxLength" in s:
        n = s["maxLength"]
        out.append(lambda v, p, o: len(v) > n and o.append(_cause("FieldValueTooLong", p,
                                                                  f"Too long: may not be more than {n} bytes")))
    if "minLength" in s:
        m = s["minLength"]
        out.append(lambda v, p, o: len(v) < m and o.append(_cause(
            "FieldValueInvalid", p, f"Invalid value: {go_value(v)}: {p} in body should be at least {m} chars long")))
    if "pattern" in s:
        pattern = s["pattern"]
        try:
            rx = goregexp.compile_pattern(pattern)
        except goregexp.RegexpError:
            rx = None  # refused when the CRD was written (crd.structural_errors); stored before that check
        if rx is not None:
            out.append(lambda v, p, o: rx.search(v) is None and o.append(_cause(
                "FieldValueInvalid", p, f"Invalid value: {go_value(v)}: {p} in body should match '{pattern}'")))
    return out


def _number_checks(s: dict[str, Any]) -> list[Validator]:
    out: list[Validator] = []
    bounds = _INT_FORMATS.get(s.get("format", "")) if s.get("type") == "integer" else None
    if bounds:  # kube-openapi's numeric format check (enforced for CRDs since Kubernetes 1.36)
        fmt = s["format"]
        out.append(lambda v, p, o: not bounds[0] <= v <= bounds[1] and o.append(_cause(
            "FieldValueInvalid", p, f"Invalid value: {go_value(v)}: Checked value must be of type integer with "
            f"format {fmt} in {p}")))
    if "minimum" in s:
        lo, excl = s["minimum"], bool(s.get("exclusiveMinimum"))
        word = "greater than" if excl else "greater than or equal to"
        out.append(lambda v, p, o: (v <= lo if excl else v < lo) and o.append(_cause(
            "FieldValueInvalid", p, f"Invalid value: {go_value(v)}: {p} in body should be {word} {go_value(lo)}")))
    if "maximum" in s:
        hi, excl_hi = s["maximum"], bool(s.get("exclusiveMaximum"))
        word_hi = "less than" if excl_hi else "less than or equal to"
        out.append(lambda v, p, o: (v >= hi if excl_hi else v > hi) and o.append(_cause(
            "FieldValueInvalid", p, f"Invalid value: {go_value(v)}: {p} in body should be {word_hi} {go_value(hi)}")))
    if "multipleOf" in s:
        k = s["multipleOf"]
        out.append(lambda v, p, o: k and v % k != 0 and o.append(_cause(
            "FieldValueInvalid", p, f"Invalid value: {go_value(v)}: {p} in body should be a multiple of {go_value(k)}")))
    return out


def _array_checks(s: dict[str, Any]) -> list[Validator]:
    out: list[Validator] = []
    if "maxItems" in s:
        n = s["maxItems"]
        out.append(lambda v, p, o: len(v) > n and o.append(_cause(
            "FieldValueTooMany", p, f"Too many: {len(v)}: must have at most {n} items")))
    if "minItems" in s:
        m = s["minItems"]
        out.append(lambda v, p, o: len(v) < m and o.append(_cause(
            "FieldValueInvalid", p, f"Invalid value: {len(v)}: {p} in body should have at least {m} items")))
    list_type = s.get("x-kubernetes-list-type")
    if list_type == "set":
        def unique(v: list, p: str, o: Causes) -> None:
            seen: list[Any] = []
            for i, x in enumerate(v):
                if x in seen:
                    o.append(_cause("FieldValueDuplicate", f"{p}[{i}]", f"Duplicate value: {go_value(x)}"))
                else:
                    seen.append(x)
        out.append(unique)
    elif list_type == "map":
        keys = tuple(s.get("x-kubernetes-list-map-keys") or ())

        def unique_keys(v: list, p: str, o: Causes) -> None:
            seen: set[tuple] = set()
            for i, x in enumerate(v):
                if not isinstance(x, dict):
                    continue
                k = tuple(repr(x.get(key)) for key in keys)
                if k in seen:
                    shown = ", ".join(f'"{key}":{go_value(x.get(key))}' for key in keys if key in x)
                    o.append(_cause("FieldValueDuplicate", f"{p}[{i}]",
                                    f"Duplicate value: map[string]interface {{}}{{{shown}}}"))
                seen.add(k)
        out.append(unique_keys)
    item = compile_schema(s.get("items"))
    if item is not None:
        def items(v: list, p: str, o: Causes) -> None:
            for i, x in enumerate(v):
                item(x, f"{p}[{i}]", o)
        out.append(items)
    return out


def _object_checks(s: dict[str, Any]) -> list[Validator]:
    out: list[Validator] = []
    required = list(s.get("required") or ())
    if required:
        def req(v: dict, p: str, o: Causes) -> None:
            for k in required:
                if k not in v:
                    o.append(_cause("FieldValueRequired", _join(p, k), "Required value"))
        out.append(req)
    props = {k: c for k, c in ((k, compile_schema(ps)) for k, ps in (s.get("properties") or {}).items())
             if c is not None}
    if props:
        def fields(v: dict, p: str, o: Causes) -> None:
            for k, c in props.items():
                if k in v:
                    c(v[k], _join(p, k), o)
        out.append(fields)
    extra = s.get("additionalProperties")
    extra_c = compile_schema(extra) if isinstance(extra, dict) else None
    if extra_c is not None:
        def values(v: dict, p: str, o: Causes) -> None:
            for k, x in v.items():
                extra_c(x, _join(p, k), o)
        out.append(values)
    for bound, word in (("maxProperties", "at most"), ("minProperties", "at least")):
        if bound in s:
            n = s[bound]
            too = (lambda v, n=n: len(v) > n) if bound == "maxProperties" else (lambda v, n=n: len(v) < n)
            out.append(lambda v, p, o, too=too, n=n, word=word: too(v) and o.append(_cause(
                "FieldValueInvalid" if word == "at least" else "FieldValueTooMany", p,
                f"Invalid value: {len(v)}: {p} in body should have {word} {n} properties")))
    return out


def validate(v: Validator | None, obj: dict[str, Any]) -> Causes:
    """Every cause of `obj` against the compiled root (metadata is validated elsewhere)."""
    out: Causes = []
    if v is not None:
        body = {k: x for k, x in obj.items() if k not in ("metadata", "apiVersion", "kind")}
        v(body, "", out)
    return out
