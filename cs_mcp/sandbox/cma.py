"""The sandbox's Content Management API: content types, entries, assets, environments, locales.

Mounted at `/cma/v3` (publishing and releases add their routes beside these). Answers and
errors follow Contentstack's reference pages ("CMA | Entries", "CMA | Assets" and the like).
Choices the documentation leaves open:

- Lists are ordered newest first (`created_at` descending) unless `asc`/`desc` names a field.
- `limit` above 100, a negative `skip` or `limit`, more than 10 `include[]` answer 400 in the
  error body shape (see `query.QUERY_ERROR_CODE`), like an invalid `query`.
- `locale` reads exactly that locale; with `include_fallback=true` an entry not localized there
  is read from its fallback chain (ending at the master locale), keeping the `locale` it came from.
- PUT merges the given fields into the latest version (fields not sent keep their value) and
  raises `_version`; PUT with a `locale` the entry has no version in localizes it (version 1,
  notice "Entry localized successfully.", as "Localize an entry" answers).
- "Get references of an entry" lists the entries (latest versions, in the asked locale or the
  master) whose fields refer to the entry anywhere, groups and blocks included, each with its
  `publish_details` when `include_publish_details=true`, and `count`.
- "Unlocalize an entry" drops the entry's own version in `locale` (its publish records there
  stay); the master locale, or a locale the entry has no version of its own in, answers 422
  error_code 141 (the reference is silent about both).
- Entry validation: mandatory fields present, values of the field's data type, unique fields
  unique among the latest versions of the locale; failures answer 422 error_code 119 with one
  message list per field. Fields outside the schema are dropped.
- A missing content type answers 422 error_code 118; a missing entry, asset, environment or
  locale 422 error_code 141 with `errors.uid` (or `name`/`code`).
- `publish_details` (with `include_publish_details=true`) name the environment by uid, as
  Contentstack does.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from cs_mcp.sandbox import store
from cs_mcp.sandbox.auth import acting_user
from cs_mcp.sandbox.endpoint import (
    NOT_FOUND_CODE,
    Endpoint,
    bad_query,
    cma_routes,
    content_type_not_found,
    invalid,
    json_object,
    not_found,
)
from cs_mcp.sandbox.query import QueryError, ReferenceResolver, compile_query, parse_query, values_at
from cs_mcp.sandbox.state import SandboxState

Entry = dict[str, Any]
MAX_LIMIT = 100
MAX_INCLUDES = 10
# Keys every entry carries that are not fields of its content type.
SYSTEM_KEYS = frozenset(
    {"uid", "locale", "_version", "created_at", "updated_at", "created_by", "updated_by", "ACL", "_in_progress"}
)


class ParamError(QueryError):
    """An invalid list parameter (`skip`, `limit`, `include[]`, ...), answered like a bad query."""


# -- shared by the CMA and the CDA ----------------------------------------------------------


def truthy(value: str | None) -> bool:
    """A boolean query parameter: `true` (any case) or `1`."""
    return value is not None and value.lower() in ("true", "1")


def int_param(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise ParamError(f"'{name}' must be a whole number.", name) from exc
    if value < 0:
        raise ParamError(f"'{name}' may not be negative.", name)
    return value


@dataclass(frozen=True)
class ListParams:
    """The list parameters shared by entry lists of the CMA and the CDA."""

    skip: int
    limit: int
    include_count: bool
    asc: str | None
    desc: str | None
    only: list[str]
    excepted: list[str]
    include: list[str]

    @classmethod
    def from_request(cls, request: Request) -> ListParams:
        """Reads and checks the parameters. Raises ParamError when one is invalid."""
        limit = int_param(request, "limit", MAX_LIMIT)
        if limit > MAX_LIMIT:
            raise ParamError(f"'limit' may be at most {MAX_LIMIT}.", "limit")
        include = request.query_params.getlist("include[]")
        if len(include) > MAX_INCLUDES:
            raise ParamError(f"at most {MAX_INCLUDES} 'include[]' are allowed.", "include[]")
        return cls(
            skip=int_param(request, "skip", 0),
            limit=limit,
            include_count=truthy(request.query_params.get("include_count")),
            asc=request.query_params.get("asc"),
            desc=request.query_params.get("desc"),
            only=request.query_params.getlist("only[BASE][]"),
            excepted=request.query_params.getlist("except[BASE][]"),
            include=include,
        )

    def page(self, items: list[Entry]) -> list[Entry]:
        """The page of `items` the request asks for: sorted by `asc` or `desc`, then `skip` and `limit`."""
        return sort_entries(items, self.asc, self.desc)[self.skip : self.skip + self.limit]


def counted(request: Request, key: str, page: list[Any], everything: list[Any]) -> JSONResponse:
    """A list answer: `page` under `key`, and the count of `everything` when `include_count` asks."""
    body: dict[str, Any] = {key: page}
    if truthy(request.query_params.get("include_count")):
        body["count"] = len(everything)
    return JSONResponse(body)


def content_types_page(request: Request, state: SandboxState) -> Response:
    """A page of content types (`skip`, `limit`, `include_count`), as the CMA and CDA answer.

    Raises RequestRefused (400) for a parameter out of range.
    """
    try:
        skip, limit = int_param(request, "skip", 0), int_param(request, "limit", MAX_LIMIT)
        if limit > MAX_LIMIT:
            raise ParamError(f"'limit' may be at most {MAX_LIMIT}.", "limit")
    except QueryError as exc:
        raise bad_query(exc) from exc
    with state.db.read() as conn:
        types = store.list_content_types(conn)
    return counted(request, "content_types", types[skip : skip + limit], types)


def _sort_key(value: Any) -> tuple[int, Any]:
    # Missing values sort first; numbers before strings, so mixed types never raise.
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (2, value)
    return (3, str(value))


def sort_entries(entries: list[Entry], asc: str | None, desc: str | None) -> list[Entry]:
    """Entries ordered by `asc` or `desc` (a field or dot path), newest first by default."""
    field, reverse = (asc, False) if asc else (desc or "created_at", True)

    def key(entry: Entry) -> tuple[int, Any]:
        found = values_at(entry, field)
        return _sort_key(found[0] if found else None)

    return sorted(entries, key=key, reverse=reverse)


def _project_only(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_project_only(item, paths) for item in cast(list[Any], value)]
    if not isinstance(value, dict):
        return value
    source = cast(dict[str, Any], value)
    result: dict[str, Any] = {}
    for head in dict.fromkeys(p[0] for p in paths):
        if head not in source:
            continue
        rests = [p[1:] for p in paths if p[0] == head]
        result[head] = source[head] if any(not r for r in rests) else _project_only(source[head], [r for r in rests])
    return result


def _project_except(value: Any, path: list[str]) -> Any:
    if isinstance(value, list):
        return [_project_except(item, path) for item in cast(list[Any], value)]
    if not isinstance(value, dict):
        return value
    source = dict(cast(dict[str, Any], value))
    if path[0] in source:
        if len(path) == 1:
            del source[path[0]]
        else:
            source[path[0]] = _project_except(source[path[0]], path[1:])
    return source


def project(entry: Entry, only: list[str], excepted: list[str]) -> Entry:
    """`only[BASE][]` keeps the named fields (and `uid`); `except[BASE][]` drops them."""
    result: Entry = entry
    if only:
        result = cast(Entry, _project_only(entry, [p.split(".") for p in [*only, "uid"]]))
    for path in excepted:
        if path != "uid":
            result = cast(Entry, _project_except(result, path.split(".")))
    return result


def schema_field(schema: list[dict[str, Any]], path: str) -> dict[str, Any] | None:
    """The schema field a dot path names, through groups and modular blocks; None if none."""
    fields = schema
    found: dict[str, Any] | None = None
    parts = path.split(".")
    index = 0
    while index < len(parts):
        found = next((f for f in fields if f.get("uid") == parts[index]), None)
        if found is None:
            return None
        index += 1
        if found.get("data_type") == "blocks" and index < len(parts):
            blocks = cast(list[dict[str, Any]], found.get("blocks", []))
            block = next((b for b in blocks if b.get("uid") == parts[index]), None)
            if block is None:
                return None
            fields = cast(list[dict[str, Any]], block.get("schema", []))
            index += 1
            if index == len(parts):
                return {"uid": block["uid"], "data_type": "block", "schema": fields}
        else:
            fields = cast(list[dict[str, Any]], found.get("schema", []))
    return found


# Loads the entries of a content type a reference may point to (latest on the CMA, published
# on the CDA), in the locale being read.
EntriesOf = Callable[[str], list[Entry]]


def make_resolver(
    schema_of: Callable[[str], list[dict[str, Any]] | None], entries_of: EntriesOf, content_type: str
) -> ReferenceResolver:
    """A reference resolver for `$in_query`/`$nin_query` on `content_type`'s reference fields."""

    def resolve(path: str, subquery: dict[str, Any]) -> set[str]:
        schema = schema_of(content_type) or []
        field = schema_field(schema, path)
        if field is None or field.get("data_type") != "reference":
            raise QueryError(f"'{path}' is not a reference field of '{content_type}'.", path)
        matching: set[str] = set()
        for target in cast(list[str], field.get("reference_to", [])):
            predicate = compile_query(subquery, make_resolver(schema_of, entries_of, target))
            matching.update(e["uid"] for e in entries_of(target) if predicate(e))
        return matching

    return resolve


def expand_references(
    entry: Entry,
    content_type_schema: list[dict[str, Any]],
    include: list[str],
    load: Callable[[str, str], Entry | None],
) -> Entry:
    """`entry` with the references named by `include[]` replaced by the entries they point to.

    `load(content_type, uid)` answers the referenced entry or None (a reference that cannot be
    served is left out, as Contentstack does). A path may continue through a referenced entry
    (`related.related`) or a group (`seo.author`).
    """
    result: Entry = dict(entry)
    for path in include:
        result = cast(Entry, _expand(result, path.split("."), content_type_schema, load))
    return result


def _expand(value: Any, path: list[str], schema: list[dict[str, Any]], load: Callable[[str, str], Entry | None]) -> Any:
    if isinstance(value, list):
        return [_expand(item, path, schema, load) for item in cast(list[Any], value)]
    if not isinstance(value, dict) or not path:
        return cast(Any, value)
    node = dict(cast(dict[str, Any], value))
    head, rest = path[0], path[1:]
    field = next((f for f in schema if f.get("uid") == head), None)
    if field is None or head not in node:
        return node
    if field.get("data_type") == "reference":
        expanded: list[Any] = []
        for ref in cast(list[Any], node[head] or []):
            if not isinstance(ref, dict):
                continue
            ref_dict = cast(dict[str, Any], ref)
            if "_content_type_uid" in ref_dict and "title" in ref_dict:
                target = ref_dict  # already expanded by an earlier include[] path
            else:
                loaded = load(str(ref_dict.get("_content_type_uid", "")), str(ref_dict.get("uid", "")))
                if loaded is None:
                    continue
                target = loaded | {"_content_type_uid": ref_dict.get("_content_type_uid")}
            if rest:
                target_schema = _schema_of_loaded(target, load)
                target = cast(dict[str, Any], _expand(target, rest, target_schema, load))
            expanded.append(target)
        node[head] = expanded
    elif field.get("data_type") == "group":
        node[head] = _expand(node[head], rest, cast(list[dict[str, Any]], field.get("schema", [])), load)
    return node


def _schema_of_loaded(target: dict[str, Any], load: Callable[[str, str], Entry | None]) -> list[dict[str, Any]]:
    # The loader is given the pseudo content type "" to fetch a content type's schema by uid.
    schema_holder = load("", str(target.get("_content_type_uid", "")))
    return cast(list[dict[str, Any]], (schema_holder or {}).get("schema", []))


def entries_in_locale(conn: sqlite3.Connection, content_type: str, locale: str, include_fallback: bool) -> list[Entry]:
    """The latest version of each entry of a content type read in `locale` (CMA reading)."""
    if not include_fallback:
        return store.list_entries(conn, content_type, locale)
    chain = store.fallback_chain(conn, locale)
    chosen: dict[str, Entry] = {}
    for code in chain:
        for entry in store.list_entries(conn, content_type, code):
            chosen.setdefault(entry["uid"], entry)
    return list(chosen.values())


def entry_in_locale(
    conn: sqlite3.Connection, content_type: str, uid: str, locale: str, include_fallback: bool
) -> Entry | None:
    """The latest version of one entry read in `locale`, through the fallback chain if asked."""
    chain = store.fallback_chain(conn, locale) if include_fallback else [locale]
    for code in chain:
        entry = store.get_entry(conn, content_type, uid, code)
        if entry is not None:
            return entry
    return None


def _refers_to(value: Any, content_type: str, uid: str) -> bool:
    """Whether a reference to entry `content_type`/`uid` (`{"uid", "_content_type_uid"}`) is
    anywhere in `value`: a field, a group, a modular block."""
    if isinstance(value, dict):
        node = cast(dict[str, Any], value)
        if node.get("uid") == uid and node.get("_content_type_uid") == content_type:
            return True
        return any(_refers_to(v, content_type, uid) for v in node.values())
    if isinstance(value, list):
        return any(_refers_to(v, content_type, uid) for v in cast(list[Any], value))
    return False


# -- validation -------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        return False
    try:
        # A date alone reads as midnight; `Z` spelled as an offset lets a date with one ("2024-01-01Z") pass too.
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _check_value(field: dict[str, Any], value: Any, conn: sqlite3.Connection, where: str) -> list[str]:
    data_type = field.get("data_type")
    multiple = bool(field.get("multiple"))
    if value is None:
        return []
    if data_type == "reference":
        if not isinstance(value, list):
            return ["must be a list of references."]
        problems: list[str] = []
        for ref in cast(list[Any], value):
            uid = cast(dict[str, Any], ref).get("uid") if isinstance(ref, dict) else ref
            if not isinstance(uid, str) or store.find_entry_content_type(conn, uid) not in field.get(
                "reference_to", []
            ):
                problems.append(f"references '{uid}', which is not an entry of {field.get('reference_to')}.")
        return problems
    if data_type == "blocks":
        return _check_blocks(field, value, conn, where)
    if multiple:
        if not isinstance(value, list):
            return ["must be a list."]
        items = cast(list[Any], value)
    else:
        items = [value]
    problems = []
    for item in items:
        problem = _check_single(field, item, conn, where)
        if problem:
            problems.extend(problem)
    return problems


def _check_single(field: dict[str, Any], item: Any, conn: sqlite3.Connection, where: str) -> list[str]:
    data_type = field.get("data_type")
    if data_type == "text":
        if not isinstance(item, str):
            return ["must be text."]
        pattern = field.get("format")
        if pattern and item and not re.search(str(pattern), item):
            return ["does not have the expected format."]
    elif data_type == "number":
        if not isinstance(item, int | float) or isinstance(item, bool):
            return ["must be a number."]
    elif data_type == "boolean":
        if not isinstance(item, bool):
            return ["must be true or false."]
    elif data_type == "isodate":
        if not _is_iso_date(item):
            return ["must be an ISO 8601 date."]
    elif data_type == "file":
        uid = cast(dict[str, Any], item).get("uid") if isinstance(item, dict) else item
        if not isinstance(uid, str) or store.get_asset(conn, uid) is None:
            return [f"references asset '{uid}', which does not exist."]
    elif data_type == "json":
        if not isinstance(item, dict):
            return ["must be a JSON object."]
    elif data_type == "group":
        if not isinstance(item, dict):
            return ["must be an object."]
        errors = _validate_fields(cast(list[dict[str, Any]], field.get("schema", [])), cast(Entry, item), conn, where)
        return [f"{name} {msg}" for name, msgs in errors.items() for msg in msgs]
    return []


def _check_blocks(field: dict[str, Any], value: Any, conn: sqlite3.Connection, where: str) -> list[str]:
    if not isinstance(value, list):
        return ["must be a list of blocks."]
    blocks = {b["uid"]: b for b in cast(list[dict[str, Any]], field.get("blocks", []))}
    problems: list[str] = []
    for item in cast(list[Any], value):
        if not isinstance(item, dict) or len(cast(dict[str, Any], item)) != 1:
            problems.append("each block must be an object with one block uid.")
            continue
        block_uid, content = next(iter(cast(dict[str, Any], item).items()))
        if block_uid not in blocks or not isinstance(content, dict):
            problems.append(f"has an unknown block '{block_uid}'.")
            continue
        schema = cast(list[dict[str, Any]], blocks[block_uid].get("schema", []))
        errors = _validate_fields(schema, cast(Entry, content), conn, where)
        problems.extend(f"{block_uid}.{name} {msg}" for name, msgs in errors.items() for msg in msgs)
    return problems


def _validate_fields(
    schema: list[dict[str, Any]], data: Entry, conn: sqlite3.Connection, where: str
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field in schema:
        uid = str(field["uid"])
        value = data.get(uid)
        if field.get("mandatory") and (value is None or value == "" or value == []):
            errors.setdefault(uid, []).append("is required.")
            continue
        problems = _check_value(field, value, conn, where)
        if problems:
            errors.setdefault(uid, []).extend(problems)
    return errors


def validate_entry(
    conn: sqlite3.Connection, content_type: str, schema: list[dict[str, Any]], entry: Entry
) -> dict[str, list[str]]:
    """Problems of `entry` (the whole new version) per field; {} when it is valid."""
    errors = _validate_fields(schema, entry, conn, content_type)
    for field in schema:
        uid = str(field["uid"])
        value = entry.get(uid)
        if not field.get("unique") or value in (None, "") or uid in errors:
            continue
        for other in store.list_entries(conn, content_type, entry["locale"]):
            if other["uid"] != entry["uid"] and other.get(uid) == value:
                errors.setdefault(uid, []).append("is not unique.")
                break
    return errors


# -- handlers ---------------------------------------------------------------------------------


def existing_content_type(conn: sqlite3.Connection, uid: str) -> dict[str, Any]:
    """The content type `uid`.

    Raises:
        RequestRefused: the stack has none (Contentstack's 422 with code 118).
    """
    found = store.get_content_type(conn, uid)
    if found is None:
        raise content_type_not_found(uid)
    return found


async def _entry_body(request: Request) -> Entry:
    """The `entry` object of a write's body.

    Raises RequestRefused: the body has none, not JSON included (422 error_code 119 naming
    `entry`, where `parse_body` would answer 400 to a body that is not JSON).
    """
    given = await json_object(request, "entry")
    if given is None:
        raise invalid("The request body must be an object with an 'entry' object.", {"entry": ["is not valid."]})
    return given


# What an entry write starts from in its locale: the base entry, the new version's number and
# the notice. Raises RequestRefused when the write is refused.
EntryStart = Callable[[sqlite3.Connection, str], tuple[Entry, int, str]]


class CMA:
    """The CMA's handlers over one sandbox state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _locale_param(self, conn: sqlite3.Connection, request: Request) -> str:
        return request.query_params.get("locale") or store.master_locale(conn)

    def _with_publish_details(self, conn: sqlite3.Connection, kind: store.PublishKind, ct: str, item: Entry) -> Entry:
        details: list[dict[str, Any]] = []
        for detail in store.publish_details(conn, kind, ct, item["uid"]):
            if kind == "entry" and detail["locale"] != item.get("locale"):
                continue
            env_uid = store.environment_uid(conn, detail["environment"]) or detail["environment"]
            details.append(detail | {"environment": env_uid})
        return item | {"publish_details": details}

    # content types

    async def list_content_types(self, request: Request) -> Response:
        return content_types_page(request, self.state)

    async def get_content_type(self, request: Request) -> Response:
        uid = request.path_params["content_type"]
        with self.state.db.read() as conn:
            found = existing_content_type(conn, uid)
        return JSONResponse({"content_type": found})

    # entries

    def _schema_of(self, conn: sqlite3.Connection) -> Callable[[str], list[dict[str, Any]] | None]:
        def schema_of(uid: str) -> list[dict[str, Any]] | None:
            found = store.get_content_type(conn, uid)
            return None if found is None else cast(list[dict[str, Any]], found["schema"])

        return schema_of

    def _loader(self, conn: sqlite3.Connection, locale: str) -> Callable[[str, str], Entry | None]:
        def load(content_type: str, uid: str) -> Entry | None:
            if content_type == "":
                return store.get_content_type(conn, uid)
            return entry_in_locale(conn, content_type, uid, locale, True)

        return load

    async def list_entries(self, request: Request) -> Response:
        ct = request.path_params["content_type"]
        with self.state.db.read() as conn:
            content_type = existing_content_type(conn, ct)
            locale = self._locale_param(conn, request)
            fallback = truthy(request.query_params.get("include_fallback"))
            try:
                params = ListParams.from_request(request)

                def entries_of(target: str) -> list[Entry]:
                    return entries_in_locale(conn, target, locale, fallback)

                predicate = compile_query(
                    parse_query(request.query_params.get("query")),
                    make_resolver(self._schema_of(conn), entries_of, ct),
                )
            except QueryError as exc:
                raise bad_query(exc) from exc
            matched = [e for e in entries_in_locale(conn, ct, locale, fallback) if predicate(e)]
            page = params.page(matched)
            schema = cast(list[dict[str, Any]], content_type["schema"])
            load = self._loader(conn, locale)
            with_details = truthy(request.query_params.get("include_publish_details"))
            shown: list[Entry] = []
            for entry in page:
                item = expand_references(entry, schema, params.include, load)
                if with_details:
                    item = self._with_publish_details(conn, "entry", ct, item)
                shown.append(project(item, params.only, params.excepted))
        return counted(request, "entries", shown, matched)

    async def get_entry(self, request: Request) -> Response:
        ct, uid = request.path_params["content_type"], request.path_params["uid"]
        with self.state.db.read() as conn:
            content_type = existing_content_type(conn, ct)
            locale = self._locale_param(conn, request)
            try:
                params = ListParams.from_request(request)
                version = int_param(request, "version", 0)
            except QueryError as exc:
                raise bad_query(exc) from exc
            entry = entry_in_locale(conn, ct, uid, locale, truthy(request.query_params.get("include_fallback")))
            if entry is not None and version:
                entry = store.get_entry_version(conn, ct, uid, entry["locale"], version)
            if entry is None:
                raise not_found()
            schema = cast(list[dict[str, Any]], content_type["schema"])
            item = expand_references(entry, schema, params.include, self._loader(conn, locale))
            if truthy(request.query_params.get("include_publish_details")):
                item = self._with_publish_details(conn, "entry", ct, item)
        return JSONResponse({"entry": project(item, params.only, params.excepted)})

    async def entry_languages(self, request: Request) -> Response:
        """The stack's locales for one entry, as "Get languages of an entry" answers them: the
        localized ones flagged `localized: true`; the master and the fallbacks unflagged."""
        ct, uid = request.path_params["content_type"], request.path_params["uid"]
        with self.state.db.read() as conn:
            existing_content_type(conn, ct)
            held = store.entry_locales(conn, ct, uid)
            if not held:
                raise not_found()
            master = store.master_locale(conn)
            codes = store.locale_codes(conn)
        locales: list[dict[str, Any]] = [
            {"code": code, "localized": True} if code in held and code != master else {"code": code} for code in codes
        ]
        return JSONResponse({"locales": locales})

    async def entry_references(self, request: Request) -> Response:
        """The entries that refer to one entry, as "Get references of an entry" answers them."""
        ct, uid = request.path_params["content_type"], request.path_params["uid"]
        details = truthy(request.query_params.get("include_publish_details"))
        with self.state.db.read() as conn:
            existing_content_type(conn, ct)
            if not store.entry_locales(conn, ct, uid):
                raise not_found()
            locale = self._locale_param(conn, request)
            found: list[dict[str, Any]] = []
            for content_type in store.list_content_types(conn):
                for entry in store.list_entries(conn, content_type["uid"], locale):
                    if not _refers_to(entry, ct, uid):
                        continue
                    reference: dict[str, Any] = {
                        "entry_uid": entry["uid"],
                        "content_type_uid": content_type["uid"],
                        "locale": entry.get("locale", locale),
                        "_version": entry.get("_version"),
                        "title": entry.get("title"),
                        "content_type_title": content_type.get("title"),
                    }
                    if details:
                        published = self._with_publish_details(conn, "entry", content_type["uid"], entry)
                        reference["publish_details"] = published["publish_details"]
                    found.append(reference)
        return JSONResponse({"references": found, "count": len(found)})

    async def unlocalize_entry(self, request: Request) -> Response:
        ct, uid = request.path_params["content_type"], request.path_params["uid"]
        locale = request.query_params.get("locale")
        if not locale:
            # Code 141 like the other refusals to unlocalize (see the module's docstring).
            raise invalid("The locale parameter is required.", {"locale": ["is required."]}, code=NOT_FOUND_CODE)
        with self.state.db.transaction() as conn:
            existing_content_type(conn, ct)
            held = store.entry_locales(conn, ct, uid)
            if not held:
                raise not_found()
            if locale == store.master_locale(conn) or locale not in held:
                raise invalid(
                    f"The entry is not localized in '{locale}'.",
                    {"locale": ["is the master locale or not localized."]},
                    code=NOT_FOUND_CODE,
                )
            store.delete_entry(conn, ct, uid, locale)
        return JSONResponse({"notice": "Entry unlocalized successfully."})

    def _new_version(
        self, request: Request, conn: sqlite3.Connection, ct: str, base: Entry, given: Entry, version: int
    ) -> Entry:
        content_type = store.get_content_type(conn, ct)
        assert content_type is not None  # checked by the caller in the same transaction
        schema = cast(list[dict[str, Any]], content_type["schema"])
        field_uids = {str(f["uid"]) for f in schema}
        fields = {k: v for k, v in given.items() if k in field_uids}
        now = store.iso(self.state.clock.now())
        entry = base | fields | {"_version": version, "updated_at": now, "updated_by": acting_user(request)}
        if "tags" in given:
            entry["tags"] = given["tags"]
        entry.setdefault("tags", [])
        return entry

    def _write_target(self, conn: sqlite3.Connection, request: Request, ct: str) -> tuple[dict[str, Any], str]:
        """The content type and the locale an entry write goes to.

        Raises RequestRefused: no such content type (118) or locale (141, `errors.locale`).
        """
        content_type = existing_content_type(conn, ct)
        locale = self._locale_param(conn, request)
        if store.get_locale(conn, locale) is None:
            raise not_found(field="locale")
        return content_type, locale

    async def _save_entry(self, request: Request, ct: str, action: str, start: EntryStart) -> tuple[Entry, str]:
        """The body's entry saved as a new version over what `start` gives in the write's locale
        (the base entry, its version number and the notice).

        Raises RequestRefused: the body, the target or the entry is refused; Contentstack's
        wording of an invalid entry names the `action` ("creation", "update") that failed.
        """
        given = await _entry_body(request)
        with self.state.db.transaction() as conn:
            content_type, locale = self._write_target(conn, request, ct)
            base, version, notice = start(conn, locale)
            entry = self._new_version(request, conn, ct, base, given, version)
            if errors := validate_entry(conn, ct, cast(list[dict[str, Any]], content_type["schema"]), entry):
                raise invalid(f"Entry {action} failed. Please enter valid data.", errors)
            store.save_entry(conn, ct, entry)
        return entry, notice

    async def create_entry(self, request: Request) -> Response:
        ct = request.path_params["content_type"]

        def start(conn: sqlite3.Connection, locale: str) -> tuple[Entry, int, str]:
            base: Entry = {
                "uid": "blt" + secrets.token_hex(8),
                "locale": locale,
                "created_at": store.iso(self.state.clock.now()),
                "created_by": acting_user(request),
                "ACL": {},
                "_in_progress": False,
            }
            return base, 1, "Entry created successfully."

        entry, notice = await self._save_entry(request, ct, "creation", start)
        return JSONResponse({"notice": notice, "entry": entry}, status_code=201)

    async def update_entry(self, request: Request) -> Response:
        ct, uid = request.path_params["content_type"], request.path_params["uid"]

        def start(conn: sqlite3.Connection, locale: str) -> tuple[Entry, int, str]:
            current = store.get_entry(conn, ct, uid, locale)
            if current is not None:
                return current, current["_version"] + 1, "Entry updated successfully."
            # Localizing: the new locale starts from what readers saw through the fallback.
            source = entry_in_locale(conn, ct, uid, locale, True)
            if source is None:
                raise not_found()
            now = store.iso(self.state.clock.now())
            base = source | {"locale": locale, "created_at": now, "created_by": acting_user(request)}
            return base, 1, "Entry localized successfully."

        entry, notice = await self._save_entry(request, ct, "update", start)
        return JSONResponse({"notice": notice, "entry": entry})

    async def delete_entry(self, request: Request) -> Response:
        ct, uid = request.path_params["content_type"], request.path_params["uid"]
        with self.state.db.transaction() as conn:
            existing_content_type(conn, ct)
            locale = request.query_params.get("locale")
            if store.delete_entry(conn, ct, uid, locale) == 0:
                raise not_found()
        return JSONResponse({"notice": "Entry deleted successfully."})

    # assets

    async def list_assets(self, request: Request) -> Response:
        try:
            params = ListParams.from_request(request)
            predicate = compile_query(parse_query(request.query_params.get("query")))
        except QueryError as exc:
            raise bad_query(exc) from exc
        folder = request.query_params.get("folder")
        with_folders = truthy(request.query_params.get("include_folders"))

        def listed(asset: Entry) -> bool:
            # Folders only with include_folders=true; `folder` keeps one folder's contents
            # (`cs_root`: the top level).
            if asset.get("is_dir") and not with_folders:
                return False
            if folder is not None and asset.get("parent_uid") != (None if folder == "cs_root" else folder):
                return False
            return predicate(asset)

        with self.state.db.read() as conn:
            assets = [a for a in store.list_assets(conn) if listed(a)]
            page = params.page(assets)
            if truthy(request.query_params.get("include_publish_details")):
                page = [self._with_publish_details(conn, "asset", "", a) for a in page]
        return counted(request, "assets", [project(a, params.only, params.excepted) for a in page], assets)

    async def get_asset(self, request: Request) -> Response:
        uid = request.path_params["uid"]
        try:
            version = int_param(request, "version", 0)
        except QueryError as exc:
            raise bad_query(exc) from exc
        with self.state.db.read() as conn:
            asset = store.get_asset_version(conn, uid, version) if version else store.get_asset(conn, uid)
            if asset is None:
                raise not_found()
            if truthy(request.query_params.get("include_publish_details")):
                asset = self._with_publish_details(conn, "asset", "", asset)
        return JSONResponse({"asset": asset})

    # single environments and locales (their lists and writes: stack_admin.py)

    def stack_setting(
        self, kind: str, key: str, read: Callable[[sqlite3.Connection, str], dict[str, Any] | None]
    ) -> Endpoint:
        """The handler that answers one environment or locale (`kind`, read with `read`) by the
        path parameter `key`, which a 404 names."""

        async def handler(request: Request) -> Response:
            with self.state.db.read() as conn:
                found = read(conn, request.path_params[key])
            if found is None:
                raise not_found(field=key)
            return JSONResponse({kind: found})

        return handler


def routes(state: SandboxState) -> list[BaseRoute]:
    """The CMA's routes, relative to `/cma/v3`."""
    cma = CMA(state)

    return cma_routes(
        state,
        [
            ("/content_types", "GET", cma.list_content_types),
            ("/content_types/{content_type}", "GET", cma.get_content_type),
            ("/content_types/{content_type}/entries", "GET", cma.list_entries),
            ("/content_types/{content_type}/entries", "POST", cma.create_entry),
            ("/content_types/{content_type}/entries/{uid}", "GET", cma.get_entry),
            ("/content_types/{content_type}/entries/{uid}", "PUT", cma.update_entry),
            ("/content_types/{content_type}/entries/{uid}", "DELETE", cma.delete_entry),
            ("/content_types/{content_type}/entries/{uid}/locales", "GET", cma.entry_languages),
            ("/content_types/{content_type}/entries/{uid}/references", "GET", cma.entry_references),
            ("/content_types/{content_type}/entries/{uid}/unlocalize", "POST", cma.unlocalize_entry),
            ("/assets", "GET", cma.list_assets),
            ("/assets/{uid}", "GET", cma.get_asset),
            ("/environments/{name}", "GET", cma.stack_setting("environment", "name", store.get_environment)),
            ("/locales/{code}", "GET", cma.stack_setting("locale", "code", store.get_locale)),
        ],
    )
