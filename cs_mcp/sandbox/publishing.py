"""The sandbox's publishing: single entry and asset publish/unpublish, bulk jobs and the publish queue.

Routes, mounted under `/cma/v3` beside `cma.py`'s:

- `POST /content_types/{ct}/entries/{uid}/publish|unpublish`, `POST /assets/{uid}/publish|unpublish`
- `POST /bulk/publish|unpublish` (at most 10 items x 10 locales x 10 environments), `GET /bulk/jobs/{job_id}`
  and `GET /bulk/jobs/{job_id}/items` (as "CMA | Job Status" shows them: a finished job is `complete`
  with failures counted in `summary.unsuccess`; one item row per item, locale and environment)
- `GET /publish-queue`, `GET /publish-queue/{uid}`, `GET /publish-queue/{uid}/unschedule` (rows as "CMA |
  Publish Queue" shows them, the content type at the row's top level)

The job, job items and publish queue requests are refused without the header `api_version: 3.2`,
which their pages mark required.

Every publish or unpublish, whether immediate, scheduled, bulk or a release deploy, is one or more
rows of the publish queue. A row carries the operations it stands for; an immediate row is applied
(`store.set_published` / `store.clear_published`) in the transaction that records it, a row with a
future `scheduled_at` waits with status `scheduled` until `fire_due()` finds it due on the sandbox
clock (the clock's admin endpoint runs `state.on_tick` after advancing, and every request of this
module and of `releases.py` fires what is due first), and `unschedule` cancels it before that.

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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar, cast

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from cs_mcp.sandbox import store
from cs_mcp.sandbox.auth import SANDBOX_USER_UID, acting_user, check_cma
from cs_mcp.sandbox.state import SandboxState, error_response

# Error codes of the answers below. 141 and 118 are Contentstack's "not found" codes; 119 is the
# code of a refused write with per-field `errors`.
NOT_FOUND_CODE = 141
CONTENT_TYPE_NOT_FOUND_CODE = 118
INVALID_DATA_CODE = 119

BULK_MAX_ITEMS = 10
BULK_MAX_LOCALES = 10
BULK_MAX_ENVIRONMENTS = 10
MAX_PAGE_LIMIT = 100

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


class RequestRefused(Exception):
    """A request answered with Contentstack's error body instead of going on; raised inside handlers."""

    def __init__(self, status: int, error_code: int, error_message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(error_message)
        self.status = status
        self.error_code = error_code
        self.error_message = error_message
        self.errors = errors

    def response(self) -> JSONResponse:
        return error_response(self.status, self.error_code, self.error_message, self.errors)


def invalid(message: str, errors: dict[str, list[str]]) -> RequestRefused:
    """A 422 refusal of invalid data, naming the fields at fault."""
    return RequestRefused(422, INVALID_DATA_CODE, message, errors)


def not_found(what: str = "object") -> RequestRefused:
    """A 422 "doesn't exist" refusal in Contentstack's shape (`errors.uid: ["is not valid."]`)."""
    return RequestRefused(422, NOT_FOUND_CODE, f"The requested {what} doesn't exist.", {"uid": ["is not valid."]})


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


# Request bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")


class PublishTargets(_Body):
    environments: list[str] = Field(default_factory=lambda: [])
    locales: list[str] = Field(default_factory=lambda: [])


class EntryPublishBody(_Body):
    entry: PublishTargets
    locale: str | None = None
    version: int | None = None
    scheduled_at: str | None = None


class AssetPublishBody(_Body):
    asset: PublishTargets
    version: int | None = None
    scheduled_at: str | None = None


class BulkEntry(_Body):
    uid: str
    content_type: str = Field(validation_alias=AliasChoices("content_type", "_content_type_uid", "content_type_uid"))
    version: int | None = None
    locale: str | None = None


class BulkAsset(_Body):
    uid: str
    version: int | None = None


class BulkBody(_Body):
    entries: list[BulkEntry] = Field(default_factory=lambda: [])
    assets: list[BulkAsset] = Field(default_factory=lambda: [])
    locales: list[str] = Field(default_factory=lambda: [])
    environments: list[str] = Field(default_factory=lambda: [])
    scheduled_at: str | None = None
    publish_with_reference: bool = False


ModelT = TypeVar("ModelT", bound=BaseModel)


async def parse_body(request: Request, model: type[ModelT]) -> ModelT:
    """The request's JSON body as `model`.

    Raises RequestRefused: 400 when the body is not JSON, 422 naming the fields that do not fit.
    """
    try:
        raw: object = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestRefused(400, INVALID_DATA_CODE, "The request body is not valid JSON.") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for problem in exc.errors():
            field = ".".join(str(part) for part in problem["loc"]) or "body"
            errors.setdefault(field, []).append(str(problem["msg"]))
        raise invalid("The request body is not valid. Please enter valid data.", errors) from exc


# Shared checks (releases.py uses them too)


def now_iso(state: SandboxState) -> str:
    return store.iso(state.clock.now())


def parse_scheduled_at(state: SandboxState, value: str | None) -> str | None:
    """`scheduled_at` normalised to Contentstack's time format, or None for "now".

    Raises RequestRefused (422, `errors.scheduled_at`) when it is not an ISO-8601 time with a zone
    or is not in the future of the sandbox clock.
    """
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise invalid("The scheduled time is not valid.", {"scheduled_at": ["is not a valid ISO-8601 time."]}) from exc
    if moment.tzinfo is None:
        raise invalid("The scheduled time is not valid.", {"scheduled_at": ["needs a time zone, e.g. a trailing Z."]})
    if moment <= state.clock.now():
        raise invalid("The scheduled time is not valid.", {"scheduled_at": ["should be a future date."]})
    return store.iso(moment)


def resolve_environments(conn: sqlite3.Connection, given: Sequence[str], *, maximum: int | None = None) -> list[str]:
    """Environment names for `given` names or uids, in order and without repeats.

    Raises RequestRefused (422, `errors.environments`) when none is given, one does not exist, or
    there are more than `maximum`.
    """
    if not given:
        raise invalid("Please select at least one environment.", {"environments": ["can't be blank."]})
    # The limit is checked first: a request over it is refused whatever it names.
    distinct = len(dict.fromkeys(given))
    if maximum is not None and distinct > maximum:
        raise invalid(
            f"A request may name at most {maximum} environments.",
            {"environments": [f"at most {maximum} allowed, {distinct} given."]},
        )
    names: list[str] = []
    unknown: list[str] = []
    for value in given:
        name = store.environment_name_of(conn, value)
        if name is None:
            unknown.append(value)
        elif name not in names:
            names.append(name)
    if unknown:
        raise invalid(
            "Some environments do not exist.",
            {"environments": [f"'{value}' is not a valid environment." for value in unknown]},
        )
    return names


def resolve_locales(conn: sqlite3.Connection, given: Sequence[str], *, maximum: int | None = None) -> list[str]:
    """The locale codes `given` (the master locale when empty), without repeats.

    Raises RequestRefused (422, `errors.locales`) when a code does not exist or there are more than `maximum`.
    """
    if not given:
        return [store.master_locale(conn)]
    known = set(store.locale_codes(conn))
    codes: list[str] = []
    for code in given:
        if code not in codes:
            codes.append(code)
    if maximum is not None and len(codes) > maximum:
        raise invalid(
            f"A request may name at most {maximum} locales.",
            {"locales": [f"at most {maximum} allowed, {len(codes)} given."]},
        )
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise invalid(
            "Some locales do not exist.", {"locales": [f"'{code}' is not a valid locale." for code in unknown]}
        )
    return codes


def environment_uids(conn: sqlite3.Connection, names: Sequence[str]) -> list[str]:
    return [store.environment_uid(conn, name) or name for name in names]


def page_params(request: Request) -> tuple[int, int, bool]:
    """`skip`, `limit` (default and maximum 100) and `include_count` of a list request.

    Raises RequestRefused (422) for values that are not whole numbers in range.
    """
    params = request.query_params
    try:
        skip = int(params.get("skip", "0"))
        limit = int(params.get("limit", str(MAX_PAGE_LIMIT)))
    except ValueError as exc:
        raise invalid("skip and limit must be whole numbers.", {"limit": ["is not a number."]}) from exc
    if skip < 0 or limit < 1 or limit > MAX_PAGE_LIMIT:
        raise invalid(
            f"skip must be 0 or more and limit between 1 and {MAX_PAGE_LIMIT}.",
            {"limit": [f"must be between 1 and {MAX_PAGE_LIMIT}."]},
        )
    return skip, limit, flag(request, "include_count")


def flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("true", "1")


Endpoint = Callable[[Request], Awaitable[Response]]


def cma_endpoint(state: SandboxState, handler: Endpoint) -> Endpoint:
    """`handler` behind the CMA's auth check, with due scheduled actions fired first and
    RequestRefused turned into its error answer."""

    async def endpoint(request: Request) -> Response:
        denied = check_cma(request, state)
        if denied is not None:
            return denied
        fire_due(state)
        try:
            return await handler(request)
        except RequestRefused as refusal:
            return refusal.response()

    return endpoint


# The publish queue


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
            _finish_row(conn, uid, "failed", now, "; ".join(problems))
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


def _finish_row(conn: sqlite3.Connection, uid: str, status: QueueStatus, time_iso: str, message: str | None) -> None:
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
            _finish_row(conn, row["uid"], "failed" if problems else "success", now, "; ".join(problems) or None)
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


def _queue_filters(request: Request) -> dict[str, str]:
    filters: dict[str, str] = {}
    raw = request.query_params.get("query")
    if raw:
        try:
            parsed: object = json.loads(raw)
        except json.JSONDecodeError as exc:
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
                raise RequestRefused(
                    422,
                    CONTENT_TYPE_NOT_FOUND_CODE,
                    f"The Content Type '{content_type}' was not found. Please try again.",
                    {"content_type": ["is not valid."]},
                )
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
                add_queue_row(
                    conn,
                    state,
                    row_type="entry",
                    action=action,
                    entry=entry_summary(conn, content_type, uid, locale, version),
                    operations=[operation],
                    environments=environments,
                    locales=[locale],
                    scheduled_at=scheduled_at,
                    user=acting_user(request),
                )
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
                add_queue_row(
                    conn,
                    state,
                    row_type="asset",
                    action=action,
                    entry=asset_summary(conn, uid, locale, version),
                    operations=[Operation(action, "asset", "", uid, locale, version, tuple(environments))],
                    environments=environments,
                    locales=[locale],
                    scheduled_at=scheduled_at,
                    user=acting_user(request),
                )
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
            for item in body.entries:
                own_locale = item.locale or master
                for locale in locales or [own_locale]:
                    _queue_bulk_entry(
                        conn, state, action, item, own_locale, locale, environments, scheduled_at, job_id, user
                    )
            for asset in body.assets:
                for locale in locales or [master]:
                    _queue_bulk_asset(conn, state, action, asset, locale, environments, scheduled_at, job_id, user)
        return JSONResponse(
            {
                "notice": f"Your bulk {action} request is in progress. Please check publish queue for more details.",
                "job_id": job_id,
            }
        )

    return handler


def _queue_bulk_entry(
    conn: sqlite3.Connection,
    state: SandboxState,
    action: Action,
    item: BulkEntry,
    own_locale: str,
    locale: str,
    environments: list[str],
    scheduled_at: str | None,
    job_id: str,
    user: str,
) -> None:
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
    add_queue_row(
        conn,
        state,
        row_type="entry",
        action=action,
        entry=summary,
        operations=operations,
        environments=environments,
        locales=[locale],
        scheduled_at=scheduled_at,
        job_id=job_id,
        user=user,
        failure=failure,
    )


def _queue_bulk_asset(
    conn: sqlite3.Connection,
    state: SandboxState,
    action: Action,
    item: BulkAsset,
    locale: str,
    environments: list[str],
    scheduled_at: str | None,
    job_id: str,
    user: str,
) -> None:
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
    add_queue_row(
        conn,
        state,
        row_type="asset",
        action=action,
        entry=summary,
        operations=operations,
        environments=environments,
        locales=[locale],
        scheduled_at=scheduled_at,
        job_id=job_id,
        user=user,
        failure=failure,
    )


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


def api_version_missing(request: Request, what: str) -> Response | None:
    """ "CMA | Job Status" and "CMA | Publish Queue" mark the header `api_version: 3.2` required."""
    if request.headers.get("api_version") == "3.2":
        return None
    return error_response(400, 400, f"Pass the api_version header as 3.2 for {what} requests.")


def _job_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        if (refusal := api_version_missing(request, "bulk job")) is not None:
            return refusal
        answer, _items = _job_and_items(state, request.path_params["job_id"])
        return JSONResponse(answer)

    return handler


def _job_items_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        if (refusal := api_version_missing(request, "bulk job")) is not None:
            return refusal
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
        if (refusal := api_version_missing(request, "publish queue")) is not None:
            return refusal
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
        if (refusal := api_version_missing(request, "publish queue")) is not None:
            return refusal
        with state.db.read() as conn:
            row = _queue_row_or_refuse(conn, request.path_params["uid"])
            return JSONResponse({"entry": queue_row_json(state, conn, row)})

    return handler


def _unschedule_handler(state: SandboxState) -> Endpoint:
    async def handler(request: Request) -> Response:
        if (refusal := api_version_missing(request, "publish queue")) is not None:
            return refusal
        with state.db.transaction() as conn:
            row = _queue_row_or_refuse(conn, request.path_params["uid"])
            if row["status"] != "scheduled":
                raise invalid(
                    "Only a scheduled action can be unscheduled.",
                    {"status": [f"is '{row['status']}', not 'scheduled'."]},
                )
            _finish_row(conn, row["uid"], "cancelled", now_iso(state), None)
        noun = {"entry": "Entry", "asset": "Asset", "release": "Release"}[row["type"]]
        return JSONResponse({"notice": f"{noun} unscheduled successfully."})

    return handler


# The plug-in contract


class _DueFirer:
    """The `on_tick` callback of one sandbox: fires what became due when the clock moved."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def __call__(self) -> None:
        fire_due(self.state)


def setup(state: SandboxState) -> None:
    """Create the publish queue and bulk job tables, and fire scheduled actions when the clock moves."""
    with state.db.transaction() as conn:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        if state.config.reset:
            conn.execute("DELETE FROM publish_queue")
            conn.execute("DELETE FROM bulk_jobs")
    if not any(isinstance(callback, _DueFirer) for callback in state.on_tick):
        state.on_tick.append(_DueFirer(state))


def routes(state: SandboxState) -> list[BaseRoute]:
    """The publishing routes, relative to `/cma/v3`."""

    def post(path: str, handler: Endpoint) -> Route:
        return Route(path, cma_endpoint(state, handler), methods=["POST"])

    def get(path: str, handler: Endpoint) -> Route:
        return Route(path, cma_endpoint(state, handler), methods=["GET"])

    return [
        post("/content_types/{content_type}/entries/{uid}/publish", _entry_publish_handler(state, "publish")),
        post("/content_types/{content_type}/entries/{uid}/unpublish", _entry_publish_handler(state, "unpublish")),
        post("/assets/{uid}/publish", _asset_publish_handler(state, "publish")),
        post("/assets/{uid}/unpublish", _asset_publish_handler(state, "unpublish")),
        post("/bulk/publish", _bulk_handler(state, "publish")),
        post("/bulk/unpublish", _bulk_handler(state, "unpublish")),
        get("/bulk/jobs/{job_id}", _job_handler(state)),
        get("/bulk/jobs/{job_id}/items", _job_items_handler(state)),
        get("/publish-queue", _queue_list_handler(state)),
        get("/publish-queue/{uid}", _queue_get_handler(state)),
        get("/publish-queue/{uid}/unschedule", _unschedule_handler(state)),
    ]
