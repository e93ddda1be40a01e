"""A real `redis-server` on a free loopback port, started per test, for the shared-state tests,
and a proxy in front of it that can lose a reply after Redis ran the command."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench._common import free_port
from bench._team import RedisServer, redis_available

__all__ = ["RedisServer", "ReplyLosingProxy", "persistent_redis_server", "redis_server"]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if not redis_available():
        pytest.skip("redis-server is not installed (.ci/redis.sh installs it)")
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def persistent_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server whose append-only file is fsynced before each reply: what it answered survives
    a kill and is back when it starts again."""
    if not redis_available():
        pytest.skip("redis-server is not installed (.ci/redis.sh installs it)")
    data = tmp_path / "redis-data"
    data.mkdir()
    server = RedisServer(free_port(), data_dir=data)
    server.start()
    try:
        yield server
    finally:
        server.close()


class ReplyLosingProxy:
    """A TCP proxy to a Redis server on loopback that can lose a reply as a connection reset
    does once the command reached Redis: after `lose_next_reply`, it passes the next command on,
    takes Redis's reply (so the command ran), runs `then` (if given) and closes the client's
    connection instead of passing the reply back. While Redis is down, it accepts a connection
    and closes it. `lost` counts the replies it lost."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.lost = 0
        self._lock = threading.Lock()
        self._then: Callable[[], None] | None = None
        self._armed = False
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def lose_next_reply(self, then: Callable[[], None] | None = None) -> None:
        """The next reply from Redis is lost; `then` runs before the client's connection closes."""
        with self._lock:
            self._armed, self._then = True, then

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self._upstream_port))
            except OSError:
                client.close()  # Redis is down
                continue
            with self._lock:
                self._sockets += [client, upstream]
                pumps = [
                    threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True),
                    threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True),
                ]
                self._threads += pumps
            for pump in pumps:
                pump.start()

    def _pump(self, source: socket.socket, target: socket.socket, replies: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if data and replies:
                with self._lock:
                    lose, then = self._armed, self._then
                    self._armed, self._then = False, None
                if lose:
                    self.lost += 1
                    if then is not None:
                        then()
                    data = b""
            if not data:
                # One side closed, or the reply is lost: the client sees its connection drop.
                for sock in (source, target):
                    with contextlib.suppress(OSError):  # already shut
                        sock.shutdown(socket.SHUT_RDWR)
                return
            try:
                target.sendall(data)
            except OSError:
                return

    def __enter__(self) -> ReplyLosingProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        # Shut down first: on Linux, closing alone does not wake the blocked accept.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):  # already shut
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=10)
        for sock in self._sockets:
            sock.close()
