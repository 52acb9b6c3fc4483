"""Apply the add-on manifests (kubeling/addons.py) at start, like k3s's deploy controller does its
bundled manifests: the accounts, ClusterRoles and bindings, the DNS publisher Role and the
`local-path` StorageClass (created when missing, never overwritten).

Reconciled like the bootstrap policy (auth/policy.py): missing rules and subjects are added at
every start, unless a role or binding is annotated autoupdate=false.
"""

from __future__ import annotations

from typing import Any

from ..addons import (ACCOUNTS, CLUSTER_ROLES, COREDNS, DNS_PUBLISHER, DNS_PUBLISHER_RULES, NAMESPACE,
                      USER_BINDINGS, storage_class)
from ..api import errors
from ..api.policyrule import Rule
from ..api.resources import lookup
from .auth import policy


def _binding(name: str, kind: str, role: str, account: str, namespace: str = "", *,
             user: str = "") -> dict[str, Any]:
    """A binding to the add-on's account in kube-system, or to `user`."""
    meta: dict[str, Any] = {"name": name, "labels": {}, "annotations": {policy.AUTOUPDATE: "true"}}
    if namespace:
        meta["namespace"] = namespace
    subject = {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user} if user else \
        {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
    return {"metadata": meta, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
            "subjects": [subject]}


def _role(name: str, rules: list[Rule], labels: dict[str, str], namespace: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels, "annotations": {policy.AUTOUPDATE: "true"}}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta, "rules": rules}


async def _create_missing(registry: Any, res: Any, namespace: str | None, obj: dict[str, Any]) -> None:
    from .registry import WriteOptions

    if registry.store.get(res.key(namespace, obj["metadata"]["name"])) is not None:
        return
    try:
        await registry.create(res, namespace, obj, WriteOptions(field_manager="kubeling-addons"))
    except errors.StatusError as e:
        if e.code != 409:
            raise


async def bootstrap(registry: Any) -> None:
    """Create or reconcile the add-ons' accounts, roles, bindings and StorageClass."""
    accounts, classes = lookup("", "v1", "serviceaccounts"), lookup("storage.k8s.io", "v1", "storageclasses")
    assert accounts is not None and classes is not None
    for account in ACCOUNTS:
        await _create_missing(registry, accounts, NAMESPACE, {"metadata": {"name": account, "namespace": NAMESPACE}})
    for name, (rules, labels, binding, account) in CLUSTER_ROLES.items():
        await policy.ensure(registry, "clusterroles", _role(name, rules, labels), "rules")
        await policy.ensure(registry, "clusterrolebindings", _binding(binding, "ClusterRole", name, account),
                            "subjects")
    for name, (role, user) in USER_BINDINGS.items():
        await policy.ensure(registry, "clusterrolebindings", _binding(name, "ClusterRole", role, "", user=user),
                            "subjects")
    await policy.ensure(registry, "roles", _role(DNS_PUBLISHER, DNS_PUBLISHER_RULES, {}, NAMESPACE), "rules")
    await policy.ensure(registry, "rolebindings", _binding(DNS_PUBLISHER, "Role", DNS_PUBLISHER, COREDNS, NAMESPACE),
                        "subjects")
    await _create_missing(registry, classes, None, storage_class())
