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

Beside this module: `session.py` (exec and attach sessions), `zygote.py` (the process that forks
monitors), `sandbox.py` (the pod network seam and /etc files), `sysutil.py` (libc and file helpers).
"""

from __future__ import annotations

import asyncio
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
import subprocess
import sys
import threading
import time
from typing import Any

from ... import subproc
from . import cgroups
from .base import (CREATED, EXITED, RUNNING, UNKNOWN, ContainerConfig, ContainerStatus, ExecResult,
                   RuntimeError_, SandboxConfig, SandboxStatus)
from .bundle import ImageConfig, SandboxPaths, build_spec, cgroups_path, pod_uid_cgroup
from .monitor import proc_start_time, runtime_has
from .sandbox import PodNetwork, as_pod_network, hosts_file, resolv_conf
from .session import AttachSession, ProcessSession, PtySession, close_after
from .sysutil import (MS_NODEV, MS_NOEXEC, MS_NOSUID, mount, parse_version, read_json, read_text, run_cmd, setns,
                      umount, write_json)
from .zygote import MONITOR, Zygote

log = logging.getLogger("kubeling.kubelet.runtime")

CRUN_WRAPPER = 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$0" "$@"'


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
        rc, out, err = await run_cmd([self.binary, "--version"], timeout=10)
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
            rec = read_json(os.path.join(self._sandbox_dir(pod_uid), "sandbox.json"))
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
        await subproc.blocking(write_json, os.path.join(d, "sandbox.json"), rec)
        self._sandboxes[config.pod_uid] = rec
        return self._sandbox_status(rec)

    @staticmethod
    def _sandbox_files(d: str, config: SandboxConfig, hostname: str, ips: list[str]) -> None:
        """/dev/shm (a tmpfs) and the pod's /etc/hostname, /etc/resolv.conf, /etc/hosts."""
        shm = os.path.join(d, "shm")
        os.makedirs(shm, exist_ok=True)
        if not os.path.ismount(shm):
            mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")
        files = {"hostname": hostname + "\n", "resolv.conf": resolv_conf(config.dns_config),
                 "hosts": read_text("/etc/hosts") if config.host_network else hosts_file(hostname, ips)}
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
            rc, _, err = await run_cmd(["unshare", *args, "true"])
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
                umount(p)
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
            mount("overlay", rootfs, "overlay", 0, opts)
        except OSError as e:
            raise RuntimeError_("CreateContainerError", f"mounting the image {config.image}: {e}") from e
        cg = cgroups_path(config.pod_uid, cid, self.cgroup_root)
        img = ImageConfig(cmd=image.cmd, entrypoint=image.entrypoint, env=image.env, working_dir=image.working_dir,
                          user=image.user, stop_signal=image.stop_signal)
        paths = self._sandbox_paths(config.pod_uid, sandbox)
        spec = build_spec(config, img, paths, rootfs=rootfs, cgroups_path=cg,
                          passwd=read_text(os.path.join(rootfs, "etc/passwd")),
                          group=read_text(os.path.join(rootfs, "etc/group")),
                          pids_limit=self.pids_limit, swap_accounting=self.swap_accounting)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(spec, f)
        meta = {"id": cid, "pod_uid": config.pod_uid, "name": config.name, "attempt": config.attempt,
                "image": config.image, "image_ref": config.image_ref or image.image.id, "log_path": config.log_path,
                "labels": config.labels, "annotations": config.annotations, "stop_signal": image.stop_signal,
                "cgroups_path": cg, "runtime": self.name, "created_at": time.time(),
                "termination_message": _termination_file(config), "tty": config.tty, "stdin": config.stdin}
        write_json(os.path.join(d, "meta.json"), meta)
        mcfg = {"id": cid, "runtime": self.base_cmd, "create_runtime": self.create_cmd, "log_path": config.log_path,
                "stdin": config.stdin, "stdin_once": config.stdin_once, "tty": config.tty,
                "memory_cgroup": self.layout.memory_dir(cg)}
        write_json(os.path.join(d, "monitor.json"), mcfg)
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
            tail = read_text(os.path.join(d, "monitor.log"))[-2000:]
            return {"ok": False, "error": f"the container monitor died: {tail.strip()}"}
        return json.loads(text.splitlines()[0])

    def _cleanup_dir(self, cid: str, d: str) -> None:
        meta = self._metas.get(cid) or read_json(os.path.join(d, "meta.json")) or {}
        self._forget(cid)
        if runtime_has(self.base_cmd, cid):
            subprocess.run([*self.base_cmd, "delete", "-f", cid], capture_output=True, timeout=30)
        umount(os.path.join(d, "rootfs"))
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
        meta = self._metas.get(container_id) or read_json(os.path.join(self._cdir(container_id), "meta.json")) or {}
        sig = "KILL" if st.state == CREATED or grace_seconds <= 0 else _signal_name(meta.get("stop_signal") or "TERM")
        await self._kill(container_id, sig)
        if sig != "KILL" and await self._wait_exit(container_id, grace_seconds):
            return
        await self._kill(container_id, "KILL")
        if not await self._wait_exit(container_id, 10):
            raise RuntimeError_("KillContainerError", f"container {container_id[:12]} did not exit after SIGKILL")

    async def _kill(self, cid: str, sig: str) -> None:
        rc, _, err = await run_cmd([*self.base_cmd, "kill", cid, sig])
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
        state = read_json(os.path.join(d, "state.json")) or {}
        pid, start = state.get("monitor_pid", 0), state.get("monitor_start", 0)
        deadline = time.monotonic() + timeout
        while pid and proc_start_time(pid) == start and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def container_status(self, container_id: str) -> ContainerStatus | None:
        d = self._cdir(container_id)
        meta = self._metas.get(container_id) or read_json(os.path.join(d, "meta.json"))
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
                    meta = read_json(os.path.join(self.containers_dir, cid, "meta.json"))
                    if meta is not None and meta.get("id") == cid:
                        self._metas[cid] = meta
                        self._by_pod.setdefault(meta["pod_uid"], set()).add(cid)
            self._scanned = True

    def _status(self, d: str, meta: dict[str, Any]) -> ContainerStatus:
        state = read_json(os.path.join(d, "state.json")) or {}
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
            rstate = ""
            if runtime_has(self.base_cmd, meta["id"]):
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
            st.message = read_text(msg_file, 4096)
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
    def _exec_argv(self, cid: str, cmd: list[str], tty: bool, pid_file: str = "", log_file: str = "") -> list[str]:
        """`runc exec`; a tty session gets `TERM=xterm` like containerd's and CRI-O's execs."""
        if not cmd:
            raise RuntimeError_("ExecError", "no command given")
        return [*self.base_cmd, *(["--log", log_file, "--log-format", "json"] if log_file else []), "exec",
                *(["--tty", "--env", "TERM=xterm"] if tty else []),
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
        """A session once runc has started `cmd`; a command runc cannot start (no such executable)
        raises RuntimeError_ with containerd's text, which the kubelet writes on the error channel
        (kubectl: `error: Internal error occurred: ...`, exit 1), not as the command's output."""
        await self._require_running(container_id)
        exec_id = secrets.token_hex(32)  # containerd's exec ids: 32 random bytes
        files = os.path.join(self._cdir(container_id), f"exec-{exec_id[:8]}")
        argv = self._exec_argv(container_id, cmd, tty, f"{files}.pid", f"{files}.log")
        if not tty:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                await _exec_started(proc, files, exec_id)
            except RuntimeError_:
                await proc.communicate()  # runc has exited: drain and close its pipes
                raise
            return ProcessSession(proc)
        master, slave = pty.openpty()
        try:
            os.set_blocking(master, False)
            proc = await asyncio.create_subprocess_exec(*argv, stdin=slave,
                                                        stdout=slave, stderr=slave, start_new_session=True)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        try:
            await _exec_started(proc, files, exec_id)
        except RuntimeError_:
            os.close(master)
            raise
        session = PtySession(proc, master)
        asyncio.get_running_loop().create_task(close_after(session))
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
        meta = self._metas.get(container_id) or read_json(os.path.join(self._cdir(container_id), "meta.json")) or {}
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
                setns(target, 0x40000000)  # CLONE_NEWNET
                try:
                    result["sock"] = socket.create_connection(("127.0.0.1", port), timeout=5)
                finally:
                    setns(own, 0x40000000)
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


async def _exec_started(proc: asyncio.subprocess.Process, files: str, exec_id: str) -> None:
    """Wait until `runc exec` has started its command (it writes `<files>.pid` only then) or has
    exited without (it could not: `exec: "x": executable file not found in $PATH`); the latter
    raises RuntimeError_ with containerd's words around runc's error (from its JSON log, as the
    shim reads it). Polls: runc signals a start by nothing else a parent can wait on."""
    pid_file, log_file = f"{files}.pid", f"{files}.log"
    exited = asyncio.ensure_future(proc.wait())
    try:
        while not os.path.exists(pid_file) and not exited.done():
            await asyncio.wait({exited}, timeout=0.01)
        if os.path.exists(pid_file):
            return
        raise RuntimeError_("ExecError", f'failed to exec in container: failed to start exec "{exec_id}": '
                                         f"OCI runtime exec failed: {_runc_error(log_file, proc.returncode)}: unknown")
    finally:
        exited.cancel()
        for path in (pid_file, log_file):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _runc_error(log_file: str, code: int | None) -> str:
    """The last error runc logged (`--log-format json`: {"level": "error", "msg": ...})."""
    entries = [_try_json(line.encode()) or {} for line in read_text(log_file).splitlines()]
    errors = [e["msg"] for e in entries if e.get("level") == "error" and isinstance(e.get("msg"), str)]
    return errors[-1] if errors else f"runtime exited with {code} before starting the command"


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
