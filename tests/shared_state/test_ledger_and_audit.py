"""Confirmation tokens and the audit trail shared by replicas through a real Redis."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import pytest

from cs_mcp.cli import build_parser
from cs_mcp.commands import audit
from cs_mcp.commands._common import SharedConfirmations, build_guard
from cs_mcp.config import Settings
from cs_mcp.guard.audit import AuditLog, AuditRecord, merge_stream_lines, read_audit
from cs_mcp.guard.confirm import ConfirmationAuthority, ConfirmationError
from cs_mcp.shared_state import RedisAuditStream, RedisLedger, connect
from tests.shared_state.conftest import RedisServer

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
