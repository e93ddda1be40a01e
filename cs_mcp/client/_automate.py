"""Automate: projects, automations, the toggle, executions, audit logs, project variables and
connected accounts.

Automate identifies projects, automations and executions by `id` (not `uid`) and audit-log
entries by `uid`; lists come under `projects`, `rules`, `executions` and `logs`, with the total
under `count` when asked for. Its single-object answers are the object itself, not wrapped
under a key.

The "Automations Management API | Automations" page documents the active filter as
`query={'active':'true'}`: single quotes, no spaces, the value a string. cs-mcp writes every
`query` that way. The execution log's filters are not documented: cs-mcp sends them in the same
form with the execution's own field names (`{'rule_id':'...','status':'...'}`), and callers
should check the items they get back (a server that ignores the filter answers unfiltered items).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ConfigDict, Field

from cs_mcp.client._answers import page_at
from cs_mcp.client._models import APIModel, Page, Timestamped
from cs_mcp.client._regions import Api

if TYPE_CHECKING:
    from cs_mcp.client._client import ContentstackClient
    from cs_mcp.guard.permit import Permit

__all__ = [
    "SECRET_VARIABLE_TYPE",
    "AuditLogEntry",
    "Automation",
    "AutomationAccount",
    "AutomationProject",
    "Execution",
    "ExecutionStep",
    "ProjectVariable",
]

M = TypeVar("M", bound=APIModel)

# The guard's operation name for the toggle; its permit must name the project.
SET_ACTIVE_OPERATION = "automation.set_active"
MAX_LIMIT = 100
# The value type Automate stores encrypted ("Get all project variables": `"type": "password"`
# answers an `ENC_...` value). Its value is a secret: it never leaves the client in an answer.
SECRET_VARIABLE_TYPE = "password"  # noqa: S105 - the name of a type, not a password


class AutomateObject(Timestamped):
    """What every Automate object answers: its `id` (Automate names objects by `id`, not `uid`)
    and when it was made and last changed."""

    id: str


class ProjectObject(AutomateObject):
    """An object that lives in a project: automations, runs, variables, connected accounts."""

    project_id: str | None = None


class AutomationProject(AutomateObject):
    title: str | None = None
    description: str | None = None
    org_id: str | None = None
    tags: list[str] = Field(default_factory=lambda: [])
    type: str | None = None


class AutomationTrigger(APIModel):
    """What starts an automation. Only `id` and `next` are documented; the rest is read when present."""

    id: str | None = None
    title: str | None = None
    connector_title: str | None = None
    next: list[str] = Field(default_factory=lambda: [])


class AutomationStep(APIModel):
    """One step after the trigger; `type` is `action` for an action step."""

    id: str | None = None
    name: str | None = None
    type: str | None = None
    title: str | None = None
    action_title: str | None = None
    connector_title: str | None = None
    description: str | None = None
    next: list[str] = Field(default_factory=lambda: [])


class Automation(ProjectObject):
    """An automation ("rule"). `trigger` and `steps` are present only when asked with `show_steps`."""

    title: str | None = None
    description: str | None = None
    active: bool = False
    throttle: bool | None = None
    user_id: str | None = None
    updated_by: str | None = None
    trigger: AutomationTrigger | None = None
    steps: list[AutomationStep] | None = None

    def missing_parts(self) -> list[str] | None:
        """What the automation lacks before Automate lets it be switched on ("trigger",
        "action"), or None when the answer carried no steps to tell."""
        if self.steps is None:
            return None
        missing: list[str] = []
        if self.trigger is None or not self.trigger.id:
            missing.append("trigger")
        if not any(step.type == "action" for step in self.steps):
            missing.append("action")
        return missing


class ExecutionStep(APIModel):
    """One step of one run: times are milliseconds since the epoch."""

    name: str | None = None
    title: str | None = None
    group: str | None = None
    status: str | None = None
    start: int | None = None
    end: int | None = None
    error: Any = None


class Execution(ProjectObject):
    """One run of an automation. `rule_id` is the automation's id."""

    title: str | None = None
    rule_id: str | None = None
    status: str | None = None
    trigger_payload_id: str | None = None
    duration: int | None = None
    details: list[ExecutionStep] = Field(default_factory=lambda: [])


class AuditLogEntry(APIModel):
    """One audit-log entry; `metadata` holds the object as the change left it."""

    uid: str
    event: str | None = None
    module: str | None = None
    module_uid: str | None = None
    project_uid: str | None = None
    created_at: str | None = None
    created_by: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class ProjectVariable(ProjectObject):
    """A project variable. `value` is plain for `text`, Automate's encrypted form for `password`."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    key: str | None = None
    value: Any = Field(default=None, repr=False)  # a secret for `password` variables: kept out of reprs
    type: str | None = None
    org_id: str | None = None

    @property
    def secret(self) -> bool:
        """Whether its value is a secret (a `password` variable)."""
        return (self.type or "").lower() == SECRET_VARIABLE_TYPE


class AutomationAccount(ProjectObject):
    """A connected account ("Get all accounts"). Only what names it is modelled: the account's
    credentials (`auth`, client secrets, tokens), when an answer carries them, are dropped here."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    title: str | None = None
    description: str | None = None
    group_name: str | None = Field(default=None, description="The connector it serves, e.g. 'chatgpt'.")
    connector_id: str | None = None
    type: str | None = Field(default=None, description="How it signs in: 'oauth2', 'custom', ...")
    source: str | None = None


def automate_query(fields: dict[str, str]) -> str:
    """`fields` as Automate's documented `query` value: `{'active':'true'}`.

    Raises:
        ValueError: a key or value holding a quote or a backslash, which this form cannot carry.
    """
    for text in (*fields.keys(), *fields.values()):
        if any(mark in text for mark in "'\"\\"):
            raise ValueError(f"{text!r} cannot go into an Automate query (it holds a quote or a backslash)")
    return "{" + ",".join(f"'{key}':'{value}'" for key, value in fields.items()) + "}"


def _list_params(skip: int, limit: int) -> list[tuple[str, str | int | float | bool | None]]:
    if not 0 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 0 and {MAX_LIMIT}")
    if skip < 0:
        raise ValueError("skip must not be negative")
    return [("limit", limit), ("skip", skip), ("include_count", "true")]


class AutomateAPI:
    """Typed methods for this area; they reach HTTP only through `ContentstackClient.request`."""

    def __init__(self, core: ContentstackClient) -> None:
        self._core = core

    async def projects(self, *, skip: int = 0, limit: int = 30) -> Page[AutomationProject]:
        """One page of the organization's Automate projects, with the total."""
        body = await self._core.request(Api.AUTOMATE, "GET", ["projects"], params=_list_params(skip, limit))
        return page_at(body, "projects", AutomationProject, skip=skip, limit=limit)

    async def project(self, project_id: str) -> AutomationProject:
        """One project.

        Raises:
            NotFoundError: no project with that id in the organization.
        """
        body = await self._core.request(Api.AUTOMATE, "GET", ["projects", project_id])
        return AutomationProject.model_validate(body)

    async def automations(
        self,
        project_id: str,
        *,
        active: bool | None = None,
        show_steps: bool = False,
        skip: int = 0,
        limit: int = 100,
    ) -> Page[Automation]:
        """One page of a project's automations, optionally only the active (or inactive) ones.

        Raises:
            NotFoundError: no project with that id.
        """
        params = _list_params(skip, limit)
        if show_steps:
            params.append(("show_steps", "true"))
        if active is not None:
            params.append(("query", automate_query({"active": "true" if active else "false"})))
        body = await self._core.request(Api.AUTOMATE, "GET", ["projects", project_id, "automations"], params=params)
        return page_at(body, "rules", Automation, skip=skip, limit=limit)

    async def automation(self, project_id: str, automation_id: str, *, show_steps: bool = True) -> Automation:
        """One automation, with its trigger and steps unless `show_steps=False`.

        Raises:
            NotFoundError: no such project, or no such automation in it.
        """
        params = {"show_steps": "true"} if show_steps else None
        body = await self._core.request(
            Api.AUTOMATE, "GET", ["projects", project_id, "automations", automation_id], params=params
        )
        return Automation.model_validate(body)

    async def set_active(self, project_id: str, automation_id: str, active: bool, *, permit: Permit) -> str:
        """Switches an automation on or off; answers Automate's message.

        Raises:
            PermitRequiredError: the permit is not the guard's for this project (nothing sent).
            InvalidRequestError: Automate refused, for one because the automation lacks a
                trigger or an action.
            NotFoundError: no such project or automation.
        """
        body = await self._project_write(
            "PATCH",
            ["projects", project_id, "automations", automation_id],
            project_id,
            SET_ACTIVE_OPERATION,
            permit,
            json_body={"active": active},
        )
        return _message(body)

    async def executions(
        self,
        project_id: str,
        *,
        automation_id: str | None = None,
        status: str | None = None,
        skip: int = 0,
        limit: int = 100,
        oldest_first: bool = False,
    ) -> Page[Execution]:
        """One page of a project's execution log, newest first unless `oldest_first`.

        Raises:
            NotFoundError: no project with that id.
        """
        params = _list_params(skip, limit)
        params.append(("asc" if oldest_first else "desc", "created_at"))
        query: dict[str, str] = {}
        if automation_id is not None:
            query["rule_id"] = automation_id
        if status is not None:
            query["status"] = status
        if query:
            params.append(("query", automate_query(query)))
        body = await self._core.request(Api.AUTOMATE, "GET", ["projects", project_id, "executions"], params=params)
        return page_at(body, "executions", Execution, skip=skip, limit=limit)

    async def execution(self, project_id: str, execution_id: str) -> Execution:
        """One run, with the status and timing of each step.

        Raises:
            NotFoundError: no such project or execution.
        """
        return await self._project_item(project_id, "executions", execution_id, Execution)

    async def _project_list(
        self, project_id: str, path: str, key: str, model: type[M], skip: int, limit: int, *, order: str = "asc"
    ) -> Page[M]:
        """One page of a collection under a project (`/projects/{id}/{path}`, items under `key`),
        ordered by creation time.

        Raises:
            NotFoundError: no project with that id.
        """
        params = [*_list_params(skip, limit), (order, "created_at")]
        body = await self._core.request(Api.AUTOMATE, "GET", ["projects", project_id, path], params=params)
        return page_at(body, key, model, skip=skip, limit=limit)

    async def _project_item(self, project_id: str, path: str, item_id: str, model: type[M]) -> M:
        """One object of a collection under a project (`/projects/{id}/{path}/{item_id}`).

        Raises:
            NotFoundError: no such project, or no such object in it.
        """
        body = await self._core.request(Api.AUTOMATE, "GET", ["projects", project_id, path, item_id])
        return model.model_validate(body)

    async def audit_logs(self, project_id: str, *, skip: int = 0, limit: int = 30) -> Page[AuditLogEntry]:
        """One page of a project's audit log, newest first.

        Raises:
            NotFoundError: no project with that id.
        """
        return await self._project_list(project_id, "audit-logs", "logs", AuditLogEntry, skip, limit, order="desc")

    async def audit_log(self, project_id: str, log_id: str) -> AuditLogEntry:
        """One audit-log entry.

        Raises:
            NotFoundError: no such project or entry.
        """
        return await self._project_item(project_id, "audit-logs", log_id, AuditLogEntry)

    # -- project writes -------------------------------------------------------------------------

    async def create_project(
        self, title: str, *, description: str | None, tags: list[str], permit: Permit, new_target: str
    ) -> AutomationProject:
        """Creates a project ("Create a project"); answers it with its new id.

        `new_target` is what the guard checked in place of a project id that does not exist yet.

        Raises:
            PermitRequiredError: the permit is not the guard's for a new project (nothing sent).
            InvalidRequestError: Automate refused the body.
        """
        body: dict[str, Any] = {"title": title, "tags": tags}
        if description is not None:
            body["description"] = description
        answer = await self._project_write(
            "POST", ["projects"], new_target, "automation_project.create", permit, json_body=body
        )
        return AutomationProject.model_validate(answer)

    async def update_project(self, project_id: str, changes: dict[str, Any], *, permit: Permit) -> AutomationProject:
        """Changes a project's title, description or tags ("Update a project").

        Raises:
            PermitRequiredError: the permit is not the guard's for this project (nothing sent).
            NotFoundError, InvalidRequestError: Automate's refusal.
        """
        answer = await self._project_write(
            "PUT", ["projects", project_id], project_id, "automation_project.update", permit, json_body=changes
        )
        return AutomationProject.model_validate(answer)

    async def delete_project(self, project_id: str, *, permit: Permit) -> str:
        """Deletes a project with everything in it ("Delete a project"); answers Automate's message.

        Raises:
            PermitRequiredError: the permit is not the guard's for this project (nothing sent).
            NotFoundError: no such project.
        """
        answer = await self._project_write(
            "DELETE", ["projects", project_id], project_id, "automation_project.delete", permit
        )
        return _message(answer)

    async def _project_write(
        self,
        method: str,
        path: list[str],
        project: str,
        operation: str,
        permit: Permit,
        json_body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A guarded Automate write: the permit must be the guard's for `operation` on the
        project `project` (the id of a new one: what the guard checked in its place).

        Raises:
            PermitRequiredError: it is not (nothing sent).
            APIStatusError: Automate's refusal, as `request` raises it.
        """
        return await self._core.request(
            Api.AUTOMATE,
            method,
            path,
            json_body=json_body,
            permit=permit,
            operation=operation,
            targets={"automation_project": [project]},
        )

    # -- project variables ----------------------------------------------------------------------

    async def variables(self, project_id: str, *, skip: int = 0, limit: int = 30) -> Page[ProjectVariable]:
        """One page of a project's variables, oldest first.

        Raises:
            NotFoundError: no project with that id.
        """
        return await self._project_list(project_id, "variables", "variables", ProjectVariable, skip, limit)

    async def variable(self, project_id: str, variable_id: str) -> ProjectVariable:
        """One variable ("Get a single project variable").

        Raises:
            NotFoundError: no such project or variable.
        """
        return await self._project_item(project_id, "variables", variable_id, ProjectVariable)

    async def create_variable(
        self, project_id: str, *, key: str, value: str, type: str, permit: Permit
    ) -> ProjectVariable:
        """Creates a variable ("Create a project variable").

        Raises:
            PermitRequiredError: the permit is not the guard's for this project (nothing sent).
            NotFoundError, InvalidRequestError: Automate's refusal.
        """
        return await self._send_variable("POST", project_id, [], {"key": key, "type": type, "value": value}, permit)

    async def update_variable(
        self, project_id: str, variable_id: str, *, key: str, value: str, type: str, permit: Permit
    ) -> ProjectVariable:
        """Replaces a variable's key, value and type ("Update a project variable").

        Raises:
            PermitRequiredError: the permit is not the guard's for this project (nothing sent).
            NotFoundError, InvalidRequestError: Automate's refusal.
        """
        body = {"key": key, "type": type, "value": value}
        return await self._send_variable("PUT", project_id, [variable_id], body, permit)

    async def _send_variable(
        self, method: str, project_id: str, tail: list[str], body: dict[str, str], permit: Permit
    ) -> ProjectVariable:
        answer = await self._project_write(
            method,
            ["projects", project_id, "variables", *tail],
            project_id,
            "automation_variable.create" if method == "POST" else "automation_variable.update",
            permit,
            json_body=body,
        )
        return ProjectVariable.model_validate(answer)

    async def delete_variable(self, project_id: str, variable_id: str, *, permit: Permit) -> str:
        """Deletes a variable ("Delete a project variable"); answers Automate's message.

        Raises:
            PermitRequiredError: the permit is not the guard's for this project (nothing sent).
            NotFoundError: no such project or variable.
        """
        body = await self._project_write(
            "DELETE",
            ["projects", project_id, "variables", variable_id],
            project_id,
            "automation_variable.delete",
            permit,
        )
        return _message(body)

    # -- connected accounts ---------------------------------------------------------------------

    async def accounts(self, project_id: str, *, skip: int = 0, limit: int = 30) -> Page[AutomationAccount]:
        """One page of a project's connected accounts.

        Raises:
            NotFoundError: no project with that id.
        """
        return await self._project_list(project_id, "accounts", "accounts", AutomationAccount, skip, limit)

    async def account(self, project_id: str, account_id: str) -> AutomationAccount:
        """One connected account ("Get a single account").

        Raises:
            NotFoundError: no such project or account.
        """
        return await self._project_item(project_id, "accounts", account_id, AutomationAccount)


def _message(body: dict[str, Any]) -> str:
    message = body.get("message") or body.get("notice")
    return str(message) if message else ""
