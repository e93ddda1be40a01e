"""Releases: list, read, create, update, items, deploy, clone, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cs_mcp.client._client import ContentstackClient


class ReleasesAPI:
    """Typed methods for this area; they reach HTTP only through `ContentstackClient.request`."""

    def __init__(self, core: ContentstackClient) -> None:
        self._core = core
