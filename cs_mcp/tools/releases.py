"""The `releases` toolset: read releases, fill them, lock them, deploy them, clone and delete them.

Every write goes through the write pipeline (check, dry run, confirmation, permit, audit). Item lists are
sent in requests of 25, the most Contentstack takes. A deploy runs a preflight first and reports
it even when the deploy goes ahead: the release exists and is not empty, the environments exist,
the guard allows every environment and every item's content type and locale, which items are
older than their entry's latest version, and which items reference entries that are neither
published in the target environment nor part of the release.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal, TypeVar, cast

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, model_validator

from cs_mcp.client import (
    ASSET_CONTENT_TYPE,
    MAX_ITEMS_PER_REQUEST,
    ContentstackError,
    NotFoundError,
    Release,
    ReleaseItem,
    encode_path,
)
from cs_mcp.guard import ItemTarget, Permit, Targets
from cs_mcp.guard.scopes import Scope
from cs_mcp.toolkit.arguments import ItemInput, scheduled_time
from cs_mcp.toolkit.context import AppState, ToolContext, app_state
from cs_mcp.toolkit.declarations import ToolsetDeclarations
from cs_mcp.toolkit.identifiers import EnvironmentName, LocaleCode, Uid
from cs_mcp.toolkit.models import ToolModel
from cs_mcp.toolkit.shape import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ListAnswer,
    ListPage,
    ReadAnswer,
    clean,
    clean_text,
    decode_cursor,
    fingerprint,
    fitted_page,
    read_page,
)
from cs_mcp.toolkit.write import (
    Permits,
    PlannedRequest,
    WriteAnswer,
    WriteCall,
    WriteRefused,
)
from cs_mcp.tools._release_reads import (
    Findings,
    MissingReference,
    PreflightCheck,
    StaleItem,
    finding_check,
    item_target,
    label,
    latest_versions,
    preflight_findings,
)
from cs_mcp.views import RELEASE_VIEW, WRITE_PREVIEW_VIEW

T = TypeVar("T")

READ = frozenset({Scope.RELEASE_READ})
WRITE = frozenset({Scope.RELEASE_WRITE})
DEPLOY = frozenset({Scope.RELEASE_DEPLOY})
CLONE = frozenset({Scope.RELEASE_CLONE})
declare = ToolsetDeclarations("releases", read_scopes=READ, write_scopes=WRITE, preview=WRITE_PREVIEW_VIEW)

# One call handles at most this many items: it bounds the reads and requests a call makes.
MAX_ITEMS_PER_CALL = 500
# Findings listed in full in a deploy answer; beyond this, only counted.
MAX_FINDINGS = 50

Action = Literal["publish", "unpublish"]


# -- argument and answer models ---------------------------------------------------------------


class ReleaseItemInput(ItemInput):
    """An entry or an asset in a release."""

    locale: LocaleCode | None = Field(default=None, description="Default: the master locale.")
    action: Action = "publish"

    @property
    def sent_as(self) -> Literal["entry", "asset"]:
        """What Contentstack takes the item for, as `resolve_items` sends it: an "entry" of the
        content type built_io_upload is an asset (its name for assets in a release), and needs
        the asset's publish scopes."""
        return "asset" if self.type == "asset" or self.content_type == ASSET_CONTENT_TYPE else "entry"

    @model_validator(mode="after")
    def _assets_name_no_content_type(self) -> ReleaseItemInput:
        if self.type == "asset" and self.content_type:
            raise ValueError("an asset item takes no content_type")
        return self


class ReleaseSummary(ToolModel):
    uid: str
    name: str
    description: str | None = None
    locked: bool
    items_count: int | None = None
    status: list[Any] = Field(default_factory=lambda: [], description="Deployments as Contentstack reports them.")
    created_at: str | None = None
    updated_at: str | None = None


class ReleaseList(ListAnswer):
    releases: list[ReleaseSummary]


class ReleaseItemInfo(ToolModel):
    type: Literal["entry", "asset"]
    content_type: str | None = None
    uid: str
    title: str | None = None
    locale: str | None = None
    version: int | None = Field(default=None, description="The version in the release.")
    action: str | None = None
    latest_version: int | None = Field(default=None, description="The entry's or asset's latest version.")
    newer_version_exists: bool | None = Field(
        default=None, description="True when the entry moved on since this version was added; null if unknown."
    )
    note: str | None = None


class ReleaseDetail(ReadAnswer):
    release: ReleaseSummary
    items: list[ReleaseItemInfo]
    items_page: ListPage = Field(description="Pass items_page.next_cursor as items_cursor for more items.")


class CreateReleaseAnswer(WriteAnswer):
    release: ReleaseSummary | None = None
    items_added: int = 0


class UpdateReleaseAnswer(WriteAnswer):
    release: ReleaseSummary | None = None


class ReleaseItemsAnswer(WriteAnswer):
    release_uid: str
    items_changed: int = Field(default=0, description="Items added or removed.")
    requests_sent: int = 0
    not_in_release: list[str] = Field(default_factory=lambda: [], description="Items asked for but not found.")


class Preflight(ToolModel):
    """What was checked before the deploy. Stale items and missing references are warnings:
    the deploy still goes ahead; update the release or publish the references to fix them."""

    checks: list[PreflightCheck]
    stale_items: list[StaleItem] = Field(default_factory=lambda: [])
    stale_count: int = 0
    missing_references: list[MissingReference] = Field(default_factory=lambda: [])
    missing_reference_count: int = 0


class DeployAnswer(WriteAnswer):
    release_uid: str
    environments: list[str]
    locales: list[str] | None = None
    action: Action
    scheduled_at: str | None = None
    items: int = Field(description="Items in the release.")
    notice: str | None = Field(default=None, description="Contentstack's answer to the deploy.")
    note: str | None = Field(default=None, description="Whether the release was locked for the deploy, and is still.")
    preflight: Preflight


class CloneReleaseAnswer(WriteAnswer):
    source_uid: str
    release: ReleaseSummary | None = Field(default=None, description="The copy.")


class DeleteReleaseAnswer(WriteAnswer):
    release_uid: str
    deleted: bool = False
    notice: str | None = None


# -- helpers ------------------------------------------------------------------------------------


def summary(release: Release) -> ReleaseSummary:
    return ReleaseSummary(
        uid=release.uid,
        name=clean_text(release.name),
        description=clean_text(release.description) if release.description else None,
        locked=release.locked,
        items_count=release.items_count,
        status=cast(list[Any], clean(release.status)),
        created_at=release.created_at,
        updated_at=release.updated_at,
    )


def publish_scopes(kinds_and_actions: Iterable[tuple[str, str | None]]) -> frozenset[str]:
    """The publish scopes items need: a release publishes or unpublishes them when deployed, so
    putting them in one, or deploying it, needs what publishing them directly needs
    (`cm.entry:publish`, `cm.asset:unpublish`, ...). An item whose action is not known needs both."""
    scopes: set[str] = set()
    for kind, action in kinds_and_actions:
        for act in (action,) if action in ("publish", "unpublish") else ("publish", "unpublish"):
            scopes.add(f"cm.{kind}:{act}")
    return frozenset(scopes)


def item_scopes(items: Iterable[ReleaseItem], deploy_action: Action | None = None) -> frozenset[str]:
    """`publish_scopes` of release items; a deploy with action "unpublish" unpublishes every item."""
    return publish_scopes(
        ("asset" if i.is_asset else "entry", "unpublish" if deploy_action == "unpublish" else i.action) for i in items
    )


def chunks(items: Sequence[T], size: int = MAX_ITEMS_PER_REQUEST) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def release_path(*segments: str) -> str:
    return "/v3" + encode_path(["releases", *segments])


async def editable_release(call: WriteCall, uid: str, named: Targets | None = None) -> Release:
    """The release a write edits: the guard asked first about what the arguments name (nothing
    is read for a denied call), then the release read and refused if it is locked.

    Raises:
        ToolError: the guard denied, the release does not exist, or it is locked.
    """
    await call.precheck(named or Targets(releases=(uid,)))
    release = await load_release(call.state, uid)
    if release.locked:
        raise locked_error(release)
    return release


def locked_error(release: Release) -> ToolError:
    return ToolError(
        f"release {release.uid!r} ({clean_text(release.name)}) is locked, so it cannot be edited; "
        f"unlock it first with update_release(release_uid={release.uid!r}, locked=false), then try again. "
        "Nothing was sent."
    )


async def load_release(state: AppState, uid: str) -> Release:
    """The release, or a ToolError that says it does not exist."""
    try:
        return await state.client.releases.get_release(uid)
    except NotFoundError:
        raise ToolError(f"release {uid!r} does not exist; list_releases shows the releases") from None


def named_targets(inputs: Sequence[ReleaseItemInput], release_uid: str | None = None) -> Targets:
    """What the arguments themselves name: the items' content types and explicit locales."""
    return Targets(
        releases=(release_uid,) if release_uid else (),
        items=tuple(
            ItemTarget(
                label=f"{i.type} {i.content_type + '/' if i.content_type else ''}{i.uid}",
                content_type=i.content_type if i.type == "entry" else None,
                locale=i.locale,
            )
            for i in inputs
        ),
    )


async def resolve_items(state: AppState, inputs: Sequence[ReleaseItemInput]) -> list[ReleaseItem]:
    """The items as Contentstack takes them: locale defaulted to the master locale, version to
    the latest, names checked against the stack.

    Raises:
        ToolError: an unknown locale or content type, a duplicate, an entry that does not exist.
    """
    master = await state.meta.master_locale()
    if master is None and any(i.locale is None for i in inputs):
        raise ToolError("the stack reports no master locale; give every item its locale")
    items = [
        ReleaseItem(
            uid=i.uid,
            content_type_uid=i.content_type if i.type == "entry" else ASSET_CONTENT_TYPE,
            locale=i.locale or master,
            version=i.version,
            action=i.action,
        )
        for i in inputs
    ]
    await state.meta.check_locales(sorted({i.locale for i in items if i.locale}))
    await state.meta.check_content_types(
        sorted({i.content_type_uid for i in items if i.content_type_uid and not i.is_asset})
    )
    labels = [label(i) for i in items]
    duplicates = sorted({name for name in labels if labels.count(name) > 1})
    if duplicates:
        raise ToolError(f"these items are listed more than once: {', '.join(duplicates)}")
    need = [i for i in items if i.version is None]
    if need:
        found = await latest_versions(state, need)
        missing = [label(i) for i, v in zip(need, found, strict=True) if v is None]
        if missing:
            raise ToolError(f"these items do not exist (or have no version): {', '.join(missing)}. Nothing was sent.")
        for item, version in zip(need, found, strict=True):
            item.version = version
    return items


def with_progress(exc: ContentstackError, progress: str, advice: str) -> ContentstackError:
    """The same error (class, status and codes, which the audit log records) with a message that
    says how far a multi-request write got before it failed."""
    return type(exc)(
        f"{progress}: {exc.message}. {advice}",
        status=exc.status,
        error_code=exc.error_code,
        error_message=exc.error_message,
        errors=exc.errors,
        request_id=exc.request_id,
        api=exc.api,
    )


async def add_in_chunks(
    state: AppState, release_uid: str, items: Sequence[ReleaseItem], permit: Permit, *, created: bool = False
) -> int:
    """Adds the items in requests of 25; answers how many requests were sent.

    Raises:
        ContentstackError: a request failed; the message says how many items were added before it.
    """
    batches = chunks(items)
    for number, batch in enumerate(batches):
        try:
            await state.client.releases.add_items(release_uid, batch, permit=permit)
        except ContentstackError as exc:
            done = number * MAX_ITEMS_PER_REQUEST
            created_note = f"release {release_uid!r} was created; " if created else ""
            raise with_progress(
                exc,
                f"{created_note}{done} of {len(items)} items were added to release {release_uid!r}, then request "
                f"{number + 1} of {len(batches)} failed",
                "Add the remaining items with add_release_items.",
            ) from exc
    return len(batches)


def item_info(item: ReleaseItem, latest: int | None, looked_up: bool) -> ReleaseItemInfo:
    newer: bool | None = None
    note: str | None = None
    if looked_up and latest is None:
        note = "the entry or asset no longer exists"
    elif latest is not None and item.version is not None:
        newer = latest > item.version
    return ReleaseItemInfo(
        type="asset" if item.is_asset else "entry",
        content_type=None if item.is_asset else item.content_type_uid,
        uid=item.uid,
        title=clean_text(item.title) if item.title else None,
        locale=item.locale,
        version=item.version,
        action=item.action,
        latest_version=latest,
        newer_version_exists=newer,
        note=note,
    )


# -- reads --------------------------------------------------------------------------------------


@declare.read("List releases")
async def list_releases(
    ctx: ToolContext,
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Field(max_length=500, description="The previous page's next_cursor.")] = None,
) -> ReleaseList:
    """The stack's releases (entries and assets deployed together): uid, name, description, locked, item count
    and deployment status."""
    releases = app_state(ctx).client.releases
    query = fingerprint("list_releases")
    kept, info = await read_page(query, cursor, limit, lambda skip: releases.list(skip=skip, limit=limit), summary)
    return ReleaseList(releases=kept, **info)


@declare.read("Get a release", ui=RELEASE_VIEW)
async def get_release(
    ctx: ToolContext,
    release_uid: Uid,
    items_limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    items_cursor: Annotated[
        str | None, Field(max_length=500, description="items_page.next_cursor of a previous answer.")
    ] = None,
) -> ReleaseDetail:
    """One release and a page of its items: type, content type, uid, locale, version, the deploy's action, and
    whether the entry has a newer version."""
    state = app_state(ctx)
    query = fingerprint("get_release", release_uid)
    skip = decode_cursor(items_cursor, query)
    release = await load_release(state, release_uid)
    page = await state.client.releases.items(release_uid, skip=skip, limit=items_limit)
    latest = await latest_versions(state, page.items)
    infos = [item_info(i, v, looked_up=True) for i, v in zip(page.items, latest, strict=True)]
    kept, info = fitted_page(infos, total=page.total, skip=skip, asked=items_limit, query_fingerprint=query)
    shown = summary(release)
    if shown.items_count is None and page.total is not None:
        shown.items_count = page.total
    return ReleaseDetail(release=shown, items=kept, items_page=ListPage(**info))


# -- writes -------------------------------------------------------------------------------------

ItemsArg = Annotated[
    list[ReleaseItemInput],
    Field(
        min_length=1,
        max_length=MAX_ITEMS_PER_CALL,
    ),
]


def items_plan_requests(method: str, path: str, count: int, verb: str) -> list[PlannedRequest]:
    """One planned request per 25 items."""
    requests: list[PlannedRequest] = []
    for start in range(0, count, MAX_ITEMS_PER_REQUEST):
        end = min(start + MAX_ITEMS_PER_REQUEST, count)
        requests.append(PlannedRequest(method=method, path=path, summary=f"{verb} items {start + 1}-{end}"))
    return requests


@declare.write("Create a release", read_back="list_releases (the newest releases), then get_release on the new one")
async def create_release(
    call: WriteCall,
    name: Annotated[str, Field(min_length=1, max_length=500, description="The release's name.")],
    description: Annotated[str | None, Field(max_length=5000, description="What the release is for.")] = None,
    items: Annotated[
        list[ReleaseItemInput] | None,
        Field(max_length=MAX_ITEMS_PER_CALL, description="Items to add at once (see add_release_items)."),
    ] = None,
) -> CreateReleaseAnswer:
    """Create a release, optionally with items (version default: the latest; locale: the master)."""
    state = call.state
    call.require(WRITE | publish_scopes((i.sent_as, i.action) for i in items or []))
    await call.precheck(named_targets(items or []))
    resolved = await resolve_items(state, items or [])
    targets = Targets(items=tuple(item_target(i) for i in resolved))
    requests = [PlannedRequest(method="POST", path="/v3/releases", summary=f"create release {name!r}")]
    requests += items_plan_requests("POST", "/v3/releases/{new release uid}/items", len(resolved), "add")
    plan = call.plan(
        f"create release {name!r} with {len(resolved)} items in {len(requests)} requests",
        targets,
        requests=requests,
        items=[label(i) for i in resolved],
    )

    async def execute(permits: Permits) -> tuple[Release, int]:
        release = await state.client.releases.create(name, description, permit=permits.for_operation("release.create"))
        call.note(release_uid=release.uid)
        if not resolved:
            return release, 0
        # The guard checked the call before the release existed; its uid is checked now.
        with_uid = Targets(releases=(release.uid,), items=targets.items)
        permit = permits.for_targets(with_uid, "release.add_items")
        await add_in_chunks(state, release.uid, resolved, permit, created=True)
        return release, len(resolved)

    outcome = await call.run(targets=targets, plan=plan, execute=execute)
    answer = outcome.answer(CreateReleaseAnswer)
    if outcome.result is not None:
        release, added = outcome.result
        answer.release = summary(release)
        answer.release.items_count = added
        answer.items_added = added
    return answer


@declare.write("Update a release", read_back="get_release on the release", idempotent=True)
async def update_release(
    call: WriteCall,
    release_uid: Uid,
    name: Annotated[str | None, Field(min_length=1, max_length=500, description="A new name.")] = None,
    description: Annotated[str | None, Field(max_length=5000, description="A new description.")] = None,
    locked: Annotated[
        bool | None, Field(description="true locks the release (no more edits), false unlocks it.")
    ] = None,
) -> UpdateReleaseAnswer:
    """Rename a release, change its description, or lock or unlock it. A locked release refuses
    every edit until it is unlocked (locked=false), which may be combined with other changes."""
    if name is None and description is None and locked is None:
        raise ToolError("nothing to change: give name, description or locked")
    state = call.state
    await call.precheck(Targets(releases=(release_uid,)))
    release = await load_release(state, release_uid)
    edits = name is not None or description is not None
    if release.locked and edits and locked is not False:
        raise locked_error(release)
    targets, versions = await whole_release_targets(state, release)
    changes = {k: v for k, v in (("name", name), ("description", description), ("locked", locked)) if v is not None}
    if not edits and locked == release.locked:
        # Nothing to send, but the caller still learns whether the guard would have let it.
        state_word = "locked" if locked else "unlocked"
        plan = call.plan(f"nothing to do: the release is already {state_word}")
        unchanged = await call.noop(targets, plan, "nothing to send")
        return unchanged.answer(
            UpdateReleaseAnswer,
            release=summary(release),
            notice=f"release {release_uid!r} is already {state_word}; nothing was sent",
        )
    plan = call.plan(
        f"update release {release_uid!r}: " + ", ".join(f"{k}={v!r}" for k, v in changes.items()),
        targets,
        requests=[PlannedRequest(method="PUT", path=release_path(release_uid), summary="update the release")],
    )

    async def execute(permits: Permits) -> Release:
        await call.recheck_reach(
            targets, lambda: release_reach(state, release_uid), f"updating release {release_uid!r}"
        )
        return await state.client.releases.update(
            release_uid,
            # The documented update body carries the name and description: a lock alone resends
            # the current ones.
            name=name if name is not None else release.name,
            description=description if description is not None else release.description,
            locked=locked,
            permit=permits.for_operation("release.update"),
        )

    outcome = await call.run(targets=targets, plan=plan, execute=execute, target_versions=versions)
    return outcome.answer(UpdateReleaseAnswer, release=summary(outcome.result) if outcome.result is not None else None)


@declare.write("Add items to a release", read_back="get_release on the release (its items)")
async def add_release_items(
    call: WriteCall,
    release_uid: Uid,
    items: ItemsArg,
) -> ReleaseItemsAnswer:
    """Add entries and assets to a release (version default: the latest; locale: the master). Refused on a
    locked release."""
    state = call.state
    call.require(WRITE | publish_scopes((i.sent_as, i.action) for i in items))
    await editable_release(call, release_uid, named_targets(items, release_uid))
    resolved = await resolve_items(state, items)
    targets = Targets(releases=(release_uid,), items=tuple(item_target(i) for i in resolved))
    plan = call.plan(
        f"add {len(resolved)} items to release {release_uid!r}",
        targets,
        requests=items_plan_requests("POST", release_path(release_uid, "items"), len(resolved), "add"),
        items=[label(i) for i in resolved],
    )

    async def execute(permits: Permits) -> int:
        return await add_in_chunks(state, release_uid, resolved, permits.for_operation("release.add_items"))

    outcome = await call.run(targets=targets, plan=plan, execute=execute)
    answer = outcome.answer(ReleaseItemsAnswer, release_uid=release_uid)
    if outcome.result is not None:
        answer.items_changed = len(resolved)
        answer.requests_sent = outcome.result
    return answer


def matches(wanted: ReleaseItemInput, item: ReleaseItem, master: str | None) -> bool:
    """Whether a release item is the one asked for; without a locale, the master locale's."""
    if wanted.uid != item.uid:
        return False
    if wanted.type == "asset":
        if not item.is_asset:
            return False
    elif item.is_asset or wanted.content_type != item.content_type_uid:
        return False
    locale = wanted.locale or master
    return locale is None or item.locale is None or item.locale == locale


@declare.write("Remove items from a release", read_back="get_release on the release (its items)", idempotent=True)
async def remove_release_items(
    call: WriteCall,
    release_uid: Uid,
    items: Annotated[
        list[ReleaseItemInput] | None,
        Field(max_length=MAX_ITEMS_PER_CALL, description="Items to take out (version and action are ignored)."),
    ] = None,
    all: Annotated[bool, Field(description="true takes every item out; then leave items empty.")] = False,
) -> ReleaseItemsAnswer:
    """Take items out of a release, or every item with all=true. Items match by type, content type, uid and
    locale (default: master); the answer lists those not in the release. Refused on a locked release."""
    if all == bool(items):
        raise ToolError("give either items or all=true (not both, not neither)")
    state = call.state
    await editable_release(call, release_uid)
    current = await state.client.releases.all_items(release_uid)
    not_in_release: list[str] = []
    if all:
        chosen = current
    else:
        master = await state.meta.master_locale()
        chosen: list[ReleaseItem] = []
        for wanted in items or []:
            hits = [i for i in current if matches(wanted, i, master)]
            if not hits:
                kind = f"entry {wanted.content_type}/" if wanted.type == "entry" else "asset "
                not_in_release.append(f"{kind}{wanted.uid}" + (f" ({wanted.locale})" if wanted.locale else ""))
            chosen.extend(h for h in hits if h not in chosen)
        if not chosen:
            raise ToolError(
                f"none of the items are in release {release_uid!r}: {', '.join(not_in_release)}. Nothing was sent."
            )
    targets = Targets(releases=(release_uid,), items=tuple(item_target(i) for i in chosen))
    if not chosen:  # all=true on an empty release
        unchanged = await call.nothing_to_do(targets, f"release {release_uid!r} holds no items")
        return unchanged.answer(
            ReleaseItemsAnswer,
            release_uid=release_uid,
            not_in_release=[],
            notice=f"release {release_uid!r} holds no items; nothing was sent",
        )
    # all=true too names the items it read and checked, 25 a request: Contentstack's `?all=true`
    # would also take out items added after the read, which the guard never saw.
    requests = items_plan_requests("DELETE", release_path(release_uid, "items"), len(chosen), "remove")
    plan = call.plan(
        f"remove {len(chosen)} items from release {release_uid!r}",
        targets,
        requests=requests,
        items=[label(i) for i in chosen],
    )

    async def execute(permits: Permits) -> int:
        permit = permits.for_operation("release.remove_items")
        batches = chunks(chosen)
        for number, batch in enumerate(batches):
            try:
                await state.client.releases.remove_items(release_uid, batch, permit=permit)
            except ContentstackError as exc:
                raise with_progress(
                    exc,
                    f"{number * MAX_ITEMS_PER_REQUEST} of {len(chosen)} items were removed from release "
                    f"{release_uid!r}, then request {number + 1} of {len(batches)} failed",
                    "Read the release with get_release before trying again.",
                ) from exc
        return len(batches)

    outcome = await call.run(
        targets=targets,
        plan=plan,
        execute=execute,
        # A confirmed "remove these" must not remove more, or other versions, than were shown.
        target_versions={"items in release": len(current), **{label(i): i.version or 0 for i in chosen}},
    )
    answer = outcome.answer(
        ReleaseItemsAnswer,
        release_uid=release_uid,
        not_in_release=not_in_release,
    )
    if outcome.result is not None:
        answer.items_changed = len(chosen)
        answer.requests_sent = outcome.result
    return answer


# -- deploy and its preflight -------------------------------------------------------------------


async def whole_release_targets(state: AppState, release: Release) -> tuple[Targets, dict[str, int]]:
    """What an edit of the release as a whole touches: every item, and the environments of its
    scheduled deployments (deleting or unlocking a release changes what they will publish).
    Answers the targets and the versions a confirmation is bound to.

    A role may edit a release only if it may write every item in it: otherwise unlocking or
    deleting it would reach content the role may not touch.
    """
    items = await state.client.releases.all_items(release.uid)
    return (
        Targets(
            releases=(release.uid,),
            environments=await scheduled_environments(state, release),
            items=tuple(item_target(i) for i in items),
        ),
        {release.uid: release.version or 0, **{label(i): i.version or 0 for i in items}},
    )


async def release_reach(state: AppState, release_uid: str) -> Targets:
    """The release's whole reach as it is now (`whole_release_targets`): its items and its
    scheduled deployments.

    Raises:
        ToolError: the release is gone (nothing was sent).
    """
    return (await whole_release_targets(state, await load_release(state, release_uid)))[0]


async def scheduled_environments(state: AppState, release: Release) -> tuple[str, ...]:
    """The environments (by name) of the release's deployments that are still scheduled."""
    names = await state.meta.environment_names_by_uid()
    found: list[str] = []
    for raw in release.status:
        if not isinstance(raw, dict):
            continue
        deployment = cast(dict[str, Any], raw)
        if str(deployment.get("status", "")).lower() != "scheduled":
            continue
        env = deployment.get("environment_name") or deployment.get("environment")
        if isinstance(env, str):
            found.append(names.get(env, env))
    return tuple(dict.fromkeys(found))


def deploy_locales(items: Sequence[ReleaseItem], locales: Sequence[str] | None) -> list[str]:
    """The locales a deploy names, so that it reaches exactly the (item, locale) pairs shown.

    Contentstack's deploy body carries one list of locales for every item. Given `locales`,
    each item goes to each of them (an entry in a locale other than its item's goes out in
    that locale's latest version). Without, every item goes out in its own locale only, which
    one list can say only when the items share one locale.

    Raises:
        ToolError: no `locales` and the items are in several locales (or one has none).
    """
    if locales:
        return list(dict.fromkeys(locales))
    own = {i.locale for i in items}
    if len(own) == 1 and None not in own:
        return [str(next(iter(own)))]
    named = sorted(loc for loc in own if loc)
    raise ToolError(
        f"the release holds items in several locales ({', '.join(named) or 'none stated'}), and Contentstack's "
        "deploy applies one list of locales to every item: deploying it without locales would also publish "
        "versions that are not in the release. Pass locales explicitly (each item then goes to every locale "
        "listed, as the preview shows), or move the items of each locale into a release of their own. "
        "Nothing was sent."
    )


def deploy_pairs(items: Sequence[ReleaseItem], locales: Sequence[str]) -> list[tuple[ReleaseItem, str]]:
    """The (item, locale) pairs a deploy to `locales` reaches."""
    return [(item, locale) for item in items for locale in locales]


def pair_label(item: ReleaseItem, locale: str) -> str:
    if item.is_asset or locale == item.locale:
        return f"{label(item)} in {locale}, version {item.version}"
    return f"{label(item)} in {locale}, the latest {locale} version"


def held(items: Sequence[ReleaseItem]) -> list[tuple[str, int | None, str | None]]:
    """What a deploy depends on in the release's items: which, at which version, doing what."""
    return sorted((label(i), i.version, i.action) for i in items)


class DeployResult(ToolModel):
    notice: str | None = None
    note: str | None = None


@declare.write(
    "Deploy a release",
    read_back="get_release on the release (its deployment status) and list_publish_queue",
    scopes=DEPLOY,
    previewed=True,
)
async def deploy_release(
    call: WriteCall,
    release_uid: Uid,
    environments: Annotated[list[EnvironmentName], Field(min_length=1, max_length=10)],
    locales: Annotated[
        list[LocaleCode] | None,
        Field(
            max_length=10,
            description="Locales to deploy every item to. Default: each item in its own locale only (refused "
            "when the items are in several locales).",
        ),
    ] = None,
    action: Action = "publish",
    scheduled_at: Annotated[str | None, Field(max_length=40, description="ISO 8601 with zone; default: now.")] = None,
) -> DeployAnswer:
    """Deploy (publish or unpublish) every item of a release to environments, now or at scheduled_at. Without
    locales each item goes to its own locale, and items in several locales are refused: pass locales or
    split the release. The release is locked for the deploy. A preflight is reported (dry_run shows it):
    warnings for items with newer versions and for references published neither in the target nor in the
    release."""
    state = call.state
    when = scheduled_time(scheduled_at, action="deploy")
    await call.precheck(
        Targets(releases=(release_uid,), environments=tuple(environments), locales=tuple(locales or ()))
    )
    await state.meta.check_environments(environments)
    if locales:
        await state.meta.check_locales(locales)
    release = await load_release(state, release_uid)
    items = await state.client.releases.all_items(release_uid)
    if not items:
        raise ToolError(
            f"release {release_uid!r} is empty; add items with add_release_items before deploying. Nothing was sent."
        )
    to_locales = deploy_locales(items, locales)
    pairs = deploy_pairs(items, to_locales)
    scopes = DEPLOY | item_scopes(items, action)
    checks = [
        PreflightCheck(check="release exists", ok=True, detail=f"{clean_text(release.name)} ({release_uid})"),
        PreflightCheck(check="release is not empty", ok=True, detail=f"{len(items)} items"),
        PreflightCheck(check="environments exist", ok=True, detail=", ".join(environments)),
    ]
    targets = Targets(
        releases=(release_uid,),
        environments=tuple(environments),
        locales=tuple(to_locales),
        # Each item as it is held and each (item, locale) pair the deploy reaches.
        items=(
            *(item_target(i) for i in items),
            *(
                ItemTarget(pair_label(i, loc), None if i.is_asset else i.content_type_uid, loc)
                for i, loc in pairs
                if loc != i.locale
            ),
        ),
    )
    found = Findings(gone=[], stale=[], missing=[])
    # The guard on every item, with the items' publish scopes, before the preflight reads
    # anything more (a denial is audited).
    call.require(scopes)
    await call.precheck(targets)
    if action == "publish":
        found = await preflight_findings(state, items, environments)
        checks += [
            finding_check(
                "every item's entry still exists",
                found.gone,
                f"gone: {', '.join(found.gone[:MAX_FINDINGS])}; remove them with remove_release_items",
                "all exist",
            ),
            finding_check(
                "items are at their entry's latest version",
                found.stale,
                f"{len(found.stale)} items have a newer version; update the release to deploy the latest",
                "all current",
            ),
            finding_check(
                "referenced entries are published or in the release",
                found.missing,
                f"{len(found.missing)} references will not resolve in the target environments",
                "all resolve",
            ),
        ]
    when_words = f" at {when}" if when else " now"
    requests = [PlannedRequest(method="POST", path=release_path(release_uid, "deploy"), summary=action)]
    if not release.locked:
        lock = PlannedRequest(method="PUT", path=release_path(release_uid), summary="lock the release for the deploy")
        requests.insert(0, lock)
        if not when:
            requests.append(PlannedRequest(method="PUT", path=release_path(release_uid), summary="unlock it again"))
    plan = call.plan(
        f"{action} {len(items)} items of release {release_uid!r} ({len(pairs)} item-locale pairs) to "
        f"{', '.join(environments)} in {', '.join(to_locales)}{when_words}",
        targets,
        requests=requests,
        items=[pair_label(i, loc) for i, loc in pairs],
    )

    async def execute(permits: Permits) -> DeployResult:
        return await locked_deploy(state, release, items, permits, environments, to_locales, action, when)

    outcome = await call.run(
        targets=targets, plan=plan, execute=execute, target_versions={label(i): i.version or 0 for i in items}
    )
    checks.append(
        PreflightCheck(
            check="the guard allows every environment and item",
            ok=True,
            detail=f"{outcome.verdict.decision}: {outcome.verdict.reason}",
        )
    )
    result = outcome.result
    return outcome.answer(
        DeployAnswer,
        release_uid=release_uid,
        environments=environments,
        locales=to_locales,
        action=action,
        scheduled_at=when,
        items=len(items),
        notice=result.notice if result else None,
        note=result.note if result else None,
        preflight=Preflight(
            checks=checks,
            stale_items=found.stale[:MAX_FINDINGS],
            stale_count=len(found.stale),
            missing_references=found.missing[:MAX_FINDINGS],
            missing_reference_count=len(found.missing),
        ),
    )


async def locked_deploy(
    state: AppState,
    release: Release,
    checked: Sequence[ReleaseItem],
    permits: Permits,
    environments: Sequence[str],
    locales: Sequence[str],
    action: Action,
    when: str | None,
) -> DeployResult:
    """Deploys exactly the items that were checked: the release is locked first (when it was
    not), so that no item can be added or changed, its items are read again and compared with
    `checked`, and only then is the deploy sent. A release this call locked is unlocked after,
    also when the deploy failed, except after a scheduled deploy: Contentstack may read the
    items when the deployment runs, so the release stays locked until then.

    Raises:
        WriteRefused: the items changed since they were checked (nothing deployed; the lock taken back).
        ContentstackError: a request failed; the message says whether the release stayed locked.
    """
    update = permits.for_operation("release.update")
    locked_here = not release.locked
    if locked_here:
        # The documented update body carries the name: the lock resends the current one.
        await state.client.releases.update(release.uid, name=release.name, locked=True, permit=update)

    async def unlock() -> str | None:
        """Unlocks the release this call locked; answers why not when that failed."""
        try:
            await state.client.releases.update(release.uid, name=release.name, locked=False, permit=update)
        except ContentstackError as exc:
            return f"release {release.uid!r} stays locked: unlocking it failed ({exc}); unlock it with update_release"
        return None

    try:
        now_held = await state.client.releases.all_items(release.uid)
        if held(now_held) != held(checked):
            raise WriteRefused(
                f"release {release.uid!r} changed between the check and the deploy (an item was added, removed or "
                "moved to another version); nothing was deployed. Call deploy_release again to check what it "
                "holds now."
            )
        notice = await state.client.releases.deploy(
            release.uid,
            environments=environments,
            locales=locales,
            action=action,
            scheduled_at=when,
            items=now_held,
            permit=permits.for_operation("release.deploy"),
        )
    except ContentstackError as exc:
        problem = await unlock() if locked_here else None
        if problem:
            raise with_progress(exc, "the deploy failed", problem) from exc
        raise
    except WriteRefused as exc:
        problem = await unlock() if locked_here else None
        if problem:
            raise WriteRefused(f"{exc} Also, {problem}.") from exc
        raise
    if not locked_here:
        return DeployResult(notice=notice)
    if when:
        return DeployResult(
            notice=notice,
            note=f"release {release.uid!r} was locked for this deploy and stays locked until the deployment has run, "
            "so that it deploys what was checked; unlock it with update_release(locked=false) after it ran (or "
            "after cancelling it)",
        )
    problem = await unlock()
    return DeployResult(
        notice=notice, note=problem or f"release {release.uid!r} was locked for the deploy and unlocked after"
    )


# -- clone and delete ---------------------------------------------------------------------------


@declare.write("Clone a release", read_back="list_releases (a release with the copy's name)", scopes=CLONE)
async def clone_release(
    call: WriteCall,
    release_uid: Annotated[Uid, Field(description="The release to copy.")],
    name: Annotated[str, Field(min_length=1, max_length=500, description="The copy's name.")],
    description: Annotated[str | None, Field(max_length=5000)] = None,
) -> CloneReleaseAnswer:
    """Copy a release with its items under a new name; the copy starts unlocked."""
    state = call.state
    await call.precheck(Targets(releases=(release_uid,)))
    await load_release(state, release_uid)
    items = await state.client.releases.all_items(release_uid)
    targets = Targets(releases=(release_uid,), items=tuple(item_target(i) for i in items))
    scopes = CLONE | item_scopes(items)
    plan = call.plan(
        f"copy release {release_uid!r} ({len(items)} items) as {name!r}",
        targets,
        requests=[PlannedRequest(method="POST", path=release_path(release_uid, "clone"), summary="clone")],
        items=[label(i) for i in items],
    )

    async def execute(permits: Permits) -> Release:
        if call.asked_mid_call:
            # They may have taken minutes: the copy holds the items as they are then, and must
            # hold those the plan listed and the guard checked (an item added since may reach
            # another content type, or need a scope the call was not checked for).
            now, checked = held(await state.client.releases.all_items(release_uid)), held(items)
            if now != checked:
                changed = sorted({entry[0] for entry in set(now) ^ set(checked)})
                raise WriteRefused(
                    f"release {release_uid!r} changed between the check and the copy ({', '.join(changed)} "
                    "added, removed or moved to another version or action); nothing was copied. Call "
                    "clone_release again to check what it holds now."
                )
        return await state.client.releases.clone(
            release_uid, name, description, permit=permits.for_operation("release.clone")
        )

    call.require(scopes)
    outcome = await call.run(targets=targets, plan=plan, execute=execute)
    copy = summary(outcome.result) if outcome.result is not None else None
    return outcome.answer(CloneReleaseAnswer, source_uid=release_uid, release=copy)


@declare.delete("Delete a release", read_back="get_release on the release (not found: it was deleted)")
async def delete_release(
    call: WriteCall,
    release_uid: Annotated[Uid, Field(description="The release to delete.")],
) -> DeleteReleaseAnswer:
    """Delete a release (not its entries or assets, nor what it published). May need the user's confirmation.
    Refused on a locked release."""
    state = call.state
    release = await editable_release(call, release_uid)
    targets, versions = await whole_release_targets(state, release)
    plan = call.plan(
        f"delete release {release_uid!r} ({clean_text(release.name)})",
        targets,
        requests=[PlannedRequest(method="DELETE", path=release_path(release_uid), summary="delete the release")],
    )

    async def execute(permits: Permits) -> str:
        await call.recheck_reach(
            targets, lambda: release_reach(state, release_uid), f"deleting release {release_uid!r}"
        )
        return await state.client.releases.delete(release_uid, permit=permits.for_operation("release.delete"))

    outcome = await call.run(targets=targets, plan=plan, execute=execute, target_versions=versions)
    return outcome.answer(
        DeleteReleaseAnswer,
        release_uid=release_uid,
        deleted=outcome.result is not None,
        notice=outcome.result,
    )
