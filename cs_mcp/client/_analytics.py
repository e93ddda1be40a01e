"""Analytics v2: report jobs and their data.

Every report request answers a job id; the rows come from the job's data endpoint, page by
page, once the job is no longer "Job active" (FACTS.md section 7). This module starts jobs
and reads one answer of a job at a time; waiting, windows and merging belong to the tool.
"""

from __future__ import annotations

import json
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

ReportName = Literal["usage", "devices", "status_codes", "cache", "sdk", "top_urls", "subscription"]
Duration = Literal["day", "week", "month"]
CacheStatus = Literal["HIT", "MISS"]

SERVICES = ("cma", "cdn", "ui", "graphql", "images", "assets", "automations", "launch")
# Contentstack fails a job whose range spans more days than this.
MAX_RANGE_DAYS = 90


@dataclass(frozen=True)
class ReportSpec:
    """A report: its path under `/analytics/v2` and which optional filters it takes."""

    path: str
    services: bool = True
    duration: bool = True
    api_key: bool = True
    http_status_code: bool = False
    cache: bool = False


REPORTS: dict[ReportName, ReportSpec] = {
    "usage": ReportSpec("usage"),
    "devices": ReportSpec("devices", api_key=False),
    "status_codes": ReportSpec("http-statuses", http_status_code=True),
    "cache": ReportSpec("hit-miss-ratio", cache=True),
    "sdk": ReportSpec("sdk"),
    "top_urls": ReportSpec("url"),
    "subscription": ReportSpec("subscription", services=False, duration=False, api_key=False),
}


class AnalyticsJob(APIModel):
    """A started report job."""

    job_id: str = Field(alias="jobId", min_length=1)
    paginated: bool = False


class JobActive(APIModel):
    """The job is still running: Contentstack answered without `data` (usually "Job active")."""

    message: str | None = None


class JobPageMeta(APIModel):
    """What a data page says about the pages of its job (every field may be missing)."""

    page: int | None = None
    limit: int | None = None
    total_pages: int | None = Field(default=None, alias="totalPages")
    total_docs: int | None = Field(default=None, alias="totalDocs")


class JobDataPage(APIModel):
    """One page of a finished job's rows."""

    data: list[dict[str, Any]]
    meta: JobPageMeta = Field(default_factory=JobPageMeta)
    uid: str | None = None
    total: int | None = None
    page: int = 0

    @property
    def next_page(self) -> int | None:
        """The page after this one, or None when this is the last (or the count is unknown)."""
        pages = self.meta.total_pages
        if pages is not None:
            return self.page + 1 if self.page + 1 < pages else None
        return None


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
        if spec.duration and duration is not None:
            params["duration"] = duration
        if spec.services and services:
            params["services"] = json.dumps(list(services), separators=(",", ":"))
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
        """One answer of a job: `JobActive` while it runs, else the rows of page `page` (from 0).

        Raises:
            NotFoundError: no such job, or no such page (past the last one).
            ServerError: the job failed ("Job Failed"), for example for a range over 90 days.
            MalformedResponseError: `data` is there but is not a list of objects.
        """
        body = await self._core.request(
            Api.ANALYTICS, "GET", ["job", job_id, "data"], params={"orgUid": self._org_uid(), "page": page}
        )
        if "data" not in body:
            # FACTS.md section 7: the running job's body is not documented; its mark is no `data`.
            message = body.get("message")
            return JobActive(message=message if isinstance(message, str) else None)
        rows = body["data"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in cast(list[Any], rows)):
            raise MalformedResponseError("the analytics job's data is not a list of rows", api=Api.ANALYTICS.value)
        meta = body.get("meta")
        return JobDataPage.model_validate({**body, "meta": meta if isinstance(meta, dict) else {}, "page": page})
