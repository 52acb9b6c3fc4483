"""AtomicWriter: project a set of files into a volume directory so readers never see a mix of
old and new contents (a port of upstream pkg/volume/util/atomic_writer.go).

Layout of a target directory after a write of {"podName": ..., "user/labels": ...}:

    <target>/podName        -> ..data/podName          (user-visible symlinks, created once)
    <target>/user           -> ..data/user
    <target>/..data         -> ..2016_02_01_15_04_05.123456   (swapped with one rename(2))
    <target>/..2016_02_01_15_04_05.123456/podName      (the real files, with their modes)

An update writes a new timestamped directory, points `..data_tmp` at it and renames that over
`..data` (atomic), then prunes user-visible links of removed keys and the old directory. A write
whose data equals what is on disk changes nothing (like upstream, a mode-only change is ignored).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass

DATA_DIR_NAME = "..data"
NEW_DATA_DIR_NAME = "..data_tmp"
MAX_FILE_NAME_LENGTH = 255
MAX_PATH_LENGTH = 4096


@dataclass(frozen=True)
class FileProjection:
    """One file of a payload: its bytes, permission bits and optional owner uid."""

    data: bytes
    mode: int = 0o644
    fs_user: int | None = None


class AtomicWriteError(Exception):
    """An invalid payload path or a failure while projecting it (message as upstream)."""


def validate_path(target: str) -> None:
    """validatePath: relative, no `..` element, does not start with `..`, bounded lengths."""
    if target == "":
        raise AtomicWriteError(f'invalid path: must not be empty: "{target}"')
    if target.startswith("/"):
        raise AtomicWriteError(f"invalid path: must be relative path: {target}")
    if len(target) > MAX_PATH_LENGTH:
        raise AtomicWriteError(f"invalid path: must be less than or equal to {MAX_PATH_LENGTH} characters")
    items = target.split("/")
    for item in items:
        if item == "..":
            raise AtomicWriteError(f"invalid path: must not contain '..': {target}")
        if len(item) > MAX_FILE_NAME_LENGTH:
            raise AtomicWriteError(
                f"invalid path: filenames must be less than or equal to {MAX_FILE_NAME_LENGTH} characters")
    if items[0].startswith("..") and len(items[0]) > 2:
        raise AtomicWriteError(f"invalid path: must not start with '..': {target}")


def clean_path(p: str) -> str:
    """filepath.Clean for relative paths (collapses `//`, `.`; `..` is rejected before)."""
    parts = [x for x in p.split("/") if x not in ("", ".")]
    return "/".join(parts) or "."


def validate_payload(payload: dict[str, FileProjection]) -> dict[str, FileProjection]:
    """Validated payload keyed by cleaned paths."""
    clean: dict[str, FileProjection] = {}
    for k, v in payload.items():
        validate_path(k)
        clean[clean_path(k)] = v
    return clean


def _ancestors(path: str) -> list[str]:
    """"a/b/c" -> ["a/b/c", "a/b", "a"]: a payload file keeps its parent dirs."""
    out = []
    while path:
        out.append(path)
        path = path.rpartition("/")[0]
    return out


def paths_to_remove(payload: dict[str, FileProjection], old_ts_dir: str) -> set[str]:
    """Paths present in the current version that the new payload no longer has."""
    current: set[str] = set()
    if not os.path.isdir(old_ts_dir):
        return current
    for root, dirs, files in os.walk(old_ts_dir):
        for name in dirs + files:
            current.add(os.path.relpath(os.path.join(root, name), old_ts_dir))
    new: set[str] = set()
    for f in payload:
        new.update(_ancestors(f))
    return current - new


def _should_write(payload: dict[str, FileProjection], old_ts_dir: str) -> bool:
    for rel, proj in payload.items():
        p = os.path.join(old_ts_dir, rel)
        if not os.path.lexists(p):
            return True
        with open(p, "rb") as f:
            if f.read() != proj.data:
                return True
    return False


class AtomicWriter:
    """Writes payloads into `target_dir` with the `..data` symlink swap."""

    def __init__(self, target_dir: str, log_context: str = "") -> None:
        self.target_dir = target_dir
        self.log_context = log_context

    def write(self, payload: dict[str, FileProjection]) -> bool:
        """Project `payload`; returns True when a new data directory was published."""
        clean = validate_payload(payload)
        data_link = os.path.join(self.target_dir, DATA_DIR_NAME)
        try:
            old_ts = os.readlink(data_link)
        except FileNotFoundError:
            old_ts = ""
        old_ts_path = os.path.join(self.target_dir, old_ts)
        remove: set[str] = set()
        should_write = True
        if old_ts:
            remove = paths_to_remove(clean, old_ts_path)
            if not _should_write(clean, old_ts_path) and not remove:
                should_write = False
                old_ts = ""  # up to date: keep the data dir, still make sure the links exist
        if should_write:
            ts_dir = self._new_ts_dir()
            try:
                self._write_payload(clean, ts_dir)
                tmp_link = os.path.join(self.target_dir, NEW_DATA_DIR_NAME)
                if os.path.lexists(tmp_link):
                    os.remove(tmp_link)  # left over by a crash between symlink and rename
                os.symlink(os.path.basename(ts_dir), tmp_link)
                os.rename(tmp_link, data_link)
            except BaseException:
                shutil.rmtree(ts_dir, ignore_errors=True)
                raise
        self._create_user_visible(clean)
        self._remove_user_visible(remove)
        if old_ts:
            shutil.rmtree(old_ts_path, ignore_errors=False)
        return should_write

    def _new_ts_dir(self) -> str:
        prefix = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
        d = tempfile.mkdtemp(prefix=prefix, dir=self.target_dir)
        os.chmod(d, 0o755)  # group/other must be able to traverse, whatever the umask
        return d

    @staticmethod
    def _write_payload(payload: dict[str, FileProjection], ts_dir: str) -> None:
        for rel, proj in payload.items():
            full = os.path.join(ts_dir, rel)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, proj.mode & 0o7777)
            try:
                view = memoryview(proj.data)
                while view:
                    view = view[os.write(fd, view):]
                os.fchmod(fd, proj.mode & 0o7777)  # the exact mode, regardless of umask
                if proj.fs_user is not None:
                    os.fchown(fd, proj.fs_user, -1)
            finally:
                os.close(fd)

    def _create_user_visible(self, payload: dict[str, FileProjection]) -> None:
        for rel in payload:
            top = rel.split("/", 1)[0]
            visible = os.path.join(self.target_dir, top)
            if not os.path.lexists(visible):
                os.symlink(os.path.join(DATA_DIR_NAME, top), visible)

    def _remove_user_visible(self, paths: set[str]) -> None:
        last: OSError | None = None
        for p in paths:
            if "/" in p:  # only top-level links live in the target dir
                continue
            try:
                os.remove(os.path.join(self.target_dir, p))
            except OSError as e:
                last = e
        if last is not None:
            raise last
