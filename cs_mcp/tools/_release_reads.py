"""What the releases tools read and check: items' latest versions, read 100 uids a request,
and the deploy preflight (stale items, references that will not resolve). Reads only; the
writes stay in `releases.py`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import anyio
from pydantic import Field, ValidationError

from cs_mcp.client import ContentstackError, Entry, NotFoundError, ReleaseItem, SchemaField
from cs_mcp.guard import ItemTarget
from cs_mcp.toolkit.context import AppState
from cs_mcp.toolkit.models import ToolModel

T = TypeVar("T")


# Concurrent reads a preflight makes; the client's rate limiter paces them further.
READ_CONCURRENCY = 8


class PreflightCheck(ToolModel):
    check: str
    ok: bool
    detail: str


class StaleItem(ToolModel):
    item: str
    content_type: str
    uid: str
    locale: str | None
    version_in_release: int | None
    latest_version: int


class MissingReference(ToolModel):
    item: str = Field(description="The release item that holds the reference.")
    field: str = Field(description="The reference field's path in the entry.")
    content_type: str
    uid: str
    locale: str | None
    environments: list[str] = Field(description="Target environments where the referenced entry is not published.")
    reason: Literal["not_published", "missing"]


def label(item: ReleaseItem) -> str:
    """How an item is named in plans, findings and denials."""
    if item.is_asset:
        return f"asset {item.uid}" + (f" ({item.locale})" if item.locale else "")
    return f"entry {item.content_type_uid}/{item.uid}" + (f" ({item.locale})" if item.locale else "")


def item_target(item: ReleaseItem) -> ItemTarget:
    return ItemTarget(
        label=label(item), content_type=None if item.is_asset else item.content_type_uid, locale=item.locale
    )


async def gather(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T | None]:
    """Runs the reads concurrently, in order of `calls`; None where Contentstack said not found.

    Raises:
        ContentstackError, ValidationError: the first other failure (after every read ended).
    """
    results: list[T | None] = [None] * len(calls)
    failures: list[Exception] = []
    limiter = anyio.CapacityLimiter(READ_CONCURRENCY)

    async def run(index: int, call: Callable[[], Awaitable[T]]) -> None:
        async with limiter:
            try:
                results[index] = await call()
            except NotFoundError:
                results[index] = None
            except (ContentstackError, ValidationError) as exc:
                # Kept, not raised: an exception inside the task group would reach the tool's
                # caller as an exception group instead of a plain error.
                failures.append(exc)

    async with anyio.create_task_group() as group:
        for index, call in enumerate(calls):
            group.start_soon(run, index, call)
    if failures:
        raise failures[0]
    return results


# uids per lookup request: 100 uids of ~20 characters keep the URL well under 8 KB.
LOOKUP_CHUNK = 100


EntryKey = tuple[str, str, str | None]  # content type, uid, locale


async def latest_entries(state: AppState, keys: Sequence[EntryKey]) -> dict[EntryKey, Entry]:
    """The latest draft of each entry, with its fields and publish details; absent where it
    does not exist. Read 100 uids a request per content type and locale, not one by one: a
    release of 100 items would otherwise cost 100 reads, ten seconds at the CMA's read limit."""
    groups: dict[tuple[str, str | None], list[str]] = {}
    for content_type, uid, locale in keys:
        groups.setdefault((content_type, locale), []).append(uid)
    found: dict[EntryKey, Entry] = {}

    def read(content_type: str, locale: str | None, chunk: list[str]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            page = await state.client.entries.query(
                content_type, locale=locale, query={"uid": {"$in": chunk}}, limit=len(chunk)
            )
            for entry in page.items:
                if entry.uid in chunk:
                    found[(content_type, entry.uid, locale)] = entry

        return run

    calls: list[Callable[[], Awaitable[None]]] = []
    for (content_type, locale), uids in groups.items():
        unique = list(dict.fromkeys(uids))
        for start in range(0, len(unique), LOOKUP_CHUNK):
            calls.append(read(content_type, locale, unique[start : start + LOOKUP_CHUNK]))
    await gather(calls)
    return found


async def latest_versions(state: AppState, items: Sequence[ReleaseItem]) -> list[int | None]:
    """Each item's latest version (None where the entry or asset does not exist)."""
    entries = await latest_entries(
        state, [(i.content_type_uid or "", i.uid, i.locale) for i in items if not i.is_asset]
    )
    assets = await state.client.entries.latest_asset_versions([i.uid for i in items if i.is_asset])
    versions: list[int | None] = []
    for item in items:
        if item.is_asset:
            versions.append(assets.get(item.uid))
        else:
            entry = entries.get((item.content_type_uid or "", item.uid, item.locale))
            versions.append(entry.version if entry is not None else None)
    return versions


def as_list(value: Any) -> list[Any]:
    return cast(list[Any], value) if isinstance(value, list) else [value]


def reference_values(value: Any, reference_to: list[str] | str | None) -> list[tuple[str, str]]:
    """(content type, uid) of each entry a reference field's value points to."""
    only = (
        reference_to
        if isinstance(reference_to, str)
        else (reference_to[0] if reference_to and len(reference_to) == 1 else None)
    )
    found: list[tuple[str, str]] = []
    for ref in as_list(value):
        if isinstance(ref, dict):
            ref_map = cast(dict[str, Any], ref)
            uid = ref_map.get("uid")
            ct = ref_map.get("_content_type_uid") or only
            if isinstance(uid, str) and isinstance(ct, str) and uid and ct:
                found.append((ct, uid))
        elif isinstance(ref, str) and ref and only:
            found.append((only, ref))
    return found


def references(fields: Sequence[SchemaField], data: Mapping[str, Any], path: str = "") -> list[tuple[str, str, str]]:
    """(field path, content type, uid) of every entry `data` references, through groups,
    global fields and modular blocks."""
    found: list[tuple[str, str, str]] = []
    for f in fields:
        value = data.get(f.uid)
        if value is None:
            continue
        where = f"{path}{f.uid}"
        if f.data_type == "reference":
            found += [(where, ct, uid) for ct, uid in reference_values(value, f.reference_to)]
        elif f.schema_:
            for part in as_list(value):
                if isinstance(part, dict):
                    found += references(f.schema_, cast(dict[str, Any], part), where + ".")
        elif f.blocks:
            for part in as_list(value):
                if not isinstance(part, dict):
                    continue
                block_values = cast(dict[str, Any], part)
                for block in f.blocks:
                    inner = block_values.get(block.uid)
                    if isinstance(inner, dict) and block.schema_:
                        found += references(block.schema_, cast(dict[str, Any], inner), f"{where}.{block.uid}.")
    return found


def published_in(entry: Entry, locale: str | None, environment_ids: set[str]) -> bool:
    """Whether the entry is published in `locale` to the environment (known by name or uid)."""
    return any(
        d.environment in environment_ids and (locale is None or d.locale == locale) for d in entry.publish_records
    )


@dataclass
class Findings:
    """What a deploy preflight found beyond the refusals: entries gone from the stack, items
    older than their entry, references that will not resolve."""

    gone: list[str]
    stale: list[StaleItem]
    missing: list[MissingReference]


def finding_check(check: str, problems: Sequence[object], when_found: str, when_clear: str) -> PreflightCheck:
    """One preflight line: passed when there are no problems, else the problems in words."""
    return PreflightCheck(check=check, ok=not problems, detail=when_found if problems else when_clear)


async def preflight_findings(state: AppState, items: Sequence[ReleaseItem], environments: Sequence[str]) -> Findings:
    """Items whose entry no longer exists, items older than their entry's latest version, and
    references that will not resolve in the target environments after the deploy. References
    are read from the entry's latest version, one level deep."""
    entries = [i for i in items if not i.is_asset and i.content_type_uid and i.action != "unpublish"]
    keys: list[EntryKey] = [(i.content_type_uid or "", i.uid, i.locale) for i in entries]
    read = await latest_entries(state, keys)
    latest = [read.get(key) for key in keys]
    gone = [label(item) for item, entry in zip(entries, latest, strict=True) if entry is None]
    stale: list[StaleItem] = []
    for item, entry in zip(entries, latest, strict=True):
        if (
            entry is not None
            and entry.version is not None
            and item.version is not None
            and entry.version > item.version
        ):
            stale.append(
                StaleItem(
                    item=label(item),
                    content_type=item.content_type_uid or "",
                    uid=item.uid,
                    locale=item.locale,
                    version_in_release=item.version,
                    latest_version=entry.version,
                )
            )
    in_release = {(i.content_type_uid, i.uid, i.locale) for i in items if not i.is_asset}
    # (item label, field, ct, uid, locale) of each reference to an entry outside the release
    outside: list[tuple[str, str, str, str, str | None]] = []
    for item, entry in zip(entries, latest, strict=True):
        if entry is None or not item.content_type_uid:
            continue
        schema = (await state.meta.content_type(item.content_type_uid)).schema_
        for field, ct, uid in references(schema, entry.model_extra or {}):
            if (ct, uid, item.locale) not in in_release:
                outside.append((label(item), field, ct, uid, item.locale))
    targets = sorted({(ct, uid, locale) for _, _, ct, uid, locale in outside})
    found = await latest_entries(state, targets)
    referenced = {key: found.get(key) for key in targets}
    names = {e.name: {e.name, e.uid or e.name} for e in await state.meta.environments()}
    missing: list[MissingReference] = []
    for item_label, field, ct, uid, locale in outside:
        target = referenced[(ct, uid, locale)]
        if target is None:
            where, reason = list(environments), "missing"
        else:
            where = [env for env in environments if not published_in(target, locale, names.get(env, {env}))]
            reason = "not_published"
        if where:
            missing.append(
                MissingReference(
                    item=item_label,
                    field=field,
                    content_type=ct,
                    uid=uid,
                    locale=locale,
                    environments=where,
                    reason=reason,
                )
            )
    return Findings(gone=gone, stale=stale, missing=missing)
