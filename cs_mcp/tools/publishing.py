"""The `publishing` toolset: publish and unpublish entries and assets, the publish queue.

One item goes through the single publish endpoint; more go through the bulk endpoints, split
into requests of at most 10 items x 10 locales x 10 environments and paced by the client at
the bulk limit (one request a second). Every item is checked by the guard on its own: one item
outside the caller's content types or locales refuses the whole call, and nothing is sent.

Scopes: the tools need the scopes of their items (`cm.entry:publish` for entries,
`cm.asset:publish` for assets; `:unpublish` likewise). That the bulk endpoints carry the work
for more than one item is how the call is carried out, not a separate permission, so the
`cm.bulk-operations:*` scopes are not asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, ValidationError, model_validator

from cs_mcp.client import (
    BULK_MAX_ENVIRONMENTS,
    BULK_MAX_ITEMS,
    BULK_MAX_LOCALES,
    BulkAsset,
    BulkEntry,
    BulkJob,
    ContentstackError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    OutcomeUnknownError,
    PublishAction,
    PublishQueueItem,
)
from cs_mcp.guard import ItemTarget, Targets
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
    clean,
    decode_cursor,
    encode_cursor,
    fingerprint,
    fit_budget,
)
from cs_mcp.toolkit.stackmeta import FALLBACK_LOCALE
from cs_mcp.toolkit.write import (
    Permits,
    PlannedRequest,
    WriteAnswer,
    WriteCall,
)
from cs_mcp.views import WRITE_PREVIEW_VIEW

MAX_ITEMS = 500
# A bulk job not finished at once is looked at again after these pauses, then reported as submitted.
JOB_POLL_DELAYS = (0.5, 1.0, 2.0)

# Queue pages (of 100 rows) read at most to fill one filtered page of the tool's answer.
QUEUE_SCAN_REQUESTS = 5

ItemStatus = Literal["planned", "published", "unpublished", "scheduled", "submitted", "failed"]


class PublishItem(ItemInput):
    """An entry or an asset."""

    locale: LocaleCode | None = Field(default=None, description="Entries: the locale whose version is published.")

    @model_validator(mode="after")
    def _fits_its_type(self) -> PublishItem:
        if self.type == "asset" and (self.content_type or self.locale):
            raise ValueError("an asset item takes only uid and version (publish locales go in `locales`)")
        return self

    @property
    def label(self) -> str:
        if self.type == "asset":
            return f"asset {self.uid}"
        suffix = f" ({self.locale})" if self.locale else ""
        return f"entry {self.content_type}/{self.uid}{suffix}"


class ItemReport(ToolModel):
    """What happened to one item."""

    item: str
    status: ItemStatus
    version: int | None = None
    locales: list[str] = Field(default_factory=lambda: [])
    reason: str | None = None
    job_id: str | None = None


class PublishAnswer(WriteAnswer):
    action: PublishAction
    environments: list[str]
    scheduled_at: str | None = None
    counts: dict[str, int] = Field(description="How many items ended in each status.")
    items: list[ItemReport] = Field(description="Per item; failed items first.")
    job_ids: list[str] = Field(default_factory=lambda: [], description="Bulk jobs, for list_publish_queue.")
    truncated: bool = False
    note: str | None = None


@dataclass
class _Work:
    """One item on its way: where it publishes from and to, and what became of it."""

    item: PublishItem
    source_locale: str | None  # entries: the locale whose version is published
    targets: tuple[str, ...]  # the locales it is published to
    version: int | None = None
    status: ItemStatus = "planned"
    reason: str | None = None
    job_id: str | None = None
    job_reasons: list[str] = field(default_factory=lambda: [])

    @property
    def label(self) -> str:
        if self.item.type == "asset" or self.source_locale is None:
            return self.item.label
        return f"entry {self.item.content_type}/{self.item.uid} ({self.source_locale})"

    def report(self) -> ItemReport:
        return ItemReport(
            item=self.label,
            status=self.status,
            version=self.version,
            locales=list(self.targets),
            reason=clean(self.reason) if self.reason else None,
            job_id=self.job_id,
        )


def _chunks(values: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(values[i : i + size]) for i in range(0, len(values), size)] or [[]]


async def _resolve_versions(state: AppState, works: Sequence[_Work]) -> None:
    """Fills in missing versions with the latest; an item that does not exist fails here."""
    entries: dict[tuple[str, str], list[_Work]] = {}
    assets: list[_Work] = []
    for work in works:
        if work.item.type == "entry":
            assert work.item.content_type is not None
            assert work.source_locale is not None
            entries.setdefault((work.item.content_type, work.source_locale), []).append(work)
        else:
            assets.append(work)
    for (content_type, locale), group in entries.items():
        try:
            latest = await state.client.entries.latest_versions(
                content_type, [w.item.uid for w in group], locale=locale
            )
        except NotFoundError:
            latest = {}
        for work in group:
            _settle_version(work, latest.get(work.item.uid), f"does not exist in locale {locale}")
    if assets:
        latest = await state.client.entries.latest_asset_versions([w.item.uid for w in assets])
        for work in assets:
            _settle_version(work, latest.get(work.item.uid), "does not exist")


def _settle_version(work: _Work, latest: int | None, missing: str) -> None:
    if latest is None:
        work.status, work.reason = "failed", f"{work.label} {missing}; nothing was sent for it"
    elif work.item.version is not None and work.item.version > latest:
        work.status = "failed"
        work.reason = f"version {work.item.version} does not exist (the latest is {latest}); nothing was sent for it"
    else:
        work.version = work.item.version or latest


@dataclass
class _Request:
    """One request of the plan: a single item, or a bulk request of at most 10 x 10 x 10."""

    works: list[_Work]
    environments: list[str]
    locales: list[str]
    bulk: bool

    def summary(self, action: PublishAction) -> PlannedRequest:
        if not self.bulk:
            work = self.works[0]
            path = (
                f"/v3/content_types/{work.item.content_type}/entries/{work.item.uid}/{action}"
                if work.item.type == "entry"
                else f"/v3/assets/{work.item.uid}/{action}"
            )
            what = f"{work.label} version {work.version}"
        else:
            path = f"/v3/bulk/{action}"
            what = f"{len(self.works)} items"
        return PlannedRequest(
            method="POST",
            path=path,
            summary=f"{action} {what} to {', '.join(self.environments)} in {', '.join(self.locales)}",
        )


def _plan_requests(works: Sequence[_Work], environments: Sequence[str]) -> list[_Request]:
    ready = [w for w in works if w.status == "planned"]
    if len(ready) == 1 and len(works) == 1:
        work = ready[0]
        return [_Request([work], list(environments), list(work.targets), bulk=False)]
    groups: dict[tuple[str, ...], list[_Work]] = {}
    for work in ready:
        groups.setdefault(work.targets, []).append(work)
    requests: list[_Request] = []
    for targets, group in groups.items():
        for items in _chunks(group, BULK_MAX_ITEMS):
            for locales in _chunks(targets, BULK_MAX_LOCALES):
                for envs in _chunks(environments, BULK_MAX_ENVIRONMENTS):
                    requests.append(_Request(items, envs, locales, bulk=True))
    return requests


async def _send(
    state: AppState,
    action: PublishAction,
    requests: Sequence[_Request],
    scheduled_at: str | None,
    permits: Permits,
) -> list[str]:
    """Sends the planned requests in order and follows the bulk jobs. Answers the job ids.

    A refused request fails its items and the rest go on; a failure that will repeat (auth,
    rate limit, outage, a lost answer) stops the sending, and the items not sent say so."""
    done: ItemStatus = "scheduled" if scheduled_at else ("published" if action == "publish" else "unpublished")
    job_ids: list[str] = []
    async with anyio.create_task_group() as jobs:
        for index, request in enumerate(requests):
            try:
                if not request.bulk:
                    await _send_single(state, action, request, scheduled_at, permits)
                    for work in request.works:
                        work.status = done
                    continue
                submission = await state.client.publishing.bulk(
                    action,
                    entries=[_bulk_entry(w) for w in request.works if w.item.type == "entry"],
                    assets=[
                        BulkAsset(uid=w.item.uid, version=w.version or 1)
                        for w in request.works
                        if w.item.type == "asset"
                    ],
                    environments=request.environments,
                    locales=request.locales,
                    scheduled_at=scheduled_at,
                    permit=permits.for_operation(f"bulk.{action}"),
                )
            except (InvalidRequestError, NotFoundError) as exc:
                _fail(request.works, f"refused: {exc}")
                continue
            except (OutcomeUnknownError, MalformedResponseError) as exc:
                # Sent, but what came of it is not known: never reported as refused.
                permits.outcome_unknown(str(exc))
                _fail(request.works, str(exc))
                _fail_rest(requests[index + 1 :], "not sent: an earlier request's outcome is unknown")
                break
            except ContentstackError as exc:
                _fail(request.works, str(exc))
                _fail_rest(requests[index + 1 :], f"not sent: an earlier request failed ({exc})")
                break
            job_id = submission.job_id
            for work in request.works:
                if work.status != "failed":
                    work.status, work.job_id = "submitted", job_id
            if job_id:
                job_ids.append(job_id)
                jobs.start_soon(_follow_job, state, job_id, request, done)
    return list(dict.fromkeys(job_ids))


async def _send_single(
    state: AppState, action: PublishAction, request: _Request, scheduled_at: str | None, permits: Permits
) -> None:
    work = request.works[0]
    version = work.version or 1
    if work.item.type == "entry":
        assert work.item.content_type is not None
        assert work.source_locale is not None
        await state.client.publishing.entry(
            action,
            work.item.content_type,
            work.item.uid,
            environments=request.environments,
            locales=request.locales,
            locale=work.source_locale,
            version=version,
            scheduled_at=scheduled_at,
            permit=permits.for_operation(f"entry.{action}"),
        )
    else:
        await state.client.publishing.asset(
            action,
            work.item.uid,
            environments=request.environments,
            locales=request.locales,
            version=version,
            scheduled_at=scheduled_at,
            permit=permits.for_operation(f"asset.{action}"),
        )


def _bulk_entry(work: _Work) -> BulkEntry:
    assert work.item.content_type is not None
    assert work.source_locale is not None
    return BulkEntry(
        uid=work.item.uid, content_type=work.item.content_type, version=work.version or 1, locale=work.source_locale
    )


def _fail(works: Sequence[_Work], reason: str) -> None:
    for work in works:
        work.status, work.reason = "failed", reason


def _fail_rest(requests: Sequence[_Request], reason: str) -> None:
    for request in requests:
        _fail([w for w in request.works if w.status == "planned"], reason)


async def _follow_job(state: AppState, job_id: str, request: _Request, done: ItemStatus) -> None:
    """Reads the job until it is finished (a few short looks at most) and settles its items."""
    job: BulkJob | None = None
    for delay in (0.0, *JOB_POLL_DELAYS):
        if delay:
            await anyio.sleep(delay)
        try:
            job = await state.client.publishing.bulk_job(job_id)
        except (ContentstackError, ValidationError):
            # The request went out: an unreadable job leaves the items "submitted", with the
            # job id to look it up later, rather than failing the call.
            return
        if job.finished:
            break
    if job is None or not job.finished:
        return
    settle_job_items(job, request.works, done, state.client.redact)


def settle_job_items(job: BulkJob, works: Sequence[_Work], done: ItemStatus, redact: Callable[[str], str]) -> None:
    """Settles the submitted items of a finished job from its rows and its summary.

    An item is failed when a row of it says so (with the row's reason), and done when its rows
    all say success, or when it has no row and the job counts no failure. When the job counts
    failures that no row explains, an item without rows is not claimed done: it stays
    "submitted", saying how many items the job reports failed.
    """
    explained = sum(1 for row in job.items if row.failed)
    unexplained = job.failure_count - explained
    for work in works:
        if work.status != "submitted":
            continue
        rows = [
            row
            for row in job.items
            if row.uid == work.item.uid
            and (work.item.type == "asset" or row.content_type_uid in (None, work.item.content_type))
        ]
        failures = [row for row in rows if row.failed]
        if failures:
            # Quoted from Contentstack's answer, so scrubbed like every message the client builds.
            reasons = {redact(row.reason or "failed, with no reason given") for row in failures}
            work.status, work.reason = "failed", "; ".join(sorted(reasons))
        elif rows and all(row.state == "scheduled" for row in rows):
            work.status = "scheduled"
        elif rows and all(row.state in ("success", "scheduled") for row in rows):
            work.status = done
        elif rows:
            work.reason = f"bulk job {work.job_id} has not settled this item yet; read it again later"
        elif job.failed_as_a_whole:
            work.status, work.reason = "failed", f"bulk job {work.job_id} failed (no reason given per item)"
        elif unexplained > 0:
            work.reason = (
                f"bulk job {work.job_id} reports {job.failure_count} failed item(s) without saying which; "
                "this one is not known to be done"
            )
        else:
            work.status = done


async def _publish_or_unpublish(
    call: WriteCall,
    action: PublishAction,
    items: Sequence[PublishItem],
    environments: Sequence[str],
    locales: Sequence[str] | None,
    scheduled_at: str | None,
) -> PublishAnswer:
    state = call.state
    when = scheduled_time(scheduled_at, action=action)
    envs = list(dict.fromkeys(environments))
    target_locales = list(dict.fromkeys(locales or []))
    unique = list({(i.type, i.content_type, i.uid, i.locale): i for i in items}.values())
    # The scopes of the items' kinds: an entries-only publish needs no asset scope.
    call.require(f"cm.{i.type}:{action}" for i in unique)

    def targets_of(works: Sequence[_Work]) -> Targets:
        all_locales = dict.fromkeys(loc for w in works for loc in w.targets)
        return Targets(
            environments=tuple(envs),
            locales=tuple(all_locales),
            items=tuple(ItemTarget(w.label, w.item.content_type, w.source_locale) for w in works),
        )

    # The guard first, on what is known without asking Contentstack anything.
    known = [_Work(i, i.locale, tuple(target_locales or ([i.locale] if i.locale else []))) for i in unique]
    await call.precheck(targets_of(known))
    default_locale = await state.meta.write_locale(None) if _needs_default(unique, target_locales) else None
    works: list[_Work] = []
    for item in unique:
        source = (item.locale or default_locale) if item.type == "entry" else None
        dest = target_locales or [source or default_locale or FALLBACK_LOCALE]
        works.append(_Work(item, source, tuple(dest)))
    await state.meta.check_environments(envs)
    await state.meta.check_locales([*{loc for w in works for loc in (*w.targets, w.source_locale) if loc}])
    await _resolve_versions(state, works)
    requests = _plan_requests(works, envs)
    if not requests:
        reasons = "; ".join(w.reason or w.label for w in works[:10])
        more = f" (and {len(works) - 10} more)" if len(works) > 10 else ""
        raise ToolError(f"no item can be {action}ed: {reasons}{more}. Nothing was sent.")
    targets = targets_of(works)
    plan = call.plan(
        (
            f"{action} {sum(w.status == 'planned' for w in works)} of {len(works)} items to {', '.join(envs)}"
            + (f" at {when}" if when else " now")
            + f" in {len(requests)} request{'s' if len(requests) != 1 else ''}"
        ),
        targets,
        requests=[r.summary(action) for r in requests],
        items=[w.label for w in works[:20]] + ([f"... and {len(works) - 20} more"] if len(works) > 20 else []),
    )

    async def execute(permits: Permits) -> list[str]:
        return await _send(state, action, requests, when, permits)

    outcome = await call.run(
        targets=targets, plan=plan, execute=execute, target_versions={w.label: w.version or 0 for w in works}
    )
    reports = sorted((w.report() for w in works), key=lambda r: r.status != "failed")
    kept = fit_budget(reports, overhead=1500)
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.status] = counts.get(report.status, 0) + 1
    note = None
    if len(kept) < len(reports):
        note = f"{len(reports) - len(kept)} item reports left out to fit the size budget; counts covers every item"
    return outcome.answer(
        PublishAnswer,
        action=action,
        environments=envs,
        scheduled_at=when,
        counts=counts,
        items=kept,
        job_ids=outcome.result or [],
        truncated=len(kept) < len(reports),
        note=note,
    )


def _needs_default(items: Sequence[PublishItem], locales: Sequence[str]) -> bool:
    return any(i.type == "entry" and not i.locale for i in items) or (
        not locales and any(i.type == "asset" for i in items)
    )


ItemsArg = Annotated[
    list[PublishItem],
    Field(
        min_length=1,
        max_length=MAX_ITEMS,
    ),
]
EnvironmentsArg = Annotated[list[EnvironmentName], Field(min_length=1, max_length=50)]
LocalesArg = Annotated[
    list[LocaleCode] | None,
    Field(max_length=50, description="Default: each entry's own locale."),
]
ScheduledAtArg = Annotated[str | None, Field(description="ISO 8601, e.g. 2030-01-31T09:00:00Z; default: now.")]
PUBLISH_SCOPES = frozenset({Scope.ENTRY_PUBLISH, Scope.ASSET_PUBLISH})
UNPUBLISH_SCOPES = frozenset({Scope.ENTRY_UNPUBLISH, Scope.ASSET_UNPUBLISH})
declare = ToolsetDeclarations("publishing", preview=WRITE_PREVIEW_VIEW)


READ_BACK = "list_publish_queue (the newest rows; a bulk job's items carry its job id) or get_entry"


@declare.write("Publish", read_back=READ_BACK, scopes=PUBLISH_SCOPES, previewed=True)
async def publish(
    call: WriteCall,
    items: ItemsArg,
    environments: EnvironmentsArg,
    locales: LocalesArg = None,
    scheduled_at: ScheduledAtArg = None,
) -> PublishAnswer:
    """Publish entries and assets to environments, now or at scheduled_at, in bulk requests; missing versions
    are the latest. Answers per item: published, scheduled, submitted (job still running) or failed with
    the reason."""
    return await _publish_or_unpublish(call, "publish", items, environments, locales, scheduled_at)


@declare.write("Unpublish", read_back=READ_BACK, scopes=UNPUBLISH_SCOPES, previewed=True)
async def unpublish(
    call: WriteCall,
    items: ItemsArg,
    environments: EnvironmentsArg,
    locales: LocalesArg = None,
    scheduled_at: ScheduledAtArg = None,
) -> PublishAnswer:
    """Take entries and assets off environments (the drafts stay), now or at scheduled_at.
    Same items, bulk splitting and per-item report as publish."""
    return await _publish_or_unpublish(call, "unpublish", items, environments, locales, scheduled_at)


# -- the publish queue ----------------------------------------------------------------------


class QueueRow(ToolModel):
    uid: str
    action: str | None = None
    type: str | None = None
    status: str | None = None
    environments: list[str] = Field(default_factory=lambda: [])
    locales: list[str] = Field(default_factory=lambda: [])
    content_type: str | None = None
    item_uid: str | None = None
    title: str | None = None
    version: int | None = None
    release: str | None = None
    scheduled_at: str | None = None
    published_at: str | None = None
    user: str | None = None


class QueueList(ListAnswer):
    rows: list[QueueRow]


async def _environment_names(state: AppState) -> dict[str, str]:
    """Environment uid (and name) -> name: queue rows name environments by uid."""
    names: dict[str, str] = {}
    for env in await state.meta.environments():
        names[env.name] = env.name
        if env.uid:
            names[env.uid] = env.name
    return names


def _queue_row(row: PublishQueueItem, names: dict[str, str]) -> QueueRow:
    ref = row.entry
    return QueueRow(
        uid=row.uid,
        action=row.action,
        type=row.type,
        status=row.state,
        environments=[names.get(e, e) for e in row.environments],
        locales=row.locales,
        content_type=row.content_type_uid,
        item_uid=ref.uid if ref else None,
        title=clean(ref.title) if ref and ref.title else None,
        version=ref.version if ref else None,
        release=row.release_uid,
        scheduled_at=row.scheduled_at,
        published_at=row.published_at,
        user=row.user,
    )


@declare.read("List the publish queue", scopes={Scope.PUBLISH_QUEUE_READ})
async def list_publish_queue(
    ctx: ToolContext,
    environment: Annotated[EnvironmentName | None, Field(description="Only rows for this environment.")] = None,
    status: Annotated[
        str | None, Field(max_length=30, description="Only rows in this status: scheduled, success, failed, ...")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Field(description="The previous page's next_cursor.")] = None,
) -> QueueList:
    """The publish queue, newest first: each publish, unpublish and release deployment with its status,
    environments, locales, item and version. cancel_scheduled_publish takes a scheduled row's uid."""
    state = app_state(ctx)
    if environment:
        await state.meta.check_environments([environment])
    key = fingerprint("publish-queue", environment, status)
    skip = decode_cursor(cursor, key)
    names = await _environment_names(state)
    filtering = environment is not None or status is not None
    # Contentstack documents no environment or status filter for the queue (and names
    # environments by uid in it), so rows are filtered here, reading on until a page is full.
    matching: list[tuple[int, QueueRow]] = []  # (position in the queue, row)
    position, total, exhausted = skip, None, False
    seen: set[str] = set()
    for _ in range(QUEUE_SCAN_REQUESTS if filtering else 1):
        page = await state.client.publishing.queue(skip=position, limit=MAX_LIMIT if filtering else limit)
        total = page.total
        if page.items and all(item.uid in seen for item in page.items):
            exhausted = True  # a page with nothing new: reading on would only repeat it
            break
        seen.update(item.uid for item in page.items)
        for item in page.items:
            row = _queue_row(item, names)
            position += 1
            if (status is None or row.status == status) and (environment is None or environment in row.environments):
                matching.append((position, row))
                if len(matching) == limit:
                    break
        exhausted = not page.items or page.next_skip is None
        if len(matching) == limit or exhausted:
            break
    kept = fit_budget([row for _, row in matching])
    cut = len(kept) < len(matching)
    # The next page starts after the last row read, or after the last row answered when the
    # budget cut the page short.
    end = matching[len(kept) - 1][0] if cut else position
    more = cut or not exhausted
    return QueueList(
        rows=kept,
        total=None if filtering else total,
        returned=len(kept),
        next_cursor=encode_cursor(end, key) if more else None,
        truncated=cut,
        note="cut to fit the size budget; pass next_cursor for the rest" if cut else None,
    )


# Stands for a target cs-mcp cannot know (a queue row that does not name it): no role's list
# holds it, so a role constrained on that kind of target is refused and an unconstrained one is not.
UNKNOWN_TARGET = "(unknown)"


def _later(first: str | None, second: str | None) -> bool | None:
    """Whether time `first` is after `second` (ISO 8601); None when either is missing or unreadable."""
    if not first or not second:
        return None
    try:
        a = datetime.fromisoformat(first.replace("Z", "+00:00"))
        b = datetime.fromisoformat(second.replace("Z", "+00:00"))
    except ValueError:
        return None
    if (a.tzinfo is None) != (b.tzinfo is None):
        return None
    return a > b


async def _deployment_items(state: AppState, row: QueueRow, scheduled_on: str | None) -> tuple[ItemTarget, ...]:
    """What a scheduled release deployment will publish, as the guard checks it.

    Contentstack's queue row names the release, not the items the deployment carries, and no
    documented request reads a release as it was. The release's items stand for the
    deployment's only while the release has not changed since the deployment was scheduled
    (its `updated_at` is not after the row's `created_at`); otherwise, or when either time is
    missing, the deployment's items are unknown and are checked as such: a role limited to some
    content types or locales is refused.
    """
    release_uid = row.release
    unknown = ItemTarget(
        f"the items of release {release_uid or '(unnamed)'} as the deployment was scheduled (the release "
        "changed since, or cs-mcp cannot tell)",
        UNKNOWN_TARGET,
        UNKNOWN_TARGET,
    )
    if not release_uid:
        return (unknown,)
    try:
        release = await state.client.releases.get_release(release_uid)
    except NotFoundError:
        return (unknown,)
    if _later(release.updated_at, scheduled_on) is not False:
        return (unknown,)
    released = await state.client.releases.all_items(release_uid)
    return tuple(
        ItemTarget(
            f"{i.content_type_uid}/{i.uid}",
            i.content_type_uid if i.content_type_uid != "built_io_upload" else None,
            i.locale,
        )
        for i in released
    )


class CancelAnswer(WriteAnswer):
    row: QueueRow


CANCEL_SCOPES = frozenset({Scope.PUBLISH_QUEUE_WRITE})


@declare.write(
    "Cancel a scheduled publish",
    read_back="list_publish_queue status='scheduled' (the row's status says whether it was cancelled)",
    scopes=CANCEL_SCOPES,
)
async def cancel_scheduled_publish(
    call: WriteCall,
    queue_uid: Annotated[Uid, Field(description="The publish queue row's uid.")],
) -> CancelAnswer:
    """Cancel a scheduled publish, unpublish or release deployment (a list_publish_queue row with status
    'scheduled') before it runs."""
    state = call.state
    await call.precheck(Targets())
    try:
        item = await state.client.publishing.queue_item(queue_uid)
    except NotFoundError:
        raise ToolError(f"no publish queue row {queue_uid!r}; list_publish_queue shows the rows") from None
    row = _queue_row(item, await _environment_names(state))
    if row.status != "scheduled":
        raise ToolError(
            f"publish queue row {queue_uid} is {row.status or 'in an unknown state'}, not scheduled; only a "
            "scheduled action can be cancelled. Nothing was sent."
        )
    label = f"{row.type or 'item'} {row.content_type + '/' if row.content_type else ''}{row.item_uid or queue_uid}"
    items: tuple[ItemTarget, ...] = ()
    if row.type == "release":
        items = await _deployment_items(state, row, item.created_at)
    elif row.type != "asset":
        # An entry row that does not name its content type (or a row of a kind not known here)
        # is checked as an unknown content type: a role limited to some content types is refused.
        locale = row.locales[0] if len(row.locales) == 1 else None
        items = (ItemTarget(label, row.content_type or UNKNOWN_TARGET, locale),)
    # A row that does not say where it goes is checked as going somewhere unknown, so that a role
    # limited to some environments or locales is refused rather than not checked.
    targets = Targets(
        environments=tuple(row.environments) or (UNKNOWN_TARGET,),
        locales=tuple(row.locales) or (UNKNOWN_TARGET,),
        items=items,
    )
    plan = call.plan(
        f"cancel the scheduled {row.action or 'action'} of {label} to {', '.join(row.environments)}"
        + (f" at {row.scheduled_at}" if row.scheduled_at else ""),
        targets,
        requests=[
            PlannedRequest(
                method="GET", path=f"/v3/publish-queue/{queue_uid}/unschedule", summary="cancel the scheduled action"
            )
        ],
        items=[label],
    )

    async def execute(permits: Permits) -> str:
        notice = await state.client.publishing.unschedule(
            queue_uid, environments=row.environments, permit=permits.for_operation("publish_queue.unschedule")
        )
        return notice or "Cancelled."

    outcome = await call.run(targets=targets, plan=plan, execute=execute)
    if outcome.result is not None:
        row.status = "cancelled"
    return outcome.answer(CancelAnswer, row=row, notice=outcome.result)
