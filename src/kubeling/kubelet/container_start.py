"""Starting one container of a pod (upstream kuberuntime_container.go startContainer and
image_manager.go EnsureImageExists): the image (pull policy, pull back-off), the container's
config (command, env, mounts, security, resources, labels), then create and start, with
upstream's events and waiting reasons.

`ContainerStart` is a part of `Kubelet` (kubelet.py), kept in its own module; it uses the
kubelet's runtime, image service, volume manager, event recorder, queue and back-offs.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from ..api import errors
from . import poddir
from . import status as st
from . import sync_helpers as sh
from .backoff import Backoff
from .images import policy as pull_policy
from .images.reference import ReferenceError
from .images.registry import RegistryError
from .runtime import logs
from .runtime.base import EXITED, ContainerConfig, ContainerStatus, Mount, Runtime, RuntimeError_, SandboxStatus

LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"
LABEL_INIT = "io.kubeling.container.init"


class ContainerStart:
    """The container start steps of the Kubelet (mixed into it)."""

    runtime: Runtime
    images: Any
    volumes: Any
    services: Any
    config: Any  # KubeletConfig
    env_resolver: Callable[..., Awaitable[dict[str, str]]] | None
    reasons: dict[str, dict[str, st.Reason]]
    pull_backoff: Backoff
    queue: Any
    _image_ids: dict[str, str]
    event: Callable[..., None]
    _pod_dir: Callable[[str], str]
    _remove_container: Callable[[ContainerStatus], Awaitable[None]]

    async def _start_container(self, pod: dict[str, Any], c: dict[str, Any], sandbox: SandboxStatus, attempt: int,
                               init: bool, runs: list[ContainerStatus]) -> bool:
        """startContainer: image → config → create → start, with upstream's events and reasons."""
        name = c["name"]
        uid = sh.pod_uid(pod)
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
        uid = sh.pod_uid(pod)
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


@dataclass
class _NoImage:
    """No image service (tests): the image is taken as given."""

    name: str
    id: str = ""
    repo_tag: str = ""
    size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
