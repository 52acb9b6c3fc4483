"""DefaultStorageClass admission (upstream plugin/pkg/admission/storage/storageclass/setdefault):
a PersistentVolumeClaim created without a class gets the default StorageClass, so the scheduler
and the binder see its binding mode from the first moment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...api.resources import lookup
from ...store.base import Entry
from ...store.derived import Derived
from ..admission import BasePlugin, Objects

if TYPE_CHECKING:
    from ...api.resources import Resource

CLASSES = lookup("storage.k8s.io", "v1", "storageclasses")
assert CLASSES is not None

DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


def _default_class(entries: list[Entry]) -> str | None:
    defaults = [sc for sc in (e.obj() for e in entries)
                if (sc["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"]
    if not defaults:
        return None
    return max(defaults, key=lambda sc: (sc["metadata"].get("creationTimestamp") or "",
                                         sc["metadata"]["name"]))["metadata"]["name"]


DEFAULT: Derived[str | None] = Derived(_default_class)


def default_class(registry: "Objects") -> str | None:
    """GetDefaultClass: of the classes annotated default, the newest (then by name)."""
    return DEFAULT.get(registry.store, CLASSES.prefix(None))


class DefaultStorageClass(BasePlugin):
    kinds = (("", "PersistentVolumeClaim"),)

    def admit_create(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None:
        spec = obj.setdefault("spec", {})
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if spec.get("storageClassName") is not None or BETA_CLASS in annotations:
            return
        name = default_class(registry)
        if name is not None:
            spec["storageClassName"] = name
