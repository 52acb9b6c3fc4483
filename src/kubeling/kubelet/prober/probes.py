"""The probe mechanisms: httpGet, tcpSocket, gRPC and exec (upstream `pkg/probe/{http,tcp,grpc,exec}`).

Each returns an `Outcome` (success / warning / failure / unknown, with the output upstream puts
in the `Unhealthy` event) or raises `ProbeError` when the probe could not be run at all (a named
port that does not exist, a container that is gone): upstream's "probe errored" path.
Network errors read like Go's, because users paste them into searches:
`Get "http://10.244.0.7:8080/": dial tcp 10.244.0.7:8080: connect: connection refused`.

The HTTP client is a small HTTP/1.1 client on asyncio streams, not aiohttp: a probe is one
request on a fresh connection (upstream disables keep-alives), and at 100 probes a second the
difference in CPU is what the node notices.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import os
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from ... import KUBE_VERSION
from ...api.goduration import seconds_duration

MAX_BODY = 10 * 1024  # maxRespBodyLength / exec maxReadLength: 10 KiB
MAX_REDIRECTS = 10
_MAJOR, _MINOR = KUBE_VERSION.lstrip("v").split(".")[:2]
USER_AGENT = f"kube-probe/{_MAJOR}.{_MINOR}"


class Outcome(enum.Enum):
    """probe.Result: what a mechanism saw."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    UNKNOWN = "unknown"


class ProbeError(Exception):
    """The probe could not be run (upstream returns an error besides the result)."""


@dataclass
class ProbeResult:
    outcome: Outcome
    output: str = ""


# ---- addresses and ports --------------------------------------------------------------------------
def join_host_port(host: str, port: int) -> str:
    """net.JoinHostPort: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolve_port(port: Any, container: dict[str, Any]) -> int:
    """probe.ResolveContainerPort: a number, or the name of one of the container's ports."""
    if isinstance(port, str):
        found = next((p.get("containerPort") for p in container.get("ports") or [] if p.get("name") == port), None)
        if found is None:
            try:
                found = int(port)  # "last ditch effort - maybe it was an int stored as string?"
            except ValueError:
                raise ProbeError(f"port {port} not found") from None
        port = found
    if isinstance(port, int) and 0 < port < 65536:
        return port
    raise ProbeError(f"invalid port number: {port}")


def _syscall_message(e: OSError) -> str:
    """A socket error as Go prints it ("connect: connection refused")."""
    if e.errno is not None and e.errno in errno.errorcode:
        text = os.strerror(e.errno)
        return "connect: " + text[:1].lower() + text[1:]
    return str(e) or type(e).__name__


def dial_error(addr: str, e: BaseException) -> str:
    """net.OpError text for a failed TCP dial."""
    if isinstance(e, (asyncio.TimeoutError, TimeoutError)):
        return f"dial tcp {addr}: i/o timeout"
    if isinstance(e, OSError):
        return f"dial tcp {addr}: {_syscall_message(e)}"
    return f"dial tcp {addr}: {e}"


# ---- tcpSocket ---------------------------------------------------------------------------------------
async def tcp_probe(host: str, port: int, timeout: float) -> ProbeResult:
    """DoTCPProbe: a connection that opens is a success, even if the server closes it at once."""
    addr = join_host_port(host, port)
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, asyncio.TimeoutError) as e:
        return ProbeResult(Outcome.FAILURE, dial_error(addr, e))
    writer.close()
    return ProbeResult(Outcome.SUCCESS)


# ---- httpGet -----------------------------------------------------------------------------------------
def http_url(action: dict[str, Any], container: dict[str, Any], pod_ip: str) -> str:
    """NewRequestForHTTPGetAction's URL: scheme://host:port/path (host defaults to the pod IP)."""
    scheme = (action.get("scheme") or "HTTP").lower()
    host = action.get("host") or pod_ip
    port = resolve_port(action.get("port"), container)
    path = action.get("path") or ""
    if path and not path.startswith("/"):
        path = "/" + path
    return f"{scheme}://{join_host_port(host, port)}{path}"


def http_headers(action: dict[str, Any]) -> list[tuple[str, str]]:
    """The request headers: the user's, plus User-Agent and Accept unless the user set them."""
    headers = [(h.get("name", ""), h.get("value", "")) for h in action.get("httpHeaders") or [] if h.get("name")]
    names = {n.lower() for n, _ in headers}
    if "user-agent" not in names:
        headers.append(("User-Agent", USER_AGENT))
    if "accept" not in names:
        headers.append(("Accept", "*/*"))
    return headers


_NO_VERIFY = ssl.create_default_context()
_NO_VERIFY.check_hostname = False
_NO_VERIFY.verify_mode = ssl.CERT_NONE


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """Up to MAX_BODY bytes of the body (chunked or not); truncation is not an error."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while len(body) < MAX_BODY:
            size_line = await reader.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            body += await reader.readexactly(size)
            await reader.readline()
        return body[:MAX_BODY]
    if "content-length" in headers:
        n = min(int(headers["content-length"]), MAX_BODY)
        return await reader.readexactly(n) if n else b""
    return await reader.read(MAX_BODY)


async def _http_once(url: str, headers: list[tuple[str, str]]) -> tuple[int, dict[str, str], bytes]:
    """One GET on a fresh connection → (status, headers with lower-case names, body prefix)."""
    u = urlsplit(url)
    host = u.hostname or ""
    port = u.port or (443 if u.scheme == "https" else 80)
    host_header = next((v for n, v in headers if n.lower() == "host"), u.netloc)
    target = (u.path or "/") + (f"?{u.query}" if u.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {host_header}"]
    lines += [f"{n}: {v}" for n, v in headers if n.lower() not in ("host", "connection")]
    lines.append("Connection: close")
    try:
        reader, writer = await asyncio.open_connection(host, port, ssl=_NO_VERIFY if u.scheme == "https" else None,
                                                       server_hostname=host if u.scheme == "https" else None)
    except OSError as e:
        raise ConnectionError(dial_error(join_host_port(host, port), e)) from None
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("EOF")
        parts = status_line.decode("latin-1").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ConnectionError(f"net/http: HTTP/1.x transport connection broken: malformed HTTP response "
                                  f"{status_line.decode('latin-1').rstrip()!r}")
        got: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            got[name.strip().lower()] = value.strip()
        try:
            body = await _read_body(reader, got)
        except (asyncio.IncompleteReadError, ValueError):
            body = b""
        return int(parts[1]), got, body
    except OSError as e:
        raise ConnectionError(_syscall_message(e).removeprefix("connect: ")) from None
    finally:
        writer.close()


async def http_probe(url: str, headers: list[tuple[str, str]], timeout: float) -> ProbeResult:
    """DoHTTPProbe: 200 ≤ status < 400 is a success; redirects are followed on the same host (up to
    10), a redirect elsewhere ends the probe with a warning (which counts as a success)."""
    current = url
    try:
        async with asyncio.timeout(timeout):
            for hop in range(MAX_REDIRECTS + 1):
                status, got, body = await _http_once(current, headers)
                location = got.get("location")
                if status in (301, 302, 303, 307, 308) and location:
                    nxt = urljoin(current, location)
                    if urlsplit(nxt).hostname != urlsplit(url).hostname:
                        break  # http.ErrUseLastResponse
                    if hop == MAX_REDIRECTS - 1:
                        return ProbeResult(Outcome.FAILURE, f'Get "{nxt}": stopped after {MAX_REDIRECTS} redirects')
                    current = nxt
                    continue
                break
    except (asyncio.TimeoutError, TimeoutError):
        return ProbeResult(Outcome.FAILURE, f'Get "{current}": context deadline exceeded '
                                            "(Client.Timeout exceeded while awaiting headers)")
    except ConnectionError as e:
        return ProbeResult(Outcome.FAILURE, f'Get "{current}": {e}')
    text = body.decode("utf-8", errors="replace")
    if 200 <= status < 400:
        if status >= 300:
            return ProbeResult(Outcome.WARNING, f"Probe terminated redirects, Response body: {text}")
        return ProbeResult(Outcome.SUCCESS, text)
    # the user-facing message must not contain the body (upstream issue 99425)
    return ProbeResult(Outcome.FAILURE, f"HTTP probe failed with statuscode: {status}")


# ---- grpc --------------------------------------------------------------------------------------------
def _grpc_check(host: str, port: int, service: str, timeout: float) -> ProbeResult:
    """grpc.health.v1.Health/Check with the standard client (blocking: run in a thread)."""
    try:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc
    except ImportError as e:
        raise ProbeError(f"gRPC probes need the grpcio and grpcio-health-checking packages: {e}") from None
    addr = join_host_port(host, port)
    opts = [("grpc.primary_user_agent", USER_AGENT), ("grpc.enable_http_proxy", 0)]
    with grpc.insecure_channel(addr, options=opts) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            return ProbeResult(Outcome.FAILURE, f'timeout: failed to connect service "{addr}" within '
                                                f"{seconds_duration(timeout)}: context deadline exceeded")
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as e:
            code = e.code() if hasattr(e, "code") else None
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return ProbeResult(Outcome.FAILURE, "this server doesn't implement the grpc health protocol "
                                                    f"(grpc.health.v1.Health): {e.details()}")
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return ProbeResult(Outcome.FAILURE, f"timeout: health rpc did not complete within "
                                                    f"{seconds_duration(timeout)}")
            name = code.name if code is not None else "Unknown"
            return ProbeResult(Outcome.FAILURE, f"error: health rpc probe failed: rpc error: code = "
                                                f"{_go_code(name)} desc = {e.details() if hasattr(e, 'details') else e}")
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    if status != "SERVING":
        return ProbeResult(Outcome.FAILURE, f'service unhealthy (responded with "{status}")')
    return ProbeResult(Outcome.SUCCESS, "service healthy")


async def grpc_probe(host: str, port: int, service: str, timeout: float) -> ProbeResult:
    return await asyncio.to_thread(_grpc_check, host, port, service, timeout)


def _go_code(name: str) -> str:
    """codes.Code.String(): NOT_FOUND → NotFound."""
    return "".join(w.capitalize() for w in name.split("_"))


# ---- exec --------------------------------------------------------------------------------------------
def exec_outcome(exit_code: int, stdout: bytes, stderr: bytes) -> ProbeResult:
    """execProber.Probe: exit 0 is a success; the output (stdout then stderr, 10 KiB) is the message."""
    data = (stdout + stderr)[:MAX_BODY].decode("utf-8", errors="replace")
    return ProbeResult(Outcome.SUCCESS if exit_code == 0 else Outcome.FAILURE, data)


def exec_timeout_message(cmd: list[str]) -> str:
    """The CRI's ExecSync deadline as upstream words it: command "sleep 10" timed out."""
    return 'command "%s" timed out' % " ".join(cmd).replace("\\", "\\\\").replace('"', '\\"')

