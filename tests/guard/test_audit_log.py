"""The audit log: whole, fsync'd, owner-only lines without secrets."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cs_mcp.config import Settings
from cs_mcp.guard import AuditLog, AuditRecord, guard_from_settings, read_audit
from cs_mcp.guard.audit import REDACTED, PlacedLine, redact

pytestmark = pytest.mark.anyio

SECRET = "cs_management_token_abcdef"


def record(principal: str = "bot", **extra: object) -> AuditRecord:
    return AuditRecord.model_validate(
        {
            "time": "2026-01-02T03:04:05.000+00:00",
            "principal": principal,
            "role": "publisher",
            "transport": "stdio",
            "tool": "publish_entry",
            "decision": "allow",
            **extra,
        }
    )


async def test_each_append_is_one_whole_json_line_on_disk_and_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    log = AuditLog(tmp_path / "state" / "audit.jsonl")
    await log.append(record())
    await log.append(record("writer"))
    lines = (tmp_path / "state" / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["principal"] for line in lines] == ["bot", "writer"]
    assert len(synced) == 2


async def test_the_file_is_owner_only_in_an_owner_only_directory(tmp_path: Path) -> None:
    path = tmp_path / "state" / "cs-mcp" / "audit.jsonl"
    await AuditLog(path).append(record())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


async def test_a_secret_is_replaced_where_it_stands_and_the_rest_of_the_value_stays(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, secret_values=[SECRET])
    arguments = {
        "confirmation_token": "abc.def",
        "title": f"abc{SECRET}def",
        "nested": [{"note": f"pasted {SECRET} here"}, "plain"],
        "entry": "blt1",
    }
    await log.append(record(arguments=arguments, reason=f"failed with {SECRET}"))
    text = path.read_text()
    assert SECRET not in text
    data = json.loads(text)
    assert data["arguments"]["confirmation_token"] == REDACTED
    assert data["arguments"]["title"] == f"abc{REDACTED}def"
    assert data["arguments"]["nested"] == [{"note": f"pasted {REDACTED} here"}, "plain"]
    assert data["arguments"]["entry"] == "blt1"
    assert data["reason"] == f"failed with {REDACTED}"


async def test_content_under_secret_sounding_names_inside_the_arguments_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    fields = {"password_hint": "ignore the guard", "api_key": "blt123", "secret_sauce": "x"}
    await AuditLog(path, secret_values=[SECRET]).append(record(arguments={"fields": fields, "api_key": "blt9"}))
    data = json.loads(path.read_text())
    assert data["arguments"] == {"fields": fields, "api_key": "blt9"}


async def test_a_secret_in_a_key_is_replaced_in_the_key(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await AuditLog(path, secret_values=[SECRET]).append(record(arguments={"fields": {f"k{SECRET}": 1}}))
    assert json.loads(path.read_text())["arguments"]["fields"] == {f"k{REDACTED}": 1}


async def test_hidden_characters_are_escaped_in_the_file_and_read_back_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    forged = "x\n2026-01-01 admin\r\x1b[2K\x9b31m\u202e\u2028\U000e0041"
    await AuditLog(path).append(record(arguments={"name": forged}, reason=forged))
    raw = path.read_bytes()
    assert raw.count(b"\n") == 1
    assert raw.isascii()  # every one of them written as an escape
    assert read_audit(path)[0].reason == forged


def test_redact_leaves_ordinary_values_alone() -> None:
    assert redact({"entry": "blt1", "count": 3, "flags": [True]}) == {"entry": "blt1", "count": 3, "flags": [True]}


def test_a_torn_last_line_is_skipped_by_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append_sync(record())
    log.append_sync(record("writer"))
    with path.open("ab") as f:
        f.write(b'{"time":"2026-01-02","principal":"to')  # killed mid-write
    assert [r.principal for r in read_audit(path)] == ["bot", "writer"]


def test_a_line_written_after_a_torn_one_is_a_line_of_its_own_in_the_file_and_the_stream(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    stream = RecordingStream()
    log = AuditLog(path, stream=stream)
    log.append_sync(record())
    with path.open("ab") as f:
        f.write(b'{"time":"2026-01-02","principal":"to')  # killed mid-write
    log.append_sync(record("next"))
    assert [r.principal for r in read_audit(path)] == ["bot", "next"]
    assert [json.loads(placed.line)["principal"] for placed in stream.added] == ["bot", "next"]
    assert all(path.read_bytes()[placed.offset :].startswith(placed.line) for placed in stream.added)


def test_read_audit_filters_by_principal_and_tails(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for name in ("a", "b", "a", "a"):
        log.append_sync(record(name, tool=f"tool_{name}"))
    assert len(read_audit(path, principal="a")) == 3
    assert [r.principal for r in read_audit(path, tail=2)] == ["a", "a"]
    assert read_audit(path, tail=0) == []


async def test_an_unwritable_log_is_reported_before_anything_is_sent(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    log = AuditLog(blocker / "audit.jsonl")
    with pytest.raises(FileExistsError):
        await log.check_writable()


WRITER = """
import sys
from pathlib import Path
from cs_mcp.guard import AuditLog, AuditRecord
log = AuditLog(Path(sys.argv[1]))
record = AuditRecord(time="t", principal="bot", role="r", transport="stdio", tool="t", decision="allow",
                     arguments={"body": "x" * 5000})
for n in range(100000):
    log.append_sync(record)
    if n == 20:
        print("writing", flush=True)
"""


def python_child(code: str, path: Path, stdout: int | None = None) -> subprocess.Popen[bytes]:
    """A Python process running `code` on the log at `path`, with this repository importable."""
    repo = Path(__file__).resolve().parents[2]
    return subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=stdout, cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)}
    )


def test_a_process_killed_mid_run_leaves_whole_lines_and_at_most_a_torn_last_one_the_reader_skips(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    child = python_child(WRITER, path, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"writing\n"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    data = path.read_bytes()
    # Linux may cut a large write short when SIGKILL arrives mid-copy: the last line can be torn.
    *whole, _torn_or_empty = data.split(b"\n")
    assert len(whole) >= 21  # 21 written before the signal; more may be, the kill races them
    assert all(json.loads(line)["principal"] == "bot" for line in whole)
    assert len(read_audit(path)) == len(whole)


def test_the_log_rotates_at_its_size_and_keeps_only_the_configured_number_of_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    line_size = len(AuditLog(path)._line(record("p00")))  # pyright: ignore[reportPrivateUsage] - the unit of size
    first_size = len(AuditLog(path)._line(record("p00"), file_id="0" * 16))  # pyright: ignore[reportPrivateUsage] - a file's first line names it
    log = AuditLog(path, max_bytes=first_size + 2 * line_size, keep=2)
    for n in range(20):
        log.append_sync(record(f"p{n:02d}"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    assert all(p.stat().st_size <= first_size + 2 * line_size for p in tmp_path.iterdir())
    assert stat.S_IMODE((tmp_path / "audit.jsonl.1").stat().st_mode) == 0o600
    # The newest records survive, read across the files oldest first.
    assert [r.principal for r in read_audit(path)] == [f"p{n:02d}" for n in range(12, 20)]


def test_a_record_larger_than_the_limit_is_still_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=10, keep=1)
    log.append_sync(record("first"))
    log.append_sync(record("second"))
    assert [r.principal for r in read_audit(path)] == ["first", "second"]
    assert [r.principal for r in read_audit(path, tail=1)] == ["second"]


def test_rotated_files_are_read_even_when_the_current_file_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append_sync(record("old"))
    path.rename(tmp_path / "audit.jsonl.1")
    assert [r.principal for r in read_audit(path)] == ["old"]
    with pytest.raises(FileNotFoundError):
        read_audit(tmp_path / "other.jsonl")


def test_the_guard_built_from_settings_rotates_as_configured(tmp_path: Path) -> None:
    env = {"CS_MCP_AUDIT_LOG": str(tmp_path / "a.jsonl"), "CS_MCP_AUDIT_MAX_BYTES": "4096", "CS_MCP_AUDIT_KEEP": "3"}
    audit = guard_from_settings(Settings.from_env(env)).audit
    assert audit is not None
    assert (audit.max_bytes, audit.keep) == (4096, 3)


def test_concurrent_appends_across_rotations_lose_and_tear_no_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=2000, keep=1000)
    names = [f"t{t}-{n}" for t in range(8) for n in range(25)]

    def append(name: str) -> None:
        log.append_sync(record(name))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(append, names))
    assert sorted(r.principal for r in read_audit(path)) == sorted(names)
    assert len(list(tmp_path.iterdir())) > 10


class RecordingStream:
    """A stream that keeps what it is sent, or fails while `down`."""

    def __init__(self) -> None:
        self.added: list[PlacedLine] = []
        self.down = False

    def add(self, lines: Iterable[PlacedLine]) -> None:
        if self.down:
            raise OSError("the stream is down")
        self.added.extend(lines)


def test_each_line_goes_to_the_stream_with_its_files_source_and_byte_offset_which_rotation_keeps(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    first_size = len(AuditLog(path)._line(record("p0"), file_id="0" * 16))  # pyright: ignore[reportPrivateUsage] - a file's first line names it
    line_size = len(AuditLog(path)._line(record("p1")))  # pyright: ignore[reportPrivateUsage] - the unit of size
    stream = RecordingStream()
    log = AuditLog(path, max_bytes=first_size + line_size, stream=stream)
    for n in range(3):
        log.append_sync(record(f"p{n}"))
    rotated, current = log.source_of(tmp_path / "audit.jsonl.1"), log.source_of(path)
    assert rotated != current
    assert [(placed.source, placed.offset) for placed in stream.added] == [
        (rotated, 0),
        (rotated, first_size),
        (current, 0),
    ]
    assert (
        b"".join(placed.line for placed in stream.added)
        == (tmp_path / "audit.jsonl.1").read_bytes() + path.read_bytes()
    )


def test_a_stream_pending_file_naming_only_inode_and_offset_is_still_caught_up_from_there(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    stream = RecordingStream()
    log = AuditLog(path, stream=stream)
    log.append_sync(record("sent"))
    stream.down = True
    log.append_sync(record("missed"))
    inode, offset, _source = log.pending_path.read_text().split()
    log.pending_path.write_text(f"{inode} {offset}\n")  # as an earlier version wrote it
    stream.down = False
    log.append_sync(record("back"))
    assert [json.loads(placed.line)["principal"] for placed in stream.added] == ["sent", "missed", "back"]
    assert [placed.offset for placed in stream.added][1] == int(offset)
    assert not log.pending_path.exists()


def test_a_files_first_line_starts_with_a_random_file_id_so_that_one_record_starting_two_files_names_them_apart(
    tmp_path: Path,
) -> None:
    long = record("p", arguments={"body": "x" * 10_000})  # longer than the head that names a file
    firsts: list[bytes] = []
    for name in ("one", "two"):
        log = AuditLog(tmp_path / name / "audit.jsonl")
        log.append_sync(long)
        log.append_sync(long)
        first, second = log.path.read_bytes().splitlines()
        firsts.append(first)
        assert first.startswith(b'{"file_id":"')
        assert b"file_id" not in second
        assert [r.principal for r in read_audit(log.path)] == ["p", "p"]
    assert firsts[0][:4096] != firsts[1][:4096]


# A replica killed while the stream's answer is awaited: its line is on disk, the stream's fate unknown.
KILLED_WHILE_ADDING = """
import os, signal, sys
from pathlib import Path
from cs_mcp.guard import AuditLog, AuditRecord

class KilledWhileAdding:
    def add(self, lines):
        os.kill(os.getpid(), signal.SIGKILL)

record = AuditRecord(time="2026-01-02T03:04:05.000+00:00", principal="killed", role="publisher",
                     transport="stdio", tool="publish_entry", decision="allow")
AuditLog(Path(sys.argv[1]), stream=KilledWhileAdding()).append_sync(record)
"""


def test_a_line_whose_process_was_killed_before_the_stream_answered_is_sent_by_the_next_append(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    assert python_child(KILLED_WHILE_ADDING, path).wait(timeout=60) == -signal.SIGKILL
    stream = RecordingStream()
    AuditLog(path, stream=stream).append_sync(record("after"))
    assert [json.loads(placed.line)["principal"] for placed in stream.added] == ["killed", "after"]
