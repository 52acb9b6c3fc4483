"""Who a request is: the user value type and the well-known names both sides of the API agree on.

Upstream keeps these in k8s.io/apiserver/pkg/authentication/user (user.Info, AllAuthenticated,
SystemPrivilegedGroup, NodesGroup, KubeProxy...), a leaf package the API server's authenticators
and authorizers use and that components import to say who they are. Here too it depends on
nothing: the API server (authn, RBAC, the Node authorizer, bootstrap policy, add-ons) and the
clients (in-process identities, node kubeconfigs) both import it, and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class User:
    """The authenticated identity of a request (upstream's user.Info)."""

    name: str
    groups: tuple[str, ...]
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    def info(self) -> dict:
        """user.Info as reviews and audit write it (userInfo of SelfSubjectReview)."""
        out: dict = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra}
        return out


MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
SA_PREFIX = "system:serviceaccount:"

# The node's components, each authenticating as itself (kubelet/identities.py gives them their
# clients and kubeconfigs; the Node authorizer and the add-on manifests name them).
NODES_GROUP = "system:nodes"
NODE_PREFIX = "system:node:"
KUBE_PROXY = "system:kube-proxy"
DNS_NAMESPACE, DNS_ACCOUNT = "kube-system", "coredns"

# The API server's client certificate towards kubelets (k3s's `kube-apiserver`), bound to
# system:kubelet-api-admin by the add-on manifests so exec, logs, attach and port-forward pass
# the kubelet's authorization.
KUBELET_CLIENT_USER = "kube-apiserver"
