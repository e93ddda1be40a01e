"""Releases: list, read, create, update, items, deploy, clone, delete.

A release bundles entries and assets (each with a version, a locale and an action) so that
they can be deployed to environments together. Every write names the release it touches in
its permit targets, plus the environments, content types and locales the guard checked, so the
client's backstop refuses a permit issued for something else.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from cs_mcp.client._answers import object_at, page_at
from cs_mcp.client._models import APIModel, Entry, Page, Timestamped, Versioned
from cs_mcp.client._regions import Api

if TYPE_CHECKING:
    from cs_mcp.client._client import ContentstackClient
    from cs_mcp.guard.permit import Permit

__all__ = ["ASSET_CONTENT_TYPE", "MAX_ITEMS_PER_REQUEST", "Release", "ReleaseItem"]

# Contentstack names assets in release items with this pseudo content type ("CMA | Releases").
ASSET_CONTENT_TYPE = "built_io_upload"
# Items per add or remove request, as Contentstack allows.
MAX_ITEMS_PER_REQUEST = 25

ReleaseAction = Literal["publish", "unpublish"]


class ReleaseArgumentError(ValueError):
    """Raised before anything is sent when a call cannot be sent as asked: more than 25 items
    in one request, no items, nothing to change. It means the caller must split or fix the call."""


class ReleaseItem(APIModel):
    """One item of a release: an entry (content type, uid, locale, version) or an asset."""

    uid: str
    version: int | None = None
    locale: str | None = None
    content_type_uid: str | None = None
    action: str | None = None
    title: str | None = None

    @property
    def key(self) -> tuple[str | None, ...]:
        """What tells one item of a release from another."""
        return (self.content_type_uid, self.uid, self.locale, self.action)

    @property
    def is_asset(self) -> bool:
        return self.content_type_uid == ASSET_CONTENT_TYPE

    def body(self) -> dict[str, Any]:
        """The item as Contentstack's add and remove requests take it."""
        out: dict[str, Any] = {"uid": self.uid, "content_type_uid": self.content_type_uid}
        if self.version is not None:
            out["version"] = self.version
        if self.locale is not None:
            out["locale"] = self.locale
        if self.action is not None:
            out["action"] = self.action
        return out


class Release(Versioned, Timestamped):
    """A release as the CMA answers it. `items` is filled only where the answer carried them;
    read them page by page with `ReleasesAPI.items`."""

    name: str
    description: str | None = None
    locked: bool = False
    archived: bool | None = None
    items: list[ReleaseItem] = Field(default_factory=lambda: [])
    items_count: int | None = None
    status: list[Any] = Field(default_factory=lambda: [])
    created_by: str | None = None
    updated_by: str | None = None


def _notice(body: dict[str, Any]) -> str:
    notice = body.get("notice")
    return notice if isinstance(notice, str) else ""


def _item_targets(items: Sequence[ReleaseItem]) -> dict[str, builtins.list[str]]:
    """The content types and locales the items touch; an asset has no content type to check."""
    return {
        "content_type": sorted({i.content_type_uid for i in items if i.content_type_uid and not i.is_asset}),
        "locale": sorted({i.locale for i in items if i.locale}),
    }


class ReleasesAPI:
    """Typed methods for this area; they reach HTTP only through `ContentstackClient.request`."""

    def __init__(self, core: ContentstackClient) -> None:
        self._core = core
        # The "CMA | Releases" page asks for `release_version: 2.0` from organizations with the
        # latest Releases. Sent by default (ClientConfig.release_version, the
        # CS_MCP_RELEASE_VERSION setting); None omits it.
        self.release_version: str | None = core.config.release_version

    def _headers(self) -> dict[str, str] | None:
        return {"release_version": self.release_version} if self.release_version else None

    # -- reads ---------------------------------------------------------------------------

    async def list(self, *, skip: int = 0, limit: int = 100) -> Page[Release]:
        """One page of releases with the total and each release's item count."""
        body = await self._core.request(
            Api.CMA,
            "GET",
            ["releases"],
            params={"include_count": "true", "include_items_count": "true", "skip": skip, "limit": limit},
            headers=self._headers(),
        )
        return page_at(body, "releases", Release, skip=skip, limit=limit)

    async def get_release(self, uid: str) -> Release:
        """One release.

        Raises:
            NotFoundError: no release with that uid.
        """
        body = await self._core.request(Api.CMA, "GET", ["releases", uid], headers=self._headers())
        return Release.model_validate(object_at(body, "release"))

    async def items(self, uid: str, *, skip: int = 0, limit: int = 100) -> Page[ReleaseItem]:
        """One page of a release's items.

        Raises:
            NotFoundError: no release with that uid.
        """
        body = await self._core.request(
            Api.CMA,
            "GET",
            ["releases", uid, "items"],
            params={"include_count": "true", "skip": skip, "limit": limit},
            headers=self._headers(),
        )
        return page_at(body, "items", ReleaseItem, skip=skip, limit=limit)

    async def all_items(self, uid: str) -> builtins.list[ReleaseItem]:
        """Every item of a release, following pages until the count is reached, a page is
        short, or a page adds no item not already read."""
        found: builtins.list[ReleaseItem] = []
        seen: set[tuple[str | None, ...]] = set()
        skip: int | None = 0
        while skip is not None:
            page = await self.items(uid, skip=skip)
            fresh = [i for i in page.items if i.key not in seen]
            if not fresh:
                break
            seen.update(i.key for i in fresh)
            found.extend(fresh)
            skip = page.next_skip
        return found

    async def latest_entry(self, content_type: str, uid: str, locale: str | None) -> Entry:
        """The entry's latest (draft) version in `locale`, with its publish details and fields.

        Raises:
            NotFoundError: no such entry (or content type).
        """
        params: dict[str, str | int | float | bool | None] = {"include_publish_details": "true"}
        if locale:
            params["locale"] = locale
        body = await self._core.request(Api.CMA, "GET", ["content_types", content_type, "entries", uid], params=params)
        return Entry.model_validate(object_at(body, "entry"))

    async def latest_entry_version(self, content_type: str, uid: str, locale: str | None) -> int | None:
        """The entry's latest `_version` in `locale` (None if Contentstack did not say).

        Raises:
            NotFoundError: no such entry.
        """
        return (await self.latest_entry(content_type, uid, locale)).version

    async def latest_asset_version(self, uid: str) -> int | None:
        """The asset's latest `_version` (None if Contentstack did not say).

        Raises:
            NotFoundError: no such asset.
        """
        body = await self._core.request(Api.CMA, "GET", ["assets", uid])
        version = object_at(body, "asset").get("_version")
        return version if isinstance(version, int) and not isinstance(version, bool) else None

    # -- writes --------------------------------------------------------------------------

    async def create(self, name: str, description: str | None, *, permit: Permit) -> Release:
        """Creates an empty, unlocked release."""
        release: dict[str, Any] = {"name": name, "locked": False, "archived": False}
        if description is not None:
            release["description"] = description
        body = await self._write("POST", None, [], "release.create", permit, json_body={"release": release})
        return Release.model_validate(object_at(body, "release"))

    async def update(
        self,
        uid: str,
        *,
        name: str | None = None,
        description: str | None = None,
        locked: bool | None = None,
        permit: Permit,
    ) -> Release:
        """Changes a release's name, description or lock; fields left None are not sent.

        Raises:
            ReleaseArgumentError: nothing to change.
            NotFoundError: no release with that uid.
        """
        release: dict[str, Any] = {}
        if name is not None:
            release["name"] = name
        if description is not None:
            release["description"] = description
        if locked is not None:
            release["locked"] = locked
        if not release:
            raise ReleaseArgumentError("an update needs at least one of name, description, locked")
        body = await self._write("PUT", uid, [], "release.update", permit, json_body={"release": release})
        return Release.model_validate(object_at(body, "release"))

    async def delete(self, uid: str, *, permit: Permit) -> str:
        """Deletes a release (not its entries); answers Contentstack's notice.

        Raises:
            NotFoundError: no release with that uid.
        """
        body = await self._write("DELETE", uid, [], "release.delete", permit)
        return _notice(body)

    async def add_items(self, uid: str, items: Sequence[ReleaseItem], *, permit: Permit) -> str:
        """Adds up to 25 items in one request; answers Contentstack's notice.

        Raises:
            ReleaseArgumentError: no items, or more than 25 (split them; Contentstack refuses more).
            NotFoundError: no release with that uid.
        """
        self._check_batch(items)
        return await self._items_request("POST", uid, items, permit=permit, operation="release.add_items")

    async def remove_items(
        self, uid: str, items: Sequence[ReleaseItem] = (), *, all: bool = False, permit: Permit
    ) -> str:
        """Removes up to 25 items in one request, or every item with `all=True`.

        With `all=True`, `items` are the release's items as the caller read them: the "CMA |
        Releases" page documents `DELETE /releases/{uid}/items?all=true` with a JSON body of
        `items` (and `Content-Type: application/json`), so they travel as that body, and the
        permit must cover their content types and locales. Contentstack empties the release
        whatever the body lists, items added after the caller's read too, so `remove_release_items`
        names its items instead.

        Raises:
            ReleaseArgumentError: neither items nor all; more than 25 items without all.
            NotFoundError: no release with that uid.
        """
        if not all:
            self._check_batch(items)
        return await self._items_request(
            "DELETE",
            uid,
            items,
            params={"all": "true"} if all else None,
            permit=permit,
            operation="release.remove_items",
        )

    async def _items_request(
        self,
        method: str,
        uid: str,
        items: Sequence[ReleaseItem],
        *,
        params: dict[str, str] | None = None,
        permit: Permit,
        operation: str,
    ) -> str:
        """Sends `items` to the release's items endpoint (add or remove); answers the notice."""
        body = await self._write(
            method,
            uid,
            ["items"],
            operation,
            permit,
            params=params,
            json_body={"items": [i.body() for i in items]},
            targets=_item_targets(items),
        )
        return _notice(body)

    async def deploy(
        self,
        uid: str,
        *,
        environments: Sequence[str],
        locales: Sequence[str] | None = None,
        action: ReleaseAction = "publish",
        scheduled_at: str | None = None,
        items: Sequence[ReleaseItem] = (),
        permit: Permit,
    ) -> str:
        """Deploys (publishes or unpublishes) every item of the release to `environments`.

        `items` are the release's items as the caller checked them: the permit must cover their
        content types and locales too, so a permit for a narrower release cannot deploy this one.

        Raises:
            ReleaseArgumentError: no environments.
            NotFoundError: no release with that uid.
        """
        if not environments:
            raise ReleaseArgumentError("a deploy needs at least one environment")
        release: dict[str, Any] = {"environments": builtins.list(environments), "action": action}
        if locales:
            release["locales"] = builtins.list(locales)
        if scheduled_at:
            release["scheduled_at"] = scheduled_at
        targets = _item_targets(items)
        targets["locale"] = sorted(set(targets["locale"]) | set(locales or ()))
        body = await self._write(
            "POST",
            uid,
            ["deploy"],
            "release.deploy",
            permit,
            json_body={"release": release},
            targets={"environment": builtins.list(environments), **targets},
        )
        return _notice(body)

    async def clone(self, uid: str, name: str, description: str | None, *, permit: Permit) -> Release:
        """Copies a release (its items included) under a new name; answers the copy.

        Raises:
            NotFoundError: no release with that uid.
        """
        release: dict[str, Any] = {"name": name}
        if description is not None:
            release["description"] = description
        body = await self._write("POST", uid, ["clone"], "release.clone", permit, json_body={"release": release})
        return Release.model_validate(object_at(body, "release"))

    async def _write(
        self,
        method: str,
        uid: str | None,
        tail: builtins.list[str],
        operation: str,
        permit: Permit,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        targets: dict[str, builtins.list[str]] | None = None,
    ) -> dict[str, Any]:
        """A guarded write to the release `uid` (None: a new release) or below it (`tail`), with
        the Releases API's version header; the permit must be the guard's for `operation` on
        the release and `targets`.

        Raises:
            PermitRequiredError: it is not (nothing sent).
            APIStatusError: Contentstack's refusal, as `request` raises it.
        """
        release = [] if uid is None else [uid]
        bound = {"release": release} if release else {}  # a new release has no uid to bind yet
        return await self._core.request(
            Api.CMA,
            method,
            ["releases", *release, *tail],
            params=params,
            json_body=json_body,
            headers=self._headers(),
            permit=permit,
            operation=operation,
            targets={**bound, **(targets or {})},
        )

    @staticmethod
    def _check_batch(items: Sequence[ReleaseItem]) -> None:
        if not items:
            raise ReleaseArgumentError("no items to send")
        if len(items) > MAX_ITEMS_PER_REQUEST:
            raise ReleaseArgumentError(
                f"{len(items)} items in one request; Contentstack takes at most {MAX_ITEMS_PER_REQUEST}: split them"
            )
