"""CRI log format: writer (containerd's line splitting) and reader (kubelet's ReadLogs options)."""

from __future__ import annotations

import asyncio
import os

import pytest

from kubeling.kubelet.runtime import logs
from kubeling.kubelet.runtime.logs import CRILogWriter, LogOptions, read_logs

T0 = 1475713029_669794202  # 2016-10-06T00:17:09.669794202Z


def clock_from(start: int = T0, step: int = 1_000_000_000):
    t = [start - step]

    def now() -> int:
        t[0] += step
        return t[0]
    return now


def test_timestamps() -> None:
    assert logs.format_timestamp(T0) == b"2016-10-06T00:17:09.669794202Z"
    assert logs.format_timestamp(1475713029_000000000) == b"2016-10-06T00:17:09.000000000Z"
    assert logs.parse_timestamp("2016-10-06T00:17:09.669794202Z") == T0
    assert logs.parse_timestamp("2016-10-06T02:17:09.669794202+02:00") == T0
    assert logs.parse_timestamp("2016-10-06T00:17:09Z") == 1475713029_000000000
    assert logs.format_rfc3339nano(T0) == "2016-10-06T00:17:09.669794202Z"
    assert logs.format_rfc3339nano(1475713029_500000000) == "2016-10-06T00:17:09.5Z"
    assert logs.format_rfc3339nano(1475713029_000000000) == "2016-10-06T00:17:09Z"


def test_encode_entries_lines_and_partials() -> None:
    ts = b"TS"
    out, rest = logs.encode_entries("stdout", b"", b"a\nbb\ncc", ts, max_line=4)
    assert out == [b"TS stdout F a\n", b"TS stdout F bb\n"] and rest == b"cc"
    out, rest = logs.encode_entries("stdout", rest, b"dd\n", ts, max_line=4)
    assert out == [b"TS stdout F ccdd\n"] and rest == b""
    out, rest = logs.encode_entries("stderr", b"", b"0123456789\n", ts, max_line=4)
    assert out == [b"TS stderr P 0123\n", b"TS stderr P 4567\n", b"TS stderr F 89\n"]
    out, rest = logs.encode_entries("stdout", b"", b"0123456789", ts, max_line=4)
    assert out == [b"TS stdout P 0123\n", b"TS stdout P 4567\n"] and rest == b"89"
    out, rest = logs.encode_entries("stdout", b"", b"\n", ts)
    assert out == [b"TS stdout F \n"]


def test_writer(tmp_path: "os.PathLike[str]") -> None:
    p = os.path.join(str(tmp_path), "ns_pod_uid", "c", "0.log")
    w = CRILogWriter(p, max_line=8, clock=clock_from())
    w.write("stdout", b"hello\nwor")
    w.write("stderr", b"oops\n")
    w.write("stdout", b"ld\n")
    w.write("stdout", b"no newline at end")
    w.close()
    lines = open(p, "rb").read().splitlines()
    assert lines == [
        b"2016-10-06T00:17:09.669794202Z stdout F hello",
        b"2016-10-06T00:17:10.669794202Z stderr F oops",
        b"2016-10-06T00:17:11.669794202Z stdout F world",
        b"2016-10-06T00:17:12.669794202Z stdout P no newli",
        b"2016-10-06T00:17:12.669794202Z stdout P ne at en",
        b"2016-10-06T00:17:13.669794202Z stdout F d",
    ]


def write_log(path: str, entries: list[tuple[int, str, str, str]]) -> None:
    with open(path, "wb") as f:
        for ts, stream, tag, content in entries:
            f.write(logs.format_timestamp(ts) + f" {stream} {tag} {content}\n".encode())


S = 1_000_000_000
ENTRIES = [(T0, "stdout", "F", "one"), (T0 + S, "stderr", "F", "two"), (T0 + 2 * S, "stdout", "P", "thr"),
           (T0 + 3 * S, "stdout", "F", "ee"), (T0 + 4 * S, "stdout", "F", "four")]


@pytest.fixture()
def logfile(tmp_path: "os.PathLike[str]") -> str:
    p = os.path.join(str(tmp_path), "1.log")
    write_log(p, ENTRIES)
    return p


def read(path: str, **kw: object) -> bytes:
    return b"".join(read_logs(path, LogOptions(**kw)))  # type: ignore[arg-type]


def test_read_all(logfile: str) -> None:
    assert read(logfile) == b"one\ntwo\nthree\nfour\n"


def test_read_timestamps_only_before_first_chunk(logfile: str) -> None:
    assert read(logfile, timestamps=True).splitlines() == [
        b"2016-10-06T00:17:09.669794202Z one", b"2016-10-06T00:17:10.669794202Z two",
        b"2016-10-06T00:17:11.669794202Z three", b"2016-10-06T00:17:13.669794202Z four"]


def test_read_tail_since_stream_limit(logfile: str) -> None:
    assert read(logfile, tail=1) == b"four\n"
    assert read(logfile, tail=2) == b"ee\nfour\n"  # tail counts entries, like the kubelet
    assert read(logfile, tail=0) == b""
    assert read(logfile, tail=100) == b"one\ntwo\nthree\nfour\n"
    assert read(logfile, since_ns=T0 + 4 * S) == b"four\n"
    assert read(logfile, stream="stderr") == b"two\n"
    assert read(logfile, limit_bytes=6) == b"one\ntw"


def test_tail_offset_big_file(tmp_path: "os.PathLike[str]") -> None:
    p = os.path.join(str(tmp_path), "0.log")
    write_log(p, [(T0 + i, "stdout", "F", f"line {i}") for i in range(5000)])
    out = b"".join(read_logs(p, LogOptions(tail=3)))
    assert out == b"line 4997\nline 4998\nline 4999\n"
    assert logs.tail_offset(p, 5000) == 0


def test_malformed_lines_skipped(tmp_path: "os.PathLike[str]") -> None:
    p = os.path.join(str(tmp_path), "0.log")
    with open(p, "wb") as f:
        f.write(b"garbage\n" + logs.format_timestamp(T0) + b" stdout F ok\nbad-ts stdout F x\n")
    assert read(p) == b"ok\n"


def test_missing_file_is_empty(tmp_path: "os.PathLike[str]") -> None:
    assert read(os.path.join(str(tmp_path), "nope.log")) == b""


def test_previous_path() -> None:
    assert logs.previous_log_path("/var/log/pods/ns_p_u/c/3.log") == "/var/log/pods/ns_p_u/c/2.log"


def test_follow(tmp_path: "os.PathLike[str]") -> None:
    p = os.path.join(str(tmp_path), "0.log")
    w = CRILogWriter(p, clock=clock_from())
    w.write("stdout", b"first\n")
    state = {"polls": 0}

    def running() -> bool:
        # the "container" writes one more line, then exits
        state["polls"] += 1
        if state["polls"] == 1:
            w.write("stdout", b"second\n")
            return True
        w.write("stdout", b"last\n")
        return False

    async def collect() -> bytes:
        return b"".join([c async for c in logs.follow(p, LogOptions(), running, interval=0)])

    assert asyncio.run(collect()) == b"first\nsecond\nlast\n"
    w.close()
