"""The one path every write tool takes: check, dry run, confirm, permit, execute, audit.

A tool builds the plan (what it would send) and the targets, and hands `guarded_write` a
function that performs the writes with the permits it is given. Nothing is sent unless the
guard allowed (or a human confirmed); a dry run answers the plan and the verdict only. Every
attempt, whatever came of it, is one line in the audit log before the tool answers.

Confirmation, when the policy asks for it:
- the client can elicit: the human is asked with a plain preview. Over protocol revisions
  before 2026-07-28 that is a mid-call `elicitation/create`; from 2026-07-28 the call answers
  an `InputRequiredResult` (raised as `ElicitationRequired`, which the tool wrapper returns)
  and the client retries with the human's answer, bound to this call by a confirmation token
  carried in `request_state`;
- it cannot, and `[confirm] fallback = "token"`: the call answers the preview and a
  confirmation token (`WriteOutcome.confirmation`); the next call with the same arguments and
  `confirmation_token` runs;
- it cannot, and the fallback is "deny": refused.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from mcp.server.elicitation import AcceptedElicitation, render_elicitation_schema
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from cs_mcp.client import ContentstackError
from cs_mcp.guard import AuditRecord, ConfirmationError, Guard, Permit, Principal, Targets, Verdict
from cs_mcp.guard.audit import Decision, now_utc
from cs_mcp.safe_text import one_line
from cs_mcp.tools._context import ToolContext, app_state, principal_of

T = TypeVar("T")

# The two arguments every write tool takes, described once.
DryRun = Annotated[bool, Field(description="Plan only: answer the requests and the guard's verdict; write nothing.")]
ConfirmationToken = Annotated[
    str | None, Field(max_length=2000, description="From an earlier answer, once the user agreed to its preview.")
]

# The key of the confirmation question in an InputRequiredResult.
CONFIRM_INPUT_KEY = "cs_mcp.confirm"
# First protocol revision whose tools/call elicits through InputRequiredResult.
INPUT_REQUIRED_VERSION = "2026-07-28"
PREVIEW_REQUESTS = 10  # planned requests listed in a preview; the rest are counted


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
    """The guard's verdict as the model reads it. "confirm" means a human must agree first."""

    decision: Literal["allow", "confirm", "confirmed"]
    reason: str
    rule: str | None = None


class ConfirmationRequest(BaseModel):
    """Nothing was written: a human must agree first. Show `preview` to the user; only if they
    agree, call the same tool again with the same arguments and this `confirmation_token`."""

    preview: str = Field(description="What will change: show it to the user as it is.")
    confirmation_token: str = Field(description="Pass back as confirmation_token once the user agrees; single use.")
    expires_at: str = Field(description="UTC, ISO 8601; after it, ask again without confirmation_token.")


class ConfirmWrite(BaseModel):
    """The form a client shows the human to confirm a write."""

    confirm: bool = Field(title="Carry out this change", description="Tick to go ahead; leave it to refuse.")


class ElicitationRequired(ToolError):
    """Raised to ask the client, from protocol 2026-07-28 on, to confirm with its human.

    The tool wrapper answers `result` (an `InputRequiredResult`) instead of an error. If it
    reaches the model as an error, its message still says that nothing was sent and how to go on.
    """

    def __init__(self, result: InputRequiredResult, message: str) -> None:
        super().__init__(message)
        self.result = result


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
    """What came of a guarded write. `result` is None unless the write ran; `confirmation`
    is set when it waits for a human's yes (tools surface it in their answer)."""

    dry_run: bool
    plan: WritePlan
    verdict: GuardDecision
    result: T | None
    confirmation: ConfirmationRequest | None = field(default=None)

    @property
    def written(self) -> bool:
        """Whether the write was sent."""
        return not self.dry_run and self.confirmation is None


def preview_of(plan: WritePlan, reason: str) -> str:
    """A plain preview of a write for a human: what, where, how many items, and why we ask."""
    lines = [plan.summary, f"Action: {plan.action}"]
    for kind, names in sorted(plan.targets.items()):
        if names:
            lines.append(f"{kind.replace('_', ' ').capitalize()}: {', '.join(names)}")
    if plan.items:
        lines.append(f"Items ({len(plan.items)}): {', '.join(plan.items[:PREVIEW_REQUESTS])}")
        if len(plan.items) > PREVIEW_REQUESTS:
            lines[-1] += f", and {len(plan.items) - PREVIEW_REQUESTS} more"
    if plan.requests:
        lines.append(f"Requests to Contentstack ({len(plan.requests)}):")
        lines += [f"  {r.method} {r.path}: {r.summary}" for r in plan.requests[:PREVIEW_REQUESTS]]
        if len(plan.requests) > PREVIEW_REQUESTS:
            lines.append(f"  and {len(plan.requests) - PREVIEW_REQUESTS} more")
    lines.append(f"Confirmation is required because {reason.removeprefix('needs confirmation: ')}.")
    return "\n".join(map(one_line, lines))  # a name with a newline or escape cannot add a line


def _audit_targets(targets: Targets) -> dict[str, list[str]]:
    found = targets.named()
    if targets.items:
        found["items"] = [i.label for i in targets.items]
    return found


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _can_elicit(ctx: ToolContext) -> bool:
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    # A bare `elicitation: {}` (before modes existed) means form support; url-only does not.
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _input_required(ctx: ToolContext) -> bool:
    version = ctx.protocol_version
    return version is not None and is_version_at_least(version, INPUT_REQUIRED_VERSION)


class _Attempt:
    """One write attempt: the facts every audit line of it shares."""

    def __init__(self, ctx: ToolContext, tool: str, arguments: Mapping[str, Any], targets: Targets) -> None:
        state = app_state(ctx)
        self.guard: Guard = state.guard
        self.principal = principal_of(ctx)
        self.tool = tool
        self.arguments = dict(arguments)
        self.targets = targets

    async def record(self, decision: Decision, verdict: Verdict | None = None, **facts: Any) -> None:
        """Writes the attempt's audit line (fsync'd) before the tool answers."""
        if self.guard.audit is None:
            return
        record = AuditRecord(
            time=now_utc(),
            principal=self.principal.name,
            role=self.principal.role,
            transport=self.principal.transport,
            tool=self.tool,
            arguments=self.arguments,
            targets=_audit_targets(self.targets),
            decision=decision,
            rule=verdict.rule if verdict else None,
            reason=verdict.reason if verdict else None,
            **facts,
        )
        await self.guard.audit.append(record)

    async def refuse(self, message: str, verdict: Verdict | None = None, **facts: Any) -> ToolError:
        await self.record("deny", verdict, **facts)
        return ToolError(f"{message} Nothing was sent.")


async def _check_token(attempt: _Attempt, token: str, target_versions: Mapping[str, int] | None, how: str) -> None:
    """Verifies a confirmation token for this call; refuses (audited) with its reason."""
    try:
        attempt.guard.confirmations.verify(
            token, attempt.principal.name, attempt.tool, attempt.arguments, target_versions
        )
    except ConfirmationError as exc:
        raise await attempt.refuse(
            f"confirmation refused ({exc.reason}): {exc}.",
            Verdict("deny", f"confirmation token refused: {exc.reason}", rule="confirm"),
            confirmation=how,
        ) from None


async def _confirm(
    ctx: ToolContext,
    attempt: _Attempt,
    verdict: Verdict,
    plan: WritePlan,
    confirmation_token: str | None,
    target_versions: Mapping[str, int] | None,
) -> Literal["elicitation", "token"] | ConfirmationRequest:
    """How the human confirmed, or the request that asks them to (token fallback).

    Raises:
        ToolError: the token was refused, the human declined, or the fallback is "deny".
        ElicitationRequired: the client must ask its human (protocol 2026-07-28 and later).
    """
    authority = attempt.guard.confirmations
    if confirmation_token:
        await _check_token(attempt, confirmation_token, target_versions, "token")
        return "token"
    preview = preview_of(plan, verdict.reason)
    fallback = attempt.guard.policy.confirm.fallback
    if _can_elicit(ctx) and _input_required(ctx):
        answers = ctx.input_responses or {}
        answer = answers.get(CONFIRM_INPUT_KEY)
        if answer is not None and ctx.request_state:
            # The human's answer is bound to this very call by the token in request_state.
            await _check_token(attempt, ctx.request_state, target_versions, "elicitation")
            content = answer.content if isinstance(answer, ElicitResult) else None
            if isinstance(answer, ElicitResult) and answer.action == "accept" and (content or {}).get("confirm"):
                return "elicitation"
            raise await attempt.refuse("not confirmed: the user declined.", verdict, confirmation="elicitation")
        issued = authority.issue(attempt.principal.name, attempt.tool, attempt.arguments, target_versions)
        await attempt.record("confirm", verdict, confirmation="elicitation")
        question = ElicitRequest(
            params=ElicitRequestFormParams(message=preview, requested_schema=render_elicitation_schema(ConfirmWrite))
        )
        hint = (
            f" Show the user this preview and, only if they agree, call again with confirmation_token="
            f"{issued.token!r}:\n{preview}"
            if fallback == "token"
            else ""
        )
        raise ElicitationRequired(
            InputRequiredResult(input_requests={CONFIRM_INPUT_KEY: question}, request_state=issued.token),
            f"{verdict.reason}: the user must confirm. Nothing was sent.{hint}",
        )
    if _can_elicit(ctx):
        try:
            answer = await ctx.elicit(preview, ConfirmWrite)
        except (MCPError, ValueError):
            answer = None  # the client could not ask after all: the fallback decides
        if answer is not None:
            if isinstance(answer, AcceptedElicitation) and answer.data.confirm:
                return "elicitation"
            raise await attempt.refuse(
                f"not confirmed: the user {'cancelled' if answer.action == 'cancel' else 'declined'}.",
                verdict,
                confirmation="elicitation",
            )
    if fallback == "deny":
        raise await attempt.refuse(
            f"{verdict.reason}, and this client cannot ask the user (the policy's [confirm] fallback is "
            '"deny"). Use a client that supports elicitation.',
            Verdict("deny", verdict.reason, rule="confirm.fallback"),
        )
    issued = authority.issue(attempt.principal.name, attempt.tool, attempt.arguments, target_versions)
    await attempt.record("confirm", verdict, confirmation="token")
    return ConfirmationRequest(preview=preview, confirmation_token=issued.token, expires_at=_iso(issued.expires_at))


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
    """Runs one write through the guard and records it in the audit log.

    `arguments` are the tool's arguments as the model sent them (recorded with secrets
    removed, and bound into confirmation tokens without `confirmation_token` and `dry_run`);
    `target_versions` are the versions of the targets the plan was made from, so that a
    confirmation does not carry over to a target that changed since.

    Raises:
        ToolError: the guard denied (naming the rule, what is allowed and every offending
            item), a confirmation token was refused, the user declined, or confirmation was
            needed and the policy's fallback is "deny". Nothing was sent in any of these cases.
        ElicitationRequired: the client must ask its human first (protocol 2026-07-28+).
        ContentstackError: Contentstack refused or failed the write (recorded, then re-raised).
        OSError: the audit log cannot be written (before anything is sent).
    """
    targets = on_branch(ctx, scopes, targets)
    attempt = _Attempt(ctx, tool, arguments, targets)
    verdict = attempt.guard.check(attempt.principal, tool, scopes, targets)
    if verdict.decision == "deny":
        raise await attempt.refuse(f"denied by the guard: {verdict.reason}.", verdict)
    if dry_run:
        await attempt.record("dry_run", verdict, dry_run=True)
        decision = GuardDecision(decision=verdict.decision, reason=verdict.reason, rule=verdict.rule)
        return WriteOutcome(dry_run=True, plan=plan, verdict=decision, result=None)

    confirmation: Literal["elicitation", "token"] | None = None
    decision = GuardDecision(decision="allow", reason=verdict.reason, rule=verdict.rule)
    if verdict.decision == "confirm":
        confirmed = await _confirm(ctx, attempt, verdict, plan, confirmation_token, target_versions)
        if isinstance(confirmed, ConfirmationRequest):
            pending = GuardDecision(decision="confirm", reason=verdict.reason, rule=verdict.rule)
            return WriteOutcome(dry_run=False, plan=plan, verdict=pending, result=None, confirmation=confirmed)
        confirmation = confirmed
        decision = GuardDecision(
            decision="confirmed", reason=f"{verdict.reason}; confirmed by the user ({confirmed})", rule=verdict.rule
        )

    audit_decision: Decision = "confirmed" if confirmation else "allow"
    if attempt.guard.audit is not None:
        # Refuse to write at all when the attempt could not be recorded afterwards.
        await attempt.guard.audit.check_writable()
    started = time.monotonic()
    try:
        result = await execute(Permits(ctx, attempt.principal, tool, targets))
    except ContentstackError as exc:
        await attempt.record(
            audit_decision,
            verdict,
            confirmation=confirmation,
            outcome="error",
            status=exc.status,
            error_code=exc.error_code,
            request_id=exc.request_id,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        raise
    except Exception:
        await attempt.record(
            audit_decision,
            verdict,
            confirmation=confirmation,
            outcome="error",
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        raise
    await attempt.record(
        audit_decision,
        verdict,
        confirmation=confirmation,
        outcome="ok",
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )
    return WriteOutcome(dry_run=False, plan=plan, verdict=decision, result=result)


async def refuse_if_denied(
    ctx: ToolContext,
    *,
    tool: str,
    arguments: Mapping[str, Any],
    scopes: frozenset[str],
    targets: Targets,
    plan: WritePlan | None = None,
) -> None:
    """Runs the guard before the tool reads anything it needs for its plan, so that a denied
    call sends no request at all. A denial goes through `guarded_write` (and so reaches the
    audit log exactly as any other denial). `targets` are what the arguments name; the full
    check in `guarded_write` later covers what the reads resolve (defaults, release items).

    Raises:
        ToolError: the guard denied. Nothing was sent."""
    targets = on_branch(ctx, scopes, targets)
    if app_state(ctx).guard.check(principal_of(ctx), tool, scopes, targets).decision != "deny":
        return
    plan = plan or WritePlan(action=tool, summary="checked against the guard before anything is read")

    async def never(_permits: Permits) -> None:
        raise ToolError("denied by the guard. Nothing was sent.")

    await guarded_write(
        ctx,
        tool=tool,
        arguments=arguments,
        scopes=scopes,
        targets=targets,
        plan=plan,
        dry_run=False,
        confirmation_token=None,
        execute=never,
    )
    raise ToolError("denied by the guard. Nothing was sent.")


DEFAULT_BRANCH = "main"


def on_branch(ctx: ToolContext, scopes: frozenset[str], targets: Targets) -> Targets:
    """`targets` with the branch the write lands on, for writes to the CMA (scopes `cm.*`):
    a role's `branches` constraint then applies, and the client checks that the permit names
    that branch. Contentstack writes to `main` when no branch header is sent; Automate and
    analytics have no branches."""
    if targets.branches or not any(scope.startswith("cm.") for scope in scopes):
        return targets
    branch = app_state(ctx).settings.branch or DEFAULT_BRANCH
    return replace(targets, branches=(branch,))
