"""Pydantic models of Contentstack's answers that more than one area uses.

Every model tolerates unknown fields (`extra="allow"`): Contentstack adds fields over time and
an answer must never fail to parse for that.
"""

from __future__ import annotations

import functools
from typing import Any, Generic, NotRequired, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict  # pydantic reads typing's only from Python 3.12; it depends on this

__all__ = [
    "APIModel",
    "ContentItem",
    "ContentType",
    "Entry",
    "Environment",
    "Locale",
    "Page",
    "PublishDetail",
    "SchemaField",
]


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
    fallback_locale: str | None = None
    uid: str | None = None


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

    @property
    def publish_records(self) -> list[PublishDetail]:
        """`publish_details` as a list: Contentstack answers a single record as an object."""
        details = self.publish_details
        return details if isinstance(details, list) else [details] if details else []


class Entry(ContentItem):
    """An entry as the CMA or the CDA answers it; its fields are the extra attributes."""

    locale: str | None = None


SchemaField.model_rebuild()


# -- entries as the tools answer them --------------------------------------------------------

# `PublishDetail` and `Entry` as typed dicts, strict: a value of another type than the model's
# (say a `_version` of "3", which the model makes 3) is refused instead of converted. Their
# keys are the models' in the models' order (inherited fields first, as the dumps write them);
# the others follow as they came.
_STRICT = ConfigDict(extra="allow", strict=True)


@with_config(_STRICT)
class _PlainPublishDetail(TypedDict):
    environment: str
    locale: str
    version: NotRequired[int | None]
    time: NotRequired[str | None]
    user: NotRequired[str | None]


@with_config(_STRICT)
class _PlainEntry(TypedDict):
    uid: str
    _version: NotRequired[int | None]
    title: NotRequired[str | None]
    tags: NotRequired[list[str]]
    updated_at: NotRequired[str | None]
    publish_details: NotRequired[list[_PlainPublishDetail] | _PlainPublishDetail | None]
    locale: NotRequired[str | None]


@functools.cache
def _plain_entries() -> TypeAdapter[_PlainEntry]:
    return TypeAdapter(_PlainEntry)  # built at the first read: a server starts without one


def plain_entry(raw: Any) -> dict[str, Any]:
    """An entry of an answer as `Entry` reads it and writes it back
    (`Entry.model_validate(raw).model_dump(by_alias=True, exclude_unset=True)`): the model's
    fields first, then the others as they came. An entry whose fields already have the
    model's types, as Contentstack answers them, is read by one strict check of those fields,
    at a third of the model's round trip; any other goes through the model.

    Raises:
        ValidationError: the entry does not have an entry's shape.
    """
    # A key `version` would fill `_version` by the field's name: only the model reads that.
    if type(raw) is dict and "version" not in raw:
        try:
            return cast(dict[str, Any], _plain_entries().validate_python(raw))
        except ValidationError:
            pass  # not of the model's own types: the model converts it, or says what is wrong
    return Entry.model_validate(raw).model_dump(by_alias=True, exclude_unset=True)
