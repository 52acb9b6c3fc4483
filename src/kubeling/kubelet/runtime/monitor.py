"""The per-container monitor process (what conmon is to CRI-O): one small detached process per
container that owns the container's stdio, writes the CRI log, and records how it ended.

Started by `OCIRuntime.create_container` as `python -S monitor.py <container dir> <ready fd>`
(or `python -m kubeling.kubelet.runtime.monitor ...`). It daemonizes (double fork, own session),
so it survives kubeling stopping or crashing, and becomes a child subreaper so the container's
init (created by `runc create`) is re-parented to it and its exit status can be collected with
`waitpid`. Lifecycle:

1. read `monitor.json` in the container dir; listen on `monitor.sock` there;
2. `<runtime> create --bundle DIR --pid-file DIR/init.pid ID` with the container's stdout and
   stderr on pipes it reads (or, with a tty, `--console-socket` receiving the pty master over
   SCM_RIGHTS); report `{"ok": true, "pid": N}` or the error on the ready fd -> state CREATED;
3. on `{"op": "start"}` run `<runtime> start ID` -> RUNNING;
4. when init exits: drain the pipes into the log, read the cgroup's OOM-kill count, run
   `<runtime> delete -f ID`, write the exit code / times / OOM to `state.json` -> EXITED; exit.

`state.json` (written atomically) is what the runtime reads for container status, also after a
kubeling restart. Control protocol on `monitor.sock`: one JSON line per request, one JSON line
answer: `start`, `wait` (answers when the container has exited), `state`, and `attach`, after
whose answer the connection carries frames `>BI` (stream, length) + payload: client -> monitor
0 stdin, 3 resize (JSON width/height), 4 close stdin; monitor -> client 1 stdout, 2 stderr,
5 exit (the exit code as text).

Only the stdlib (and logs.py) is imported: this runs once per container and its start-up time
is part of every container start.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Any

if __package__ in (None, ""):  # run as a script with -S: make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
from kubeling.kubelet.runtime.logs import STDERR, STDOUT, CRILogWriter  # noqa: E402

FRAME = struct.Struct(">BI")
F_STDIN, F_STDOUT, F_STDERR, F_RESIZE, F_CLOSE_STDIN, F_EXIT = 0, 1, 2, 3, 4, 5
PR_SET_CHILD_SUBREAPER = 36
SOCK = "monitor.sock"
CONSOLE_SOCK = "console.sock"
STATE = "state.json"


def write_json(path: str, obj: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def proc_start_time(pid: int) -> int:
    """Start time (clock ticks since boot) of a live process: with the pid, identifies it even if
    the pid is reused later. 0 if it does not exist or is a zombie."""
    if pid <= 0:
        return 0
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return 0
    return int(fields[19])


def runtime_has(runtime_argv: list[str], cid: str) -> bool:
    """Whether the OCI runtime (`[binary, "--root", ROOT]`) still keeps state for cid. runc and
    crun create their --root on every command, so a `delete` or `state` sent after `kubeling down`
    or the node's tidy-up removed /run/kubeling/<hash> would leave an empty <hash>/runc behind;
    without the container's state dir the command has nothing to do anyway."""
    if "--root" not in runtime_argv[:-1]:
        return True
    return os.path.isdir(os.path.join(runtime_argv[runtime_argv.index("--root") + 1], cid))


def read_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    head = _recv_exact(sock, FRAME.size)
    if head is None:
        return None
    kind, n = FRAME.unpack(head)
    body = _recv_exact(sock, n) if n else b""
    if body is None:
        return None
    return kind, body


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


_LIBC: Any = None


def _set_subreaper() -> None:
    global _LIBC
    import ctypes

    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    if _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class Monitor:
    def __init__(self, cdir: str, cfg: dict[str, Any]) -> None:
        self.dir = cdir
        self.cfg = cfg
        self.id: str = cfg["id"]
        self.lock = threading.Lock()
        self.clients: list[socket.socket] = []
        self.exited = threading.Event()
        self.started = False
        self.start_requested = 0.0
        self.stdin_w: int | None = None
        self.master: int | None = None  # tty
        self.readers: list[threading.Thread] = []
        self.handlers: list[threading.Thread] = []
        self.log = CRILogWriter(cfg.get("log_path", ""))
        self.state: dict[str, Any] = {
            "id": self.id, "status": "creating", "monitor_pid": os.getpid(),
            "monitor_start": proc_start_time(os.getpid()), "pid": 0, "created_at": 0.0, "started_at": 0.0,
            "finished_at": 0.0, "exit_code": 0, "oom_killed": False, "error": "",
        }

    # ---- state ----
    def save(self, **changes: Any) -> None:
        with self.lock:
            self.state.update(changes)
            write_json(os.path.join(self.dir, STATE), self.state)

    def runtime(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*self.cfg["runtime"], *args], stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout)

    # ---- create ----
    def create(self) -> tuple[bool, str]:
        tty = bool(self.cfg.get("tty"))
        pid_file = os.path.join(self.dir, "init.pid")
        argv = [*self.cfg["create_runtime"], "create", "--bundle", self.dir, "--pid-file", pid_file]
        console = None
        if tty:
            console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            _unlink(CONSOLE_SOCK)
            console.bind(CONSOLE_SOCK)
            console.listen(1)
            argv += ["--console-socket", CONSOLE_SOCK]
        argv.append(self.id)
        devnull = os.open(os.devnull, os.O_RDWR)
        stdin_r = devnull
        if self.cfg.get("stdin") and not tty:
            stdin_r, self.stdin_w = os.pipe()
        if tty:
            out_r, out_w = os.pipe()  # runc's own messages only; the container talks to the pty
            err_r, err_w = out_r, out_w
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
        try:
            t0 = time.monotonic()
            proc = subprocess.Popen(argv, stdin=stdin_r, stdout=out_w, stderr=err_w, cwd=self.dir)
        finally:
            for fd in {out_w, err_w, stdin_r}:
                os.close(fd)
            if stdin_r != devnull:
                os.close(devnull)
        # nothing in the container runs before `start`: whatever is in the pipes once create has
        # exited is the runtime's own messages (the error, or warnings), not container output
        rc = proc.wait()
        create_ms = (time.monotonic() - t0) * 1000
        early = [_drain(fd) for fd in ({out_r, err_r})]
        if rc != 0:
            for fd in {out_r, err_r}:
                os.close(fd)
            msg = b"".join(early).decode(errors="replace").strip() or f"runtime create exited with {rc}"
            return False, msg
        if tty:
            os.close(out_r)
        else:
            self.readers.append(self._reader(out_r, STDOUT))
            self.readers.append(self._reader(err_r, STDERR))
        if console is not None:
            console.settimeout(5)
            try:
                conn, _ = console.accept()
                with conn:
                    _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
                self.master = fds[0]
            except OSError as e:
                return False, f"receiving the console: {e}"
            finally:
                console.close()
                _unlink(CONSOLE_SOCK)
            self.readers.append(self._reader(self.master, STDOUT))
        with open(pid_file) as f:
            pid = int(f.read().strip())
        if any(early):  # runtime warnings while creating: keep them out of the container's log
            with open(os.path.join(self.dir, "monitor.log"), "ab") as f:
                f.write(b"".join(early))
        self.save(status="created", pid=pid, created_at=time.time(), runtime_create_ms=round(create_ms, 1))
        return True, str(pid)

    def _reader(self, fd: int, stream: str) -> threading.Thread:
        """Copy one output fd to the log and the attached clients until EOF (or EIO on a pty)."""

        def run() -> None:
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                self.log.write(stream, data)
                self.broadcast(F_STDOUT if stream == STDOUT else F_STDERR, data)
            self.log.flush(stream)
            os.close(fd)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    # ---- clients ----
    def broadcast(self, kind: int, data: bytes) -> None:
        frame = FRAME.pack(kind, len(data)) + data
        with self.lock:
            clients = list(self.clients)
        for c in clients:
            try:
                c.sendall(frame)
            except OSError:
                self._drop(c)

    def _drop(self, c: socket.socket) -> None:
        with self.lock:
            if c in self.clients:
                self.clients.remove(c)
        try:
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def serve(self, srv: socket.socket) -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            t = threading.Thread(target=self.handle, args=(conn,), daemon=True)
            self.handlers.append(t)
            t.start()

    def handle(self, conn: socket.socket) -> None:
        try:
            f = conn.makefile("rb")
            line = f.readline()
            if not line:
                return
            req = json.loads(line)
            op = req.get("op")
            if op == "start":
                reply = self.start()
            elif op == "wait":
                self.exited.wait()
                reply = {"ok": True, **self.state}
            elif op == "state":
                reply = {"ok": True, **self.state}
            elif op == "attach":
                conn.sendall(json.dumps({"ok": True, **self.state}).encode() + b"\n")
                self.attach(conn, f, bool(req.get("stdin")))
                return
            else:
                reply = {"ok": False, "error": f"unknown op {op!r}"}
            conn.sendall(json.dumps(reply).encode() + b"\n")
        except (OSError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def start(self) -> dict[str, Any]:
        with self.lock:
            if self.started or self.state["status"] != "created":
                return {"ok": False, "error": f"container is {self.state['status']}, not created"}
            self.started = True
            t = self.start_requested = time.time()
        t0 = time.monotonic()
        r = self.runtime("start", self.id)
        start_ms = round((time.monotonic() - t0) * 1000, 1)
        if r.returncode != 0 and not self.exited.wait(1.0):
            # (a container that exits at once can make `runc start` fail on its own cleanup
            # — "remove .../exec.fifo: no such file" — after it did start: that is a start)
            return {"ok": False, "error": (r.stderr or r.stdout).decode(errors="replace").strip()}
        with self.lock:
            if self.state["status"] == "created":  # it may already have exited
                self.state.update(status="running", started_at=t, runtime_start_ms=start_ms)
                write_json(os.path.join(self.dir, STATE), self.state)
        return {"ok": True}

    def attach(self, conn: socket.socket, f: Any, want_stdin: bool) -> None:
        if self.exited.is_set():
            conn.sendall(FRAME.pack(F_EXIT, 0) + str(self.state["exit_code"]).encode())
            return
        # a client that stops reading must not stall the container's output for long
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 10, 0))
        with self.lock:
            self.clients.append(conn)
        try:
            while True:
                fr = read_frame_file(f)
                if fr is None:
                    break
                kind, body = fr
                if kind == F_STDIN and want_stdin:
                    self._write_stdin(body)
                elif kind == F_RESIZE:
                    self._resize(body)
                elif kind == F_CLOSE_STDIN:
                    break
        except (OSError, ValueError):
            pass
        finally:
            if want_stdin and self.cfg.get("stdin_once"):
                self._close_stdin()
            self._drop(conn)

    def _write_stdin(self, data: bytes) -> None:
        fd = self.master if self.master is not None else self.stdin_w
        if fd is not None and data:
            try:
                os.write(fd, data)
            except OSError:
                pass

    def _close_stdin(self) -> None:
        with self.lock:
            fd, self.stdin_w = self.stdin_w, None
        if fd is not None:
            os.close(fd)
        elif self.master is not None:
            self._write_stdin(b"\x04")  # EOF on a tty

    def _resize(self, body: bytes) -> None:
        if self.master is None:
            return
        import fcntl
        import termios

        size = json.loads(body)
        fcntl.ioctl(self.master, termios.TIOCSWINSZ,
                    struct.pack("HHHH", int(size.get("height", 24)), int(size.get("width", 80)), 0, 0))

    # ---- exit ----
    def wait_exit(self) -> None:
        pid = self.state["pid"]
        try:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code
        except ChildProcessError:  # not re-parented to us (should not happen): wait by polling
            while os.path.exists(f"/proc/{pid}"):
                time.sleep(0.05)
            code = 255
        finished = time.time()
        for t in self.readers:
            t.join(timeout=2)
        self.log.close()
        oom = self._oom_kills() > 0
        if runtime_has(self.cfg["runtime"], self.id):
            self.runtime("delete", "-f", self.id)
        with self.lock:
            if not self.state.get("started_at") and self.started:  # exited before `start` returned
                self.state["started_at"] = min(self.start_requested, finished)
            self.state.update(status="exited", exit_code=code, finished_at=finished, oom_killed=oom)
            write_json(os.path.join(self.dir, STATE), self.state)
        self._close_stdin()
        self.exited.set()
        self.broadcast(F_EXIT, str(code).encode())
        with self.lock:
            clients = list(self.clients)
        for c in clients:
            self._drop(c)

    def _oom_kills(self) -> int:
        d = self.cfg.get("memory_cgroup", "")
        if not d:
            return 0
        for name in ("memory.oom_control", "memory.events"):
            try:
                with open(os.path.join(d, name)) as f:
                    for line in f:
                        k, _, v = line.partition(" ")
                        if k == "oom_kill":
                            return int(v)
            except OSError:
                continue
        return 0


def read_frame_file(f: Any) -> tuple[int, bytes] | None:
    head = f.read(FRAME.size)
    if len(head) < FRAME.size:
        return None
    kind, n = FRAME.unpack(head)
    body = f.read(n) if n else b""
    if len(body) < n:
        return None
    return kind, body


def _drain(fd: int) -> bytes:
    """What is buffered in a pipe right now (without blocking)."""
    os.set_blocking(fd, False)
    out = []
    try:
        while chunk := os.read(fd, 65536):
            out.append(chunk)
    except BlockingIOError:
        pass
    os.set_blocking(fd, True)
    return b"".join(out)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def daemonize() -> None:
    """Double fork: the caller's child exits at once (its parent reaps it), the grandchild lives
    on in its own session, re-parented away from kubeling."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)


def run(cdir: str, ready_fd: int) -> int:
    """The monitor proper (already detached): create, serve, wait for the exit, record it."""
    os.chdir(cdir)
    with open("monitor.json") as f:
        cfg = json.load(f)
    for sig in (signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    _set_subreaper()
    mon = Monitor(cdir, cfg)
    _unlink(SOCK)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(SOCK)
    srv.listen(16)
    try:
        ok, detail = mon.create()
    except Exception as e:  # report anything to the waiting kubeling instead of hanging it
        ok, detail = False, f"{type(e).__name__}: {e}"
    report = {"ok": True, "pid": int(detail)} if ok else {"ok": False, "error": detail}
    if not ok:
        mon.save(status="exited", error=detail, exit_code=128, finished_at=time.time())
        srv.close()
        _unlink(SOCK)
    if ready_fd >= 0:
        try:
            os.write(ready_fd, json.dumps(report).encode() + b"\n")
        finally:
            os.close(ready_fd)
    if not ok:
        return 1
    threading.Thread(target=mon.serve, args=(srv,), daemon=True).start()
    if cfg.get("auto_start"):
        mon.start()
    mon.wait_exit()
    _unlink(SOCK)
    for t in list(mon.handlers):  # let `wait` answers go out
        t.join(timeout=1)
    return 0


def _redirect_output(path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def zygote(sock_fd: int) -> int:
    """Fork monitors on request, so a container start does not pay for a Python start-up.

    Requests arrive on a SOCK_SEQPACKET socket: the container dir as the message, the ready
    fd attached (SCM_RIGHTS). This process stays single-threaded, so forking it is safe; the
    forked monitor detaches (own session, double fork) and so outlives the zygote and kubeling.
    The zygote exits when kubeling closes its end."""
    for sig in (signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    import ctypes  # noqa: F401  (pre-import what each monitor needs, once)

    globals()["_LIBC"] = ctypes.CDLL(None, use_errno=True)
    sock = socket.socket(fileno=sock_fd)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 4096, 1)
        except OSError:
            return 0
        if not msg:
            return 0
        cdir = msg.decode()
        ready = fds[0] if fds else -1
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                sock.close()
                os.setsid()
                if os.fork() > 0:
                    os._exit(0)
                _redirect_output(os.path.join(cdir, "monitor.log"))
                code = run(cdir, ready)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        os.waitpid(pid, 0)


def main(argv: list[str]) -> int:
    """`monitor.py DIR READY_FD` (one monitor) or `monitor.py --zygote SOCK_FD`."""
    if argv and argv[0] == "--zygote":
        return zygote(int(argv[1]))
    cdir = os.path.abspath(argv[0])
    ready_fd = int(argv[1]) if len(argv) > 1 else -1
    daemonize()
    return run(cdir, ready_fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
