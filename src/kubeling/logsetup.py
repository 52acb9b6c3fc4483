"""What `kubeling up` tells the user, and where.

- `DATA/kubeling.log`: every log line at INFO and above (DEBUG with `-vv`), rotated at 10 MiB
  with 3 old files kept (`kubeling.log.1` ...);
- stderr: warnings and errors (`-v` adds INFO, `-vv` DEBUG); when stderr already *is* that log
  file (a supervisor or test redirecting it there), lines are written once, by the file handler;
- stdout: the ready line and kind-like progress lines for long first-start work (`step`).

Every line names its component: the logger name without the `kubeling.` prefix
(`kubelet.network`, `scheduler`, `apiserver`...), e.g.
`2026-12-07 11:50:00,123 WARNING [kubelet.network] bridge kubeling0 is gone; recreating it`.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import time
from contextlib import contextmanager
from typing import IO, Iterator

LOG_FILE = "kubeling.log"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s [%(component)s] %(message)s"


class ComponentFormatter(logging.Formatter):
    """Adds `%(component)s`: `kubeling.kubelet.network` → `kubelet.network`."""

    def format(self, record: logging.LogRecord) -> str:
        name = record.name
        record.component = name[len("kubeling."):] if name.startswith("kubeling.") else name
        return super().format(record)


def _same_file(stream: IO[str], path: str) -> bool:
    try:
        a, b = os.fstat(stream.fileno()), os.stat(path)
    except (OSError, ValueError, AttributeError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def stderr_level(verbose: int) -> int:
    return logging.WARNING - 10 * min(max(verbose, 0), 2)


def setup(data_dir: str, verbose: int = 0, stderr: IO[str] | None = None) -> str:
    """Configure the root logger for `kubeling up`; returns the log file's path."""
    stderr = stderr or sys.stderr
    os.makedirs(data_dir, mode=0o700, exist_ok=True)  # see datadir.py
    path = os.path.join(data_dir, LOG_FILE)
    fmt = ComponentFormatter(FORMAT)
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                        encoding="utf-8")
    file_handler.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
    handlers: list[logging.Handler] = [file_handler]
    if not _same_file(stderr, path):
        console = logging.StreamHandler(stderr)
        console.setLevel(stderr_level(verbose))
        handlers.append(console)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    root.setLevel(min(h.level for h in handlers))
    return path


def say(line: str) -> None:
    """One line to stdout for the user (never fails: stdout may be closed or not UTF-8)."""
    try:
        print(line, flush=True)
    except UnicodeEncodeError:
        print(line.encode("ascii", "replace").decode(), flush=True)
    except (OSError, ValueError):
        pass


@contextmanager
def step(title: str) -> Iterator[list[str]]:
    """A kind-style progress line: ` • Preparing images ...`, then ` ✓ Preparing images (2.1s)`
    or ` ✗ Preparing images: <error>`. Append to the yielded list to add a detail in parentheses."""
    say(f" • {title} ...")
    t0 = time.monotonic()
    details: list[str] = []
    try:
        yield details
    except BaseException as e:
        if not isinstance(e, (KeyboardInterrupt, GeneratorExit)) and type(e).__name__ != "CancelledError":
            say(f" ✗ {title}: {e}")
        raise
    say(f" ✓ {title} ({', '.join([*details, f'{time.monotonic() - t0:.1f}s'])})")
