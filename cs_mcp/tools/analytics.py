"""The analytics toolset (docs/TOOLS.md, "analytics"): Analytics v2 reports in one call.

Contentstack answers a report with a job id and the rows later, page by page, once the job is
no longer "Job active"; a job may span at most 90 days. `get_analytics` does the whole dance:
it splits a longer range into windows of at most 90 days, starts their jobs at once (the
client's rate limiter paces them), polls each with capped exponential backoff within a time
limit while reporting MCP progress, follows every page, merges the windows' rows and
summarises ALL of them, answering at most `max_rows`. `get_analytics_job` reads one job
directly, to resume after a time-out.

Rows are read as Contentstack's reference pages show them: `type` is the service, `date` the
period; status codes and cache results are both under `status` ("200", "HIT"); devices under
`device`, SDKs under `sdk`, URLs under `url`; the usage report's measures are per service
(`total_cdn_count`, `total_api_bandwidth`); some rows carry only a `date`. Pages are numbered
from 0 and read until `totalDocs` rows arrived, a page comes back short, or a page adds nothing
new; an error on a page after the first ends the reading and the answer says so in
`page_errors` instead of failing the report.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, TypedDict

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field, ValidationError

from cs_mcp.client import (
    DEFAULT_SERVICES,
    DIMENSIONS,
    MAX_RANGE_DAYS,
    REPORTS,
    SERVICES,
    CacheStatus,
    ContentstackClient,
    ContentstackError,
    Duration,
    InvalidRequestError,
    JobActive,
    JobDataPage,
    NotFoundError,
    ReportName,
    ServerError,
)
from cs_mcp.guard.scopes import Scope
from cs_mcp.toolkit.context import ToolContext, app_state
from cs_mcp.toolkit.declarations import ToolsetDeclarations
from cs_mcp.toolkit.identifiers import JobId, Uid
from cs_mcp.toolkit.models import ToolModel
from cs_mcp.toolkit.shape import DEFAULT_BUDGET_TOKENS, ReadAnswer, clean, estimate_tokens, fit_budget
from cs_mcp.views import ANALYTICS_VIEW

# The longest range one call covers: beyond it the agent should ask by month or week.
MAX_TOTAL_DAYS = 731
TOP_N = 5
declare = ToolsetDeclarations("analytics", read_scopes=frozenset({Scope.ANALYTICS_READ}))
# Row fields whose values are ranked in the summary, and the label they get (`status` only when
# it is an HTTP status: the cache report's HIT and MISS become the cache hit share instead).
_RANKED_DIMENSIONS = (("url", "top_urls"), ("sdk", "top_sdks"), ("device", "devices"), ("status", "status_codes"))
# The usage report's per-service measures: `total_cdn_count`, `total_api_bandwidth`.
_PER_SERVICE = re.compile(r"total_(?P<service>[a-z]+)_(?P<metric>[a-z]+)")
_LEADER_NOUNS = {"top_urls": "URL", "top_sdks": "SDK", "devices": "device"}


def _utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass
class Poller:
    """How a job is waited for: capped exponential backoff within a total time limit.

    The module's `POLLER` is what the tools use; tests replace it with one whose `sleep` and
    `clock` are virtual, so that no test waits for real.
    """

    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    clock: Callable[[], float] = time.monotonic
    today: Callable[[], date] = _utc_today
    first_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0
    time_limit: float = 60.0
    # Pages followed per job at most: a guard against an answer that never says it ended.
    max_pages: int = 400

    def delay(self, attempt: int) -> float:
        """The wait before poll `attempt + 1` (attempt counts from 0)."""
        return min(self.max_delay, self.first_delay * self.factor**attempt)


POLLER = Poller()


# -- answers --------------------------------------------------------------------------------


class TopItem(ToolModel):
    key: str
    value: int | float


class AnalyticsSummary(ToolModel):
    """Computed from every row of the report, not only the rows returned."""

    metric: str | None = Field(
        description="What the rankings add up: 'count' (requests or responses) or 'bandwidth' (bytes)."
    )
    top_periods: list[TopItem] = Field(description="The five busiest days (or weeks, months), busiest first.")
    by_service: list[TopItem] = Field(description="The metric per service, largest first.")
    top_values: dict[str, list[TopItem]] = Field(
        default_factory=lambda: {}, description="The five largest URLs, SDKs, devices or status codes."
    )
    cache_hit_share: float | None = Field(default=None, description="Share of responses served from cache, 0..1.")
    error_rate: float | None = Field(default=None, description="Share of responses with status 400 or above, 0..1.")
    server_error_rate: float | None = Field(default=None, description="Share of responses with status 500 or above.")
    lines: list[str] = Field(default_factory=lambda: [], description="The summary in plain sentences.")


class WindowInfo(ToolModel):
    from_date: str
    to_date: str
    job_id: str | None
    status: Literal["complete", "active", "not_started"]
    rows: int = 0


class AnalyticsReport(ReadAnswer):
    status: Literal["complete", "timed_out"] = Field(
        description="'timed_out': some jobs were still running; resume with get_analytics_job(job_id)."
    )
    report: str
    from_date: str
    to_date: str
    duration: str
    services: list[str] | None
    job_ids: list[str]
    windows: list[WindowInfo] = Field(description="The <= 90-day windows the range was split into, one job each.")
    total_rows: int = Field(description="Rows of the whole report, after merging the windows.")
    returned: int
    truncated: bool = Field(description="True when fewer rows are returned than the report has.")
    rows: list[dict[str, Any]]
    totals: dict[str, int | float] = Field(description="Each measure summed over every row.")
    summary: AnalyticsSummary | None
    note: str | None = None
    page_errors: list[str] = Field(
        default_factory=lambda: [],
        description="Pages after the first that could not be read: the rows before them are answered, "
        "the report is incomplete. Empty when every page was read.",
    )


class AnalyticsJobData(ReadAnswer):
    job_id: str
    status: Literal["complete", "active"] = Field(description="'active': still running; call again shortly.")
    page: int | None = Field(description="The page answered, or null when every page was read.")
    total_pages: int | None = None
    next_page: int | None = None
    total_rows: int
    returned: int
    truncated: bool
    rows: list[dict[str, Any]]
    totals: dict[str, int | float]
    summary: AnalyticsSummary | None
    note: str | None = None
    page_errors: list[str] = Field(
        default_factory=lambda: [], description="Pages that could not be read; the rows before them are answered."
    )


# -- argument checks ------------------------------------------------------------------------


def parse_day(name: str, raw: str, today: date) -> date:
    """A `YYYY-MM-DD` argument as a date.

    Raises:
        ToolError: naming the accepted form.
    """
    text = raw.strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ToolError(f"{name} {raw[:40]!r} is not a date; use YYYY-MM-DD, for example {today.isoformat()}") from None


def check_services(services: Sequence[str] | None) -> list[str] | None:
    """The services, lower-cased and deduplicated; None for all of them.

    Raises:
        ToolError: an unknown service, naming the known ones.
    """
    if not services:
        return None
    found: list[str] = []
    for raw in services:
        name = raw.strip().lower()
        if name not in SERVICES:
            raise ToolError(
                f"unknown service {raw[:40]!r}; services are: {', '.join(SERVICES)} (or leave services out for all)"
            )
        if name not in found:
            found.append(name)
    return found


def split_windows(start: date, end: date, size: int = MAX_RANGE_DAYS) -> list[tuple[date, date]]:
    """`start`..`end` (inclusive) as consecutive windows of at most `size` days, none overlapping."""
    windows: list[tuple[date, date]] = []
    cursor = start
    while cursor <= end:
        last = min(end, cursor + timedelta(days=size - 1))
        windows.append((cursor, last))
        cursor = last + timedelta(days=1)
    return windows


# -- rows -----------------------------------------------------------------------------------


def is_metric(key: str, value: object) -> bool:
    """Whether a row field is a measure (summed when rows merge) rather than a dimension."""
    return key not in DIMENSIONS and isinstance(value, int | float) and not isinstance(value, bool)


def _identity(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in row.items() if not is_metric(k, v)))


def _fingerprint(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def merge_rows(parts: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The rows of consecutive windows as one report.

    Windows do not overlap, so a row is never counted twice; a week or month that spans two
    windows comes back as two partial rows with the same dimensions, whose measures are added.
    """
    merged: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for rows in parts:
        for row in rows:
            key = _identity(row)
            found = merged.get(key)
            if found is None:
                merged[key] = dict(row)
                continue
            for k, v in row.items():
                if is_metric(k, v) and is_metric(k, found.get(k)):
                    found[k] = found[k] + v
    # Rows by period; rows without one (top URLs, counted over the range) busiest first.
    return sorted(merged.values(), key=lambda r: (str(r.get("date", "")), 0 if "date" in r else -_measure(r, "count")))


def _add(table: dict[str, int | float], key: str, value: int | float) -> None:
    table[key] = table.get(key, 0) + value


def _top(table: dict[str, int | float], n: int = TOP_N) -> list[TopItem]:
    ranked = sorted(table.items(), key=lambda kv: kv[1], reverse=True)[:n]
    return [TopItem(key=k, value=v) for k, v in ranked]


def _share(part: int | float, whole: int | float) -> float | None:
    return round(part / whole, 4) if whole else None


def _amount(metric: str, value: int | float) -> str:
    if metric == "bandwidth":
        return f"{value / 1e9:,.2f} GB"
    return f"{value:,.0f}"


def _measure(row: dict[str, Any], metric: str) -> int | float:
    """The row's `metric`: the field itself, or the sum of its per-service fields."""
    value = row.get(metric)
    if isinstance(value, int | float) and is_metric(metric, value):
        return value
    return sum(v for k, v in row.items() if k.endswith(f"_{metric}") and is_metric(k, v))


def _per_service(row: dict[str, Any], metric: str) -> dict[str, int | float]:
    """The row's `metric` per service: under its `type`, or from `total_<service>_<metric>`."""
    if "type" in row:
        return {str(row["type"]): _measure(row, metric)}
    found: dict[str, int | float] = {}
    for key, value in row.items():
        match = _PER_SERVICE.fullmatch(key)
        if match and match["metric"] == metric and is_metric(key, value):
            found[match["service"]] = found.get(match["service"], 0) + value
    return found


def _has(row: dict[str, Any], metric: str) -> bool:
    return any((k == metric or k.endswith(f"_{metric}")) and is_metric(k, v) for k, v in row.items())


def summarize(
    rows: Sequence[dict[str, Any]], *, status_filtered: bool = False, cache_filtered: bool = False
) -> tuple[dict[str, int | float], AnalyticsSummary]:
    """Totals of every measure and a short summary of all `rows`, from the fields they hold.

    A share (cache hits, errors) is left out when the report was filtered to one status, since
    it would say nothing. A row that carries only a date adds nothing.
    """
    totals: dict[str, int | float] = {}
    for row in rows:
        for k, v in row.items():
            if is_metric(k, v):
                _add(totals, k, v)
    measures = [m for m in ("count", "bandwidth") if any(_has(r, m) for r in rows)]
    metric = measures[0] if measures else next(iter(totals), None)
    periods: dict[str, int | float] = {}
    services: dict[str, int | float] = {}
    ranked: dict[str, dict[str, int | float]] = {}
    hits = misses = errors = server_errors = responses = 0
    measured = metric or ""  # with no metric no row has data
    with_data = [r for r in rows if _has(r, measured)]
    for row in with_data:
        value = _measure(row, measured)
        if "date" in row:
            _add(periods, str(row["date"]), value)
        for service, part in _per_service(row, measured).items():
            _add(services, service, part)
        status = row.get("status")
        code = int(status) if isinstance(status, str) and status.isdigit() else None
        for dim, label in _RANKED_DIMENSIONS:
            if dim in row and (dim != "status" or code is not None):
                name = str(row[dim]) if dim != "sdk" else f"{row[dim]} {row.get('version', '')}".strip()
                _add(ranked.setdefault(label, {}), name, value)
        if status == "HIT":
            hits += value
        elif status == "MISS":
            misses += value
        if code is not None:
            responses += value
            errors += value if code >= 400 else 0
            server_errors += value if code >= 500 else 0
    summary = AnalyticsSummary(
        metric=metric,
        top_periods=_top(periods),
        by_service=_top(services, n=len(services)),
        top_values={label: _top(table) for label, table in ranked.items()},
        cache_hit_share=None if cache_filtered else _share(hits, hits + misses),
        error_rate=None if status_filtered else _share(errors, responses),
        server_error_rate=None if status_filtered else _share(server_errors, responses),
    )
    amounts = {m: sum(_measure(r, m) for r in with_data) for m in ("count", "bandwidth") if m in measures}
    if metric is not None and metric not in amounts:
        amounts[metric] = totals.get(metric, 0)
    summary.lines = _sentences(summary, amounts, len(with_data), len(rows) - len(with_data))
    return totals, summary


def _sentences(
    summary: AnalyticsSummary, amounts: dict[str, int | float], row_count: int, empty_rows: int
) -> list[str]:
    metric = summary.metric
    if not row_count or metric is None:
        return ["The report has no rows with data for this range and these filters."]
    lines = [f"{row_count} rows; total {metric}: {_amount(metric, amounts[metric])}."]
    if empty_rows:
        lines.append(f"{empty_rows} more rows carry only a date (nothing recorded).")
    if metric != "bandwidth" and "bandwidth" in amounts:
        lines.append(f"Total bandwidth: {_amount('bandwidth', amounts['bandwidth'])}.")
    if summary.top_periods:
        best = summary.top_periods[0]
        lines.append(f"Busiest period: {best.key} ({_amount(metric, best.value)}).")
    if len(summary.by_service) > 1:
        lead = summary.by_service[0]
        lines.append(f"Largest service: {lead.key} ({_share(lead.value, amounts[metric]) or 0:.0%} of the total).")
    if summary.cache_hit_share is not None:
        lines.append(f"Cache hits: {summary.cache_hit_share:.1%} of responses.")
    if summary.error_rate is not None:
        lines.append(
            f"Errors: {summary.error_rate:.2%} of responses had status 400 or above, "
            f"{summary.server_error_rate or 0:.2%} 500 or above."
        )
    for label, items in summary.top_values.items():
        noun = _LEADER_NOUNS.get(label)
        if noun and items:
            lines.append(f"Top {noun}: {items[0].key} ({_amount(metric, items[0].value)}).")
    return lines


class RowFields(TypedDict):
    """The fields a report and a job's data answer alike: the rows kept of how many, and why
    rows were left out."""

    total_rows: int
    returned: int
    truncated: bool
    rows: list[dict[str, Any]]
    note: str | None


def no_rows(note: str) -> RowFields:
    """The row fields of an answer whose jobs have not finished: no rows yet, and `note`."""
    return RowFields(total_rows=0, returned=0, truncated=False, rows=[], note=note)


def fitted_rows(rows: list[dict[str, Any]], max_rows: int, overhead: int) -> RowFields:
    """At most `max_rows` of `rows` that fit the answer budget, and whether rows were left out, and why."""
    kept = fit_budget(clean(rows[:max_rows]), DEFAULT_BUDGET_TOKENS, overhead=overhead)
    fields = RowFields(total_rows=len(rows), returned=len(kept), truncated=False, rows=kept, note=None)
    if len(kept) < len(rows):
        fields["truncated"] = True
        fields["note"] = (
            f"{len(kept)} of {len(rows)} rows returned (max_rows and the answer size limit); totals and summary "
            "cover every row. Narrow services or the range, or use duration=week or month, for fewer rows."
        )
    return fields


# -- jobs -----------------------------------------------------------------------------------


class Progress:
    """MCP progress over several jobs: each job moves from 0 to 1, the total is the job count.

    Every notification carries a larger value than the last, as MCP requires.
    """

    def __init__(self, ctx: ToolContext, jobs: int) -> None:
        self._ctx = ctx
        self._done = [0.0] * jobs
        self._lock = anyio.Lock()

    async def advance(self, index: int, value: float, message: str) -> None:
        async with self._lock:
            if value <= self._done[index]:
                return
            self._done[index] = min(1.0, value)
            await self._ctx.report_progress(round(sum(self._done), 4), len(self._done), message)


@dataclass
class WindowRun:
    """One window's job as it goes."""

    start: date
    end: date
    job_id: str | None = None
    paginated: bool = False
    status: Literal["complete", "active", "not_started"] = "not_started"
    rows: list[dict[str, Any]] = field(default_factory=lambda: [])
    error: ContentstackError | ValidationError | None = None
    page_error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass
class PagedRows:
    """Every row read from a job, and why reading stopped early (None when it did not)."""

    rows: list[dict[str, Any]]
    stopped: str | None = None


async def read_pages(
    client: ContentstackClient,
    job_id: str,
    first: JobDataPage,
    *,
    paginated: bool,
    poller: Poller,
    on_page: Callable[[int, int | None], Awaitable[None]] | None = None,
) -> PagedRows:
    """Every row of a finished job, following pages 1, 2, ... from `first` (page 0).

    Reading stops when the rows the answer counts (`totalDocs`, or `totalPages`) have arrived;
    else, for a paginated job, at a short page or at "No data found" after a full one (the
    documented answer to a page past the last). It also stops at a page that adds nothing new.
    An error on a later page ends the reading without failing it: `stopped` says why.
    """
    rows = list(first.data)
    seen = {_fingerprint(r) for r in rows}
    page = first
    page_size = len(first.data)
    for _ in range(poller.max_pages):
        expected = page.expects_more(len(rows), page_size, paginated=paginated)
        if expected is False:
            break
        following = page.page + 1
        of = f" of {page.docs}" if page.docs is not None else ""
        kept = f"the answer holds the {len(rows)}{of} rows of pages 0 to {page.page}"
        try:
            answer = await client.analytics.job_data(job_id, following)
        except (NotFoundError, InvalidRequestError) as exc:
            if expected is None:
                break  # probed past a full last page: "an invalid page number will result in an error"
            return PagedRows(rows, f"page {following} of job {job_id} was refused ({exc.error_message or exc}); {kept}")
        except (ContentstackError, ValidationError) as exc:
            reason = (exc.error_message or str(exc)) if isinstance(exc, ContentstackError) else "an unexpected answer"
            return PagedRows(rows, f"page {following} of job {job_id} could not be read ({reason}); {kept}")
        if isinstance(answer, JobActive) or not any(_fingerprint(r) not in seen for r in answer.data):
            # An empty page, or one that repeats rows already read, ends the reading.
            if expected:
                return PagedRows(rows, f"page {following} of job {job_id} added no new rows; {kept}")
            break
        page = answer
        rows.extend(page.data)
        seen.update(_fingerprint(r) for r in page.data)
        if on_page is not None:
            await on_page(page.page, page.pages)
    return PagedRows(rows)


async def run_window(
    client: ContentstackClient,
    run: WindowRun,
    index: int,
    start_job: Callable[[date, date], Awaitable[tuple[str, bool]]],
    progress: Progress,
    poller: Poller,
    deadline: float,
) -> None:
    """Starts one window's job, waits while it is active, and reads all its pages into `run`."""
    run.job_id, run.paginated = await start_job(run.start, run.end)
    run.status = "active"
    await progress.advance(index, 0.1, f"started job {run.job_id} for {run.label}")
    attempt = 0
    while True:
        answer = await client.analytics.job_data(run.job_id, 0)
        if isinstance(answer, JobDataPage):
            break
        wait = poller.delay(attempt)
        if poller.clock() + wait > deadline:
            return  # still active: the answer names the job so the agent can resume
        attempt += 1
        await progress.advance(
            index, 0.1 + 0.4 * (1 - 0.5**attempt), f"job {run.job_id} for {run.label} is running (poll {attempt})"
        )
        await poller.sleep(wait)
    total = answer.pages

    async def on_page(page: int, pages: int | None) -> None:
        share = (page + 1) / pages if pages else 1 - 0.5 ** (page + 1)
        await progress.advance(index, 0.5 + 0.45 * share, f"read page {page + 1} of job {run.job_id}")

    await progress.advance(index, 0.5 + 0.45 / (total or 2), f"read page 1 of job {run.job_id}")
    paged = await read_pages(client, run.job_id, answer, paginated=run.paginated, poller=poller, on_page=on_page)
    run.rows, run.page_error = paged.rows, paged.stopped
    run.status = "complete"
    await progress.advance(index, 1.0, f"job {run.job_id} for {run.label} is complete ({len(run.rows)} rows)")


def _failure(run: WindowRun, error: ContentstackError) -> ToolError:
    if isinstance(error, ServerError) and run.job_id is not None:
        said = error.error_message or "Job Failed"
        why = "; ".join(f"{k} {v}" for k, v in error.errors.items())
        return ToolError(
            f"the analytics job {run.job_id} for {run.label} failed: Contentstack answered {said!r}"
            f"{f' ({why})' if why else ''}. A job covers at most {MAX_RANGE_DAYS} days and from_date must "
            "not be after to_date; try again later, or ask for a shorter range."
        )
    return ToolError(f"the analytics report for {run.label} could not be read: {error}")


# -- tools ----------------------------------------------------------------------------------


@declare.read("Get an analytics report", ui=ANALYTICS_VIEW)
async def get_analytics(
    ctx: ToolContext,
    report: Annotated[
        ReportName,
        Field(description="usage: requests and bandwidth; subscription: Launch usage."),
    ],
    from_date: Annotated[str, Field(max_length=40, description="First day, YYYY-MM-DD (UTC).")],
    to_date: Annotated[str, Field(max_length=40, description="Last day, YYYY-MM-DD.")],
    duration: Annotated[Duration, Field(description="Rows per day, week (Monday) or month.")] = "day",
    services: Annotated[
        list[str] | None,
        Field(
            max_length=8,
            description=f"Any of {', '.join(SERVICES)}. Default: {', '.join(DEFAULT_SERVICES)}.",
        ),
    ] = None,
    stack_api_key: Annotated[Uid | None, Field(description="Only this stack (not for devices, subscription).")] = None,
    http_status_code: Annotated[int | None, Field(ge=100, le=599, description="For report=status_codes.")] = None,
    cache: Annotated[CacheStatus | None, Field(description="For report=cache.")] = None,
    max_rows: Annotated[int, Field(ge=1, le=1000, description="Rows to return at most.")] = 200,
) -> AnalyticsReport:
    """The organization's analytics for a date range: requests and bandwidth, devices, status codes, cache
    hits, SDKs, top URLs, or Launch usage. Waits for the report jobs and answers rows (up to max_rows),
    totals and a summary (busiest days, cache hit share, error rate); jobs that take too long: status
    'timed_out' and job ids for get_analytics_job."""
    state = app_state(ctx)
    poller = POLLER
    today = poller.today()
    start = parse_day("from_date", from_date, today)
    end = parse_day("to_date", to_date, today)
    if start > end:
        raise ToolError(f"from_date {start} is after to_date {end}; give the earlier day first")
    if end > today:
        raise ToolError(f"to_date {end} is in the future; the last day with data is today, {today} (UTC)")
    if (end - start).days + 1 > MAX_TOTAL_DAYS:
        raise ToolError(f"the range spans more than {MAX_TOTAL_DAYS} days; ask for at most two years at a time")
    given_services = check_services(services)
    spec = REPORTS[report]
    # What the client sends when none are given, so the answer names the services it covers.
    chosen = given_services or (list(DEFAULT_SERVICES) if spec.services else None)
    not_taken = [
        name
        for name, given, takes in (
            ("services", given_services is not None, spec.services),
            ("stack_api_key", stack_api_key is not None, spec.api_key),
            ("http_status_code", http_status_code is not None, spec.http_status_code),
            ("cache", cache is not None, spec.cache),
        )
        if given and not takes
    ]
    if not_taken:
        raise ToolError(f"the {report} report does not take {', '.join(not_taken)}; leave it out")

    client = state.client

    async def start_job(first: date, last: date) -> tuple[str, bool]:
        job = await client.analytics.start_report(
            report,
            first,
            last,
            duration=duration if spec.duration else None,
            services=chosen,
            api_key=stack_api_key,
            http_status_code=http_status_code,
            cache=cache,
        )
        return job.job_id, job.paginated

    runs = [WindowRun(first, last) for first, last in split_windows(start, end)]
    progress = Progress(ctx, len(runs))
    deadline = poller.clock() + poller.time_limit

    async with anyio.create_task_group() as tg:

        async def guarded(index: int, run: WindowRun) -> None:
            try:
                await run_window(client, run, index, start_job, progress, poller, deadline)
            except (ContentstackError, ValidationError) as exc:
                # Kept, not raised: an exception leaving the task group would reach the model
                # as an exception group instead of a plain ToolError.
                run.error = exc
                tg.cancel_scope.cancel()  # one failed window fails the report: stop the others

        for index, run in enumerate(runs):
            tg.start_soon(guarded, index, run)

    for run in runs:
        if isinstance(run.error, ContentstackError):
            raise _failure(run, run.error) from run.error
        if run.error is not None:
            raise run.error  # the registry words an answer of an unexpected shape
    windows = [
        WindowInfo(
            from_date=r.start.isoformat(), to_date=r.end.isoformat(), job_id=r.job_id, status=r.status, rows=len(r.rows)
        )
        for r in runs
    ]
    job_ids = [r.job_id for r in runs if r.job_id]
    base: dict[str, Any] = {
        "report": report,
        "from_date": start.isoformat(),
        "to_date": end.isoformat(),
        "duration": duration if spec.duration else "day",
        "services": chosen,
        "job_ids": job_ids,
        "windows": windows,
    }
    pending = [r for r in runs if r.status != "complete"]
    if pending:
        ids = ", ".join(f"{r.job_id} ({r.label})" for r in pending)
        running = (
            f"{len(pending)} of {len(runs)} jobs were still running after {poller.time_limit:.0f} s: {ids}. "
            "Read each with get_analytics_job(job_id) in a little while (they keep running), "
            "or call get_analytics again."
        )
        return AnalyticsReport(status="timed_out", totals={}, summary=None, **no_rows(running), **base)
    rows = merge_rows([r.rows for r in runs])
    totals, summary = summarize(rows, status_filtered=http_status_code is not None, cache_filtered=cache is not None)
    page_errors = [f"{r.label}: {r.page_error}" for r in runs if r.page_error]
    overhead = estimate_tokens(summary) + estimate_tokens(base) + estimate_tokens(page_errors) + 200
    fields = fitted_rows(rows, max_rows, overhead)
    if page_errors:
        incomplete = "Some pages could not be read (see page_errors): rows, totals and summary cover the pages read."
        fields["note"] = f"{incomplete} {fields['note']}" if fields["note"] else incomplete
    return AnalyticsReport(status="complete", totals=totals, summary=summary, page_errors=page_errors, **fields, **base)


@declare.read("Read an analytics job", ui=ANALYTICS_VIEW)
async def get_analytics_job(
    ctx: ToolContext,
    job_id: Annotated[JobId, Field(description="A job id from get_analytics.")],
    page: Annotated[
        int | None, Field(ge=0, le=100_000, description="One page (from 0); default: every page, summarised.")
    ] = None,
    max_rows: Annotated[int, Field(ge=1, le=1000, description="Rows to return at most.")] = 200,
) -> AnalyticsJobData:
    """Read an analytics job, e.g. one get_analytics left running: every page summarised, or one page. Status
    'active': still preparing, call again shortly."""
    client = app_state(ctx).client
    poller = POLLER
    try:
        answer = await client.analytics.job_data(job_id, page or 0)
        if isinstance(answer, JobActive):
            running = no_rows("the job is still running; call get_analytics_job again in a few seconds")
            return AnalyticsJobData(job_id=job_id, status="active", page=page, totals={}, summary=None, **running)
        stopped: str | None = None
        if page is None:
            paged = await read_pages(client, job_id, answer, paginated=True, poller=poller)
            rows, stopped = paged.rows, paged.stopped
        else:
            rows = list(answer.data)
    except NotFoundError:
        where = f"has no page {page}: it is past the last page, or the job" if page else "was not found: it"
        raise ToolError(
            f"the analytics job {job_id!r} {where} does not exist for these credentials (a job can be read only "
            "by the user who started it). Call get_analytics_job without page to read every page, or start the "
            "report again with get_analytics."
        ) from None
    except ServerError as exc:
        raise ToolError(
            f"the analytics job {job_id!r} failed: Contentstack answered {exc.error_message or 'Job Failed'!r}. "
            f"A job covers at most {MAX_RANGE_DAYS} days; start the report again with get_analytics."
        ) from exc
    totals, summary = summarize(rows)
    overhead = estimate_tokens(summary) + 200
    fields = fitted_rows(rows, max_rows, overhead)
    if page is not None:
        summary = None  # one page says too little about the report to summarise
        fields["note"] = (
            fields["note"] or "totals cover this page only; leave page out to read and summarise every page"
        )
    if stopped:
        fields["note"] = (
            f"Reading stopped early (see page_errors): totals cover the pages read. {fields['note'] or ''}".strip()
        )
    return AnalyticsJobData(
        job_id=job_id,
        status="complete",
        page=page,
        total_pages=answer.pages,
        next_page=answer.next_page if page is not None else None,
        totals=totals,
        summary=summary,
        page_errors=[stopped] if stopped else [],
        **fields,
    )
