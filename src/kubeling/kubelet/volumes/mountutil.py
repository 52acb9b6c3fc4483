"""Mount helpers: mount(2)/umount2(2) through libc (no `mount` binary, no path canonicalization),
/proc/self/mountinfo parsing, and a tree removal that never crosses into another filesystem.

The last point is what keeps `teardown` safe: if an unmount failed, removing the pod directory
must not walk into a still-mounted volume (a subPath bind of a hostPath would be the host's files).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import stat

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)


def _enc(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def mount(source: str, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2); raises OSError with the errno."""
    if _libc.mount(_enc(source), _enc(target), _enc(fstype), flags, _enc(data)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {source} on {target}: {os.strerror(e)}")


def umount(target: str, flags: int = UMOUNT_NOFOLLOW) -> None:
    """umount2(2); EINVAL (not a mount point) and ENOENT are not errors."""
    if _libc.umount2(_enc(target), flags) != 0:
        e = ctypes.get_errno()
        if e in (errno.EINVAL, errno.ENOENT):
            return
        raise OSError(e, f"umount {target}: {os.strerror(e)}")


def mount_tmpfs(target: str, size: int | None) -> None:
    """A tmpfs like upstream's emptyDir setupTmpfs: options only `size=<bytes>` when known."""
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size}" if size else None)


def bind(source: str, target: str) -> None:
    mount(source, target, None, MS_BIND | MS_REC)


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo octal."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[tuple[str, str]]:
    """(mount point, fstype) per line of /proc/self/mountinfo."""
    out = []
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) < 10 or "-" not in parts:
            continue
        sep = parts.index("-", 6)
        out.append((_unescape(parts[4]), parts[sep + 1]))
    return out


def mounts_under(root: str) -> list[str]:
    """Mount points at or below `root`, deepest first (the order to unmount them)."""
    root = os.path.realpath(root)
    with open("/proc/self/mountinfo") as f:
        points = {mp for mp, _ in parse_mountinfo(f.read())}
    hits = [p for p in points if p == root or p.startswith(root.rstrip("/") + "/")]
    return sorted(hits, key=lambda p: (-p.count("/"), p))


def fstype_of(path: str) -> str:
    """The filesystem type of the mount whose mount point is exactly `path` ("" if none)."""
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        found = ""
        for mp, fs in parse_mountinfo(f.read()):
            if mp == path:
                found = fs  # the last one is the top of the stack
    return found


def is_mountpoint(path: str) -> bool:
    return fstype_of(path) != ""


def unmount_all(root: str) -> None:
    """Unmount everything at or below `root`; a busy mount is detached lazily."""
    for mp in mounts_under(root):
        while True:
            try:
                umount(mp)
            except OSError as e:
                if e.errno != errno.EBUSY:
                    raise
                umount(mp, MNT_DETACH | UMOUNT_NOFOLLOW)
            if not is_mountpoint(mp):  # stacked mounts: repeat until the point is bare
                break


class CrossDeviceError(OSError):
    """Refused to remove a directory that lives on another filesystem (a leftover mount)."""


def remove_tree(root: str) -> None:
    """rm -rf `root` without following symlinks or crossing into other filesystems."""
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(root)
        return
    dev = st.st_dev
    _remove_dir(root, dev)


def _remove_dir(path: str, dev: int) -> None:
    with os.scandir(path) as it:
        entries = list(it)
    for e in entries:
        st = e.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            if st.st_dev != dev:
                raise CrossDeviceError(errno.EXDEV, f"refusing to remove {e.path}: it is on another filesystem")
            _remove_dir(e.path, dev)
        else:
            os.unlink(e.path)
    os.rmdir(path)
