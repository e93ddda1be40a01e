"""A real `redis-server` on a free loopback port, started per test, for the shared-state tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench._common import free_port
from bench._team import RedisServer, redis_available

__all__ = ["RedisServer", "redis_server"]


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
