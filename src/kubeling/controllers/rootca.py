"""Root CA publisher: a `kube-root-ca.crt` ConfigMap holding the cluster CA in every namespace, so
pods can verify the API server (upstream pkg/controller/certificates/rootcacertpublisher)."""

from __future__ import annotations

import logging
from typing import Any

from ..api import errors
from ..api.resources import lookup
from ..client.controller import Controller
from ..client.informer import shared_informer
from ..client.rest import Client

log = logging.getLogger("kubeling.rootca")

NAMESPACES = lookup("", "v1", "namespaces")
CONFIGMAPS = lookup("", "v1", "configmaps")
assert NAMESPACES and CONFIGMAPS

NAME = "kube-root-ca.crt"
DESCRIPTION_KEY = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


def desired(namespace: str, ca_pem: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": NAME, "namespace": namespace, "annotations": {DESCRIPTION_KEY: DESCRIPTION}},
            "data": {"ca.crt": ca_pem}}


def needs_update(cm: dict[str, Any], ca_pem: str) -> bool:
    ann = cm["metadata"].get("annotations") or {}
    return (cm.get("data") or {}) != {"ca.crt": ca_pem} or ann.get(DESCRIPTION_KEY) != DESCRIPTION


class RootCAPublisher(Controller):
    def __init__(self, client: Client, ca_file: str = "") -> None:
        super().__init__("root-ca-cert-publisher")
        self.client = client
        self.ca_file = ca_file or client.config.ca_file
        self.namespaces = self.watch(shared_informer(client, NAMESPACES), on_add=self._enqueue_ns,
                                     on_update=lambda old, new: self._enqueue_ns(new))
        self.configmaps = self.watch(shared_informer(client, CONFIGMAPS, field_selector=f"metadata.name={NAME}"),
                                     on_update=lambda old, new: self._enqueue_cm(new), on_delete=self._enqueue_cm)
        self.queue = self.add_queue("root-ca-cert-publisher", self.reconcile, workers=2)
        self._ca = ""

    def _enqueue_ns(self, ns: dict[str, Any]) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _enqueue_cm(self, cm: dict[str, Any]) -> None:
        self.queue.add(cm["metadata"]["namespace"])

    def ca_pem(self) -> str:
        if not self._ca:
            with open(self.ca_file) as f:
                self._ca = f.read()
        return self._ca

    async def reconcile(self, namespace: str) -> None:
        ns = self.namespaces.get(None, namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        ca = self.ca_pem()
        cm = self.configmaps.get(namespace, NAME)
        try:
            if cm is None:
                await self.client.create(CONFIGMAPS, namespace, desired(namespace, ca))
            elif needs_update(cm, ca):
                new = dict(cm, data={"ca.crt": ca})
                new["metadata"] = {**cm["metadata"], "annotations": {**(cm["metadata"].get("annotations") or {}),
                                                                       DESCRIPTION_KEY: DESCRIPTION}}
                await self.client.update(CONFIGMAPS, new)
        except errors.StatusError as e:
            if e.code in (403, 404):
                return  # namespace terminating or gone
            raise

    async def run(self) -> None:
        if not self.ca_file:
            log.warning("no cluster CA file configured; not publishing %s", NAME)
            return
        await super().run()
