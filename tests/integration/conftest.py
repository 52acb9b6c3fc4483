"""A real `kubeling up` on a free port, driven by the real kubectl."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED_DIR = os.path.join(REPO, "tests", "integration", "manifests")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    data_dir: str
    port: int
    proc: subprocess.Popen | None = None
    log_path: str = ""
    cache_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="kubectl-cache-"))
    extra_args: tuple[str, ...] = ()  # more `kubeling up` flags
    # run the real node (runc containers, pod network)? Control-plane tests assume pods stay
    # Pending unless a test binds them, so by default the cluster has no node (`--no-node`),
    # except when extra_args ask for simulated nodes or a runtime themselves.
    node: bool = False

    @property
    def kubeconfig(self) -> str:
        return os.path.join(self.data_dir, "kubeconfig.yaml")

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def node_args(self) -> tuple[str, ...]:
        if self.node or any(a.startswith(("--runtime", "--sim-nodes", "--no-node")) for a in self.extra_args):
            return ()
        return ("--no-node",)

    def start(self, timeout: float = 30.0) -> None:
        os.makedirs(self.data_dir, exist_ok=True)
        self.log_path = os.path.join(self.data_dir, "kubeling.log")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kubeling.cli", "up", "--data-dir", self.data_dir, "--port", str(self.port), "-v",
             *self.node_args, *self.extra_args],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        os.set_blocking(self.proc.stdout.fileno(), False)
        buf = b""
        while time.monotonic() < deadline:
            chunk = self.proc.stdout.read()
            if chunk:
                buf += chunk
                if b"kubeling is ready" in buf:
                    return
            if self.proc.poll() is not None:
                raise RuntimeError(f"kubeling exited early: {open(self.log_path).read()[-3000:]}")
            time.sleep(0.02)
        raise TimeoutError("kubeling did not become ready")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        # kubectl's discovery cache is per cluster; kubectl recreates it if the cluster starts again
        shutil.rmtree(self.cache_dir, ignore_errors=True)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, env: dict[str, str] | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess:
        e = {**os.environ, "KUBECONFIG": self.kubeconfig, **(env or {})}
        p = subprocess.run(["kubectl", f"--cache-dir={self.cache_dir}", *args], input=input, capture_output=True,
                           text=True, env=e, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    def json(self, *args: str, managed_fields: bool = False) -> Any:
        extra = ("--show-managed-fields",) if managed_fields else ()
        return json.loads(self.kubectl(*args, "-o", "json", *extra).stdout)

    def session(self) -> Any:
        """A `requests` session authenticated with the admin token and trusting the cluster CA."""
        import requests  # type: ignore[import-untyped]

        token = open(os.path.join(self.data_dir, "server", "token")).read().split(",")[0]
        s = requests.Session()
        s.trust_env = False  # REQUESTS_CA_BUNDLE would override the cluster CA
        s.headers["Authorization"] = f"Bearer {token}"
        s.verify = os.path.join(self.data_dir, "server", "tls", "server-ca.crt")
        return s

    def wait_for(self, predicate: Any, timeout: float = 60.0, interval: float = 0.1, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise TimeoutError(f"timed out waiting for {what}; last value: {last!r}")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(str(tmp_path_factory.mktemp("kubeling")), free_port())
    c.start()
    yield c
    c.stop()


@pytest.fixture
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, so tests don't see each other's objects."""
    name = "t-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    name = "".join(ch for ch in name if ch.isalnum() or ch == "-").strip("-")
    cluster.kubectl("create", "namespace", name)
    yield name


def manifest(name: str) -> str:
    return os.path.join(SEED_DIR, name)


def load_yaml(text: str) -> Any:
    return yaml.safe_load(text)
