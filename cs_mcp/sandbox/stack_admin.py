"""The sandbox's stack administration collections, as Contentstack's CMA reference pages show them:
environments ("CMA | Environment"), languages ("CMA | Languages"), labels ("CMA | Labels"),
webhooks ("CMA | Webhooks"), delivery tokens ("Get all delivery tokens") and roles ("Get all
roles").

Every collection answers the same four requests through one `Collection`: `GET /<path>` lists
(`include_count` adds `count`), `POST /<path>` creates, `PUT /<path>/<key>` updates and
`DELETE /<path>/<key>` deletes, each with the page's notice; a collection's `prepare` checks a
body and builds the stored object, so the rules each page states live in one place per
collection. Delivery tokens and roles are served read-only (seeded), since no tool writes them.
Webhook secrets are kept but answered masked, as the pages' samples show them (`********`).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from pydantic import BaseModel, Field, create_model
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from cs_mcp.sandbox import store
from cs_mcp.sandbox.auth import SANDBOX_USER_UID, acting_user
from cs_mcp.sandbox.endpoint import RequestBody, RequestRefused, cma_routes, invalid, not_found, now_iso, parse_body
from cs_mcp.sandbox.state import SandboxState

MASK = "********"
# Destination fields that hold a secret: stored, never answered.
WEBHOOK_SECRETS = ("http_basic_password", "bearer_token", "client_secret")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stack_admin_items (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    data_json TEXT NOT NULL,
    PRIMARY KEY (kind, key)
)
"""


class EnvironmentBody(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    urls: list[dict[str, str]] | None = None


class LocaleBody(RequestBody):
    code: str | None = Field(default=None, min_length=2, max_length=20)
    name: str | None = Field(default=None, min_length=1, max_length=100)
    fallback_locale: str | None = None


class LabelBody(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    parent: list[str] | None = None
    content_types: list[str] | None = None


class WebhookBody(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    destinations: list[dict[str, Any]] | None = None
    channels: list[str] | None = None
    branches: list[str] | None = None
    notifiers: list[str] | str | None = None
    retry_policy: str | None = None
    disabled: bool | None = None
    concise_payload: bool | None = None


class Storage(Protocol):
    """Where a collection keeps its items, by key. Arguments go by position: the store's own
    functions, which serve as a storage too, name them otherwise."""

    def all(self, conn: sqlite3.Connection, /) -> list[dict[str, Any]]: ...
    def get(self, conn: sqlite3.Connection, key: str, /) -> dict[str, Any] | None: ...
    def save(self, conn: sqlite3.Connection, item: dict[str, Any], replacing: str | None, /) -> None: ...
    def remove(self, conn: sqlite3.Connection, key: str, /) -> None: ...


@dataclass(frozen=True)
class TableStorage:
    """Items of one kind in the `stack_admin_items` table, in creation order."""

    kind: str
    key: str = "uid"

    def all(self, conn: sqlite3.Connection) -> list[dict[str, Any]]:
        rows = conn.execute(
            "SELECT data_json FROM stack_admin_items WHERE kind = ? ORDER BY position", (self.kind,)
        ).fetchall()
        return [store.load_json(row["data_json"]) for row in rows]

    def get(self, conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
        row = conn.execute(
            "SELECT data_json FROM stack_admin_items WHERE kind = ? AND key = ?", (self.kind, key)
        ).fetchone()
        return None if row is None else store.load_json(row["data_json"])

    def save(self, conn: sqlite3.Connection, item: dict[str, Any], replacing: str | None) -> None:
        key = str(item[self.key])
        position = conn.execute(
            "SELECT COALESCE(MAX(position), 0) + 1 FROM stack_admin_items WHERE kind = ?", (self.kind,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO stack_admin_items (kind, key, position, data_json) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (kind, key) DO UPDATE SET data_json = excluded.data_json",
            (self.kind, key, position, store.dump_json(item)),
        )

    def remove(self, conn: sqlite3.Connection, key: str) -> None:
        conn.execute("DELETE FROM stack_admin_items WHERE kind = ? AND key = ?", (self.kind, key))


@dataclass(frozen=True)
class StoreTableStorage:
    """A table of the store's own, which publishing and the CDA read too, kept through the
    store's functions for it."""

    all: Callable[[sqlite3.Connection], list[dict[str, Any]]]
    get: Callable[[sqlite3.Connection, str], dict[str, Any] | None]
    save: Callable[[sqlite3.Connection, dict[str, Any], str | None], None]
    remove: Callable[[sqlite3.Connection, str], None]


def save_environment(conn: sqlite3.Connection, item: dict[str, Any], replacing: str | None) -> None:
    """Saves the environment; a renamed one takes what was published to its old name along."""
    if replacing is not None and replacing != item["name"]:
        store.rename_environment(conn, replacing, item["name"])
    store.save_environment(conn, item)


def save_locale(conn: sqlite3.Connection, item: dict[str, Any], replacing: str | None) -> None:
    """Saves the locale; the master locale keeps its mark."""
    del replacing  # a code never changes (prepare_locale refuses it): the item names the row
    store.save_locale(conn, item, is_master=item["code"] == store.master_locale(conn))


Prepare = Callable[[sqlite3.Connection, Any, "dict[str, Any] | None"], dict[str, Any]]


@dataclass(frozen=True)
class Collection:
    """One administration collection: its route, keys, notices, body model, rules and storage."""

    path: str
    one: str
    many: str
    storage: Storage
    body: type[RequestBody] | None = None  # None: read-only
    prepare: Prepare | None = None
    notices: tuple[str, str, str] = ("", "", "")  # created, updated, deleted
    answer: Callable[[dict[str, Any]], dict[str, Any]] = lambda item: item
    protect: Callable[[sqlite3.Connection, dict[str, Any]], None] = lambda _conn, _item: None


def _stamp(state: SandboxState, request: Request, item: dict[str, Any], current: dict[str, Any] | None) -> None:
    """Contentstack's bookkeeping fields on a created or updated object."""
    now, user = now_iso(state), acting_user(request)
    if current is None:
        item.update(uid=item.get("uid") or "blt" + secrets.token_hex(8), created_by=user, created_at=now, ACL={})
        item["_version"] = 1
    else:
        item["_version"] = int(current.get("_version") or 1) + 1
    item.update(updated_by=user, updated_at=now)


def _required(value: Any, field: str) -> Any:
    if value is None:
        raise invalid(f"The {field} is required.", {field: ["is required."]})
    return value


def _taken(field: str, value: str) -> RequestRefused:
    return invalid(f"The {field} '{value}' is already taken.", {field: ["is not unique."]})


def prepare_environment(
    conn: sqlite3.Connection, body: EnvironmentBody, current: dict[str, Any] | None
) -> dict[str, Any]:
    item = dict(current or {}) | body.model_dump(exclude_none=True)
    name = _required(item.get("name"), "name")
    if (current is None or name != current["name"]) and store.get_environment(conn, name) is not None:
        raise _taken("name", name)
    item.setdefault("tags", [])
    for url in item.setdefault("urls", []):
        if "locale" not in url or "url" not in url:
            raise invalid("Each URL needs a locale and a url.", {"urls": ["is not valid."]})
    return item


def prepare_locale(conn: sqlite3.Connection, body: LocaleBody, current: dict[str, Any] | None) -> dict[str, Any]:
    if current is not None and body.code is not None and body.code != current["code"]:
        raise invalid("A language code cannot be changed.", {"code": ["cannot be changed."]})
    item = dict(current or {}) | body.model_dump(exclude_none=True)
    code = _required(item.get("code"), "code")
    if current is None and store.get_locale(conn, code) is not None:
        raise _taken("code", code)
    item.setdefault("name", code)
    master = store.master_locale(conn)
    fallback = item.setdefault("fallback_locale", master)
    if fallback != code and store.get_locale(conn, fallback) is None:
        raise invalid(f"The fallback language '{fallback}' does not exist.", {"fallback_locale": ["is not valid."]})
    return item


def prepare_label(conn: sqlite3.Connection, body: LabelBody, current: dict[str, Any] | None) -> dict[str, Any]:
    empty: dict[str, Any] = {"parent": [], "content_types": []}
    item = empty | dict(current or {}) | body.model_dump(exclude_none=True)
    _required(item.get("name"), "name")
    item.setdefault("tags", [])
    missing = [ct for ct in item["content_types"] if not store.content_type_exists(conn, ct)]
    if missing:
        raise invalid(f"Content type {', '.join(missing)} does not exist.", {"content_types": ["is not valid."]})
    labels = TableStorage("label")
    unknown = [p for p in item["parent"] if labels.get(conn, p) is None or p == item.get("uid")]
    if unknown:
        raise invalid(f"Parent label {', '.join(unknown)} does not exist.", {"parent": ["is not valid."]})
    return item


def prepare_webhook(conn: sqlite3.Connection, body: WebhookBody, current: dict[str, Any] | None) -> dict[str, Any]:
    del conn
    fields = body.model_dump(exclude_none=True)
    if isinstance(fields.get("notifiers"), str):
        fields["notifiers"] = [fields["notifiers"]]
    defaults: dict[str, Any] = {
        "branches": ["main"],
        "notifiers": [],
        "retry_policy": "manual",
        "disabled": False,
        "concise_payload": False,
        "unhealthy": {"state": False},
    }
    item = defaults | dict(current or {})
    item |= fields
    _required(item.get("name"), "name")
    if not item.get("channels"):
        raise invalid("The webhook needs at least one channel.", {"channels": ["is required."]})
    destinations = _required(item.get("destinations") or None, "destinations")
    for destination in destinations:
        if not str(destination.get("target_url", "")).startswith(("http://", "https://")):
            raise invalid("Each destination needs a target_url.", {"destinations.target_url": ["is not valid."]})
        destination.setdefault("authentication_type", "None")
        destination.setdefault("custom_header", [{"header_name": "", "value": ""}])
    return item


def webhook_answer(item: dict[str, Any]) -> dict[str, Any]:
    """A webhook as the pages answer it: its secrets masked."""
    destinations = [
        {k: (MASK if k in WEBHOOK_SECRETS and v else v) for k, v in d.items()} for d in item.get("destinations", [])
    ]
    return item | {"destinations": destinations}


def keep_master_locale(conn: sqlite3.Connection, item: dict[str, Any]) -> None:
    if item["code"] == store.master_locale(conn):
        raise invalid("The master language cannot be deleted.", {"code": ["is the master language."]})


def collections() -> list[Collection]:
    return [
        Collection(
            "/environments",
            "environment",
            "environments",
            StoreTableStorage(
                store.list_environments, store.get_environment, save_environment, store.delete_environment
            ),
            EnvironmentBody,
            cast(Prepare, prepare_environment),
            (
                "Environment created successfully.",
                "Environment updated successfully.",
                "Environment deleted successfully.",
            ),
        ),
        Collection(
            "/locales",
            "locale",
            "locales",
            StoreTableStorage(store.list_locales, store.get_locale, save_locale, store.delete_locale),
            LocaleBody,
            cast(Prepare, prepare_locale),
            ("Language added successfully.", "Language updated successfully.", "Language removed successfully."),
            protect=keep_master_locale,
        ),
        Collection(
            "/labels",
            "label",
            "labels",
            TableStorage("label"),
            LabelBody,
            cast(Prepare, prepare_label),
            ("Label created successfully.", "Label updated successfully.", "Label deleted successfully."),
        ),
        Collection(
            "/webhooks",
            "webhook",
            "webhooks",
            TableStorage("webhook"),
            WebhookBody,
            cast(Prepare, prepare_webhook),
            (
                "The webhook was created successfully",
                "The Webhook was updated successfully",
                "The Webhook was deleted successfully",
            ),
            answer=webhook_answer,
        ),
        Collection("/stacks/delivery_tokens", "token", "tokens", TableStorage("delivery_token")),
        Collection("/roles", "role", "roles", TableStorage("role")),
    ]


def collection_routes(state: SandboxState, c: Collection) -> list[BaseRoute]:
    """The routes of one collection: list, and for a writable one create, update and delete."""

    def found(conn: sqlite3.Connection, key: str) -> dict[str, Any]:
        item = c.storage.get(conn, key)
        if item is None:
            raise not_found(field=c.one)
        return item

    async def listed(request: Request) -> Response:
        with state.db.read() as conn:
            items = [c.answer(item) for item in c.storage.all(conn)]
        answer: dict[str, Any] = {c.many: items}
        if request.query_params.get("include_count", "").lower() in ("true", "1"):
            answer["count"] = len(items)
        return JSONResponse(answer)

    async def write(request: Request, key: str | None) -> Response:
        # Only writable collections route here.
        assert c.body is not None
        assert c.prepare is not None
        body = await parse_body(request, _wrapped(c.one, c.body))
        fields = getattr(body, c.one)
        with state.db.transaction() as conn:
            current = None if key is None else found(conn, key)
            item = c.prepare(conn, fields, current)
            _stamp(state, request, item, current)
            c.storage.save(conn, item, key)
        notice = c.notices[0 if key is None else 1]
        return JSONResponse({"notice": notice, c.one: c.answer(item)}, status_code=201 if key is None else 200)

    async def create(request: Request) -> Response:
        return await write(request, None)

    async def update(request: Request) -> Response:
        return await write(request, request.path_params["key"])

    async def delete(request: Request) -> Response:
        with state.db.transaction() as conn:
            item = found(conn, request.path_params["key"])
            c.protect(conn, item)
            c.storage.remove(conn, request.path_params["key"])
        return JSONResponse({"notice": c.notices[2]})

    table = [(c.path, "GET", listed)]
    if c.body is not None:
        table += [(c.path, "POST", create), (c.path + "/{key}", "PUT", update), (c.path + "/{key}", "DELETE", delete)]
    return cma_routes(state, table)


_WRAPPERS: dict[str, type[BaseModel]] = {}


def _wrapped(key: str, model: type[RequestBody]) -> type[BaseModel]:
    """The request body model `{key: model}` (`{"environment": {...}}`)."""
    if key not in _WRAPPERS:
        _WRAPPERS[key] = create_model(f"{model.__name__}Request", **{key: (model, ...)})  # pyright: ignore[reportCallIssue, reportArgumentType]
    return _WRAPPERS[key]


def setup(state: SandboxState) -> None:
    """Creates the table; seeds labels, webhooks, delivery tokens and roles when it is empty."""
    with state.db.transaction() as conn:
        conn.execute(_SCHEMA)
        if state.config.reset:
            conn.execute("DELETE FROM stack_admin_items")
        if conn.execute("SELECT 1 FROM stack_admin_items LIMIT 1").fetchone() is None:
            _seed(conn, now=store.iso(state.clock.now()), seed=state.config.seed)


def _seed(conn: sqlite3.Connection, now: str, seed: int) -> None:
    def uid(*parts: object) -> str:
        return store.make_uid(seed, *parts)

    common: dict[str, Any] = {
        "created_by": SANDBOX_USER_UID,
        "updated_by": SANDBOX_USER_UID,
        "created_at": now,
        "updated_at": now,
        "ACL": [],
        "_version": 1,
    }
    labels = TableStorage("label")
    catalog = uid("label", "catalog")
    labels.save(conn, {"name": "Catalog", "parent": [], "content_types": ["product"], "uid": catalog, **common}, None)
    labels.save(
        conn,
        {"name": "Editorial", "parent": [], "content_types": ["blog_post", "author"], "uid": uid("label", "ed")}
        | common,
        None,
    )
    webhooks = TableStorage("webhook")
    webhooks.save(
        conn,
        {
            "name": "Purge the CDN",
            "destinations": [
                {
                    "target_url": "https://cdn.example.com/purge",
                    "http_basic_auth": "sandbox",
                    "http_basic_password": "sandbox-basic-" + uid("webhook", "basic"),
                    "authentication_type": "Basic",
                    "custom_header": [{"header_name": "", "value": ""}],
                }
            ],
            "channels": ["assets.update", "assets.delete"],
            "branches": ["main"],
            "notifiers": [],
            "retry_policy": "manual",
            "disabled": False,
            "concise_payload": True,
            "uid": "cs" + uid("webhook", "cdn")[3:],
        }
        | common,
        None,
    )
    webhooks.save(
        conn,
        {
            "name": "Rebuild the site",
            "destinations": [
                {
                    "target_url": "https://hooks.example.com/rebuild",
                    "authentication_type": "Bearer",
                    "bearer_token": "sandbox-webhook-bearer-" + uid("webhook", "secret"),
                    "custom_header": [{"header_name": "X-Api-Key", "value": "sandbox-header-" + uid("header")}],
                }
            ],
            "channels": ["content_types.entries.environments.publish.success"],
            "branches": ["main"],
            "notifiers": [],
            "retry_policy": "automatic",
            "disabled": False,
            "concise_payload": True,
            "uid": "cs" + uid("webhook")[3:],
        }
        | common,
        None,
    )
    tokens = TableStorage("delivery_token")
    for name in ("production", "staging"):
        # The page's sample shows the environment whole, with fields the environments list leaves out.
        environment: dict[str, Any] = (store.get_environment(conn, name) or {"name": name}) | {
            "deploy_content": False,
            "servers": [],
            "app_user_object_uid": "system",
            "tags": [],
        }
        tokens.save(
            conn,
            {
                "name": f"{name.capitalize()} site",
                "description": f"Delivers the {name} website.",
                "scope": [{"module": "environment", "environments": [environment], "acl": {"read": True}}],
                "uid": uid("delivery_token", name),
                "token": "cs" + uid("delivery_token", name, "value")[3:] + "sandboxsecret",
                "type": "delivery",
            }
            | common,
            None,
        )
    roles = TableStorage("role")
    for name, description in (
        ("Admin", "Admin can perform all actions and manage all settings of the stack."),
        ("Developer", "Developer can manage content types, languages and environments."),
        ("Content Manager", "Content Manager can create, edit and publish content."),
    ):
        role: dict[str, Any] = {
            "name": name,
            "description": description,
            "uid": uid("role", name),
            "roles": [],
            "users": [SANDBOX_USER_UID],
            "owner": "sandbox@example.com",
            "SYS_ACL": {},
        }
        roles.save(conn, role | common, None)


def routes(state: SandboxState) -> list[BaseRoute]:
    """The administration routes, relative to `/cma/v3`."""
    return [route for c in collections() for route in collection_routes(state, c)]
