"""The prober: mechanisms against local servers on 127.0.0.1, the worker's state machine (thresholds,
initial values, startup gating, hold after a liveness failure, a new container resets), the
manager's answers to the kubelet, events, and the simulated runtime's knob."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from kubeling.kubelet.prober import ProbeManager, ProbeType, Result
from kubeling.kubelet.prober import probes
from kubeling.kubelet.prober.prober import Prober, simulated_probe
from kubeling.kubelet.prober.probes import Outcome, ProbeError
from kubeling.kubelet.runtime.base import ExecResult, RuntimeError_
from kubeling.api.timestamps import rfc3339


# ---- mechanisms ------------------------------------------------------------------------------------
def test_resolve_port() -> None:
    c = {"ports": [{"name": "http", "containerPort": 8080}]}
    assert probes.resolve_port(80, c) == 80
    assert probes.resolve_port("http", c) == 8080
    assert probes.resolve_port("9090", c) == 9090  # an int stored as a string
    with pytest.raises(ProbeError, match="^port metrics not found$"):
        probes.resolve_port("metrics", c)
    with pytest.raises(ProbeError, match="^invalid port number: 70000$"):
        probes.resolve_port(70000, c)


def test_http_request_parts() -> None:
    c = {"ports": [{"name": "web", "containerPort": 8080}]}
    assert probes.http_url({"port": "web", "path": "/healthz?x=1", "scheme": "HTTPS"}, c, "10.244.0.7") == \
        "https://10.244.0.7:8080/healthz?x=1"
    assert probes.http_url({"port": 80, "host": "fd00::5"}, c, "10.244.0.7") == "http://[fd00::5]:80"
    assert probes.http_headers({}) == [("User-Agent", "kube-probe/1.32"), ("Accept", "*/*")]
    assert probes.http_headers({"httpHeaders": [{"name": "user-agent", "value": "me"}]}) == \
        [("user-agent", "me"), ("Accept", "*/*")]


def test_exec_outcome_and_timeout_message() -> None:
    r = probes.exec_outcome(1, b"", b"cat: can't open '/tmp/healthy': No such file or directory\n")
    assert r.outcome is Outcome.FAILURE and r.output.startswith("cat: can't open")
    assert probes.exec_outcome(0, b"ok\n", b"").outcome is Outcome.SUCCESS
    assert probes.exec_outcome(0, b"x" * 20000, b"").output == "x" * 10240
    assert probes.exec_timeout_message(["sh", "-c", "sleep 10"]) == 'command "sh -c sleep 10" timed out'


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


class _HTTP:
    """A tiny server: path → (status, headers, body); /hang never answers."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
        self.routes = routes
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        path = head.split(b" ")[1].decode()
        if path == "/hang":
            await asyncio.sleep(5)
        status, headers, body = self.routes.get(path, (404, {}, b"nope"))
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(f"HTTP/1.1 {status} X\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: Any) -> None:
        self.server.close()


async def test_http_probe() -> None:
    srv = _HTTP({"/ok": (200, {}, b"fine"), "/bad": (500, {}, b"secret body"),
                 "/moved": (302, {"Location": "/ok"}, b""), "/away": (301, {"Location": "http://127.0.0.2:1/"}, b"bye"),
                 "/loop": (302, {"Location": "/loop"}, b"")})
    async with srv as base:
        hdrs = probes.http_headers({"httpHeaders": [{"name": "Host", "value": "example.test"}]})
        assert await probes.http_probe(base + "/ok", hdrs, 1) == probes.ProbeResult(Outcome.SUCCESS, "fine")
        assert b"Host: example.test\r\n" in srv.requests[-1] and b"User-Agent: kube-probe/1.32\r\n" in srv.requests[-1]
        bad = await probes.http_probe(base + "/bad", hdrs, 1)
        assert bad == probes.ProbeResult(Outcome.FAILURE, "HTTP probe failed with statuscode: 500")
        assert (await probes.http_probe(base + "/moved", hdrs, 1)).outcome is Outcome.SUCCESS
        away = await probes.http_probe(base + "/away", hdrs, 1)  # another host: not followed
        assert away == probes.ProbeResult(Outcome.WARNING, "Probe terminated redirects, Response body: bye")
        loop = await probes.http_probe(base + "/loop", hdrs, 1)
        assert loop.outcome is Outcome.FAILURE and loop.output.endswith("stopped after 10 redirects")
        hang = await probes.http_probe(base + "/hang", hdrs, 0.2)
        assert hang.output == (f'Get "{base}/hang": context deadline exceeded '
                               "(Client.Timeout exceeded while awaiting headers)")
    port = _closed_port()
    refused = await probes.http_probe(f"http://127.0.0.1:{port}/", hdrs, 1)
    assert refused.output == f'Get "http://127.0.0.1:{port}/": dial tcp 127.0.0.1:{port}: connect: connection refused'


async def test_tcp_probe() -> None:
    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(close_at_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert (await probes.tcp_probe("127.0.0.1", port, 1)).outcome is Outcome.SUCCESS
    finally:
        server.close()
    closed = _closed_port()
    r = await probes.tcp_probe("127.0.0.1", closed, 1)
    assert r == probes.ProbeResult(Outcome.FAILURE, f"dial tcp 127.0.0.1:{closed}: connect: connection refused")


async def test_grpc_probe() -> None:
    grpc = pytest.importorskip("grpc")
    health = pytest.importorskip("grpc_health.v1.health")
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    server = grpc.server(__import__("concurrent.futures").futures.ThreadPoolExecutor(2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert await probes.grpc_probe("127.0.0.1", port, "", 2) == probes.ProbeResult(Outcome.SUCCESS,
                                                                                      "service healthy")
        servicer.set("db", health_pb2.HealthCheckResponse.NOT_SERVING)
        r = await probes.grpc_probe("127.0.0.1", port, "db", 2)
        assert r == probes.ProbeResult(Outcome.FAILURE, 'service unhealthy (responded with "NOT_SERVING")')
        r = await probes.grpc_probe("127.0.0.1", port, "nope", 2)
        assert r.output.startswith("error: health rpc probe failed: rpc error: code = NotFound desc = ")
    finally:
        server.stop(0)
    r = await probes.grpc_probe("127.0.0.1", _closed_port(), "", 0.3)
    assert r.outcome is Outcome.FAILURE and r.output.startswith("timeout: failed to connect service")


# ---- prober: retries and events -----------------------------------------------------------------------
class _Runtime:
    name = "runc"

    def __init__(self, results: list[Any]) -> None:
        self.results = results
        self.calls = 0

    async def exec_sync(self, cid: str, cmd: list[str], timeout: float) -> ExecResult:
        self.calls += 1
        r = self.results.pop(0)
        if isinstance(r, Exception):
            raise r
        return r


def _pod(uid: str = "u1", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "name": "p", "namespace": "default"}, "spec": spec}


async def test_prober_events_and_retries() -> None:
    events: list[tuple[str, str, str]] = []
    rt = _Runtime([ExecResult(1, b"", b"cat: can't open '/tmp/healthy': No such file or directory\n"),
                   RuntimeError_("ExecTimeout", "t"), RuntimeError_("ExecError", "gone"),
                   RuntimeError_("ExecError", "gone"), RuntimeError_("ExecError", "gone")])
    prober = Prober(rt, lambda pod, typ, reason, msg, name, init: events.append((typ, reason, msg)))
    c = {"name": "app", "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "timeoutSeconds": 1}}
    assert await prober.probe(ProbeType.LIVENESS, _pod(), "", c, "cid") is Result.FAILURE
    assert events[-1] == ("Warning", "Unhealthy", "Liveness probe failed: cat: can't open '/tmp/healthy': "
                                                  "No such file or directory\n")
    assert await prober.probe(ProbeType.LIVENESS, _pod(), "", c, "cid") is Result.FAILURE
    assert events[-1][2] == 'Liveness probe failed: command "cat /tmp/healthy" timed out'
    assert await prober.probe(ProbeType.LIVENESS, _pod(), "", c, "cid") is None  # errored 3 times
    assert rt.calls == 5
    assert events[-1][2] == "Liveness probe errored and resulted in unknown state: gone"
    c2 = {"name": "app", "readinessProbe": {"tcpSocket": {"port": "http"}}}
    assert await prober.probe(ProbeType.READINESS, _pod(), "10.0.0.1", c2, "cid") is None
    assert events[-1][2] == "Readiness probe errored and resulted in unknown state: port http not found"


def test_simulated_probe_knob() -> None:
    def pod(ann: dict[str, str]) -> dict[str, Any]:
        return {"metadata": {"annotations": ann}}

    assert simulated_probe(pod({}), "app", ProbeType.LIVENESS).outcome is Outcome.SUCCESS
    failing = pod({"sim.kubeling.io/probe-failure.app": "liveness, startup"})
    assert simulated_probe(failing, "app", ProbeType.LIVENESS).outcome is Outcome.FAILURE
    assert simulated_probe(failing, "app", ProbeType.READINESS).outcome is Outcome.SUCCESS
    assert simulated_probe(failing, "other", ProbeType.LIVENESS).outcome is Outcome.SUCCESS
    all_fail = pod({"sim.kubeling.io/probe-failure": "true"})
    assert simulated_probe(all_fail, "x", ProbeType.READINESS).output == \
        "simulated failure (sim.kubeling.io/probe-failure)"


# ---- worker and manager ---------------------------------------------------------------------------
class _FakeProber:
    def __init__(self) -> None:
        self.results: list[Result | None] = []
        self.calls: list[ProbeType] = []

    async def probe(self, kind: ProbeType, *a: Any) -> Result | None:
        self.calls.append(kind)
        return self.results.pop(0) if self.results else Result.SUCCESS


def _status(cid: str, running: bool = True, started: bool = False, started_at: float = 0.0,
            terminated: bool = False, phase: str = "Running") -> dict[str, Any]:
    state: dict[str, Any] = {"waiting": {"reason": "CrashLoopBackOff"}}
    if running:
        state = {"running": {"startedAt": rfc3339(started_at or 1)}}
    elif terminated:
        state = {"terminated": {"exitCode": 1}}
    return {"phase": phase, "podIP": "10.0.0.9",
            "containerStatuses": [{"name": "app", "containerID": f"runc://{cid}", "state": state, "started": started}]}


class _Env:
    """A manager whose workers are driven by hand (no tasks): `manager.workers` is filled by add_pod."""

    def __init__(self, container: dict[str, Any], restart_policy: str = "Always") -> None:
        self.status: dict[str, Any] | None = None
        self.changed: list[str] = []
        self.pod = _pod("u1", containers=[container], restartPolicy=restart_policy)
        self.manager = ProbeManager(_Runtime([]), lambda *a: None, lambda uid: self.status,
                                    lambda uid: self.pod, self.changed.append)
        self.prober = _FakeProber()
        self.manager.prober = self.prober  # type: ignore[assignment]

    def worker(self, kind: ProbeType) -> Any:
        return self.manager.workers[("u1", "app", kind)]


async def test_worker_thresholds_and_hold() -> None:
    env = _Env({"name": "app", "livenessProbe": {"exec": {"command": ["x"]}, "failureThreshold": 2}})
    env.manager.add_pod(env.pod)
    w = env.worker(ProbeType.LIVENESS)
    w.task.cancel()
    assert await w.do_probe() and env.prober.calls == []  # no status yet
    env.status = _status("c1", started=True)
    env.prober.results = [Result.FAILURE, Result.SUCCESS, Result.FAILURE, Result.FAILURE]
    await w.do_probe()
    assert env.manager.results[ProbeType.LIVENESS].get("c1") is Result.SUCCESS  # initial value, 1 < threshold
    await w.do_probe()  # success resets the run
    await w.do_probe()
    assert env.manager.kill_reason("c1") is None
    await w.do_probe()  # second failure in a row
    assert env.manager.kill_reason("c1") is ProbeType.LIVENESS and env.changed == ["u1"]
    calls = len(env.prober.calls)
    await w.do_probe()
    assert len(env.prober.calls) == calls  # on hold until a new container
    env.status = _status("c2", started=True)
    await w.do_probe()
    assert len(env.prober.calls) == calls + 1 and env.manager.kill_reason("c2") is None
    assert env.manager.results[ProbeType.LIVENESS].get("c1") is None  # the old container is forgotten


async def test_startup_gates_liveness_and_readiness() -> None:
    env = _Env({"name": "app", "startupProbe": {"exec": {"command": ["x"]}, "failureThreshold": 1},
                "livenessProbe": {"exec": {"command": ["x"]}}, "readinessProbe": {"exec": {"command": ["x"]}}})
    env.manager.add_pod(env.pod)
    for w in env.manager.workers.values():
        w.task.cancel()
    env.status = _status("c1", started=False)
    assert env.manager.started("u1", "app", "c1") is False  # a startup probe that has not run
    await env.worker(ProbeType.LIVENESS).do_probe()
    await env.worker(ProbeType.READINESS).do_probe()
    assert env.prober.calls == []  # neither runs before startup succeeded
    env.prober.results = [Result.SUCCESS]
    await env.worker(ProbeType.STARTUP).do_probe()
    assert env.manager.started("u1", "app", "c1") is True
    assert env.manager.ready("u1", "app", "c1") is False  # readiness starts as Failure ...
    assert env.worker(ProbeType.READINESS)._triggered  # ... and is probed at once
    env.status = _status("c1", started=True)
    await env.worker(ProbeType.STARTUP).do_probe()
    assert env.prober.calls == [ProbeType.STARTUP]  # startup is done for this container
    await env.worker(ProbeType.READINESS).do_probe()
    assert env.manager.ready("u1", "app", "c1") is True


async def test_initial_delay_and_stop_conditions() -> None:
    import time

    env = _Env({"name": "app", "readinessProbe": {"exec": {"command": ["x"]}, "initialDelaySeconds": 60}},
               restart_policy="Never")
    env.manager.add_pod(env.pod)
    w = env.worker(ProbeType.READINESS)
    w.task.cancel()
    env.status = _status("c1", started=True, started_at=time.time())
    assert await w.do_probe() and env.prober.calls == []  # within initialDelaySeconds
    env.status = _status("c1", running=False, terminated=True)
    assert not await w.do_probe()  # ended, restartPolicy Never: stop
    assert env.manager.ready("u1", "app", "c1") is False
    env.status = _status("c1", phase="Succeeded")
    assert not await w.do_probe()


async def test_manager_without_probes_and_remove() -> None:
    env = _Env({"name": "app"})
    env.manager.add_pod(env.pod)
    assert env.manager.workers == {}
    assert env.manager.ready("u1", "app", "c1") is None and env.manager.started("u1", "app", "c1") is None
    env2 = _Env({"name": "app", "readinessProbe": {"exec": {"command": ["x"]}, "periodSeconds": 1}})
    env2.manager.add_pod(env2.pod)
    env2.manager.add_pod(env2.pod)  # idempotent
    assert len(env2.manager.workers) == 1
    task = env2.worker(ProbeType.READINESS).task
    env2.manager.remove_pod("u1")
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled() and env2.manager.workers == {}


async def test_trigger_wakes_a_sleeping_worker_and_is_coalesced() -> None:
    env = _Env({"name": "app", "readinessProbe": {"exec": {"command": ["x"]}, "periodSeconds": 60}})
    env.manager.add_pod(env.pod)
    w = env.worker(ProbeType.READINESS)
    w.task.cancel()
    loop = asyncio.get_running_loop()
    sleeper = asyncio.create_task(w._sleep_until(loop.time() + 3600))
    await asyncio.sleep(0)
    w.trigger()
    w.trigger()
    await asyncio.wait_for(sleeper, 5)  # woken long before the hour
    await asyncio.wait_for(w._sleep_until(loop.time() + 3600), 5)  # a trigger during a probe is kept
    w._triggered = False
    late = asyncio.create_task(w._sleep_until(loop.time() + 3600))
    await asyncio.sleep(0.05)
    assert not late.done()
    late.cancel()


async def test_https_probe_skips_certificate_verification(tmp_path: Any) -> None:
    """The server's certificate is from a CA the prober does not know: upstream probes still pass."""
    import ssl

    from kubeling.pki import ensure_pki

    pki = ensure_pki(str(tmp_path), "127.0.0.1", "10.96.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki.server_cert, pki.server_key)

    async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(ok, "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        r = await probes.http_probe(f"https://127.0.0.1:{port}/", probes.http_headers({}), 2)
        assert r == probes.ProbeResult(Outcome.SUCCESS, "ok")
    finally:
        server.close()
