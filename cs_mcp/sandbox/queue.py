"""The sandbox's publish queue: every publish or unpublish, whether immediate, scheduled, bulk or
a release deploy, is one or more rows of it.

A row carries the operations it stands for; an immediate row is applied
(`store.set_published` / `store.clear_published`) in the transaction that records it, a row with
a future `scheduled_at` waits with status `scheduled` until `fire_due()` finds it due on the
sandbox clock (the clock's admin endpoint runs `state.on_tick` after advancing, and every CMA
request runs it first), and `unschedule` cancels it before that. `publishing.py` and
`releases.py` add rows; `publishing.py` serves them.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from cs_mcp.sandbox import store
from cs_mcp.sandbox.auth import SANDBOX_USER_UID
from cs_mcp.sandbox.endpoint import environment_uids, now_iso
from cs_mcp.sandbox.state import SandboxState, create_tables

Action = Literal["publish", "unpublish"]
QueueStatus = Literal["scheduled", "success", "failed", "cancelled"]
QueueType = Literal["entry", "asset", "release"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS publish_queue (
    uid TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    scheduled_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    published_at TEXT,
    job_id TEXT,
    release_uid TEXT,
    user TEXT NOT NULL,
    environments_json TEXT NOT NULL,
    locales_json TEXT NOT NULL,
    entry_json TEXT NOT NULL,
    operations_json TEXT NOT NULL,
    message TEXT
);
CREATE INDEX IF NOT EXISTS publish_queue_due ON publish_queue (status, scheduled_at);
"""


@dataclass(frozen=True)
class Operation:
    """One entry or asset version to make live (or take down) in some environments of one locale."""

    action: Action
    kind: store.PublishKind
    content_type: str  # '' for assets
    uid: str
    locale: str
    version: int
    environments: tuple[str, ...]  # names

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "kind": self.kind,
            "content_type": self.content_type,
            "uid": self.uid,
            "locale": self.locale,
            "version": self.version,
            "environments": list(self.environments),
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Operation:
        return Operation(
            action=data["action"],
            kind=data["kind"],
            content_type=data["content_type"],
            uid=data["uid"],
            locale=data["locale"],
            version=int(data["version"]),
            environments=tuple(data["environments"]),
        )


def _content_type_title(conn: sqlite3.Connection, content_type: str) -> str:
    found = store.get_content_type(conn, content_type)
    return content_type if found is None else str(found["title"])


def entry_summary(conn: sqlite3.Connection, content_type: str, uid: str, locale: str, version: int) -> dict[str, Any]:
    """What a queue row shows of an entry version."""
    data = store.get_entry_version(conn, content_type, uid, locale, version) or {}
    return {
        "title": data.get("title", uid),
        "uid": uid,
        "version": version,
        "locale": locale,
        "content_type": {"uid": content_type, "title": _content_type_title(conn, content_type)},
    }


def asset_summary(conn: sqlite3.Connection, uid: str, locale: str, version: int) -> dict[str, Any]:
    """What a queue row shows of an asset version."""
    data = store.get_asset_version(conn, uid, version) or {}
    return {
        "title": data.get("title") or data.get("filename") or uid,
        "uid": uid,
        "version": version,
        "locale": locale,
    }


def add_queue_row(
    conn: sqlite3.Connection,
    state: SandboxState,
    *,
    row_type: QueueType,
    action: str,
    entry: dict[str, Any],
    operations: Sequence[Operation],
    environments: Sequence[str],
    locales: Sequence[str],
    scheduled_at: str | None,
    job_id: str | None = None,
    release_uid: str | None = None,
    failure: str | None = None,
    user: str = SANDBOX_USER_UID,
) -> str:
    """Record a publish action by `user` in the queue and, unless it is scheduled or already failed,
    apply it. Answers the row's uid.
    """
    uid = "blt" + secrets.token_hex(8)
    now = now_iso(state)
    status: QueueStatus = "failed" if failure else ("scheduled" if scheduled_at else "success")
    conn.execute(
        "INSERT INTO publish_queue (uid, type, action, status, scheduled_at, created_at, updated_at, published_at,"
        " job_id, release_uid, user, environments_json, locales_json, entry_json, operations_json, message)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            uid,
            row_type,
            action,
            status,
            scheduled_at,
            now,
            now,
            scheduled_at or now,
            job_id,
            release_uid,
            user,
            json.dumps(list(environments)),
            json.dumps(list(locales)),
            json.dumps(entry),
            json.dumps([operation.to_json() for operation in operations]),
            failure,
        ),
    )
    if status == "success":
        problems = apply_operations(conn, operations, now, user)
        if problems:
            finish_row(conn, uid, "failed", now, "; ".join(problems))
    return uid


def apply_operations(conn: sqlite3.Connection, operations: Sequence[Operation], time_iso: str, user: str) -> list[str]:
    """Make each operation's version live in (or take it out of) its environments, as done by `user`.

    Answers the problems of operations that could not be applied (their entry, asset or version is
    gone); the others are applied.
    """
    problems: list[str] = []
    for operation in operations:
        if operation.action == "publish":
            if operation.kind == "entry":
                exists = store.get_entry_version(
                    conn, operation.content_type, operation.uid, operation.locale, operation.version
                )
            else:
                exists = store.get_asset_version(conn, operation.uid, operation.version)
            if exists is None:
                problems.append(
                    f"{operation.kind} {operation.uid} version {operation.version}"
                    f" in {operation.locale} no longer exists"
                )
                continue
            for environment in operation.environments:
                store.set_published(
                    conn,
                    operation.kind,
                    operation.content_type,
                    operation.uid,
                    environment,
                    operation.locale,
                    operation.version,
                    time_iso,
                    user,
                )
        else:
            for environment in operation.environments:
                store.clear_published(
                    conn, operation.kind, operation.content_type, operation.uid, environment, operation.locale
                )
    return problems


def finish_row(conn: sqlite3.Connection, uid: str, status: QueueStatus, time_iso: str, message: str | None) -> None:
    conn.execute(
        "UPDATE publish_queue SET status = ?, updated_at = ?, message = ? WHERE uid = ?",
        (status, time_iso, message, uid),
    )


def fire_due(state: SandboxState) -> int:
    """Apply every scheduled queue row whose time has come on the sandbox clock, oldest first.

    Answers how many rows fired. Safe to call any number of times.
    """
    now = now_iso(state)
    with state.db.read() as conn:
        due = conn.execute(
            "SELECT 1 FROM publish_queue WHERE status = 'scheduled' AND scheduled_at <= ? LIMIT 1", (now,)
        ).fetchone()
    if due is None:
        return 0
    fired = 0
    with state.db.transaction() as conn:
        rows = conn.execute(
            "SELECT uid, scheduled_at, user, operations_json FROM publish_queue"
            " WHERE status = 'scheduled' AND scheduled_at <= ? ORDER BY scheduled_at, rowid",
            (now,),
        ).fetchall()
        for row in rows:
            operations = [Operation.from_json(item) for item in json.loads(row["operations_json"])]
            # The action happened at its scheduled time, however late the clock was advanced.
            problems = apply_operations(conn, operations, row["scheduled_at"], row["user"])
            finish_row(conn, row["uid"], "failed" if problems else "success", now, "; ".join(problems) or None)
            fired += 1
    return fired


def queue_row_json(state: SandboxState, conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    """A queue row in the shape of the management SDK's publish queue fixtures."""
    details: dict[str, Any] = {"status": row["status"]}
    if row["message"]:
        details["message"] = row["message"]
    entry = json.loads(row["entry_json"])
    # "CMA | Publish Queue" shows the content type at the row's top level, not inside `entry`.
    content_type = entry.pop("content_type", None)
    answer: dict[str, Any] = {
        "uid": row["uid"],
        "stack": state.credentials.api_key,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "created_by": row["user"],
        "updated_by": row["user"],
        "type": row["type"],
        "publish_details": details,
        "entry": entry,
        "environment": environment_uids(conn, json.loads(row["environments_json"])),
        "locale": json.loads(row["locales_json"]),
        "action": row["action"],
        "published_at": row["published_at"],
        "user": row["user"],
        "approval": False,
        "approved": True,
        "rejected": False,
    }
    if isinstance(content_type, dict):
        answer["content_type"] = {"uid": cast(dict[str, Any], content_type)["uid"]}
    if row["scheduled_at"]:
        answer["scheduled_at"] = row["scheduled_at"]
    answer["bulkJobId"] = row["job_id"]
    return answer


def release_deployments(conn: sqlite3.Connection, release_uid: str) -> list[dict[str, Any]]:
    """The deployments of a release that happened or wait, newest first, for the release's `status`."""
    rows = conn.execute(
        "SELECT * FROM publish_queue WHERE release_uid = ? AND status IN ('success', 'scheduled')"
        " ORDER BY created_at DESC, rowid DESC",
        (release_uid,),
    ).fetchall()
    deployments: list[dict[str, Any]] = []
    for row in rows:
        entry = json.loads(row["entry_json"])
        for environment in json.loads(row["environments_json"]):
            deployments.append(
                {
                    "environment": store.environment_uid(conn, environment) or environment,
                    "environment_name": environment,
                    "locales": json.loads(row["locales_json"]),
                    "action": entry.get("release", {}).get("action", "publish"),
                    "status": row["status"],
                    "time": row["published_at"],
                    "publish_queue_uid": row["uid"],
                }
            )
    return deployments


def cancel_release_deployments(conn: sqlite3.Connection, state: SandboxState, release_uid: str) -> None:
    """Cancel the scheduled deployments of a release that is being deleted."""
    conn.execute(
        "UPDATE publish_queue SET status = 'cancelled', updated_at = ? WHERE release_uid = ? AND status = 'scheduled'",
        (now_iso(state), release_uid),
    )


class _DueFirer:
    """The `on_tick` callback of one sandbox: fires what became due when the clock moved."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def __call__(self) -> None:
        fire_due(self.state)


def setup(state: SandboxState) -> None:
    """Create the publish queue's table, and fire scheduled actions when the clock moves."""
    with state.db.transaction() as conn:
        create_tables(conn, _SCHEMA, wipe=("publish_queue",) if state.config.reset else ())
    if not any(isinstance(callback, _DueFirer) for callback in state.on_tick):
        state.on_tick.append(_DueFirer(state))
