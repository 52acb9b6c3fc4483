"""ServiceAccounts controller: a `default` ServiceAccount in every active namespace, recreated
when deleted (upstream pkg/controller/serviceaccount/serviceaccounts_controller.go)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..api import errors
from ..api.resources import lookup
from ..client.informer import shared_informer, wait_synced
from ..client.rest import Client
from ..client.workqueue import WorkQueue, run_workers

log = logging.getLogger("kubeling.serviceaccount")

NAMESPACES = lookup("", "v1", "namespaces")
SERVICE_ACCOUNTS = lookup("", "v1", "serviceaccounts")
assert NAMESPACES and SERVICE_ACCOUNTS

MANAGED = ("default",)


def _active(ns: dict[str, Any] | None) -> bool:
    return ns is not None and not ns["metadata"].get("deletionTimestamp") and \
        (ns.get("status") or {}).get("phase") != "Terminating"


class ServiceAccountsController:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.queue = WorkQueue("serviceaccount")
        self.namespaces = shared_informer(client, NAMESPACES)
        self.accounts = shared_informer(client, SERVICE_ACCOUNTS, field_selector="metadata.name=default")

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

    async def run(self, workers: int = 2) -> None:
        self.namespaces.add_handlers(on_add=lambda ns: self.queue.add(ns["metadata"]["name"]),
                                     on_update=lambda old, new: self.queue.add(new["metadata"]["name"]))
        self.accounts.add_handlers(on_delete=self._on_sa_delete)
        tasks = [asyncio.create_task(i.run(), name=f"serviceaccount-informer-{i.res.plural}")
                 for i in (self.namespaces, self.accounts)]
        try:
            await wait_synced([self.namespaces, self.accounts])
            for ns in self.namespaces.list():
                self.queue.add(ns["metadata"]["name"])
            await run_workers(self.queue, self.reconcile, workers)
        finally:
            for t in tasks:
                t.cancel()
