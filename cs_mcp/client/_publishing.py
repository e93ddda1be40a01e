"""Publishing: single and bulk publish/unpublish, bulk jobs, the publish queue."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from cs_mcp.client._entry_models import (
    BulkAsset,
    BulkEntry,
    BulkJob,
    BulkJobItem,
    BulkSubmission,
    Notice,
    PublishAction,
    PublishQueueItem,
)
from cs_mcp.client._exceptions import MalformedResponseError, NotFoundError
from cs_mcp.client._models import Page
from cs_mcp.client._regions import Api

if TYPE_CHECKING:
    from cs_mcp.client._client import ContentstackClient, Primitive
    from cs_mcp.guard.permit import Permit

__all__ = ["BULK_MAX_ENVIRONMENTS", "BULK_MAX_ITEMS", "BULK_MAX_LOCALES"]

# Contentstack's limits on one bulk request ("CMA | Bulk Operations").
BULK_MAX_ITEMS = 10
BULK_MAX_LOCALES = 10
BULK_MAX_ENVIRONMENTS = 10


# "CMA | Job Status" (job and job items) and "CMA | Publish Queue" (list, single row, cancel)
# mark the header `api_version: 3.2` required.
BULK_JOB_HEADERS = {"api_version": "3.2"}
PUBLISH_QUEUE_HEADERS = BULK_JOB_HEADERS
# "Job items" answers at most 100 rows a page.
BULK_JOB_ITEMS_PAGE = 100


class PublishingAPI:
    """Publishes and unpublishes entries and assets, one at a time or in bulk, and reads and
    edits the publish queue."""

    def __init__(self, core: ContentstackClient) -> None:
        self._core = core

    async def entry(
        self,
        action: PublishAction,
        content_type: str,
        uid: str,
        *,
        environments: Sequence[str],
        locales: Sequence[str],
        locale: str,
        version: int,
        scheduled_at: str | None = None,
        permit: Permit | None,
    ) -> str | None:
        """Publishes (or unpublishes) version `version` of the entry's `locale` version to every
        environment and locale named, now or at `scheduled_at`. Answers Contentstack's notice.

        Raises:
            PermitRequiredError: without the guard's permit for `entry.publish`/`entry.unpublish`.
            NotFoundError, InvalidRequestError: Contentstack's refusal.
        """
        return await self._one(
            "entry",
            ["content_types", content_type, "entries", uid, action],
            {"locale": locale, "version": version},
            environments=environments,
            locales=locales,
            scheduled_at=scheduled_at,
            permit=permit,
            operation=f"entry.{action}",
            targets={"content_type": [content_type], "environment": environments, "locale": [*locales, locale]},
        )

    async def asset(
        self,
        action: PublishAction,
        uid: str,
        *,
        environments: Sequence[str],
        locales: Sequence[str],
        version: int,
        scheduled_at: str | None = None,
        permit: Permit | None,
    ) -> str | None:
        """Publishes (or unpublishes) version `version` of an asset to the environments and locales.

        Raises:
            PermitRequiredError: without the guard's permit for `asset.publish`/`asset.unpublish`.
            NotFoundError, InvalidRequestError: Contentstack's refusal.
        """
        return await self._one(
            "asset",
            ["assets", uid, action],
            {"version": version},
            environments=environments,
            locales=locales,
            scheduled_at=scheduled_at,
            permit=permit,
            operation=f"asset.{action}",
            targets={"environment": environments, "locale": locales},
        )

    async def _one(
        self,
        kind: str,
        path: list[str],
        fields: dict[str, Any],
        *,
        environments: Sequence[str],
        locales: Sequence[str],
        scheduled_at: str | None,
        permit: Permit | None,
        operation: str,
        targets: dict[str, Sequence[str]],
    ) -> str | None:
        """Publishes or unpublishes one entry or asset (`kind`): the body names the
        environments and locales under `kind`, then `fields`, then when."""
        body: dict[str, Any] = {kind: {"environments": list(environments), "locales": list(locales)}, **fields}
        if scheduled_at:
            body["scheduled_at"] = scheduled_at
        answer = await self._core.request(
            Api.CMA, "POST", path, json_body=body, permit=permit, operation=operation, targets=targets
        )
        return Notice.model_validate(answer).notice

    async def bulk(
        self,
        action: PublishAction,
        *,
        entries: Sequence[BulkEntry],
        assets: Sequence[BulkAsset],
        environments: Sequence[str],
        locales: Sequence[str],
        scheduled_at: str | None = None,
        permit: Permit | None,
    ) -> BulkSubmission:
        """Sends one bulk publish (or unpublish) request, paced at the bulk limit (1/s).

        Raises:
            ValueError: more than 10 items, locales or environments (nothing sent; split first).
            PermitRequiredError: without the guard's permit for `bulk.publish`/`bulk.unpublish`.
            InvalidRequestError: Contentstack's refusal.
        """
        if not entries and not assets:
            raise ValueError("a bulk request needs at least one entry or asset")
        if len(entries) + len(assets) > BULK_MAX_ITEMS:
            raise ValueError(f"a bulk request holds at most {BULK_MAX_ITEMS} items")
        if not 0 < len(locales) <= BULK_MAX_LOCALES:
            raise ValueError(f"a bulk request names 1 to {BULK_MAX_LOCALES} locales")
        if not 0 < len(environments) <= BULK_MAX_ENVIRONMENTS:
            raise ValueError(f"a bulk request names 1 to {BULK_MAX_ENVIRONMENTS} environments")
        body: dict[str, Any] = {
            "entries": [e.model_dump() for e in entries],
            "assets": [a.model_dump() for a in assets],
            "locales": list(locales),
            "environments": list(environments),
        }
        if scheduled_at:
            body["scheduled_at"] = scheduled_at
        answer = await self._core.request(
            Api.CMA,
            "POST",
            ["bulk", action],
            json_body=body,
            permit=permit,
            operation=f"bulk.{action}",
            targets={
                "content_type": sorted({e.content_type for e in entries}),
                "environment": environments,
                "locale": sorted({*locales, *(e.locale for e in entries)}),
            },
            bulk=True,
        )
        return BulkSubmission.model_validate(answer)

    async def bulk_job(self, job_id: str) -> BulkJob:
        """A bulk job's status, with its items' results when the job answer carries none.

        Contentstack's "CMA | Job Status" page asks for the `api_version: 3.2` header, answers
        the job at the top level (older answers wrap it in `job`), and serves per-item results
        from `GET /bulk/jobs/{job_id}/items`.

        Raises:
            NotFoundError: no such job.
        """
        answer = await self._core.request(Api.CMA, "GET", ["bulk", "jobs", job_id], headers=BULK_JOB_HEADERS)
        wrapped = answer.get("job")
        job = BulkJob.model_validate(wrapped if isinstance(wrapped, dict) else answer)
        if not job.items:
            job.items = await self.bulk_job_items(job_id)
        return job

    async def bulk_job_items(self, job_id: str) -> list[BulkJobItem]:
        """Every per-item result of a bulk job (empty when Contentstack has none to give).

        Pages of at most 100 rows (`skip`/`limit`, with `include_count` for `total_count`), read
        until the count is reached, a page comes back short without a count, or a page adds no
        row not already read (a server that ignores `skip` would otherwise be read forever).
        """
        items: list[BulkJobItem] = []
        seen: set[str] = set()
        skip = 0
        while True:
            params: dict[str, Primitive] = {"include_count": "true", "skip": skip, "limit": BULK_JOB_ITEMS_PAGE}
            try:
                answer = await self._core.request(
                    Api.CMA, "GET", ["bulk", "jobs", job_id, "items"], params=params, headers=BULK_JOB_HEADERS
                )
            except NotFoundError:
                return items
            rows = answer.get("items")
            if not isinstance(rows, list):
                return items
            page = [cast(dict[str, Any], row) for row in cast(list[Any], rows) if isinstance(row, dict)]
            fresh = 0
            for row in page:
                key = json.dumps(row, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    items.append(BulkJobItem.model_validate(row))
                    fresh += 1
            skip += len(page)
            total = answer.get("total_count", answer.get("count"))
            if not fresh or (isinstance(total, int) and skip >= total):
                return items
            if not isinstance(total, int) and len(page) < BULK_JOB_ITEMS_PAGE:
                return items

    async def queue(self, *, skip: int = 0, limit: int = 100) -> Page[PublishQueueItem]:
        """One page of the publish queue, newest first as Contentstack lists it (the API
        documents no filters by environment or status: callers filter the rows)."""
        params: dict[str, Primitive] = {"include_count": "true", "skip": skip, "limit": limit}
        answer = await self._core.request(
            Api.CMA, "GET", ["publish-queue"], params=params, headers=PUBLISH_QUEUE_HEADERS
        )
        rows = answer.get("queue")
        if not isinstance(rows, list):
            raise MalformedResponseError("the answer has no list under 'queue'")
        items = [PublishQueueItem.model_validate(row) for row in cast(list[Any], rows)]
        count = answer.get("count")
        total = count if isinstance(count, int) and not isinstance(count, bool) else None
        return Page[PublishQueueItem](items=items, total=total, skip=skip, limit=limit)

    async def queue_item(self, queue_uid: str) -> PublishQueueItem:
        """One publish queue row ("CMA | Publish Queue" answers it under `entry`).

        Raises:
            NotFoundError: no such row.
        """
        answer = await self._core.request(Api.CMA, "GET", ["publish-queue", queue_uid], headers=PUBLISH_QUEUE_HEADERS)
        for key in ("entry", "queue", "publish_queue"):
            row = answer.get(key)
            if isinstance(row, dict) and "uid" in row:
                return PublishQueueItem.model_validate(row)
        raise MalformedResponseError("the answer has no publish queue row")

    async def unschedule(self, queue_uid: str, *, environments: Sequence[str], permit: Permit | None) -> str | None:
        """Cancels a scheduled publish, unpublish or deploy. It is a GET that changes state, so
        it travels as a write and needs the guard's permit.

        Raises:
            PermitRequiredError: without the guard's permit for `publish_queue.unschedule`.
            NotFoundError, InvalidRequestError: Contentstack's refusal (already done, say).
        """
        answer = await self._core.request(
            Api.CMA,
            "GET",
            ["publish-queue", queue_uid, "unschedule"],
            headers=PUBLISH_QUEUE_HEADERS,
            permit=permit,
            operation="publish_queue.unschedule",
            targets={"environment": environments},
            write=True,
        )
        return Notice.model_validate(answer).notice
