"""Serving MCP over stdio so that one Ctrl-C stops the server, and a closed stdin does not
drop the answers still owed.

The SDK reads stdin in a worker thread; a read blocked there cannot be cancelled, so Ctrl-C on
a waiting server hung until more input came (and a third Ctrl-C ended in a traceback). Here,
where the platform allows it, stdin is read in the event loop: the loop waits until fd 0 is
readable and then reads what is there, and that wait is cancelled like any other.

When stdin closes, the SDK's serving loop ends and cancels the requests still running, so a
client that writes its requests and closes its end (`cs-mcp serve < requests.jsonl`, a pipe
from a script) lost the answers of the last ones. The end of stdin is passed on only once every
request read has been answered, or after DRAIN_SECONDS.
"""

from __future__ import annotations

import codecs
import os
import stat
import sys
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self, cast

import anyio
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from mcp.types import JSONRPCError, JSONRPCRequest, JSONRPCResponse

_CHUNK = 65536
# How long a closed stdin waits for the answers still owed before the server stops anyway.
DRAIN_SECONDS = 120.0


class CancellableStdin:
    """The lines of a file descriptor, read without a worker thread (UTF-8, bad bytes replaced)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        while True:
            await anyio.wait_readable(self.fd)
            chunk = os.read(self.fd, _CHUNK)
            pending += decoder.decode(chunk, final=not chunk)
            *lines, pending = pending.split("\n")
            for line in lines:
                yield line + "\n"
            if not chunk:
                if pending:
                    yield pending
                return


def can_wait_on(fd: int) -> bool:
    """Whether the event loop can wait for `fd` to be readable: a pipe, socket or terminal on a
    POSIX system (not a regular file, which epoll refuses, and not Windows)."""
    if sys.platform == "win32":
        return False
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


class Owed:
    """The ids of the requests read and not yet answered."""

    def __init__(self) -> None:
        self.ids: set[str | int] = set()
        self.settled = anyio.Event()
        self.settled.set()

    def asked(self, item: SessionMessage | Exception) -> None:
        if isinstance(item, SessionMessage) and isinstance(item.message, JSONRPCRequest):
            self.ids.add(item.message.id)
            if self.settled.is_set():
                self.settled = anyio.Event()

    def answered(self, item: SessionMessage) -> None:
        message = item.message
        if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
            self.ids.discard(message.id)
            if not self.ids:
                self.settled.set()


class _Wrapping:
    """What a stream that wraps another does when it is closed or used as a context manager."""

    def __init__(self, wrapped: ReadStream[Any] | WriteStream[Any]) -> None:
        self._wrapped = wrapped

    async def aclose(self) -> None:
        await self._wrapped.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool | None:
        await self.aclose()
        return None


class DrainingReadStream(_Wrapping):
    """The server's input: the messages of `inner`, whose end is passed on only once `owed`
    is settled (or after `drain_seconds`)."""

    def __init__(self, inner: ReadStream[SessionMessage | Exception], owed: Owed, drain_seconds: float) -> None:
        super().__init__(inner)
        self.inner = inner
        self.owed = owed
        self.drain_seconds = drain_seconds

    @property
    def last_context(self) -> Any:
        # The SDK reads the sender's context off the stream it serves, when there is one.
        return getattr(self.inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        try:
            item = await self.inner.receive()
        except anyio.EndOfStream:
            with anyio.move_on_after(self.drain_seconds):
                await self.owed.settled.wait()
            raise
        self.owed.asked(item)
        return item

    def __aiter__(self) -> DrainingReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class AnsweringWriteStream(_Wrapping):
    """The server's output: sends to `inner` and marks what it answers in `owed`."""

    def __init__(self, inner: WriteStream[SessionMessage], owed: Owed) -> None:
        super().__init__(inner)
        self.inner = inner
        self.owed = owed

    async def send(self, item: SessionMessage, /) -> None:
        await self.inner.send(item)
        self.owed.answered(item)


async def run_stdio(server: MCPServer[Any], drain_seconds: float = DRAIN_SECONDS) -> None:
    """Serves `server` on stdin/stdout until stdin closes (and every request read is answered)
    or the task is cancelled."""
    # MCPServer.run_stdio_async takes no streams; the low-level server is the only way to hand
    # it an input that a Ctrl-C can interrupt and that waits for the answers owed.
    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    # The SDK types stdin as anyio.AsyncFile[str] but only iterates it line by line. A regular
    # file (stdin redirected from one) cannot be waited on: the SDK's own reader takes it.
    stdin = cast(anyio.AsyncFile[str], CancellableStdin(0)) if can_wait_on(0) else None
    owed = Owed()
    async with stdio_server(stdin=stdin) as (read_stream, write_stream):
        await lowlevel.run(
            DrainingReadStream(read_stream, owed, drain_seconds),
            AnsweringWriteStream(write_stream, owed),
            lowlevel.create_initialization_options(),
        )
