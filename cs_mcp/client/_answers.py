"""Reading the parts of a JSON answer the entries, assets and content type areas need: a
missing or mistyped part is a `MalformedResponseError`, never a KeyError."""

from __future__ import annotations

from typing import Any, cast

from cs_mcp.client._exceptions import MalformedResponseError


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
