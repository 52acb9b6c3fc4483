"""Field errors and name rules every validator builds on (apimachinery field/errors.go, pkg/util/validation).

Every rule returns `details.causes` entries built with `errors.field_cause(reason, field, message)`,
where `message` is upstream's `field.Error.Error()` text (`<field>: <body>`), so the aggregated
422 message reads exactly like kube-apiserver's. Bad values are printed the way Go's
`%q`/`%v`/`%#v` would.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable

from kubeling.api import errors


Cause = dict[str, str]
Causes = list[Cause]

# ---------------------------------------------------------------------------------------------
# Go value formatting (field/errors.go ErrorBody)


class GoRaw(str):
    """A value already rendered the way Go's `%#v` prints it (structs, maps, slices)."""


def go_quote(s: str) -> str:
    """strconv.Quote: Go's double-quoted string literal."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch in "\a\b\f\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_value(v: Any) -> str:
    if isinstance(v, GoRaw):
        return str(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if not v.is_integer() else str(int(v))
    if isinstance(v, str):
        return go_quote(v)
    return json.dumps(v, separators=(",", ":"))


def go_map(m: dict | None) -> GoRaw:
    """`%#v` of a map[string]string (keys sorted like fmt does)."""
    if m is None:
        return GoRaw("map[string]string(nil)")
    items = ", ".join(f"{go_quote(str(k))}:{go_quote(str(m[k]))}" for k in sorted(m))
    return GoRaw("map[string]string{" + items + "}")


def go_strings(xs: list | None) -> GoRaw:
    if xs is None:
        return GoRaw("[]string(nil)")
    return GoRaw("[]string{" + ", ".join(go_quote(str(x)) for x in xs) + "}")


def go_int_or_string(v: Any) -> GoRaw:
    """`%#v` of intstr.IntOrString (a value, so its pointer-receiver String() is not used)."""
    if isinstance(v, str):
        return GoRaw(f'intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(v)}}}')
    iv = v if isinstance(v, int) and not isinstance(v, bool) else 0
    return GoRaw(f'intstr.IntOrString{{Type:0, IntVal:{iv}, StrVal:""}}')


def go_label_selector(sel: dict | None) -> GoRaw:
    """`%#v` of metav1.LabelSelector (what immutable-selector errors print)."""
    if sel is None:
        return GoRaw("null")
    ml = sel.get("matchLabels")
    me = sel.get("matchExpressions")
    if me is None:
        exprs = "[]v1.LabelSelectorRequirement(nil)"
    else:
        parts = []
        for r in me:
            parts.append(
                f'v1.LabelSelectorRequirement{{Key:{go_quote(str(r.get("key", "")))}, '
                f'Operator:{go_quote(str(r.get("operator", "")))}, Values:{go_strings(r.get("values"))}}}'
            )
        exprs = "[]v1.LabelSelectorRequirement{" + ", ".join(parts) + "}"
    return GoRaw(f"v1.LabelSelector{{MatchLabels:{go_map(ml)}, MatchExpressions:{exprs}}}")


# ---------------------------------------------------------------------------------------------
# field.Error constructors: return causes whose message is field.Error.Error()


def _cause(reason: str, fld: str, body: str) -> Cause:
    return errors.field_cause(reason, fld, f"{fld}: {body}")


def _with_detail(body: str, detail: str) -> str:
    return f"{body}: {detail}" if detail else body


def required(fld: str, detail: str = "") -> Cause:
    return _cause("FieldValueRequired", fld, _with_detail("Required value", detail))


def forbidden(fld: str, detail: str = "") -> Cause:
    return _cause("FieldValueForbidden", fld, _with_detail("Forbidden", detail))


def invalid(fld: str, value: Any, detail: str = "") -> Cause:
    return _cause("FieldValueInvalid", fld, _with_detail(f"Invalid value: {_go_value(value)}", detail))


def not_supported(fld: str, value: Any, valid: Iterable[str]) -> Cause:
    vals = list(valid)
    detail = "supported values: " + ", ".join(go_quote(v) for v in vals) if vals else ""
    return _cause("FieldValueNotSupported", fld, _with_detail(f"Unsupported value: {_go_value(value)}", detail))


def duplicate(fld: str, value: Any) -> Cause:
    return _cause("FieldValueDuplicate", fld, f"Duplicate value: {_go_value(value)}")


def not_found(fld: str, value: Any) -> Cause:
    return _cause("FieldValueNotFound", fld, f"Not found: {_go_value(value)}")


def too_long(fld: str, max_len: int) -> Cause:
    unit = "byte" if max_len == 1 else "bytes"
    return _cause("FieldValueTooLong", fld, f"Too long: may not be more than {max_len} {unit}")


def too_many(fld: str, actual: int, max_items: int) -> Cause:
    return _cause("FieldValueTooMany", fld, f"Too many: {actual}: must have at most {max_items} items")


def body(cause: Cause) -> str:
    """ErrorBody(): the message without the `<field>: ` prefix (what upstream puts in causes)."""
    prefix = cause["field"] + ": "
    msg = cause["message"]
    return msg[len(prefix):] if msg.startswith(prefix) else msg


def invalid_error(kind: str, name: str, group: str, causes: Causes) -> errors.StatusError:
    """422 Invalid exactly like apimachinery errors.NewInvalid.

    The top message aggregates full `field: body` texts (deduplicated, `[a, b]` when several);
    each `details.causes[].message` is the body only, as upstream's `err.ErrorBody()`.
    """
    seen: set[str] = set()
    msgs: list[str] = []
    for c in causes:
        if c["message"] not in seen:
            seen.add(c["message"])
            msgs.append(c["message"])
    qualified = f"{kind}.{group}" if group else kind
    if not msgs:
        message = f'{qualified} "{name}" is invalid'
    else:
        agg = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
        message = f'{qualified} "{name}" is invalid: {agg}'
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    details["causes"] = [{"reason": c["reason"], "message": body(c), "field": c["field"]} for c in causes]
    return errors.StatusError(422, "Invalid", message, details)


# ---------------------------------------------------------------------------------------------
# apimachinery pkg/util/validation: names, labels, ports


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    msg += " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            msg += " or "
        msg += "'" + ex + "', "
    return msg + "regex used for validation is '" + fmt + "')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


EMPTY_ERROR = "must be non-empty"
IS_NEGATIVE_ERROR = "must be greater than or equal to 0"
FIELD_IMMUTABLE = "field is immutable"

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUB_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUB_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character"
)
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_CM_KEY_FMT = "[-._a-zA-Z0-9]+"
_CM_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_PERCENT_FMT = "[0-9]+%"
_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"

DNS1123_LABEL_RE = re.compile("^" + _DNS1123_LABEL_FMT + "$")
DNS1123_SUBDOMAIN_RE = re.compile("^" + _DNS1123_SUB_FMT + "$")
_dns1035_re = re.compile("^" + _DNS1035_FMT + "$")
QNAME_RE = re.compile("^" + _QNAME_FMT + "$")
LABEL_VALUE_RE = re.compile("^" + _LABEL_VALUE_FMT + "$")
_cm_key_re = re.compile("^" + _CM_KEY_FMT + "$")
_percent_re = re.compile("^" + _PERCENT_FMT + "$")
_port_name_charset_re = re.compile("^[-a-z0-9]+$")
_port_name_letter_re = re.compile("[a-z]")


def is_dns1123_label(v: str) -> list[str]:
    errs = []
    if len(v) > 63:
        errs.append(max_len_error(63))
    if not DNS1123_LABEL_RE.match(v):
        if DNS1123_SUBDOMAIN_RE.match(v):
            errs.append("must not contain dots")
        else:
            errs.append(_regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(v: str) -> list[str]:
    errs = []
    if len(v) > 253:
        errs.append(max_len_error(253))
    if not DNS1123_SUBDOMAIN_RE.match(v):
        errs.append(_regex_error(_DNS1123_SUB_MSG, _DNS1123_SUB_FMT, "example.com"))
    return errs


def is_dns1035_label(v: str) -> list[str]:
    errs = []
    if len(v) > 63:
        errs.append(max_len_error(63))
    if not _dns1035_re.match(v):
        errs.append(_regex_error(_DNS1035_MSG, _DNS1035_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(v: str) -> list[str]:
    errs: list[str] = []
    parts = v.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + EMPTY_ERROR)
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return errs + [
            "a qualified name "
            + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + EMPTY_ERROR)
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not QNAME_RE.match(name):
        errs.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(v: str) -> list[str]:
    errs = []
    if len(v) > 63:
        errs.append(max_len_error(63))
    if not LABEL_VALUE_RE.match(v):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def config_map_key_ok(v: str) -> bool:
    """is_config_map_key(v) == [], without building the list."""
    return len(v) <= 253 and _cm_key_re.match(v) is not None and v != "." and not v.startswith("..")


def is_config_map_key(v: str) -> list[str]:
    errs = []
    if len(v) > 253:
        errs.append(max_len_error(253))
    if not _cm_key_re.match(v):
        errs.append(_regex_error(_CM_KEY_MSG, _CM_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if v == ".":
        errs.append("must not be '.'")
    elif v == "..":
        errs.append("must not be '..'")
    elif v.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_port_num(p: Any) -> list[str]:
    if isinstance(p, int) and 1 <= p <= 65535:
        return []
    return [inclusive_range_error(1, 65535)]


def is_valid_port_name(p: str) -> list[str]:
    errs = []
    if len(p) > 15:
        errs.append(max_len_error(15))
    if not _port_name_charset_re.match(p):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    elif not _port_name_letter_re.search(p):
        errs.append("must contain at least one letter (a-z)")
    if "--" in p:
        errs.append("must not contain consecutive hyphens")
    if p and (p[0] == "-" or p[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_percent(v: str) -> list[str]:
    if _percent_re.match(v):
        return []
    return [_regex_error(_PERCENT_MSG, _PERCENT_FMT, "1%", "93%")]


def is_valid_path_segment_name(name: str) -> list[str]:
    for bad in (".", ".."):
        if name == bad:
            return [f"may not be '{bad}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _mask_trailing_dash(name: str) -> str:
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


NameFn = Callable[[str, bool], list[str]]


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def validate_path_segment_name(name: str, prefix: bool) -> list[str]:
    if prefix:
        return [f"may not contain '{c}'" for c in ("/", "%") if c in name]
    return is_valid_path_segment_name(name)


# ---------------------------------------------------------------------------------------------
# small helpers on plain dicts
#
# Validation runs after the typed decode (api/typed.py): every field is absent or of its schema's
# type, so only absence is handled here. `str_of` / `int_of` pick one side of int-or-string values.


def dict_of(v: dict | None) -> dict:
    return v or {}


def list_of(v: list | None) -> list:
    return v or []


def str_of(v: Any) -> str:
    return v if isinstance(v, str) else ""


def int_of(v: Any, default: int = 0) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def nonnegative(v: int | None, fld: str) -> Causes:
    if v is not None and v < 0:
        return [invalid(fld, v, IS_NEGATIVE_ERROR)]
    return []


def dns1123_label_field(v: str, fld: str) -> Causes:
    return [invalid(fld, v, m) for m in is_dns1123_label(v)]


def dns1123_subdomain_field(v: str, fld: str) -> Causes:
    return [invalid(fld, v, m) for m in is_dns1123_subdomain(v)]


def qualified_name_field(v: str, fld: str) -> Causes:
    return [invalid(fld, v, m) for m in is_qualified_name(v)]


def sem_equal(a: Any, b: Any) -> bool:
    """apiequality.Semantic.DeepEqual on JSON: absent, null, empty map and empty list are equal."""
    if _empty(a) and _empty(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return all(sem_equal(a.get(k), b.get(k)) for k in keys)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(sem_equal(x, y) for x, y in zip(a, b))
    return a == b


def _empty(v: Any) -> bool:
    return v is None or v == {} or v == []


def immutable(new: Any, old: Any, fld: str, render: Callable[[Any], Any] | None = None) -> Causes:
    if sem_equal(new, old):
        return []
    return [invalid(fld, render(new) if render else new, FIELD_IMMUTABLE)]


# ---------------------------------------------------------------------------------------------
