"""Run Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 for tests and `kubeling up`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass

CONFIG = """version: 0.1
log: {{level: warn, accesslog: {{disabled: true}}}}
storage:
  filesystem: {{rootdirectory: {data}}}
  delete: {{enabled: true}}
http: {{addr: "127.0.0.1:{port}"}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def registry_binary() -> str | None:
    return shutil.which("docker-registry") or (
        "/usr/bin/docker-registry" if os.path.exists("/usr/bin/docker-registry") else None)


@dataclass
class LocalRegistry:
    """A running registry: `host` is `127.0.0.1:PORT`, `url` its `http://` base."""

    workdir: str
    port: int
    pid: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        """Stop this registry by its PID (never by name)."""
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()


def start_registry(workdir: str, port: int = 0, timeout: float = 10.0) -> LocalRegistry:
    """Start `docker-registry serve` with its config, data and log in `workdir`; wait for /v2/."""
    binary = registry_binary()
    if binary is None:
        raise FileNotFoundError("docker-registry is not installed (apt-get install -y docker-registry)")
    port = port or free_port()
    os.makedirs(os.path.join(workdir, "data"), exist_ok=True)
    cfg = os.path.join(workdir, "config.yml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(data=os.path.join(workdir, "data"), port=port))
    log = open(os.path.join(workdir, "registry.log"), "ab")
    proc = subprocess.Popen([binary, "serve", cfg], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    log.close()
    with open(os.path.join(workdir, "pid"), "w") as f:
        f.write(str(proc.pid))
    reg = LocalRegistry(workdir, port, proc.pid, proc)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{reg.url}/v2/", timeout=1) as r:
                if r.status == 200:
                    return reg
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            reg.stop()
            with open(os.path.join(workdir, "registry.log"), errors="replace") as f:
                raise RuntimeError(f"docker-registry did not start on {reg.host}: {f.read()[-2000:]}")
        time.sleep(0.02)
