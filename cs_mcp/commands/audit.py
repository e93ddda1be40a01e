"""`cs-mcp audit [--tail N] [--principal P] [--redis]`: the audit log, one write attempt per line
(with `--redis`, the trail every replica shares, merged in time order)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from cs_mcp.commands._common import CommandError, Subcommands, fail, load_settings
from cs_mcp.guard import AuditRecord, read_audit
from cs_mcp.safe_text import json_line, one_line


def add_parser(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("audit", help="read the audit log of write attempts")
    p.add_argument("--tail", type=int, default=None, metavar="N", help="only the last N attempts")
    p.add_argument("--principal", default=None, metavar="P", help="only the attempts of principal P")
    p.add_argument("--json", action="store_true", help="print the records as JSON lines")
    p.add_argument("--log", default=None, help="the audit log file (default: $CS_MCP_AUDIT_LOG or the state directory)")
    p.add_argument("--redis", action="store_true", help="read the merged trail of every replica from $CS_MCP_REDIS_URL")


def render(record: AuditRecord) -> str:
    """One record as one readable line: when, who, what, the verdict and what came of it.

    Every field is printed with its control characters, line separators, terminal escapes and
    bidi overrides written as visible escapes: arguments cannot print a fake line, move the
    cursor or reorder the text around them.
    """
    return one_line(_render(record))


def _render(record: AuditRecord) -> str:
    parts = [record.time, f"{record.principal} ({record.role}, {record.transport})", record.tool, record.decision]
    if record.confirmation:
        parts.append(f"via {record.confirmation}")
    if record.outcome:
        outcome = record.outcome
        if record.status is not None:
            outcome += f" {record.status}"
        if record.error_code is not None:
            outcome += f" code {record.error_code}"
        parts.append(outcome)
    if record.rule:
        parts.append(f"rule {record.rule}")
    targets = "; ".join(f"{k}={','.join(v)}" for k, v in sorted(record.targets.items()) if v)
    if targets:
        parts.append(targets)
    if record.reason and record.decision == "deny":
        parts.append(f"reason: {record.reason}")
    return "  ".join(parts)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.tail is not None and args.tail < 0:
        return fail("--tail must be 0 or more")
    try:
        settings = load_settings(args)
    except CommandError as exc:
        return fail(str(exc))
    if args.redis:
        if settings.redis_url is None:
            return fail("--redis needs CS_MCP_REDIS_URL (and CS_MCP_SECRET_KEY) set as for the replicas")
        from cs_mcp.shared_state import read_merged_trail  # only a deployment with Redis loads its client

        try:
            records = read_merged_trail(settings.redis_url.get_secret_value(), tail=args.tail, principal=args.principal)
        except Exception as exc:  # redis-py raises its own error types
            return fail(f"cannot read the shared audit trail from Redis ({type(exc).__name__})")
        _print(records, args.json, out or sys.stdout)
        return 0
    path = Path(args.log) if args.log else settings.audit_log_path()
    try:
        records = read_audit(path, tail=args.tail, principal=args.principal)
    except FileNotFoundError:
        print(f"cs-mcp: no audit log at {path} yet (no write has been attempted)", file=sys.stderr)
        return 0
    except OSError as exc:
        return fail(f"cannot read the audit log {path}: {exc.strerror}")
    _print(records, args.json, out or sys.stdout)
    return 0


def _print(records: list[AuditRecord], as_json: bool, out: TextIO) -> None:
    for record in records:
        print(json_line(record.model_dump(mode="json")) if as_json else render(record), file=out)
