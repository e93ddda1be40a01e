"""Entries and assets: query, read, create, update, delete (CMA drafts and CDA published)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack, cast

from cs_mcp.client._answers import count_of, list_at, object_at, page_at
from cs_mcp.client._entry_models import Asset, EntryLocale, EntryReference, Notice, Source, VersionOf
from cs_mcp.client._models import Entry, Page, plain_entry
from cs_mcp.client._regions import Api

if TYPE_CHECKING:
    from cs_mcp.client._client import ContentstackClient, Primitive
    from cs_mcp.guard.permit import Permit

# A `query` of uids is sent in pieces this large: the most one page answers ("CMA | Entries").
VERSION_LOOKUP_CHUNK = 100

SortOrder = tuple[str, Literal["asc", "desc"]]


class QueryOptions(TypedDict, total=False):
    """What a query of entries may say beside the content type (each as `EntriesAPI._query` takes it)."""

    source: Source
    environment: str | None
    locale: str | None
    query: Mapping[str, Any] | None
    only: Sequence[str] | None
    include: Sequence[str] | None
    sort: SortOrder | None
    skip: int
    limit: int


class GetOptions(TypedDict, total=False):
    """What a read of one entry may say beside its content type and uid (as `EntriesAPI._get` takes it)."""

    source: Source
    environment: str | None
    locale: str | None
    version: int | None
    only: Sequence[str] | None


def _read_from(environment: str | None, locale: str | None) -> list[tuple[str, Primitive]]:
    """Where a read reads: the CDA's `environment`, or else the CMA's drafts with where each is
    published; and in which locale."""
    params: list[tuple[str, Primitive]] = (
        [("environment", environment)] if environment else [("include_publish_details", "true")]
    )
    if locale:
        params.append(("locale", locale))
    return params


def _projection(only: Sequence[str] | None) -> list[tuple[str, Primitive]]:
    """`only[BASE][]` once per field: Contentstack then sends only those (and `uid`)."""
    return [("only[BASE][]", name) for name in only or ()]


class EntriesAPI:
    """Reads entries and assets from the CMA (drafts, latest versions) or the CDA (what is
    published in one environment), and writes entries through the CMA."""

    def __init__(self, core: ContentstackClient) -> None:
        self._core = core

    def _api_and_environment(self, source: Source, environment: str | None) -> tuple[Api, str | None]:
        if source == "draft":
            return Api.CMA, None
        env = environment or self._core.config.default_environment
        if not env:
            raise ValueError("reading published content needs an environment")
        return Api.CDA, env

    # -- entries: reads --------------------------------------------------------------------

    async def query(self, content_type: str, **options: Unpack[QueryOptions]) -> Page[Entry]:
        """One page of a content type's entries matching `query`, with the total count.

        `draft` reads the CMA (latest versions, with `publish_details`); `published` reads the
        CDA for `environment` (default: the configured environment).

        Raises:
            ValueError: `published` without any environment.
            NotFoundError: the content type does not exist.
        """
        body, skip, limit = await self._query(content_type, **options)
        return page_at(body, "entries", Entry, skip=skip, limit=limit)

    async def each(self, content_type: str, **options: Unpack[QueryOptions]) -> AsyncIterator[Entry]:
        """Every entry `query` matches, from `skip` on, page after page until the count is
        reached or a page comes back empty.

        Raises:
            As `query`, at the page that fails.
        """
        skip: int | None = options.get("skip", 0)
        while skip is not None:
            options["skip"] = skip
            page = await self.query(content_type, **options)
            for entry in page.items:
                yield entry
            skip = page.next_skip if page.items else None

    async def query_plain(self, content_type: str, **options: Unpack[QueryOptions]) -> Page[dict[str, Any]]:
        """`query`'s page with each entry as `Entry` writes it back (`plain_entry`), without
        building the models in the common case.

        Raises:
            ValueError: `published` without any environment.
            NotFoundError: the content type does not exist.
            ValidationError: an entry without an entry's shape.
        """
        body, skip, limit = await self._query(content_type, **options)
        items = [plain_entry(raw) for raw in list_at(body, "entries")]
        # Built as they are: validating the page would copy every entry once more.
        return Page[dict[str, Any]].model_construct(items=items, total=count_of(body), skip=skip, limit=limit)

    async def _query(
        self,
        content_type: str,
        *,
        source: Source = "draft",
        environment: str | None = None,
        locale: str | None = None,
        query: Mapping[str, Any] | None = None,
        only: Sequence[str] | None = None,
        include: Sequence[str] | None = None,
        sort: SortOrder | None = None,
        skip: int = 0,
        limit: int = 25,
    ) -> tuple[dict[str, Any], int, int]:
        """The answer to a query of entries, and where its page starts and how long it may be."""
        api, env = self._api_and_environment(source, environment)
        params = [("include_count", "true"), ("skip", skip), ("limit", limit), *_read_from(env, locale)]
        if query:
            params.append(("query", json.dumps(query, separators=(",", ":"), ensure_ascii=False)))
        params.extend(_projection(only))
        params.extend(("include[]", path) for path in include or ())
        if sort is not None:
            params.append((sort[1], sort[0]))
        body = await self._core.request(
            api, "GET", ["content_types", content_type, "entries"], params=params, environment=env
        )
        return body, skip, limit

    async def get(self, content_type: str, uid: str, **options: Unpack[GetOptions]) -> Entry:
        """One entry: its latest draft (or `version`), or the version published in `environment`.

        Raises:
            NotFoundError: no such entry (or, on the CDA, not published there in that locale).
        """
        return Entry.model_validate(await self._get(content_type, uid, **options))

    async def get_plain(self, content_type: str, uid: str, **options: Unpack[GetOptions]) -> dict[str, Any]:
        """`get`'s entry as `Entry` writes it back (`plain_entry`), without building the model
        in the common case.

        Raises:
            NotFoundError: no such entry (or, on the CDA, not published there in that locale).
            ValidationError: an entry without an entry's shape.
        """
        return plain_entry(await self._get(content_type, uid, **options))

    async def _get(
        self,
        content_type: str,
        uid: str,
        *,
        source: Source = "draft",
        environment: str | None = None,
        locale: str | None = None,
        version: int | None = None,
        only: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """The entry of the answer to a read of one entry."""
        api, env = self._api_and_environment(source, environment)
        params = _read_from(env, locale)
        if version is not None:
            params.append(("version", version))
        params.extend(_projection(only))
        body = await self._core.request(
            api, "GET", ["content_types", content_type, "entries", uid], params=params, environment=env
        )
        return object_at(body, "entry")

    async def references(self, content_type: str, uid: str, *, locale: str | None = None) -> list[EntryReference]:
        """The entries that refer to this one ("Get references of an entry"), with where each
        is published.

        Raises:
            NotFoundError: no such content type or entry.
        """
        params: list[tuple[str, Primitive]] = [("include_publish_details", "true")]
        if locale:
            params.append(("locale", locale))
        body = await self._core.request(
            Api.CMA, "GET", ["content_types", content_type, "entries", uid, "references"], params=params
        )
        return [EntryReference.model_validate(raw) for raw in list_at(body, "references")]

    async def locales(self, content_type: str, uid: str) -> list[EntryLocale]:
        """The stack's locales as "Get languages of an entry" answers them for this entry.

        Raises:
            NotFoundError: no such content type or entry.
        """
        body = await self._core.request(Api.CMA, "GET", ["content_types", content_type, "entries", uid, "locales"])
        return [EntryLocale.model_validate(raw) for raw in list_at(body, "locales")]

    async def localize(
        self, content_type: str, uid: str, fields: Mapping[str, Any], *, locale: str, permit: Permit | None
    ) -> Entry:
        """Gives the entry a version of its own in `locale` ("Localize an entry": the update
        request, sent in a locale where the entry only falls back); answers it at `_version` 1.

        Raises:
            PermitRequiredError: without the guard's permit for `entry.localize` (nothing sent).
            NotFoundError, InvalidRequestError: Contentstack's refusal.
        """
        return await self._save(content_type, uid, fields, locale, permit, "entry.localize")

    async def unlocalize(self, content_type: str, uid: str, *, locale: str, permit: Permit | None) -> str | None:
        """Drops the entry's own version in `locale`, which falls back again ("Unlocalize an
        entry"); answers Contentstack's notice.

        Raises:
            PermitRequiredError: without the guard's permit for `entry.unlocalize` (nothing sent).
            NotFoundError, InvalidRequestError: Contentstack's refusal.
        """
        body = await self._write("POST", content_type, [uid, "unlocalize"], locale, "entry.unlocalize", permit)
        return Notice.model_validate(body).notice

    async def localized_locales(self, content_type: str, uid: str) -> list[str]:
        """The locales, other than the master, in which the entry has a localized version of its
        own ("Get languages of an entry" flags them `localized: true`).

        Raises:
            NotFoundError: no such entry.
        """
        body = await self._core.request(Api.CMA, "GET", ["content_types", content_type, "entries", uid, "locales"])
        listed = [cast(dict[str, Any], raw) for raw in list_at(body, "locales") if isinstance(raw, dict)]
        return [str(loc["code"]) for loc in listed if loc.get("localized") is True and isinstance(loc.get("code"), str)]

    async def latest_versions(self, content_type: str, uids: Sequence[str], *, locale: str) -> dict[str, int]:
        """The latest `_version` in `locale` of each entry that exists there, in pieces of 100
        uids per request (a missing uid is simply absent from the answer)."""
        only: list[tuple[str, Primitive]] = [("locale", locale), ("only[BASE][]", "uid"), ("only[BASE][]", "_version")]
        return await self._versions(["content_types", content_type, "entries"], "entries", uids, only)

    async def _versions(
        self, path: list[str], key: str, uids: Sequence[str], params: Sequence[tuple[str, Primitive]] = ()
    ) -> dict[str, int]:
        """The `_version` of each of `uids` that the list at `path` (answered under `key`)
        holds, asked for 100 uids a request."""
        found: dict[str, int] = {}
        unique = list(dict.fromkeys(uids))
        for start in range(0, len(unique), VERSION_LOOKUP_CHUNK):
            chunk = unique[start : start + VERSION_LOOKUP_CHUNK]
            asked: list[tuple[str, Primitive]] = [
                ("query", json.dumps({"uid": {"$in": chunk}}, separators=(",", ":"))),
                ("limit", VERSION_LOOKUP_CHUNK),
                *params,
            ]
            body = await self._core.request(Api.CMA, "GET", path, params=asked)
            for raw in list_at(body, key):
                ref = VersionOf.model_validate(raw)
                if ref.version is not None and ref.uid in chunk:
                    found[ref.uid] = ref.version
        return found

    # -- entries: writes -------------------------------------------------------------------

    async def create(
        self, content_type: str, fields: Mapping[str, Any], *, locale: str, permit: Permit | None
    ) -> Entry:
        """Creates an entry in `locale`; Contentstack answers it at `_version` 1.

        Raises:
            PermitRequiredError: without the guard's permit for `entry.create` (nothing sent).
            InvalidRequestError: Contentstack refused the fields (`errors` per field).
        """
        body = await self._write("POST", content_type, [], locale, "entry.create", permit, fields)
        return Entry.model_validate(object_at(body, "entry"))

    async def update(
        self, content_type: str, uid: str, fields: Mapping[str, Any], *, locale: str, permit: Permit | None
    ) -> Entry:
        """Saves `fields` as the entry's new version in `locale` (Contentstack raises `_version`).

        Raises:
            PermitRequiredError: without the guard's permit for `entry.update` (nothing sent).
            NotFoundError, InvalidRequestError: Contentstack's refusal.
        """
        return await self._save(content_type, uid, fields, locale, permit, "entry.update")

    async def _save(
        self, content_type: str, uid: str, fields: Mapping[str, Any], locale: str, permit: Permit | None, operation: str
    ) -> Entry:
        body = await self._write("PUT", content_type, [uid], locale, operation, permit, fields)
        return Entry.model_validate(object_at(body, "entry"))

    async def delete(self, content_type: str, uid: str, *, locale: str, permit: Permit | None) -> str | None:
        """Deletes the entry's `locale` version; answers Contentstack's notice.

        Raises:
            PermitRequiredError: without the guard's permit for `entry.delete` (nothing sent).
            NotFoundError: no such entry.
        """
        body = await self._write("DELETE", content_type, [uid], locale, "entry.delete", permit)
        return Notice.model_validate(body).notice

    async def _write(
        self,
        method: str,
        content_type: str,
        tail: list[str],
        locale: str,
        operation: str,
        permit: Permit | None,
        fields: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A write to the content type's entries (`tail`: the path below them) in `locale`, with
        `fields` as the entry's body if given.

        Raises:
            PermitRequiredError: without the guard's permit for `operation` on the content type
                and the locale (nothing sent).
            APIStatusError: Contentstack's refusal.
        """
        return await self._core.request(
            Api.CMA,
            method,
            ["content_types", content_type, "entries", *tail],
            params={"locale": locale},
            json_body=None if fields is None else {"entry": dict(fields)},
            permit=permit,
            operation=operation,
            targets={"content_type": [content_type], "locale": [locale]},
        )

    # -- assets ----------------------------------------------------------------------------

    async def assets(
        self,
        *,
        query: Mapping[str, Any] | None = None,
        folder: str | None = None,
        only: Sequence[str] | None = None,
        skip: int = 0,
        limit: int = 25,
    ) -> Page[Asset]:
        """One page of assets from the CMA (optionally in one folder), with the total count."""
        params: list[tuple[str, Primitive]] = [
            ("include_count", "true"),
            ("include_publish_details", "true"),
            ("skip", skip),
            ("limit", limit),
        ]
        if folder:
            params.append(("folder", folder))
        if query:
            params.append(("query", json.dumps(query, separators=(",", ":"), ensure_ascii=False)))
        params.extend(_projection(only))
        body = await self._core.request(Api.CMA, "GET", ["assets"], params=params)
        return page_at(body, "assets", Asset, skip=skip, limit=limit)

    async def asset(self, uid: str) -> Asset:
        """One asset.

        Raises:
            NotFoundError: no such asset.
        """
        body = await self._core.request(Api.CMA, "GET", ["assets", uid], params={"include_publish_details": "true"})
        return Asset.model_validate(object_at(body, "asset"))

    async def latest_asset_versions(self, uids: Sequence[str]) -> dict[str, int]:
        """The latest `_version` of each asset that exists, 100 uids per request."""
        return await self._versions(["assets"], "assets", uids)
