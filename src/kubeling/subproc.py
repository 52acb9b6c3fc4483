"""Blocking work of the node off the event loop: host tools (`ip`, CNI plugins, runc, ...) and
file-system / mount work, in the node's own thread pool (used by the kubelet and, through
hostcmd.py, by kube-proxy: both run their host tools here).

Why not `asyncio.create_subprocess_exec`: under uvloop (what `kubeling up` runs) it fork()s the
whole kubeling process in the event-loop thread — 30-40 ms of page-table copying for a 150 MB
process, during which nothing else runs, several times per pod. `subprocess.Popen` uses
vfork() (0.2-0.3 ms), and waiting for the child in a worker thread keeps the loop free.

Why a pool of our own instead of `asyncio.to_thread`: the default executor has cpu+4 threads
(6 here), and a container create holds one for the whole `runc create` (100-300 ms under
load); a burst of pods would queue every small file read behind them.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

T = TypeVar("T")

_POOL = ThreadPoolExecutor(max_workers=48, thread_name_prefix="kubelet-io")


class Timeout(Exception):
    """The command did not finish in time (it and its process group were killed)."""


def run_sync(argv: list[str], input: bytes | None = None, env: dict[str, str] | None = None,
             timeout: float | None = 30.0) -> tuple[int, bytes, bytes]:
    """(returncode, stdout, stderr); the child gets its own session so a timeout kills its helpers
    too; FileNotFoundError for a missing binary."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise Timeout(f"{os.path.basename(argv[0])} timed out after {timeout:g}s") from None
    return proc.returncode, out, err


async def run(argv: list[str], input: bytes | None = None, env: dict[str, str] | None = None,
              timeout: float | None = 30.0) -> tuple[int, bytes, bytes]:
    """run_sync in the kubelet's exec pool."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, run_sync, argv, input, env, timeout)


async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(*args, **kwargs) in the kubelet's pool (file system, mounts, waits on helpers)."""
    call = functools.partial(fn, *args, **kwargs) if kwargs else functools.partial(fn, *args)
    return await asyncio.get_running_loop().run_in_executor(_POOL, call)
