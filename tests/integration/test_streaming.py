"""logs, exec, attach, cp and port-forward end to end: the real kubectl -> a real `kubeling up`
-> a real kubelet API server (in this process, TLS with a cert from the cluster CA) backed by a
fake runtime whose "containers" are host processes: exec runs the command on the host inside a
temporary directory standing in for the container filesystem, attach talks to a small shell
loop, port-forward dials a local TCP echo server, and logs are CRI files written by the test.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import select
import signal
import socket
import struct
import subprocess
import termios
import threading
import time
from typing import Any, AsyncIterator, Iterator

import pytest

from kubeling.client.rest import Client, ClientConfig
from kubeling.pki import ensure_pki
from kubeling.kubelet import auth as kauth
from kubeling.kubelet import server as ks
from kubeling.kubelet.runtime import base
from kubeling.kubelet.runtime.logs import format_timestamp

from .conftest import Cluster, free_port

NODE = "streaming-node"
NS = "streaming"

# ---- a runtime made of host processes ------------------------------------------------------------


class HostSession:
    """A host process as an exec/attach session (a pty when tty is asked for)."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int | None) -> None:
        self.proc = proc
        self.master = master
        self._out: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._open = 0
        loop = asyncio.get_running_loop()
        if master is not None:
            self._open = 1
            loop.add_reader(master, self._read_pty)
        else:
            for n, stream in ((1, proc.stdout), (2, proc.stderr)):
                self._open += 1
                asyncio.ensure_future(self._pump(n, stream))

    @classmethod
    async def start(cls, argv: list[str], cwd: str, stdin: bool, tty: bool) -> "HostSession":
        if tty:
            master, slave = pty.openpty()

            def ctty() -> None:
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)

            proc = await asyncio.create_subprocess_exec(*argv, cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                                                        start_new_session=True, preexec_fn=ctty)
            os.close(slave)
            os.set_blocking(master, False)
            return cls(proc, master)
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return cls(proc, None)

    def _read_pty(self) -> None:
        assert self.master is not None
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._out.put_nowait((1, data))
        else:
            asyncio.get_running_loop().remove_reader(self.master)
            self._out.put_nowait(None)

    async def _pump(self, n: int, stream: Any) -> None:
        while data := await stream.read(65536):
            self._out.put_nowait((n, data))
        self._out.put_nowait(None)

    async def write_stdin(self, data: bytes) -> None:
        if self.master is not None:
            os.write(self.master, data)
        elif self.proc.stdin is not None:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()

    async def close_stdin(self) -> None:
        if self.master is not None:
            os.write(self.master, b"\x04")
        elif self.proc.stdin is not None:
            self.proc.stdin.close()

    async def resize(self, width: int, height: int) -> None:
        if self.master is not None:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        while self._open:
            item = await self._out.get()
            if item is None:
                self._open -= 1
                continue
            yield item

    async def wait(self) -> int:
        code = await self.proc.wait()
        if self.master is not None:
            os.close(self.master)
            self.master = None
        return code


class HostRuntime:
    """Containers are rows in a table; their filesystem is `root`; port 8080 is an echo server."""

    name, version = "fake", "0.1"

    def __init__(self, root: str, echo_port: int) -> None:
        self.root = root
        self.echo_port = echo_port
        self.containers: dict[str, base.ContainerStatus] = {}

    def _argv(self, cmd: list[str]) -> list[str]:
        # absolute paths point into the fake container filesystem
        return [cmd[0]] + [a.lstrip("/") or "." if a.startswith("/") else a for a in cmd[1:]]

    async def list_containers(self, pod_uid: str | None = None) -> list[base.ContainerStatus]:
        return [c for c in self.containers.values() if pod_uid in (None, c.pod_uid)]

    async def container_status(self, container_id: str) -> base.ContainerStatus | None:
        return self.containers.get(container_id)

    async def exec_stream(self, container_id: str, cmd: list[str], *, stdin: bool, tty: bool) -> HostSession:
        try:
            return await HostSession.start(self._argv(cmd), self.root, stdin, tty)
        except FileNotFoundError:
            raise base.RuntimeError_("RunContainerError", f'exec: "{cmd[0]}": executable file not found in $PATH') from None

    async def attach(self, container_id: str, *, stdin: bool, tty: bool) -> HostSession:
        script = 'echo attached; while read l; do echo "got $l"; done; echo bye'
        return await HostSession.start(["sh", "-c", script], self.root, stdin, tty)

    async def port_forward(self, pod_uid: str, port: int) -> tuple[Any, Any]:
        if port != 8080:
            raise ConnectionRefusedError(f"dial tcp4 127.0.0.1:{port}: connect: connection refused")
        return await asyncio.open_connection("127.0.0.1", self.echo_port)


class LoopThread:
    """An asyncio loop in a thread: the kubelet serves while kubectl runs in subprocesses."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# ---- fixture: node, kubelet and pods ----------------------------------------------------------


def kubectl_json(cluster: Cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl(*args, "-o", "json").stdout)


def patch_status(cluster: Cluster, kind: str, name: str, status: dict[str, Any], ns: str | None = NS) -> None:
    cluster.kubectl("patch", kind, name, *(("-n", ns) if ns else ()), "--subresource=status", "--type=merge",
                    "-p", json.dumps({"status": status}))


@pytest.fixture(scope="module")
def env(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = str(tmp_path_factory.mktemp("streaming"))
    root = os.path.join(work, "rootfs")
    os.makedirs(os.path.join(root, "tmp"))
    log_dir = os.path.join(work, "logs")
    lt = LoopThread()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def start_echo() -> Any:
        return await asyncio.start_server(echo, "127.0.0.1", 0)

    echo_server = lt.run(start_echo())
    runtime = HostRuntime(root, echo_server.sockets[0].getsockname()[1])
    pods: dict[str, dict[str, Any]] = {}
    pki = ensure_pki(cluster.data_dir, "127.0.0.1", "10.96.0.1")
    cert, key = ks.ensure_serving_cert(pki, work, NODE, ["127.0.0.1"])
    port = free_port()
    # the kubelet asks the cluster (TokenReview, SubjectAccessReview) who calls and what they may do
    reviews = Client(ClientConfig.from_kubeconfig(cluster.kubeconfig))
    kubelet = ks.KubeletServer(runtime, lambda ns, name: pods.get(name) if ns == NS else None,  # type: ignore[arg-type]
                               host="127.0.0.1", port=port, cert_file=cert, key_file=key,
                               client_ca_file=pki.ca_cert, log_dir=log_dir,
                               auth=kauth.KubeletAuth(kauth.ClientReviewer(reviews), NODE))
    lt.run(kubelet.start())
    cluster.kubectl("create", "namespace", NS)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE},
            # NoSchedule: a scheduler must not put other tests' pods on this fake node
            "spec": {"taints": [{"key": "kubeling.io/streaming-test", "effect": "NoSchedule"}]}}
    cluster.kubectl("create", "-f", "-", input=json.dumps(node))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    patch_status(cluster, "node", NODE, {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "fake",
                        "lastHeartbeatTime": now, "lastTransitionTime": now}]}, ns=None)

    def pod(name: str, containers: list[str], node: str | None = NODE) -> dict[str, Any]:
        spec: dict[str, Any] = {"containers": [{"name": c, "image": "busybox", "stdin": True} for c in containers]}
        if node:
            spec["nodeName"] = node
        else:
            spec["nodeSelector"] = {"kubeling.io/nowhere": "true"}
        cluster.kubectl("create", "-n", NS, "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}))
        return kubectl_json(cluster, "get", "pod", "-n", NS, name)

    box = pod("box", ["app", "side"])
    uid = box["metadata"]["uid"]
    logs = os.path.join(log_dir, f"{NS}_box_{uid}")
    for cid, name, attempt, state in (("c-app-1", "app", 1, base.RUNNING), ("c-app-0", "app", 0, base.EXITED),
                                      ("c-side-0", "side", 0, base.RUNNING)):
        path = os.path.join(logs, name, f"{attempt}.log")
        runtime.containers[cid] = base.ContainerStatus(id=cid, pod_uid=uid, name=name, attempt=attempt, state=state,
                                                       log_path=path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
    old, new = time.time_ns() - 2 * 3600 * 10**9, time.time_ns() - 10**9
    write_cri(os.path.join(logs, "app", "1.log"), [(old, "stdout", "old line"), (old, "stderr", "old warning"),
                                                   (new, "stdout", "new line")])
    write_cri(os.path.join(logs, "app", "0.log"), [(old, "stdout", "before the restart")])
    write_cri(os.path.join(logs, "side", "0.log"), [(new, "stdout", "sidecar says hi")])
    running = {"running": {"startedAt": now}}
    patch_status(cluster, "pod", "box", {"phase": "Running", "containerStatuses": [
        {"name": "app", "ready": True, "restartCount": 1, "image": "busybox", "imageID": "", "containerID": "fake://c-app-1",
         "state": running, "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "containerID": "fake://c-app-0",
                                                         "startedAt": now, "finishedAt": now}}},
        {"name": "side", "ready": True, "restartCount": 0, "image": "busybox", "imageID": "",
         "containerID": "fake://c-side-0", "state": running, "lastState": {}}]})
    pods["box"] = kubectl_json(cluster, "get", "pod", "-n", NS, "box")
    pod("waiter", ["app"])
    patch_status(cluster, "pod", "waiter", {"phase": "Pending", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0, "image": "busybox", "imageID": "",
         "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}]})
    pods["waiter"] = kubectl_json(cluster, "get", "pod", "-n", NS, "waiter")
    pod("pending", ["app"], node=None)
    try:
        yield {"cluster": cluster, "runtime": runtime, "root": root, "logs": logs, "work": work, "pods": pods,
               "port": port, "ca": pki.ca_cert}
    finally:
        lt.run(reviews.close())
        cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)
        cluster.kubectl("delete", "node", NODE, "--wait=false", check=False)
        lt.run(kubelet.stop())
        echo_server.close()
        lt.stop()


def write_cri(path: str, entries: list[tuple[int, str, str]]) -> None:
    with open(path, "ab") as f:
        for ts, stream, text in entries:
            f.write(format_timestamp(ts) + f" {stream} F {text}\n".encode())


def k(env: dict[str, Any], *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return env["cluster"].kubectl("-n", NS, *args, input=input, check=check, timeout=30)


# ---- who gets in -----------------------------------------------------------------------------------


def kubelet_get(env: dict[str, Any], path: str, token: str = "") -> tuple[int, str]:
    """GET on the kubelet port, verifying its serving certificate, with no client certificate."""
    import ssl
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"https://127.0.0.1:{env['port']}{path}",
                                 headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=env["ca"]), timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_kubelet_authenticates_and_authorizes(env: dict[str, Any]) -> None:
    """Anonymous: 401; a pod's ServiceAccount: 403 with upstream's text; metrics-server's account
    may read stats (nodes/stats) but not exec or list pods (nodes/proxy); the API server's own
    certificate (kubectl logs/exec in the other tests) passes through its binding."""
    assert kubelet_get(env, "/pods") == (401, "Unauthorized")
    assert kubelet_get(env, "/pods", "not-a-token") == (401, "Unauthorized")
    pod_token = k(env, "create", "token", "default").stdout.strip()
    assert kubelet_get(env, "/exec/x/y/z", pod_token) == (
        403, f"Forbidden (user=system:serviceaccount:{NS}:default, verb=get, resource=nodes, subresource=proxy)")
    assert kubelet_get(env, "/stats/summary", pod_token)[0] == 403
    metrics = env["cluster"].kubectl("-n", "kube-system", "create", "token", "metrics-server").stdout.strip()
    assert kubelet_get(env, "/stats/summary", metrics) == (404, "404 page not found")  # past auth: no stats here
    assert kubelet_get(env, "/pods", metrics) == (
        403, "Forbidden (user=system:serviceaccount:kube-system:metrics-server, verb=get, resource=nodes, "
             "subresource=proxy)")


# ---- logs ------------------------------------------------------------------------------------------


def test_logs(env: dict[str, Any]) -> None:
    assert k(env, "logs", "box", "-c", "app").stdout == "old line\nold warning\nnew line\n"
    assert k(env, "logs", "box", "-c", "app", "--tail=1").stdout == "new line\n"
    assert k(env, "logs", "box", "-c", "app", "--since=1h").stdout == "new line\n"
    assert k(env, "logs", "box", "-c", "app", "-p").stdout == "before the restart\n"
    assert k(env, "logs", "box", "-c", "side").stdout == "sidecar says hi\n"
    assert k(env, "logs", "box", "-c", "app", "--limit-bytes=5").stdout == "old l"
    stamped = k(env, "logs", "box", "-c", "app", "--timestamps", "--tail=1").stdout
    ts, _, text = stamped.partition(" ")
    assert text == "new line\n" and ts.endswith("Z") and ts[:2] == "20"
    # no -c: kubectl picks the first container and says so
    p = k(env, "logs", "box")
    assert p.stdout == "old line\nold warning\nnew line\n" and 'Defaulted container "app"' in p.stderr


def test_logs_errors(env: dict[str, Any]) -> None:
    p = k(env, "logs", "waiter", check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (BadRequest): container "app" in pod "waiter" is waiting to start: ContainerCreating'
    p = k(env, "logs", "box", "-c", "nope", check=False)  # kubectl checks this one itself
    assert p.stderr.strip() == "error: container nope is not valid for pod box"
    p = k(env, "get", "--raw", f"/api/v1/namespaces/{NS}/pods/box/log?container=nope", check=False)
    assert p.stderr.strip() == "Error from server (BadRequest): container nope is not valid for pod box"
    p = k(env, "get", "--raw", f"/api/v1/namespaces/{NS}/pods/box/log?container=app&tailLines=-1", check=False)
    assert p.stderr.strip() == ('The PodLogOptions "box" is invalid: tailLines: Invalid value: -1: '
                                'must be greater than or equal to 0')
    p = k(env, "logs", "box", "-c", "side", "-p", check=False)
    assert p.stderr.strip() == 'Error from server (BadRequest): previous terminated container "side" in pod "box" not found'
    assert k(env, "logs", "pending").stdout == ""  # not scheduled: upstream streams nothing


def test_logs_follow(env: dict[str, Any]) -> None:
    path = os.path.join(env["logs"], "side", "0.log")
    cluster: Cluster = env["cluster"]
    proc = subprocess.Popen(["kubectl", f"--cache-dir={cluster.cache_dir}", "-n", NS, "logs", "-f", "box", "-c", "side"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "KUBECONFIG": cluster.kubeconfig})
    try:
        assert proc.stdout is not None
        assert read_line(proc.stdout, 15) == b"sidecar says hi\n"
        write_cri(path, [(time.time_ns(), "stdout", "later")])
        assert read_line(proc.stdout, 10) == b"later\n"
        env["runtime"].containers["c-side-0"].state = base.EXITED  # the container stops: the stream ends
        assert proc.wait(15) == 0
    finally:
        env["runtime"].containers["c-side-0"].state = base.RUNNING
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def read_line(f: Any, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    buf = b""
    fd = f.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"no line; got {buf!r}")
        ch = os.read(fd, 1)
        if not ch:
            break
        buf += ch
    return buf


# ---- exec / attach / cp ------------------------------------------------------------------------------


def test_exec_streams_and_exit_code(env: dict[str, Any]) -> None:
    p = k(env, "exec", "box", "-c", "app", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert p.returncode == 3
    assert p.stdout == "out\n"
    assert p.stderr == "err\ncommand terminated with exit code 3\n"
    assert k(env, "exec", "box", "-c", "side", "--", "sh", "-c", "echo ok").stdout == "ok\n"


def test_exec_stdin(env: dict[str, Any]) -> None:
    data = "".join(f"line {i}\n" for i in range(2000))
    assert k(env, "exec", "-i", "box", "-c", "app", "--", "cat", input=data).stdout == data
    assert k(env, "exec", "-i", "box", "-c", "app", "--", "wc", "-l", input=data).stdout.strip() == "2000"


def test_exec_errors(env: dict[str, Any]) -> None:
    p = k(env, "exec", "pending", "--", "true", check=False)
    assert p.stderr.strip() == "Error from server (BadRequest): pod pending does not have a host assigned"
    p = k(env, "exec", "box", "-c", "nope", "--", "true", check=False)
    assert p.stderr.strip() == "Error from server (BadRequest): container nope is not valid for pod box"
    p = k(env, "exec", "waiter", "--", "true", check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'error: Internal error occurred: unable to upgrade connection: container not found ("app")'
    p = k(env, "exec", "box", "-c", "app", "--", "no-such-binary-here", check=False)
    assert p.stderr.strip() == ('error: Internal error occurred: error executing command in container: '
                                'exec: "no-such-binary-here": executable file not found in $PATH')


def test_exec_tty(env: dict[str, Any]) -> None:
    cluster: Cluster = env["cluster"]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    proc = subprocess.Popen(["kubectl", f"--cache-dir={cluster.cache_dir}", "-n", NS, "exec", "-it", "box", "-c", "app",
                             "--", "sh"], stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            env={**os.environ, "KUBECONFIG": cluster.kubeconfig, "TERM": "dumb"})
    os.close(slave)
    try:
        out = b""

        def expect(needle: bytes, timeout: float = 15) -> None:
            nonlocal out
            deadline = time.monotonic() + timeout
            while needle not in out:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([master], [], [], left)[0]:
                    raise TimeoutError(f"{needle!r} not in {out!r}")
                try:
                    out += os.read(master, 4096)
                except OSError:
                    raise AssertionError(f"kubectl ended; output {out!r}") from None

        os.write(master, b"echo $((6*7)) is-the-answer\n")
        expect(b"42 is-the-answer")
        os.write(master, b"stty size; tty\n")
        expect(b"40 100")  # kubectl sent its terminal size on the resize channel
        expect(b"/dev/pts/")
        os.write(master, b"exit 5\n")
        assert proc.wait(15) == 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_attach(env: dict[str, Any]) -> None:
    p = k(env, "attach", "-i", "box", "-c", "app", input="hello\nworld\n")
    assert p.stdout == "attached\ngot hello\ngot world\nbye\n"


def test_cp_both_ways(env: dict[str, Any]) -> None:
    src = os.path.join(env["work"], "upload.txt")
    payload = "copied through tar over exec\n" * 500
    with open(src, "w") as f:
        f.write(payload)
    k(env, "cp", src, "box:/tmp/upload.txt", "-c", "app")
    with open(os.path.join(env["root"], "tmp", "upload.txt")) as f:
        assert f.read() == payload
    os.makedirs(os.path.join(env["root"], "tmp", "dir", "sub"))
    with open(os.path.join(env["root"], "tmp", "dir", "sub", "a.txt"), "w") as f:
        f.write("A\n")
    dest = os.path.join(env["work"], "download")
    k(env, "cp", "box:/tmp/dir", dest, "-c", "app")
    with open(os.path.join(dest, "sub", "a.txt")) as f:
        assert f.read() == "A\n"
    k(env, "cp", "box:/tmp/upload.txt", os.path.join(env["work"], "back.txt"), "-c", "app")
    with open(os.path.join(env["work"], "back.txt")) as f:
        assert f.read() == payload


# ---- port-forward ------------------------------------------------------------------------------------


def test_port_forward_two_connections(env: dict[str, Any]) -> None:
    cluster: Cluster = env["cluster"]
    local = free_port()
    proc = subprocess.Popen(["kubectl", f"--cache-dir={cluster.cache_dir}", "-n", NS, "port-forward", "pod/box",
                             f"{local}:8080", "9999"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "KUBECONFIG": cluster.kubeconfig})
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert read_line(proc.stdout, 15).startswith(f"Forwarding from 127.0.0.1:{local} -> 8080".encode())
        a = socket.create_connection(("127.0.0.1", local), timeout=10)
        b = socket.create_connection(("127.0.0.1", local), timeout=10)
        a.sendall(b"hello from a")
        b.sendall(b"hello from b")
        assert recv_exactly(b, 12) == b"hello from b"
        assert recv_exactly(a, 12) == b"hello from a"
        big = os.urandom(300_000)
        a.sendall(big)
        assert recv_exactly(a, len(big)) == big
        a.shutdown(socket.SHUT_WR)
        assert a.recv(10) == b""  # the pod side closed after our FIN
        a.close()
        b.close()
        c = socket.create_connection(("127.0.0.1", local), timeout=10)
        c.sendall(b"again")
        assert recv_exactly(c, 5) == b"again"
        c.close()
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_port_forward_refused_port_reports_the_error(env: dict[str, Any]) -> None:
    cluster: Cluster = env["cluster"]
    local = free_port()
    proc = subprocess.Popen(["kubectl", f"--cache-dir={cluster.cache_dir}", "-n", NS, "port-forward", "box",
                             f"{local}:9999"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "KUBECONFIG": cluster.kubeconfig})
    try:
        assert proc.stdout is not None and proc.stderr is not None
        read_line(proc.stdout, 15)
        s = socket.create_connection(("127.0.0.1", local), timeout=10)
        assert s.recv(10) == b""
        s.close()
        err = b""
        deadline = time.monotonic() + 10
        while b"connection refused" not in err and time.monotonic() < deadline:
            if select.select([proc.stderr], [], [], 0.5)[0]:
                err += os.read(proc.stderr.fileno(), 4096)
        assert b"an error occurred forwarding " + str(local).encode() + b" -> 9999" in err
        assert b"error forwarding port 9999 to pod box" in err
    finally:
        proc.kill()
        proc.wait()


def test_port_forward_errors(env: dict[str, Any]) -> None:
    p = k(env, "port-forward", "waiter", "18080:8080", check=False)
    assert "unable to forward port because pod is not running. Current status=Pending" in p.stderr


def recv_exactly(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def test_python_client_exec_v4(env: dict[str, Any]) -> None:
    """The official Python client uses v4.channel.k8s.io (and reads the exit code from the Status)."""
    from kubernetes import client, config
    from kubernetes.stream import stream

    api = client.CoreV1Api(config.new_client_from_config(env["cluster"].kubeconfig))
    resp = stream(api.connect_get_namespaced_pod_exec, "box", NS, container="app",
                  command=["sh", "-c", "echo py; echo oops >&2; exit 4"], stderr=True, stdin=False, stdout=True,
                  tty=False, _preload_content=False)
    resp.run_forever(timeout=15)
    assert resp.read_stdout() == "py\n"
    assert resp.read_stderr() == "oops\n"
    assert resp.returncode == 4
    resp.close()
    assert api.read_namespaced_pod_log("box", NS, container="app", tail_lines=1) == "new line\n"


def test_python_client_port_forward(env: dict[str, Any]) -> None:
    """The Python client's port-forward is the WebSocket protocol (v4.channel.k8s.io, ?ports=)."""
    from kubernetes import client, config
    from kubernetes.stream import portforward

    api = client.CoreV1Api(config.new_client_from_config(env["cluster"].kubeconfig))
    pf = portforward(api.connect_get_namespaced_pod_portforward, "box", NS, ports="8080")
    sock = pf.socket(8080)
    sock.settimeout(10)
    sock.sendall(b"through the python client")
    assert recv_exactly(sock, 25) == b"through the python client"
    sock.close()
    assert pf.error(8080) is None
    pf.close()

