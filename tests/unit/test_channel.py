"""The WebSocket channel protocol, and the kubelet API serving exec/attach/logs over it
against an in-memory runtime."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer

from kubeling.kubelet import server as ks
from kubeling.kubelet.runtime import base
from kubeling.streaming import channel

from .test_kubelet_auth import admin_auth

# ---- pure protocol --------------------------------------------------------------------------


@pytest.mark.parametrize("offered,want", [
    (["v5.channel.k8s.io"], channel.V5),
    (["v4.channel.k8s.io", "v5.channel.k8s.io"], channel.V4),  # client order wins
    (["bogus", "channel.k8s.io"], channel.V1),
    ([], channel.V1),  # no subprotocol at all: upstream falls back to v1
    (["v4.base64.channel.k8s.io"], channel.V4_BASE64),
])
def test_negotiate(offered: list[str], want: str) -> None:
    assert channel.negotiate(offered).name == want


def test_negotiate_nothing_supported() -> None:
    with pytest.raises(ValueError, match="unable to negotiate protocol"):
        channel.negotiate(["v9.channel.k8s.io"])


def test_offered_protocols_header_forms() -> None:
    assert channel.offered_protocols("v5.channel.k8s.io, v4.channel.k8s.io") == [channel.V5, channel.V4]
    assert channel.offered_protocols(None) == []


@pytest.mark.parametrize("name", [channel.V5, channel.V4, channel.V1, channel.BASE64, channel.V4_BASE64])
@pytest.mark.parametrize("ch,data", [(0, b"hello"), (1, b""), (2, bytes(range(256))), (4, b'{"Width":80}')])
def test_encode_decode_roundtrip(name: str, ch: int, data: bytes) -> None:
    proto = channel.PROTOCOLS[name]
    msg = channel.encode(proto, ch, data)
    assert isinstance(msg, str) == proto.base64
    assert channel.decode(proto, msg) == (ch, data)


def test_binary_framing_is_channel_byte_then_data() -> None:
    assert channel.encode(channel.PROTOCOLS[channel.V5], 1, b"out") == b"\x01out"
    assert channel.encode(channel.PROTOCOLS[channel.BASE64], 2, b"err") == "2ZXJy"
    assert channel.close_signal(0) == b"\xff\x00"
    assert channel.decode(channel.PROTOCOLS[channel.V5], b"\xff\x00") == (255, b"\x00")
    with pytest.raises(ValueError):
        channel.decode(channel.PROTOCOLS[channel.V5], b"")


def test_exit_code_status_is_what_client_go_decodes() -> None:
    st = channel.exit_code_status(3, "command 'sh -c exit 3' exited with 3: ")
    # errorDecoderV4: Failure + NonZeroExitCode + a cause of type ExitCode with the code as message
    assert st["status"] == "Failure" and st["reason"] == "NonZeroExitCode"
    assert st["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert st["message"].startswith("command terminated with non-zero exit code: ")
    assert channel.exit_code_of(st) == 3
    assert channel.exit_code_of(channel.success_status()) == 0
    assert channel.exit_code_of(channel.internal_error_status("boom")) is None


def test_error_payload_per_version() -> None:
    v4, v1 = channel.PROTOCOLS[channel.V4], channel.PROTOCOLS[channel.V1]
    assert orjson.loads(channel.error_payload(v4, channel.success_status()) or b"") == {"metadata": {}, "status": "Success"}
    assert channel.error_payload(v1, channel.success_status()) is None  # v1: silence means success
    failure = channel.internal_error_status("error executing command in container: nope")
    assert channel.error_payload(v1, failure) == b"Internal error occurred: error executing command in container: nope"
    assert orjson.loads(channel.error_payload(v4, failure) or b"")["reason"] == "InternalError"


def test_parse_resizes_streams_json_objects() -> None:
    sizes, rest = channel.parse_resizes(b'{"Width":80,"Height":24}{"Width":100,')
    assert sizes == [(80, 24)] and rest == b'{"Width":100,'
    sizes, rest = channel.parse_resizes(rest + b'"Height":30}\n')
    assert sizes == [(100, 30)] and rest == b""


# ---- an in-memory runtime ---------------------------------------------------------------------

Program = Callable[["MemSession"], Awaitable[int]]


class MemSession:
    """A fake process: `program` reads `stdin()` and `emit`s output, returning its exit code."""

    def __init__(self, program: Program) -> None:
        self._out: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._in: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.resizes: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self.stdin_closed = False
        self._task = asyncio.ensure_future(self._run(program))

    async def _run(self, program: Program) -> int:
        try:
            return await program(self)
        finally:
            self._out.put_nowait(None)

    def emit(self, stream: int, data: bytes) -> None:
        self._out.put_nowait((stream, data))

    async def read_stdin(self) -> bytes | None:
        return await self._in.get()

    async def write_stdin(self, data: bytes) -> None:
        self._in.put_nowait(data)

    async def close_stdin(self) -> None:
        self.stdin_closed = True
        self._in.put_nowait(None)

    async def resize(self, width: int, height: int) -> None:
        self.resizes.put_nowait((width, height))

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        while (item := await self._out.get()) is not None:
            yield item

    async def wait(self) -> int:
        return await self._task


async def prog_fail(s: MemSession) -> int:
    s.emit(1, b"out\n")
    s.emit(2, b"err\n")
    return 3


async def prog_cat(s: MemSession) -> int:
    while (chunk := await s.read_stdin()) is not None:
        s.emit(1, chunk.upper())
    s.emit(2, b"eof\n")
    return 0


async def prog_size(s: MemSession) -> int:
    w, h = await s.resizes.get()
    s.emit(1, f"{h} {w}\r\n".encode())
    return 0


PROGRAMS: dict[str, Program] = {"fail": prog_fail, "cat": prog_cat, "size": prog_size}


class MemRuntime:
    name, version = "fake", "0.1"

    def __init__(self, log_dir: str = "") -> None:
        self.containers: dict[str, base.ContainerStatus] = {}
        self.sessions: list[MemSession] = []

    def add(self, cid: str, pod_uid: str, name: str, state: str = base.RUNNING, attempt: int = 0, log_path: str = "") -> None:
        self.containers[cid] = base.ContainerStatus(id=cid, pod_uid=pod_uid, name=name, attempt=attempt,
                                                    state=state, log_path=log_path)

    async def list_containers(self, pod_uid: str | None = None) -> list[base.ContainerStatus]:
        return [c for c in self.containers.values() if pod_uid in (None, c.pod_uid)]

    async def container_status(self, container_id: str) -> base.ContainerStatus | None:
        return self.containers.get(container_id)

    async def exec_stream(self, container_id: str, cmd: list[str], *, stdin: bool, tty: bool) -> MemSession:
        if cmd[0] not in PROGRAMS:
            raise base.RuntimeError_("RunContainerError", f'exec: "{cmd[0]}": executable file not found in $PATH')
        s = MemSession(PROGRAMS[cmd[0]])
        self.sessions.append(s)
        return s

    async def attach(self, container_id: str, *, stdin: bool, tty: bool) -> MemSession:
        s = MemSession(prog_cat)
        self.sessions.append(s)
        return s

    async def port_forward(self, pod_uid: str, port: int) -> tuple[Any, Any]:
        raise OSError("no ports here")


def make_pod(name: str = "web", uid: str = "uid-1", statuses: list[dict[str, Any]] | None = None,
             containers: tuple[str, ...] = ("app",)) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": uid},
        "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers], "nodeName": "n1"},
        "status": {"containerStatuses": statuses if statuses is not None else [
            {"name": "app", "containerID": "fake://c1", "restartCount": 1, "state": {"running": {}},
             "lastState": {"terminated": {"containerID": "fake://c0", "exitCode": 1}}}]},
    }


TOKEN = "secret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def kubelet(tmp_path: Any) -> AsyncIterator[tuple[str, MemRuntime, dict[str, dict[str, Any]]]]:
    rt = MemRuntime()
    pods: dict[str, dict[str, Any]] = {"web": make_pod()}
    rt.add("c1", "uid-1", "app", attempt=1, log_path=str(tmp_path / "1.log"))
    rt.add("c0", "uid-1", "app", state=base.EXITED, attempt=0, log_path=str(tmp_path / "0.log"))
    srv = ks.KubeletServer(rt, lambda ns, name: pods.get(name) if ns == "default" else None,  # type: ignore[arg-type]
                           auth=admin_auth(TOKEN), log_dir=str(tmp_path))
    server = TestServer(srv.app)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), rt, pods
    finally:
        await server.close()


async def run_exec(url: str, path: str, protocol: str = channel.V5, send: list[bytes | str] | None = None,
                   ) -> tuple[dict[int, bytes], aiohttp.ClientWebSocketResponse]:
    """Connect, send messages, collect everything per channel until the server closes."""
    got: dict[int, bytes] = {}
    proto = channel.PROTOCOLS[protocol]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url + path, protocols=[protocol], headers=AUTH) as ws:
            assert ws.protocol == protocol
            for m in send or []:
                await (ws.send_str(m) if isinstance(m, str) else ws.send_bytes(m))
            async for msg in ws:
                assert msg.type in (WSMsgType.BINARY, WSMsgType.TEXT)
                ch, data = channel.decode(proto, msg.data)
                got[ch] = got.get(ch, b"") + data
            assert ws.close_code == 1000
            return got, ws


async def test_exec_separates_streams_and_reports_exit_code(kubelet: Any) -> None:
    url, _, _ = kubelet
    got, _ = await run_exec(url, "/exec/default/web/app?command=fail&output=1&error=1")
    assert got[channel.STDOUT] == b"out\n" and got[channel.STDERR] == b"err\n"
    status = json.loads(got[channel.ERROR])
    assert channel.exit_code_of(status) == 3 and status["reason"] == "NonZeroExitCode"


async def test_exec_stdin_and_v5_close_signal(kubelet: Any) -> None:
    url, rt, _ = kubelet
    got, _ = await run_exec(url, "/exec/default/web/app?command=cat&input=1&output=1&error=1",
                            send=[b"\x00hello ", b"\x00world", channel.close_signal(channel.STDIN)])
    assert got[channel.STDOUT] == b"HELLO WORLD" and got[channel.STDERR] == b"eof\n"
    assert json.loads(got[channel.ERROR]) == {"metadata": {}, "status": "Success"}
    assert rt.sessions[-1].stdin_closed


async def test_exec_tty_resize_and_no_stderr_channel(kubelet: Any) -> None:
    url, _, _ = kubelet
    got, _ = await run_exec(url, "/exec/default/web/app?command=size&input=1&output=1&error=1&tty=1",
                            send=[b'\x04{"Width":132,"Height":43}'])
    assert got[channel.STDOUT] == b"43 132\r\n"
    assert channel.STDERR not in got  # tty merges stderr into stdout


async def test_exec_v4_and_base64_protocols(kubelet: Any) -> None:
    url, _, _ = kubelet
    got, _ = await run_exec(url, "/exec/default/web/app?command=fail&stdout=true&stderr=true", protocol=channel.V4)
    assert got[channel.STDOUT] == b"out\n" and channel.exit_code_of(json.loads(got[channel.ERROR])) == 3
    got, _ = await run_exec(url, "/exec/default/web/app?command=fail&output=1&error=1", protocol=channel.V4_BASE64)
    assert got[channel.STDERR] == b"err\n"


async def test_exec_command_not_found_is_internal_error(kubelet: Any) -> None:
    url, _, _ = kubelet
    got, _ = await run_exec(url, "/exec/default/web/app?command=nope&output=1")
    status = json.loads(got[channel.ERROR])
    assert status["reason"] == "InternalError"
    assert status["message"] == ('Internal error occurred: error executing command in container: '
                                 'exec: "nope": executable file not found in $PATH')


async def test_attach_streams_until_the_process_ends(kubelet: Any) -> None:
    url, _, _ = kubelet
    got, _ = await run_exec(url, "/attach/default/web/app?input=1&output=1&error=1",
                            send=[b"\x00x", channel.close_signal(channel.STDIN)])
    assert got[channel.STDOUT] == b"X" and json.loads(got[channel.ERROR])["status"] == "Success"


@pytest.mark.parametrize("path,code,text", [
    ("/exec/default/nope/app?command=fail&output=1", 404, "pod does not exist"),
    ("/exec/default/web/app?command=fail", 400, "you must specify at least 1 of stdin, stdout, stderr"),
    ("/exec/default/web/sidecar?command=fail&output=1", 500, 'container not found ("sidecar")'),
    ("/exec/default/web/wrong-uid/app?command=fail&output=1", 404, "pod does not exist"),
    ("/portForward/default/nope", 404, "pod does not exist"),
])
async def test_refusals_before_the_upgrade(kubelet: Any, path: str, code: int, text: str) -> None:
    url, _, _ = kubelet
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            await session.ws_connect(url + path, protocols=[channel.V5, ks.SPDY_TUNNEL], headers=AUTH)
        assert e.value.status == code
        import urllib.parse

        assert urllib.parse.unquote(e.value.headers[ks.ERROR_HEADER]) == text
        async with session.get(url + path, headers=AUTH) as resp:
            assert resp.status == code and await resp.text() == text


async def test_only_the_api_server_gets_in(kubelet: Any) -> None:
    url, _, _ = kubelet
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            for path in ("/containerLogs/default/web/app", "/healthz"):
                async with session.get(url + path, headers=headers) as resp:
                    assert resp.status == 401
        async with session.get(url + "/healthz", headers=AUTH) as resp:
            assert resp.status == 200


# ---- logs -------------------------------------------------------------------------------------

LINES = [
    b"2024-01-01T00:00:01.000000000Z stdout F one",
    b"2024-01-01T00:00:02.500000000Z stderr F two",
    b"2024-01-01T00:00:03.123456789Z stdout P thr",
    b"2024-01-01T00:00:03.123456789Z stdout F ee",
]


def write_log(path: str, lines: list[bytes]) -> None:
    with open(path, "ab") as f:
        f.write(b"".join(line + b"\n" for line in lines))


async def get_logs(url: str, query: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/containerLogs/default/web/app" + query, headers=AUTH) as resp:
            return resp.status, await resp.text()


async def test_logs_options(kubelet: Any, tmp_path: Any) -> None:
    url, _, _ = kubelet
    write_log(str(tmp_path / "1.log"), LINES)
    write_log(str(tmp_path / "0.log"), [b"2024-01-01T00:00:00Z stdout F previous life"])
    assert await get_logs(url, "") == (200, "one\ntwo\nthree\n")
    assert await get_logs(url, "?tailLines=2") == (200, "three\n")  # the last 2 entries are one line
    assert await get_logs(url, "?tailLines=0") == (200, "")
    assert await get_logs(url, "?timestamps=true&tailLines=3") == (
        200, "2024-01-01T00:00:02.5Z two\n2024-01-01T00:00:03.123456789Z three\n")
    assert await get_logs(url, "?sinceTime=2024-01-01T00:00:02Z") == (200, "two\nthree\n")
    assert await get_logs(url, "?limitBytes=6") == (200, "one\ntw")
    assert await get_logs(url, "?previous=true") == (200, "previous life\n")
    assert await get_logs(url, "?sinceSeconds=1") == (200, "")  # all of it is older than a second


@pytest.mark.parametrize("status,message", [
    ({"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}},
     'container "app" in pod "web" is waiting to start: ContainerCreating'),
    ({"name": "app", "state": {"waiting": {"reason": "ImagePullBackOff"}}},
     'container "app" in pod "web" is waiting to start: trying and failing to pull image'),
    ({"name": "app", "state": {"waiting": {"reason": "ErrImagePull"}}},
     'container "app" in pod "web" is waiting to start: image can\'t be pulled'),
    ({"name": "app", "state": {"terminated": {"exitCode": 0}}}, 'container "app" in pod "web" is terminated'),
    ({"name": "app", "state": {}}, 'container "app" in pod "web" is waiting to start - no logs yet'),
    ({"name": "other", "state": {}}, 'container "app" in pod "web" is not available'),
])
async def test_logs_of_a_container_that_does_not_run(kubelet: Any, status: dict[str, Any], message: str) -> None:
    url, _, pods = kubelet
    pods["web"] = make_pod(statuses=[status])
    assert await get_logs(url, "") == (400, message)


async def test_logs_refusals(kubelet: Any) -> None:
    url, _, pods = kubelet
    pods["web"] = make_pod(statuses=[{"name": "app", "state": {"running": {}}, "containerID": "fake://c1"}])
    assert await get_logs(url, "?previous=true") == (400, 'previous terminated container "app" in pod "web" not found')
    assert await get_logs(url, "?tailLines=-1") == (422, '{"message": "Invalid request."}')
    assert await get_logs(url, "?tailLines=x") == (400, '{"message": "Unable to decode query."}')
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/containerLogs/default/web/sidecar", headers=AUTH) as resp:
            assert (resp.status, await resp.text()) == (404, 'container "sidecar" not found in pod "web"')
        async with session.get(url + "/containerLogs/default/gone/app", headers=AUTH) as resp:
            assert (resp.status, await resp.text()) == (404, 'pod "gone" does not exist')


async def test_logs_follow_until_the_container_stops(kubelet: Any, tmp_path: Any) -> None:
    url, rt, _ = kubelet
    path = str(tmp_path / "1.log")
    write_log(path, LINES[:1])
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/containerLogs/default/web/app?follow=true", headers=AUTH) as resp:
            assert await resp.content.readline() == b"one\n"
            write_log(path, LINES[1:2])
            assert await resp.content.readline() == b"two\n"
            write_log(path, LINES[2:])
            rt.containers["c1"].state = base.EXITED  # the stream ends once the file is drained
            assert await asyncio.wait_for(resp.content.read(), 5) == b"three\n"


def test_log_path_fallback_uses_the_cri_layout(tmp_path: Any) -> None:
    rt = MemRuntime()
    srv = ks.KubeletServer(rt, lambda ns, n: None, log_dir=str(tmp_path))  # type: ignore[arg-type]
    pod = make_pod()
    path = asyncio.run(srv._log_path(pod, "app", "gone", {"restartCount": 2}, previous=True))
    assert path == os.path.join(str(tmp_path), "default_web_uid-1", "app", "1.log")
