"""Assets and asset folders: read one, upload, replace, update, delete, folders, references
("CMA | Assets")."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field

from cs_mcp.client._answers import list_at, object_at, page_at
from cs_mcp.client._client import Multipart
from cs_mcp.client._entry_models import Asset, Notice
from cs_mcp.client._models import APIModel, Page, PublishDetail
from cs_mcp.client._regions import Api

if TYPE_CHECKING:
    from cs_mcp.client._client import ContentstackClient, Primitive
    from cs_mcp.guard.permit import Permit

__all__ = ["ROOT_FOLDER", "AssetFile", "AssetReference", "Folder", "FolderStep"]

# The folder of the stack's top level, as `folder` names it ("CMA | Assets", Get all assets).
ROOT_FOLDER = "cs_root"


@dataclass(frozen=True)
class AssetFile:
    """A file to upload: its name, its bytes and its media type."""

    filename: str
    content: bytes
    media_type: str


class FolderStep(APIModel):
    """One folder on the way to another (`path` of "Get a single folder")."""

    uid: str
    name: str | None = None


class Folder(Asset):
    """An asset folder: an asset with `is_dir: true`, a name, and with `include_path` its path."""

    name: str | None = None
    path: list[FolderStep] = Field(default_factory=lambda: [])


class AssetReference(APIModel):
    """An entry that uses an asset ("Get asset references")."""

    entry_uid: str
    content_type_uid: str
    locale: str | None = None
    version: int | None = Field(default=None, alias="_version")
    title: str | None = None
    content_type_title: str | None = None
    publish_details: list[PublishDetail] = Field(default_factory=lambda: [])


def _details(
    prefix: str, *, title: str | None, description: str | None, tags: Sequence[str] | None, parent_uid: str | None
) -> list[tuple[str, str]]:
    """The optional `asset[...]` form fields; tags travel comma-separated in one field."""
    fields: list[tuple[str, str]] = []
    if parent_uid is not None:
        fields.append((f"{prefix}[parent_uid]", parent_uid))
    if title is not None:
        fields.append((f"{prefix}[title]", title))
    if description is not None:
        fields.append((f"{prefix}[description]", description))
    if tags is not None:
        fields.append((f"{prefix}[tags]", ",".join(tags)))
    return fields


class AssetsAPI:
    """Writes assets and folders through the CMA, and reads what the asset tools need."""

    def __init__(self, core: ContentstackClient) -> None:
        self._core = core

    async def get(self, uid: str, *, version: int | None = None) -> Asset:
        """One asset (or folder), with where it is published; `version` for an older one.

        Raises:
            NotFoundError: no such asset (or version).
        """
        params: list[tuple[str, Primitive]] = [("include_publish_details", "true")]
        if version is not None:
            params.append(("version", version))
        body = await self._core.request(Api.CMA, "GET", ["assets", uid], params=params)
        return Asset.model_validate(object_at(body, "asset"))

    async def folders(self, *, parent: str | None = None, skip: int = 0, limit: int = 100) -> Page[Folder]:
        """One page of the folders directly inside `parent` (None: the top level), as "Get
        subfolders of a parent folder" asks for them."""
        params: list[tuple[str, Primitive]] = [
            ("include_folders", "true"),
            ("query", json.dumps({"is_dir": True}, separators=(",", ":"))),
            ("folder", parent or ROOT_FOLDER),
            ("include_count", "true"),
            ("skip", skip),
            ("limit", limit),
        ]
        body = await self._core.request(Api.CMA, "GET", ["assets"], params=params)
        return page_at(body, "assets", Folder, skip=skip, limit=limit)

    async def folder(self, uid: str) -> Folder:
        """One folder with its path ("Get a single folder", `include_path=true`).

        Raises:
            NotFoundError: no such folder.
        """
        body = await self._core.request(Api.CMA, "GET", ["assets", "folders", uid], params={"include_path": "true"})
        return Folder.model_validate(object_at(body, "asset"))

    async def references(self, uid: str) -> list[AssetReference]:
        """The entries that use the asset ("Get asset references"), with where each is published.

        Raises:
            NotFoundError: no such asset.
        """
        body = await self._core.request(
            Api.CMA,
            "GET",
            ["assets", uid, "references"],
            params={"include_count": "true", "include_publish_details": "true"},
        )
        return [AssetReference.model_validate(r) for r in list_at(body, "references")]

    async def upload(
        self,
        file: AssetFile,
        *,
        title: str | None = None,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        parent_uid: str | None = None,
        permit: Permit | None,
    ) -> Asset:
        """Uploads a new asset as multipart form data ("Upload asset"): `asset[upload]` and the
        optional `asset[parent_uid]`, `asset[title]`, `asset[description]`, `asset[tags]`.

        Raises:
            PermitRequiredError: without the guard's permit for `asset.upload` (nothing sent).
            InvalidRequestError: Contentstack refused the file or its details.
        """
        form = Multipart(
            fields=_details("asset", title=title, description=description, tags=tags, parent_uid=parent_uid),
            files=[("asset[upload]", (file.filename, file.content, file.media_type))],
        )
        body = await self._core.request(
            Api.CMA,
            "POST",
            ["assets"],
            params={"include_dimension": "true"},
            multipart=form,
            permit=permit,
            operation="asset.upload",
        )
        return Asset.model_validate(object_at(body, "asset"))

    async def replace(
        self,
        uid: str,
        file: AssetFile,
        *,
        title: str | None = None,
        description: str | None = None,
        permit: Permit | None,
    ) -> Asset:
        """Replaces the asset's file ("Replace asset"): a new version of the same asset.

        Raises:
            PermitRequiredError: without the guard's permit for `asset.replace` (nothing sent).
            NotFoundError, InvalidRequestError: Contentstack's refusal.
        """
        form = Multipart(
            fields=_details("asset", title=title, description=description, tags=None, parent_uid=None),
            files=[("asset[upload]", (file.filename, file.content, file.media_type))],
        )
        body = await self._core.request(
            Api.CMA, "PUT", ["assets", uid], multipart=form, permit=permit, operation="asset.replace"
        )
        return Asset.model_validate(object_at(body, "asset"))

    async def update(
        self,
        uid: str,
        *,
        title: str | None = None,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        permit: Permit | None,
    ) -> Asset:
        """Changes the asset's details, not its file ("Update asset"): the raw body
        `{"asset": {"title", "description", "tags"}}` with only what is given.

        Raises:
            PermitRequiredError: without the guard's permit for `asset.update` (nothing sent).
            NotFoundError, InvalidRequestError: Contentstack's refusal.
        """
        details: dict[str, Any] = {}
        if title is not None:
            details["title"] = title
        if description is not None:
            details["description"] = description
        if tags is not None:
            details["tags"] = list(tags)
        body = await self._core.request(
            Api.CMA, "PUT", ["assets", uid], json_body={"asset": details}, permit=permit, operation="asset.update"
        )
        return Asset.model_validate(object_at(body, "asset"))

    async def delete(self, uid: str, *, environments: Sequence[str], permit: Permit | None) -> str | None:
        """Deletes the asset (all its versions; it leaves every environment it was published
        to, named in `environments` so the permit must cover them). Answers the notice.

        Raises:
            PermitRequiredError: without the guard's permit for `asset.delete` (nothing sent).
            NotFoundError: no such asset.
        """
        body = await self._core.request(
            Api.CMA,
            "DELETE",
            ["assets", uid],
            permit=permit,
            operation="asset.delete",
            targets={"environment": list(environments)},
        )
        return Notice.model_validate(body).notice

    async def create_folder(self, name: str, *, parent_uid: str | None = None, permit: Permit | None) -> Folder:
        """Creates an asset folder ("Create a folder"), inside `parent_uid` if given.

        Raises:
            PermitRequiredError: without the guard's permit for `asset.folder.create` (nothing sent).
            InvalidRequestError: Contentstack refused (a name taken, too deep, too many folders).
        """
        folder: dict[str, Any] = {"name": name}
        if parent_uid is not None:
            folder["parent_uid"] = parent_uid
        body = await self._core.request(
            Api.CMA,
            "POST",
            ["assets", "folders"],
            json_body={"asset": folder},
            permit=permit,
            operation="asset.folder.create",
        )
        return Folder.model_validate(object_at(body, "asset"))
