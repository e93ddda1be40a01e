"""The policy: roles with scopes and constraints, confirmation rules, HTTP principals.

Deny by default: a principal may do only what its role's scopes name, and writes only within
its role's constraints. Without a policy file the built-in roles apply and the stdio
principal is a `viewer` (read-only).
"""

from __future__ import annotations

import re
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cs_mcp.guard.destinations import parse_allowed
from cs_mcp.guard.scopes import ALL_SCOPES, CONSTRAINT_FIELDS, Scope

VIEWER_SCOPES: tuple[str, ...] = (
    Scope.CONTENT_TYPE_READ,
    Scope.ENTRY_READ,
    Scope.ASSET_READ,
    Scope.RELEASE_READ,
    Scope.PUBLISH_QUEUE_READ,
    Scope.ENVIRONMENTS_READ,
    Scope.LANGUAGES_READ,
    Scope.ANALYTICS_READ,
    Scope.AUTOMATE_PROJECTS_READ,
    Scope.AUTOMATIONS_READ,
    Scope.AUTOMATE_EXECUTIONS_READ,
    Scope.AUTOMATE_AUDIT_LOG_READ,
)


# A role's collection of names: a list as the policy file writes it, a frozenset once resolved.
Names = TypeVar("Names", list[str], frozenset[str])


class Constraints(BaseModel, Generic[Names]):
    """A role's constraints, one field each of `CONSTRAINT_FIELDS`: the names its writes are
    limited to, `None` for no limit."""

    # Validators are built at first use (the subclasses inherit this): the base itself is never
    # validated, and building its own and its two parametrizations' at import would cost every start.
    model_config = ConfigDict(defer_build=True)

    content_types: Names | None = None
    locales: Names | None = None
    environments: Names | None = None
    automation_projects: Names | None = None
    branches: Names | None = None


class RoleSpec(Constraints[list[str]]):
    """A role as written in the policy file. `None` for a constraint means unconstrained;
    `["*"]` says so explicitly."""

    model_config = ConfigDict(extra="forbid")

    inherits: list[str] = Field(default_factory=lambda: [])
    scopes: list[str] = Field(default_factory=lambda: [])


class Role(Constraints[frozenset[str]]):
    """A role with inheritance resolved: its own and inherited scopes, its effective constraints."""

    model_config = ConfigDict(frozen=True)

    name: str
    scopes: frozenset[str]

    def constraint(self, kind: str) -> frozenset[str] | None:
        """The names the role is limited to for constraint `kind` (a role field of
        `CONSTRAINTS`), None when it is not limited."""
        value: frozenset[str] | None = getattr(self, kind)
        if value is not None and "*" in value:
            return None
        return value


class ConfirmSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environments: list[str] = Field(default_factory=lambda: [])
    tools: list[str] = Field(default_factory=lambda: [])  # names or shell patterns: "delete_*"
    fallback: Literal["token", "deny"] = "token"
    # Built-in policy only: unpublishing from an environment named like production needs a yes.
    unpublish_production: bool = False


# Words that make an environment name read as production, in any case: `Production`,
# `prod-eu`, `LIVE`.
PRODUCTION_WORDS = frozenset({"prod", "production", "live"})


def production_like(environment: str) -> bool:
    """Whether an environment's name reads as production (a word of it is prod, production or live)."""
    return any(word in PRODUCTION_WORDS for word in re.split(r"[^a-z0-9]+", environment.lower()))


# Safe defaults without a policy file: destructive writes wait for a human's yes, whatever the role.
BUILTIN_CONFIRM = ConfirmSpec(tools=["delete_*"], unpublish_production=True)


# The largest file upload_asset and replace_asset send when the policy sets no `max_bytes`.
DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024


class UploadSpec(BaseModel):
    """`[uploads]`: the local directories whose files `upload_asset` and `replace_asset` may
    read (none: a local `path` is refused), and the largest file either sends, whatever its
    source (a local file, base64 content or an https URL the server fetches)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    directories: tuple[str, ...] = ()
    max_bytes: int = Field(default=DEFAULT_MAX_UPLOAD_BYTES, gt=0)


class WebhookSpec(BaseModel):
    """`[webhooks]`: the https URLs (each with the paths below it) that `create_webhook` and
    `update_webhook` may point a webhook at. None listed: any http(s) URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    destinations: tuple[str, ...] = ()

    @field_validator("destinations")
    @classmethod
    def _comparable(cls, destinations: tuple[str, ...]) -> tuple[str, ...]:
        for url in destinations:
            try:
                parse_allowed(url)
            except ValueError as exc:
                raise ValueError(f"{url!r}: {exc}") from None
        return destinations


class PrincipalSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    token_sha256: str
    role: str


class OAuthRule(BaseModel):
    """`[[oauth.rules]]`: a signed-in person whose token matches every key the rule sets (any one
    value of each) gets `role`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str
    subjects: list[str] | None = None  # the token's `sub`
    groups: list[str] | None = None  # the groups claim (`OAuthSpec.groups_claim`)
    scopes: list[str] | None = None  # the token's `scope` (space-separated) or `scp`


class OAuthSpec(BaseModel):
    """`[oauth]`: how a JWT access token's claims map to a role. Rules are tried in order; the
    first that matches decides. No match: `default_role`, else the request is refused (403)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[OAuthRule] = Field(default_factory=lambda: [])
    default_role: str | None = None
    groups_claim: str = "groups"  # a dotted path reaches into objects: "realm_access.roles"
    name_claim: str = "sub"  # what audit lines call the person: "email", "preferred_username"


class Policy(BaseModel):
    """The whole policy with roles resolved."""

    model_config = ConfigDict(frozen=True)

    default_role: str = "viewer"
    anonymous_role: str | None = None  # HTTP without a token gets this role, if set
    roles: dict[str, Role]
    confirm: ConfirmSpec = ConfirmSpec()
    principals: list[PrincipalSpec] = Field(default_factory=lambda: [])
    uploads: UploadSpec = UploadSpec()
    webhooks: WebhookSpec = WebhookSpec()
    oauth: OAuthSpec = OAuthSpec()
    source: str | None = None  # the file it came from, for messages


BUILTIN_ROLE_SPECS: dict[str, RoleSpec] = {
    "viewer": RoleSpec(scopes=list(VIEWER_SCOPES)),
    "editor": RoleSpec(inherits=["viewer"], scopes=[Scope.ENTRY_WRITE]),
    "publisher": RoleSpec(
        inherits=["editor"],
        scopes=[
            Scope.ENTRY_PUBLISH,
            Scope.ENTRY_UNPUBLISH,
            Scope.ASSET_PUBLISH,
            Scope.ASSET_UNPUBLISH,
            Scope.BULK_PUBLISH,
            Scope.BULK_UNPUBLISH,
            Scope.RELEASE_WRITE,
            Scope.RELEASE_DEPLOY,
            Scope.RELEASE_CLONE,
            Scope.PUBLISH_QUEUE_WRITE,
        ],
    ),
    "admin": RoleSpec(scopes=sorted(ALL_SCOPES)),
}


def resolve_roles(specs: dict[str, RoleSpec]) -> dict[str, Role]:
    """Resolves inheritance: scopes are the union; a constraint is the role's own, else the
    nearest inherited one.

    Raises:
        ValueError: an unknown parent or an inheritance cycle.
    """
    resolved: dict[str, Role] = {}

    def visit(name: str, path: tuple[str, ...]) -> Role:
        if name in resolved:
            return resolved[name]
        if name in path:
            raise ValueError(f"inheritance cycle: {' -> '.join((*path, name))}")
        if name not in specs:
            raise ValueError(f"role {path[-1]!r} inherits unknown role {name!r}")
        spec = specs[name]
        parents = [visit(parent, (*path, name)) for parent in spec.inherits]
        scopes = frozenset(spec.scopes).union(*(p.scopes for p in parents))
        constraints: dict[str, frozenset[str] | None] = {}
        for kind in CONSTRAINT_FIELDS:
            own: list[str] | None = getattr(spec, kind)
            if own is not None:
                constraints[kind] = frozenset(own)
            else:
                inherited = [getattr(p, kind) for p in parents if getattr(p, kind) is not None]
                constraints[kind] = inherited[0] if inherited else None
        role = Role(name=name, scopes=scopes, **constraints)
        resolved[name] = role
        return role

    for name in specs:
        visit(name, ())
    return resolved


def builtin_policy() -> Policy:
    """The policy in force without a file: built-in roles, stdio principal a viewer; deleting and
    unpublishing from an environment named like production need confirmation for every role."""
    return Policy(roles=resolve_roles(dict(BUILTIN_ROLE_SPECS)), confirm=BUILTIN_CONFIRM)
