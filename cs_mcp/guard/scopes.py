"""Contentstack's OAuth scope names (FACTS.md section 9): the guard's vocabulary."""

from __future__ import annotations

CM_SCOPES = frozenset(
    {
        "cm.content-type:read",
        "cm.entry:read",
        "cm.entry:write",
        "cm.entry:publish",
        "cm.entry:unpublish",
        "cm.asset:read",
        "cm.asset:publish",
        "cm.asset:unpublish",
        "cm.bulk-operations:publish",
        "cm.bulk-operations:unpublish",
        "cm.environments.management:read",
        "cm.languages.management:read",
        "cm.publish-queue.management:read",
        "cm.publish-queue.management:write",
        "cm.release:read",
        "cm.release:write",
        "cm.release:deploy",
        "cm.release:clone",
        "cm.releases.management:write",
    }
)

AUTOMATE_SCOPES = frozenset(
    {
        "automationhub.projects.management:read",
        "automationhub.projects.management:write",
        "automationhub.automations:read",
        "automationhub.automations:write",
        "automationhub.executions:read",
        "automationhub.audit-log:read",
        "automationhub.variables:read",
    }
)

ALL_SCOPES = CM_SCOPES | AUTOMATE_SCOPES | frozenset({"analytics:read"})

# Which constraint limits which scopes: a constraint on a role with none of these is an error.
CONSTRAINT_SCOPES: dict[str, frozenset[str]] = {
    "content_types": frozenset(
        {"cm.entry:write", "cm.entry:publish", "cm.entry:unpublish", "cm.release:write", "cm.release:deploy"}
    ),
    "locales": frozenset(
        {
            "cm.entry:write",
            "cm.entry:publish",
            "cm.entry:unpublish",
            "cm.asset:publish",
            "cm.asset:unpublish",
            "cm.release:write",
            "cm.release:deploy",
        }
    ),
    "environments": frozenset(
        {
            "cm.entry:publish",
            "cm.entry:unpublish",
            "cm.asset:publish",
            "cm.asset:unpublish",
            "cm.release:deploy",
            "cm.publish-queue.management:write",
        }
    ),
    "automation_projects": frozenset({"automationhub.automations:write"}),
    "branches": CM_SCOPES - frozenset(s for s in CM_SCOPES if s.endswith(":read")),
}
