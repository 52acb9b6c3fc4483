"""Run host tools (`ip`, `iptables`, `nft`, `conntrack`, CNI plugins) as subprocesses with a timeout.

Shared by the node's components that program the host (kubelet/network, proxy/), so it sits
below both. Everything network-related goes through argv lists (never a shell), and a hung
tool is killed rather than blocking the node's event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import subproc


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
    """Run argv to completion; kill it (and raise CommandTimeout) after `timeout` seconds.
    (Spawned with vfork off the event loop: see subproc.py.)"""
    try:
        rc, out, err = await subproc.run(argv, input, env, timeout)
    except FileNotFoundError as e:
        return Completed(argv, 127, b"", str(e).encode())
    except subproc.Timeout as e:
        raise CommandTimeout(str(e)) from None
    return Completed(argv, rc, out, err)
