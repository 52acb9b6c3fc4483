"""subPath: create and bind-mount a path inside a volume without ever leaving the volume, even
when a container races us by swapping directories for symlinks (upstream subpath_linux.go).

Every component is opened with openat(O_NOFOLLOW) from the volume root; the final fd is then
bind-mounted from /proc/<pid>/fd/<n> to `<pod dir>/volume-subpaths/<volume>/<container>/<index>`,
and that stable path is what the container gets.
"""

from __future__ import annotations

import errno
import os
import stat

from . import mountutil

_DIR_FLAGS = os.O_NOFOLLOW | os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC
_PATH_FLAGS = os.O_NOFOLLOW | os.O_PATH | os.O_CLOEXEC


class SubPathError(Exception):
    pass


def within_base(path: str, base: str) -> bool:
    """PathWithinBase: `path` is `base` or below it (both already clean and absolute)."""
    rel = os.path.relpath(path, base)
    return rel == "." or not (rel == ".." or rel.startswith("../"))


def validate(sub_path: str) -> None:
    """makeMounts' checks before touching the disk (messages as the kubelet's)."""
    if os.path.isabs(sub_path):
        raise SubPathError(f"error SubPath `{sub_path}` must not be an absolute path")
    if ".." in sub_path.split("/"):
        raise SubPathError(f"unable to provision SubPath `{sub_path}`: must not contain '..'")


def safe_open(path: str, base: str) -> int:
    """doSafeOpen: an O_PATH fd for `path`, walking from `base` with O_NOFOLLOW at each step."""
    path, base = os.path.normpath(path), os.path.normpath(base)
    rel = os.path.relpath(path, base)
    if not within_base(path, base):
        raise SubPathError(f"path {path} is outside of allowed base {base}")
    fd = os.open(base, _DIR_FLAGS)
    if rel == ".":
        return fd
    try:
        current = base
        for seg in rel.split("/"):
            current = os.path.join(current, seg)
            try:
                child = os.open(seg, _PATH_FLAGS, dir_fd=fd)
            except OSError as e:
                raise SubPathError(f"cannot open {current}: {e.strerror}") from None
            os.close(fd)
            fd = child
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                raise SubPathError(f"symlink not allowed in {current}")  # a swap after EvalSymlinks
        return fd
    except BaseException:
        os.close(fd)
        raise


def safe_make_dir(sub_path: str, base: str, perm: int) -> None:
    """doSafeMakeDir: create base/sub_path component by component, refusing symlinks out."""
    base = os.path.realpath(base)
    target = os.path.normpath(os.path.join(base, sub_path))
    if not within_base(target, base):
        raise SubPathError(f"path {target} is outside of allowed base {base}")
    # longest existing prefix (lstat: a dangling link counts as existing and fails below)
    parts = os.path.relpath(target, base).split("/") if target != base else []
    existing, i = base, 0
    while i < len(parts) and os.path.lexists(os.path.join(existing, parts[i])):
        existing = os.path.join(existing, parts[i])
        i += 1
    real = os.path.realpath(existing)
    if not within_base(real, base):
        raise SubPathError(f"path {real} is outside of allowed base {base}")
    fd = safe_open(real, base)
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            raise SubPathError(f"{real} is not a directory")
        for seg in parts[i:]:
            try:
                os.mkdir(seg, perm, dir_fd=fd)
            except FileExistsError:
                pass  # someone else made it; the O_NOFOLLOW open below still guards us
            child = os.open(seg, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
            os.fchmod(fd, perm)
    finally:
        os.close(fd)


def bind_target(pod_dir: str, volume_name: str, container_name: str, index: int) -> str:
    return os.path.join(pod_dir, "volume-subpaths", volume_name, container_name, str(index))


def _same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def prepare(path: str, volume_path: str, pod_dir: str, volume_name: str, container_name: str, index: int) -> str:
    """doBindSubPath: returns the bind-mounted path to hand to the runtime."""
    try:
        volume_path = os.path.realpath(volume_path, strict=True)
        path = os.path.realpath(path, strict=True)
    except OSError as e:
        raise SubPathError(f"error resolving symlinks in {e.filename!r}: {e.strerror}") from None
    if not within_base(path, volume_path):
        raise SubPathError(f'subpath "{path}" not within volume path "{volume_path}"')
    fd = safe_open(path, volume_path)
    try:
        source = f"/proc/{os.getpid()}/fd/{fd}"
        target = bind_target(pod_dir, volume_name, container_name, index)
        if mountutil.is_mountpoint(target):
            if _same_file(source, target):
                return target
            mountutil.umount(target)
        os.makedirs(os.path.dirname(target), 0o750, exist_ok=True)
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        if not os.path.lexists(target):
            if is_dir:
                os.mkdir(target, 0o750)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o640))
        elif os.path.isdir(target) != is_dir:
            os.rmdir(target) if os.path.isdir(target) else os.unlink(target)
            if is_dir:
                os.mkdir(target, 0o750)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o640))
        try:
            mountutil.bind(source, target)
        except OSError as e:
            if e.errno == errno.ENOENT:
                raise SubPathError(f"error mounting {path}: {e.strerror}") from None
            raise
        return target
    finally:
        os.close(fd)
