"""A selector-less Service that a component publishes for itself, with the Endpoints and
EndpointSlice pointing at the component (upstream pkg/controlplane/reconcilers/endpointsadapter.go).

Two components publish themselves: the API server (`default/kubernetes`,
controllers/kubernetesservice.py) and the node's cluster DNS (`kube-system/kube-dns`,
dns/server.py). One is control plane, the other node code, and neither may import the other's
internals, so the object builders and the controller that keeps them live here, in client/,
which both use: the Service is created once and then left alone, the Endpoints carry
`endpointslice.kubernetes.io/skip-mirror: "true"` so nothing mirrors them, and the slice carries
only the `kubernetes.io/service-name` label, as the endpoints adapter writes it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..api import errors
from ..api.resources import lookup
from .controller import Controller
from .rest import Client

SERVICES = lookup("", "v1", "services")
ENDPOINTS = lookup("", "v1", "endpoints")
SLICES = lookup("discovery.k8s.io", "v1", "endpointslices")
assert SERVICES and ENDPOINTS and SLICES

INTERVAL = 10.0


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
