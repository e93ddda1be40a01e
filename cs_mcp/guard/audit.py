"""The audit log: one JSON line per write attempt, on disk before the tool answers.

Every attempt (allowed, denied, dry run, confirmation asked, confirmed) is one line. A line is
written with a single `write` on a file opened for appending and is fsync'd at once, so a
process killed mid-run leaves only whole lines; a reader skips a torn last line. Arguments are
recorded with secrets removed: keys that name a secret, and any value equal to a configured
secret, become `"[redacted]"`. The file is created owner-only (0600) in a 0700 directory.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field, ValidationError

REDACTED = "[redacted]"

# Argument keys whose values are never recorded, whatever they hold.
SECRET_KEY = re.compile(r"token|secret|password|authori[sz]ation|api[_-]?key", re.IGNORECASE)

Decision = Literal["allow", "deny", "confirm", "dry_run", "confirmed"]


class AuditRecord(BaseModel):
    """One write attempt as the audit log records it."""

    model_config = ConfigDict(extra="allow")

    time: str = Field(description="UTC, ISO 8601")
    principal: str
    role: str
    transport: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=lambda: {})
    targets: dict[str, list[str]] = Field(default_factory=lambda: {})
    decision: Decision
    rule: str | None = None
    reason: str | None = None
    dry_run: bool = False
    confirmation: Literal["elicitation", "token"] | None = None
    outcome: Literal["ok", "error", "refused", "noop", "unknown"] | None = None
    status: int | None = None
    error_code: int | None = None
    request_id: str | None = None
    duration_ms: float | None = None


def redact(value: Any, secret_values: frozenset[str] = frozenset()) -> Any:
    """`value` with every secret removed: values under secret-naming keys and any string equal
    to (or containing) one of `secret_values`."""
    if isinstance(value, Mapping):
        mapping = cast(Mapping[Any, Any], value)
        return {
            str(k): (REDACTED if SECRET_KEY.search(str(k)) else redact(v, secret_values)) for k, v in mapping.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, secret_values) for v in cast(list[Any] | tuple[Any, ...], value)]
    if isinstance(value, str) and any(s and s in value for s in secret_values):
        return REDACTED
    return value


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AuditLog:
    """Appends audit records to `path`, each flushed and fsync'd before `append` returns."""

    def __init__(self, path: Path, secret_values: Iterable[str] = ()) -> None:
        self.path = path
        # Very short values would redact innocent text; real secrets are long.
        self._secrets = frozenset(s for s in secret_values if len(s) >= 4)

    def redact(self, value: Any) -> Any:
        """`value` with this log's secrets removed."""
        return redact(value, self._secrets)

    def _line(self, record: AuditRecord) -> bytes:
        # Every field, not only the arguments: targets, rules and request ids come from
        # arguments and from Contentstack's answers too.
        data = self.redact(record.model_dump(mode="json"))
        return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    def append_sync(self, record: AuditRecord) -> None:
        """Writes one record and fsyncs it.

        Raises:
            OSError: the log cannot be written (the write must then not proceed).
        """
        line = self._line(record)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)

    def check_writable_sync(self) -> None:
        """Creates the log (0600) if it is missing and checks that it can be appended to.

        Raises:
            OSError: it cannot.
        """
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))

    async def check_writable(self) -> None:
        """`check_writable_sync` off the event loop: called before a write is sent, so that a
        write is never sent when its audit line could not be written.

        Raises:
            OSError: the log cannot be appended to.
        """
        await anyio.to_thread.run_sync(self.check_writable_sync)

    async def append(self, record: AuditRecord) -> None:
        """Writes one record off the event loop; returns once it is on disk.

        Raises:
            OSError: the log cannot be written.
        """
        await anyio.to_thread.run_sync(self.append_sync, record)


def read_audit(path: Path, tail: int | None = None, principal: str | None = None) -> list[AuditRecord]:
    """The records of the audit log at `path`, oldest first, optionally only `principal`'s
    and only the last `tail` of them. A torn or unreadable line is skipped.

    Raises:
        OSError: the file cannot be read (FileNotFoundError when there is none yet).
    """
    records: list[AuditRecord] = []
    with path.open("rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                continue  # a line torn by a crash mid-write
            try:
                record = AuditRecord.model_validate_json(raw)
            except ValidationError:
                continue
            if principal is None or record.principal == principal:
                records.append(record)
    if tail is not None:
        records = records[-tail:] if tail > 0 else []
    return records
