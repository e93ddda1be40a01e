"""Layer 1 (which tools a principal sees) and layer 2 (whether this call may run) of the guard."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Literal

from cs_mcp.guard.audit import AuditLog
from cs_mcp.guard.confirm import ConfirmationAuthority
from cs_mcp.guard.permit import Permit, PermitAuthority
from cs_mcp.guard.policy import Policy, Role, production_like
from cs_mcp.guard.principal import Principal
from cs_mcp.guard.targets import Targets


@dataclass(frozen=True)
class Verdict:
    """The guard's answer: allow, deny (with the rule and what is allowed) or confirm."""

    decision: Literal["allow", "deny", "confirm"]
    reason: str
    rule: str | None = None
    offending: tuple[str, ...] = ()
    allowed: dict[str, list[str]] = field(default_factory=lambda: {})


# (target kind on Targets, constraint on Role, the word used in messages)
_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("content_types", "content_types", "content type"),
    ("locales", "locales", "locale"),
    ("environments", "environments", "environment"),
    ("automation_projects", "automation_projects", "automation project"),
    ("branches", "branches", "branch"),
)


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

    def role_of(self, principal: Principal) -> Role:
        """The principal's role; an unknown role has no scopes at all (deny by default)."""
        role = self.policy.roles.get(principal.role)
        return role if role is not None else Role(name=principal.role, scopes=frozenset())

    def may_use(self, principal: Principal, scopes_any: frozenset[str]) -> bool:
        """Layer 1: a tool is listed when the principal holds at least one of its scopes."""
        return bool(self.role_of(principal).scopes & scopes_any)

    def check(self, principal: Principal, tool: str, scopes: frozenset[str], targets: Targets) -> Verdict:
        """Layer 2: every scope in `scopes` held, every target inside the role's constraints,
        every item of a bulk or release call checked on its own.

        Names are compared exactly: `Production` is not `production`.
        """
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
        for kind, constraint, word in _CHECKS:
            allowed = role.constraint(constraint)
            if allowed is None:
                continue
            names: tuple[str, ...] = getattr(targets, kind)
            outside = [n for n in names if n not in allowed]
            if kind == "content_types":
                outside += [
                    f"{i.label} (content type {i.content_type})"
                    for i in targets.items
                    if i.content_type is not None and i.content_type not in allowed
                ]
            if kind == "locales":
                outside += [
                    f"{i.label} (locale {i.locale})"
                    for i in targets.items
                    if i.locale is not None and i.locale not in allowed
                ]
            if outside:
                reasons.append(
                    f"role {role.name!r} may not write to {word} {', '.join(outside)}; "
                    f"allowed: {', '.join(sorted(allowed)) or 'none'}"
                )
                rules.append(f"roles.{role.name}.{constraint}")
                offending += outside
                allowed_by[constraint] = sorted(allowed)
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

    def permit(self, principal: Principal, tool: str, operation: str, targets: Targets) -> Permit:
        """A permit for one operation on the checked targets. Call only after `check` allowed
        (or the human confirmed)."""
        return self.permits.issue(principal.name, tool, operation, targets.permit_targets())
