"""ResourceQuota controller (upstream pkg/controller/resourcequota): keeps each quota's
`status.hard` equal to its spec and `status.used` equal to what its namespace's objects use,
so `kubectl describe quota` shows the usage. Recomputed when a quota or a tracked object changes."""

from __future__ import annotations

from typing import Any

from ..api import errors, quota
from ..api.quantity import parse_quantity
from ..api.resources import lookup
from ..client.controller import Controller
from ..client.informer import shared_informer
from ..client.rest import Client

QUOTAS = lookup("", "v1", "resourcequotas")
TRACKED = [lookup("", "v1", p) for p in ("pods", "services", "configmaps", "secrets", "persistentvolumeclaims")]
assert QUOTAS is not None and all(TRACKED)


class ResourceQuotaController(Controller):
    def __init__(self, client: Client) -> None:
        super().__init__("resourcequota")
        self.client = client
        self.quotas = self.watch(shared_informer(client, QUOTAS), on_add=self._enqueue_quota,
                                 on_update=lambda old, new: self._enqueue_quota(new))
        self.tracked = {(r.group, r.plural): self.watch(shared_informer(client, r), on_add=self._enqueue_ns,
                                                        on_update=lambda old, new: self._enqueue_ns(new),
                                                        on_delete=self._enqueue_ns)
                        for r in TRACKED if r is not None}
        self.queue = self.add_queue("resourcequota", self.reconcile, workers=2)

    def _enqueue_quota(self, q: dict[str, Any]) -> None:
        self.queue.add((q["metadata"].get("namespace", ""), q["metadata"]["name"]))

    def _enqueue_ns(self, obj: dict[str, Any]) -> None:
        ns = obj["metadata"].get("namespace", "")
        for q in self.quotas.list():
            if q["metadata"].get("namespace") == ns:
                self._enqueue_quota(q)

    async def reconcile(self, key: tuple[str, str]) -> None:
        ns, name = key
        q = self.quotas.get(ns, name)
        if q is None:
            return
        hard = dict((q.get("spec") or {}).get("hard") or {})
        objs = [(g, p, o) for (g, p), inf in self.tracked.items() if (g, p) in quota.tracked(hard)
                for o in inf.list() if o["metadata"].get("namespace") == ns]
        used = {n: str(v) for n, v in quota.total(objs, hard).items()}
        status = q.get("status") or {}
        same_hard = {k: parse_quantity(str(v)) for k, v in (status.get("hard") or {}).items()} == \
            {k: parse_quantity(str(v)) for k, v in hard.items()}
        if same_hard and status.get("used") == used:
            return
        try:
            await self.client.update_status(QUOTAS, {**q, "status": {"hard": hard, "used": used}})
        except errors.StatusError as e:
            if e.code not in (404, 409):  # a conflict: the newer quota is on its way to the informer
                raise
