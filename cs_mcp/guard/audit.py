"""The audit log: one JSON line per write attempt, on disk before the tool answers.

Every attempt (allowed, denied, dry run, confirmation asked, confirmed) is one line. A line is
written with a single `write` on a file opened for appending and is fsync'd at once, so a
process killed mid-run leaves only whole lines; a reader skips a torn last line.

Secrets are replaced where they stand and nothing else is hidden: a configured token inside a
value becomes `[redacted]` and the rest of the value stays on record (`abc[redacted]def`), so an
argument cannot hide itself by quoting a secret. Only the tool's own top-level arguments that
name a secret (a `confirmation_token`) are recorded as `[redacted]` whole; the same words deeper
in the arguments (an entry field called `password_hint`) are content and are kept. The stack API
key is an identifier, not a secret: Contentstack puts it in every asset URL and every delivery
request a browser makes. Every hidden character (control, bidi, separator) is written as a
`\\u` escape, so the file holds one record per line whatever the arguments held. The file is
created owner-only (0600) in a 0700 directory.

With a shared `AuditStream` (Redis, when replicas share a deployment), each line is also added
to the stream after it is on disk. The file stays the record of truth: the place of the line is
kept beside the log (`<log>.stream-pending`) until the stream answered, so when the stream cannot
be reached, or the process is killed before it answers, the next append that reaches the stream
first sends every line from there, and the merged trail loses nothing. A line goes with its
place (`PlacedLine`: the file it is in and its byte offset there; a file's first line starts
with a random `file_id` that names the file, see `AuditLog.source_of`), and the stream skips a
line at or before the last place it added from that file: a line whose add reached the stream
though its reply was lost is sent again by the catch-up, and not added twice, while the same
bytes written twice (two places) are two lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol, cast

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cs_mcp.safe_text import REDACTED, json_line, scrub_secrets

if sys.platform != "win32":
    import fcntl

# A tool's own arguments whose values are never recorded, whatever they hold.
SECRET_KEY = re.compile(r"token|secret|password|authori[sz]ation", re.IGNORECASE)

Decision = Literal["allow", "deny", "confirm", "dry_run", "confirmed"]


logger = logging.getLogger("cs_mcp.audit")


class PlacedLine(NamedTuple):
    """One whole line of an audit file and where it stands: `source` names the file (see
    `AuditLog.source_of`), `offset` is the line's first byte in it."""

    source: str
    offset: int
    line: bytes


class AuditStream(Protocol):
    """A trail shared by several processes' logs (`cs_mcp.shared_state.RedisAuditStream`)."""

    def add(self, lines: Iterable[PlacedLine]) -> None:
        """Appends the lines, in order, except each at or before the last place the stream added
        from its source: lines of one source come in offset order, so sending a line again adds
        nothing.

        Raises:
            OSError or the store's own error: the stream cannot be reached (lines before the
            failure may have been added).
        """
        ...


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


def redact(value: Any, secret_values: Iterable[str] = ()) -> Any:
    """`value` with each occurrence of one of `secret_values` replaced by `[redacted]` in every
    string inside it (keys too); the rest of each string is kept."""
    secrets = tuple(secret_values)
    if isinstance(value, Mapping):
        mapping = cast(Mapping[Any, Any], value)
        return {scrub_secrets(str(k), secrets): redact(v, secrets) for k, v in mapping.items()}
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in cast(list[Any] | tuple[Any, ...], value)]
    if isinstance(value, str):
        return scrub_secrets(value, secrets)
    return value


def redact_arguments(arguments: Mapping[str, Any], secret_values: Iterable[str] = ()) -> dict[str, Any]:
    """A tool's arguments as the audit log records them: its own arguments that name a secret
    as `[redacted]`, every other value with only the secrets inside it replaced."""
    secrets = tuple(secret_values)
    return {k: REDACTED if SECRET_KEY.search(k) else redact(v, secrets) for k, v in arguments.items()}


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_KEEP = 5
# A file's source names it by its first line, or this many bytes of a longer one (see source_of).
_HEAD_BYTES = 4096
# The field of a file's first line that makes it unlike any other file's (see source_of).
FILE_ID = "file_id"


def _source(fd: int) -> str:
    """The source of the open file `fd` (see `AuditLog.source_of`); reads from its start, which
    moves no write of a file opened for appending.

    Raises:
        OSError: the file cannot be read.
    """
    os.lseek(fd, 0, os.SEEK_SET)
    head = os.read(fd, _HEAD_BYTES)
    first = head[: head.find(b"\n") + 1] or head
    return f"{os.fstat(fd).st_ino}:{hashlib.sha256(first).hexdigest()[:16]}"


class AuditLog:
    """Appends audit records to `path`, each flushed and fsync'd before `append` returns.

    When a record would take the file past `max_bytes`, the file is first rotated: `path`
    becomes `path.1`, `path.1` becomes `path.2`, and so on; the oldest beyond `keep` rotated
    files is removed. A caller who floods the log with attempts therefore cannot fill the disk;
    `read_audit` reads the rotated files too. Appends and rotations are serialised, within the
    process and (where the platform has `flock`) between processes sharing the log.
    """

    def __init__(
        self,
        path: Path,
        secret_values: Iterable[str] = (),
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
        stream: AuditStream | None = None,
    ) -> None:
        if max_bytes < 1 or keep < 1:
            raise ValueError("the audit log needs max_bytes and keep of at least 1")
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        # Very short values would redact innocent text; real secrets are long.
        self._secrets = frozenset(s for s in secret_values if len(s) >= 4)
        self._lock = threading.Lock()
        self.stream = stream
        self._stream_warned = False
        self._pending = self.pending_path

    @property
    def pending_path(self) -> Path:
        """Where the first line the stream has not surely added is recorded (its file's inode,
        its byte offset and its file's source) until the stream answered."""
        return self.path.with_name(self.path.name + ".stream-pending")

    def source_of(self, file: Path) -> str:
        """The name a file of this log has in the stream: the file's inode and a digest of its
        first line (or of its first 4 KiB), which never changes once written. Rotation renames
        a file and keeps its source; a new file has another. The inode alone could name two
        files: one deleted once it was rotated past `keep`, and a later one given its inode,
        whose lines the stream would take for the first's and skip; two replicas' files on
        separate volumes can have one inode too. Nor is the first record enough: a burst of
        identical attempts within a millisecond writes the same bytes, so a file's first line
        starts with a random `file_id` (written by this log since it names sources so). Nothing
        of the process or host is in it: every process that appends to the file names it alike.

        Raises:
            OSError: the file cannot be read.
        """
        with file.open("rb") as f:
            return _source(f.fileno())

    def redact(self, value: Any) -> Any:
        """`value` with this log's secrets removed."""
        return redact(value, self._secrets)

    def _line(self, record: AuditRecord, file_id: str | None = None) -> bytes:
        """`record` as one line of the file; `file_id` (a file's first line) is its first field."""
        # Every field, not only the arguments: targets, rules and request ids come from
        # arguments and from Contentstack's answers too.
        data = record.model_dump(mode="json")
        data["arguments"] = redact_arguments(data["arguments"], self._secrets)
        if file_id is not None:
            # First, so that the head source_of reads holds it however long the line is.
            data = {FILE_ID: file_id} | {k: v for k, v in data.items() if k != FILE_ID}
        return (json_line(self.redact(data)) + "\n").encode()

    def append_sync(self, record: AuditRecord) -> None:
        """Writes one record and fsyncs it, then adds it to the stream (if any; a stream that
        cannot be reached is caught up later, see the module's docstring).

        Raises:
            OSError: the log cannot be written (the write must then not proceed).
        """
        line = self._line(record)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._lock:
            fd = self._open_locked()
            try:
                size = os.fstat(fd).st_size
                if size and size + len(line) > self.max_bytes:
                    self._rotate()
                    os.close(fd)
                    fd = self._open_locked()
                offset = os.fstat(fd).st_size
                data = line
                if offset == 0:  # a new file: its first line names it (see source_of)
                    line = data = self._line(record, file_id=os.urandom(8).hex())
                elif sys.platform != "win32" and os.pread(fd, 1, offset - 1) != b"\n":
                    # A line torn by a process killed mid-write, or by a full disk: ended
                    # first, or this line would be glued to it and unreadable.
                    data, offset = b"\n" + line, offset + 1
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
                if self.stream is not None:
                    self._to_stream(self.stream, line, fd, offset)
            finally:
                os.close(fd)

    def _to_stream(self, stream: AuditStream, line: bytes, fd: int, offset: int) -> None:
        """Adds `line` (at `offset` of the log's current file, open and locked by the caller as
        `fd`) to the stream, after any lines it missed; records where the stream stops until it
        answered. Never raises: the line is on disk."""
        inode = os.fstat(fd).st_ino
        pending = self._read_pending()
        recorded = False
        try:
            if pending is None:
                source = _source(fd)  # the open file, not the path opened once more
                # Before the add: a process killed before the stream answers leaves the line to
                # the next append's catch-up (which the stream skips if it was added).
                self._record_pending(f"{inode} {offset} {source}\n")
                recorded = True
                stream.add([PlacedLine(source, offset, line)])
            else:
                stream.add(self._missed_lines(*pending))
        except Exception as exc:  # the stream's client raises its own error types
            if pending is None and not recorded:
                # The file could not be read back (or the place not written): the inode finds it.
                with contextlib.suppress(OSError):
                    self._record_pending(f"{inode} {offset}\n")
            if not self._stream_warned:
                self._stream_warned = True
                logger.warning(
                    "the shared audit stream cannot be reached (%s): lines stay in %s and are sent when it answers",
                    type(exc).__name__,
                    self.path,
                )
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._pending)
        self._stream_warned = False

    def _record_pending(self, place: str) -> None:
        """Writes `place` to the stream-pending file (with os calls: this runs at each append).

        Raises:
            OSError: it cannot be written.
        """
        fd = os.open(self._pending, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, place.encode())
        finally:
            os.close(fd)

    def _read_pending(self) -> tuple[int, int, str | None] | None:
        """The inode, offset and source (None if unknown) of the first line the stream missed."""
        try:
            inode, offset, *source = self._pending.read_text().split()
            return int(inode), int(offset), source[0] if source else None
        except (FileNotFoundError, ValueError):
            return None

    def _missed_lines(self, inode: int, offset: int, source: str | None) -> Iterator[PlacedLine]:
        """Every whole line from `offset` of the file `source` (found by `inode` when the source
        is unknown; rotated since, perhaps) to the end of the current log, with its place.

        Raises:
            OSError: a file cannot be read.
        """
        files = [(file, self.source_of(file)) for file in log_files(self.path)]
        start = next(
            (
                i
                for i, (file, name) in enumerate(files)
                if name == source or (source is None and file.stat().st_ino == inode)
            ),
            None,
        )
        if start is None:  # rotated beyond `keep`: what is left starts at the oldest file
            start, offset = 0, 0
        for i, (file, name) in enumerate(files[start:]):
            with file.open("rb") as f:
                at = offset if i == 0 else 0
                f.seek(at)
                for raw in f:
                    if raw.endswith(b"\n"):
                        yield PlacedLine(name, at, raw)
                    at += len(raw)

    def _open_locked(self) -> int:
        """The log opened for appending, under an exclusive lock on the file it names now.

        Another process may rotate the file between our open and our lock: the descriptor then
        names `path.1`, so it is reopened until the locked file is the one at `path`.
        """
        while True:
            # Read too: append_sync reads the last byte to end a torn line.
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            if sys.platform == "win32":
                return fd  # no flock: the in-process lock is all there is
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                os.close(fd)
                continue
            opened = os.fstat(fd)
            if (opened.st_dev, opened.st_ino) == (current.st_dev, current.st_ino):
                return fd
            os.close(fd)

    def _rotate(self) -> None:
        for n in range(self.keep, 0, -1):
            older = rotated_path(self.path, n)
            if n == self.keep:
                older.unlink(missing_ok=True)
            elif older.exists():
                older.rename(rotated_path(self.path, n + 1))
        self.path.rename(rotated_path(self.path, 1))

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


def rotated_path(path: Path, n: int) -> Path:
    """The `n`th rotated file of the log at `path` (1 is the most recent)."""
    return path.with_name(f"{path.name}.{n}")


def log_files(path: Path) -> list[Path]:
    """The files of the log at `path` that exist, oldest first: the rotated ones, then `path`."""
    rotated: list[tuple[int, Path]] = []
    prefix = path.name + "."
    if path.parent.is_dir():
        for found in path.parent.iterdir():
            suffix = found.name.removeprefix(prefix)
            if found.name.startswith(prefix) and suffix.isdigit():
                rotated.append((int(suffix), found))
    files = [p for _, p in sorted(rotated, reverse=True)]
    return [*files, path] if path.exists() else files


def read_audit(path: Path, tail: int | None = None, principal: str | None = None) -> list[AuditRecord]:
    """The records of the audit log at `path` and its rotated files, oldest first, optionally
    only `principal`'s and only the last `tail` of them. A torn or unreadable line is skipped.

    Raises:
        OSError: a file cannot be read (FileNotFoundError when there is none yet).
    """
    files = log_files(path)
    if not files:
        raise FileNotFoundError(2, "No such file or directory", str(path))
    records: list[AuditRecord] = []
    for file in files:
        try:
            with file.open("rb") as f:
                for raw in f:
                    if not raw.endswith(b"\n"):
                        continue  # a line torn by a crash mid-write
                    if (record := _record_of(raw, principal)) is not None:
                        records.append(record)
        except FileNotFoundError:
            continue  # rotated on by a writer while we read: show what is still there
    return _filtered(records, tail)


def _record_of(raw: bytes, principal: str | None) -> AuditRecord | None:
    """The record on one line when it parses and is `principal`'s (or any, without one)."""
    try:
        record = AuditRecord.model_validate_json(raw)
    except ValidationError:
        return None
    return record if principal is None or record.principal == principal else None


def _filtered(records: list[AuditRecord], tail: int | None) -> list[AuditRecord]:
    if tail is not None:
        return records[-tail:] if tail > 0 else []
    return records


def merge_stream_lines(
    lines: Iterable[bytes], tail: int | None = None, principal: str | None = None
) -> list[AuditRecord]:
    """The records of a shared stream's lines in time order (lines caught up after an outage
    arrive late in the stream but sort back into place); unreadable lines are skipped."""
    records = [record for raw in lines if (record := _record_of(raw, principal)) is not None]
    # ISO 8601 UTC times of one format sort as text; the sort is stable for equal times.
    return _filtered(sorted(records, key=lambda r: r.time), tail)
