"""The query language checker: every documented form passes, everything else is refused with
the path where the problem sits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cs_mcp.toolkit.query import ACCEPTED_FORM, MAX_ENCODED_CHARS, QueryError, check_query, parse_query

VALID: list[dict[str, Any]] = [
    {"title": "Hello"},
    {"rating": 4},
    {"rating": 4.5},
    {"featured": True},
    {"seo.keywords": "cms"},
    {"sections.hero.title": "x"},
    {"title": {"$ne": "x"}},
    {"tags": {"$in": ["a", "b"]}},
    {"rating": {"$nin": [1, 2]}},
    {"rating": {"$lt": 3}},
    {"rating": {"$lte": 3}},
    {"rating": {"$gt": 3}},
    {"published_on": {"$gte": "2024-01-01"}},
    {"rating": {"$gte": 1, "$lt": 5}},
    {"summary": {"$exists": False}},
    {"title": {"$regex": "^how", "$options": "i"}},
    {"title": {"$regex": "guide$"}},
    {"$and": [{"title": "x"}, {"rating": {"$gt": 1}}]},
    {"$or": [{"title": "x"}, {"$and": [{"a": 1}, {"b": 2}]}]},
    {"author": {"$in_query": {"name": "Jane"}}},
    {"author": {"$nin_query": {"name": {"$regex": "^J"}}}},
    {"_version": {"$gt": 1}, "created_at": {"$lt": "2025-01-01T00:00:00Z"}},
]


@pytest.mark.parametrize("query", VALID, ids=lambda q: json.dumps(q)[:60])
def test_every_documented_form_is_accepted(query: dict[str, Any]) -> None:
    assert parse_query(query) == query
    assert parse_query(json.dumps(query)) == query


INVALID: list[tuple[Any, str]] = [
    ({"title": {"$where": "1"}}, "title.$where"),
    ({"$nor": [{"a": 1}]}, "$nor"),
    ({"title": {"$regx": "a"}}, "title.$regx"),
    ({"title": None}, "title"),
    ({"tags": ["a", "b"]}, "tags"),
    ({"seo": {"keywords": "x"}}, "seo"),
    ({"title": {}}, "title"),
    ({"title": {"$in": []}}, "title.$in"),
    ({"title": {"$in": "a"}}, "title.$in"),
    ({"title": {"$in": [{"a": 1}]}}, "title.$in"),
    ({"title": {"$in": [None]}}, "title.$in"),
    ({"title": {"$ne": [1]}}, "title.$ne"),
    ({"rating": {"$gt": True}}, "rating.$gt"),
    ({"rating": {"$gt": [1]}}, "rating.$gt"),
    ({"summary": {"$exists": "yes"}}, "summary.$exists"),
    ({"title": {"$regex": ""}}, "title.$regex"),
    ({"title": {"$regex": 5}}, "title.$regex"),
    ({"title": {"$options": "i"}}, "title"),
    ({"title": {"$regex": "a", "$options": "q"}}, "title.$options"),
    ({"author": {"$in_query": "Jane"}}, "author.$in_query"),
    ({"author": {"$in_query": {"name": {"$bad": 1}}}}, "author.$in_query.name.$bad"),
    ({"$and": []}, "$and"),
    ({"$and": {"a": 1}}, "$and"),
    ({"$or": [1]}, "$or[0]"),
    ({"$or": [{}]}, "$or[0]"),
    ({"$or": [{"a": {"$in": 1}}]}, "$or[0].a.$in"),
    ({"": 1}, ""),
    ({"a..b": 1}, "a..b"),
    ({"title; drop": 1}, "title; drop"),
    ({"title": {"$regex": "a" * 501}}, "title.$regex"),
]


@pytest.mark.parametrize(("query", "path"), INVALID, ids=lambda v: json.dumps(v)[:50])
def test_a_form_outside_the_grammar_is_refused_with_its_path(query: Any, path: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert caught.value.path == path


def test_malformed_json_text_is_refused_at_the_top() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query('{"title": ')
    assert caught.value.path == "$"


def test_json_that_is_not_an_object_is_refused() -> None:
    for text in ("[1, 2]", '"title"', "3", "null"):
        with pytest.raises(QueryError) as caught:
            parse_query(text)
        assert caught.value.path == "$"


def test_no_query_and_empty_queries_mean_no_filter() -> None:
    assert parse_query(None) is None
    assert parse_query("") is None
    assert parse_query("  ") is None
    assert parse_query({}) is None
    assert parse_query("{}") is None


def test_a_query_too_long_for_a_url_is_refused() -> None:
    query = {"uid": {"$in": ["blt" + "x" * 60 + str(i) for i in range(100)]}}
    assert len(json.dumps(query)) > MAX_ENCODED_CHARS
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert caught.value.path == "$"


def test_nesting_is_bounded() -> None:
    query: dict[str, Any] = {"title": "x"}
    for _ in range(10):
        query = {"$and": [query]}
    with pytest.raises(QueryError):
        check_query(query)


def test_a_misspelt_operator_suggests_the_right_one() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query({"title": {"$regx": "a"}})
    assert "$regex" in caught.value.problem


def test_the_accepted_form_names_every_operator() -> None:
    for op in (
        "$ne",
        "$in",
        "$nin",
        "$lt",
        "$lte",
        "$gt",
        "$gte",
        "$exists",
        "$regex",
        "$options",
        "$and",
        "$or",
        "$in_query",
        "$nin_query",
    ):
        assert op in ACCEPTED_FORM


SCALARS = st.one_of(st.text(max_size=10), st.integers(), st.booleans())
FIELD = st.from_regex(r"[a-z_][a-z0-9_]{0,8}(\.[a-z_][a-z0-9_]{0,8}){0,2}", fullmatch=True)
CONDITIONS = st.one_of(
    SCALARS,
    st.fixed_dictionaries({"$ne": SCALARS}),
    st.fixed_dictionaries({"$in": st.lists(SCALARS, min_size=1, max_size=5)}),
    st.fixed_dictionaries({"$gte": st.integers(), "$lt": st.integers()}),
    st.fixed_dictionaries({"$exists": st.booleans()}),
    st.fixed_dictionaries({"$regex": st.text(min_size=1, max_size=10), "$options": st.just("i")}),
)
QUERIES = st.recursive(
    st.dictionaries(FIELD, CONDITIONS, min_size=1, max_size=3),
    lambda inner: st.one_of(
        st.fixed_dictionaries({"$and": st.lists(inner, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"$or": st.lists(inner, min_size=1, max_size=3)}),
    ),
    max_leaves=5,
)


@given(QUERIES)
def test_generated_queries_in_the_grammar_are_accepted(query: dict[str, Any]) -> None:
    assert parse_query(json.dumps(query)) == query


@given(st.recursive(st.one_of(st.none(), SCALARS), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_any_json_either_passes_or_raises_query_error(value: Any) -> None:
    try:
        result = parse_query(json.dumps(value))
    except QueryError:
        return
    assert result is None or result == value
