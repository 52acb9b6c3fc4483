"""The VolumeBinding plugin (upstream `pkg/scheduler/framework/plugins/volumebinding`), reduced
to what node-local volumes need:

- PreFilter: every PVC the pod uses must exist; a claim still unbound is fine only if its
  StorageClass binds `WaitForFirstConsumer` (it is provisioned where the pod lands);
- Filter: a bound claim's PersistentVolume node affinity must match the node;
- PreBind: an unbound claim gets `volume.kubernetes.io/selected-node: <node>` (the provisioner
  makes the volume there) and the pod is bound only once all its claims are bound.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..api.resources import lookup
from ..client.informer import Informer, object_key
from . import framework as fw

Obj = dict[str, Any]

PVCS = lookup("", "v1", "persistentvolumeclaims")
PVS = lookup("", "v1", "persistentvolumes")
CLASSES = lookup("storage.k8s.io", "v1", "storageclasses")
assert PVCS is not None and PVS is not None and CLASSES is not None

SELECTED_NODE = "volume.kubernetes.io/selected-node"
ERR_CONFLICT = "node(s) had volume node affinity conflict"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
BIND_TIMEOUT = 600.0  # upstream's default bindTimeoutSeconds


@dataclass
class PodVolumes:
    """What PreFilter found: the PVs of bound claims and the claims to provision at PreBind."""
    bound: list[Obj] = field(default_factory=list)
    to_provision: list[Obj] = field(default_factory=list)

    def filter(self, pi: fw.PodInfo, ni: fw.NodeInfo) -> fw.Status | None:
        for pv in self.bound:
            terms = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms")
            if terms is not None and not any(fw.term_matches(t, ni.labels, ni.name) for t in terms):
                return fw.Status(fw.UNRESOLVABLE, (ERR_CONFLICT,), "VolumeBinding")
        return None


def claim_names(pod: Obj) -> list[str]:
    return [v["persistentVolumeClaim"].get("claimName", "") for v in (pod.get("spec") or {}).get("volumes") or []
            if v.get("persistentVolumeClaim") is not None]


class VolumeBinder:
    def __init__(self, client: Any, pvcs: Informer, pvs: Informer, classes: Informer) -> None:
        self.client, self.pvcs, self.pvs, self.classes = client, pvcs, pvs, classes
        self._waiters: dict[str, asyncio.Event] = {}
        pvcs.add_handlers(on_update=lambda old, new: self._changed(new))

    def _changed(self, pvc: Obj) -> None:
        ev = self._waiters.get(object_key(pvc))
        if ev is not None:
            ev.set()

    def prefilter(self, pod: Obj) -> tuple[PodVolumes | None, str | None]:
        """(the pod's volumes, None) or (None, why no node can take the pod)."""
        ns = pod["metadata"].get("namespace")
        out = PodVolumes()
        for name in claim_names(pod):
            pvc = self.pvcs.get(ns, name)
            if pvc is None:
                return None, f'persistentvolumeclaim "{name}" not found'
            if pvc["metadata"].get("deletionTimestamp"):
                return None, f'persistentvolumeclaim "{name}" is being deleted'
            vol = (pvc.get("spec") or {}).get("volumeName")
            if vol:
                pv = self.pvs.get(None, vol)
                if pv is None:
                    return None, f'pvc {ns}/{name} is bound to non-existent pv "{vol}"'
                out.bound.append(pv)
                continue
            sc = self.classes.get(None, (pvc.get("spec") or {}).get("storageClassName") or "")
            if sc is None or sc.get("volumeBindingMode") != "WaitForFirstConsumer":
                return None, ERR_UNBOUND_IMMEDIATE
            out.to_provision.append(pvc)
        return out, None

    async def prebind(self, vols: PodVolumes, node: str) -> None:
        """Ask for each unbound claim on `node`, then wait until every claim is bound."""
        for pvc in vols.to_provision:
            m = pvc["metadata"]
            if (m.get("annotations") or {}).get(SELECTED_NODE) != node:
                await self.client.patch(PVCS, m.get("namespace"), m["name"],
                                        {"metadata": {"annotations": {SELECTED_NODE: node}}}, patch_type="merge")
        async with asyncio.timeout(BIND_TIMEOUT):
            for pvc in vols.to_provision:
                key = object_key(pvc)
                ev = self._waiters.setdefault(key, asyncio.Event())
                try:
                    while not ((self.pvcs.get_by_key(key) or {}).get("status") or {}).get("phase") == "Bound":
                        ev.clear()
                        await ev.wait()
                finally:
                    self._waiters.pop(key, None)
