"""The sandbox's content type writes ("CMA | Content Types"): create, update, delete. Mounted
beside `cma.py` at `/cma/v3` (which lists and reads content types).

Choices the documentation leaves open:

- A definition needs a `title`, a `uid` of lower-case letters, digits and underscores that
  starts with a letter, and a `schema` whose fields each have a `uid` (unique among their
  siblings), a `display_name` and a known `data_type`; groups and modular blocks are checked
  the same way inside. A first field `title` is required, as the product's editor requires it.
  Failures answer 422 error_code 115 with one message list per problem key.
- A uid that is taken answers 422 error_code 115 with `errors.uid`; a missing content type
  answers 422 error_code 118, like every read of one.
- An update replaces the title, description, schema and options; a top-level field taken out
  of the schema, given another data type or made multiple or single loses its values in the
  latest version of every entry (nested fields keep theirs); so does a global field pointed at
  another one.
- Deleting a content type that has entries needs `force=true` (else 422 error_code 115);
  it deletes the entries, their versions and where they are published.
"""

from __future__ import annotations

import re
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from cs_mcp.sandbox import store
from cs_mcp.sandbox.cma import existing_content_type, truthy
from cs_mcp.sandbox.endpoint import RequestRefused, cma_routes, invalid, json_object
from cs_mcp.sandbox.state import SandboxState

CONTENT_TYPE_INVALID_CODE = 115
DATA_TYPES = frozenset(
    {"text", "number", "isodate", "boolean", "file", "reference", "group", "blocks", "json", "link", "global_field"}
)
_UID = re.compile(r"^[a-z][a-z0-9_]*$")


def _field_problems(fields: Any, where: str) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if not isinstance(fields, list):
        return {where or "schema": ["must be a list of fields."]}
    seen: set[str] = set()
    for index, raw in enumerate(cast(list[Any], fields)):
        at = f"{where}[{index}]" if where else f"schema[{index}]"
        if not isinstance(raw, dict):
            problems[at] = ["must be an object."]
            continue
        field = cast(dict[str, Any], raw)
        uid = field.get("uid")
        if not isinstance(uid, str) or not _UID.match(uid):
            problems[f"{at}.uid"] = ["is not valid."]
        elif uid in seen:
            problems[f"{at}.uid"] = ["is not unique."]
        else:
            seen.add(uid)
        if not isinstance(field.get("display_name"), str):
            problems[f"{at}.display_name"] = ["is required."]
        data_type = field.get("data_type")
        if data_type not in DATA_TYPES:
            problems[f"{at}.data_type"] = ["is not valid."]
        if data_type == "group":
            problems |= _field_problems(field.get("schema"), f"{at}.schema")
        if data_type == "blocks":
            for b_index, block in enumerate(cast(list[Any], field.get("blocks") or [])):
                schema = cast(dict[str, Any], block).get("schema") if isinstance(block, dict) else None
                problems |= _field_problems(schema, f"{at}.blocks[{b_index}].schema")
    return problems


def definition_problems(definition: dict[str, Any]) -> dict[str, list[str]]:
    """Every problem of a content type definition, by key."""
    problems: dict[str, list[str]] = {}
    if not isinstance(definition.get("title"), str) or not str(definition.get("title")).strip():
        problems["title"] = ["is required."]
    uid = definition.get("uid")
    if not isinstance(uid, str) or not _UID.match(uid):
        problems["uid"] = ["is not valid."]
    schema = definition.get("schema")
    problems |= _field_problems(schema, "")
    fields = cast(list[Any], schema) if isinstance(schema, list) else []
    first = cast(dict[str, Any], fields[0]) if fields and isinstance(fields[0], dict) else {}
    if first.get("uid") != "title":
        problems.setdefault("schema", []).append("must start with the field 'title'.")
    if "options" in definition and not isinstance(definition["options"], dict):
        problems["options"] = ["must be an object."]
    return problems


def _dropped_fields(old: Any, new: Any) -> set[str]:
    """The top-level fields of schema `old` whose values go: taken out of `new`, or given
    another data type or `multiple` there, or a global field pointed at another one."""
    now = {str(f["uid"]): f for f in cast(list[dict[str, Any]], new)}
    return {
        str(f["uid"])
        for f in cast(list[dict[str, Any]], old)
        if (kept := now.get(str(f["uid"]))) is None
        or kept.get("data_type") != f.get("data_type")
        or bool(kept.get("multiple")) != bool(f.get("multiple"))
        or (f.get("data_type") == "global_field" and kept.get("reference_to") != f.get("reference_to"))
    }


def _invalid(message: str, errors: dict[str, list[str]]) -> RequestRefused:
    return invalid(message, errors, code=CONTENT_TYPE_INVALID_CODE)


class ContentTypes:
    """The content type write handlers over one sandbox state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def create(self, request: Request) -> Response:
        given = await json_object(request, "content_type")
        if given is None:
            raise _invalid("Content Type creation failed.", {"content_type": ["is required."]})
        if problems := definition_problems(given):
            raise _invalid("Content Type creation failed. Please enter valid data.", problems)
        now = store.iso(self.state.clock.now())
        with self.state.db.transaction() as conn:
            if store.content_type_exists(conn, given["uid"]):
                raise _invalid("Content Type creation failed.", {"uid": ["is not unique."]})
            store.save_content_type(conn, given | {"created_at": now, "updated_at": now})
            created = store.get_content_type(conn, given["uid"])
        return JSONResponse({"notice": "Content Type created successfully.", "content_type": created}, status_code=201)

    async def update(self, request: Request) -> Response:
        uid = request.path_params["content_type"]
        given = await json_object(request, "content_type")
        if given is None:
            raise _invalid("Content Type update failed.", {"content_type": ["is required."]})
        with self.state.db.transaction() as conn:
            current = existing_content_type(conn, uid)
            merged = {
                "uid": uid,
                "title": given.get("title", current["title"]),
                "description": given.get("description", current["description"]),
                "schema": given.get("schema", current["schema"]),
                "options": given.get("options", current["options"]),
            }
            if problems := definition_problems(merged):
                raise _invalid("Content Type update failed. Please enter valid data.", problems)
            dropped = _dropped_fields(current["schema"], merged["schema"])
            store.save_content_type(
                conn, merged | {"created_at": current["created_at"], "updated_at": store.iso(self.state.clock.now())}
            )
            if dropped:
                store.drop_entry_fields(conn, uid, dropped)
            updated = store.get_content_type(conn, uid)
        return JSONResponse({"notice": "Content Type updated successfully.", "content_type": updated})

    async def delete(self, request: Request) -> Response:
        uid = request.path_params["content_type"]
        with self.state.db.transaction() as conn:
            existing_content_type(conn, uid)
            if store.entry_uids(conn, uid) and not truthy(request.query_params.get("force")):
                raise _invalid(
                    "Content Type deletion failed: it has entries; pass force=true to delete them too.",
                    {"force": ["is required when entries exist."]},
                )
            store.delete_content_type(conn, uid)
        return JSONResponse({"notice": "Content Type deleted successfully."})


def routes(state: SandboxState) -> list[BaseRoute]:
    """The content type write routes, relative to `/cma/v3`."""
    content_types = ContentTypes(state)
    return cma_routes(
        state,
        [
            ("/content_types", "POST", content_types.create),
            ("/content_types/{content_type}", "PUT", content_types.update),
            ("/content_types/{content_type}", "DELETE", content_types.delete),
        ],
    )
