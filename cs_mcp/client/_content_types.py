"""Content types: create, update, delete ("CMA | Content Types")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cs_mcp.client._answers import object_at
from cs_mcp.client._entry_models import Notice
from cs_mcp.client._models import ContentType
from cs_mcp.client._regions import Api

if TYPE_CHECKING:
    from cs_mcp.client._client import ContentstackClient
    from cs_mcp.guard.permit import Permit


class ContentTypesAPI:
    """Writes content types through the CMA; the stack area (`stack.content_type`) reads them."""

    def __init__(self, core: ContentstackClient) -> None:
        self._core = core

    async def create(self, content_type: Mapping[str, Any], *, permit: Permit | None) -> ContentType:
        """Creates a content type from its whole definition (`uid`, `title`, `schema`,
        `options`, ...), sent as `{"content_type": {...}}`.

        Raises:
            PermitRequiredError: without the guard's permit for `content_type.create` (nothing sent).
            InvalidRequestError: Contentstack refused the definition (a uid taken, a bad field).
        """
        body = await self._core.request(
            Api.CMA,
            "POST",
            ["content_types"],
            json_body={"content_type": dict(content_type)},
            permit=permit,
            operation="content_type.create",
            targets={"content_type": [str(content_type.get("uid", ""))]},
        )
        return ContentType.model_validate(object_at(body, "content_type"))

    async def update(self, uid: str, content_type: Mapping[str, Any], *, permit: Permit | None) -> ContentType:
        """Saves the content type's whole new definition; the schema sent replaces the old one
        (a field left out is removed, with its values in every entry).

        Raises:
            PermitRequiredError: without the guard's permit for `content_type.update` (nothing sent).
            NotFoundError, InvalidRequestError: Contentstack's refusal.
        """
        body = await self._core.request(
            Api.CMA,
            "PUT",
            ["content_types", uid],
            json_body={"content_type": dict(content_type)},
            permit=permit,
            operation="content_type.update",
            targets={"content_type": [uid]},
        )
        return ContentType.model_validate(object_at(body, "content_type"))

    async def delete(self, uid: str, *, permit: Permit | None) -> str | None:
        """Deletes the content type and every entry of it (`force=true`, which the page asks
        for when entries exist). Answers Contentstack's notice.

        Raises:
            PermitRequiredError: without the guard's permit for `content_type.delete` (nothing sent).
            NotFoundError: no such content type.
        """
        body = await self._core.request(
            Api.CMA,
            "DELETE",
            ["content_types", uid],
            params={"force": "true"},
            permit=permit,
            operation="content_type.delete",
            targets={"content_type": [uid]},
        )
        return Notice.model_validate(body).notice
