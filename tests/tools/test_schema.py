"""Compacted listing schemas keep their meaning and lose their noise."""

from __future__ import annotations

from cs_mcp.tools._schema import compact_schema


def test_generated_titles_go_but_a_property_named_title_stays() -> None:
    schema = {
        "title": "Entry",
        "type": "object",
        "properties": {"title": {"title": "Title", "type": "string"}, "uid": {"title": "Uid", "type": "string"}},
    }
    assert compact_schema(schema) == {
        "title": "Entry",
        "type": "object",
        "properties": {"title": {"type": "string"}, "uid": {"type": "string"}},
    }


def test_a_simple_nullable_union_folds_into_a_type_list() -> None:
    schema = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "description": "d"}
    assert compact_schema(schema) == {"type": ["string", "null"], "default": None, "description": "d"}


def test_unions_of_references_or_constrained_schemas_are_left_alone() -> None:
    ref = {"anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}]}
    both = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert compact_schema(ref) == ref
    assert compact_schema(both) == both


def test_output_schemas_drop_defaults_input_schemas_keep_them() -> None:
    schema = {"properties": {"limit": {"type": "integer", "default": 25}}}
    assert compact_schema(schema)["properties"]["limit"]["default"] == 25
    assert "default" not in compact_schema(schema, output=True)["properties"]["limit"]


def test_an_output_schema_is_listed_as_the_types_of_its_top_level_properties() -> None:
    schema = {
        "$defs": {
            "Item": {"type": "object", "properties": {"uid": {"type": "string"}}},
            "Kind": {"enum": ["a", "b"]},
        },
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "description": "d"},
            "item": {"anyOf": [{"$ref": "#/$defs/Item"}, {"type": "null"}]},
            "kind": {"$ref": "#/$defs/Kind"},
            "count": {"type": "integer", "default": 0},
            "anything": {},
        },
    }
    assert compact_schema(schema, output=True) == {
        "type": "object",
        "properties": {
            "items": {"type": "array"},
            "item": {"type": ["object", "null"]},
            "kind": {"type": "string"},
            "count": {"type": "integer"},
            "anything": {},
        },
    }
