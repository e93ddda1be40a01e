"""The sandbox's SQLite content store: versions, locales, publish details, transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from cs_mcp.sandbox import store
from cs_mcp.sandbox.state import Database


@pytest.fixture
def db() -> Generator[Database]:
    database = Database(":memory:")
    with database.transaction() as conn:
        store.init_schema(conn)
        store.save_locale(conn, {"code": "en-us", "name": "English", "fallback_locale": None}, is_master=True)
        store.save_locale(conn, {"code": "fr-fr", "name": "French", "fallback_locale": "en-us"})
        store.save_locale(conn, {"code": "fr-ca", "name": "French Canada", "fallback_locale": "fr-fr"})
        store.save_environment(conn, {"name": "staging", "uid": "bltstaging"})
    yield database
    database.close()


def _entry(uid: str, locale: str, version: int, title: str) -> dict[str, Any]:
    return {
        "uid": uid,
        "locale": locale,
        "_version": version,
        "title": title,
        "created_at": "2024-01-01T00:00:00.000Z",
        "updated_at": f"2024-01-0{version}T00:00:00.000Z",
    }


def test_every_saved_entry_version_stays_readable_while_the_latest_is_served(db: Database) -> None:
    with db.transaction() as conn:
        store.save_entry(conn, "blog_post", _entry("blt1", "en-us", 1, "first"))
        store.save_entry(conn, "blog_post", _entry("blt1", "en-us", 2, "second"))
    with db.read() as conn:
        latest = store.get_entry(conn, "blog_post", "blt1", "en-us")
        first = store.get_entry_version(conn, "blog_post", "blt1", "en-us", 1)
        assert latest is not None
        assert latest["title"] == "second"
        assert first is not None
        assert first["title"] == "first"
        assert store.latest_entry_version(conn, "blog_post", "blt1", "en-us") == 2
        assert store.get_entry(conn, "blog_post", "blt1", "fr-fr") is None
        assert store.find_entry_content_type(conn, "blt1") == "blog_post"


def test_saving_a_version_twice_is_refused(db: Database) -> None:
    with db.transaction() as conn:
        store.save_entry(conn, "blog_post", _entry("blt1", "en-us", 1, "first"))
    with pytest.raises(sqlite3.IntegrityError), db.transaction() as conn:
        store.save_entry(conn, "blog_post", _entry("blt1", "en-us", 1, "again"))


def test_a_failed_transaction_leaves_nothing_behind(db: Database) -> None:
    def write_half_then_crash() -> None:
        with db.transaction() as conn:
            store.save_entry(conn, "blog_post", _entry("blt2", "en-us", 1, "half"))
            raise RuntimeError("crash in the middle of a write")

    with pytest.raises(RuntimeError):
        write_half_then_crash()
    with db.read() as conn:
        assert store.get_entry(conn, "blog_post", "blt2", "en-us") is None
        assert store.get_entry_version(conn, "blog_post", "blt2", "en-us", 1) is None


def test_entry_locales_and_deleting_one_locale_keep_the_others(db: Database) -> None:
    with db.transaction() as conn:
        store.save_entry(conn, "blog_post", _entry("blt1", "en-us", 1, "hello"))
        store.save_entry(conn, "blog_post", _entry("blt1", "fr-fr", 1, "bonjour"))
        store.set_published(conn, "entry", "blog_post", "blt1", "staging", "fr-fr", 1, "t", "u")
    with db.transaction() as conn:
        assert store.entry_locales(conn, "blog_post", "blt1") == ["en-us", "fr-fr"]
        assert store.delete_entry(conn, "blog_post", "blt1", "fr-fr") == 1
    with db.read() as conn:
        assert store.entry_locales(conn, "blog_post", "blt1") == ["en-us"]
        assert store.publish_details(conn, "entry", "blog_post", "blt1") == []


def test_publish_details_record_one_version_per_environment_and_locale(db: Database) -> None:
    with db.transaction() as conn:
        store.set_published(conn, "entry", "blog_post", "blt1", "staging", "en-us", 1, "t1", "u")
        store.set_published(conn, "entry", "blog_post", "blt1", "staging", "en-us", 3, "t2", "u")
        store.set_published(conn, "asset", "", "bltasset", "staging", "en-us", 2, "t3", "u")
    with db.read() as conn:
        assert store.published_version(conn, "entry", "blog_post", "blt1", "staging", "en-us") == 3
        assert store.published_version(conn, "entry", "blog_post", "blt1", "staging", "fr-fr") is None
        assert store.publish_details(conn, "entry", "blog_post", "blt1") == [
            {"environment": "staging", "locale": "en-us", "version": 3, "time": "t2", "user": "u"}
        ]
        assert store.published_uids(conn, "asset", "", "staging", "en-us") == [("bltasset", 2)]
    with db.transaction() as conn:
        store.clear_published(conn, "entry", "blog_post", "blt1", "staging", "en-us")
    with db.read() as conn:
        assert store.published_version(conn, "entry", "blog_post", "blt1", "staging", "en-us") is None


def test_locales_know_the_master_and_the_fallback_chain(db: Database) -> None:
    with db.read() as conn:
        assert store.master_locale(conn) == "en-us"
        assert store.locale_codes(conn) == ["en-us", "fr-ca", "fr-fr"]
        assert store.fallback_chain(conn, "fr-ca") == ["fr-ca", "fr-fr", "en-us"]
        assert store.environment_names(conn) == ["staging"]
        assert store.environment_name_of(conn, "bltstaging") == "staging"


def test_a_file_database_keeps_committed_writes_across_a_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "stack.db")
    first = Database(path)
    with first.transaction() as conn:
        store.init_schema(conn)
        store.save_asset(conn, {"uid": "blta", "_version": 1, "created_at": "a", "updated_at": "a", "title": "x"})
    first.close()
    second = Database(path)
    with second.read() as conn:
        assert store.get_asset(conn, "blta") == {
            "uid": "blta",
            "_version": 1,
            "created_at": "a",
            "updated_at": "a",
            "title": "x",
        }
    second.close()
