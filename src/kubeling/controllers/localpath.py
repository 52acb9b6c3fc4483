"""Built-in dynamic provisioner of node-local volumes, as k3s ships rancher/local-path-provisioner.

- The default StorageClass `local-path` (provisioner `rancher.io/local-path`, WaitForFirstConsumer,
  reclaim Delete) comes with the add-on's manifest (kubeling/addons.py), as its RBAC: the
  provisioner runs as `kube-system:local-path-provisioner-service-account`, which can't create it.
- A claim the binder handed to this provisioner, once the scheduler picked its node
  (`volume.kubernetes.io/selected-node`), gets a PersistentVolume `pvc-<claim uid>`: a hostPath
  directory `<data dir>/storage/<pv>_<namespace>_<claim>` (DirectoryOrCreate: the kubelet of
  that node makes it), node affinity on `kubernetes.io/hostname`, pre-bound to the claim.
- A Released volume with reclaim policy Delete loses its directory, then its object.

The directory is removed by this process, so it must see the node's file system: true for
`kubeling up` (the real node and simulated nodes share it), not for a remote `kubeling agent`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from typing import Any

from .. import addons  # its manifest: account, role and StorageClass
from ..api import errors
from ..client.controller import Controller
from ..client.events import EventRecorder
from ..client.informer import object_key, shared_informer, split_key
from ..client.rest import Client
from ..scheduler.volumebinding import SELECTED_NODE
from .persistentvolume import CLASSES, PROVISIONER, PVCS, PVS, claim_ref

log = logging.getLogger("kubeling.localpath")

NAME = addons.LOCAL_PATH_PROVISIONER
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
NODE_ANNOTATION = "local.path.provisioner/selected-node"
HOSTNAME_LABEL = "kubernetes.io/hostname"

Obj = dict[str, Any]


def volume_for(pvc: Obj, node: str, sc: Obj | None, storage_dir: str) -> Obj:
    """The PersistentVolume local-path-provisioner makes for `pvc` on `node`."""
    m, spec = pvc["metadata"], pvc.get("spec") or {}
    name = f"pvc-{m['uid']}"
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: NAME, NODE_ANNOTATION: node}},
            "spec": {"capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")},
                     "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": (sc or {}).get("reclaimPolicy") or "Delete",
                     "storageClassName": spec.get("storageClassName") or "",
                     "volumeMode": spec.get("volumeMode") or "Filesystem",
                     "hostPath": {"path": os.path.join(storage_dir, f"{name}_{m.get('namespace')}_{m['name']}"),
                                  "type": "DirectoryOrCreate"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}]}},
                     "claimRef": claim_ref(pvc)}}


class LocalPathProvisioner(Controller):
    SERVICE_ACCOUNT = addons.LOCAL_PATH

    def __init__(self, client: Client, storage_dir: str) -> None:
        super().__init__("local-path-provisioner")
        self.client = client
        self.storage_dir = os.path.abspath(storage_dir)
        self.recorder = EventRecorder(client, "rancher.io/local-path_kubeling")
        self.pvcs = self.watch(shared_informer(client, PVCS), on_add=self._claim, on_update=lambda o, n: self._claim(n))
        self.pvs = self.watch(shared_informer(client, PVS), on_add=self._volume, on_update=lambda o, n: self._volume(n))
        self.classes = self.watch(shared_informer(client, CLASSES))
        self.claim_queue = self.add_queue("local-path-claims", self.provision)
        self.volume_queue = self.add_queue("local-path-volumes", self.reclaim)

    def _claim(self, pvc: Obj) -> None:
        ann = pvc["metadata"].get("annotations") or {}
        if ann.get(PROVISIONER) == NAME and ann.get(SELECTED_NODE) and not (pvc.get("spec") or {}).get("volumeName"):
            self.claim_queue.add(object_key(pvc))

    def _volume(self, pv: Obj) -> None:
        if (pv["metadata"].get("annotations") or {}).get(PROVISIONED_BY) == NAME and \
                (pv.get("status") or {}).get("phase") == "Released":
            self.volume_queue.add(pv["metadata"]["name"])

    async def provision(self, key: str) -> None:
        ns, name = split_key(key)
        pvc = self.pvcs.get(ns, name)
        if pvc is None or (pvc.get("spec") or {}).get("volumeName") or pvc["metadata"].get("deletionTimestamp"):
            return
        node = (pvc["metadata"].get("annotations") or {}).get(SELECTED_NODE, "")
        if not node or self.pvs.get(None, f"pvc-{pvc['metadata']['uid']}") is not None:
            return
        sc = self.classes.get(None, (pvc.get("spec") or {}).get("storageClassName") or "")
        pv = volume_for(pvc, node, sc, self.storage_dir)
        self.recorder.event(pvc, "Normal", "Provisioning",
                            f'External provisioner is provisioning volume for claim "{key}"')
        try:
            await self.client.create(PVS, None, pv)
        except errors.StatusError as e:
            if e.code == 409:
                return
            self.recorder.event(pvc, "Warning", "ProvisioningFailed", f"failed to provision volume with StorageClass "
                                f'"{pv["spec"]["storageClassName"]}": {e.message}')
            raise
        self.recorder.event(pvc, "Normal", "ProvisioningSucceeded",
                            f"Successfully provisioned volume {pv['metadata']['name']}")

    async def reclaim(self, name: str) -> None:
        """Delete reclaim policy: the directory, then the volume object."""
        _, name = split_key(name)
        pv = self.pvs.get(None, name)
        if pv is None or (pv.get("status") or {}).get("phase") != "Released" or \
                (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") != "Delete":
            return
        path = os.path.abspath(((pv.get("spec") or {}).get("hostPath") or {}).get("path") or "")
        if os.path.dirname(path) == self.storage_dir:  # never outside our own directory
            await asyncio.to_thread(shutil.rmtree, path, True)
        try:
            await self.client.delete(PVS, None, name)
        except errors.StatusError as e:
            if e.code != 404:
                raise
