"""ServiceAccounts controller: a `default` ServiceAccount in every active namespace, recreated
when deleted (upstream pkg/controller/serviceaccount/serviceaccounts_controller.go)."""

from __future__ import annotations

import logging
from typing import Any

from ..api import errors
from ..api.resources import lookup
from ..client.controller import Controller
from ..client.informer import shared_informer
from ..client.rest import Client

log = logging.getLogger("kubeling.serviceaccount")

NAMESPACES = lookup("", "v1", "namespaces")
SERVICE_ACCOUNTS = lookup("", "v1", "serviceaccounts")
assert NAMESPACES and SERVICE_ACCOUNTS

MANAGED = ("default",)


def _active(ns: dict[str, Any] | None) -> bool:
    return ns is not None and not ns["metadata"].get("deletionTimestamp") and \
        (ns.get("status") or {}).get("phase") != "Terminating"


class ServiceAccountsController(Controller):
    def __init__(self, client: Client) -> None:
        super().__init__("serviceaccount")
        self.client = client
        self.namespaces = self.watch(shared_informer(client, NAMESPACES), on_add=self._enqueue,
                                     on_update=lambda old, new: self._enqueue(new))
        self.accounts = self.watch(shared_informer(client, SERVICE_ACCOUNTS, field_selector="metadata.name=default"),
                                   on_delete=self._on_sa_delete)
        self.queue = self.add_queue("serviceaccount", self.reconcile, workers=2)
        self.on_synced(self._enqueue_all)

    def _enqueue(self, ns: dict[str, Any]) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _enqueue_all(self) -> None:
        for ns in self.namespaces.list():
            self._enqueue(ns)

    def _on_sa_delete(self, sa: dict[str, Any]) -> None:
        if sa["metadata"].get("name") in MANAGED and sa["metadata"].get("namespace"):
            self.queue.add(sa["metadata"]["namespace"])

    async def reconcile(self, namespace: str) -> None:
        if not _active(self.namespaces.get(None, namespace)):
            return
        for name in MANAGED:
            if self.accounts.get(namespace, name) is not None:
                continue
            try:
                await self.client.create(SERVICE_ACCOUNTS, namespace, {
                    "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
                log.info("created serviceaccount %s/%s", namespace, name)
            except errors.StatusError as e:
                if e.code == 409:
                    continue  # the cache lags; it exists
                if e.code in (403, 404):
                    return  # the namespace is going away
                raise
