"""The one path every write tool takes: check, dry run, confirm, permit, execute, audit.

A write tool is declared with `write_tool` (a toolset's `@declare.write`) and receives a
`WriteCall` bound to its declaration (name, scopes). It names the targets its arguments name (`call.precheck`, before
anything is read), builds the plan (what it would send) and the targets the reads resolved,
and hands `call.run` a function that performs the writes with the permits it is given; a call
with nothing to send answers `call.noop`. Nothing is sent unless the guard allowed (or a human
confirmed); a dry run answers the plan and the verdict only. Every attempt, whatever came of
it (allowed, denied, dry run, no-op, refused by the tool, failed, outcome unknown), is exactly
one line in the audit log, written when the call ends, before the tool answers; a failure
after a write went out answers that it was sent and what to read back.

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

import hashlib
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, Protocol, TypeVar, cast

import anyio
from mcp.server.elicitation import AcceptedElicitation, render_elicitation_schema
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import is_version_at_least
from pydantic import ConfigDict, Field, ValidationError
from pydantic_core import to_jsonable_python

from cs_mcp.client import ContentstackError, MalformedResponseError, OutcomeUnknownError
from cs_mcp.guard import AuditRecord, ConfirmationError, Guard, Permit, Principal, Targets, Verdict
from cs_mcp.guard.audit import Decision, now_utc
from cs_mcp.guard.check import ToolDeclaration
from cs_mcp.guard.confirm import UNBOUND_ARGUMENTS, bound_targets
from cs_mcp.guard.permit import writes_sent
from cs_mcp.guard.scopes import scope_set
from cs_mcp.safe_text import REDACTED, one_line, scrub_secrets, secret_texts
from cs_mcp.toolkit.context import ToolContext, app_state, principal_of
from cs_mcp.toolkit.models import ToolModel

T = TypeVar("T")
R = TypeVar("R")
A = TypeVar("A", bound="WriteAnswer")

# The two arguments every write tool takes, described once, in the server's instructions
# (`cs_mcp.server.INSTRUCTIONS`), not on each of the 14 write tools.
DryRun = bool
ConfirmationToken = Annotated[str | None, Field(max_length=2000)]

# The key of the confirmation question in an InputRequiredResult.
CONFIRM_INPUT_KEY = "cs_mcp.confirm"
# First protocol revision whose tools/call elicits through InputRequiredResult.
INPUT_REQUIRED_VERSION = "2026-07-28"
PREVIEW_REQUESTS = 10  # planned requests listed in a preview; the rest are counted


class PlannedRequest(ToolModel):
    method: str
    path: str
    summary: str


class WritePlan(ToolModel):
    """What a write would do: the exact requests, the targets and the items."""

    action: str
    summary: str
    targets: dict[str, list[str]] = Field(default_factory=lambda: {})
    requests: list[PlannedRequest] = Field(default_factory=lambda: [])
    items: list[str] = Field(default_factory=lambda: [])


class GuardDecision(ToolModel):
    """The guard's verdict as the model reads it. "confirm" means a human must agree first."""

    decision: Literal["allow", "confirm", "confirmed"]
    reason: str
    rule: str | None = None


class ConfirmationRequest(ToolModel):
    """Nothing was written: a human must agree first. Show `preview` to the user; only if they
    agree, call the same tool again with the same arguments and this `confirmation_token`."""

    preview: str = Field(description="What will change: show it to the user as it is.")
    confirmation_token: str = Field(description="Pass back as confirmation_token once the user agrees; single use.")
    expires_at: str = Field(description="UTC, ISO 8601; after it, ask again without confirmation_token.")


class ConfirmWrite(ToolModel):
    """The form a client shows the human to confirm a write."""

    confirm: bool = Field(title="Carry out this change", description="Tick to go ahead; leave it to refuse.")


class WriteRefused(ToolError):
    """Raised by a tool's `execute` that stops before its write, after sending only requests
    that prepare it and that it took back (a lock it released): the call is a refusal, not a
    write whose outcome is unknown. The message says what was sent and taken back."""


class ElicitationRequired(ToolError):
    """Raised to ask the client, from protocol 2026-07-28 on, to confirm with its human.

    The tool wrapper answers `result` (an `InputRequiredResult`) instead of an error. If it
    reaches the model as an error, its message still says that nothing was sent and how to go on.
    """

    def __init__(self, result: InputRequiredResult, message: str) -> None:
        super().__init__(message)
        self.result = result


class WriteAnswer(ToolModel):
    """What every write tool answers, whatever it writes: whether it was a dry run and whether
    anything was written, the plan, the guard's verdict, the confirmation request when a human
    must agree first, and a plain notice of what came of it. A tool's answer subclasses it with
    its own fields and is built with `WriteOutcome.answer`."""

    # Built at its first validation, not at import: a server starts without answering.
    model_config = ConfigDict(defer_build=True)

    dry_run: bool = Field(description="True: nothing was sent; `plan` is what would be.")
    written: bool = Field(description="Whether the write was sent to Contentstack.")
    plan: WritePlan
    verdict: GuardDecision
    confirmation: ConfirmationRequest | None = Field(
        default=None,
        description="Set when nothing was written because the user must agree: show the preview, and only "
        "if they agree call again with the same arguments and confirmation_token.",
    )
    notice: str | None = Field(default=None, description="What came of the write, in plain words.")


@dataclass
class WriteOutcome(Generic[T]):
    """What came of a guarded write. `result` is None unless the write ran; `confirmation`
    is set when it waits for a human's yes (tools surface it in their answer)."""

    dry_run: bool
    plan: WritePlan
    verdict: GuardDecision
    result: T | None
    confirmation: ConfirmationRequest | None = field(default=None)
    noop: bool = False  # nothing needed sending

    @property
    def written(self) -> bool:
        """Whether the write was sent."""
        return not self.dry_run and self.confirmation is None and not self.noop

    def pending_notice(self, what: str) -> str | None:
        """The notice of a call that sent nothing because it waits (a confirmation, a dry run),
        `what` naming the write ("delete project 'p1'"); None when it did not wait."""
        if self.confirmation is not None:
            return (
                f"{what} needs the user's confirmation; nothing was sent. Show them the preview and, only if they "
                "agree, call again with the confirmation_token"
            )
        if self.dry_run:
            return f"dry run: would {what}; nothing was sent"
        return None

    def answer(self, model: type[A], **fields: Any) -> A:
        """The tool's answer: the `WriteAnswer` fields of this outcome plus the tool's own
        `fields` (among them `notice`, if the tool has one to give)."""
        return model(
            dry_run=self.dry_run,
            written=self.written,
            plan=self.plan,
            verdict=self.verdict,
            confirmation=self.confirmation,
            **fields,
        )


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


class WriteDeclaration(ToolDeclaration, Protocol):
    """What the pipeline needs of a write tool's declaration (`_registry.ToolSpec`)."""

    @property
    def read_back(self) -> str | None: ...

    @property
    def secret_arguments(self) -> tuple[str, ...]: ...


@dataclass
class _Line:
    """The audit line of the call as it stands; written once, when the call ends."""

    decision: Decision
    verdict: Verdict | None = None
    facts: dict[str, Any] = field(default_factory=lambda: {})


class AttemptWatch:
    """Whether the write pipeline recorded the call in the audit log (see `watch_attempt`)."""

    def __init__(self) -> None:
        self.recorded = False


_WATCH: ContextVar[AttemptWatch | None] = ContextVar("cs_mcp_attempt_watch", default=None)


@contextmanager
def watch_attempt() -> Generator[AttemptWatch]:
    """While open, notes whether a write tool's pipeline wrote its audit line. The server's
    tool-call middleware opens it so that a call refused before the tool ran (a hidden tool,
    arguments that do not validate) is still recorded, once (`audit_unserved`)."""
    watch = AttemptWatch()
    reset = _WATCH.set(watch)
    try:
        yield watch
    finally:
        _WATCH.reset(reset)


async def audit_unserved(
    guard: Guard,
    principal: Principal,
    tool: str,
    arguments: Mapping[str, Any],
    reason: str,
    rule: str | None = None,
    secret_arguments: Iterable[str] = (),
) -> None:
    """Records a call to a write tool that was refused before the tool itself ran; the values
    of `secret_arguments` are recorded as `[redacted]` and cut out of the reason.

    Raises:
        OSError: the audit log cannot be written.
    """
    if guard.audit is None:
        return
    secrets = [text for name in secret_arguments for text in secret_texts(arguments.get(name))]
    arguments = {k: REDACTED if k in set(secret_arguments) else v for k, v in arguments.items()}
    reason = scrub_secrets(reason, secrets)
    await guard.audit.append(
        AuditRecord(
            time=now_utc(),
            principal=principal.name,
            role=principal.role,
            transport=principal.transport,
            tool=tool,
            arguments=_recorded(_given(arguments)),
            decision="deny",
            rule=rule,
            reason=reason,
            outcome="refused",
        )
    )


# A top-level text argument longer than this (a file in base64) is recorded as its digest.
RECORDED_TEXT_MAX = 2048


def _recorded(given: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments as the audit log and confirmation tokens take them, from `_given`'s plain
    values. A long text (upload_asset's `content_base64`) is kept as its length and sha256, which
    binds a confirmation as surely and keeps a file out of every audit line."""
    return {k: _digest(v) if isinstance(v, str) and len(v) > RECORDED_TEXT_MAX else v for k, v in given.items()}


def _given(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments as plain JSON values, as the caller gave them (no text kept as a digest),
    without the two that steer the pipeline itself."""
    plain = cast(dict[str, Any], to_jsonable_python(dict(arguments), fallback=str))
    return {k: v for k, v in plain.items() if k not in UNBOUND_ARGUMENTS}


def _digest(text: str) -> str:
    return f"<{len(text)} characters, sha256 {hashlib.sha256(text.encode()).hexdigest()}>"


def _contentstack_cause(exc: BaseException) -> ContentstackError | None:
    """The Contentstack error behind `exc` (itself, or what it was raised from or during)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ContentstackError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _sole(exc: Exception) -> Exception:
    """The one exception inside a group of one (what a task group raises), else `exc`."""
    members: tuple[Exception, ...] = cast(ExceptionGroup[Exception], exc).exceptions if _is_group(exc) else ()
    return _sole(members[0]) if len(members) == 1 else exc


def _is_group(exc: Exception) -> bool:
    return isinstance(exc, ExceptionGroup)


def _shape_problem(exc: ValidationError) -> str:
    # Field paths only: the values may be content.
    where = ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:5])
    return f"Contentstack's answer did not have the documented shape (at {where or 'the top level'})"


class Permits:
    """Hands out permits for one checked call; each operation the call sends needs one.

    Only the pipeline makes one, from the verdict that allowed the call (or that the human
    confirmed): a permit never covers more than the guard checked."""

    def __init__(self, call: WriteCall, verdict: Verdict) -> None:
        self._call = call
        self._verdict = verdict

    def for_operation(self, operation: str) -> Permit:
        return self._call.guard.permit(self._verdict, operation)

    def outcome_unknown(self, reason: str) -> None:
        """Says that a write was sent but what came of it is not known (its answer was lost or
        unreadable), for a tool that reports it item by item instead of failing the call: the
        audit line then records the outcome as unknown."""
        self._call.unknown = reason

    def for_targets(self, targets: Targets, operation: str) -> Permit:
        """A permit for targets that became known while the write ran (the uid of a release
        the call just created): the guard checks them first, as it checked the call.

        Raises:
            ToolError: the guard does not allow them (the policy changed meanwhile).
        """
        verdict = self._call.check(targets)
        if verdict.decision == "confirm" and self._verdict.confirmed:
            verdict = self._call.guard.confirmed(verdict)
        if verdict.decision != "allow":
            raise ToolError(f"denied by the guard: {verdict.reason}")
        return self._call.guard.permit(verdict, operation)


class WriteCall:
    """One call of a write tool, bound to the tool's declaration: the one path every write
    takes. The tool names its targets (`precheck` before it reads anything, `run` with what
    the reads resolved), and the call checks them against the guard, plans, answers a dry run,
    asks for confirmation, hands out permits, executes and records the attempt: exactly one
    audit line when the call ends, whatever ended it (see `serve`)."""

    def __init__(self, spec: WriteDeclaration, ctx: ToolContext, arguments: Mapping[str, Any]) -> None:
        self.spec = spec
        self.ctx = ctx
        self.state = app_state(ctx)
        self.guard: Guard = self.state.guard
        self.principal = principal_of(ctx)
        self._given = _given(arguments)  # what `keep_secret` reads: `arguments` holds a long text as its digest
        self.arguments = _recorded(self._given)
        self.dry_run = bool(arguments.get("dry_run", False))
        token = arguments.get("confirmation_token")
        self.confirmation_token = token if isinstance(token, str) else None
        self.scopes: frozenset[str] = spec.scopes
        self.targets = Targets()
        self.known: dict[str, str] = {}
        self._line: _Line | None = None
        self._sent: list[str] = []
        self._executed = False
        self._started: float | None = None
        self.unknown: str | None = None  # why the outcome of a sent write is not known
        self._secrets: list[str] = []  # argument values that are secrets (`keep_secret`)
        self._secret_arguments: dict[str, Any] = {}  # those arguments by name, for the confirmation
        for name in spec.secret_arguments:
            self.keep_secret(name)
        self._insist: str | None = None  # why this call needs a human's yes whatever the policy says
        self._asked_mid_call = False  # a human agreed in the middle of this call (an elicitation)

    # -- what a tool calls ------------------------------------------------------------------

    def require(self, scopes: Iterable[str]) -> None:
        """The scopes this call needs (default: the declared ones), e.g. only the entry scope
        of an entries-only publish.

        Raises:
            ValueError: a name that is not a known scope (a bug in the tool).
        """
        self.scopes = frozenset(scope_set(scopes))

    async def recheck_reach(self, checked: Targets, read: Callable[[], Awaitable[Targets]], write: str) -> None:
        """For a write whose targets come from what it read: when a human agreed in the middle
        of this call (they may take minutes, and what was read may change meanwhile), reads the
        reach again with `read` and refuses the write if it names a target the guard did not
        check. Without such a wait the first read is as fresh as a second would be (a
        confirmation token or a second round of the protocol is a new call, which reads anew).

        Raises:
            WriteRefused: the reach grew (nothing was sent).
            As `read`.
        """
        if not self._asked_mid_call:
            return
        before = checked.permit_targets()
        now = (await read()).permit_targets()
        grown = {kind: sorted(names - before.get(kind, set())) for kind, names in now.items()}
        beyond = "; ".join(f"{kind} {', '.join(names)}" for kind, names in grown.items() if names)
        if beyond:
            raise WriteRefused(
                f"{write} now reaches {beyond}, which it did not when it was checked (it changed while the user "
                "was asked); nothing was sent. Call again to check what it reaches now."
            )

    @property
    def asked_mid_call(self) -> bool:
        """Whether a human agreed in the middle of this call, before its writes are sent."""
        return self._asked_mid_call

    def keep_secret(self, argument: str) -> None:
        """Treats the value of `argument` as a secret (the declaration's `secret_arguments` are
        kept so from the start): it is recorded as `[redacted]` in the audit line, left out of
        what a confirmation token binds in readable form (it binds a MAC of it instead, so
        that a token does not confirm another value), and cut out of every error message the
        call answers and of every audit reason. The plan and the answer are the tool's to keep
        free of it."""
        value = self._given.get(argument)
        self._secrets.extend(secret_texts(value))
        if argument in self.arguments:
            self._secret_arguments[argument] = value
            self.arguments[argument] = REDACTED

    def scrubbed(self, text: str) -> str:
        """`text` without this call's secrets (`keep_secret`)."""
        return scrub_secrets(text, self._secrets)

    def insist_on_confirmation(self, reason: str) -> None:
        """Makes this call wait for a human's yes even where the policy allows it outright
        (`reason` says why, e.g. "deleting a content type deletes all its entries")."""
        self._insist = reason

    def note(self, **facts: str) -> None:
        """Records what the call learnt on the way (a created uid, a job id), for an answer
        that must say what was sent when the outcome is unknown."""
        self.known.update(facts)

    def plan(
        self,
        summary: str,
        targets: Targets | None = None,
        *,
        requests: Iterable[PlannedRequest] = (),
        items: Iterable[str] = (),
    ) -> WritePlan:
        """The plan of this call's write, its action the tool's name: `targets` as the guard
        names them, the `requests` it would send, the `items` it changes."""
        return WritePlan(
            action=self.spec.name,
            summary=summary,
            targets=targets.named() if targets is not None else {},
            requests=list(requests),
            items=list(items),
        )

    def check(self, targets: Targets) -> Verdict:
        """The guard's verdict on `targets` (with the branch the write lands on) for this tool."""
        self.targets = on_branch(self.ctx, self.scopes, targets)
        verdict = self.guard.check(self.principal, self.spec, self.targets, scopes=self.scopes)
        return verdict if self._insist is None else self.guard.insist(verdict, self._insist)

    async def precheck(self, targets: Targets) -> None:
        """Runs the guard on what the arguments name before the tool reads anything, so that a
        denied call sends no request at all. `run` checks again what the reads resolved.

        Raises:
            ToolError: the guard denied. Nothing was sent.
        """
        verdict = self.check(targets)
        if verdict.decision == "deny":
            raise self._deny(f"denied by the guard: {verdict.reason}.", verdict)

    async def noop(self, targets: Targets, plan: WritePlan, reason: str) -> WriteOutcome[None]:
        """Answers a call that has nothing to send (the target is already as asked), after the
        guard: the caller still learns whether it would have been allowed, and it is audited.

        Raises:
            ToolError: the guard denied.
        """
        verdict = self.check(targets)
        if verdict.decision == "deny":
            raise self._deny(f"denied by the guard: {verdict.reason}.", verdict)
        self._line = _Line("allow", verdict, {"outcome": "noop", "dry_run": self.dry_run})
        decision = GuardDecision(decision="allow", reason=reason, rule=verdict.rule)
        return WriteOutcome(dry_run=self.dry_run, plan=plan, verdict=decision, result=None, noop=True)

    async def nothing_to_do(self, targets: Targets, why: str, reason: str = "nothing to send") -> WriteOutcome[None]:
        """`noop` with the plan that says so: "nothing to do: " and `why`.

        Raises:
            ToolError: the guard denied.
        """
        return await self.noop(targets, self.plan(f"nothing to do: {why}"), reason)

    async def run(
        self,
        *,
        targets: Targets,
        plan: WritePlan,
        execute: Callable[[Permits], Awaitable[T]],
        target_versions: Mapping[str, int] | None = None,
    ) -> WriteOutcome[T]:
        """Checks `targets`, then answers the dry run, asks for confirmation, or executes.

        `target_versions` are the versions of the targets the plan was made from; with every
        target the guard checked, they bind a confirmation, so that it does not carry over to a
        target that changed or to a target set other than the one previewed.

        Raises:
            ToolError: the guard denied (naming the rule, what is allowed and every offending
                item), a confirmation token was refused, the user declined, or confirmation was
                needed and the policy's fallback is "deny". Nothing was sent in any of these.
            ElicitationRequired: the client must ask its human first (protocol 2026-07-28+).
            ContentstackError: Contentstack refused or failed the write.
            OSError: the audit log cannot be written (before anything is sent).
        """
        verdict = self.check(targets)
        if verdict.decision == "deny":
            raise self._deny(f"denied by the guard: {verdict.reason}.", verdict)
        if self.dry_run:
            self._line = _Line("dry_run", verdict, {"dry_run": True})
            decision = GuardDecision(decision=verdict.decision, reason=verdict.reason, rule=verdict.rule)
            return WriteOutcome(dry_run=True, plan=plan, verdict=decision, result=None)

        confirmation: Literal["elicitation", "token"] | None = None
        decision = GuardDecision(decision="allow", reason=verdict.reason, rule=verdict.rule)
        if verdict.decision == "confirm":
            # A confirmation binds the whole target set the guard checked, not only the versions.
            confirmed = await self._confirm(verdict, plan, bound_targets(self.targets, target_versions))
            if isinstance(confirmed, ConfirmationRequest):
                pending = GuardDecision(decision="confirm", reason=verdict.reason, rule=verdict.rule)
                return WriteOutcome(dry_run=False, plan=plan, verdict=pending, result=None, confirmation=confirmed)
            confirmation = confirmed
            decision = GuardDecision(
                decision="confirmed", reason=f"{verdict.reason}; confirmed by the user ({confirmed})", rule=verdict.rule
            )
            verdict = self.guard.confirmed(verdict)

        if self.guard.audit is not None:
            # Refuse to write at all when the attempt could not be recorded afterwards.
            await self.guard.audit.check_writable()
        self._line = _Line("confirmed" if confirmation else "allow", verdict, {"confirmation": confirmation})
        self._started = time.monotonic()
        with writes_sent() as sent:
            self._sent = sent
            result = await execute(Permits(self, verdict))
        self._executed = True
        if self.unknown is None:
            self._line.facts["outcome"] = "ok"
        else:
            self._line.facts.update(outcome="unknown", reason=self.unknown, sent=list(self._sent))
        return WriteOutcome(dry_run=False, plan=plan, verdict=decision, result=result)

    # -- the end of the call ------------------------------------------------------------------

    async def serve(self, body: Callable[[], Awaitable[R]]) -> R:
        """Runs the tool's body and writes the call's one audit line before it answers.

        Whatever goes wrong after a write was sent (an answer that does not parse, a read
        after it that fails, a bug) is answered as a ToolError saying that the write was sent,
        what is known and what to read back, never as "Error executing tool".

        Raises:
            ToolError: the call was refused, failed, or its outcome is unknown.
            ElicitationRequired: the client must ask its human first.
        """
        try:
            result = await body()
        except ElicitationRequired:
            await self._write_line()
            raise
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True), suppress(ToolError):  # the cancellation goes on
                await self._write_line(outcome="unknown" if self._sent else "refused", reason="cancelled")
            raise
        except Exception as exc:
            error = await self._failed(exc)
            if isinstance(error, ToolError | ContentstackError) and self.scrubbed(str(error)) != str(error):
                raise ToolError(self.scrubbed(str(error))) from None  # the cause would carry the secret
            if error is exc:
                raise
            if error.__traceback__ is not None:
                raise error from None  # the one exception of a task group's group, as it was raised
            raise error from exc
        if self._line is None:  # the tool answered without the pipeline: nothing was sent
            self._line = _Line("allow", None, {"outcome": "noop"})
        await self._write_line()
        return result

    async def _failed(self, raised: Exception) -> Exception:
        exc = _sole(raised)
        cause = _contentstack_cause(exc)
        codes: dict[str, Any] = {}
        if cause is not None:
            codes = {"status": cause.status, "error_code": cause.error_code, "request_id": cause.request_id}
        if not self._sent:
            if self._line is not None and self._line.decision == "deny":
                await self._write_line()  # the guard's refusal, already described
                return exc
            outcome = "refused" if isinstance(exc, ToolError) else "error"
            await self._write_line(outcome=outcome, reason=self._reason(exc), **codes)
            if isinstance(exc, ToolError | ContentstackError | ValidationError):
                return exc  # plain words already (the tool wrapper words the last two)
            return ToolError(f"cs-mcp failed before sending anything ({type(exc).__name__}). Nothing was sent.")
        if isinstance(exc, WriteRefused):
            await self._write_line(outcome="refused", reason=self._reason(exc), sent=list(self._sent))
            return exc
        if (
            not self._executed
            and cause is not None
            and not isinstance(cause, OutcomeUnknownError | MalformedResponseError)
        ):
            # Contentstack refused the write (the tool's message says how far a multi-request
            # write got): an error with its status and code. A lost or unreadable answer is not
            # a refusal: the write may have been applied.
            await self._write_line(outcome="error", reason=self._reason(exc), **codes)
            return exc
        await self._write_line(outcome="unknown", reason=self._reason(exc), sent=list(self._sent), **codes)
        return self._unconfirmed(exc)

    def _reason(self, exc: Exception) -> str:
        if isinstance(exc, ValidationError):
            return _shape_problem(exc)
        if isinstance(exc, ToolError | ContentstackError):
            return str(exc)
        return type(exc).__name__

    def _unconfirmed(self, exc: Exception) -> ToolError:
        if isinstance(exc, ValidationError):
            why = _shape_problem(exc)
        elif not self._executed and isinstance(exc, ToolError | ContentstackError):
            why = str(exc)  # the write's own answer was lost or unreadable, in the tool's words
        elif isinstance(exc, ToolError | ContentstackError):
            why = f"after it, this failed: {exc}"
        else:
            why = f"cs-mcp failed while handling the answer ({type(exc).__name__})"
        operations = ", ".join(dict.fromkeys(self._sent))
        known = dict(self.known)
        known.update({kind: ", ".join(names) for kind, names in self.targets.named().items()})
        facts = "; ".join(f"{k}: {v}" for k, v in known.items())
        read_back = self.spec.read_back or "the targets named below"
        return ToolError(
            f"The write was sent to Contentstack ({operations}), but its outcome is not confirmed: {why}. "
            f"Do not send it again before reading back what happened: {read_back}."
            + (f" Known: {facts}." if facts else "")
        )

    def _deny(self, message: str, verdict: Verdict | None, **facts: Any) -> ToolError:
        self._line = _Line("deny", verdict, facts)
        return ToolError(f"{message} Nothing was sent.")

    async def _write_line(self, **facts: Any) -> None:
        """Writes the call's audit line (fsync'd); exactly once per call."""
        watch = _WATCH.get()
        if watch is not None:
            watch.recorded = True
        line = self._line or _Line("deny")  # refused before the guard allowed anything
        merged = {**line.facts, **facts}
        if self._started is not None:
            merged["duration_ms"] = round((time.monotonic() - self._started) * 1000, 1)
        self._line = None
        if self.guard.audit is None:
            return
        verdict = line.verdict
        reason = merged.pop("reason", None)
        if self._secrets and isinstance(reason, str):
            reason = self.scrubbed(reason)
        record = AuditRecord(
            time=now_utc(),
            principal=self.principal.name,
            role=self.principal.role,
            transport=self.principal.transport,
            tool=self.spec.name,
            arguments=self.arguments,
            targets=_audit_targets(self.targets),
            decision=line.decision,
            rule=verdict.rule if verdict else None,
            reason=reason if reason is not None else (verdict.reason if verdict else None),
            **merged,
        )
        try:
            await self.guard.audit.append(record)
        except OSError as exc:
            # Checked writable before anything was sent; if it fails after, the answer must
            # still say that the write went out.
            done = (
                "the write was sent to Contentstack: read back what happened before trying again"
                if self._sent
                else "nothing was sent"
            )
            raise ToolError(f"the audit log could not be written ({exc.strerror or exc}); {done}.") from exc

    # -- confirmation ---------------------------------------------------------------------------

    async def _check_token(self, token: str, target_versions: Mapping[str, int] | None, how: str) -> None:
        """Verifies a confirmation token for this call; refuses (audited) with its reason."""
        try:
            await self.guard.confirmations.redeem(
                token,
                self.principal.name,
                self.spec.name,
                self.arguments,
                target_versions,
                hidden=self._secret_arguments,
            )
        except ConfirmationError as exc:
            raise self._deny(
                f"confirmation refused ({exc.reason}): {exc}.",
                Verdict("deny", f"confirmation token refused: {exc.reason}", rule="confirm"),
                confirmation=how,
            ) from None

    async def _confirm(
        self, verdict: Verdict, plan: WritePlan, target_versions: Mapping[str, int] | None
    ) -> Literal["elicitation", "token"] | ConfirmationRequest:
        """How the human confirmed, or the request that asks them to (token fallback).

        Raises:
            ToolError: the token was refused, the human declined, or the fallback is "deny".
            ElicitationRequired: the client must ask its human (protocol 2026-07-28 and later).
        """
        ctx = self.ctx
        authority = self.guard.confirmations
        if self.confirmation_token:
            await self._check_token(self.confirmation_token, target_versions, "token")
            return "token"
        # The elicitation request carries the preview outside the tool answer, which the server
        # scrubs: a plan may repeat an argument that quotes a configured token.
        preview = scrub_secrets(preview_of(plan, verdict.reason), self.state.secrets)
        fallback = self.guard.policy.confirm.fallback
        if _can_elicit(ctx) and _input_required(ctx):
            answers = ctx.input_responses or {}
            answer = answers.get(CONFIRM_INPUT_KEY)
            if answer is not None and ctx.request_state:
                # The human's answer is bound to this very call by the token in request_state.
                await self._check_token(ctx.request_state, target_versions, "elicitation")
                content = answer.content if isinstance(answer, ElicitResult) else None
                if isinstance(answer, ElicitResult) and answer.action == "accept" and (content or {}).get("confirm"):
                    return "elicitation"
                raise self._deny("not confirmed: the user declined.", verdict, confirmation="elicitation")
            issued = authority.issue(
                self.principal.name, self.spec.name, self.arguments, target_versions, hidden=self._secret_arguments
            )
            self._line = _Line("confirm", verdict, {"confirmation": "elicitation"})
            question = ElicitRequest(
                params=ElicitRequestFormParams(
                    message=preview, requested_schema=render_elicitation_schema(ConfirmWrite)
                )
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
                    self._asked_mid_call = True  # what the call read may have changed while they read
                    return "elicitation"
                raise self._deny(
                    f"not confirmed: the user {'cancelled' if answer.action == 'cancel' else 'declined'}.",
                    verdict,
                    confirmation="elicitation",
                )
        if fallback == "deny":
            raise self._deny(
                f"{verdict.reason}, and this client cannot ask the user (the policy's [confirm] fallback is "
                '"deny"). Use a client that supports elicitation.',
                Verdict("deny", verdict.reason, rule="confirm.fallback"),
            )
        issued = authority.issue(
            self.principal.name, self.spec.name, self.arguments, target_versions, hidden=self._secret_arguments
        )
        self._line = _Line("confirm", verdict, {"confirmation": "token"})
        return ConfirmationRequest(preview=preview, confirmation_token=issued.token, expires_at=_iso(issued.expires_at))


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
