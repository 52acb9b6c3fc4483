"""client/published.py: the selector-less Service a component publishes for itself, as the API
server (`default/kubernetes`) and the node's DNS (`kube-system/kube-dns`) use it, against the
real API."""

from __future__ import annotations

from kubeling.api.resources import lookup
from kubeling.client.published import published_slice
from kubeling.controllers.kubernetesservice import KubernetesServiceController
from kubeling.dns.server import publisher

from .realapi import RealAPI

SERVICES = lookup("", "v1", "services")
ENDPOINTS = lookup("", "v1", "endpoints")
SLICES = lookup("discovery.k8s.io", "v1", "endpointslices")
assert SERVICES and ENDPOINTS and SLICES


async def test_kube_dns_published_and_kept() -> None:
    api = await RealAPI().start()
    try:
        pub = publisher(api.client, "10.96.0.10", "192.0.2.7", 53)
        await pub.reconcile()
        svc = await api.client.get(SERVICES, "kube-system", "kube-dns")
        assert svc["spec"]["clusterIP"] == "10.96.0.10" and "selector" not in svc["spec"]
        ep = await api.client.get(ENDPOINTS, "kube-system", "kube-dns")
        assert ep["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
        assert ep["subsets"] == [{"addresses": [{"ip": "192.0.2.7"}], "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}]
        sl = await api.client.get(SLICES, "kube-system", "kube-dns")
        assert sl["metadata"]["labels"] == {"kubernetes.io/service-name": "kube-dns"}
        assert sl["addressType"] == "IPv4" and sl["endpoints"][0]["addresses"] == ["192.0.2.7"]

        # a user's change to the Service stays; drifted endpoints are put back, other labels kept
        svc["metadata"].setdefault("annotations", {})["mine"] = "yes"
        await api.client.update(SERVICES, svc)
        ep["subsets"][0]["addresses"] = [{"ip": "192.0.2.99"}]
        ep["metadata"]["labels"]["extra"] = "kept"
        await api.client.update(ENDPOINTS, ep)
        await pub.reconcile()
        assert (await api.client.get(SERVICES, "kube-system", "kube-dns"))["metadata"]["annotations"]["mine"] == "yes"
        ep = await api.client.get(ENDPOINTS, "kube-system", "kube-dns")
        assert ep["subsets"][0]["addresses"] == [{"ip": "192.0.2.7"}] and ep["metadata"]["labels"]["extra"] == "kept"

        api.sent.clear()
        await pub.reconcile()
        assert api.writes() == []  # in place: nothing written
    finally:
        api.close()


async def test_kubernetes_service_endpoints_on_the_advertise_address() -> None:
    api = await RealAPI().start()
    try:
        await KubernetesServiceController(api.client, "0.0.0.0", 6443, "10.96.0.1").reconcile()
        ep = await api.client.get(ENDPOINTS, "default", "kubernetes")
        assert ep["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}],
                                  "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
        sl = await api.client.get(SLICES, "default", "kubernetes")
        assert sl["addressType"] == "IPv4" and sl["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]
    finally:
        api.close()


def test_slice_address_type_follows_the_address() -> None:
    assert published_slice("ns", "x", "fd00::7", [])["addressType"] == "IPv6"
    assert published_slice("ns", "x", "192.0.2.7", [])["addressType"] == "IPv4"
