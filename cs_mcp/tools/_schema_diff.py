"""A content type schema, checked before it is sent and compared field by field with the one
it replaces (what `update_content_type`'s plan shows)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

# Contentstack's field data types ("JSON schema for creating a content type").
DATA_TYPES = frozenset(
    {"text", "number", "isodate", "boolean", "file", "reference", "group", "blocks", "json", "link", "global_field"}
)
UID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
# Keys of a field that hold its nested fields: compared field by field, not as a whole.
NESTED = ("schema", "blocks")

Field = dict[str, Any]


def schema_problems(schema: Sequence[Field], where: str = "") -> list[str]:
    """Every problem of a schema, as sentences: a field without a valid uid, a uid used twice
    among siblings (or a block uid among blocks), no display_name, an unknown data_type; groups
    and blocks checked inside."""
    problems: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(cast(Sequence[Any], schema)):
        if not isinstance(item, dict):
            # Only the top level is parsed as a list of objects: nested lists may hold anything.
            problems.append(f"{where}field {index + 1}: a field must be a JSON object")
            continue
        raw = cast(Field, item)
        uid = raw.get("uid")
        at = f"{where}{uid}" if isinstance(uid, str) else f"{where}field {index + 1}"
        if not isinstance(uid, str) or not UID_PATTERN.match(uid):
            problems.append(f"{at}: uid must be lower-case letters, digits and '_', starting with a letter")
        elif uid in seen:
            problems.append(f"{at}: the uid is used twice")
        else:
            seen.add(uid)
        if not isinstance(raw.get("display_name"), str) or not raw.get("display_name"):
            problems.append(f"{at}: display_name is missing")
        if not isinstance(raw.get("multiple", False), bool):
            # Read as a truth value, "false" would count as multiple: a field made single so
            # would not count as losing its values.
            problems.append(f"{at}: multiple must be true or false")
        data_type = raw.get("data_type")
        if data_type not in DATA_TYPES:
            problems.append(f"{at}: data_type {data_type!r} is none of {', '.join(sorted(DATA_TYPES))}")
        if data_type == "group":
            nested = raw.get("schema")
            if not isinstance(nested, list):
                problems.append(f"{at}: a group needs its fields under 'schema'")
            else:
                problems += schema_problems(cast(list[Field], nested), f"{at}.")
        if data_type == "blocks":
            blocks = raw.get("blocks")
            if not isinstance(blocks, list):
                problems.append(f"{at}: modular blocks need 'blocks'")
                continue
            block_uids: set[str] = set()
            for block in cast(list[Any], blocks):
                if not isinstance(block, dict) or not isinstance(cast(Field, block).get("uid"), str):
                    problems.append(f"{at}: every block needs a uid")
                    continue
                block_uid = str(cast(Field, block)["uid"])
                if block_uid in block_uids:
                    # Compared by uid, a second block of the same uid would hide the first.
                    problems.append(f"{at}.{block_uid}: the block uid is used twice")
                block_uids.add(block_uid)
                nested = cast(Field, block).get("schema", [])
                if not isinstance(nested, list):
                    problems.append(f"{at}.{block_uid}: a block's fields under 'schema' must be a list")
                    continue
                problems += schema_problems(cast(list[Field], nested), f"{at}.{block_uid}.")
    return problems


@dataclass
class SchemaDiff:
    """What changes between two schemas: one line per field; the paths of the fields whose
    values Contentstack drops from every entry (removed, given another data type, or made
    multiple or single: "Scenarios Where Editing a Content Type Is Unsafe"; a global field, or a
    block, pointed at another global field's fields, which are not read here); and the paths of
    references removed or changed (a removed group or block holding one counts by its own path)."""

    lines: list[str] = field(default_factory=lambda: [])
    dropped: list[str] = field(default_factory=lambda: [])
    references: list[str] = field(default_factory=lambda: [])

    def extend(self, other: SchemaDiff) -> None:
        """Adds a nested diff's lines and paths to this one."""
        self.lines += other.lines
        self.dropped += other.dropped
        self.references += other.references

    @property
    def empty(self) -> bool:
        return not self.lines


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_reference(item: Field) -> bool:
    """Whether the field's value points at entries: a reference field, or rich text with
    embedded items (its `reference_to`; a global field's `reference_to` names its definition)."""
    return item.get("data_type") == "reference" or (item.get("data_type") != "global_field" and "reference_to" in item)


def _listed(value: Any) -> list[Any]:
    """`value` as a list of nested fields or blocks: none when it is no list (a field that is
    no group or blocks may hold anything under those keys; the schema check reads no further)."""
    return [*cast(list[Any], value)] if isinstance(value, list) else []


def _holds_reference(item: Field) -> bool:
    """Whether the field is a reference or holds one among its nested fields, however deep."""
    nested = _listed(item.get("schema"))
    for block in _listed(item.get("blocks")):
        if isinstance(block, dict):
            nested += _listed(cast(Field, block).get("schema"))
    return _is_reference(item) or any(_holds_reference(cast(Field, f)) for f in nested if isinstance(f, dict))


def _by_uid(fields: Sequence[Any]) -> dict[str, Field]:
    found: dict[str, Field] = {}
    for raw in fields:
        if isinstance(raw, dict) and "uid" in raw:
            item = cast(Field, raw)
            found[str(item["uid"])] = item
    return found


def schema_diff(old: Sequence[Field], new: Sequence[Field], prefix: str = "") -> SchemaDiff:
    """The field-by-field difference from `old` to `new`: `+ path (type)` for an added field,
    `- path (type)` for a removed one, `~ path: key old -> new` for each changed setting,
    through groups (`group.field`) and modular blocks (`blocks.block.field`)."""
    diff = SchemaDiff()
    before, after = _by_uid(old), _by_uid(new)
    for uid, was in before.items():
        if uid not in after:
            diff.lines.append(f"- {prefix}{uid} ({was.get('data_type')})")
            diff.dropped.append(f"{prefix}{uid}")
            if _holds_reference(was):
                diff.references.append(f"{prefix}{uid}")
    for uid, now in after.items():
        path = f"{prefix}{uid}"
        was = before.get(uid)
        if was is None:
            diff.lines.append(f"+ {path} ({now.get('data_type')})")
            continue
        changed = _changed(was, now, path, diff)
        retyped = was.get("data_type") != now.get("data_type")
        toggled = bool(was.get("multiple")) != bool(now.get("multiple"))
        if retyped or toggled:
            diff.dropped.append(path)
        if was.get("data_type") == "global_field" and "reference_to" in changed:
            # Another global field's fields: what the one it names now holds is not read here
            # (the fields sent with it are not what Contentstack uses), so its values count as
            # going, as a removed group's do, and it counts as changed.
            if not retyped and not toggled:
                diff.dropped.append(path)
            diff.references.append(path)
            continue
        if retyped:
            # A field of another type: its nested fields are not comparable, and a reference
            # anywhere in it is changed. A global field holds what the one it names holds,
            # whatever is sent with it.
            if _holds_reference(was) or _holds_reference(now) or now.get("data_type") == "global_field":
                diff.references.append(path)
            continue
        # A field holding a reference made multiple or single holds it at another place
        # (in a list of values, or in one value).
        if (changed and (_is_reference(was) or _is_reference(now))) or (toggled and _holds_reference(was)):
            diff.references.append(path)
        diff.extend(_nested_diff(was, now, f"{path}."))
    return diff


def _changed(was: Field, now: Field, path: str, diff: SchemaDiff) -> list[str]:
    """The settings of a field or block (not its nested fields) that differ, each added to
    `diff` as a line."""
    changed = [key for key in sorted((set(was) | set(now)) - set(NESTED)) if was.get(key) != now.get(key)]
    diff.lines += [f"~ {path}: {key} {_show(was.get(key))} -> {_show(now.get(key))}" for key in changed]
    return changed


def _nested_diff(was: Field, now: Field, prefix: str) -> SchemaDiff:
    if now.get("data_type") == "group":
        return schema_diff(
            cast(list[Field], was.get("schema") or []), cast(list[Field], now.get("schema") or []), prefix
        )
    if now.get("data_type") == "blocks":
        diff = SchemaDiff()
        old_blocks = _by_uid(cast(list[Any], was.get("blocks") or []))
        new_blocks = _by_uid(cast(list[Any], now.get("blocks") or []))
        for uid in old_blocks.keys() - new_blocks.keys():
            diff.lines.append(f"- {prefix}{uid} (block)")
            diff.dropped.append(f"{prefix}{uid}")
            if _holds_reference(old_blocks[uid]):
                diff.references.append(f"{prefix}{uid}")
        for uid, block in new_blocks.items():
            if uid not in old_blocks:
                diff.lines.append(f"+ {prefix}{uid} (block)")
                continue
            # A block's `reference_to` names the global field it is: another one holds other
            # fields, whatever is sent with it (its values go as a removed block's do).
            if "reference_to" in _changed(old_blocks[uid], block, f"{prefix}{uid}", diff):
                diff.dropped.append(f"{prefix}{uid}")
                diff.references.append(f"{prefix}{uid}")
                continue
            diff.extend(
                schema_diff(
                    cast(list[Field], old_blocks[uid].get("schema") or []),
                    cast(list[Field], block.get("schema") or []),
                    f"{prefix}{uid}.",
                )
            )
        return diff
    return SchemaDiff()
