"""Node registration, node status and the Lease heartbeat (upstream kubelet_node_status.go,
nodestatus/setters.go and the nodelease controller).

- Registration creates the Node with capacity/allocatable, conditions, addresses, nodeInfo,
  daemonEndpoints, `spec.podCIDR(s)` and the well-known labels; if it already exists (restart),
  our labels/annotations/podCIDR are reconciled onto it.
- The Lease `kube-node-lease/<node>` (holderIdentity = node, leaseDurationSeconds 40) is renewed
  every leaseDuration/4 = 10 s: that is the heartbeat the node lifecycle controller watches.
- Node status is recomputed every `status_update_frequency` (10 s) and written when it changed,
  or at least every `status_report_frequency` (5 min), as upstream does since node leases.
- `pause_heartbeat()` stops both (the simulated node failure); `resume_heartbeat()` restarts them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .. import GIT_VERSION
from ..api import errors
from ..api.resources import lookup
from ..api.timestamps import rfc3339, rfc3339_micro
from ..client.rest import Client

log = logging.getLogger("kubeling.kubelet.node")

NODES = lookup("", "v1", "nodes")
LEASES = lookup("coordination.k8s.io", "v1", "leases")
assert NODES is not None and LEASES is not None
LEASE_NAMESPACE = "kube-node-lease"

SIM_CAPACITY = {"cpu": "4", "ephemeral-storage": "100Gi", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                "memory": "8Gi", "pods": "110"}
EVICTION_MEMORY_BYTES = 100 * 1024 * 1024  # evictionHard memory.available<100Mi
EVICTION_NODEFS_FRACTION = 0.10  # evictionHard nodefs.available<10%


@dataclass
class NodeConfig:
    name: str
    ip: str = "127.0.0.1"
    pod_cidr: str = "10.244.0.0/24"
    runtime_version: str = "simulated://0.1.0"  # nodeInfo.containerRuntimeVersion
    simulated: bool = False
    control_plane: bool = False
    kubelet_port: int = 10250
    max_pods: int = 110
    data_dir: str = "/"  # where ephemeral storage lives (real nodes)
    lease_duration: int = 40
    status_update_frequency: float = 10.0
    status_report_frequency: float = 300.0
    labels: dict[str, str] = field(default_factory=dict)
    capacity: dict[str, str] | None = None  # override (tests)
    kube_proxy_version: str = ""  # nodeInfo.kubeProxyVersion: set when the node runs kube-proxy

    @property
    def renew_interval(self) -> float:
        """nodelease: renew at a quarter of the lease duration (10 s for 40 s)."""
        return self.lease_duration / 4


# ---- pure pieces -----------------------------------------------------------------------------
def _ki(n: int) -> str:
    return f"{n // 1024}Ki"


def host_capacity(data_dir: str = "/", max_pods: int = 110) -> tuple[dict[str, str], dict[str, str]]:
    """(capacity, allocatable) of this machine, as upstream's cadvisor-based setter reports them."""
    import psutil

    mem = psutil.virtual_memory().total
    try:
        disk = psutil.disk_usage(data_dir if os.path.exists(data_dir) else "/").total
    except OSError:
        disk = 0
    cap = {"cpu": str(psutil.cpu_count() or 1), "ephemeral-storage": _ki(disk), "hugepages-1Gi": "0",
           "hugepages-2Mi": "0", "memory": _ki(mem), "pods": str(max_pods)}
    alloc = dict(cap)
    alloc["memory"] = _ki(max(mem - EVICTION_MEMORY_BYTES, 0))
    alloc["ephemeral-storage"] = str(int(disk * (1 - EVICTION_NODEFS_FRACTION)))
    return cap, alloc


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


def node_info(cfg: NodeConfig) -> dict[str, Any]:
    """status.nodeInfo; simulated nodes get stable made-up machine identities."""
    if cfg.simulated:
        h = hashlib.sha256(cfg.name.encode()).hexdigest()
        machine_id, system_uuid, boot_id = h[:32], f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}", h[32:64]
    else:
        machine_id = _read("/etc/machine-id")
        system_uuid = _read("/sys/class/dmi/id/product_uuid").lower() or machine_id
        boot_id = _read("/proc/sys/kernel/random/boot_id")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {"machineID": machine_id, "systemUUID": system_uuid, "bootID": boot_id,
            "kernelVersion": platform.release(), "osImage": os_image(),
            "containerRuntimeVersion": cfg.runtime_version, "kubeletVersion": GIT_VERSION,
            "kubeProxyVersion": cfg.kube_proxy_version, "operatingSystem": "linux", "architecture": arch}


def node_labels(cfg: NodeConfig) -> dict[str, str]:
    arch = node_info(cfg)["architecture"] if not cfg.simulated else "amd64"
    labels = {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
              "kubernetes.io/hostname": cfg.name, "kubernetes.io/os": "linux"}
    if cfg.control_plane:  # what k3s puts on server nodes (kubectl's ROLES column)
        labels["node-role.kubernetes.io/control-plane"] = "true"
    if cfg.simulated:
        labels["node.kubeling.io/simulated"] = "true"
    labels.update(cfg.labels)
    return labels


# Condition (type, ok-reason, ok-message) in upstream order; pressure conditions are "False" when fine.
_PRESSURE = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)


Condition = tuple[str, str, str, str]  # (type, status, reason, message)


def node_conditions(old: list[dict[str, Any]], now: str, ready: bool = True,
                    not_ready_message: str = "", extra: Sequence[Condition] = ()) -> list[dict[str, Any]]:
    """The four kubelet conditions, after `extra` ones (e.g. NetworkUnavailable, which comes
    first as upstream's route controller adds it); lastTransitionTime moves only when a
    status changes."""
    prev = {c.get("type"): c for c in old or []}
    want = list(extra) + [(t, "False", r, m) for t, r, m in _PRESSURE]
    want.append(("Ready", "True", "KubeletReady", "kubelet is posting ready status") if ready
                else ("Ready", "False", "KubeletNotReady", not_ready_message))
    out = []
    for typ, status, reason, message in want:
        p = prev.get(typ)
        transition = p["lastTransitionTime"] if p and p.get("status") == status and p.get("lastTransitionTime") else now
        out.append({"type": typ, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": transition,
                    "reason": reason, "message": message})
    # conditions set by others (e.g. NetworkUnavailable by a network plugin) are kept
    out = [c for c in old or [] if c.get("type") not in {w[0] for w in want}] + out
    return out


def node_status(cfg: NodeConfig, old: dict[str, Any], now: str, ready: bool = True,
                not_ready_message: str = "", extra: Sequence[Condition] = ()) -> dict[str, Any]:
    if cfg.capacity is not None:
        cap, alloc = dict(cfg.capacity), dict(cfg.capacity)
    elif cfg.simulated:
        cap, alloc = dict(SIM_CAPACITY), dict(SIM_CAPACITY)
    else:
        cap, alloc = host_capacity(cfg.data_dir, cfg.max_pods)
    st = {k: v for k, v in (old or {}).items()}
    st.update({
        "capacity": cap, "allocatable": alloc,
        "conditions": node_conditions((old or {}).get("conditions") or [], now, ready, not_ready_message, extra),
        "addresses": [{"type": "InternalIP", "address": cfg.ip}, {"type": "Hostname", "address": cfg.name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": cfg.kubelet_port}},
        "nodeInfo": node_info(cfg),
    })
    st.setdefault("images", [])
    return st


def build_node(cfg: NodeConfig, now: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": cfg.name, "labels": node_labels(cfg),
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"podCIDR": cfg.pod_cidr, "podCIDRs": [cfg.pod_cidr]},
        "status": node_status(cfg, {}, now),
    }


def _strip_heartbeats(st: dict[str, Any]) -> dict[str, Any]:
    """Status without lastHeartbeatTime: what decides whether a write is needed."""
    out = dict(st)
    out["conditions"] = [{k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in st.get("conditions") or []]
    return out


def build_lease(cfg: NodeConfig, node_uid: str, renew: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": cfg.name, "namespace": LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": cfg.name, "uid": node_uid}]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": cfg.name, "leaseDurationSeconds": cfg.lease_duration, "renewTime": renew}}


# ---- the agent -------------------------------------------------------------------------------
class NodeAgent:
    """Registers one Node and keeps its Lease and status fresh."""

    def __init__(self, client: Client, cfg: NodeConfig,
                 readiness: Callable[[], tuple[bool, str]] = lambda: (True, "")) -> None:
        self.client = client
        self.cfg = cfg
        self.readiness = readiness  # (ready, not-ready message), e.g. runtime/network health
        self.extra_conditions: Callable[[], list[Condition]] = list  # e.g. NetworkUnavailable
        self.node: dict[str, Any] | None = None
        self.lease: dict[str, Any] | None = None
        self.registered = asyncio.Event()
        self._paused = False
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._last_report = 0.0
        self._kick = asyncio.Event()

    # ---- heartbeat control ---------------------------------------------------------------
    @property
    def heartbeat_paused(self) -> bool:
        return self._paused

    def pause_heartbeat(self) -> None:
        if not self._paused:
            log.warning("node %s: heartbeat paused (simulated node failure)", self.cfg.name)
        self._paused = True
        self._resumed.clear()

    def resume_heartbeat(self) -> None:
        if self._paused:
            log.warning("node %s: heartbeat resumed", self.cfg.name)
        self._paused = False
        self._resumed.set()

    def status_changed(self) -> None:
        """Ask for a node status update now (e.g. the runtime became ready)."""
        self._kick.set()

    # ---- registration --------------------------------------------------------------------
    async def register(self) -> dict[str, Any]:
        """tryRegisterWithAPIServer: create, or reconcile the existing Node."""
        want = build_node(self.cfg, rfc3339())
        backoff = 0.1
        while True:
            try:
                try:
                    self.node = await self.client.create(NODES, None, want)
                except errors.StatusError as e:
                    if e.code != 409:
                        raise
                    self.node = await self._reconcile_existing(want)
                break
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("node %s: unable to register: %s", self.cfg.name, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 7.0)
        await self.update_status(force=True)
        self.registered.set()
        log.info("node %s registered (%s, podCIDR %s)", self.cfg.name, self.cfg.runtime_version, self.cfg.pod_cidr)
        return self.node

    async def _reconcile_existing(self, want: dict[str, Any]) -> dict[str, Any]:
        for _ in range(5):
            cur = await self.client.get(NODES, None, self.cfg.name)
            meta = cur["metadata"]
            new_labels = {**(meta.get("labels") or {}), **want["metadata"]["labels"]}
            new_ann = {**(meta.get("annotations") or {}), **want["metadata"]["annotations"]}
            spec = cur.setdefault("spec", {})
            if meta.get("labels") == new_labels and meta.get("annotations") == new_ann and spec.get("podCIDR"):
                return cur
            meta["labels"], meta["annotations"] = new_labels, new_ann
            if not spec.get("podCIDR"):
                spec["podCIDR"], spec["podCIDRs"] = want["spec"]["podCIDR"], want["spec"]["podCIDRs"]
            try:
                return await self.client.update(NODES, cur)
            except errors.StatusError as e:
                if e.code != 409:
                    raise
        raise errors.conflict("nodes", self.cfg.name, "")

    # ---- node status -----------------------------------------------------------------------
    async def update_status(self, force: bool = False) -> bool:
        """Recompute the status; PUT nodes/status if it changed or a report is due. True if written."""
        if self.node is None:
            return False
        ready, msg = self.readiness()
        now = rfc3339()
        for attempt in range(5):
            # Compare with the server's node, not our last write (upstream tryUpdateNodeStatus GETs
            # it too): the node lifecycle controller may have set Ready=Unknown meanwhile, and a
            # kubelet that is back must say Ready again at once, not at the next 5-minute report.
            try:
                self.node = await self.client.get(NODES, None, self.cfg.name)
            except errors.StatusError as e:
                if e.code != 404:
                    raise
                log.warning("node %s was deleted; registering again", self.cfg.name)
                self.node = None
                await self.register()
                return True
            node = self.node
            st = node_status(self.cfg, node.get("status") or {}, now, ready, msg, self.extra_conditions())
            due = time.monotonic() - self._last_report >= self.cfg.status_report_frequency
            if not force and not due and _strip_heartbeats(st) == _strip_heartbeats(node.get("status") or {}):
                return False
            try:
                self.node = await self.client.update_status(NODES, {**node, "status": st})
                self._last_report = time.monotonic()
                return True
            except errors.StatusError as e:
                if e.code == 404:
                    log.warning("node %s was deleted; registering again", self.cfg.name)
                    self.node = None
                    await self.register()
                    return True
                if e.code != 409:
                    raise
        return False

    async def status_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._kick.wait(), self.cfg.status_update_frequency)
            except asyncio.TimeoutError:
                pass
            self._kick.clear()
            await self._resumed.wait()
            try:
                await self.update_status()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("node %s: status update failed: %s", self.cfg.name, e)

    # ---- lease -------------------------------------------------------------------------------
    async def renew_lease(self) -> dict[str, Any]:
        """Create or renew `kube-node-lease/<node>` with renewTime = now."""
        uid = (self.node or {}).get("metadata", {}).get("uid", "")
        for _ in range(5):
            try:
                if self.lease is None:
                    try:
                        self.lease = await self.client.get(LEASES, LEASE_NAMESPACE, self.cfg.name)
                    except errors.StatusError as e:
                        if e.code != 404:
                            raise
                        self.lease = await self.client.create(LEASES, LEASE_NAMESPACE,
                                                              build_lease(self.cfg, uid, rfc3339_micro()))
                        return self.lease
                lease = dict(self.lease)
                spec = dict(lease.get("spec") or {})
                spec.update(holderIdentity=self.cfg.name, leaseDurationSeconds=self.cfg.lease_duration,
                            renewTime=rfc3339_micro())
                lease["spec"] = spec
                if uid and not lease["metadata"].get("ownerReferences"):
                    lease["metadata"] = {**lease["metadata"], "ownerReferences": build_lease(self.cfg, uid, "")
                                         ["metadata"]["ownerReferences"]}
                self.lease = await self.client.update(LEASES, lease)
                return self.lease
            except errors.StatusError as e:
                if e.code not in (404, 409):
                    raise
                self.lease = None
        raise errors.conflict("leases", self.cfg.name, "coordination.k8s.io")

    async def lease_loop(self) -> None:
        while True:
            await self._resumed.wait()
            try:
                await self.renew_lease()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("node %s: failed to renew lease: %s", self.cfg.name, e)
            await asyncio.sleep(self.cfg.renew_interval)

    async def run(self) -> None:
        """Register, then heartbeat until cancelled."""
        await self.register()
        await asyncio.gather(self.lease_loop(), self.status_loop())
