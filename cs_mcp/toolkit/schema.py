"""The schemas clients see in `tools/list`, and the server's check of the arguments it gets
(with `value_kind`, the words the query and entry-field checks also use for what a value is).

Listed input schemas follow the strict function-calling dialect that agent frameworks convert
tools into (OpenAI's structured outputs, as openai-agents' `ensure_strict_json_schema` applies
it): every object is closed with `additionalProperties: false`, `$defs` are inlined, and an
optional property is listed as a union with `null`, because strict mode makes every property
required and `null` is then how a model leaves one out. Free-form objects (a query, an entry's
fields) are taken as a JSON object written in a string, which strict mode accepts.

Nullable values are spelled `anyOf: [X, {"type": "null"}]`, never `type: [X, "null"]`: clients
that map schemas onto a single-`type` dialect (the OpenAPI subset of Gemini function
declarations) reject a type list.

Pydantic writes a `title` for every property (its name, title-cased); the listing drops them,
and string lengths, which guard the server and which a model never comes near.

Output schemas are listed as an outline: the top-level properties with their JSON types, nested
objects as `{"type": "object"}`. A model plans with the names and kinds of what comes back and
reads the details in the answer itself; the full schemas of every nested model would otherwise
be most of the catalog. An outline is a looser schema than the full one, so every answer that
the server validated against the full schema still conforms to the listed one.

`ArgumentCheck` is the server side of the closed schemas: it refuses an unknown argument by name
(with the closest known one), reads `null` as "the default" where the listed schema offers it,
and words every problem with the arguments as one sentence with the accepted form.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, cast

from mcp.server import ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, TextContent
from pydantic import BeforeValidator, ValidationError, WithJsonSchema
from pydantic_core import ErrorDetails

from cs_mcp.toolkit.identifiers import IDENTIFIER_PATTERN

# Keys whose value is a map of names to schemas (the names are data, not schema keywords).
_NAMED_SCHEMAS = ("properties", "$defs", "definitions", "patternProperties")
_NULL = {"type": "null"}


def compact_schema(schema: dict[str, Any], *, output: bool = False) -> dict[str, Any]:
    """The listed form of a tool's input schema, or for an output schema its outline."""
    compacted = cast(dict[str, Any], _compact(schema, output=output, top=True))
    if output:
        return outline_schema(compacted)
    title = compacted.get("title")
    if isinstance(title, str) and title.endswith("Arguments"):
        del compacted["title"]  # the SDK's generated name of the arguments model
    defs = cast(dict[str, Any], compacted.pop("$defs", None) or {})
    return cast(dict[str, Any], _closed(_inlined(compacted, defs, depth=0), top=True))


# String lengths guard the server against absurd input; a model never comes near them, and
# the server still checks them. Numeric bounds and item counts stay: they shape a request.
# Patterns (an identifier's letters, digits, `_`, `.`, `-`) are checked by the server too, whose
# refusal names the accepted characters; a listed schema looser than the check costs no call
# that the check would take.
_SERVER_ONLY = ("minLength", "maxLength", "pattern")


def _inlined(node: Any, defs: dict[str, Any], depth: int) -> Any:
    """`node` with every `#/$defs/...` reference replaced by a copy of its target."""
    if depth > 30:
        raise ValueError("a tool's input schema nests deeper than 30 levels (or refers to itself)")
    if isinstance(node, list):
        return [_inlined(item, defs, depth + 1) for item in cast(list[Any], node)]
    if not isinstance(node, dict):
        return node
    source = cast(dict[str, Any], node)
    ref = source.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = cast(dict[str, Any], defs[ref.removeprefix("#/$defs/")])
        siblings = {k: v for k, v in source.items() if k != "$ref"}
        return _inlined({**target, **siblings}, defs, depth + 1)
    return {key: _inlined(value, defs, depth + 1) for key, value in source.items()}


# Keywords whose value is a schema or a list of schemas (`properties` is handled on its own).
_SUBSCHEMAS = frozenset({"items", "anyOf", "oneOf", "allOf", "not", "prefixItems", "additionalProperties"})


def _closed(node: Any, *, top: bool = False) -> Any:
    """Every object closed, every optional property nullable (see the module docstring)."""
    if isinstance(node, list):
        return [_closed(item) for item in cast(list[Any], node)]
    if not isinstance(node, dict):
        return node
    schema = {k: _closed(v) if k in _SUBSCHEMAS else v for k, v in cast(dict[str, Any], node).items()}
    properties = schema.get("properties")
    if isinstance(properties, dict) or schema.get("type") == "object":
        schema.setdefault("additionalProperties", False)
        schema.setdefault("properties", {})
        required = set(cast(list[str], schema.get("required") or []))
        schema["properties"] = {
            name: _closed(prop) if name in required else _nullable(cast(dict[str, Any], _closed(prop)))
            for name, prop in cast(dict[str, Any], schema["properties"]).items()
        }
    if top:
        schema["type"] = "object"
    return schema


def _nullable(prop: dict[str, Any]) -> dict[str, Any]:
    """An optional property as `anyOf: [X, null]`, its description outside, its default in words.

    One whose default is a value (a flag's false, a page size's 25) is listed as its type alone,
    the default in words: in strict mode a model then sends the default, which means what
    leaving it out means, and the null branch would only repeat that (the server still reads
    `null` as the default)."""
    has_value_default = prop.get("default") is not None
    prop = _default_in_words(prop)
    if _accepts_null(prop) or has_value_default:
        return prop
    outer = {k: prop[k] for k in ("description",) if k in prop}
    inner = {k: v for k, v in prop.items() if k not in outer}
    options = cast(list[Any], inner["anyOf"]) if list(inner) == ["anyOf"] else [inner]
    return {"anyOf": [*options, dict(_NULL)], **outer}


def _default_in_words(prop: dict[str, Any]) -> dict[str, Any]:
    """`prop` without `default`, which OpenAI's strict mode refuses; a default that is not null
    or false goes into the description (an absent value means null, and an absent flag false)."""
    if "default" not in prop:
        return prop
    default = prop["default"]
    rest = {k: v for k, v in prop.items() if k != "default"}
    description = str(rest.get("description") or "").strip()
    if default is None or default is False or "default" in description.lower():
        return rest
    stop = "" if not description or description.endswith(".") else "."
    rest["description"] = f"{description}{stop} Default: {json.dumps(default)}.".strip()
    return rest


def _accepts_null(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    options = node.get("anyOf")
    return isinstance(options, list) and _NULL in cast(list[Any], options)


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
    if len(types) == 1:
        return {"type": types[0]}
    return {"anyOf": [{"type": t} for t in types]}


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


def value_kind(value: Any) -> str:
    """What a JSON value is, in words: null, boolean, number, string, list or object (else its
    Python type's name)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _json_type(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return "integer"
    return _JSON_TYPES_OF.get(value_kind(value), "object")


# A value's kind in words (`value_kind`) as its JSON Schema type.
_JSON_TYPES_OF = {"null": "null", "boolean": "boolean", "number": "number", "string": "string", "list": "array"}


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
    return result


# -- free-form objects, taken as JSON text ----------------------------------------------------


# How deep a free-form argument may nest: far beyond any entry or schema (a rich text document
# is a few dozen levels), and well within what the parser (Python's recursion limit) and the
# audit log's serializer (pydantic's, about 250 levels) take, so a deeper one is refused like
# any other bad argument instead of failing the call unrecorded.
MAX_JSON_DEPTH = 100


def _nesting_within(value: Any, limit: int) -> bool:
    """Whether `value`'s objects and arrays nest at most `limit` levels deep (walked without
    recursion, so any depth is measured)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= limit:
                return False
            children = cast(dict[Any, Any], node).values() if isinstance(node, dict) else cast(list[Any], node)
            stack.extend((child, depth + 1) for child in children)
    return True


def _json_text(value: Any, example: str) -> Any:
    """`value` parsed when it is JSON text (else as it is); `example` shows the form asked for.

    Raises:
        ValueError: not valid JSON, nested more than `MAX_JSON_DEPTH` levels deep, or holding a
            value JSON cannot carry (NaN, an infinity, a lone surrogate).
    """
    too_deep = f"nested more than {MAX_JSON_DEPTH} levels deep; write {example}"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg} at character {exc.pos}); write {example}") from None
        except RecursionError:
            raise ValueError(too_deep) from None
    if not _nesting_within(value, MAX_JSON_DEPTH):
        raise ValueError(too_deep)
    try:
        # What the request would carry: JSON has no NaN or infinity, UTF-8 no lone surrogate.
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode()
    except (ValueError, TypeError):  # UnicodeEncodeError is a ValueError
        raise ValueError(
            f"holds a value JSON cannot carry (NaN, an infinity or a lone surrogate); write {example}"
        ) from None
    return value


def _json_object(value: Any) -> Any:
    """A JSON object given as text becomes the object; an object stays as it is."""
    value = _json_text(value, 'an object such as {"title": "Hello"}')
    if not isinstance(value, dict):
        raise ValueError('not a JSON object; write one such as {"title": "Hello"} in a string')
    return cast(dict[str, Any], value)


# A free-form object argument, listed as a string (strict function calling has no open objects)
# and accepted as JSON text or, from clients that send one anyway, as an object.
JsonObjectText = Annotated[dict[str, Any], BeforeValidator(_json_object), WithJsonSchema({"type": "string"})]


def _json_object_list(value: Any) -> Any:
    """A JSON array of objects given as text becomes the list; a list stays as it is."""
    value = _json_text(value, 'an array such as [{"uid": "title"}]')
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in cast(list[Any], value)):
        raise ValueError('not a JSON array of objects; write one such as [{"uid": "title"}] in a string')
    return cast(list[dict[str, Any]], value)


# A free-form list of objects (a content type's schema), listed as a string like JsonObjectText.
JsonObjectListText = Annotated[
    list[dict[str, Any]], BeforeValidator(_json_object_list), WithJsonSchema({"type": "string"})
]


# -- the server's check of a call's arguments -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Arguments:
    """What the server knows of one tool's arguments: the SDK's model and its full schema."""

    tool: Tool

    @property
    def schema(self) -> dict[str, Any]:
        return self.tool.parameters

    def check(self, arguments: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The arguments with `null` read as "the default", and every problem as a sentence."""
        defs = cast(dict[str, Any], self.schema.get("$defs") or {})
        problems: list[str] = []
        cleaned = cast(dict[str, Any], _without_null_defaults(dict(arguments), self.schema, defs, "", problems))
        try:
            self.tool.fn_metadata.validate_arguments(cleaned)
        except ValidationError as exc:
            # Unknown keys are named above already, with the closest known one.
            errors = [e for e in exc.errors() if e["type"] != "extra_forbidden"]
            problems += _sentences(errors, self.schema, defs)
        return cleaned, problems


@functools.cache
def _arguments_of(fn: Callable[..., Awaitable[Any]], name: str) -> _Arguments:
    # Built as the SDK builds the tool it registers, once per process: it takes a while.
    return _Arguments(Tool.from_function(fn, name=name, structured_output=True))


def built_tool(fn: Callable[..., Awaitable[Any]], name: str) -> Tool:
    """The SDK's tool for `fn` as `name` (its argument model and output validator), built at
    its first use and shared by the argument check and the call."""
    return _arguments_of(fn, name).tool


def check_arguments(
    fn: Callable[..., Awaitable[Any]], name: str, arguments: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The arguments of a call to tool `name` (function `fn`) as the tool takes them, with each
    `null` that stands for a default left out, and every problem with them as one sentence."""
    return _arguments_of(fn, name).check(arguments)


class ArgumentCheck:
    """Middleware: checks a `tools/call`'s arguments before the tool runs.

    An unknown argument is refused by name with the closest known one (the SDK would drop it
    silently), `null` for an optional argument means its default, and every other problem is
    one sentence in plain words with the accepted form, instead of pydantic's report.
    """

    def __init__(self, tools: Mapping[str, Callable[..., Awaitable[Any]]]) -> None:
        # Looked up at each call, never copied: a mapping may import a tool's module at its
        # first lookup, and each tool's model is built at its first call (start-up stays quick).
        self._tools = tools

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call" or ctx.params is None:
            return await call_next(ctx)
        name = ctx.params.get("name")
        arguments = ctx.params.get("arguments")
        fn = self._tools.get(name) if isinstance(name, str) else None
        if fn is None or not isinstance(name, str) or not isinstance(arguments, Mapping | None):
            return await call_next(ctx)
        cleaned, problems = check_arguments(fn, name, cast(Mapping[str, Any], arguments or {}))
        if problems:
            text = "\n".join([*problems, f"{name} did not run; call it again with these fixed."])
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        if arguments is not None and cleaned == arguments:
            return await call_next(ctx)  # no `null` to drop: the request goes on as it came
        return await call_next(dataclasses.replace(ctx, params={**ctx.params, "arguments": cleaned}))


def _resolved(node: Any, defs: Mapping[str, Any]) -> dict[str, Any]:
    """A schema node with its `$ref` followed and a single non-null `anyOf` branch unwrapped."""
    for _ in range(10):
        if not isinstance(node, dict):
            return {}
        schema = cast(dict[str, Any], node)
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node = {**defs.get(ref.removeprefix("#/$defs/"), {}), **{k: v for k, v in schema.items() if k != "$ref"}}
            continue
        options = [o for o in cast(list[Any], schema.get("anyOf") or []) if o != _NULL]
        if len(options) == 1 and "properties" not in schema:
            node = {**{k: v for k, v in schema.items() if k != "anyOf"}, **cast(dict[str, Any], options[0])}
            continue
        return schema
    return {}


def _without_null_defaults(value: Any, node: Any, defs: Mapping[str, Any], path: str, problems: list[str]) -> Any:
    """`value` without the `null`s that stand for a default; unknown keys added to `problems`."""
    schema = _resolved(node, defs)
    properties = schema.get("properties")
    if isinstance(value, dict) and isinstance(properties, dict):
        known = cast(dict[str, Any], properties)
        required = set(cast(list[str], schema.get("required") or []))
        kept: dict[str, Any] = {}
        for key, item in cast(dict[str, Any], value).items():
            where = f"{path}.{key}" if path else key
            if key not in known:
                problems.append(_unknown(where, key, list(known), path))
            elif item is None and key not in required and not _accepts_null(_unwrapped_ref(known[key], defs)):
                continue  # the listed schema offers null for "leave it out"
            else:
                kept[key] = _without_null_defaults(item, known[key], defs, where, problems)
        return kept
    items: Any = schema.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        return [
            _without_null_defaults(item, items, defs, f"{path}[{i}]", problems)
            for i, item in enumerate(cast(list[Any], value))
        ]
    return cast(Any, value)


def _unwrapped_ref(node: Any, defs: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    schema = cast(dict[str, Any], node)
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return cast(dict[str, Any], defs.get(ref.removeprefix("#/$defs/"), {}))
    return schema


def _unknown(where: str, key: str, known: list[str], parent: str) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    owner = f"'{parent}'" if parent else "the tool"
    what = "key" if parent else "argument"
    return f"Unknown {what} '{where}'{hint}: {owner} takes {', '.join(known) or 'no arguments'}."


# Pydantic error types, grouped by what they mean to the caller.
_WRONG_TYPE_SUFFIXES = ("_type", "_parsing")
_PROBLEMS = {
    "literal_error": "is not one of the accepted values",
    "enum": "is not one of the accepted values",
    "greater_than": "is too small",
    "greater_than_equal": "is too small",
    "less_than": "is too large",
    "less_than_equal": "is too large",
    "too_short": "has too few items",
    "too_long": "has too many items",
    "string_too_short": "is too short",
    "string_too_long": "is too long",
    "string_pattern_mismatch": "does not have the accepted form",
    "union_tag_invalid": "is not one of the accepted kinds",
    "int_from_float": "is not a whole number",
}


def _sentences(errors: list[ErrorDetails], schema: dict[str, Any], defs: Mapping[str, Any]) -> list[str]:
    """One sentence per argument with a problem, in the order the arguments are declared."""
    by_path: dict[str, tuple[str, dict[str, Any], ErrorDetails]] = {}
    for error in errors:
        path, node = _locate(error["loc"], schema, defs)
        previous = by_path.get(path)
        # A union reports one error per branch; our own validators' words win over the rest.
        if previous is None or (error["type"] == "value_error" and previous[2]["type"] != "value_error"):
            by_path[path] = (path, node, error)
    return [_sentence(path, node, error, defs) for path, node, error in by_path.values()]


def _locate(loc: tuple[int | str, ...], schema: dict[str, Any], defs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The argument path an error's `loc` names (union branch tags dropped) and its schema."""
    path = ""
    node = schema
    for part in loc:
        current = _resolved(node, defs)
        if isinstance(part, int):
            items = current.get("items")
            if isinstance(items, dict):
                node = cast(dict[str, Any], items)
                path = f"{path}[{part}]"
            continue
        properties = cast(dict[str, Any], current.get("properties") or {})
        if part in properties:
            node = cast(dict[str, Any], properties[part])
            path = f"{path}.{part}" if path else part
        # Anything else is a union branch or validator tag such as "str" or "function-before[...]".
    return path, node


def _sentence(path: str, node: dict[str, Any], error: ErrorDetails, defs: Mapping[str, Any]) -> str:
    kind = error["type"]
    form = accepted_form(node, defs)
    what = "value" if "." in path or "[" in path else "argument"
    if kind == "missing":
        return f"Missing {what} '{path}': it takes {form}."
    if kind in ("value_error", "assertion_error"):
        # Our own validators' words (pydantic's `msg` would prefix them with "Value error, ").
        reason = str((error.get("ctx") or {}).get("error") or error["msg"])
        return f"The {what} '{path}': {reason.rstrip('.')}."
    problem = _PROBLEMS.get(kind)
    if problem is None:
        problem = "has the wrong type" if kind.endswith(_WRONG_TYPE_SUFFIXES) else "is not valid"
    return f"The {what} '{path}' {problem}: it takes {form}."


def accepted_form(node: Any, defs: Mapping[str, Any], depth: int = 0) -> str:
    """A schema node in words, e.g. "an integer from 1 to 100" or "one of 'draft', 'published'"."""
    schema = _resolved(node, defs)
    if depth > 4:
        return "a value"
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in cast(list[Any], schema["enum"]))
    if "const" in schema:
        return json.dumps(schema["const"])
    options = [o for o in cast(list[Any], schema.get("anyOf") or schema.get("oneOf") or []) if o != _NULL]
    if options:
        return " or ".join(dict.fromkeys(accepted_form(o, defs, depth + 1) for o in options))
    kind = schema.get("type")
    if kind == "string":
        return "a string" + _bounds(schema, "minLength", "maxLength", "characters") + _characters(schema)
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        noun = "an integer" if kind == "integer" else "a number"
        if low is not None and high is not None:
            return f"{noun} from {low} to {high}"
        if low is not None:
            return f"{noun} of at least {low}"
        return f"{noun} of at most {high}" if high is not None else noun
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        items = schema.get("items")
        each = f", each {accepted_form(items, defs, depth + 1)}" if isinstance(items, dict) else ""
        return "a list" + _bounds(schema, "minItems", "maxItems", "items") + each
    if kind == "object" or "properties" in schema:
        properties = list(cast(dict[str, Any], schema.get("properties") or {}))
        required = [p for p in properties if p in cast(list[str], schema.get("required") or [])]
        optional = [p for p in properties if p not in required]
        parts = [f"required {', '.join(required)}"] if required else []
        parts += [f"optional {', '.join(optional)}"] if optional else []
        return f"an object ({'; '.join(parts)})" if parts else "an object"
    return "a JSON value"


def _bounds(schema: dict[str, Any], low_key: str, high_key: str, unit: str) -> str:
    low, high = schema.get(low_key), schema.get(high_key)
    if low is not None and high is not None:
        return f" of {low} to {high} {unit}"
    if low is not None:
        return f" of at least {low} {unit}"
    return f" of at most {high} {unit}" if high is not None else ""


def _characters(schema: dict[str, Any]) -> str:
    """The characters a string's `pattern` allows, in words (the listed schema leaves it out)."""
    pattern = schema.get("pattern")
    if pattern is None:
        return ""
    if pattern == IDENTIFIER_PATTERN:
        return ", of letters, digits, '_', '.' and '-', not starting with '.' or '-'"
    return f", matching the regular expression {pattern}"
