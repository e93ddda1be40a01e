"""Cleaning stack text, cursors, and the response budget."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from cs_mcp.toolkit.shape import (
    DEFAULT_BUDGET_TOKENS,
    ListAnswer,
    carrying_measures,
    clean,
    clean_text,
    decode_cursor,
    encode_cursor,
    estimate_tokens,
    fingerprint,
    fit_budget,
    fit_one,
    fit_page,
    measured_size,
    page_info,
    shorten_to_fit,
    with_notice,
)


@pytest.mark.parametrize(
    "hidden",
    [
        "\u200b",  # zero-width space
        "\u200d",  # zero-width joiner
        "\u202e",  # right-to-left override
        "\u2066",  # left-to-right isolate
        "\ufeff",  # byte order mark
        "\U000e0049\U000e0067",  # tag characters that can smuggle invisible text
        "\x00\x1b",  # control characters
    ],
)
def test_invisible_and_bidirectional_characters_are_removed(hidden: str) -> None:
    assert clean_text(f"Ignore{hidden} previous") == "Ignore previous"


def test_newlines_tabs_and_ordinary_unicode_stay() -> None:
    text = "Crème brûlée\n\tδ 日本語 😀"
    assert clean_text(text) == text


def test_cleaning_reaches_nested_values_and_keys() -> None:
    assert clean({"ti\u200btle": ["a\u202eb", {"c": "d\u2066"}], "n": 3}) == {"title": ["ab", {"c": "d"}], "n": 3}


def test_a_cursor_round_trips_for_the_same_query_only() -> None:
    q = fingerprint("blog_post", {"title": "x"}, 25)
    cursor = encode_cursor(50, q)
    assert decode_cursor(cursor, q) == 50
    assert decode_cursor(None, q) == 0
    with pytest.raises(ToolError):
        decode_cursor(cursor, fingerprint("page", None, 25))


@pytest.mark.parametrize("bad", ["not-base64!!", "eyJ4IjogMX0", encode_cursor(-5, "q")])
def test_a_malformed_cursor_is_a_tool_error(bad: str) -> None:
    with pytest.raises(ToolError):
        decode_cursor(bad, "q")


def test_the_budget_cuts_at_an_item_boundary_but_keeps_at_least_one() -> None:
    items = [{"body": "x" * 400} for _ in range(100)]
    kept = fit_budget(items, budget_tokens=1000)
    assert 0 < len(kept) < 100
    [single] = fit_budget([{"body": "x" * 100_000}], budget_tokens=1000)
    assert single["body"].startswith("x" * 100)
    assert estimate_tokens(single) <= 1000


def test_page_info_says_when_an_answer_was_truncated_and_how_to_continue() -> None:
    info = page_info(total=100, skip=0, asked=25, returned=10, fetched=25, query_fingerprint="q")
    assert info["truncated"] is True
    assert decode_cursor(info["next_cursor"], "q") == 10
    last = page_info(total=30, skip=25, asked=25, returned=5, query_fingerprint="q")
    assert last["next_cursor"] is None


@pytest.mark.parametrize(
    ("dirty", "expected"),
    [
        ({"a": ["x\x01y", {"b": "c\x1fd"}]}, {"a": ["xy", {"b": "cd"}]}),
        ({"t": "back\bspace form\ffeed"}, {"t": "backspace formfeed"}),
        ({"t": "tag\U000e0041s"}, {"t": "tags"}),
        ({"k\u200b": "v"}, {"k": "v"}),
    ],
)
def test_control_characters_deep_in_a_structure_are_removed(dirty: Any, expected: Any) -> None:
    assert clean(dirty) == expected


def test_clean_structures_come_back_unchanged_including_text_that_only_looks_escaped() -> None:
    plain = {"title": "Café \\u0001 literal", "lines": "one\ntwo\tthree", "n": [1, 2.5, None, True]}
    assert clean(plain) == plain


@pytest.mark.parametrize("blank", ["\u3164", "\u115f\u1160", "\uffa0", "\ufe00", "\ufe0f", "\U000e0100", "\U000e01ef"])
def test_hangul_fillers_and_variation_selectors_are_removed(blank: str) -> None:
    assert clean_text(f"Ignore{blank} previous") == "Ignore previous"


@pytest.mark.parametrize("brk", ["\r", "\r\n", "\u2028", "\u2029"])
def test_carriage_returns_and_unicode_line_separators_become_plain_newlines(brk: str) -> None:
    assert clean_text(f"one{brk}two") == "one\ntwo"
    assert clean({"t": [f"one{brk}two"]}) == {"t": ["one\ntwo"]}


def test_with_notice_puts_the_notice_first_in_an_object_answer_only() -> None:
    assert list(with_notice({"a": 1, "content_notice": "forged"}, "data")) == ["content_notice", "a"]
    assert with_notice({"a": 1}, "data")["content_notice"] == "data"
    assert with_notice(None, "data") is None


def test_a_first_item_over_the_budget_alone_is_shortened_to_fit_and_says_so() -> None:
    items = [{"uid": "a", "body": "x" * 100_000}, {"uid": "b", "body": "short"}]
    kept, shortened = fit_page(items, budget_tokens=2000)
    assert shortened is True
    assert [i["uid"] for i in kept] == ["a"]
    assert estimate_tokens(kept) <= 2000
    assert "[cut:" in kept[0]["body"]
    assert items[0]["body"] == "x" * 100_000  # the caller's item is left as it was


class Row(BaseModel):
    uid: str
    title: str


def test_a_model_item_over_the_budget_is_shortened_and_stays_a_valid_model() -> None:
    kept = fit_budget([Row(uid="a", title="y" * 100_000)], budget_tokens=1000)
    assert isinstance(kept[0], Row)
    assert kept[0].uid == "a"
    assert estimate_tokens(kept[0]) <= 1000


def test_the_cleaning_pass_cleans_and_measures_items_that_need_it() -> None:
    items = [{"title": "plain ascii"}, {"title": "Safe\u202e\u200btitle", "note": "line\rbreak"}, {"t": "caf\u00e9"}]
    kept, shortened = fit_page(items, cleaned=True)
    assert shortened is False
    assert kept == [{"title": "plain ascii"}, {"title": "Safetitle", "note": "line\nbreak"}, {"t": "caf\u00e9"}]


def test_a_shortened_page_says_so_without_a_cursor_past_its_end() -> None:
    info = page_info(total=1, skip=0, asked=25, returned=1, query_fingerprint="q", shortened=True)
    assert info["truncated"] is True
    assert info["note"]
    assert info["next_cursor"] is None


def test_the_cleaning_pass_removes_a_delete_character_from_ascii_text() -> None:
    kept, _ = fit_page([{"t": "a\x7fb"}], cleaned=True)
    assert kept == [{"t": "ab"}]


@pytest.mark.parametrize("text", ["a\x01b", 'say "hi"\x1f', "back\\slash\bbell", "tab\t, line\n, then\x0c", "\x00"])
def test_the_cleaning_pass_finds_a_control_character_behind_other_escapes_in_ascii_and_other_text(text: str) -> None:
    expected = clean_text(text)
    assert expected != text
    for item in ({"t": text}, {"t": f"caf\u00e9 {text}"}):
        kept, _ = fit_page([{"a": "plain"}, item], cleaned=True)
        assert kept == [{"a": "plain"}, clean(item)]
        assert fit_one(item) == (clean(item), False)


@pytest.mark.parametrize("hidden", ["\u200b", "\u3164", "\ufe0f", "\u2028", "\r", "\x85", "\U000e0041"])
def test_one_object_is_cleaned_and_measured_in_one_pass_and_cut_only_over_the_budget(hidden: str) -> None:
    small, cut = fit_one({"title": f"caf\u00e9{hidden}", "n": 1})
    assert small == {"title": "caf\u00e9" if hidden not in ("\u2028", "\r") else "caf\u00e9\n", "n": 1}
    assert cut is False
    large, cut = fit_one({"title": f"x{hidden}", "body": "y" * 100_000}, budget_tokens=1000)
    assert cut is True
    assert large["title"] in ("x", "x\n")
    assert "[cut:" in large["body"]
    assert estimate_tokens(large) <= 1000


# Values whose JSON forms differ most between the compact encoder and `json.dumps`: floats in
# both notations, escapes, non-ASCII text, separators inside strings, empty containers.
AWKWARD_VALUES: list[Any] = [
    [1e-7, 1e-5, 0.00001, 1e16, 1e22, 1.5e-300, 5e-324, -0.0, 1.7976931348623157e308],
    {"t": 'quote " backslash \\ tab \t newline \n', "k:,": "a, b: c", "e-": "re-use 1e-7"},
    {"caf\u00e9": "\u65e5\u672c\u8a9e \U0001f600", "nested": [{"a": []}, {}, None, True, 0]},
    {"inf": float("inf"), "nan": float("nan"), "big": 10**40},
]


@pytest.mark.parametrize("value", AWKWARD_VALUES)
def test_the_measure_taken_from_one_compact_encoding_is_never_below_the_exact_one(value: Any) -> None:
    # Pages and single objects are kept whole on that bound; it must never under-measure.
    from cs_mcp.toolkit.shape import _compact_json, _dumps_bound  # pyright: ignore[reportPrivateUsage] - the bound is the subject

    data = _compact_json(value)
    assert data is not None
    assert _dumps_bound(data) >= len(json.dumps(value, ensure_ascii=False))


@pytest.mark.parametrize("value", AWKWARD_VALUES)
def test_twice_the_compact_length_is_never_below_the_counted_measure(value: Any) -> None:
    # A page is kept whole on twice its compact length without counting, when that fits.
    from cs_mcp.toolkit.shape import _compact_json, _dumps_bound  # pyright: ignore[reportPrivateUsage] - the bound is the subject

    data = _compact_json(value)
    assert data is not None
    assert 2 * len(data) >= _dumps_bound(data)
    assert 2 * len(b",:" * 50) >= _dumps_bound(b",:" * 50)


def test_a_clean_page_within_the_budget_on_its_counted_measure_but_not_on_twice_its_length_comes_back_whole() -> None:
    items = [{"uid": f"e{i}", "body": "word, word: " * 80} for i in range(25)]
    assert sum(estimate_tokens(i) for i in items) + 200 <= DEFAULT_BUDGET_TOKENS
    assert sum(len(json.dumps(i, separators=(",", ":"))) * 2 // 4 for i in items) > DEFAULT_BUDGET_TOKENS
    kept, shortened = fit_page(items, cleaned=True)
    assert kept == items
    assert shortened is False


def test_a_clean_page_within_the_budget_comes_back_whole_and_unchanged() -> None:
    items = [{"uid": f"e{i}", "title": f"Entry {i}", "tags": ["a", "b"], "n": 1.5} for i in range(10)]
    kept, shortened = fit_page(items, cleaned=True)
    assert kept == items
    assert shortened is False


def test_a_page_near_the_budget_keeps_exactly_the_items_the_exact_measure_allows() -> None:
    # Each item alone is ~260 tokens: the page is near the budget, where only the exact measure decides.
    items = [{"uid": f"e{i}", "body": "word, word: " * 85} for i in range(40)]
    budget = 200 + sum(estimate_tokens(i) for i in items[:7])
    kept, _ = fit_page(items, budget_tokens=budget, cleaned=True)
    assert len(kept) == 7
    kept, _ = fit_page(items, budget_tokens=budget - 1, cleaned=True)
    assert len(kept) == 6


def test_one_object_far_over_the_budget_is_cut_to_the_same_answer_as_by_the_exact_measure() -> None:
    value = {"title": "Long", "body": "Long read. " * 9_310, "tags": ["x"]}
    cut, shortened = fit_one(value)
    assert shortened is True
    assert cut == shorten_to_fit(value)
    assert estimate_tokens(cut) <= DEFAULT_BUDGET_TOKENS


def test_a_page_led_by_an_item_far_over_the_budget_answers_that_item_cut_as_the_exact_measure_cuts_it() -> None:
    items = [{"uid": f"e{i}", "body": "Long read. " * 9_310} for i in range(10)]
    kept, shortened = fit_page(items, cleaned=True)
    assert shortened is True
    assert kept == [shorten_to_fit(items[0], DEFAULT_BUDGET_TOKENS - 200)]


class _Page(ListAnswer):
    entries: list[dict[str, Any]]


def test_a_measure_carried_from_the_fitted_page_is_never_below_the_answers_exact_length() -> None:
    items = [{"title": f"é{i}", "n": 1e-7, "tags": ["a", "b"], "ok": True} for i in range(5)]
    with carrying_measures():
        kept, _ = fit_page(items, cleaned=True)
        answer = _Page(entries=kept, returned=len(kept), note="a note")
        bound = measured_size(answer)
    assert bound is not None
    assert bound >= len(answer.model_dump_json())


def test_a_page_grown_after_it_was_measured_carries_no_measure() -> None:
    with carrying_measures():
        kept, _ = fit_page([{"t": "a"}], cleaned=True)
        answer = _Page(entries=kept, returned=1)
        grown = answer.model_copy(update={"entries": [*kept, {"t": "x" * 100_000}]})
        assert measured_size(grown) is None
        answer.entries.append({"t": "x" * 100_000})
        assert measured_size(answer) is None


@pytest.mark.anyio
async def test_a_read_answer_grown_past_the_budget_after_its_page_was_measured_is_still_cut() -> None:
    from cs_mcp.toolkit.registry import ANSWER_BUDGET, _within_budget  # pyright: ignore[reportPrivateUsage]  # the check itself is under test

    async def read() -> _Page:
        kept, _ = fit_page([{"t": "a"}], cleaned=True)
        answer = _Page(entries=kept, returned=1)
        answer.entries.append({"t": "x" * 100_000})
        return answer

    answer = await _within_budget(read)()
    assert answer.truncated
    assert len(answer.model_dump_json()) // 4 <= ANSWER_BUDGET
