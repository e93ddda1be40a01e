"""Confirmation tokens and the audit trail shared by replicas through a real Redis."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import cast

import pytest

from cs_mcp import shared_state
from cs_mcp.cli import build_parser
from cs_mcp.commands import audit
from cs_mcp.commands._common import SharedConfirmations, build_guard
from cs_mcp.config import Settings
from cs_mcp.guard.audit import AuditLog, AuditRecord, PlacedLine, merge_stream_lines, read_audit
from cs_mcp.guard.confirm import ConfirmationAuthority, ConfirmationError
from cs_mcp.shared_state import RedisAuditStream, RedisLedger, connect, connect_sync
from tests.shared_state.conftest import RedisServer, ReplyLosingProxy

KEY = b"k" * 32
ARGS = {"content_type_uid": "recipe", "entry_uid": "blt1"}


def authority(server: RedisServer) -> ConfirmationAuthority:
    return ConfirmationAuthority(KEY, ledger=RedisLedger(connect(server.url)))


@pytest.mark.anyio
async def test_a_token_issued_by_one_replica_is_redeemed_by_a_second_and_refused_by_a_third(
    redis_server: RedisServer,
) -> None:
    first, second, third = (authority(redis_server) for _ in range(3))
    issued = first.issue("alice", "delete_entry", ARGS)
    await second.redeem(issued.token, "alice", "delete_entry", ARGS)
    with pytest.raises(ConfirmationError) as refused:
        await third.redeem(issued.token, "alice", "delete_entry", ARGS)
    for replica in (first, second, third):
        await replica.aclose()
    assert refused.value.reason == "replayed"


@pytest.mark.anyio
async def test_a_token_is_refused_when_the_ledger_cannot_be_reached(redis_server: RedisServer) -> None:
    first, second = authority(redis_server), authority(redis_server)
    issued = first.issue("alice", "delete_entry", ARGS)
    redis_server.stop()
    with pytest.raises(ConfirmationError) as refused:
        await second.redeem(issued.token, "alice", "delete_entry", ARGS)
    await second.aclose()
    assert refused.value.reason == "unavailable"


@pytest.mark.anyio
async def test_an_authority_with_a_shared_ledger_cannot_spend_a_token_without_awaiting_it(
    redis_server: RedisServer,
) -> None:
    shared = authority(redis_server)
    issued = shared.issue("alice", "delete_entry", ARGS)
    with pytest.raises(TypeError):
        shared.verify(issued.token, "alice", "delete_entry", ARGS)
    await shared.aclose()


def record(time: str, principal: str) -> AuditRecord:
    return AuditRecord(
        time=time, principal=principal, role="editor", transport="http", tool="delete_entry", decision="allow"
    )


def test_two_replicas_audit_lines_merge_in_time_order(redis_server: RedisServer, tmp_path: Path) -> None:
    stream = RedisAuditStream(redis_server.client())
    one = AuditLog(tmp_path / "one.jsonl", stream=stream)
    two = AuditLog(tmp_path / "two.jsonl", stream=RedisAuditStream(redis_server.client()))
    # Replica two's first line is older than replica one's last: the merge sorts by time.
    one.append_sync(record("2026-01-01T00:00:01.000+00:00", "a"))
    one.append_sync(record("2026-01-01T00:00:03.000+00:00", "b"))
    two.append_sync(record("2026-01-01T00:00:02.000+00:00", "c"))
    merged = merge_stream_lines(stream.lines())
    assert [r.principal for r in merged] == ["a", "c", "b"]
    assert [r.principal for r in read_audit(tmp_path / "one.jsonl")] == ["a", "b"], "each file keeps its own"
    assert [r.principal for r in merge_stream_lines(stream.lines(), tail=1, principal="a")] == ["a"]


def test_lines_written_while_redis_was_down_reach_the_stream_when_it_returns(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stream = RedisAuditStream(redis_server.client())
    log = AuditLog(tmp_path / "audit.jsonl", stream=stream, max_bytes=600)
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="cs_mcp.audit"):
        for n in range(4):  # past max_bytes: the missed lines span a rotation
            log.append_sync(record(f"2026-01-01T00:00:0{n}.000+00:00", f"down{n}"))
    assert [r.principal for r in read_audit(log.path)] == ["down0", "down1", "down2", "down3"]
    assert (tmp_path / "audit.jsonl.1").exists()
    assert len([r for r in caplog.records if r.name == "cs_mcp.audit"]) == 1
    redis_server.start()  # a fresh, empty server: only the catch-up can fill the stream
    log.append_sync(record("2026-01-01T00:00:09.000+00:00", "back"))
    assert [r.principal for r in merge_stream_lines(stream.lines())] == ["down0", "down1", "down2", "down3", "back"]
    assert not log.pending_path.exists()
    log.append_sync(record("2026-01-01T00:00:10.000+00:00", "after"))
    assert len(stream.lines()) == 6, "once caught up, each line is sent once"


def principals(lines: list[bytes]) -> list[str]:
    return [json.loads(line)["principal"] for line in lines]


def test_a_line_whose_reply_was_lost_after_redis_added_it_is_in_the_merged_trail_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with ReplyLosingProxy(redis_server.port) as proxy:
        log = AuditLog(tmp_path / "audit.jsonl", stream=RedisAuditStream(connect_sync(proxy.url)))
        log.append_sync(record("2026-01-01T00:00:01.000+00:00", "first"))
        proxy.lose_next_reply()
        log.append_sync(record("2026-01-01T00:00:02.000+00:00", "lost"))
        log.append_sync(record("2026-01-01T00:00:03.000+00:00", "next"))
    assert proxy.lost == 1
    assert principals(RedisAuditStream(redis_server.client()).lines()) == ["first", "lost", "next"]


def test_a_line_added_before_redis_died_mid_reply_is_caught_up_once_with_the_lines_of_the_outage(
    persistent_redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_state, "_AUDIT_BATCH_LINES", 2)  # the catch-up goes in several batches
    server = persistent_redis_server
    with ReplyLosingProxy(server.port) as proxy:
        log = AuditLog(tmp_path / "audit.jsonl", stream=RedisAuditStream(connect_sync(proxy.url)), max_bytes=700)
        log.append_sync(record("2026-01-01T00:00:01.000+00:00", "before"))
        # Redis adds the line, writes it to its append-only file, and is killed before it answers.
        proxy.lose_next_reply(then=server.stop)
        log.append_sync(record("2026-01-01T00:00:02.000+00:00", "lost"))
        assert log.pending_path.exists(), "the replica could not tell the line was added"
        for n in range(4):  # past max_bytes: the missed lines span a rotation
            log.append_sync(record(f"2026-01-01T00:00:0{3 + n}.000+00:00", f"down{n}"))
        assert (tmp_path / "audit.jsonl.1").exists()
        server.start()  # with what it held: the stream and the line whose reply was lost
        log.append_sync(record("2026-01-01T00:00:09.000+00:00", "back"))
    assert proxy.lost == 1
    assert not log.pending_path.exists()
    lines = RedisAuditStream(server.client()).lines()
    assert principals(lines) == ["before", "lost", "down0", "down1", "down2", "down3", "back"]
    assert principals(lines) == [r.principal for r in read_audit(log.path)], "the files' lines, in their order"


class DownStream:
    """A stream that cannot be reached."""

    def add(self, lines: Iterable[PlacedLine]) -> None:
        raise ConnectionError("Redis is down")


def test_replicas_of_other_hosts_appending_to_one_file_catch_up_each_others_missed_lines_once(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Containers sharing a log volume: one file, other host names, one stream-pending place.
    path, stream = tmp_path / "audit.jsonl", RedisAuditStream(redis_server.client())
    monkeypatch.setattr(socket, "gethostname", lambda: "replica-a")
    one = AuditLog(path, stream=stream)
    one.append_sync(record("2026-01-01T00:00:01.000+00:00", "sent"))
    one.stream = DownStream()
    one.append_sync(record("2026-01-01T00:00:02.000+00:00", "missed"))
    monkeypatch.setattr(socket, "gethostname", lambda: "replica-b")
    AuditLog(path, stream=stream).append_sync(record("2026-01-01T00:00:03.000+00:00", "other"))
    assert principals(stream.lines()) == ["sent", "missed", "other"]


def test_the_same_bytes_written_at_two_places_are_two_lines_of_the_merged_trail(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    stream = RedisAuditStream(redis_server.client())
    one = AuditLog(tmp_path / "one.jsonl", stream=stream)
    two = AuditLog(tmp_path / "two.jsonl", stream=stream)
    same = record("2026-01-01T00:00:01.000+00:00", "twin")
    for log in (one, two):  # a file's first line names the file: the same record comes after
        log.append_sync(record("2026-01-01T00:00:00.000+00:00", "first"))
    one.append_sync(same)
    one.append_sync(same)
    two.append_sync(same)
    lines = [line for line in stream.lines() if b'"twin"' in line]
    assert len(lines) == 3
    assert len(set(lines)) == 1, "byte for byte the same line"


def test_a_log_file_emptied_in_place_has_its_new_lines_added_from_its_first_byte(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    stream = RedisAuditStream(redis_server.client())
    log = AuditLog(tmp_path / "audit.jsonl", stream=stream)
    log.append_sync(record("2026-01-01T00:00:01.000+00:00", "old"))
    log.append_sync(record("2026-01-01T00:00:02.000+00:00", "old too"))
    os.truncate(log.path, 0)  # the same inode with new lines from offset 0, as a reused inode has
    log.append_sync(record("2026-01-01T00:00:03.000+00:00", "new"))
    assert principals(stream.lines()) == ["old", "old too", "new"]


def test_a_new_file_given_a_deleted_files_inode_and_the_same_first_line_has_its_lines_added(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # A burst of identical attempts within one millisecond writes the same bytes; with one line
    # per file and one rotated file kept, the third file is created as the first is deleted,
    # and the filesystem may give it the first file's inode (ext4 does). Two replicas' files
    # on separate volumes can likewise have the same inode and the same first line.
    stream = RedisAuditStream(redis_server.client())
    same = record("2026-01-01T00:00:01.000+00:00", "burst")
    log = AuditLog(tmp_path / "audit.jsonl", stream=stream, max_bytes=1, keep=1)
    inodes: list[int] = []
    for _ in range(3):
        log.append_sync(same)
        inodes.append(log.path.stat().st_ino)
    if inodes[2] != inodes[0]:
        pytest.skip("the filesystem did not give the third file the first one's inode")
    assert principals(stream.lines()) == ["burst"] * 3


def test_each_stream_entry_names_its_file_and_byte_offset_and_readers_take_only_the_line(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    client = redis_server.client()
    log = AuditLog(tmp_path / "audit.jsonl", stream=RedisAuditStream(client))
    log.append_sync(record("2026-01-01T00:00:01.000+00:00", "a"))
    log.append_sync(record("2026-01-01T00:00:02.000+00:00", "b"))
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(shared_state.AUDIT_STREAM))
    first = log.path.read_bytes().index(b"\n") + 1
    source = log.source_of(log.path).encode()
    assert [(fields[b"source"], fields[b"offset"]) for _, fields in entries] == [
        (source, b"0"),
        (source, str(first).encode()),
    ]
    assert [fields[b"line"] + b"\n" for _, fields in entries] == log.path.read_bytes().splitlines(keepends=True)
    assert RedisAuditStream(client).lines() == [fields[b"line"] for _, fields in entries]


def test_the_audit_command_reads_the_merged_trail_from_redis(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith(("CONTENTSTACK_", "CS_MCP_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CS_MCP_REDIS_URL", redis_server.url)
    monkeypatch.setenv("CS_MCP_SECRET_KEY", "k" * 32)
    AuditLog(tmp_path / "one.jsonl", stream=RedisAuditStream(redis_server.client())).append_sync(
        record("2026-01-01T00:00:02.000+00:00", "late")
    )
    AuditLog(tmp_path / "two.jsonl", stream=RedisAuditStream(redis_server.client())).append_sync(
        record("2026-01-01T00:00:01.000+00:00", "early")
    )
    out = io.StringIO()
    status = audit.run(build_parser().parse_args(["audit", "--redis", "--json"]), out=out)
    assert status == 0
    assert [json.loads(line)["principal"] for line in out.getvalue().splitlines()] == ["early", "late"]


def test_the_audit_command_refuses_redis_when_none_is_configured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [k for k in os.environ if k.startswith(("CONTENTSTACK_", "CS_MCP_"))]:
        monkeypatch.delenv(name)
    status = audit.run(build_parser().parse_args(["audit", "--redis"]), out=io.StringIO())
    assert status == 2
    assert "CS_MCP_REDIS_URL" in capsys.readouterr().err


@pytest.mark.anyio
async def test_served_replicas_share_confirmations_through_redis_not_the_machines_key_file(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {
        "CS_MCP_REDIS_URL": redis_server.url,
        "CS_MCP_SECRET_KEY": "k" * 32,
        "CS_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    }
    settings = Settings.from_env(env)
    # Each replica on its own machine: its own state directory, so its own key file.
    first, second, third = (
        build_guard(settings, confirmations=SharedConfirmations(tmp_path / name)) for name in ("r1", "r2", "r3")
    )
    issued = first.confirmations.issue("alice", "delete_entry", ARGS)
    await second.confirmations.redeem(issued.token, "alice", "delete_entry", ARGS)
    with pytest.raises(ConfirmationError) as refused:
        await third.confirmations.redeem(issued.token, "alice", "delete_entry", ARGS)
    for guard in (first, second, third):
        await guard.confirmations.aclose()
    assert refused.value.reason == "replayed"
