"""The transport-neutral request and response of the REST API.

The API server's handlers take a `Request` and answer a `Response` whichever way the request
came: over HTTP (the aiohttp adapter in `apiserver/handlers.py` wraps the connection's request)
or in process (`apiserver/local.py` hands over the `Request` a `client.rest.Client` built). The
client's transports (`client/transport.py`) speak the same two types, so a Status error, a body
and a watch stream mean the same on every path. Plain values, no I/O beyond reading a body.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable, Mapping, Protocol

import orjson
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

from . import errors

JSON = "application/json"


class BodyReader(Protocol):
    """What the handlers read a body from: aiohttp's StreamReader, or `Body`."""

    async def read(self, n: int = -1) -> bytes: ...


class Body:
    """A body already in memory, read like a stream (the handlers read until they get b""), so
    the size limit and the reading code are the same for every transport."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    async def read(self, n: int = -1) -> bytes:
        start = self.pos
        end = len(self.data) if n < 0 else min(len(self.data), start + n)
        self.pos = end
        return self.data if (start, end) == (0, len(self.data)) else self.data[start:end]


Query = MultiDict[str] | MultiDictProxy[str]
Headers = CIMultiDict[str] | CIMultiDictProxy[str]


class Request:
    """One API request: what a client sends and what the handlers read.

    `body` is the payload a client sends (None: no body); the handlers read `content` (a stream
    over `body`, or the HTTP connection's payload). `user` is the authenticated identity, set by
    the server side (HTTP authentication, or the in-process transport's own user); `decoded` is
    the decoded body, kept for the audit log."""

    __slots__ = ("method", "path", "query", "headers", "body", "content", "content_length", "user", "decoded")

    def __init__(self, method: str, path: str, query: Query | Mapping[str, str] | None = None,
                 headers: Headers | Mapping[str, str] | None = None, body: bytes | None = None, *,
                 content: BodyReader | None = None, content_length: int | None = None) -> None:
        self.method = method
        self.path = path
        self.query: Query = query if isinstance(query, (MultiDict, MultiDictProxy)) else MultiDict(query or {})
        self.headers: Headers = headers if isinstance(headers, (CIMultiDict, CIMultiDictProxy)) \
            else CIMultiDict(headers or {})
        self.body = body
        if content is None:
            content, content_length = Body(body or b""), (len(body) if body is not None else None)
        self.content: BodyReader = content
        self.content_length = content_length
        self.user: Any = None
        self.decoded: Any = None


class Response:
    """One answer: a whole `body`, or a `stream` of frame lists (a watch: one list per batch of
    events, each frame one JSON line) that the receiver must finish with `aclose()`.
    `close_connection`: the request's body was not read to its end, so an HTTP connection
    cannot carry another request."""

    __slots__ = ("status", "body", "content_type", "headers", "stream", "close_connection", "_on_close")

    def __init__(self, status: int = 200, body: bytes = b"", content_type: str | None = JSON,
                 headers: list[tuple[str, str]] | None = None, *,
                 stream: AsyncIterator[list[bytes]] | None = None, on_close: Callable[[], None] | None = None,
                 close_connection: bool = False) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers if headers is not None else []
        self.stream = stream
        self.close_connection = close_connection
        self._on_close = on_close

    def add_header(self, name: str, value: str) -> None:
        self.headers.append((name, value))

    def error(self) -> errors.StatusError:
        """The `StatusError` an error response stands for: its Status body as the server sent it."""
        return status_error(self.status, self.body)

    async def aclose(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()  # type: ignore[attr-defined]
        if self._on_close is not None:
            self._on_close()


def status_error(status: int, body: bytes) -> errors.StatusError:
    """The error a client raises for an HTTP error answer: the Status it carries, or (a proxy's
    page, a truncated body) an InternalError quoting the start of the body."""
    try:
        st = orjson.loads(body)
        if isinstance(st, dict) and st.get("kind") == "Status":
            return errors.StatusError(st.get("code", status), st.get("reason", ""), st.get("message", ""),
                                      st.get("details"))
    except orjson.JSONDecodeError:
        pass
    return errors.StatusError(status, "InternalError", body[:200].decode(errors="replace"))
