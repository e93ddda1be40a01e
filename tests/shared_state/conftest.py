"""A real `redis-server` on a free loopback port, started per test, for the shared-state tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import redis

from cs_mcp.shared_state import connect_sync

START_TIMEOUT_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    """One redis-server process that a test can stop (an outage) and start again."""

    port: int
    process: subprocess.Popen[bytes] | None = None
    clients: list[redis.Redis] = field(default_factory=lambda: [])
    _drain: threading.Thread = field(default_factory=threading.Thread)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Starts the server and returns once it has said it accepts connections and answers PING.

        Raises:
            RuntimeError: it did not within START_TIMEOUT_SECONDS.
        """
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.process = process
        # The readiness line is the event to wait on; a timer kills a server that never says it.
        timer = threading.Timer(START_TIMEOUT_SECONDS, process.kill)
        timer.start()
        try:
            assert process.stdout is not None
            for raw in process.stdout:
                if b"Ready to accept connections" in raw:
                    break
            else:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
        finally:
            timer.cancel()
        # Drains the rest of its output so a chatty server never blocks on a full pipe.
        self._drain = threading.Thread(target=process.stdout.read, daemon=True)
        self._drain.start()
        if not self.client().ping():  # pyright: ignore[reportUnknownMemberType] - redis-py leaves ping loosely typed
            raise RuntimeError("redis-server does not answer PING")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=START_TIMEOUT_SECONDS)
            self._drain.join(timeout=START_TIMEOUT_SECONDS)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def client(self) -> redis.Redis:
        client = connect_sync(self.url)
        self.clients.append(client)
        return client


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (.ci/redis.sh installs it)")
    server = RedisServer(_free_port())
    server.start()
    try:
        yield server
    finally:
        for client in server.clients:
            client.close()
        server.stop()
