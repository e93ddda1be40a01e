"""Analytics API v2 of the sandbox, mounted at `/analytics/v2`.

It answers in the shapes of Contentstack's "Analytics API" reference pages ("Analytics |
Retrieve Data", "Jobs", and one page per report, last updated 2026-06-02 and 2026-08-27); the
tests under `tests/documented/` hold it to the sample answers saved from those pages.

- Every report (`/subscription`, `/devices`, `/usage`, `/url`, `/http-statuses`,
  `/hit-miss-ratio`, `/sdk`; all GET with `orgUid`, `from`, `to` as `YYYY-MM-DD`) answers
  `{"jobId": "job_<uuid>", "paginated": bool}`; the rows come from
  `GET /job/{jobId}/data?orgUid=...&page=N` (pages count from 0).
- Parameters a report's page marks required are required here too (400 naming them when
  missing): top URLs `includeTotalCount`; status codes and cache `services` and `duration`;
  SDK `includeCount`, `services` and `duration`. Where optional, `services` defaults to all
  services and `duration` to `day`.
- A job answers HTTP 200 `{"message": "Job waiting"}` then `{"message": "Job active"}` (no
  `data`) for its first `config.analytics_active_polls` retrievals, then
  `{"data": [...], "meta": {...}, "uid": jobId}`. `meta` echoes the request (`orgUid`, `from`,
  `to`, and `duration` where taken) and `limit`, the rows a page holds: 50, or for the SDK report
  its own `limit` (default 900), beside its `skip`. Devices and SDK add
  `totalDocs` (the report's rows); SDK adds `total` (the sum of the counts) when `includeCount`
  is true; top URLs add `urlDataSource`. The other reports do not count their rows, so a
  reader stops at a short page.
- A page that does not exist (past the last, negative, not a whole number) answers 404
  `{"error_message": "No data found"}`, and an unknown job 404 `"Job not found"`, as the
  "Jobs" page describes. An empty result has one page, page 0, with no rows.
- A range over 90 days (inclusive) or `from` after `to` is accepted and the job is created, but
  it fails: retrieving it answers HTTP 500 `{"error_message": "Job failed", "errors": {...}}`
  (the `errors` object says why).
- Malformed parameters (a date not `YYYY-MM-DD`, an unknown `duration` or service, `cache`
  other than HIT/MISS, `limit` over 900) answer 400 at once, with per-parameter `errors`.
- Auth: header `authtoken` (or `authorization: Bearer <authtoken>`) must be the demo
  authtoken, and `orgUid` must be given; else 401 error_code 105. An `orgUid` of another
  organization answers 403 error_code 316.

Row shapes, as the reference pages' samples show them (`type` is the service, `date` the
period):

| report | row |
|---|---|
| usage | `{"total_api_bandwidth", "total_api_count", "total_cdn_bandwidth", "total_cdn_count", "date"}` |
| devices | `{"count", "type", "device", "date"}` |
| url | `{"url", "type", "count"}`: the count is a string ("3"), one row per URL over the range |
| http-statuses | `{"count", "type", "status" ("200", "304", "404", "429", "500"), "date"}` |
| hit-miss-ratio | `{"count", "type", "status" ("HIT" or "MISS"), "date"}` |
| sdk | `{"count", "type", "sdk" ("contentstack-python/v2.1.0"), "date"}`, or only `{"date"}` |
| subscription | `{"date", "type": "launch", "count", "bandwidth", "buildMinutes"}` (always daily) |

Usage counts every chosen service but cdn as `api`. An SDK period without SDK traffic is a row
with only its `date`. The Subscription Usage page shows no sample; its rows are the sandbox's own.

`duration` groups rows by day (`date` is the day), week (`date` is the week's Monday) or month
(`date` is the month's first day), counting only the days inside `from`..`to`; so the same week
split across two requests comes back as two partial rows with the same `date`, which add up.

Seed: 180 days ending at the sandbox clock's today, per service (cma, cdn, ui, graphql, images,
assets, automations, launch) and per stack api key (the demo stack's and one more), one row per
day with the request count, bandwidth and the breakdowns (status codes, cache, devices, SDKs,
URLs, Launch build minutes) as JSON; every number is drawn from `config.seed`.
"""

from __future__ import annotations

import functools
import json
import math
import random
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass
from datetime import date, timedelta
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from cs_mcp.sandbox import strict_json
from cs_mcp.sandbox.endpoint import Endpoint, RequestRefused, bad_request, routes_behind
from cs_mcp.sandbox.state import SandboxState, error_response

SERVICES = ("cma", "cdn", "ui", "graphql", "images", "assets", "automations", "launch")
DURATIONS = ("day", "week", "month")
SEED_DAYS = 180
MAX_RANGE_DAYS = 90
PAGE_SIZE = 50
MAX_SDK_LIMIT = 900
# A second stack of the demo organization, so that `apiKey` filters something.
SECOND_STACK_API_KEY = "blt3e4d5c6b7a8f9e0d"

STATUS_CODES = ("200", "304", "404", "429", "500")
DEVICES = ("desktop", "mobile", "tablet", "server")
CACHED_SERVICES = ("cdn", "graphql", "images", "assets")
SDKS: dict[str, tuple[tuple[str, str], ...]] = {
    "cdn": (
        ("contentstack-javascript", "3.20.4"),
        ("contentstack-python", "2.1.0"),
        ("contentstack-swift", "1.6.1"),
        ("contentstack-android", "4.0.1"),
    ),
    "graphql": (("contentstack-javascript", "3.20.4"), ("apollo-client", "3.11.8")),
    "cma": (("contentstack-management-javascript", "1.18.4"), ("contentstack-cli", "1.28.0")),
}
URLS: dict[str, tuple[str, ...]] = {
    "cdn": (
        "/v3/content_types/blog_post/entries",
        "/v3/content_types/page/entries",
        "/v3/content_types/product/entries",
        "/v3/content_types/author/entries",
        "/v3/assets",
    ),
    "graphql": ("/stacks/{api_key}?environment=production", "/stacks/{api_key}?environment=staging"),
    "images": ("/v3/assets/{api_key}/hero.jpg", "/v3/assets/{api_key}/logo.png", "/v3/assets/{api_key}/team.webp"),
    "cma": ("/v3/content_types", "/v3/content_types/blog_post/entries", "/v3/bulk/publish", "/v3/environments"),
    "assets": ("/v3/assets/{api_key}/brochure.pdf", "/v3/assets/{api_key}/intro.mp4"),
}
# Daily requests of each service for the demo stack, and the bytes an answer weighs on average.
BASE_REQUESTS = {
    "cma": 4_200,
    "cdn": 180_000,
    "ui": 2_600,
    "graphql": 36_000,
    "images": 64_000,
    "assets": 9_500,
    "automations": 800,
    "launch": 21_000,
}
BYTES_PER_REQUEST = {
    "cma": 6_000,
    "cdn": 14_000,
    "ui": 22_000,
    "graphql": 9_000,
    "images": 180_000,
    "assets": 420_000,
    "automations": 2_500,
    "launch": 48_000,
}


# Row fields that name a thing; every other number is a measure, added up when rows merge.
DIMENSIONS = frozenset({"date", "type", "url", "status", "device", "sdk"})


@dataclass(frozen=True)
class ReportSpec:
    """A report's path, the parameters it takes beyond `orgUid`, `from` and `to` (and which of
    them its page marks required), its rows, and what its data answers add beside `data`."""

    path: str
    params: frozenset[str]
    rows: Callable[[Mapping[str, Any]], Iterable[dict[str, Any]]]
    _: KW_ONLY
    required: frozenset[str] = frozenset()
    dated: bool = True
    counts_docs: bool = False


def _breakdown(record: Mapping[str, Any], dimension: str) -> dict[str, Any]:
    found = record["breakdown"].get(dimension)
    return cast(dict[str, Any], found) if isinstance(found, dict) else {}


def _usage_rows(record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    cdn = record["service"] == "cdn"
    count, bandwidth = record["count"], record["bandwidth"]
    yield {
        "total_api_bandwidth": 0 if cdn else bandwidth,
        "total_api_count": 0 if cdn else count,
        "total_cdn_bandwidth": bandwidth if cdn else 0,
        "total_cdn_count": count if cdn else 0,
    }


def _device_rows(record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for device, count in _breakdown(record, "device").items():
        yield {"type": record["service"], "device": device, "count": count}


def _url_rows(record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for url, (count, _bandwidth) in _breakdown(record, "url").items():
        yield {"url": url, "type": record["service"], "count": count}


def _status_rows(record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for code, count in _breakdown(record, "status").items():
        yield {"count": count, "type": record["service"], "status": code}


def _cache_rows(record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for status, count in _breakdown(record, "cache").items():
        yield {"count": count, "type": record["service"], "status": status}


def _sdk_rows(record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for key, count in _breakdown(record, "sdk").items():
        sdk, _, version = key.partition("@")
        yield {"count": count, "type": record["service"], "sdk": f"{sdk}/v{version}"}


def _subscription_rows(record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    if record["service"] == "launch":
        minutes = record["breakdown"].get("build_minutes", 0)
        yield {"type": "launch", "count": record["count"], "bandwidth": record["bandwidth"], "buildMinutes": minutes}


_FILTERS = frozenset({"services", "duration", "apiKey"})
REPORTS: dict[str, ReportSpec] = {
    "subscription": ReportSpec("subscription", frozenset(), _subscription_rows),
    "devices": ReportSpec(
        "devices", frozenset({"services", "duration", "includeCount", "orderBy"}), _device_rows, counts_docs=True
    ),
    "usage": ReportSpec("usage", _FILTERS | {"includeCount"}, _usage_rows),
    "url": ReportSpec(
        "url",
        _FILTERS | {"includeTotalCount", "orderBy"},
        _url_rows,
        required=frozenset({"includeTotalCount"}),
        dated=False,
    ),
    "http-statuses": ReportSpec(
        "http-statuses", _FILTERS | {"httpStatusCode"}, _status_rows, required=frozenset({"services", "duration"})
    ),
    "hit-miss-ratio": ReportSpec(
        "hit-miss-ratio", _FILTERS | {"cache"}, _cache_rows, required=frozenset({"services", "duration"})
    ),
    "sdk": ReportSpec(
        "sdk",
        _FILTERS | {"includeCount", "orderBy", "limit", "skip"},
        _sdk_rows,
        required=frozenset({"includeCount", "services", "duration"}),
        counts_docs=True,
    ),
}


# -- tables and seed ------------------------------------------------------------------------


def setup(state: SandboxState) -> None:
    """Creates the analytics tables and seeds 180 days of traffic when they are empty."""
    with state.db.transaction() as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS analytics_daily ("
            " day TEXT NOT NULL, service TEXT NOT NULL, api_key TEXT NOT NULL,"
            " count INTEGER NOT NULL, bandwidth INTEGER NOT NULL, breakdown_json TEXT NOT NULL,"
            " PRIMARY KEY (day, service, api_key))"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS analytics_jobs ("
            " job_id TEXT PRIMARY KEY, org_uid TEXT NOT NULL, report TEXT NOT NULL, params_json TEXT NOT NULL,"
            " created_at TEXT NOT NULL, polls INTEGER NOT NULL DEFAULT 0, failure_json TEXT,"
            " rows_json TEXT NOT NULL, include_total INTEGER NOT NULL DEFAULT 0)"
        )
        if state.config.reset:
            conn.execute("DELETE FROM analytics_daily")
            conn.execute("DELETE FROM analytics_jobs")
        if conn.execute("SELECT 1 FROM analytics_daily LIMIT 1").fetchone() is None:
            today = state.clock.now().date()
            conn.executemany(
                "INSERT INTO analytics_daily (day, service, api_key, count, bandwidth, breakdown_json)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                seed_rows(state.config.seed, today, state.credentials.api_key),
            )


@functools.lru_cache(maxsize=4)
def seed_rows(seed: int, today: date, api_key: str) -> tuple[tuple[str, str, str, int, int, str], ...]:
    """The seeded daily rows: (day, service, api_key, count, bandwidth, breakdown JSON).

    Kept for the process: tests build many sandboxes from the same seed on the same day.
    """
    rng = random.Random(f"analytics-{seed}")
    stacks = ((api_key, 1.0), (SECOND_STACK_API_KEY, 0.35))
    rows: list[tuple[str, str, str, int, int, str]] = []
    first = today - timedelta(days=SEED_DAYS - 1)
    for offset in range(SEED_DAYS):
        day = first + timedelta(days=offset)
        weekday = 0.72 if day.weekday() >= 5 else 1.0  # quieter weekends
        growth = 1.0 + offset * 0.002
        for service in SERVICES:
            for key, share in stacks:
                count = max(1, int(BASE_REQUESTS[service] * share * weekday * growth * rng.uniform(0.8, 1.2)))
                bandwidth = int(count * BYTES_PER_REQUEST[service] * rng.uniform(0.85, 1.15))
                breakdown = _seed_breakdown(rng, service, key, count, bandwidth)
                rows.append((day.isoformat(), service, key, count, bandwidth, json.dumps(breakdown)))
    return tuple(rows)


def _split(rng: random.Random, total: int, weights: Mapping[str, float]) -> dict[str, int]:
    """`total` split by `weights` with some noise; the parts add up to `total` exactly."""
    noisy = {k: w * rng.uniform(0.7, 1.3) for k, w in weights.items()}
    scale = sum(noisy.values())
    parts = {k: int(total * w / scale) for k, w in noisy.items()}
    first = next(iter(parts))
    parts[first] += total - sum(parts.values())
    return parts


def _seed_breakdown(rng: random.Random, service: str, api_key: str, count: int, bandwidth: int) -> dict[str, Any]:
    not_modified = 0.18 if service in CACHED_SERVICES else 0.01
    spike = 6.0 if rng.random() < 0.03 else 1.0  # an occasional bad day of server errors
    status = _split(
        rng,
        count,
        {"200": 1.0 - not_modified - 0.03, "304": not_modified, "404": 0.02, "429": 0.006, "500": 0.0015 * spike},
    )
    breakdown: dict[str, Any] = {
        "status": status,
        "device": _split(rng, count, {"desktop": 0.52, "mobile": 0.36, "tablet": 0.07, "server": 0.05}),
    }
    if service in CACHED_SERVICES:
        hit = rng.uniform(0.82, 0.96)
        hits = int(count * hit)
        breakdown["cache"] = {"HIT": hits, "MISS": count - hits}
    if service in SDKS:
        sdk_share = _split(rng, int(count * 0.7), {f"{n}@{v}": 1.0 / (i + 1) for i, (n, v) in enumerate(SDKS[service])})
        breakdown["sdk"] = sdk_share
    if service in URLS:
        paths = [p.format(api_key=api_key) for p in URLS[service]]
        counts = _split(rng, int(count * 0.6), {p: 1.0 / (i + 1) for i, p in enumerate(paths)})
        breakdown["url"] = {p: [c, int(bandwidth * c / count)] for p, c in counts.items()}
    if service == "launch":
        breakdown["build_minutes"] = rng.randint(20, 140)
    return breakdown


# -- reports --------------------------------------------------------------------------------


class ParamErrors(Exception):
    """Parameters that are malformed: answered 400 with one message per parameter."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid parameters")
        self.errors = errors


def _parse_date(name: str, raw: str | None, errors: dict[str, list[str]]) -> date | None:
    if not raw:
        errors[name] = ["is required (YYYY-MM-DD)."]
        return None
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = ["is not a valid date (YYYY-MM-DD)."]
        return None


def _parse_services(raw: str | None, errors: dict[str, list[str]]) -> list[str]:
    if raw is None or raw == "":
        return list(SERVICES)
    try:
        value: Any = strict_json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, list) or not value:
        errors["services"] = ['must be a JSON array such as ["cdn","cma"].']
        return []
    names = [str(v) for v in cast(list[Any], value)]
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        errors["services"] = [f"has unknown services {unknown}; known: {list(SERVICES)}."]
    return names


def _parse_int(name: str, raw: str | None, errors: dict[str, list[str]], low: int, high: int) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        errors[name] = ["must be a whole number."]
        return None
    if not low <= value <= high:
        errors[name] = [f"must be between {low} and {high}."]
        return None
    return value


def bucket(day: date, duration: str) -> date:
    """The period a day belongs to: the day itself, its week's Monday, or its month's first day."""
    if duration == "week":
        return day - timedelta(days=day.weekday())
    if duration == "month":
        return day.replace(day=1)
    return day


class ReportQuery:
    """A report request with its parameters parsed and checked."""

    def __init__(self, spec: ReportSpec, query: Mapping[str, str]) -> None:
        errors: dict[str, list[str]] = {}
        self.spec = spec
        from_date = _parse_date("from", query.get("from"), errors)
        to_date = _parse_date("to", query.get("to"), errors)
        takes = spec.params
        for name in sorted(spec.required):
            if not query.get(name):
                errors[name] = ["is required."]
        self.services = _parse_services(query.get("services"), errors) if "services" in takes else list(SERVICES)
        self.duration = (query.get("duration") or "day") if "duration" in takes else "day"
        if self.duration not in DURATIONS:
            errors["duration"] = [f"must be one of {', '.join(DURATIONS)}."]
        self.api_key = (query.get("apiKey") or None) if "apiKey" in takes else None
        self.status_code = (
            _parse_int("httpStatusCode", query.get("httpStatusCode"), errors, 100, 599)
            if "httpStatusCode" in takes
            else None
        )
        self.cache = ((query.get("cache") or "").upper() or None) if "cache" in takes else None
        if self.cache is not None and self.cache not in ("HIT", "MISS"):
            errors["cache"] = ["must be HIT or MISS."]
        self.order_by = _parse_int("orderBy", query.get("orderBy"), errors, -1, 1) if "orderBy" in takes else None
        self.limit = _parse_int("limit", query.get("limit"), errors, 1, MAX_SDK_LIMIT) if "limit" in takes else None
        self.skip = _parse_int("skip", query.get("skip"), errors, 0, 10**9) if "skip" in takes else None
        self.include_total = any(query.get(k) == "true" for k in ("includeCount", "includeTotalCount"))
        self.echo = {k: query[k] for k in ("orgUid", "from", "to") if k in query}
        if "duration" in takes:
            self.echo["duration"] = self.duration
        if errors or from_date is None or to_date is None:
            raise ParamErrors(errors)
        self.from_date = from_date
        self.to_date = to_date

    def failure(self) -> dict[str, list[str]] | None:
        """Why the job will fail, or None: Contentstack accepts these and fails the job."""
        if self.from_date > self.to_date:
            return {"from": ["is after to."]}
        if (self.to_date - self.from_date).days + 1 > MAX_RANGE_DAYS:
            return {"to": [f"is more than {MAX_RANGE_DAYS} days after from; ask for at most {MAX_RANGE_DAYS} days."]}
        return None

    def rows(self, conn: sqlite3.Connection) -> list[dict[str, Any]]:
        """The report's rows, aggregated per period (for dated reports) and the report's own
        dimensions, in the shapes of the reference pages' samples."""
        sql = (
            "SELECT day, service, api_key, count, bandwidth, breakdown_json FROM analytics_daily"
            " WHERE day BETWEEN ? AND ?"
        )
        args: list[Any] = [self.from_date.isoformat(), self.to_date.isoformat()]
        if self.api_key:
            sql += " AND api_key = ?"
            args.append(self.api_key)
        totals: dict[tuple[Any, ...], dict[str, Any]] = {}
        periods: list[str] = []
        wanted = set(self.services)
        for day, service, api_key, count, bandwidth, breakdown_json in conn.execute(sql + " ORDER BY day", args):
            period = bucket(date.fromisoformat(day), self.duration).isoformat()
            if period not in periods:
                periods.append(period)
            if service not in wanted:
                continue
            record = {
                "service": service,
                "api_key": api_key,
                "count": count,
                "bandwidth": bandwidth,
                "breakdown": json.loads(breakdown_json),
            }
            for row in self.spec.rows(record):
                if self.status_code is not None and row.get("status") != str(self.status_code):
                    continue
                if self.cache is not None and row.get("status") != self.cache:
                    continue
                if self.spec.dated:
                    row = {**row, "date": period}
                key = tuple((k, v) for k, v in row.items() if not _is_metric(k, v))
                found = totals.get(key)
                if found is None:
                    totals[key] = row
                else:
                    for k, v in row.items():
                        if _is_metric(k, v):
                            found[k] += v
        rows = list(totals.values())
        if self.spec.path == "sdk":
            # The SDK sample shows a period without SDK traffic as a row with only its date.
            busy = {r["date"] for r in rows}
            rows.extend({"date": p} for p in periods if p not in busy)
        if not self.spec.dated:
            rows.sort(key=lambda r: r["count"], reverse=True)  # top URLs, busiest first
        if self.order_by is not None:
            rows.sort(key=lambda r: r.get("count", 0), reverse=self.order_by < 0)
        if self.skip:
            rows = rows[self.skip :]
        if self.limit is not None:
            rows = rows[: self.limit]
        if self.spec.path == "url":
            rows = [{**r, "count": str(r["count"])} for r in rows]  # the Top URLs sample's counts are strings
        return rows

    def extras(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """What a data answer of this report carries beside `data`, `meta` and `uid`."""
        found: dict[str, Any] = {}
        if self.spec.counts_docs:
            found["totalDocs"] = len(rows)
        if self.spec.path == "sdk" and self.include_total:
            found["total"] = sum(r.get("count", 0) for r in rows)
        if self.spec.path == "url":
            found["urlDataSource"] = "athena"
        return found

    @property
    def page_size(self) -> int:
        """The rows a data page holds: the SDK report's own `limit`, else 50."""
        return (self.limit or MAX_SDK_LIMIT) if self.spec.path == "sdk" else PAGE_SIZE

    def meta(self) -> dict[str, Any]:
        """The `meta` of a data answer: the request's own parameters and the page size."""
        meta: dict[str, Any] = {**self.echo, "limit": self.page_size}
        if self.spec.path == "sdk":
            meta["skip"] = self.skip or 0
        return meta


def _is_metric(key: str, value: object) -> bool:
    return key not in DIMENSIONS and isinstance(value, int | float) and not isinstance(value, bool)


# -- auth -----------------------------------------------------------------------------------


def check_auth(state: SandboxState, request: Request) -> Response | None:
    """None when the request carries the demo authtoken and the demo organization, else the
    refusal: 401 error_code 105 for a missing or wrong token or organization, 403 for an
    organization the token does not belong to."""
    creds = state.credentials
    token = request.headers.get("authtoken")
    if token is None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    if token != creds.authtoken:
        return error_response(
            401, 105, "You're not allowed in here unless you're logged in.", {"authtoken": ["is not valid."]}
        )
    org = request.query_params.get("orgUid")
    if not org:
        return error_response(401, 105, "The organization is required.", {"orgUid": ["is required."]})
    if org != creds.organization_uid:
        return error_response(403, 316, "You don't have permission to access this organization.")
    return None


# -- routes ---------------------------------------------------------------------------------


def routes(state: SandboxState) -> list[BaseRoute]:
    """The report routes and the job data route, relative to `/analytics/v2`."""

    def start_report(spec: ReportSpec) -> Endpoint:
        async def handler(request: Request) -> Response:
            try:
                query = ReportQuery(spec, request.query_params)
            except ParamErrors as exc:
                raise bad_request("The request parameters are invalid.", dict(exc.errors)) from exc
            failure = query.failure()
            with state.db.transaction() as conn:
                rows = [] if failure else query.rows(conn)
                job_id = f"job_{uuid.uuid4()}"
                conn.execute(
                    "INSERT INTO analytics_jobs (job_id, org_uid, report, params_json, created_at, failure_json,"
                    " rows_json, include_total) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        job_id,
                        state.credentials.organization_uid,
                        spec.path,
                        json.dumps(dict(request.query_params)),
                        state.clock.now().isoformat(),
                        json.dumps(failure) if failure else None,
                        json.dumps(rows),
                        int(query.include_total),
                    ),
                )
            return JSONResponse({"jobId": job_id, "paginated": len(rows) > query.page_size})

        return handler

    async def job_data(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        with state.db.transaction() as conn:
            job = conn.execute(
                "SELECT report, params_json, polls, failure_json, rows_json FROM analytics_jobs"
                " WHERE job_id = ? AND org_uid = ?",
                (job_id, state.credentials.organization_uid),
            ).fetchone()
            if job is None:
                raise RequestRefused(404, 404, "Job not found")
            active = state.config.analytics_active_polls
            if job["polls"] < active:
                conn.execute("UPDATE analytics_jobs SET polls = polls + 1 WHERE job_id = ?", (job_id,))
                # A job is queued before it runs ("Jobs" page); a single busy answer says it runs.
                waiting = job["polls"] == 0 and active > 1
                return JSONResponse({"message": "Job waiting" if waiting else "Job active"})
        if job["failure_json"]:
            raise RequestRefused(500, 500, "Job failed", json.loads(job["failure_json"]))
        rows: list[dict[str, Any]] = json.loads(job["rows_json"])
        query = ReportQuery(REPORTS[job["report"]], json.loads(job["params_json"]))
        size = query.page_size
        total_pages = max(1, math.ceil(len(rows) / size))
        raw_page = request.query_params.get("page") or "0"
        page = int(raw_page) if raw_page.isdigit() else -1
        if not 0 <= page < total_pages:
            raise RequestRefused(404, 404, "No data found", {"page": [f"must be between 0 and {total_pages - 1}."]})
        body: dict[str, Any] = {
            **query.extras(rows),
            "data": rows[page * size : (page + 1) * size],
            "meta": query.meta(),
            "uid": job_id,
        }
        return JSONResponse(body)

    table = [(f"/{spec.path}", "GET", start_report(spec)) for spec in REPORTS.values()]
    table.append(("/job/{job_id}/data", "GET", job_data))
    return routes_behind(lambda request: check_auth(state, request), table)
