"""Interactive sessions of the OCI runtime: exec without a tty (pipes), exec with a tty (a pty we
allocate) and attach (a connection to the container's monitor, which multiplexes its stdio).
All three offer write_stdin / close_stdin / resize / output / wait to the kubelet API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import struct
from typing import Any, AsyncIterator

from .monitor import F_CLOSE_STDIN, F_EXIT, F_RESIZE, F_STDIN, FRAME


class ProcessSession:
    """exec without a tty: a `runc exec` child with pipes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def write_stdin(self, data: bytes) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()

    async def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    async def resize(self, width: int, height: int) -> None:
        return None

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        q: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()

        async def pump(stream: asyncio.StreamReader | None, n: int) -> None:
            while stream is not None:
                data = await stream.read(65536)
                if not data:
                    break
                await q.put((n, data))
            await q.put(None)

        tasks = [asyncio.create_task(pump(self.proc.stdout, 1)), asyncio.create_task(pump(self.proc.stderr, 2))]
        done = 0
        try:
            while done < 2:
                item = await q.get()
                if item is None:
                    done += 1
                else:
                    yield item
        finally:
            for t in tasks:
                t.cancel()

    async def wait(self) -> int:
        return await self.proc.wait()


class PtySession:
    """exec with a tty: `runc exec -t` runs on the slave side of a pty we allocate (runc then
    proxies it to the container's own pty); we talk to the master."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int) -> None:
        self.proc = proc
        self.master = master
        self._closed = False

    async def write_stdin(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._closed:
            try:
                n = os.write(self.master, view)
                view = view[n:]
            except BlockingIOError:
                await asyncio.sleep(0.01)

    async def close_stdin(self) -> None:
        await self.write_stdin(b"\x04")

    async def resize(self, width: int, height: int) -> None:
        import fcntl
        import termios

        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        if self.proc.returncode is None:
            try:
                self.proc.send_signal(signal.SIGWINCH)  # runc copies the size to the container's pty
            except ProcessLookupError:
                pass

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[bytes | None] = asyncio.Queue()

        def readable() -> None:
            try:
                data = os.read(self.master, 65536)
            except BlockingIOError:
                return
            except OSError:  # EIO: every slave fd closed
                data = b""
            if not data:
                loop.remove_reader(self.master)
            q.put_nowait(data or None)

        loop.add_reader(self.master, readable)
        try:
            while (item := await q.get()) is not None:
                yield 1, item
        finally:
            loop.remove_reader(self.master)

    async def wait(self) -> int:
        rc = await self.proc.wait()
        return rc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.master)


class AttachSession:
    """attach: a connection to the monitor, which multiplexes the container's stdio."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict[str, Any]) -> None:
        self.reader, self.writer = reader, writer
        self.exit_code: int | None = None
        self._done = asyncio.Event()
        self.state = state

    async def _send(self, kind: int, body: bytes) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(FRAME.pack(kind, len(body)) + body)
        try:
            await self.writer.drain()
        except ConnectionError:
            pass

    async def write_stdin(self, data: bytes) -> None:
        await self._send(F_STDIN, data)

    async def close_stdin(self) -> None:
        await self._send(F_CLOSE_STDIN, b"")

    async def resize(self, width: int, height: int) -> None:
        await self._send(F_RESIZE, json.dumps({"width": width, "height": height}).encode())

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        try:
            while True:
                head = await self.reader.readexactly(FRAME.size)
                kind, n = FRAME.unpack(head)
                body = await self.reader.readexactly(n) if n else b""
                if kind == F_EXIT:
                    self.exit_code = int(body or b"0")
                    break
                yield kind, body
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._done.set()

    async def wait(self) -> int:
        await self._done.wait()
        self.writer.close()
        return self.exit_code if self.exit_code is not None else 0


async def close_after(session: PtySession) -> None:
    await session.proc.wait()
    await asyncio.sleep(0.2)  # let the reader drain what is left in the pty
    session.close()
