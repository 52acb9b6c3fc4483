"""The add-ons' own accounts and rights, created at start like k3s's bundled manifests.

Upstream's bootstrap policy (auth/policy_data.py) covers the Kubernetes components; the add-ons
a cluster ships with bring their own ServiceAccount and RBAC in their manifests, and run as that
account, never as an admin:

- cluster DNS: CoreDNS's `system:coredns` ClusterRole and binding (cluster/addons/dns/coredns),
  for the account `kube-system:coredns`. kubeling's DNS also publishes its own `kube-dns`
  Service and endpoints (the deploy controller's manifest plus the endpoints of a host-network
  pod, upstream), hence the Role `kubeling:kube-dns-publisher` on those objects only.
- the local-path provisioner: k3s's `local-path-provisioner-role` for
  `kube-system:local-path-provisioner-service-account`, and the `local-path` StorageClass its
  manifest carries (created when missing, never overwritten).
- metrics-server: its `system:metrics-server` ClusterRole for `kube-system:metrics-server`, the
  account whose token it scrapes kubelets with. kubeling's metrics component reads the summary API
  (/stats/summary, `nodes/stats`) as metrics-server up to v0.5 did, so the role grants `nodes/stats`
  besides v0.6+'s `nodes/metrics` (/metrics/resource).
- the API server's kubelet client certificate (user `kube-apiserver`): k3s's
  `kube-apiserver-kubelet-admin` binding to `system:kubelet-api-admin`, so kubectl exec, logs,
  attach and port-forward pass the kubelet's authorization (kubelet/auth.py).

Reconciled like the bootstrap policy: missing rules and subjects are added at every start.
"""

from __future__ import annotations

from typing import Any

from ..api import errors
from ..api.resources import lookup
from ..identity import DNS_ACCOUNT
from .auth import policy
from .auth.policy_data import Rule, r

NAMESPACE = "kube-system"
COREDNS = DNS_ACCOUNT
METRICS_SERVER = "metrics-server"
LOCAL_PATH = "local-path-provisioner-service-account"
LOCAL_PATH_PROVISIONER = "rancher.io/local-path"
DNS_NAME = "kube-dns"

# ClusterRole name -> (rules, labels, ClusterRoleBinding name, account)
CLUSTER_ROLES: dict[str, tuple[list[Rule], dict[str, str], str, str]] = {
    "system:coredns": ([r("list watch", "-", "endpoints services pods namespaces"),
                        r("list watch", "discovery.k8s.io", "endpointslices")],
                       {"kubernetes.io/bootstrapping": "rbac-defaults"}, "system:coredns", COREDNS),
    "local-path-provisioner-role": ([r("get list watch", "-", "nodes persistentvolumeclaims configmaps pods/log"),
                                     r("*", "-", "endpoints persistentvolumes pods"),
                                     r("create patch", "-", "events"),
                                     r("get list watch", "storage.k8s.io", "storageclasses")],
                                    {}, "local-path-provisioner-bind", LOCAL_PATH),
    "system:metrics-server": ([r("get", "-", "nodes/metrics nodes/stats"), r("get list watch", "-", "pods nodes")],
                              {"k8s-app": "metrics-server"}, "system:metrics-server", METRICS_SERVER),
}
# k3s's manifests/rolebindings.yaml: ClusterRoleBinding -> (ClusterRole, user)
USER_BINDINGS = {"kube-apiserver-kubelet-admin": ("system:kubelet-api-admin", "kube-apiserver")}
# the DNS's own Service, Endpoints and EndpointSlice in kube-system (create can't name its object)
DNS_PUBLISHER = "kubeling:kube-dns-publisher"
DNS_PUBLISHER_RULES = [r("create", "-", "services endpoints"), r("create", "discovery.k8s.io", "endpointslices"),
                       r("get update", "-", "services endpoints", DNS_NAME),
                       r("get update", "discovery.k8s.io", "endpointslices", DNS_NAME)]


def storage_class() -> dict[str, Any]:
    """k3s's default StorageClass `local-path` (controllers/localpath.py provisions its claims)."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "local-path", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": LOCAL_PATH_PROVISIONER, "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer"}


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
    for account in (COREDNS, LOCAL_PATH, METRICS_SERVER):
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
