"""Review resources: answers computed from the caller's identity, never stored.

`kubectl auth whoami` (SelfSubjectReview), `kubectl auth can-i [--list]` (SelfSubjectAccessReview,
SelfSubjectRulesReview), and the SubjectAccessReview / TokenReview that other components use.
There is no authorization yet (every authenticated user may do everything, like the AlwaysAllow
authorizer), so access reviews are allowed and rules reviews list `*`.
"""

from __future__ import annotations

from typing import Any, Callable

from ..api import errors
from ..api.resources import Resource


def review(res: Resource, body: Any, user: Any, authenticate_token: Callable[[str], Any] | None) -> dict[str, Any]:
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
        out["status"] = {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                         "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": False}
    else:  # the access reviews
        if not (spec.get("resourceAttributes") or spec.get("nonResourceAttributes")):
            raise errors.invalid(res.kind, "", res.group, [errors.field_cause(
                "FieldValueInvalid", "spec.resourceAttributes",
                "spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or "
                "resourceAttributes must be specified")])
        out["spec"] = spec
        out["status"] = {"allowed": True}
    return out


def _user_info(user: Any) -> dict[str, Any]:
    if user is None:
        return {}
    return {"username": user.name, "groups": list(user.groups)}
