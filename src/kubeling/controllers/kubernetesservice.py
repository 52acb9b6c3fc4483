"""The `kubernetes` Service and its endpoints (upstream pkg/controlplane/controller/kubernetesservice
and reconcilers/endpointsadapter.go).

The API server publishes itself: Service default/kubernetes (ClusterIP = the first service IP,
port 443 `https` → the API port), created once and then left alone, and an Endpoints plus an
EndpointSlice named `kubernetes` with the advertise address, reconciled every 10 s. The
Endpoints carry `endpointslice.kubernetes.io/skip-mirror: "true"` so nothing mirrors them; the
slice carries only the `kubernetes.io/service-name` label, as the endpoints adapter writes it.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from ..api import errors
from ..api.resources import lookup
from ..client.controller import Controller
from ..client.rest import Client

log = logging.getLogger("kubeling.kubernetesservice")

SERVICES = lookup("", "v1", "services")
ENDPOINTS = lookup("", "v1", "endpoints")
SLICES = lookup("discovery.k8s.io", "v1", "endpointslices")
assert SERVICES and ENDPOINTS and SLICES

NAME, NAMESPACE = "kubernetes", "default"
INTERVAL = 10.0


def kubernetes_service(service_ip: str, api_port: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": service_ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": api_port}]}}


def published_endpoints(namespace: str, name: str, ip: str, ports: list[dict[str, Any]]) -> dict[str, Any]:
    """Endpoints a component writes for its own selector-less Service (never mirrored)."""
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": ip}], "ports": ports}]}


def published_slice(namespace: str, name: str, ip: str, ports: list[dict[str, Any]]) -> dict[str, Any]:
    """endpointSliceFromEndpoints for the Endpoints above."""
    addr_type = "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": namespace, "labels": {"kubernetes.io/service-name": name}},
            "addressType": addr_type,
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
            "ports": ports}


def kubernetes_endpoints(ip: str, api_port: int) -> dict[str, Any]:
    return published_endpoints(NAMESPACE, NAME, ip, [{"name": "https", "port": api_port, "protocol": "TCP"}])


def kubernetes_slice(ip: str, api_port: int) -> dict[str, Any]:
    return published_slice(NAMESPACE, NAME, ip, [{"name": "https", "port": api_port, "protocol": "TCP"}])


def endpoint_ip(advertise: str) -> str:
    """The address pods reach the API server on: the advertise/bind address (loopback if unset)."""
    if advertise in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return advertise


class PublishedService(Controller):
    """A selector-less Service whose endpoints its own component publishes (the API server's
    `kubernetes`, the node's `kube-dns`): the Service is created once and then left alone, the
    Endpoints and EndpointSlice are reconciled every `interval`."""

    def __init__(self, client: Client, service: dict[str, Any], endpoints: dict[str, Any], slice_: dict[str, Any],
                 interval: float = INTERVAL, name: str = "kubernetes-service") -> None:
        super().__init__(name)
        self.client = client
        self.service, self.endpoints, self.slice = service, endpoints, slice_
        self.svc_namespace, self.svc_name = service["metadata"]["namespace"], service["metadata"]["name"]
        self.interval = interval
        self.every(interval, self.reconcile, "reconcile", retry=0.5)

    async def ensure_service(self) -> None:
        """createOrUpdateMasterServiceIfNeeded: create once, never overwrite user changes."""
        try:
            await self.client.get(SERVICES, self.svc_namespace, self.svc_name)
        except errors.StatusError as e:
            if e.code != 404:
                raise
            try:
                await self.client.create(SERVICES, self.svc_namespace, self.service)
            except errors.StatusError as e2:
                if e2.code != 409:
                    raise

    async def _ensure(self, res: Any, want: dict[str, Any], fields: tuple[str, ...]) -> None:
        try:
            cur = await self.client.get(res, self.svc_namespace, self.svc_name)
        except errors.StatusError as e:
            if e.code != 404:
                raise
            try:
                await self.client.create(res, self.svc_namespace, want)
            except errors.StatusError as e2:
                if e2.code != 409:
                    raise
            return
        labels = {**(cur["metadata"].get("labels") or {}), **want["metadata"]["labels"]}
        if all(cur.get(f) == want[f] for f in fields) and labels == cur["metadata"].get("labels"):
            return
        new = {**cur, **{f: want[f] for f in fields}, "metadata": {**cur["metadata"], "labels": labels}}
        await self.client.update(res, new)

    async def reconcile(self) -> None:
        await self.ensure_service()
        await self._ensure(ENDPOINTS, self.endpoints, ("subsets",))
        await self._ensure(SLICES, self.slice, ("addressType", "endpoints", "ports"))


class KubernetesServiceController(PublishedService):
    """Runs inside the API server process (upstream's bootstrap controller), over the client."""

    def __init__(self, client: Client, advertise: str, api_port: int, service_ip: str,
                 interval: float = INTERVAL) -> None:
        self.ip = endpoint_ip(advertise)
        super().__init__(client, kubernetes_service(service_ip, api_port), kubernetes_endpoints(self.ip, api_port),
                         kubernetes_slice(self.ip, api_port), interval)
