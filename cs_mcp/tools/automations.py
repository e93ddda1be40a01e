"""The automations toolset (docs/TOOLS.md, "automations"): Automate projects, automations, the on/off
toggle, execution history and the audit log.

Automate takes an authtoken (or OAuth token) and an organization, never a management token;
without them the toolset is not listed and `describe_stack` says what to set.

The toggle is the only write. It asks the guard first (scope `automationhub.automations:write`,
constrained by the role's `automation_projects`), so a denied call sends nothing, not even a
read; then it reads the automation, answers a no-op when it already has the asked state, and
otherwise sends the change through the write pipeline and reads the state back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from cs_mcp.client import (
    APIModel,
    Automation,
    Execution,
    ExecutionStep,
    InvalidRequestError,
    NotFoundError,
)
from cs_mcp.guard import Targets
from cs_mcp.guard.scopes import Scope
from cs_mcp.toolkit.automate import (
    AuditLogInfo,
    Cursor,
    Limit,
    ProjectId,
    ProjectInfo,
    ProjectListAnswer,
    automate_path,
    project_info,
    project_missing,
    project_page,
    summarize_audit,
    text_or_none,
)
from cs_mcp.toolkit.context import AppState, ToolContext, app_state
from cs_mcp.toolkit.declarations import ToolsetDeclarations
from cs_mcp.toolkit.identifiers import AutomateId
from cs_mcp.toolkit.models import ToolModel
from cs_mcp.toolkit.shape import (
    DEFAULT_LIMIT,
    ListAnswer,
    ReadAnswer,
    clean_text,
    decode_cursor,
    encode_cursor,
    fingerprint,
    fit_budget,
    page_info,
    read_page,
)
from cs_mcp.toolkit.write import (
    Permits,
    PlannedRequest,
    WriteAnswer,
    WriteCall,
)

READ_PROJECTS = frozenset({Scope.AUTOMATE_PROJECTS_READ})
READ_AUTOMATIONS = frozenset({Scope.AUTOMATIONS_READ})
READ_EXECUTIONS = frozenset({Scope.AUTOMATE_EXECUTIONS_READ})
READ_AUDIT = frozenset({Scope.AUTOMATE_AUDIT_LOG_READ})
WRITE = frozenset({Scope.AUTOMATIONS_WRITE})
declare = ToolsetDeclarations("automations", read_scopes=READ_AUTOMATIONS)

T = TypeVar("T")
M = TypeVar("M", bound=APIModel)

# Error text from a run can be long (a remote service's whole answer); this much is kept.
MAX_ERROR_CHARS = 500

AutomationId = Annotated[AutomateId, Field(description="From list_automations.")]


# -- answer models ----------------------------------------------------------------------------


class ProjectList(ListAnswer):
    projects: list[ProjectInfo]


# What an automation lacks before it can be switched on, as its summary and its detail show it.
Missing = Annotated[
    list[str], Field(description="What it lacks before Automate lets it be switched on: 'trigger', 'action'.")
]


class AutomationSummary(ToolModel):
    id: str
    title: str | None = None
    description: str | None = None
    active: bool
    trigger: str | None = Field(default=None, description="What starts it, e.g. 'Contentstack: Entry Published'.")
    actions: list[str] = Field(default_factory=lambda: [], description="Its action steps, in order.")
    missing: Missing = Field(default_factory=lambda: [])
    updated_at: str | None = None


class AutomationList(ProjectListAnswer):
    automations: list[AutomationSummary]


class TriggerInfo(ToolModel):
    id: str | None = None
    title: str | None = None
    connector: str | None = None
    next: list[str] = Field(default_factory=lambda: [], description="The names of the steps it starts.")


class StepInfo(ToolModel):
    name: str | None = Field(default=None, description="The step's name, as `next` lists refer to it.")
    type: str | None = Field(default=None, description="'action' for an action step.")
    title: str | None = None
    connector: str | None = None
    description: str | None = None
    next: list[str] = Field(default_factory=lambda: [])


class AutomationDetail(ReadAnswer):
    id: str
    project_id: str
    title: str | None = None
    description: str | None = None
    active: bool
    throttle: bool | None = None
    trigger: TriggerInfo | None = None
    steps: list[StepInfo] = Field(default_factory=lambda: [])
    missing: Missing = Field(default_factory=lambda: [])
    created_at: str | None = None
    updated_at: str | None = None
    note: str | None = None


class ExecutionSummary(ToolModel):
    id: str
    automation_id: str | None = None
    title: str | None = None
    status: str | None = None
    created_at: str | None = None
    duration_ms: int | None = None
    failed_step: str | None = Field(default=None, description="The title of the step that failed, if one did.")
    error: str | None = None


class ExecutionList(ProjectListAnswer):
    executions: list[ExecutionSummary]


class ExecutionStepInfo(ToolModel):
    name: str | None = None
    title: str | None = None
    group: str | None = None
    status: str | None = None
    started_at: str | None = None
    duration_ms: int | None = None
    error: str | None = None


class ExecutionDetail(ReadAnswer):
    id: str
    project_id: str
    automation_id: str | None = None
    title: str | None = None
    status: str | None = None
    trigger_payload_id: str | None = None
    created_at: str | None = None
    duration_ms: int | None = None
    steps: list[ExecutionStepInfo]


class AuditLogList(ProjectListAnswer):
    logs: list[AuditLogInfo]


class ToggleAnswer(WriteAnswer):
    project_id: str
    automation_id: str
    title: str | None = None
    requested_active: bool
    previous_active: bool | None = Field(default=None, description="The state before; null when not read.")
    active: bool | None = Field(default=None, description="The state read back after the change; null if not sent.")
    changed: bool = Field(description="True when the change was sent and applied.")


# -- helpers ----------------------------------------------------------------------------------


def _named(connector: str | None, title: str | None) -> str | None:
    parts = [clean_text(p) for p in (connector, title) if p]
    return ": ".join(parts) if parts else None


def _ms_to_iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def _span(step: ExecutionStep) -> int | None:
    return step.end - step.start if step.start is not None and step.end is not None else None


def _errortext_or_none(error: Any) -> str | None:
    if error is None or error == "" or error == {}:
        return None
    if isinstance(error, Mapping):
        message = cast(Mapping[str, Any], error).get("message")
        text = str(message) if message else str(dict(cast(Mapping[str, Any], error)))
    else:
        text = str(error)
    return clean_text(text)[:MAX_ERROR_CHARS]


def _automation_missing(project_id: str, automation_id: str) -> str:
    return (
        f"automation {automation_id!r} does not exist in Automate project {project_id!r}; "
        "list_automations lists that project's automations"
    )


def filtered_page(
    fetched: list[T], keep: Callable[[T], bool], *, total: int | None, skip: int, limit: int, query: str
) -> tuple[list[T], dict[str, Any]]:
    """The items of one fetched page that pass `keep`, cut to the budget, and their page fields.

    Automate filters the list itself; `keep` only guards against an answer that ignored the
    filter. Then the total is unknown and paging continues over Automate's unfiltered list.
    """
    positions = [i for i, item in enumerate(fetched) if keep(item)]
    matching = [fetched[i] for i in positions]
    kept = fit_budget(matching)
    if len(matching) == len(fetched):
        return kept, page_info(
            total=total, skip=skip, asked=limit, returned=len(kept), query_fingerprint=query, fetched=len(fetched)
        )
    truncated = len(kept) < len(matching)
    resume = skip + (positions[len(kept)] if truncated else len(fetched))
    more = truncated or (skip + len(fetched) < total if total is not None else len(fetched) >= limit)
    dropped = len(fetched) - len(matching)
    note = f"Automate ignored the filter; {dropped} items of this page that did not match were left out"
    if truncated:
        note += f"; cut to {len(kept)} items to fit the size budget"
    return kept, {
        "total": None,
        "returned": len(kept),
        "next_cursor": encode_cursor(resume, query) if more else None,
        "truncated": truncated,
        "note": note,
    }


def summarize_automation(automation: Automation) -> AutomationSummary:
    trigger = automation.trigger
    return AutomationSummary(
        id=automation.id,
        title=text_or_none(automation.title),
        description=text_or_none(automation.description),
        active=automation.active,
        trigger=_named(trigger.connector_title, trigger.title) if trigger else None,
        actions=[
            name
            for step in automation.steps or []
            if step.type == "action" and (name := _named(step.connector_title, step.title or step.action_title))
        ],
        missing=automation.missing_parts() or [],
        updated_at=automation.updated_at,
    )


def summarize_execution(execution: Execution) -> ExecutionSummary:
    failed = next((s for s in execution.details if (s.status or "").lower() in ("failed", "failure", "error")), None)
    return ExecutionSummary(
        id=execution.id,
        automation_id=execution.rule_id,
        title=text_or_none(execution.title),
        status=execution.status,
        created_at=execution.created_at,
        duration_ms=execution.duration,
        failed_step=text_or_none(failed.title or failed.name) if failed else None,
        error=_errortext_or_none(failed.error) if failed else None,
    )


async def load_automation(state: AppState, project_id: str, automation_id: str) -> Automation:
    """The automation with its steps.

    Raises:
        ToolError: no such project or automation, said plainly.
    """
    try:
        return await state.client.automate.automation(project_id, automation_id)
    except NotFoundError:
        raise ToolError(_automation_missing(project_id, automation_id)) from None


# -- read tools -------------------------------------------------------------------------------


@declare.read("List Automate projects", scopes=READ_PROJECTS)
async def list_automation_projects(
    ctx: ToolContext, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> ProjectList:
    """The organization's Automate projects (id, title, description, tags); the other automation tools take a
    project's id."""
    automate = app_state(ctx).client.automate
    query = fingerprint("list_automation_projects")
    kept, info = await read_page(
        query, cursor, limit, lambda skip: automate.projects(skip=skip, limit=limit), project_info
    )
    return ProjectList(projects=kept, **info)


@declare.read("List automations")
async def list_automations(
    ctx: ToolContext,
    project_id: ProjectId,
    active: Annotated[
        bool | None, Field(description="true: only active automations; false: only inactive; null: all.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> AutomationList:
    """A project's automations: id, title, whether each is active, its trigger and actions, and
    what it still lacks ('trigger', 'action') before Automate lets it be switched on."""
    state = app_state(ctx)
    query = fingerprint("list_automations", project_id, active)
    skip = decode_cursor(cursor, query)
    try:
        page = await state.client.automate.automations(
            project_id, active=active, show_steps=True, skip=skip, limit=limit
        )
    except NotFoundError:
        raise ToolError(project_missing(project_id)) from None
    kept, info = filtered_page(
        [summarize_automation(a) for a in page.items],
        lambda a: active is None or a.active is active,
        total=page.total,
        skip=skip,
        limit=limit,
        query=query,
    )
    return AutomationList(project_id=project_id, automations=kept, **info)


@declare.read("Get an automation")
async def get_automation(ctx: ToolContext, project_id: ProjectId, automation_id: AutomationId) -> AutomationDetail:
    """One automation: its trigger and steps (type, title, connector, next steps), whether it is active, and
    what it lacks before it can be switched on."""
    state = app_state(ctx)
    automation = await load_automation(state, project_id, automation_id)
    trigger = automation.trigger
    missing = automation.missing_parts() or []
    return AutomationDetail(
        id=automation.id,
        project_id=automation.project_id or project_id,
        title=text_or_none(automation.title),
        description=text_or_none(automation.description),
        active=automation.active,
        throttle=automation.throttle,
        trigger=TriggerInfo(
            id=trigger.id,
            title=text_or_none(trigger.title),
            connector=text_or_none(trigger.connector_title),
            next=trigger.next,
        )
        if trigger
        else None,
        steps=[
            StepInfo(
                name=s.name,
                type=s.type,
                title=text_or_none(s.title or s.action_title),
                connector=text_or_none(s.connector_title),
                description=text_or_none(s.description),
                next=s.next,
            )
            for s in automation.steps or []
        ],
        missing=missing,
        created_at=automation.created_at,
        updated_at=automation.updated_at,
        note=f"it cannot be switched on until it has {needs(missing)}" if missing else None,
    )


@declare.read("List automation executions", scopes=READ_EXECUTIONS)
async def list_automation_executions(
    ctx: ToolContext,
    project_id: ProjectId,
    automation_id: Annotated[AutomateId | None, Field(description="Only runs of this automation.")] = None,
    status: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=40,
            pattern=r"^[A-Za-z_-]+$",
            description="Only runs with this status, as Automate writes it: 'success' or 'failed'.",
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ExecutionList:
    """A project's runs, newest first: automation, status, time, duration, and a failed run's step and error.
    Filter by automation and by status (e.g. 'failed')."""
    state = app_state(ctx)
    query = fingerprint("list_automation_executions", project_id, automation_id, status)
    skip = decode_cursor(cursor, query)
    try:
        page = await state.client.automate.executions(
            project_id, automation_id=automation_id, status=status, skip=skip, limit=limit
        )
    except NotFoundError:
        raise ToolError(project_missing(project_id)) from None
    except ValueError as exc:  # a filter Automate's quoted `query` form cannot carry
        raise ToolError(f"{exc}; pass the id as list_automations shows it") from None
    kept, info = filtered_page(
        [summarize_execution(e) for e in page.items],
        lambda e: (
            (automation_id is None or e.automation_id == automation_id) and (status is None or e.status == status)
        ),
        total=page.total,
        skip=skip,
        limit=limit,
        query=query,
    )
    return ExecutionList(project_id=project_id, executions=kept, **info)


@declare.read("Get an automation execution", scopes=READ_EXECUTIONS)
async def get_automation_execution(
    ctx: ToolContext,
    project_id: ProjectId,
    execution_id: Annotated[AutomateId, Field(description="From list_automation_executions.")],
) -> ExecutionDetail:
    """One run of an automation, step by step: each step's status, start time, duration and
    error, so that a failure can be traced to the step that caused it."""
    state = app_state(ctx)
    try:
        execution = await state.client.automate.execution(project_id, execution_id)
    except NotFoundError:
        raise ToolError(
            f"execution {execution_id!r} does not exist in Automate project {project_id!r}; "
            "list_automation_executions lists the runs"
        ) from None
    return ExecutionDetail(
        id=execution.id,
        project_id=execution.project_id or project_id,
        automation_id=execution.rule_id,
        title=text_or_none(execution.title),
        status=execution.status,
        trigger_payload_id=execution.trigger_payload_id,
        created_at=execution.created_at,
        duration_ms=execution.duration,
        steps=[
            ExecutionStepInfo(
                name=s.name,
                title=text_or_none(s.title),
                group=text_or_none(s.group),
                status=s.status,
                started_at=_ms_to_iso(s.start),
                duration_ms=_span(s),
                error=_errortext_or_none(s.error),
            )
            for s in execution.details
        ],
    )


@declare.read("List the Automate audit log", scopes=READ_AUDIT)
async def list_automation_audit_logs(
    ctx: ToolContext, project_id: ProjectId, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> AuditLogList:
    """A project's audit log, newest first: who created, changed, switched on or switched off
    which automation, and when."""
    fetch = app_state(ctx).client.automate.audit_logs
    kept, info = await project_page("list_automation_audit_logs", project_id, limit, cursor, fetch, summarize_audit)
    return AuditLogList(project_id=project_id, logs=kept, **info)


# -- the toggle -------------------------------------------------------------------------------


_ARTICLES = {"trigger": "a trigger", "action": "an action"}


def needs(missing: list[str]) -> str:
    """'a trigger and an action', for the parts an automation lacks."""
    return " and ".join(_ARTICLES.get(part, part) for part in missing)


def _refusal(automation: Automation, active: bool, exc: InvalidRequestError) -> ToolError:
    missing = automation.missing_parts() or [k for k in ("trigger", "action") if k in exc.errors]
    lacks = f"; this one lacks {needs(missing)}" if missing else ""
    reason = clean_text(exc.error_message).rstrip(". ") if exc.error_message else "no reason given"
    return ToolError(
        f"Automate refused to switch {'on' if active else 'off'} automation {automation.id!r}: {reason}. "
        f"An automation needs a trigger and at least one action configured before it can be switched on or "
        f"off{lacks}. Configure it in Automate, then try again. Nothing changed."
    )


@declare.write(
    "Switch an automation on or off",
    read_back="get_automation on the automation (its active flag)",
    scopes=WRITE,
    idempotent=True,
)
async def set_automation_active(
    call: WriteCall,
    project_id: ProjectId,
    automation_id: AutomationId,
    active: Annotated[bool, Field(description="true switches the automation on, false switches it off.")],
) -> ToggleAnswer:
    """Switch an Automate automation on (active=true) or off. Automate refuses one that lacks a trigger or an
    action (get_automation shows what). Answers the state read back."""
    state = call.state
    targets = Targets(automation_projects=(project_id,))
    path = automate_path("projects", project_id, "automations", automation_id)
    word = "on" if active else "off"
    plan = call.plan(
        f"switch automation {automation_id!r} of project {project_id!r} {word}",
        targets,
        requests=[PlannedRequest(method="PATCH", path=path, summary=f'{{"active": {str(active).lower()}}}')],
        items=[automation_id],
    )

    # A role that may not write to this project learns so before anything is read or sent.
    await call.precheck(targets)

    automation = await load_automation(state, project_id, automation_id)
    title = text_or_none(automation.title)
    if automation.active is active:
        unchanged = await call.nothing_to_do(targets, f"the automation is already {word}")
        return unchanged.answer(
            ToggleAnswer,
            project_id=project_id,
            automation_id=automation_id,
            title=title,
            requested_active=active,
            previous_active=automation.active,
            active=automation.active,
            changed=False,
            notice=f"automation {automation_id!r} is already {word}; nothing was sent",
        )
    missing = automation.missing_parts() or []
    if missing:
        plan.summary += f" (Automate will likely refuse: it lacks {needs(missing)})"

    async def execute(permits: Permits) -> bool:
        try:
            await state.client.automate.set_active(
                project_id, automation_id, active, permit=permits.for_operation("automation.set_active")
            )
        except InvalidRequestError as exc:
            raise _refusal(automation, active, exc) from None
        return True

    outcome = await call.run(
        targets=targets,
        plan=plan,
        execute=execute,
        # A confirmation holds only while the automation is in the state it was planned from.
        target_versions={automation_id: int(automation.active)},
    )
    # Read back after the write, outside it: if the read fails, the pipeline answers that the
    # change was sent (and what to read), not that it failed.
    after = (
        await state.client.automate.automation(project_id, automation_id, show_steps=False) if outcome.result else None
    )
    pending = outcome.pending_notice(f"switch automation {automation_id!r} {word}")
    if pending is not None or after is None:
        message = pending or f"automation {automation_id!r} was not switched {word}"
    elif after.active is active:
        message = f"automation {automation_id!r} is now {word} (read back after the change)"
    else:
        message = (
            f"Automate accepted the change, but automation {automation_id!r} reads back as "
            f"{'on' if after.active else 'off'}; check it in Automate"
        )
    return outcome.answer(
        ToggleAnswer,
        project_id=project_id,
        automation_id=automation_id,
        title=title,
        requested_active=active,
        previous_active=automation.active,
        active=after.active if after is not None else None,
        changed=after is not None and after.active is active,
        notice=message,
    )
