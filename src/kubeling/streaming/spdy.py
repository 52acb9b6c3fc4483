"""SPDY/3.1 framing (the subset moby/spdystream and client-go speak), plus a stream multiplexer.

`kubectl port-forward` opens one SPDY connection (tunnelled in WebSocket binary messages,
subprotocol `SPDY/3.1+portforward.k8s.io`, or after a plain `Upgrade: SPDY/3.1`) and creates two
streams per forwarded TCP connection: `streamtype: error` and `streamtype: data`, both with
`port` and `requestid` headers. Message boundaries of the tunnel mean nothing: it is a byte
stream, so frames are parsed incrementally by `FrameReader.feed`.

Frames: a control frame is `1|version(15) type(16) flags(8) length(24) payload`; a data frame is
`0|stream-id(31) flags(8) length(24) data`. Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are
zlib-compressed with the SPDY/3 dictionary, one zlib stream per direction for the whole
connection (each block ends with a sync flush). spdystream ignores flow control (it never sends
WINDOW_UPDATE), so neither do we.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Union

VERSION = 3

SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

# RST_STREAM status codes
PROTOCOL_ERROR = 1
INVALID_STREAM = 2
REFUSED_STREAM = 3
CANCEL = 5
INTERNAL_ERROR = 6
STREAM_ALREADY_CLOSED = 9

MAX_FRAME = (1 << 24) - 1
DATA_CHUNK = 32 * 1024  # what spdystream writes per DATA frame at most, roughly
MAX_BUFFERED = 4 * 1024 * 1024  # per stream: unread bytes before the connection stops reading

_NAMES = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base content-encoding "
    "content-language content-length content-location content-md5 content-range content-type date "
    "etag expect expires from host if-match if-modified-since if-none-match if-range "
    "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
    "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
    "user-agent vary via warning www-authenticate method get status 200_OK version HTTP/1.1 url "
    "public set-cookie keep-alive origin"
).split(" ")
_TAIL = (
    b"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    b"203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
    b"Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
    b"Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, "
    b"Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,"
    b"application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch"
    b"charset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
# The SPDY/3 header compression dictionary (spec section 2.6.10.1; spdystream's headerDictionary):
# length-prefixed header names and values, then common status lines and tokens. 1423 bytes.
DICTIONARY = b"".join(struct.pack(">I", len(n)) + n.replace("_", " ").encode() for n in _NAMES) + _TAIL
assert len(DICTIONARY) == 1423


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3."""


Headers = dict[str, list[str]]


@dataclass
class DataFrame:
    stream_id: int
    data: bytes
    flags: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass
class SynStream:
    stream_id: int
    headers: Headers
    flags: int = 0
    associated_id: int = 0
    priority: int = 0

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


@dataclass
class SynReply:
    stream_id: int
    headers: Headers
    flags: int = 0


@dataclass
class HeadersFrame:
    stream_id: int
    headers: Headers
    flags: int = 0


@dataclass
class RstStream:
    stream_id: int
    status: int


@dataclass
class Settings:
    entries: list[tuple[int, int, int]] = field(default_factory=list)  # (flags, id, value)
    flags: int = 0


@dataclass
class Ping:
    id: int


@dataclass
class GoAway:
    last_good_stream_id: int
    status: int = 0


@dataclass
class WindowUpdate:
    stream_id: int
    delta: int


Frame = Union[DataFrame, SynStream, SynReply, HeadersFrame, RstStream, Settings, Ping, GoAway, WindowUpdate]


def header(headers: Headers, name: str) -> str:
    """The first value of a header (names are lower-case on the wire)."""
    values = headers.get(name.lower()) or [""]
    return values[0]


def encode_header_block(headers: Headers | dict[str, str]) -> bytes:
    """Uncompressed name/value block: count, then (len, name, len, values joined by NUL)."""
    out = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        n = name.lower().encode()
        v = (values if isinstance(values, str) else "\x00".join(values)).encode()
        out.append(struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v)
    return b"".join(out)


def decode_header_block(block: bytes) -> Headers:
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        pos = 4
        headers: Headers = {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4:pos + 4 + n].decode().lower()
            pos += 4 + n
            (m,) = struct.unpack_from(">I", block, pos)
            value = block[pos + 4:pos + 4 + m].decode()
            pos += 4 + m
            if pos > len(block):
                raise ProtocolError("truncated header block")
            headers.setdefault(name, []).extend(value.split("\x00"))
        return headers
    except (struct.error, UnicodeDecodeError) as e:
        raise ProtocolError(f"invalid header block: {e}") from None


class FrameReader:
    """Incremental parser: feed bytes as they arrive, get whole frames back."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            first, second = struct.unpack_from(">II", self._buf, 0)
            length = second & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            flags = second >> 24
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                frame = self._control(first & 0xFFFF, flags, payload)
                if frame is not None:
                    frames.append(frame)
            else:
                stream_id = first & 0x7FFFFFFF
                if stream_id == 0:
                    raise ProtocolError("stream id zero is disallowed")
                frames.append(DataFrame(stream_id, payload, flags))
        return frames

    def _headers(self, compressed: bytes) -> Headers:
        try:
            return decode_header_block(self._inflate.decompress(compressed))
        except zlib.error as e:
            raise ProtocolError(f"header decompression failed: {e}") from None

    def _control(self, kind: int, flags: int, p: bytes) -> Frame | None:
        try:
            if kind == SYN_STREAM:
                sid, assoc = struct.unpack_from(">II", p, 0)
                return SynStream(sid & 0x7FFFFFFF, self._headers(p[10:]), flags, assoc & 0x7FFFFFFF, p[8] >> 5)
            if kind == SYN_REPLY:
                (sid,) = struct.unpack_from(">I", p, 0)
                return SynReply(sid & 0x7FFFFFFF, self._headers(p[4:]), flags)
            if kind == HEADERS:
                (sid,) = struct.unpack_from(">I", p, 0)
                return HeadersFrame(sid & 0x7FFFFFFF, self._headers(p[4:]), flags)
            if kind == RST_STREAM:
                sid, status = struct.unpack_from(">II", p, 0)
                return RstStream(sid & 0x7FFFFFFF, status)
            if kind == SETTINGS:
                (n,) = struct.unpack_from(">I", p, 0)
                entries = []
                for i in range(n):
                    fid, value = struct.unpack_from(">II", p, 4 + 8 * i)
                    entries.append((fid >> 24, fid & 0xFFFFFF, value))
                return Settings(entries, flags)
            if kind == PING:
                return Ping(struct.unpack_from(">I", p, 0)[0])
            if kind == GOAWAY:
                last, status = struct.unpack_from(">II", p, 0) if len(p) >= 8 else (struct.unpack_from(">I", p, 0)[0], 0)
                return GoAway(last & 0x7FFFFFFF, status)
            if kind == WINDOW_UPDATE:
                sid, delta = struct.unpack_from(">II", p, 0)
                return WindowUpdate(sid & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        except struct.error:
            raise ProtocolError(f"invalid control frame type {kind}") from None
        return None  # unknown control frame types are ignored, as the spec says


class FrameWriter:
    """Serializes frames; owns this direction's header compression stream."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zdict=DICTIONARY)

    def _compress(self, headers: Headers | dict[str, str]) -> bytes:
        block = encode_header_block(headers)
        return self._deflate.compress(block) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def _control(kind: int, flags: int, payload: bytes) -> bytes:
        if len(payload) > MAX_FRAME:
            raise ValueError("control frame too large")
        return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload

    def syn_stream(self, stream_id: int, headers: Headers | dict[str, str], flags: int = 0,
                   associated_id: int = 0, priority: int = 0) -> bytes:
        body = struct.pack(">IIBB", stream_id, associated_id, (priority & 7) << 5, 0) + self._compress(headers)
        return self._control(SYN_STREAM, flags, body)

    def syn_reply(self, stream_id: int, headers: Headers | dict[str, str] | None = None, flags: int = 0) -> bytes:
        return self._control(SYN_REPLY, flags, struct.pack(">I", stream_id) + self._compress(headers or {}))

    def headers(self, stream_id: int, headers: Headers | dict[str, str], flags: int = 0) -> bytes:
        return self._control(HEADERS, flags, struct.pack(">I", stream_id) + self._compress(headers))

    @classmethod
    def rst_stream(cls, stream_id: int, status: int) -> bytes:
        return cls._control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    @classmethod
    def settings(cls, entries: list[tuple[int, int, int]], flags: int = 0) -> bytes:
        body = struct.pack(">I", len(entries)) + b"".join(struct.pack(">II", (f << 24) | i, v) for f, i, v in entries)
        return cls._control(SETTINGS, flags, body)

    @classmethod
    def ping(cls, ping_id: int) -> bytes:
        return cls._control(PING, 0, struct.pack(">I", ping_id))

    @classmethod
    def goaway(cls, last_good_stream_id: int, status: int = 0) -> bytes:
        return cls._control(GOAWAY, 0, struct.pack(">II", last_good_stream_id, status))

    @classmethod
    def window_update(cls, stream_id: int, delta: int) -> bytes:
        return cls._control(WINDOW_UPDATE, 0, struct.pack(">II", stream_id, delta))

    @staticmethod
    def data(stream_id: int, data: bytes, flags: int = 0) -> bytes:
        if len(data) > MAX_FRAME:
            raise ValueError("data frame too large")
        return struct.pack(">II", stream_id & 0x7FFFFFFF, (flags << 24) | len(data)) + data


# ---- a server-side connection: streams opened by the peer ------------------------------------

Send = Callable[[bytes], Awaitable[None]]


class Stream:
    """One peer-initiated stream: read() until b"" (peer FIN), write(), close() (our FIN)."""

    def __init__(self, conn: "Connection", stream_id: int, headers: Headers) -> None:
        self.conn = conn
        self.id = stream_id
        self.headers = headers
        self._incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._buffered = 0  # bytes received but not read yet
        self._drained = asyncio.Event()
        self._drained.set()
        self.remote_closed = False  # peer sent FIN
        self.local_closed = False  # we sent FIN
        self.reset = False

    def header(self, name: str) -> str:
        return header(self.headers, name)

    async def read(self) -> bytes:
        """Next chunk from the peer; b"" once the peer half-closed or reset the stream."""
        if self.reset and self._incoming.empty():
            return b""
        chunk = await self._incoming.get()
        if chunk is None:
            self._incoming.put_nowait(None)  # stay at EOF for later readers
            return b""
        self._buffered -= len(chunk)
        if self._buffered <= MAX_BUFFERED:
            self._drained.set()
        return chunk

    async def write(self, data: bytes) -> None:
        if self.local_closed or self.reset:
            raise ConnectionResetError(f"write on closed stream {self.id}")
        view = memoryview(data)
        for i in range(0, len(view), DATA_CHUNK):
            await self.conn.send(FrameWriter.data(self.id, bytes(view[i:i + DATA_CHUNK])))

    async def close(self) -> None:
        """Half-close: an empty DATA frame with FIN, as spdystream's Stream.Close does."""
        if self.local_closed or self.reset:
            return
        self.local_closed = True
        try:
            await self.conn.send(FrameWriter.data(self.id, b"", FLAG_FIN))
        except ConnectionError:
            pass
        self.conn._maybe_forget(self)

    async def abort(self, status: int = CANCEL) -> None:
        if self.reset:
            return
        self.reset = True
        self._eof()
        try:
            await self.conn.send(FrameWriter.rst_stream(self.id, status))
        except ConnectionError:
            pass
        self.conn.streams.pop(self.id, None)

    def _feed(self, data: bytes) -> None:
        if data:
            self._incoming.put_nowait(data)
            self._buffered += len(data)
            if self._buffered > MAX_BUFFERED:
                self._drained.clear()

    async def _backpressure(self) -> None:
        """Stop reading the connection while this stream's reader is behind (there is no SPDY
        flow control with spdystream, so this is what keeps memory bounded)."""
        if not self._drained.is_set() and not self.reset:
            await self._drained.wait()

    def _eof(self) -> None:
        self._drained.set()
        if not self.remote_closed:
            self.remote_closed = True
            self._incoming.put_nowait(None)


class Connection:
    """The server end of a SPDY connection over any byte transport.

    `feed()` takes received bytes; new peer streams are answered with SYN_REPLY and handed to
    `on_stream` (if it returns an error string the stream is refused with RST_STREAM, like
    spdystream when the new-stream handler fails); PINGs are echoed; GOAWAY ends the session."""

    def __init__(self, send: Send, on_stream: Callable[[Stream], str | None]) -> None:
        self._send_raw = send
        self._lock = asyncio.Lock()
        self._reader = FrameReader()
        self._writer = FrameWriter()
        self.on_stream = on_stream
        self.streams: dict[int, Stream] = {}
        self.closed = asyncio.Event()
        self.goaway_received = False

    async def send(self, frame: bytes) -> None:
        if self.closed.is_set():
            raise ConnectionResetError("connection closed")
        async with self._lock:
            await self._send_raw(frame)

    async def feed(self, data: bytes) -> None:
        for frame in self._reader.feed(data):
            await self._handle(frame)

    async def _handle(self, frame: Frame) -> None:
        if isinstance(frame, DataFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is None:
                if not frame.fin or frame.data:
                    await self.send(FrameWriter.rst_stream(frame.stream_id, INVALID_STREAM))
                return
            stream._feed(frame.data)
            if frame.fin:
                stream._eof()
                self._maybe_forget(stream)
            else:
                await stream._backpressure()
        elif isinstance(frame, SynStream):
            if frame.stream_id in self.streams:
                await self.send(FrameWriter.rst_stream(frame.stream_id, PROTOCOL_ERROR))
                return
            stream = Stream(self, frame.stream_id, frame.headers)
            problem = self.on_stream(stream)
            if problem:
                await self.send(FrameWriter.rst_stream(frame.stream_id, REFUSED_STREAM))
                return
            self.streams[frame.stream_id] = stream
            async with self._lock:
                await self._send_raw(self._writer.syn_reply(frame.stream_id, {}))
            if frame.fin:
                stream._eof()
        elif isinstance(frame, RstStream):
            stream = self.streams.pop(frame.stream_id, None)
            if stream is not None:
                stream.reset = True
                stream._eof()
        elif isinstance(frame, Ping):
            await self.send(FrameWriter.ping(frame.id))
        elif isinstance(frame, GoAway):
            self.goaway_received = True
            self.close()
        elif isinstance(frame, HeadersFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                for k, v in frame.headers.items():
                    stream.headers.setdefault(k, []).extend(v)
                if frame.flags & FLAG_FIN:
                    stream._eof()
        # SETTINGS, WINDOW_UPDATE and SYN_REPLY (we open no streams) need no answer

    def _maybe_forget(self, stream: Stream) -> None:
        if stream.local_closed and stream.remote_closed:
            self.streams.pop(stream.id, None)

    def close(self) -> None:
        """The transport is gone: every stream reads EOF."""
        if self.closed.is_set():
            return
        self.closed.set()
        for s in list(self.streams.values()):
            s.reset = True
            s._eof()
        self.streams.clear()

    async def goaway(self) -> None:
        last = max(self.streams, default=0)
        try:
            await self.send(FrameWriter.goaway(last))
        except ConnectionError:
            pass
