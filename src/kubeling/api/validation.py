"""Semantic validation of API objects, ported from upstream Kubernetes v1.32.

Every rule returns `details.causes` entries built with `errors.field_cause(reason, field, message)`,
where `message` is upstream's `field.Error.Error()` text (`<field>: <body>`), so the aggregated
422 message reads exactly like kube-apiserver's (`The Deployment "x" is invalid: spec.selector:
Required value`). Sources: k8s.io/apimachinery pkg/util/validation (names, labels),
pkg/api/validation (ObjectMeta), pkg/apis/core/validation, pkg/apis/apps/validation,
pkg/apis/batch/validation, ... Bad values are printed the way Go's `%q`/`%v`/`%#v` would.

Also here: strict field validation (`unknown field "spec.replica"`, `duplicate field "x"`) and the
Status errors the apiserver builds from it.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
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

_dns1123_label_re = re.compile("^" + _DNS1123_LABEL_FMT + "$")
_dns1123_sub_re = re.compile("^" + _DNS1123_SUB_FMT + "$")
_dns1035_re = re.compile("^" + _DNS1035_FMT + "$")
_qname_re = re.compile("^" + _QNAME_FMT + "$")
_label_value_re = re.compile("^" + _LABEL_VALUE_FMT + "$")
_cm_key_re = re.compile("^" + _CM_KEY_FMT + "$")
_percent_re = re.compile("^" + _PERCENT_FMT + "$")
_port_name_charset_re = re.compile("^[-a-z0-9]+$")
_port_name_letter_re = re.compile("[a-z]")


def is_dns1123_label(v: str) -> list[str]:
    errs = []
    if len(v) > 63:
        errs.append(max_len_error(63))
    if not _dns1123_label_re.match(v):
        if _dns1123_sub_re.match(v):
            errs.append("must not contain dots")
        else:
            errs.append(_regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(v: str) -> list[str]:
    errs = []
    if len(v) > 253:
        errs.append(max_len_error(253))
    if not _dns1123_sub_re.match(v):
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
    if not _qname_re.match(name):
        errs.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(v: str) -> list[str]:
    errs = []
    if len(v) > 63:
        errs.append(max_len_error(63))
    if not _label_value_re.match(v):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _config_map_key_ok(v: str) -> bool:
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
# type, so only absence is handled here. `_s` / `_i` pick one side of int-or-string values.


def _d(v: dict | None) -> dict:
    return v or {}


def _l(v: list | None) -> list:
    return v or []


def _s(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _i(v: Any, default: int = 0) -> int:
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


def _sem_equal(a: Any, b: Any) -> bool:
    """apiequality.Semantic.DeepEqual on JSON: absent, null, empty map and empty list are equal."""
    if _empty(a) and _empty(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return all(_sem_equal(a.get(k), b.get(k)) for k in keys)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_sem_equal(x, y) for x, y in zip(a, b))
    return a == b


def _empty(v: Any) -> bool:
    return v is None or v == {} or v == []


def immutable(new: Any, old: Any, fld: str, render: Callable[[Any], Any] | None = None) -> Causes:
    if _sem_equal(new, old):
        return []
    return [invalid(fld, render(new) if render else new, FIELD_IMMUTABLE)]


# ---------------------------------------------------------------------------------------------
# ObjectMeta (apimachinery pkg/api/validation/objectmeta.go)

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
MAX_SECRET_SIZE = 1024 * 1024


def _qualified_name_ok(k: str) -> bool:
    """is_qualified_name(k) == [] (a fast yes; False means "ask is_qualified_name")."""
    prefix, slash, name = k.rpartition("/")
    if slash and (not prefix or "/" in prefix or len(prefix) > 253 or not _dns1123_sub_re.match(prefix)):
        return False
    return 0 < len(name) <= 63 and _qname_re.match(name) is not None


def _labels_ok(labels: Any) -> bool:
    """validate_labels would find nothing (the common case, checked without building causes)."""
    if not labels:
        return True
    for k, v in labels.items():
        if not _qualified_name_ok(k):
            return False
        if len(v) > 63 or not _label_value_re.match(v):
            return False
    return True


def validate_labels(labels: Any, fld: str) -> Causes:
    if _labels_ok(labels):
        return []
    return _label_causes(labels, fld)


def _label_causes(labels: Any, fld: str) -> Causes:
    out: Causes = []
    for k, v in _d(labels).items():
        out += [invalid(fld, k, m) for m in is_qualified_name(k)]
        out += [invalid(fld, v, m) for m in is_valid_label_value(_s(v))]
    return out


def validate_annotations(annotations: Any, fld: str) -> Causes:
    out: Causes = []
    ann = _d(annotations)
    total = 0
    for k, v in ann.items():
        out += [invalid(fld, k, m) for m in is_qualified_name(k.lower())]
        total += len(k) + len(_s(v))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        out.append(too_long(fld, TOTAL_ANNOTATION_SIZE_LIMIT))
    return out


def _go_owner_refs(refs: list) -> GoRaw:
    parts = []
    for r in refs:
        r = _d(r)
        ctrl = r.get("controller")
        bod = r.get("blockOwnerDeletion")
        parts.append(
            "v1.OwnerReference{"
            f'APIVersion:{go_quote(_s(r.get("apiVersion")))}, Kind:{go_quote(_s(r.get("kind")))}, '
            f'Name:{go_quote(_s(r.get("name")))}, UID:{go_quote(_s(r.get("uid")))}, '
            f"Controller:{'(*bool)(nil)' if ctrl is None else '(*bool)(0x0)'}, "
            f"BlockOwnerDeletion:{'(*bool)(nil)' if bod is None else '(*bool)(0x0)'}}}"
        )
    return GoRaw("[]v1.OwnerReference{" + ", ".join(parts) + "}")


def validate_owner_references(refs: Any, fld: str) -> Causes:
    out: Causes = []
    first = ""
    for ref in _l(refs):
        ref = _d(ref)
        api_version = _s(ref.get("apiVersion"))
        version = api_version.rpartition("/")[2]
        if not version:
            out.append(invalid(fld + ".apiVersion", api_version, "version must not be empty"))
        if not _s(ref.get("kind")):
            out.append(invalid(fld + ".kind", _s(ref.get("kind")), "must not be empty"))
        if not _s(ref.get("name")):
            out.append(invalid(fld + ".name", _s(ref.get("name")), "must not be empty"))
        if not _s(ref.get("uid")):
            out.append(invalid(fld + ".uid", _s(ref.get("uid")), "must not be empty"))
        if ref.get("controller") is True:
            cur = f'{_s(ref.get("kind"))}/{_s(ref.get("name"))}'
            if first:
                out.append(invalid(
                    fld, _go_owner_refs(_l(refs)),
                    f'Only one reference can have Controller set to true. Found "true" in references for {first} and {cur}',
                ))
            else:
                first = cur
    return out


def validate_finalizers(finalizers: Any, fld: str) -> Causes:
    out: Causes = []
    for f in _l(finalizers):
        out += qualified_name_field(_s(f), fld)
    return out


def _object_meta_ok(m: dict, namespaced: bool, name_fn: NameFn) -> bool:
    """validate_object_meta would find nothing: a plain name (and namespace), valid labels, and
    no generateName, negative generation, annotations, owners or finalizers to look at."""
    name = m.get("name")
    if type(name) is not str or not name or m.get("generateName"):
        return False
    if name_fn is name_is_dns_subdomain:
        if len(name) > 253 or not _dns1123_sub_re.match(name):
            return False
    elif name_fn(name, False):
        return False
    ns = m.get("namespace")
    if namespaced:
        if not ns or len(ns) > 63 or not _dns1123_label_re.match(ns):
            return False
    elif ns:
        return False
    gen = m.get("generation")
    if gen is not None and gen < 0:
        return False
    return (not m.get("annotations") and not m.get("ownerReferences") and not m.get("finalizers")
            and _labels_ok(m.get("labels")))


def validate_object_meta(meta: Any, namespaced: bool, name_fn: NameFn, fld: str = "metadata") -> Causes:
    """ValidateObjectMetaAccessor: names, namespace, labels, annotations, owners, finalizers."""
    m = _d(meta)
    if _object_meta_ok(m, namespaced, name_fn):
        return []
    return _object_meta_causes(m, namespaced, name_fn, fld)


def _object_meta_causes(m: dict, namespaced: bool, name_fn: NameFn, fld: str) -> Causes:
    out: Causes = []
    gen_name = _s(m.get("generateName"))
    if gen_name:
        out += [invalid(fld + ".generateName", gen_name, msg) for msg in name_fn(gen_name, True)]
    name = _s(m.get("name"))
    if not name:
        out.append(required(fld + ".name", "name or generateName is required"))
    else:
        out += [invalid(fld + ".name", name, msg) for msg in name_fn(name, False)]
    ns = _s(m.get("namespace"))
    if namespaced:
        if not ns:
            out.append(required(fld + ".namespace"))
        else:
            out += [invalid(fld + ".namespace", ns, msg) for msg in name_is_dns_label(ns, False)]
    elif ns:
        out.append(forbidden(fld + ".namespace", "not allowed on this type"))
    out += nonnegative(m.get("generation"), fld + ".generation")
    out += validate_labels(m.get("labels"), fld + ".labels")
    out += validate_annotations(m.get("annotations"), fld + ".annotations")
    out += validate_owner_references(m.get("ownerReferences"), fld + ".ownerReferences")
    out += validate_finalizers(m.get("finalizers"), fld + ".finalizers")
    return out


def validate_object_meta_update(meta: Any, old_meta: Any, fld: str = "metadata") -> Causes:
    """ValidateObjectMetaUpdate: identity fields are immutable; labels etc. still valid."""
    m, o = _d(meta), _d(old_meta)
    out: Causes = []
    if _i(m.get("generation")) < _i(o.get("generation")):
        out.append(invalid(fld + ".generation", _i(m.get("generation")), "must not be decremented"))
    for key in ("name", "namespace", "uid"):
        out += immutable(_s(m.get(key)), _s(o.get(key)), f"{fld}.{key}")
    for key in ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if m.get(key) != o.get(key):
            out.append(invalid(f"{fld}.{key}", m.get(key), FIELD_IMMUTABLE))
    out += validate_labels(m.get("labels"), fld + ".labels")
    out += validate_annotations(m.get("annotations"), fld + ".annotations")
    out += validate_owner_references(m.get("ownerReferences"), fld + ".ownerReferences")
    return out


# ---------------------------------------------------------------------------------------------
# Label selectors (metav1 validation)

_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(sel: Any, fld: str) -> Causes:
    s = _d(sel)
    out: Causes = []
    for i, req in enumerate(_l(s.get("matchExpressions"))):
        req = _d(req)
        p = f"{fld}.matchExpressions[{i}]"
        op = _s(req.get("operator"))
        vals = _l(req.get("values"))
        if op in ("In", "NotIn"):
            if not vals:
                out.append(required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if vals:
                out.append(forbidden(p + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            out.append(invalid(p + ".operator", op, "not a valid selector operator"))
        out += qualified_name_field(_s(req.get("key")), p + ".key")
        for v in vals:
            out += [invalid(p + ".values", v, m) for m in is_valid_label_value(_s(v))]
    out += validate_labels(s.get("matchLabels"), fld + ".matchLabels")
    return out


def selector_matches(sel: Any, labels: Any) -> bool:
    """metav1.LabelSelectorAsSelector(sel).Matches(labels); a nil selector matches nothing."""
    if sel is None:
        return False
    s = _d(sel)
    lb = _d(labels)
    for k, v in _d(s.get("matchLabels")).items():
        if lb.get(k) != v:
            return False
    for req in _l(s.get("matchExpressions")):
        req = _d(req)
        key, op, vals = _s(req.get("key")), req.get("operator"), _l(req.get("values"))
        present = key in lb
        if op == "In" and not (present and lb[key] in vals):
            return False
        if op == "NotIn" and present and lb[key] in vals:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _selector_is_empty(sel: Any) -> bool:
    s = _d(sel)
    return not _d(s.get("matchLabels")) and not _l(s.get("matchExpressions"))


# ---------------------------------------------------------------------------------------------
# Quantities (just enough to compare requests with limits)

_SUFFIX = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}
_quantity_re = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|)$")


def parse_quantity(q: Any) -> Decimal | None:
    """resource.Quantity value as a Decimal, None if unparseable."""
    if isinstance(q, bool):
        return None
    if isinstance(q, (int, float)):
        return Decimal(str(q))
    m = _quantity_re.match(_s(q).strip())
    if not m:
        return None
    try:
        num = Decimal(m.group(1))
    except InvalidOperation:
        return None
    suffix = m.group(2)
    if suffix[:1] in ("e", "E"):
        return num * (Decimal(10) ** int(suffix[1:]))
    return num * Decimal(_SUFFIX[suffix])


def _qstr(q: Any) -> str:
    return q if isinstance(q, str) else str(q)


# ---------------------------------------------------------------------------------------------
# Pod spec (pkg/apis/core/validation)

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("SCTP", "TCP", "UDP")  # sets.List order
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_VOLUME_SOURCES = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
    "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
    "downwardAPI", "fc", "azureFile", "vsphereVolume", "photonPersistentDisk", "portworxVolume",
    "azureDisk", "storageos", "projected", "scaleIO", "configMap", "csi", "ephemeral", "image",
)
FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
_OVERCOMMIT_FORBIDDEN_PREFIX = "hugepages-"


def _validate_volume_source(vol: dict, p: str) -> Causes:
    out: Causes = []
    count = 0
    for src in _VOLUME_SOURCES:
        if vol.get(src) is None:
            continue
        if count > 0:
            out.append(forbidden(f"{p}.{src}", "may not specify more than 1 volume type"))
            continue
        count += 1
        s = _d(vol[src])
        sp = f"{p}.{src}"
        if src == "configMap":
            if not _s(s.get("name")):
                out.append(required(sp + ".name"))
            out += _file_mode(s.get("defaultMode"), sp + ".defaultMode")
            out += _key_to_paths(s.get("items"), sp + ".items")
        elif src == "secret":
            if not _s(s.get("secretName")):
                out.append(required(sp + ".secretName"))
            out += _file_mode(s.get("defaultMode"), sp + ".defaultMode")
            out += _key_to_paths(s.get("items"), sp + ".items")
        elif src == "hostPath":
            if not _s(s.get("path")):
                out.append(required(sp + ".path"))
        elif src == "persistentVolumeClaim":
            if not _s(s.get("claimName")):
                out.append(required(sp + ".claimName"))
        elif src == "emptyDir":
            medium = s.get("medium")
            if medium not in (None, "", "Memory", "HugePages") and not _s(medium).startswith("HugePages-"):
                pass  # upstream accepts any StorageMedium string at this layer
    if count == 0:
        out.append(required(p, "must specify a volume type"))
    return out


def _file_mode(mode: Any, fld: str) -> Causes:
    if mode is not None and (mode > 0o777 or mode < 0):
        return [invalid(fld, mode, FILE_MODE_ERROR)]
    return []


def _key_to_paths(items: Any, fld: str) -> Causes:
    out: Causes = []
    for i, kp in enumerate(_l(items)):
        kp = _d(kp)
        p = f"{fld}[{i}]"
        if not _s(kp.get("key")):
            out.append(required(p + ".key"))
        path = _s(kp.get("path"))
        if not path:
            out.append(required(p + ".path"))
        else:
            out += _local_descending_path(path, p + ".path")
        out += _file_mode(kp.get("mode"), p + ".mode")
    return out


def _local_descending_path(path: str, fld: str) -> Causes:
    out: Causes = []
    if path.startswith("/"):
        out.append(invalid(fld, path, "must be a relative path"))
    if ".." in path.replace("\\", "/").split("/"):
        out.append(invalid(fld, path, "must not contain '..'"))
    return out


def validate_volumes(volumes: Any, fld: str) -> tuple[set[str], Causes]:
    names: set[str] = set()
    out: Causes = []
    for i, vol in enumerate(_l(volumes)):
        vol = _d(vol)
        p = f"{fld}[{i}]"
        el = _validate_volume_source(vol, p)
        name = _s(vol.get("name"))
        if not name:
            el.append(required(p + ".name"))
        else:
            el += dns1123_label_field(name, p + ".name")
        if name in names:
            el.append(duplicate(p + ".name", name))
        if not el:
            names.add(name)
        out += el
    return names, out


def _validate_ports(ports: Any, fld: str) -> Causes:
    out: Causes = []
    names: set[str] = set()
    for i, port in enumerate(_l(ports)):
        port = _d(port)
        p = f"{fld}[{i}]"
        name = _s(port.get("name"))
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                out += [invalid(p + ".name", name, m) for m in msgs]
            elif name in names:
                out.append(duplicate(p + ".name", name))
            else:
                names.add(name)
        cp = port.get("containerPort")
        if not cp:
            out.append(required(p + ".containerPort"))
        else:
            out += [invalid(p + ".containerPort", cp, m) for m in is_valid_port_num(cp)]
        hp = port.get("hostPort")
        if hp:
            out += [invalid(p + ".hostPort", hp, m) for m in is_valid_port_num(hp)]
        proto = _s(port.get("protocol"))
        if not proto:
            out.append(required(p + ".protocol"))
        elif proto not in PROTOCOLS:
            out.append(not_supported(p + ".protocol", proto, PROTOCOLS))
    return out


def _validate_env(env: Any, fld: str) -> Causes:
    out: Causes = []
    for i, ev in enumerate(_l(env)):
        ev = _d(ev)
        p = f"{fld}[{i}]"
        name = _s(ev.get("name"))
        if not name:
            out.append(required(p + ".name"))
        value_from = ev.get("valueFrom")
        if value_from is not None:
            vf = _d(value_from)
            n = sum(1 for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef") if vf.get(k) is not None)
            if n == 0:
                out.append(invalid(p + ".valueFrom", "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
            elif n > 1:
                out.append(invalid(p + ".valueFrom", "", "may not have more than one field specified at a time"))
            if _s(ev.get("value")):
                out.append(invalid(p + ".valueFrom", "", "may not be specified when `value` is not empty"))
    return out


def _validate_volume_mounts(mounts: Any, volumes: set[str], fld: str) -> Causes:
    out: Causes = []
    seen: set[str] = set()
    for i, mnt in enumerate(_l(mounts)):
        mnt = _d(mnt)
        p = f"{fld}[{i}]"
        name = _s(mnt.get("name"))
        if not name:
            out.append(required(p + ".name"))
        if name not in volumes:
            out.append(not_found(p + ".name", name))
        mp = _s(mnt.get("mountPath"))
        if not mp:
            out.append(required(p + ".mountPath"))
        if mp in seen:
            out.append(invalid(p + ".mountPath", mp, "must be unique"))
        seen.add(mp)
        sub = _s(mnt.get("subPath"))
        if sub:
            out += _local_descending_path(sub, fld + ".subPath")
    return out


def _validate_resources(res: Any, fld: str) -> Causes:
    r = _d(res)
    out: Causes = []
    limits = _d(r.get("limits"))
    requests = _d(r.get("requests"))
    lim_path, req_path = fld + ".limits", fld + ".requests"
    for name, q in limits.items():
        out += _validate_quantity(name, q, f"{lim_path}[{name}]")
    for name, q in requests.items():
        out += _validate_quantity(name, q, f"{req_path}[{name}]")
        qv = parse_quantity(q)
        if name in limits:
            lv = parse_quantity(limits[name])
            if qv is None or lv is None:
                continue
            if name.startswith(_OVERCOMMIT_FORBIDDEN_PREFIX) and qv != lv:
                out.append(invalid(req_path, _qstr(q), f"must be equal to {name} limit of {_qstr(limits[name])}"))
            elif qv > lv:
                out.append(invalid(req_path, _qstr(q), f"must be less than or equal to {name} limit of {_qstr(limits[name])}"))
        elif name.startswith(_OVERCOMMIT_FORBIDDEN_PREFIX):
            out.append(required(lim_path, "Limit must be set for non overcommitable resources"))
    return out


_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}


def _validate_quantity(name: str, q: Any, fld: str) -> Causes:
    out: Causes = []
    if "/" not in name and name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
        out.append(invalid(fld, name, "must be a standard resource for containers"))
    v = parse_quantity(q)
    if v is None:
        return out
    if v < 0:
        out.append(invalid(fld, _qstr(q), IS_NEGATIVE_ERROR))
    elif name not in ("cpu", "memory", "ephemeral-storage") and not name.startswith("hugepages-") and v != v.to_integral_value():
        out.append(invalid(fld, _qstr(q), "must be an integer"))
    return out


def _port_num_or_name(port: Any, fld: str) -> Causes:
    if isinstance(port, str):
        return [invalid(fld, port, m) for m in is_valid_port_name(port)]
    if isinstance(port, int) and not isinstance(port, bool):
        return [invalid(fld, port, m) for m in is_valid_port_num(port)]
    return [invalid(fld, 0, inclusive_range_error(1, 65535))]


_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc", "sleep")


def _validate_handler(h: dict, fld: str, allowed: tuple[str, ...]) -> Causes:
    out: Causes = []
    count = 0
    for kind in allowed:
        if h.get(kind) is None:
            continue
        p = f"{fld}.{kind}"
        if count > 0:
            out.append(forbidden(p, "may not specify more than 1 handler type"))
            continue
        count += 1
        a = _d(h[kind])
        if kind == "exec":
            if not _l(a.get("command")):
                out.append(required(p + ".command"))
        elif kind == "httpGet":
            if not _s(a.get("path")):
                out.append(required(p + ".path"))
            out += _port_num_or_name(a.get("port"), p + ".port")
            scheme = a.get("scheme")
            if scheme not in ("HTTP", "HTTPS"):
                out.append(not_supported(p + ".scheme", _s(scheme), ("HTTP", "HTTPS")))
        elif kind == "tcpSocket":
            out += _port_num_or_name(a.get("port"), p + ".port")
        elif kind == "grpc":
            out += [invalid(p + ".port", a.get("port"), m) for m in is_valid_port_num(a.get("port"))]
        elif kind == "sleep":
            secs = a.get("seconds", 0)  # an int64, not a pointer: absent is 0
            if secs <= 0:
                out.append(invalid(p + ".seconds", secs, "must be greater than 0"))
    if count == 0:
        out.append(required(fld, "must specify a handler type"))
    return out


def _validate_probe(probe: Any, fld: str, kind: str) -> Causes:
    if probe is None:
        return []
    pr = _d(probe)
    out = _validate_handler(pr, fld, ("exec", "httpGet", "tcpSocket", "grpc"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        out += nonnegative(pr.get(key), f"{fld}.{key}")
    tgp = pr.get("terminationGracePeriodSeconds")
    if tgp is not None and tgp <= 0:
        out.append(invalid(fld + ".terminationGracePeriodSeconds", tgp, "must be greater than 0"))
    if kind in ("liveness", "startup") and _i(pr.get("successThreshold"), 1) != 1:
        out.append(invalid(fld + ".successThreshold", pr.get("successThreshold"), "must be 1"))
    if kind == "readiness" and tgp is not None:
        out.append(invalid(fld + ".terminationGracePeriodSeconds", tgp, "must not be set for readinessProbes"))
    return out


def _validate_probes(c: dict, p: str) -> Causes:
    """validateLivenessProbe / validateReadinessProbe / validateStartupProbe of one container."""
    return [cause for kind in ("liveness", "readiness", "startup")
            for cause in _validate_probe(c.get(kind + "Probe"), f"{p}.{kind}Probe", kind)]


def _validate_container_common(c: dict, volumes: set[str], p: str) -> Causes:
    out: Causes = []
    name = _s(c.get("name"))
    if not name:
        out.append(required(p + ".name"))
    else:
        out += dns1123_label_field(name, p + ".name")
    if not _s(c.get("image")):
        out.append(required(p + ".image"))
    tmp = _s(c.get("terminationMessagePolicy"))
    if not tmp:
        out.append(required(p + ".terminationMessagePolicy"))
    elif tmp not in TERMINATION_MESSAGE_POLICIES:
        out.append(not_supported(p + ".terminationMessagePolicy", tmp, TERMINATION_MESSAGE_POLICIES))
    out += _validate_ports(c.get("ports"), p + ".ports")
    out += _validate_env(c.get("env"), p + ".env")
    out += _validate_volume_mounts(c.get("volumeMounts"), volumes, p + ".volumeMounts")
    ipp = _s(c.get("imagePullPolicy"))
    if not ipp:
        out.append(required(p + ".imagePullPolicy"))
    elif ipp not in PULL_POLICIES:
        out.append(not_supported(p + ".imagePullPolicy", ipp, PULL_POLICIES))
    out += _validate_resources(c.get("resources"), p + ".resources")
    return out


def _validate_containers(containers: Any, volumes: set[str], fld: str) -> Causes:
    out: Causes = []
    cs = _l(containers)
    if not cs:
        out.append(required(fld))
    names: set[str] = set()
    for i, c in enumerate(cs):
        c = _d(c)
        p = f"{fld}[{i}]"
        out += _validate_container_common(c, volumes, p)
        name = _s(c.get("name"))
        if name in names:
            out.append(duplicate(p + ".name", name))
        else:
            names.add(name)
        lc = c.get("lifecycle")
        if lc is not None:
            for hook in ("postStart", "preStop"):
                if _d(lc).get(hook) is not None:
                    out += _validate_handler(_d(_d(lc)[hook]), f"{p}.lifecycle.{hook}", _HANDLERS)
        out += _validate_probes(c, p)
        if c.get("restartPolicy") is not None:
            out.append(forbidden(p + ".restartPolicy", "may not be set for non-init containers"))
    out += _host_port_conflicts(cs, fld)
    return out


def _host_port_conflicts(containers: list, fld: str) -> Causes:
    out: Causes = []
    seen: set[str] = set()
    for c in containers:
        for port in _l(_d(c).get("ports")):
            port = _d(port)
            hp = port.get("hostPort")
            if not hp:
                continue
            key = f'{_s(port.get("protocol"))}/{_s(port.get("hostIP"))}/{hp}'
            if key in seen:
                out.append(duplicate(fld + "[].ports[].hostPort", GoRaw(key)))
            seen.add(key)
    return out


def _validate_init_containers(inits: Any, containers: Any, volumes: set[str], fld: str) -> Causes:
    out: Causes = []
    names = {_s(_d(c).get("name")) for c in _l(containers)}
    for i, c in enumerate(_l(inits)):
        c = _d(c)
        p = f"{fld}[{i}]"
        out += _validate_container_common(c, volumes, p)
        name = _s(c.get("name"))
        if name in names:
            out.append(duplicate(p + ".name", name))
        else:
            names.add(name)
        rp = c.get("restartPolicy")
        if rp is not None and rp != "Always":
            out.append(not_supported(p + ".restartPolicy", rp, ("Always",)))
        if rp == "Always":
            out += _validate_probes(c, p)  # a sidecar's probes run like a container's
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(key) is not None:
                    out.append(forbidden(f"{p}.{key}", "may not be set for init containers without restartPolicy=Always"))
    return out


def validate_pod_spec(spec: Any, fld: str) -> Causes:
    s = _d(spec)
    volumes, out = validate_volumes(s.get("volumes"), fld + ".volumes")
    out += _validate_containers(s.get("containers"), volumes, fld + ".containers")
    out += _validate_init_containers(s.get("initContainers"), s.get("containers"), volumes, fld + ".initContainers")
    rp = _s(s.get("restartPolicy"))
    if not rp:
        out.append(required(fld + ".restartPolicy"))
    elif rp not in RESTART_POLICIES:
        out.append(not_supported(fld + ".restartPolicy", rp, RESTART_POLICIES))
    dp = _s(s.get("dnsPolicy"))
    if not dp:
        out.append(required(fld + ".dnsPolicy"))
    elif dp not in DNS_POLICIES:
        out.append(not_supported(fld + ".dnsPolicy", dp, DNS_POLICIES))
    elif dp == "None" and s.get("dnsConfig") is None:
        out.append(required(fld + ".dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"))
    out += validate_labels(s.get("nodeSelector"), fld + ".nodeSelector")
    sa = _s(s.get("serviceAccountName"))
    if sa:
        out += [invalid(fld + ".serviceAccountName", sa, m) for m in name_is_dns_subdomain(sa, False)]
    node = _s(s.get("nodeName"))
    if node:
        out += [invalid(fld + ".nodeName", node, m) for m in name_is_dns_subdomain(node, False)]
    ads = s.get("activeDeadlineSeconds")
    if ads is not None and (ads < 1 or ads > 2**31 - 1):
        out.append(invalid(fld + ".activeDeadlineSeconds", ads, inclusive_range_error(1, 2**31 - 1)))
    for key in ("hostname", "subdomain"):
        v = _s(s.get(key))
        if v:
            out += dns1123_label_field(v, f"{fld}.{key}")
    out += _validate_tolerations(s.get("tolerations"), fld + ".tolerations")
    tgp = s.get("terminationGracePeriodSeconds")
    if tgp is not None and tgp < 0:
        pass  # upstream tolerates negative values here (treated as 1 by the kubelet)
    return out


_TOLERATION_OPS = ("Equal", "Exists")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _validate_tolerations(tols: Any, fld: str) -> Causes:
    out: Causes = []
    for i, t in enumerate(_l(tols)):
        t = _d(t)
        p = f"{fld}[{i}]"
        key = _s(t.get("key"))
        if key:
            out += qualified_name_field(key, p + ".key")
        op = _s(t.get("operator"))
        if not key and op != "Exists":
            out.append(invalid(p + ".operator", op, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            out.append(invalid(p + ".effect", _s(t.get("effect")), "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("", "Equal"):
            out += [invalid(p + ".operator", _s(t.get("value")), m) for m in is_valid_label_value(_s(t.get("value")))]
        elif op == "Exists":
            if _s(t.get("value")):
                out.append(invalid(p + ".operator", t.get("value"), "value must be empty when `operator` is 'Exists'"))
        else:
            out.append(not_supported(p + ".operator", op, _TOLERATION_OPS))
        eff = _s(t.get("effect"))
        if eff and eff not in _TAINT_EFFECTS:
            out.append(not_supported(p + ".effect", eff, _TAINT_EFFECTS))
    return out


def validate_pod_template_spec(tpl: Any, fld: str) -> Causes:
    t = _d(tpl)
    meta = _d(t.get("metadata"))
    out = validate_labels(meta.get("labels"), fld + ".labels")
    out += validate_annotations(meta.get("annotations"), fld + ".annotations")
    out += validate_pod_spec(t.get("spec"), fld + ".spec")
    spec = _d(t.get("spec"))
    if _l(spec.get("ephemeralContainers")):
        out.append(forbidden(fld + ".spec.ephemeralContainers", "ephemeral containers not allowed in pod template"))
    return out


def validate_pod(pod: dict, old: dict | None) -> Causes:
    out = validate_object_meta(pod.get("metadata"), True, name_is_dns_subdomain)
    spec = _d(pod.get("spec"))
    out += validate_pod_spec(spec, "spec")
    if old is None:
        if _l(spec.get("ephemeralContainers")):
            out.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
        if _s(spec.get("nodeName")) and _l(spec.get("schedulingGates")):
            out.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
        return out
    return validate_object_meta_update(pod.get("metadata"), old.get("metadata")) + out + _pod_spec_update(spec, _d(old.get("spec")))


POD_UPDATE_MSG = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _pod_spec_update(new: dict, old: dict) -> Causes:
    """ValidatePodUpdate: only images, activeDeadlineSeconds and added tolerations may change."""
    out: Causes = []
    ads, old_ads = new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds")
    if ads is not None:
        if ads < 0 or ads > 2**31 - 1:
            return [invalid("spec.activeDeadlineSeconds", ads, inclusive_range_error(0, 2**31 - 1))]
        if old_ads is not None and old_ads < ads:
            return [invalid("spec.activeDeadlineSeconds", ads, "must be less than or equal to previous value")]
    elif old_ads is not None:
        out.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    if len(_l(new.get("containers"))) != len(_l(old.get("containers"))):
        out.append(forbidden("spec.containers", "pod updates may not add or remove containers"))
        return out
    out += _tolerations_update(_l(new.get("tolerations")), _l(old.get("tolerations")))
    munged = dict(new)
    for key in ("containers", "initContainers"):
        olds = _l(old.get(key))
        if key in new:
            munged[key] = [
                {**_d(c), "image": _d(olds[i]).get("image")} if i < len(olds) else c
                for i, c in enumerate(new[key])
            ]
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        munged.pop(key, None)
        if key in old:
            munged[key] = old[key]
    otgp, ntgp = old.get("terminationGracePeriodSeconds"), new.get("terminationGracePeriodSeconds")
    if otgp is not None and otgp < 0 and ntgp == 1:
        munged["terminationGracePeriodSeconds"] = otgp
    if not _sem_equal(munged, old):
        diff = _spec_diff(old, munged, "spec")
        out.append(forbidden("spec", POD_UPDATE_MSG + "\n" + diff))
    return out


def _tolerations_update(new: list, old: list) -> Causes:
    out: Causes = []
    for t in old:
        t = _d(t)
        match = [n for n in new if {k: v for k, v in _d(n).items() if k != "tolerationSeconds"}
                 == {k: v for k, v in t.items() if k != "tolerationSeconds"}]
        if not match:
            out.append(forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"))
    return out


def _spec_diff(old: Any, new: Any, path: str) -> str:
    """A readable stand-in for upstream's cmp.Diff output: one `-`/`+` pair per changed field."""
    lines: list[str] = []

    def walk(a: Any, b: Any, p: str) -> None:
        if _sem_equal(a, b):
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for k in list(a) + [k for k in b if k not in a]:
                walk(a.get(k), b.get(k), f"{p}.{k}")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{p}[{i}]")
        else:
            lines.append(f"  {p}:\n-   {json.dumps(a)}\n+   {json.dumps(b)}")

    walk(old, new, path)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# apps/v1 (pkg/apis/apps/validation)


def _int_or_percent_value(v: Any) -> tuple[int, bool]:
    if isinstance(v, str):
        if v.endswith("%") and v[:-1].isdigit():
            return int(v[:-1]), True
        return 0, False
    return (_i(v), False)


def _validate_positive_int_or_percent(v: Any, fld: str) -> Causes:
    if isinstance(v, str):
        return [invalid(fld, go_int_or_string(v), m) for m in is_valid_percent(v)]
    if isinstance(v, int) and not isinstance(v, bool):
        return nonnegative(v, fld)
    return [invalid(fld, go_int_or_string(v), "must be an integer or percentage (e.g '5%')")]


def _not_more_than_100_percent(v: Any, fld: str) -> Causes:
    value, is_percent = _int_or_percent_value(v)
    if not is_percent or value <= 100:
        return []
    return [invalid(fld, go_int_or_string(v), "must not be greater than 100%")]


def _go_deployment_strategy(s: dict) -> GoRaw:
    ru = "(*apps.RollingUpdateDeployment)(nil)" if s.get("rollingUpdate") is None else "&apps.RollingUpdateDeployment{}"
    return GoRaw(f'apps.DeploymentStrategy{{Type:{go_quote(_s(s.get("type")))}, RollingUpdate:{ru}}}')


def _validate_deployment_strategy(strategy: Any, fld: str) -> Causes:
    s = _d(strategy)
    t = s.get("type")
    ru = s.get("rollingUpdate")
    if t == "Recreate":
        if ru is not None:
            return [forbidden(fld + ".rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if t == "RollingUpdate":
        if ru is None:
            return [required(fld + ".rollingUpdate", "this should be defaulted and never be nil")]
        r = _d(ru)
        p = fld + ".rollingUpdate"
        mu, ms = r.get("maxUnavailable"), r.get("maxSurge")
        out = _validate_positive_int_or_percent(mu, p + ".maxUnavailable")
        out += _validate_positive_int_or_percent(ms, p + ".maxSurge")
        if _int_or_percent_value(mu)[0] == 0 and _int_or_percent_value(ms)[0] == 0:
            out.append(invalid(p + ".maxUnavailable", go_int_or_string(mu), "may not be 0 when `maxSurge` is 0"))
        out += _not_more_than_100_percent(mu, p + ".maxUnavailable")
        return out
    return [not_supported(fld, _go_deployment_strategy(s), ("Recreate", "RollingUpdate"))]


def _template_for_replicas(spec: dict, fld: str, restart_always: bool = True) -> Causes:
    """ValidatePodTemplateSpecForReplicaSet: selector matches labels, valid pod, restartPolicy Always."""
    out: Causes = []
    tpl = spec.get("template")
    p = fld + ".template"
    if tpl is None:
        return [required(p)]
    t = _d(tpl)
    labels = _d(t.get("metadata")).get("labels")
    sel = spec.get("selector")
    if (sel is None or not _selector_is_empty(sel)) and not selector_matches(sel, labels):
        out.append(invalid(p + ".metadata.labels", go_map(labels), "`selector` does not match template `labels`"))
    out += validate_pod_template_spec(t, p)
    tspec = _d(t.get("spec"))
    rp = tspec.get("restartPolicy")
    if restart_always and rp != "Always":
        out.append(not_supported(p + ".spec.restartPolicy", _s(rp), ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        out.append(invalid(p + ".spec.activeDeadlineSeconds", tspec["activeDeadlineSeconds"], "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return out


def _validate_selector_required(spec: dict, fld: str, empty_msg: str) -> Causes:
    sel = spec.get("selector")
    if sel is None:
        return [required(fld + ".selector")]
    out = validate_label_selector(sel, fld + ".selector")
    if _selector_is_empty(sel):
        out.append(invalid(fld + ".selector", go_label_selector(_d(sel)), empty_msg))
    return out


def validate_deployment(obj: dict, old: dict | None) -> Causes:
    meta = obj.get("metadata")
    out = validate_object_meta(meta, True, name_is_dns_subdomain) if old is None else \
        validate_object_meta_update(meta, old.get("metadata"))
    spec = _d(obj.get("spec"))
    out += nonnegative(spec.get("replicas"), "spec.replicas")
    out += _validate_selector_required(spec, "spec", "empty selector is invalid for deployment")
    out += _template_for_replicas(spec, "spec")
    out += _validate_deployment_strategy(spec.get("strategy"), "spec.strategy")
    out += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    out += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        out += nonnegative(pds, "spec.progressDeadlineSeconds")
        if pds <= _i(spec.get("minReadySeconds")):
            out.append(invalid("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    if old is not None:
        out += immutable(spec.get("selector"), _d(old.get("spec")).get("selector"), "spec.selector", go_label_selector)
    return out


def validate_replica_set(obj: dict, old: dict | None) -> Causes:
    meta = obj.get("metadata")
    out = validate_object_meta(meta, True, name_is_dns_subdomain) if old is None else \
        validate_object_meta_update(meta, old.get("metadata"))
    spec = _d(obj.get("spec"))
    out += nonnegative(spec.get("replicas"), "spec.replicas")
    out += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    out += _validate_selector_required(spec, "spec", "empty selector is invalid for deployment")
    out += _template_for_replicas(spec, "spec")
    if old is not None:
        out += immutable(spec.get("selector"), _d(old.get("spec")).get("selector"), "spec.selector", go_label_selector)
    return out


def validate_daemon_set(obj: dict, old: dict | None) -> Causes:
    meta = obj.get("metadata")
    out = validate_object_meta(meta, True, name_is_dns_subdomain) if old is None else \
        validate_object_meta_update(meta, old.get("metadata"))
    spec = _d(obj.get("spec"))
    out += _validate_selector_required(spec, "spec", "empty selector is invalid for daemonset")
    out += _template_for_replicas(spec, "spec")
    out += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    out += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    us = _d(spec.get("updateStrategy"))
    t = _s(us.get("type"))
    if not t:
        out.append(required("spec.updateStrategy.type"))
    elif t not in ("OnDelete", "RollingUpdate"):
        out.append(not_supported("spec.updateStrategy.type", t, ("OnDelete", "RollingUpdate")))
    elif t == "RollingUpdate":
        ru = us.get("rollingUpdate")
        if ru is None:
            out.append(required("spec.updateStrategy.rollingUpdate"))
        else:
            p = "spec.updateStrategy.rollingUpdate"
            mu, ms = _d(ru).get("maxUnavailable"), _d(ru).get("maxSurge")
            out += _validate_positive_int_or_percent(mu, p + ".maxUnavailable")
            out += _validate_positive_int_or_percent(ms, p + ".maxSurge")
            if _int_or_percent_value(mu)[0] == 0 and _int_or_percent_value(ms)[0] == 0:
                out.append(invalid(p + ".maxUnavailable", go_int_or_string(mu), "may not be 0 when `maxSurge` is 0"))
            out += _not_more_than_100_percent(mu, p + ".maxUnavailable")
    if old is not None:
        out += immutable(spec.get("selector"), _d(old.get("spec")).get("selector"), "spec.selector", go_label_selector)
    return out


def validate_stateful_set(obj: dict, old: dict | None) -> Causes:
    meta = obj.get("metadata")
    spec = _d(obj.get("spec"))
    if old is not None:
        out = validate_object_meta_update(meta, old.get("metadata"))
        ospec = _d(old.get("spec"))
        mutable = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
        if not _sem_equal({k: v for k, v in spec.items() if k not in mutable},
                          {k: v for k, v in ospec.items() if k not in mutable}):
            out.append(forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                         "'template', 'updateStrategy', 'revisionHistoryLimit', "
                                         "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
    else:
        out = validate_object_meta(meta, True, name_is_dns_subdomain)
    ppm = _s(spec.get("podManagementPolicy"))
    if not ppm:
        out.append(required("spec.podManagementPolicy"))
    elif ppm not in ("OrderedReady", "Parallel"):
        out.append(invalid("spec.podManagementPolicy", ppm, "must be 'OrderedReady' or 'Parallel'"))
    us = _d(spec.get("updateStrategy"))
    t = _s(us.get("type"))
    if not t:
        out.append(required("spec.updateStrategy"))
    elif t == "OnDelete":
        if us.get("rollingUpdate") is not None:
            out.append(invalid("spec.updateStrategy.rollingUpdate", GoRaw("&apps.RollingUpdateStatefulSetStrategy{}"),
                               "only allowed for updateStrategy 'RollingUpdate'"))
    elif t == "RollingUpdate":
        out += nonnegative(_d(us.get("rollingUpdate")).get("partition"), "spec.updateStrategy.rollingUpdate.partition")
    else:
        out.append(invalid("spec.updateStrategy", GoRaw(f"apps.StatefulSetUpdateStrategy{{Type:{go_quote(t)}}}"),
                           "must be 'RollingUpdate' or 'OnDelete'"))
    out += nonnegative(spec.get("replicas"), "spec.replicas")
    out += _validate_selector_required(spec, "spec", "empty selector is invalid for statefulset")
    out += _template_for_stateful_set(spec, "spec")
    return out


def _template_for_stateful_set(spec: dict, fld: str) -> Causes:
    """ValidatePodTemplateSpecForStatefulSet: labels and annotations only, never the pod spec.

    Upstream skips pod-spec validation here because container volumeMounts may name
    `volumeClaimTemplates`, which are not in `volumes` until the controller makes the pod.
    """
    tpl = spec.get("template")
    p = fld + ".template"
    if tpl is None:
        return [required(p)]
    t = _d(tpl)
    meta = _d(t.get("metadata"))
    out: Causes = []
    sel = spec.get("selector")
    if (sel is None or not _selector_is_empty(sel)) and not selector_matches(sel, meta.get("labels")):
        out.append(invalid(p + ".metadata.labels", go_map(meta.get("labels")),
                           "`selector` does not match template `labels`"))
    out += validate_labels(meta.get("labels"), p + ".labels")
    out += validate_annotations(meta.get("annotations"), p + ".annotations")
    tspec = _d(t.get("spec"))
    if tspec.get("restartPolicy") != "Always":
        out.append(not_supported(p + ".spec.restartPolicy", _s(tspec.get("restartPolicy")), ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        out.append(forbidden(p + ".spec.activeDeadlineSeconds",
                             "activeDeadlineSeconds in StatefulSet is not Supported"))
    return out


# ---------------------------------------------------------------------------------------------
# core/v1 kinds


def _meta(obj: dict, old: dict | None, namespaced: bool, name_fn: NameFn) -> Causes:
    """Create: ValidateObjectMeta. Update: ValidateObjectMetaUpdate + ValidateObjectMeta of new."""
    if old is None:
        return validate_object_meta(obj.get("metadata"), namespaced, name_fn)
    return validate_object_meta_update(obj.get("metadata"), old.get("metadata"))


def validate_config_map(obj: dict, old: dict | None) -> Causes:
    out: Causes = []
    if old is not None:
        out += validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        out += _immutable_payload(obj, old, ("data", "binaryData"))
    out += validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    data, binary = _d(obj.get("data")), _d(obj.get("binaryData"))
    size = 0
    for k, v in data.items():
        if not _config_map_key_ok(k):
            out += [invalid(f"data[{k}]", k, m) for m in is_config_map_key(k)]
        if k in binary:
            out.append(invalid(f"data[{k}]", k, "duplicate of key present in binaryData"))
        size += len(_s(v).encode())
    for k, v in binary.items():
        out += [invalid(f"binaryData[{k}]", k, m) for m in is_config_map_key(k)]
        size += len(_s(v)) * 3 // 4
    if size > MAX_SECRET_SIZE:
        out.append(too_long("[]", MAX_SECRET_SIZE))
    return out


def _immutable_payload(obj: dict, old: dict, keys: tuple[str, ...]) -> Causes:
    out: Causes = []
    if old.get("immutable") is True:
        if obj.get("immutable") is not True:
            out.append(forbidden("immutable", "field is immutable when `immutable` is set"))
        for k in keys:
            if (obj.get(k) or None) != (old.get(k) or None):
                out.append(forbidden(k, "field is immutable when `immutable` is set"))
    return out


def validate_secret(obj: dict, old: dict | None) -> Causes:
    out: Causes = []
    if old is not None:
        out += validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        out += immutable(_s(obj.get("type")), _s(old.get("type")), "type")
        out += _immutable_payload(obj, old, ("data",))
    out += validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    data = _d(obj.get("data"))
    size = 0
    for k, v in data.items():
        out += [invalid(f"data[{k}]", k, m) for m in is_config_map_key(k)]
        size += len(_s(v)) * 3 // 4
    if size > MAX_SECRET_SIZE:
        out.append(too_long("data", MAX_SECRET_SIZE))
    t = _s(obj.get("type"))
    ann = _d(_d(obj.get("metadata")).get("annotations"))
    if t == "kubernetes.io/service-account-token":
        if not _s(ann.get("kubernetes.io/service-account.name")):
            out.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif t == "kubernetes.io/dockercfg":
        if ".dockercfg" not in data:
            out.append(required("data[.dockercfg]"))
    elif t == "kubernetes.io/dockerconfigjson":
        if ".dockerconfigjson" not in data:
            out.append(required("data[.dockerconfigjson]"))
    elif t == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            out += [required("data[username]"), required("data[password]")]
    elif t == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            out.append(required("data[ssh-privatekey]"))
    elif t == "kubernetes.io/tls":
        if "tls.crt" not in data:
            out.append(required("data[tls.crt]"))
        if "tls.key" not in data:
            out.append(required("data[tls.key]"))
    return out


def validate_namespace(obj: dict, old: dict | None) -> Causes:
    out = _meta(obj, old, False, name_is_dns_label)
    for f in _l(_d(obj.get("spec")).get("finalizers")):
        out += _validate_finalizer_name(_s(f), "spec.finalizers")
    return out


def _validate_finalizer_name(f: str, fld: str) -> Causes:
    out = qualified_name_field(f, fld)
    if not out and "/" not in f and f != "kubernetes":
        out.append(invalid(fld, f, "name is neither a standard finalizer name nor is it fully qualified"))
    return out


SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")


def _cluster_ips(spec: dict) -> list:
    ips = _l(spec.get("clusterIPs"))
    if not ips and _s(spec.get("clusterIP")):
        ips = [spec["clusterIP"]]
    return ips


def _is_headless(spec: dict) -> bool:
    ips = _cluster_ips(spec)
    return len(ips) == 1 and ips[0] == "None"


def _go_service_port(p: dict) -> GoRaw:
    return GoRaw(
        f'core.ServicePort{{Name:"", Protocol:{go_quote(_s(p.get("protocol")))}, AppProtocol:(*string)(nil), '
        f'Port:{_i(p.get("port"))}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}'
    )


def validate_service(obj: dict, old: dict | None) -> Causes:
    out = _meta(obj, old, True, name_is_dns1035_label)
    spec = _d(obj.get("spec"))
    if old is not None:
        ospec = _d(old.get("spec"))
        out += _service_cluster_ip_update(spec, ospec)
        out += _service_ip_families_update(spec, ospec)
        if _s(spec.get("type")) == _s(ospec.get("type")) == "LoadBalancer" and \
                spec.get("loadBalancerClass") != ospec.get("loadBalancerClass"):
            out.append(invalid("spec.loadBalancerClass", spec.get("loadBalancerClass") or "null", "may not change once set"))
    t = _s(spec.get("type"))
    lb_class = spec.get("loadBalancerClass")
    if lb_class is not None:
        if t != "LoadBalancer":
            out.append(forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"))
        else:
            out += qualified_name_field(_s(lb_class), "spec.loadBalancerClass")
    ports = _l(spec.get("ports"))
    headless = _is_headless(spec)
    if not ports and not headless and t != "ExternalName":
        out.append(required("spec.ports"))
    if t == "LoadBalancer":
        for i, port in enumerate(ports):
            if _d(port).get("port") == 10250:
                out.append(invalid(f"spec.ports[{i}]", 10250, "may not expose port 10250 externally since it is used by kubelet"))
        if headless:
            out.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for LoadBalancer services"))
    elif t == "NodePort":
        if headless:
            out.append(invalid("spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services"))
    elif t == "ExternalName":
        if _cluster_ips(spec):
            out.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if _l(spec.get("ipFamilies")):
            out.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            out.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = _s(spec.get("externalName")).removesuffix(".")
        if cname:
            out += dns1123_subdomain_field(cname, "spec.externalName")
        else:
            out.append(required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        out += _validate_service_port(_d(port), len(ports) > 1, names, f"spec.ports[{i}]")
    if spec.get("selector") is not None:
        out += validate_labels(spec.get("selector"), "spec.selector")
    sa = _s(spec.get("sessionAffinity"))
    if not sa:
        out.append(required("spec.sessionAffinity"))
    elif sa not in SESSION_AFFINITIES:
        out.append(not_supported("spec.sessionAffinity", sa, SESSION_AFFINITIES))
    if sa == "ClientIP":
        cfg = _d(_d(spec.get("sessionAffinityConfig")).get("clientIP"))
        ts = cfg.get("timeoutSeconds")
        if ts is None or not (0 < ts <= 86400):
            out.append(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", ts or 0,
                               inclusive_range_error(1, 86400)))
    elif sa == "None" and spec.get("sessionAffinityConfig") is not None:
        out.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    pol = spec.get("ipFamilyPolicy")
    if t != "ExternalName" and pol is not None and pol not in IP_FAMILY_POLICIES:
        out.append(not_supported("spec.ipFamilyPolicy", pol, IP_FAMILY_POLICIES))
    if t != "ExternalName":
        ips = _cluster_ips(spec)
        for i, ip in enumerate(ips):
            if i == 0 and ip == "None":
                if len(ips) > 1:
                    out.append(invalid("spec.clusterIPs", go_strings(ips), "'None' must be the first and only value"))
                continue
            if not _is_ip(_s(ip)):
                out.append(invalid(f"spec.clusterIPs[{i}]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        if len(ips) > 2:
            out.append(invalid("spec.clusterIPs", go_strings(ips), "may only hold up to 2 values"))
    for i, ip in enumerate(_l(spec.get("externalIPs"))):
        if not _is_ip(_s(ip)):
            out.append(invalid(f"spec.externalIPs[{i}]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    if not t:
        out.append(required("spec.type"))
    elif t not in SERVICE_TYPES:
        out.append(not_supported("spec.type", t, SERVICE_TYPES))
    if t == "ClusterIP":
        for i, port in enumerate(ports):
            if _d(port).get("nodePort"):
                out.append(forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    seen: set[tuple] = set()
    for i, port in enumerate(ports):
        key = (_s(_d(port).get("protocol")), _d(port).get("port"))
        if key in seen:
            out.append(duplicate(f"spec.ports[{i}]", _go_service_port(_d(port))))
        seen.add(key)
    etp = spec.get("externalTrafficPolicy")
    if etp and etp not in ("Cluster", "Local"):
        out.append(not_supported("spec.externalTrafficPolicy", etp, ("Cluster", "Local")))
    itp = spec.get("internalTrafficPolicy")
    if itp is not None and itp not in ("Cluster", "Local"):
        out.append(not_supported("spec.internalTrafficPolicy", itp, ("Cluster", "Local")))
    return out


def _is_ip(s: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def _validate_service_port(sp: dict, require_name: bool, names: set[str], fld: str) -> Causes:
    out: Causes = []
    name = _s(sp.get("name"))
    if require_name and not name:
        out.append(required(fld + ".name"))
    elif name:
        out += dns1123_label_field(name, fld + ".name")
        if name in names:
            out.append(duplicate(fld + ".name", name))
        else:
            names.add(name)
    port = sp.get("port")
    out += [invalid(fld + ".port", port if port is not None else 0, m) for m in is_valid_port_num(port)]
    proto = _s(sp.get("protocol"))
    if not proto:
        out.append(required(fld + ".protocol"))
    elif proto not in PROTOCOLS:
        out.append(not_supported(fld + ".protocol", proto, PROTOCOLS))
    out += _port_num_or_name(sp.get("targetPort"), fld + ".targetPort")
    ap = sp.get("appProtocol")
    if ap is not None:
        out += qualified_name_field(ap, fld + ".appProtocol")
    return out


def _service_cluster_ip_update(spec: dict, old: dict) -> Causes:
    """validateUpgradeDowngradeClusterIPs: clusterIPs may gain or lose the secondary, never change."""
    if "ExternalName" in (_s(spec.get("type")), _s(old.get("type"))) or (_is_headless(spec) and _is_headless(old)):
        return []
    new_ips = _cluster_ips(spec)
    return _dual_stack_update(spec, "spec.clusterIPs", "clusterIP", new_ips, _cluster_ips(old),
                              go_strings(new_ips or None), index_each=True, unset=not new_ips)


def _service_ip_families_update(spec: dict, old: dict) -> Causes:
    """validateUpgradeDowngradeIPFamilies, with its quirks (always index 0, unset judged by clusterIPs)."""
    if "ExternalName" in (_s(spec.get("type")), _s(old.get("type"))) or _is_headless(spec) or _is_headless(old):
        return []
    new_f = [_s(f) for f in _l(spec.get("ipFamilies"))]
    shown = GoRaw("[]core.IPFamily{" + ", ".join(go_quote(f) for f in new_f) + "}" if new_f else "[]core.IPFamily(nil)")
    return _dual_stack_update(spec, "spec.ipFamilies", "ipFamily", new_f, [_s(f) for f in _l(old.get("ipFamilies"))],
                              shown, index_each=False, unset=not _cluster_ips(spec))


def _dual_stack_update(spec: dict, fld: str, noun: str, new: list, old: list, shown: GoRaw, *,
                       index_each: bool, unset: bool) -> Causes:
    """The shared rule: the primary (and, at equal length, every entry) may not change; releasing the
    secondary needs ipFamilyPolicy SingleStack. A changed primary shows clusterIPs in both."""
    if len(old) == len(new):
        return [invalid(f"{fld}[{i if index_each else 0}]", shown, "may not change once set")
                for i, x in enumerate(old) if x != new[i]]
    released = len(old) > len(new)  # else one was added (upgraded)
    out: Causes = []
    if released and unset:
        out.append(invalid(f"{fld}[0]", shown, f"primary {noun} can not be unset"))
    if old and new and new[0] != old[0]:
        out.append(invalid(f"{fld}[0]", go_strings(_cluster_ips(spec) or None), "may not change once set"))
    if released and len(new) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
        out.append(invalid("spec.ipFamilyPolicy", _s(spec.get("ipFamilyPolicy")) or "null",
                           f"must be set to 'SingleStack' when releasing the secondary {noun}"))
    return out


FIELD_MANAGER_MAX_LENGTH = 128
FIELD_VALIDATION_VALUES = ("", "Ignore", "Strict", "Warn")


def validate_write_options(kind: str, query: Any, patch_type: str = "") -> Causes:
    """ValidateCreateOptions / ValidateUpdateOptions / ValidatePatchOptions on a write's query
    parameters (`kind` names which); the handler answers them as `<kind>.meta.k8s.io "" is invalid`."""
    out: Causes = []
    manager = query.get("fieldManager", "")
    if kind == "PatchOptions":
        if patch_type != "application/apply-patch+yaml":
            if "force" in query:
                out.append(forbidden("force", "may not be specified for non-apply patch"))
        elif not manager:
            out.append(required("fieldManager", "is required for apply patch"))
    if len(manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
        out.append(too_long("fieldManager", FIELD_MANAGER_MAX_LENGTH))
    for i, ch in enumerate(manager):
        if not ch.isprintable():
            out.append(invalid("fieldManager", manager,
                               f"invalid character U+{ord(ch):04X} (at position {len(manager[:i].encode())})"))
    dry_run = query.getall("dryRun", [])
    if any(d != "All" for d in dry_run):
        out.append(not_supported("dryRun", go_strings(dry_run), ("All",)))
    mode = query.get("fieldValidation", "")
    if mode not in FIELD_VALIDATION_VALUES:
        out.append(not_supported("fieldValidation", mode, FIELD_VALIDATION_VALUES))
    return out


def validate_node(obj: dict, old: dict | None) -> Causes:
    out = _meta(obj, old, False, name_is_dns_subdomain)
    spec = _d(obj.get("spec"))
    for i, taint in enumerate(_l(spec.get("taints"))):
        t = _d(taint)
        p = f"spec.taints[{i}]"
        out += qualified_name_field(_s(t.get("key")), p + ".key")
        if t.get("value"):
            out += [invalid(p + ".value", t["value"], m) for m in is_valid_label_value(_s(t["value"]))]
        eff = _s(t.get("effect"))
        if not eff:
            out.append(required(p + ".effect"))
        elif eff not in _TAINT_EFFECTS:
            out.append(not_supported(p + ".effect", eff, _TAINT_EFFECTS))
    if old is not None:
        ospec = _d(old.get("spec"))
        if _s(ospec.get("podCIDR")) and spec.get("podCIDR") != ospec.get("podCIDR"):
            out.append(forbidden("spec.podCIDR", "node updates may not change podCIDR except from \"\" to valid"))
        if _s(ospec.get("providerID")) and spec.get("providerID") != ospec.get("providerID"):
            out.append(forbidden("spec.providerID", "node updates may not change providerID except from \"\" to valid"))
    return out


def validate_event(obj: dict, old: dict | None, version: str = "v1", events_group: bool = False) -> Causes:
    """legacyValidateEvent (core/v1 and the compatible part of events.k8s.io)."""
    out: Causes = []
    if old is not None:
        out += validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    ns = _s(_d(obj.get("metadata")).get("namespace"))
    key = "regarding" if events_group else "involvedObject"
    inv_ns = _s(_d(obj.get(key)).get("namespace"))
    event_time = obj.get("eventTime")
    if not event_time:
        if not inv_ns:
            if ns not in ("", "default"):
                out.append(invalid(f"{key}.namespace", inv_ns, "does not match event.namespace"))
        elif ns != inv_ns:
            out.append(invalid(f"{key}.namespace", inv_ns, "does not match event.namespace"))
    else:
        rc_field = "reportingController" if events_group else "reportingComponent"
        if not inv_ns and ns not in ("default", "kube-system"):
            out.append(invalid(f"{key}.namespace", inv_ns, "does not match event.namespace"))
        rc = _s(obj.get(rc_field))
        if not rc:
            out.append(required(rc_field))
        out += qualified_name_field(rc, rc_field)
        ri = _s(obj.get("reportingInstance"))
        if not ri:
            out.append(required("reportingInstance"))
        if len(ri) > 128:
            out.append(invalid("reportingInstance", "", "can have at most 128 characters"))
        action = _s(obj.get("action"))
        if not action:
            out.append(required("action"))
        if len(action) > 128:
            out.append(invalid("action", "", "can have at most 128 characters"))
        reason = _s(obj.get("reason"))
        if not reason:
            out.append(required("reason"))
        if len(reason) > 128:
            out.append(invalid("reason", "", "can have at most 128 characters"))
        msg_field = "note" if events_group else "message"
        if len(_s(obj.get(msg_field))) > 1024:
            out.append(invalid(msg_field, "", "can have at most 1024 characters"))
    out += [invalid("namespace", ns, m) for m in is_dns1123_subdomain(ns)]
    return out


# ---------------------------------------------------------------------------------------------
# batch/v1


def _job_spec(spec: dict, fld: str, generated_selector: bool) -> Causes:
    out: Causes = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        out += nonnegative(spec.get(key), f"{fld}.{key}")
    cm = spec.get("completionMode")
    if cm is not None:
        if cm not in ("NonIndexed", "Indexed"):
            out.append(not_supported(fld + ".completionMode", cm, ("NonIndexed", "Indexed")))
        if cm == "Indexed" and spec.get("completions") is None:
            out.append(required(fld + ".completions", "when completion mode is Indexed"))
    sel = spec.get("selector")
    if sel is None:
        if not generated_selector:
            out.append(required(fld + ".selector"))
    else:
        out += validate_label_selector(sel, fld + ".selector")
    tpl = spec.get("template")
    if tpl is None:
        out.append(required(fld + ".template"))
        return out
    labels = _d(_d(tpl).get("metadata")).get("labels")
    if sel is not None and not _selector_is_empty(sel) and not selector_matches(sel, labels):
        out.append(invalid(fld + ".template.metadata.labels", go_map(labels), "`selector` does not match template `labels`"))
    out += validate_pod_template_spec(tpl, fld + ".template")
    rp = _d(_d(tpl).get("spec")).get("restartPolicy")
    if rp not in ("OnFailure", "Never"):
        out.append(not_supported(fld + ".template.spec.restartPolicy", _s(rp), ("OnFailure", "Never")))
    return out


def validate_job(obj: dict, old: dict | None) -> Causes:
    out = _meta(obj, old, True, name_is_dns_subdomain)
    spec = _d(obj.get("spec"))
    out += _job_spec(spec, "spec", generated_selector=spec.get("manualSelector") is not True and old is None)
    if old is not None:
        ospec = _d(old.get("spec"))
        out += immutable(spec.get("selector"), ospec.get("selector"), "spec.selector", go_label_selector)
        if not _sem_equal(spec.get("template"), ospec.get("template")) and not _suspended_template_change_ok(spec, ospec):
            out.append(invalid("spec.template", GoRaw("core.PodTemplateSpec{...}"), FIELD_IMMUTABLE))
        for key in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
            if not _sem_equal(spec.get(key), ospec.get(key)):
                v = spec.get(key)
                out.append(invalid(f"spec.{key}", v if isinstance(v, (str, int)) or v is None else GoRaw(json.dumps(v)), FIELD_IMMUTABLE))
        if spec.get("completions") != ospec.get("completions") and not (
            spec.get("completionMode") == "Indexed" and spec.get("completions") == spec.get("parallelism")
        ):
            out.append(invalid("spec.completions", spec.get("completions"), FIELD_IMMUTABLE))
    return out


def _suspended_template_change_ok(spec: dict, ospec: dict) -> bool:
    """A suspended job that never started may change scheduling directives of its template."""
    if not (spec.get("suspend") is True and ospec.get("suspend") is True):
        return False
    mutable = ("nodeSelector", "tolerations", "affinity", "schedulingGates")
    a = dict(_d(_d(spec.get("template")).get("spec")))
    b = dict(_d(_d(ospec.get("template")).get("spec")))
    for k in mutable:
        a.pop(k, None)
        b.pop(k, None)
    return _sem_equal(a, b)


def validate_cron_job(obj: dict, old: dict | None) -> Causes:
    out = _meta(obj, old, True, name_is_dns_subdomain)
    name = _s(_d(obj.get("metadata")).get("name"))
    if len(name) > 52:
        out.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    spec = _d(obj.get("spec"))
    sched = _s(spec.get("schedule"))
    if not sched:
        out.append(required("spec.schedule"))
    cp = _s(spec.get("concurrencyPolicy"))
    if not cp:
        out.append(required("spec.concurrencyPolicy"))
    elif cp not in ("Allow", "Forbid", "Replace"):
        out.append(not_supported("spec.concurrencyPolicy", cp, ("Allow", "Forbid", "Replace")))
    out += nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
    out += nonnegative(spec.get("successfulJobsHistoryLimit"), "spec.successfulJobsHistoryLimit")
    out += nonnegative(spec.get("failedJobsHistoryLimit"), "spec.failedJobsHistoryLimit")
    jt = _d(spec.get("jobTemplate"))
    jmeta = _d(jt.get("metadata"))
    out += validate_labels(jmeta.get("labels"), "spec.jobTemplate.metadata.labels")
    out += validate_annotations(jmeta.get("annotations"), "spec.jobTemplate.metadata.annotations")
    out += _job_spec(_d(jt.get("spec")), "spec.jobTemplate.spec", generated_selector=True)
    return out


# ---------------------------------------------------------------------------------------------
# autoscaling, policy, coordination, discovery, rbac, networking


def _cross_version_ref(ref: Any, fld: str) -> Causes:
    r = _d(ref)
    out: Causes = []
    for key in ("kind", "name"):
        v = _s(r.get(key))
        if not v:
            out.append(required(f"{fld}.{key}"))
        else:
            out += [invalid(f"{fld}.{key}", v, m) for m in is_valid_path_segment_name(v)]
    return out


def validate_hpa(obj: dict, old: dict | None, version: str = "v2") -> Causes:
    out = _meta(obj, old, True, name_is_dns_subdomain)
    spec = _d(obj.get("spec"))
    mn = spec.get("minReplicas")
    mx = _i(spec.get("maxReplicas"))
    if mn is not None and mn < 1:
        out.append(invalid("spec.minReplicas", mn, "must be greater than or equal to 1"))
    if mx < 1:
        out.append(invalid("spec.maxReplicas", mx, "must be greater than 0"))
    if mn is not None and mx < mn:
        out.append(invalid("spec.maxReplicas", mx, "must be greater than or equal to `minReplicas`"))
    ref_errs = _cross_version_ref(spec.get("scaleTargetRef"), "spec.scaleTargetRef")
    out += ref_errs
    if not ref_errs and version == "v1":
        tcpu = spec.get("targetCPUUtilizationPercentage")
        if tcpu is not None and tcpu < 1:
            out.append(invalid("spec.targetCPUUtilizationPercentage", tcpu, "must be greater than 0"))
    elif not ref_errs:
        for i, m in enumerate(_l(spec.get("metrics"))):
            m = _d(m)
            t = _s(m.get("type"))
            p = f"spec.metrics[{i}]"
            valid = ("ContainerResource", "External", "Object", "Pods", "Resource")
            if not t:
                out.append(required(p + ".type"))
            elif t not in valid:
                out.append(not_supported(p + ".type", t, valid))
    return out


def validate_pdb(obj: dict, old: dict | None) -> Causes:
    out = _meta(obj, old, True, name_is_dns_subdomain)
    spec = _d(obj.get("spec"))
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        out.append(invalid("spec", GoRaw("policy.PodDisruptionBudgetSpec{...}"), "minAvailable and maxUnavailable cannot be both set"))
    for key in ("minAvailable", "maxUnavailable"):
        v = spec.get(key)
        if v is not None:
            out += _validate_positive_int_or_percent(v, f"spec.{key}")
            out += _not_more_than_100_percent(v, f"spec.{key}")
    if spec.get("selector") is not None:
        out += validate_label_selector(spec.get("selector"), "spec.selector")
    pol = spec.get("unhealthyPodEvictionPolicy")
    if pol is not None and pol not in ("AlwaysAllow", "IfHealthyBudget"):
        out.append(not_supported("spec.unhealthyPodEvictionPolicy", pol, ("AlwaysAllow", "IfHealthyBudget")))
    return out


def validate_lease(obj: dict, old: dict | None) -> Causes:
    out = _meta(obj, old, True, name_is_dns_subdomain)
    spec = _d(obj.get("spec"))
    lds = spec.get("leaseDurationSeconds")
    if lds is not None and lds <= 0:
        out.append(invalid("spec.leaseDurationSeconds", lds, "must be greater than 0"))
    lt = spec.get("leaseTransitions")
    if lt is not None and lt < 0:
        out.append(invalid("spec.leaseTransitions", lt, "must be greater than or equal to 0"))
    strategy = spec.get("strategy")
    if strategy is not None and strategy != "OldestEmulationVersion":
        out.append(not_supported("spec.strategy", strategy, ("OldestEmulationVersion",)))
    return out


ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")


def validate_endpoint_slice(obj: dict, old: dict | None) -> Causes:
    out = _meta(obj, old, True, name_is_dns_subdomain)
    at = _s(obj.get("addressType"))
    if not at:
        out.append(required("addressType"))
    elif at not in ADDRESS_TYPES:
        out.append(not_supported("addressType", at, ADDRESS_TYPES))
    eps = _l(obj.get("endpoints"))
    if len(eps) > 1000:
        out.append(too_many("endpoints", len(eps), 1000))
    for i, ep in enumerate(eps):
        addrs = _l(_d(ep).get("addresses"))
        p = f"endpoints[{i}].addresses"
        if not addrs:
            out.append(required(p, "must contain at least 1 address"))
        elif len(addrs) > 100:
            out.append(too_many(p, len(addrs), 100))
        for j, a in enumerate(addrs):
            if at in ("IPv4", "IPv6") and not _is_ip(_s(a)):
                out.append(invalid(f"{p}[{j}]", a, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
            elif at == "FQDN":
                out += dns1123_subdomain_field(_s(a), f"{p}[{j}]")
    for i, port in enumerate(_l(obj.get("ports"))):
        port = _d(port)
        p = f"ports[{i}]"
        name = port.get("name")
        if name:
            out += dns1123_label_field(_s(name), p + ".name")
        proto = port.get("protocol")
        if proto is not None and proto not in PROTOCOLS:
            out.append(not_supported(p + ".protocol", proto, PROTOCOLS))
        pn = port.get("port")
        if pn is not None:
            out += [invalid(p + ".port", pn, m) for m in is_valid_port_num(pn)]
    return out


def _policy_rules(rules: Any, namespaced: bool, fld: str) -> Causes:
    out: Causes = []
    for i, rule in enumerate(_l(rules)):
        r = _d(rule)
        p = f"{fld}[{i}]"
        if not _l(r.get("verbs")):
            out.append(required(p + ".verbs", "verbs must contain at least one value"))
        if _l(r.get("nonResourceURLs")):
            if namespaced:
                out.append(invalid(p + ".nonResourceURLs", go_strings(r["nonResourceURLs"]), "namespaced rules cannot apply to non-resource URLs"))
            if _l(r.get("apiGroups")) or _l(r.get("resources")) or _l(r.get("resourceNames")):
                out.append(invalid(p + ".nonResourceURLs", go_strings(r["nonResourceURLs"]), "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not _l(r.get("apiGroups")):
            out.append(required(p + ".apiGroups", "resource rules must supply at least one api group"))
        if not _l(r.get("resources")):
            out.append(required(p + ".resources", "resource rules must supply at least one resource"))
    return out


def validate_role(obj: dict, old: dict | None, cluster: bool) -> Causes:
    out = _meta(obj, old, not cluster, validate_path_segment_name)
    out += _policy_rules(obj.get("rules"), not cluster, "rules")
    return out


def _go_role_ref(r: dict) -> GoRaw:
    return GoRaw(
        f'rbac.RoleRef{{APIGroup:{go_quote(_s(r.get("apiGroup")))}, Kind:{go_quote(_s(r.get("kind")))}, '
        f'Name:{go_quote(_s(r.get("name")))}}}'
    )


def validate_role_binding(obj: dict, old: dict | None, cluster: bool) -> Causes:
    out = _meta(obj, old, not cluster, validate_path_segment_name)
    ref = _d(obj.get("roleRef"))
    if _s(ref.get("apiGroup")) != "rbac.authorization.k8s.io":
        out.append(not_supported("roleRef.apiGroup", _s(ref.get("apiGroup")), ("rbac.authorization.k8s.io",)))
    kinds = ("ClusterRole",) if cluster else ("Role", "ClusterRole")
    if _s(ref.get("kind")) not in kinds:
        out.append(not_supported("roleRef.kind", _s(ref.get("kind")), kinds))
    name = _s(ref.get("name"))
    if not name:
        out.append(required("roleRef.name"))
    else:
        out += [invalid("roleRef.name", name, m) for m in is_valid_path_segment_name(name)]
    for i, subj in enumerate(_l(obj.get("subjects"))):
        out += _validate_subject(_d(subj), cluster, f"subjects[{i}]")
    if old is not None and not _sem_equal(obj.get("roleRef"), old.get("roleRef")):
        out.append(invalid("roleRef", _go_role_ref(ref), "cannot change roleRef"))
    return out


def _validate_subject(s: dict, cluster: bool, fld: str) -> Causes:
    out: Causes = []
    name = _s(s.get("name"))
    if not name:
        out.append(required(fld + ".name"))
    kind = _s(s.get("kind"))
    if kind == "ServiceAccount":
        if name:
            out += [invalid(fld + ".name", name, m) for m in name_is_dns_subdomain(name, False)]
        if _s(s.get("apiGroup")):
            out.append(not_supported(fld + ".apiGroup", s["apiGroup"], ("",)))
        if cluster and not _s(s.get("namespace")):
            out.append(required(fld + ".namespace"))
    elif kind in ("User", "Group"):
        if _s(s.get("apiGroup")) != "rbac.authorization.k8s.io":
            out.append(not_supported(fld + ".apiGroup", _s(s.get("apiGroup")), ("rbac.authorization.k8s.io",)))
    else:
        out.append(not_supported(fld + ".kind", kind, ("ServiceAccount", "User", "Group")))
    return out


def validate_network_policy(obj: dict, old: dict | None) -> Causes:
    out = _meta(obj, old, True, name_is_dns_subdomain)
    spec = _d(obj.get("spec"))
    out += validate_label_selector(spec.get("podSelector"), "spec.podSelector")
    for i, pt in enumerate(_l(spec.get("policyTypes"))):
        if pt not in ("Ingress", "Egress"):
            out.append(not_supported(f"spec.policyTypes[{i}]", pt, ("Ingress", "Egress")))
    return out


def validate_ingress(obj: dict, old: dict | None) -> Causes:
    out = _meta(obj, old, True, name_is_dns_subdomain)
    spec = _d(obj.get("spec"))
    for i, rule in enumerate(_l(spec.get("rules"))):
        r = _d(rule)
        for j, path in enumerate(_l(_d(r.get("http")).get("paths"))):
            p = f"spec.rules[{i}].http.paths[{j}]"
            pt = _d(path).get("pathType")
            if pt is None:
                out.append(required(p + ".pathType", "pathType must be specified"))
            elif pt not in ("Exact", "ImplementationSpecific", "Prefix"):
                out.append(not_supported(p + ".pathType", pt, ("Exact", "ImplementationSpecific", "Prefix")))
    return out


def validate_generic(obj: dict, old: dict | None, namespaced: bool) -> Causes:
    return _meta(obj, old, namespaced, name_is_dns_subdomain)


def validate_scale(obj: dict, old: dict | None) -> Causes:
    out = validate_object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    out += nonnegative(_d(obj.get("spec")).get("replicas"), "spec.replicas")
    return out


# ---------------------------------------------------------------------------------------------
# dispatch

Validator = Callable[[dict, "dict | None", str], Causes]

def validate_apiservice(obj: dict, old: dict | None) -> Causes:
    """kube-aggregator's ValidateAPIService, its name rule: a path segment that is exactly
    `<spec.version>.<spec.group>` ("v1." for the core group)."""
    spec = _d(obj.get("spec"))
    required_name = f"{_s(spec.get('version'))}.{_s(spec.get('group'))}"

    def name_fn(name: str, prefix: bool) -> list[str]:
        bad = is_valid_path_segment_name(name)
        if bad or name == required_name:
            return bad
        return [f'must be `spec.version+"."+spec.group`: {go_quote(required_name)}']

    return _meta(obj, old, False, name_fn)


_VALIDATORS: dict[tuple[str, str], Validator] = {
    ("", "Pod"): lambda o, old, v: validate_pod(o, old),
    ("", "ConfigMap"): lambda o, old, v: validate_config_map(o, old),
    ("", "Secret"): lambda o, old, v: validate_secret(o, old),
    ("", "Namespace"): lambda o, old, v: validate_namespace(o, old),
    ("", "Service"): lambda o, old, v: validate_service(o, old),
    ("", "Node"): lambda o, old, v: validate_node(o, old),
    ("", "Event"): lambda o, old, v: validate_event(o, old, v),
    ("", "ServiceAccount"): lambda o, old, v: _meta(o, old, True, name_is_dns_subdomain),
    ("apps", "Deployment"): lambda o, old, v: validate_deployment(o, old),
    ("apps", "ReplicaSet"): lambda o, old, v: validate_replica_set(o, old),
    ("apps", "DaemonSet"): lambda o, old, v: validate_daemon_set(o, old),
    ("apps", "StatefulSet"): lambda o, old, v: validate_stateful_set(o, old),
    ("batch", "Job"): lambda o, old, v: validate_job(o, old),
    ("batch", "CronJob"): lambda o, old, v: validate_cron_job(o, old),
    ("autoscaling", "HorizontalPodAutoscaler"): lambda o, old, v: validate_hpa(o, old, v),
    ("autoscaling", "Scale"): lambda o, old, v: validate_scale(o, old),
    ("policy", "PodDisruptionBudget"): lambda o, old, v: validate_pdb(o, old),
    ("coordination.k8s.io", "Lease"): lambda o, old, v: validate_lease(o, old),
    ("discovery.k8s.io", "EndpointSlice"): lambda o, old, v: validate_endpoint_slice(o, old),
    ("events.k8s.io", "Event"): lambda o, old, v: validate_event(o, old, v, events_group=True),
    ("rbac.authorization.k8s.io", "Role"): lambda o, old, v: validate_role(o, old, False),
    ("rbac.authorization.k8s.io", "ClusterRole"): lambda o, old, v: validate_role(o, old, True),
    ("rbac.authorization.k8s.io", "RoleBinding"): lambda o, old, v: validate_role_binding(o, old, False),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): lambda o, old, v: validate_role_binding(o, old, True),
    ("networking.k8s.io", "NetworkPolicy"): lambda o, old, v: validate_network_policy(o, old),
    ("networking.k8s.io", "Ingress"): lambda o, old, v: validate_ingress(o, old),
    ("apiregistration.k8s.io", "APIService"): lambda o, old, v: validate_apiservice(o, old),
}


def validate(group: str, version: str, kind: str, obj: dict, old: dict | None = None) -> Causes:
    """All field causes for a create (`old` None) or an update of `obj`; [] when valid.

    Run after defaulting, as upstream does (rest.BeforeCreate / BeforeUpdate).
    """
    fn = _VALIDATORS.get((group, kind))
    if fn is not None:
        return fn(obj, old, version)
    from kubeling.api import resources

    res = resources.by_kind(group, version, kind)
    return validate_generic(obj, old, res.namespaced if res else True)


def validate_status_update(group: str, version: str, kind: str, obj: dict, old: dict) -> Causes:
    """Status subresource writes: only metadata identity and a few status rules are checked."""
    out = validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    st = _d(obj.get("status"))
    if kind in ("Deployment", "ReplicaSet", "StatefulSet") and group == "apps":
        for key in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas",
                    "currentReplicas", "fullyLabeledReplicas", "observedGeneration", "collisionCount"):
            out += nonnegative(st.get(key), f"status.{key}")
    return out


# ---------------------------------------------------------------------------------------------
# strict field validation (sigs.k8s.io/json strict errors, apiserver handlers)

_KEY_TOKEN = re.compile(rb'"\s*:')
_SPACED_KEY_TOKEN = re.compile(rb'"\s+:')


def _count_keys(v: Any) -> int:
    n = 0
    if isinstance(v, dict):
        n = len(v)
        v = v.values()
    elif not isinstance(v, list):
        return 0
    for x in v:
        if isinstance(x, (dict, list)):
            n += _count_keys(x)
    return n


def _count_key_tokens(raw_json: bytes) -> int:
    """How many `"` + optional whitespace + `:` the text has (compact JSON: just count `":`)."""
    if _SPACED_KEY_TOKEN.search(raw_json) is None:
        return raw_json.count(b'":')
    return len(_KEY_TOKEN.findall(raw_json))


def may_have_duplicates(raw_json: bytes, parsed: Any) -> bool:
    """Cheap pre-check for `duplicate_fields`: every key in JSON text is followed by `"` and a
    colon, so if the text has no more `":` tokens than the decoded document has keys, no key
    repeats. (String values containing `":` only make this say "maybe".)"""
    return _count_key_tokens(raw_json) != _count_keys(parsed)


def duplicate_fields(raw_json: bytes | str) -> list[str]:
    """`duplicate field "spec.replicas"` for each repeated key in a JSON document (any depth)."""
    found: list[str] = []
    marker = "\x00dup"

    def hook(pairs: list[tuple[str, Any]]) -> dict:
        d: dict = {}
        for k, v in pairs:
            if k in d:
                d.setdefault(marker, []).append(k)
            d[k] = v
        return d

    try:
        doc = json.loads(raw_json, object_pairs_hook=hook)
    except ValueError:
        return []

    def walk(v: Any, path: str) -> None:
        if isinstance(v, dict):
            for k in v.pop(marker, []):
                found.append(f'duplicate field "{path + "." + k if path else k}"')
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else k)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")

    walk(doc, "")
    return found


def strict_decoding_message(problems: list[str]) -> str:
    """runtime.strictDecodingError.Error()."""
    return "strict decoding error: " + ", ".join(problems)


def strict_apply_error(problems: list[str]) -> errors.StatusError:
    """fieldValidation=Strict on apply (duplicate fields only): `error strict decoding YAML: ...`."""
    return errors.bad_request("error strict decoding YAML: " + strict_decoding_message(problems))


TRUNCATE_AT_TOTAL_RUNES = 4 * 1024
TRUNCATE_ITEM_RUNES = 256


def warning_headers(problems: list[str]) -> list[str]:
    """`Warning` header values (`299 - "unknown field \\"x\\""`), bounded like kube-apiserver's recorder.

    filters/warning.go: duplicates are dropped; once the texts pass 4 Ki runes, every text is
    cut to 256 runes and no more are added after 4 Ki of those, so a request with thousands of
    (or huge) unknown fields still gets headers a client can read.
    """
    shown: list[str] = []
    seen: set[str] = set()
    written, truncating = 0, False
    for text in problems:
        if truncating and written >= TRUNCATE_AT_TOTAL_RUNES:
            break
        if not text or text in seen:
            continue
        seen.add(text)
        if truncating:
            text = text[:TRUNCATE_ITEM_RUNES]
        if written + len(text) <= TRUNCATE_AT_TOTAL_RUNES or truncating:
            written += len(text)
            shown.append(text)
            continue
        truncating = True
        shown = [t[:TRUNCATE_ITEM_RUNES] for t in [*shown, text]]
        written = sum(len(t) for t in shown)
    return [f"299 - {go_quote(t)}" for t in shown]
