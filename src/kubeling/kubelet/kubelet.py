"""The kubelet: watches the pods bound to its node and makes the runtime match them.

Shape (upstream pkg/kubelet, simplified to one asyncio loop):
- a pod source (an `Informer` with `fieldSelector=spec.nodeName=<node>`, or a per-node view of
  one shared informer for many simulated kubelets, see `sim.py`) whose handlers only enqueue
  pod UIDs; status-only updates are ignored, like upstream's config source;
- a `WorkQueue` of pod UIDs and a few workers running `sync_pod(uid)`, which is idempotent and
  reads everything from the runtime (upstream `SyncPod`: sandbox → init containers in order →
  containers), applies restartPolicy with CrashLoopBackOff and ImagePullBackOff back-off, and
  terminates pods gracefully (stop with the grace period, tear down, then delete the Pod with
  gracePeriodSeconds=0 and a UID precondition);
- runtime events (`runtime.set_event_handler`, when the runtime has it) or a PLEG-style relist
  to notice containers that exit on their own;
- a status manager (`status_manager.py`) that PUTs the pod status computed with `status.py` only
  when it changed (coalescing bursts: the latest status wins), retrying on conflict;
- container start (`container_start.py`): image, config, create and start, with upstream's
  events and waiting reasons;
- the `NodeAgent` (node.py): registration, node status, Lease heartbeat.

Hooks for the other node modules:
- `volume_manager` (volumes/manager.py): `async setup(pod)` (raises → FailedMount, retried),
  `mounts_for(pod, container, env) -> list[Mount]`, `async env_for(pod, container, services=,
  node_ip=, pod_ips=)`, `async teardown(pod_uid)`.
- `prober` (prober/manager.py): one worker per container probe, started when a pod is synced;
  its readiness/startup results feed the status, a liveness/startup failure kills the container
  (`_sync_container`), and every result change calls `kubelet.pod_changed(uid)`.
- `env_resolver`: `async (kubelet, pod, container, pod_ips) -> dict[str, str]` overrides the
  volume manager's `env_for` (the default).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from ..api import errors
from ..api.resources import lookup
from ..client.events import make_event, EventRecorder
from ..client.informer import Informer
from ..client.rest import Client
from ..client.workqueue import WorkQueue
from .backoff import Backoff
from .container_start import LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID, ContainerStart
from .dnsconfig import pod_dns
from .images.reference import ReferenceError, normalize
from .mirror import is_mirror_pod
from .node import NodeAgent, NodeConfig
from .prober import ProbeManager, ProbeType
from . import sync_helpers as sh
from . import poddir
from . import status as st
from .runtime import logs
from .status_manager import StatusManager
from .runtime.base import (CREATED, EXITED, RUNNING, ContainerStatus, Mount, Runtime, RuntimeError_, SandboxConfig,
                           SandboxStatus)

log = logging.getLogger("kubeling.kubelet")

PODS = lookup("", "v1", "pods")
SERVICES = lookup("", "v1", "services")
assert PODS is not None and SERVICES is not None

TERMINAL = ("Succeeded", "Failed")


@dataclass
class KubeletConfig:
    node: NodeConfig
    root_dir: str = "/var/lib/kubeling/agent"  # DATA/agent: pods/<uid>/volumes/...
    pod_log_dir: str = "/var/log/pods"
    workers: int = 8
    status_writers: int = 2
    sync_frequency: float = 60.0  # periodic resync of every pod (upstream syncFrequency 1m)
    relist_period: float = 1.0  # PLEG relist, only for runtimes without events
    backoff_initial: float = 10.0
    backoff_max: float = 300.0
    pull_resync: float = 1.0  # after ErrImagePull, look again soon to report ImagePullBackOff
    cluster_dns: list[str] = field(default_factory=list)  # --cluster-dns: the pods' nameservers (ClusterFirst)
    cluster_domain: str = "cluster.local"
    resolv_conf: str = "/etc/resolv.conf"  # the host's, for dnsPolicy Default and the search domains


class PodSource(Protocol):
    synced: asyncio.Event

    def add_handlers(self, on_add: Any = None, on_update: Any = None, on_delete: Any = None) -> None: ...

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]: ...


def _spec_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Anything but status: a status-only update (often our own write) needs no sync."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (old.get("spec") != new.get("spec") or om.get("deletionTimestamp") != nm.get("deletionTimestamp")
            or om.get("deletionGracePeriodSeconds") != nm.get("deletionGracePeriodSeconds")
            or om.get("annotations") != nm.get("annotations") or om.get("labels") != nm.get("labels"))


class Kubelet(ContainerStart):
    def __init__(self, client: Client, config: KubeletConfig, runtime: Runtime, image_service: Any = None,
                 volume_manager: Any = None, pod_source: PodSource | None = None,
                 env_resolver: Callable[..., Awaitable[dict[str, str]]] | None = None) -> None:
        self.client = client
        self.config = config
        self.node_name = config.node.name
        self.runtime = runtime
        self.images = image_service if image_service is not None else getattr(runtime, "images", None)
        self.volumes = volume_manager
        self.env_resolver = env_resolver
        self.recorder = EventRecorder(client, "kubelet", self.node_name)
        self.node = NodeAgent(client, config.node)
        self._own_informer = pod_source is None
        self.source: Any = pod_source or Informer(client, PODS, field_selector=f"spec.nodeName={self.node_name}")
        self.source.add_handlers(self._on_add, self._on_update, self._on_delete)
        self.queue = WorkQueue(f"kubelet-{self.node_name}")
        self.pods: dict[str, dict[str, Any]] = {}  # uid → desired pod (latest seen)
        self.removed: dict[str, dict[str, Any]] = {}  # uid → last object of pods gone from the API
        self.reasons: dict[str, dict[str, st.Reason]] = {}  # uid → container → waiting reason
        self.prober = ProbeManager(runtime, self.event, self.status_generated, self.pods.get, self.pod_changed)
        self.crash_backoff = Backoff(config.backoff_initial, config.backoff_max)
        self.pull_backoff = Backoff(config.backoff_initial, config.backoff_max)
        self.status = StatusManager(client, self.pods.get, self._store_written, self.node_name)
        self._terminated: set[str] = set()  # pods whose deletion we already finished
        self._runtime_events = hasattr(runtime, "set_event_handler")
        if self._runtime_events:
            runtime.set_event_handler(self.pod_changed)  # type: ignore[attr-defined]
        # Services for the containers' service env vars (real runtimes only)
        self.services = (Informer(client, SERVICES) if getattr(runtime, "name", "") != "simulated" else None)
        self._image_ids: dict[str, str] = {}  # image as the runtime names it → repo digest
        self.mirror_observers: list[Callable[[dict[str, Any]], None]] = []  # MirrorPod.observe
        self.started = asyncio.Event()

    # ---- heartbeat control (simulated node failure) --------------------------------------
    def pause_heartbeat(self) -> None:
        self.node.pause_heartbeat()

    def resume_heartbeat(self) -> None:
        self.node.resume_heartbeat()

    # ---- pod source handlers: only record and enqueue ----------------------------------------
    def _mirror(self, pod: dict[str, Any]) -> bool:
        """A mirror pod is never run (upstream HandlePodAdditions/Updates/Removes hand it to
        handleMirrorPod): only the component that owns it hears about it."""
        if not is_mirror_pod(pod):
            return False
        for observe in self.mirror_observers:
            observe(pod)
        return True

    def _on_add(self, pod: dict[str, Any]) -> None:
        if self._mirror(pod):
            return
        uid = sh.pod_uid(pod)
        self.pods[uid] = pod
        self.removed.pop(uid, None)
        self.queue.add(uid)

    def _on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if is_mirror_pod(new) and not is_mirror_pod(old):  # replaced under the same name
            self._on_delete(old)
        if self._mirror(new):
            return
        uid = sh.pod_uid(new)
        if sh.pod_uid(old) != uid:
            self._on_delete(old)
            self._on_add(new)
            return
        self.pods[uid] = new
        if _spec_changed(old, new):
            self.queue.add(uid)

    def _on_delete(self, pod: dict[str, Any]) -> None:
        if self._mirror(pod):
            return
        uid = sh.pod_uid(pod)
        last = self.pods.pop(uid, None) or pod
        self.status.forget(uid)
        if uid in self._terminated:
            self._terminated.discard(uid)
            self._forget(uid)
            return
        self.removed[uid] = last
        self.queue.add(uid)

    def _store_written(self, pod: dict[str, Any]) -> None:
        uid = sh.pod_uid(pod)
        if uid in self.pods:
            self.pods[uid] = pod

    def pod_by_name(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The pod as the kubelet knows it (with the status it last wrote), for the kubelet API."""
        pod = self.source.get(namespace, name) if hasattr(self.source, "get") else None
        if pod is None:
            pod = next((p for p in self.pods.values() if p["metadata"].get("name") == name
                        and p["metadata"].get("namespace") == namespace), None)
        return self.pods.get(sh.pod_uid(pod), pod) if pod is not None else None

    def status_generated(self, uid: str) -> dict[str, Any] | None:
        """The pod status the kubelet last computed (what the prober's workers look at)."""
        return self.status.generated(uid)

    def pod_changed(self, uid: str) -> None:
        """Something about this pod changed outside the API (runtime event, probe result)."""
        if uid:
            self.queue.add(uid)

    # ---- events ------------------------------------------------------------------------------
    def event(self, pod: dict[str, Any], typ: str, reason: str, message: str, container: str = "",
              init: bool = False) -> None:
        ev = make_event(pod, typ, reason, message, "kubelet", self.node_name)
        ev["involvedObject"].setdefault("kind", "Pod")
        ev["involvedObject"].setdefault("apiVersion", "v1")
        if container:
            ev["involvedObject"]["fieldPath"] = sh.field_path(container, init)
        log.debug("event %s %s: %s %s", typ, sh.format_pod(pod), reason, message)
        task = asyncio.get_running_loop().create_task(self.recorder.record(ev), name=f"event-{reason}")
        self.recorder._pending.add(task)
        task.add_done_callback(self.recorder._pending.discard)

    # ---- runtime state -------------------------------------------------------------------------
    async def _runtime_state(self, uid: str) -> st.PodRuntimeState:
        return st.PodRuntimeState(await self.runtime.sandbox_status(uid), await self.runtime.list_containers(uid))

    def _inputs(self, pod: dict[str, Any], terminal: bool = False) -> st.StatusInputs:
        uid = sh.pod_uid(pod)
        ready_hook = getattr(self.runtime, "readiness", None)
        ids: dict[str, str] = {}

        def readiness(name: str) -> bool | None:
            r = self.prober.ready(uid, name, ids.get(name, ""))
            if r is None and ready_hook is not None and name in ids:
                r = ready_hook(ids[name])
            return r

        def image_id(cs: ContainerStatus) -> str:
            ids[cs.name] = cs.id
            got = self._image_ids.get(cs.image)
            if got is None:
                rec = self.images.status(cs.image) if self.images is not None else None
                got = self._image_ids[cs.image] = rec.repo_digest if rec is not None else cs.image_ref
            return got

        def image_name(cs: ContainerStatus) -> str:
            try:
                return str(normalize(cs.image))
            except ReferenceError:
                return cs.image

        return st.StatusInputs(runtime_name=self.runtime.name, node_ips=[self.config.node.ip],
                               reasons=self.reasons.get(uid, {}), readiness=readiness,
                               startup=lambda name: self.prober.started(uid, name, ids.get(name, "")),
                               image_id=image_id, image_name=image_name, terminal=terminal)

    def _report(self, pod: dict[str, Any], state: st.PodRuntimeState, terminal: bool = False) -> None:
        self.status.set(sh.pod_uid(pod), st.generate_pod_status(pod, state, self._inputs(pod, terminal)))

    # ---- the sync --------------------------------------------------------------------------------
    async def sync_pod(self, uid: Any) -> None:
        pod = self.pods.get(uid)
        if pod is None:
            gone = self.removed.pop(uid, None)
            await self._kill_pod(uid, gone, sh.grace_period(gone) if gone else 0)
            await self._cleanup(uid, gone)
            self._forget(uid)
            return
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            await self._terminate(pod)
            return
        if (pod.get("status") or {}).get("phase") in TERMINAL:
            await self._sync_terminal(pod)
            return
        await self._sync_running(pod)

    async def _sync_terminal(self, pod: dict[str, Any]) -> None:
        """A finished pod keeps its status; its sandbox (IP, netns) is released."""
        uid = sh.pod_uid(pod)
        if await self.runtime.sandbox_status(uid) is not None:
            state = await self._runtime_state(uid)
            if any(c.state == RUNNING for c in state.containers):
                await self._kill_pod(uid, pod, sh.grace_period(pod))
            await self.runtime.stop_sandbox(uid)

    async def _sync_running(self, pod: dict[str, Any]) -> None:
        uid = sh.pod_uid(pod)
        spec = pod.get("spec") or {}
        self.prober.add_pod(pod)
        state = await self._runtime_state(uid)
        self._report(pod, state)
        sandbox = state.sandbox
        if sandbox is None or not sandbox.ready:
            sandbox = await self._ensure_sandbox(pod, state)
            if sandbox is None:
                return
            state = await self._runtime_state(uid)
        by_name = state.by_name()
        regular_started = any(c["name"] in by_name for c in spec.get("containers") or [])
        if not regular_started:
            done = await self._sync_init_containers(pod, sandbox, by_name)
            if not done:
                self._report(pod, await self._runtime_state(uid))
                return
        policy = spec.get("restartPolicy", "Always")
        for c in [c for c in spec.get("initContainers") or [] if st.is_restartable_init(c)]:
            await self._sync_container(pod, c, sandbox, by_name.get(c["name"], []), "Always", init=True)
        for c in spec.get("containers") or []:
            await self._sync_container(pod, c, sandbox, by_name.get(c["name"], []), policy, init=False)
        self._report(pod, await self._runtime_state(uid))

    async def _ensure_sandbox(self, pod: dict[str, Any], state: st.PodRuntimeState) -> SandboxStatus | None:
        uid = sh.pod_uid(pod)
        if state.sandbox is not None or state.containers:
            self.event(pod, "Normal", sh.SANDBOX_CHANGED, "Pod sandbox changed, it will be killed and re-created.")
            await self._kill_pod(uid, pod, 0, announce=False)
            await self.runtime.stop_sandbox(uid)
        try:
            pod_dir = self._pod_dir(uid)
            if pod_dir:
                await asyncio.to_thread(poddir.make_pod_dirs, pod_dir)
            if self.volumes is not None:
                await self.volumes.setup(pod)
        except Exception as e:
            if not hasattr(e, "failures"):  # the volume manager records its own FailedMount events
                self.event(pod, "Warning", sh.FAILED_MOUNT, str(e))
            log.info("pod %s: volumes not ready: %s", sh.format_pod(pod), e)
            self.queue.add_after(uid, 2.0)
            return None
        try:
            return await self.runtime.run_sandbox(self._sandbox_config(pod))
        except RuntimeError_ as e:
            self.event(pod, "Warning", sh.FAILED_CREATE_SANDBOX, f"Failed to create pod sandbox: {e.message}")
            self.queue.add_rate_limited(uid)
            return None

    def _pod_dir(self, uid: str) -> str:
        """DATA/agent/pods/<uid> on a node with a volume manager (real nodes); "" otherwise."""
        pod_dir = getattr(self.volumes, "pod_dir", None)
        return pod_dir(uid) if pod_dir is not None and uid else ""

    def _sandbox_config(self, pod: dict[str, Any]) -> SandboxConfig:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        ports = []
        for c in spec.get("containers") or []:
            for p in c.get("ports") or []:
                if p.get("hostPort"):
                    ports.append({"containerPort": p.get("containerPort"), "hostPort": p["hostPort"],
                                  "protocol": p.get("protocol", "TCP"), "hostIP": p.get("hostIP", "")})
        labels = {**(meta.get("labels") or {}), LABEL_POD_NAME: meta.get("name", ""),
                  LABEL_POD_NAMESPACE: meta.get("namespace", ""), LABEL_POD_UID: meta.get("uid", "")}
        try:
            with open(self.config.resolv_conf) as f:
                host_resolv = f.read()
        except OSError:
            host_resolv = ""
        dns = pod_dns(pod, self.config.cluster_dns, self.config.cluster_domain, host_resolv)
        return SandboxConfig(pod_uid=meta.get("uid", ""), name=meta.get("name", ""),
                             namespace=meta.get("namespace", ""), hostname=spec.get("hostname") or meta.get("name", ""),
                             host_network=bool(spec.get("hostNetwork")), port_mappings=ports, labels=labels,
                             dns_config=dns)

    async def _sync_init_containers(self, pod: dict[str, Any], sandbox: SandboxStatus,
                                    by_name: dict[str, list[ContainerStatus]]) -> bool:
        """Run init containers one at a time, in order; True once all of them succeeded."""
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy", "Always")
        for c in spec.get("initContainers") or []:
            if st.is_restartable_init(c):
                if not await self._sync_container(pod, c, sandbox, by_name.get(c["name"], []), "Always", init=True):
                    return False
                continue
            runs = by_name.get(c["name"], [])
            cur = runs[0] if runs else None
            if cur is not None and cur.state == EXITED and cur.exit_code == 0:
                continue
            if cur is not None and cur.state == RUNNING:
                return False
            if cur is not None and cur.state == EXITED and policy == "Never":
                return False  # the pod failed
            await self._sync_container(pod, c, sandbox, runs, "OnFailure", init=True)
            return False
        return True

    async def _sync_container(self, pod: dict[str, Any], c: dict[str, Any], sandbox: SandboxStatus,
                              runs: list[ContainerStatus], policy: str, init: bool) -> bool:
        """Bring one container to where the spec and restart policy want it; True if it runs."""
        name = c["name"]
        uid = sh.pod_uid(pod)
        cur = runs[0] if runs else None
        if cur is not None and cur.state == RUNNING:
            if self._image_changed(c, cur):
                self.event(pod, "Normal", sh.KILLING, f"Container {name} definition changed, will be restarted",
                           name, init)
                await self.runtime.stop_container(cur.id, sh.grace_period(pod))
                return await self._start_container(pod, c, sandbox, cur.attempt + 1, init, runs)
            failed = self.prober.kill_reason(cur.id)
            if failed is not None:
                return await self._kill_unhealthy(pod, c, sandbox, runs, policy, init, failed)
            return True
        if cur is not None and cur.state == CREATED:
            await self.runtime.remove_container(cur.id)  # left half-made (e.g. by a crash): make it again
            return await self._start_container(pod, c, sandbox, cur.attempt, init, runs[1:])
        if cur is None:
            return await self._start_container(pod, c, sandbox, 0, init, runs)
        # exited
        if not sh.should_restart(policy, cur.exit_code):
            return False
        key = sh.crash_key(pod, name)
        if self.crash_backoff.is_in_backoff_since(key, cur.finished_at):
            window = self.crash_backoff.get(key)
            self.reasons.setdefault(uid, {})[name] = st.Reason(st.CRASH_LOOP_BACK_OFF,
                                                               sh.msg_crash_backoff(pod, name, window))
            self.event(pod, "Warning", sh.BACK_OFF, sh.msg_backoff_event(pod, name), name, init)
            self.queue.add_after(uid, self.crash_backoff.remaining_since(key, cur.finished_at) + 0.01)
            return False
        self.crash_backoff.next(key, cur.finished_at)
        return await self._start_container(pod, c, sandbox, cur.attempt + 1, init, runs)

    async def _kill_unhealthy(self, pod: dict[str, Any], c: dict[str, Any], sandbox: SandboxStatus,
                              runs: list[ContainerStatus], policy: str, init: bool, failed: ProbeType) -> bool:
        """A liveness/startup failure: kill the container (the probe's own grace period wins) and
        start it again at once unless the restart policy is Never (computePodActions)."""
        cur, name = runs[0], c["name"]
        restart = policy != "Never"
        msg = f"Container {name} failed {failed.value.lower()} probe" + (", will be restarted" if restart else "")
        self.event(pod, "Normal", sh.KILLING, msg, name, init)
        grace = (c.get(failed.field) or {}).get("terminationGracePeriodSeconds")
        await self.runtime.stop_container(cur.id, grace if grace is not None else sh.grace_period(pod))
        if not restart:
            return False
        return await self._start_container(pod, c, sandbox, cur.attempt + 1, init, runs)

    def _image_changed(self, c: dict[str, Any], cur: ContainerStatus) -> bool:
        try:
            return str(normalize(c.get("image", ""))) != str(normalize(cur.image))
        except ReferenceError:
            return c.get("image") != cur.image

    # ---- termination ------------------------------------------------------------------------------
    async def _kill_pod(self, uid: str, pod: dict[str, Any] | None, grace: float, announce: bool = True) -> None:
        """Stop every running container of the pod (in parallel), with the grace period."""
        running = [c for c in await self.runtime.list_containers(uid) if c.state in (RUNNING, CREATED)]
        init_names = {c.get("name") for c in ((pod or {}).get("spec") or {}).get("initContainers") or []}
        for c in running:
            if announce and pod is not None:
                self.event(pod, "Normal", sh.KILLING, f"Stopping container {c.name}", c.name, c.name in init_names)
        await asyncio.gather(*(self.runtime.stop_container(c.id, grace) for c in running))

    async def _remove_container(self, c: ContainerStatus) -> None:
        """removeContainer: the container and its log file (`kubectl logs --previous` reads the
        newest exited one, which is kept)."""
        await self.runtime.remove_container(c.id)
        if c.log_path:
            try:
                os.unlink(c.log_path)
            except OSError:
                pass

    async def _cleanup(self, uid: str, pod: dict[str, Any] | None) -> None:
        """Remove what the pod left on the node: containers, sandbox, volumes, the pod directory
        and its log directory under the pod log dir."""
        for c in await self.runtime.list_containers(uid):
            await self.runtime.remove_container(c.id)
        await self.runtime.stop_sandbox(uid)
        if self.volumes is not None:
            try:
                await self.volumes.teardown(uid)
            except Exception as e:
                log.warning("pod %s: volume teardown failed: %s", uid, e)
        if getattr(self.runtime, "name", "") == "simulated":
            return  # writes no logs (and 10,000 simulated pods need no 10,000 lookups)
        meta = (pod or {}).get("metadata") or {}
        removed = await asyncio.to_thread(logs.remove_pod_logs, self.config.pod_log_dir, uid,
                                          meta.get("namespace", ""), meta.get("name", ""))
        if removed:
            log.info("pod %s: removed its log directory %s", uid, " ".join(removed))

    async def _terminate(self, pod: dict[str, Any]) -> None:
        """Graceful deletion: stop with the grace period, write the terminal status (upstream's
        syncTerminatingPod: phase Succeeded/Failed, containers terminated and not ready, which
        `kubectl get -w` shows before the pod goes), tear down, then finish the delete."""
        uid = sh.pod_uid(pod)
        meta = pod["metadata"]
        await self._kill_pod(uid, pod, sh.grace_period(pod))
        self._report(pod, await self._runtime_state(uid), terminal=True)
        await self.status.write(uid)
        await self._cleanup(uid, pod)
        self._terminated.add(uid)
        try:
            await self.client.delete(PODS, meta.get("namespace"), meta["name"], grace_period=0,
                                     preconditions={"uid": uid})
        except errors.StatusError as e:
            if e.code not in (404, 409):
                self._terminated.discard(uid)
                raise
        self.status.forget(uid)

    def _forget(self, uid: str) -> None:
        self.reasons.pop(uid, None)
        self.status.forget(uid)
        self.crash_backoff.forget_prefix(uid + "_")
        self.pull_backoff.forget_prefix(uid + "_")
        self.prober.remove_pod(uid)

    # ---- loops ------------------------------------------------------------------------------------
    async def _adopt(self) -> None:
        """After the pod source synced: sync every pod (running containers are found by name, not
        recreated) and clean up runtime leftovers of pods that no longer exist."""
        await self.source.synced.wait()
        known = set(self.pods)
        leftovers = {s.pod_uid for s in await self.runtime.list_sandboxes()}
        leftovers |= {c.pod_uid for c in await self.runtime.list_containers()}
        on_disk = getattr(self.volumes, "pod_uids_on_disk", None)  # cleanupOrphanedPodDirs
        if on_disk is not None:
            leftovers |= set(await asyncio.to_thread(on_disk))
        for uid in leftovers - known:
            log.info("node %s: cleaning up containers of deleted pod %s", self.node_name, uid)
            self.queue.add(uid)
        self.started.set()

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.sync_frequency)
            for uid in list(self.pods):
                self.queue.add(uid)
            self.crash_backoff.gc()
            self.pull_backoff.gc()

    async def _relist_loop(self) -> None:
        """PLEG for runtimes without events: notice containers whose state changed."""
        last: dict[str, tuple[str, str]] = {}
        while True:
            await asyncio.sleep(self.config.relist_period)
            try:
                now = {c.id: (c.pod_uid, c.state) for c in await self.runtime.list_containers()}
            except Exception as e:
                log.warning("node %s: relist failed: %s", self.node_name, e)
                continue
            changed = {v[0] for k, v in now.items() if last.get(k) != v} | {v[0] for k, v in last.items() if k not in now}
            last = now
            for uid in changed:
                self.queue.add(uid)

    async def run(self) -> None:
        """Start the runtime, register the node, then sync pods until cancelled."""
        from ..client.workqueue import run_workers

        await self.runtime.start()
        version = getattr(self.runtime, "version", "")
        if version and self.config.node.runtime_version.endswith("://"):  # known once the runtime started
            self.config.node.runtime_version = f"{self.runtime.name}://{version}"
        tasks = [asyncio.create_task(self.node.run(), name=f"node-{self.node_name}")]
        await self.node.registered.wait()
        if self._own_informer:
            tasks.append(asyncio.create_task(self.source.run(), name=f"kubelet-pods-{self.node_name}"))
        if self.services is not None:
            tasks.append(asyncio.create_task(self.services.run(), name=f"kubelet-services-{self.node_name}"))
        tasks.append(asyncio.create_task(self._adopt(), name=f"kubelet-adopt-{self.node_name}"))
        tasks.append(asyncio.create_task(run_workers(self.queue, self.sync_pod, self.config.workers),
                                         name=f"kubelet-workers-{self.node_name}"))
        tasks.append(asyncio.create_task(self.status.run(self.config.status_writers),
                                         name=f"kubelet-status-{self.node_name}"))
        tasks.append(asyncio.create_task(self._resync_loop(), name=f"kubelet-resync-{self.node_name}"))
        if not self._runtime_events:
            tasks.append(asyncio.create_task(self._relist_loop(), name=f"kubelet-pleg-{self.node_name}"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.prober.close()
            await self.queue.shutdown()
            await self.status.queue.shutdown()
