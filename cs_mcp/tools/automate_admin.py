"""The automate_admin toolset (docs/TOOLS.md, "automate_admin"): an Automate project's settings,
its variables and connected accounts, and single audit-log entries. Opt-in: the default
`automations` toolset keeps to reading automations and switching them on and off.

Scopes are the ones the Automate Management API reference names for each request: projects
`automationhub.projects.management:read|write`, variables `automationhub.variables:read|write`,
accounts `automationhub.accounts:read`, the audit log `automationhub.audit-log:read`. A role's
`automation_projects` constraint limits every write inside a project; creating a project is
checked as a write to the project named `(new project)`, so a role limited to named projects
cannot create one unless its list names that too.

Secrets: a `password` variable's value never appears in an answer, a plan, a preview, an
error or the audit log (the argument is recorded as `[redacted]`); Automate answers it only
encrypted, and even that is not shown. A connected account is answered by what names it
(title, connector, type), never with the credentials it holds; an audit-log entry by what
happened to what, never with the object it recorded (which, for an account, holds its
credentials).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from typing import Annotated, Any, Literal, Protocol, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from cs_mcp.client import SECRET_VARIABLE_TYPE, AutomationAccount, AutomationProject, NotFoundError, ProjectVariable
from cs_mcp.guard import Permit, Targets
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
from cs_mcp.toolkit.shape import DEFAULT_LIMIT, ReadAnswer, clean_text
from cs_mcp.toolkit.write import (
    Permits,
    PlannedRequest,
    WriteAnswer,
    WriteCall,
    WritePlan,
)

declare = ToolsetDeclarations("automate_admin", write_scopes=frozenset({Scope.AUTOMATE_PROJECTS_WRITE}))
# What the guard checks a project creation against: the project does not exist yet.
NEW_PROJECT = "(new project)"
SECRET_TYPE = SECRET_VARIABLE_TYPE

VariableId = Annotated[AutomateId, Field(description="The variable's id (list_project_variables).")]
AccountId = Annotated[AutomateId, Field(description="The account's id (list_automation_accounts).")]
Title = Annotated[str, Field(min_length=1, max_length=200, description="The project's title.")]
Description = Annotated[str | None, Field(max_length=2000, description="The project's description.")]
Tags = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]] | None, Field(max_length=50)]
VariableKey = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$", description="The variable's name.")
]
VariableValue = Annotated[str, Field(max_length=10_000)]
VariableType = Literal["text", "password"]


# -- answer models ----------------------------------------------------------------------------


class VariableInfo(ToolModel):
    id: str
    key: str | None = None
    type: str | None = Field(default=None, description="'text', or 'password' for a secret.")
    secret: bool = Field(description="A password variable: its value is never shown.")
    value: str | None = Field(default=None, description="The value of a text variable; null for a secret.")
    created_at: str | None = None
    updated_at: str | None = None


class VariableList(ProjectListAnswer):
    variables: list[VariableInfo]


class AccountInfo(ToolModel):
    id: str
    title: str | None = None
    description: str | None = None
    connector: str | None = Field(default=None, description="The connector it signs in to, e.g. 'slack'.")
    type: str | None = Field(default=None, description="How it signs in, e.g. 'oauth2' or 'custom'.")
    created_at: str | None = None
    updated_at: str | None = None


class AccountDetail(AccountInfo, ReadAnswer):
    """One connected account (get_automation_account), in the content envelope."""


class ProjectDetail(ProjectInfo, ReadAnswer):
    """One project (get_automation_project), in the content envelope."""


class AuditLogDetail(AuditLogInfo, ReadAnswer):
    """One audit-log entry (get_automation_audit_log), in the content envelope."""


A = TypeVar("A", bound=AccountInfo)
W = TypeVar("W", bound=WriteAnswer)
T = TypeVar("T")


class AccountList(ProjectListAnswer):
    accounts: list[AccountInfo]


class ProjectWriteAnswer(WriteAnswer):
    project: ProjectInfo | None = Field(default=None, description="The project as Automate answered it.")


class VariableWriteAnswer(WriteAnswer):
    project_id: str
    variable: VariableInfo | None = Field(default=None, description="The variable as Automate answered it.")


# -- shaping ----------------------------------------------------------------------------------


def variable_info(variable: ProjectVariable) -> VariableInfo:
    """A variable as the model reads it: a secret's value is never part of it."""
    shown = None if variable.secret or not isinstance(variable.value, str) else clean_text(variable.value)
    return VariableInfo(
        id=variable.id,
        key=text_or_none(variable.key),
        type=variable.type,
        secret=variable.secret,
        value=shown,
        created_at=variable.created_at,
        updated_at=variable.updated_at,
    )


def account_info(account: AutomationAccount, model: type[A] = AccountInfo) -> A:
    """An account as answers show it (`model`: `AccountInfo`, or a subclass of it)."""
    return model(
        id=account.id,
        title=text_or_none(account.title),
        description=text_or_none(account.description),
        connector=text_or_none(account.group_name),
        type=account.type,
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


async def _in_project(read: Awaitable[T], what: str, item_id: str, project_id: str, where_listed: str) -> T:
    """What `read` (of one item of an Automate project) answers.

    Raises:
        ToolError: Automate has no such item (or project); says where the project's are listed.
    """
    try:
        return await read
    except NotFoundError:
        raise ToolError(
            f"{what} {item_id!r} does not exist in Automate project {project_id!r} (or the project does not); "
            + where_listed
        ) from None


async def load_project(state: AppState, project_id: str) -> AutomationProject:
    try:
        return await state.client.automate.project(project_id)
    except NotFoundError:
        raise ToolError(project_missing(project_id)) from None


async def load_variable(state: AppState, project_id: str, variable_id: str) -> ProjectVariable:
    read = state.client.automate.variable(project_id, variable_id)
    return await _in_project(read, "variable", variable_id, project_id, "list_project_variables lists its variables")


# -- reads --------------------------------------------------------------------------------------


@declare.read("Get an Automate project", scopes={Scope.AUTOMATE_PROJECTS_READ})
async def get_automation_project(ctx: ToolContext, project_id: ProjectId) -> ProjectDetail:
    """One Automate project: title, description, tags and when it was created and changed."""
    return project_info(await load_project(app_state(ctx), project_id), ProjectDetail)


@declare.read("List project variables", scopes={Scope.AUTOMATE_VARIABLES_READ})
async def list_project_variables(
    ctx: ToolContext, project_id: ProjectId, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> VariableList:
    """A project's variables (the values its automations can use): key, type and, for a text
    variable, its value. A password variable is a secret: its value is never shown."""
    fetch = app_state(ctx).client.automate.variables
    kept, info = await project_page("list_project_variables", project_id, limit, cursor, fetch, variable_info)
    return VariableList(project_id=project_id, variables=kept, **info)


@declare.read("List connected accounts", scopes={Scope.AUTOMATE_ACCOUNTS_READ})
async def list_automation_accounts(
    ctx: ToolContext, project_id: ProjectId, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> AccountList:
    """The accounts a project's automations sign in with (Slack, ChatGPT, ...): title,
    connector and how each signs in. Their credentials are never shown."""
    fetch = app_state(ctx).client.automate.accounts
    kept, info = await project_page("list_automation_accounts", project_id, limit, cursor, fetch, account_info)
    return AccountList(project_id=project_id, accounts=kept, **info)


@declare.read("Get a connected account", scopes={Scope.AUTOMATE_ACCOUNTS_READ})
async def get_automation_account(ctx: ToolContext, project_id: ProjectId, account_id: AccountId) -> AccountDetail:
    """One connected account of a project: title, connector, how it signs in. Its credentials
    are never shown."""
    read = app_state(ctx).client.automate.account(project_id, account_id)
    lists = "list_automation_accounts lists its accounts"
    return account_info(await _in_project(read, "account", account_id, project_id, lists), AccountDetail)


@declare.read("Get an Automate audit-log entry", scopes={Scope.AUTOMATE_AUDIT_LOG_READ})
async def get_automation_audit_log(
    ctx: ToolContext,
    project_id: ProjectId,
    log_id: Annotated[AutomateId, Field(description="The entry's uid (list_automation_audit_logs).")],
) -> AuditLogDetail:
    """One entry of a project's audit log: what happened (Create, Update, Enabled, ...), to
    which object, by whom and when. The object's recorded state is not shown."""
    read = app_state(ctx).client.automate.audit_log(project_id, log_id)
    lists = "list_automation_audit_logs lists its entries"
    return summarize_audit(await _in_project(read, "audit-log entry", log_id, project_id, lists), AuditLogDetail)


# -- projects -----------------------------------------------------------------------------------


@declare.write("Create an Automate project", read_back="list_automation_projects (the new project's id is not known)")
async def create_automation_project(
    call: WriteCall,
    title: Title,
    description: Description = None,
    tags: Tags = None,
) -> ProjectWriteAnswer:
    """Create an Automate project, the container for automations, variables and accounts.
    Use dry_run=true first to see the plan and the guard's verdict."""
    targets = Targets(automation_projects=(NEW_PROJECT,))
    plan = call.plan(
        f"create the Automate project {title!r}",
        targets,
        requests=[PlannedRequest(method="POST", path=automate_path("projects"), summary="create the project")],
    )
    await call.precheck(targets)

    async def execute(permits: Permits) -> AutomationProject:
        permit = permits.for_operation("automation_project.create")
        return await call.state.client.automate.create_project(
            title, description=description, tags=list(tags or []), permit=permit, new_target=NEW_PROJECT
        )

    outcome = await call.run(targets=targets, plan=plan, execute=execute)
    created = outcome.result
    message = outcome.pending_notice(f"create project {title!r}") or f"project {title!r} created"
    if created is not None:
        call.note(project_id=created.id)
    return outcome.answer(
        ProjectWriteAnswer, notice=message, project=project_info(created) if created is not None else None
    )


async def _unchanged(
    call: WriteCall, targets: Targets, what: str, name: str | None, model: type[W], **fields: Any
) -> W:
    """The answer to an update that asks for what the `what` named `name` already has: nothing
    is sent, but the guard still decides (a denial raises ToolError) and the call is audited."""
    unchanged = await call.nothing_to_do(targets, f"the {what} already reads so", "no change")
    return unchanged.answer(model, notice=f"{what} {name!r} already has these values; nothing was sent", **fields)


def _changes(project: AutomationProject, wanted: dict[str, Any]) -> list[str]:
    current = {"title": project.title, "description": project.description or "", "tags": project.tags}
    return [f"{name}: {current[name]!r} -> {value!r}" for name, value in wanted.items() if current[name] != value]


@declare.write("Update an Automate project", read_back="get_automation_project on the project", idempotent=True)
async def update_automation_project(
    call: WriteCall,
    project_id: ProjectId,
    title: Annotated[str | None, Field(min_length=1, max_length=200, description="A new title.")] = None,
    description: Description = None,
    tags: Annotated[Tags, Field(description="The project's new tags (replaces them all).")] = None,
) -> ProjectWriteAnswer:
    """Change a project's title, description or tags; what is not given keeps its value. The
    plan lists each change (old -> new); asking for what the project already has sends nothing."""
    wanted: dict[str, Any] = {
        k: v for k, v in (("title", title), ("description", description), ("tags", tags)) if v is not None
    }
    if not wanted:
        raise ToolError("give at least one of title, description or tags to change")
    targets = Targets(automation_projects=(project_id,))
    await call.precheck(targets)
    project = await load_project(call.state, project_id)
    changes = _changes(project, wanted)
    if not changes:
        return await _unchanged(call, targets, "project", project_id, ProjectWriteAnswer, project=project_info(project))
    body = {"title": project.title, "description": project.description or "", "tags": project.tags} | wanted
    path = automate_path("projects", project_id)
    plan = call.plan(
        f"update Automate project {project_id!r}: {'; '.join(changes)}",
        targets,
        requests=[PlannedRequest(method="PUT", path=path, summary=", ".join(sorted(wanted)))],
        items=changes,
    )

    async def execute(permits: Permits) -> AutomationProject:
        permit = permits.for_operation("automation_project.update")
        return await call.state.client.automate.update_project(project_id, body, permit=permit)

    outcome = await call.run(targets=targets, plan=plan, execute=execute)
    updated = outcome.result
    message = outcome.pending_notice(f"update project {project_id!r}") or f"project {project_id!r} updated"
    return outcome.answer(
        ProjectWriteAnswer, notice=message, project=project_info(updated) if updated is not None else None
    )


@declare.delete(
    "Delete an Automate project", read_back="get_automation_project on the project (not found: it was deleted)"
)
async def delete_automation_project(
    call: WriteCall,
    project_id: ProjectId,
) -> ProjectWriteAnswer:
    """Delete an Automate project with all its automations, variables and accounts.
    Destructive and always confirmed: the answer carries a preview and a token; show the
    preview to the user and call again with the token only if they agree."""
    state = call.state
    targets = Targets(automation_projects=(project_id,))
    await call.precheck(targets)
    project = await load_project(state, project_id)
    automations = await state.client.automate.automations(project_id, limit=1)
    active = await state.client.automate.automations(project_id, active=True, limit=1)
    counted = f"{automations.total} automations" if automations.total is not None else "its automations"
    running = f", {active.total} of them active" if active.total else ""
    plan = call.plan(
        f"delete Automate project {project_id!r} ({text_or_none(project.title)!r}) with {counted}{running}, "
        "its variables and accounts",
        targets,
        requests=[
            PlannedRequest(method="DELETE", path=automate_path("projects", project_id), summary="delete the project")
        ],
        items=[f"project {project_id}"],
    )

    async def execute(permits: Permits) -> str:
        permit = permits.for_operation("automation_project.delete")
        return await state.client.automate.delete_project(project_id, permit=permit) or "Project deleted."

    call.insist_on_confirmation("deleting an Automate project deletes all its automations, variables and accounts")
    outcome = await call.run(
        targets=targets,
        plan=plan,
        execute=execute,
        # A confirmation holds only while the project holds as many automations as the preview counted.
        target_versions={project_id: automations.total or 0},
    )
    message = outcome.pending_notice(f"delete project {project_id!r}") or outcome.result or "Project deleted."
    return outcome.answer(ProjectWriteAnswer, notice=message, project=project_info(project))


# -- variables ----------------------------------------------------------------------------------


def _variable_plan(
    call: WriteCall, targets: Targets, summary: str, method: str, path: str, items: list[str]
) -> WritePlan:
    return call.plan(
        summary, targets, requests=[PlannedRequest(method=method, path=path, summary=summary)], items=items
    )


class _VariableSend(Protocol):
    """A client write of a variable, all but its permit given."""

    def __call__(self, *, permit: Permit) -> Awaitable[ProjectVariable]: ...


async def _variable_write(
    call: WriteCall,
    project_id: str,
    plan: WritePlan,
    operation: str,
    send: _VariableSend,
    *,
    doing: str,
    done: str,
    before: ProjectVariable | None = None,
) -> VariableWriteAnswer:
    """Runs a variable's create or update (`send` with the permit for `operation`) and answers
    the variable as Automate returned it, else as it was `before` (if known), with what came of
    the write."""
    targets = Targets(automation_projects=(project_id,))
    outcome = await call.run(
        targets=targets, plan=plan, execute=lambda permits: send(permit=permits.for_operation(operation))
    )
    shown = outcome.result if outcome.result is not None else before
    return outcome.answer(
        VariableWriteAnswer,
        notice=outcome.pending_notice(doing) or done,
        project_id=project_id,
        variable=variable_info(shown) if shown is not None else None,
    )


def _value_words(kind: str, value: str) -> str:
    """How a plan names a value: a text value as it is, a secret never."""
    return "a secret value" if kind == SECRET_TYPE else f"the value {value!r}"


@declare.write(
    "Create a project variable",
    read_back="list_project_variables on the project",
    scopes={Scope.AUTOMATE_VARIABLES_WRITE},
    secret_arguments=("value",),
)
async def create_project_variable(
    call: WriteCall,
    project_id: ProjectId,
    key: VariableKey,
    value: Annotated[VariableValue, Field(description="Its value; for type 'password', a secret never shown back.")],
    type: Annotated[VariableType, Field(description="'password' for a secret (stored encrypted).")] = "text",
) -> VariableWriteAnswer:
    """Add a variable to an Automate project, for its automations to use. A 'password'
    variable is a secret: its value is never shown in any answer or preview (and no value is
    ever written to cs-mcp's audit log)."""
    targets = Targets(automation_projects=(project_id,))
    path = automate_path("projects", project_id, "variables")
    plan = _variable_plan(
        call, targets, f"create the {type} variable {key!r} with {_value_words(type, value)}", "POST", path, [key]
    )
    await call.precheck(targets)

    send = functools.partial(call.state.client.automate.create_variable, project_id, key=key, value=value, type=type)
    done = f"variable {key!r} created"
    return await _variable_write(
        call, project_id, plan, "automation_variable.create", send, doing=f"create variable {key!r}", done=done
    )


@declare.write(
    "Update a project variable",
    read_back="list_project_variables on the project",
    scopes={Scope.AUTOMATE_VARIABLES_WRITE},
    idempotent=True,
    secret_arguments=("value",),
)
async def update_project_variable(
    call: WriteCall,
    project_id: ProjectId,
    variable_id: VariableId,
    key: Annotated[VariableKey | None, Field(description="A new name.")] = None,
    value: Annotated[VariableValue | None, Field(description="A new value (required for a password variable).")] = None,
    type: Annotated[VariableType | None, Field(description="A new type: 'text' or 'password'.")] = None,
) -> VariableWriteAnswer:
    """Change a project variable's key, value or type; what is not given keeps its value.
    Automate stores a password variable's value encrypted, so changing anything of one (or
    making a variable a password) needs its value given again."""
    targets = Targets(automation_projects=(project_id,))
    await call.precheck(targets)
    current = await load_variable(call.state, project_id, variable_id)
    new_type = type or current.type or "text"
    if value is None and (current.secret or new_type == SECRET_TYPE):
        raise ToolError(
            f"variable {current.key!r} {'is' if current.secret else 'would become'} a password variable, whose value "
            "Automate keeps encrypted: give its value again. Nothing was sent."
        )
    new_key = key or current.key or ""
    new_value = value if value is not None else str(current.value or "")
    changes = [f"key: {current.key!r} -> {new_key!r}"] if new_key != current.key else []
    if new_type != current.type:
        changes.append(f"type: {current.type!r} -> {new_type!r}")
    if value is not None and SECRET_TYPE in (new_type, current.type):
        changes.append("value: replaced by a secret value")
    elif value is not None and value != current.value:
        changes.append(f"value: {clean_text(str(current.value or ''))!r} -> {value!r}")
    if not changes:
        return await _unchanged(
            call,
            targets,
            "variable",
            current.key,
            VariableWriteAnswer,
            project_id=project_id,
            variable=variable_info(current),
        )
    path = automate_path("projects", project_id, "variables", variable_id)
    plan = _variable_plan(call, targets, f"update variable {current.key!r}: {'; '.join(changes)}", "PUT", path, changes)

    automate = call.state.client.automate
    send = functools.partial(
        automate.update_variable, project_id, variable_id, key=new_key, value=new_value, type=new_type
    )
    doing, done = f"update variable {current.key!r}", f"variable {new_key!r} updated"
    return await _variable_write(
        call, project_id, plan, "automation_variable.update", send, doing=doing, done=done, before=current
    )


@declare.delete(
    "Delete a project variable",
    read_back="list_project_variables on the project (absent: it was deleted)",
    scopes={Scope.AUTOMATE_VARIABLES_WRITE},
)
async def delete_project_variable(
    call: WriteCall,
    project_id: ProjectId,
    variable_id: VariableId,
) -> VariableWriteAnswer:
    """Delete a project variable; automations that use it lose its value. Destructive: when
    the answer carries a confirmation token, show the preview to the user and call again with
    the token only if they agree."""
    targets = Targets(automation_projects=(project_id,))
    await call.precheck(targets)
    current = await load_variable(call.state, project_id, variable_id)
    path = automate_path("projects", project_id, "variables", variable_id)
    plan = _variable_plan(
        call, targets, f"delete the {current.type} variable {current.key!r}", "DELETE", path, [current.key or ""]
    )

    async def execute(permits: Permits) -> str:
        permit = permits.for_operation("automation_variable.delete")
        return await call.state.client.automate.delete_variable(project_id, variable_id, permit=permit)

    outcome = await call.run(targets=targets, plan=plan, execute=execute)
    message = outcome.pending_notice(f"delete variable {current.key!r}") or f"variable {current.key!r} deleted"
    return outcome.answer(VariableWriteAnswer, notice=message, project_id=project_id, variable=variable_info(current))
