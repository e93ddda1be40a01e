"""The `stack` toolset: one call to orient, and compact content type schemas."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from cs_mcp.client import NotFoundError, SchemaField
from cs_mcp.config import Capability
from cs_mcp.guard.policy import Role
from cs_mcp.guard.scopes import CONSTRAINTS, Scope
from cs_mcp.toolkit.context import ToolContext, app_state, principal_of
from cs_mcp.toolkit.declarations import ToolsetDeclarations
from cs_mcp.toolkit.identifiers import ContentTypeUid
from cs_mcp.toolkit.models import ToolModel
from cs_mcp.toolkit.shape import ReadAnswer, clean_text

declare = ToolsetDeclarations("stack")


class LocaleInfo(ToolModel):
    code: str
    name: str | None = None
    master: bool = False
    fallback: str | None = None


class ContentTypeInfo(ToolModel):
    uid: str
    title: str
    field_count: int


class PermissionInfo(ToolModel):
    """What the caller may do. A constraint of null means no limit."""

    principal: str
    role: str
    scopes: list[str]
    environments: list[str] | None = None
    content_types: list[str] | None = None
    locales: list[str] | None = None
    automation_projects: list[str] | None = None
    branches: list[str] | None = None
    confirm_environments: list[str] = Field(default_factory=lambda: [])
    confirm_tools: list[str] = Field(default_factory=lambda: [])
    read_only: bool


class StackDescription(ToolModel):
    backend: str = Field(description="'live' for Contentstack, 'sandbox' for the local sandbox stack.")
    region: str
    branch: str | None
    environments: list[str]
    locales: list[LocaleInfo]
    content_types: list[ContentTypeInfo]
    toolsets: dict[str, str] = Field(description="Each toolset: 'available', or what to set to enable it.")
    permissions: PermissionInfo
    notes: list[str] = Field(default_factory=lambda: [])


def _sorted(values: frozenset[str] | None) -> list[str] | None:
    return sorted(values) if values is not None and "*" not in values else None


def permission_info(
    principal_name: str, role: Role, confirm_envs: list[str], confirm_tools: list[str]
) -> PermissionInfo:
    writes = {s for s in role.scopes if not s.endswith(":read")}
    return PermissionInfo(
        principal=principal_name,
        role=role.name,
        scopes=sorted(role.scopes),
        # Every constraint the guard enforces, from its one table.
        **{c.role_field: _sorted(getattr(role, c.role_field)) for c in CONSTRAINTS},
        confirm_environments=confirm_envs,
        confirm_tools=confirm_tools,
        read_only=not writes,
    )


@declare.read(
    "Describe the stack",
    scopes={Scope.CONTENT_TYPE_READ, Scope.ENTRY_READ, Scope.ANALYTICS_READ, Scope.AUTOMATIONS_READ},
)
async def describe_stack(ctx: ToolContext) -> StackDescription:
    """Start here: the backend (live or sandbox), region, branch, environments, locales (master marked),
    content types, which toolsets are available, and YOUR permissions: role, scopes, and the environments,
    content types and locales you may write to."""
    state = app_state(ctx)
    principal = principal_of(ctx)
    role = state.guard.role_of(principal)
    notes: list[str] = []
    environments: list[str] = []
    locales: list[LocaleInfo] = []
    content_types: list[ContentTypeInfo] = []
    if Capability.CMA in state.settings.capabilities():
        environments = await state.meta.environment_names()
        master = await state.meta.master_locale()
        locales = [
            LocaleInfo(code=loc.code, name=loc.name, master=loc.code == master, fallback=loc.fallback_locale)
            for loc in await state.meta.locales()
        ]
        content_types = [
            ContentTypeInfo(uid=ct.uid, title=clean_text(ct.title), field_count=len(ct.schema_))
            for ct in await state.meta.content_types()
        ]
    else:
        notes.append("No stack credentials: set CONTENTSTACK_API_KEY and CONTENTSTACK_MANAGEMENT_TOKEN.")
    if state.backend == "sandbox":
        notes.append("This is the local sandbox stack with demo content, not a real Contentstack stack.")
    confirm = state.guard.policy.confirm
    return StackDescription(
        backend=state.backend,
        region=state.settings.region,
        branch=state.settings.branch,
        environments=environments,
        locales=locales,
        content_types=content_types,
        toolsets={name: reason or "available" for name, reason in state.toolsets.items()},
        permissions=permission_info(principal.name, role, list(confirm.environments), list(confirm.tools)),
        notes=notes,
    )


class FieldInfo(ToolModel):
    uid: str
    type: str
    display_name: str | None = None
    required: bool = False
    multiple: bool = False
    unique: bool = False
    reference_to: list[str] | None = None
    fields: list[FieldInfo] | None = Field(default=None, description="Nested fields of a group or global field.")
    blocks: list[BlockInfo] | None = Field(default=None, description="The blocks of a modular blocks field.")


class BlockInfo(ToolModel):
    uid: str
    title: str | None = None
    fields: list[FieldInfo] = Field(default_factory=lambda: [])


FieldInfo.model_rebuild()


class ContentTypeSchema(ReadAnswer):
    uid: str
    title: str
    description: str | None = None
    fields: list[FieldInfo]


def field_type(f: SchemaField) -> str:
    """A field's type in plain words: rich text editors are told apart from plain text."""
    meta: dict[str, Any] = f.field_metadata
    if f.data_type == "text" and meta.get("allow_rich_text"):
        return "html_rich_text"
    if f.data_type == "json" and meta.get("allow_json_rte"):
        return "json_rich_text"
    return f.data_type


def compact_field(f: SchemaField) -> FieldInfo:
    refs = f.reference_to
    return FieldInfo(
        uid=f.uid,
        type=field_type(f),
        display_name=clean_text(f.display_name) if f.display_name else None,
        required=f.mandatory,
        multiple=f.multiple,
        unique=f.unique,
        reference_to=[refs] if isinstance(refs, str) else refs,
        fields=[compact_field(sub) for sub in f.schema_] if f.schema_ else None,
        blocks=[
            BlockInfo(uid=b.uid, title=b.title, fields=[compact_field(sub) for sub in (b.schema_ or [])])
            for b in f.blocks
        ]
        if f.blocks
        else None,
    )


@declare.read("Get a content type", scopes={Scope.CONTENT_TYPE_READ})
async def get_content_type(
    ctx: ToolContext,
    content_type: Annotated[ContentTypeUid, Field(description="The content type's uid.")],
) -> ContentTypeSchema:
    """One content type's compact schema: each field's uid, type, whether it is required or multiple, a
    reference field's target content types, and the nested fields of groups and modular blocks."""
    state = app_state(ctx)
    try:
        ct = await state.meta.content_type(content_type)
    except NotFoundError:
        raise await state.meta.content_type_missing(content_type) from None
    return ContentTypeSchema(
        uid=ct.uid,
        title=clean_text(ct.title),
        description=clean_text(ct.description) if ct.description else None,
        fields=[compact_field(f) for f in ct.schema_],
    )
