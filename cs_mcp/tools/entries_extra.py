"""The entries_extra toolset (docs/TOOLS.md, "entries_extra"): which entries refer to an entry,
which languages it exists in, and localizing and unlocalizing it.

Opt-in, so that the default catalog does not grow: these four extend the default `entries`
toolset with the same scopes (`cm.entry:read`, `cm.entry:write`) and the same guard targets.
A localization writes in the target locale, so a role's `locales` (and `content_types`)
constraint applies to the locale being localized or unlocalized, not to the one it falls back to.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from cs_mcp.client import Entry, EntryLocale, NotFoundError
from cs_mcp.guard import Targets
from cs_mcp.guard.scopes import Scope
from cs_mcp.toolkit.arguments import LocaleArg
from cs_mcp.toolkit.context import AppState, ToolContext, app_state
from cs_mcp.toolkit.declarations import ToolsetDeclarations
from cs_mcp.toolkit.entry_writes import (
    EntryRef,
    EntryWriteAnswer,
    current_entry,
    entry_path,
    removal_reach,
    run_removal,
    saved_entry_answer,
    whole_entry,
    write_or_explain,
)
from cs_mcp.toolkit.identifiers import ContentTypeUid, LocaleCode, Uid
from cs_mcp.toolkit.models import ToolModel
from cs_mcp.toolkit.schema import JsonObjectText
from cs_mcp.toolkit.shape import ReadAnswer, clean, clean_text, fit_budget
from cs_mcp.toolkit.stackmeta import FALLBACK_LOCALE
from cs_mcp.toolkit.write import Permits, PlannedRequest, WriteCall

declare = ToolsetDeclarations(
    "entries_extra", read_scopes=frozenset({Scope.ENTRY_READ}), write_scopes=frozenset({Scope.ENTRY_WRITE})
)
TargetLocale = Annotated[LocaleCode, Field(description="The locale to localize in, e.g. fr-fr (not the master).")]


class ReferringEntry(ToolModel):
    content_type: str | None = None
    uid: str
    title: str | None = None
    locale: str | None = None
    version: int | None = None
    published_to: list[str] = Field(default_factory=lambda: [], description="Environments it is published to.")


class EntryReferences(ReadAnswer):
    content_type: str
    uid: str
    locale: str
    references: list[ReferringEntry] = Field(description="The entries whose fields refer to this one.")
    total: int
    returned: int
    truncated: bool = False


class EntryLanguage(ToolModel):
    code: str
    localized: bool = Field(description="The entry has a version of its own in this locale.")
    master: bool = False
    fallback_locale: str | None = Field(default=None, description="Where a locale it is not localized in reads from.")


class EntryLanguages(ReadAnswer):
    content_type: str
    uid: str
    locales: list[EntryLanguage]


async def _entry_locales(state: AppState, content_type: str, uid: str) -> list[EntryLocale]:
    try:
        return await state.client.entries.locales(content_type, uid)
    except NotFoundError:
        await state.meta.check_content_types([content_type])
        raise ToolError(f"entry {content_type}/{uid} does not exist; check it with query_entries") from None


async def _own_locales(state: AppState, content_type: str, uid: str) -> tuple[str, set[str]]:
    """The master locale and the locales the entry has a version of its own in."""
    master = await state.meta.master_locale() or FALLBACK_LOCALE
    listed = await _entry_locales(state, content_type, uid)
    return master, {loc.code for loc in listed if loc.localized} | {master}


# -- reads --------------------------------------------------------------------------------------


@declare.read("Get an entry's references")
async def get_entry_references(
    ctx: ToolContext, content_type: ContentTypeUid, uid: Uid, locale: LocaleArg = None
) -> EntryReferences:
    """The entries that refer to this entry (for example, the pages that reference an author),
    each with its content type, title, version and the environments it is published to: what
    a change or a delete of this entry would touch."""
    state = app_state(ctx)
    loc = await state.meta.write_locale(locale)
    await state.meta.check_locales([loc])
    try:
        found = await state.client.entries.references(content_type, uid, locale=loc)
    except NotFoundError:
        await _entry_locales(state, content_type, uid)  # says which of the two does not exist
        raise
    names = await state.meta.environment_names_by_uid()
    referring = [
        ReferringEntry(
            content_type=r.content_type_uid,
            uid=r.entry_uid,
            title=clean_text(r.title) if r.title else None,
            locale=r.locale,
            version=r.version,
            published_to=list(
                dict.fromkeys(names.get(d.environment or "", d.environment or "") for d in r.publish_details)
            ),
        )
        for r in found
    ]
    kept = fit_budget(referring)
    return EntryReferences(
        content_type=content_type,
        uid=uid,
        locale=loc,
        references=kept,
        total=len(referring),
        returned=len(kept),
        truncated=len(kept) < len(referring),
    )


@declare.read("Get an entry's languages")
async def get_entry_locales(ctx: ToolContext, content_type: ContentTypeUid, uid: Uid) -> EntryLanguages:
    """The stack's locales for one entry: where it is localized (a version of its own), which
    is the master, and where each other locale falls back to."""
    state = app_state(ctx)
    listed = await _entry_locales(state, content_type, uid)
    master = await state.meta.master_locale()
    fallbacks = {loc.code: loc.fallback_locale for loc in await state.meta.locales()}
    return EntryLanguages(
        content_type=content_type,
        uid=uid,
        locales=[
            EntryLanguage(
                code=loc.code,
                localized=loc.localized or loc.code == master,
                master=loc.code == master,
                fallback_locale=None if loc.code == master else fallbacks.get(loc.code),
            )
            for loc in listed
        ],
    )


# -- writes -------------------------------------------------------------------------------------


async def _fallback_source(state: AppState, locale: str, own: set[str], master: str) -> str:
    """The locale whose version readers of `locale` see now: the first of its fallback chain
    the entry has a version of its own in (the master at the latest)."""
    fallbacks = {loc.code: loc.fallback_locale for loc in await state.meta.locales()}
    seen: set[str] = set()
    code: str | None = fallbacks.get(locale)
    while code and code not in seen:
        if code in own:
            return code
        seen.add(code)
        code = fallbacks.get(code)
    return master


@declare.write("Localize an entry", read_back="get_entry_locales on the entry (localized: true in the locale)")
async def localize_entry(
    call: WriteCall,
    content_type: ContentTypeUid,
    uid: Uid,
    locale: TargetLocale,
    fields: Annotated[
        JsonObjectText | None,
        Field(description='The translated fields by uid as a JSON object in a string, e.g. \'{"title": "..."}\'.'),
    ] = None,
) -> EntryWriteAnswer:
    """Give an entry a version of its own in a locale where it now falls back to another
    (for example, translate it into French): it starts from what readers of that locale see
    now, with the given fields replacing theirs. The fields are checked against the schema
    first. Localizing does not publish; use publish with the locale afterwards."""
    state = call.state
    given = dict(fields or {})
    targets = Targets(content_types=(content_type,), locales=(locale,))
    path = entry_path(content_type, locale, uid)
    await call.precheck(targets)
    await state.meta.check_locales([locale])
    master, own = await _own_locales(state, content_type, uid)
    if locale == master:
        raise ToolError(f"{locale} is the master locale: the entry's own version is there already; use update_entry")
    if locale in own:
        raise ToolError(
            f"entry {content_type}/{uid} is localized in {locale} already; change it with update_entry "
            f"(locale={locale!r}), or unlocalize_entry first. Nothing was sent."
        )
    source = await _fallback_source(state, locale, own, master)
    base = await current_entry(state, content_type, uid, source)
    body = await whole_entry(state, content_type, base, given)
    changed = ", ".join(sorted(given)) or "no field changed"
    plan = call.plan(
        f"localize {content_type}/{uid} in {locale} from its {source} version ({changed})",
        targets,
        requests=[PlannedRequest(method="PUT", path=path, summary=f"create the {locale} version (version 1)")],
        items=[f"entry {content_type}/{uid} ({locale})"],
    )

    async def execute(permits: Permits) -> Entry:
        permit = permits.for_operation("entry.localize")
        return await write_or_explain(
            state,
            content_type,
            given,
            state.client.entries.localize(content_type, uid, body, locale=locale, permit=permit),
        )

    outcome = await call.run(
        targets=targets,
        plan=plan,
        execute=execute,
        # Bound to the version it starts from: a confirmation does not carry over a later edit.
        target_versions={f"{content_type}/{uid}/{source}": base.version or 0},
    )
    return saved_entry_answer(outcome, content_type, locale, f"Entry localized in {locale}.")


@declare.delete("Unlocalize an entry", read_back="get_entry_locales on the entry (localized: false in the locale)")
async def unlocalize_entry(
    call: WriteCall,
    content_type: ContentTypeUid,
    uid: Uid,
    locale: TargetLocale,
) -> EntryWriteAnswer:
    """Drop an entry's own version in a locale, which then falls back to another again. Its
    translated content there is lost: destructive. When the answer carries a confirmation
    token, show the preview to the user and call again with the token only if they agree."""
    state = call.state
    targets = Targets(content_types=(content_type,), locales=(locale,))
    await call.precheck(targets)
    await state.meta.check_locales([locale])
    master, own = await _own_locales(state, content_type, uid)
    if locale == master:
        raise ToolError(f"{locale} is the master locale, which cannot be unlocalized; delete_entry deletes the entry")
    if locale not in own:
        unchanged = await call.nothing_to_do(targets, f"the entry is not localized in {locale}")
        return unchanged.answer(
            EntryWriteAnswer,
            entry=EntryRef(content_type=content_type, uid=uid, locale=locale),
            notice=f"entry {content_type}/{uid} is not localized in {locale}; nothing was sent",
        )
    current, targets = await removal_reach(state, content_type, uid, locale)
    live = targets.environments
    source = await _fallback_source(state, locale, own - {locale}, master)
    plan = call.plan(
        f"unlocalize {content_type}/{uid} in {locale} (version {current.version}, "
        f"{clean(current.title)!r}); it will read from {source}"
        + (f"; its {locale} version is published to {', '.join(live)}" if live else ""),
        targets,
        requests=[
            PlannedRequest(
                method="POST",
                path=entry_path(content_type, locale, uid, "unlocalize"),
                summary=f"drop the {locale} version",
            )
        ],
        items=[f"entry {content_type}/{uid} ({locale})"],
    )

    async def reach_now() -> Targets:
        return (await removal_reach(state, content_type, uid, locale))[1]

    async def execute(permits: Permits) -> str:
        await call.recheck_reach(targets, reach_now, f"unlocalizing entry {content_type}/{uid} in {locale}")
        permit = permits.for_operation("entry.unlocalize")
        notice = await state.client.entries.unlocalize(content_type, uid, locale=locale, permit=permit)
        return notice or "Entry unlocalized."

    return await run_removal(call, targets, plan, execute, content_type, locale, current)
