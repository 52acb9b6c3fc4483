"""Review resources: answers computed from the caller's identity and the authorizer, never stored.

`kubectl auth whoami` (SelfSubjectReview), `kubectl auth can-i [--list]` (SelfSubjectAccessReview,
SelfSubjectRulesReview), and the SubjectAccessReview / LocalSubjectAccessReview / TokenReview that
other components use. Access reviews ask the same authorizer as requests do.
"""

from __future__ import annotations

from typing import Any, Callable

from ..api import errors
from ..api.resources import Resource
from .auth.attributes import Attributes
from ..identity import User


def review(res: Resource, body: Any, user: Any, authenticate_token: Callable[[str], Any] | None,
           authz: Any = None, namespace: str | None = None) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request was in an unknown format")
    out: dict[str, Any] = {"kind": res.kind, "apiVersion": res.api_version,
                           "metadata": {"creationTimestamp": None, **({k: v for k, v in (body.get("metadata") or {}).items()
                                                                       if k in ("name", "namespace")})}}
    spec = body.get("spec") or {}
    if res.kind == "SelfSubjectReview":
        out["status"] = {"userInfo": _user_info(user)}
    elif res.kind == "TokenReview":
        out["spec"] = spec
        who = authenticate_token(spec.get("token", "")) if authenticate_token else None
        out["status"] = {"authenticated": True, "user": _user_info(who)} if who else {"authenticated": False}
    elif res.kind == "SelfSubjectRulesReview":
        out["spec"] = spec
        out["status"] = _rules_status(authz, user, spec.get("namespace") or "")
    else:  # the access reviews
        ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if not (ra or nra):
            raise errors.invalid(res.kind, "", res.group, [errors.field_cause(
                "FieldValueInvalid", "spec.resourceAttributes",
                "spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or "
                "resourceAttributes must be specified")])
        if res.kind == "LocalSubjectAccessReview" and ra and (ra.get("namespace") or "") != (namespace or ""):
            raise errors.invalid(res.kind, "", res.group, [errors.field_cause(
                "FieldValueInvalid", "spec.resourceAttributes.namespace",
                f"spec.resourceAttributes.namespace: Invalid value: \"{ra.get('namespace') or ''}\": "
                "must match metadata.namespace")])
        out["spec"] = spec
        subject = user if res.kind == "SelfSubjectAccessReview" else _subject(spec)
        out["status"] = _access_status(authz, subject, ra, nra)
    return out


def _subject(spec: dict[str, Any]) -> User:
    extra = tuple(sorted((k, tuple(v or ())) for k, v in (spec.get("extra") or {}).items()))
    return User(spec.get("user") or "", tuple(spec.get("groups") or ()), spec.get("uid") or "", extra)


def _access_status(authz: Any, user: Any, ra: dict[str, Any] | None, nra: dict[str, Any] | None) -> dict[str, Any]:
    if authz is None:
        return {"allowed": True}
    if ra:
        a = Attributes(user, ra.get("verb") or "", True, "", ra.get("group") or "", ra.get("version") or "",
                       ra.get("namespace") or "", ra.get("resource") or "", ra.get("subresource") or "",
                       ra.get("name") or "")
    else:
        a = Attributes(user, (nra or {}).get("verb") or "", False, (nra or {}).get("path") or "")
    allowed, reason = authz.authorize(a)
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    return status


def _rules_status(authz: Any, user: Any, namespace: str) -> dict[str, Any]:
    if authz is None:
        rules, errs, complete = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                                 {"verbs": ["*"], "nonResourceURLs": ["*"]}], [], True
    else:
        rules, errs, complete = authz.rules_for(user, namespace)
    resource_rules, nonresource_rules = [], []
    for r in rules:
        if r.get("nonResourceURLs"):
            nonresource_rules.append({"verbs": r.get("verbs") or [], "nonResourceURLs": r["nonResourceURLs"]})
        else:
            rr = {"verbs": r.get("verbs") or [], "apiGroups": r.get("apiGroups") or [],
                  "resources": r.get("resources") or []}
            if r.get("resourceNames"):
                rr["resourceNames"] = r["resourceNames"]
            resource_rules.append(rr)
    status: dict[str, Any] = {"resourceRules": resource_rules, "nonResourceRules": nonresource_rules,
                              "incomplete": not complete}
    if errs:
        status["evaluationError"] = ", ".join(errs)
    return status


def _user_info(user: Any) -> dict[str, Any]:
    if user is None:
        return {}
    if isinstance(user, User):
        return user.info()
    return {"username": user.name, "groups": list(user.groups)}
