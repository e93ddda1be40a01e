"""What every part of the sandbox shares: configuration, the SQLite database, the clock.

The CMA/CDA part (`app.py`, `cma.py`, `cdn.py`, ...) and the Analytics/Automate part
(`analytics.py`, `automate.py`, `limits.py`) both receive one `SandboxState`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse

from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS, SandboxCredentials


class SandboxClock:
    """The sandbox's notion of now.

    Real time by default. Tests move it forward with `advance()` so that scheduled
    publishing fires without anyone sleeping.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = 0.0
        self._frozen: datetime | None = start

    def now(self) -> datetime:
        """The current sandbox time, timezone-aware UTC."""
        base = self._frozen if self._frozen is not None else datetime.now(UTC)
        return datetime.fromtimestamp(base.timestamp() + self._offset, UTC)

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self._offset += seconds

    def monotonic(self) -> float:
        """A monotonic reading that moves with `advance()`, for rate limit windows."""
        return time.monotonic() + self._offset


@dataclass
class FaultConfig:
    """Faults injected into answers, for reliability tests. Changed at run time through
    `POST /_sandbox/faults` (see `limits.py`)."""

    latency_ms: int = 0
    error_rate: float = 0.0  # share of requests answered with a 5xx
    error_status: int = 503
    storm_429: int = 0  # the next N requests answer 429
    drop_connections: int = 0  # the next N requests drop the connection without an answer
    malformed_bodies: int = 0  # the next N answers carry a truncated JSON body


@dataclass
class SandboxConfig:
    """How a sandbox is built."""

    db_path: str = ":memory:"  # a file path keeps state across restarts
    reset: bool = False
    seed: int = 7
    rate_limits: bool = True
    # Polls an analytics job answers "Job active" before it has data.
    analytics_active_polls: int = 1
    credentials: SandboxCredentials = field(default_factory=lambda: DEMO_CREDENTIALS)
    faults: FaultConfig = field(default_factory=FaultConfig)


class Database:
    """One SQLite connection shared by the sandbox's request handlers.

    Starlette runs sync work in threads and async handlers on the loop; one lock serialises
    access so that every write is a whole transaction.
    """

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Generator[sqlite3.Connection]:
        """A write transaction: committed whole on success, rolled back on any exception."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Generator[sqlite3.Connection]:
        """A consistent read of the database."""
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()


@dataclass
class SandboxState:
    """Everything a sandbox request handler needs."""

    config: SandboxConfig
    db: Database
    clock: SandboxClock
    # Counts answered requests per (api, method), for tests that prove no write was sent twice.
    request_log: list[tuple[str, str, str]] = field(default_factory=lambda: [])
    on_tick: list[Callable[[], None]] = field(default_factory=lambda: [])
    # Per limit key: 429s sent, and the most requests one window accepted (see limits.py).
    rate_limited: dict[str, int] = field(default_factory=lambda: {})
    peak_per_second: dict[str, int] = field(default_factory=lambda: {})

    @property
    def credentials(self) -> SandboxCredentials:
        return self.config.credentials


def error_response(
    status: int,
    error_code: int,
    error_message: str,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error in Contentstack's documented body shape."""
    body: dict[str, Any] = {"error_message": error_message, "error_code": error_code}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def create_tables(conn: sqlite3.Connection, schema: str, *, wipe: Sequence[str] = ()) -> None:
    """Runs the `CREATE ... IF NOT EXISTS` statements of `schema`, then empties the tables of
    `wipe` in that order (children first where foreign keys are enforced), e.g. on `config.reset`."""
    for statement in schema.split(";"):
        if statement.strip():
            conn.execute(statement)
    for table in wipe:
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names from the modules, no input
