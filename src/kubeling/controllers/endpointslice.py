"""EndpointSlice controller (upstream pkg/controller/endpointslice + staging endpointslice reconciler).

For every Service with a selector: discovery.k8s.io/v1 EndpointSlices named `<service>-<5 random>`,
labelled `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io`, owned by the Service, one address type per service IP family,
at most 100 endpoints each. Endpoints carry conditions ready / serving / terminating (terminating
pods stay listed with ready false), nodeName and targetRef. A Service without endpoints keeps one
empty placeholder slice, as upstream does.
"""

from __future__ import annotations

import logging
from typing import Any

from ..api import errors
from ..api.resources import lookup
from ..client.controller import WriteExpectations
from ..client.informer import shared_informer, split_key
from ..client.rest import Client
from .endpoints import (HEADLESS_LABEL, TRIGGER_TIME, ServiceController, hostname_for, is_headless, manages, pod_ips,
                        pod_port, selected_pods, should_be_in_endpoints, target_ref, trigger_time)
from .podutil import is_pod_ready

log = logging.getLogger("kubeling.endpointslice")

SLICES = lookup("discovery.k8s.io", "v1", "endpointslices")
assert SLICES is not None

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS = 100
_FAMILIES = {"IPv4": 4, "IPv6": 6}


def slice_labels(svc: dict[str, Any]) -> dict[str, str]:
    """setEndpointSliceLabels: the Service's labels minus reserved ones, plus ours."""
    labels = {k: v for k, v in (svc["metadata"].get("labels") or {}).items()
              if k not in (SERVICE_NAME, MANAGED_BY, HEADLESS_LABEL)}
    if is_headless(svc):
        labels[HEADLESS_LABEL] = ""
    labels[SERVICE_NAME] = svc["metadata"]["name"]
    labels[MANAGED_BY] = CONTROLLER
    return labels


def address_types(svc: dict[str, Any]) -> list[str]:
    fams = [f for f in (svc.get("spec") or {}).get("ipFamilies") or [] if f in _FAMILIES]
    return fams or ["IPv4"]


def slice_endpoint(pod: dict[str, Any], ip: str, svc: dict[str, Any]) -> dict[str, Any]:
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    serving = is_pod_ready(pod)
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    ep: dict[str, Any] = {"addresses": [ip],
                          "conditions": {"ready": publish or (serving and not terminating),
                                         "serving": serving, "terminating": terminating}}
    host = hostname_for(pod, svc)
    if host:
        ep["hostname"] = host
    ep["targetRef"] = target_ref(pod)
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        ep["nodeName"] = node
    return ep


def slice_ports(svc: dict[str, Any], pod: dict[str, Any]) -> list[dict[str, Any]] | None:
    """getEndpointPorts: every Service port the pod resolves; None when some named port fails."""
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        num = pod_port(pod, sp)
        if num is None:
            continue
        p: dict[str, Any] = {"name": sp.get("name", ""), "port": num, "protocol": sp.get("protocol", "TCP")}
        if sp.get("appProtocol"):
            p["appProtocol"] = sp["appProtocol"]
        out.append(p)
    return out


def desired_slices(svc: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slice bodies (without names): grouped by address type and port set, 100 endpoints a slice."""
    groups: dict[tuple[str, str], tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for addr_type in address_types(svc):
        fam = _FAMILIES[addr_type]
        for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
            if not should_be_in_endpoints(pod, True):
                continue
            ips = pod_ips(pod, fam)
            if not ips:
                continue
            ports = slice_ports(svc, pod)
            if not ports and (svc.get("spec") or {}).get("ports"):
                continue
            sig = repr(sorted((p["name"], p["port"], p["protocol"]) for p in ports or []))
            groups.setdefault((addr_type, sig), (ports or [], []))[1].append(slice_endpoint(pod, ips[0], svc))
    out = []
    for (addr_type, _), (ports, eps) in groups.items():
        for i in range(0, len(eps), MAX_ENDPOINTS):
            out.append({"addressType": addr_type, "endpoints": eps[i:i + MAX_ENDPOINTS], "ports": ports})
    if not out:
        out.append({"addressType": address_types(svc)[0], "endpoints": [], "ports": []})  # placeholder
    return out


def owner_ref(svc: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "name": svc["metadata"]["name"], "uid": svc["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def _same(cur: dict[str, Any], want: dict[str, Any], labels: dict[str, str]) -> bool:
    return (cur.get("addressType") == want["addressType"] and (cur.get("endpoints") or []) == want["endpoints"]
            and (cur.get("ports") or []) == want["ports"] and (cur["metadata"].get("labels") or {}) == labels)


class EndpointSliceController(ServiceController):
    def __init__(self, client: Client) -> None:
        super().__init__(client, "endpointslice")
        self.slices = self.watch(shared_informer(client, SLICES, label_selector=f"{MANAGED_BY}={CONTROLLER}"),
                                 on_update=lambda old, new: self._slice_changed(new), on_delete=self._slice_changed)
        self.queue = self.add_queue("endpoint_slice", self.reconcile, workers=2)
        # like upstream's EndpointSliceTracker: never act on a cache older than our own writes
        self.expectations = WriteExpectations(self.slices)

    def _slice_changed(self, s: dict[str, Any]) -> None:
        name = (s["metadata"].get("labels") or {}).get(SERVICE_NAME)
        if name:
            self.queue.add(f"{s['metadata']['namespace']}/{name}")

    def existing(self, ns: str, name: str) -> list[dict[str, Any]]:
        return sorted((s for s in self.slices.list(ns) if (s["metadata"].get("labels") or {}).get(SERVICE_NAME) == name),
                      key=lambda s: s["metadata"]["name"])

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        assert ns is not None
        if not self.expectations.satisfied(key):
            self.queue.add_after(key, 0.05)
            return
        svc = self.services.get(ns, name)
        current = self.existing(ns, name)
        if not manages(svc):
            for s in current:  # GC would do it via ownerReferences; upstream deletes them itself
                await self._delete(s)
                self.expectations.deleting(key, s)
            return
        assert svc is not None
        pods = selected_pods(svc, self.pods.list(ns))
        want = desired_slices(svc, pods)
        labels = slice_labels(svc)
        trigger = trigger_time(svc, pods)
        reusable = [s for s in current if s["metadata"].get("deletionTimestamp") is None]
        for body in want:
            match = next((s for s in reusable if _same(s, body, labels)), None)
            if match is not None:
                reusable.remove(match)
                continue
            cur = next((s for s in reusable if s.get("addressType") == body["addressType"]), None)
            meta = {"labels": labels, "annotations": {TRIGGER_TIME: trigger}, "ownerReferences": [owner_ref(svc)]}
            try:
                if cur is not None:
                    reusable.remove(cur)
                    new = {**cur, **body, "metadata": {**cur["metadata"], **meta}}
                    done = await self.client.update(SLICES, new)
                else:
                    done = await self.client.create(SLICES, ns, {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                                                          "metadata": {"generateName": f"{name[:57]}-", **meta}, **body})
            except errors.StatusError as e:
                if e.code == 403:
                    return
                raise
            self.expectations.wrote(key, done)
        for s in reusable:
            await self._delete(s)
            self.expectations.deleting(key, s)

    async def _delete(self, s: dict[str, Any]) -> None:
        try:
            await self.client.delete(SLICES, s["metadata"]["namespace"], s["metadata"]["name"])
        except errors.StatusError as e:
            if e.code != 404:
                raise
