"""The arguments several toolsets share, typed once: a query in Contentstack's query language,
a field projection, a page size and a cursor, and the checks that turn them into what the
client sends (a ToolError in plain words otherwise); and the entry-or-asset item and the
schedule the publishing and release writes take."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ConfigDict, Field, WithJsonSchema, model_validator

from cs_mcp.toolkit.identifiers import ContentTypeUid, LocaleCode, Uid
from cs_mcp.toolkit.models import ToolModel
from cs_mcp.toolkit.query import ACCEPTED_FORM, QueryError, parse_query
from cs_mcp.toolkit.shape import MAX_LIMIT

# A field uid, or a dot path into groups: `title`, `seo.title`.
FIELD_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$")

FieldsArg = Annotated[
    list[str] | None,
    Field(max_length=50, description="Only these fields (and uid)."),
]
QueryArg = Annotated[
    # Listed as a string: strict function calling has no free-form objects. An object is
    # still accepted from clients that send one.
    Annotated[dict[str, Any] | str, WithJsonSchema({"type": "string"})] | None,
    Field(description='A JSON object in a string, e.g. \'{"rating": {"$gte": 4}, "tags": {"$in": ["featured"]}}\'.'),
]
LimitArg = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
CursorArg = Annotated[str | None, Field(description="The previous page's next_cursor.")]
LocaleArg = Annotated[LocaleCode | None, Field(description="Default: the master locale.")]


class ItemInput(ToolModel):
    """An entry or an asset a write names (publishing's items, a release's items): the
    fields both take; each adds its locale and its own rules for assets."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["entry", "asset"]
    content_type: ContentTypeUid | None = Field(default=None, description="Entries only.")
    uid: Uid
    version: int | None = Field(default=None, ge=1, description="Default: the latest.")

    @model_validator(mode="after")
    def _entries_name_their_content_type(self) -> Self:
        if self.type == "entry" and not self.content_type:
            raise ValueError("an entry item needs its content_type")
        return self


def check_fields_arg(fields: Sequence[str] | None) -> list[str] | None:
    if not fields:
        return None
    bad = [f for f in fields if not FIELD_NAME.match(f)]
    if bad:
        raise ToolError(f"not a field uid: {', '.join(map(repr, bad))}; fields are uids such as 'title' or 'seo.title'")
    return list(dict.fromkeys(fields))


def parse_query_arg(query: Mapping[str, Any] | str | None) -> dict[str, Any] | None:
    try:
        return parse_query(query)
    except QueryError as exc:
        raise ToolError(f"the query is not valid {exc}. {ACCEPTED_FORM}") from None


def scheduled_time(value: str | None, *, action: str, now: datetime | None = None) -> str | None:
    """`value` (`scheduled_at` of a publish or a deploy) as Contentstack's UTC form
    (2030-01-31T09:00:00.000Z), or None for now; `action` names what leaving it out does now.

    Raises:
        ToolError: not ISO-8601, without a time zone (ambiguous by hours: acting at the wrong
            hour is worse than asking again), or not in the future (a past time is refused,
            never taken as "now").
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ToolError(
            f"scheduled_at must be an ISO-8601 date and time with a time zone, e.g. 2030-01-31T09:00:00Z; got {text!r}"
        ) from None
    if when.tzinfo is None:
        raise ToolError(f"scheduled_at needs a time zone (Z or +hh:mm), e.g. {text}Z")
    now = now or datetime.now(UTC)
    if when <= now:
        raise ToolError(
            f"scheduled_at {text} is not in the future (now is {now.strftime('%Y-%m-%dT%H:%M:%SZ')}); "
            f"to {action} at once, leave scheduled_at out"
        )
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
