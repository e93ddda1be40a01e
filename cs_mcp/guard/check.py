"""Layer 1 (which tools a principal sees) and layer 2 (whether this call may run) of the guard."""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from cs_mcp.guard.audit import AuditLog
from cs_mcp.guard.confirm import ConfirmationAuthority
from cs_mcp.guard.permit import Permit, PermitAuthority, PermitError
from cs_mcp.guard.policy import Policy, Role, production_like
from cs_mcp.guard.principal import Principal
from cs_mcp.guard.scopes import CONSTRAINTS
from cs_mcp.guard.targets import Targets


class ToolDeclaration(Protocol):
    """What the guard needs of a tool's declaration (`cs_mcp.toolkit.registry.ToolSpec`)."""

    @property
    def name(self) -> str: ...

    @property
    def scopes(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Verdict:
    """The guard's answer: allow, deny (with the rule and what is allowed) or confirm.

    A verdict from `Guard.check` is bound to the principal, the tool and the targets it was
    given, and sealed: `Guard.permit` mints permits only from a sealed allowing verdict (or one a
    human confirmed through `Guard.confirmed`), and only for those targets.
    """

    decision: Literal["allow", "deny", "confirm"]
    reason: str
    rule: str | None = None
    offending: tuple[str, ...] = ()
    allowed: dict[str, list[str]] = field(default_factory=lambda: {})
    principal: str | None = None
    tool: str | None = None
    targets: Targets = field(default_factory=Targets)
    confirmed: bool = False
    seal: bytes = field(default=b"", repr=False, compare=False)


class Guard:
    """Answers, for a principal, which tools it may see and whether a call may run, and issues
    the permits the client demands for writes."""

    def __init__(
        self,
        policy: Policy,
        permits: PermitAuthority | None = None,
        *,
        audit: AuditLog | None = None,
        confirmations: ConfirmationAuthority | None = None,
    ) -> None:
        self.policy = policy
        self.permits = permits or PermitAuthority()
        self.audit = audit  # None: attempts are not recorded (catalog listings, tests)
        self.confirmations = confirmations or ConfirmationAuthority()
        self._seal_key = secrets.token_bytes(32)

    def role_of(self, principal: Principal) -> Role:
        """The principal's role; an unknown role has no scopes at all (deny by default)."""
        role = self.policy.roles.get(principal.role)
        return role if role is not None else Role(name=principal.role, scopes=frozenset())

    def may_use(self, principal: Principal, scopes_any: frozenset[str]) -> bool:
        """Layer 1: a tool is listed when the principal holds at least one of its scopes."""
        return bool(self.role_of(principal).scopes & scopes_any)

    def check(
        self,
        principal: Principal,
        tool: ToolDeclaration,
        targets: Targets,
        *,
        scopes: frozenset[str] | None = None,
    ) -> Verdict:
        """Layer 2: every scope the call needs held (`scopes`, default the tool's declared
        scopes), every target inside the role's constraints, every item of a bulk or release
        call checked on its own.

        Names are compared exactly: `Production` is not `production`.
        """
        verdict = self._decide(principal, tool.name, tool.scopes if scopes is None else scopes, targets)
        return self._sealed(replace(verdict, principal=principal.name, tool=tool.name, targets=targets))

    def _decide(self, principal: Principal, tool: str, scopes: frozenset[str], targets: Targets) -> Verdict:
        if principal.role not in self.policy.roles:
            return Verdict(
                "deny",
                f"role {principal.role!r} is not defined by the policy, so it may do nothing",
                rule="roles",
                offending=(principal.role,),
                allowed={"roles": sorted(self.policy.roles)},
            )
        role = self.role_of(principal)
        missing = sorted(scopes - role.scopes)
        if missing:
            return Verdict(
                "deny",
                f"role {role.name!r} lacks the scope {', '.join(missing)} that {tool} needs",
                rule=f"roles.{role.name}.scopes",
                offending=tuple(missing),
                allowed={"scopes": sorted(role.scopes)},
            )
        # Every constraint, every item: one bad item denies the call, and all are named.
        reasons: list[str] = []
        rules: list[str] = []
        offending: list[str] = []
        allowed_by: dict[str, list[str]] = {}
        for constraint in CONSTRAINTS:
            allowed = role.constraint(constraint.role_field)
            if allowed is None:
                continue
            outside = [n for n in getattr(targets, constraint.target_field) if n not in allowed]
            if constraint.item_field is not None:
                for item in targets.items:
                    name: str | None = getattr(item, constraint.item_field)
                    if name is not None and name not in allowed:
                        outside.append(f"{item.label} ({constraint.word} {name})")
            if outside:
                reasons.append(
                    f"role {role.name!r} may not write to {constraint.word} {', '.join(outside)}; "
                    f"allowed: {', '.join(sorted(allowed)) or 'none'}"
                )
                rules.append(f"roles.{role.name}.{constraint.role_field}")
                offending += outside
                allowed_by[constraint.role_field] = sorted(allowed)
        if reasons:
            return Verdict(
                "deny", "; ".join(reasons), rule=", ".join(rules), offending=tuple(offending), allowed=allowed_by
            )
        confirm = self.policy.confirm
        hits = [e for e in targets.environments if e in confirm.environments]
        production = [
            e
            for e in targets.environments
            if confirm.unpublish_production and any(s.endswith(":unpublish") for s in scopes) and production_like(e)
        ]
        listed = any(fnmatch.fnmatchcase(tool, pattern) for pattern in confirm.tools)
        if listed or hits or production:
            if listed:
                why = f"{tool} is listed under [confirm] tools"
            elif hits:
                why = f"it touches {', '.join(hits)}, listed under [confirm] environments"
            else:
                why = f"it unpublishes from {', '.join(production)}, named like a production environment"
            return Verdict("confirm", f"needs confirmation: {why}", rule="confirm")
        return Verdict("allow", "allowed", rule=f"roles.{role.name}")

    def _mac(self, verdict: Verdict) -> bytes:
        bound = repr((verdict.decision, verdict.principal, verdict.tool, verdict.targets, verdict.confirmed))
        return hmac.new(self._seal_key, bound.encode(), hashlib.sha256).digest()

    def _sealed(self, verdict: Verdict) -> Verdict:
        return replace(verdict, seal=self._mac(verdict))

    def _genuine(self, verdict: Verdict) -> bool:
        return bool(verdict.seal) and hmac.compare_digest(verdict.seal, self._mac(verdict))

    def confirmed(self, verdict: Verdict) -> Verdict:
        """The allowing verdict for a call whose "confirm" verdict a human agreed to.

        Raises:
            PermitError: `verdict` is not a "confirm" verdict this guard gave.
        """
        if verdict.decision != "confirm" or not self._genuine(verdict):
            raise PermitError("only a confirmation verdict of this guard can be confirmed")
        return self._sealed(replace(verdict, decision="allow", confirmed=True))

    def insist(self, verdict: Verdict, reason: str) -> Verdict:
        """`verdict` turned from allow into confirm, for a write that a human must agree to
        whatever the policy says (deleting a content type, removing fields entries use): the
        policy can add confirmations, never waive these. A denial, a confirmation, or a
        verdict a human already confirmed is answered as it is.

        Raises:
            PermitError: `verdict` was not given by this guard.
        """
        if not self._genuine(verdict):
            raise PermitError("only a verdict of this guard can ask for confirmation")
        if verdict.decision != "allow" or verdict.confirmed:
            return verdict
        return self._sealed(replace(verdict, decision="confirm", reason=f"needs confirmation: {reason}", rule="tool"))

    def permit(self, verdict: Verdict, operation: str) -> Permit:
        """A permit for one operation on the targets `verdict` was given for.

        Raises:
            PermitError: `verdict` does not allow (a denial, a confirmation not yet given) or was
                not given by this guard.
        """
        if verdict.decision != "allow" or verdict.principal is None or verdict.tool is None:
            raise PermitError(f"the guard's verdict is {verdict.decision!r}: no permit for {operation}")
        if not self._genuine(verdict):
            raise PermitError(f"the verdict for {operation} was not given by this guard")
        return self.permits.issue(verdict.principal, verdict.tool, operation, verdict.targets.permit_targets())
