"""The container runtime interface the kubelet drives (a small, Pythonic CRI).

Two implementations: `oci.OCIRuntime` (real containers: runc or crun, overlayfs, cgroups, a
per-container monitor process that owns stdio and the log file) and `simulated.SimulatedRuntime`
(no processes; for scale tests, like kwok). The kubelet's pod workers, status computation,
restart policy and probes are the same code over either one.

Identity: a pod sandbox is keyed by the pod UID; a container by a runtime-chosen ID
(64 hex chars, shown to users as `<runtime>://<id>` in `containerStatuses[].containerID`).
Runtimes must be restart-safe: after a kubeling restart, `list_sandboxes()` and
`list_containers()` rediscover what is still running (containers survive a kubeling restart).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Protocol

CREATED = "created"
RUNNING = "running"
EXITED = "exited"
UNKNOWN = "unknown"


class RuntimeError_(Exception):
    """A runtime operation failed; `reason` is what the kubelet puts in waiting.reason / events
    (e.g. CreateContainerError, RunContainerError, CreateContainerConfigError)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Mount:
    """A bind (or tmpfs) mount into a container, prepared by the volume manager."""

    container_path: str
    host_path: str
    read_only: bool = False
    kind: str = "bind"  # "bind" | "tmpfs"
    options: list[str] = field(default_factory=list)  # e.g. ["size=64m"] for tmpfs
    sub_path: str = ""


@dataclass
class SandboxConfig:
    pod_uid: str
    name: str
    namespace: str
    hostname: str
    host_network: bool = False
    dns_config: dict[str, Any] = field(default_factory=dict)  # nameservers, searches, options
    port_mappings: list[dict[str, Any]] = field(default_factory=list)  # hostPort entries
    cgroup_parent: str = ""
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class SandboxStatus:
    pod_uid: str
    ready: bool
    ip: str = ""
    ips: list[str] = field(default_factory=list)
    netns_path: str = ""
    created_at: float = 0.0


@dataclass
class ContainerConfig:
    """Everything the runtime needs to create one container of a pod (already resolved by the
    kubelet: env values, image config merged with command/args, mounts)."""

    pod_uid: str
    name: str
    attempt: int  # restart count: log file is <name>/<attempt>.log
    image: str  # the image reference as resolved by the image service
    image_ref: str  # image ID (config digest) used to look up the rootfs layers
    command: list[str]  # final argv (entrypoint+cmd resolved as Docker does)
    env: dict[str, str]
    working_dir: str = ""
    mounts: list[Mount] = field(default_factory=list)
    log_path: str = ""  # /var/log/pods/<ns>_<name>_<uid>/<container>/<attempt>.log (CRI format)
    tty: bool = False
    stdin: bool = False
    stdin_once: bool = False
    user: int | None = None
    group: int | None = None
    privileged: bool = False
    read_only_rootfs: bool = False
    capabilities_add: list[str] = field(default_factory=list)
    capabilities_drop: list[str] = field(default_factory=list)
    cpu_shares: int | None = None
    cpu_quota: int | None = None  # microseconds per cpu_period
    cpu_period: int | None = None
    memory_limit: int | None = None  # bytes
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    termination_message_path: str = "/dev/termination-log"


@dataclass
class ContainerStatus:
    id: str
    pod_uid: str
    name: str
    attempt: int
    state: str  # CREATED | RUNNING | EXITED | UNKNOWN
    image: str = ""
    image_ref: str = ""
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""  # "OOMKilled", "Error", "Completed"
    message: str = ""  # termination message, if any
    log_path: str = ""
    pid: int = 0


@dataclass
class ExecResult:
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""


class StreamSession(Protocol):
    """An interactive exec/attach session (used by `kubectl exec -it`, `attach`, `cp`)."""

    async def write_stdin(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    async def resize(self, width: int, height: int) -> None: ...

    def output(self) -> AsyncIterator[tuple[int, bytes]]:
        """(stream, data): stream 1 = stdout, 2 = stderr."""
        ...

    async def wait(self) -> int: ...


class Runtime(Protocol):
    name: str  # "runc" | "crun" | "simulated": the containerID scheme
    version: str  # reported as nodeInfo.containerRuntimeVersion = f"{name}://{version}"

    async def start(self) -> None:
        """Prepare (state dirs), detect capabilities and re-adopt what survived a restart."""
        ...

    async def run_sandbox(self, config: SandboxConfig) -> SandboxStatus: ...

    async def stop_sandbox(self, pod_uid: str) -> None:
        """Tear down the pod's network and namespaces (containers are already stopped)."""
        ...

    async def sandbox_status(self, pod_uid: str) -> SandboxStatus | None: ...

    async def list_sandboxes(self) -> list[SandboxStatus]: ...

    async def create_container(self, config: ContainerConfig, sandbox: SandboxStatus) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM (or the image's stop signal), then SIGKILL after the grace period."""
        ...

    async def remove_container(self, container_id: str) -> None: ...

    async def container_status(self, container_id: str) -> ContainerStatus | None: ...

    async def list_containers(self, pod_uid: str | None = None) -> list[ContainerStatus]: ...

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> ExecResult:
        """Run a command to completion (exec probes, lifecycle hooks)."""
        ...

    async def exec_stream(self, container_id: str, cmd: list[str], *, stdin: bool, tty: bool) -> StreamSession: ...

    async def attach(self, container_id: str, *, stdin: bool, tty: bool) -> StreamSession: ...

    async def port_forward(self, pod_uid: str, port: int) -> tuple[Any, Any]:
        """An (asyncio.StreamReader, asyncio.StreamWriter) connected to port inside the pod's netns."""
        ...

    async def close(self) -> None: ...
