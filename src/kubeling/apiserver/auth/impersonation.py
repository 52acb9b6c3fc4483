"""Impersonation headers (upstream's WithImpersonation filter).

`Impersonate-User`, `-Group` (repeated), `-Uid` and `-Extra-<key>` make the rest of the request
run as that identity, provided the caller may `impersonate` each part: users (or serviceaccounts
for `system:serviceaccount:<ns>:<name>`), groups, uids and userextras/<key>.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from ...api import errors
from ...identity import AUTHENTICATED, SA_PREFIX, User
from .attributes import Attributes, forbidden_message

USER, GROUP, UID, EXTRA = "Impersonate-User", "Impersonate-Group", "Impersonate-Uid", "impersonate-extra-"
ANONYMOUS, UNAUTHENTICATED = "system:anonymous", "system:unauthenticated"


def _requested(headers: Any) -> tuple[str, list[str], str, dict[str, list[str]]]:
    extra: dict[str, list[str]] = {}
    for k, v in headers.items():
        if k.lower().startswith(EXTRA):
            extra.setdefault(unquote(k[len(EXTRA):]).lower(), []).append(v)
    return headers.get(USER, ""), list(headers.getall(GROUP, [])), headers.get(UID, ""), extra


def impersonate(authz: Any, caller: User, headers: Any) -> User:
    """The identity the request runs as: `caller`, or whom it may and does impersonate."""
    if USER not in headers and GROUP not in headers and UID not in headers and \
            not any(k.lower().startswith(EXTRA) for k in headers.keys()):
        return caller
    name, groups, uid, extra = _requested(headers)
    if not name:
        raise errors.bad_request("requested impersonation of groups, uid or extra without impersonating a user")
    checks: list[Attributes] = []
    if name.startswith(SA_PREFIX) and name.count(":") == 3:
        ns, sa = name[len(SA_PREFIX):].split(":")
        checks.append(Attributes(caller, "impersonate", True, "", "", "v1", ns, "serviceaccounts", "", sa))
        if not groups:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    else:
        checks.append(Attributes(caller, "impersonate", True, "", "", "v1", "", "users", "", name))
    checks += [Attributes(caller, "impersonate", True, "", "", "v1", "", "groups", "", g)
               for g in headers.getall(GROUP, [])]
    if uid:
        checks.append(Attributes(caller, "impersonate", True, "", "authentication.k8s.io", "v1", "", "uids", "", uid))
    checks += [Attributes(caller, "impersonate", True, "", "authentication.k8s.io", "v1", "", "userextras", k, v)
               for k, vs in extra.items() for v in vs]
    for a in checks:
        allowed, reason = authz.authorize(a)
        if not allowed:
            msg = forbidden_message(a) + (f": {reason}" if reason else "")
            raise errors.forbidden(a.resource, a.name, a.api_group, msg)
    if name == ANONYMOUS:
        if UNAUTHENTICATED not in groups:
            groups.append(UNAUTHENTICATED)
    elif AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    return User(name, tuple(groups), uid, tuple(sorted((k, tuple(v)) for k, v in extra.items())))
