"""Which references a schema change removes or changes: what reaches the published entries
(Contentstack reads their references by the latest schema until they are published again)."""

from __future__ import annotations

from typing import Any

import pytest

from cs_mcp.tools._schema_diff import schema_diff, schema_problems

TITLE: dict[str, Any] = {"uid": "title", "data_type": "text"}
AUTHOR: dict[str, Any] = {"uid": "author", "data_type": "reference", "reference_to": ["person"], "multiple": True}
BODY: dict[str, Any] = {
    "uid": "body",
    "data_type": "json",
    "reference_to": ["sys_assets", "page"],
    "field_metadata": {"embed_entry": True},
}
SEO: dict[str, Any] = {
    "uid": "seo",
    "data_type": "global_field",
    "reference_to": "seo",
    "schema": [{"uid": "keywords", "data_type": "text"}],
}
SECTIONS: dict[str, Any] = {
    "uid": "sections",
    "data_type": "blocks",
    "blocks": [
        {"uid": "quote", "schema": [{"uid": "text", "data_type": "text"}, AUTHOR | {"uid": "source"}]},
        {"uid": "hero", "schema": [{"uid": "image", "data_type": "file"}]},
    ],
}
OLD: list[dict[str, Any]] = [TITLE, AUTHOR, BODY, SEO, SECTIONS]


def replaced(uid: str, field: dict[str, Any] | None) -> list[dict[str, Any]]:
    """OLD with the field `uid` replaced by `field` (None: removed)."""
    new: list[dict[str, Any]] = []
    for f in OLD:
        if f["uid"] != uid:
            new.append(f)
        elif field is not None:
            new.append(field)
    return new


@pytest.mark.parametrize(
    ("new", "references"),
    [
        (replaced("author", None), ["author"]),
        (replaced("author", AUTHOR | {"reference_to": ["person", "team"]}), ["author"]),
        (replaced("author", AUTHOR | {"data_type": "text"}), ["author"]),
        (replaced("body", None), ["body"]),
        (replaced("body", BODY | {"reference_to": ["sys_assets"]}), ["body"]),
        (replaced("sections", None), ["sections"]),
        (replaced("sections", SECTIONS | {"blocks": [SECTIONS["blocks"][1]]}), ["sections.quote"]),
        (
            replaced("sections", SECTIONS | {"blocks": [{"uid": "quote", "schema": []}, SECTIONS["blocks"][1]]}),
            ["sections.quote.source"],
        ),
    ],
    ids=[
        "removed",
        "retargeted",
        "retyped",
        "rich-text-removed",
        "rich-text-retargeted",
        "blocks-removed",
        "block-removed",
        "nested-removed",
    ],
)
def test_a_reference_removed_or_changed_is_named_by_its_path(new: list[dict[str, Any]], references: list[str]) -> None:
    assert schema_diff(OLD, new).references == references


@pytest.mark.parametrize(
    "new",
    [
        [*OLD, AUTHOR | {"uid": "editor"}],
        replaced("title", TITLE | {"display_name": "Headline"}),
        replaced("seo", SEO | {"display_name": "Search"}),
        replaced("seo", None),
        replaced("sections", SECTIONS | {"blocks": [SECTIONS["blocks"][0]]}),
    ],
    ids=[
        "reference-added",
        "text-renamed",
        "global-field-renamed",
        "global-field-without-references-removed",
        "block-without-references-removed",
    ],
)
def test_a_change_that_touches_no_existing_reference_names_none(new: list[dict[str, Any]]) -> None:
    diff = schema_diff(OLD, new)
    assert diff.lines
    assert diff.references == []


@pytest.mark.parametrize(
    ("new", "dropped"),
    [
        (replaced("author", None), ["author"]),
        (replaced("title", TITLE | {"data_type": "number"}), ["title"]),
        (replaced("title", TITLE | {"multiple": True}), ["title"]),
        (replaced("author", AUTHOR | {"multiple": False}), ["author"]),
        (replaced("sections", SECTIONS | {"blocks": [SECTIONS["blocks"][1]]}), ["sections.quote"]),
        (replaced("title", TITLE | {"display_name": "Headline"}), []),
        (replaced("title", TITLE | {"multiple": False}), []),
        (replaced("author", AUTHOR | {"reference_to": ["person", "team"]}), []),
    ],
    ids=[
        "removed",
        "retyped",
        "made-multiple",
        "made-single",
        "block-removed",
        "renamed",
        "multiple-stated",
        "retargeted",
    ],
)
def test_a_field_removed_retyped_or_made_multiple_or_single_drops_its_values(
    new: list[dict[str, Any]], dropped: list[str]
) -> None:
    assert schema_diff(OLD, new).dropped == dropped


# A global field used as a block: the block names its definition in `reference_to`.
PROMO: dict[str, Any] = {"uid": "promo", "title": "Promo", "reference_to": "promo", "schema": [AUTHOR]}


def with_blocks(*blocks: dict[str, Any]) -> list[dict[str, Any]]:
    """OLD with the modular blocks field holding `blocks`."""
    return replaced("sections", SECTIONS | {"blocks": list(blocks)})


@pytest.mark.parametrize(
    ("old", "new", "references"),
    [
        (OLD, replaced("seo", SEO | {"reference_to": "seo_v2"}), ["seo"]),
        (OLD, replaced("seo", {k: v for k, v in SEO.items() if k != "schema"} | {"reference_to": "seo_v2"}), ["seo"]),
        (with_blocks(PROMO), with_blocks(PROMO | {"reference_to": "banner"}), ["sections.promo"]),
    ],
    ids=["global-field", "global-field-sent-without-its-fields", "global-field-block"],
)
def test_a_global_field_pointed_at_another_definition_changes_the_references_it_holds(
    old: list[dict[str, Any]], new: list[dict[str, Any]], references: list[str]
) -> None:
    diff = schema_diff(old, new)
    assert diff.references == references
    assert f'~ {references[0]}: reference_to "' in "\n".join(diff.lines)


def test_a_block_uid_used_twice_is_a_problem_of_the_schema() -> None:
    changed = {"uid": "quote", "schema": [AUTHOR | {"reference_to": ["team"]}]}
    problems = schema_problems([SECTIONS | {"blocks": [changed, *SECTIONS["blocks"]]}])
    assert "sections.quote: the block uid is used twice" in problems


BYLINE: dict[str, Any] = {"uid": "byline", "data_type": "group", "schema": [AUTHOR]}


@pytest.mark.parametrize(
    ("was", "now"),
    [
        (BYLINE, BYLINE | {"multiple": True}),
        (BYLINE | {"multiple": True}, BYLINE | {"multiple": False}),
        (SEO | {"schema": [AUTHOR]}, SEO | {"schema": [AUTHOR], "multiple": True}),
    ],
    ids=["group-made-multiple", "group-made-single", "global-field-made-multiple"],
)
def test_a_field_holding_a_reference_made_multiple_or_single_changes_where_it_is(
    was: dict[str, Any], now: dict[str, Any]
) -> None:
    assert schema_diff([TITLE, was], [TITLE, now]).references == [was["uid"]]


def test_a_field_made_a_global_field_may_hold_references_whatever_fields_are_sent_with_it() -> None:
    group = {"uid": "byline", "data_type": "group", "schema": [{"uid": "name", "data_type": "text"}]}
    new = [TITLE, {"uid": "byline", "data_type": "global_field", "reference_to": "byline", "schema": group["schema"]}]
    assert schema_diff([TITLE, group], new).references == ["byline"]


def test_a_nested_field_that_is_no_object_is_a_problem_of_the_schema() -> None:
    group = {"uid": "byline", "display_name": "Byline", "data_type": "group", "schema": ["author", 7]}
    problems = schema_problems([group])
    assert "byline.field 1: a field must be a JSON object" in problems
    assert "byline.field 2: a field must be a JSON object" in problems


@pytest.mark.parametrize("multiple", ["false", "true", 0, 1, None])
def test_multiple_given_as_anything_but_true_or_false_is_a_problem_of_the_schema(multiple: Any) -> None:
    # Read as a truth value, "false" is multiple: a field made single so would not drop its values.
    field = {"uid": "sku", "display_name": "SKU", "data_type": "text", "multiple": multiple}
    assert schema_problems([field]) == ["sku: multiple must be true or false"]


def test_a_block_whose_fields_are_no_list_is_a_problem_of_the_schema() -> None:
    hero = {"uid": "hero", "schema": 5}
    sections = SECTIONS | {"display_name": "Sections", "blocks": [hero]}
    assert schema_problems([sections]) == ["sections.hero: a block's fields under 'schema' must be a list"]


@pytest.mark.parametrize("junk", [{"schema": 5}, {"blocks": 3}, {"blocks": [5, {"schema": 7}]}])
def test_a_field_retyped_with_anything_under_schema_or_blocks_drops_its_values(junk: dict[str, Any]) -> None:
    # Only a group's `schema` and a blocks field's `blocks` are checked as lists of fields.
    diff = schema_diff(OLD, replaced("title", TITLE | {"data_type": "number"} | junk))
    assert diff.dropped == ["title"]


@pytest.mark.parametrize(
    ("old", "new", "dropped"),
    [
        (OLD, replaced("seo", SEO | {"reference_to": "seo_v2"}), ["seo"]),
        (OLD, replaced("seo", SEO | {"reference_to": "seo_v2", "multiple": True}), ["seo"]),
        (with_blocks(PROMO), with_blocks(PROMO | {"reference_to": "banner"}), ["sections.promo"]),
    ],
    ids=["global-field", "global-field-made-multiple-too", "global-field-block"],
)
def test_a_global_field_pointed_at_another_definition_drops_its_values(
    old: list[dict[str, Any]], new: list[dict[str, Any]], dropped: list[str]
) -> None:
    # Its values are those of the fields the definition it named held, which the new one need not.
    assert schema_diff(old, new).dropped == dropped
