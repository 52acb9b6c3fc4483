"""Container logs in the CRI log format (what containerd/CRI-O write and the kubelet reads).

One entry per line: `<RFC3339 time, 9 fraction digits> <stdout|stderr> <F|P> <content>\\n`, e.g.
`2016-10-06T00:17:09.669794202Z stdout F hello`. `F` ends a logical line; `P` is a chunk of a
line longer than the maximum entry size (16 KiB, containerd's `max_container_log_line_size`),
continued by the next entry of the same stream. Like containerd, the writer only emits a line
once its newline arrives (or the chunk limit is hit, or the stream ends).

The writer is imported by the monitor process, so this module imports only the stdlib at load
time (asyncio is imported lazily by `follow`).
"""

from __future__ import annotations

import calendar
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Iterator

MAX_LINE = 16 * 1024
STDOUT = "stdout"
STDERR = "stderr"
FULL = b"F"
PARTIAL = b"P"


def format_timestamp(ns: int) -> bytes:
    """UTC, always 9 fraction digits (containerd's `2006-01-02T15:04:05.000000000Z07:00`)."""
    sec, frac = divmod(ns, 1_000_000_000)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z").encode()


_TS_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def parse_timestamp(ts: str) -> int:
    """RFC 3339 (any fraction length, Z or offset) -> ns since the epoch."""
    m = _TS_RE.match(ts)
    if not m:
        raise ValueError(f"bad timestamp {ts!r}")
    sec = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    frac = int((m.group(2) or "0").ljust(9, "0"))
    tz = m.group(3)
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        sec -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return sec * 1_000_000_000 + frac


def format_rfc3339nano(ns: int) -> str:
    """Go's time.RFC3339Nano (trailing zeros trimmed): the kubelet's `--timestamps` prefix."""
    sec, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    f = f"{frac:09d}".rstrip("0")
    return f"{base}.{f}Z" if f else f"{base}Z"


def encode_entries(stream: str, pending: bytes, data: bytes, ts: bytes, max_line: int = MAX_LINE
                   ) -> tuple[list[bytes], bytes]:
    """Split `pending + data` into finished CRI entries and the unfinished rest.

    Complete lines become `F` entries; a rest longer than `max_line` is cut into `P` chunks."""
    buf = pending + data
    out: list[bytes] = []
    s = stream.encode()
    start = 0
    while True:
        nl = buf.find(b"\n", start)
        if nl < 0:
            break
        line = buf[start:nl]
        while len(line) > max_line:
            out.append(b"%s %s P %s\n" % (ts, s, line[:max_line]))
            line = line[max_line:]
        out.append(b"%s %s F %s\n" % (ts, s, line))
        start = nl + 1
    rest = buf[start:]
    while len(rest) > max_line:
        out.append(b"%s %s P %s\n" % (ts, s, rest[:max_line]))
        rest = rest[max_line:]
    return out, rest


class CRILogWriter:
    """Appends CRI entries for one container's streams to its log file (thread-safe)."""

    def __init__(self, path: str, max_line: int = MAX_LINE, clock: Callable[[], int] = time.time_ns) -> None:
        self.path = path
        self.max_line = max_line
        self.clock = clock
        self._pending: dict[str, bytes] = {STDOUT: b"", STDERR: b""}
        self._lock = threading.Lock()
        if path:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        else:
            self._fd = -1

    def write(self, stream: str, data: bytes) -> None:
        with self._lock:
            entries, rest = encode_entries(stream, self._pending[stream], data, format_timestamp(self.clock()),
                                           self.max_line)
            self._pending[stream] = rest
            self._emit(entries)

    def flush(self, stream: str) -> None:
        """The stream ended: its unfinished line becomes a full entry (containerd does the same)."""
        with self._lock:
            rest = self._pending[stream]
            self._pending[stream] = b""
            if rest:
                self._emit([b"%s %s F %s\n" % (format_timestamp(self.clock()), stream.encode(), rest)])

    def _emit(self, entries: list[bytes]) -> None:
        if entries and self._fd >= 0:
            os.write(self._fd, b"".join(entries))

    def close(self) -> None:
        for s in (STDOUT, STDERR):
            self.flush(s)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


# ---- reading (kubectl logs) ----

@dataclass
class LogEntry:
    ts: int  # ns since the epoch
    stream: str
    partial: bool
    content: bytes


def parse_line(line: bytes) -> LogEntry | None:
    """One CRI entry (without its newline); None for a malformed line (skipped, like the kubelet)."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    try:
        ts = parse_timestamp(parts[0].decode())
    except (ValueError, UnicodeDecodeError):
        return None
    stream = parts[1].decode(errors="replace")
    if stream not in (STDOUT, STDERR):
        return None
    tag = parts[2]
    content = parts[3] if len(parts) == 4 else b""
    return LogEntry(ts, stream, tag.split(b":")[0] == PARTIAL, content)


@dataclass
class LogOptions:
    """What `kubectl logs` asks for (the kubelet's LogOptions)."""

    tail: int | None = None  # last N entries; None = all
    since_ns: int = 0  # skip entries older than this
    timestamps: bool = False
    limit_bytes: int | None = None
    stream: str | None = None  # only stdout or stderr; None = both


class LogFormatter:
    """Turns entries into the bytes the kubelet sends: content, newline after full entries,
    the RFC3339Nano timestamp before the first chunk of each line when asked."""

    def __init__(self, opts: LogOptions) -> None:
        self.opts = opts
        self._prefix = {STDOUT: True, STDERR: True}
        self.sent = 0

    def format(self, e: LogEntry) -> bytes:
        if self.opts.stream and e.stream != self.opts.stream:
            return b""
        if e.ts < self.opts.since_ns:
            return b""
        out = e.content if e.partial else e.content + b"\n"
        if self.opts.timestamps and self._prefix[e.stream]:
            out = format_rfc3339nano(e.ts).encode() + b" " + out
        self._prefix[e.stream] = not e.partial
        return out

    def done(self) -> bool:
        return self.opts.limit_bytes is not None and self.sent >= self.opts.limit_bytes

    def limit(self, data: bytes) -> bytes:
        if self.opts.limit_bytes is not None:
            data = data[: max(0, self.opts.limit_bytes - self.sent)]
        self.sent += len(data)
        return data


def tail_offset(path: str, n: int, block: int = 64 * 1024) -> int:
    """Byte offset where the last `n` entries start (reads backwards in blocks)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        if n <= 0:
            return end
        pos = end
        count = 0
        # a trailing newline ends the last entry; it does not start a new one
        skip_last = True
        while pos > 0:
            size = min(block, pos)
            pos -= size
            f.seek(pos)
            chunk = f.read(size)
            i = len(chunk)
            while True:
                i = chunk.rfind(b"\n", 0, i)
                if i < 0:
                    break
                if skip_last and pos + i == end - 1:
                    skip_last = False
                    continue
                count += 1
                if count == n:
                    return pos + i + 1
        return 0


def read_logs(path: str, opts: LogOptions | None = None) -> Iterator[bytes]:
    """The formatted log of a container so far (no follow)."""
    yield from _read(path, opts or LogOptions(), None)


def _read(path: str, opts: LogOptions, state: dict[str, Any] | None) -> Iterator[bytes]:
    fmt = state["fmt"] if state else LogFormatter(opts)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        if state and "pos" in state:
            f.seek(state["pos"])
        elif opts.tail is not None:
            f.seek(tail_offset(path, opts.tail))
        while not fmt.done():
            line = f.readline()
            if not line.endswith(b"\n"):  # incomplete write: re-read it next time
                break
            if state is not None:
                state["pos"] = f.tell()
            e = parse_line(line[:-1])
            if e is None:
                continue
            out = fmt.limit(fmt.format(e))
            if out:
                yield out
        if state is not None and "pos" not in state:
            state["pos"] = f.tell()


async def follow(path: str, opts: LogOptions, running: Callable[[], Any], interval: float = 0.1
                 ) -> AsyncIterator[bytes]:
    """`kubectl logs -f`: what is there, then new entries until `running()` (sync or async)
    turns false and the file has been read to its end."""
    import asyncio
    import inspect

    state: dict[str, Any] = {"fmt": LogFormatter(opts)}
    while True:
        for chunk in _read(path, opts, state):
            yield chunk
        if state["fmt"].done():
            return
        alive = running()
        if inspect.isawaitable(alive):
            alive = await alive
        if not alive:
            for chunk in _read(path, opts, state):
                yield chunk
            return
        await asyncio.sleep(interval)


def previous_log_path(log_path: str) -> str:
    """`--previous`: `<dir>/<attempt-1>.log` next to `<dir>/<attempt>.log`."""
    d, base = os.path.split(log_path)
    attempt = int(base.split(".", 1)[0])
    return os.path.join(d, f"{attempt - 1}.log")


# ---- the pod log directory tree (/var/log/pods) ----

def pod_logs_dir(root: str, namespace: str, name: str, uid: str) -> str:
    """BuildPodLogsDirectory: `<root>/<namespace>_<name>_<uid>`."""
    return os.path.join(root, f"{namespace}_{name}_{uid}")


def container_log_path(root: str, namespace: str, name: str, uid: str, container: str, attempt: int) -> str:
    """BuildContainerLogsDirectory + `<restart count>.log`."""
    return os.path.join(pod_logs_dir(root, namespace, name, uid), container, f"{attempt}.log")


def remove_pod_logs(root: str, uid: str, namespace: str = "", name: str = "") -> list[str]:
    """Remove the log directory of the pod `uid` under root (the container GC's
    evictPodLogsDirectories for a deleted pod). With the pod's namespace and name that is one
    path; without them every directory whose last `_` part is the UID, so this never touches
    another pod's logs, even in a log dir other nodes share. Returns what it removed."""
    import shutil

    if not uid:
        return []
    if namespace and name:
        paths = [pod_logs_dir(root, namespace, name, uid)]
    else:
        try:
            paths = [e.path for e in os.scandir(root) if e.name.rsplit("_", 1)[-1] == uid]
        except OSError:
            return []
    removed = []
    for p in paths:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed
