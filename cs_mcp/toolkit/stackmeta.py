"""Stack metadata cached per process: environments, locales, content types and their schemas.

Tools validate names against it (so an error can list what exists) and completions read it.
Environments and locales are re-read after a minute; a schema is re-read on request, which a
tool does when Contentstack refuses a write as invalid (the schema may have changed).
"""

from __future__ import annotations

import time

from cs_mcp.client import ContentstackClient, ContentType, Environment, Locale

TTL_SECONDS = 60.0


class StackMetadata:
    def __init__(self, client: ContentstackClient) -> None:
        self._client = client
        self._environments: tuple[float, list[Environment]] | None = None
        self._locales: tuple[float, list[Locale]] | None = None
        self._content_types: tuple[float, list[ContentType]] | None = None
        self._schemas: dict[str, ContentType] = {}

    def _fresh(self, entry: tuple[float, object] | None) -> bool:
        return entry is not None and time.monotonic() - entry[0] < TTL_SECONDS

    async def environments(self) -> list[Environment]:
        if not self._fresh(self._environments):
            self._environments = (time.monotonic(), await self._client.stack.environments())
        assert self._environments is not None
        return self._environments[1]

    async def environment_names(self) -> list[str]:
        return [e.name for e in await self.environments()]

    async def locales(self) -> list[Locale]:
        if not self._fresh(self._locales):
            self._locales = (time.monotonic(), await self._client.stack.locales())
        assert self._locales is not None
        return self._locales[1]

    async def locale_codes(self) -> list[str]:
        return [loc.code for loc in await self.locales()]

    async def master_locale(self) -> str | None:
        """Contentstack's master locale: the one that falls back to none (Contentstack also
        answers it as falling back to itself)."""
        for loc in await self.locales():
            if not loc.fallback_locale or loc.fallback_locale == loc.code:
                return loc.code
        return None

    async def content_types(self) -> list[ContentType]:
        if not self._fresh(self._content_types):
            found = await self._client.stack.all_content_types()
            self._content_types = (time.monotonic(), found)
            self._schemas.update({ct.uid: ct for ct in found})
        assert self._content_types is not None
        return self._content_types[1]

    async def content_type(self, uid: str, *, refresh: bool = False) -> ContentType:
        """One content type with its schema, cached until `refresh`.

        Raises:
            NotFoundError: no such content type.
        """
        if refresh or uid not in self._schemas:
            self._schemas[uid] = await self._client.stack.content_type(uid)
        return self._schemas[uid]

    def forget(self) -> None:
        """Drops everything cached."""
        self._environments = self._locales = self._content_types = None
        self._schemas.clear()
