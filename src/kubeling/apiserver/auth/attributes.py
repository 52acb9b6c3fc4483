"""Request attributes for authorization, as upstream's RequestInfoFactory derives them from a
path, a method and the query: verb, API group/version, namespace, resource, subresource, name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...identity import User

_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True, slots=True)
class Attributes:
    user: User
    verb: str
    resource_request: bool
    path: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


def _exact_name(field_selector: str) -> str:
    """`metadata.name=x` (or `==`) among the selector's terms: the name a list or watch is limited to."""
    for term in field_selector.split(","):
        for op in ("==", "="):
            k, sep, v = term.partition(op)
            if sep and k.strip() == "metadata.name" and not v.startswith("="):
                v = v.strip()
                return v if v and v not in (".", "..") and "/" not in v and "%" not in v else ""
    return ""


def from_request(user: User, method: str, path: str, query: Any) -> Attributes:
    parts = [p for p in path.strip("/").split("/") if p]
    nonresource = Attributes(user, method.lower(), False, path)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return nonresource
    rest = parts[1:]
    group = ""
    if parts[0] == "apis":
        if len(rest) < 3:
            return nonresource
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    verb = _VERBS.get(method, "")
    if rest[0] == "watch" and len(rest) > 1:  # the deprecated /watch/ paths
        verb, rest = "watch", rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if not name and verb == "get":
        verb = "watch" if str(query.get("watch", "")).lower() in ("true", "1") else "list"
        name = _exact_name(query.get("fieldSelector", "") or "")
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user, verb, True, path, group, version, namespace, resource, sub, name)


def forbidden_message(a: Attributes) -> str:
    """responsewriters.forbiddenMessage."""
    if not a.resource_request:
        return f'User "{a.user.name}" cannot {a.verb} path "{a.path}"'
    resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    if a.namespace:
        return (f'User "{a.user.name}" cannot {a.verb} resource "{resource}" in API group "{a.api_group}" '
                f'in the namespace "{a.namespace}"')
    return f'User "{a.user.name}" cannot {a.verb} resource "{resource}" in API group "{a.api_group}" at the cluster scope'
