"""Serving MCP over stdio so that one Ctrl-C stops the server.

The SDK reads stdin in a worker thread; a read blocked there cannot be cancelled, so Ctrl-C on
a waiting server hung until more input came (and a third Ctrl-C ended in a traceback). Here,
where the platform allows it, stdin is read in the event loop: the loop waits until fd 0 is
readable and then reads what is there, and that wait is cancelled like any other.
"""

from __future__ import annotations

import codecs
import os
import stat
import sys
from collections.abc import AsyncIterator
from typing import Any, cast

import anyio
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server

_CHUNK = 65536


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


async def run_stdio(server: MCPServer[Any]) -> None:
    """Serves `server` on stdin/stdout until stdin closes or the task is cancelled."""
    if not can_wait_on(0):
        await server.run_stdio_async()
        return
    # MCPServer.run_stdio_async takes no input stream; the low-level server is the only way to
    # hand it one that a Ctrl-C can interrupt.
    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    # The SDK types stdin as anyio.AsyncFile[str] but only iterates it line by line.
    stdin = cast(anyio.AsyncFile[str], CancellableStdin(0))
    async with stdio_server(stdin=stdin) as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
