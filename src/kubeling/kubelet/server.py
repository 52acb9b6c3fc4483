"""The kubelet's HTTPS API (port 10250): logs, exec, attach and port-forward for the API server.

Endpoints (upstream pkg/kubelet/server/server.go):

- `GET /containerLogs/{ns}/{pod}/{container}?follow=&previous=&timestamps=&tailLines=&sinceSeconds=&sinceTime=&limitBytes=`
  streams the container's CRI log file (reader in `runtime/logs.py`).
- `GET /exec/{ns}/{pod}[/{uid}]/{container}?command=..&input=1&output=1&error=1&tty=1` and
  `GET /attach/...`: a WebSocket speaking the channel protocol (`streaming/channel.py`).
- `GET /portForward/{ns}/{pod}[/{uid}]`: a WebSocket with subprotocol
  `SPDY/3.1+portforward.k8s.io` carrying SPDY frames (`streaming/spdy.py`).

The API server relays kubectl's WebSocket to these endpoints message by message, so this is the
only place the protocols are spoken (see `apiserver/streaming.py`). Every request, /healthz
included, is authenticated and authorized as upstream's kubelet does it (`auth.py`): a client
certificate from the cluster CA or a bearer token the API server vouches for, then a
SubjectAccessReview on `nodes/<subresource>` of this node.

The server knows pods through `get_pod(namespace, name)` (the kubelet's pod manager, with the
status the kubelet last computed) and containers only through the `Runtime` protocol.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from aiohttp import WSMsgType, web

from ..streaming import channel, portforward, spdy
from .auth import AuthError, KubeletAuth
from .runtime import base
from .runtime import logs as crilogs

log = logging.getLogger("kubeling.kubelet.server")

DEFAULT_PORT = 10250
SPDY_TUNNEL = "SPDY/3.1+portforward.k8s.io"
MAX_MESSAGE = 16 * 1024 * 1024
ERROR_HEADER = "X-Kubelet-Error"
PORT_FORWARD_PROTOCOLS = (SPDY_TUNNEL, channel.V4, channel.V4_BASE64)

GetPod = Callable[[str, str], "dict[str, Any] | None | Awaitable[dict[str, Any] | None]"]


class HTTPError(Exception):
    """A plain-text error response, as the kubelet writes them (response.WriteError)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---- pure helpers ---------------------------------------------------------------------------

def _bool(q: Any, *names: str) -> bool:
    for n in names:
        v = q.get(n)
        if v is not None:
            return v.lower() in ("1", "true", "t", "yes")
    return False


@dataclass(frozen=True)
class StreamOptions:
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def from_query(cls, q: Any) -> "StreamOptions":
        """remotecommand.NewOptions: kubelet names (input/output/error) or API names."""
        stdin = _bool(q, "input", "stdin")
        stdout = _bool(q, "output", "stdout")
        stderr = _bool(q, "error", "stderr")
        tty = _bool(q, "tty")
        if not (stdin or stdout or stderr):
            raise HTTPError(400, "you must specify at least 1 of stdin, stdout, stderr")
        if tty and stderr:
            stderr = False  # upstream bypasses stderr with a tty
        return cls(stdin, stdout, stderr, tty)


def container_spec(pod: dict[str, Any], name: str) -> dict[str, Any] | None:
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if c.get("name") == name:
                return c
    return None


def strip_scheme(container_id: str) -> str:
    """`runc://abc` -> `abc` (containerStatuses[].containerID is `<runtime>://<id>`)."""
    return container_id.split("://", 1)[1] if "://" in container_id else container_id


def container_log_status(pod: dict[str, Any], container: str, previous: bool) -> tuple[str, dict[str, Any]]:
    """validateContainerLogStatus: the container ID whose log to read, or the upstream error."""
    name = pod.get("metadata", {}).get("name", "")
    status = pod.get("status") or {}
    cs = None
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for s in status.get(key) or []:
            if s.get("name") == container:
                cs = s
                break
        if cs is not None:
            break
    if cs is None:
        raise HTTPError(400, f'container "{container}" in pod "{name}" is not available')
    last = (cs.get("lastState") or {}).get("terminated")
    state = cs.get("state") or {}
    waiting, running, terminated = state.get("waiting"), state.get("running"), state.get("terminated")
    if previous:
        if not last or not last.get("containerID"):
            raise HTTPError(400, f'previous terminated container "{container}" in pod "{name}" not found')
        return last["containerID"], cs
    if running is not None:
        return cs.get("containerID", ""), cs
    if terminated is not None:
        if terminated.get("containerID"):
            return terminated["containerID"], cs
        if last and last.get("containerID"):
            return last["containerID"], cs
        raise HTTPError(400, f'container "{container}" in pod "{name}" is terminated')
    if last is not None:
        if not last.get("containerID"):
            raise HTTPError(400, f'container "{container}" in pod "{name}" is terminated')
        return last["containerID"], cs
    if waiting is not None:
        reason = waiting.get("reason", "")
        if reason == "ErrImagePull":
            raise HTTPError(400, f'container "{container}" in pod "{name}" is waiting to start: image can\'t be pulled')
        if reason == "ImagePullBackOff":
            raise HTTPError(400, f'container "{container}" in pod "{name}" is waiting to start: trying and failing to pull image')
        raise HTTPError(400, f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    raise HTTPError(400, f'container "{container}" in pod "{name}" is waiting to start - no logs yet')


def log_options(q: Any, now_ns: int | None = None) -> tuple[crilogs.LogOptions, bool, bool]:
    """PodLogOptions from the query -> (reader options, follow, previous).

    Like the kubelet: an undecodable query is a 400, an invalid one a 422."""
    now_ns = time.time_ns() if now_ns is None else now_ns

    def num(name: str) -> int | None:
        raw = q.get(name)
        if raw in (None, ""):
            return None
        try:
            return int(raw)
        except ValueError:
            raise HTTPError(400, '{"message": "Unable to decode query."}') from None

    tail = num("tailLines")
    if tail is None:
        tail = num("tail")  # the legacy parameter
    limit = num("limitBytes")
    since_s = num("sinceSeconds")
    since_time = q.get("sinceTime") or ""
    if (tail is not None and tail < 0) or (limit is not None and limit < 1) or \
            (since_s is not None and since_s < 1) or (since_s is not None and since_time):
        raise HTTPError(422, '{"message": "Invalid request."}')
    since = 0
    if since_s is not None:
        since = now_ns - since_s * 1_000_000_000
    if since_time:
        try:
            t = crilogs.parse_timestamp(since_time)
        except ValueError:
            raise HTTPError(400, '{"message": "Unable to decode query."}') from None
        since = max(since, t)
    opts = crilogs.LogOptions(tail=tail, since_ns=since, timestamps=_bool(q, "timestamps"), limit_bytes=limit)
    return opts, _bool(q, "follow"), _bool(q, "previous")


def exit_message(cmd: list[str], code: int) -> str:
    return f"command '{' '.join(cmd)}' exited with {code}: "


# ---- the channel protocol over a WebSocket ---------------------------------------------------

async def serve_session(ws: web.WebSocketResponse, proto: channel.Protocol, opts: StreamOptions,
                        open_session: Callable[[], Awaitable[base.StreamSession]], *, kind: str = "exec",
                        cmd: list[str] | None = None) -> None:
    """Run one exec/attach session: client channels -> session, session output -> channels,
    then the Status on the error channel and a normal close (remotecommand.ServeExec/Attach)."""
    send_lock = asyncio.Lock()

    async def send(ch: int, data: bytes) -> None:
        msg = channel.encode(proto, ch, data)
        async with send_lock:
            if isinstance(msg, str):
                await ws.send_str(msg)
            else:
                await ws.send_bytes(msg)

    async def write_status(status: dict[str, Any]) -> None:
        payload = channel.error_payload(proto, status)
        if payload is not None:
            await send(channel.ERROR, payload)

    first = channel.STDOUT if opts.stdout else channel.STDERR if opts.stderr else channel.ERROR
    try:
        await send(first, b"")
        try:
            session = await open_session()
        except Exception as e:  # noqa: BLE001 - reported to the client like upstream
            what = "executing command in" if kind == "exec" else "attaching to"
            msg = e.message if isinstance(e, base.RuntimeError_) else str(e)
            log.info("%s failed: %s", kind, msg)
            await write_status(channel.internal_error_status(f"error {what} container: {msg}"))
            return
        reader = asyncio.create_task(_client_to_session(ws, proto, opts, session), name=f"{kind}-stdin")
        output = asyncio.create_task(_session_to_client(session, opts, send), name=f"{kind}-output")
        done, _ = await asyncio.wait({reader, output}, return_when=asyncio.FIRST_COMPLETED)
        if output not in done:  # the client went away first
            output.cancel()
            await asyncio.gather(output, return_exceptions=True)
            return
        output.result()
        code = await session.wait()
        if kind == "exec" and code != 0:
            await write_status(channel.exit_code_status(code, exit_message(cmd or [], code)))
        else:
            await write_status(channel.success_status())
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    except (ConnectionError, asyncio.CancelledError):
        raise
    finally:
        if not ws.closed:
            await ws.close()


async def _session_to_client(session: base.StreamSession, opts: StreamOptions,
                             send: Callable[[int, bytes], Awaitable[None]]) -> None:
    async for stream, data in session.output():
        ch = channel.STDOUT if (stream == 1 or opts.tty) else channel.STDERR
        if (ch == channel.STDOUT and opts.stdout) or (ch == channel.STDERR and opts.stderr):
            await send(ch, data)


async def _client_to_session(ws: web.WebSocketResponse, proto: channel.Protocol, opts: StreamOptions,
                             session: base.StreamSession) -> None:
    resize_buf = b""
    stdin_open = opts.stdin
    try:
        async for msg in ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            try:
                ch, data = channel.decode(proto, msg.data)
            except ValueError:
                continue
            try:
                if ch == channel.STDIN and stdin_open:
                    if data:
                        await session.write_stdin(data)
                elif ch == channel.RESIZE and opts.tty:
                    sizes, resize_buf = channel.parse_resizes(resize_buf + data)
                    resize_buf = resize_buf[-4096:]
                    for w, h in sizes:
                        await session.resize(w, h)
                elif ch == channel.CLOSE and proto.close_signal and channel.parse_close(data) == channel.STDIN:
                    if stdin_open:
                        stdin_open = False
                        await session.close_stdin()
            except (OSError, base.RuntimeError_) as e:  # the process stopped reading: drop stdin
                log.debug("stdin of session closed: %s", e)
                stdin_open = False
    finally:
        if stdin_open:
            try:
                await session.close_stdin()
            except Exception:  # noqa: BLE001 - the process may be gone already
                pass


async def serve_spdy_tunnel(ws: web.WebSocketResponse, dial: portforward.Dial, pod: str, uid: str) -> None:
    """Port-forward: SPDY frames inside WebSocket binary messages (a plain byte stream)."""
    session = portforward.PortForwardSession(dial, pod, uid)
    conn = spdy.Connection(ws.send_bytes, session.on_stream)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await conn.feed(msg.data)
            elif msg.type == WSMsgType.TEXT:
                raise spdy.ProtocolError("text message in a SPDY tunnel")
    except spdy.ProtocolError as e:
        log.info("port-forward tunnel for %s: %s", pod, e)
    except ConnectionError:
        pass
    finally:
        conn.close()
        await session.close()
        if not ws.closed:
            await ws.close()


def parse_ports(values: list[str]) -> list[int]:
    """NewV4Options: the `port` query values (repeated or comma separated) of a WebSocket
    port-forward."""
    if not values:
        raise HTTPError(400, 'query parameter "port" is required')
    ports: list[int] = []
    for value in values:
        if not value:
            raise HTTPError(400, 'query parameter "port" cannot be empty')
        for p in value.split(","):
            try:
                port = int(p)
                if not 0 <= port < 65536:
                    raise ValueError
            except ValueError:
                raise HTTPError(400, f'unable to parse "{value}" as a port: strconv.ParseUint: parsing "{p}": invalid syntax') from None
            if port < 1:
                raise HTTPError(400, f'port "{value}" must be > 0')
            ports.append(port)
    return ports


async def serve_ws_port_forward(ws: web.WebSocketResponse, proto: channel.Protocol, ports: list[int],
                                dial: portforward.Dial, pod: str, uid: str) -> None:
    """The WebSocket port-forward protocol (kubelet portforward/websocket.go; the Python client):
    per requested port a data channel 2i and an error channel 2i+1, each opened by the port as a
    little-endian uint16; one TCP connection per port for the life of the WebSocket."""
    send_lock = asyncio.Lock()
    inboxes: list[asyncio.Queue[bytes | None]] = [asyncio.Queue(maxsize=64) for _ in ports]  # backpressure

    async def send(ch: int, data: bytes) -> None:
        msg = channel.encode(proto, ch, data)
        async with send_lock:
            await (ws.send_str(msg) if isinstance(msg, str) else ws.send_bytes(msg))

    async def forward(i: int, port: int) -> None:
        try:
            reader, writer = await dial(port)
        except Exception as e:  # noqa: BLE001 - reported on the error channel
            await send(2 * i + 1, f"error forwarding port {port} to pod {pod}, uid {uid}: {e}".encode())
            return

        async def to_pod() -> None:
            while (chunk := await inboxes[i].get()) is not None:
                writer.write(chunk)
                await writer.drain()

        up = asyncio.create_task(to_pod())
        try:
            while chunk := await reader.read(64 * 1024):
                await send(2 * i, chunk)
        finally:
            up.cancel()
            writer.close()

    async def from_client() -> None:
        async for msg in ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            try:
                ch, data = channel.decode(proto, msg.data)
            except ValueError:
                continue
            if ch % 2 == 0 and ch // 2 < len(ports) and data:
                await inboxes[ch // 2].put(data)
        for q in inboxes:
            while q.full():  # the forward is gone or stuck: drop what it did not take
                q.get_nowait()
            q.put_nowait(None)

    try:
        for i, port in enumerate(ports):
            await send(2 * i, port.to_bytes(2, "little"))
            await send(2 * i + 1, port.to_bytes(2, "little"))
        reader = asyncio.create_task(from_client())
        workers = asyncio.gather(*(forward(i, p) for i, p in enumerate(ports)), return_exceptions=True)
        await asyncio.wait({reader, workers}, return_when=asyncio.FIRST_COMPLETED)
        if not reader.done():  # every forward ended: close like upstream's conn.Close()
            await ws.close()
        await asyncio.gather(reader, return_exceptions=True)
        workers.cancel()
        await asyncio.gather(workers, return_exceptions=True)
    except ConnectionError:
        pass
    finally:
        if not ws.closed:
            await ws.close()


# ---- the server -----------------------------------------------------------------------------

class KubeletServer:
    """The kubelet API. `start()` listens; `app` is the aiohttp application (tests).

    `auth` None is a bare upstream kubelet's defaults (anonymous, AlwaysAllow): tests only."""

    def __init__(self, runtime: base.Runtime, get_pod: GetPod, *, host: str = "0.0.0.0", port: int = DEFAULT_PORT,
                 cert_file: str = "", key_file: str = "", client_ca_file: str = "", auth: KubeletAuth | None = None,
                 log_dir: str = "/var/log/pods",
                 stats: Callable[[], Awaitable[dict[str, Any]]] | None = None) -> None:
        self.runtime = runtime
        self.stats = stats  # the usage summary (stats.py): GET /stats/summary
        self.get_pod = get_pod
        self.host = host
        self.port = port
        self.cert_file = cert_file
        self.key_file = key_file
        self.client_ca_file = client_ca_file
        self.auth = auth
        self.log_dir = log_dir
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None

    # ---- lifecycle ----
    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.cert_file:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        if self.client_ca_file:
            ctx.load_verify_locations(self.client_ca_file)
            ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context(), reuse_address=True)
        await site.start()
        if self.port == 0:  # an ephemeral port: report the real one
            server = getattr(site, "_server", None)
            if server is not None and server.sockets:
                self.port = server.sockets[0].getsockname()[1]
        log.info("kubelet API listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- app ----
    def _build_app(self) -> web.Application:
        @web.middleware
        async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                             ) -> web.StreamResponse:
            try:
                if self.auth is not None:
                    await self._check(self.auth, request)
                return await handler(request)
            except HTTPError as e:
                # the text also goes in a header: a failed WebSocket handshake loses the body in
                # aiohttp's client, and the API server relays this text to kubectl
                return web.Response(status=e.code, text=e.message, content_type="text/plain",
                                    headers={ERROR_HEADER: urllib.parse.quote(e.message, safe=" \"'(),:;=/")})

        app = web.Application(middlewares=[middleware])
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self.container_logs)
        app.router.add_get("/stats/summary", self.stats_summary)
        for kind, handler in (("exec", self.exec_), ("attach", self.attach)):
            for path in (f"/{kind}/{{ns}}/{{pod}}/{{container}}", f"/{kind}/{{ns}}/{{pod}}/{{uid}}/{{container}}"):
                app.router.add_route("GET", path, handler)
                app.router.add_route("POST", path, handler)
        for path in ("/portForward/{ns}/{pod}", "/portForward/{ns}/{pod}/{uid}"):
            app.router.add_route("GET", path, self.port_forward)
            app.router.add_route("POST", path, self.port_forward)
        return app

    async def stats_summary(self, request: web.Request) -> web.Response:
        if self.stats is None:
            raise HTTPError(404, "404 page not found")
        return web.json_response(await self.stats())

    @staticmethod
    async def _check(auth: KubeletAuth, request: web.Request) -> None:
        """InstallAuthFilter: authenticate, then authorize, or answer 401/403/500."""
        transport = request.transport
        try:
            user = await auth.authenticate(transport.get_extra_info("peercert") if transport is not None else None,
                                           request.headers.get("Authorization", ""))
            await auth.authorize(user, request.method, request.path)
        except AuthError as e:
            if e.code != 401:
                log.info("%s", e.message)
            raise HTTPError(e.code, e.message) from None

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    # ---- lookups ----
    async def _pod(self, ns: str, name: str) -> dict[str, Any] | None:
        pod = self.get_pod(ns, name)
        if inspect.isawaitable(pod):
            pod = await pod
        return pod  # type: ignore[return-value]

    async def _running_container(self, pod: dict[str, Any], name: str) -> str:
        """kubelet.findContainer: the running container of that name (newest attempt)."""
        uid = pod["metadata"].get("uid", "")
        best: base.ContainerStatus | None = None
        for c in await self.runtime.list_containers(uid):
            if c.name == name and c.state == base.RUNNING and (best is None or c.attempt > best.attempt):
                best = c
        if best is None:
            raise HTTPError(500, f'container not found ("{name}")')
        return best.id

    async def _log_path(self, pod: dict[str, Any], container: str, cid: str, cs: dict[str, Any], previous: bool) -> str:
        status = await self.runtime.container_status(cid) if cid else None
        if status is not None and status.log_path:
            return status.log_path
        meta = pod["metadata"]
        attempt = int(cs.get("restartCount") or 0) - (1 if previous else 0)
        return crilogs.container_log_path(self.log_dir, meta.get("namespace", ""), meta["name"], meta.get("uid", ""),
                                       container, max(attempt, 0))

    async def _is_running(self, cid: str) -> bool:
        st = await self.runtime.container_status(cid)
        return st is not None and st.state == base.RUNNING

    def _running_check(self, cid: str, every: float = 0.5) -> Callable[[], Awaitable[bool]]:
        """`kubectl logs -f` polls the file often; ask the runtime at most every `every` s."""
        last = {"at": 0.0, "alive": True}

        async def check() -> bool:
            now = time.monotonic()
            if now - last["at"] >= every:
                last["at"], last["alive"] = now, await self._is_running(cid)
            return bool(last["alive"])

        return check

    # ---- logs ----
    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        ns, name, container = (request.match_info[k] for k in ("ns", "pod", "container"))
        opts, follow, previous = log_options(request.query)
        pod = await self._pod(ns, name)
        if pod is None:
            raise HTTPError(404, f'pod "{name}" does not exist')
        if container_spec(pod, container) is None:
            raise HTTPError(404, f'container "{container}" not found in pod "{name}"')
        full_id, cs = container_log_status(pod, container, previous)
        cid = strip_scheme(full_id)
        path = await self._log_path(pod, container, cid, cs, previous)
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            if follow and not previous:
                async for chunk in crilogs.follow(path, opts, self._running_check(cid)):
                    await resp.write(chunk)
            else:
                for chunk in crilogs.read_logs(path, opts):
                    await resp.write(chunk)
        except (ConnectionError, asyncio.CancelledError):
            return resp
        await resp.write_eof()
        return resp

    # ---- exec / attach ----
    async def exec_(self, request: web.Request) -> web.StreamResponse:
        return await self._remote_command(request, "exec")

    async def attach(self, request: web.Request) -> web.StreamResponse:
        return await self._remote_command(request, "attach")

    async def _remote_command(self, request: web.Request, kind: str) -> web.StreamResponse:
        ns, name, container = (request.match_info[k] for k in ("ns", "pod", "container"))
        pod = await self._pod(ns, name)
        if pod is None or (request.match_info.get("uid") and pod["metadata"].get("uid") != request.match_info["uid"]):
            raise HTTPError(404, "pod does not exist")
        opts = StreamOptions.from_query(request.query)
        cmd = request.query.getall("command", [])
        if kind == "exec" and not cmd:
            raise HTTPError(400, "you must specify a command")
        cid = await self._running_container(pod, container)
        ws = web.WebSocketResponse(protocols=channel.SUPPORTED, max_msg_size=MAX_MESSAGE, autoping=True)
        if not ws.can_prepare(request).ok:
            raise HTTPError(400, "Upgrade request required: this server speaks WebSocket (v5.channel.k8s.io)")
        await ws.prepare(request)
        proto = channel.PROTOCOLS.get(ws.ws_protocol or "", channel.PROTOCOLS[channel.V1])

        def open_session() -> Awaitable[base.StreamSession]:
            if kind == "exec":
                return self.runtime.exec_stream(cid, cmd, stdin=opts.stdin, tty=opts.tty)
            return self.runtime.attach(cid, stdin=opts.stdin, tty=opts.tty)

        try:
            await serve_session(ws, proto, opts, open_session, kind=kind, cmd=cmd)
        except ConnectionError:
            pass
        return ws

    # ---- port-forward ----
    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        ns, name = request.match_info["ns"], request.match_info["pod"]
        pod = await self._pod(ns, name)
        if pod is None or (request.match_info.get("uid") and pod["metadata"].get("uid") != request.match_info["uid"]):
            raise HTTPError(404, "pod does not exist")
        uid = pod["metadata"].get("uid", "")
        ws = web.WebSocketResponse(protocols=PORT_FORWARD_PROTOCOLS, max_msg_size=MAX_MESSAGE, autoping=True)
        ready = ws.can_prepare(request)
        if not ready.ok:
            raise HTTPError(400, f"Upgrade request required: this server speaks WebSocket ({SPDY_TUNNEL})")
        ports = parse_ports(request.query.getall("port", [])) if ready.protocol != SPDY_TUNNEL else []

        async def dial(port: int) -> tuple[Any, Any]:
            return await self.runtime.port_forward(uid, port)

        await ws.prepare(request)
        if ws.ws_protocol == SPDY_TUNNEL:
            await serve_spdy_tunnel(ws, dial, name, uid)
        else:
            proto = channel.PROTOCOLS.get(ws.ws_protocol or "", channel.PROTOCOLS[channel.V4])
            await serve_ws_port_forward(ws, proto, ports, dial, name, uid)
        return ws


def ensure_serving_cert(pki: Any, cert_dir: str, node_name: str, addresses: list[str]) -> tuple[str, str]:
    """The kubelet's serving certificate from the cluster CA (`kubeling up` owns the CA), for
    the node name, its addresses and loopback; reissued when an address is missing from it."""
    from cryptography import x509

    from ..pki import issue_cert

    cert, key = os.path.join(cert_dir, "serving-kubelet.crt"), os.path.join(cert_dir, "serving-kubelet.key")
    hosts = [node_name, "localhost", "127.0.0.1", *addresses]
    if os.path.exists(cert) and os.path.exists(key):
        with open(cert, "rb") as f:
            current = x509.load_pem_x509_certificate(f.read())
        try:
            sans = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            have = {str(v) for v in sans.get_values_for_type(x509.IPAddress)} | set(sans.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            have = set()
        if all(h in have for h in hosts):
            return cert, key
    issue_cert(pki, cert, key, node_name, server=True, hosts=hosts)
    return cert, key
