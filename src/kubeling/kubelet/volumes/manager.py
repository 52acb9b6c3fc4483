"""The kubelet's volume manager: prepares a pod's volumes on the node before its containers start,
keeps configMap/secret/downwardAPI/projected contents (and service-account tokens) fresh, turns
volumeMounts into runtime `Mount`s, and removes everything when the pod goes away.

Layout (upstream's /var/lib/kubelet/pods tree under DATA/agent/pods):

    <pods_dir>/<uid>/volumes/kubernetes.io~empty-dir/<name>     disk dir, or a tmpfs for Memory
    <pods_dir>/<uid>/volumes/kubernetes.io~configmap/<name>     AtomicWriter dir (disk)
    <pods_dir>/<uid>/volumes/kubernetes.io~secret/<name>        AtomicWriter dir on a tmpfs
    <pods_dir>/<uid>/volumes/kubernetes.io~downward-api/<name>  AtomicWriter dir (disk)
    <pods_dir>/<uid>/volumes/kubernetes.io~projected/<name>     AtomicWriter dir on a tmpfs
    <pods_dir>/<uid>/volume-subpaths/<volume>/<container>/<i>   bind mounts for subPath
    <pods_dir>/<uid>/plugins/kubernetes.io~empty-dir/<name>/ready   set up (wrappers: wrapped_<name>)
hostPath volumes use the host path itself; so does a PVC bound to a hostPath or local PV (what
the built-in local-path provisioner makes): its directory outlives the pod.

Everything is idempotent and re-derivable from disk, so a restarted kubelet calls `setup` again
(mounted tmpfs are kept with their contents) and `cleanup_orphans` for pods that are gone.
Only `kubeling.client.Client` is used to read the API.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import stat
import time
from typing import Any, Callable

from ... import subproc
from ...api import errors
from ...api.resources import lookup
from ...client.tokensource import MAX_JITTER, Token, requires_refresh
from ..runtime.base import Mount
from . import configmap_secret, downward, emptydir, env as envmod, hostpath, mountutil, projected, subpath
from .atomic_writer import AtomicWriteError, AtomicWriter, FileProjection
from .configmap_secret import ObjectNotFound, PayloadError

log = logging.getLogger("kubeling.kubelet.volumes")

CONFIGMAPS = lookup("", "v1", "configmaps")
SECRETS = lookup("", "v1", "secrets")
SERVICE_ACCOUNTS = lookup("", "v1", "serviceaccounts")
PVCS = lookup("", "v1", "persistentvolumeclaims")
PVS = lookup("", "v1", "persistentvolumes")
assert CONFIGMAPS and SECRETS and SERVICE_ACCOUNTS and PVCS and PVS

EMPTY_DIR = "kubernetes.io~empty-dir"
CONFIGMAP = "kubernetes.io~configmap"
SECRET = "kubernetes.io~secret"
DOWNWARD_API = "kubernetes.io~downward-api"
PROJECTED = "kubernetes.io~projected"
HOST_PATH = "kubernetes.io~host-path"

# volume source key -> (plugin dir, memory-backed wrapper, always read-only in containers)
PLUGINS: dict[str, tuple[str, bool, bool]] = {
    "emptyDir": (EMPTY_DIR, False, False),
    "hostPath": (HOST_PATH, False, False),
    "persistentVolumeClaim": ("kubernetes.io~local-volume", False, False),
    "configMap": (CONFIGMAP, False, True),
    "secret": (SECRET, True, True),
    "downwardAPI": (DOWNWARD_API, False, True),
    "projected": (PROJECTED, True, True),
}
REMOUNTED = ("configMap", "secret", "downwardAPI", "projected")  # refreshed by periodic resync


class VolumeError(Exception):
    """SetUp failed for some volumes; `failures` maps volume name -> upstream error message."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = failures
        names = " ".join(sorted(failures))
        super().__init__(f"unmounted volumes=[{names}]: " + "; ".join(
            f'MountVolume.SetUp failed for volume "{n}" : {m}' for n, m in sorted(failures.items())))


def plugin_of(volume: dict[str, Any]) -> str | None:
    """The source key of a volume ("emptyDir", "secret", ...) we can set up, or None."""
    for key in PLUGINS:
        if volume.get(key) is not None:
            return key
    return None


def node_memory_bytes() -> int | None:
    """MemTotal, the default for node allocatable memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def set_volume_ownership(path: str, fs_group: int, read_only: bool) -> None:
    """SetVolumeOwnership: group fsGroup, g+r (g+rw when writable), setgid+x on dirs."""
    mask = 0o440 if read_only else 0o660

    def fix(p: str) -> None:
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            return
        os.lchown(p, -1, fs_group)
        m = st.st_mode & 0o7777 | mask
        if stat.S_ISDIR(st.st_mode):
            m |= 0o2000 | 0o110
        os.chmod(p, m)

    fix(path)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            fix(os.path.join(root, name))


class VolumeManager:
    """Per-node volume manager; one instance serves every pod of the node."""

    def __init__(self, client: Any, pods_dir: str, node_name: str, *,
                 node_allocatable: dict[str, Any] | None = None, recorder: Any = None,
                 memory_backed_wrappers: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.pods_dir = os.path.abspath(pods_dir)
        self.node_name = node_name
        self.node_allocatable = node_allocatable
        self.recorder = recorder
        self.memory_backed_wrappers = memory_backed_wrappers
        self.clock = clock
        self._tokens: dict[tuple[str, str, int, str], Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._claim_paths: dict[tuple[str, str], str] = {}  # (pod uid, volume) -> the PV's host path

    # ---- paths ----------------------------------------------------------------------------
    def pod_dir(self, uid: str) -> str:
        return os.path.join(self.pods_dir, uid)

    def volume_dir(self, uid: str, plugin_dir: str, name: str) -> str:
        return os.path.join(self.pods_dir, uid, "volumes", plugin_dir, name)

    def volume_path(self, pod: dict[str, Any], volume: dict[str, Any]) -> str:
        """Where a volume lives on the host (hostPath: the path itself)."""
        key = plugin_of(volume)
        if key is None:
            raise KeyError(volume.get("name"))
        if key == "hostPath":
            return volume["hostPath"].get("path", "")
        if key == "persistentVolumeClaim":
            return self._claim_paths.get((pod["metadata"]["uid"], volume["name"]), "")
        return self.volume_dir(pod["metadata"]["uid"], PLUGINS[key][0], volume["name"])

    def _alloc_memory(self) -> int | None:
        mem = (self.node_allocatable or {}).get("memory")
        if mem is not None:
            from ...api.quantity import quantity_from_json
            return quantity_from_json(mem).to_int()
        return node_memory_bytes()

    def _lock(self, uid: str) -> asyncio.Lock:
        return self._locks.setdefault(uid, asyncio.Lock())

    # ---- setup / refresh ------------------------------------------------------------------
    async def setup(self, pod: dict[str, Any]) -> None:
        """Prepare every volume of the pod; raises VolumeError (after a FailedMount event each)."""
        await self._sync(pod, only=None)

    async def refresh(self, pod: dict[str, Any]) -> None:
        """Periodic resync: rewrite configMap/secret/downwardAPI/projected volumes whose data
        changed (atomic `..data` swap) and renew tokens near expiry. Same errors as setup."""
        await self._sync(pod, only=REMOUNTED)

    async def _sync(self, pod: dict[str, Any], only: tuple[str, ...] | None) -> None:
        uid = pod["metadata"]["uid"]
        failures: dict[str, str] = {}
        async with self._lock(uid):
            for vol in (pod.get("spec") or {}).get("volumes") or []:
                key = plugin_of(vol)
                if only is not None and key not in only:
                    continue
                try:
                    if key is None:
                        raise PayloadError("no volume plugin matched")
                    await self._setup_one(pod, vol, key)
                except Exception as e:  # noqa: BLE001 - any failure is this volume's FailedMount
                    if not isinstance(e, (PayloadError, projected.TokenError, downward.DownwardAPIError,
                                          hostpath.HostPathError, AtomicWriteError, ValueError, OSError)):
                        log.exception("volume %s of pod %s", vol.get("name"), uid)
                    msg = str(e)
                    failures[vol.get("name", "")] = msg
                    self._event(pod, "Warning", "FailedMount",
                                f'MountVolume.SetUp failed for volume "{vol.get("name", "")}" : {msg}')
        if failures:
            raise VolumeError(failures)

    def _event(self, pod: dict[str, Any], etype: str, reason: str, message: str) -> None:
        log.info("pod %s/%s: %s %s", pod["metadata"].get("namespace"), pod["metadata"].get("name"), reason, message)
        if self.recorder is not None:
            self.recorder.event(pod, etype, reason, message)

    async def _setup_one(self, pod: dict[str, Any], vol: dict[str, Any], key: str) -> None:
        """The API reads run on the event loop; the file system and mount work in the kubelet's
        I/O pool (a slow disk must not stall every other pod's sync)."""
        spec = vol[key]
        if key == "hostPath":
            await subproc.blocking(hostpath.check_type, spec.get("path", ""), spec.get("type"))
            return
        if key == "persistentVolumeClaim":
            path = await self._claim_path(pod, spec.get("claimName", ""))
            await subproc.blocking(hostpath.check_type, path, "DirectoryOrCreate")
            self._claim_paths[(pod["metadata"]["uid"], vol["name"])] = path
            return
        path = self.volume_path(pod, vol)
        fs_group = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
        if key == "emptyDir":
            medium = spec.get("medium") or ""
            size = emptydir.memory_size(self._alloc_memory(), pod, spec.get("sizeLimit")) \
                if medium == emptydir.MEDIUM_MEMORY else None

            def empty_dir() -> None:
                emptydir.setup(path, medium, size)
                if fs_group is not None:
                    set_volume_ownership(path, fs_group, False)
                emptydir.set_ready(self.pod_dir(pod["metadata"]["uid"]), vol["name"])
            await subproc.blocking(empty_dir)
            return
        payload = await self._payload(pod, key, spec)

        def write() -> None:
            self._wrap(pod, path, PLUGINS[key][1])
            emptydir.set_ready(self.pod_dir(pod["metadata"]["uid"]), f"wrapped_{vol['name']}")
            if AtomicWriter(path, f"pod {pod['metadata'].get('name')} volume {vol['name']}").write(payload) \
                    and fs_group is not None:
                set_volume_ownership(path, fs_group, True)
        await subproc.blocking(write)

    def _wrap(self, pod: dict[str, Any], path: str, memory: bool) -> None:
        """The emptyDir wrapping a projected-file volume (tmpfs for secrets, like upstream)."""
        if memory and self.memory_backed_wrappers:
            emptydir.setup(path, emptydir.MEDIUM_MEMORY, emptydir.memory_size(self._alloc_memory(), pod))
        else:
            emptydir.setup(path, "", None)

    async def _payload(self, pod: dict[str, Any], key: str, spec: dict[str, Any]) -> dict[str, FileProjection]:
        ns = pod["metadata"].get("namespace", "")
        mode = spec.get("defaultMode")
        if key in ("configMap", "secret"):
            is_secret = key == "secret"
            name = spec.get("secretName" if is_secret else "name", "")
            optional = bool(spec.get("optional"))
            obj = await self._get(SECRETS if is_secret else CONFIGMAPS, ns, name)
            if obj is None:
                if not optional:
                    raise ObjectNotFound("secret" if is_secret else "configmap", name)
                obj = {}
            make = configmap_secret.secret_payload if is_secret else configmap_secret.configmap_payload
            return make(obj, spec.get("items"), mode, optional)
        if key == "downwardAPI":
            return downward.collect(spec.get("items") or [], pod, mode, self.node_allocatable)
        sc = (pod.get("spec") or {}).get("securityContext") or {}
        return await projected.collect(
            spec.get("sources") or [], pod, mode,
            get_configmap=lambda n: self._get(CONFIGMAPS, ns, n), get_secret=lambda n: self._get(SECRETS, ns, n),
            get_token=lambda src: self._token(pod, src), node_allocatable=self.node_allocatable,
            fs_user=None, fs_group=sc.get("fsGroup"))

    async def _claim_path(self, pod: dict[str, Any], name: str) -> str:
        """The host directory of the node-local PV bound to claim `name`."""
        ns = pod["metadata"].get("namespace", "")
        pvc = await self._get(PVCS, ns, name)
        if pvc is None:
            raise PayloadError(f'persistentvolumeclaim "{name}" not found')
        vol, phase = (pvc.get("spec") or {}).get("volumeName") or "", (pvc.get("status") or {}).get("phase") or ""
        if phase != "Bound" or not vol:
            raise PayloadError(f'PVC {ns}/{name} has non-bound phase ("{phase}") or empty '
                               f'pvc.Spec.VolumeName ("{vol}")')
        pv = await self._get(PVS, "", vol)
        spec = (pv or {}).get("spec") or {}
        path = (spec.get("hostPath") or spec.get("local") or {}).get("path")
        if not path:
            raise PayloadError(f'persistentvolume "{vol}" is not a node-local (hostPath or local) volume')
        return path

    async def _get(self, res: Any, ns: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.client.get(res, ns, name)
        except errors.StatusError as e:
            if e.code == 404:
                return None
            raise PayloadError(f"failed to get {res.plural[:-1]} {ns}/{name}: {e}") from None

    async def _token(self, pod: dict[str, Any], source: dict[str, Any]) -> str:
        """A cached bound token, renewed when `requires_refresh` says so."""
        meta = pod["metadata"]
        key = (meta["uid"], source.get("audience") or "", int(source.get("expirationSeconds") or 3600),
               (pod.get("spec") or {}).get("serviceAccountName") or "default")
        tok = self._tokens.get(key)
        if tok is not None and not requires_refresh(tok, self.clock(), random.random() * MAX_JITTER):
            return tok.token
        try:
            tr = await self.client.create(SERVICE_ACCOUNTS, meta.get("namespace", ""),
                                          projected.token_request(pod, source), sub_name=key[3], sub="token")
            tok = Token.from_request(tr)
        except errors.StatusError as e:
            if tok is not None and self.clock() < tok.expiration:
                log.warning("token refresh for pod %s failed, keeping the current one: %s", meta.get("name"), e)
                return tok.token
            raise projected.TokenError(f"failed to fetch token: {e}") from None
        self._tokens[key] = tok
        return tok.token

    # ---- mounts ---------------------------------------------------------------------------
    def mounts_for(self, pod: dict[str, Any], container: dict[str, Any],
                   env: dict[str, str] | None = None) -> list[Mount]:
        """The container's volumeMounts as runtime Mounts (subPath bind-mounted safely).

        `env` is the container's resolved environment, for `subPathExpr`. Errors are
        RuntimeError_(CreateContainerConfigError) with the kubelet's messages.
        """
        vols = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
        uid = pod["metadata"]["uid"]
        cname = container.get("name", "")
        out: list[Mount] = []
        for i, vm in enumerate(container.get("volumeMounts") or []):
            vol = vols.get(vm.get("name"))
            key = plugin_of(vol) if vol is not None else None
            if vol is None or key is None:
                raise envmod.config_error(f'cannot find volume "{vm.get("name")}" to mount into container "{cname}"')
            host = self.volume_path(pod, vol)
            sub = vm.get("subPath") or ""
            if vm.get("subPathExpr"):
                sub = self._expand_subpath(vm["subPathExpr"], env or {})
            if sub:
                host = self._prepare_subpath(uid, vm, vol["name"], cname, i, host, sub)
            # host_path is final (a subPath is already resolved to its bind mount): sub_path stays ""
            out.append(Mount(container_path=vm.get("mountPath", ""), host_path=host,
                             read_only=bool(vm.get("readOnly")) or PLUGINS[key][2]))
        return out

    @staticmethod
    def _expand_subpath(expr: str, env: dict[str, str]) -> str:
        """ExpandContainerVolumeMounts: every referenced variable must be set and non-empty."""
        missing: set[str] = set()

        def value(k: str) -> str:
            v = env.get(k, "")
            if not v:
                missing.add(k)
            return v
        out = envmod.expand(expr, value)
        if missing:
            raise envmod.config_error(f"missing value for {', '.join(sorted(missing))}")
        return out

    def _prepare_subpath(self, uid: str, vm: dict[str, Any], vol_name: str, cname: str, index: int,
                         volume_path: str, sub: str) -> str:
        try:
            subpath.validate(sub)
        except subpath.SubPathError as e:
            raise envmod.config_error(str(e)) from None
        full = os.path.join(volume_path, sub)
        if not os.path.lexists(full):
            try:
                perm = os.stat(volume_path).st_mode & 0o7777
                subpath.safe_make_dir(sub, volume_path, perm)
            except (OSError, subpath.SubPathError) as e:
                log.warning("subPath %s of volume %s: %s", sub, vol_name, e)
                raise envmod.config_error(f'failed to create subPath directory for volumeMount "{vm.get("name")}" '
                                          f'of container "{cname}"') from None
        try:
            return subpath.prepare(full, volume_path, self.pod_dir(uid), vol_name, cname, index)
        except (OSError, subpath.SubPathError) as e:
            log.warning("subPath %s of volume %s: %s", sub, vol_name, e)
            raise envmod.config_error(f'failed to prepare subPath for volumeMount "{vm.get("name")}" '
                                      f'of container "{cname}"') from None

    # ---- env ------------------------------------------------------------------------------
    async def env_for(self, pod: dict[str, Any], container: dict[str, Any], *, services: list[dict[str, Any]],
                      node_ip: str | list[str], pod_ips: list[str] | None = None) -> dict[str, str]:
        """resolve_env with the referenced ConfigMaps/Secrets read through the client."""
        ns = pod["metadata"].get("namespace", "")
        cm_names, sec_names = envmod.referenced_objects(container)
        cms = {n: o for n in cm_names if (o := await self._get_env(CONFIGMAPS, ns, n)) is not None}
        secs = {n: o for n in sec_names if (o := await self._get_env(SECRETS, ns, n)) is not None}
        return envmod.resolve_env(pod, container, configmaps=cms, secrets=secs, services=services, node_ip=node_ip,
                                  pod_ips=pod_ips, node_allocatable=self.node_allocatable,
                                  on_event=lambda t, r, m: self._event(pod, t, r, m))

    async def _get_env(self, res: Any, ns: str, name: str) -> dict[str, Any] | None:
        try:
            return await self._get(res, ns, name)
        except PayloadError as e:
            raise envmod.config_error(str(e)) from None

    # ---- teardown -------------------------------------------------------------------------
    async def teardown(self, pod_uid: str) -> None:
        """Unmount and remove the pod's directory (volumes, subpath binds). Idempotent; works
        from what is on disk, so it is safe after a restart."""
        async with self._lock(pod_uid):
            await subproc.blocking(self._teardown_sync, pod_uid)
            self._tokens = {k: v for k, v in self._tokens.items() if k[0] != pod_uid}
            self._claim_paths = {k: v for k, v in self._claim_paths.items() if k[0] != pod_uid}
        self._locks.pop(pod_uid, None)

    def _teardown_sync(self, pod_uid: str) -> None:
        d = self.pod_dir(pod_uid)
        if not os.path.lexists(d):
            return
        mountutil.unmount_all(d)
        left = mountutil.mounts_under(d)
        if left:
            raise OSError(f"pod {pod_uid}: mounts still present after unmount: {left}")
        mountutil.remove_tree(d)

    def pod_uids_on_disk(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.pods_dir) if e.is_dir(follow_symlinks=False))
        except FileNotFoundError:
            return []

    async def cleanup_orphans(self, active_uids: set[str]) -> list[str]:
        """Tear down pod dirs (and their leftover mounts) of pods this node no longer runs."""
        gone = [u for u in self.pod_uids_on_disk() if u not in active_uids]
        for uid in gone:
            try:
                await self.teardown(uid)
            except OSError as e:
                log.warning("cleanup of orphaned pod dir %s failed: %s", uid, e)
        return gone
