"""The `kubernetes` Service and its endpoints (upstream pkg/controlplane/controller/kubernetesservice
and reconcilers/endpointsadapter.go).

The API server publishes itself: Service default/kubernetes (ClusterIP = the first service IP,
port 443 `https` → the API port), created once and then left alone, and an Endpoints plus an
EndpointSlice named `kubernetes` with the advertise address, reconciled every 10 s, by the
`PublishedService` controller that the node's DNS server also uses (client/published.py).
"""

from __future__ import annotations

from typing import Any

from ..client.published import INTERVAL, PublishedService, published_endpoints, published_slice
from ..client.rest import Client

NAME, NAMESPACE = "kubernetes", "default"


def kubernetes_service(service_ip: str, api_port: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": service_ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": api_port}]}}


def kubernetes_endpoints(ip: str, api_port: int) -> dict[str, Any]:
    return published_endpoints(NAMESPACE, NAME, ip, [{"name": "https", "port": api_port, "protocol": "TCP"}])


def kubernetes_slice(ip: str, api_port: int) -> dict[str, Any]:
    return published_slice(NAMESPACE, NAME, ip, [{"name": "https", "port": api_port, "protocol": "TCP"}])


def endpoint_ip(advertise: str) -> str:
    """The address pods reach the API server on: the advertise/bind address (loopback if unset)."""
    if advertise in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return advertise


class KubernetesServiceController(PublishedService):
    """Runs inside the API server process (upstream's bootstrap controller), over the client."""

    def __init__(self, client: Client, advertise: str, api_port: int, service_ip: str,
                 interval: float = INTERVAL) -> None:
        self.ip = endpoint_ip(advertise)
        super().__init__(client, kubernetes_service(service_ip, api_port), kubernetes_endpoints(self.ip, api_port),
                         kubernetes_slice(self.ip, api_port), interval)
