"""Port forwarding over a SPDY connection (the kubelet's portforward/httpstream.go).

kubectl opens, per accepted local TCP connection, an error stream and a data stream carrying
the same `requestid` and `port` headers. Once both arrived, the server connects to the port
inside the pod and copies bytes both ways; when one direction ends it half-closes the other
and gives it a second to finish (containerd's behaviour), then closes both streams (FIN). A
failure is written as text on the error stream, which kubectl prints as
`an error occurred forwarding 18080 -> 8080: <text>`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from . import spdy

log = logging.getLogger("kubeling.streaming")

STREAM_TYPE = "streamtype"
PORT = "port"
REQUEST_ID = "requestid"
DATA = "data"
ERROR = "error"

Dial = Callable[[int], Awaitable[tuple[Any, Any]]]  # port -> (StreamReader, StreamWriter)


def check_stream(stream: spdy.Stream) -> str | None:
    """httpStreamReceived: the headers a port-forward stream must carry (None when fine)."""
    port = stream.header(PORT)
    if not port:
        return f'"{PORT}" header is required'
    try:
        n = int(port)
    except ValueError:
        return f'unable to parse "{port}" as a port'
    if not 0 < n < 65536:
        return f'port "{port}" must be > 0'
    kind = stream.header(STREAM_TYPE)
    if not kind:
        return f'"{STREAM_TYPE}" header is required'
    if kind not in (DATA, ERROR):
        return f'invalid stream type "{kind}"'
    return None


def request_id(stream: spdy.Stream) -> str:
    """The pair key; old clients without `requestid` get upstream's stream-id heuristic."""
    rid = stream.header(REQUEST_ID)
    if rid:
        return rid
    return str(stream.id if stream.header(STREAM_TYPE) == ERROR else stream.id - 2)


class PortForwardSession:
    """Pairs streams of one SPDY connection and forwards each pair with `dial(port)`.

    `describe` names the pod in error messages (upstream: `error forwarding port 8080 to pod
    <name>, uid <uid>: <err>`)."""

    def __init__(self, dial: Dial, pod: str, uid: str, stream_timeout: float = 30.0) -> None:
        self.dial = dial
        self.pod = pod
        self.uid = uid
        self.stream_timeout = stream_timeout
        self.pairs: dict[str, dict[str, spdy.Stream]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def on_stream(self, stream: spdy.Stream) -> str | None:
        """spdy.Connection's new-stream callback."""
        problem = check_stream(stream)
        if problem:
            log.info("port-forward stream %d refused: %s", stream.id, problem)
            return problem
        rid = request_id(stream)
        pair = self.pairs.setdefault(rid, {})
        kind = stream.header(STREAM_TYPE)
        if kind in pair:
            self._spawn(self._reject(stream, f"error processing stream for request {rid}: {kind} stream already assigned"))
            return None
        pair[kind] = stream
        if len(pair) == 1:
            self._spawn(self._expire(rid))
        if DATA in pair and ERROR in pair:
            del self.pairs[rid]
            self._spawn(self.forward(pair[DATA], pair[ERROR]))
        return None

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _reject(self, stream: spdy.Stream, message: str) -> None:
        await stream.close()

    async def _expire(self, rid: str) -> None:
        await asyncio.sleep(self.stream_timeout)
        pair = self.pairs.pop(rid, None)
        if pair and ERROR in pair:
            err = pair[ERROR]
            try:
                await err.write(f"(request={rid}) timed out waiting for streams".encode())
            except ConnectionError:
                pass
            await err.close()
        for s in (pair or {}).values():
            await s.close()

    async def forward(self, data: spdy.Stream, error: spdy.Stream) -> None:
        port = int(data.header(PORT))
        try:
            try:
                reader, writer = await self.dial(port)
            except Exception as e:  # noqa: BLE001 - any dial failure is reported to the client
                msg = f"error forwarding port {port} to pod {self.pod}, uid {self.uid}: {e}"
                log.info("%s", msg)
                try:
                    await error.write(msg.encode())
                except ConnectionError:
                    pass
                return
            await pump(data, reader, writer)
        finally:
            await data.close()
            await error.close()

    async def close(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def pump(stream: spdy.Stream, reader: Any, writer: Any, grace: float = 1.0) -> None:
    """Copy stream <-> socket until one side ends, then give the other `grace` seconds."""

    async def to_pod() -> None:
        while True:
            chunk = await stream.read()
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    async def from_pod() -> None:
        while True:
            chunk = await reader.read(64 * 1024)
            if not chunk:
                break
            await stream.write(chunk)
        await stream.close()  # FIN right away: kubectl waits for it before closing its side

    tasks = [asyncio.ensure_future(to_pod()), asyncio.ensure_future(from_pod())]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=grace)
        for t in pending:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for t in tasks:
            t.cancel()
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
