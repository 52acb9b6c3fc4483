"""PVC and PV protection (upstream `pkg/controller/volume/pvcprotection` and `pvprotection`):
the finalizers the StorageObjectInUseProtection admission adds are removed only when it is safe.

- A claim being deleted keeps `kubernetes.io/pvc-protection` while a pod that has not
  terminated uses it (checked in the cache, then confirmed with a live list, as upstream);
  deleting a claim under a running pod therefore waits for the pod, and the volume's data is
  not reclaimed under it.
- A volume being deleted keeps `kubernetes.io/pv-protection` while it is Bound.
"""

from __future__ import annotations

import logging
from typing import Any

from ..api import errors
from ..api.resources import lookup
from ..client.controller import Controller
from ..client.informer import object_key, shared_informer, split_key
from ..client.rest import Client

log = logging.getLogger("kubeling.volumeprotection")

PODS = lookup("", "v1", "pods")
PVCS = lookup("", "v1", "persistentvolumeclaims")
PVS = lookup("", "v1", "persistentvolumes")
assert PODS is not None and PVCS is not None and PVS is not None

PVC_FINALIZER = "kubernetes.io/pvc-protection"
PV_FINALIZER = "kubernetes.io/pv-protection"
CLAIMS_INDEX = "pvc-protection/claims"

Obj = dict[str, Any]


def pod_claims(pod: Obj) -> list[str]:
    """`<namespace>/<claim>` of every claim the pod mounts (ephemeral volumes' claims included)."""
    ns = pod["metadata"].get("namespace")
    out = []
    for v in (pod.get("spec") or {}).get("volumes") or []:
        if v.get("persistentVolumeClaim") is not None:
            out.append(f"{ns}/{v['persistentVolumeClaim'].get('claimName', '')}")
        elif v.get("ephemeral") is not None:
            out.append(f"{ns}/{pod['metadata']['name']}-{v.get('name', '')}")
    return out


def pod_terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def without(obj: Obj, finalizer: str) -> Obj:
    meta = {**obj["metadata"], "finalizers": [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]}
    return {**obj, "metadata": meta}


class VolumeProtectionController(Controller):
    """Both upstream controllers over shared informers; each writes as itself: claims with
    `client` (pvc-protection-controller), volumes with `pv_client` (pv-protection-controller)."""

    def __init__(self, client: Client, pv_client: Client | None = None) -> None:
        super().__init__("volume-protection")
        self.client = client
        self.pv_client = pv_client or client
        self.pvcs = self.watch(shared_informer(client, PVCS), on_add=self._claim, on_update=lambda o, n: self._claim(n))
        self.pvs = self.watch(shared_informer(client, PVS), on_add=self._volume, on_update=lambda o, n: self._volume(n))
        self.pods = self.watch(shared_informer(client, PODS), on_update=lambda o, n: self._pod(n), on_delete=self._pod)
        self.pods.add_index(CLAIMS_INDEX, pod_claims)
        self.claim_queue = self.add_queue("pvc-protection", self.sync_claim)
        self.volume_queue = self.add_queue("pv-protection", self.sync_volume)

    def _claim(self, pvc: Obj) -> None:
        if pvc["metadata"].get("deletionTimestamp") and PVC_FINALIZER in (pvc["metadata"].get("finalizers") or []):
            self.claim_queue.add(object_key(pvc))

    def _volume(self, pv: Obj) -> None:
        if pv["metadata"].get("deletionTimestamp") and PV_FINALIZER in (pv["metadata"].get("finalizers") or []):
            self.volume_queue.add(pv["metadata"]["name"])

    def _pod(self, pod: Obj) -> None:
        """A pod went (or terminated): the claims it used may now be free."""
        for key in pod_claims(pod):
            ns, name = split_key(key)
            pvc = self.pvcs.get(ns, name)
            if pvc is not None:
                self._claim(pvc)

    def _in_use_cached(self, key: str) -> bool:
        return any(not pod_terminated(p) for p in self.pods.by_index(CLAIMS_INDEX, key))

    async def _in_use_live(self, ns: str | None, key: str) -> bool:
        """askAPIServer: the cache may not have seen a pod created a moment ago."""
        body = await self.client.list(PODS, ns)
        return any(key in pod_claims(p) and not pod_terminated(p) for p in body.get("items") or [])

    async def sync_claim(self, key: str) -> None:
        ns, name = split_key(key)
        pvc = self.pvcs.get(ns, name)
        if pvc is None or not pvc["metadata"].get("deletionTimestamp") or \
                PVC_FINALIZER not in (pvc["metadata"].get("finalizers") or []):
            return
        if self._in_use_cached(key) or await self._in_use_live(ns, key):
            return  # a pod event requeues the claim
        await self._update(PVCS, without(pvc, PVC_FINALIZER))

    async def sync_volume(self, key: str) -> None:
        _, name = split_key(key)
        pv = self.pvs.get(None, name)
        if pv is None or not pv["metadata"].get("deletionTimestamp") or \
                PV_FINALIZER not in (pv["metadata"].get("finalizers") or []):
            return
        if (pv.get("status") or {}).get("phase") == "Bound":
            return
        await self._update(PVS, without(pv, PV_FINALIZER))

    async def _update(self, res: Any, obj: Obj) -> None:
        try:
            await (self.pv_client if res is PVS else self.client).update(res, obj)
        except errors.StatusError as e:
            if e.code != 404:
                raise
