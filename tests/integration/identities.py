"""Who the components inside `kubeling up` were, from the audit log: in-process requests are
audited like any client's, without a source IP (kubectl's have 127.0.0.1). Used by the
integration test on simulated nodes and the e2e test of the real node."""

from __future__ import annotations

import json
import os
import re
from typing import Any

# Audit every request at Metadata level: enough to know who asked for what, and the answer.
AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Metadata
"""

# upstream's controller accounts, the add-ons' accounts, the node components, the scheduler and
# the controller manager's informers; system:apiserver (upstream's loopback client) is the only
# one in system:masters and only publishes the `kubernetes` Service
EXPECTED = re.compile(r"system:(kube-controller-manager|kube-scheduler|kube-proxy|node:[a-z0-9.-]+|apiserver"
                      r"|serviceaccount:kube-system:([a-z-]+-controller|generic-garbage-collector|"
                      r"pod-garbage-collector|horizontal-pod-autoscaler|persistent-volume-binder|"
                      r"root-ca-cert-publisher|coredns|metrics-server|local-path-provisioner-service-account))$")
APISERVER_OBJECTS = {"services", "endpoints", "endpointslices"}  # the `kubernetes` Service's, in default


def audit_args(tmp_dir: str) -> tuple[str, ...]:
    path = os.path.join(tmp_dir, "audit-policy.yaml")
    with open(path, "w") as f:
        f.write(AUDIT_POLICY)
    return ("--audit-policy-file", path)


def in_process_events(data_dir: str) -> list[dict[str, Any]]:
    with open(os.path.join(data_dir, "server", "audit.log")) as f:
        return [e for e in map(json.loads, f) if not e.get("sourceIPs")]


def identity_problems(events: list[dict[str, Any]]) -> list[str]:
    """What no built-in component may do: act as an unexpected identity, be refused (403: it
    would break silently), or use system:masters beyond the API server's own Service."""
    problems = []
    for e in events:
        user, ref = e["user"], e.get("objectRef") or {}
        what = f'{user["username"]} {e["verb"]} {e["requestURI"]}'
        if not EXPECTED.match(user["username"]):
            problems.append(f"unexpected identity: {what}")
        if e["annotations"]["authorization.k8s.io/decision"] != "allow":  # not e.g. a terminating namespace's 403
            problems.append(f'forbidden: {what}: {e["responseStatus"].get("message", "")}')
        if "system:masters" in user.get("groups", ()) and (
                user["username"] != "system:apiserver" or ref.get("resource") not in APISERVER_OBJECTS
                or ref.get("namespace") != "default" or ref.get("name", "kubernetes") != "kubernetes"):
            problems.append(f"system:masters: {what}")
    return problems


def users(events: list[dict[str, Any]]) -> set[str]:
    return {e["user"]["username"] for e in events}


def refusals_in_log(log_path: str) -> list[str]:
    """Log lines of a component refused by the authorizer (upstream's message: `... is forbidden:
    User "<name>" cannot <verb> resource ...`)."""
    with open(log_path) as f:
        return [line for line in f if 'forbidden: User "' in line]
