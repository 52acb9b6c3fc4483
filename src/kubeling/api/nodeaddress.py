"""Where a Node's kubelet is reached: the first of its `status.addresses` in upstream's preference
order, and `status.daemonEndpoints.kubeletEndpoint.Port` (upstream's NodeConnectionInfoGetter).

A pure function of the Node object, so the API server (relaying logs/exec/attach/port-forward)
and metrics-server (scraping /stats/summary) find the same kubelet without one importing the other.
"""

from __future__ import annotations

from typing import Any

from . import errors

DEFAULT_KUBELET_PORT = 10250
ADDRESS_PREFERENCE = ("InternalIP", "Hostname", "InternalDNS", "ExternalIP", "ExternalDNS")


def kubelet_endpoint(node: dict[str, Any]) -> tuple[str, int]:
    """(host, port) of a node's kubelet, as the API server's NodeConnectionInfoGetter picks it."""
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    host = ""
    for kind in ADDRESS_PREFERENCE:
        for a in addresses:
            if a.get("type") == kind and a.get("address"):
                host = a["address"]
                break
        if host:
            break
    if not host:
        known = " ".join(f"{{{a.get('type')} {a.get('address')}}}" for a in addresses)
        raise errors.StatusError(500, "", f"no preferred addresses found; known addresses: [{known}]")
    port = int((((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")) or 0)
    return host, port if port > 0 else DEFAULT_KUBELET_PORT
