"""The entries query language: every operator, dot paths, nesting, references and invalid forms."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cs_mcp.sandbox.query import QueryError, compile_query, parse_query, values_at

POSTS: list[dict[str, Any]] = [
    {
        "uid": "p1",
        "title": "Headless basics",
        "reading_minutes": 5,
        "featured": True,
        "publish_date": "2025-01-10",
        "tags": ["tutorial", "engineering"],
        "seo": {"meta_title": "Basics", "keywords": ["headless", "cms"]},
        "author": [{"uid": "a1", "_content_type_uid": "author"}],
        "sections": [{"hero": {"headline": "Welcome"}}, {"text_block": {"heading": "Why"}}],
    },
    {
        "uid": "p2",
        "title": "Scaling teams",
        "reading_minutes": 12,
        "featured": False,
        "publish_date": "2025-03-01",
        "tags": ["news"],
        "seo": {"meta_title": "Teams", "keywords": ["teams"]},
        "author": [{"uid": "a2", "_content_type_uid": "author"}],
        "sections": [{"text_block": {"heading": "Growth"}}],
    },
    {"uid": "p3", "title": "Untagged draft", "reading_minutes": 1, "featured": False, "author": []},
]


def matching(query: dict[str, Any], resolver: Any = None) -> list[str]:
    predicate = compile_query(query, resolver)
    return [post["uid"] for post in POSTS if predicate(post)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["p1", "p2", "p3"]),
        ({"title": "Scaling teams"}, ["p2"]),
        ({"featured": True}, ["p1"]),
        ({"reading_minutes": 1}, ["p3"]),
        ({"tags": "news"}, ["p2"]),
        ({"seo.keywords": "cms"}, ["p1"]),
        ({"seo.meta_title": "Teams"}, ["p2"]),
        ({"sections.hero.headline": "Welcome"}, ["p1"]),
        ({"sections.text_block.heading": "Growth"}, ["p2"]),
        ({"title": {"$eq": "Headless basics"}}, ["p1"]),
        ({"title": {"$ne": "Headless basics"}}, ["p2", "p3"]),
        ({"tags": {"$ne": "news"}}, ["p1", "p3"]),
        ({"tags": {"$in": ["news", "tutorial"]}}, ["p1", "p2"]),
        ({"tags": {"$nin": ["news"]}}, ["p1", "p3"]),
        ({"reading_minutes": {"$lt": 5}}, ["p3"]),
        ({"reading_minutes": {"$lte": 5}}, ["p1", "p3"]),
        ({"reading_minutes": {"$gt": 5}}, ["p2"]),
        ({"reading_minutes": {"$gte": 5, "$lt": 12}}, ["p1"]),
        ({"publish_date": {"$gte": "2025-02-01"}}, ["p2"]),
        ({"tags": {"$exists": True}}, ["p1", "p2"]),
        ({"seo": {"$exists": False}}, ["p3"]),
        ({"title": {"$regex": "^head"}}, []),
        ({"title": {"$regex": "^head", "$options": "i"}}, ["p1"]),
        ({"seo.keywords": {"$regex": "ea"}}, ["p1", "p2"]),
        ({"$or": [{"featured": True}, {"reading_minutes": 1}]}, ["p1", "p3"]),
        ({"$and": [{"featured": False}, {"tags": {"$exists": True}}]}, ["p2"]),
        (
            {"$or": [{"$and": [{"featured": False}, {"reading_minutes": {"$gt": 10}}]}, {"title": "Untagged draft"}]},
            ["p2", "p3"],
        ),
        ({"featured": False, "reading_minutes": {"$lt": 10}}, ["p3"]),
    ],
)
def test_each_operator_selects_the_entries_it_describes(query: dict[str, Any], expected: list[str]) -> None:
    assert matching(query) == expected


def test_booleans_never_equal_numbers_and_do_not_compare() -> None:
    assert matching({"featured": 1}) == []
    with pytest.raises(QueryError):
        compile_query({"reading_minutes": {"$gt": True}})


def test_comparisons_across_types_match_nothing_instead_of_failing() -> None:
    assert matching({"title": {"$gt": 3}}) == []
    assert matching({"reading_minutes": {"$lt": "z"}}) == []


def test_reference_queries_ask_the_resolver_for_the_matching_referenced_uids() -> None:
    asked: list[tuple[str, dict[str, Any]]] = []

    def resolver(path: str, subquery: dict[str, Any]) -> set[str]:
        asked.append((path, subquery))
        return {"a1"}

    assert matching({"author": {"$in_query": {"title": "Ada"}}}, resolver) == ["p1"]
    assert matching({"author": {"$nin_query": {"title": "Ada"}}}, resolver) == ["p2", "p3"]
    assert asked == [("author", {"title": "Ada"}), ("author", {"title": "Ada"})]


def test_a_resolver_refusal_is_a_query_error() -> None:
    def resolver(path: str, subquery: dict[str, Any]) -> set[str]:
        raise QueryError(f"'{path}' is not a reference field.", path)

    with pytest.raises(QueryError) as refused:
        compile_query({"title": {"$in_query": {}}}, resolver)
    assert refused.value.field == "title"


@pytest.mark.parametrize(
    "query",
    [
        {"title": {"$like": "x"}},
        {"$nor": [{"title": "x"}]},
        {"title": {"$in": "news"}},
        {"title": {"$nin": 3}},
        {"reading_minutes": {"$gt": [1]}},
        {"reading_minutes": {"$lt": None}},
        {"tags": {"$exists": "yes"}},
        {"title": {"$regex": 5}},
        {"title": {"$regex": "(unclosed"}},
        {"title": {"$regex": "x", "$options": "q"}},
        {"title": {"$options": "i"}},
        {"$or": []},
        {"$and": {"title": "x"}},
        {"$or": ["title"]},
        {"title": {"$eq": "x", "plain": 1}},
        {"author": {"$in_query": "Ada"}},
        {"author": {"$in_query": {"title": "Ada"}}},
        {"": "x"},
    ],
)
def test_invalid_queries_are_refused_whole_before_any_entry_is_read(query: dict[str, Any]) -> None:
    with pytest.raises(QueryError):
        compile_query(query)


@pytest.mark.parametrize("text", ["{", "[1, 2]", '"title"', "null", "{'title': 1}"])
def test_query_text_that_is_not_a_json_object_is_refused(text: str) -> None:
    with pytest.raises(QueryError):
        parse_query(text)


def test_an_absent_query_matches_everything() -> None:
    assert parse_query(None) == {}
    assert parse_query("  ") == {}


def test_values_at_fans_out_through_lists_and_blocks() -> None:
    assert values_at(POSTS[0], "sections.hero.headline") == ["Welcome"]
    assert values_at(POSTS[0], "tags") == [["tutorial", "engineering"], "tutorial", "engineering"]
    assert values_at(POSTS[2], "seo.keywords") == []


_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5))
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)


@given(st.dictionaries(st.text(max_size=8), _json_values, max_size=4))
def test_any_json_object_either_compiles_or_is_refused_as_a_query_error(query: dict[str, Any]) -> None:
    try:
        predicate = compile_query(query)
    except QueryError:
        return
    for post in POSTS:
        assert predicate(post) in (True, False)


@given(st.text(max_size=30))
def test_any_query_text_either_parses_or_is_refused_as_a_query_error(text: str) -> None:
    try:
        parsed = parse_query(text)
    except QueryError:
        return
    assert isinstance(parsed, dict)
    assert text.strip() == "" or json.loads(text) == parsed
