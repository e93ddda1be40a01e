"""Checking an entry's fields against its content type's schema before anything is written.

Contentstack refuses a bad entry one problem at a time and in its own words; an agent fixing
them would need as many round trips. This check reports every problem at once (unknown
fields, missing mandatory fields, wrong types, down into groups and modular blocks), each
with the field's path and what the schema expects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast

from cs_mcp.client import SchemaField
from cs_mcp.toolkit.schema import value_kind

# Fields Contentstack sets itself: never written by a tool.
SYSTEM_FIELDS = frozenset(
    {
        "uid",
        "_version",
        "locale",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
        "publish_details",
        "ACL",
        "_in_progress",
        "_metadata",
        "_workflow",
    }
)
# Fields every entry has besides its schema, and that a tool may write.
WRITABLE_SYSTEM_FIELDS = frozenset({"tags"})

MAX_PROBLEMS = 50

_EXPECTED = {
    "text": "a string",
    "number": "a number",
    "boolean": "true or false",
    "isodate": "an ISO-8601 date string (2025-01-31 or 2025-01-31T09:00:00Z)",
    "file": 'an asset uid (or {"uid": "..."})',
    "link": '{"title": "...", "href": "..."}',
    "json": 'a JSON object (JSON rich text: {"type": "doc", ...})',
    "group": "an object of the group's fields",
    "global_field": "an object of the global field's fields",
}


def check_entry_fields(
    schema: Sequence[SchemaField], fields: Mapping[str, Any], *, require_mandatory: bool = True
) -> list[str]:
    """Every problem of `fields` against `schema`, as `path: problem` lines (empty when fine).

    With `require_mandatory`, a mandatory field that is absent or empty is a problem.
    """
    problems: list[str] = []
    _check_object(schema, fields, "", problems, require_mandatory, top=True)
    return problems[:MAX_PROBLEMS]


def missing_mandatory(schema: Sequence[SchemaField], values: Mapping[str, Any]) -> list[str]:
    """The top-level mandatory fields that `values` leaves absent or empty."""
    return [
        f"{field.uid}: mandatory field missing ({_expected(field)})"
        for field in schema
        if field.mandatory and _is_empty(values.get(field.uid))
    ]


def editable_fields(schema: Sequence[SchemaField], entry: Mapping[str, Any]) -> dict[str, Any]:
    """The values of `entry` that a write sends back: its schema fields and tags."""
    names = {f.uid for f in schema} | WRITABLE_SYSTEM_FIELDS
    return {k: v for k, v in entry.items() if k in names}


def _check_object(
    schema: Sequence[SchemaField],
    values: Mapping[str, Any],
    prefix: str,
    problems: list[str],
    require_mandatory: bool,
    *,
    top: bool = False,
) -> None:
    by_uid = {f.uid: f for f in schema}
    for key, value in values.items():
        path = f"{prefix}{key}"
        field = by_uid.get(key)
        if field is None:
            if top and key in WRITABLE_SYSTEM_FIELDS:
                if not _is_list_of(value, str):
                    problems.append(f"{path}: tags are a list of strings")
            elif top and key in SYSTEM_FIELDS:
                problems.append(f"{path}: set by Contentstack, not writable")
            else:
                known = ", ".join(sorted(by_uid)) or "none"
                problems.append(f"{path}: unknown field (fields here are: {known})")
            continue
        _check_field(field, value, path, problems, require_mandatory)
    if require_mandatory:
        for field in schema:
            if field.mandatory and _is_empty(values.get(field.uid)):
                problems.append(f"{prefix}{field.uid}: mandatory field missing ({_expected(field)})")


def _check_field(field: SchemaField, value: Any, path: str, problems: list[str], require_mandatory: bool) -> None:
    if value is None:
        return  # an absent value; the mandatory check reports it where it matters
    kind = field.data_type
    if kind == "reference":
        _check_references(field, value, path, problems)
        return
    if kind == "blocks":
        _check_blocks(field, value, path, problems, require_mandatory)
        return
    if kind == "taxonomy":
        if not _is_list_of(value, dict):
            problems.append(f'{path}: expected a list of {{"taxonomy_uid": ..., "term_uid": ...}}')
        return
    if field.multiple:
        if not isinstance(value, list):
            problems.append(f"{path}: a multiple field takes a list, each {_expected(field)}")
            return
        for i, item in enumerate(cast(list[Any], value)):
            _check_single(field, item, f"{path}[{i}]", problems, require_mandatory)
        return
    _check_single(field, value, path, problems, require_mandatory)


def _check_single(field: SchemaField, value: Any, path: str, problems: list[str], require_mandatory: bool) -> None:
    kind = field.data_type
    if kind in ("group", "global_field"):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected {_expected(field)}, not {_kind(value)}")
            return
        _check_object(field.schema_ or [], cast(dict[str, Any], value), f"{path}.", problems, require_mandatory)
        return
    if not _matches(kind, value):
        problems.append(f"{path}: expected {_expected(field)}, not {_kind(value)}")


def _matches(kind: str, value: Any) -> bool:
    if kind == "text":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "isodate":
        return isinstance(value, str) and _is_iso_date(value)
    if kind == "file":
        return isinstance(value, str) or (
            isinstance(value, dict) and isinstance(cast(dict[str, Any], value).get("uid"), str)
        )
    if kind == "link":
        if not isinstance(value, dict):
            return False
        link = cast(dict[str, Any], value)
        return set(link) <= {"title", "href"} and all(isinstance(v, str) for v in link.values())
    if kind == "json":
        return isinstance(value, dict)
    return True  # a type this check does not know: Contentstack decides


def _items(value: Any, path: str, problems: list[str], takes: str) -> list[tuple[str, Any]]:
    """The items of a list field's `value`, each with its path; none when it is not a list,
    which is a problem (`takes` says what the field takes)."""
    if not isinstance(value, list):
        problems.append(f"{path}: {takes}")
        return []
    return [(f"{path}[{i}]", item) for i, item in enumerate(cast(list[Any], value))]


def _check_references(field: SchemaField, value: Any, path: str, problems: list[str]) -> None:
    targets = [field.reference_to] if isinstance(field.reference_to, str) else list(field.reference_to or [])
    shape = '[{"uid": "...", "_content_type_uid": "..."}]'
    for at, ref in _items(value, path, problems, f"a reference takes a list such as {shape}"):
        if isinstance(ref, str):
            if len(targets) > 1:
                problems.append(f"{at}: name the content type: {shape} (one of {', '.join(targets)})")
            continue
        if not isinstance(ref, dict) or not isinstance(cast(dict[str, Any], ref).get("uid"), str):
            problems.append(f"{at}: expected {shape}")
            continue
        ct = cast(dict[str, Any], ref).get("_content_type_uid")
        if ct is None and len(targets) > 1:
            problems.append(f"{at}: _content_type_uid is needed (one of {', '.join(targets)})")
        elif ct is not None and targets and ct not in targets:
            problems.append(f"{at}: may reference only {', '.join(targets)}, not {ct!r}")


def _check_blocks(field: SchemaField, value: Any, path: str, problems: list[str], require_mandatory: bool) -> None:
    blocks = {b.uid: b for b in field.blocks or []}
    shape = '[{"<block uid>": {...fields}}]'
    takes = f"modular blocks take a list such as {shape} (blocks: {', '.join(blocks)})"
    for at, item in _items(value, path, problems, takes):
        if not isinstance(item, dict) or len(cast(dict[str, Any], item)) != 1:
            problems.append(f"{at}: each block is an object with one key, the block's uid: {shape}")
            continue
        ((name, content),) = cast(dict[str, Any], item).items()
        block = blocks.get(name)
        if block is None:
            problems.append(f"{at}: unknown block {name!r} (blocks: {', '.join(blocks) or 'none'})")
        elif not isinstance(content, dict):
            problems.append(f"{at}.{name}: a block's content is an object of its fields")
        else:
            _check_object(
                block.schema_ or [], cast(dict[str, Any], content), f"{at}.{name}.", problems, require_mandatory
            )


def _expected(field: SchemaField) -> str:
    if field.data_type == "reference":
        return "a list of references"
    if field.data_type == "blocks":
        return "a list of blocks"
    return _EXPECTED.get(field.data_type, f"a {field.data_type} value")


def _is_iso_date(text: str) -> bool:
    try:
        if len(text) == 10:
            date.fromisoformat(text)
        else:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _is_list_of(value: Any, kind: type) -> bool:
    return isinstance(value, list) and all(isinstance(v, kind) for v in cast(list[Any], value))


def _kind(value: Any) -> str:
    """What `value` is, with its article where it takes one ("a number", "an object", "null")."""
    kind = value_kind(value)
    if kind in ("boolean", "number", "string", "list"):
        return f"a {kind}"
    return "an object" if kind == "object" else kind
