"""The demo stack: the same seed builds the same stack, and its publications are consistent."""

from __future__ import annotations

from datetime import UTC, datetime

from cs_mcp.sandbox import seed, store
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState

START = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)


def _seeded(seed_value: int) -> SandboxState:
    state = SandboxState(SandboxConfig(seed=seed_value), Database(":memory:"), SandboxClock(START))
    seed.setup(state)
    return state


def _dump(state: SandboxState) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the sandbox's database, its rows in a fixed order."""
    dump: dict[str, list[tuple[object, ...]]] = {}
    with state.db.read() as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            rows = conn.execute(f"SELECT * FROM {table}")  # noqa: S608 - a name from the database's own catalogue
            dump[table] = sorted((tuple(row) for row in rows), key=repr)
    return dump


def test_the_same_seed_builds_the_same_stack_and_another_seed_another() -> None:
    first, second, other = _seeded(7), _seeded(7), _seeded(8)
    assert _dump(first) == _dump(second)
    assert _dump(first) != _dump(other)
    for state in (first, second, other):
        state.db.close()


def test_the_stack_holds_the_described_site() -> None:
    state = _seeded(7)
    with state.db.read() as conn:
        assert store.master_locale(conn) == "en-us"
        assert store.locale_codes(conn) == ["en-us", "fr-fr"]
        assert store.environment_names(conn) == ["development", "production", "staging"]
        counts = {ct: len(store.entry_uids(conn, ct)) for ct in ("author", "blog_post", "product", "page")}
        assert counts == {"author": 12, "blog_post": 60, "product": 20, "page": 8}
        assert len(store.list_assets(conn)) == 10
        assert store.list_entries(conn, "blog_post", "fr-fr")
        data_types = {f["data_type"] for ct in store.list_content_types(conn) for f in ct["schema"]}
        assert {"text", "number", "boolean", "isodate", "reference", "file", "group", "blocks", "json"} <= data_types
    state.db.close()


def test_every_publication_points_at_a_kept_version() -> None:
    state = _seeded(7)
    with state.db.read() as conn:
        rows = conn.execute("SELECT kind, content_type, uid, locale, version FROM publish_details").fetchall()
        assert len(rows) > 100
        for kind, content_type, uid, locale, version in rows:
            if kind == "entry":
                assert store.get_entry_version(conn, content_type, uid, locale, version) is not None
            else:
                assert store.get_asset_version(conn, uid, version) is not None
    state.db.close()


def test_unique_titles_are_unique_per_locale() -> None:
    state = _seeded(7)
    with state.db.read() as conn:
        for ct in ("author", "blog_post", "product", "page"):
            for locale in ("en-us", "fr-fr"):
                titles = [e["title"] for e in store.list_entries(conn, ct, locale)]
                assert len(titles) == len(set(titles))
    state.db.close()


def test_setup_does_not_seed_twice_and_reset_starts_over() -> None:
    state = _seeded(7)
    before = _dump(state)
    seed.setup(state)
    assert _dump(state) == before
    with state.db.transaction() as conn:
        store.delete_entry(conn, "page", store.entry_uids(conn, "page")[0])
    state.config.reset = True
    seed.setup(state)
    assert _dump(state) == before
    state.db.close()
