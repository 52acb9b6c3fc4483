"""The add-ons a cluster ships with, as their manifests say them: each one's ServiceAccount, RBAC
and objects, as data (k3s's bundled manifests).

Upstream's bootstrap policy (apiserver/auth/policy_data.py) covers the Kubernetes components; the add-ons
a cluster ships with bring their own ServiceAccount and RBAC in their manifests, and run as that
account, never as an admin:

- cluster DNS: CoreDNS's `system:coredns` ClusterRole and binding (cluster/addons/dns/coredns),
  for the account `kube-system:coredns`. kubeling's DNS also publishes its own `kube-dns`
  Service and endpoints (the deploy controller's manifest plus the endpoints of a host-network
  pod, upstream), hence the Role `kubeling:kube-dns-publisher` on those objects only.
- the local-path provisioner: k3s's `local-path-provisioner-role` for
  `kube-system:local-path-provisioner-service-account`, and the `local-path` StorageClass its
  manifest carries.
- metrics-server: its `system:metrics-server` ClusterRole for `kube-system:metrics-server`, the
  account whose token it scrapes kubelets with. kubeling's metrics component reads the summary API
  (/stats/summary, `nodes/stats`) as metrics-server up to v0.5 did, so the role grants `nodes/stats`
  besides v0.6+'s `nodes/metrics` (/metrics/resource).
- the API server's kubelet client certificate (user `kube-apiserver`): k3s's
  `kube-apiserver-kubelet-admin` binding to `system:kubelet-api-admin`, so kubectl exec, logs,
  attach and port-forward pass the kubelet's authorization (kubelet/auth.py).

Pure data, importing only api/ and identity.py: the API server applies it at start
(apiserver/addons.py) and each add-on reads its own account and names from it
(controllers/localpath.py, up.py), without either importing the other.
"""

from __future__ import annotations

from typing import Any

from .api.policyrule import Rule, r
from .identity import DNS_ACCOUNT, KUBELET_CLIENT_USER

NAMESPACE = "kube-system"
COREDNS = DNS_ACCOUNT
METRICS_SERVER = "metrics-server"
LOCAL_PATH = "local-path-provisioner-service-account"
LOCAL_PATH_PROVISIONER = "rancher.io/local-path"
DNS_NAME = "kube-dns"
ACCOUNTS = (COREDNS, LOCAL_PATH, METRICS_SERVER)

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
USER_BINDINGS = {"kube-apiserver-kubelet-admin": ("system:kubelet-api-admin", KUBELET_CLIENT_USER)}
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
