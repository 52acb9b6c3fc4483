"""A **simulated** container runtime: no processes, no images, no network — for scale tests
(like kwok). It is always labelled as such: container IDs are `simulated://<64 hex>`, the node
reports `containerRuntimeVersion: simulated://0.1.0`, and sim nodes carry the label
`node.kubeling.io/simulated: "true"`.

The kubelet drives it through exactly the same pod sync, restart policy, back-off, status and
event code as the real OCI runtime, so pods walk the real state machine:
Pending → ContainerCreating → Running (1/1 Ready), with pod IPs from the node's pod CIDR
(deterministic: the lowest free address from .2 up, like host-local behind a bridge at .1).
Containers "start" at once and run until stopped. Image pulls are simulated too (instant,
recorded per node, with deterministic digests and sizes), so the Pulling/Pulled events and
`imagePullPolicy` behave as on a real node.

Failure modes are explicit pod annotations (documented here and in README):

    sim.kubeling.io/image-pull-error: "true"        every pull for this pod fails (NotFound):
                                                     ErrImagePull, then ImagePullBackOff
    sim.kubeling.io/crash-after-seconds: "2"         the container exits 2 s after it starts
                                                     (exit code 1 unless exit-code says otherwise)
    sim.kubeling.io/exit-code: "3"                   the container exits with this code
                                                     (right after start unless crash-after-seconds)
    sim.kubeling.io/oom-kill: "true"                 the exit is an OOM kill: 137, reason OOMKilled
    sim.kubeling.io/not-ready: "true"                the container runs but is never Ready
    sim.kubeling.io/start-delay-seconds: "1.5"       creating the container takes this long
                                                     (the pod shows ContainerCreating meanwhile)
    sim.kubeling.io/stop-delay-seconds: "3"          the container needs this long to stop after
                                                     SIGTERM (at most the grace period; the pod
                                                     shows Terminating meanwhile)

A knob applies to every regular container of the pod; `<knob>.<container name>` (e.g.
`sim.kubeling.io/exit-code.init-db: "1"`) targets one container, init containers included
(init containers otherwise complete with exit code 0 right after they start).
Without an annotation, images whose tag is in `MISSING_TAGS` (the tutorial's `nginx:1.161`) or
contains `doesnotexist` are "not found" in the simulated registry.

On the Node: `sim.kubeling.io/stop-heartbeat: "true"` makes that simulated kubelet stop renewing
its Lease and posting node status (to test node failure); removing it resumes the heartbeat.

State is in memory: after `kubeling up` restarts, simulated pods are started again.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import itertools
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ..images.reference import ReferenceError, normalize
from ..images.registry import NotFoundError
from ..images.store import ImageRecord
from .base import (CREATED, EXITED, RUNNING, ContainerConfig, ContainerStatus, ExecResult, RuntimeError_,
                   SandboxConfig, SandboxStatus)

PREFIX = "sim.kubeling.io/"
IMAGE_PULL_ERROR = "image-pull-error"
CRASH_AFTER = "crash-after-seconds"
EXIT_CODE = "exit-code"
OOM_KILL = "oom-kill"
NOT_READY = "not-ready"
START_DELAY = "start-delay-seconds"
STOP_DELAY = "stop-delay-seconds"
STOP_HEARTBEAT = PREFIX + "stop-heartbeat"
NODE_LABEL = "node.kubeling.io/simulated"

MISSING_TAGS = {"docker.io/library/nginx:1.161"}

# Labels the kubelet puts on containers (upstream's io.kubernetes.* plus one of ours).
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"
LABEL_INIT = "io.kubeling.container.init"

VERSION = "0.1.0"


def knob(annotations: dict[str, str], name: str, container: str, init: bool = False) -> str | None:
    """The value of a failure knob for one container (`<knob>.<container>` wins)."""
    v = annotations.get(f"{PREFIX}{name}.{container}")
    if v is not None or init:
        return v
    return annotations.get(PREFIX + name)


def _float(v: str | None, default: float = 0.0) -> float:
    try:
        return float(v) if v is not None else default
    except ValueError:
        return default


def _truthy(v: str | None) -> bool:
    return (v or "").strip().lower() in ("true", "1", "yes")


def _digest(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("/".join(parts).encode()).hexdigest()


class SimulatedImageService:
    """Image pulls without a registry: instant, remembered per node, deterministic digests."""

    simulated = True

    def __init__(self) -> None:
        self._images: dict[str, ImageRecord] = {}

    def status(self, image: str) -> ImageRecord | None:
        try:
            return self._images.get(str(normalize(image)))
        except ReferenceError:
            return None

    async def pull(self, image: str, auth: Any = None) -> ImageRecord:
        return self._pull(image, fail=False)

    async def pull_for_pod(self, pod: dict[str, Any], container: dict[str, Any], auth: Any = None,
                           init: bool = False) -> ImageRecord:
        """A pull that honours the pod's `image-pull-error` knob."""
        ann = (pod.get("metadata") or {}).get("annotations") or {}
        return self._pull(container.get("image", ""), fail=_truthy(knob(ann, IMAGE_PULL_ERROR, container.get("name", ""), init)))

    def _pull(self, image: str, fail: bool) -> ImageRecord:
        name = str(normalize(image))
        if fail or name in MISSING_TAGS or "doesnotexist" in name:
            raise NotFoundError(f'failed to pull and unpack image "{name}": failed to resolve reference '
                                f'"{name}": {name}: not found')
        rec = self._images.get(name)
        if rec is None:
            target = _digest("manifest", name)
            size = 10_000_000 + int(target[7:15], 16) % 90_000_000
            rec = ImageRecord(name=name, target=target, target_media_type="application/vnd.oci.image.index.v1+json",
                              manifest=target, config=_digest("config", name), size=size, created=time.time())
            self._images[name] = rec
        return rec

    def list(self) -> list[ImageRecord]:
        return list(self._images.values())

    async def close(self) -> None:
        return None


class IPAllocator:
    """Lowest free host address of a CIDR from .2 (.1 is the bridge), stable per pod."""

    def __init__(self, cidr: str) -> None:
        self.net = ipaddress.ip_network(cidr)
        self._by_owner: dict[str, str] = {}
        self._used: set[int] = set()
        self._first = int(self.net.network_address) + 2
        self._last = int(self.net.broadcast_address) - 1

    def allocate(self, owner: str) -> str:
        if owner in self._by_owner:
            return self._by_owner[owner]
        for n in range(self._first, self._last + 1):
            if n not in self._used:
                self._used.add(n)
                ip = str(ipaddress.ip_address(n))
                self._by_owner[owner] = ip
                return ip
        raise RuntimeError_("FailedCreatePodSandBox", f"no IP addresses available in range set: {self.net}")

    def release(self, owner: str) -> None:
        ip = self._by_owner.pop(owner, None)
        if ip is not None:
            self._used.discard(int(ipaddress.ip_address(ip)))


@dataclass
class _Container:
    status: ContainerStatus
    config: ContainerConfig
    annotations: dict[str, str] = field(default_factory=dict)
    init: bool = False
    timer: asyncio.TimerHandle | None = None


class SimulatedRuntime:
    """The Runtime protocol over in-memory state (see the module docstring for the knobs)."""

    name = "simulated"
    version = VERSION

    def __init__(self, pod_cidr: str = "10.244.0.0/24", node_name: str = "") -> None:
        self.node_name = node_name
        self.ips = IPAllocator(pod_cidr)
        self.images = SimulatedImageService()
        self._sandboxes: dict[str, SandboxStatus] = {}
        self._containers: dict[str, _Container] = {}
        self._ids = itertools.count(1)
        self._on_event: Callable[[str], None] | None = None

    # ---- events (optional runtime capability: the kubelet skips relisting when present) ----
    def set_event_handler(self, handler: Callable[[str], None]) -> None:
        """`handler(pod_uid)` is called when a container of that pod changes state on its own."""
        self._on_event = handler

    def _emit(self, pod_uid: str) -> None:
        if self._on_event is not None:
            self._on_event(pod_uid)

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for c in self._containers.values():
            if c.timer is not None:
                c.timer.cancel()

    # ---- sandboxes ----------------------------------------------------------------------------
    async def run_sandbox(self, config: SandboxConfig) -> SandboxStatus:
        sb = self._sandboxes.get(config.pod_uid)
        if sb is not None and sb.ready:
            return sb
        ip = "" if config.host_network else self.ips.allocate(config.pod_uid)
        sb = SandboxStatus(pod_uid=config.pod_uid, ready=True, ip=ip, ips=[ip] if ip else [], created_at=time.time())
        self._sandboxes[config.pod_uid] = sb
        return sb

    async def stop_sandbox(self, pod_uid: str) -> None:
        sb = self._sandboxes.pop(pod_uid, None)
        if sb is not None:
            self.ips.release(pod_uid)

    async def sandbox_status(self, pod_uid: str) -> SandboxStatus | None:
        return self._sandboxes.get(pod_uid)

    async def list_sandboxes(self) -> list[SandboxStatus]:
        return list(self._sandboxes.values())

    # ---- containers ---------------------------------------------------------------------------
    async def create_container(self, config: ContainerConfig, sandbox: SandboxStatus) -> str:
        init = config.labels.get(LABEL_INIT) == "true"
        delay = _float(knob(config.annotations, START_DELAY, config.name, init))
        if delay > 0:
            await asyncio.sleep(delay)
        if config.pod_uid not in self._sandboxes:
            raise RuntimeError_("CreateContainerError", f"pod sandbox {config.pod_uid} not found")
        cid = hashlib.sha256(f"{self.node_name}/{config.pod_uid}/{config.name}/{config.attempt}/{next(self._ids)}"
                             .encode()).hexdigest()
        st = ContainerStatus(id=cid, pod_uid=config.pod_uid, name=config.name, attempt=config.attempt, state=CREATED,
                             image=config.image, image_ref=config.image_ref, created_at=time.time(),
                             log_path=config.log_path)
        self._containers[cid] = _Container(st, config, dict(config.annotations), init)
        return cid

    def _get(self, cid: str) -> _Container:
        c = self._containers.get(cid)
        if c is None:
            raise RuntimeError_("NotFound", f"container {cid} not found")
        return c

    async def start_container(self, container_id: str) -> None:
        c = self._get(container_id)
        c.status.state = RUNNING
        c.status.started_at = time.time()
        ann, name = c.annotations, c.config.name
        exit_code = knob(ann, EXIT_CODE, name, c.init)
        crash_after = knob(ann, CRASH_AFTER, name, c.init)
        oom = _truthy(knob(ann, OOM_KILL, name, c.init))
        if c.init and exit_code is None and crash_after is None and not oom:
            exit_code = "0"  # init containers complete
        if exit_code is None and crash_after is None and not oom:
            return
        code = 137 if oom else int(_float(exit_code, 1))
        reason = "OOMKilled" if oom else ""
        delay = _float(crash_after)
        loop = asyncio.get_running_loop()
        c.timer = loop.call_later(max(delay, 0.0), self._exit, container_id, code, reason)

    def _exit(self, cid: str, code: int, reason: str) -> None:
        c = self._containers.get(cid)
        if c is None or c.status.state != RUNNING:
            return
        c.timer = None
        self._finish(c, code, reason)
        self._emit(c.status.pod_uid)

    def _finish(self, c: _Container, code: int, reason: str = "") -> None:
        c.status.state = EXITED
        c.status.exit_code = code
        c.status.reason = reason or ("Completed" if code == 0 else "Error")
        c.status.finished_at = time.time()

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        """A simulated process honours SIGTERM (after `stop-delay-seconds`): exit 0 if it stopped
        within the grace period, else it is killed: 137."""
        c = self._containers.get(container_id)
        if c is None or c.status.state == EXITED:
            return
        delay = _float(knob(c.annotations, STOP_DELAY, c.config.name, c.init))
        if delay > 0 and c.status.state == RUNNING:
            await asyncio.sleep(min(delay, max(grace_seconds, 0.0)))
            if c.status.state == EXITED:
                return
            if delay > grace_seconds:
                grace_seconds = 0  # SIGKILL at the end of the grace period
        if c.timer is not None:
            c.timer.cancel()
            c.timer = None
        if c.status.state == CREATED:
            self._finish(c, 0)
            return
        self._finish(c, 0 if grace_seconds > 0 else 137)

    async def remove_container(self, container_id: str) -> None:
        c = self._containers.pop(container_id, None)
        if c is not None and c.timer is not None:
            c.timer.cancel()

    async def container_status(self, container_id: str) -> ContainerStatus | None:
        c = self._containers.get(container_id)
        return replace(c.status) if c else None

    async def list_containers(self, pod_uid: str | None = None) -> list[ContainerStatus]:
        return [replace(c.status) for c in self._containers.values() if pod_uid is None or c.status.pod_uid == pod_uid]

    def readiness(self, container_id: str) -> bool | None:
        """The `not-ready` knob: False for a container that should never become Ready."""
        c = self._containers.get(container_id)
        if c is None:
            return None
        return False if _truthy(knob(c.annotations, NOT_READY, c.config.name, c.init)) else None

    # ---- streaming: nothing runs, so nothing to talk to ------------------------------------
    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> ExecResult:
        self._get(container_id)
        return ExecResult(exit_code=0)

    async def exec_stream(self, container_id: str, cmd: list[str], *, stdin: bool, tty: bool) -> Any:
        raise RuntimeError_("NotSupported", "simulated containers have no processes to exec into")

    async def attach(self, container_id: str, *, stdin: bool, tty: bool) -> Any:
        raise RuntimeError_("NotSupported", "simulated containers have no processes to attach to")

    async def port_forward(self, pod_uid: str, port: int) -> tuple[Any, Any]:
        raise RuntimeError_("NotSupported", "simulated pods have no network namespace to forward to")
