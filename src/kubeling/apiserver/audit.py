"""Audit log (kube-apiserver --audit-policy-file / --audit-log-path): one JSON line per request in
upstream's audit.k8s.io/v1 Event format, at the level the first matching policy rule gives
(None, Metadata, Request, RequestResponse). Off unless a policy file is given. Requests of the
components inside `kubeling up` (in-process transport) are not audited."""

from __future__ import annotations

import uuid
from typing import IO, Any

import orjson
import yaml

from ..api.timestamps import rfc3339_micro
from .auth.attributes import Attributes
from ..identity import User

LEVELS = ("None", "Metadata", "Request", "RequestResponse")


class AuditPolicyError(ValueError):
    pass


def _url_matches(pattern: str, path: str) -> bool:
    return pattern == "*" or pattern == path or (pattern.endswith("*") and path.startswith(pattern[:-1]))


def _resource_matches(rule_resources: list[dict[str, Any]], a: Attributes) -> bool:
    combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    for gr in rule_resources:
        if gr.get("group", "") != a.api_group:
            continue
        names = gr.get("resourceNames") or []
        resources = gr.get("resources") or []
        if not resources:
            return True
        for r in resources:
            if r in (combined, "*") or (r == a.resource + "/*" and a.subresource) or \
                    (r.startswith("*/") and r[2:] == a.subresource):
                if not names or a.name in names:
                    return True
    return False


def rule_matches(rule: dict[str, Any], a: Attributes, user: User) -> bool:
    """policy/checker.go ruleMatches."""
    if rule.get("users") and user.name not in rule["users"]:
        return False
    if rule.get("userGroups") and not set(rule["userGroups"]) & set(user.groups):
        return False
    if rule.get("verbs") and a.verb not in rule["verbs"]:
        return False
    if rule.get("namespaces") or rule.get("resources"):
        if not a.resource_request:
            return False
        if rule.get("namespaces") and a.namespace not in rule["namespaces"]:
            return False
        if rule.get("resources") and not _resource_matches(rule["resources"], a):
            return False
    if rule.get("nonResourceURLs"):
        if a.resource_request or not any(_url_matches(u, a.path) for u in rule["nonResourceURLs"]):
            return False
    return True


class Auditor:
    def __init__(self, policy: dict[str, Any], out: IO[bytes]) -> None:
        self.rules = list(policy.get("rules") or [])
        self.out = out

    @classmethod
    def open(cls, policy_file: str, log_path: str) -> "Auditor":
        import os

        with open(policy_file) as f:
            policy = yaml.safe_load(f) or {}
        if policy.get("kind") != "Policy":
            raise AuditPolicyError(f"{policy_file}: kind must be Policy (audit.k8s.io/v1)")
        for r in policy.get("rules") or ():
            if r.get("level") not in LEVELS:
                raise AuditPolicyError(f"{policy_file}: level {r.get('level')!r} is not one of {', '.join(LEVELS)}")
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return cls(policy, os.fdopen(fd, "ab", buffering=0))

    def level(self, a: Attributes, user: User) -> str:
        return next((r["level"] for r in self.rules if rule_matches(r, a, user)), "None")

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def log(self, audit_id: str, received: str, caller: User, user: User, a: Attributes, request: Any,
            status: int, request_body: Any, response_body: bytes | None, error: dict[str, Any] | None,
            allowed: bool = True, annotations: dict[str, str] | None = None) -> None:
        level = self.level(a, user)
        if level == "None":
            return
        ev: dict[str, Any] = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level, "auditID": audit_id,
                              "stage": "ResponseComplete", "requestURI": request.path_qs, "verb": a.verb,
                              "user": caller.info()}
        if user is not caller:
            ev["impersonatedUser"] = user.info()
        peer = request.remote
        ev["sourceIPs"] = [peer] if peer else []
        ev["userAgent"] = request.headers.get("User-Agent", "")
        if a.resource_request:
            ref = {"resource": a.resource, "namespace": a.namespace, "name": a.name, "apiGroup": a.api_group,
                   "apiVersion": a.api_version, "subresource": a.subresource}
            ev["objectRef"] = {k: v for k, v in ref.items() if v}
        ev["responseStatus"] = {"metadata": {}, **(error or {}), "code": status}
        if level != "Metadata" and request_body is not None:
            ev["requestObject"] = request_body  # decoded already
        if level == "RequestResponse" and response_body:
            try:
                ev["responseObject"] = orjson.loads(response_body)
            except orjson.JSONDecodeError:  # a Table or YAML is left out
                pass
        ev["requestReceivedTimestamp"] = received
        ev["stageTimestamp"] = rfc3339_micro()
        ev["annotations"] = {"authorization.k8s.io/decision": "allow" if allowed else "forbid",
                             "authorization.k8s.io/reason": "", **(annotations or {})}
        self.out.write(orjson.dumps(ev) + b"\n")
