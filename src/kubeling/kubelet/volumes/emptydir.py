"""emptyDir volumes: a directory under the pod dir (medium "") or a tmpfs (medium Memory).

Secret and projected volumes are "wrapped" in a memory emptyDir exactly as upstream does (their
files never touch the disk), configMap and downwardAPI in a disk one. The tmpfs size follows
upstream 1.32 calculateEmptyDirMemorySize: node allocatable memory, lowered to the pod's memory
limit when every container declares one, lowered again to `sizeLimit` when that is smaller.
"""

from __future__ import annotations

import os
from typing import Any

from ...api.quantity import quantity_from_json
from . import mountutil

MEDIUM_DEFAULT = ""
MEDIUM_MEMORY = "Memory"
PERM = 0o777  # upstream perm for emptyDir dirs (chmod'ed, so the umask doesn't matter)


def set_ready(pod_dir: str, volume: str) -> None:
    """volumeutil.SetReady of the emptyDir plugin: `plugins/kubernetes.io~empty-dir/<volume>/ready`
    once set up (a wrapper of a secret/configMap/projected volume is named `wrapped_<volume>`),
    the marker `tree /var/lib/kubelet/pods/<uid>` shows."""
    meta = os.path.join(pod_dir, "plugins", "kubernetes.io~empty-dir", volume)
    os.makedirs(meta, mode=0o750, exist_ok=True)
    ready = os.path.join(meta, "ready")
    if not os.path.exists(ready):
        open(ready, "a").close()


def _memory(resources: dict[str, Any] | None, kind: str) -> int:
    v = ((resources or {}).get(kind) or {}).get("memory")
    return quantity_from_json(v).to_int() if v is not None else 0


def pod_memory_limit(pod: dict[str, Any]) -> int | None:
    """The pod cgroup's memory limit (cm.ResourceConfigForPod), None when some container has none.

    PodLimits: app containers (and restartable init "sidecars") add up; a regular init container
    runs alone, so the pod needs max(sum, largest init); pod overhead is added on top.
    """
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    inits = spec.get("initContainers") or []
    total, max_init, declared = 0, 0, True
    for c in containers:
        lim = _memory(c.get("resources"), "limits")
        declared = declared and lim > 0
        total += lim
    sidecars = 0
    for c in inits:
        lim = _memory(c.get("resources"), "limits")
        declared = declared and lim > 0
        if c.get("restartPolicy") == "Always":
            sidecars += lim
            total += lim
        else:
            max_init = max(max_init, lim + sidecars)
    if not declared:
        return None
    overhead = ((spec.get("overhead") or {}).get("memory"))
    extra = quantity_from_json(overhead).to_int() if overhead is not None else 0
    return max(total, max_init) + extra


def memory_size(node_allocatable_memory: int | None, pod: dict[str, Any], size_limit: Any = None) -> int | None:
    """calculateEmptyDirMemorySize: the tmpfs `size=` in bytes (None: kernel default, half of RAM)."""
    size = node_allocatable_memory
    pod_limit = pod_memory_limit(pod)
    if pod_limit is not None and pod_limit > 0 and (size is None or pod_limit <= size):
        size = pod_limit
    if size_limit is not None:
        vol = quantity_from_json(size_limit).to_int()
        if vol > 0 and (size is None or vol <= size):
            size = vol
    return size if size and size > 0 else None


def setup_dir(path: str) -> None:
    """setupDir: the directory exists with mode 0777."""
    os.makedirs(path, exist_ok=True)
    if os.stat(path).st_mode & 0o777 != PERM:
        os.chmod(path, PERM)


def setup(path: str, medium: str, size: int | None) -> None:
    """SetUp of one emptyDir (idempotent: an existing tmpfs is kept with its contents)."""
    if medium == MEDIUM_MEMORY:
        fstype = mountutil.fstype_of(path) if os.path.isdir(path) else ""
        if fstype == "tmpfs":
            return
        setup_dir(path)
        mountutil.mount_tmpfs(path, size)
        return
    if medium not in (MEDIUM_DEFAULT,):
        raise ValueError(f'unknown storage medium "{medium}"')
    setup_dir(path)
