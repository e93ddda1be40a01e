"""The sandbox's asset writes and folders ("CMA | Assets"): upload, replace, update, delete,
create and read a folder, and where an asset is used. Mounted beside `cma.py` at `/cma/v3`
(which lists and reads assets).

Choices the documentation leaves open:

- Upload and replace take `multipart/form-data` (`asset[upload]`, `asset[title]`,
  `asset[description]`, `asset[tags]` comma-separated, `asset[parent_uid]`); an update takes
  the raw JSON body `{"asset": {"title", "description", "tags"}}` or the same form fields
  without a file. Each of the three saves a new version (`_version` raised).
- A body without what it needs answers 422 error_code 119 (the code the sandbox uses for
  every invalid write body; the page shows no error sample); a parent folder or an asset that
  does not exist answers 422 error_code 141 like every missing object.
- Folders are assets with `is_dir: true` and the folder content type; at most 300 of them
  and 5 levels deep, as the page says. Deleting an asset that is a folder is refused (folders
  have their own delete request, which the sandbox does not serve).
- References are the latest entries, in any locale, holding the asset's uid anywhere in
  their fields (file fields, groups, modular blocks, rich text).
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any, cast

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from cs_mcp.sandbox import store
from cs_mcp.sandbox.auth import acting_user
from cs_mcp.sandbox.cma import truthy
from cs_mcp.sandbox.endpoint import RequestRefused, cma_routes, invalid, json_object, not_found
from cs_mcp.sandbox.state import SandboxState

Asset = dict[str, Any]
FOLDER_CONTENT_TYPE = "application/vnd.contenstack.folder"
MAX_FOLDERS = 300
MAX_DEPTH = 5
URL_BASE = "https://images.sandbox.local/v3/assets"


@dataclass(frozen=True)
class _File:
    """An uploaded file, read whole before the form is closed."""

    filename: str
    media_type: str | None
    content: bytes


def _invalid(message: str, field: str) -> RequestRefused:
    return invalid(message, {field: ["is not valid."]})


def _text(form: FormData, key: str) -> str | None:
    value = form.get(key)
    return value if isinstance(value, str) else None


def _tags(raw: object) -> list[str] | None:
    if isinstance(raw, str):
        return [t.strip() for t in raw.split(",") if t.strip()]
    if isinstance(raw, list):
        return [str(t) for t in cast(list[Any], raw)]
    return None


def _depth(conn: sqlite3.Connection, folder_uid: str | None) -> int:
    """How many folders deep `folder_uid` is (the top level is 0)."""
    depth = 0
    seen: set[str] = set()
    current = folder_uid
    while current is not None and current not in seen:
        seen.add(current)
        folder = store.get_asset(conn, current)
        if folder is None:
            break
        depth += 1
        current = folder.get("parent_uid")
    return depth


def _is_folder(asset: Asset | None) -> bool:
    return asset is not None and bool(asset.get("is_dir"))


def _holds(value: Any, uid: str) -> bool:
    if isinstance(value, str):
        return value == uid
    if isinstance(value, dict):
        return any(_holds(v, uid) for v in cast(dict[str, Any], value).values())
    if isinstance(value, list):
        return any(_holds(v, uid) for v in cast(list[Any], value))
    return False


class Assets:
    """The asset write and folder handlers over one sandbox state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _now(self) -> str:
        return store.iso(self.state.clock.now())

    def _file_fields(self, uid: str, file: _File) -> Asset:
        return {
            "content_type": file.media_type or "application/octet-stream",
            "file_size": str(len(file.content)),
            "filename": file.filename,
            "url": f"{URL_BASE}/{uid}/{file.filename}",
        }

    async def upload(self, request: Request) -> Response:
        async with request.form() as form:
            upload = form.get("asset[upload]")
            if not isinstance(upload, UploadFile):
                raise _invalid("Asset upload failed: the form needs a file under asset[upload].", "upload")
            content = await upload.read()
            file = _File(upload.filename or "upload", upload.content_type, content)
            details = {key: _text(form, f"asset[{key}]") for key in ("parent_uid", "title", "description", "tags")}
        parent = details["parent_uid"] or None
        with self.state.db.transaction() as conn:
            if parent is not None and not _is_folder(store.get_asset(conn, parent)):
                raise not_found(field="parent_uid")
            uid = "blt" + secrets.token_hex(8)
            now, user = self._now(), acting_user(request)
            asset: Asset = {
                "uid": uid,
                "created_at": now,
                "updated_at": now,
                "created_by": user,
                "updated_by": user,
                **self._file_fields(uid, file),
                "tags": _tags(details["tags"]) or [],
                "ACL": {},
                "is_dir": False,
                "parent_uid": parent,
                "_version": 1,
                "title": details["title"] or file.filename,
                "description": details["description"] or "",
            }
            store.save_asset(conn, asset)
        return JSONResponse({"notice": "Asset created successfully.", "asset": asset}, status_code=201)

    async def update(self, request: Request) -> Response:
        """Replace (a form with `asset[upload]`) or update the details (JSON, or a form without a file)."""
        uid = request.path_params["uid"]
        changes: Asset = {}
        file: _File | None = None
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            async with request.form() as form:
                found = form.get("asset[upload]")
                if isinstance(found, UploadFile):
                    file = _File(found.filename or "upload", found.content_type, await found.read())
                for key in ("title", "description"):
                    if (value := _text(form, f"asset[{key}]")) is not None:
                        changes[key] = value
                if (tags := _tags(_text(form, "asset[tags]"))) is not None:
                    changes["tags"] = tags
        else:
            details = await json_object(request, "asset")
            if details is None:
                raise _invalid("Asset update failed: the body must hold an 'asset' object.", "asset")
            for key in ("title", "description"):
                if isinstance(details.get(key), str):
                    changes[key] = details[key]
            if (tags := _tags(details.get("tags"))) is not None:
                changes["tags"] = tags
        with self.state.db.transaction() as conn:
            current = store.get_asset(conn, uid)
            if current is None or _is_folder(current):
                raise not_found()
            asset = current | changes | {"updated_at": self._now(), "updated_by": acting_user(request)}
            if file is not None:
                asset |= self._file_fields(uid, file)
            asset["_version"] = int(current["_version"]) + 1
            store.save_asset(conn, asset)
        return JSONResponse({"notice": "Asset updated successfully.", "asset": asset})

    async def delete(self, request: Request) -> Response:
        uid = request.path_params["uid"]
        with self.state.db.transaction() as conn:
            if _is_folder(store.get_asset(conn, uid)) or store.delete_asset(conn, uid) == 0:
                raise not_found()
        return JSONResponse({"notice": "Asset deleted successfully."})

    async def create_folder(self, request: Request) -> Response:
        given = await json_object(request, "asset") or {}
        name = given.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _invalid("Folder creation failed: the body needs {'asset': {'name': ...}}.", "name")
        parent = given.get("parent_uid")
        with self.state.db.transaction() as conn:
            if parent is not None and not _is_folder(store.get_asset(conn, str(parent))):
                raise not_found(field="parent_uid")
            folders = [a for a in store.list_assets(conn) if a.get("is_dir")]
            if len(folders) >= MAX_FOLDERS:
                raise _invalid(f"Folder creation failed: a stack holds at most {MAX_FOLDERS} folders.", "name")
            if _depth(conn, parent) >= MAX_DEPTH:
                raise _invalid(f"Folder creation failed: folders nest at most {MAX_DEPTH} levels deep.", "parent_uid")
            if any(f.get("name") == name and f.get("parent_uid") == parent for f in folders):
                raise _invalid("Folder creation failed: a folder of that name is already there.", "name")
            now, user = self._now(), acting_user(request)
            folder: Asset = {
                "uid": "blt" + secrets.token_hex(8),
                "created_at": now,
                "updated_at": now,
                "created_by": user,
                "updated_by": user,
                "content_type": FOLDER_CONTENT_TYPE,
                "tags": [],
                "name": name,
                "ACL": {},
                "is_dir": True,
                "parent_uid": parent,
                "_version": 1,
            }
            store.save_asset(conn, folder)
        return JSONResponse({"notice": "Folder created successfully.", "asset": folder}, status_code=201)

    async def get_folder(self, request: Request) -> Response:
        uid = request.path_params["uid"]
        with self.state.db.read() as conn:
            folder = store.get_asset(conn, uid)
            if not _is_folder(folder):
                raise not_found()
            assert folder is not None  # a folder, checked above
            if truthy(request.query_params.get("include_path")):
                path: list[dict[str, Any]] = []
                parent = folder.get("parent_uid")
                while isinstance(parent, str) and (above := store.get_asset(conn, parent)) is not None:
                    path.insert(0, {"uid": above["uid"], "name": above.get("name")})
                    parent = above.get("parent_uid")
                folder = folder | {"path": path}
        return JSONResponse({"asset": folder})

    async def references(self, request: Request) -> Response:
        uid = request.path_params["uid"]
        details = truthy(request.query_params.get("include_publish_details"))
        with self.state.db.read() as conn:
            if store.get_asset(conn, uid) is None:
                raise not_found()
            found: list[dict[str, Any]] = []
            titles: dict[str, str] = {}
            for content_type, entry in store.all_latest_entries(conn):
                fields = {k: v for k, v in entry.items() if k != "uid"}
                if not _holds(fields, uid):
                    continue
                if content_type not in titles:
                    ct = store.get_content_type(conn, content_type)
                    titles[content_type] = str(ct["title"]) if ct else content_type
                reference: dict[str, Any] = {
                    "entry_uid": entry["uid"],
                    "content_type_uid": content_type,
                    "locale": entry.get("locale"),
                    "_version": entry.get("_version"),
                    "title": entry.get("title"),
                    "content_type_title": titles[content_type],
                }
                if details:
                    reference["publish_details"] = [
                        d | {"environment": store.environment_uid(conn, d["environment"]) or d["environment"]}
                        for d in store.publish_details(conn, "entry", content_type, entry["uid"])
                        if d["locale"] == entry.get("locale")
                    ]
                found.append(reference)
        body: dict[str, Any] = {"references": found}
        if truthy(request.query_params.get("include_count")):
            body["count"] = len(found)
        return JSONResponse(body)


def routes(state: SandboxState) -> list[BaseRoute]:
    """The asset write and folder routes, relative to `/cma/v3`."""
    assets = Assets(state)
    return cma_routes(
        state,
        [
            ("/assets", "POST", assets.upload),
            ("/assets/folders", "POST", assets.create_folder),
            ("/assets/folders/{uid}", "GET", assets.get_folder),
            ("/assets/{uid}/references", "GET", assets.references),
            ("/assets/{uid}", "PUT", assets.update),
            ("/assets/{uid}", "DELETE", assets.delete),
        ],
    )
