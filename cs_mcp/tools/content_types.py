"""The `content_types` toolset: create, change and delete content types.

Off by default (`--toolsets content_types`): designing the model is rarer than editing content,
and every change reaches every entry. A schema is checked before it is sent; an update's plan
shows the change field by field; removing fields that entries use, and deleting a content type
at all, wait for a human's yes whatever the policy says (the policy can add confirmations,
never waive these two).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from cs_mcp.client import ContentType, NotFoundError
from cs_mcp.guard import Targets
from cs_mcp.guard.scopes import Scope
from cs_mcp.toolkit.context import AppState
from cs_mcp.toolkit.declarations import ToolsetDeclarations
from cs_mcp.toolkit.entry_writes import published_environments
from cs_mcp.toolkit.identifiers import ContentTypeUid
from cs_mcp.toolkit.models import ToolModel
from cs_mcp.toolkit.schema import JsonObjectListText, JsonObjectText
from cs_mcp.toolkit.shape import MAX_LIMIT
from cs_mcp.toolkit.write import Permits, PlannedRequest, WriteAnswer, WriteCall
from cs_mcp.tools._schema_diff import UID_PATTERN, SchemaDiff, schema_diff, schema_problems
from cs_mcp.views import WRITE_PREVIEW_VIEW

declare = ToolsetDeclarations(
    "content_types", write_scopes=frozenset({Scope.CONTENT_TYPES_MANAGEMENT_WRITE}), preview=WRITE_PREVIEW_VIEW
)

ContentTypeArg = Annotated[ContentTypeUid, Field(description="The content type's uid.")]
SchemaArg = Annotated[
    JsonObjectListText,
    Field(
        description='The fields as a JSON array in a string, e.g. \'[{"uid": "title", "display_name": "Title", '
        '"data_type": "text", "mandatory": true, "unique": true}]\'; get_content_type shows the form.'
    ),
]
OptionsArg = Annotated[
    JsonObjectText | None,
    Field(description='Options as a JSON object in a string, e.g. \'{"is_page": true, "singleton": false}\'.'),
]
TitleArg = Annotated[str, Field(min_length=1, max_length=100, description="The content type's title.")]
DescriptionArg = Annotated[str | None, Field(max_length=1000, description="What the content type is for.")]


class ContentTypeRef(ToolModel):
    uid: str
    title: str
    fields: int = Field(description="How many top-level fields its schema has.")


class ContentTypeWriteAnswer(WriteAnswer):
    content_type: ContentTypeRef | None = Field(default=None, description="As written (null on a dry run).")


def _bound(content_type: str, current: dict[str, Any]) -> dict[str, int]:
    """The version a confirmation is bound to: the content type's `_version` as it was read."""
    version = current.get("_version")
    return {f"content_type/{content_type}": version if isinstance(version, int) else 0}


def _ref(ct: ContentType) -> ContentTypeRef:
    return ContentTypeRef(uid=ct.uid, title=ct.title, fields=len(ct.schema_))


def _refuse_schema(uid: str, problems: list[str]) -> ToolError:
    return ToolError(
        f"the schema of {uid!r} has {len(problems)} problem{'s' if len(problems) != 1 else ''}: "
        f"{'; '.join(problems)}. Nothing was sent."
    )


async def _definition(state: AppState, uid: str) -> dict[str, Any]:
    """The content type's whole current definition, read fresh (an update replaces it)."""
    try:
        current = await state.client.stack.content_type(uid)
    except NotFoundError:
        raise await state.meta.content_type_missing(uid) from None
    return current.model_dump(by_alias=True, exclude_unset=True)


async def _fresh_locale_codes(state: AppState) -> list[str]:
    """The stack's locales read now: a language added within the cache's minute may hold
    entries too, and a check that missed it would let the write reach them."""
    state.meta.forget()
    return await state.meta.locale_codes()


async def _entries_using(state: AppState, content_type: str, path: str, locales: Sequence[str]) -> dict[str, int]:
    """How many entries hold a value at `path`, per locale of `locales` (those where some do).
    Only an entry's own version in a locale counts there: one the query answers from another
    locale (a fallback) holds its value in that other locale."""
    counts: dict[str, int] = {}
    for locale in locales:
        using = state.client.entries.each(
            content_type, locale=locale, query={path: {"$exists": True}}, only=["uid", "locale"], limit=MAX_LIMIT
        )
        async for entry in using:
            if (entry.locale or locale) == locale:
                counts[locale] = counts.get(locale, 0) + 1
    return counts


async def _values_dropped(
    state: AppState, content_type: str, dropped: Sequence[str], locales: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Per path of a field whose values go (`SchemaDiff.dropped`) that entries use, how many
    hold a value in it, per locale of `locales`."""
    return {path: counts for path in dropped if (counts := await _entries_using(state, content_type, path, locales))}


def _losses_shown(lines: Sequence[str], used: Mapping[str, int]) -> list[str]:
    """The plan's lines, the first line that drops each field in `used` (its removal, or the
    change of its data type, of `multiple`, or of the global field it is) saying how many
    entries lose their values."""
    shown: list[str] = []
    told: set[str] = set()
    for line in lines:
        path, _, change = line[2:].partition(" ")
        path = path.removesuffix(":")
        drops = line.startswith("- ") or change.startswith(("data_type ", "multiple ", "reference_to "))
        if drops and path in used and path not in told:
            told.add(path)
            line = f"{line} (values in {used[path]} entries are deleted)"
        shown.append(line)
    return shown


@dataclass
class _Spread:
    """Where a content type's entries are: the locales they are localized in, and the locales
    and environments (by name) their publish records name."""

    localized: set[str] = field(default_factory=lambda: set[str]())
    published_in: set[str] = field(default_factory=lambda: set[str]())
    environments: set[str] = field(default_factory=lambda: set[str]())


async def _spread(state: AppState, content_type: str, locales: Sequence[str]) -> _Spread:
    """Reads every entry of `content_type` in each of `locales` for where they are. An entry
    Contentstack publishes in a language it is not localized in (with the master's content)
    counts there, whichever read answers its record."""
    spread = _Spread()
    for locale in locales:
        async for entry in state.client.entries.each(content_type, locale=locale, limit=MAX_LIMIT):
            spread.localized.add(entry.locale or locale)
            spread.published_in.update(detail.locale for detail in entry.publish_records)
            spread.environments.update(await published_environments(state, entry))
    return spread


async def _change_reach(
    state: AppState, content_type: str, diff: SchemaDiff
) -> tuple[Targets, dict[str, dict[str, int]]]:
    """What changing `content_type` as `diff` says reaches, and per field whose values go how
    many entries hold one, per locale. It reaches the content type; the locales whose entries
    hold a value in a field whose values go (Contentstack deletes those values); and, when a
    reference is removed or changed, the locales and environments its entries are published in.
    Published versions keep their values, but Contentstack reads their references by the
    latest schema until they are published again ("Content Type Change Management"). The
    stack's locales are read afresh once, when anything is to be counted."""
    targets = Targets(content_types=(content_type,))
    if not (diff.dropped or diff.references):
        return targets, {}
    locale_codes = await _fresh_locale_codes(state)
    by_locale = await _values_dropped(state, content_type, diff.dropped, locale_codes)
    locales = {locale for counts in by_locale.values() for locale in counts}
    environments: set[str] = set()
    if diff.references:
        spread = await _spread(state, content_type, locale_codes)
        locales |= spread.published_in
        environments = spread.environments
    reach = Targets(
        content_types=(content_type,), environments=tuple(sorted(environments)), locales=tuple(sorted(locales))
    )
    return reach, by_locale


async def _reached(state: AppState, content_type: str) -> Targets:
    """What deleting `content_type` reaches besides itself: the locales its entries are
    localized in or published in (Contentstack publishes an entry in a language it is not
    localized in with the master's content), and the environments (by name) where any of them
    is published, in any locale. Contentstack deletes every one of those versions with the
    content type."""
    spread = await _spread(state, content_type, await _fresh_locale_codes(state))
    return Targets(
        content_types=(content_type,),
        environments=tuple(sorted(spread.environments)),
        locales=tuple(sorted(spread.localized | spread.published_in)),
    )


@declare.write("Create a content type", read_back="get_content_type on the uid")
async def create_content_type(
    call: WriteCall,
    uid: ContentTypeArg,
    title: TitleArg,
    schema: SchemaArg,
    description: DescriptionArg = None,
    options: OptionsArg = None,
) -> ContentTypeWriteAnswer:
    """Create a content type: its uid (lower-case, e.g. 'product'), title and fields. Start
    the schema with a 'title' text field; groups take 'schema', modular blocks take 'blocks'.
    Every problem of the schema is reported at once, before anything is sent."""
    state = call.state
    targets = Targets(content_types=(uid,))
    await call.precheck(targets)
    problems = ([] if UID_PATTERN.match(uid) else [f"uid {uid!r} must be lower-case letters, digits and '_'"]) + (
        schema_problems(schema)
    )
    if problems:
        raise _refuse_schema(uid, problems)
    if uid in {ct.uid for ct in await state.meta.content_types()}:
        raise ToolError(f"content type {uid!r} exists already; change it with update_content_type")
    definition: dict[str, Any] = {"uid": uid, "title": title, "schema": schema}
    if description is not None:
        definition["description"] = description
    if options is not None:
        definition["options"] = options
    fields = [f"+ {f.get('uid')} ({f.get('data_type')})" for f in schema]
    plan = call.plan(
        f"create content type {uid!r} ({title!r}) with {len(schema)} field{'s' if len(schema) != 1 else ''}",
        targets,
        requests=[PlannedRequest(method="POST", path="/v3/content_types", summary="create the content type")],
        items=fields,
    )

    async def execute(permits: Permits) -> ContentType:
        created = await state.client.content_types.create(
            definition, permit=permits.for_operation("content_type.create")
        )
        state.meta.forget()
        return created

    outcome = await call.run(targets=targets, plan=plan, execute=execute)
    return outcome.answer(
        ContentTypeWriteAnswer,
        content_type=_ref(outcome.result) if outcome.result is not None else None,
        notice="Content type created." if outcome.result is not None else None,
    )


def _edited(
    schema: list[dict[str, Any]], add: list[dict[str, Any]] | None, remove: list[str] | None
) -> list[dict[str, Any]]:
    """`schema` without the fields `remove` names and with `add` appended.

    Raises:
        ToolError: a field to remove that is not there, or one to add that is there already.
    """
    # Compared as text: a uid may be any JSON value until the schema is checked.
    present = {str(f.get("uid")) for f in schema}
    missing = [uid for uid in remove or [] if uid not in present]
    if missing:
        raise ToolError(f"remove_fields names {', '.join(missing)}, not fields of this content type")
    kept = [f for f in schema if str(f.get("uid")) not in set(remove or [])]
    taken = [str(f.get("uid")) for f in add or [] if str(f.get("uid")) in {str(g.get("uid")) for g in kept}]
    if taken:
        raise ToolError(f"add_fields holds {', '.join(taken)}, fields the content type has already")
    return [*kept, *(add or [])]


@declare.write(
    "Change a content type", read_back="get_content_type on the content type", idempotent=True, previewed=True
)
async def update_content_type(
    call: WriteCall,
    content_type: ContentTypeArg,
    schema: Annotated[
        JsonObjectListText | None,
        Field(
            description="The whole new field list as a JSON array in a string (it replaces the old one: a field "
            "left out is removed with its values); get_content_type first."
        ),
    ] = None,
    add_fields: Annotated[
        JsonObjectListText | None,
        Field(description="Fields to append, as a JSON array in a string (instead of passing the whole schema)."),
    ] = None,
    remove_fields: Annotated[
        list[str] | None, Field(max_length=50, description="Uids of top-level fields to remove (with their values).")
    ] = None,
    title: Annotated[str | None, Field(min_length=1, max_length=100, description="A new title.")] = None,
    description: DescriptionArg = None,
    options: OptionsArg = None,
) -> ContentTypeWriteAnswer:
    """Change a content type: add_fields / remove_fields, or the whole new schema, and its
    title, description or options. The plan (try dry_run first) lists the change field by
    field: + added, - removed, ~ changed. Removing fields that entries use, or changing their
    data_type or multiple, deletes their values and always needs the user's confirmation."""
    state = call.state
    if all(v is None for v in (schema, add_fields, remove_fields, title, description, options)):
        raise ToolError("pass at least one of schema, add_fields, remove_fields, title, description or options")
    targets = Targets(content_types=(content_type,))
    await call.precheck(targets)
    current = await _definition(state, content_type)
    old_schema: list[dict[str, Any]] = list(current.get("schema") or [])
    new_schema = _edited(schema if schema is not None else old_schema, add_fields, remove_fields)
    problems = schema_problems(new_schema)
    if problems:
        raise _refuse_schema(content_type, problems)
    diff = schema_diff(old_schema, new_schema)
    for key, value in (("title", title), ("description", description), ("options", options)):
        if value is not None and value != current.get(key):
            diff.lines.append(f"~ {key}: {current.get(key)!r} -> {value!r}")
    # Removing or retyping a field deletes its values in every locale that has them, and a
    # reference removed or changed reaches the published entries: a role limited to some
    # locales or environments is refused when the entries reach further.
    targets, by_locale = await _change_reach(state, content_type, diff)
    used = {path: sum(counts.values()) for path, counts in by_locale.items()}
    live = targets.environments
    plan = call.plan(
        f"change content type {content_type!r}: {len(diff.lines)} change{'s' if len(diff.lines) != 1 else ''}"
        + (
            f"; entries published to {', '.join(live)} read {', '.join(diff.references)} by the new schema "
            "until they are published again"
            if live
            else ""
        ),
        targets,
        requests=[
            PlannedRequest(method="PUT", path=f"/v3/content_types/{content_type}", summary="save the new definition")
        ],
        items=diff.lines,
    )
    if diff.empty:
        outcome = await call.noop(targets, plan, "the content type already has this definition; nothing to send")
        return outcome.answer(ContentTypeWriteAnswer, notice="No change.")
    if used:
        plan.items = _losses_shown(diff.lines, used)
        call.insist_on_confirmation(
            f"it deletes the values entries hold in field{'s' if len(used) != 1 else ''} {', '.join(sorted(used))}"
        )
    definition = {k: v for k, v in current.items() if k in ("title", "description", "options")}
    definition.update({"uid": content_type, "schema": new_schema})
    for key, value in (("title", title), ("description", description), ("options", options)):
        if value is not None:
            definition[key] = value

    async def execute(permits: Permits) -> ContentType:
        if diff.dropped or diff.references:

            async def reach() -> Targets:
                return (await _change_reach(state, content_type, diff))[0]

            await call.recheck_reach(targets, reach, f"changing content type {content_type!r}")
        updated = await state.client.content_types.update(
            content_type, definition, permit=permits.for_operation("content_type.update")
        )
        state.meta.forget()
        return updated

    outcome = await call.run(targets=targets, plan=plan, execute=execute, target_versions=_bound(content_type, current))
    return outcome.answer(
        ContentTypeWriteAnswer,
        content_type=_ref(outcome.result) if outcome.result is not None else None,
        notice="Content type changed." if outcome.result is not None else None,
    )


@declare.delete("Delete a content type", read_back="get_content_type on the uid (not found: it was deleted)")
async def delete_content_type(
    call: WriteCall,
    content_type: ContentTypeArg,
) -> ContentTypeWriteAnswer:
    """Delete a content type and every entry of it, in every locale. Always needs the user's
    confirmation: show the preview, and call again with the confirmation token only if they
    agree."""
    state = call.state
    targets = Targets(content_types=(content_type,))
    await call.precheck(targets)
    current = await _definition(state, content_type)
    master = await state.meta.master_locale()
    page = await state.client.entries.query(content_type, locale=master, only=["uid"], limit=1)
    entries = page.total if page.total is not None else len(page.items)
    # Its entries go in every locale and leave every environment they are published to: a role
    # limited to some locales or environments is refused when they reach further.
    targets = await _reached(state, content_type)
    live = targets.environments
    call.insist_on_confirmation("deleting a content type deletes it and every entry of it")
    plan = call.plan(
        f"delete content type {content_type!r} ({current.get('title')!r}) and its {entries} "
        f"entr{'y' if entries == 1 else 'ies'} (counted in {master or 'the master locale'}), in every locale"
        + (f", published to {', '.join(live)}" if live else ""),
        targets,
        requests=[
            PlannedRequest(
                method="DELETE",
                path=f"/v3/content_types/{content_type}?force=true",
                summary="delete the content type and its entries",
            )
        ],
        items=[f"content type {content_type}"],
    )

    async def execute(permits: Permits) -> str:
        await call.recheck_reach(
            targets, lambda: _reached(state, content_type), f"deleting content type {content_type!r}"
        )
        notice = await state.client.content_types.delete(
            content_type, permit=permits.for_operation("content_type.delete")
        )
        state.meta.forget()
        return notice or "Content type deleted."

    outcome = await call.run(targets=targets, plan=plan, execute=execute, target_versions=_bound(content_type, current))
    return outcome.answer(
        ContentTypeWriteAnswer,
        content_type=ContentTypeRef(
            uid=content_type, title=str(current.get("title", content_type)), fields=len(current.get("schema") or [])
        ),
        notice=outcome.result,
    )
