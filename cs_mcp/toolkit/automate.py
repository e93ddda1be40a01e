"""What the Automate toolsets share (automations, automate_admin): the project id, page size
and cursor arguments, a project and an audit-log entry as answers show them, Automate's paths,
the error for a project that does not exist, and one page of a list inside a project (read,
and answered with the project's id)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Protocol, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from cs_mcp.client import APIModel, AuditLogEntry, AutomationProject, NotFoundError, Page, encode_path
from cs_mcp.toolkit.identifiers import AutomateId
from cs_mcp.toolkit.models import ToolModel
from cs_mcp.toolkit.shape import MAX_LIMIT, ListAnswer, clean_text, fingerprint, read_page

T = TypeVar("T")
M = TypeVar("M", bound=APIModel)

ProjectId = AutomateId  # list_automation_projects says the other tools take its ids
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Field(max_length=500, description="The previous page's next_cursor.")]


class ProjectInfo(ToolModel):
    id: str
    title: str | None = None
    description: str | None = None
    tags: list[str] = Field(default_factory=lambda: [])
    created_at: str | None = None
    updated_at: str | None = None


class AuditLogInfo(ToolModel):
    uid: str
    event: str | None = Field(default=None, description="What happened, e.g. Create, Update, Enabled, Disabled.")
    module: str | None = None
    subject_id: str | None = Field(default=None, description="The id of the object it happened to.")
    subject_title: str | None = None
    active: bool | None = Field(default=None, description="The automation's state after the change, when recorded.")
    actor: str | None = Field(default=None, description="Who did it (username or user uid).")
    created_at: str | None = None


class ProjectListAnswer(ListAnswer):
    """A page of a list inside one Automate project: the project's id, then (in a subclass)
    the page's items."""

    project_id: str


P = TypeVar("P", bound=ProjectInfo)
L = TypeVar("L", bound=AuditLogInfo)


def text_or_none(value: str | None) -> str | None:
    return clean_text(value) if value is not None else None


def project_info(project: AutomationProject, model: type[P] = ProjectInfo) -> P:
    """A project as answers show it (`model`: `ProjectInfo`, or a subclass of it)."""
    return model(
        id=project.id,
        title=text_or_none(project.title),
        description=text_or_none(project.description),
        tags=[clean_text(t) for t in project.tags],
        created_at=project.created_at,
        updated_at=project.updated_at,
    )


def automate_path(*segments: str) -> str:
    return "/v1" + encode_path(list(segments))


def project_missing(project_id: str) -> str:
    return (
        f"Automate project {project_id!r} does not exist in this organization (or you cannot see it); "
        "list_automation_projects lists the projects"
    )


def summarize_audit(entry: AuditLogEntry, model: type[L] = AuditLogInfo) -> L:
    """An audit-log entry as answers show it (`model`: `AuditLogInfo`, or a subclass of it)."""
    meta: Mapping[str, Any] = entry.metadata or {}
    actor: Mapping[str, Any] = entry.created_by or {}
    title = meta.get("title")
    active = meta.get("active")
    who = actor.get("username") or actor.get("uid")
    return model(
        uid=entry.uid,
        event=text_or_none(entry.event),
        module=text_or_none(entry.module),
        subject_id=entry.module_uid,
        subject_title=clean_text(title) if isinstance(title, str) else None,
        active=active if isinstance(active, bool) else None,
        actor=clean_text(str(who)) if who else None,
        created_at=entry.created_at,
    )


class ProjectList(Protocol[M]):
    """A client method that reads one page of a list inside a project."""

    def __call__(self, project_id: str, *, skip: int, limit: int) -> Awaitable[Page[M]]: ...


async def project_page(
    tool: str,
    project_id: str,
    limit: int,
    cursor: str | None,
    fetch: ProjectList[M],
    shape: Callable[[M], T],
) -> tuple[list[T], dict[str, Any]]:
    """One page of a list inside a project: `fetch`ed from `skip` (what `cursor` stands for),
    each item shaped, cut to the budget, with its page fields.

    Raises:
        ToolError: no such project, or a cursor of another list.
    """

    async def fetched(skip: int) -> Page[M]:
        try:
            return await fetch(project_id, skip=skip, limit=limit)
        except NotFoundError:
            raise ToolError(project_missing(project_id)) from None

    return await read_page(fingerprint(tool, project_id), cursor, limit, fetched, shape)
