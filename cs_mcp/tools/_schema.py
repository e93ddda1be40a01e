"""Compact JSON schemas for `tools/list`: the same constraints in fewer tokens.

Pydantic writes a `title` for every property (its name, title-cased) and spells optional
values as `anyOf: [X, {"type": "null"}]`. A model pays for every token of the catalog on every
turn, so the listing drops generated titles, folds simple nullable unions into a type list,
and drops `default` from output schemas (an answer always carries its values). Validation is
unchanged: these forms are equivalent in JSON Schema.
"""

from __future__ import annotations

from typing import Any, cast

# Keys whose value is a map of names to schemas (the names are data, not schema keywords).
_NAMED_SCHEMAS = ("properties", "$defs", "definitions", "patternProperties")


def compact_schema(schema: dict[str, Any], *, output: bool = False) -> dict[str, Any]:
    """A compacted copy of `schema`."""
    return cast(dict[str, Any], _compact(schema, output=output, top=True))


def _compact(node: Any, *, output: bool, top: bool = False) -> Any:
    if isinstance(node, list):
        return [_compact(item, output=output) for item in cast(list[Any], node)]
    if not isinstance(node, dict):
        return node
    source = cast(dict[str, Any], node)
    result: dict[str, Any] = {}
    for key, value in source.items():
        if key == "title" and not top and isinstance(value, str):
            continue
        if output and key == "default":
            continue
        if key in _NAMED_SCHEMAS and isinstance(value, dict):
            named = cast(dict[str, Any], value)
            result[key] = {name: _compact(sub, output=output) for name, sub in named.items()}
        else:
            result[key] = _compact(value, output=output)
    return _fold_nullable(result)


def _fold_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [{"type": T, ...}, {"type": "null"}]` becomes `type: [T, "null"]` when the
    non-null branch is a plain typed schema."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or len(cast(list[Any], options)) != 2:
        return schema
    branches = cast(list[Any], options)
    nulls = [b for b in branches if b == {"type": "null"}]
    others = [b for b in branches if b != {"type": "null"}]
    if len(nulls) != 1 or len(others) != 1 or not isinstance(others[0], dict):
        return schema
    other = cast(dict[str, Any], others[0])
    kind = other.get("type")
    if not isinstance(kind, str) or any(k in schema for k in other if k != "type"):
        return schema
    folded = {k: v for k, v in schema.items() if k != "anyOf"}
    folded.update(other)
    folded["type"] = [kind, "null"]
    return folded
