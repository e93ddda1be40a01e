"""The sandbox's Content Delivery API: only what was published, per environment and locale.

Mounted at `/cdn/v3`. An entry or asset is served for environment E and locale L only when it
was published there, and in the version that was published (`store.publish_details` and the
kept versions), never the latest draft. Choices the documentation leaves open:

- `environment` is required on every read (400 in the error body shape when missing, like an
  invalid parameter); the delivery token must belong to it (see `auth.check_cda`).
- A missing or unpublished entry or asset, and an unknown content type, answer 422 with
  `errors.uid: ["is not valid."]` (error_code 141 for entries and assets, 118 for content types).
- `include[]` expands only references that are published in the same environment and locale
  (with the fallback chain when `include_fallback=true`); the others are left out.
- File fields are answered as the asset objects published in that environment, as the CDA does;
  an asset not published there is answered as null.
- `publish_details` is one object (environment uid, locale, time, user), as the CDA answers it.
"""

from __future__ import annotations

import sqlite3
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from cs_mcp.sandbox import store
from cs_mcp.sandbox.auth import check_cda
from cs_mcp.sandbox.cma import (
    Entry,
    ListParams,
    ParamError,
    content_types_page,
    counted,
    expand_references,
    make_resolver,
    project,
    truthy,
)
from cs_mcp.sandbox.endpoint import Guard, bad_query, content_type_not_found, not_found, routes_behind
from cs_mcp.sandbox.query import QueryError, compile_query, parse_query
from cs_mcp.sandbox.state import SandboxState


class Reader:
    """Reads what is live in one environment, for one request."""

    def __init__(self, conn: sqlite3.Connection, environment: str, locale: str, fallback: bool) -> None:
        self.conn = conn
        self.environment = environment
        self.locale = locale
        self.chain = store.fallback_chain(conn, locale) if fallback else [locale]
        self.environment_uid = store.environment_uid(conn, environment) or environment

    def _published_entry(self, content_type: str, uid: str, locale: str) -> Entry | None:
        version = store.published_version(self.conn, "entry", content_type, uid, self.environment, locale)
        if version is None:
            return None
        entry = store.get_entry_version(self.conn, content_type, uid, locale, version)
        return None if entry is None else self._served(entry, "entry", content_type)

    def _served(self, item: Entry, kind: store.PublishKind, content_type: str) -> Entry:
        locale = item.get("locale", self.locale) if kind == "entry" else self.locale
        detail = next(
            (
                d
                for d in store.publish_details(self.conn, kind, content_type, item["uid"])
                if d["environment"] == self.environment and d["locale"] == locale
            ),
            None,
        )
        served = dict(item)
        if detail is not None:
            served["publish_details"] = {
                "environment": self.environment_uid,
                "locale": detail["locale"],
                "time": detail["time"],
                "user": detail["user"],
            }
        return served

    def entry(self, content_type: str, uid: str) -> Entry | None:
        """The published version of one entry, through the locale chain."""
        for locale in self.chain:
            found = self._published_entry(content_type, uid, locale)
            if found is not None:
                return found
        return None

    def entries(self, content_type: str) -> list[Entry]:
        """The published version of every entry of a content type, through the locale chain."""
        chosen: dict[str, Entry] = {}
        for locale in self.chain:
            for uid, _version in store.published_uids(self.conn, "entry", content_type, self.environment, locale):
                if uid not in chosen:
                    found = self._published_entry(content_type, uid, locale)
                    if found is not None:
                        chosen[uid] = found
        return list(chosen.values())

    def asset(self, uid: str) -> Entry | None:
        """The published version of one asset, through the locale chain."""
        for locale in self.chain:
            version = store.published_version(self.conn, "asset", "", uid, self.environment, locale)
            if version is not None:
                asset = store.get_asset_version(self.conn, uid, version)
                if asset is not None:
                    return self._served(asset, "asset", "")
        return None

    def assets(self) -> list[Entry]:
        """Every asset published in the environment, through the locale chain."""
        uids: dict[str, None] = {}
        for locale in self.chain:
            for uid, _version in store.published_uids(self.conn, "asset", "", self.environment, locale):
                uids.setdefault(uid)
        return [a for a in (self.asset(uid) for uid in uids) if a is not None]

    def load(self, content_type: str, uid: str) -> Entry | None:
        """For `expand_references`: a published entry, or a content type's definition (`content_type == ''`)."""
        if content_type == "":
            return store.get_content_type(self.conn, uid)
        return self.entry(content_type, uid)

    def schema_of(self, uid: str) -> list[dict[str, Any]] | None:
        found = store.get_content_type(self.conn, uid)
        return None if found is None else cast(list[dict[str, Any]], found["schema"])

    def with_files(self, value: Any, schema: list[dict[str, Any]]) -> Any:
        """`value` with its file fields (through groups and blocks) answered as published assets."""
        if isinstance(value, list):
            return [self.with_files(item, schema) for item in cast(list[Any], value)]
        if not isinstance(value, dict):
            return value
        node = dict(cast(dict[str, Any], value))
        for field in schema:
            uid = str(field["uid"])
            if uid not in node or node[uid] is None:
                continue
            data_type = field.get("data_type")
            if data_type == "file":
                node[uid] = self._file(node[uid])
            elif data_type == "group":
                node[uid] = self.with_files(node[uid], cast(list[dict[str, Any]], field.get("schema", [])))
            elif data_type == "blocks":
                node[uid] = [self._block_files(block, field) for block in cast(list[Any], node[uid])]
        return node

    def _file(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._file(v) for v in cast(list[Any], value)]
        uid = value if isinstance(value, str) else None
        return self.asset(uid) if uid is not None else cast(Any, value)

    def _block_files(self, block: Any, field: dict[str, Any]) -> Any:
        if not isinstance(block, dict):
            return block
        result: dict[str, Any] = {}
        blocks = {b["uid"]: b for b in cast(list[dict[str, Any]], field.get("blocks", []))}
        for block_uid, content in cast(dict[str, Any], block).items():
            schema = cast(list[dict[str, Any]], blocks.get(block_uid, {}).get("schema", []))
            result[block_uid] = self.with_files(content, schema)
        return result


class CDA:
    """The CDA's handlers over one sandbox state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _environment(self, request: Request) -> str:
        """The environment a read of entries or assets names.

        Raises RequestRefused (400, like an invalid parameter) when it names none.
        """
        environment = request.query_params.get("environment")
        if not environment:
            raise bad_query(ParamError("'environment' is required.", "environment"))
        return environment

    def _reader(self, conn: sqlite3.Connection, request: Request, environment: str) -> Reader:
        locale = request.query_params.get("locale") or store.master_locale(conn)
        return Reader(conn, environment, locale, truthy(request.query_params.get("include_fallback")))

    async def list_entries(self, request: Request) -> Response:
        environment = self._environment(request)
        ct = request.path_params["content_type"]
        with self.state.db.read() as conn:
            content_type = store.get_content_type(conn, ct)
            if content_type is None:
                raise content_type_not_found(ct)
            reader = self._reader(conn, request, environment)
            try:
                params = ListParams.from_request(request)
                predicate = compile_query(
                    parse_query(request.query_params.get("query")),
                    make_resolver(reader.schema_of, reader.entries, ct),
                )
            except QueryError as exc:
                raise bad_query(exc) from exc
            matched = [e for e in reader.entries(ct) if predicate(e)]
            shown = [self._present(reader, ct, entry, params) for entry in params.page(matched)]
        return counted(request, "entries", shown, matched)

    def _present(self, reader: Reader, ct: str, entry: Entry, params: ListParams) -> Entry:
        schema = reader.schema_of(ct) or []
        item = expand_references(entry, schema, params.include, reader.load)
        item = cast(Entry, reader.with_files(item, schema))
        return project(item, params.only, params.excepted)

    async def get_entry(self, request: Request) -> Response:
        environment = self._environment(request)
        ct, uid = request.path_params["content_type"], request.path_params["uid"]
        with self.state.db.read() as conn:
            if not store.content_type_exists(conn, ct):
                raise content_type_not_found(ct)
            reader = self._reader(conn, request, environment)
            try:
                params = ListParams.from_request(request)
            except QueryError as exc:
                raise bad_query(exc) from exc
            entry = reader.entry(ct, uid)
            if entry is None:
                raise not_found("entry")
            return JSONResponse({"entry": self._present(reader, ct, entry, params)})

    async def list_assets(self, request: Request) -> Response:
        environment = self._environment(request)
        try:
            params = ListParams.from_request(request)
            predicate = compile_query(parse_query(request.query_params.get("query")))
        except QueryError as exc:
            raise bad_query(exc) from exc
        with self.state.db.read() as conn:
            assets = [a for a in self._reader(conn, request, environment).assets() if predicate(a)]
        shown = [project(a, params.only, params.excepted) for a in params.page(assets)]
        return counted(request, "assets", shown, assets)

    async def get_asset(self, request: Request) -> Response:
        environment = self._environment(request)
        with self.state.db.read() as conn:
            asset = self._reader(conn, request, environment).asset(request.path_params["uid"])
        if asset is None:
            raise not_found("asset")
        return JSONResponse({"asset": asset})

    async def list_content_types(self, request: Request) -> Response:
        return content_types_page(request, self.state)

    async def get_content_type(self, request: Request) -> Response:
        uid = request.path_params["content_type"]
        with self.state.db.read() as conn:
            found = store.get_content_type(conn, uid)
        if found is None:
            raise content_type_not_found(uid)
        return JSONResponse({"content_type": found})


def cda_guard(state: SandboxState) -> Guard:
    """The CDA's token check, for the environment the request names (if any)."""

    def guard(request: Request) -> Response | None:
        return check_cda(request, state, request.query_params.get("environment") or None)

    return guard


def routes(state: SandboxState) -> list[BaseRoute]:
    """The CDA's routes, relative to `/cdn/v3`."""
    cda = CDA(state)
    return routes_behind(
        cda_guard(state),
        [
            ("/content_types/{content_type}/entries", "GET", cda.list_entries),
            ("/content_types/{content_type}/entries/{uid}", "GET", cda.get_entry),
            ("/content_types", "GET", cda.list_content_types),
            ("/content_types/{content_type}", "GET", cda.get_content_type),
            ("/assets", "GET", cda.list_assets),
            ("/assets/{uid}", "GET", cda.get_asset),
        ],
    )
