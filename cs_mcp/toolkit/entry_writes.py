"""What the entry-writing toolsets share (entries, entries_extra): the reference to an entry
an answer carries, the entry write answer, and the steps of a write: read the current version,
check the fields against the content type's schema (read again once when the cached one finds
problems), build the whole entry to send, and explain Contentstack's refusal of the fields."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from cs_mcp.client import ContentItem, Entry, InvalidRequestError, NotFoundError
from cs_mcp.guard import Targets
from cs_mcp.toolkit.context import AppState
from cs_mcp.toolkit.entry_schema import check_entry_fields, editable_fields, missing_mandatory
from cs_mcp.toolkit.models import ToolModel
from cs_mcp.toolkit.shape import clean
from cs_mcp.toolkit.write import Permits, WriteAnswer, WriteCall, WriteOutcome, WritePlan

T = TypeVar("T")


class EntryRef(ToolModel):
    content_type: str
    uid: str
    locale: str
    version: int | None = None
    title: str | None = None


class EntryWriteAnswer(WriteAnswer):
    entry: EntryRef | None = Field(default=None, description="The entry as written (null on a dry run).")


async def schema_problems(state: AppState, content_type: str, check: Callable[[Any], list[str]]) -> list[str]:
    """Problems of a write against the cached schema; when there are any, the schema is read
    again once (it may have changed since it was cached) and the check repeated."""
    try:
        ct = await state.meta.content_type(content_type)
    except NotFoundError:
        raise await state.meta.content_type_missing(content_type) from None
    problems = check(ct.schema_)
    if problems:
        fresh = await state.meta.content_type(content_type, refresh=True)
        problems = check(fresh.schema_)
    return problems


def refuse_problems(content_type: str, problems: Sequence[str]) -> ToolError:
    listed = "; ".join(problems)
    return ToolError(
        f"the fields do not fit content type {content_type!r} ({len(problems)} problem"
        f"{'s' if len(problems) != 1 else ''}): {listed}. Nothing was sent. "
        f"get_content_type({content_type!r}) shows the schema."
    )


async def write_or_explain(state: AppState, content_type: str, fields: Mapping[str, Any], run: Awaitable[T]) -> T:
    """Runs a write; when Contentstack refuses the fields, the schema is re-read (the cache may
    be stale) and the refusal reported with what the fresh schema finds."""
    try:
        return await run
    except InvalidRequestError as exc:
        fresh = await state.meta.content_type(content_type, refresh=True)
        problems = check_entry_fields(fresh.schema_, fields, require_mandatory=False)
        extra = f" Against the current schema: {'; '.join(problems)}." if problems else ""
        raise ToolError(f"{exc}.{extra}") from exc


async def whole_entry(state: AppState, content_type: str, base: Entry, fields: Mapping[str, Any]) -> dict[str, Any]:
    """What to send to save `fields` over `base`: its editable fields with `fields` over them,
    checked against the schema first (every problem at once).

    Raises:
        ToolError: the fields do not fit the schema. Nothing was sent.
    """
    stored = base.model_dump(by_alias=True, exclude_unset=True)

    def problems_of(schema: Any) -> list[str]:
        merged = {**editable_fields(schema, stored), **fields}
        return check_entry_fields(schema, fields, require_mandatory=False) + missing_mandatory(schema, merged)

    problems = await schema_problems(state, content_type, problems_of)
    if problems:
        raise refuse_problems(content_type, problems)
    schema = (await state.meta.content_type(content_type)).schema_
    return {**editable_fields(schema, stored), **fields}


def entry_path(content_type: str, locale: str, uid: str | None = None, action: str | None = None) -> str:
    """The CMA path a plan names for a write to an entry in `locale`: to the content type's
    entries when `uid` is None, to the entry's `action` (e.g. "unlocalize") when given."""
    path = f"/v3/content_types/{content_type}/entries"
    for segment in (uid, action):
        if segment is not None:
            path += f"/{segment}"
    return f"{path}?locale={locale}"


async def localized_locales(state: AppState, content_type: str, uid: str) -> tuple[str, ...]:
    """The entry's localized locales; none if Contentstack cannot say (the entry was read a
    moment ago, so a refusal here is not a reason to stop)."""
    try:
        return tuple(await state.client.entries.localized_locales(content_type, uid))
    except NotFoundError:
        return ()


async def removal_reach(state: AppState, content_type: str, uid: str, loc: str) -> tuple[Entry, Targets]:
    """The entry's version in `loc`, and what removing it (a delete, an unlocalize) reaches: the
    content type, the locale and the environments that version is published to there; in the
    master locale, where a delete takes every localized version with it, also their locales and
    the environments each is published to.

    Raises:
        ToolError: the entry has no version in `loc`.
    """
    current = await current_entry(state, content_type, uid, loc)
    locales = (loc,)
    live = await published_environments(state, current, locales)
    if loc == await state.meta.master_locale():
        localized = tuple(code for code in await localized_locales(state, content_type, uid) if code != loc)
        locales += localized
        # Each localized version carries its own publish details: the environments it leaves
        # are reached too, which the master's version does not show.
        for code in localized:
            try:
                version = await state.client.entries.get(content_type, uid, source="draft", locale=code)
            except NotFoundError:
                continue  # gone since it was listed: the delete does not reach it
            live += await published_environments(state, version, (code,))
        live = tuple(dict.fromkeys(live))
    return current, Targets(content_types=(content_type,), locales=locales, environments=live)


def entry_ref(content_type: str, locale: str, entry: Entry, *, keep_locale: bool = False) -> EntryRef:
    """The reference an answer carries to `entry`: in the locale it was answered in, else (or
    with `keep_locale`) in `locale`."""
    title = clean(entry.title) if entry.title else None
    in_locale = locale if keep_locale else entry.locale or locale
    return EntryRef(content_type=content_type, uid=entry.uid, locale=in_locale, version=entry.version, title=title)


def saved_entry_answer(outcome: WriteOutcome[Entry], content_type: str, locale: str, notice: str) -> EntryWriteAnswer:
    """The answer to a write that saves an entry in `locale`: the entry as saved and `notice`,
    or neither when nothing was written (a dry run, a denial, a confirmation to ask for)."""
    saved = outcome.result
    return outcome.answer(
        EntryWriteAnswer,
        entry=entry_ref(content_type, locale, saved) if saved is not None else None,
        notice=notice if saved is not None else None,
    )


async def run_removal(
    call: WriteCall,
    targets: Targets,
    plan: WritePlan,
    execute: Callable[[Permits], Awaitable[str]],
    content_type: str,
    locale: str,
    entry: Entry,
) -> EntryWriteAnswer:
    """Runs a write that removes `entry`'s version in `locale` (a delete, an unlocalize), a
    confirmation bound to the version read, and answers the entry as it was there with the
    notice `execute` returned.

    Raises:
        ToolError, ContentstackError: as `WriteCall.run`.
    """
    outcome = await call.run(
        targets=targets,
        plan=plan,
        execute=execute,
        target_versions={f"{content_type}/{entry.uid}/{locale}": entry.version or 0},
    )
    removed = entry_ref(content_type, locale, entry, keep_locale=True)  # the locale it was removed from
    return outcome.answer(EntryWriteAnswer, entry=removed, notice=outcome.result)


async def published_environments(
    state: AppState, item: ContentItem, locales: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The environments (by name) where the entry or asset `item` is published, in any of
    `locales` (None: in any locale)."""
    names = await state.meta.environment_names_by_uid()
    found = [
        names.get(d.environment, d.environment) for d in item.publish_records if locales is None or d.locale in locales
    ]
    return tuple(dict.fromkeys(found))


async def current_entry(state: AppState, content_type: str, uid: str, locale: str) -> Entry:
    try:
        return await state.client.entries.get(content_type, uid, source="draft", locale=locale)
    except NotFoundError:
        raise ToolError(
            f"entry {content_type}/{uid} does not exist in locale {locale}; check it with query_entries"
        ) from None
