"""OCI runtime spec (`config.json`) generation: what containerd's CRI plugin builds for a container.

Pure functions: the caller reads the image's /etc/passwd and /etc/group, mounts the rootfs and
passes paths; this module only decides. The result follows containerd/Docker defaults:

* process: argv = command (or image entrypoint + cmd), env = `TERM=xterm` for a tty, image env,
  then `HOSTNAME`, then the pod's env (later wins, order kept); cwd = workingDir or the image's or `/`; user from
  runAsUser/runAsGroup or the image's `User` (names resolved in the rootfs' passwd/group, plus
  the user's supplementary groups); Docker's 14 default capabilities plus add/drop (privileged
  = every capability); no seccomp (Kubernetes' default is Unconfined); noNewPrivileges off
  (allowPrivilegeEscalation defaults to true upstream).
* mounts: proc, /dev tmpfs, devpts, mqueue, sysfs (ro), cgroup (ro), the pod's shared /dev/shm,
  `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf` bind-mounted from the sandbox dir, then the
  kubelet's volume mounts sorted parents-first (a volume at the same path replaces ours).
* namespaces: new pid and mount; network = the pod's netns; ipc and uts = the pod's persistent
  namespaces (bind-mounted nsfs files in the sandbox dir, created at sandbox start), so all
  containers of a pod share them the way they share the pause container's. hostNetwork pods
  use the host's network and uts namespaces (and so no hostname of their own).
* linux.resources: memory limit (+ swap = limit when swap accounting exists), cpu shares from
  requests, quota/period from limits, pids limit; cgroupsPath absolute
  (`/kubeling/pod<uid>/<container id>`) so runc and crun place it the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .base import ContainerConfig, Mount, RuntimeError_

OCI_VERSION = "1.0.2"

# Docker's (and containerd's) default capability set
DEFAULT_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]

# linux/capability.h order, 0..40
ALL_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
            "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
            "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
            "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
            "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
            "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
            "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
            "CAP_CHECKPOINT_RESTORE"]

# containerd's defaults (the same as Docker's)
MASKED_PATHS = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
                "/sys/devices/virtual/powercap"]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# upstream pkg/kubelet/cm (helpers_linux.go)
MIN_SHARES = 2
MAX_SHARES = 262144
SHARES_PER_CPU = 1024
MILLI_CPU_TO_CPU = 1000
QUOTA_PERIOD = 100000
MIN_QUOTA_PERIOD = 1000


def milli_cpu_to_shares(milli_cpu: int) -> int:
    """Requests -> cpu.shares: 250m -> 256, 0 -> 2 (the kernel's minimum, what BestEffort gets)."""
    if milli_cpu == 0:
        return MIN_SHARES
    shares = (milli_cpu * SHARES_PER_CPU) // MILLI_CPU_TO_CPU
    return max(MIN_SHARES, min(MAX_SHARES, shares))


def milli_cpu_to_quota(milli_cpu: int, period: int = QUOTA_PERIOD) -> int:
    """Limits -> cfs_quota_us over `period`: 500m -> 50000 per 100000; at least 1 ms; 0 = none."""
    if milli_cpu == 0:
        return 0
    return max(MIN_QUOTA_PERIOD, (milli_cpu * period) // MILLI_CPU_TO_CPU)


@dataclass
class SandboxPaths:
    """The pod-level things a container joins (made by the runtime's run_sandbox)."""

    hostname: str
    netns_path: str = ""  # "" with host_network
    ipc_ns_path: str = ""  # "" -> a new ipc namespace per container
    uts_ns_path: str = ""  # "" -> a new uts namespace per container
    hosts_file: str = ""
    hostname_file: str = ""
    resolv_file: str = ""
    shm_dir: str = ""
    host_network: bool = False


@dataclass
class ImageConfig:
    """The parts of an image config that shape a container (from ImageMount)."""

    cmd: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""


# ---- process ----

def container_args(config: ContainerConfig, image: ImageConfig) -> list[str]:
    """The kubelet resolves command/args; an empty command falls back to the image's."""
    args = list(config.command) or [*image.entrypoint, *image.cmd]
    if not args:
        raise RuntimeError_("CreateContainerError", "no command specified")
    return args


def merge_env(image_env: list[str], hostname: str, env: dict[str, str], tty: bool = False) -> list[str]:
    """Image env, then HOSTNAME, then the container's env; a later value replaces an earlier
    one in place (containerd's WithEnv). PATH defaults like Docker's when nobody sets it. A tty
    container starts with `TERM=xterm` (containerd's WithTTY), which the image or pod may override."""
    out: dict[str, str] = {"TERM": "xterm"} if tty else {}
    for kv in image_env:
        k, _, v = kv.partition("=")
        out[k] = v
    if hostname:
        out["HOSTNAME"] = hostname
    out.update(env)
    if "PATH" not in out:
        return [DEFAULT_PATH] + [f"{k}={v}" for k, v in out.items()]
    return [f"{k}={v}" for k, v in out.items()]


def _parse_db(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(image_user: str, uid: int | None, gid: int | None, passwd: str, group: str
                 ) -> tuple[int, int, list[int]]:
    """(uid, gid, additional gids) as containerd resolves them.

    runAsUser/runAsGroup win over the image's `User` (`name`, `uid`, `name:group`, `uid:gid`).
    A uid without a group takes its passwd entry's gid (else 0); names must exist."""
    users = _parse_db(passwd)
    groups = _parse_db(group)
    user_part, _, group_part = image_user.partition(":")
    name = ""
    if uid is None:
        if not user_part:
            uid = 0
        elif user_part.isdigit():
            uid = int(user_part)
        else:
            entry = next((u for u in users if u[0] == user_part and len(u) > 3), None)
            if entry is None:
                raise RuntimeError_("CreateContainerError",
                                    f"unable to find user {user_part}: no matching entries in passwd file")
            uid, name = int(entry[2]), entry[0]
            if gid is None and not group_part:
                gid = int(entry[3])
    else:
        group_part = ""  # runAsUser without runAsGroup: the image's group does not apply
    entry = next((u for u in users if len(u) > 3 and u[2] == str(uid)), None)
    if entry is not None:
        name = name or entry[0]
    if gid is None:
        if group_part:
            if group_part.isdigit():
                gid = int(group_part)
            else:
                g = next((g for g in groups if g[0] == group_part and len(g) > 2), None)
                if g is None:
                    raise RuntimeError_("CreateContainerError",
                                        f"unable to find group {group_part}: no matching entries in group file")
                gid = int(g[2])
        else:
            gid = int(entry[3]) if entry is not None else 0
    extra = []
    if name:
        for g in groups:
            if len(g) > 3 and name in g[3].split(",") and int(g[2]) != gid:
                extra.append(int(g[2]))
    return uid, gid, sorted(set(extra))


def capabilities(config: ContainerConfig) -> list[str]:
    """Docker defaults, then add (ALL = every cap), then drop (ALL = none), like containerd."""
    if config.privileged:
        return list(ALL_CAPS)
    norm = [c.upper() if c.upper().startswith("CAP_") else "CAP_" + c.upper() for c in config.capabilities_add]
    drop = [c.upper() if c.upper().startswith("CAP_") else "CAP_" + c.upper() for c in config.capabilities_drop]
    caps = list(DEFAULT_CAPS)
    if "CAP_ALL" in norm:
        caps = list(ALL_CAPS)
    if "CAP_ALL" in drop:
        caps = []
    for c in norm:
        if c != "CAP_ALL" and c not in caps:
            caps.append(c)
    return [c for c in caps if c not in drop]


# ---- mounts ----

def default_mounts(privileged: bool) -> list[dict[str, Any]]:
    ro = "rw" if privileged else "ro"
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", ro]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", ro]},
    ]


def safe_subpath(base: str, sub: str) -> str:
    """`base/sub` with symlinks resolved, refusing anything that escapes `base` (CVE-2017-1002101)."""
    real_base = os.path.realpath(base)
    target = os.path.realpath(os.path.join(real_base, sub))
    if target != real_base and not target.startswith(real_base.rstrip("/") + "/"):
        raise RuntimeError_("CreateContainerConfigError",
                            f"subPath {sub!r} of {base!r} resolves outside the volume")
    return target


def volume_mount(m: Mount) -> dict[str, Any]:
    """One kubelet Mount as an OCI mount (subPath already resolved with `safe_subpath`)."""
    if m.kind == "tmpfs":
        return {"destination": m.container_path, "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "nodev", "mode=1777", *m.options, *(["ro"] if m.read_only else [])]}
    source = safe_subpath(m.host_path, m.sub_path) if m.sub_path else m.host_path
    return {"destination": m.container_path, "type": "bind", "source": source,
            "options": ["rbind", "rprivate", "ro" if m.read_only else "rw", *m.options]}


def _depth(path: str) -> int:
    return len([p for p in os.path.normpath(path).split("/") if p])


def container_mounts(config: ContainerConfig, sandbox: SandboxPaths) -> list[dict[str, Any]]:
    """Defaults, pod files, then volumes parents-first; a volume replaces a default at its path."""
    volumes = [volume_mount(m) for m in config.mounts]
    taken = {os.path.normpath(v["destination"]) for v in volumes}
    mounts = [m for m in default_mounts(config.privileged) if m["destination"] not in taken]
    ro = "ro" if config.read_only_rootfs else "rw"
    pod_files = [("/etc/hosts", sandbox.hosts_file), ("/etc/hostname", sandbox.hostname_file),
                 ("/etc/resolv.conf", sandbox.resolv_file)]
    for dest, src in pod_files:
        if src and dest not in taken:
            mounts.append({"destination": dest, "type": "bind", "source": src, "options": ["rbind", "rprivate", ro]})
    if "/dev/shm" not in taken:
        if sandbox.shm_dir:
            mounts.append({"destination": "/dev/shm", "type": "bind", "source": sandbox.shm_dir,
                           "options": ["rbind", "rprivate", "rw"]})
        else:
            mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                           "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]})
    # stable sort: parents before children, otherwise the order the kubelet gave
    return mounts + sorted(volumes, key=lambda v: _depth(v["destination"]))


# ---- linux ----

def namespaces(sandbox: SandboxPaths) -> list[dict[str, str]]:
    ns: list[dict[str, str]] = [{"type": "pid"}, {"type": "mount"}]
    ns.append({"type": "ipc", "path": sandbox.ipc_ns_path} if sandbox.ipc_ns_path else {"type": "ipc"})
    if not sandbox.host_network:
        ns.append({"type": "uts", "path": sandbox.uts_ns_path} if sandbox.uts_ns_path else {"type": "uts"})
        ns.append({"type": "network", "path": sandbox.netns_path} if sandbox.netns_path else {"type": "network"})
    return ns


def resources(config: ContainerConfig, pids_limit: int | None = None, swap_accounting: bool = False
              ) -> dict[str, Any]:
    res: dict[str, Any] = {"devices": [{"allow": config.privileged, "access": "rwm"}]}
    if config.memory_limit:
        res["memory"] = {"limit": config.memory_limit}
        if swap_accounting:
            res["memory"]["swap"] = config.memory_limit  # memsw = memory: no swap
    cpu: dict[str, Any] = {}
    if config.cpu_shares:
        cpu["shares"] = config.cpu_shares
    if config.cpu_quota:
        cpu["quota"] = config.cpu_quota
        cpu["period"] = config.cpu_period or QUOTA_PERIOD
    if cpu:
        res["cpu"] = cpu
    if pids_limit and pids_limit > 0:
        res["pids"] = {"limit": pids_limit}
    return res


def cgroups_path(pod_uid: str, container_id: str, root: str = "/kubeling") -> str:
    """Absolute, so runc and crun agree (relative paths nest differently in the two)."""
    return f"{pod_uid_cgroup(pod_uid, root)}/{container_id}"


def pod_uid_cgroup(pod_uid: str, root: str = "/kubeling") -> str:
    return f"/{root.strip('/')}/pod{pod_uid}"


# ---- the whole spec ----

def build_spec(config: ContainerConfig, image: ImageConfig, sandbox: SandboxPaths, *, rootfs: str,
               cgroups_path: str, passwd: str = "", group: str = "", pids_limit: int | None = None,
               swap_accounting: bool = False) -> dict[str, Any]:
    """The OCI runtime spec for one container (see the module docstring for the choices)."""
    if not os.path.isabs(rootfs):
        raise ValueError(f"rootfs must be absolute: {rootfs}")
    uid, gid, extra = resolve_user(image.user, config.user, config.group, passwd, group)
    caps = capabilities(config)
    process: dict[str, Any] = {
        "terminal": bool(config.tty),
        "user": {"uid": uid, "gid": gid, **({"additionalGids": extra} if extra else {})},
        "args": container_args(config, image),
        "env": merge_env(image.env, "" if sandbox.host_network else sandbox.hostname, config.env, bool(config.tty)),
        "cwd": config.working_dir or image.working_dir or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": bool(getattr(config, "no_new_privileges", False)),
    }
    linux: dict[str, Any] = {
        "namespaces": namespaces(sandbox),
        "cgroupsPath": cgroups_path,
        "resources": resources(config, pids_limit, swap_accounting),
    }
    if not config.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": bool(config.read_only_rootfs)},
        "mounts": container_mounts(config, sandbox),
        "linux": linux,
        "annotations": {**config.annotations,
                        "io.kubernetes.cri.container-name": config.name,
                        "io.kubernetes.cri.sandbox-uid": config.pod_uid},
    }
    if not sandbox.host_network and sandbox.hostname:
        spec["hostname"] = sandbox.hostname
    return spec
