"""ObjectMeta, label selectors, quantities and write options (apimachinery pkg/api/validation)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from .field import (Causes, FIELD_IMMUTABLE, GoRaw, NameFn, dict_of, DNS1123_LABEL_RE, DNS1123_SUBDOMAIN_RE, int_of,
                    list_of, LABEL_VALUE_RE, QNAME_RE, str_of, forbidden, go_quote, go_strings, immutable, invalid,
                    is_qualified_name, is_valid_label_value, name_is_dns_label, name_is_dns_subdomain, nonnegative,
                    not_supported, qualified_name_field, required, too_long)


# ObjectMeta (apimachinery pkg/api/validation/objectmeta.go)

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
MAX_SECRET_SIZE = 1024 * 1024


def _qualified_name_ok(k: str) -> bool:
    """is_qualified_name(k) == [] (a fast yes; False means "ask is_qualified_name")."""
    prefix, slash, name = k.rpartition("/")
    if slash and (not prefix or "/" in prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN_RE.match(prefix)):
        return False
    return 0 < len(name) <= 63 and QNAME_RE.match(name) is not None


def _labels_ok(labels: Any) -> bool:
    """validate_labels would find nothing (the common case, checked without building causes)."""
    if not labels:
        return True
    for k, v in labels.items():
        if not _qualified_name_ok(k):
            return False
        if len(v) > 63 or not LABEL_VALUE_RE.match(v):
            return False
    return True


def validate_labels(labels: Any, fld: str) -> Causes:
    if _labels_ok(labels):
        return []
    return _label_causes(labels, fld)


def _label_causes(labels: Any, fld: str) -> Causes:
    out: Causes = []
    for k, v in dict_of(labels).items():
        out += [invalid(fld, k, m) for m in is_qualified_name(k)]
        out += [invalid(fld, v, m) for m in is_valid_label_value(str_of(v))]
    return out


def validate_annotations(annotations: Any, fld: str) -> Causes:
    out: Causes = []
    ann = dict_of(annotations)
    total = 0
    for k, v in ann.items():
        out += [invalid(fld, k, m) for m in is_qualified_name(k.lower())]
        total += len(k) + len(str_of(v))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        out.append(too_long(fld, TOTAL_ANNOTATION_SIZE_LIMIT))
    return out


def _go_owner_refs(refs: list) -> GoRaw:
    parts = []
    for r in refs:
        r = dict_of(r)
        ctrl = r.get("controller")
        bod = r.get("blockOwnerDeletion")
        parts.append(
            "v1.OwnerReference{"
            f'APIVersion:{go_quote(str_of(r.get("apiVersion")))}, Kind:{go_quote(str_of(r.get("kind")))}, '
            f'Name:{go_quote(str_of(r.get("name")))}, UID:{go_quote(str_of(r.get("uid")))}, '
            f"Controller:{'(*bool)(nil)' if ctrl is None else '(*bool)(0x0)'}, "
            f"BlockOwnerDeletion:{'(*bool)(nil)' if bod is None else '(*bool)(0x0)'}}}"
        )
    return GoRaw("[]v1.OwnerReference{" + ", ".join(parts) + "}")


def validate_owner_references(refs: Any, fld: str) -> Causes:
    out: Causes = []
    first = ""
    for ref in list_of(refs):
        ref = dict_of(ref)
        api_version = str_of(ref.get("apiVersion"))
        version = api_version.rpartition("/")[2]
        if not version:
            out.append(invalid(fld + ".apiVersion", api_version, "version must not be empty"))
        if not str_of(ref.get("kind")):
            out.append(invalid(fld + ".kind", str_of(ref.get("kind")), "must not be empty"))
        if not str_of(ref.get("name")):
            out.append(invalid(fld + ".name", str_of(ref.get("name")), "must not be empty"))
        if not str_of(ref.get("uid")):
            out.append(invalid(fld + ".uid", str_of(ref.get("uid")), "must not be empty"))
        if ref.get("controller") is True:
            cur = f'{str_of(ref.get("kind"))}/{str_of(ref.get("name"))}'
            if first:
                out.append(invalid(
                    fld, _go_owner_refs(list_of(refs)),
                    f'Only one reference can have Controller set to true. Found "true" in references for {first} and {cur}',
                ))
            else:
                first = cur
    return out


def validate_finalizers(finalizers: Any, fld: str) -> Causes:
    out: Causes = []
    for f in list_of(finalizers):
        out += qualified_name_field(str_of(f), fld)
    return out


def _object_meta_ok(m: dict, namespaced: bool, name_fn: NameFn) -> bool:
    """validate_object_meta would find nothing: a plain name (and namespace), valid labels, and
    no generateName, negative generation, annotations, owners or finalizers to look at."""
    name = m.get("name")
    if type(name) is not str or not name or m.get("generateName"):
        return False
    if name_fn is name_is_dns_subdomain:
        if len(name) > 253 or not DNS1123_SUBDOMAIN_RE.match(name):
            return False
    elif name_fn(name, False):
        return False
    ns = m.get("namespace")
    if namespaced:
        if not ns or len(ns) > 63 or not DNS1123_LABEL_RE.match(ns):
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
    m = dict_of(meta)
    if _object_meta_ok(m, namespaced, name_fn):
        return []
    return _object_meta_causes(m, namespaced, name_fn, fld)


def _object_meta_causes(m: dict, namespaced: bool, name_fn: NameFn, fld: str) -> Causes:
    out: Causes = []
    gen_name = str_of(m.get("generateName"))
    if gen_name:
        out += [invalid(fld + ".generateName", gen_name, msg) for msg in name_fn(gen_name, True)]
    name = str_of(m.get("name"))
    if not name:
        out.append(required(fld + ".name", "name or generateName is required"))
    else:
        out += [invalid(fld + ".name", name, msg) for msg in name_fn(name, False)]
    ns = str_of(m.get("namespace"))
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
    m, o = dict_of(meta), dict_of(old_meta)
    out: Causes = []
    if int_of(m.get("generation")) < int_of(o.get("generation")):
        out.append(invalid(fld + ".generation", int_of(m.get("generation")), "must not be decremented"))
    for key in ("name", "namespace", "uid"):
        out += immutable(str_of(m.get(key)), str_of(o.get(key)), f"{fld}.{key}")
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
    s = dict_of(sel)
    out: Causes = []
    for i, req in enumerate(list_of(s.get("matchExpressions"))):
        req = dict_of(req)
        p = f"{fld}.matchExpressions[{i}]"
        op = str_of(req.get("operator"))
        vals = list_of(req.get("values"))
        if op in ("In", "NotIn"):
            if not vals:
                out.append(required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if vals:
                out.append(forbidden(p + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            out.append(invalid(p + ".operator", op, "not a valid selector operator"))
        out += qualified_name_field(str_of(req.get("key")), p + ".key")
        for v in vals:
            out += [invalid(p + ".values", v, m) for m in is_valid_label_value(str_of(v))]
    out += validate_labels(s.get("matchLabels"), fld + ".matchLabels")
    return out


def selector_matches(sel: Any, labels: Any) -> bool:
    """metav1.LabelSelectorAsSelector(sel).Matches(labels); a nil selector matches nothing."""
    if sel is None:
        return False
    s = dict_of(sel)
    lb = dict_of(labels)
    for k, v in dict_of(s.get("matchLabels")).items():
        if lb.get(k) != v:
            return False
    for req in list_of(s.get("matchExpressions")):
        req = dict_of(req)
        key, op, vals = str_of(req.get("key")), req.get("operator"), list_of(req.get("values"))
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


def selector_is_empty(sel: Any) -> bool:
    s = dict_of(sel)
    return not dict_of(s.get("matchLabels")) and not list_of(s.get("matchExpressions"))


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
    m = _quantity_re.match(str_of(q).strip())
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


def quantity_str(q: Any) -> str:
    return q if isinstance(q, str) else str(q)


# ---------------------------------------------------------------------------------------------
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
    out += validate_dry_run(query.getall("dryRun", []))
    mode = query.get("fieldValidation", "")
    if mode not in FIELD_VALIDATION_VALUES:
        out.append(not_supported("fieldValidation", mode, FIELD_VALIDATION_VALUES))
    return out


def validate_dry_run(dry_run: list[str]) -> Causes:
    """ValidateDryRun: "All" is the only value (`?dryRun=` is [""], refused, not "no dry run")."""
    return [not_supported("dryRun", go_strings(dry_run), ("All",))] if any(d != "All" for d in dry_run) else []


PROPAGATION_POLICIES = ("Foreground", "Background", "Orphan")


def validate_delete_options(propagation: str | None, dry_run: list[str]) -> Causes:
    """ValidateDeleteOptions (apimachinery/pkg/api/validation); the handler answers them as
    `DeleteOptions.meta.k8s.io "" is invalid`."""
    out: Causes = []
    if propagation is not None and propagation not in PROPAGATION_POLICIES:
        out.append(not_supported("propagationPolicy", propagation, (*PROPAGATION_POLICIES, "nil")))
    return out + validate_dry_run(dry_run)
