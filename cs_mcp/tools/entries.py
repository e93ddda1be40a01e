"""The `entries` toolset: find, read, create, update and delete entries (and find assets:
`query_assets`, declared in the `assets` toolset, is served with this one too).

Reads go to the CMA (drafts, `source="draft"`) or the CDA (what one environment serves,
`source="published"`). Every query is checked against the query language before it is sent,
every answer is cleaned and kept within the response budget, and every write is checked
against the content type's schema and passes the guard.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from cs_mcp.client import Entry, NotFoundError, Source
from cs_mcp.guard import Targets
from cs_mcp.guard.scopes import Scope
from cs_mcp.toolkit.arguments import (
    FIELD_NAME,
    CursorArg,
    FieldsArg,
    LimitArg,
    LocaleArg,
    QueryArg,
    check_fields_arg,
    parse_query_arg,
)
from cs_mcp.toolkit.context import AppState, ToolContext, app_state
from cs_mcp.toolkit.declarations import ToolsetDeclarations
from cs_mcp.toolkit.entry_schema import check_entry_fields
from cs_mcp.toolkit.entry_writes import (
    EntryWriteAnswer,
    current_entry,
    entry_path,
    refuse_problems,
    removal_reach,
    run_removal,
    saved_entry_answer,
    schema_problems,
    whole_entry,
    write_or_explain,
)
from cs_mcp.toolkit.identifiers import ContentTypeUid, EnvironmentName, Uid
from cs_mcp.toolkit.schema import JsonObjectText
from cs_mcp.toolkit.shape import (
    DEFAULT_LIMIT,
    ListAnswer,
    ReadAnswer,
    decode_cursor,
    fingerprint,
    fit_listing,
    fit_one,
)
from cs_mcp.toolkit.write import (
    Permits,
    PlannedRequest,
    WriteCall,
)
from cs_mcp.views import WRITE_PREVIEW_VIEW

T = TypeVar("T")

# Contentstack accepts at most 10 `include[]` reference paths per request (CDA reference, "Include reference").
MAX_INCLUDE = 10
declare = ToolsetDeclarations(
    "entries",
    read_scopes=frozenset({Scope.ENTRY_READ}),
    write_scopes=frozenset({Scope.ENTRY_WRITE}),
    preview=WRITE_PREVIEW_VIEW,
)

ContentTypeArg = ContentTypeUid
UidArg = Uid
SourceArg = Literal["draft", "published"]
EnvironmentArg = Annotated[
    EnvironmentName | None,
    Field(description="For source='published'; default: the configured one."),
]


# -- shared by the entries tools ----------------------------------------------------------


def _parse_sort(sort: str | None) -> tuple[str, Literal["asc", "desc"]] | None:
    if not sort:
        return None
    name = sort[1:] if sort.startswith(("-", "+")) else sort
    if not FIELD_NAME.match(name):
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
    await state.meta.check_environments([env])
    if state.client.delivery_token_for(env) is None:
        raise ToolError(
            f"no delivery token is configured for environment {env!r}; set CS_MCP_DELIVERY_TOKENS="
            f"'{env}=<token>' (or CONTENTSTACK_DELIVERY_TOKEN with CONTENTSTACK_ENVIRONMENT={env})"
        )
    return env


async def _write_targets(state: AppState, content_type: str, locale: str | None) -> tuple[str, Targets]:
    """The locale an entry write lands in (`locale`, else the configured one, else the master)
    and what the guard checks before anything is read: the content type in that locale."""
    loc = await state.meta.write_locale(locale)
    return loc, Targets(content_types=(content_type,), locales=(loc,))


# -- reads ------------------------------------------------------------------------------


class EntryList(ListAnswer):
    content_type: str
    source: Source
    environment: str | None = None
    locale: str | None = None
    entries: list[dict[str, Any]]


@declare.read("Query entries")
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
    bad = [p for p in includes if not FIELD_NAME.match(p)]
    if bad:
        raise ToolError(f"include_references takes reference field paths such as 'author', not {bad[0]!r}")
    env = await _read_environment(state, source, environment)
    if locale:
        await state.meta.check_locales([locale])
    key = fingerprint("entries", content_type, parsed, source, env, locale, only, includes, order)
    skip = decode_cursor(cursor, key)
    try:
        page = await state.client.entries.query_plain(
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
        raise await state.meta.content_type_missing(content_type) from None
    kept, info = fit_listing(page.items, total=page.total, skip=skip, asked=limit, query_fingerprint=key)
    return EntryList(content_type=content_type, source=source, environment=env, locale=locale, entries=kept, **info)


class EntryAnswer(ReadAnswer):
    content_type: str
    source: Source
    environment: str | None = None
    entry: dict[str, Any]
    truncated: bool = False
    note: str | None = None


@declare.read("Get an entry")
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
        await state.meta.check_locales([locale])
    try:
        entry = await state.client.entries.get_plain(
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
    shaped, cut = fit_one(entry)
    note = "long text was shortened to fit the size budget; pass fields=[...] to read fewer fields" if cut else None
    return EntryAnswer(
        content_type=content_type, source=source, environment=env, entry=shaped, truncated=cut, note=note
    )


# -- writes -----------------------------------------------------------------------------


@declare.write(
    "Create an entry", read_back="query_entries on the content type and locale (the new entry's uid is not known)"
)
async def create_entry(
    call: WriteCall,
    content_type: ContentTypeArg,
    fields: Annotated[
        JsonObjectText,
        Field(description='The entry\'s fields by uid as a JSON object in a string, e.g. \'{"title": "..."}\'.'),
    ],
    locale: LocaleArg = None,
) -> EntryWriteAnswer:
    """Create an entry. Fields are checked against the content type's schema first, every problem at once.
    References are [{"uid", "_content_type_uid"}]; modular blocks [{"<block uid>": {...}}]."""
    state = call.state
    loc, targets = await _write_targets(state, content_type, locale)
    plan = call.plan(
        f"create a {content_type} entry in {loc} with the fields {', '.join(sorted(fields)) or '(none)'}",
        targets,
        requests=[
            PlannedRequest(method="POST", path=entry_path(content_type, loc), summary="create the entry (version 1)")
        ],
    )
    await call.precheck(targets)
    await state.meta.check_locales([loc])
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
    return saved_entry_answer(outcome, content_type, loc, "Entry created.")


@declare.write("Update an entry", read_back="get_entry on the entry (its _version says whether the update was saved)")
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
) -> EntryWriteAnswer:
    """Change some fields of an entry; the others keep theirs. If the entry was saved since expected_version,
    nothing is written and the answer gives the current version. Fields are checked against the schema
    first."""
    state = call.state
    loc, targets = await _write_targets(state, content_type, locale)
    path = entry_path(content_type, loc, uid)
    plan = call.plan(
        f"update {content_type}/{uid} ({loc}) at version {expected_version}: {', '.join(sorted(fields))}",
        targets,
        requests=[PlannedRequest(method="PUT", path=path, summary="save the entry as a new version")],
        items=[f"entry {content_type}/{uid} ({loc})"],
    )
    await call.precheck(targets)
    await state.meta.check_locales([loc])
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
    return saved_entry_answer(outcome, content_type, loc, "Entry updated.")


@declare.delete("Delete an entry", read_back="get_entry on the entry (not found: it was deleted)")
async def delete_entry(
    call: WriteCall,
    content_type: ContentTypeArg,
    uid: UidArg,
    locale: LocaleArg = None,
) -> EntryWriteAnswer:
    """Delete an entry's version in one locale (default: master). May need a human's confirmation."""
    state = call.state
    loc, targets = await _write_targets(state, content_type, locale)
    plan = call.plan(
        f"delete entry {content_type}/{uid} in {loc}",
        targets,
        requests=[PlannedRequest(method="DELETE", path=entry_path(content_type, loc, uid), summary="delete the entry")],
        items=[f"entry {content_type}/{uid} ({loc})"],
    )
    await call.precheck(targets)
    current, targets = await removal_reach(state, content_type, uid, loc)
    live = targets.environments
    plan.targets = targets.named()
    plan.summary = f"delete entry {content_type}/{uid} in {loc} (version {current.version}, {current.title!r})" + (
        f", published to {', '.join(live)}" if live else ""
    )

    async def reach_now() -> Targets:
        return (await removal_reach(state, content_type, uid, loc))[1]

    async def execute(permits: Permits) -> str:
        await call.recheck_reach(targets, reach_now, f"deleting entry {content_type}/{uid} in {loc}")
        notice = await state.client.entries.delete(
            content_type, uid, locale=loc, permit=permits.for_operation("entry.delete")
        )
        return notice or "Entry deleted."

    # Bound to where the entry is published too (the targets): a publish since the preview does
    # not change its version, but a confirmed delete must not take it off more than was shown.
    return await run_removal(call, targets, plan, execute, content_type, loc, current)
