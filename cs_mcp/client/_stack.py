"""Stack metadata: content types, environments, locales."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cs_mcp.client._admin import ENVIRONMENTS, LOCALES
from cs_mcp.client._answers import object_at, page_at
from cs_mcp.client._models import ContentType, Environment, Locale, Page
from cs_mcp.client._regions import Api

if TYPE_CHECKING:
    from cs_mcp.client._client import ContentstackClient


class StackAPI:
    """Reads the stack's structure from the CMA."""

    def __init__(self, core: ContentstackClient) -> None:
        self._core = core

    async def content_types(self, *, skip: int = 0, limit: int = 100) -> Page[ContentType]:
        """One page of content types, with their schemas and the total count."""
        body = await self._core.request(
            Api.CMA,
            "GET",
            ["content_types"],
            params={"include_count": "true", "skip": skip, "limit": limit, "include_global_field_schema": "true"},
        )
        return page_at(body, "content_types", ContentType, skip=skip, limit=limit)

    async def all_content_types(self) -> list[ContentType]:
        """Every content type, following pages until the count is reached, a page is short, or
        a page adds no content type not already read."""
        found: dict[str, ContentType] = {}
        skip: int | None = 0
        while skip is not None:
            page = await self.content_types(skip=skip)
            fresh = [ct for ct in page.items if ct.uid not in found]
            if not fresh:
                break
            found.update((ct.uid, ct) for ct in fresh)
            skip = page.next_skip
        return list(found.values())

    async def content_type(self, uid: str) -> ContentType:
        """One content type with its schema.

        Raises:
            NotFoundError: no content type with that uid.
        """
        body = await self._core.request(
            Api.CMA, "GET", ["content_types", uid], params={"include_global_field_schema": "true"}
        )
        return ContentType.model_validate(object_at(body, "content_type"))

    async def environments(self) -> list[Environment]:
        return await self._core.admin.list(ENVIRONMENTS)

    async def locales(self) -> list[Locale]:
        return await self._core.admin.list(LOCALES)
