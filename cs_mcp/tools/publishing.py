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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cs_mcp.client import ContentstackError, InvalidRequestError, NotFoundError, OutcomeUnknownError
from cs_mcp.client._entry_models import BulkAsset, BulkEntry, BulkJob, PublishAction, PublishQueueItem
from cs_mcp.client._publishing import BULK_MAX_ENVIRONMENTS, BULK_MAX_ITEMS, BULK_MAX_LOCALES
from cs_mcp.guard import ItemTarget, Targets
from cs_mcp.tools._context import AppState, ToolContext, app_state
from cs_mcp.tools._registry import tool
from cs_mcp.tools._shape import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    ListPage,
    clean,
    decode_cursor,
    encode_cursor,
    fingerprint,
    fit_budget,
)
from cs_mcp.tools._write import ConfirmationToken, DryRun, Permits, PlannedRequest, WritePlan, guarded_write
from cs_mcp.tools.entries import (
    WriteAnswer,
    check_environments,
    check_locales,
    refuse_if_denied,
    resolve_locale,
    write_answer_fields,
)
from cs_mcp.views import WRITE_PREVIEW_VIEW

MAX_ITEMS = 500
# A bulk job not finished at once is looked at again after these pauses, then reported as submitted.
JOB_POLL_DELAYS = (0.5, 1.0, 2.0)
_FINAL_JOB_STATES = frozenset({"completed", "completed_with_errors", "failed", "success", "scheduled", "cancelled"})

# Queue pages (of 100 rows) read at most to fill one filtered page of the tool's answer.
QUEUE_SCAN_REQUESTS = 5

ItemStatus = Literal["planned", "published", "unpublished", "scheduled", "submitted", "failed"]


class PublishItem(BaseModel):
    """An entry or an asset to publish or unpublish."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["entry", "asset"]
    content_type: str | None = Field(default=None, min_length=1, max_length=100, description="Entries only.")
    uid: str = Field(min_length=1, max_length=100)
    version: int | None = Field(default=None, ge=1, description="Default: the latest version.")
    locale: str | None = Field(
        default=None, min_length=1, max_length=20, description="Entries: the locale whose version is published."
    )

    @model_validator(mode="after")
    def _fits_its_type(self) -> PublishItem:
        if self.type == "entry" and not self.content_type:
            raise ValueError("an entry item needs its content_type")
        if self.type == "asset" and (self.content_type or self.locale):
            raise ValueError("an asset item takes only uid and version (publish locales go in `locales`)")
        return self

    @property
    def label(self) -> str:
        if self.type == "asset":
            return f"asset {self.uid}"
        suffix = f" ({self.locale})" if self.locale else ""
        return f"entry {self.content_type}/{self.uid}{suffix}"


class ItemReport(BaseModel):
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


def parse_scheduled_at(value: str | None, now: datetime | None = None) -> str | None:
    """`value` as Contentstack's UTC form, or None for now.

    Raises:
        ToolError: not ISO-8601 with a time zone, or not in the future (a past time is refused,
            never taken as "publish now").
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ToolError(
            f"scheduled_at must be an ISO-8601 date and time with a time zone, e.g. 2030-01-31T09:00:00Z; got {text!r}"
        ) from None
    if when.tzinfo is None:
        raise ToolError(f"scheduled_at needs a time zone (Z or +hh:mm), e.g. {text}Z")
    now = now or datetime.now(UTC)
    if when <= now:
        raise ToolError(
            f"scheduled_at {text} is not in the future (now is {now.strftime('%Y-%m-%dT%H:%M:%SZ')}); "
            "to publish at once, leave scheduled_at out"
        )
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


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
            except OutcomeUnknownError as exc:
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
        except ContentstackError:
            return  # the items stay "submitted", with the job id to look it up later
        if (job.status or "").lower() in _FINAL_JOB_STATES:
            break
    if job is None or (job.status or "").lower() not in _FINAL_JOB_STATES:
        return
    for work in request.works:
        if work.status != "submitted":
            continue
        rows = [
            row
            for row in job.items
            if row.uid == work.item.uid
            and (work.item.type == "asset" or row.content_type in (None, work.item.content_type))
        ]
        failures = [row for row in rows if (row.status or "").lower() in ("failed", "error")]
        if failures:
            # Quoted from Contentstack's answer, so scrubbed like every message the client builds.
            reasons = {state.client.redact(row.error_message or row.message or "failed") for row in failures}
            work.status, work.reason = "failed", "; ".join(sorted(reasons))
        elif rows and all((row.status or "").lower() == "scheduled" for row in rows):
            work.status = "scheduled"
        elif rows or ((job.status or "").lower() in ("completed", "success") and not _reports_failures(job)):
            work.status = done


def _reports_failures(job: BulkJob) -> bool:
    """Whether a job's summary counts any failed item. Without per-item results, items are
    claimed done only when the summary says nothing failed; otherwise they stay "submitted"."""
    return any(
        isinstance(count, int) and count > 0 for key, count in (job.summary or {}).items() if "fail" in key.lower()
    )


async def _publish_or_unpublish(
    ctx: ToolContext,
    action: PublishAction,
    items: Sequence[PublishItem],
    environments: Sequence[str],
    locales: Sequence[str] | None,
    scheduled_at: str | None,
    dry_run: bool,
    confirmation_token: str | None,
) -> PublishAnswer:
    state = app_state(ctx)
    tool_name = action
    when = parse_scheduled_at(scheduled_at)
    envs = list(dict.fromkeys(environments))
    target_locales = list(dict.fromkeys(locales or []))
    unique = list({(i.type, i.content_type, i.uid, i.locale): i for i in items}.values())
    scopes = frozenset(f"cm.{i.type}:{action}" for i in unique)
    arguments = {
        "items": [i.model_dump(exclude_none=True) for i in unique],
        "environments": envs,
        "locales": target_locales or None,
        "scheduled_at": when,
    }

    def targets_of(works: Sequence[_Work]) -> Targets:
        all_locales = dict.fromkeys(loc for w in works for loc in w.targets)
        return Targets(
            environments=tuple(envs),
            locales=tuple(all_locales),
            items=tuple(ItemTarget(w.label, w.item.content_type, w.source_locale) for w in works),
        )

    # The guard first, on what is known without asking Contentstack anything.
    known = [_Work(i, i.locale, tuple(target_locales or ([i.locale] if i.locale else []))) for i in unique]
    plan = WritePlan(action=action, summary=f"{action} {len(unique)} items to {', '.join(envs)}")
    await refuse_if_denied(
        ctx, tool=tool_name, arguments=arguments, scopes=scopes, targets=targets_of(known), plan=plan
    )
    default_locale = await resolve_locale(state, None) if _needs_default(unique, target_locales) else None
    works: list[_Work] = []
    for item in unique:
        source = (item.locale or default_locale) if item.type == "entry" else None
        dest = target_locales or [source or default_locale or "en-us"]
        works.append(_Work(item, source, tuple(dest)))
    await check_environments(state, envs)
    await check_locales(state, [*{loc for w in works for loc in (*w.targets, w.source_locale) if loc}])
    await _resolve_versions(state, works)
    requests = _plan_requests(works, envs)
    if not requests:
        reasons = "; ".join(w.reason or w.label for w in works[:10])
        more = f" (and {len(works) - 10} more)" if len(works) > 10 else ""
        raise ToolError(f"no item can be {action}ed: {reasons}{more}. Nothing was sent.")
    targets = targets_of(works)
    plan = WritePlan(
        action=action,
        summary=(
            f"{action} {sum(w.status == 'planned' for w in works)} of {len(works)} items to {', '.join(envs)}"
            + (f" at {when}" if when else " now")
            + f" in {len(requests)} request{'s' if len(requests) != 1 else ''}"
        ),
        targets=targets.named(),
        requests=[r.summary(action) for r in requests],
        items=[w.label for w in works[:20]] + ([f"... and {len(works) - 20} more"] if len(works) > 20 else []),
    )

    async def execute(permits: Permits) -> list[str]:
        return await _send(state, action, requests, when, permits)

    outcome = await guarded_write(
        ctx,
        tool=tool_name,
        arguments=arguments,
        scopes=scopes,
        targets=targets,
        plan=plan,
        dry_run=dry_run,
        confirmation_token=confirmation_token,
        execute=execute,
        target_versions={w.label: w.version or 0 for w in works},
    )
    reports = sorted((w.report() for w in works), key=lambda r: r.status != "failed")
    kept = fit_budget(reports, overhead=1500)
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.status] = counts.get(report.status, 0) + 1
    note = None
    if len(kept) < len(reports):
        note = f"{len(reports) - len(kept)} item reports left out to fit the size budget; counts covers every item"
    return PublishAnswer(
        **write_answer_fields(outcome),
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
        description='e.g. [{"type": "entry", "content_type": "blog_post", "uid": "blt1"}, '
        '{"type": "asset", "uid": "blt2"}]',
    ),
]
EnvironmentsArg = Annotated[list[str], Field(min_length=1, max_length=50, description="Environment names.")]
LocalesArg = Annotated[
    list[str] | None,
    Field(max_length=50, description="Locales to publish to (default: each entry's locale, else the master)."),
]
ScheduledAtArg = Annotated[
    str | None, Field(description="ISO-8601 time in the future, e.g. 2030-01-31T09:00:00Z (default: now).")
]
PUBLISH_SCOPES = frozenset({"cm.entry:publish", "cm.asset:publish"})
UNPUBLISH_SCOPES = frozenset({"cm.entry:unpublish", "cm.asset:unpublish"})


@tool(
    toolset="publishing",
    scopes=PUBLISH_SCOPES,
    title="Publish",
    read_only=False,
    idempotent=False,
    ui=WRITE_PREVIEW_VIEW,
)
async def publish(
    ctx: ToolContext,
    items: ItemsArg,
    environments: EnvironmentsArg,
    locales: LocalesArg = None,
    scheduled_at: ScheduledAtArg = None,
    dry_run: DryRun = False,
    confirmation_token: ConfirmationToken = None,
) -> PublishAnswer:
    """Publish entries and assets to environments, now or at scheduled_at. Missing versions
    are the latest. Many items are sent in bulk requests (10 items x 10 locales x 10
    environments each, one a second). Answers per item: published, scheduled, submitted (job
    still running) or failed with the reason. Use dry_run first; publishing to some
    environments needs a human's confirmation (pass back the confirmation token)."""
    return await _publish_or_unpublish(
        ctx, "publish", items, environments, locales, scheduled_at, dry_run, confirmation_token
    )


@tool(
    toolset="publishing",
    scopes=UNPUBLISH_SCOPES,
    title="Unpublish",
    read_only=False,
    idempotent=False,
    ui=WRITE_PREVIEW_VIEW,
)
async def unpublish(
    ctx: ToolContext,
    items: ItemsArg,
    environments: EnvironmentsArg,
    locales: LocalesArg = None,
    scheduled_at: ScheduledAtArg = None,
    dry_run: DryRun = False,
    confirmation_token: ConfirmationToken = None,
) -> PublishAnswer:
    """Take entries and assets off environments (the drafts stay), now or at scheduled_at.
    Same items, bulk splitting and per-item report as publish."""
    return await _publish_or_unpublish(
        ctx, "unpublish", items, environments, locales, scheduled_at, dry_run, confirmation_token
    )


# -- the publish queue ----------------------------------------------------------------------


class QueueRow(BaseModel):
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


class QueueList(ListPage):
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
    release = ref.release.get("uid") if ref is not None and ref.release else None
    return QueueRow(
        uid=row.uid,
        action=row.action,
        type=row.type,
        status=row.state,
        environments=[names.get(e, e) for e in row.environments],
        locales=row.locales,
        content_type=ref.content_type_uid if ref else None,
        item_uid=ref.uid if ref else None,
        title=clean(ref.title) if ref and ref.title else None,
        version=ref.version if ref else None,
        release=release if isinstance(release, str) else None,
        scheduled_at=row.scheduled_at,
        published_at=row.published_at,
        user=row.user,
    )


@tool(
    toolset="publishing",
    scopes={"cm.publish-queue.management:read"},
    title="List the publish queue",
    read_only=True,
    idempotent=True,
)
async def list_publish_queue(
    ctx: ToolContext,
    environment: Annotated[str | None, Field(max_length=100, description="Only rows for this environment.")] = None,
    status: Annotated[
        str | None, Field(max_length=30, description="Only rows in this status: scheduled, success, failed, ...")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Page size, at most 100.")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Field(description="next_cursor from the previous page.")] = None,
) -> QueueList:
    """The publish queue, newest first: each publish, unpublish and release deployment with
    its status (scheduled, success, failed, cancelled), environments, locales, the entry or
    asset and its version. A scheduled row's uid is what cancel_scheduled_publish takes."""
    state = app_state(ctx)
    if environment:
        await check_environments(state, [environment])
    key = fingerprint("publish-queue", environment, status)
    skip = decode_cursor(cursor, key)
    names = await _environment_names(state)
    filtering = environment is not None or status is not None
    # Contentstack documents no environment or status filter for the queue (and names
    # environments by uid in it), so rows are filtered here, reading on until a page is full.
    matching: list[tuple[int, QueueRow]] = []  # (position in the queue, row)
    position, total, exhausted = skip, None, False
    for _ in range(QUEUE_SCAN_REQUESTS if filtering else 1):
        page = await state.client.publishing.queue(skip=position, limit=MAX_LIMIT if filtering else limit)
        total = page.total
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


class CancelAnswer(WriteAnswer):
    row: QueueRow


CANCEL_SCOPES = frozenset({"cm.publish-queue.management:write"})


@tool(
    toolset="publishing",
    scopes=CANCEL_SCOPES,
    title="Cancel a scheduled publish",
    read_only=False,
    idempotent=False,
)
async def cancel_scheduled_publish(
    ctx: ToolContext,
    queue_uid: Annotated[str, Field(min_length=1, max_length=100, description="The publish queue row's uid.")],
    dry_run: DryRun = False,
    confirmation_token: ConfirmationToken = None,
) -> CancelAnswer:
    """Cancel a scheduled publish, unpublish or release deployment before it happens (find
    its uid with list_publish_queue status='scheduled'). Only scheduled rows can be cancelled."""
    state = app_state(ctx)
    arguments = {"queue_uid": queue_uid}
    plan = WritePlan(action="cancel_scheduled_publish", summary=f"cancel the scheduled action {queue_uid}")
    await refuse_if_denied(
        ctx, tool="cancel_scheduled_publish", arguments=arguments, scopes=CANCEL_SCOPES, targets=Targets(), plan=plan
    )
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
    items = (
        (ItemTarget(label, row.content_type, row.locales[0] if len(row.locales) == 1 else None),)
        if row.content_type
        else ()
    )
    if row.type == "release" and row.item_uid:
        # Cancelling a deployment changes what reaches those environments for every item in the
        # release: the guard checks each of them, as a deploy would.
        released = await state.client.releases.all_items(row.item_uid)
        items = tuple(
            ItemTarget(
                f"{i.content_type_uid}/{i.uid}",
                i.content_type_uid if i.content_type_uid != "built_io_upload" else None,
                i.locale,
            )
            for i in released
        )
    targets = Targets(environments=tuple(row.environments), locales=tuple(row.locales), items=items)
    plan = WritePlan(
        action="cancel_scheduled_publish",
        summary=f"cancel the scheduled {row.action or 'action'} of {label} to {', '.join(row.environments)}"
        + (f" at {row.scheduled_at}" if row.scheduled_at else ""),
        targets=targets.named(),
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

    outcome = await guarded_write(
        ctx,
        tool="cancel_scheduled_publish",
        arguments=arguments,
        scopes=CANCEL_SCOPES,
        targets=targets,
        plan=plan,
        dry_run=dry_run,
        confirmation_token=confirmation_token,
        execute=execute,
    )
    if outcome.result is not None:
        row.status = "cancelled"
    return CancelAnswer(**write_answer_fields(outcome), row=row, notice=outcome.result)
