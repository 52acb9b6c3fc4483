"""Small system calls the OCI runtime makes: mount, umount and setns through libc, JSON and text
files written atomically or read defensively, and subprocesses with a timeout."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import json
import logging
import os
import re
from typing import Any

from ... import subproc

log = logging.getLogger("kubeling.kubelet.runtime")

MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND = 2, 4, 8, 4096
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def mount(source: str, target: str, fstype: str, flags: int = 0, data: str = "") -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                   data.encode() if data else None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {fstype} on {target}: {os.strerror(e)}")


def umount(target: str) -> None:
    """Unmount (lazily if busy); no error if nothing is mounted there."""
    for flags in (0, MNT_DETACH):
        if _libc.umount2(target.encode(), flags) == 0:
            return
        e = ctypes.get_errno()
        if e in (errno.EINVAL, errno.ENOENT):
            return
    log.warning("umount %s failed: %s", target, os.strerror(ctypes.get_errno()))


def setns(fd: int, nstype: int) -> None:
    if _libc.setns(fd, nstype) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


def read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json(path: str, obj: Any) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def read_text(path: str, limit: int = 1 << 20) -> str:
    """A file from an image rootfs; refuses symlinks (they would resolve on the host)."""
    try:
        if os.path.islink(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read(limit)
    except OSError:
        return ""


async def run_cmd(argv: list[str], timeout: float = 30, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    try:
        return await subproc.run(argv, stdin, None, timeout)
    except subproc.Timeout:
        raise asyncio.TimeoutError(f"{argv[0]} timed out after {timeout}s") from None


def parse_version(text: str) -> str:
    """`runc version 1.1.5+ds1` / `crun version 1.8.1` -> `1.1.5` / `1.8.1`."""
    m = re.search(r"version\s+(\S+)", text)
    return m.group(1).split("+", 1)[0] if m else "unknown"
