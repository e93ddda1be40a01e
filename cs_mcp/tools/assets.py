"""The `assets` toolset: find and read assets, upload, replace, update and delete them, asset
folders, and which entries use an asset.

Off by default (`--toolsets assets`). `query_assets` lives here and is served with `entries`
too, where it was before this toolset existed, so the default catalog keeps it. Uploads go to
the CMA as `multipart/form-data` ("CMA | Assets"); the file comes from base64 content, a local
path the policy allows (`[uploads]`), or an `https` URL the client fetches when the write runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from cs_mcp.client import Asset, AssetFile, FetchRefusedError, Folder, FolderStep, NotFoundError
from cs_mcp.guard import Targets
from cs_mcp.guard.scopes import Scope
from cs_mcp.toolkit.arguments import (
    CursorArg,
    FieldsArg,
    LimitArg,
    QueryArg,
    check_fields_arg,
    parse_query_arg,
)
from cs_mcp.toolkit.context import AppState, ToolContext, app_state
from cs_mcp.toolkit.declarations import ToolsetDeclarations
from cs_mcp.toolkit.entry_writes import published_environments
from cs_mcp.toolkit.identifiers import Uid
from cs_mcp.toolkit.models import ToolModel
from cs_mcp.toolkit.shape import (
    DEFAULT_LIMIT,
    ListAnswer,
    ReadAnswer,
    clean,
    decode_cursor,
    fingerprint,
    fit_listing,
    fit_one,
)
from cs_mcp.toolkit.write import (
    Permits,
    PlannedRequest,
    WriteAnswer,
    WriteCall,
    WriteOutcome,
)
from cs_mcp.tools._uploads import UploadSource, upload_source
from cs_mcp.views import WRITE_PREVIEW_VIEW

declare = ToolsetDeclarations(
    "assets",
    read_scopes=frozenset({Scope.ASSET_READ}),
    write_scopes=frozenset({Scope.ASSETS_MANAGEMENT_WRITE}),
    preview=WRITE_PREVIEW_VIEW,
)
MAX_TAGS = 50

AssetUidArg = Annotated[Uid, Field(description="The asset's uid.")]
FolderArg = Annotated[Uid | None, Field(description="A folder's uid (default: the top level).")]
TitleArg = Annotated[str | None, Field(min_length=1, max_length=200, description="The asset's title.")]
DescriptionArg = Annotated[str | None, Field(max_length=2000, description="The asset's description.")]
TagsArg = Annotated[list[str] | None, Field(max_length=MAX_TAGS, description="Tags; replace the asset's tags.")]
ContentArg = Annotated[str | None, Field(description="The file's bytes in base64; needs filename.")]
FilenameArg = Annotated[str | None, Field(max_length=200, description="The file name, e.g. 'hero.png'.")]
PathArg = Annotated[
    str | None, Field(max_length=1000, description="A local file under a directory the policy's [uploads] allows.")
]
UrlArg = Annotated[str | None, Field(max_length=2000, description="An https URL the server fetches.")]


# -- reads ------------------------------------------------------------------------------


class AssetList(ListAnswer):
    folder: str | None = None
    assets: list[dict[str, Any]]


@declare.read("Query assets", also_in=("entries",))
async def query_assets(
    ctx: ToolContext,
    query: QueryArg = None,
    folder: Annotated[Uid | None, Field(description="A folder's uid.")] = None,
    fields: FieldsArg = None,
    limit: LimitArg = DEFAULT_LIMIT,
    cursor: CursorArg = None,
) -> AssetList:
    """Find assets (files and folders): uid, title, filename, url, content type, size, _version,
    publish_details. `query` as in query_entries, e.g. {"content_type": {"$regex": "^image/"}}."""
    state = app_state(ctx)
    parsed = parse_query_arg(query)
    only = check_fields_arg(fields)
    key = fingerprint("assets", parsed, folder, only)
    skip = decode_cursor(cursor, key)
    page = await state.client.entries.assets(query=parsed, folder=folder, only=only, skip=skip, limit=limit)
    assets = [a.model_dump(by_alias=True, exclude_unset=True) for a in page.items]
    kept, info = fit_listing(assets, total=page.total, skip=skip, asked=limit, query_fingerprint=key)
    return AssetList(folder=folder, assets=kept, **info)


class AssetAnswer(ReadAnswer):
    asset: dict[str, Any]
    truncated: bool = False


async def _asset(state: AppState, uid: str, version: int | None = None) -> Asset:
    try:
        return await state.client.assets.get(uid, version=version)
    except NotFoundError:
        where = f" at version {version}" if version else ""
        raise ToolError(f"asset {uid}{where} does not exist; find assets with query_assets") from None


async def _file(call: WriteCall, uid: str) -> Asset:
    """The asset a write to a file names.

    Raises:
        ToolError: no such asset, or it is a folder.
    """
    current = await _asset(call.state, uid)
    if current.is_dir:
        raise ToolError(f"{uid} is a folder, not a file; {call.spec.name} takes an asset's uid")
    return current


@declare.read("Get an asset")
async def get_asset(
    ctx: ToolContext,
    uid: AssetUidArg,
    version: Annotated[int | None, Field(ge=1, description="An older version (default: latest).")] = None,
) -> AssetAnswer:
    """Read one asset: title, filename, url, content type, size, tags, folder, _version and
    where it is published."""
    asset = await _asset(app_state(ctx), uid, version)
    shaped, cut = fit_one(asset.model_dump(by_alias=True, exclude_unset=True))  # cleans it too
    return AssetAnswer(asset=shaped, truncated=cut)


class FolderInfo(ToolModel):
    uid: str
    name: str | None = None
    parent_uid: str | None = None


class FolderList(ListAnswer):
    parent: str | None = Field(default=None, description="The folder listed (null: the top level).")
    path: list[FolderInfo] = Field(default_factory=lambda: [], description="The parent's ancestors, top first.")
    folders: list[FolderInfo]


def _folder_info(folder: Folder | FolderStep) -> FolderInfo:
    name = clean(folder.name) if folder.name else None
    return FolderInfo(uid=folder.uid, name=name, parent_uid=folder.parent_uid if isinstance(folder, Folder) else None)


async def _folder(state: AppState, uid: str) -> Folder:
    try:
        return await state.client.assets.folder(uid)
    except NotFoundError:
        raise ToolError(f"folder {uid} does not exist; list folders with list_asset_folders") from None


@declare.read("List asset folders")
async def list_asset_folders(
    ctx: ToolContext, parent: FolderArg = None, limit: LimitArg = DEFAULT_LIMIT, cursor: CursorArg = None
) -> FolderList:
    """List the asset folders directly inside `parent` (default: the top level), with the
    parent's path. Use a folder's uid as query_assets' folder or upload_asset's folder."""
    state = app_state(ctx)
    path = [_folder_info(step) for step in (await _folder(state, parent)).path] if parent is not None else []
    key = fingerprint("folders", parent)
    skip = decode_cursor(cursor, key)
    page = await state.client.assets.folders(parent=parent, skip=skip, limit=limit)
    folders = [_folder_info(f).model_dump() for f in page.items if f.is_dir]
    kept, info = fit_listing(folders, total=page.total, skip=skip, asked=limit, query_fingerprint=key)
    return FolderList(parent=parent, path=path, folders=[FolderInfo.model_validate(f) for f in kept], **info)


class AssetUse(ToolModel):
    content_type: str
    entry_uid: str
    locale: str | None = None
    version: int | None = None
    title: str | None = None
    published_in: list[str] = Field(default_factory=lambda: [], description="Environments (by name).")


class AssetReferences(ReadAnswer):
    uid: str
    count: int
    references: list[AssetUse]


@declare.read("Where an asset is used")
async def get_asset_references(ctx: ToolContext, uid: AssetUidArg) -> AssetReferences:
    """Which entries use an asset (by uid, in which locale and version) and where each is
    published: check before you replace or delete it."""
    state = app_state(ctx)
    try:
        found = await state.client.assets.references(uid)
    except NotFoundError:
        raise ToolError(f"asset {uid} does not exist; find assets with query_assets") from None
    names = await state.meta.environment_names_by_uid()
    uses = [
        AssetUse(
            content_type=r.content_type_uid,
            entry_uid=r.entry_uid,
            locale=r.locale,
            version=r.version,
            title=clean(r.title) if r.title else None,
            published_in=sorted({names.get(d.environment, d.environment) for d in r.publish_details}),
        )
        for r in found
    ]
    return AssetReferences(uid=uid, count=len(uses), references=uses)


# -- writes -----------------------------------------------------------------------------


class AssetRef(ToolModel):
    uid: str
    version: int | None = None
    title: str | None = None
    filename: str | None = None
    url: str | None = None
    parent_uid: str | None = None


class AssetWriteAnswer(WriteAnswer):
    asset: AssetRef | None = Field(default=None, description="The asset as written (null on a dry run).")


def _answer(outcome: WriteOutcome[Asset], notice: str) -> AssetWriteAnswer:
    """A write's answer: the asset as written, and `notice`, once the write ran."""
    written = outcome.result
    return outcome.answer(
        AssetWriteAnswer,
        asset=_ref(written) if written is not None else None,
        notice=notice if written is not None else None,
    )


def _ref(asset: Asset) -> AssetRef:
    title = asset.title or (asset.name if isinstance(asset, Folder) else None)
    return AssetRef(
        uid=asset.uid,
        version=asset.version,
        title=clean(title) if title else None,
        filename=asset.filename,
        url=asset.url,
        parent_uid=asset.parent_uid,
    )


def _source(
    call: WriteCall, content_base64: str | None, filename: str | None, path: str | None, url: str | None
) -> UploadSource:
    return upload_source(
        content_base64=content_base64, filename=filename, path=path, url=url, uploads=call.guard.policy.uploads
    )


async def _file_of(state: AppState, call: WriteCall, source: UploadSource, filename: str | None) -> AssetFile:
    """The file to send: read already, or fetched now from its URL (only once the write may run)."""
    if source.file is not None:
        return source.file
    assert source.url is not None  # a source is a file or a URL
    try:
        fetched = await state.client.files.fetch(
            source.url, max_bytes=call.guard.policy.uploads.max_bytes, allow_private=state.backend == "sandbox"
        )
    except FetchRefusedError as exc:
        raise ToolError(f"the file at the URL was not fetched: {exc}. Nothing was sent to Contentstack.") from None
    return AssetFile(filename or fetched.filename, fetched.content, fetched.media_type)


def _upload_requests(source: UploadSource, method: str, path: str, what: str) -> list[PlannedRequest]:
    requests: list[PlannedRequest] = []
    if source.url is not None:
        requests.append(PlannedRequest(method="GET", path=source.url, summary="fetch the file (https, size-capped)"))
    requests.append(PlannedRequest(method=method, path=path, summary=f"{what} as multipart/form-data"))
    return requests


@declare.write("Upload an asset", read_back="query_assets with the file name (the new asset's uid is not known)")
async def upload_asset(
    call: WriteCall,
    content_base64: ContentArg = None,
    filename: FilenameArg = None,
    path: PathArg = None,
    url: UrlArg = None,
    title: TitleArg = None,
    description: DescriptionArg = None,
    tags: TagsArg = None,
    folder: FolderArg = None,
) -> AssetWriteAnswer:
    """Upload a file as a new asset. Give exactly one source: content_base64 with filename,
    path (a local file the operator allowed), or an https url the server fetches (size-capped;
    private addresses refused). Put it in a folder with folder (see list_asset_folders)."""
    state = call.state
    targets = Targets()
    await call.precheck(targets)
    source = _source(call, content_base64, filename, path, url)
    if folder is not None:
        await _folder(state, folder)
    where = f"folder {folder}" if folder else "the top level"
    plan = call.plan(
        f"upload {source.describe} ({source.size_note}) as a new asset in {where}",
        requests=_upload_requests(source, "POST", "/v3/assets", "upload the file"),
        items=[f"title: {title}" if title else "title: the file name", *([f"tags: {', '.join(tags)}"] if tags else [])],
    )

    async def execute(permits: Permits) -> Asset:
        file = await _file_of(state, call, source, filename)
        return await state.client.assets.upload(
            file,
            title=title,
            description=description,
            tags=tags,
            parent_uid=folder,
            permit=permits.for_operation("asset.upload"),
        )

    outcome = await call.run(targets=targets, plan=plan, execute=execute)
    return _answer(outcome, "Asset uploaded.")


@declare.write(
    "Replace an asset's file", read_back="get_asset on the asset (its _version says whether the file was replaced)"
)
async def replace_asset(
    call: WriteCall,
    uid: AssetUidArg,
    content_base64: ContentArg = None,
    filename: FilenameArg = None,
    path: PathArg = None,
    url: UrlArg = None,
    title: TitleArg = None,
    description: DescriptionArg = None,
) -> AssetWriteAnswer:
    """Replace an asset's file with a new one (same uid, a new version; entries that use it
    show the new file, environments keep the version published until you publish again).
    Sources as for upload_asset."""
    state = call.state
    targets = Targets()
    await call.precheck(targets)
    source = _source(call, content_base64, filename, path, url)
    current = await _file(call, uid)
    plan = call.plan(
        f"replace the file of asset {uid} ({current.filename}, version {current.version}) "
        f"with {source.describe} ({source.size_note})",
        requests=_upload_requests(source, "PUT", f"/v3/assets/{uid}", "replace the file"),
        items=[f"asset {uid}"],
    )

    async def execute(permits: Permits) -> Asset:
        file = await _file_of(state, call, source, filename)
        return await state.client.assets.replace(
            uid, file, title=title, description=description, permit=permits.for_operation("asset.replace")
        )

    outcome = await call.run(
        targets=targets, plan=plan, execute=execute, target_versions={f"asset/{uid}": current.version or 0}
    )
    return _answer(outcome, "Asset file replaced.")


def _changes(current: Asset, title: str | None, description: str | None, tags: Sequence[str] | None) -> list[str]:
    """What an update changes, one line per detail ("title: 'Old' -> 'New'")."""
    extra = current.model_dump(by_alias=True)
    lines: list[str] = []
    if title is not None and title != current.title:
        lines.append(f"title: {current.title!r} -> {title!r}")
    old_description = extra.get("description")
    if description is not None and description != (old_description or ""):
        lines.append(f"description: {old_description!r} -> {description!r}")
    if tags is not None and list(tags) != current.tags:
        lines.append(f"tags: {current.tags} -> {list(tags)}")
    return lines


@declare.write("Update an asset", read_back="get_asset on the asset", idempotent=True)
async def update_asset(
    call: WriteCall,
    uid: AssetUidArg,
    title: TitleArg = None,
    description: DescriptionArg = None,
    tags: TagsArg = None,
) -> AssetWriteAnswer:
    """Change an asset's title, description or tags (not its file: see replace_asset). Only
    what you pass changes; tags replace the old tags."""
    state = call.state
    if title is None and description is None and tags is None:
        raise ToolError("pass at least one of title, description or tags")
    targets = Targets()
    await call.precheck(targets)
    current = await _file(call, uid)
    changes = _changes(current, title, description, tags)
    plan = call.plan(
        f"update asset {uid} ({current.filename}, version {current.version}): " + ("; ".join(changes) or "no change"),
        requests=[PlannedRequest(method="PUT", path=f"/v3/assets/{uid}", summary="save the new details")],
        items=changes,
    )
    if not changes:
        outcome = await call.noop(targets, plan, "the asset already has these details; nothing to send")
        return outcome.answer(AssetWriteAnswer, asset=_ref(current), notice="No change.")

    async def execute(permits: Permits) -> Asset:
        return await state.client.assets.update(
            uid, title=title, description=description, tags=tags, permit=permits.for_operation("asset.update")
        )

    outcome = await call.run(
        targets=targets, plan=plan, execute=execute, target_versions={f"asset/{uid}": current.version or 0}
    )
    return _answer(outcome, "Asset updated.")


async def _asset_reach(state: AppState, uid: str) -> Targets:
    """What deleting the asset `uid` reaches: the environments it is published to now."""
    return Targets(environments=await _live(state, await _asset(state, uid)))


async def _live(state: AppState, asset: Asset) -> tuple[str, ...]:
    """The environments (by name) the asset is published to."""
    return tuple(sorted(await published_environments(state, asset)))


@declare.delete("Delete an asset", read_back="get_asset on the asset (not found: it was deleted)")
async def delete_asset(
    call: WriteCall,
    uid: AssetUidArg,
) -> AssetWriteAnswer:
    """Delete an asset, every version of it, from every environment it is published to.
    Destructive: it may need a human's confirmation (always when entries use it); when the
    answer carries a confirmation token, show the preview and call again with it only if the
    user agrees."""
    state = call.state
    await call.precheck(Targets())
    current = await _asset(state, uid)
    if current.is_dir:
        raise ToolError(f"{uid} is a folder; delete_asset deletes files, not folders")
    live = await _live(state, current)
    users = await state.client.assets.references(uid)
    used = sorted({f"{r.content_type_uid}/{r.entry_uid}" for r in users})
    if used:
        call.insist_on_confirmation(f"{len(used)} entr{'y uses' if len(used) == 1 else 'ies use'} this asset")
    targets = Targets(environments=live)
    plan = call.plan(
        f"delete asset {uid} ({current.filename}, version {current.version})"
        + (f", published to {', '.join(live)}" if live else "")
        + (f"; used by {len(used)} entr{'y' if len(used) == 1 else 'ies'}" if used else ""),
        targets,
        requests=[PlannedRequest(method="DELETE", path=f"/v3/assets/{uid}", summary="delete the asset")],
        items=[f"entry {u} uses it" for u in used],
    )

    async def execute(permits: Permits) -> str:
        await call.recheck_reach(targets, lambda: _asset_reach(state, uid), f"deleting asset {uid}")
        notice = await state.client.assets.delete(uid, environments=live, permit=permits.for_operation("asset.delete"))
        return notice or "Asset deleted."

    outcome = await call.run(
        targets=targets, plan=plan, execute=execute, target_versions={f"asset/{uid}": current.version or 0}
    )
    return outcome.answer(AssetWriteAnswer, asset=_ref(current), notice=outcome.result)


@declare.write("Create an asset folder", read_back="list_asset_folders on the parent")
async def create_asset_folder(
    call: WriteCall,
    name: Annotated[str, Field(min_length=1, max_length=100, description="The folder's name.")],
    parent: FolderArg = None,
) -> AssetWriteAnswer:
    """Create an asset folder, inside `parent` if given (Contentstack allows 300 folders,
    nested at most 5 deep). Refused when the parent already holds a folder of that name."""
    state = call.state
    targets = Targets()
    await call.precheck(targets)
    if parent is not None:
        await _folder(state, parent)
    siblings = await state.client.assets.folders(parent=parent, limit=100)
    taken = next((f for f in siblings.items if f.name == name), None)
    if taken is not None:
        raise ToolError(
            f"{'folder ' + parent if parent else 'the top level'} already holds a folder {name!r} ({taken.uid})"
        )
    plan = call.plan(
        f"create the folder {name!r} in {'folder ' + parent if parent else 'the top level'}",
        requests=[PlannedRequest(method="POST", path="/v3/assets/folders", summary="create the folder")],
    )

    async def execute(permits: Permits) -> Asset:
        return await state.client.assets.create_folder(
            name, parent_uid=parent, permit=permits.for_operation("asset.folder.create")
        )

    outcome = await call.run(targets=targets, plan=plan, execute=execute)
    return _answer(outcome, "Folder created.")
