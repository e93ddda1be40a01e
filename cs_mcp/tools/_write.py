"""The one path every write tool takes: check, dry run, confirm, permit, execute.

A tool builds the plan (what it would send) and the targets, and hands `guarded_write` a
function that performs the writes with the permits it is given. Nothing is sent unless the
guard allowed (or a human confirmed); a dry run answers the plan and the verdict only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from cs_mcp.guard import Permit, Principal, Targets
from cs_mcp.tools._context import ToolContext, app_state, principal_of

T = TypeVar("T")


class PlannedRequest(BaseModel):
    method: str
    path: str
    summary: str


class WritePlan(BaseModel):
    """What a write would do: the exact requests, the targets and the items."""

    action: str
    summary: str
    targets: dict[str, list[str]] = Field(default_factory=lambda: {})
    requests: list[PlannedRequest] = Field(default_factory=lambda: [])
    items: list[str] = Field(default_factory=lambda: [])


class GuardDecision(BaseModel):
    """The guard's verdict as the model reads it."""

    decision: Literal["allow", "confirmed"]
    reason: str
    rule: str | None = None


class Permits:
    """Hands out permits for one checked call; each operation the call sends needs one."""

    def __init__(self, ctx: ToolContext, principal: Principal, tool: str, targets: Targets) -> None:
        self._guard = app_state(ctx).guard
        self._principal = principal
        self._tool = tool
        self._targets = targets

    def for_operation(self, operation: str) -> Permit:
        return self._guard.permit(self._principal, self._tool, operation, self._targets)


@dataclass
class WriteOutcome(Generic[T]):
    dry_run: bool
    plan: WritePlan
    verdict: GuardDecision
    result: T | None


async def guarded_write(
    ctx: ToolContext,
    *,
    tool: str,
    arguments: Mapping[str, Any],
    scopes: frozenset[str],
    targets: Targets,
    plan: WritePlan,
    dry_run: bool,
    confirmation_token: str | None,
    execute: Callable[[Permits], Awaitable[T]],
    target_versions: Mapping[str, int] | None = None,
) -> WriteOutcome[T]:
    """Runs one write through the guard.

    Raises:
        ToolError: the guard denied (naming the rule and what is allowed), or confirmation
            was needed and not given. Nothing was sent in either case.
    """
    state = app_state(ctx)
    principal = principal_of(ctx)
    verdict = state.guard.check(principal, tool, scopes, targets)
    if verdict.decision == "deny":
        raise ToolError(f"denied by the guard: {verdict.reason}. Nothing was sent.")
    if verdict.decision == "confirm" and not dry_run:
        raise ToolError(f"{verdict.reason}. Nothing was sent.")
    decision = GuardDecision(decision="allow", reason=verdict.reason, rule=verdict.rule)
    if dry_run:
        return WriteOutcome(dry_run=True, plan=plan, verdict=decision, result=None)
    result = await execute(Permits(ctx, principal, tool, targets))
    return WriteOutcome(dry_run=False, plan=plan, verdict=decision, result=result)
