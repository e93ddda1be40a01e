"""Compact JSON schemas for `tools/list`: the same constraints in fewer tokens.

Pydantic writes a `title` for every property (its name, title-cased) and spells optional
values as `anyOf: [X, {"type": "null"}]`. A model pays for every token of the catalog on every
turn, so the listing drops generated titles, folds simple nullable unions into a type list,
and drops `default` from output schemas (an answer always carries its values).

Output schemas are listed as an outline: the top-level properties with their JSON types, nested
objects as `{"type": "object"}`. A model plans with the names and kinds of what comes back and
reads the details in the answer itself; the full schemas of every nested model would otherwise
be most of the catalog. An outline is a looser schema than the full one, so every answer that
the server validated against the full schema still conforms to the listed one.
"""

from __future__ import annotations

from typing import Any, cast

# Keys whose value is a map of names to schemas (the names are data, not schema keywords).
_NAMED_SCHEMAS = ("properties", "$defs", "definitions", "patternProperties")


def compact_schema(schema: dict[str, Any], *, output: bool = False) -> dict[str, Any]:
    """A compacted copy of `schema`; for an output schema, its outline."""
    compacted = cast(dict[str, Any], _compact(schema, output=output, top=True))
    if output:
        return outline_schema(compacted)
    title = compacted.get("title")
    if isinstance(title, str) and title.endswith("Arguments"):
        del compacted["title"]  # the SDK's generated name of the arguments model
    return _optional_without_null(compacted)


# String lengths guard the server against absurd input; a model never comes near them, and
# the server still checks them. Numeric bounds and item counts stay: they shape a request.
_SERVER_ONLY = ("minLength", "maxLength")


def _optional_without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Input properties that are optional are listed without their `null` alternative and
    without `default: null` or `default: false`: leaving the argument out says the same in
    fewer tokens. The
    listed schema is then a little stricter than the one the server applies, never looser."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    required = set(cast(list[str], schema.get("required") or []))
    for name, prop in cast(dict[str, Any], properties).items():
        if name in required or not isinstance(prop, dict):
            continue
        node = cast(dict[str, Any], prop)
        if "default" in node and node["default"] in (None, False):
            del node["default"]  # absent means null, and an absent flag means false
        kind = node.get("type")
        if isinstance(kind, list) and "null" in kind:
            rest = [k for k in cast(list[str], kind) if k != "null"]
            node["type"] = rest[0] if len(rest) == 1 else rest
        options = node.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options:
            rest_options = [o for o in cast(list[Any], options) if o != {"type": "null"}]
            if len(rest_options) == 1 and isinstance(rest_options[0], dict):
                del node["anyOf"]
                node.update(cast(dict[str, Any], rest_options[0]))
            else:
                node["anyOf"] = rest_options
    defs = schema.get("$defs")
    if isinstance(defs, dict):
        for sub in cast(dict[str, Any], defs).values():
            if isinstance(sub, dict):
                _optional_without_null(cast(dict[str, Any], sub))
    return schema


_JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")


def outline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The top level of an object schema: each property with its JSON type(s) only."""
    defs = cast(dict[str, Any], schema.get("$defs") or {})
    properties = cast(dict[str, Any], schema.get("properties") or {})
    return {"type": "object", "properties": {n: _kind(p, defs) for n, p in properties.items()}}


def _kind(node: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The JSON type(s) a schema node allows, as `{"type": ...}` (no constraint is tighter)."""
    found = _types(node, defs, depth=0)
    if found >= set(_JSON_TYPES) - {"integer"}:
        return {}
    if "number" in found:
        found.discard("integer")  # every integer is a JSON number
    types = sorted(found, key=_JSON_TYPES.index)
    if not types:
        return {}
    return {"type": types[0] if len(types) == 1 else types}


def _types(node: Any, defs: dict[str, Any], depth: int) -> set[str]:
    if not isinstance(node, dict) or depth > 20:
        return set(_JSON_TYPES)
    schema = cast(dict[str, Any], node)
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _types(defs.get(ref.removeprefix("#/$defs/")), defs, depth + 1)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            found: set[str] = set()
            for option in cast(list[Any], options):
                found |= _types(option, defs, depth + 1)
            return found
    kind = schema.get("type")
    if isinstance(kind, str) and kind in _JSON_TYPES:
        return {kind}
    if isinstance(kind, list):
        return {k for k in cast(list[Any], kind) if isinstance(k, str) and k in _JSON_TYPES}
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return {_json_type(v) for v in cast(list[Any], values)}
    if "properties" in schema:
        return {"object"}
    return set(_JSON_TYPES)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


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
        if key in _SERVER_ONLY and not output:
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
