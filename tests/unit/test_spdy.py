"""SPDY/3.1 framing and port-forwarding through the kubelet API (SPDY tunnelled in a WebSocket),
with a small SPDY client standing in for kubectl."""

from __future__ import annotations

import asyncio
import hashlib
import struct
import zlib
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer

from kubeling.kubelet import server as ks
from kubeling.streaming import portforward, spdy

from .test_kubelet_auth import admin_auth

# ---- framing --------------------------------------------------------------------------------


def test_dictionary_is_the_spdy3_one() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"utf-,*,enq=0.")
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"


def test_header_blocks_share_one_zlib_stream_and_parse_byte_by_byte() -> None:
    w, r = spdy.FrameWriter(), spdy.FrameReader()
    wire = (w.syn_stream(1, {"streamtype": "error", "port": "8080", "requestid": "0"})
            + w.syn_stream(3, {"streamtype": "data", "port": "8080", "requestid": "0"}, priority=2)
            + w.data(3, b"hello", spdy.FLAG_FIN) + w.ping(7) + w.rst_stream(1, spdy.CANCEL)
            + w.settings([(0, 7, 65536)]) + w.window_update(3, 1000) + w.goaway(3)
            + w.headers(3, {"x": ["a", "b"]}) + w.syn_reply(2, {}))
    frames = [f for i in range(len(wire)) for f in r.feed(wire[i:i + 1])]
    assert frames == [
        spdy.SynStream(1, {"streamtype": ["error"], "port": ["8080"], "requestid": ["0"]}),
        spdy.SynStream(3, {"streamtype": ["data"], "port": ["8080"], "requestid": ["0"]}, priority=2),
        spdy.DataFrame(3, b"hello", spdy.FLAG_FIN), spdy.Ping(7), spdy.RstStream(1, spdy.CANCEL),
        spdy.Settings([(0, 7, 65536)]), spdy.WindowUpdate(3, 1000), spdy.GoAway(3),
        spdy.HeadersFrame(3, {"x": ["a", "b"]}), spdy.SynReply(2, {}),
    ]
    # the second header block is much smaller: it back-references the first through the shared window
    first = w.syn_stream(5, {"streamtype": "data", "port": "8080", "requestid": "9"})
    assert len(first) < 30


def test_wire_layout() -> None:
    w = spdy.FrameWriter()
    # control bit + version 3, type, flags<<24 | length
    assert w.ping(1) == b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"
    assert w.data(3, b"ab", spdy.FLAG_FIN) == b"\x00\x00\x00\x03\x01\x00\x00\x02ab"
    assert w.rst_stream(5, spdy.REFUSED_STREAM) == b"\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x05\x00\x00\x00\x03"
    syn = w.syn_reply(1, {})
    assert syn[:4] == b"\x80\x03\x00\x02" and struct.unpack(">I", syn[8:12])[0] == 1
    # the header block is a zlib stream with the SPDY dictionary (FDICT set, dictid = adler32)
    assert syn[12] == 0x78 and syn[13] & 0x20 and syn[14:18] == struct.pack(">I", zlib.adler32(spdy.DICTIONARY))


def test_reader_rejects_garbage() -> None:
    with pytest.raises(spdy.ProtocolError, match="version"):
        spdy.FrameReader().feed(b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01")
    with pytest.raises(spdy.ProtocolError, match="decompression"):
        spdy.FrameReader().feed(b"\x80\x03\x00\x01\x00\x00\x00\x0e" + b"\x00" * 10 + b"junk")
    with pytest.raises(spdy.ProtocolError, match="zero"):
        spdy.FrameReader().feed(b"\x00\x00\x00\x00\x00\x00\x00\x00")
    assert spdy.FrameReader().feed(b"\x80\x03\x00\x63\x00\x00\x00\x00") == []  # unknown type: ignored


def test_header_block_values_split_on_nul() -> None:
    block = spdy.encode_header_block({"Port": ["1", "2"]})
    assert block == b"\x00\x00\x00\x01\x00\x00\x00\x04port\x00\x00\x00\x031\x002"
    assert spdy.decode_header_block(block) == {"port": ["1", "2"]}
    with pytest.raises(spdy.ProtocolError):
        spdy.decode_header_block(b"\x00\x00\x00\x01\x00\x00\x00\x09po")


# ---- the connection ---------------------------------------------------------------------------


async def test_connection_replies_echoes_pings_and_refuses_bad_streams() -> None:
    sent: list[bytes] = []

    async def send(b: bytes) -> None:
        sent.append(b)

    accepted: list[spdy.Stream] = []

    def on_stream(s: spdy.Stream) -> str | None:
        problem = portforward.check_stream(s)
        if not problem:
            accepted.append(s)
        return problem

    conn = spdy.Connection(send, on_stream)
    w, r = spdy.FrameWriter(), spdy.FrameReader()
    await conn.feed(w.syn_stream(1, {"streamtype": "data", "port": "80"}) + w.ping(9)
                    + w.syn_stream(3, {"streamtype": "data"}) + w.data(1, b"x") + w.data(1, b"", spdy.FLAG_FIN))
    frames = r.feed(b"".join(sent))
    assert frames == [spdy.SynReply(1, {}), spdy.Ping(9), spdy.RstStream(3, spdy.REFUSED_STREAM)]
    s = accepted[0]
    assert await s.read() == b"x" and await s.read() == b"" and await s.read() == b""
    sent.clear()
    await s.write(b"y" * (spdy.DATA_CHUNK + 1))
    await s.close()
    frames = r.feed(b"".join(sent))
    assert [len(f.data) for f in frames] == [spdy.DATA_CHUNK, 1, 0] and frames[-1].fin  # type: ignore[union-attr]
    assert 1 not in conn.streams  # both halves closed
    sent.clear()
    await conn.feed(w.data(77, b"stray"))
    assert r.feed(b"".join(sent)) == [spdy.RstStream(77, spdy.INVALID_STREAM)]


async def test_connection_stops_reading_while_a_stream_is_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spdy, "MAX_BUFFERED", 10)
    streams: list[spdy.Stream] = []
    conn = spdy.Connection(lambda b: asyncio.sleep(0), lambda s: streams.append(s))  # type: ignore[func-returns-value]
    w = spdy.FrameWriter()
    await conn.feed(w.syn_stream(1, {"port": "1", "streamtype": "data"}) + w.data(1, b"x" * 8))
    blocked = asyncio.ensure_future(conn.feed(w.data(1, b"y" * 8)))  # 16 unread bytes > 10
    for _ in range(5):
        await asyncio.sleep(0)
    assert not blocked.done()
    assert await streams[0].read() == b"x" * 8  # 8 left: reading resumes
    await asyncio.wait_for(blocked, 1)
    assert await streams[0].read() == b"y" * 8


@pytest.mark.parametrize("headers,problem", [
    ({"streamtype": "data"}, '"port" header is required'),
    ({"streamtype": "data", "port": "http"}, 'unable to parse "http" as a port'),
    ({"streamtype": "data", "port": "0"}, 'port "0" must be > 0'),
    ({"port": "80"}, '"streamtype" header is required'),
    ({"port": "80", "streamtype": "video"}, 'invalid stream type "video"'),
])
async def test_port_forward_stream_headers(headers: dict[str, str], problem: str) -> None:
    conn = spdy.Connection(lambda b: asyncio.sleep(0), lambda s: None)
    stream = spdy.Stream(conn, 1, {k: [v] for k, v in headers.items()})
    assert portforward.check_stream(stream) == problem


def test_request_id_fallback_for_old_clients() -> None:
    conn = spdy.Connection(lambda b: asyncio.sleep(0), lambda s: None)
    assert portforward.request_id(spdy.Stream(conn, 5, {"streamtype": ["error"]})) == "5"
    assert portforward.request_id(spdy.Stream(conn, 7, {"streamtype": ["data"]})) == "5"
    assert portforward.request_id(spdy.Stream(conn, 7, {"streamtype": ["data"], "requestid": ["3"]})) == "3"


# ---- port-forward through the kubelet API --------------------------------------------------------


class EchoRuntime:
    name, version = "fake", "0.1"

    def __init__(self, echo_port: int) -> None:
        self.echo_port = echo_port
        self.dialled: list[tuple[str, int]] = []

    async def port_forward(self, pod_uid: str, port: int) -> tuple[Any, Any]:
        self.dialled.append((pod_uid, port))
        if port != 8080:
            raise ConnectionRefusedError(f"dial tcp4 127.0.0.1:{port}: connect: connection refused")
        return await asyncio.open_connection("127.0.0.1", self.echo_port)


class SpdyClient:
    """What client-go's port forwarder does, over the WebSocket tunnel."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.w, self.r = ws, spdy.FrameWriter(), spdy.FrameReader()
        self.next_id = 1
        self.data: dict[int, asyncio.Queue[bytes | None]] = {}
        self.replies: set[int] = set()
        self.resets: dict[int, int] = {}
        self.pongs: list[int] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            assert msg.type == WSMsgType.BINARY
            for f in self.r.feed(msg.data):
                if isinstance(f, spdy.SynReply):
                    self.replies.add(f.stream_id)
                elif isinstance(f, spdy.DataFrame):
                    q = self.data.setdefault(f.stream_id, asyncio.Queue())
                    if f.data:
                        q.put_nowait(f.data)
                    if f.fin:
                        q.put_nowait(None)
                elif isinstance(f, spdy.RstStream):
                    self.resets[f.stream_id] = f.status
                elif isinstance(f, spdy.Ping):
                    self.pongs.append(f.id)

    async def open(self, kind: str, port: int, request_id: int) -> int:
        sid, self.next_id = self.next_id, self.next_id + 2
        self.data[sid] = asyncio.Queue()
        await self.ws.send_bytes(self.w.syn_stream(sid, {"streamtype": kind, "port": str(port), "requestid": str(request_id)}))
        return sid

    async def send(self, sid: int, data: bytes, fin: bool = False) -> None:
        # split a frame across two WebSocket messages: the tunnel is a byte stream
        frame = self.w.data(sid, data, spdy.FLAG_FIN if fin else 0)
        await self.ws.send_bytes(frame[:3])
        await self.ws.send_bytes(frame[3:])

    async def read_all(self, sid: int) -> bytes:
        out = b""
        while (chunk := await asyncio.wait_for(self.data[sid].get(), 5)) is not None:
            out += chunk
        return out

    async def read_some(self, sid: int) -> bytes:
        chunk = await asyncio.wait_for(self.data[sid].get(), 5)
        assert chunk is not None
        return chunk


@pytest.fixture
async def forward() -> AsyncIterator[tuple[str, EchoRuntime]]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    echo_server = await asyncio.start_server(echo, "127.0.0.1", 0)
    rt = EchoRuntime(echo_server.sockets[0].getsockname()[1])
    pod = {"metadata": {"name": "web", "namespace": "default", "uid": "uid-1"}, "spec": {"containers": [{"name": "app"}]}}
    srv = ks.KubeletServer(rt, lambda ns, name: pod if name == "web" else None, auth=admin_auth("t"))  # type: ignore[arg-type]
    server = TestServer(srv.app)
    await server.start_server()
    try:
        yield str(server.make_url("/portForward/default/web")), rt
    finally:
        await server.close()
        echo_server.close()
        await echo_server.wait_closed()


async def test_two_parallel_forwards_echo_and_finish(forward: Any) -> None:
    url, rt = forward
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, protocols=[ks.SPDY_TUNNEL], headers={"Authorization": "Bearer t"}) as ws:
            assert ws.protocol == ks.SPDY_TUNNEL
            c = SpdyClient(ws)
            pairs = []
            for rid in (0, 1):
                err = await c.open("error", 8080, rid)
                await c.send(err, b"", fin=True)  # kubectl half-closes the error stream at once
                pairs.append((err, await c.open("data", 8080, rid)))
            await c.send(pairs[1][1], b"second")
            await c.send(pairs[0][1], b"first")
            assert await c.read_some(pairs[0][1]) == b"first"
            assert await c.read_some(pairs[1][1]) == b"second"
            big = bytes(range(256)) * 1000
            await c.send(pairs[0][1], big, fin=True)
            assert await c.read_all(pairs[0][1]) == big  # then FIN once the echo server closed
            assert await c.read_all(pairs[0][0]) == b""  # the error stream ends empty: no error
            await c.send(pairs[1][1], b"", fin=True)
            assert await c.read_all(pairs[1][1]) == b""
            assert {s for p in pairs for s in p} <= c.replies
            await ws.send_bytes(c.w.ping(11))
            for _ in range(100):
                if c.pongs:
                    break
                await asyncio.sleep(0.01)
            assert c.pongs == [11]
    assert rt.dialled == [("uid-1", 8080), ("uid-1", 8080)]


async def test_dial_failure_is_written_on_the_error_stream(forward: Any) -> None:
    url, _ = forward
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, protocols=[ks.SPDY_TUNNEL], headers={"Authorization": "Bearer t"}) as ws:
            c = SpdyClient(ws)
            err = await c.open("error", 9, 0)
            data = await c.open("data", 9, 0)
            assert (await c.read_all(err)).decode() == (
                "error forwarding port 9 to pod web, uid uid-1: dial tcp4 127.0.0.1:9: connect: connection refused")
            assert await c.read_all(data) == b""


async def test_garbage_in_the_tunnel_closes_it(forward: Any) -> None:
    url, _ = forward
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, protocols=[ks.SPDY_TUNNEL], headers={"Authorization": "Bearer t"}) as ws:
            await ws.send_bytes(b"\x80\x07\x00\x01\x00\x00\x00\x00")
            msg = await asyncio.wait_for(ws.receive(), 5)
            assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)


# ---- the WebSocket port-forward protocol (the Python client) ------------------------------------


async def test_websocket_port_forward_channels(forward: Any) -> None:
    url, rt = forward
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url + "?port=8080,9", protocols=["v4.channel.k8s.io"],
                                      headers={"Authorization": "Bearer t"}) as ws:
            got: dict[int, bytes] = {}

            async def until(ch: int, want: bytes) -> None:
                while got.get(ch, b"") != want:
                    msg = await asyncio.wait_for(ws.receive(), 5)
                    assert msg.type == WSMsgType.BINARY, msg
                    got[msg.data[0]] = got.get(msg.data[0], b"") + msg.data[1:]

            # every channel opens with its port, little endian
            await until(0, b"\x90\x1f")
            await until(3, b"\x09\x00" + b"error forwarding port 9 to pod web, uid uid-1: "
                        b"dial tcp4 127.0.0.1:9: connect: connection refused")
            await ws.send_bytes(b"\x00ping")
            await until(0, b"\x90\x1fping")
            assert got[1] == b"\x90\x1f" and got[2] == b"\x09\x00"


async def test_websocket_port_forward_needs_ports(forward: Any) -> None:
    url, _ = forward
    async with aiohttp.ClientSession() as session:
        for query, text in (("", 'query parameter "port" is required'), ("?port=0", 'port "0" must be > 0'),
                            ("?port=x", 'unable to parse "x" as a port: strconv.ParseUint: parsing "x": invalid syntax')):
            async with session.get(url + query, headers={"Authorization": "Bearer t", "Upgrade": "websocket",
                                                         "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                                         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                         "Sec-WebSocket-Protocol": "v4.channel.k8s.io"}) as resp:
                assert (resp.status, await resp.text()) == (400, text)
