from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from cs_mcp.client import Entry, PublishDetail
from cs_mcp.client._models import plain_entry
from tests.helpers import as_the_model_reads

DETAIL = {"time": "2026-01-01T00:00:00Z", "environment": "production", "extra": {"a": [1]}, "locale": "en-us"}

# Entries as Contentstack answers them (the fields of the model's types, in its answer's order),
# and entries the model converts or reads in its own way.
ENTRIES: list[dict[str, Any]] = [
    {"title": "Hello", "uid": "blt1", "body": {"children": [{"text": "x"}]}, "_version": 3, "tags": ["a"]},
    {"uid": "blt1", "publish_details": [DETAIL, {**DETAIL, "version": 2, "user": None}]},
    {"publish_details": DETAIL, "uid": "blt1", "title": None, "locale": "en-us", "updated_at": "2026"},
    {"uid": "blt1", "publish_details": None, "tags": []},
    {"uid": "blt1", "_version": "3"},
    {"uid": "blt1", "_version": 3.0, "publish_details": [{**DETAIL, "version": "2"}]},
    {"uid": "blt1", "version": 4, "n": 1.5},
    {"uid": "blt1", "publish_details": {**DETAIL, "version": 2.0}},
]


@pytest.mark.parametrize("raw", ENTRIES)
def test_an_entry_read_plainly_is_what_the_model_reads_and_writes_back_in_the_same_order(raw: dict[str, Any]) -> None:
    assert json.dumps(plain_entry(raw)) == json.dumps(as_the_model_reads(raw))


@pytest.mark.parametrize(
    "raw",
    [
        {"title": "no uid"},
        {"uid": 1},
        {"uid": "blt1", "tags": ["a", 2]},
        {"uid": "blt1", "_version": "three"},
        {"uid": "blt1", "publish_details": [{"environment": "production"}]},
        ["not", "an", "object"],
    ],
)
def test_an_entry_without_an_entry_s_shape_is_refused_as_the_model_refuses_it(raw: Any) -> None:
    with pytest.raises(ValidationError) as plain:
        plain_entry(raw)
    with pytest.raises(ValidationError) as model:
        as_the_model_reads(raw)
    assert plain.value.errors() == model.value.errors()


def test_the_plain_reading_lists_the_models_fields_in_the_models_order() -> None:
    from cs_mcp.client._models import _PlainEntry, _PlainPublishDetail  # pyright: ignore[reportPrivateUsage] - the mirror of the models is the subject

    for plain, model in ((_PlainEntry, Entry), (_PlainPublishDetail, PublishDetail)):
        assert list(plain.__annotations__) == [f.alias or name for name, f in model.model_fields.items()]
