"""The sandbox's publishing handlers: single entry and asset publish/unpublish, bulk jobs, and
the publish queue's endpoints (the queue itself is `queue.py`; the plumbing, `endpoint.py`).

Routes, mounted under `/cma/v3` beside `cma.py`'s:

- `POST /content_types/{ct}/entries/{uid}/publish|unpublish`, `POST /assets/{uid}/publish|unpublish`
- `POST /bulk/publish|unpublish` (at most 10 items x 10 locales x 10 environments), `GET /bulk/jobs/{job_id}`
  and `GET /bulk/jobs/{job_id}/items` (as "CMA | Job Status" shows them: a finished job is `complete`
  with failures counted in `summary.unsuccess`; one item row per item, locale and environment)
- `GET /publish-queue`, `GET /publish-queue/{uid}`, `GET /publish-queue/{uid}/unschedule` (rows as "CMA |
  Publish Queue" shows them, the content type at the row's top level)

The job, job items and publish queue requests are refused without the header `api_version: 3.2`,
which their pages mark required.

Every publish or unpublish is one or more rows of the publish queue (`queue.add_queue_row`):
applied at once, or waiting with status `scheduled` until it is due on the sandbox clock.

Choices where Contentstack's documentation leaves the behaviour open:
- A `scheduled_at` that is not in the future is refused (422, `errors.scheduled_at`), as the tools
  refuse past times too, rather than published at once.
- An entry is published only in locales it exists in (no publishing of unlocalized content).
- `version` pins the entry's version in the body's `locale` (the master locale when absent); the
  other target locales publish their latest version.
- Bulk requests refuse the whole request for an unknown environment or locale or a limit broken;
  a missing entry, asset or version fails only its item, recorded in the job and the queue.
- `publish_with_reference` (Nested Reference Publishing) is accepted and publishes only the listed
  items.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from typing import Any, NamedTuple, cast

from pydantic import AliasChoices, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from cs_mcp.sandbox import queue, store, strict_json
from cs_mcp.sandbox.auth import acting_user
from cs_mcp.sandbox.endpoint import (
    Endpoint,
    RequestBody,
    bad_request,
    cma_routes,
    content_type_not_found,
    invalid,
    not_found,
    now_iso,
    page_params,
    parse_body,
    parse_scheduled_at,
    resolve_environments,
    resolve_locales,
)
from cs_mcp.sandbox.queue import (
    Action,
    Operation,
    QueueType,
    add_queue_row,
    asset_summary,
    entry_summary,
    finish_row,
    queue_row_json,
)
from cs_mcp.sandbox.state import SandboxState, create_tables

BULK_MAX_ITEMS = 10
BULK_MAX_LOCALES = 10
BULK_MAX_ENVIRONMENTS = 10

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bulk_jobs (
    uid TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    scheduled_at TEXT,
    environments_json TEXT NOT NULL,
    locales_json TEXT NOT NULL
);
"""


# Request bodies


class PublishTargets(RequestBody):
    environments: list[str] = Field(default_factory=lambda: [])
    locales: list[str] = Field(default_factory=lambda: [])


class EntryPublishBody(RequestBody):
    entry: PublishTargets
    locale: str | None = None
    version: int | None = None
    scheduled_at: str | None = None


class AssetPublishBody(RequestBody):
    asset: PublishTargets
    version: int | None = None
    scheduled_at: str | None = None


class BulkEntry(RequestBody):
    uid: str
    content_type: str = Field(validation_alias=AliasChoices("content_type", "_content_type_uid", "content_type_uid"))
    version: int | None = None
    locale: str | None = None


class BulkAsset(RequestBody):
    uid: str
    version: int | None = None


class BulkBody(RequestBody):
    entries: list[BulkEntry] = Field(default_factory=lambda: [])
    assets: list[BulkAsset] = Field(default_factory=lambda: [])
    locales: list[str] = Field(default_factory=lambda: [])
    environments: list[str] = Field(default_factory=lambda: [])
    scheduled_at: str | None = None
    publish_with_reference: bool = False


def _queue_filters(request: Request) -> dict[str, str]:
    filters: dict[str, str] = {}
    raw = request.query_params.get("query")
    if raw:
        try:
            parsed: object = strict_json.loads(raw)
        except ValueError as exc:
            raise invalid("The query is not valid JSON.", {"query": ["is not valid JSON."]}) from exc
        if not isinstance(parsed, dict):
            raise invalid("The query must be a JSON object.", {"query": ["must be an object."]})
        for key, value in cast(dict[str, object], parsed).items():
            if isinstance(value, str):
                filters[key] = value
    for key in ("environment", "status", "type", "action"):
        value = request.query_params.get(key)
        if value:
            filters[key] = value
    return filters


# Handlers


def _entry_publish_handler(state: SandboxState, action: Action) -> Endpoint:
    async def handler(request: Request) -> Response:
        content_type = request.path_params["content_type"]
        uid = request.path_params["uid"]
        body = await parse_body(request, EntryPublishBody)
        scheduled_at = parse_scheduled_at(state, body.scheduled_at)
        with state.db.transaction() as conn:
            if not store.content_type_exists(conn, content_type):
                raise content_type_not_found(content_type, field="content_type")
            localized = store.entry_locales(conn, content_type, uid)
            if not localized:
                raise not_found("entry")
            environments = resolve_environments(conn, body.entry.environments)
            locales = resolve_locales(conn, body.entry.locales)
            missing = [code for code in locales if code not in localized]
            if missing:
                raise invalid(
                    "The entry does not exist in some of these locales.",
                    {"locales": [f"the entry is not localized in '{code}'." for code in missing]},
                )
            pinned_locale = body.locale or store.master_locale(conn)
            if body.version is not None and (
                store.get_entry_version(conn, content_type, uid, pinned_locale, body.version) is None
            ):
                raise invalid(
                    "The entry version does not exist.",
                    {"version": [f"version {body.version} does not exist in '{pinned_locale}'."]},
                )
            for locale in locales:
                version = _entry_version_for(conn, content_type, uid, locale, pinned_locale, body.version)
                operation = Operation(action, "entry", content_type, uid, locale, version, tuple(environments))
                summary = entry_summary(conn, content_type, uid, locale, version)
                row = _Row("entry", locale, summary, [operation])
                _add_row(conn, state, action, row, environments, scheduled_at, acting_user(request))
        return JSONResponse({"notice": "The requested action has been performed."})

    return handler


def _entry_version_for(
    conn: sqlite3.Connection,
    content_type: str,
    uid: str,
    locale: str,
    pinned_locale: str,
    pinned_version: int | None,
) -> int:
    """The version an operation in `locale` uses: the pinned one in its own locale, else the latest
    (an unpublish takes down whatever version is live; the version only labels its queue row)."""
    if pinned_version is not None and locale == pinned_locale:
        return pinned_version
    return store.latest_entry_version(conn, content_type, uid, locale) or 1


def _asset_publish_handler(state: SandboxState, action: Action) -> Endpoint:
    async def handler(request: Request) -> Response:
        uid = request.path_params["uid"]
        body = await parse_body(request, AssetPublishBody)
        scheduled_at = parse_scheduled_at(state, body.scheduled_at)
        with state.db.transaction() as conn:
            asset = store.get_asset(conn, uid)
            if asset is None:
                raise not_found("asset")
            environments = resolve_environments(conn, body.asset.environments)
            locales = resolve_locales(conn, body.asset.locales)
            version = body.version if body.version is not None else int(asset["_version"])
            if store.get_asset_version(conn, uid, version) is None:
                raise invalid("The asset version does not exist.", {"version": [f"version {version} does not exist."]})
            for locale in locales:
                operation = Operation(action, "asset", "", uid, locale, version, tuple(environments))
                row = _Row("asset", locale, asset_summary(conn, uid, locale, version), [operation])
                _add_row(conn, state, action, row, environments, scheduled_at, acting_user(request))
        return JSONResponse({"notice": "The requested action has been performed."})

    return handler


def _bulk_handler(state: SandboxState, action: Action) -> Endpoint:
    async def handler(request: Request) -> Response:
        body = await parse_body(request, BulkBody)
        item_count = len(body.entries) + len(body.assets)
        if item_count == 0:
            raise invalid("Please select at least one entry or asset.", {"entries": ["can't be blank."]})
        if item_count > BULK_MAX_ITEMS:
            raise invalid(
                f"A bulk request takes at most {BULK_MAX_ITEMS} entries and assets together.",
                {"entries": [f"at most {BULK_MAX_ITEMS} entries and assets allowed, {item_count} given."]},
            )
        scheduled_at = parse_scheduled_at(state, body.scheduled_at)
        job_id = "blt" + secrets.token_hex(8)
        user = acting_user(request)
        with state.db.transaction() as conn:
            environments = resolve_environments(conn, body.environments, maximum=BULK_MAX_ENVIRONMENTS)
            locales = resolve_locales(conn, body.locales, maximum=BULK_MAX_LOCALES) if body.locales else []
            master = store.master_locale(conn)
            conn.execute(
                "INSERT INTO bulk_jobs (uid, action, created_at, created_by, scheduled_at, environments_json,"
                " locales_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job_id, action, now_iso(state), user, scheduled_at, json.dumps(environments), json.dumps(locales)),
            )
            rows = [
                _bulk_entry(conn, action, item, item.locale or master, locale, environments)
                for item in body.entries
                for locale in locales or [item.locale or master]
            ]
            rows += [
                _bulk_asset(conn, action, asset, locale, environments)
                for asset in body.assets
                for locale in locales or [master]
            ]
            for row in rows:
                _add_row(conn, state, action, row, environments, scheduled_at, user, job_id=job_id)
        return JSONResponse(
            {
                "notice": f"Your bulk {action} request is in progress. Please check publish queue for more details.",
                "job_id": job_id,
            }
        )

    return handler


class _Row(NamedTuple):
    """One item of a publish request in one locale, as its queue row records it."""

    type: QueueType
    locale: str
    summary: dict[str, Any]
    operations: list[Operation]
    failure: str | None = None


def _add_row(
    conn: sqlite3.Connection,
    state: SandboxState,
    action: Action,
    row: _Row,
    environments: list[str],
    scheduled_at: str | None,
    user: str,
    *,
    job_id: str | None = None,
) -> None:
    """Queues `row` (and applies it unless it is scheduled or failed)."""
    add_queue_row(
        conn,
        state,
        row_type=row.type,
        action=action,
        entry=row.summary,
        operations=row.operations,
        environments=environments,
        locales=[row.locale],
        scheduled_at=scheduled_at,
        job_id=job_id,
        user=user,
        failure=row.failure,
    )


def _bulk_entry(
    conn: sqlite3.Connection, action: Action, item: BulkEntry, own_locale: str, locale: str, environments: list[str]
) -> _Row:
    pinned = item.version if item.version is not None and locale == own_locale else None
    latest = store.latest_entry_version(conn, item.content_type, item.uid, locale)
    version = pinned if pinned is not None else latest
    failure: str | None = None
    if not store.content_type_exists(conn, item.content_type):
        failure = f"content type '{item.content_type}' does not exist"
    elif not store.entry_locales(conn, item.content_type, item.uid):
        failure = "entry does not exist"
    elif latest is None:
        failure = f"entry is not localized in '{locale}'"
    elif pinned is not None and store.get_entry_version(conn, item.content_type, item.uid, locale, pinned) is None:
        failure = f"version {pinned} does not exist in '{locale}'"
    operations: list[Operation] = []
    if failure is None and version is not None:
        summary = entry_summary(conn, item.content_type, item.uid, locale, version)
        operations.append(Operation(action, "entry", item.content_type, item.uid, locale, version, tuple(environments)))
    else:
        summary = {
            "title": item.uid,
            "uid": item.uid,
            "version": item.version,
            "locale": locale,
            "content_type": {"uid": item.content_type, "title": item.content_type},
        }
    return _Row("entry", locale, summary, operations, failure)


def _bulk_asset(
    conn: sqlite3.Connection, action: Action, item: BulkAsset, locale: str, environments: list[str]
) -> _Row:
    asset = store.get_asset(conn, item.uid)
    version = item.version if item.version is not None else (None if asset is None else int(asset["_version"]))
    failure: str | None = None
    operations: list[Operation] = []
    if asset is None or version is None:
        failure = "asset does not exist"
    elif store.get_asset_version(conn, item.uid, version) is None:
        failure = f"version {version} does not exist"
    else:
        operations.append(Operation(action, "asset", "", item.uid, locale, version, tuple(environments)))
    summary = (
        asset_summary(conn, item.uid, locale, version)
        if version is not None
        else {"title": item.uid, "uid": item.uid, "version": None, "locale": locale}
    )
    return _Row("asset", locale, summary, operations, failure)


def _job_status(counts: dict[str, int]) -> str:
    """A job's status as "CMA | Job Status" shows it: `complete` once every item is done,
    failed items included (the summary counts them); a job waiting for its time is `scheduled`."""
    if counts.get("scheduled", 0):
        return "scheduled"
    return "complete"


def _job_and_items(state: SandboxState, job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A bulk job as "CMA | Job Status" answers it (top level: uid, action, status, body,
    summary with `success` and `unsuccess`), and its items as "Job items" lists them: one row
    per item, locale and environment, the outcome under `publish_details`, an entry's content
    type as `{"uid"}`."""
    with state.db.read() as conn:
        job = conn.execute("SELECT * FROM bulk_jobs WHERE uid = ?", (job_id,)).fetchone()
        if job is None:
            raise not_found("job")
        rows = conn.execute("SELECT * FROM publish_queue WHERE job_id = ? ORDER BY rowid", (job_id,)).fetchall()
        counts = {"success": 0, "failed": 0, "scheduled": 0, "cancelled": 0}
        items: list[dict[str, Any]] = []
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
            entry = json.loads(row["entry_json"])
            details: dict[str, Any] = {"status": row["status"]}
            if row["message"]:
                details["failure_reason"] = row["message"]
            for environment in json.loads(row["environments_json"]):
                for locale in json.loads(row["locales_json"]):
                    item: dict[str, Any] = {
                        "uid": entry["uid"],
                        "locale": entry.get("locale"),
                        "version": entry.get("version"),
                        "title": entry.get("title"),
                        "type": row["type"],
                        "publish_details": details,
                        "publish_locale": locale,
                        "environment": store.environment_uid(conn, environment) or environment,
                        "action": row["action"],
                        "published_at": row["published_at"],
                        "scheduled_at": row["scheduled_at"],
                        "user": row["user"],
                        "depth": 0,
                    }
                    if row["type"] == "entry":
                        item["content_type"] = {"uid": entry["content_type"]["uid"]}
                    items.append(item)
        status = _job_status(counts)
        answer: dict[str, Any] = {
            "uid": job_id,
            "action": job["action"],
            "status": status,
            "body": {
                "branch": state.credentials.branch,
                "environments": json.loads(job["environments_json"]),
                "locales": json.loads(job["locales_json"]),
                "published_at": None if job["scheduled_at"] else job["created_at"],
                "scheduled_at": job["scheduled_at"],
            },
            "summary": {
                "approvals": 0,
                "skip": 0,
                "state": "completed" if status == "complete" else status,
                "success": counts["success"],
                "total_processed": counts["success"] + counts["failed"],
                "unsuccess": counts["failed"],
            },
        }
    return answer, items


def api_version_required(what: str, handler: Endpoint) -> Endpoint:
    """`handler` behind the check of the header `api_version: 3.2`, which "CMA | Job Status" and
    "CMA | Publish Queue" mark required (`what` names the requests in the refusal)."""

    async def checked(request: Request) -> Response:
        if request.headers.get("api_version") != "3.2":
            raise bad_request(f"Pass the api_version header as 3.2 for {what} requests.")
        return await handler(request)

    return checked


def _job_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        answer, _items = _job_and_items(state, request.path_params["job_id"])
        return JSONResponse(answer)

    return handler


def _job_items_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        skip, limit, _include_count = page_params(request)
        _answer, items = _job_and_items(state, request.path_params["job_id"])
        status = request.query_params.get("status")
        kind = request.query_params.get("type")
        items = [
            item
            for item in items
            if status in (None, item["publish_details"]["status"]) and kind in (None, item["type"])
        ]
        page = items[skip : skip + limit]
        return JSONResponse({"items": page, "skip": skip, "limit": limit, "total_count": len(items)})

    return handler


def _queue_list_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        skip, limit, include_count = page_params(request)
        filters = _queue_filters(request)
        clauses: list[str] = []
        args: list[str] = []
        with state.db.read() as conn:
            for key in ("status", "type", "action"):
                if key in filters:
                    clauses.append(f"{key} = ?")
                    args.append(filters[key])
            if "environment" in filters:
                name = store.environment_name_of(conn, filters["environment"]) or filters["environment"]
                clauses.append("EXISTS (SELECT 1 FROM json_each(environments_json) WHERE value = ?)")
                args.append(name)
            where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
            rows = conn.execute(
                f"SELECT * FROM publish_queue {where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",  # noqa: S608 - fixed column names, values bound
                (*args, limit, skip),
            ).fetchall()
            answer: dict[str, Any] = {"queue": [queue_row_json(state, conn, row) for row in rows]}
            if include_count:
                counted = conn.execute(f"SELECT COUNT(*) FROM publish_queue {where}", args).fetchone()  # noqa: S608 - as above
                answer["count"] = int(counted[0])
        return JSONResponse(answer)

    return handler


def _queue_row_or_refuse(conn: sqlite3.Connection, uid: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM publish_queue WHERE uid = ?", (uid,)).fetchone()
    if row is None:
        raise not_found("publish queue item")
    return cast(sqlite3.Row, row)


def _queue_get_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        with state.db.read() as conn:
            row = _queue_row_or_refuse(conn, request.path_params["uid"])
            return JSONResponse({"entry": queue_row_json(state, conn, row)})

    return handler


def _unschedule_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        with state.db.transaction() as conn:
            row = _queue_row_or_refuse(conn, request.path_params["uid"])
            if row["status"] != "scheduled":
                raise invalid(
                    "Only a scheduled action can be unscheduled.",
                    {"status": [f"is '{row['status']}', not 'scheduled'."]},
                )
            finish_row(conn, row["uid"], "cancelled", now_iso(state), None)
        noun = {"entry": "Entry", "asset": "Asset", "release": "Release"}[row["type"]]
        return JSONResponse({"notice": f"{noun} unscheduled successfully."})

    return handler


def setup(state: SandboxState) -> None:
    """Create the publish queue's and the bulk jobs' tables; scheduled actions fire when the clock moves."""
    queue.setup(state)
    with state.db.transaction() as conn:
        create_tables(conn, _SCHEMA, wipe=("bulk_jobs",) if state.config.reset else ())


def routes(state: SandboxState) -> list[BaseRoute]:
    """The publishing routes, relative to `/cma/v3`."""
    bulk_job, queue = "bulk job", "publish queue"  # what the api_version refusals name
    entry = "/content_types/{content_type}/entries/{uid}"
    return cma_routes(
        state,
        [
            (f"{entry}/publish", "POST", _entry_publish_handler(state, "publish")),
            (f"{entry}/unpublish", "POST", _entry_publish_handler(state, "unpublish")),
            ("/assets/{uid}/publish", "POST", _asset_publish_handler(state, "publish")),
            ("/assets/{uid}/unpublish", "POST", _asset_publish_handler(state, "unpublish")),
            ("/bulk/publish", "POST", _bulk_handler(state, "publish")),
            ("/bulk/unpublish", "POST", _bulk_handler(state, "unpublish")),
            ("/bulk/jobs/{job_id}", "GET", api_version_required(bulk_job, _job_handler(state))),
            ("/bulk/jobs/{job_id}/items", "GET", api_version_required(bulk_job, _job_items_handler(state))),
            ("/publish-queue", "GET", api_version_required(queue, _queue_list_handler(state))),
            ("/publish-queue/{uid}", "GET", api_version_required(queue, _queue_get_handler(state))),
            ("/publish-queue/{uid}/unschedule", "GET", api_version_required(queue, _unschedule_handler(state))),
        ],
    )
