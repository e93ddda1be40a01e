"""Analytics v2: report jobs and their data.

Every report request answers a job id; the rows come from the job's data endpoint, page by
page, once the job is no longer "Job waiting" or "Job active" (Contentstack's "Analytics API"
reference, pages "Analytics | Retrieve Data" and "Jobs"). This module starts jobs and reads one
answer of a job at a time; waiting, windows, paging and merging belong to the tool.

Every report is sent with the parameters its reference page marks required, with the
documented defaults when the caller gives none: `services` as the JSON array string
`["cdn","cma"]`, `duration` `day`, and `includeCount` (devices, usage, SDK) or
`includeTotalCount` (top URLs) `true`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import Field

from cs_mcp.client._exceptions import AuthenticationError, MalformedResponseError
from cs_mcp.client._models import APIModel
from cs_mcp.client._regions import Api

if TYPE_CHECKING:
    from cs_mcp.client._client import ContentstackClient

__all__ = [
    "DEFAULT_SERVICES",
    "DIMENSIONS",
    "MAX_RANGE_DAYS",
    "REPORTS",
    "SERVICES",
    "CacheStatus",
    "Duration",
    "JobActive",
    "JobDataPage",
    "ReportName",
]

ReportName = Literal["usage", "devices", "status_codes", "cache", "sdk", "top_urls", "subscription"]
Duration = Literal["day", "week", "month"]
CacheStatus = Literal["HIT", "MISS"]

SERVICES = ("cma", "cdn", "ui", "graphql", "images", "assets", "automations", "launch")
# The reference pages' default for the reports that take `services` and `duration`.
DEFAULT_SERVICES = ("cdn", "cma")
DEFAULT_DURATION: Duration = "day"
# Contentstack fails a job whose range spans more days than this.
MAX_RANGE_DAYS = 90

# Row fields that name a thing; every other field is a measure. The Top URLs sample carries its
# counts as strings ("count": "3") and the Status Code sample its codes ("status": "200"): a
# measure that arrives as a string is read as a number, a name stays as it came.
DIMENSIONS = frozenset({"date", "type", "url", "status", "device", "sdk", "version"})
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


@dataclass(frozen=True)
class ReportSpec:
    """A report: its path under `/analytics/v2`, which filters it takes, and which count flag
    its page marks required (`includeCount` or `includeTotalCount`, sent as `true`)."""

    path: str
    services: bool = True
    duration: bool = True
    api_key: bool = True
    http_status_code: bool = False
    cache: bool = False
    count_flag: str | None = None


REPORTS: dict[ReportName, ReportSpec] = {
    "usage": ReportSpec("usage", count_flag="includeCount"),
    "devices": ReportSpec("devices", api_key=False, count_flag="includeCount"),
    "status_codes": ReportSpec("http-statuses", http_status_code=True),
    "cache": ReportSpec("hit-miss-ratio", cache=True),
    "sdk": ReportSpec("sdk", count_flag="includeCount"),
    "top_urls": ReportSpec("url", count_flag="includeTotalCount"),
    "subscription": ReportSpec("subscription", services=False, duration=False, api_key=False),
}


def normalize_row(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with every measure that arrived as a numeric string turned into a number."""
    found: dict[str, Any] = {}
    for key, value in row.items():
        if key not in DIMENSIONS and isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            text = value.strip()
            found[key] = float(text) if "." in text else int(text)
        else:
            found[key] = value
    return found


class AnalyticsJob(APIModel):
    """A started report job."""

    job_id: str = Field(alias="jobId", min_length=1)
    paginated: bool = False


class JobActive(APIModel):
    """The job is queued or running: Contentstack answered 200 without `data` ("Job waiting",
    "Job active")."""

    message: str | None = None


class JobPageMeta(APIModel):
    """What a data page's `meta` says about paging (every field may be missing; the samples
    show the request's own parameters here, and `skip`/`limit` for the SDK report)."""

    page: int | None = None
    skip: int | None = None
    limit: int | None = None
    total_pages: int | None = Field(default=None, alias="totalPages")
    total_docs: int | None = Field(default=None, alias="totalDocs")


class JobDataPage(APIModel):
    """One page of a finished job's rows.

    `totalDocs` (devices, SDK) counts the report's rows; `total` (SDK) adds up their counts, so
    it says nothing about pages.
    """

    data: list[dict[str, Any]]
    meta: JobPageMeta = Field(default_factory=JobPageMeta)
    uid: str | None = None
    total: int | float | None = None
    total_docs: int | None = Field(default=None, alias="totalDocs")
    page: int = 0

    @property
    def docs(self) -> int | None:
        """How many rows the whole report has, when the answer says."""
        return self.total_docs if self.total_docs is not None else self.meta.total_docs

    @property
    def pages(self) -> int | None:
        """How many pages the job has: `totalPages`, or `totalDocs` over `meta.limit`, when known."""
        if self.meta.total_pages is not None:
            return self.meta.total_pages
        if self.docs is not None and self.meta.limit:
            return max(1, -(-self.docs // self.meta.limit))
        return None

    def expects_more(self, rows_read: int, page_size: int, *, paginated: bool) -> bool | None:
        """Whether a page after this one should hold rows: True or False when the answer says
        (`totalPages`, `totalDocs`), else None when only a full page of a paginated job hints
        at more (the caller may ask and take "No data found" as the end). `page_size` counts
        when `meta.limit` does not say."""
        if self.meta.total_pages is not None:
            return self.page + 1 < self.meta.total_pages
        if self.docs is not None:
            return rows_read < self.docs
        if paginated and self.data and len(self.data) >= (self.meta.limit or page_size):
            return None
        return False

    @property
    def next_page(self) -> int | None:
        """The page after this one when the answer says there is one, else None.

        Read alone, a page knows the rows before it from `meta.limit`, or else by assuming the
        pages before it were as long as itself.
        """
        size = self.meta.limit or len(self.data)
        more = self.expects_more(self.page * size + len(self.data), size, paginated=False)
        return self.page + 1 if more else None


def _whole_numbers(meta: dict[str, Any]) -> dict[str, Any]:
    """`meta` without paging fields that are not whole numbers, so an odd one cannot fail a page."""
    paging = ("page", "skip", "limit", "totalPages", "totalDocs")
    return {k: v for k, v in meta.items() if k not in paging or (isinstance(v, int) and not isinstance(v, bool))}


def _whole_number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class AnalyticsAPI:
    """Typed methods for this area; they reach HTTP only through `ContentstackClient.request`."""

    def __init__(self, core: ContentstackClient) -> None:
        self._core = core

    def _org_uid(self) -> str:
        org = self._core.config.organization_uid
        if not org:
            raise AuthenticationError(
                "analytics needs the organization: set CONTENTSTACK_ORGANIZATION_UID", api=Api.ANALYTICS.value
            )
        return org

    async def start_report(
        self,
        report: ReportName,
        from_date: date,
        to_date: date,
        *,
        duration: Duration | None = None,
        services: Sequence[str] | None = None,
        api_key: str | None = None,
        http_status_code: int | None = None,
        cache: CacheStatus | None = None,
    ) -> AnalyticsJob:
        """Starts a report job for the organization and answers its id.

        A report that takes `services` and `duration` always gets both: the given ones, else
        the documented defaults (`["cdn","cma"]`, `day`); its count flag is sent as `true`.
        Filters the report does not take are not sent.

        Raises:
            AuthenticationError: no organization configured, or Contentstack refused the token.
            APIStatusError and subclasses: Contentstack refused the request (400 for a malformed
                parameter).
            MalformedResponseError: the answer carries no job id.
        """
        spec = REPORTS[report]
        params: dict[str, str | int] = {
            "orgUid": self._org_uid(),
            "from": from_date.isoformat(),
            "to": to_date.isoformat(),
        }
        if spec.services:
            chosen = list(services) if services else list(DEFAULT_SERVICES)
            params["services"] = json.dumps(chosen, separators=(",", ":"))
        if spec.duration:
            params["duration"] = duration or DEFAULT_DURATION
        if spec.count_flag is not None:
            params[spec.count_flag] = "true"
        if spec.api_key and api_key:
            params["apiKey"] = api_key
        if spec.http_status_code and http_status_code is not None:
            params["httpStatusCode"] = http_status_code
        if spec.cache and cache is not None:
            params["cache"] = cache
        body = await self._core.request(Api.ANALYTICS, "GET", [spec.path], params=params)
        if not isinstance(body.get("jobId"), str) or not body["jobId"]:
            raise MalformedResponseError("the analytics answer has no jobId", api=Api.ANALYTICS.value)
        return AnalyticsJob.model_validate(body)

    async def job_data(self, job_id: str, page: int = 0) -> JobActive | JobDataPage:
        """One answer of a job: `JobActive` while it is queued or runs, else the rows of page
        `page` (from 0), with measures that arrived as strings read as numbers.

        Raises:
            NotFoundError: no such job ("Job not found"), or no such page ("No data found").
            ServerError: the job failed ("Job failed"), for example for a range over 90 days.
            MalformedResponseError: `data` is there but is not a list of objects.
        """
        body = await self._core.request(
            Api.ANALYTICS, "GET", ["job", job_id, "data"], params={"orgUid": self._org_uid(), "page": page}
        )
        if "data" not in body:
            # "Job waiting" and "Job active" answer 200 without data: the mark is no `data`.
            message = body.get("message")
            return JobActive(message=message if isinstance(message, str) else None)
        rows = body["data"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in cast(list[Any], rows)):
            raise MalformedResponseError("the analytics job's data is not a list of rows", api=Api.ANALYTICS.value)
        meta = body.get("meta")
        total = body.get("total")
        return JobDataPage.model_validate(
            {
                **body,
                "data": [normalize_row(cast(dict[str, Any], r)) for r in cast(list[Any], rows)],
                # Paging facts that are not numbers are left out rather than failing the page.
                "meta": _whole_numbers(cast(dict[str, Any], meta)) if isinstance(meta, dict) else {},
                "totalDocs": _whole_number(body.get("totalDocs")),
                "total": total if isinstance(total, int | float) and not isinstance(total, bool) else None,
                "page": page,
            }
        )
