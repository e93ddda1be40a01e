"""Reading the parts of a JSON answer the entries, assets and content type areas need: a
missing or mistyped part is a `MalformedResponseError`, never a KeyError."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from pydantic import BaseModel

from cs_mcp.client._exceptions import MalformedResponseError
from cs_mcp.client._models import Page

M = TypeVar("M", bound=BaseModel)


def object_at(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if not isinstance(value, dict):
        raise MalformedResponseError(f"the answer has no {key!r} object")
    return cast(dict[str, Any], value)


def list_at(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if not isinstance(value, list):
        raise MalformedResponseError(f"the answer has no list under {key!r}")
    return cast(list[Any], value)


def count_of(body: dict[str, Any]) -> int | None:
    count = body.get("count")
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def page_at(body: dict[str, Any], key: str, model: type[M], *, skip: int, limit: int) -> Page[M]:
    """The page of `model`s listed under `key`, with the answer's count as its total."""
    items = [model.model_validate(item) for item in list_at(body, key)]
    return Page[M](items=items, total=count_of(body), skip=skip, limit=limit)
