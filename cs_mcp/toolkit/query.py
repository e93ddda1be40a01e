"""The Contentstack query language (the "Queries" section of the CDA reference), checked before anything is sent.

Contentstack answers an unknown operator or a misspelt form with an error or, worse, with no
match at all, and an agent cannot tell "no such content" from "the filter was not understood".
So every `query` is checked here against the documented grammar first, and a problem is
reported with the path where it sits and the accepted form beside it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any, cast

from cs_mcp.toolkit.schema import value_kind

# The grammar, as the error messages show it.
ACCEPTED_FORM = (
    'A query is a JSON object. {"field": value} matches equal values (string, number or boolean); '
    'dot paths reach into groups and modular blocks ({"seo.keywords": "x"}). '
    'Operators on a field: {"field": {"$ne": v}}, {"$in": [v, ...]}, {"$nin": [v, ...]}, '
    '{"$lt"|"$lte"|"$gt"|"$gte": number or date string}, {"$exists": true|false}, '
    '{"$regex": "pattern", "$options": "i"}; on a reference field: {"author": {"$in_query": {...}}} '
    'or {"$nin_query": {...}}. Combine with {"$and": [query, ...]} and {"$or": [query, ...]}. '
    'Tags: {"tags": {"$in": ["a", "b"]}}.'
)

LOGICAL = frozenset({"$and", "$or"})
SCALAR_OPERATORS = frozenset({"$ne"})
LIST_OPERATORS = frozenset({"$in", "$nin"})
RANGE_OPERATORS = frozenset({"$lt", "$lte", "$gt", "$gte"})
REFERENCE_OPERATORS = frozenset({"$in_query", "$nin_query"})
FIELD_OPERATORS = (
    SCALAR_OPERATORS | LIST_OPERATORS | RANGE_OPERATORS | REFERENCE_OPERATORS | {"$exists", "$regex", "$options"}
)
ALL_OPERATORS = FIELD_OPERATORS | LOGICAL

MAX_DEPTH = 6
MAX_LIST = 100
MAX_REGEX = 500
# A query travels in the URL, and Contentstack answers 414 past 8 KB (CDA reference, "Queries").
MAX_ENCODED_CHARS = 6000

_FIELD_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$")
_REGEX_OPTIONS = re.compile(r"^[imsx]*$")


class QueryError(ValueError):
    """A query outside the grammar: `path` says where (`$` is the top), `problem` what."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"at {path}: {problem}")
        self.path = path
        self.problem = problem


def parse_query(raw: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The query as an object (a JSON string is parsed), checked against the grammar; None
    for no query. An empty object is no query too.

    Raises:
        QueryError: not JSON, not an object, or outside the grammar.
    """
    if raw is None:
        return None
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise QueryError("$", f"not valid JSON ({exc.msg} at character {exc.pos})") from None
        if not isinstance(value, dict):
            raise QueryError("$", f"a query is a JSON object, not a {value_kind(value)}")
        query = cast(dict[str, Any], value)
    else:
        query = dict(raw)
    if not query:
        return None
    check_query(query)
    encoded = json.dumps(query, separators=(",", ":"), ensure_ascii=False)
    if len(encoded) > MAX_ENCODED_CHARS:
        raise QueryError("$", f"the query is {len(encoded)} characters; at most {MAX_ENCODED_CHARS} fit in a request")
    return query


def check_query(query: Mapping[str, Any], path: str = "$", depth: int = 0) -> None:
    """Checks one query object (recursively through `$and`, `$or` and reference queries).

    Raises:
        QueryError: the first problem found, with its path.
    """
    if depth > MAX_DEPTH:
        raise QueryError(path, f"nested deeper than {MAX_DEPTH} levels")
    if not query:
        raise QueryError(path, "an empty query object")
    for key, value in query.items():
        where = f"{path}.{key}" if path != "$" else key
        if key in LOGICAL:
            _check_logical(key, value, where, depth)
        elif key.startswith("$"):
            raise QueryError(where, _unknown_operator(key, "at the top of a query only $and and $or may appear"))
        else:
            if not _FIELD_PATH.match(key):
                raise QueryError(where, "a field name is a field uid, or a dot path of uids (letters, digits, _ and -)")
            _check_field_value(value, where, depth)


def _check_logical(key: str, value: Any, where: str, depth: int) -> None:
    if not isinstance(value, list) or not value:
        raise QueryError(where, f"{key} takes a non-empty list of queries")
    for i, sub in enumerate(cast(list[Any], value)):
        if not isinstance(sub, dict):
            raise QueryError(f"{where}[{i}]", f"each element of {key} is a query object, not a {value_kind(sub)}")
        check_query(cast(dict[str, Any], sub), f"{where}[{i}]", depth + 1)


def _check_field_value(value: Any, where: str, depth: int) -> None:
    if _is_scalar(value):
        return
    if value is None:
        raise QueryError(where, 'null is not a value to match; use {"$exists": false}')
    if isinstance(value, list):
        raise QueryError(where, 'a list is not a value to match; use {"$in": [...]}')
    if not isinstance(value, dict):
        raise QueryError(where, f"a {value_kind(value)} is not a value to match")
    operators = cast(dict[str, Any], value)
    if not operators:
        raise QueryError(where, "an empty operator object")
    plain = [k for k in operators if not k.startswith("$")]
    if plain:
        raise QueryError(
            where,
            f"a nested object ({plain[0]!r}) is not a filter; reach into groups with a dot path such as "
            f"'{where.split('.')[-1]}.{plain[0]}'",
        )
    if "$options" in operators and "$regex" not in operators:
        raise QueryError(where, "$options goes with $regex")
    for op, operand in operators.items():
        at = f"{where}.{op}"
        if op not in FIELD_OPERATORS:
            raise QueryError(at, _unknown_operator(op, "not an operator Contentstack knows"))
        _check_operand(op, operand, at, depth)


def _check_operand(op: str, operand: Any, at: str, depth: int) -> None:
    if op in SCALAR_OPERATORS:
        if not _is_scalar(operand):
            raise QueryError(at, f"{op} takes a string, number or boolean, not a {value_kind(operand)}")
    elif op in LIST_OPERATORS:
        if not isinstance(operand, list) or not operand:
            raise QueryError(at, f"{op} takes a non-empty list of values")
        items = cast(list[Any], operand)
        if len(items) > MAX_LIST:
            raise QueryError(at, f"{op} takes at most {MAX_LIST} values")
        bad = next((v for v in items if not _is_scalar(v)), None)
        if bad is not None or any(v is None for v in items):
            raise QueryError(at, f"{op} takes strings, numbers or booleans, not a {value_kind(bad)}")
    elif op in RANGE_OPERATORS:
        if isinstance(operand, bool) or not isinstance(operand, int | float | str):
            raise QueryError(at, f"{op} takes a number or a date string, not a {value_kind(operand)}")
    elif op == "$exists":
        if not isinstance(operand, bool):
            raise QueryError(at, "$exists takes true or false")
    elif op == "$regex":
        if not isinstance(operand, str) or not operand:
            raise QueryError(at, "$regex takes a non-empty pattern string")
        if len(operand) > MAX_REGEX:
            raise QueryError(at, f"$regex patterns are at most {MAX_REGEX} characters")
    elif op == "$options":
        if not isinstance(operand, str) or not _REGEX_OPTIONS.match(operand):
            raise QueryError(at, '$options takes regex flags such as "i"')
    else:  # $in_query, $nin_query
        if not isinstance(operand, dict):
            raise QueryError(at, f"{op} takes a query object about the referenced entries")
        check_query(cast(dict[str, Any], operand), at, depth + 1)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _unknown_operator(op: str, why: str) -> str:
    close = difflib.get_close_matches(op, sorted(ALL_OPERATORS), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"unknown operator {op!r} ({why}){hint}"
