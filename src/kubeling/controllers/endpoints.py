"""Endpoints controller (upstream pkg/controller/endpoint/endpoints_controller.go).

For every Service with a selector, one Endpoints object of the same name: the selected pods that
have an IP and are not terminal (nor terminating, unless publishNotReadyAddresses) become
`addresses` when Ready (or when the Service publishes not-ready addresses) and `notReadyAddresses`
otherwise; ports come from the Service, with named targetPorts resolved against each pod's
container ports. Selector-less Services are left alone (their Endpoints are user-managed).

The pure part (`desired_subsets`, `pod_port`, ...) is shared with the EndpointSlice controller.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any, Iterable

from ..api import errors
from ..api.resources import lookup
from ..api.timestamps import rfc3339
from ..client.controller import Controller
from ..client.informer import object_key, shared_informer, split_key
from ..client.rest import Client
from .podutil import is_pod_ready

log = logging.getLogger("kubeling.endpoints")

SERVICES = lookup("", "v1", "services")
PODS = lookup("", "v1", "pods")
ENDPOINTS = lookup("", "v1", "endpoints")
assert SERVICES and PODS and ENDPOINTS

TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
HEADLESS_LABEL = "service.kubernetes.io/headless"
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"


# ---- pure helpers -----------------------------------------------------------------------------

def selects(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """A Service selector (a plain map) matches when every pair is in the pod's labels."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def is_terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def should_be_in_endpoints(pod: dict[str, Any], include_terminating: bool) -> bool:
    """endpointsliceutil.ShouldPodBeInEndpoints."""
    status = pod.get("status") or {}
    if is_terminal(pod) or not (status.get("podIP") or status.get("podIPs")):
        return False
    return include_terminating or not pod["metadata"].get("deletionTimestamp")


def pod_ips(pod: dict[str, Any], family: int | None = None) -> list[str]:
    status = pod.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or [] if isinstance(p, dict) and p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    if family is None:
        return ips
    out = []
    for ip in ips:
        try:
            if ipaddress.ip_address(ip).version == family:
                out.append(ip)
        except ValueError:
            continue
    return out


def pod_port(pod: dict[str, Any], svc_port: dict[str, Any]) -> int | None:
    """podutil.FindPort: a named targetPort is looked up in the containers' ports (same protocol)."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    proto = svc_port.get("protocol", "TCP")
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and p.get("protocol", "TCP") == proto:
                return p.get("containerPort")
    return None


def target_ref(pod: dict[str, Any]) -> dict[str, str]:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta["name"], "uid": meta.get("uid", "")}


def hostname_for(pod: dict[str, Any], svc: dict[str, Any]) -> str:
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == svc["metadata"]["name"] and \
            pod["metadata"].get("namespace") == svc["metadata"].get("namespace"):
        return spec["hostname"]
    return ""


def endpoint_address(pod: dict[str, Any], ip: str, svc: dict[str, Any]) -> dict[str, Any]:
    addr: dict[str, Any] = {"ip": ip}
    host = hostname_for(pod, svc)
    if host:
        addr["hostname"] = host
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        addr["nodeName"] = node
    addr["targetRef"] = target_ref(pod)
    return addr


def endpoint_port(svc_port: dict[str, Any], port: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if svc_port.get("name"):
        out["name"] = svc_port["name"]
    out["port"] = port
    out["protocol"] = svc_port.get("protocol", "TCP")
    if svc_port.get("appProtocol"):
        out["appProtocol"] = svc_port["appProtocol"]
    return out


def is_headless(svc: dict[str, Any]) -> bool:
    return (svc.get("spec") or {}).get("clusterIP") == "None"


def desired_subsets(svc: dict[str, Any], pods: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The subsets syncService computes, repacked as RepackSubsets does: addresses that expose
    the same ports share a subset; addresses sorted by IP, then uid."""
    spec = svc.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    svc_ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    # address key -> (address, ready, set of ports)
    entries: dict[tuple[str, str], tuple[dict[str, Any], bool, list[dict[str, Any]]]] = {}
    for pod in pods:
        if not should_be_in_endpoints(pod, publish):
            continue
        ips = pod_ips(pod)
        if not ips:
            continue
        ip = ips[0]
        ready = publish or is_pod_ready(pod)
        addr = endpoint_address(pod, ip, svc)
        ports: list[dict[str, Any]] = []
        if not svc_ports and is_headless(svc):
            pass
        else:
            for sp in svc_ports:
                num = pod_port(pod, sp)
                if num is None:
                    log.debug("failed to find port for service %s/%s", svc["metadata"].get("namespace"), sp.get("name"))
                    continue
                ports.append(endpoint_port(sp, num))
            if not ports:
                continue
        entries[(ip, addr["targetRef"]["uid"])] = (addr, ready, ports)
    groups: dict[str, dict[str, Any]] = {}
    for (ip, uid) in sorted(entries, key=lambda k: (_ip_key(k[0]), k[1])):
        addr, ready, ports = entries[(ip, uid)]
        sig = repr(sorted((p.get("name", ""), p["port"], p["protocol"]) for p in ports))
        sub = groups.setdefault(sig, {"ports": sorted(ports, key=lambda p: (p.get("name", ""), p["port"]))})
        sub.setdefault("addresses" if ready else "notReadyAddresses", []).append(addr)
    out = []
    for sub in groups.values():
        if not sub["ports"]:
            del sub["ports"]
        ordered = {k: sub[k] for k in ("addresses", "notReadyAddresses", "ports") if k in sub}
        out.append(ordered)
    return out


def _ip_key(ip: str) -> tuple[int, int]:
    try:
        a = ipaddress.ip_address(ip)
        return (a.version, int(a))
    except ValueError:
        return (9, 0)


def trigger_time(svc: dict[str, Any], pods: Iterable[dict[str, Any]]) -> str:
    """The latest change that affects the endpoints: the Service's creation or a selected pod's
    Ready transition (what upstream's TriggerTimeTracker reports), RFC 3339."""
    times = [svc["metadata"].get("creationTimestamp") or ""]
    for pod in pods:
        for c in (pod.get("status") or {}).get("conditions") or []:
            if c.get("type") == "Ready" and c.get("lastTransitionTime"):
                times.append(c["lastTransitionTime"])
        if pod["metadata"].get("deletionTimestamp"):
            times.append(pod["metadata"]["deletionTimestamp"])
    return max(t for t in times if t) if any(times) else \
        rfc3339()


def endpoints_labels(svc: dict[str, Any]) -> dict[str, str]:
    labels = dict(svc["metadata"].get("labels") or {})
    if is_headless(svc):
        labels[HEADLESS_LABEL] = ""
    else:
        labels.pop(HEADLESS_LABEL, None)
    return labels


def selected_pods(svc: dict[str, Any], pods: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    sel = (svc.get("spec") or {}).get("selector")
    return [p for p in pods if selects(sel, p["metadata"].get("labels"))]


def manages(svc: dict[str, Any] | None) -> bool:
    """Services this controller (and the EndpointSlice controller) keep endpoints for."""
    if svc is None:
        return False
    spec = svc.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


# ---- controller -------------------------------------------------------------------------------

class ServiceController(Controller):
    """What the Endpoints and EndpointSlice controllers share: a queue of Service keys, fed by
    Service events and by pod events (the Services whose selectors match the old or new labels)."""

    def __init__(self, client: Client, name: str) -> None:
        super().__init__(name)
        self.client = client
        self.services = self.watch(shared_informer(client, SERVICES), on_add=self._enqueue,
                                   on_update=lambda old, new: self._enqueue(new), on_delete=self._enqueue)
        self.pods = self.watch(shared_informer(client, PODS), on_add=lambda p: self._pod_changed(None, p),
                               on_update=self._pod_changed, on_delete=lambda p: self._pod_changed(p, None))
        self.on_synced(self._enqueue_all)

    def _enqueue(self, svc: dict[str, Any]) -> None:
        self.queue.add(object_key(svc))

    def _enqueue_all(self) -> None:
        for svc in self.services.list():
            self._enqueue(svc)

    def _pod_changed(self, *pods: dict[str, Any] | None) -> None:
        for pod in pods:
            if pod is None:
                continue
            for svc in self.services.list(pod["metadata"].get("namespace")):
                if selects((svc.get("spec") or {}).get("selector"), pod["metadata"].get("labels")):
                    self.queue.add(object_key(svc))


class EndpointsController(ServiceController):
    def __init__(self, client: Client) -> None:
        super().__init__(client, "endpoint")
        self.endpoints = self.watch(shared_informer(client, ENDPOINTS), on_delete=self._enqueue)
        self.queue = self.add_queue("endpoint", self.reconcile, workers=2)

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        svc = self.services.get(ns, name)
        if svc is None:
            try:
                await self.client.delete(ENDPOINTS, ns, name)
            except errors.StatusError as e:
                if e.code != 404:
                    raise
            return
        if not manages(svc):
            return
        pods = selected_pods(svc, self.pods.list(ns))
        subsets = desired_subsets(svc, pods)
        labels = endpoints_labels(svc)
        cur = self.endpoints.get(ns, name)
        if cur is not None and (cur.get("subsets") or []) == subsets and \
                (cur["metadata"].get("labels") or {}) == labels:
            return
        ann = dict(cur["metadata"].get("annotations") or {}) if cur is not None else {}
        ann[TRIGGER_TIME] = trigger_time(svc, pods)
        ann.pop("endpoints.kubernetes.io/over-capacity", None)
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints",
                                "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": ann}}
        if subsets:
            body["subsets"] = subsets
        try:
            if cur is None:
                await self.client.create(ENDPOINTS, ns, body)
            else:
                body["metadata"] = {**cur["metadata"], "labels": labels, "annotations": ann}
                await self.client.update(ENDPOINTS, body)
        except errors.StatusError as e:
            if e.code == 403:
                return  # namespace terminating
            raise
