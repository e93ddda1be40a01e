"""Stack metadata cached per process: environments, locales, content types and their schemas.

Tools validate names against it (so an error can list what exists: `check_environments`,
`check_locales`, `check_content_types`, the one wording of each) and completions read it.
Environments and locales are re-read after a minute; a schema is re-read on request, which a
tool does when Contentstack refuses a write as invalid (the schema may have changed).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from cs_mcp.client import ContentstackClient, ContentType, Environment, Locale

TTL_SECONDS = 60.0
# The locale a write lands in when the stack names no master locale (Contentstack's default).
FALLBACK_LOCALE = "en-us"

T = TypeVar("T")


class _Timed(Generic[T]):
    """What `read` answers, read again once it is `TTL_SECONDS` old."""

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._held: tuple[float, T] | None = None

    async def get(self) -> T:
        if self._held is None or time.monotonic() - self._held[0] >= TTL_SECONDS:
            self._held = (time.monotonic(), await self._read())
        return self._held[1]

    def forget(self) -> None:
        self._held = None


class StackMetadata:
    """`default_locale` is the configured locale (CONTENTSTACK_LOCALE), which writes that name
    none land in before the master locale."""

    def __init__(self, client: ContentstackClient, default_locale: str | None = None) -> None:
        self._client = client
        self._default_locale = default_locale
        self._environments = _Timed(lambda: client.stack.environments())
        self._locales = _Timed(lambda: client.stack.locales())
        self._content_types = _Timed(self._read_content_types)
        self._schemas: dict[str, ContentType] = {}

    async def environments(self) -> list[Environment]:
        return await self._environments.get()

    async def environment_names(self) -> list[str]:
        return [e.name for e in await self.environments()]

    async def environment_names_by_uid(self) -> dict[str, str]:
        """Environment uid -> name: publish records and deployments name environments by uid."""
        return {e.uid: e.name for e in await self.environments() if e.uid}

    async def locales(self) -> list[Locale]:
        return await self._locales.get()

    async def locale_codes(self) -> list[str]:
        return [loc.code for loc in await self.locales()]

    async def master_locale(self) -> str | None:
        """Contentstack's master locale: the one that falls back to none (Contentstack also
        answers it as falling back to itself)."""
        for loc in await self.locales():
            if not loc.fallback_locale or loc.fallback_locale == loc.code:
                return loc.code
        return None

    async def fallback_chain(self, code: str) -> list[str]:
        """`code`, then the languages it falls back to in turn, each once, ending at the master
        locale. The master ends it also when the fallbacks do not lead there (they loop back, or
        name a language the stack does not have, which is left out): what is read through the
        chain is checked, and the master's version is where unlocalized content comes from. A
        code the stack does not have is its own chain."""
        fallbacks = {loc.code: loc.fallback_locale for loc in await self.locales()}
        if code not in fallbacks:
            return [code]
        chain = [code]
        current = fallbacks[code]
        while current is not None and current in fallbacks and current not in chain:
            chain.append(current)
            current = fallbacks[current]
        master = await self.master_locale()
        if master is not None and master not in chain:
            chain.append(master)
        return chain

    async def write_locale(self, locale: str | None) -> str:
        """The locale a write lands in: `locale`, else the configured one, else the master."""
        return locale or self._default_locale or await self.master_locale() or FALLBACK_LOCALE

    async def check_locales(self, locales: Sequence[str]) -> None:
        """Raises a ToolError naming the stack's locales when one of `locales` is not among them."""
        _check("locale", "locales", locales, await self.locale_codes())

    async def check_environments(self, environments: Sequence[str]) -> None:
        """Raises a ToolError naming the stack's environments when one of `environments` is unknown."""
        _check("environment", "environments", environments, await self.environment_names())

    async def check_content_types(self, uids: Sequence[str]) -> None:
        """Raises a ToolError naming the stack's content types when one of `uids` is unknown."""
        _check("content type", "content types", uids, sorted(c.uid for c in await self.content_types()))

    async def content_type_missing(self, uid: str) -> ToolError:
        """The error for a content type Contentstack did not find, listing the ones that exist."""
        try:
            await self.check_content_types([uid])
        except ToolError as exc:
            return exc
        return ToolError(f"content type {uid} was not found; it may have been deleted a moment ago")

    async def content_types(self) -> list[ContentType]:
        return await self._content_types.get()

    async def _read_content_types(self) -> list[ContentType]:
        found = await self._client.stack.all_content_types()
        self._schemas.update({ct.uid: ct for ct in found})
        return found

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
        for held in (self._environments, self._locales, self._content_types):
            held.forget()
        self._schemas.clear()


def _check(kind: str, kinds: str, names: Sequence[str], known: Sequence[str]) -> None:
    unknown = [name for name in dict.fromkeys(names) if name not in known]
    if unknown:
        raise ToolError(f"{kind} {', '.join(unknown)} does not exist; {kinds} are: {', '.join(known)}")
