"""The entries query language (the "Queries" section of Contentstack's CDA reference),
evaluated over entry JSON objects.

A query is compiled once (`compile_query`), which checks every operator and operand, so an
invalid query is refused whole with `QueryError` before any entry is looked at, then the
compiled predicate is applied to each entry.

Matching follows the MongoDB reading Contentstack documents:
- a key is a field uid or a dot path into groups and modular blocks (`seo.keywords`,
  `sections.hero.title`); lists met on the way (multiple fields, groups, blocks) fan out, so a
  condition holds when it holds for any value found;
- a value that is not an operator object means equality (a list field equals a value when one
  of its items does);
- `$ne` and `$nin` hold when no value found equals (a missing field matches them);
- `$lt`, `$lte`, `$gt`, `$gte` compare numbers with numbers and strings with strings (ISO dates
  compare as strings); booleans are not numbers here;
- `$exists: true|false`, `$regex` with optional `$options` (`i`, `m`, `s`);
- `$and` / `$or` with a non-empty list of queries;
- `$in_query` / `$nin_query` on a reference field: the subquery runs against the referenced
  content type through a resolver the caller gives, and the entry matches when one of its
  references (none of them, for `$nin_query`) is among the uids found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, cast

from cs_mcp.sandbox import strict_json

Entry = dict[str, Any]
Predicate = Callable[[Entry], bool]
# Given a reference field path and a subquery, answers the uids of the referenced entries that
# match it. Raises QueryError when the path is not a reference field or the subquery is invalid.
ReferenceResolver = Callable[[str, dict[str, Any]], set[str]]

# The documentation gives no error code for a malformed query; the sandbox answers 400 and uses
# the status as the code, in Contentstack's error body shape.
QUERY_ERROR_STATUS = 400
QUERY_ERROR_CODE = 400

_COMPARISONS = ("$lt", "$lte", "$gt", "$gte")
_FIELD_OPERATORS = frozenset(
    {"$eq", "$ne", "$in", "$nin", *_COMPARISONS, "$exists", "$regex", "$options", "$in_query", "$nin_query"}
)
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
_MISSING = object()


class QueryError(ValueError):
    """An invalid query: bad JSON, an unknown operator or an operand of the wrong type."""

    def __init__(self, message: str, field: str = "query") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def parse_query(text: str | None) -> dict[str, Any]:
    """The `query` parameter's JSON object ({} when absent).

    Raises:
        QueryError: the text is not JSON or not a JSON object.
    """
    if text is None or text.strip() == "":
        return {}
    try:
        value = strict_json.loads(text)
    except ValueError as exc:
        raise QueryError(f"the query is not valid JSON ({exc}).") from exc
    if not isinstance(value, dict):
        raise QueryError("the query must be a JSON object.")
    return cast(dict[str, Any], value)


def values_at(entry: Entry, path: str) -> list[Any]:
    """Every value found at a dot path, lists fanned out on the way; [] when there is none.

    A list at the end of the path gives the list itself and each of its items, so that both
    `{"tags": ["a"]}` (whole list) and `{"tags": "a"}` (one item) can match.
    """
    current: list[Any] = [entry]
    for part in path.split("."):
        found: list[Any] = []
        for value in current:
            for item in _spread(value):
                if isinstance(item, dict):
                    child = cast(dict[str, Any], item).get(part, _MISSING)
                    if child is not _MISSING:
                        found.append(child)
        current = found
    result: list[Any] = []
    for value in current:
        result.append(value)
        if isinstance(value, list):
            result.extend(cast(list[Any], value))
    return result


def _spread(value: Any) -> Iterable[Any]:
    if isinstance(value, list):
        return cast(list[Any], value)
    return (value,)


def _equal(a: Any, b: Any) -> bool:
    # JSON true is not 1: compare booleans only with booleans.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ordered(a: Any, b: Any, op: str) -> bool:
    if not ((_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))):
        return False
    if op == "$lt":
        return bool(a < b)
    if op == "$lte":
        return bool(a <= b)
    if op == "$gt":
        return bool(a > b)
    return bool(a >= b)


def _reference_uids(values: list[Any]) -> set[str]:
    uids: set[str] = set()
    for value in values:
        if isinstance(value, dict):
            uid = cast(dict[str, Any], value).get("uid")
            if isinstance(uid, str):
                uids.add(uid)
        elif isinstance(value, str):
            uids.add(value)
    return uids


def compile_query(query: dict[str, Any], resolver: ReferenceResolver | None = None) -> Predicate:
    """A predicate that tells whether an entry matches `query`.

    Raises:
        QueryError: an unknown operator, an operand of the wrong type, an invalid regular
            expression, or a reference query without a resolver.
    """
    if not isinstance(query, dict):  # pyright: ignore[reportUnnecessaryIsInstance] - JSON may be anything
        raise QueryError("a query must be a JSON object.")
    parts: list[Predicate] = []
    for key, condition in query.items():
        if key in ("$and", "$or"):
            parts.append(_compile_logical(key, condition, resolver))
        elif key.startswith("$"):
            raise QueryError(f"unknown operator '{key}' at the top of the query.")
        elif key == "":
            raise QueryError("a field name may not be empty.")
        else:
            parts.append(_compile_field(key, condition, resolver))
    return lambda entry: all(part(entry) for part in parts)


def _compile_logical(key: str, operand: Any, resolver: ReferenceResolver | None) -> Predicate:
    if not isinstance(operand, list) or not operand:
        raise QueryError(f"'{key}' needs a non-empty list of queries.")
    subs: list[Predicate] = []
    for item in cast(list[Any], operand):
        if not isinstance(item, dict):
            raise QueryError(f"every item of '{key}' must be a query object.")
        subs.append(compile_query(cast(dict[str, Any], item), resolver))
    if key == "$and":
        return lambda entry: all(sub(entry) for sub in subs)
    return lambda entry: any(sub(entry) for sub in subs)


def _compile_field(path: str, condition: Any, resolver: ReferenceResolver | None) -> Predicate:
    expected: Any = condition
    if isinstance(expected, dict):
        ops = cast(dict[str, Any], expected)
        dollar = [k for k in ops if k.startswith("$")]
        if dollar and len(dollar) != len(ops):
            raise QueryError(f"'{path}' mixes operators and field names.", path)
        if dollar:
            return _compile_operators(path, ops, resolver)
    return lambda entry: any(_equal(v, expected) for v in values_at(entry, path))


def _compile_operators(path: str, ops: dict[str, Any], resolver: ReferenceResolver | None) -> Predicate:
    checks: list[Predicate] = []
    for op, operand in ops.items():
        if op not in _FIELD_OPERATORS:
            raise QueryError(f"unknown operator '{op}' on '{path}'.", path)
        if op == "$options":
            if "$regex" not in ops:
                raise QueryError(f"'$options' on '{path}' needs '$regex'.", path)
            continue
        checks.append(_compile_operator(path, op, operand, ops, resolver))
    return lambda entry: all(check(entry) for check in checks)


def _compile_operator(
    path: str, op: str, operand: Any, ops: dict[str, Any], resolver: ReferenceResolver | None
) -> Predicate:
    if op == "$eq":
        return lambda entry: any(_equal(v, operand) for v in values_at(entry, path))
    if op == "$ne":
        return lambda entry: not any(_equal(v, operand) for v in values_at(entry, path))
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise QueryError(f"'{op}' on '{path}' needs a list.", path)
        options = cast(list[Any], operand)

        def found(entry: Entry) -> bool:
            return any(_equal(v, o) for v in values_at(entry, path) for o in options)

        if op == "$in":
            return found
        return lambda entry: not found(entry)
    if op in _COMPARISONS:
        if not (_is_number(operand) or isinstance(operand, str)):
            raise QueryError(f"'{op}' on '{path}' needs a number or a string.", path)
        return lambda entry: any(_ordered(v, operand, op) for v in values_at(entry, path))
    if op == "$exists":
        if not isinstance(operand, bool):
            raise QueryError(f"'$exists' on '{path}' needs true or false.", path)
        return lambda entry: bool(values_at(entry, path)) == operand
    if op == "$regex":
        pattern = _compile_regex(path, operand, ops.get("$options", ""))
        return lambda entry: any(isinstance(v, str) and pattern.search(v) is not None for v in values_at(entry, path))
    # $in_query / $nin_query
    if not isinstance(operand, dict):
        raise QueryError(f"'{op}' on '{path}' needs a query object.", path)
    if resolver is None:
        raise QueryError(f"'{op}' is not available on '{path}' here.", path)
    matching = resolver(path, cast(dict[str, Any], operand))
    if op == "$in_query":
        return lambda entry: bool(_reference_uids(values_at(entry, path)) & matching)
    return lambda entry: not (_reference_uids(values_at(entry, path)) & matching)


def _compile_regex(path: str, operand: Any, options: Any) -> re.Pattern[str]:
    if not isinstance(operand, str):
        raise QueryError(f"'$regex' on '{path}' needs a string.", path)
    if not isinstance(options, str) or any(flag not in _REGEX_FLAGS for flag in options):
        raise QueryError(f"'$options' on '{path}' accepts only the letters i, m and s.", path)
    flags = 0
    for flag in options:
        flags |= _REGEX_FLAGS[flag]
    try:
        return re.compile(operand, flags)
    except re.error as exc:
        raise QueryError(f"'$regex' on '{path}' is not a valid regular expression ({exc}).", path) from exc
