"""Namespace controller: empties a Terminating namespace, then removes its `kubernetes` finalizer.

Like upstream's NamespacedResourcesDeleter: delete every namespaced resource in the namespace
(deletecollection), report what remains in the namespace's conditions, and only once nothing is
left, finalize it through the `finalize` subresource, which lets the API server remove it.
"""

from __future__ import annotations

import logging
from typing import Any

from ..api import errors
from ..api.resources import Resource, all_resources, lookup
from ..client.controller import Controller
from ..client.informer import shared_informer
from ..client.rest import Client, _path

log = logging.getLogger("kubeling.namespace")

NAMESPACES = lookup("", "v1", "namespaces")
assert NAMESPACES is not None


def _namespaced_kinds() -> list[Resource]:
    seen: set[str] = set()
    out = []
    for r in all_resources():  # with the custom resources CRDs serve (this process's table)
        if not r.namespaced or "list" not in r.verbs or r.storage_prefix in seen:
            continue
        seen.add(r.storage_prefix)
        out.append(r)
    return out


class NamespaceController(Controller):
    def __init__(self, client: Client, recheck: float = 0.25) -> None:
        super().__init__("namespace")
        self.client = client
        self.informer = self.watch(shared_informer(client, NAMESPACES), on_add=self._enqueue,
                                   on_update=lambda old, new: self._enqueue(new))
        self.queue = self.add_queue("namespace", self.reconcile, workers=2)
        self.recheck = recheck

    def _enqueue(self, ns: dict[str, Any]) -> None:
        if ns["metadata"].get("deletionTimestamp"):
            self.queue.add(ns["metadata"]["name"])

    async def reconcile(self, name: str) -> None:
        ns = self.informer.get(None, name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        for res in _namespaced_kinds():
            lst = await self.client.list(res, name)
            items = lst.get("items") or []
            if not items:
                continue
            remaining += len(items)
            if "deletecollection" in res.verbs:
                await self.client.request("DELETE", _path(res, name), body={"kind": "DeleteOptions", "apiVersion": "v1",
                                                                          "propagationPolicy": "Background"})
            else:
                for item in items:
                    try:
                        await self.client.delete(res, name, item["metadata"]["name"])
                    except errors.StatusError as e:
                        if e.code != 404:
                            raise
        if remaining:
            self.queue.add_after(name, self.recheck)
            return
        await self._finalize(name)

    async def _finalize(self, name: str) -> None:
        try:
            live = await self.client.get(NAMESPACES, None, name)
        except errors.StatusError as e:
            if e.code == 404:
                return
            raise
        fins = (live.get("spec") or {}).get("finalizers") or []
        if "kubernetes" not in fins:
            return
        live.setdefault("spec", {})["finalizers"] = [f for f in fins if f != "kubernetes"]
        try:
            await self.client.update(NAMESPACES, live, sub="finalize")
        except errors.StatusError as e:
            if e.code not in (404, 409):
                raise
            if e.code == 409:
                self.queue.add(name)
