"""StorageObjectInUseProtection admission (upstream plugin/pkg/admission/storageobjectinuseprotection):
every new PersistentVolumeClaim gets the `kubernetes.io/pvc-protection` finalizer and every new
PersistentVolume `kubernetes.io/pv-protection`, so neither disappears while a pod still uses it
(the protection controllers remove the finalizers once that is no longer so)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..admission import BasePlugin, Objects

if TYPE_CHECKING:
    from ...api.resources import Resource

FINALIZERS = {"PersistentVolumeClaim": "kubernetes.io/pvc-protection", "PersistentVolume": "kubernetes.io/pv-protection"}


class StorageObjectInUseProtection(BasePlugin):
    kinds = (("", "PersistentVolumeClaim"), ("", "PersistentVolume"))

    def admit_create(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None:
        meta = obj.setdefault("metadata", {})
        fin = FINALIZERS[res.kind]
        if fin not in (meta.get("finalizers") or []):
            meta["finalizers"] = [*(meta.get("finalizers") or []), fin]
