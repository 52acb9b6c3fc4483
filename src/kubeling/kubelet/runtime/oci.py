"""The real container runtime: OCI bundles run by runc (default) or crun, one monitor per container.

Layout (all under the node's data dir, so a restarted kubeling finds everything again):

    DATA/agent/containers/<id>/   config.json (the OCI bundle), rootfs/ (overlay mount),
                                  upper/ work/ (overlay), meta.json (what the kubelet asked for),
                                  monitor.json, state.json (written by the monitor), monitor.sock
    DATA/agent/sandboxes/<uid>/   sandbox.json, hosts, hostname, resolv.conf, shm/ (tmpfs),
                                  ns/ipc ns/uts (persistent namespaces, bind-mounted nsfs files)
    /run/kubeling/<hash of DATA>/<runc|crun>   the OCI runtime's own state (--root)

A pod sandbox is a network namespace (made by the pod network, see `PodNetwork`), plus an IPC
and a UTS namespace kept alive as bind-mounted files (no pause process), a /dev/shm tmpfs, and
the /etc files. Every container of the pod joins them by path.

A container is an overlay mount of its image's layers plus a bundle, started by a detached
monitor process (`monitor.py`): `runc create` at create_container (state CREATED), `runc
start` at start_container (RUNNING); the monitor writes the CRI log and, when init exits,
the exit code, times and OOM kill to `state.json` (EXITED). Status reads only those files
(and checks that the monitor is alive), so it is cheap and survives kubeling restarts.

crun 1.8.1 refuses hybrid cgroup layouts (v1 controllers + a cgroup2 mount); `create` then runs
under `unshare -m` with the cgroup2 mount removed in that private mount namespace only.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import hashlib
import json
import logging
import os
import pty
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from typing import Any, AsyncIterator, Protocol

from .. import subproc
from . import cgroups
from .base import (CREATED, EXITED, RUNNING, UNKNOWN, ContainerConfig, ContainerStatus, ExecResult, Mount,
                   RuntimeError_, SandboxConfig, SandboxStatus)
from .bundle import ImageConfig, SandboxPaths, build_spec, cgroups_path, pod_uid_cgroup
from .monitor import F_CLOSE_STDIN, F_EXIT, F_RESIZE, F_STDIN, FRAME, proc_start_time

log = logging.getLogger("kubeling.kubelet.runtime")

MONITOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "monitor.py")
NETNS_DIR = "/var/run/netns"
CRUN_WRAPPER = 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$0" "$@"'
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND = 2, 4, 8, 4096
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


# ---- small system helpers ----

def _mount(source: str, target: str, fstype: str, flags: int = 0, data: str = "") -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                   data.encode() if data else None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {fstype} on {target}: {os.strerror(e)}")


def _umount(target: str) -> None:
    """Unmount (lazily if busy); no error if nothing is mounted there."""
    for flags in (0, MNT_DETACH):
        if _libc.umount2(target.encode(), flags) == 0:
            return
        e = ctypes.get_errno()
        if e in (errno.EINVAL, errno.ENOENT):
            return
    log.warning("umount %s failed: %s", target, os.strerror(ctypes.get_errno()))


def _setns(fd: int, nstype: int) -> None:
    if _libc.setns(fd, nstype) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_json(path: str, obj: Any) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def _read_text(path: str, limit: int = 1 << 20) -> str:
    """A file from an image rootfs; refuses symlinks (they would resolve on the host)."""
    try:
        if os.path.islink(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read(limit)
    except OSError:
        return ""


async def _run(argv: list[str], timeout: float = 30, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    try:
        return await subproc.run(argv, stdin, None, timeout)
    except subproc.Timeout:
        raise asyncio.TimeoutError(f"{argv[0]} timed out after {timeout}s") from None


def parse_version(text: str) -> str:
    """`runc version 1.1.5+ds1` / `crun version 1.8.1` -> `1.1.5` / `1.8.1`."""
    m = re.search(r"version\s+(\S+)", text)
    return m.group(1).split("+", 1)[0] if m else "unknown"


# ---- the pod network seam ----

class PodNetwork(Protocol):
    """What run_sandbox needs from the network module: a netns with the pod's interfaces."""

    async def setup(self, config: SandboxConfig) -> tuple[str, list[str]]:
        """Create the pod's netns and network; returns (netns path, pod IPs)."""
        ...

    async def teardown(self, pod_uid: str, netns_path: str) -> None: ...


class LoopbackNetwork:
    """A netns with only `lo` up and no pod IP: the stand-in until the CNI network module
    (`kubeling.kubelet.network`) is passed as `network=`. Pods can still be reached through
    port_forward (which connects inside the netns)."""

    def __init__(self, prefix: str = "kubeling-") -> None:
        self.prefix = prefix

    def name(self, pod_uid: str) -> str:
        return self.prefix + pod_uid.replace("-", "").lower()[:12]

    async def setup(self, config: SandboxConfig) -> tuple[str, list[str]]:
        name = self.name(config.pod_uid)
        path = os.path.join(NETNS_DIR, name)
        if not os.path.exists(path):
            rc, _, err = await _run(["ip", "netns", "add", name])
            if rc != 0:
                raise RuntimeError_("FailedCreatePodSandBox", f"ip netns add {name}: {err.decode().strip()}")
        rc, _, err = await _run(["ip", "-n", name, "link", "set", "lo", "up"])
        if rc != 0:
            raise RuntimeError_("FailedCreatePodSandBox", f"loopback up in {name}: {err.decode().strip()}")
        return path, []

    async def teardown(self, pod_uid: str, netns_path: str) -> None:
        if netns_path and os.path.exists(netns_path):
            await _run(["ip", "netns", "del", os.path.basename(netns_path)])


class CNINetwork:
    """Adapter for `kubeling.kubelet.network.PodNetwork` (CNI bridge + host-local + loopback +
    portmap): its `add`/`remove` as this runtime's `setup`/`teardown`, errors as RuntimeError_."""

    def __init__(self, podnet: Any) -> None:
        self.podnet = podnet

    async def setup(self, config: SandboxConfig) -> tuple[str, list[str]]:
        try:
            return await self.podnet.add(config.pod_uid, config.namespace, config.name, config.port_mappings)
        except Exception as e:
            if hasattr(e, "reason"):
                raise RuntimeError_(getattr(e, "reason"), getattr(e, "message", str(e))) from e
            raise

    async def teardown(self, pod_uid: str, netns_path: str) -> None:
        try:
            await self.podnet.remove(pod_uid)
        except Exception as e:
            if hasattr(e, "reason"):
                raise RuntimeError_(getattr(e, "reason"), getattr(e, "message", str(e))) from e
            raise


def as_pod_network(network: Any) -> PodNetwork:
    """Accept this module's PodNetwork protocol or the network module's PodNetwork."""
    if network is None:
        return LoopbackNetwork()
    if hasattr(network, "setup") and hasattr(network, "teardown"):
        return network  # type: ignore[no-any-return]
    if hasattr(network, "add") and hasattr(network, "remove"):
        return CNINetwork(network)
    raise TypeError(f"not a pod network: {network!r}")


# ---- pod files ----

def hosts_file(hostname: str, ips: list[str]) -> str:
    """The kubelet's managed /etc/hosts (pkg/kubelet/kubelet_pods.go managedHostsFileContent)."""
    lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
             "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix",
             "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
    lines += [f"{ip}\t{hostname}" for ip in ips]
    return "\n".join(lines) + "\n"


def resolv_conf(dns: dict[str, Any], host_resolv: str = "/etc/resolv.conf") -> str:
    """resolv.conf from the kubelet's DNS config ({nameservers|servers, searches, options});
    an empty config (dnsPolicy Default) copies the host's."""
    servers = dns.get("nameservers") or dns.get("servers") or []
    searches = dns.get("searches") or []
    options = dns.get("options") or []
    if not (servers or searches or options):
        return _read_text(host_resolv) or ""
    out = []
    if searches:
        out.append("search " + " ".join(searches))
    out += [f"nameserver {s}" for s in servers]
    if options:
        out.append("options " + " ".join(o if isinstance(o, str) else
                                          (f"{o['name']}:{o['value']}" if o.get("value") else o["name"])
                                          for o in options))
    return "\n".join(out) + "\n"


# ---- sessions ----

class ProcessSession:
    """exec without a tty: a `runc exec` child with pipes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def write_stdin(self, data: bytes) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()

    async def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    async def resize(self, width: int, height: int) -> None:
        return None

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        q: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()

        async def pump(stream: asyncio.StreamReader | None, n: int) -> None:
            while stream is not None:
                data = await stream.read(65536)
                if not data:
                    break
                await q.put((n, data))
            await q.put(None)

        tasks = [asyncio.create_task(pump(self.proc.stdout, 1)), asyncio.create_task(pump(self.proc.stderr, 2))]
        done = 0
        try:
            while done < 2:
                item = await q.get()
                if item is None:
                    done += 1
                else:
                    yield item
        finally:
            for t in tasks:
                t.cancel()

    async def wait(self) -> int:
        return await self.proc.wait()


class PtySession:
    """exec with a tty: `runc exec -t` runs on the slave side of a pty we allocate (runc then
    proxies it to the container's own pty); we talk to the master."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int) -> None:
        self.proc = proc
        self.master = master
        self._closed = False

    async def write_stdin(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._closed:
            try:
                n = os.write(self.master, view)
                view = view[n:]
            except BlockingIOError:
                await asyncio.sleep(0.01)

    async def close_stdin(self) -> None:
        await self.write_stdin(b"\x04")

    async def resize(self, width: int, height: int) -> None:
        import fcntl
        import termios

        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        if self.proc.returncode is None:
            try:
                self.proc.send_signal(signal.SIGWINCH)  # runc copies the size to the container's pty
            except ProcessLookupError:
                pass

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[bytes | None] = asyncio.Queue()

        def readable() -> None:
            try:
                data = os.read(self.master, 65536)
            except BlockingIOError:
                return
            except OSError:  # EIO: every slave fd closed
                data = b""
            if not data:
                loop.remove_reader(self.master)
            q.put_nowait(data or None)

        loop.add_reader(self.master, readable)
        try:
            while (item := await q.get()) is not None:
                yield 1, item
        finally:
            loop.remove_reader(self.master)

    async def wait(self) -> int:
        rc = await self.proc.wait()
        return rc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.master)


class AttachSession:
    """attach: a connection to the monitor, which multiplexes the container's stdio."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict[str, Any]) -> None:
        self.reader, self.writer = reader, writer
        self.exit_code: int | None = None
        self._done = asyncio.Event()
        self.state = state

    async def _send(self, kind: int, body: bytes) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(FRAME.pack(kind, len(body)) + body)
        try:
            await self.writer.drain()
        except ConnectionError:
            pass

    async def write_stdin(self, data: bytes) -> None:
        await self._send(F_STDIN, data)

    async def close_stdin(self) -> None:
        await self._send(F_CLOSE_STDIN, b"")

    async def resize(self, width: int, height: int) -> None:
        await self._send(F_RESIZE, json.dumps({"width": width, "height": height}).encode())

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        try:
            while True:
                head = await self.reader.readexactly(FRAME.size)
                kind, n = FRAME.unpack(head)
                body = await self.reader.readexactly(n) if n else b""
                if kind == F_EXIT:
                    self.exit_code = int(body or b"0")
                    break
                yield kind, body
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._done.set()

    async def wait(self) -> int:
        await self._done.wait()
        self.writer.close()
        return self.exit_code if self.exit_code is not None else 0


# ---- the runtime ----

class Zygote:
    """A pre-started Python that forks container monitors (`monitor.py --zygote`): a fork costs
    a few ms where starting Python and importing costs 50-300 ms. Single-threaded by design."""

    def __init__(self, log_path: str) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.lock = threading.Lock()

    def ensure(self) -> None:
        with self.lock:
            self._ensure()

    def _ensure(self) -> None:
        if self.proc is not None and self.proc.poll() is None and self.sock is not None:
            return
        self._stop()
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with open(self.log_path, "ab") as logf:
                self.proc = subprocess.Popen([sys.executable, "-S", "-E", MONITOR, "--zygote", str(theirs.fileno())],
                                             pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=logf,
                                             stderr=logf, start_new_session=True)
        finally:
            theirs.close()
        self.sock = ours

    def spawn(self, cdir: str, ready_fd: int) -> bool:
        """Ask for a monitor of `cdir` reporting on `ready_fd`; False if the zygote is unusable."""
        with self.lock:
            for _ in range(2):
                try:
                    self._ensure()
                    assert self.sock is not None
                    socket.send_fds(self.sock, [cdir.encode()], [ready_fd])
                    return True
                except OSError as e:
                    log.warning("monitor zygote: %s; restarting it", e)
                    self._stop()
            return False

    def _stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)  # it exits when its socket closes
            except subprocess.TimeoutExpired:
                self.proc.kill()  # by PID: the process we started
                self.proc.wait()
            self.proc = None

    def close(self) -> None:
        with self.lock:
            self._stop()


class OCIRuntime:
    """runc/crun runtime over the node's data dir (see the module docstring)."""

    def __init__(self, data_dir: str, *, runtime: str = "runc", images: Any = None, network: Any = None,
                 cgroup_root: str = "/kubeling", state_root: str = "", pids_limit: int | None = None,
                 binary: str = "") -> None:
        if runtime not in ("runc", "crun"):
            raise ValueError(f"unknown OCI runtime {runtime!r} (runc or crun)")
        self.name = runtime
        self.version = "unknown"
        self.data_dir = os.path.abspath(data_dir)
        self.images = images
        self.network: PodNetwork = as_pod_network(network)
        self.cgroup_root = "/" + cgroup_root.strip("/")
        self.pids_limit = pids_limit
        self.binary = binary or shutil.which(runtime) or ""
        agent = os.path.join(self.data_dir, "agent")
        self.containers_dir = os.path.join(agent, "containers")
        self.sandboxes_dir = os.path.join(agent, "sandboxes")
        key = hashlib.sha256(self.data_dir.encode()).hexdigest()[:12]
        self.state_root = state_root or os.path.join("/run/kubeling", key, runtime)
        self.layout = cgroups.detect()
        self.swap_accounting = False
        self.base_cmd: list[str] = []
        self.create_cmd: list[str] = []
        self.zygote = Zygote(os.path.join(self.containers_dir, "zygote.log"))
        self._sandboxes: dict[str, dict[str, Any]] = {}  # pod uid -> sandbox.json
        self._metas: dict[str, dict[str, Any]] = {}  # container id -> meta.json
        self._by_pod: dict[str, set[str]] = {}  # pod uid -> container ids
        self._scanned = False
        self._cache_lock = threading.Lock()

    # ---- lifecycle ----
    async def start(self) -> None:
        """Check the runtime works here, make the dirs, and report what survived a restart."""
        self.check()
        for d in (self.containers_dir, self.sandboxes_dir, self.state_root):
            os.makedirs(d, exist_ok=True)
        rc, out, err = await _run([self.binary, "--version"], timeout=10)
        self.version = parse_version((out or err).decode(errors="replace"))
        mem_root = self.layout.v1.get("memory", "")
        self.swap_accounting = bool(mem_root) and os.path.exists(os.path.join(mem_root, "memory.memsw.limit_in_bytes"))
        await subproc.blocking(self.zygote.ensure)
        alive = [s for s in await self.list_containers() if s.state in (CREATED, RUNNING)]
        log.info("runtime %s %s (cgroups %s), state %s; %d container(s) still running", self.name, self.version,
                 self.layout.version, self.state_root, len(alive))

    def check(self) -> None:
        """Raise a clear RuntimeError_ when the chosen runtime cannot work on this machine."""
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise RuntimeError_("RuntimeNotReady", f"OCI runtime {self.name!r} not found on PATH "
                                f"(install it: apt-get install -y {self.name})")
        self.base_cmd = [self.binary, "--root", self.state_root]
        self.create_cmd = list(self.base_cmd)
        if self.name == "crun" and self.layout.version == cgroups.HYBRID:
            # crun refuses hybrid layouts: create it where the cgroup2 mount is not visible
            unshare = shutil.which("unshare")
            if not unshare:
                raise RuntimeError_("RuntimeNotReady", "crun cannot run on this hybrid cgroup v1+v2 machine "
                                    "without `unshare` (util-linux) to hide the cgroup2 mount; use runc")
            self.create_cmd = [unshare, "-m", "--propagation", "private", "sh", "-c", CRUN_WRAPPER, *self.base_cmd]
            log.info("crun: hybrid cgroup layout, creating containers under `unshare -m` without %s",
                     self.layout.unified)
        if self.layout.version == cgroups.V2 and self.name == "runc" and not self.layout.unified:
            raise RuntimeError_("RuntimeNotReady", "no cgroup filesystem mounted")

    async def close(self) -> None:
        """Stop the zygote; containers, their monitors and sandboxes keep running (re-adopted by
        the next start)."""
        await subproc.blocking(self.zygote.close)

    # ---- sandboxes ----
    def _sandbox_dir(self, pod_uid: str) -> str:
        return os.path.join(self.sandboxes_dir, pod_uid)

    def _sandbox_record(self, pod_uid: str) -> dict[str, Any] | None:
        """sandbox.json, kept in memory once read or written (only this runtime writes it)."""
        rec = self._sandboxes.get(pod_uid)
        if rec is None:
            rec = _read_json(os.path.join(self._sandbox_dir(pod_uid), "sandbox.json"))
            if rec is not None:
                self._sandboxes[pod_uid] = rec
        return rec

    def _sandbox_status(self, rec: dict[str, Any]) -> SandboxStatus:
        ns = rec.get("netns_path", "")
        ready = rec.get("host_network", False) or (bool(ns) and os.path.exists(ns))
        return SandboxStatus(pod_uid=rec["pod_uid"], ready=bool(ready), ip=(rec.get("ips") or [""])[0],
                             ips=list(rec.get("ips") or []), netns_path=ns, created_at=rec.get("created_at", 0.0))

    async def run_sandbox(self, config: SandboxConfig) -> SandboxStatus:
        rec = self._sandbox_record(config.pod_uid)
        if rec is not None and self._sandbox_status(rec).ready:
            return self._sandbox_status(rec)
        d = self._sandbox_dir(config.pod_uid)
        await subproc.blocking(os.makedirs, os.path.join(d, "ns"), exist_ok=True)
        netns, ips = "", []
        hostname = socket.gethostname() if config.host_network else config.hostname or config.name
        try:
            if not config.host_network:
                netns, ips = await self.network.setup(config)
            else:
                ips = _host_ips()
            await self._make_pod_namespaces(d, config.host_network)
            await subproc.blocking(self._sandbox_files, d, config, hostname, ips)
        except BaseException:
            await self._teardown_sandbox(config.pod_uid, netns)
            raise
        rec = {"pod_uid": config.pod_uid, "name": config.name, "namespace": config.namespace, "hostname": hostname,
               "host_network": config.host_network, "netns_path": netns, "ips": ips, "created_at": time.time(),
               "labels": config.labels}
        await subproc.blocking(_write_json, os.path.join(d, "sandbox.json"), rec)
        self._sandboxes[config.pod_uid] = rec
        return self._sandbox_status(rec)

    @staticmethod
    def _sandbox_files(d: str, config: SandboxConfig, hostname: str, ips: list[str]) -> None:
        """/dev/shm (a tmpfs) and the pod's /etc/hostname, /etc/resolv.conf, /etc/hosts."""
        shm = os.path.join(d, "shm")
        os.makedirs(shm, exist_ok=True)
        if not os.path.ismount(shm):
            _mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")
        files = {"hostname": hostname + "\n", "resolv.conf": resolv_conf(config.dns_config),
                 "hosts": _read_text("/etc/hosts") if config.host_network else hosts_file(hostname, ips)}
        for name, text in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)

    async def _make_pod_namespaces(self, d: str, host_network: bool) -> None:
        """IPC and UTS namespaces that outlive any process: `unshare --ipc=FILE` bind-mounts the
        new namespace onto FILE (what `ip netns` does for network namespaces)."""
        def prepare() -> list[str]:
            args = []
            for kind in (["ipc"] if host_network else ["ipc", "uts"]):
                path = os.path.join(d, "ns", kind)
                if os.path.ismount(path):
                    continue
                open(path, "a").close()
                args.append(f"--{kind}={path}")
            return args

        args = await subproc.blocking(prepare)
        if args:
            rc, _, err = await _run(["unshare", *args, "true"])
            if rc != 0:
                raise RuntimeError_("FailedCreatePodSandBox", f"pod ipc/uts namespaces: {err.decode().strip()}")

    async def stop_sandbox(self, pod_uid: str) -> None:
        rec = self._sandbox_record(pod_uid)
        await self._teardown_sandbox(pod_uid, (rec or {}).get("netns_path", ""))

    async def _teardown_sandbox(self, pod_uid: str, netns: str) -> None:
        d = self._sandbox_dir(pod_uid)
        self._sandboxes.pop(pod_uid, None)
        if netns:
            try:
                await self.network.teardown(pod_uid, netns)
            except Exception as e:  # keep tearing down the rest
                log.warning("pod %s: network teardown: %s", pod_uid, e)

        def local() -> None:
            for p in (os.path.join(d, "ns", "ipc"), os.path.join(d, "ns", "uts"), os.path.join(d, "shm")):
                _umount(p)
            shutil.rmtree(d, ignore_errors=True)
            cgroups.remove_empty(self.layout, pod_uid_cgroup(pod_uid, self.cgroup_root))

        await subproc.blocking(local)
        self._sandboxes.pop(pod_uid, None)

    async def sandbox_status(self, pod_uid: str) -> SandboxStatus | None:
        rec = self._sandbox_record(pod_uid)
        return self._sandbox_status(rec) if rec else None

    async def list_sandboxes(self) -> list[SandboxStatus]:
        out = []
        for uid in sorted(os.listdir(self.sandboxes_dir)) if os.path.isdir(self.sandboxes_dir) else []:
            rec = self._sandbox_record(uid)
            if rec:
                out.append(self._sandbox_status(rec))
        return out

    def _sandbox_paths(self, pod_uid: str, sandbox: SandboxStatus) -> SandboxPaths:
        rec = self._sandbox_record(pod_uid)
        if rec is None:  # a sandbox we did not make: join its netns, private ipc/uts
            return SandboxPaths(hostname="", netns_path=sandbox.netns_path)
        d = self._sandbox_dir(pod_uid)
        host = bool(rec.get("host_network"))
        return SandboxPaths(
            hostname=rec.get("hostname", ""), netns_path=rec.get("netns_path", ""),
            ipc_ns_path=os.path.join(d, "ns", "ipc"), uts_ns_path="" if host else os.path.join(d, "ns", "uts"),
            hosts_file=os.path.join(d, "hosts"), hostname_file=os.path.join(d, "hostname"),
            resolv_file=os.path.join(d, "resolv.conf"), shm_dir=os.path.join(d, "shm"), host_network=host)

    # ---- containers ----
    def _cdir(self, cid: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{64}", cid):
            raise RuntimeError_("NotFound", f"bad container id {cid!r}")
        return os.path.join(self.containers_dir, cid)

    async def create_container(self, config: ContainerConfig, sandbox: SandboxStatus) -> str:
        if not self.base_cmd:
            self.check()
        if self.images is None:
            raise RuntimeError_("CreateContainerError", "no image service configured")
        try:
            image = await self.images.mount_info(config.image_ref or config.image)
        except Exception as e:
            raise RuntimeError_("CreateContainerError", f"image {config.image!r}: {e}") from e
        cid = secrets.token_hex(32)
        d = os.path.join(self.containers_dir, cid)
        rootfs = os.path.join(d, "rootfs")
        try:
            return await subproc.blocking(self._create, cid, d, rootfs, config, sandbox, image)
        except BaseException:
            await subproc.blocking(self._cleanup_dir, cid, d)
            raise

    def _create(self, cid: str, d: str, rootfs: str, config: ContainerConfig, sandbox: SandboxStatus,
                image: Any) -> str:
        """Blocking part of create_container (run in a thread): mount, bundle, monitor."""
        t0 = time.monotonic()
        for sub in ("rootfs", "upper", "work"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        opts = f"lowerdir={':'.join(image.lowerdirs)},upperdir={d}/upper,workdir={d}/work"
        try:
            _mount("overlay", rootfs, "overlay", 0, opts)
        except OSError as e:
            raise RuntimeError_("CreateContainerError", f"mounting the image {config.image}: {e}") from e
        cg = cgroups_path(config.pod_uid, cid, self.cgroup_root)
        img = ImageConfig(cmd=image.cmd, entrypoint=image.entrypoint, env=image.env, working_dir=image.working_dir,
                          user=image.user, stop_signal=image.stop_signal)
        paths = self._sandbox_paths(config.pod_uid, sandbox)
        spec = build_spec(config, img, paths, rootfs=rootfs, cgroups_path=cg,
                          passwd=_read_text(os.path.join(rootfs, "etc/passwd")),
                          group=_read_text(os.path.join(rootfs, "etc/group")),
                          pids_limit=self.pids_limit, swap_accounting=self.swap_accounting)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(spec, f)
        meta = {"id": cid, "pod_uid": config.pod_uid, "name": config.name, "attempt": config.attempt,
                "image": config.image, "image_ref": config.image_ref or image.image.id, "log_path": config.log_path,
                "labels": config.labels, "annotations": config.annotations, "stop_signal": image.stop_signal,
                "cgroups_path": cg, "runtime": self.name, "created_at": time.time(),
                "termination_message": _termination_file(config), "tty": config.tty, "stdin": config.stdin}
        _write_json(os.path.join(d, "meta.json"), meta)
        mcfg = {"id": cid, "runtime": self.base_cmd, "create_runtime": self.create_cmd, "log_path": config.log_path,
                "stdin": config.stdin, "stdin_once": config.stdin_once, "tty": config.tty,
                "memory_cgroup": self.layout.memory_dir(cg)}
        _write_json(os.path.join(d, "monitor.json"), mcfg)
        report = self._spawn_monitor(d)
        if not report.get("ok"):
            raise RuntimeError_("CreateContainerError", report.get("error") or "container create failed")
        self._remember(meta)
        log.debug("container %s (%s/%s) created in %.1f ms", cid[:12], config.pod_uid, config.name,
                  (time.monotonic() - t0) * 1000)
        return cid

    def _spawn_monitor(self, d: str) -> dict[str, Any]:
        """Start the container's monitor (forked by the zygote; a fresh Python if that fails)
        and wait for its report: created, or why not."""
        r, w = os.pipe()
        proc = None
        try:
            if not self.zygote.spawn(d, w):
                with open(os.path.join(d, "monitor.log"), "ab") as errlog:
                    proc = subprocess.Popen([sys.executable, "-S", "-E", MONITOR, d, str(w)], pass_fds=(w,),
                                            stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog,
                                            start_new_session=True, cwd=d)
        finally:
            os.close(w)
        try:
            chunks = []
            while chunk := os.read(r, 65536):
                chunks.append(chunk)
        finally:
            os.close(r)
            if proc is not None:
                proc.wait()  # its first fork exits at once
        text = b"".join(chunks).decode(errors="replace").strip()
        if not text:
            tail = _read_text(os.path.join(d, "monitor.log"))[-2000:]
            return {"ok": False, "error": f"the container monitor died: {tail.strip()}"}
        return json.loads(text.splitlines()[0])

    def _cleanup_dir(self, cid: str, d: str) -> None:
        meta = self._metas.get(cid) or _read_json(os.path.join(d, "meta.json")) or {}
        self._forget(cid)
        subprocess.run([*self.base_cmd, "delete", "-f", cid], capture_output=True, timeout=30)
        _umount(os.path.join(d, "rootfs"))
        if meta.get("cgroups_path"):
            cgroups.remove_empty(self.layout, meta["cgroups_path"])
        shutil.rmtree(d, ignore_errors=True)

    async def _monitor_call(self, cid: str, req: dict[str, Any], timeout: float | None = 30
                            ) -> dict[str, Any] | None:
        """One request to the container's monitor; None if the monitor is gone."""
        conn = await self._connect_monitor(cid)
        if conn is None:
            return None
        reader, writer = conn
        try:
            writer.write(json.dumps(req).encode() + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout)
            return json.loads(line) if line else None
        except (ConnectionError, ValueError):
            return None
        finally:
            writer.close()

    async def _connect_monitor(self, cid: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        d = self._cdir(cid)
        # socket paths are limited to 108 bytes: connect through a short /proc/self/fd path
        try:
            dfd = os.open(d, os.O_PATH | os.O_DIRECTORY)
        except FileNotFoundError:
            return None
        try:
            return await asyncio.open_unix_connection(f"/proc/self/fd/{dfd}/monitor.sock")
        except (FileNotFoundError, ConnectionRefusedError):
            return None
        finally:
            os.close(dfd)

    async def start_container(self, container_id: str) -> None:
        reply = await self._monitor_call(container_id, {"op": "start"})
        if reply is None:
            raise RuntimeError_("RunContainerError", f"container {container_id[:12]}: monitor not running")
        if not reply.get("ok"):
            raise RuntimeError_("RunContainerError", reply.get("error", "start failed"))

    async def stop_container(self, container_id: str, grace_seconds: float) -> None:
        st = await self.container_status(container_id)
        if st is None or st.state == EXITED:
            return
        meta = self._metas.get(container_id) or _read_json(os.path.join(self._cdir(container_id), "meta.json")) or {}
        sig = "KILL" if st.state == CREATED or grace_seconds <= 0 else _signal_name(meta.get("stop_signal") or "TERM")
        await self._kill(container_id, sig)
        if sig != "KILL" and await self._wait_exit(container_id, grace_seconds):
            return
        await self._kill(container_id, "KILL")
        if not await self._wait_exit(container_id, 10):
            raise RuntimeError_("KillContainerError", f"container {container_id[:12]} did not exit after SIGKILL")

    async def _kill(self, cid: str, sig: str) -> None:
        rc, _, err = await _run([*self.base_cmd, "kill", cid, sig])
        if rc != 0 and b"not exist" not in err and b"not running" not in err and b"stopped" not in err:
            log.debug("kill %s %s: %s", cid[:12], sig, err.decode(errors="replace").strip())

    async def wait_container(self, container_id: str, timeout: float) -> ContainerStatus | None:
        """Wait (up to `timeout`) for the container to exit; its status either way."""
        await self._wait_exit(container_id, timeout)
        return await self.container_status(container_id)

    async def _wait_exit(self, cid: str, timeout: float) -> bool:
        """True once the container has exited (as recorded by its monitor) within `timeout`."""
        deadline = time.monotonic() + timeout
        try:
            reply = await self._monitor_call(cid, {"op": "wait"}, timeout=timeout)
        except asyncio.TimeoutError:
            return False
        if reply is not None:
            return True
        # no monitor: poll the runtime's own state
        while True:
            st = await self.container_status(cid)
            if st is None or st.state == EXITED:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)

    async def remove_container(self, container_id: str) -> None:
        d = self._cdir(container_id)
        if not os.path.isdir(d):
            return
        st = await self.container_status(container_id)
        if st is not None and st.state != EXITED:
            await self.stop_container(container_id, 0)
        await self._wait_monitor_gone(d)
        await subproc.blocking(self._cleanup_dir, container_id, d)

    async def _wait_monitor_gone(self, d: str, timeout: float = 2.0) -> None:
        state = _read_json(os.path.join(d, "state.json")) or {}
        pid, start = state.get("monitor_pid", 0), state.get("monitor_start", 0)
        deadline = time.monotonic() + timeout
        while pid and proc_start_time(pid) == start and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def container_status(self, container_id: str) -> ContainerStatus | None:
        d = self._cdir(container_id)
        meta = self._metas.get(container_id) or _read_json(os.path.join(d, "meta.json"))
        if meta is None:
            return None
        return await subproc.blocking(self._status, d, meta)

    # meta.json never changes after create: the runtime keeps every container's in memory, by pod,
    # so a pod's sync reads only its own containers' state.json (not every container's files)
    def _remember(self, meta: dict[str, Any]) -> None:
        with self._cache_lock:
            self._metas[meta["id"]] = meta
            self._by_pod.setdefault(meta["pod_uid"], set()).add(meta["id"])

    def _forget(self, cid: str) -> None:
        with self._cache_lock:
            meta = self._metas.pop(cid, None)
            if meta is not None:
                ids = self._by_pod.get(meta["pod_uid"], set())
                ids.discard(cid)
                if not ids:
                    self._by_pod.pop(meta["pod_uid"], None)

    def _scan_once(self) -> None:
        """Fill the cache from disk (containers made before a restart)."""
        with self._cache_lock:
            if self._scanned:
                return
            try:
                names = os.listdir(self.containers_dir)
            except FileNotFoundError:
                names = []
            for cid in names:
                if cid not in self._metas:
                    meta = _read_json(os.path.join(self.containers_dir, cid, "meta.json"))
                    if meta is not None and meta.get("id") == cid:
                        self._metas[cid] = meta
                        self._by_pod.setdefault(meta["pod_uid"], set()).add(cid)
            self._scanned = True

    def _status(self, d: str, meta: dict[str, Any]) -> ContainerStatus:
        state = _read_json(os.path.join(d, "state.json")) or {}
        status = state.get("status", "creating")
        st = ContainerStatus(id=meta["id"], pod_uid=meta["pod_uid"], name=meta["name"], attempt=meta["attempt"],
                             state=UNKNOWN, image=meta.get("image", ""), image_ref=meta.get("image_ref", ""),
                             created_at=state.get("created_at") or meta.get("created_at", 0.0),
                             started_at=state.get("started_at", 0.0), finished_at=state.get("finished_at", 0.0),
                             log_path=meta.get("log_path", ""), pid=state.get("pid", 0))
        if status in ("created", "running", "creating"):
            alive = proc_start_time(state.get("monitor_pid", 0)) == state.get("monitor_start", -1)
            if alive:
                st.state = CREATED if status in ("created", "creating") else RUNNING
                return st
            # the monitor died (killed, or the machine rebooted): ask the runtime
            r = subprocess.run([*self.base_cmd, "state", meta["id"]], capture_output=True, timeout=10)
            rstate = (_try_json(r.stdout) or {}).get("status", "") if r.returncode == 0 else ""
            if rstate in ("running", "created", "paused"):
                st.state = RUNNING if rstate != "created" else CREATED
                return st
            st.state, st.exit_code, st.reason = EXITED, 255, "Error"
            st.message = "the container's monitor exited before the container; exit code unknown"
            st.finished_at = st.finished_at or time.time()
            return st
        st.state = EXITED
        st.exit_code = int(state.get("exit_code", 0))
        if state.get("error"):
            st.reason, st.message = "Error", state["error"]
        elif state.get("oom_killed"):
            st.reason = "OOMKilled"
        else:
            st.reason = "Completed" if st.exit_code == 0 else "Error"
        msg_file = meta.get("termination_message")
        if msg_file and not st.message:
            st.message = _read_text(msg_file, 4096)
        return st

    async def list_containers(self, pod_uid: str | None = None) -> list[ContainerStatus]:
        def scan() -> list[ContainerStatus]:
            self._scan_once()
            with self._cache_lock:
                ids = list(self._metas) if pod_uid is None else list(self._by_pod.get(pod_uid, ()))
                metas = [self._metas[c] for c in ids if c in self._metas]
            out = []
            for meta in metas:
                d = os.path.join(self.containers_dir, meta["id"])
                if not os.path.isdir(d):  # removed behind our back (kubeling down)
                    self._forget(meta["id"])
                    continue
                out.append(self._status(d, meta))
            out.sort(key=lambda s: s.created_at)
            return out

        return await subproc.blocking(scan)

    # ---- exec / attach / port-forward ----
    def _exec_argv(self, cid: str, cmd: list[str], tty: bool, pid_file: str = "") -> list[str]:
        """`runc exec`; a tty session gets `TERM=xterm` like containerd's and CRI-O's execs."""
        if not cmd:
            raise RuntimeError_("ExecError", "no command given")
        return [*self.base_cmd, "exec", *(["--tty", "--env", "TERM=xterm"] if tty else []),
                *(["--pid-file", pid_file] if pid_file else []), cid, *cmd]

    async def _require_running(self, cid: str) -> None:
        st = await self.container_status(cid)
        if st is None:
            raise RuntimeError_("NotFound", f"container {cid[:12]} not found")
        if st.state != RUNNING:
            raise RuntimeError_("ExecError", f"container {cid[:12]} is not running ({st.state})")

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> ExecResult:
        """Run to completion; on timeout the process is killed and RuntimeError_("ExecTimeout") raised."""
        await self._require_running(container_id)
        pid_file = os.path.join(self._cdir(container_id), f"exec-{secrets.token_hex(4)}.pid")
        proc = await asyncio.create_subprocess_exec(*self._exec_argv(container_id, cmd, False, pid_file),
                                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                    stderr=subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout if timeout and timeout > 0 else None)
        except asyncio.TimeoutError:
            # kill the process in the container (runc writes its pid once it has started it);
            # killing only `runc exec` would leave it running
            deadline = time.monotonic() + 5
            while not _kill_pid_file(pid_file) and proc.returncode is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
            raise RuntimeError_("ExecTimeout", f"command {cmd!r} timed out after {timeout}s")
        finally:
            try:
                os.unlink(pid_file)
            except FileNotFoundError:
                pass
        return ExecResult(exit_code=proc.returncode or 0, stdout=out, stderr=err)

    async def exec_stream(self, container_id: str, cmd: list[str], *, stdin: bool, tty: bool) -> Any:
        await self._require_running(container_id)
        if not tty:
            proc = await asyncio.create_subprocess_exec(
                *self._exec_argv(container_id, cmd, False), stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            return ProcessSession(proc)
        master, slave = pty.openpty()
        try:
            os.set_blocking(master, False)
            proc = await asyncio.create_subprocess_exec(*self._exec_argv(container_id, cmd, True), stdin=slave,
                                                        stdout=slave, stderr=slave, start_new_session=True)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        session = PtySession(proc, master)
        asyncio.get_running_loop().create_task(_close_after(session))
        return session

    async def attach(self, container_id: str, *, stdin: bool, tty: bool) -> Any:
        conn = await self._connect_monitor(container_id)
        if conn is None:
            raise RuntimeError_("AttachError", f"container {container_id[:12]} is not running")
        reader, writer = conn
        writer.write(json.dumps({"op": "attach", "stdin": stdin}).encode() + b"\n")
        await writer.drain()
        line = await reader.readline()
        reply = _try_json(line) or {}
        if not reply.get("ok"):
            writer.close()
            raise RuntimeError_("AttachError", reply.get("error", "attach failed"))
        return AttachSession(reader, writer, reply)

    async def port_forward(self, pod_uid: str, port: int) -> tuple[Any, Any]:
        rec = self._sandbox_record(pod_uid)
        if rec is None:
            raise RuntimeError_("NotFound", f"pod sandbox {pod_uid} not found")
        netns = "" if rec.get("host_network") else rec.get("netns_path", "")
        sock = await subproc.blocking(_connect_in_netns, netns, port)
        return await asyncio.open_connection(sock=sock)

    # ---- stats / maintenance ----
    async def container_stats(self, container_id: str) -> cgroups.Stats:
        meta = self._metas.get(container_id) or _read_json(os.path.join(self._cdir(container_id), "meta.json")) or {}
        return cgroups.stats(self.layout, meta.get("cgroups_path", "/nonexistent"))

    async def remove_all(self) -> None:
        """`kubeling down`: stop and remove every container and sandbox of this data dir."""
        for st in await self.list_containers():
            await self.remove_container(st.id)
        for sb in await self.list_sandboxes():
            await self.stop_sandbox(sb.pod_uid)
        cgroups.remove_empty(self.layout, self.cgroup_root)
        shutil.rmtree(self.state_root, ignore_errors=True)
        try:
            os.rmdir(os.path.dirname(self.state_root))
        except OSError:
            pass


async def _close_after(session: PtySession) -> None:
    await session.proc.wait()
    await asyncio.sleep(0.2)  # let the reader drain what is left in the pty
    session.close()


def _connect_in_netns(netns: str, port: int) -> socket.socket:
    """A TCP connection to 127.0.0.1:port made from inside `netns` (a socket keeps the netns it
    was created in). setns only affects the calling thread, so do it in a thread of our own."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            if not netns:
                result["sock"] = socket.create_connection(("127.0.0.1", port), timeout=5)
                return
            own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
            target = os.open(netns, os.O_RDONLY)
            try:
                _setns(target, 0x40000000)  # CLONE_NEWNET
                try:
                    result["sock"] = socket.create_connection(("127.0.0.1", port), timeout=5)
                finally:
                    _setns(own, 0x40000000)
            finally:
                os.close(own)
                os.close(target)
        except BaseException as e:
            result["error"] = e

    t = threading.Thread(target=run, name="portforward-connect")
    t.start()
    t.join()
    if "error" in result:
        e = result["error"]
        raise RuntimeError_("PortForwardError", f"connect to port {port} in the pod: {e}")
    sock: socket.socket = result["sock"]
    sock.settimeout(None)
    sock.setblocking(False)
    return sock


def _kill_pid_file(path: str) -> bool:
    """SIGKILL the pid in `path`; False if the file is not (fully) written yet."""
    try:
        with open(path) as f:
            os.kill(int(f.read().strip()), signal.SIGKILL)
        return True
    except ProcessLookupError:
        return True
    except (OSError, ValueError):
        return False


def _try_json(data: bytes) -> dict[str, Any] | None:
    try:
        v = json.loads(data)
        return v if isinstance(v, dict) else None
    except ValueError:
        return None


def _signal_name(sig: str) -> str:
    """Image StopSignal (`SIGQUIT`, `QUIT`, `3`) -> what `runc kill` takes."""
    s = sig.upper().removeprefix("SIG")
    return s or "TERM"


def _termination_file(config: ContainerConfig) -> str:
    """The host file behind terminationMessagePath, if the kubelet mounted one."""
    for m in config.mounts:
        if m.container_path == config.termination_message_path and m.kind == "bind":
            return m.host_path
    return ""


def _host_ips() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        return sorted({i[4][0] for i in infos if not i[4][0].startswith("127.")})[:1]
    except OSError:
        return []


__all__ = ["OCIRuntime", "LoopbackNetwork", "PodNetwork", "hosts_file", "resolv_conf", "parse_version",
           "ProcessSession", "PtySession", "AttachSession", "Mount", "asdict"]
