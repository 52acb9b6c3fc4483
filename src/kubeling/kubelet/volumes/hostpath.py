"""hostPath volumes: the host path is used directly; `type` is checked (or the path created) at
SetUp, with upstream's messages (pkg/volume/hostpath/host_path.go checkTypeInternal)."""

from __future__ import annotations

import os
import stat

TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice")


class HostPathError(Exception):
    pass


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode  # follows symlinks, like os.Stat in GetFileType
    except OSError:
        return None


def check_type(path: str, path_type: str | None) -> None:
    """Validate (and for the *OrCreate types, create) the host path; raise HostPathError."""
    if not path_type:  # HostPathUnset: no checks
        return
    m = _mode(path)
    if path_type == "DirectoryOrCreate":
        if m is None and not os.path.lexists(path):
            os.makedirs(path, 0o755, exist_ok=True)
            return
        path_type = "Directory"
    elif path_type == "FileOrCreate":
        if m is None and not os.path.lexists(path):
            os.close(os.open(path, os.O_CREAT | os.O_RDONLY, 0o644))
            return
        path_type = "File"
    if path_type == "Directory":
        if m is None or not stat.S_ISDIR(m):
            raise HostPathError(f"hostPath type check failed: {path} is not a directory")
    elif path_type == "File":
        if m is None or not stat.S_ISREG(m):
            raise HostPathError(f"hostPath type check failed: {path} is not a file")
    elif path_type == "Socket":
        if m is None or not stat.S_ISSOCK(m):
            raise HostPathError(f"hostPath type check failed: {path} is not a socket file")
    elif path_type == "CharDevice":
        if m is None or not stat.S_ISCHR(m):
            raise HostPathError(f"hostPath type check failed: {path} is not a character device")
    elif path_type == "BlockDevice":
        if m is None or not stat.S_ISBLK(m):
            raise HostPathError(f"hostPath type check failed: {path} is not a block device")
    else:
        raise HostPathError(f"{path_type} is an invalid volume type")
