"""One budget for a request's line and headers together, as net/http has.

kube-apiserver keeps net/http's DefaultMaxHeaderBytes (1 MiB); the server reads a request head
through a reader limited to that plus 4096 bytes (initialReadLimitSize) and, past it, writes
`431 Request Header Fields Too Large` as plain text and closes the connection. aiohttp bounds
each line and field (app.py sets both to the same budget, so one big bearer token still fits)
and their number, but not their sum: 128 fields of 1 MiB each would be buffered. This handler
counts the bytes that arrive while a request head is being read and answers as net/http once
they pass the budget.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

# net/http reads at most DefaultMaxHeaderBytes (1 MiB, kept by kube-apiserver) plus 4096 bytes of
# slack (initialReadLimitSize) for the request line and headers
MAX_HEADER_BYTES = (1 << 20) + 4096
# net/http's rstAvoidanceDelay: after the answer the connection stays open this long, its input
# discarded, so a client still sending its head reads the 431 instead of a reset
CLOSE_DELAY = 0.5
TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
             b"Connection: close\r\n\r\n431 Request Header Fields Too Large")


class HeadBudgetHandler(RequestHandler):
    """A RequestHandler that refuses a request head past MAX_HEADER_BYTES with net/http's 431.

    Bytes count towards the head from the end of the previous request's body (a read that holds
    both a body's end and the next head is not counted: at most one read, 64 KiB, of slack)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._body: Any = None  # the payload of the last request parsed on this connection
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        reading_head = not self._upgraded and self._payload_parser is None  # not websocket/SPDY streams
        if reading_head and (self._body is None or self._body.is_eof()):
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEADER_BYTES and self.transport is not None:
                peer = self.transport.get_extra_info("peername")
                self.logger.warning("request head from %s past %d bytes: 431 Request Header Fields Too Large",
                                    peer[0] if peer else "?", MAX_HEADER_BYTES)
                self.transport.write(TOO_LARGE)
                self._refused = True
                self._loop.call_later(CLOSE_DELAY, self.force_close)  # the transport closes once written
                return
        parsed = self._request_count
        super().data_received(data)
        if self._request_count != parsed and self._messages:
            self._head_bytes = 0
            self._body = self._messages[-1][1]


class HeadBudgetServer(web.Server):
    def __call__(self) -> RequestHandler:
        return HeadBudgetHandler(self, loop=self._loop, **self._kwargs)


class HeadBudgetRunner(web.AppRunner):
    """An AppRunner whose connections are HeadBudgetHandlers (aiohttp builds its Server inside
    Application._make_handler, which offers no hook for the handler class)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = HeadBudgetServer
        return server
