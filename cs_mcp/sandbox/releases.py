"""The sandbox's releases: bundles of entry and asset versions deployed to environments together.

Routes, mounted under `/cma/v3` beside `cma.py`'s:

- `GET|POST /releases`, `GET|PUT|DELETE /releases/{uid}`, `POST /releases/{uid}/clone`
- `GET /releases/{uid}/items`, `POST /releases/{uid}/item`, `POST|DELETE /releases/{uid}/items`
  (at most 25 items per request; `DELETE ...?all=true` empties the release),
  `PUT /releases/{uid}/update_items` (`{"items": ["$all"]}` moves items to their latest versions)
- `POST /releases/{uid}/deploy`: one publish queue row of type `release` (see `queue.py`),
  applied at once or when its `scheduled_at` comes.

Rules, with the choices Contentstack's documentation leaves open written down:
- An item is `{uid, version, locale, content_type_uid, action}`; its entry (or asset, with
  `content_type_uid: "built_io_upload"`) must exist in that version and locale, and an item
  that is already in the release (same uid, locale and content type) is refused.
- A locked release refuses every edit (items added, removed or updated, its deletion, a change
  of its fields) with 422 `LOCKED_CODE`; the one change it takes is being unlocked. Deploying and
  cloning a locked release are allowed: locking is how a release is frozen before a deploy.
- Deploy action `publish` applies each item's own action; `unpublish` unpublishes every item.
  Each item goes to every environment, in the deploy's `locales` when given, else its own
  locale; an entry version in another locale than the item's is that locale's latest. A target
  locale the entry has no version in refuses the deploy, naming the items.
- The release's `status` lists its deployments that happened or are scheduled.
"""

from __future__ import annotations

import random
import secrets
import sqlite3
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from cs_mcp.sandbox import endpoint, queue, store
from cs_mcp.sandbox.auth import SANDBOX_USER_UID, acting_user
from cs_mcp.sandbox.endpoint import Endpoint, RequestBody, bad_request, invalid, not_found, now_iso, parse_body
from cs_mcp.sandbox.queue import Operation
from cs_mcp.sandbox.state import SandboxState, create_tables

MAX_ITEMS_PER_REQUEST = 25
# Contentstack documents no code for a locked release; the sandbox answers this one, beside
# `errors.locked`, so that a client can tell a lock from other refusals.
LOCKED_CODE = 161

_SCHEMA = """
CREATE TABLE IF NOT EXISTS releases (
    uid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    locked INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS release_items (
    release_uid TEXT NOT NULL,
    uid TEXT NOT NULL,
    content_type_uid TEXT NOT NULL,
    locale TEXT NOT NULL,
    version INTEGER NOT NULL,
    action TEXT NOT NULL,
    title TEXT NOT NULL,
    PRIMARY KEY (release_uid, content_type_uid, uid, locale)
);
"""


# Request bodies


class ReleaseFields(RequestBody):
    name: str | None = None
    description: str | None = None
    locked: bool | None = None
    archived: bool | None = None


class ItemRef(RequestBody):
    uid: str
    content_type_uid: str
    locale: str | None = None
    version: int | None = None
    action: Literal["publish", "unpublish"] = "publish"


class ReleaseBody(RequestBody):
    release: ReleaseFields
    items: list[ItemRef] = Field(default_factory=lambda: [])


class OneItemBody(RequestBody):
    item: ItemRef


class ItemsBody(RequestBody):
    items: list[ItemRef]


class UpdateItemsBody(RequestBody):
    items: list[ItemRef | Literal["$all"]]


class DeployFields(RequestBody):
    environments: list[str] = Field(default_factory=lambda: [])
    locales: list[str] = Field(default_factory=lambda: [])
    action: Literal["publish", "unpublish"] = "publish"
    scheduled_at: str | None = None


class DeployBody(RequestBody):
    release: DeployFields


# Reading and writing releases


def _release_row(conn: sqlite3.Connection, uid: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM releases WHERE uid = ?", (uid,)).fetchone()
    if row is None:
        raise not_found("release")
    return row


def _items(conn: sqlite3.Connection, release_uid: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM release_items WHERE release_uid = ? ORDER BY rowid", (release_uid,)).fetchall()
    return [_item_json(row) for row in rows]


def _item_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "uid": row["uid"],
        "version": int(row["version"]),
        "action": row["action"],
        "content_type_uid": row["content_type_uid"],
        "locale": row["locale"],
        "title": row["title"],
    }


def _release_json(
    state: SandboxState, conn: sqlite3.Connection, row: sqlite3.Row, *, items: bool = False, items_count: bool = False
) -> dict[str, Any]:
    """A release in the shape of the management SDK's release fixtures."""
    answer: dict[str, Any] = {
        "name": row["name"],
        "description": row["description"],
        "locked": bool(row["locked"]),
        "archived": bool(row["archived"]),
        "uid": row["uid"],
        "created_by": row["created_by"],
        "updated_by": row["updated_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "_version": int(row["version"]),
        "status": queue.release_deployments(conn, row["uid"]),
        "_deploy_latest": False,
        "_branch": state.credentials.branch,
    }
    if items:
        answer["items"] = _items(conn, row["uid"])
    if items_count:
        counted = conn.execute("SELECT COUNT(*) FROM release_items WHERE release_uid = ?", (row["uid"],)).fetchone()
        answer["items_count"] = int(counted[0])
    return answer


def _touch(conn: sqlite3.Connection, state: SandboxState, uid: str, user: str) -> None:
    conn.execute(
        "UPDATE releases SET updated_at = ?, updated_by = ?, version = version + 1 WHERE uid = ?",
        (now_iso(state), user, uid),
    )


def _refuse_if_locked(row: sqlite3.Row) -> None:
    if row["locked"]:
        raise invalid(
            f"The release '{row['name']}' is locked. Unlock it to make changes.",
            {"locked": ["the release is locked."]},
            code=LOCKED_CODE,
        )


def _insert_release(
    conn: sqlite3.Connection, uid: str, name: str, description: str, when: str, user: str, *, locked: bool = False
) -> None:
    conn.execute(
        "INSERT INTO releases (uid, name, description, locked, archived, version, created_at, updated_at, created_by,"
        " updated_by) VALUES (?, ?, ?, ?, 0, 1, ?, ?, ?, ?)",
        (uid, name, description, int(locked), when, when, user, user),
    )


def _check_name(name: str | None) -> str:
    if name is None or not name.strip():
        raise invalid("The release could not be saved. Please enter valid data.", {"name": ["can't be blank."]})
    return name.strip()


# Items


def _resolve_item(conn: sqlite3.Connection, item: ItemRef) -> tuple[dict[str, Any] | None, str | None]:
    """The item to store (with its version and title) or the reason it cannot be in a release."""
    locale = item.locale or store.master_locale(conn)
    if item.content_type_uid == store.ASSET_CONTENT_TYPE:
        if locale not in store.locale_codes(conn):
            return None, f"locale '{locale}' does not exist"
        asset = store.get_asset(conn, item.uid)
        if asset is None:
            return None, "asset does not exist"
        version = item.version if item.version is not None else int(asset["_version"])
        data = store.get_asset_version(conn, item.uid, version)
        if data is None:
            return None, f"asset version {version} does not exist"
        title = str(data.get("title") or data.get("filename") or item.uid)
    else:
        if not store.content_type_exists(conn, item.content_type_uid):
            return None, f"content type '{item.content_type_uid}' does not exist"
        latest = store.latest_entry_version(conn, item.content_type_uid, item.uid, locale)
        if latest is None:
            return None, f"entry does not exist in '{locale}'"
        version = item.version if item.version is not None else latest
        data = store.get_entry_version(conn, item.content_type_uid, item.uid, locale, version)
        if data is None:
            return None, f"entry version {version} does not exist in '{locale}'"
        title = str(data.get("title") or item.uid)
    return {
        "uid": item.uid,
        "version": version,
        "action": item.action,
        "content_type_uid": item.content_type_uid,
        "locale": locale,
        "title": title,
    }, None


def _item_label(index: int, item: ItemRef) -> str:
    return f"item {index + 1} ({item.content_type_uid}/{item.uid}/{item.locale or 'master locale'})"


def _check_batch(items: Sequence[ItemRef]) -> None:
    if not items:
        raise invalid("Please select at least one item.", {"items": ["can't be blank."]})
    if len(items) > MAX_ITEMS_PER_REQUEST:
        raise invalid(
            f"A request may add or remove at most {MAX_ITEMS_PER_REQUEST} items.",
            {"items": [f"at most {MAX_ITEMS_PER_REQUEST} allowed, {len(items)} given."]},
        )


def _add_items(conn: sqlite3.Connection, release_uid: str, items: Sequence[ItemRef]) -> None:
    """Add every item or, when any cannot be added, none (the refusal names each problem)."""
    _check_batch(items)
    resolved: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for index, item in enumerate(items):
        found, problem = _resolve_item(conn, item)
        if found is None:
            problems.append(f"{_item_label(index, item)}: {problem}.")
            continue
        key = (found["content_type_uid"], found["uid"], found["locale"])
        already = conn.execute(
            "SELECT 1 FROM release_items WHERE release_uid = ? AND content_type_uid = ? AND uid = ? AND locale = ?",
            (release_uid, *key),
        ).fetchone()
        if already is not None or key in seen:
            problems.append(f"{_item_label(index, item)}: is already in the release.")
            continue
        seen.add(key)
        resolved.append(found)
    if problems:
        raise invalid("Some items could not be added to the release.", {"items": problems})
    for found in resolved:
        conn.execute(
            "INSERT INTO release_items (release_uid, uid, content_type_uid, locale, version, action, title)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                release_uid,
                found["uid"],
                found["content_type_uid"],
                found["locale"],
                found["version"],
                found["action"],
                found["title"],
            ),
        )


def _remove_items(conn: sqlite3.Connection, release_uid: str, items: Sequence[ItemRef]) -> None:
    """Remove every item or, when any is not in the release, none."""
    _check_batch(items)
    master = store.master_locale(conn)
    missing: list[str] = []
    for index, item in enumerate(items):
        key = (release_uid, item.content_type_uid, item.uid, item.locale or master)
        found = conn.execute(
            "SELECT 1 FROM release_items WHERE release_uid = ? AND content_type_uid = ? AND uid = ? AND locale = ?", key
        ).fetchone()
        if found is None:
            missing.append(f"{_item_label(index, item)}: is not in the release.")
    if missing:
        raise invalid("Some items are not in the release.", {"items": missing})
    for item in items:
        conn.execute(
            "DELETE FROM release_items WHERE release_uid = ? AND content_type_uid = ? AND uid = ? AND locale = ?",
            (release_uid, item.content_type_uid, item.uid, item.locale or master),
        )


def _latest_version(conn: sqlite3.Connection, row: sqlite3.Row) -> int | None:
    if row["content_type_uid"] == store.ASSET_CONTENT_TYPE:
        asset = store.get_asset(conn, row["uid"])
        return None if asset is None else int(asset["_version"])
    return store.latest_entry_version(conn, row["content_type_uid"], row["uid"], row["locale"])


def _update_items(conn: sqlite3.Connection, release_uid: str, items: Sequence[ItemRef | Literal["$all"]]) -> None:
    """Move the named items (or every item, for "$all") to their latest versions.

    An item whose entry or asset is gone keeps its version (a deploy then reports it).
    """
    if not items:
        raise invalid("Please select the items to update.", {"items": ["can't be blank."]})
    rows = conn.execute("SELECT * FROM release_items WHERE release_uid = ?", (release_uid,)).fetchall()
    if "$all" in items:
        chosen = list(rows)
    else:
        master = store.master_locale(conn)
        wanted = {
            (item.content_type_uid, item.uid, item.locale or master) for item in items if isinstance(item, ItemRef)
        }
        chosen = [row for row in rows if (row["content_type_uid"], row["uid"], row["locale"]) in wanted]
        if len(chosen) != len(wanted):
            raise invalid("Some items are not in the release.", {"items": ["name only items of this release."]})
    for row in chosen:
        latest = _latest_version(conn, row)
        if latest is None:
            continue
        if row["content_type_uid"] == store.ASSET_CONTENT_TYPE:
            data = store.get_asset_version(conn, row["uid"], latest) or {}
            title = data.get("title") or data.get("filename") or row["uid"]
        else:
            data = store.get_entry_version(conn, row["content_type_uid"], row["uid"], row["locale"], latest) or {}
            title = data.get("title") or row["uid"]
        conn.execute(
            "UPDATE release_items SET version = ?, title = ?"
            " WHERE release_uid = ? AND content_type_uid = ? AND uid = ? AND locale = ?",
            (latest, str(title), release_uid, row["content_type_uid"], row["uid"], row["locale"]),
        )


# Deploy


def _deploy_operations(
    conn: sqlite3.Connection,
    items: Sequence[dict[str, Any]],
    environments: Sequence[str],
    locales: Sequence[str] | None,
    action: queue.Action,
) -> list[Operation]:
    """The publish operations of a deploy. Raises RequestRefused naming items with nothing to deploy."""
    operations: list[Operation] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        is_asset = item["content_type_uid"] == store.ASSET_CONTENT_TYPE
        item_action: queue.Action = "unpublish" if action == "unpublish" else item["action"]
        for locale in locales or [item["locale"]]:
            version: int | None
            if locale == item["locale"] or is_asset:
                version = int(item["version"])
            else:
                version = store.latest_entry_version(conn, item["content_type_uid"], item["uid"], locale)
            if version is None:
                problems.append(
                    f"item {index + 1} ({item['content_type_uid']}/{item['uid']}): no version in '{locale}'."
                )
                continue
            operations.append(
                Operation(
                    item_action,
                    "asset" if is_asset else "entry",
                    "" if is_asset else item["content_type_uid"],
                    item["uid"],
                    locale,
                    version,
                    tuple(environments),
                )
            )
    if problems:
        raise invalid("The release cannot be deployed to these locales.", {"items": problems})
    return operations


# Handlers


def _list_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        skip, limit, include_count = endpoint.page_params(request)
        with_items_count = endpoint.flag(request, "include_items_count")
        with state.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM releases ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?", (limit, skip)
            ).fetchall()
            answer: dict[str, Any] = {
                "releases": [_release_json(state, conn, row, items_count=with_items_count) for row in rows]
            }
            if include_count:
                answer["count"] = int(conn.execute("SELECT COUNT(*) FROM releases").fetchone()[0])
        return JSONResponse(answer)

    return handler


def _create_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        body = await parse_body(request, ReleaseBody)
        name = _check_name(body.release.name)
        user = acting_user(request)
        uid = "blt" + secrets.token_hex(8)
        with state.db.transaction() as conn:
            _insert_release(conn, uid, name, body.release.description or "", now_iso(state), user)
            if body.items:
                _add_items(conn, uid, body.items)
            # Items are added before the lock: a release created locked still gets them.
            if body.release.locked:
                conn.execute("UPDATE releases SET locked = 1 WHERE uid = ?", (uid,))
            answer = _release_json(state, conn, _release_row(conn, uid), items=bool(body.items))
        return JSONResponse({"notice": "Release created successfully.", "release": answer}, status_code=201)

    return handler


def _get_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        with state.db.read() as conn:
            row = _release_row(conn, request.path_params["uid"])
            answer = _release_json(state, conn, row, items=True, items_count=True)
        return JSONResponse({"release": answer})

    return handler


def _update_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        body = await parse_body(request, ReleaseBody)
        fields = body.release
        uid = request.path_params["uid"]
        with state.db.transaction() as conn:
            row = _release_row(conn, uid)
            if fields.locked is not False:
                _refuse_if_locked(row)
            name = _check_name(fields.name) if fields.name is not None else row["name"]
            conn.execute(
                "UPDATE releases SET name = ?, description = ?, locked = ?, archived = ? WHERE uid = ?",
                (
                    name,
                    fields.description if fields.description is not None else row["description"],
                    int(fields.locked) if fields.locked is not None else row["locked"],
                    int(fields.archived) if fields.archived is not None else row["archived"],
                    uid,
                ),
            )
            _touch(conn, state, uid, acting_user(request))
            answer = _release_json(state, conn, _release_row(conn, uid))
        return JSONResponse({"notice": "Release updated successfully.", "release": answer})

    return handler


def _delete_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        uid = request.path_params["uid"]
        with state.db.transaction() as conn:
            _refuse_if_locked(_release_row(conn, uid))
            conn.execute("DELETE FROM release_items WHERE release_uid = ?", (uid,))
            conn.execute("DELETE FROM releases WHERE uid = ?", (uid,))
            queue.cancel_release_deployments(conn, state, uid)
        return JSONResponse({"notice": "Release deleted successfully."})

    return handler


def _items_list_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        skip, limit, include_count = endpoint.page_params(request)
        uid = request.path_params["uid"]
        with state.db.read() as conn:
            _release_row(conn, uid)
            rows = conn.execute(
                "SELECT * FROM release_items WHERE release_uid = ? ORDER BY rowid LIMIT ? OFFSET ?", (uid, limit, skip)
            ).fetchall()
            answer: dict[str, Any] = {"items": [_item_json(row) for row in rows]}
            if include_count:
                counted = conn.execute("SELECT COUNT(*) FROM release_items WHERE release_uid = ?", (uid,)).fetchone()
                answer["count"] = int(counted[0])
        return JSONResponse(answer)

    return handler


def _edit_items_handler(state: SandboxState, edit: Literal["add_one", "add", "remove", "update"]) -> Endpoint:
    notices = {
        "add_one": "Item added to release successfully.",
        "add": "Item(s) send to add to release successfully.",
        "remove": "Item(s) send to remove from release successfully.",
        "update": "Release items updated to their latest versions successfully.",
    }

    async def handler(request: Request) -> Response:
        uid = request.path_params["uid"]
        remove_all = edit == "remove" and endpoint.flag(request, "all")
        # The lock and the release are checked before the body, so that a locked release answers
        # the lock whatever the body holds.
        with state.db.read() as conn:
            _refuse_if_locked(_release_row(conn, uid))
        items: Sequence[ItemRef] = []
        to_update: Sequence[ItemRef | Literal["$all"]] = []
        if edit == "add_one":
            items = [(await parse_body(request, OneItemBody)).item]
        elif edit == "update":
            to_update = (await parse_body(request, UpdateItemsBody)).items
        elif remove_all:
            # "CMA | Releases" documents `?all=true` with a JSON body of `items`: a request
            # without it is refused, as a body-less DELETE would be. Every item goes, listed or not.
            if "application/json" not in request.headers.get("content-type", ""):
                raise bad_request(
                    "Send the items as a JSON body (Content-Type: application/json).", code=endpoint.INVALID_DATA_CODE
                )
            await parse_body(request, ItemsBody)
        else:
            items = (await parse_body(request, ItemsBody)).items
        with state.db.transaction() as conn:
            # Checked again inside the write: the release may have been locked meanwhile.
            _refuse_if_locked(_release_row(conn, uid))
            if edit in ("add_one", "add"):
                _add_items(conn, uid, items)
            elif edit == "update":
                _update_items(conn, uid, to_update)
            elif remove_all:
                conn.execute("DELETE FROM release_items WHERE release_uid = ?", (uid,))
            else:
                _remove_items(conn, uid, items)
            _touch(conn, state, uid, acting_user(request))
            answer = _release_json(state, conn, _release_row(conn, uid), items=True)
        return JSONResponse({"notice": notices[edit], "release": answer})

    return handler


def _deploy_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        uid = request.path_params["uid"]
        fields = (await parse_body(request, DeployBody)).release
        scheduled_at = endpoint.parse_scheduled_at(state, fields.scheduled_at)
        with state.db.transaction() as conn:
            row = _release_row(conn, uid)
            items = _items(conn, uid)
            if not items:
                raise invalid("The release has no items to deploy.", {"items": ["can't be blank."]})
            environments = endpoint.resolve_environments(conn, fields.environments)
            locales = endpoint.resolve_locales(conn, fields.locales) if fields.locales else None
            operations = _deploy_operations(conn, items, environments, locales, fields.action)
            queue.add_queue_row(
                conn,
                state,
                row_type="release",
                action="deploy",
                entry={
                    "title": row["name"],
                    # The row's own reference, as in Contentstack's deployment rows: the release
                    # is `entry.release.uid`, never `entry.uid`.
                    "uid": "blt" + secrets.token_hex(8),
                    "skip_items_webhook_trigger": False,
                    "release": {"uid": uid, "title": row["name"], "action": fields.action},
                },
                operations=operations,
                environments=environments,
                locales=sorted({operation.locale for operation in operations}),
                scheduled_at=scheduled_at,
                release_uid=uid,
                user=acting_user(request),
            )
        return JSONResponse({"notice": "Release sent successfully for deployment."})

    return handler


def _clone_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        source_uid = request.path_params["uid"]
        fields = (await parse_body(request, ReleaseBody)).release
        name = _check_name(fields.name)
        user = acting_user(request)
        uid = "blt" + secrets.token_hex(8)
        with state.db.transaction() as conn:
            source = _release_row(conn, source_uid)
            description = fields.description if fields.description is not None else source["description"]
            _insert_release(conn, uid, name, description, now_iso(state), user)
            conn.execute(
                "INSERT INTO release_items (release_uid, uid, content_type_uid, locale, version, action, title)"
                " SELECT ?, uid, content_type_uid, locale, version, action, title FROM release_items"
                " WHERE release_uid = ? ORDER BY rowid",
                (uid, source_uid),
            )
            answer = _release_json(state, conn, _release_row(conn, uid), items=True)
        return JSONResponse({"notice": "Release cloned successfully.", "release": answer})

    return handler


# Seed


def _seed(conn: sqlite3.Connection, state: SandboxState) -> None:
    """Three releases over the seeded content: one with items, one locked, one empty."""
    rng = random.Random(state.config.seed)
    master = store.master_locale(conn)
    candidates: list[tuple[str, str]] = []
    for content_type in store.list_content_types(conn):
        for uid in store.entry_uids(conn, content_type["uid"]):
            if store.latest_entry_version(conn, content_type["uid"], uid, master) is not None:
                candidates.append((content_type["uid"], uid))
    assets = [str(asset["uid"]) for asset in store.list_assets(conn)]
    picked = rng.sample(candidates, min(len(candidates), 7))
    now = state.clock.now()

    def when(days_ago: int) -> str:
        return store.iso(now - timedelta(days=days_ago))

    def refs(entries: Sequence[tuple[str, str]], asset_uids: Sequence[str]) -> list[ItemRef]:
        found = [ItemRef(uid=uid, content_type_uid=content_type, locale=master) for content_type, uid in entries]
        found += [ItemRef(uid=uid, content_type_uid=store.ASSET_CONTENT_TYPE, locale=master) for uid in asset_uids]
        return found

    plans: list[tuple[str, str, list[ItemRef], bool]] = [
        ("Spring campaign", "Posts and products for the spring launch.", refs(picked[:4], assets[:1]), False),
        ("Homepage refresh", "Frozen for sign-off before Friday's deploy.", refs(picked[4:7], []), True),
        ("Holiday sale", "Items to be added.", [], False),
    ]
    for index, (name, description, items, locked) in enumerate(plans):
        uid = store.make_uid("release", state.config.seed, index)
        _insert_release(conn, uid, name, description, when(30 - index * 7), SANDBOX_USER_UID, locked=False)
        if items:
            _add_items(conn, uid, items)
        if locked:
            conn.execute("UPDATE releases SET locked = 1 WHERE uid = ?", (uid,))


# The plug-in contract


def setup(state: SandboxState) -> None:
    """Create the release tables and seed three releases when there are none."""
    with state.db.transaction() as conn:
        create_tables(conn, _SCHEMA, wipe=("release_items", "releases") if state.config.reset else ())
        if conn.execute("SELECT 1 FROM releases LIMIT 1").fetchone() is None:
            _seed(conn, state)


def routes(state: SandboxState) -> list[BaseRoute]:
    """The release routes, relative to `/cma/v3`."""

    return endpoint.cma_routes(
        state,
        [
            ("/releases", "GET", _list_handler(state)),
            ("/releases", "POST", _create_handler(state)),
            ("/releases/{uid}", "GET", _get_handler(state)),
            ("/releases/{uid}", "PUT", _update_handler(state)),
            ("/releases/{uid}", "DELETE", _delete_handler(state)),
            ("/releases/{uid}/items", "GET", _items_list_handler(state)),
            ("/releases/{uid}/item", "POST", _edit_items_handler(state, "add_one")),
            ("/releases/{uid}/items", "POST", _edit_items_handler(state, "add")),
            ("/releases/{uid}/items", "DELETE", _edit_items_handler(state, "remove")),
            ("/releases/{uid}/update_items", "PUT", _edit_items_handler(state, "update")),
            ("/releases/{uid}/deploy", "POST", _deploy_handler(state)),
            ("/releases/{uid}/clone", "POST", _clone_handler(state)),
        ],
    )
