"""Who each part of a node is to the API server: each authenticates as itself, none as an admin.

- the kubelet (its pod workers, prober, status manager, volume manager, mirror pods, image pull
  secrets) is `system:node:<name>` in `system:nodes`: the Node authorizer and the `system:node`
  rules decide what it may do, NodeRestriction what it may write (upstream's kubelet);
- kube-proxy is `system:kube-proxy`, bound to `system:node-proxier` by the bootstrap policy;
- the cluster DNS is the add-on account `kube-system:coredns` (`system:coredns`, kubeling/addons.py).

The names themselves are in kubeling/identity.py, which the API server reads too.

In `kubeling up` the three are in-process clients, each with its own informers (so even their
lists and watches are made as themselves). A node on another machine reaches the API over HTTPS
with a client certificate per component, in kubeconfigs under `DATA/agent/` like k3s's
(`kubelet.kubeconfig`, `kubeproxy.kubeconfig`, `coredns.kubeconfig`), issued from the cluster CA
by the process that owns it (`write_kubeconfigs`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..client.rest import Client, ClientConfig
from ..identity import DNS_ACCOUNT, DNS_NAMESPACE, KUBE_PROXY, NODE_PREFIX, NODES_GROUP, SA_PREFIX


def identities(node_name: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """kubeconfig name -> (user name, groups) of each node component (x509: CN, O)."""
    return {"kubelet": (f"{NODE_PREFIX}{node_name}", (NODES_GROUP,)),
            "kubeproxy": (KUBE_PROXY, ()),
            "coredns": (f"{SA_PREFIX}{DNS_NAMESPACE}:{DNS_ACCOUNT}",
                        ("system:serviceaccounts", f"system:serviceaccounts:{DNS_NAMESPACE}"))}


@dataclass
class NodeClients:
    kubelet: Client
    proxy: Client
    dns: Client

    def all(self) -> tuple[Client, ...]:
        return (self.kubelet, self.proxy, self.dns)


def kubeconfig_path(agent_dir: str, name: str) -> str:
    return os.path.join(agent_dir, f"{name}.kubeconfig")


def node_clients(client: Client, node_name: str, agent_dir: str) -> NodeClients:
    """The node's components' clients: in-process identities derived from `client`, or (for a
    remote client, which is its own credentials) the kubeconfigs in `agent_dir`."""
    made = {name: client.as_user(user, *groups, own_informers=True)
            for name, (user, groups) in identities(node_name).items()}
    if any(c is client for c in made.values()):  # a remote client cannot act as another identity
        made = {name: Client(ClientConfig.from_kubeconfig(kubeconfig_path(agent_dir, name),
                                                          user_agent=client.config.user_agent))
                for name in identities(node_name)}
    return NodeClients(made["kubelet"], made["kubeproxy"], made["coredns"])


def write_kubeconfigs(pki: object, agent_dir: str, server_url: str, node_name: str) -> None:
    """The node's kubeconfigs with client certificates from the cluster CA (`pki`)."""
    from ..pki import ensure_client_kubeconfig

    for name, (user, groups) in identities(node_name).items():
        ensure_client_kubeconfig(pki, kubeconfig_path(agent_dir, name), server_url, user, groups)  # type: ignore[arg-type]
