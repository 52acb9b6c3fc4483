"""Real containers through OCIRuntime (runc; crun where it works): lifecycle, exit codes, OOM,
logs, exec (sync, streams, tty), attach, port-forward, stop with grace, re-adoption after a
restart, and cleanup (no runc state, mounts, cgroups or netns left behind).

Uses the project's real busybox/nginx/redis test images (`ensure_test_images`). Needs root and
the Debian packages runc, crun, busybox-static, nginx-light, redis-server (installed here if
missing). The CNI test's network is this module's own, per pid (bridge `klrtN`, pod/cluster CIDR
10.238.N.0/24, service CIDR 10.239.N.0/24, netns prefix `klrtN-`; see tests/e2e/realcluster.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import time
import uuid
from typing import AsyncIterator

import pytest

from kubeling import down
from kubeling.kubelet.images import build
from kubeling.kubelet.images.service import ImageService
from kubeling.kubelet.runtime import cgroups
from kubeling.kubelet.runtime.base import (CREATED, EXITED, RUNNING, ContainerConfig, ContainerStatus, RuntimeError_,
                                           SandboxConfig, SandboxStatus)
from kubeling.kubelet.runtime.bundle import pod_uid_cgroup
from kubeling.kubelet.runtime.monitor import proc_start_time
from kubeling.kubelet.runtime.oci import OCIRuntime
from kubeling.kubelet.runtime.sysutil import read_json

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root")

NET = random.Random(os.getpid() + 30).randrange(1, 250)
BRIDGE = f"klrt{NET}"
CIDR = f"10.238.{NET}.0/24"
SERVICE_CIDR = f"10.239.{NET}.0/24"

APT = ["runc", "crun", "busybox-static", "nginx-light", "redis-server"]


def _apt_install(pkgs: list[str]) -> None:
    if shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", *pkgs], env=env, capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    missing = [p for p in APT if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        _apt_install(missing)
    if not shutil.which("runc") or build.missing_packages():
        pytest.skip(f"needs the Debian packages {' '.join(APT)}")
    data = str(tmp_path_factory.mktemp("rt"))
    build.ensure_test_images(data, only=["busybox", "nginx:latest", "redis"])
    return data


@contextlib.asynccontextmanager
async def runtime_for(data_dir: str, **kw: str) -> AsyncIterator[OCIRuntime]:
    """A started OCIRuntime on data_dir; afterwards every container and sandbox is removed."""
    images = ImageService.for_data_dir(data_dir)
    runtime = OCIRuntime(data_dir, images=images, **kw)  # type: ignore[arg-type]
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.remove_all()
        await runtime.close()
        await images.close()


@pytest.fixture()
async def rt(data_dir: str) -> AsyncIterator[OCIRuntime]:
    async with runtime_for(data_dir) as runtime:
        yield runtime


def pod(name: str = "p") -> SandboxConfig:
    uid = str(uuid.uuid4())
    return SandboxConfig(pod_uid=uid, name=name, namespace="default", hostname=name,
                         dns_config={"nameservers": ["10.96.0.10"], "searches": ["default.svc.cluster.local"],
                                     "options": [{"name": "ndots", "value": "5"}]})


def ctr(data_dir: str, sb: SandboxConfig, name: str, command: list[str], image: str = "busybox", attempt: int = 0,
        **kw: object) -> ContainerConfig:
    log = os.path.join(data_dir, "logs", f"default_{sb.name}_{sb.pod_uid}", name, f"{attempt}.log")
    return ContainerConfig(pod_uid=sb.pod_uid, name=name, attempt=attempt, image=image, image_ref=image,
                           command=command, env={"GREETING": "hello"}, log_path=log, **kw)  # type: ignore[arg-type]


async def run(rt: OCIRuntime, cfg: ContainerConfig, sb: SandboxStatus) -> str:
    cid = await rt.create_container(cfg, sb)
    await rt.start_container(cid)
    return cid


async def run_to_exit(rt: OCIRuntime, cfg: ContainerConfig, sb: SandboxStatus, timeout: float = 60
                      ) -> ContainerStatus:
    cid = await run(rt, cfg, sb)
    st = await rt.wait_container(cid, timeout)
    assert st is not None and st.state == EXITED, st
    return st


async def until(pred, timeout: float = 60, every: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll an async predicate (readiness of a server in a container) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = await pred()
            if v:
                return v
        except (OSError, RuntimeError_):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(every)


async def test_echo_hi_lifecycle_and_log(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod()
    sb = await rt.run_sandbox(sc)
    assert sb.ready and sb.netns_path and os.path.exists(sb.netns_path)
    cfg = ctr(data_dir, sc, "hi", ["sh", "-c", "echo hi; echo $GREETING $HOSTNAME; echo err >&2; cat /etc/resolv.conf"])
    cid = await rt.create_container(cfg, sb)
    st = await rt.container_status(cid)
    assert st is not None and st.state == CREATED and st.pid > 0
    await rt.start_container(cid)
    st = await rt.wait_container(cid, 60)
    assert st is not None and st.state == EXITED and st.exit_code == 0 and st.reason == "Completed"
    assert st.created_at <= st.started_at <= st.finished_at
    text = open(cfg.log_path).read()
    lines = text.splitlines()
    out = [line for line in lines if " stdout " in line]  # stdout and stderr are read apart: no order between them
    assert out[0].endswith(" stdout F hi") and out[0][:30].endswith("Z")
    assert any(line.endswith(" stdout F hello p") for line in lines)
    assert any(line.endswith(" stderr F err") for line in lines)
    assert any(line.endswith(" stdout F nameserver 10.96.0.10") for line in lines)
    assert any(line.endswith(" stdout F options ndots:5") for line in lines)
    assert [s.id for s in await rt.list_containers(sc.pod_uid)] == [cid]


async def test_exit_code_passes_through(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod()
    sb = await rt.run_sandbox(sc)
    st = await run_to_exit(rt, ctr(data_dir, sc, "seven", ["sh", "-c", "exit 7"]), sb)
    assert (st.exit_code, st.reason) == (7, "Error")


async def test_memory_limit_oom_killed(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod()
    sb = await rt.run_sandbox(sc)
    cfg = ctr(data_dir, sc, "oom", ["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"],
              memory_limit=32 << 20)
    st = await run_to_exit(rt, cfg, sb)
    assert (st.exit_code, st.reason) == (137, "OOMKilled")


async def test_nginx_serves_http_via_port_forward(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod("web")
    sb = await rt.run_sandbox(sc)
    cfg = ctr(data_dir, sc, "nginx", [], image="nginx:latest")
    cid = await run(rt, cfg, sb)

    async def get() -> bytes:
        reader, writer = await rt.port_forward(sc.pod_uid, 80)
        writer.write(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        await writer.drain()
        body = await reader.read()
        writer.close()
        return body

    body = await until(get)
    assert body.startswith(b"HTTP/1.1 200 OK") and b"Welcome to nginx!" in body
    st = await rt.container_status(cid)
    assert st is not None and st.state == RUNNING
    await until(lambda: asyncio.sleep(0, '"GET / HTTP/1.0" 200' in open(cfg.log_path).read()))
    # like the official image: /docker-entrypoint.sh runs first, the master is root, workers are nginx
    assert "stdout F /docker-entrypoint.sh: No files found in /docker-entrypoint.d/, skipping configuration" \
        in open(cfg.log_path).read()
    r = await rt.exec_sync(cid, ["ps", "-o", "user,args"], timeout=30)
    procs = {" ".join(line.split()) for line in r.stdout.decode().splitlines()}
    assert {"root nginx: master process nginx -g daemon off;", "nginx nginx: worker process"} <= procs, procs
    with pytest.raises(RuntimeError_):
        await rt.port_forward(sc.pod_uid, 81)  # nothing listens there


async def test_nginx_over_cni_pod_ip(data_dir: str) -> None:
    """With the network module's CNI PodNetwork (own bridge and CIDRs, so it cannot collide with
    other tests): the pod gets an IP on the bridge and the host fetches nginx by it."""
    if not os.path.exists("/usr/lib/cni/bridge"):
        _apt_install(["containernetworking-plugins"])
    if not os.path.exists("/usr/lib/cni/bridge"):
        pytest.skip("containernetworking-plugins not installed")
    from kubeling.kubelet.network import PodNetwork

    net = PodNetwork(data_dir, pod_cidr=CIDR, bridge=BRIDGE, cluster_cidr=CIDR, service_cidr=SERVICE_CIDR,
                     network_name=BRIDGE, netns_prefix=f"{BRIDGE}-")
    images = ImageService.for_data_dir(data_dir)
    rt = OCIRuntime(data_dir, images=images, network=net)
    await rt.start()
    try:
        sc = pod("web")
        sb = await rt.run_sandbox(sc)
        assert sb.ip.startswith(f"10.238.{NET}.") and sb.netns_path.endswith(net.netns_name(sc.pod_uid))
        hosts = open(os.path.join(rt.sandboxes_dir, sc.pod_uid, "hosts")).read()
        assert f"{sb.ip}\tweb" in hosts
        await run(rt, ctr(data_dir, sc, "nginx", [], image="nginx:latest"), sb)

        async def get() -> bytes:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(sb.ip, 80), 10)
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            body = await reader.read()
            writer.close()
            return body

        assert b"Welcome to nginx!" in await until(get)
    finally:
        await rt.remove_all()
        await rt.close()
        await net.teardown_host()
        await images.close()
    assert not os.path.exists(sb.netns_path)
    assert not os.path.exists(f"/sys/class/net/{BRIDGE}")


async def test_exec_sync_redis(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod("redis")
    sb = await rt.run_sandbox(sc)
    cid = await run(rt, ctr(data_dir, sc, "redis", [], image="redis"), sb)

    async def ping() -> bool:
        r = await rt.exec_sync(cid, ["redis-cli", "ping"], timeout=30)
        return r.exit_code == 0 and r.stdout == b"PONG\n"

    await until(ping)
    # like the official image: docker-entrypoint.sh hands /data to redis and drops to uid 999, and
    # protected mode is off (other pods may connect without a password)
    r = await rt.exec_sync(cid, ["sh", "-c", "grep -E '^(Uid|Gid|Groups):' /proc/1/status; stat -c %u:%g /data; "
                                 "cat /proc/1/comm; redis-cli config get protected-mode"], timeout=30)
    lines = [" ".join(line.split()) for line in r.stdout.decode().splitlines()]
    assert lines == ["Uid: 999 999 999 999", "Gid: 999 999 999 999", "Groups:", "999:999", "redis-server",
                     "protected-mode", "no"], r
    r = await rt.exec_sync(cid, ["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=30)
    assert (r.exit_code, r.stdout, r.stderr) == (3, b"out\n", b"err\n")
    r = await rt.exec_sync(cid, ["sh", "-c", "pwd; id -u"], timeout=30)
    assert r.stdout == b"/data\n0\n"  # image WorkingDir; root
    t = time.monotonic()
    with pytest.raises(RuntimeError_) as e:
        await rt.exec_sync(cid, ["sleep", "30"], timeout=0.3)
    assert e.value.reason == "ExecTimeout" and time.monotonic() - t < 25  # not the 30 s of the sleep
    r = await rt.exec_sync(cid, ["sh", "-c", "pgrep -x sleep || echo none"], timeout=30)
    assert r.stdout == b"none\n"  # the timed-out sleep was killed


async def test_stop_escalates_to_sigkill_after_grace(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod()
    sb = await rt.run_sandbox(sc)
    # sh as PID 1 has no default TERM handler: TERM does nothing, KILL after the grace does
    stubborn = await run(rt, ctr(data_dir, sc, "stubborn", ["sh", "-c", "while true; do sleep 1; done"]), sb)
    polite = await run(rt, ctr(data_dir, sc, "polite",
                               ["sh", "-c", "trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done"]), sb)
    await rt.stop_container(polite, 10)
    st = await rt.container_status(polite)
    assert st is not None and (st.exit_code, st.reason) == (0, "Completed")  # TERM, not KILL after the grace
    t = time.monotonic()
    await rt.stop_container(stubborn, 1.0)
    took = time.monotonic() - t
    st = await rt.container_status(stubborn)
    assert st is not None and (st.state, st.exit_code, st.reason) == (EXITED, 137, "Error")
    assert 1.0 <= took < 30, took  # the grace was honoured, and KILL came well before the end of time


async def test_created_container_can_be_removed(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod()
    sb = await rt.run_sandbox(sc)
    cid = await rt.create_container(ctr(data_dir, sc, "never", ["true"]), sb)
    await rt.stop_container(cid, 5)
    st = await rt.container_status(cid)
    assert st is not None and st.state == EXITED
    await rt.remove_container(cid)
    assert await rt.container_status(cid) is None


async def test_create_errors(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod()
    sb = await rt.run_sandbox(sc)
    with pytest.raises(RuntimeError_) as e:
        await rt.create_container(ctr(data_dir, sc, "bad", ["/no/such/binary"]), sb)
    assert e.value.reason == "CreateContainerError" and "no/such/binary" in e.value.message
    with pytest.raises(RuntimeError_) as e:
        await rt.create_container(ctr(data_dir, sc, "bad", ["true"], image="nosuchimage"), sb)
    assert e.value.reason == "CreateContainerError"
    assert await rt.list_containers(sc.pod_uid) == []
    assert not [m for m in open("/proc/self/mounts").read().splitlines() if data_dir in m and "overlay" in m]


async def test_pod_shares_ipc_uts_and_shm_user_and_readonly_root(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod("shared")
    sb = await rt.run_sandbox(sc)
    script = "for n in ipc uts net; do readlink /proc/self/ns/$n; done; hostname; id -u; id -g"
    a = ctr(data_dir, sc, "a", ["sh", "-c", script + "; touch /x 2>/dev/null || echo ro; echo s > /dev/shm/f"],
            user=33, read_only_rootfs=True)
    b = ctr(data_dir, sc, "b", ["sh", "-c", script + "; cat /dev/shm/f"])
    assert (await run_to_exit(rt, a, sb)).exit_code == 0
    assert (await run_to_exit(rt, b, sb)).exit_code == 0

    def out(cfg: ContainerConfig) -> list[str]:
        return [line.split(" ", 3)[3] for line in open(cfg.log_path).read().splitlines() if " stdout " in line]

    oa, ob = out(a), out(b)
    assert oa[:4] == ob[:4], (oa, ob)  # same ipc, uts, net namespaces and hostname
    assert oa[0].startswith("ipc:[") and oa[3] == "shared"
    assert oa[4:] == ["33", "33", "ro"] and ob[4:] == ["0", "0", "s"]


async def test_attach_and_exec_streams(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod()
    sb = await rt.run_sandbox(sc)
    cid = await run(rt, ctr(data_dir, sc, "cat", ["sh", "-c", "echo ready; cat; echo done"], stdin=True,
                            stdin_once=True), sb)
    session = await rt.attach(cid, stdin=True, tty=False)
    await session.write_stdin(b"hello from attach\n")
    got = b""
    async for stream, data in session.output():
        assert stream in (1, 2)
        got += data
        if b"hello from attach\n" in got:
            break
    await session.close_stdin()  # stdin_once: the container's stdin closes, cat ends
    st = await rt.wait_container(cid, 60)
    assert st is not None and st.exit_code == 0
    log = open(os.path.join(data_dir, "logs", f"default_p_{sc.pod_uid}", "cat", "0.log")).read()
    assert "stdout F hello from attach" in log and "stdout F done" in log

    cid = await run(rt, ctr(data_dir, sc, "sleeper", ["sleep", "1000"]), sb)
    ex = await rt.exec_stream(cid, ["sh", "-c", "cat; echo e >&2; exit 4"], stdin=True, tty=False)
    await ex.write_stdin(b"piped")
    await ex.close_stdin()
    chunks = [c async for c in ex.output()]
    assert await ex.wait() == 4
    assert b"".join(d for s, d in chunks if s == 1) == b"piped" and b"".join(d for s, d in chunks if s == 2) == b"e\n"

    # runc copies the size to the container's pty when it gets SIGWINCH, at its own pace: the
    # script waits (up to 30 s) until it sees it
    tty = await rt.exec_stream(cid, ["sh", "-c", "tty; echo term:$TERM; i=0; until [ \"$(stty size)\" = '30 100' ] "
                                     "|| [ $i -ge 300 ]; do sleep 0.1; i=$((i+1)); done; echo size:$(stty size); "
                                     "read x; echo got:$x"], stdin=True, tty=True)
    await tty.resize(100, 30)
    await tty.write_stdin(b"abc\r")
    out = b"".join([d async for _, d in tty.output()])
    assert await tty.wait() == 0
    assert b"/dev/pts/" in out and b"got:abc" in out and b"size:30 100" in out, out
    assert b"term:xterm" in out, out  # runtimes set TERM for tty sessions (containerd, CRI-O)
    r = await rt.exec_sync(cid, ["sh", "-c", "echo term:$TERM"], timeout=30)
    assert r.stdout == b"term:\n"  # not without a tty


async def test_exec_of_a_missing_executable_is_a_start_error(rt: OCIRuntime, data_dir: str) -> None:
    """runc cannot start it: containerd's error (the kubelet writes it on the error channel), not
    runc's log line as the command's stderr and exit code 255."""
    sc = pod()
    sb = await rt.run_sandbox(sc)
    cid = await run(rt, ctr(data_dir, sc, "sleeper", ["sleep", "1000"]), sb)
    for tty in (False, True):
        with pytest.raises(RuntimeError_) as e:
            await rt.exec_stream(cid, ["nosuchcmd", "x"], stdin=False, tty=tty)
        assert e.value.reason == "ExecError"
        prefix, quote, rest = e.value.message.partition('failed to start exec "')
        assert prefix == "failed to exec in container: " and quote and len(rest.partition('"')[0]) == 64
        assert rest.partition('"')[2] == (': OCI runtime exec failed: exec failed: unable to start container process: '
                                          'exec: "nosuchcmd": executable file not found in $PATH: unknown')
    ok = await rt.exec_stream(cid, ["sh", "-c", "exit 3"], stdin=False, tty=False)
    assert [c async for c in ok.output()] == [] and await ok.wait() == 3
    assert not [f for f in os.listdir(rt._cdir(cid)) if f.startswith("exec-")]  # no pid/log files left


async def test_tty_container_and_attach_resize(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod()
    sb = await rt.run_sandbox(sc)
    cfg = ctr(data_dir, sc, "tty", ["sh", "-c", "tty; read x; stty size; echo got:$x $TERM"], tty=True, stdin=True)
    cid = await run(rt, cfg, sb)
    session = await rt.attach(cid, stdin=True, tty=True)
    await session.resize(120, 40)
    await session.write_stdin(b"typed\r")
    out = b""
    async for _, data in session.output():
        out += data
    assert await session.wait() == 0
    assert b"got:typed xterm" in out and b"40 120" in out, out
    log = open(cfg.log_path).read()
    assert "stdout F /dev/pts/0" in log.replace("\r", "") and "got:typed" in log


async def test_readoption_after_restart(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod()
    sb = await rt.run_sandbox(sc)
    cid = await run(rt, ctr(data_dir, sc, "long", ["sh", "-c", "echo started; sleep 1000"]), sb)
    state = read_json(os.path.join(rt.containers_dir, cid, "state.json"))
    assert state is not None
    await rt.close()  # kubeling stops: the zygote goes, the monitor and container stay
    assert proc_start_time(state["monitor_pid"]) == state["monitor_start"]
    images = ImageService.for_data_dir(data_dir)
    rt2 = OCIRuntime(data_dir, images=images)
    await rt2.start()
    try:
        listed = await rt2.list_containers(sc.pod_uid)
        assert [(s.id, s.state) for s in listed] == [(cid, RUNNING)]
        assert [s.pod_uid for s in await rt2.list_sandboxes()].count(sc.pod_uid) == 1
        r = await rt2.exec_sync(cid, ["echo", "still here"], timeout=30)
        assert r.stdout == b"still here\n"
        await rt2.stop_container(cid, 0.5)
        st = await rt2.container_status(cid)
        assert st is not None and st.exit_code == 137
    finally:
        await rt2.close()
        await images.close()


async def test_cleanup_leaves_nothing(rt: OCIRuntime, data_dir: str) -> None:
    sc = pod()
    sb = await rt.run_sandbox(sc)
    cid = await run(rt, ctr(data_dir, sc, "c", ["sleep", "1000"], memory_limit=64 << 20), sb)
    cg = pod_uid_cgroup(sc.pod_uid)
    assert cgroups.exists(rt.layout, f"{cg}/{cid}")
    stats = cgroups.stats(rt.layout, f"{cg}/{cid}")
    assert stats.memory_usage > 0
    await rt.remove_container(cid)
    await rt.stop_sandbox(sc.pod_uid)
    assert not os.path.exists(os.path.join(rt.containers_dir, cid))
    assert not os.path.exists(sb.netns_path)
    assert not cgroups.exists(rt.layout, cg)
    mounts = open("/proc/self/mounts").read()
    assert cid not in mounts and sc.pod_uid not in mounts
    listing = subprocess.run([*rt.base_cmd, "list", "-q"], capture_output=True, text=True).stdout.split()
    assert cid not in listing
    assert await rt.sandbox_status(sc.pod_uid) is None


@pytest.fixture()
async def own_rt(data_dir: str) -> AsyncIterator[OCIRuntime]:
    """A runtime with a cgroup root of its own: `kubeling down`'s sweep of empty cgroups and this
    fixture's cleanup touch no other runtime's."""
    try:
        async with runtime_for(data_dir, cgroup_root=f"klrt{NET}-own") as runtime:
            yield runtime
    finally:
        cgroups.remove_empty(cgroups.detect(), f"/klrt{NET}-own")


async def _sleeper(rt: OCIRuntime, data_dir: str) -> tuple[str, tuple[int, int]]:
    """A running container and its monitor's (pid, start time)."""
    sc = pod()
    cid = await run(rt, ctr(data_dir, sc, "c", ["sleep", "1000"]), await rt.run_sandbox(sc))
    state = read_json(os.path.join(rt.containers_dir, cid, "state.json")) or {}
    return cid, (state["monitor_pid"], state["monitor_start"])


async def _gone(monitor: tuple[int, int]) -> None:
    await until(lambda: asyncio.sleep(0, proc_start_time(monitor[0]) != monitor[1]))


async def test_down_leaves_no_state_dir(own_rt: OCIRuntime, data_dir: str) -> None:
    """`kubeling down` removes the node's /run/kubeling/<hash> (only its own): the container's
    monitor, woken by the kill, must not run `runc delete` on the root down just removed, which
    made runc create an empty <hash>/runc again after every test cluster."""
    cid, monitor = await _sleeper(own_rt, data_dir)
    await own_rt.close()  # as when `kubeling up` stops: the container and its monitor stay
    other = os.path.join(down.STATE_BASE, "0" * 12)  # another data dir's state dir stays
    os.makedirs(other, exist_ok=True)
    try:
        lines: list[str] = []
        assert await asyncio.to_thread(down.down, data_dir, log=lines.append,
                                       cgroup_root=own_rt.cgroup_root.strip("/"), shared=False) == []
        assert f"stopped container {cid}" in "\n".join(lines)
        await _gone(monitor)
        assert not os.path.exists(os.path.dirname(own_rt.state_root)), os.listdir(os.path.dirname(own_rt.state_root))
        assert os.path.isdir(other)
    finally:
        os.rmdir(other)


async def test_a_monitor_does_not_recreate_a_removed_state_dir(own_rt: OCIRuntime, data_dir: str) -> None:
    """The container dies after its node's /run/kubeling/<hash> was removed (down or the node's
    tidy-up went first): its monitor records the exit without `runc delete`, which would make
    runc create an empty <hash>/runc again."""
    cid, monitor = await _sleeper(own_rt, data_dir)
    init = (read_json(os.path.join(own_rt.state_root, cid, "state.json")) or {})["init_process_pid"]
    shutil.rmtree(os.path.dirname(own_rt.state_root))
    os.kill(init, 9)
    st = await own_rt.wait_container(cid, 60)
    assert st is not None and st.exit_code == 137
    await _gone(monitor)
    assert not os.path.exists(os.path.dirname(own_rt.state_root))
    await own_rt.remove_all()
    assert not os.path.exists(os.path.dirname(own_rt.state_root))


async def test_create_start_latency(rt: OCIRuntime, data_dir: str) -> None:
    """create+start of a busybox container with the image present, 8 times (the numbers are
    printed, not asserted: other work on this shared 2-core machine skews them; bench/ measures)."""
    sc = pod()
    sb = await rt.run_sandbox(sc)
    times, runc_times = [], []
    for i in range(8):
        t = time.monotonic()
        cid = await run(rt, ctr(data_dir, sc, f"c{i}", ["true"]), sb)
        times.append((time.monotonic() - t) * 1000)
        await rt.wait_container(cid, 60)
        state = read_json(os.path.join(rt.containers_dir, cid, "state.json")) or {}
        runc_times.append(state["runtime_create_ms"] + state["runtime_start_ms"])
        await rt.remove_container(cid)
    print(f"create+start ms: median {statistics.median(times):.1f} min {min(times):.1f} max {max(times):.1f}; "
          f"of which runc create+start median {statistics.median(runc_times):.1f} "
          f"(load {os.getloadavg()[0]:.1f})")


@pytest.mark.skipif(not shutil.which("crun"), reason="crun not installed")
async def test_crun(data_dir: str) -> None:
    images = ImageService.for_data_dir(data_dir)
    rt = OCIRuntime(data_dir, images=images, runtime="crun")
    await rt.start()
    try:
        assert rt.name == "crun" and rt.version[0].isdigit()
        sc = pod()
        sb = await rt.run_sandbox(sc)
        cfg = ctr(data_dir, sc, "hi", ["sh", "-c", "echo hi from crun; exit 7"], memory_limit=64 << 20)
        st = await run_to_exit(rt, cfg, sb)
        assert st.exit_code == 7
        assert open(cfg.log_path).read().splitlines()[0].endswith("stdout F hi from crun")
        cid = await run(rt, ctr(data_dir, sc, "oom", ["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"],
                                memory_limit=32 << 20), sb)
        st = await rt.wait_container(cid, 60)
        assert st is not None and (st.exit_code, st.reason) == (137, "OOMKilled")
        cid = await run(rt, ctr(data_dir, sc, "sleeper", ["sleep", "1000"]), sb)
        ex = await rt.exec_stream(cid, ["echo", "hi"], stdin=False, tty=False)
        assert [c async for c in ex.output()] == [(1, b"hi\n")] and await ex.wait() == 0
        with pytest.raises(RuntimeError_, match="OCI runtime exec failed: .*nosuchcmd"):
            await rt.exec_stream(cid, ["nosuchcmd"], stdin=False, tty=False)
    finally:
        await rt.remove_all()
        await rt.close()
        await images.close()
