"""Run host tools (`ip`, `iptables`, CNI plugins) as subprocesses with a timeout.

Everything network-related goes through argv lists (never a shell), and a hung tool is
killed rather than blocking the kubelet's event loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass


@dataclass
class Completed:
    argv: list[str]
    rc: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def text(self) -> str:
        """stderr (or stdout) as one line, for error messages."""
        msg = (self.stderr or self.stdout).decode(errors="replace").strip()
        return " ".join(msg.split())


class CommandTimeout(Exception):
    pass


async def run(argv: list[str], *, input: bytes | None = None, env: dict[str, str] | None = None,
              timeout: float = 10.0) -> Completed:
    """Run argv to completion; kill it (and raise CommandTimeout) after `timeout` seconds."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
            start_new_session=True)  # its own process group, so a timeout kills helpers too
    except FileNotFoundError as e:
        return Completed(argv, 127, b"", str(e).encode())
    try:
        out, err = await asyncio.wait_for(proc.communicate(input), timeout)
    except asyncio.TimeoutError:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await proc.wait()
        raise CommandTimeout(f"{os.path.basename(argv[0])} timed out after {timeout:g}s") from None
    return Completed(argv, proc.returncode or 0, out, err)
