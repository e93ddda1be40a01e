"""Layer 2: every deny path of the check, exact names, bulk item by item, confirmation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from cs_mcp.guard import Guard, ItemTarget, PermitError, Principal, Targets, Verdict, parse_policy
from tests.guard._declared import Declared
from tests.helpers import EDITOR_ROLE

POLICY = (
    EDITOR_ROLE
    + """
[roles.publisher]
inherits = ["editor"]
scopes = ["cm.entry:publish", "cm.entry:unpublish", "cm.release:write", "cm.release:deploy"]
environments = ["development", "staging", "production"]

[roles.branch-publisher]
inherits = ["publisher"]
branches = ["main"]

[roles.ops]
inherits = ["viewer"]
scopes = ["automationhub.automations:write"]
automation_projects = ["proj_123"]

[roles.everything]
inherits = ["publisher"]
content_types = ["*"]

[confirm]
environments = ["production"]
tools = ["delete_entry"]
"""
)

PUBLISH = frozenset({"cm.entry:publish"})
GUARD = Guard(parse_policy(POLICY))


def check(role: str, targets: Targets, scopes: frozenset[str] = PUBLISH, tool: str = "publish_entry") -> Verdict:
    return GUARD.check(Principal(name="p", role=role), Declared(tool, scopes), targets)


def test_an_allowed_publish_is_allowed_with_the_role_as_rule() -> None:
    verdict = check("publisher", Targets(content_types=("blog_post",), locales=("en-us",), environments=("staging",)))
    assert verdict.decision == "allow"
    assert verdict.rule == "roles.publisher"


def test_an_unknown_role_is_denied_and_the_known_roles_listed() -> None:
    verdict = check("ghost", Targets())
    assert verdict.decision == "deny"
    assert verdict.rule == "roles"
    assert "publisher" in verdict.allowed["roles"]


def test_a_missing_scope_is_denied_naming_the_scope() -> None:
    verdict = check("editor", Targets(content_types=("blog_post",)))
    assert verdict.decision == "deny"
    assert verdict.rule == "roles.editor.scopes"
    assert verdict.offending == ("cm.entry:publish",)


@pytest.mark.parametrize(
    ("role", "targets", "rule", "offending"),
    [
        ("publisher", Targets(content_types=("page",)), "roles.publisher.content_types", "page"),
        ("publisher", Targets(locales=("de-de",)), "roles.publisher.locales", "de-de"),
        ("publisher", Targets(environments=("qa",)), "roles.publisher.environments", "qa"),
        ("branch-publisher", Targets(branches=("feature",)), "roles.branch-publisher.branches", "feature"),
    ],
)
def test_each_constraint_denies_outside_names(role: str, targets: Targets, rule: str, offending: str) -> None:
    verdict = check(role, targets)
    assert verdict.decision == "deny"
    assert verdict.rule == rule
    assert verdict.offending == (offending,)


def test_an_automation_project_outside_the_role_is_denied() -> None:
    scopes = frozenset({"automationhub.automations:write"})
    inside = check("ops", Targets(automation_projects=("proj_123",)), scopes, "activate_automation")
    outside = check("ops", Targets(automation_projects=("proj_999",)), scopes, "activate_automation")
    assert inside.decision == "allow"
    assert outside.decision == "deny"
    assert outside.rule == "roles.ops.automation_projects"
    assert outside.allowed == {"automation_projects": ["proj_123"]}


@pytest.mark.parametrize(
    "targets",
    [
        Targets(environments=("Production",)),
        Targets(environments=("production ",)),
        Targets(locales=("fr-FR",)),
        Targets(locales=("EN-us",)),
        Targets(content_types=("Blog_post",)),
        Targets(content_types=("blog_pos\u0442",)),  # Cyrillic te
        Targets(environments=("pr\u043eduction",)),  # Cyrillic o
    ],
)
def test_names_are_compared_exactly_without_case_folding_or_look_alikes(targets: Targets) -> None:
    assert check("publisher", targets).decision == "deny"


def test_exact_case_does_not_let_production_slip_past_the_confirm_rule() -> None:
    # "Production" is denied outright rather than allowed without confirmation
    verdict = check("publisher", Targets(content_types=("blog_post",), environments=("Production",)))
    assert verdict.decision == "deny"


def test_one_bad_item_of_a_bulk_call_denies_the_whole_call_and_lists_every_bad_item() -> None:
    items = (
        ItemTarget("entry blog_post/blt1 (en-us)", "blog_post", "en-us"),
        ItemTarget("entry page/blt2 (en-us)", "page", "en-us"),
        ItemTarget("entry author/blt3 (de-de)", "author", "de-de"),
        ItemTarget("asset blt4 (en-us)", None, "en-us"),
    )
    verdict = check("publisher", Targets(environments=("staging",), items=items))
    assert verdict.decision == "deny"
    assert verdict.offending == (
        "entry page/blt2 (en-us) (content type page)",
        "entry author/blt3 (de-de) (locale de-de)",
    )
    assert "roles.publisher.content_types" in (verdict.rule or "")
    assert "roles.publisher.locales" in (verdict.rule or "")
    assert "blt2" in verdict.reason
    assert "blt3" in verdict.reason


def test_a_release_whose_items_include_one_disallowed_content_type_is_denied() -> None:
    items = tuple(ItemTarget(f"entry blog_post/blt{i}", "blog_post", "en-us") for i in range(24))
    items += (ItemTarget("entry product/blt99", "product", "en-us"),)
    scopes = frozenset({"cm.release:deploy"})
    verdict = check("publisher", Targets(environments=("staging",), releases=("rel1",), items=items), scopes)
    assert verdict.decision == "deny"
    assert verdict.offending == ("entry product/blt99 (content type product)",)


def test_a_star_constraint_allows_every_name() -> None:
    verdict = check("everything", Targets(content_types=("page", "product"), environments=("staging",)))
    assert verdict.decision == "allow"


def test_a_write_touching_a_confirm_environment_needs_confirmation() -> None:
    verdict = check("publisher", Targets(content_types=("blog_post",), environments=("staging", "production")))
    assert verdict.decision == "confirm"
    assert "production" in verdict.reason


def test_a_confirm_tool_needs_confirmation_even_outside_confirm_environments() -> None:
    scopes = frozenset({"cm.entry:write"})
    verdict = check("editor", Targets(content_types=("blog_post",)), scopes, tool="delete_entry")
    assert verdict.decision == "confirm"


def test_a_deny_wins_over_a_confirm() -> None:
    verdict = check("publisher", Targets(content_types=("page",), environments=("production",)))
    assert verdict.decision == "deny"


def test_a_viewer_may_not_write_anything() -> None:
    verdict = check("viewer", Targets(content_types=("blog_post",)), frozenset({"cm.entry:write"}))
    assert verdict.decision == "deny"


STAGING = Targets(content_types=("blog_post",), locales=("en-us",), environments=("staging",))


def test_a_permit_is_minted_from_an_allowing_verdict_for_exactly_its_targets() -> None:
    permit = GUARD.permit(check("publisher", STAGING), "entry.publish")
    assert (permit.principal, permit.tool, permit.operation) == ("p", "publish_entry", "entry.publish")
    assert permit.targets["environment"] == frozenset({"staging"})
    GUARD.permits.verify(permit, "entry.publish", {"environment": ["staging"], "content_type": ["blog_post"]})


@pytest.mark.parametrize(
    "targets",
    [
        Targets(content_types=("page",), environments=("staging",)),  # deny
        Targets(content_types=("blog_post",), environments=("production",)),  # confirm, not yet confirmed
    ],
)
def test_no_permit_is_minted_from_a_verdict_that_does_not_allow(targets: Targets) -> None:
    verdict = check("publisher", targets)
    assert verdict.decision != "allow"
    with pytest.raises(PermitError):
        GUARD.permit(verdict, "entry.publish")


def test_a_confirmed_verdict_mints_a_permit() -> None:
    verdict = check("publisher", Targets(content_types=("blog_post",), environments=("production",)))
    permit = GUARD.permit(GUARD.confirmed(verdict), "entry.publish")
    assert permit.targets["environment"] == frozenset({"production"})


def _unsealed(_verdict: Verdict) -> Verdict:
    return Verdict("allow", "allowed", principal="p", tool="publish_entry", targets=STAGING)


def _other_targets(verdict: Verdict) -> Verdict:
    return replace(verdict, targets=Targets(environments=("production",)))


def _other_tool(verdict: Verdict) -> Verdict:
    return replace(verdict, tool="delete_entry")


def _confirmation_as_allow(verdict: Verdict) -> Verdict:
    return replace(verdict, decision="allow")


@pytest.mark.parametrize("forge", [_unsealed, _other_targets, _other_tool, _confirmation_as_allow])
def test_a_verdict_not_given_by_the_guard_mints_no_permit(forge: Callable[[Verdict], Verdict]) -> None:
    confirm = check("publisher", Targets(content_types=("blog_post",), environments=("production",)))
    forged = forge(confirm)
    with pytest.raises(PermitError):
        GUARD.permit(forged, "entry.publish")


def test_another_guards_verdict_mints_no_permit() -> None:
    other = Guard(parse_policy(POLICY))
    verdict = other.check(Principal(name="p", role="publisher"), Declared("publish_entry", PUBLISH), STAGING)
    with pytest.raises(PermitError):
        GUARD.permit(verdict, "entry.publish")
    with pytest.raises(PermitError):
        GUARD.confirmed(verdict)


def test_a_tool_can_insist_on_confirmation_where_the_policy_allows_but_never_lift_a_denial() -> None:
    allowed = check("publisher", Targets(content_types=("blog_post",), environments=("staging",)))
    insisted = GUARD.insist(allowed, "it removes fields entries use")
    denied = check("publisher", Targets(content_types=("product",)))
    assert (insisted.decision, insisted.rule) == ("confirm", "tool")
    assert GUARD.confirmed(insisted).decision == "allow"
    assert GUARD.insist(denied, "anything") == denied
    with pytest.raises(PermitError):
        GUARD.permit(insisted, "entry.publish")
    with pytest.raises(PermitError):
        GUARD.insist(replace(allowed, decision="allow", seal=b"forged"), "anything")
