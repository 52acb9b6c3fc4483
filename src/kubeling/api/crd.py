"""CustomResourceDefinitions (apiextensions.k8s.io/v1): validation and defaults of the CRD itself
and its status conditions. The rows a CRD adds to the resource table: customresource.py.

Upstream: staging/src/k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation
(the common messages of ValidateCustomResourceDefinition and the structural-schema rules),
the naming and establishing controllers (NamesAccepted, Established) and the crdHandler.
"""

from __future__ import annotations

from typing import Any

from . import crdrules, goregexp, structural
from .validation.field import (Causes, forbidden, invalid, is_dns1035_label, is_dns1123_subdomain, not_supported,
                               required)
from .validation.other import validate_generic

GROUP = "apiextensions.k8s.io"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def _d(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _l(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


# ---- validation of the CRD object --------------------------------------------------------------

def validate(obj: dict[str, Any], old: dict[str, Any] | None) -> Causes:
    """ValidateCustomResourceDefinition(Update): the rules users hit most."""
    out = validate_generic(obj, old, False)
    spec = _d(obj.get("spec"))
    names = _d(spec.get("names"))
    group = spec.get("group") or ""
    plural = names.get("plural") or ""
    name = _d(obj.get("metadata")).get("name", "")
    if name != f"{plural}.{group}":
        out.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        out.append(required("spec.group"))
    elif len(group.split(".")) < 2:
        out.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    else:
        out += [invalid("spec.group", group, m) for m in is_dns1123_subdomain(group)]
    scope = spec.get("scope")
    if not scope:
        out.append(required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        out.append(not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    out += _validate_names(names)
    out += _validate_versions(spec)
    if old is not None:
        old_spec = _d(old.get("spec"))
        if old_spec.get("group") != spec.get("group"):
            out.append(invalid("spec.group", group, "field is immutable"))
        if old_spec.get("scope") != spec.get("scope"):
            out.append(invalid("spec.scope", spec.get("scope"), "field is immutable"))
        if _d(old_spec.get("names")).get("plural") != plural:
            out.append(invalid("spec.names.plural", plural, "field is immutable"))
    return out


def _validate_names(names: dict[str, Any]) -> Causes:
    out: Causes = []
    for fld in ("plural", "singular", "kind", "listKind"):
        v = names.get(fld)
        if not v and fld in ("plural", "kind", "listKind"):
            out.append(required(f"spec.names.{fld}"))
            continue
        if v and fld in ("plural", "singular"):
            out += [invalid(f"spec.names.{fld}", v, m) for m in is_dns1035_label(v)]
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        out.append(invalid("spec.names.listKind", names["listKind"], "kind and listKind may not be the same"))
    for fld in ("shortNames", "categories"):
        for i, v in enumerate(_l(names.get(fld))):
            out += [invalid(f"spec.names.{fld}[{i}]", v, m) for m in is_dns1035_label(str(v))]
    return out


def _validate_versions(spec: dict[str, Any]) -> Causes:
    versions = _l(spec.get("versions"))
    if not versions:
        return [required("spec.versions", "must have exactly one version marked as storage version")]
    out: Causes = []
    seen: set[str] = set()
    for i, v in enumerate(versions):
        v = _d(v)
        fld = f"spec.versions[{i}]"
        vname = v.get("name") or ""
        if not vname:
            out.append(required(f"{fld}.name"))
        else:
            out += [invalid(f"{fld}.name", vname, m) for m in is_dns1035_label(vname)]
            if vname in seen:
                out.append(invalid(f"{fld}.name", vname, "must be unique"))
            seen.add(vname)
        sch = _d(v.get("schema")).get("openAPIV3Schema")
        if sch is None:
            out.append(required(f"{fld}.schema.openAPIV3Schema", "schemas are required"))
        else:
            out += structural_errors(sch, f"{fld}.schema.openAPIV3Schema")
            out += crdrules.rule_errors(sch, f"{fld}.schema.openAPIV3Schema")
        for j, c in enumerate(_l(v.get("additionalPrinterColumns"))):
            c = _d(c)
            cfld = f"{fld}.additionalPrinterColumns[{j}]"
            if not c.get("name"):
                out.append(required(f"{cfld}.name"))
            if c.get("type") not in ("integer", "number", "string", "boolean", "date"):
                out.append(not_supported(f"{cfld}.type", c.get("type") or "",
                                         ["integer", "number", "string", "boolean", "date"]))
            if not c.get("jsonPath"):
                out.append(required(f"{cfld}.jsonPath"))
    storage = [v for v in versions if _d(v).get("storage")]
    if len(storage) != 1:
        out.append(invalid("spec.versions", "versions", "must have exactly one version marked as storage version"))
    if not any(_d(v).get("served") for v in versions):
        out.append(invalid("spec.versions", "versions", "must have at least one served version"))
    conv = _d(spec.get("conversion")).get("strategy")
    if conv not in (None, "None") and conv != "Webhook":
        out.append(not_supported("spec.conversion.strategy", conv, ["None", "Webhook"]))
    return out


def structural_errors(s: Any, fld: str, level: str = "root") -> Causes:
    """The structural-schema rules (every node has a type, no additionalProperties with
    properties, the root is an object), upstream's messages."""
    out: Causes = []
    if not isinstance(s, dict):
        return [invalid(fld, s, "must be an object")]
    typ = s.get("type")
    if not typ and not s.get("x-kubernetes-int-or-string") and not s.get("x-kubernetes-preserve-unknown-fields"):
        detail = {"root": "must not be empty at the root", "item": "must not be empty for specified array items",
                  "field": "must not be empty for specified object fields"}[level]
        out.append(required(f"{fld}.type", detail))
    if level == "root" and typ and typ != "object":
        out.append(invalid(f"{fld}.type", typ, "must be object at the root"))
    if "$ref" in s:
        out.append(forbidden(f"{fld}.$ref", "$ref is not supported"))
    if s.get("properties") and "additionalProperties" in s:
        out.append(forbidden(f"{fld}.additionalProperties", "additionalProperties and properties are mutual exclusive"))
    if s.get("uniqueItems") is True:
        out.append(forbidden(f"{fld}.uniqueItems",
                             "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
    if typ == "array" and s.get("items") is None:
        out.append(required(f"{fld}.items", "must be specified"))
    if isinstance(s.get("pattern"), str) and s["pattern"]:
        try:
            goregexp.compile_pattern(s["pattern"])
        except goregexp.RegexpError as e:
            out.append(invalid(f"{fld}.pattern", s["pattern"], f"must be a valid regular expression, but isn't: {e}"))
    lt = s.get("x-kubernetes-list-type")
    if lt is not None and lt not in ("atomic", "set", "map"):
        out.append(not_supported(f"{fld}.x-kubernetes-list-type", lt, ["atomic", "set", "map"]))
    if lt == "map" and not s.get("x-kubernetes-list-map-keys"):
        out.append(required(f"{fld}.x-kubernetes-list-map-keys",
                            "must not be empty if x-kubernetes-list-type is map"))
    for k, p in _d(s.get("properties")).items():
        out += structural_errors(p, f"{fld}.properties[{k}]", "field")
    if isinstance(s.get("items"), dict):
        out += structural_errors(s["items"], f"{fld}.items", "item")
    if isinstance(s.get("additionalProperties"), dict):
        out += structural_errors(s["additionalProperties"], f"{fld}.additionalProperties", "field")
    return out


# ---- defaults and status -------------------------------------------------------------------------

def apply_defaults(obj: dict[str, Any]) -> None:
    """SetDefaults_CustomResourceDefinition: singular, listKind, conversion None, column priority."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict):
        if not names.get("singular") and isinstance(names.get("kind"), str):
            names["singular"] = names["kind"].lower()
        if not names.get("listKind") and isinstance(names.get("kind"), str):
            names["listKind"] = names["kind"] + "List"
    conv = spec.setdefault("conversion", {"strategy": "None"})
    if isinstance(conv, dict):
        conv.setdefault("strategy", "None")


def condition(ctype: str, ok: bool, reason: str, message: str, now: str) -> dict[str, Any]:
    return {"type": ctype, "status": "True" if ok else "False", "lastTransitionTime": now,
            "reason": reason, "message": message}


def status_for(crd: dict[str, Any], conflict: str, now: str) -> dict[str, Any]:
    """The status the naming and establishing controllers converge to."""
    spec = _d(crd.get("spec"))
    names = dict(_d(spec.get("names")))
    old = _d(crd.get("status"))
    old_conds = {c.get("type"): c for c in _l(old.get("conditions")) if isinstance(c, dict)}

    def keep_time(c: dict[str, Any]) -> dict[str, Any]:
        prev = old_conds.get(c["type"])
        if prev and prev.get("status") == c["status"] and prev.get("lastTransitionTime"):
            c["lastTransitionTime"] = prev["lastTransitionTime"]
        return c
    if conflict:
        conds = [condition("NamesAccepted", False, "NamesConflict", conflict, now),
                 condition("Established", False, "NotAccepted", "not all names are accepted", now)]
        accepted = _d(old.get("acceptedNames")) or {"plural": "", "kind": ""}
    else:
        conds = [condition("NamesAccepted", True, "NoConflicts", "no conflicts found", now),
                 condition("Established", True, "InitialNamesAccepted", "the initial names have been accepted", now)]
        accepted = names
    stored = [v.get("name") for v in _l(spec.get("versions")) if _d(v).get("storage")]
    previous = [v for v in _l(old.get("storedVersions")) if v not in stored]
    return {"conditions": [keep_time(c) for c in conds], "acceptedNames": accepted,
            "storedVersions": previous + stored}
