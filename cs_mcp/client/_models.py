"""Pydantic models of Contentstack's answers that more than one area uses.

Every model tolerates unknown fields (`extra="allow"`): Contentstack adds fields over time and
an answer must never fail to parse for that.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class APIModel(BaseModel):
    """Base of every answer model: unknown fields are kept, not refused."""

    # Built at its first validation, not at import: a server starts without reading an answer.
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


T = TypeVar("T")


class Page(APIModel, Generic[T]):
    """One page of a skip/limit list: the items, the total when the API counted it, and where
    this page started."""

    items: list[T]
    total: int | None = None
    skip: int = 0
    limit: int = 100

    @property
    def next_skip(self) -> int | None:
        """Where the next page starts, or None when this was the last page."""
        end = self.skip + len(self.items)
        if self.total is not None:
            return end if end < self.total else None
        return end if len(self.items) >= self.limit and self.items else None

    def __class_getitem__(cls, params: Any) -> Any:
        # pydantic caches parametrized generics weakly: with no reference held, `Page[Entry]`
        # was built anew (half a millisecond of class construction) on every list call.
        created = super().__class_getitem__(params)
        _PARAMETRIZED.setdefault((cls, params), created)
        return created


_PARAMETRIZED: dict[tuple[type, Any], Any] = {}


class Timestamped(APIModel):
    """When an object was made and last changed, as Contentstack answers them (ISO 8601 text)."""

    created_at: str | None = None
    updated_at: str | None = None


class Versioned(APIModel):
    """An object the CMA versions: its uid and its `_version`, read as `version`."""

    uid: str
    version: int | None = Field(default=None, alias="_version")


class SchemaField(APIModel):
    """One field of a content type's schema (groups and modular blocks nest further fields)."""

    uid: str
    display_name: str | None = None
    data_type: str
    mandatory: bool = False
    unique: bool = False
    multiple: bool = False
    reference_to: list[str] | str | None = None
    field_metadata: dict[str, Any] = Field(default_factory=lambda: {})
    schema_: list[SchemaField] | None = Field(default=None, alias="schema")
    blocks: list[ModularBlock] | None = None


class ModularBlock(APIModel):
    uid: str
    title: str | None = None
    schema_: list[SchemaField] | None = Field(default=None, alias="schema")
    reference_to: str | None = None


class ContentType(APIModel):
    uid: str
    title: str
    description: str | None = None
    schema_: list[SchemaField] = Field(default_factory=lambda: [], alias="schema")
    updated_at: str | None = None


class Environment(APIModel):
    name: str
    uid: str | None = None
    urls: list[dict[str, Any]] = Field(default_factory=lambda: [])


class Locale(APIModel):
    code: str
    name: str | None = None
    uid: str | None = None
    fallback_locale: str | None = None


class PublishDetail(APIModel):
    environment: str
    locale: str
    version: int | None = None
    time: str | None = None
    user: str | None = None


class ContentItem(Versioned):
    """What entries and assets both answer: a title, tags, the last change and where they
    are published."""

    title: str | None = None
    tags: list[str] = Field(default_factory=lambda: [])
    updated_at: str | None = None
    publish_details: list[PublishDetail] | PublishDetail | None = None


class Entry(ContentItem):
    """An entry as the CMA or the CDA answers it; its fields are the extra attributes."""

    locale: str | None = None


SchemaField.model_rebuild()
