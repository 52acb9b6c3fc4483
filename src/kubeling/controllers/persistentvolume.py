"""PersistentVolume binder (upstream `pkg/controller/volume/persistentvolume`, pv_controller.go):
binds claims to volumes and keeps both phases right.

Claims (given the default StorageClass on create by the DefaultStorageClass admission): an
unbound one is bound to a volume pre-bound to it (a provisioner's) or to the smallest Available
volume of its class that has its access modes and capacity; with none, a class with a
provisioner is asked for one (`volume.kubernetes.io/storage-provisioner`), once the scheduler
has picked a node when the class binds WaitForFirstConsumer. A bound claim whose volume is gone
is Lost.

Volumes: Available without a claim, Bound to a live claim, Released when their claim is gone
(a provisioner reclaims Released volumes with policy Delete; Retain keeps them).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from ..api import errors
from ..api.quantity import quantity_from_json
from ..api.resources import lookup
from ..client.controller import Controller
from ..client.events import EventRecorder
from ..client.informer import object_key, shared_informer, split_key
from ..client.rest import Client
from ..scheduler.volumebinding import SELECTED_NODE

log = logging.getLogger("kubeling.persistentvolume")

PVCS = lookup("", "v1", "persistentvolumeclaims")
PVS = lookup("", "v1", "persistentvolumes")
CLASSES = lookup("storage.k8s.io", "v1", "storageclasses")
assert PVCS is not None and PVS is not None and CLASSES is not None

BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"

Obj = dict[str, Any]


def _bytes(q: Any) -> int:
    try:
        return quantity_from_json(q).to_int() if q is not None else 0
    except Exception:  # noqa: BLE001 - an unparsable size matches nothing
        return -1


def claim_ref(pvc: Obj) -> Obj:
    m = pvc["metadata"]
    return {"kind": "PersistentVolumeClaim", "namespace": m.get("namespace"), "name": m["name"], "uid": m["uid"],
            "apiVersion": "v1", "resourceVersion": m.get("resourceVersion")}


def class_of(obj: Obj) -> str:
    return (obj.get("spec") or {}).get("storageClassName") or ""


def volume_matches(pv: Obj, pvc: Obj) -> bool:
    """findMatchingVolume's checks for an unclaimed volume: class, access modes, size, mode."""
    spec, want = pv.get("spec") or {}, pvc.get("spec") or {}
    if spec.get("claimRef") or pv["metadata"].get("deletionTimestamp"):
        return False
    if (pv.get("status") or {}).get("phase") not in (None, "Available"):
        return False
    if class_of(pv) != class_of(pvc):
        return False
    if (spec.get("volumeMode") or "Filesystem") != (want.get("volumeMode") or "Filesystem"):
        return False
    if not set(want.get("accessModes") or []) <= set(spec.get("accessModes") or []):
        return False
    need = _bytes(((want.get("resources") or {}).get("requests") or {}).get("storage"))
    return _bytes((spec.get("capacity") or {}).get("storage")) >= need >= 0


def prebound_to(pv: Obj, pvc: Obj) -> bool:
    ref = (pv.get("spec") or {}).get("claimRef") or {}
    m = pvc["metadata"]
    return ref.get("name") == m["name"] and ref.get("namespace") == m.get("namespace") and \
        ref.get("uid") in (None, "", m["uid"])


class PersistentVolumeController(Controller):
    def __init__(self, client: Client) -> None:
        super().__init__("persistentvolume-binder")
        self.client = client
        self.recorder = EventRecorder(client, "persistentvolume-controller")
        self.pvcs = self.watch(shared_informer(client, PVCS), on_add=self._claim, on_update=lambda o, n: self._claim(n),
                               on_delete=self._claim_deleted)
        self.pvs = self.watch(shared_informer(client, PVS), on_add=self._volume, on_update=lambda o, n: self._volume(n),
                              on_delete=self._volume_deleted)
        self.classes = self.watch(shared_informer(client, CLASSES), on_add=lambda sc: self._all_claims(),
                                  on_update=lambda o, n: self._all_claims())
        self.claim_queue = self.add_queue("persistentvolume-claims", self.sync_claim, workers=2)
        self.volume_queue = self.add_queue("persistentvolume-volumes", self.sync_volume, workers=2)
        self._waiting_events: set[str] = set()

    # ---- handlers ---------------------------------------------------------------------------
    def _claim(self, pvc: Obj) -> None:
        self.claim_queue.add(object_key(pvc))

    def _claim_deleted(self, pvc: Obj) -> None:
        vol = (pvc.get("spec") or {}).get("volumeName")
        if vol:
            self.volume_queue.add(vol)

    def _all_claims(self) -> None:
        for pvc in self.pvcs.list():
            self._claim(pvc)

    def _volume(self, pv: Obj) -> None:
        self.volume_queue.add(pv["metadata"]["name"])
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref:
            self.claim_queue.add(f"{ref.get('namespace')}/{ref.get('name')}")

    def _volume_deleted(self, pv: Obj) -> None:
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref:
            self.claim_queue.add(f"{ref.get('namespace')}/{ref.get('name')}")

    # ---- claims -----------------------------------------------------------------------------
    async def sync_claim(self, key: str) -> None:
        ns, name = split_key(key)
        pvc = self.pvcs.get(ns, name)
        if pvc is None or pvc["metadata"].get("deletionTimestamp"):
            return
        if (pvc.get("spec") or {}).get("volumeName"):
            await self._sync_bound_claim(pvc)
            return
        pv = next((v for v in self.pvs.list() if prebound_to(v, pvc)), None)
        sc = self.classes.get(None, class_of(pvc)) if class_of(pvc) else None
        wait = sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer" and \
            not (pvc["metadata"].get("annotations") or {}).get(SELECTED_NODE)
        if pv is None and not wait:
            candidates = [v for v in self.pvs.list() if volume_matches(v, pvc)]
            if candidates:
                pv = min(candidates, key=lambda v: _bytes(((v.get("spec") or {}).get("capacity") or {}).get("storage")))
        if pv is not None:
            await self._bind(pv, pvc)
            return
        pvc = await self._set_claim_phase(pvc, "Pending")
        if wait:
            self._event_once(pvc, "WaitForFirstConsumer", "waiting for first consumer to be created before binding")
        elif sc is not None and sc.get("provisioner") and sc["provisioner"] != "kubernetes.io/no-provisioner":
            ann = pvc["metadata"].get("annotations") or {}
            if ann.get(PROVISIONER) != sc["provisioner"]:
                await self._annotate_claim(pvc, {PROVISIONER: sc["provisioner"], BETA_PROVISIONER: sc["provisioner"]})
            self._event_once(pvc, "ExternalProvisioning",
                             f"Waiting for a volume to be created either by the external provisioner "
                             f"'{sc['provisioner']}' or manually by the system administrator. If volume creation is "
                             "delayed, please verify that the provisioner is running and correctly registered.")
        elif sc is None and class_of(pvc):
            self._event_once(pvc, "ProvisioningFailed", f'storageclass.storage.k8s.io "{class_of(pvc)}" not found',
                             "Warning")
        else:
            self._event_once(pvc, "FailedBinding",
                             "no persistent volumes available for this claim and no storage class is set")

    def _event_once(self, pvc: Obj, reason: str, message: str, etype: str = "Normal") -> None:
        token = f"{pvc['metadata']['uid']}/{reason}"
        if token not in self._waiting_events:
            self._waiting_events.add(token)
            self.recorder.event(pvc, etype, reason, message)

    async def _sync_bound_claim(self, pvc: Obj) -> None:
        pv = self.pvs.get(None, pvc["spec"]["volumeName"])
        if pv is None:
            if (pvc.get("status") or {}).get("phase") == "Bound":
                self.recorder.event(pvc, "Warning", "ClaimLost",
                                    "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
                await self._set_claim_phase(pvc, "Lost")
            return
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref is None or prebound_to(pv, pvc):
            await self._bind(pv, pvc)

    async def _bind(self, pv: Obj, pvc: Obj) -> None:
        """bind: the volume's claimRef, the claim's volumeName, then both statuses Bound."""
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") != pvc["metadata"]["uid"]:
            new = copy.deepcopy(pv)
            new["spec"]["claimRef"] = claim_ref(pvc)
            if not ref:
                new["metadata"].setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"
            pv = await self._update(PVS, new)
        if (pv.get("status") or {}).get("phase") != "Bound":
            pv = await self._update(PVS, {**pv, "status": {**(pv.get("status") or {}), "phase": "Bound"}}, "status")
        ann = pvc["metadata"].get("annotations") or {}
        if (pvc.get("spec") or {}).get("volumeName") != pv["metadata"]["name"] or ann.get(BIND_COMPLETED) != "yes":
            new = copy.deepcopy(pvc)
            new["spec"]["volumeName"] = pv["metadata"]["name"]
            anns = new["metadata"].setdefault("annotations", {})
            anns[BIND_COMPLETED] = "yes"
            if not (pvc.get("spec") or {}).get("volumeName"):
                anns[BOUND_BY_CONTROLLER] = "yes"
            pvc = await self._update(PVCS, new)
        spec = pv.get("spec") or {}
        status = {**(pvc.get("status") or {}), "phase": "Bound", "accessModes": spec.get("accessModes") or [],
                  "capacity": spec.get("capacity") or {}}
        if status != pvc.get("status"):
            await self._update(PVCS, {**pvc, "status": status}, "status")

    async def _set_claim_phase(self, pvc: Obj, phase: str) -> Obj:
        """The claim with `phase` (as stored, when it had to be written)."""
        if (pvc.get("status") or {}).get("phase") != phase:
            return await self._update(PVCS, {**pvc, "status": {**(pvc.get("status") or {}), "phase": phase}}, "status")
        return pvc

    async def _annotate_claim(self, pvc: Obj, annotations: dict[str, str]) -> None:
        """setClaimProvisioner: an update, as upstream (the binder's role grants update, not patch)."""
        new = copy.deepcopy(pvc)
        new["metadata"].setdefault("annotations", {}).update(annotations)
        try:
            await self._update(PVCS, new)
        except errors.StatusError as e:
            if e.code != 404:
                raise

    async def _update(self, res: Any, obj: Obj, sub: str | None = None) -> Obj:
        """An update from our cached copy; a conflict is retried by the queue with a fresh copy."""
        return await (self.client.update_status(res, obj) if sub == "status" else self.client.update(res, obj))

    # ---- volumes ----------------------------------------------------------------------------
    async def sync_volume(self, name: str) -> None:
        _, name = split_key(name)
        pv = self.pvs.get(None, name)
        if pv is None or pv["metadata"].get("deletionTimestamp"):
            return
        ref = (pv.get("spec") or {}).get("claimRef")
        phase = (pv.get("status") or {}).get("phase")
        if not ref:
            want = "Available"
        else:
            pvc = self.pvcs.get(ref.get("namespace"), ref.get("name", ""))
            if pvc is not None and ref.get("uid") in (None, "", pvc["metadata"]["uid"]):
                want = "Bound" if (pvc.get("spec") or {}).get("volumeName") == name else (phase or "Available")
                if want != "Bound":
                    self._claim(pvc)
            elif pvc is None and not ref.get("uid"):
                want = phase or "Available"  # pre-bound to a claim that does not exist yet
            else:
                want = "Released"
        if want != phase:
            await self._update(PVS, {**pv, "status": {**(pv.get("status") or {}), "phase": want}}, "status")
