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
- a status manager that computes the pod status with `status.py` and PUTs pods/status only when
  it changed (coalescing bursts: the latest status wins), retrying on conflict;
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
from .dnsconfig import pod_dns
from .images import policy as pull_policy
from .images.reference import ReferenceError, normalize
from .images.registry import RegistryError
from .mirror import is_mirror_pod
from .node import NodeAgent, NodeConfig
from .prober import ProbeManager, ProbeType
from . import sync_helpers as sh
from . import poddir
from . import status as st
from .runtime import logs
from .runtime.base import (CREATED, EXITED, RUNNING, ContainerConfig, ContainerStatus, Mount, Runtime, RuntimeError_,
                           SandboxConfig, SandboxStatus)

log = logging.getLogger("kubeling.kubelet")

PODS = lookup("", "v1", "pods")
SERVICES = lookup("", "v1", "services")
assert PODS is not None and SERVICES is not None

LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"
LABEL_INIT = "io.kubeling.container.init"
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


def _uid(pod: dict[str, Any]) -> str:
    return (pod.get("metadata") or {}).get("uid", "")


def _spec_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Anything but status: a status-only update (often our own write) needs no sync."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (old.get("spec") != new.get("spec") or om.get("deletionTimestamp") != nm.get("deletionTimestamp")
            or om.get("deletionGracePeriodSeconds") != nm.get("deletionGracePeriodSeconds")
            or om.get("annotations") != nm.get("annotations") or om.get("labels") != nm.get("labels"))


class StatusManager:
    """Writes pod statuses: `set(uid, generated)` records the kubelet's view; writer tasks merge it
    with the API's current status and PUT pods/status only if something changed."""

    def __init__(self, client: Client, get_pod: Callable[[str], dict[str, Any] | None],
                 put_pod: Callable[[dict[str, Any]], None], name: str) -> None:
        self.client = client
        self.get_pod = get_pod
        self.put_pod = put_pod
        self.queue = WorkQueue(f"pod-status-{name}")
        self._want: dict[str, dict[str, Any]] = {}
        self.writes = 0

    def set(self, uid: str, generated: dict[str, Any]) -> None:
        self._want[uid] = generated
        self.queue.add(uid)

    def forget(self, uid: str) -> None:
        self._want.pop(uid, None)

    def generated(self, uid: str) -> dict[str, Any] | None:
        return self._want.get(uid)

    async def write(self, uid: Any) -> None:
        gen = self._want.get(uid)
        pod = self.get_pod(uid)
        if gen is None or pod is None:
            return
        for _ in range(5):
            merged = st.merge_status(pod.get("status") or {}, gen, st.rfc3339(time.time()))
            if merged == pod.get("status"):
                return
            try:
                new = await self.client.update_status(PODS, {**pod, "status": merged})
                self.writes += 1
                self.put_pod(new)
                return
            except errors.StatusError as e:
                if e.code == 404:
                    return
                if e.code != 409:
                    raise
                pod = await self.client.get(PODS, pod["metadata"].get("namespace"), pod["metadata"]["name"])
                if _uid(pod) != uid:
                    return

    async def run(self, writers: int) -> None:
        from ..client.workqueue import run_workers

        await run_workers(self.queue, self.write, writers)


class Kubelet:
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
        uid = _uid(pod)
        self.pods[uid] = pod
        self.removed.pop(uid, None)
        self.queue.add(uid)

    def _on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if is_mirror_pod(new) and not is_mirror_pod(old):  # replaced under the same name
            self._on_delete(old)
        if self._mirror(new):
            return
        uid = _uid(new)
        if _uid(old) != uid:
            self._on_delete(old)
            self._on_add(new)
            return
        self.pods[uid] = new
        if _spec_changed(old, new):
            self.queue.add(uid)

    def _on_delete(self, pod: dict[str, Any]) -> None:
        if self._mirror(pod):
            return
        uid = _uid(pod)
        last = self.pods.pop(uid, None) or pod
        self.status.forget(uid)
        if uid in self._terminated:
            self._terminated.discard(uid)
            self._forget(uid)
            return
        self.removed[uid] = last
        self.queue.add(uid)

    def _store_written(self, pod: dict[str, Any]) -> None:
        uid = _uid(pod)
        if uid in self.pods:
            self.pods[uid] = pod

    def pod_by_name(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The pod as the kubelet knows it (with the status it last wrote), for the kubelet API."""
        pod = self.source.get(namespace, name) if hasattr(self.source, "get") else None
        if pod is None:
            pod = next((p for p in self.pods.values() if p["metadata"].get("name") == name
                        and p["metadata"].get("namespace") == namespace), None)
        return self.pods.get(_uid(pod), pod) if pod is not None else None

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
        uid = _uid(pod)
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
        self.status.set(_uid(pod), st.generate_pod_status(pod, state, self._inputs(pod, terminal)))

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
        uid = _uid(pod)
        if await self.runtime.sandbox_status(uid) is not None:
            state = await self._runtime_state(uid)
            if any(c.state == RUNNING for c in state.containers):
                await self._kill_pod(uid, pod, sh.grace_period(pod))
            await self.runtime.stop_sandbox(uid)

    async def _sync_running(self, pod: dict[str, Any]) -> None:
        uid = _uid(pod)
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
        uid = _uid(pod)
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
        uid = _uid(pod)
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

    async def _start_container(self, pod: dict[str, Any], c: dict[str, Any], sandbox: SandboxStatus, attempt: int,
                               init: bool, runs: list[ContainerStatus]) -> bool:
        """startContainer: image → config → create → start, with upstream's events and reasons."""
        name = c["name"]
        uid = _uid(pod)
        reasons = self.reasons.setdefault(uid, {})
        rec = await self._ensure_image(pod, c, init)
        if rec is None:
            return False
        try:
            cfg = await self._container_config(pod, c, rec, attempt, init,
                                               list(sandbox.ips or ([sandbox.ip] if sandbox.ip else [])))
        except Exception as e:
            msg = e.message if isinstance(e, (RuntimeError_, errors.StatusError)) else str(e)
            reasons[name] = st.Reason(st.CREATE_CONTAINER_CONFIG_ERROR, msg)
            self.event(pod, "Warning", sh.FAILED, f"Error: {msg}", name, init)
            self.queue.add_after(uid, 2.0)
            return False
        if getattr(rec, "repo_digest", ""):
            self._image_ids[cfg.image] = rec.repo_digest
        try:
            cid = await self.runtime.create_container(cfg, sandbox)
        except RuntimeError_ as e:
            reasons[name] = st.Reason(e.reason or st.CREATE_CONTAINER_ERROR, e.message)
            self.event(pod, "Warning", sh.FAILED, f"Error: {e.message}", name, init)
            self.queue.add_rate_limited(uid)
            return False
        self.event(pod, "Normal", sh.CREATED, f"Created container {name}", name, init)
        try:
            await self.runtime.start_container(cid)
        except RuntimeError_ as e:
            reasons[name] = st.Reason(st.RUN_CONTAINER_ERROR, e.message)
            self.event(pod, "Warning", sh.FAILED, f"Error: {e.message}", name, init)
            self.queue.add_rate_limited(uid)
            return False
        self.event(pod, "Normal", sh.STARTED, f"Started container {name}", name, init)
        reasons.pop(name, None)
        # keep only the newest exited container of this name besides the new one (for lastState)
        for old in runs[1:]:
            if old.state == EXITED:
                await self._remove_container(old)
        return True

    async def _ensure_image(self, pod: dict[str, Any], c: dict[str, Any], init: bool) -> Any:
        """EnsureImageExists: pull policy, pull back-off, Pulling/Pulled/Failed/BackOff events."""
        name, image = c["name"], c.get("image", "")
        uid = _uid(pod)
        reasons = self.reasons.setdefault(uid, {})
        try:
            pull_policy.check_image_name(image)
        except ReferenceError as e:  # never pulled; the pod worker retries after its back-off
            msg = pull_policy.msg_invalid_name(image, e)
            self.event(pod, "Warning", sh.INSPECT_FAILED, msg, name, init)
            self.event(pod, "Warning", sh.FAILED, f"Error: {pull_policy.ERR_INVALID_IMAGE_NAME}", name, init)
            reasons[name] = st.Reason(pull_policy.ERR_INVALID_IMAGE_NAME, msg)
            self.queue.add_after(uid, self.config.backoff_initial)
            return None
        if self.images is None:
            return _NoImage(image)
        policy = c.get("imagePullPolicy") or pull_policy.default_pull_policy(image)
        rec = self.images.status(image)
        if not pull_policy.needs_pull(policy, rec is not None):
            if rec is not None:
                self.event(pod, "Normal", sh.PULLED, pull_policy.msg_present(image), name, init)
                return rec
            msg = pull_policy.msg_never_pull(image)
            self.event(pod, "Warning", sh.ERR_IMAGE_NEVER_PULL, msg, name, init)
            reasons[name] = st.Reason(pull_policy.ERR_IMAGE_NEVER_PULL, msg)
            return None
        key = sh.pull_key(pod, image)
        if self.pull_backoff.is_in_backoff_since_update(key, time.time()):
            msg = pull_policy.msg_backoff(image)
            self.event(pod, "Normal", sh.BACK_OFF, msg, name, init)
            self.event(pod, "Warning", sh.FAILED, f"Error: {pull_policy.ERR_IMAGE_PULL_BACKOFF}", name, init)
            reasons[name] = st.Reason(pull_policy.ERR_IMAGE_PULL_BACKOFF, msg)
            self.queue.add_after(uid, self.pull_backoff.remaining_since_update(key) + 0.01)
            return None
        self.event(pod, "Normal", sh.PULLING, pull_policy.msg_pulling(image), name, init)
        t0 = time.monotonic()
        try:
            pull_for_pod = getattr(self.images, "pull_for_pod", None)
            if pull_for_pod is not None:
                rec = await pull_for_pod(pod, c, None, init)
            else:
                rec = await self.images.pull(image)
        except (RegistryError, ReferenceError, OSError) as e:
            err = e.cri_message() if isinstance(e, RegistryError) else f"rpc error: code = Unknown desc = {e}"
            self.event(pod, "Warning", sh.FAILED, pull_policy.msg_failed(image, err), name, init)
            self.event(pod, "Warning", sh.FAILED, f"Error: {pull_policy.ERR_IMAGE_PULL}", name, init)
            self.pull_backoff.next(key, time.time())
            reasons[name] = st.Reason(pull_policy.ERR_IMAGE_PULL, err)
            self.queue.add_after(uid, self.config.pull_resync)
            return None
        dt = time.monotonic() - t0
        self.event(pod, "Normal", sh.PULLED, pull_policy.msg_pulled(image, dt, dt, rec.size), name, init)
        return rec

    async def _container_config(self, pod: dict[str, Any], c: dict[str, Any], rec: Any, attempt: int,
                                init: bool, sandbox_ips: list[str]) -> ContainerConfig:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        command: list[str] = []
        if c.get("command"):
            command = sh.resolve_command(c, [], [])
        elif c.get("args"):  # args replace the image's CMD but keep its ENTRYPOINT
            mount_info = getattr(self.images, "mount_info", None)
            img = await mount_info(getattr(rec, "id", "") or c.get("image", "")) if mount_info is not None else None
            command = sh.resolve_command(c, list(getattr(img, "entrypoint", None) or []), [])
        # else: empty → the runtime runs the image's ENTRYPOINT + CMD; it also merges the image's env
        env = await self._resolve_env(pod, c, sandbox_ips)
        psc, csc = spec.get("securityContext") or {}, c.get("securityContext") or {}
        caps = csc.get("capabilities") or {}
        shares, quota, period, mem = sh.cpu_memory(c)
        mounts: list[Mount] = list(self.volumes.mounts_for(pod, c, env)) if self.volumes is not None else []
        pod_dir = self._pod_dir(meta.get("uid", ""))
        if pod_dir:
            mounts += await asyncio.to_thread(poddir.pod_file_mounts, pod_dir, pod, c, sandbox_ips)
        user = csc.get("runAsUser", psc.get("runAsUser"))
        group = csc.get("runAsGroup", psc.get("runAsGroup"))
        labels = {LABEL_POD_NAME: meta.get("name", ""), LABEL_POD_NAMESPACE: meta.get("namespace", ""),
                  LABEL_POD_UID: meta.get("uid", ""), LABEL_CONTAINER_NAME: c["name"]}
        if init:
            labels[LABEL_INIT] = "true"
        log_path = logs.container_log_path(self.config.pod_log_dir, meta.get("namespace", ""), meta.get("name", ""),
                                           meta.get("uid", ""), c["name"], attempt)
        return ContainerConfig(
            pod_uid=meta.get("uid", ""), name=c["name"], attempt=attempt,
            image=getattr(rec, "repo_tag", "") or getattr(rec, "name", "") or c.get("image", ""),
            image_ref=getattr(rec, "id", ""),
            command=command, env=env, working_dir=c.get("workingDir") or "",
            mounts=mounts, log_path=log_path, tty=bool(c.get("tty")), stdin=bool(c.get("stdin")),
            stdin_once=bool(c.get("stdinOnce")), user=user, group=group, privileged=bool(csc.get("privileged")),
            read_only_rootfs=bool(csc.get("readOnlyRootFilesystem")),
            capabilities_add=list(caps.get("add") or []), capabilities_drop=list(caps.get("drop") or []),
            cpu_shares=shares, cpu_quota=quota, cpu_period=period, memory_limit=mem, labels=labels,
            annotations={**(meta.get("annotations") or {}),
                         "io.kubernetes.container.restartCount": str(attempt),
                         "io.kubernetes.pod.terminationGracePeriod": str(spec.get("terminationGracePeriodSeconds", 30))},
            termination_message_path=c.get("terminationMessagePath", "/dev/termination-log"))

    async def _resolve_env(self, pod: dict[str, Any], c: dict[str, Any], pod_ips: list[str]) -> dict[str, str]:
        """The container's env (envFrom, env with valueFrom and $(VAR), service variables)."""
        if self.env_resolver is not None:
            return await self.env_resolver(self, pod, c, pod_ips)
        if getattr(self.runtime, "name", "") == "simulated":
            return {}  # nothing runs: skip the lookups (cheap at 10,000 pods)
        env_for = getattr(self.volumes, "env_for", None)
        if env_for is not None:
            services = self.services.list() if self.services is not None else []
            return await env_for(pod, c, services=services, node_ip=self.config.node.ip, pod_ips=pod_ips)
        return {e["name"]: e.get("value", "") for e in c.get("env") or [] if "valueFrom" not in e}

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
        """Graceful deletion: stop with the grace period, tear down, then finish the delete."""
        uid = _uid(pod)
        meta = pod["metadata"]
        await self._kill_pod(uid, pod, sh.grace_period(pod))
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


@dataclass
class _NoImage:
    """No image service (tests): the image is taken as given."""

    name: str
    id: str = ""
    repo_tag: str = ""
    size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
