"""Completions for arguments that name stack objects: content types, environments, locales, releases.

MCP completes prompt arguments and resource template parameters. A prompt argument is
completed by its name (`content_type`, `environment(s)`, `locale(s)`, `release_uid`); the
`{uid}` of `contentstack://content-types/{uid}` and `contentstack://releases/{uid}` by the
template. Values come from the cached stack metadata (release uids from a short cache of the
first page of releases), are matched by prefix, case-insensitively, at most 100 at a time, and
only for a caller whose role may read that kind of object. A plural argument is a
comma-separated list: its last item is completed and the earlier ones are kept.

Completion is a convenience: when Contentstack fails, the answer is simply empty.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakKeyDictionary

from mcp.server import MCPServer
from mcp_types import Completion, CompletionArgument, CompletionContext, PromptReference, ResourceTemplateReference

from cs_mcp.client import ContentstackClient, ContentstackError
from cs_mcp.config import Capability
from cs_mcp.resources import CONTENT_TYPE_URI, RELEASE_URI, BoundRequest, bound_request, install_request_binding

MAX_VALUES = 100
RELEASES_TTL_SECONDS = 60.0

Source = Callable[[BoundRequest], Awaitable[list[str]]]


async def _content_types(bound: BoundRequest) -> list[str]:
    return sorted(ct.uid for ct in await bound.state.meta.content_types())


async def _environments(bound: BoundRequest) -> list[str]:
    return await bound.state.meta.environment_names()


async def _locales(bound: BoundRequest) -> list[str]:
    return await bound.state.meta.locale_codes()


_release_cache: WeakKeyDictionary[ContentstackClient, tuple[float, list[str]]] = WeakKeyDictionary()


async def _releases(bound: BoundRequest) -> list[str]:
    client = bound.state.client
    cached = _release_cache.get(client)
    if cached is None or time.monotonic() - cached[0] >= RELEASES_TTL_SECONDS:
        page = await client.releases.list(limit=MAX_VALUES)
        cached = (time.monotonic(), [r.uid for r in page.items])
        _release_cache[client] = cached
    return cached[1]


# kind -> (where the values come from, the scope a caller needs to see them)
SOURCES: dict[str, tuple[Source, str]] = {
    "content_type": (_content_types, "cm.content-type:read"),
    "environment": (_environments, "cm.environments.management:read"),
    "locale": (_locales, "cm.languages.management:read"),
    "release": (_releases, "cm.release:read"),
}

# Prompt argument name -> (kind, whether it is a comma-separated list)
PROMPT_ARGUMENTS: dict[str, tuple[str, bool]] = {
    "content_type": ("content_type", False),
    "content_types": ("content_type", True),
    "environment": ("environment", False),
    "environments": ("environment", True),
    "locale": ("locale", False),
    "locales": ("locale", True),
    "release_uid": ("release", False),
}

# Resource template -> parameter -> kind
TEMPLATE_PARAMETERS: dict[str, dict[str, str]] = {
    CONTENT_TYPE_URI: {"uid": "content_type"},
    RELEASE_URI: {"uid": "release"},
}


def _kind_of(ref: PromptReference | ResourceTemplateReference, argument: str) -> tuple[str, bool] | None:
    if isinstance(ref, PromptReference):
        return PROMPT_ARGUMENTS.get(argument)
    kind = TEMPLATE_PARAMETERS.get(ref.uri, {}).get(argument)
    return (kind, False) if kind else None


def match(candidates: list[str], typed: str, *, is_list: bool = False) -> Completion:
    """The candidates that start with what was typed (case-insensitively), at most MAX_VALUES.

    For a list, the last comma-separated item is completed, the items before it are kept in
    front of each value, and items already chosen are not offered again.
    """
    head = ""
    prefix = typed
    chosen: set[str] = set()
    if is_list and "," in typed:
        before, _, prefix = typed.rpartition(",")
        items = [item.strip() for item in before.split(",") if item.strip()]
        chosen = set(items)
        head = ",".join(items) + ","
    prefix = prefix.strip().lower()
    found = [c for c in candidates if c.lower().startswith(prefix) and c not in chosen]
    values = [head + c for c in found[:MAX_VALUES]]
    return Completion(values=values, total=len(found), has_more=len(found) > MAX_VALUES)


async def complete(
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    context: CompletionContext | None,
) -> Completion | None:
    """The completion for one argument, or None when cs-mcp does not complete it."""
    kind = _kind_of(ref, argument.name)
    if kind is None:
        return None
    bound = bound_request()
    if bound is None or bound.principal is None or Capability.CMA not in bound.state.settings.capabilities():
        return None
    source, scope = SOURCES[kind[0]]
    if scope not in bound.state.guard.role_of(bound.principal).scopes:
        return None
    try:
        candidates = await source(bound)
    except ContentstackError:
        return None
    return match(candidates, argument.value, is_list=kind[1])


def register_completions(server: MCPServer[Any]) -> None:
    """Answers `completion/complete` on `server` for the arguments above."""
    install_request_binding(server)
    server.completion()(complete)
