"""Stack administration: environments, languages, labels, webhooks, delivery tokens and roles.

Each is a CMA collection of the same shape ("CMA | Environment", "CMA | Languages",
"CMA | Labels", "CMA | Webhooks", "CMA | Tokens", "CMA | Roles"): `GET /<path>` answers the
list under its plural key, `POST /<path>` and `PUT /<path>/<key>` take and answer one object
under its singular key with a `notice`, and `DELETE /<path>/<key>` answers a `notice`. One
`AdminResource` describes a collection, and `StackAdminAPI` speaks all of them.

Delivery tokens and webhooks carry secrets: their models keep only what may be shown (a token's
name and environments, never the token; a webhook's target and header names, never a password,
bearer token, client secret or header value), so a secret does not even reach the tools.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cs_mcp.client._answers import list_at, object_at
from cs_mcp.client._models import APIModel, Environment, Locale
from cs_mcp.client._regions import Api
from cs_mcp.guard.permit import Permit

if TYPE_CHECKING:
    from cs_mcp.client._client import ContentstackClient

__all__ = [
    "DELIVERY_TOKENS",
    "ENVIRONMENTS",
    "LABELS",
    "LOCALES",
    "ROLES",
    "WEBHOOKS",
    "AdminResource",
    "DeliveryToken",
    "Label",
    "StackRole",
    "Webhook",
    "Written",
]


class Label(APIModel):
    uid: str
    name: str
    parent: list[str] = Field(default_factory=lambda: [])
    content_types: list[str] = Field(default_factory=lambda: [])


def _objects(value: Any) -> list[dict[str, Any]]:
    """The objects of a list in an answer; anything else in it, or a value that is no list, is dropped."""
    items = cast(list[Any], value) if isinstance(value, list) else []
    return [cast(dict[str, Any], item) for item in items if isinstance(item, dict)]


class Shown(BaseModel):
    """A model that drops every field it does not name: for answers that carry secrets."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)  # as APIModel


class NamedShown(Shown):
    """A stack object named by its uid and a name, its other fields dropped unless named."""

    uid: str
    name: str


class WebhookDestination(Shown):
    target_url: str
    authentication_type: str | None = None
    header_names: list[str] = Field(default_factory=lambda: [], alias="custom_header")

    @field_validator("header_names", mode="before")
    @classmethod
    def _names_only(cls, value: Any) -> list[str]:
        # Custom headers often carry an API key: only their names are kept, never the values.
        return [str(h["header_name"]) for h in _objects(value) if h.get("header_name")]


class Webhook(NamedShown):
    destinations: list[WebhookDestination] = Field(default_factory=lambda: [])
    channels: list[str] = Field(default_factory=lambda: [])
    branches: list[str] = Field(default_factory=lambda: [])
    retry_policy: str | None = None
    disabled: bool = False
    concise_payload: bool | None = None


class DeliveryToken(NamedShown):
    """A delivery token's name and environments; the token itself is dropped when read."""

    description: str | None = None
    environments: list[str] = Field(default_factory=lambda: [], alias="scope")

    @field_validator("environments", mode="before")
    @classmethod
    def _environment_names(cls, value: Any) -> list[str]:
        # `scope` lists modules; the `environment` module names the environments it reads.
        names: list[str] = []
        for module in _objects(value):
            if module.get("module") == "environment":
                for env in cast(list[Any], module.get("environments") or []):
                    name: object = cast(dict[str, Any], env).get("name") if isinstance(env, dict) else env
                    if isinstance(name, str):
                        names.append(name)
        return names


class StackRole(NamedShown):
    """A stack role's name and how many users hold it (the answer's stack object, with its
    keys, is dropped)."""

    description: str | None = None
    users: list[str] = Field(default_factory=lambda: [])


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class AdminResource(Generic[M]):
    """One CMA collection: its path, its keys in bodies and answers, its model, and the
    operation names of its writes (`<operation>.create`, `.update`, `.delete`)."""

    path: tuple[str, ...]
    one: str
    many: str
    model: type[M]
    operation: str

    def segments(self, key: str | None = None) -> list[str]:
        return [*self.path, key] if key is not None else list(self.path)


ENVIRONMENTS = AdminResource(("environments",), "environment", "environments", Environment, "environment")
LOCALES = AdminResource(("locales",), "locale", "locales", Locale, "locale")
LABELS = AdminResource(("labels",), "label", "labels", Label, "label")
WEBHOOKS = AdminResource(("webhooks",), "webhook", "webhooks", Webhook, "webhook")
DELIVERY_TOKENS = AdminResource(("stacks", "delivery_tokens"), "token", "tokens", DeliveryToken, "delivery_token")
ROLES = AdminResource(("roles",), "role", "roles", StackRole, "role")


@dataclass(frozen=True)
class Written(Generic[M]):
    """A create or update as Contentstack answered it: its notice and the object."""

    notice: str | None
    item: M


Targets = Mapping[str, Iterable[str]]


class StackAdminAPI:
    """The stack's administration collections, one request each."""

    def __init__(self, core: ContentstackClient) -> None:
        self._core = core

    async def list(self, resource: AdminResource[M]) -> list[M]:
        """Every item of the collection (these lists are short: Contentstack answers them whole).

        Raises:
            MalformedResponseError: the answer has no list under the collection's key.
        """
        body = await self._core.request(Api.CMA, "GET", resource.segments(), params={"include_count": "true"})
        return [resource.model.model_validate(item) for item in list_at(body, resource.many)]

    async def create(
        self, resource: AdminResource[M], fields: Mapping[str, Any], *, permit: Permit | None, targets: Targets
    ) -> Written[M]:
        """Creates one item from `fields`.

        Raises:
            PermitRequiredError: without the guard's permit for `<operation>.create` (nothing sent).
            InvalidRequestError: Contentstack refused the fields.
        """
        return await self._write(resource, "POST", None, fields, permit, targets, "create")

    async def update(
        self,
        resource: AdminResource[M],
        key: str,
        fields: Mapping[str, Any],
        *,
        permit: Permit | None,
        targets: Targets,
    ) -> Written[M]:
        """Saves `fields` on the item `key` (a name, a code or a uid, as the collection keys it).

        Raises:
            PermitRequiredError: without the guard's permit for `<operation>.update` (nothing sent).
            NotFoundError, InvalidRequestError: Contentstack's refusal.
        """
        return await self._write(resource, "PUT", key, fields, permit, targets, "update")

    async def delete(
        self, resource: AdminResource[M], key: str, *, permit: Permit | None, targets: Targets
    ) -> str | None:
        """Deletes the item `key`; answers Contentstack's notice.

        Raises:
            PermitRequiredError: without the guard's permit for `<operation>.delete` (nothing sent).
            NotFoundError: no such item.
        """
        body = await self._core.request(
            Api.CMA,
            "DELETE",
            resource.segments(key),
            permit=permit,
            operation=f"{resource.operation}.delete",
            targets=targets,
        )
        notice = body.get("notice")
        return notice if isinstance(notice, str) else None

    async def _write(
        self,
        resource: AdminResource[M],
        method: str,
        key: str | None,
        fields: Mapping[str, Any],
        permit: Permit | None,
        targets: Targets,
        verb: str,
    ) -> Written[M]:
        body = await self._core.request(
            Api.CMA,
            method,
            resource.segments(key),
            json_body={resource.one: dict(fields)},
            permit=permit,
            operation=f"{resource.operation}.{verb}",
            targets=targets,
        )
        item = object_at(body, resource.one)
        notice = body.get("notice")
        return Written(notice if isinstance(notice, str) else None, resource.model.model_validate(item))
