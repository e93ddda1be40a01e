"""The guard's vocabulary: Contentstack's OAuth scope names and the constraint kinds of a role.

Scopes are Contentstack's own names ("OAuth scopes" in Contentstack's Developer Hub
documentation); tools name them through `Scope`, so a misspelt scope fails when the module is
imported. `CONSTRAINTS` is the one table of what a role can be limited to: the policy loader,
the check, the permits' targets and `describe_stack` all read it, so a constraint cannot be
parsed and shown without also being enforced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    """Every scope the guard knows. A member is its scope name (a `str`)."""

    CONTENT_TYPE_READ = "cm.content-type:read"
    # "Create, update, remove content types": what "CMA | Content Types" names for creating,
    # updating and deleting one.
    CONTENT_TYPES_MANAGEMENT_WRITE = "cm.content-types.management:write"
    ENTRY_READ = "cm.entry:read"
    ENTRY_WRITE = "cm.entry:write"
    ENTRY_PUBLISH = "cm.entry:publish"
    ENTRY_UNPUBLISH = "cm.entry:unpublish"
    ASSET_READ = "cm.asset:read"
    ASSET_PUBLISH = "cm.asset:publish"
    ASSET_UNPUBLISH = "cm.asset:unpublish"
    # "Create, update, remove assets": what "CMA | Assets" names for uploading, replacing,
    # updating and deleting an asset and for creating a folder.
    ASSETS_MANAGEMENT_WRITE = "cm.assets.management:write"
    BULK_PUBLISH = "cm.bulk-operations:publish"
    BULK_UNPUBLISH = "cm.bulk-operations:unpublish"
    ENVIRONMENTS_READ = "cm.environments.management:read"
    ENVIRONMENTS_WRITE = "cm.environments.management:write"
    LANGUAGES_READ = "cm.languages.management:read"
    LANGUAGES_WRITE = "cm.languages.management:write"
    LABELS_READ = "cm.labels.management:read"
    LABELS_WRITE = "cm.labels.management:write"
    WEBHOOKS_READ = "cm.webhooks.management:read"
    WEBHOOKS_WRITE = "cm.webhooks.management:write"
    ROLES_READ = "cm.roles.management:read"
    # Contentstack documents no OAuth scope for delivery tokens; they are stack settings, and this
    # is the documented scope of stack reads (docs/SECURITY.md, "The stack_admin toolset").
    STACKS_READ = "cm.stacks.management:read"
    PUBLISH_QUEUE_READ = "cm.publish-queue.management:read"
    PUBLISH_QUEUE_WRITE = "cm.publish-queue.management:write"
    RELEASE_READ = "cm.release:read"
    RELEASE_WRITE = "cm.release:write"
    RELEASE_DEPLOY = "cm.release:deploy"
    RELEASE_CLONE = "cm.release:clone"
    RELEASES_MANAGEMENT_WRITE = "cm.releases.management:write"
    AUTOMATE_PROJECTS_READ = "automationhub.projects.management:read"
    AUTOMATE_PROJECTS_WRITE = "automationhub.projects.management:write"
    AUTOMATIONS_READ = "automationhub.automations:read"
    AUTOMATIONS_WRITE = "automationhub.automations:write"
    AUTOMATE_EXECUTIONS_READ = "automationhub.executions:read"
    AUTOMATE_AUDIT_LOG_READ = "automationhub.audit-log:read"
    AUTOMATE_VARIABLES_READ = "automationhub.variables:read"
    # Named by the Automate reference's "Create / Update / Delete a project variable" requests.
    AUTOMATE_VARIABLES_WRITE = "automationhub.variables:write"
    # Named by the Automate reference's "Get all accounts" and "Get a single account" requests.
    AUTOMATE_ACCOUNTS_READ = "automationhub.accounts:read"
    ANALYTICS_READ = "analytics:read"


ALL_SCOPES: frozenset[str] = frozenset(Scope)
CM_SCOPES: frozenset[str] = frozenset(s for s in Scope if s.startswith("cm."))
AUTOMATE_SCOPES: frozenset[str] = frozenset(s for s in Scope if s.startswith("automationhub."))
WRITE_SCOPES: frozenset[str] = frozenset(s for s in Scope if not s.endswith(":read"))


def scope_set(scopes: Iterable[str]) -> frozenset[Scope]:
    """`scopes` (an iterable of scope names) as `Scope` members.

    Raises:
        ValueError: a name that is not one of Contentstack's scopes (so a declaration with a
            misspelt scope fails at import), or `scopes` is a bare string.
    """
    if isinstance(scopes, str):
        raise ValueError(f"scopes must be a collection of scope names, not the string {scopes!r}")
    found: set[Scope] = set()
    for name in scopes:
        if name not in ALL_SCOPES:
            raise ValueError(f"unknown scope {name!r}; the guard knows: {', '.join(sorted(ALL_SCOPES))}")
        found.add(Scope(name))
    return frozenset(found)


@dataclass(frozen=True)
class Constraint:
    """One kind of limit a role can carry, and everything named after it.

    - `role_field`: the key in a `[roles.NAME]` table and the attribute of `Role`;
    - `target_field`: the attribute of `Targets` holding the names a write touches;
    - `item_field`: the attribute of `ItemTarget` checked for each item too (None: items have none);
    - `permit_key`: the key of the permit's targets that the client checks requests against;
    - `word`: how a denial names one of them;
    - `scopes`: the scopes it limits (a constraint on a role holding none of them is an error).
    """

    role_field: str
    target_field: str
    item_field: str | None
    permit_key: str
    word: str
    scopes: frozenset[str]


_PUBLISHING = frozenset({Scope.ENTRY_PUBLISH, Scope.ENTRY_UNPUBLISH, Scope.ASSET_PUBLISH, Scope.ASSET_UNPUBLISH})

CONSTRAINTS: tuple[Constraint, ...] = (
    Constraint(
        role_field="content_types",
        target_field="content_types",
        item_field="content_type",
        permit_key="content_type",
        word="content type",
        scopes=frozenset(
            {
                Scope.ENTRY_WRITE,
                Scope.ENTRY_PUBLISH,
                Scope.ENTRY_UNPUBLISH,
                Scope.RELEASE_WRITE,
                Scope.RELEASE_DEPLOY,
                Scope.CONTENT_TYPES_MANAGEMENT_WRITE,
            }
        ),
    ),
    Constraint(
        role_field="locales",
        target_field="locales",
        item_field="locale",
        permit_key="locale",
        word="locale",
        scopes=_PUBLISHING | {Scope.ENTRY_WRITE, Scope.RELEASE_WRITE, Scope.RELEASE_DEPLOY, Scope.LANGUAGES_WRITE},
    ),
    Constraint(
        role_field="environments",
        target_field="environments",
        item_field=None,
        permit_key="environment",
        word="environment",
        scopes=_PUBLISHING
        | {Scope.RELEASE_DEPLOY, Scope.PUBLISH_QUEUE_WRITE, Scope.ASSETS_MANAGEMENT_WRITE, Scope.ENVIRONMENTS_WRITE},
    ),
    Constraint(
        role_field="automation_projects",
        target_field="automation_projects",
        item_field=None,
        permit_key="automation_project",
        word="automation project",
        # Every write inside a project: its automations, its settings, its variables.
        scopes=frozenset({Scope.AUTOMATIONS_WRITE, Scope.AUTOMATE_PROJECTS_WRITE, Scope.AUTOMATE_VARIABLES_WRITE}),
    ),
    Constraint(
        role_field="branches",
        target_field="branches",
        item_field=None,
        permit_key="branch",
        word="branch",
        scopes=CM_SCOPES & WRITE_SCOPES,
    ),
)

# The role fields that are constraints, in table order (what the policy file may limit).
CONSTRAINT_FIELDS: tuple[str, ...] = tuple(c.role_field for c in CONSTRAINTS)

# Which constraint limits which scopes: a constraint on a role with none of these is an error.
CONSTRAINT_SCOPES: dict[str, frozenset[str]] = {c.role_field: c.scopes for c in CONSTRAINTS}
