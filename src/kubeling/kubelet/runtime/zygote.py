"""The monitor zygote: one pre-started Python that forks container monitors (monitor.py)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading

log = logging.getLogger("kubeling.kubelet.runtime")

MONITOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "monitor.py")


class Zygote:
    """A pre-started Python that forks container monitors (`monitor.py --zygote`): a fork costs
    a few ms where starting Python and importing costs 50-300 ms. Single-threaded by design."""

    def __init__(self, log_path: str) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.lock = threading.Lock()

    def ensure(self) -> None:
        with self.lock:
            self._ensure()

    def _ensure(self) -> None:
        if self.proc is not None and self.proc.poll() is None and self.sock is not None:
            return
        self._stop()
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with open(self.log_path, "ab") as logf:
                self.proc = subprocess.Popen([sys.executable, "-S", "-E", MONITOR, "--zygote", str(theirs.fileno())],
                                             pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=logf,
                                             stderr=logf, start_new_session=True)
        finally:
            theirs.close()
        self.sock = ours

    def spawn(self, cdir: str, ready_fd: int) -> bool:
        """Ask for a monitor of `cdir` reporting on `ready_fd`; False if the zygote is unusable."""
        with self.lock:
            for _ in range(2):
                try:
                    self._ensure()
                    assert self.sock is not None
                    socket.send_fds(self.sock, [cdir.encode()], [ready_fd])
                    return True
                except OSError as e:
                    log.warning("monitor zygote: %s; restarting it", e)
                    self._stop()
            return False

    def _stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)  # it exits when its socket closes
            except subprocess.TimeoutExpired:
                self.proc.kill()  # by PID: the process we started
                self.proc.wait()
            self.proc = None

    def close(self) -> None:
        with self.lock:
            self._stop()
