"""The `entries` toolset: find, read, create, update and delete entries (and find assets:
`query_assets`, declared in the `assets` toolset, is served with this one too).

Reads go to the CMA (drafts, `source="draft"`) or the CDA (what one environment serves,
`source="published"`). Every query is checked against the query language before it is sent,
every answer is cleaned and kept within the response budget, and every write is checked
against the content type's schema and passes the guard.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field, WithJsonSchema

from cs_mcp.client import Entry, InvalidRequestError, NotFoundError, Source
from cs_mcp.guard import Targets
from cs_mcp.guard.scopes import Scope
from cs_mcp.toolkit.context import AppState, ToolContext, app_state
from cs_mcp.toolkit.entry_schema import check_entry_fields, editable_fields, missing_mandatory
from cs_mcp.toolkit.identifiers import ContentTypeUid, EnvironmentName, LocaleCode, Uid
from cs_mcp.toolkit.query import ACCEPTED_FORM, QueryError, parse_query
from cs_mcp.toolkit.registry import tool, write_tool
from cs_mcp.toolkit.schema import JsonObjectText
from cs_mcp.toolkit.shape import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ListPage,
    clean,
    decode_cursor,
    fingerprint,
    fit_listing,
    fit_one,
)
from cs_mcp.toolkit.write import (
    ConfirmationRequest,
    ConfirmationToken,
    DryRun,
    GuardDecision,
    Permits,
    PlannedRequest,
    WriteCall,
    WriteOutcome,
    WritePlan,
)
from cs_mcp.views import WRITE_PREVIEW_VIEW

T = TypeVar("T")

# Contentstack accepts at most 10 `include[]` reference paths per request (CDA reference, "Include reference").
MAX_INCLUDE = 10
WRITE_SCOPES = frozenset({Scope.ENTRY_WRITE})
_FIELD_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$")

ContentTypeArg = ContentTypeUid
UidArg = Uid
SourceArg = Literal["draft", "published"]
EnvironmentArg = Annotated[
    EnvironmentName | None,
    Field(description="For source='published'; default: the configured one."),
]
LocaleArg = Annotated[LocaleCode | None, Field(description="Default: the master locale.")]
FieldsArg = Annotated[
    list[str] | None,
    Field(max_length=50, description="Only these fields (and uid)."),
]
QueryArg = Annotated[
    # Listed as a string: strict function calling has no free-form objects. An object is
    # still accepted from clients that send one.
    Annotated[dict[str, Any] | str, WithJsonSchema({"type": "string"})] | None,
    Field(description='A JSON object in a string, e.g. \'{"rating": {"$gte": 4}, "tags": {"$in": ["featured"]}}\'.'),
]
LimitArg = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
CursorArg = Annotated[str | None, Field(description="The previous page's next_cursor.")]


# -- shared by the entries and publishing tools -------------------------------------------


async def resolve_locale(state: AppState, locale: str | None) -> str:
    """The locale to write in: the argument, else CONTENTSTACK_LOCALE, else the master locale."""
    if locale:
        return locale
    if state.settings.locale:
        return state.settings.locale
    master = await state.meta.master_locale()
    if master is None:
        # Some stacks list the master locale as falling back to itself.
        master = next((loc.code for loc in await state.meta.locales() if loc.fallback_locale == loc.code), None)
    return master or "en-us"


async def check_locales(state: AppState, locales: Sequence[str]) -> None:
    """Raises a ToolError naming the stack's locales when one of `locales` is not among them."""
    known = await state.meta.locale_codes()
    unknown = [loc for loc in dict.fromkeys(locales) if loc not in known]
    if unknown:
        raise ToolError(f"locale {', '.join(unknown)} does not exist; locales are: {', '.join(known)}")


async def check_environments(state: AppState, environments: Sequence[str]) -> None:
    """Raises a ToolError naming the stack's environments when one of `environments` is unknown."""
    known = await state.meta.environment_names()
    unknown = [env for env in dict.fromkeys(environments) if env not in known]
    if unknown:
        raise ToolError(f"environment {', '.join(unknown)} does not exist; environments are: {', '.join(known)}")


async def content_type_missing(state: AppState, content_type: str) -> ToolError:
    """The error for an unknown content type, listing the ones that exist."""
    known = sorted(c.uid for c in await state.meta.content_types())
    return ToolError(f"content type {content_type!r} does not exist; content types are: {', '.join(known)}")


def check_fields_arg(fields: Sequence[str] | None) -> list[str] | None:
    if not fields:
        return None
    bad = [f for f in fields if not _FIELD_NAME.match(f)]
    if bad:
        raise ToolError(f"not a field uid: {', '.join(map(repr, bad))}; fields are uids such as 'title' or 'seo.title'")
    return list(dict.fromkeys(fields))


def parse_query_arg(query: Mapping[str, Any] | str | None) -> dict[str, Any] | None:
    try:
        return parse_query(query)
    except QueryError as exc:
        raise ToolError(f"the query is not valid {exc}. {ACCEPTED_FORM}") from None


def _parse_sort(sort: str | None) -> tuple[str, Literal["asc", "desc"]] | None:
    if not sort:
        return None
    name = sort[1:] if sort.startswith(("-", "+")) else sort
    if not _FIELD_NAME.match(name):
        raise ToolError(
            f"sort takes a field uid, '-' in front for descending (e.g. 'updated_at' or '-rating'), not {sort!r}"
        )
    return name, "desc" if sort.startswith("-") else "asc"


async def _read_environment(state: AppState, source: Source, environment: str | None) -> str | None:
    """The environment a read goes to: None for drafts; for published content the argument or
    the configured default, checked to exist and to have a delivery token."""
    if source == "draft":
        if environment:
            raise ToolError(
                "environment applies to source='published' only; drafts are read from the CMA "
                "(each draft's publish_details say where it is published)"
            )
        return None
    env = environment or state.settings.environment
    if not env:
        known = await state.meta.environment_names()
        raise ToolError(f"source='published' needs an environment; environments are: {', '.join(known)}")
    await check_environments(state, [env])
    if state.client.delivery_token_for(env) is None:
        raise ToolError(
            f"no delivery token is configured for environment {env!r}; set CS_MCP_DELIVERY_TOKENS="
            f"'{env}=<token>' (or CONTENTSTACK_DELIVERY_TOKEN with CONTENTSTACK_ENVIRONMENT={env})"
        )
    return env


class WriteAnswer(BaseModel):
    """What every write answers: whether it was a dry run or written, the plan, the guard's
    verdict, and, when a human must agree first, the confirmation request."""

    dry_run: bool
    written: bool = Field(description="Whether the write was sent to Contentstack.")
    plan: WritePlan
    guard: GuardDecision
    confirmation: ConfirmationRequest | None = Field(
        default=None,
        description="Set when nothing was written because the user must agree: show the preview, and only "
        "if they agree call again with the same arguments and confirmation_token.",
    )
    notice: str | None = None


def write_answer_fields(outcome: WriteOutcome[Any]) -> dict[str, Any]:
    return {
        "dry_run": outcome.dry_run,
        "written": outcome.written,
        "plan": outcome.plan,
        "guard": outcome.verdict,
        "confirmation": outcome.confirmation,
    }


# -- reads ------------------------------------------------------------------------------


class EntryList(ListPage):
    content_type: str
    source: Source
    environment: str | None = None
    locale: str | None = None
    entries: list[dict[str, Any]]


@tool(toolset="entries", scopes={Scope.ENTRY_READ}, title="Query entries", idempotent=True)
async def query_entries(
    ctx: ToolContext,
    content_type: ContentTypeArg,
    query: QueryArg = None,
    source: SourceArg = "draft",
    environment: EnvironmentArg = None,
    locale: LocaleArg = None,
    fields: FieldsArg = None,
    include_references: Annotated[
        list[str] | None,
        Field(max_length=MAX_INCLUDE, description="Reference fields to resolve inline."),
    ] = None,
    sort: Annotated[str | None, Field(max_length=100, description="A field uid; '-' before it: descending.")] = None,
    limit: LimitArg = DEFAULT_LIMIT,
    cursor: CursorArg = None,
) -> EntryList:
    """Find entries of one content type. `query` is Contentstack's query language (equality, dot paths into
    groups, $ne $in $nin $lt $lte $gt $gte $exists $regex $options $and $or, $in_query $nin_query on
    references), checked before sending. Drafts (default) come with publish_details; source='published'
    reads what an environment serves."""
    state = app_state(ctx)
    parsed = parse_query_arg(query)
    only = check_fields_arg(fields)
    order = _parse_sort(sort)
    includes = list(dict.fromkeys(include_references or []))
    bad = [p for p in includes if not _FIELD_NAME.match(p)]
    if bad:
        raise ToolError(f"include_references takes reference field paths such as 'author', not {bad[0]!r}")
    env = await _read_environment(state, source, environment)
    if locale:
        await check_locales(state, [locale])
    key = fingerprint("entries", content_type, parsed, source, env, locale, only, includes, order)
    skip = decode_cursor(cursor, key)
    try:
        page = await state.client.entries.query(
            content_type,
            source=source,
            environment=env,
            locale=locale,
            query=parsed,
            only=only,
            include=includes,
            sort=order,
            skip=skip,
            limit=limit,
        )
    except NotFoundError:
        if source == "published":
            raise
        raise await content_type_missing(state, content_type) from None
    entries = [e.model_dump(by_alias=True, exclude_unset=True) for e in page.items]
    kept, info = fit_listing(entries, total=page.total, skip=skip, asked=limit, query_fingerprint=key)
    return EntryList(content_type=content_type, source=source, environment=env, locale=locale, entries=kept, **info)


class EntryAnswer(BaseModel):
    content_type: str
    source: Source
    environment: str | None = None
    entry: dict[str, Any]
    truncated: bool = False
    note: str | None = None


@tool(toolset="entries", scopes={Scope.ENTRY_READ}, title="Get an entry", idempotent=True)
async def get_entry(
    ctx: ToolContext,
    content_type: ContentTypeArg,
    uid: UidArg,
    source: SourceArg = "draft",
    environment: EnvironmentArg = None,
    locale: LocaleArg = None,
    version: Annotated[int | None, Field(ge=1, description="Default: the latest.")] = None,
    fields: FieldsArg = None,
) -> EntryAnswer:
    """Read one entry: its latest draft (or a given version) with _version and publish_details, or with
    source='published' what an environment serves."""
    state = app_state(ctx)
    if version is not None and source == "published":
        raise ToolError("version applies to drafts; an environment serves the version published there")
    only = check_fields_arg(fields)
    env = await _read_environment(state, source, environment)
    if locale:
        await check_locales(state, [locale])
    try:
        entry = await state.client.entries.get(
            content_type, uid, source=source, environment=env, locale=locale, version=version, only=only
        )
    except NotFoundError:
        where = f"published in {env}" if env else "among the drafts"
        raise ToolError(
            f"entry {content_type}/{uid} was not found {where}"
            + (f" in locale {locale}" if locale else "")
            + "; check the content type and uid with query_entries"
        ) from None
    # One pass over the answer: cleaned and measured together, cut only when over the budget.
    shaped, cut = fit_one(entry.model_dump(by_alias=True, exclude_unset=True))
    note = "long text was shortened to fit the size budget; pass fields=[...] to read fewer fields" if cut else None
    return EntryAnswer(
        content_type=content_type, source=source, environment=env, entry=shaped, truncated=cut, note=note
    )


# -- writes -----------------------------------------------------------------------------


class EntryRef(BaseModel):
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
        raise await content_type_missing(state, content_type) from None
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


def entry_ref(content_type: str, locale: str, entry: Entry) -> EntryRef:
    title = clean(entry.title) if entry.title else None
    return EntryRef(
        content_type=content_type, uid=entry.uid, locale=entry.locale or locale, version=entry.version, title=title
    )


@write_tool(
    toolset="entries",
    scopes=WRITE_SCOPES,
    title="Create an entry",
    idempotent=False,
    read_back="query_entries on the content type and locale (the new entry's uid is not known)",
)
async def create_entry(
    call: WriteCall,
    content_type: ContentTypeArg,
    fields: Annotated[
        JsonObjectText,
        Field(description='The entry\'s fields by uid as a JSON object in a string, e.g. \'{"title": "..."}\'.'),
    ],
    locale: LocaleArg = None,
    dry_run: DryRun = False,
    confirmation_token: ConfirmationToken = None,
) -> EntryWriteAnswer:
    """Create an entry. Fields are checked against the content type's schema first, every problem at once.
    References are [{"uid", "_content_type_uid"}]; modular blocks [{"<block uid>": {...}}]."""
    state = call.state
    loc = await resolve_locale(state, locale)
    targets = Targets(content_types=(content_type,), locales=(loc,))
    plan = WritePlan(
        action="create_entry",
        summary=f"create a {content_type} entry in {loc} with the fields {', '.join(sorted(fields)) or '(none)'}",
        targets={"content_type": [content_type], "locale": [loc]},
        requests=[
            PlannedRequest(
                method="POST",
                path=f"/v3/content_types/{content_type}/entries?locale={loc}",
                summary="create the entry (version 1)",
            )
        ],
    )
    await call.precheck(targets)
    await check_locales(state, [loc])
    problems = await schema_problems(
        state, content_type, lambda schema: check_entry_fields(schema, fields, require_mandatory=True)
    )
    if problems:
        raise refuse_problems(content_type, problems)

    async def execute(permits: Permits) -> Entry:
        permit = permits.for_operation("entry.create")
        return await write_or_explain(
            state, content_type, fields, state.client.entries.create(content_type, fields, locale=loc, permit=permit)
        )

    outcome = await call.run(targets=targets, plan=plan, execute=execute)
    created = outcome.result
    return EntryWriteAnswer(
        **write_answer_fields(outcome),
        entry=entry_ref(content_type, loc, created) if created is not None else None,
        notice="Entry created." if created is not None else None,
    )


async def published_environments(state: AppState, entry: Entry, locales: Sequence[str]) -> tuple[str, ...]:
    """The environments (by name) where `entry` is published in any of `locales`."""
    details = entry.publish_details or []
    if not isinstance(details, list):
        details = [details]
    names = {e.uid: e.name for e in await state.meta.environments() if e.uid}
    found = [names.get(d.environment, d.environment) for d in details if d.locale in locales]
    return tuple(dict.fromkeys(found))


async def localized_locales(state: AppState, content_type: str, uid: str) -> tuple[str, ...]:
    """The entry's localized locales; none if Contentstack cannot say (the entry was read a
    moment ago, so a refusal here is not a reason to stop)."""
    try:
        return tuple(await state.client.entries.localized_locales(content_type, uid))
    except NotFoundError:
        return ()


async def current_entry(state: AppState, content_type: str, uid: str, locale: str) -> Entry:
    try:
        return await state.client.entries.get(content_type, uid, source="draft", locale=locale)
    except NotFoundError:
        raise ToolError(
            f"entry {content_type}/{uid} does not exist in locale {locale}; check it with query_entries"
        ) from None


@write_tool(
    toolset="entries",
    scopes=WRITE_SCOPES,
    title="Update an entry",
    idempotent=False,
    read_back="get_entry on the entry (its _version says whether the update was saved)",
)
async def update_entry(
    call: WriteCall,
    content_type: ContentTypeArg,
    uid: UidArg,
    fields: Annotated[
        JsonObjectText,
        Field(
            description='The fields to change by uid as a JSON object in a string, e.g. \'{"title": "..."}\'; '
            "each replaces its old value whole."
        ),
    ],
    expected_version: Annotated[int, Field(ge=1, description="The _version you read.")],
    locale: LocaleArg = None,
    dry_run: DryRun = False,
    confirmation_token: ConfirmationToken = None,
) -> EntryWriteAnswer:
    """Change some fields of an entry; the others keep theirs. If the entry was saved since expected_version,
    nothing is written and the answer gives the current version. Fields are checked against the schema
    first."""
    state = call.state
    loc = await resolve_locale(state, locale)
    targets = Targets(content_types=(content_type,), locales=(loc,))
    path = f"/v3/content_types/{content_type}/entries/{uid}?locale={loc}"
    plan = WritePlan(
        action="update_entry",
        summary=f"update {content_type}/{uid} ({loc}) at version {expected_version}: {', '.join(sorted(fields))}",
        targets={"content_type": [content_type], "locale": [loc]},
        requests=[PlannedRequest(method="PUT", path=path, summary="save the entry as a new version")],
        items=[f"entry {content_type}/{uid} ({loc})"],
    )
    await call.precheck(targets)
    await check_locales(state, [loc])
    current = await current_entry(state, content_type, uid, loc)
    if current.version != expected_version:
        raise ToolError(
            f"entry {content_type}/{uid} ({loc}) is at version {current.version}, not {expected_version}: it was "
            f"saved since you read it. Nothing was sent. Read it again (get_entry), reapply your change, and pass "
            f"expected_version={current.version}."
        )
    # The whole editable entry is sent, so the update means the same whether Contentstack
    # replaces the stored entry or merges into it.
    body = await whole_entry(state, content_type, current, fields)
    plan.requests[0].summary = f"save the entry as version {expected_version + 1}"

    async def execute(permits: Permits) -> Entry:
        permit = permits.for_operation("entry.update")
        return await write_or_explain(
            state, content_type, fields, state.client.entries.update(content_type, uid, body, locale=loc, permit=permit)
        )

    outcome = await call.run(
        targets=targets,
        plan=plan,
        execute=execute,
        target_versions={f"{content_type}/{uid}/{loc}": expected_version},
    )
    updated = outcome.result
    return EntryWriteAnswer(
        **write_answer_fields(outcome),
        entry=entry_ref(content_type, loc, updated) if updated is not None else None,
        notice="Entry updated." if updated is not None else None,
    )


@write_tool(
    toolset="entries",
    scopes=WRITE_SCOPES,
    title="Delete an entry",
    destructive=True,
    idempotent=True,
    read_back="get_entry on the entry (not found: it was deleted)",
    ui=WRITE_PREVIEW_VIEW,
)
async def delete_entry(
    call: WriteCall,
    content_type: ContentTypeArg,
    uid: UidArg,
    locale: LocaleArg = None,
    dry_run: DryRun = False,
    confirmation_token: ConfirmationToken = None,
) -> EntryWriteAnswer:
    """Delete an entry's version in one locale (default: master). May need a human's confirmation."""
    state = call.state
    loc = await resolve_locale(state, locale)
    targets = Targets(content_types=(content_type,), locales=(loc,))
    plan = WritePlan(
        action="delete_entry",
        summary=f"delete entry {content_type}/{uid} in {loc}",
        targets={"content_type": [content_type], "locale": [loc]},
        requests=[
            PlannedRequest(
                method="DELETE",
                path=f"/v3/content_types/{content_type}/entries/{uid}?locale={loc}",
                summary="delete the entry",
            )
        ],
        items=[f"entry {content_type}/{uid} ({loc})"],
    )
    await call.precheck(targets)
    current = await current_entry(state, content_type, uid, loc)
    # Deleting takes the entry off every environment it is published to in that locale: those
    # environments are targets too, so their rules and [confirm] apply.
    # In the master locale, Contentstack deletes the localized versions too: their locales are
    # targets as well.
    locales = (loc,)
    if loc == await state.meta.master_locale():
        locales += await localized_locales(state, content_type, uid)
    live = await published_environments(state, current, locales)
    targets = Targets(content_types=(content_type,), locales=locales, environments=live)
    plan.targets = targets.named()
    plan.summary = f"delete entry {content_type}/{uid} in {loc} (version {current.version}, {current.title!r})" + (
        f", published to {', '.join(live)}" if live else ""
    )

    async def execute(permits: Permits) -> str:
        notice = await state.client.entries.delete(
            content_type, uid, locale=loc, permit=permits.for_operation("entry.delete")
        )
        return notice or "Entry deleted."

    outcome = await call.run(
        targets=targets,
        plan=plan,
        execute=execute,
        # Bound to where the entry is published too: a publish since the preview does not
        # change its version, but a confirmed delete must not take it off more than was shown.
        target_versions={f"{content_type}/{uid}/{loc}": current.version or 0},
    )
    return EntryWriteAnswer(
        **write_answer_fields(outcome),
        entry=EntryRef(
            content_type=content_type,
            uid=uid,
            locale=loc,
            version=current.version,
            title=clean(current.title) if current.title else None,
        ),
        notice=outcome.result,
    )
