"""File modes of the data dir: it holds the CA key, tokens and every Secret, so only root reads it.

Like k3s's `server/` (0700) and etcd's data dir (0700, files 0600). A data dir created by an older
kubeling (0755 directories, a 0644 database) is fixed at start, with a warning naming each path.
"""

from __future__ import annotations

import logging
import os
import stat

log = logging.getLogger("kubeling.datadir")

DIR_MODE = 0o700
FILE_MODE = 0o600
DB_SUFFIXES = ("", "-wal", "-shm", "-journal")


def make_private_dir(path: str) -> None:
    """Create `path` (and parents) as 0700 directories; an existing one keeps its mode here."""
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)


def _tighten(path: str, mode: int) -> bool:
    """chmod `path` to `mode` if it grants more; True when it had to."""
    try:
        cur = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return False
    if cur & ~mode:
        os.chmod(path, cur & mode)
        log.warning("%s was mode %04o, readable by other users: changed to %04o", path, cur, cur & mode)
        return True
    return False


def secure(data_dir: str, server_dir: str, db_path: str) -> list[str]:
    """Make the data dir, the server dir and the database's dir 0700 and its files 0600.

    Returns the paths whose modes were fixed (each also logged as a warning)."""
    db_dir = os.path.dirname(db_path)
    for d in (data_dir, server_dir, db_dir):
        make_private_dir(d)
    fixed = [d for d in dict.fromkeys((data_dir, server_dir, db_dir)) if _tighten(d, DIR_MODE)]
    fixed += [db_path + s for s in DB_SUFFIXES if _tighten(db_path + s, FILE_MODE)]
    return fixed
