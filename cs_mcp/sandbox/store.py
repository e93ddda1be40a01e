"""The sandbox stack's content in SQLite: content types, entries and their versions, assets,
publish details, environments and locales.

Every function takes the `sqlite3.Connection` handed out by `state.db.transaction()` (writes)
or `state.db.read()` (reads), so a caller groups several calls into one transaction and a
failure leaves nothing half written.

Entries and assets are kept as the JSON object Contentstack answers (`uid`, `title`, `locale`,
`_version`, `created_at`, `updated_at`, `created_by`, `updated_by`, `tags`, `ACL` and the
content type's fields). Every saved version is kept in `entry_versions` / `asset_versions`
because the CDA serves the version that was published, not the latest one. Publish details are
kept apart, per environment (by name) and locale, and joined in by the API modules.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from typing import Any, Literal, cast

PublishKind = Literal["entry", "asset"]

# The content type uid Contentstack uses for assets in release items and references.
ASSET_CONTENT_TYPE = "built_io_upload"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS content_types (
    uid TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    schema_json TEXT NOT NULL,
    options_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    content_type TEXT NOT NULL,
    uid TEXT NOT NULL,
    locale TEXT NOT NULL,
    version INTEGER NOT NULL,
    data_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (content_type, uid, locale)
);
CREATE TABLE IF NOT EXISTS entry_versions (
    content_type TEXT NOT NULL,
    uid TEXT NOT NULL,
    locale TEXT NOT NULL,
    version INTEGER NOT NULL,
    data_json TEXT NOT NULL,
    PRIMARY KEY (content_type, uid, locale, version)
);
CREATE TABLE IF NOT EXISTS assets (
    uid TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    data_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS asset_versions (
    uid TEXT NOT NULL,
    version INTEGER NOT NULL,
    data_json TEXT NOT NULL,
    PRIMARY KEY (uid, version)
);
CREATE TABLE IF NOT EXISTS publish_details (
    kind TEXT NOT NULL CHECK (kind IN ('entry', 'asset')),
    content_type TEXT NOT NULL,
    uid TEXT NOT NULL,
    environment TEXT NOT NULL,
    locale TEXT NOT NULL,
    version INTEGER NOT NULL,
    time TEXT NOT NULL,
    user TEXT NOT NULL,
    PRIMARY KEY (kind, content_type, uid, environment, locale)
);
CREATE TABLE IF NOT EXISTS environments (
    name TEXT PRIMARY KEY,
    uid TEXT NOT NULL,
    data_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS locales (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    fallback_locale TEXT,
    is_master INTEGER NOT NULL DEFAULT 0,
    data_json TEXT NOT NULL DEFAULT '{}'
);
"""


def iso(moment: datetime) -> str:
    """A time in Contentstack's format: UTC, milliseconds, a trailing `Z`."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def make_uid(*parts: object) -> str:
    """A Contentstack-looking uid (`blt` and 16 hex digits) derived from `parts`.

    Deterministic, so that the same seed builds the same stack.
    """
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return "blt" + digest[:16]


def load_json(text: str) -> dict[str, Any]:
    """A JSON object as the tables store it."""
    return cast(dict[str, Any], json.loads(text))


def dump_json(value: object) -> str:
    """`value` as the tables store JSON: compact, UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_load = load_json
_dump = dump_json


def _document(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> dict[str, Any] | None:
    """The JSON document (`data_json`) of the row `sql` selects, or None when it selects none."""
    row = conn.execute(sql, args).fetchone()
    return None if row is None else _load(row["data_json"])


def _documents(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """The JSON documents (`data_json`) of the rows `sql` selects, in its order."""
    return [_load(row["data_json"]) for row in conn.execute(sql, args).fetchall()]


def init_schema(conn: sqlite3.Connection) -> None:
    """Create the content tables when they do not exist yet."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def is_empty(conn: sqlite3.Connection) -> bool:
    """True when the stack has no content type, no environment and no locale yet."""
    for table in ("content_types", "environments", "locales"):
        if conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:  # noqa: S608 - fixed table names
            return False
    return True


# The tables that hold the stack's content (what `wipe` empties and a seed fills).
CONTENT_TABLES = (
    "content_types",
    "entries",
    "entry_versions",
    "assets",
    "asset_versions",
    "publish_details",
    "environments",
    "locales",
)


def wipe(conn: sqlite3.Connection) -> None:
    """Delete all content, for `config.reset`."""
    for table in CONTENT_TABLES:
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names


# Content types


def save_content_type(conn: sqlite3.Connection, content_type: dict[str, Any]) -> None:
    """Insert or replace a content type given as Contentstack's JSON object.

    `content_type` needs `uid`, `title`, `schema`, `created_at` and `updated_at`; `description`
    and `options` are optional. The other keys Contentstack answers are rebuilt on read.
    """
    conn.execute(
        "INSERT OR REPLACE INTO content_types (uid, title, description, schema_json, options_json, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            content_type["uid"],
            content_type["title"],
            content_type.get("description", ""),
            _dump(content_type["schema"]),
            _dump(content_type.get("options", {})),
            content_type["created_at"],
            content_type["updated_at"],
        ),
    )


def _content_type_from_row(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "title": row["title"],
        "uid": row["uid"],
        "_version": 1,
        "inbuilt_class": False,
        "schema": json.loads(row["schema_json"]),
        "last_activity": {},
        "maintain_revisions": True,
        "description": row["description"],
        "DEFAULT_ACL": {"others": {"read": False, "create": False}, "management_token": {"read": True}},
        "SYS_ACL": {},
        "options": json.loads(row["options_json"]),
        "abilities": {
            "get_one_object": True,
            "get_all_objects": True,
            "create_object": True,
            "update_object": True,
            "delete_object": True,
            "delete_all_objects": True,
        },
    }


def get_content_type(conn: sqlite3.Connection, uid: str) -> dict[str, Any] | None:
    """The content type `uid` as Contentstack answers it, or None."""
    row = conn.execute("SELECT * FROM content_types WHERE uid = ?", (uid,)).fetchone()
    return None if row is None else _content_type_from_row(row)


def list_content_types(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every content type, ordered by uid."""
    rows = conn.execute("SELECT * FROM content_types ORDER BY uid").fetchall()
    return [_content_type_from_row(row) for row in rows]


def content_type_exists(conn: sqlite3.Connection, uid: str) -> bool:
    """Whether a content type `uid` exists."""
    return conn.execute("SELECT 1 FROM content_types WHERE uid = ?", (uid,)).fetchone() is not None


# Entries


def save_entry(conn: sqlite3.Connection, content_type: str, entry: dict[str, Any]) -> None:
    """Store `entry` as the latest version of its (uid, locale) and keep that version.

    `entry` is the whole JSON object with `uid`, `locale`, `_version`, `created_at` and
    `updated_at`; the caller decides the version number (`latest_entry_version() + 1`).
    Raises `sqlite3.IntegrityError` when that version already exists.
    """
    uid, locale, version = entry["uid"], entry["locale"], int(entry["_version"])
    data = _dump(entry)
    conn.execute(
        "INSERT INTO entry_versions (content_type, uid, locale, version, data_json) VALUES (?, ?, ?, ?, ?)",
        (content_type, uid, locale, version, data),
    )
    conn.execute(
        "INSERT OR REPLACE INTO entries (content_type, uid, locale, version, data_json, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (content_type, uid, locale, version, data, entry["created_at"], entry["updated_at"]),
    )


def get_entry(conn: sqlite3.Connection, content_type: str, uid: str, locale: str) -> dict[str, Any] | None:
    """The latest version of an entry in exactly `locale` (no fallback), or None."""
    return _document(
        conn,
        "SELECT data_json FROM entries WHERE content_type = ? AND uid = ? AND locale = ?",
        (content_type, uid, locale),
    )


def get_entry_version(
    conn: sqlite3.Connection, content_type: str, uid: str, locale: str, version: int
) -> dict[str, Any] | None:
    """Version `version` of an entry in `locale`, or None."""
    return _document(
        conn,
        "SELECT data_json FROM entry_versions WHERE content_type = ? AND uid = ? AND locale = ? AND version = ?",
        (content_type, uid, locale, version),
    )


def entry_locales(conn: sqlite3.Connection, content_type: str, uid: str) -> list[str]:
    """The locales an entry has a (localized or master) version in, sorted."""
    rows = conn.execute(
        "SELECT locale FROM entries WHERE content_type = ? AND uid = ? ORDER BY locale", (content_type, uid)
    ).fetchall()
    return [row["locale"] for row in rows]


def latest_entry_version(conn: sqlite3.Connection, content_type: str, uid: str, locale: str) -> int | None:
    """The latest `_version` of an entry in `locale`, or None when it has none there."""
    row = conn.execute(
        "SELECT version FROM entries WHERE content_type = ? AND uid = ? AND locale = ?", (content_type, uid, locale)
    ).fetchone()
    return None if row is None else int(row["version"])


def entry_uids(conn: sqlite3.Connection, content_type: str) -> list[str]:
    """The uids of every entry of a content type, in any locale, in creation order."""
    rows = conn.execute(
        "SELECT uid, MIN(created_at) AS first FROM entries WHERE content_type = ? GROUP BY uid ORDER BY first, uid",
        (content_type,),
    ).fetchall()
    return [row["uid"] for row in rows]


def list_entries(conn: sqlite3.Connection, content_type: str, locale: str) -> list[dict[str, Any]]:
    """The latest version of every entry of a content type in exactly `locale`, oldest first."""
    return _documents(
        conn,
        "SELECT data_json FROM entries WHERE content_type = ? AND locale = ? ORDER BY created_at, uid",
        (content_type, locale),
    )


def find_entry_content_type(conn: sqlite3.Connection, uid: str) -> str | None:
    """The content type of the entry `uid` (uids are unique in a stack), or None."""
    row = conn.execute("SELECT content_type FROM entries WHERE uid = ? LIMIT 1", (uid,)).fetchone()
    return None if row is None else str(row["content_type"])


def delete_entry(conn: sqlite3.Connection, content_type: str, uid: str, locale: str | None = None) -> int:
    """Delete an entry in one locale, or in every locale when `locale` is None.

    Its versions and publish details go with it. Answers how many locale versions were removed.
    """
    where = "content_type = ? AND uid = ?"
    args: tuple[str, ...] = (content_type, uid)
    if locale is not None:
        where += " AND locale = ?"
        args = (*args, locale)
    removed = conn.execute(f"DELETE FROM entries WHERE {where}", args).rowcount  # noqa: S608 - fixed clauses
    conn.execute(f"DELETE FROM entry_versions WHERE {where}", args)  # noqa: S608 - fixed clauses
    conn.execute(f"DELETE FROM publish_details WHERE kind = 'entry' AND {where}", args)  # noqa: S608 - fixed clauses
    return removed


# Assets


def save_asset(conn: sqlite3.Connection, asset: dict[str, Any]) -> None:
    """Store `asset` (with `uid`, `_version`, `created_at`, `updated_at`) as its latest version.

    Raises `sqlite3.IntegrityError` when that version already exists.
    """
    uid, version = asset["uid"], int(asset["_version"])
    data = _dump(asset)
    conn.execute("INSERT INTO asset_versions (uid, version, data_json) VALUES (?, ?, ?)", (uid, version, data))
    conn.execute(
        "INSERT OR REPLACE INTO assets (uid, version, data_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        (uid, version, data, asset["created_at"], asset["updated_at"]),
    )


def get_asset(conn: sqlite3.Connection, uid: str) -> dict[str, Any] | None:
    """The latest version of asset `uid`, or None."""
    return _document(conn, "SELECT data_json FROM assets WHERE uid = ?", (uid,))


def get_asset_version(conn: sqlite3.Connection, uid: str, version: int) -> dict[str, Any] | None:
    """Version `version` of asset `uid`, or None."""
    return _document(conn, "SELECT data_json FROM asset_versions WHERE uid = ? AND version = ?", (uid, version))


def list_assets(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The latest version of every asset, oldest first."""
    return _documents(conn, "SELECT data_json FROM assets ORDER BY created_at, uid")


# Environments and locales


def save_environment(conn: sqlite3.Connection, environment: dict[str, Any]) -> None:
    """Insert or replace an environment given as Contentstack's JSON object (`name`, `uid`, ...)."""
    conn.execute(
        "INSERT OR REPLACE INTO environments (name, uid, data_json) VALUES (?, ?, ?)",
        (environment["name"], environment["uid"], _dump(environment)),
    )


def get_environment(conn: sqlite3.Connection, name: str) -> dict[str, Any] | None:
    """The environment called `name`, or None."""
    return _document(conn, "SELECT data_json FROM environments WHERE name = ?", (name,))


def list_environments(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every environment, by name."""
    return _documents(conn, "SELECT data_json FROM environments ORDER BY name")


def environment_names(conn: sqlite3.Connection) -> list[str]:
    """The names of every environment, sorted."""
    return [row["name"] for row in conn.execute("SELECT name FROM environments ORDER BY name").fetchall()]


def environment_uid(conn: sqlite3.Connection, name: str) -> str | None:
    """The uid of the environment called `name`, or None."""
    row = conn.execute("SELECT uid FROM environments WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row["uid"])


def environment_name_of(conn: sqlite3.Connection, name_or_uid: str) -> str | None:
    """The name of an environment given by name or by uid (both are accepted by Contentstack), or None."""
    row = conn.execute(
        "SELECT name FROM environments WHERE name = ? OR uid = ? LIMIT 1", (name_or_uid, name_or_uid)
    ).fetchone()
    return None if row is None else str(row["name"])


def rename_environment(conn: sqlite3.Connection, old: str, new: str) -> None:
    """Moves the environment `old` and what was published to it to the name `new`."""
    conn.execute("DELETE FROM environments WHERE name = ?", (old,))
    conn.execute("UPDATE publish_details SET environment = ? WHERE environment = ?", (new, old))


def delete_environment(conn: sqlite3.Connection, name: str) -> None:
    """Deletes the environment `name`; what was published there is published there no more."""
    conn.execute("DELETE FROM environments WHERE name = ?", (name,))
    conn.execute("DELETE FROM publish_details WHERE environment = ?", (name,))


def save_locale(conn: sqlite3.Connection, locale: dict[str, Any], *, is_master: bool = False) -> None:
    """Insert or replace a locale given as Contentstack's JSON object (`code`, `name`, `fallback_locale`, ...)."""
    conn.execute(
        "INSERT OR REPLACE INTO locales (code, name, fallback_locale, is_master, data_json) VALUES (?, ?, ?, ?, ?)",
        (locale["code"], locale["name"], locale.get("fallback_locale"), int(is_master), _dump(locale)),
    )


def get_locale(conn: sqlite3.Connection, code: str) -> dict[str, Any] | None:
    """The locale `code`, or None."""
    return _document(conn, "SELECT data_json FROM locales WHERE code = ?", (code,))


def list_locales(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every locale, the master locale first."""
    return _documents(conn, "SELECT data_json FROM locales ORDER BY is_master DESC, code")


def delete_locale(conn: sqlite3.Connection, code: str) -> None:
    """Deletes the locale `code` with the entry versions and publish details in it; locales
    that fell back to it fall back to the master locale."""
    for table in ("entries", "entry_versions", "publish_details"):
        conn.execute(f"DELETE FROM {table} WHERE locale = ?", (code,))  # noqa: S608 - fixed table names
    conn.execute("DELETE FROM locales WHERE code = ?", (code,))
    master = master_locale(conn)
    for row in conn.execute("SELECT code, data_json FROM locales WHERE fallback_locale = ?", (code,)).fetchall():
        save_locale(conn, _load(row["data_json"]) | {"fallback_locale": master}, is_master=row["code"] == master)


def locale_codes(conn: sqlite3.Connection) -> list[str]:
    """Every locale code, the master locale first."""
    rows = conn.execute("SELECT code FROM locales ORDER BY is_master DESC, code").fetchall()
    return [row["code"] for row in rows]


def master_locale(conn: sqlite3.Connection) -> str:
    """The stack's master locale code (`en-us` when no locale is marked master)."""
    row = conn.execute("SELECT code FROM locales WHERE is_master = 1 LIMIT 1").fetchone()
    return "en-us" if row is None else str(row["code"])


def fallback_chain(conn: sqlite3.Connection, locale: str) -> list[str]:
    """`locale`, then its fallback locales in order, ending at the master locale, without repeats."""
    chain: list[str] = []
    current: str | None = locale
    while current is not None and current not in chain:
        chain.append(current)
        row = conn.execute("SELECT fallback_locale FROM locales WHERE code = ?", (current,)).fetchone()
        current = None if row is None else row["fallback_locale"]
    master = master_locale(conn)
    if master not in chain:
        chain.append(master)
    return chain


# Publish details


def set_published(
    conn: sqlite3.Connection,
    kind: PublishKind,
    content_type: str,
    uid: str,
    environment: str,
    locale: str,
    version: int,
    time_iso: str,
    user: str,
) -> None:
    """Record that `version` of an entry or asset is live in `environment` (a name) and `locale`.

    `content_type` is `''` for assets. Replaces what was published there before.
    """
    conn.execute(
        "INSERT OR REPLACE INTO publish_details (kind, content_type, uid, environment, locale, version, time, user)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (kind, content_type, uid, environment, locale, version, time_iso, user),
    )


def clear_published(
    conn: sqlite3.Connection, kind: PublishKind, content_type: str, uid: str, environment: str, locale: str
) -> None:
    """Record that nothing of an entry or asset is live in `environment` and `locale` any more."""
    conn.execute(
        "DELETE FROM publish_details"
        " WHERE kind = ? AND content_type = ? AND uid = ? AND environment = ? AND locale = ?",
        (kind, content_type, uid, environment, locale),
    )


def publish_details(conn: sqlite3.Connection, kind: PublishKind, content_type: str, uid: str) -> list[dict[str, Any]]:
    """Where an entry or asset is published: `{environment (name), locale, version, time, user}` each."""
    rows = conn.execute(
        "SELECT environment, locale, version, time, user FROM publish_details"
        " WHERE kind = ? AND content_type = ? AND uid = ? ORDER BY environment, locale",
        (kind, content_type, uid),
    ).fetchall()
    return [
        {
            "environment": row["environment"],
            "locale": row["locale"],
            "version": int(row["version"]),
            "time": row["time"],
            "user": row["user"],
        }
        for row in rows
    ]


def published_version(
    conn: sqlite3.Connection, kind: PublishKind, content_type: str, uid: str, environment: str, locale: str
) -> int | None:
    """The version of an entry or asset live in `environment` and `locale`, or None."""
    row = conn.execute(
        "SELECT version FROM publish_details"
        " WHERE kind = ? AND content_type = ? AND uid = ? AND environment = ? AND locale = ?",
        (kind, content_type, uid, environment, locale),
    ).fetchone()
    return None if row is None else int(row["version"])


def published_uids(
    conn: sqlite3.Connection, kind: PublishKind, content_type: str, environment: str, locale: str
) -> list[tuple[str, int]]:
    """(uid, version) of everything of a kind and content type live in `environment` and `locale`."""
    rows = conn.execute(
        "SELECT uid, version FROM publish_details"
        " WHERE kind = ? AND content_type = ? AND environment = ? AND locale = ? ORDER BY uid",
        (kind, content_type, environment, locale),
    ).fetchall()
    return [(str(row["uid"]), int(row["version"])) for row in rows]


def delete_asset(conn: sqlite3.Connection, uid: str) -> int:
    """Delete an asset (or folder) with its versions and publish details; answers how many were removed."""
    removed = conn.execute("DELETE FROM assets WHERE uid = ?", (uid,)).rowcount
    conn.execute("DELETE FROM asset_versions WHERE uid = ?", (uid,))
    conn.execute("DELETE FROM publish_details WHERE kind = 'asset' AND uid = ?", (uid,))
    return removed


def delete_content_type(conn: sqlite3.Connection, uid: str) -> None:
    """Delete a content type with every entry of it, their versions and publish details."""
    conn.execute("DELETE FROM content_types WHERE uid = ?", (uid,))
    conn.execute("DELETE FROM entries WHERE content_type = ?", (uid,))
    conn.execute("DELETE FROM entry_versions WHERE content_type = ?", (uid,))
    conn.execute("DELETE FROM publish_details WHERE kind = 'entry' AND content_type = ?", (uid,))


def drop_entry_fields(conn: sqlite3.Connection, content_type: str, fields: set[str]) -> None:
    """Remove the top-level `fields` from the latest version of every entry of a content type
    (a field taken out of the schema takes its values with it)."""
    rows = conn.execute("SELECT uid, locale, data_json FROM entries WHERE content_type = ?", (content_type,)).fetchall()
    for row in rows:
        data = _load(row["data_json"])
        if fields & set(data):
            kept = {k: v for k, v in data.items() if k not in fields}
            conn.execute(
                "UPDATE entries SET data_json = ? WHERE content_type = ? AND uid = ? AND locale = ?",
                (_dump(kept), content_type, row["uid"], row["locale"]),
            )


def all_latest_entries(conn: sqlite3.Connection) -> list[tuple[str, dict[str, Any]]]:
    """(content type, entry) for the latest version of every entry in every locale."""
    rows = conn.execute("SELECT content_type, data_json FROM entries ORDER BY content_type, uid, locale").fetchall()
    return [(str(row["content_type"]), _load(row["data_json"])) for row in rows]
