"""`cs-mcp audit`: the audit log, readable, filtered by principal, tailed."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from cs_mcp.cli import build_parser
from cs_mcp.commands import audit
from cs_mcp.guard import AuditLog, AuditRecord


def record(principal: str, tool: str, decision: str, **extra: object) -> AuditRecord:
    return AuditRecord.model_validate(
        {
            "time": "2026-01-02T03:04:05.000+00:00",
            "principal": principal,
            "role": "publisher",
            "transport": "http",
            "tool": tool,
            "decision": decision,
            **extra,
        }
    )


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.jsonl"
    for name in [k for k in os.environ if k.startswith(("CONTENTSTACK_", "CS_MCP_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CS_MCP_AUDIT_LOG", str(path))
    writer = AuditLog(path)
    writer.append_sync(record("release-bot", "publish_entry", "allow", outcome="ok", status=201))
    writer.append_sync(
        record("writer", "update_entry", "deny", rule="roles.editor.content_types", reason="not page", targets={})
    )
    writer.append_sync(record("release-bot", "deploy_release", "confirmed", confirmation="token", outcome="ok"))
    writer.append_sync(record("release-bot", "publish_entry", "allow", outcome="error", status=422, error_code=141))
    return path


def run(*argv: str) -> tuple[int, list[str]]:
    out = io.StringIO()
    status = audit.run(build_parser().parse_args(["audit", *argv]), out=out)
    return status, out.getvalue().splitlines()


def test_it_prints_every_attempt_one_readable_line_each(log: Path) -> None:
    status, lines = run()
    assert status == 0
    assert len(lines) == 4
    assert "release-bot (publisher, http)" in lines[0]
    assert "publish_entry" in lines[0]
    assert "ok 201" in lines[0]
    assert "rule roles.editor.content_types" in lines[1]
    assert "via token" in lines[2]
    assert "error 422 code 141" in lines[3]


def test_principal_filters_and_tail_keeps_the_last(log: Path) -> None:
    _, bot = run("--principal", "release-bot")
    _, last = run("--principal", "release-bot", "--tail", "1")
    _, writer = run("--principal", "writer")
    assert len(bot) == 3
    assert len(last) == 1
    assert "error 422" in last[0]
    assert len(writer) == 1
    assert "update_entry" in writer[0]


def test_json_prints_the_records(log: Path) -> None:
    _, lines = run("--json", "--tail", "2")
    decoded = [json.loads(line) for line in lines]
    assert [d["decision"] for d in decoded] == ["confirmed", "allow"]


def test_a_missing_log_is_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines = run("--log", str(tmp_path / "none.jsonl"))
    assert status == 0
    assert lines == []
    assert "no audit log" in capsys.readouterr().err


def test_a_negative_tail_is_refused(log: Path) -> None:
    status, _ = run("--tail", "-1")
    assert status == 2


FORGED = "x\n2026-01-02T03:04:06.000+00:00  admin (admin, stdio)  delete_entry  allow  ok 200"
HIDING = ["\r", "\x1b[2K", "\x1b]0;title\x07", "\x9b31m", "\u202e", "\u2066", "\u2028", "\u2029", "\x85", "\u200b"]


@pytest.mark.parametrize("json_view", [False, True])
def test_arguments_cannot_print_a_fake_line_or_hide_text_in_the_viewer(tmp_path: Path, json_view: bool) -> None:
    path = tmp_path / "forged.jsonl"
    hostile = FORGED + "".join(HIDING)
    AuditLog(path).append_sync(
        record(
            "writer",
            "update_entry",
            "deny",
            rule=hostile,
            reason=hostile,
            targets={"content_types": [hostile], hostile: ["page"]},
            arguments={"title": hostile},
        )
    )
    _, lines = run("--log", str(path), *(["--json"] if json_view else []))
    assert len(lines) == 1
    assert not any(char in lines[0] for char in "\n\r\x1b\x07\x9b\u202e\u2066\u2028\u2029\x85\u200b")
    if json_view:
        assert json.loads(lines[0])["reason"] == hostile  # escaped, not lost
    else:
        assert "\\n2026-01-02" in lines[0]
        assert "\\x1b[2K" in lines[0]
        assert "\\u202e" in lines[0]


def test_the_viewer_reads_across_rotated_files_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "rotating.jsonl"
    writer = AuditLog(path, max_bytes=400, keep=10)
    for n in range(6):
        writer.append_sync(record(f"p{n}", "publish_entry", "allow"))
    assert (tmp_path / "rotating.jsonl.1").exists()
    _, lines = run("--log", str(path), "--json")
    assert [json.loads(line)["principal"] for line in lines] == [f"p{n}" for n in range(6)]
