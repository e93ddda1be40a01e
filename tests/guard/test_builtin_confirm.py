"""Safe defaults: without a policy file, destructive writes wait for a human's yes, whatever the role."""

from __future__ import annotations

import pytest

from cs_mcp.guard import Guard, Principal, Targets, builtin_policy
from cs_mcp.guard.policy import production_like
from tests.guard._declared import Declared

DELETE_ENTRY = frozenset({"cm.entry:write"})
UNPUBLISH = frozenset({"cm.entry:unpublish"})
PUBLISH = frozenset({"cm.entry:publish"})


@pytest.mark.parametrize("role", ["editor", "publisher", "admin"])
@pytest.mark.parametrize("tool", ["delete_entry", "delete_release"])
def test_deleting_asks_for_confirmation_for_every_role_that_may_write(role: str, tool: str) -> None:
    guard = Guard(builtin_policy())
    verdict = guard.check(Principal("local", role), Declared(tool, DELETE_ENTRY), Targets(branches=("main",)))
    assert verdict.decision == "confirm"


@pytest.mark.parametrize("role", ["publisher", "admin"])
@pytest.mark.parametrize("environment", ["production", "Production", "PROD", "prod-eu", "live", "eu_Live"])
def test_unpublishing_from_an_environment_named_like_production_asks_for_confirmation(
    role: str, environment: str
) -> None:
    guard = Guard(builtin_policy())
    verdict = guard.check(
        Principal("local", role), Declared("unpublish", UNPUBLISH), Targets(environments=(environment,))
    )
    assert verdict.decision == "confirm"


@pytest.mark.parametrize("environment", ["staging", "development", "preview", "liveblog"])
def test_unpublishing_elsewhere_and_publishing_anywhere_need_no_confirmation(environment: str) -> None:
    guard = Guard(builtin_policy())
    publisher = Principal("local", "publisher")
    unpublished = guard.check(publisher, Declared("unpublish", UNPUBLISH), Targets(environments=(environment,)))
    published = guard.check(publisher, Declared("publish", PUBLISH), Targets(environments=("production",)))
    assert unpublished.decision == "allow"
    assert published.decision == "allow"


def test_a_viewer_is_still_denied_before_any_confirmation() -> None:
    verdict = Guard(builtin_policy()).check(
        Principal("local", "viewer"), Declared("delete_entry", DELETE_ENTRY), Targets()
    )
    assert verdict.decision == "deny"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("production", True), ("Prod", True), ("us-live-2", True), ("products", False), ("staging", False)],
)
def test_production_like_reads_the_words_of_the_name(name: str, expected: bool) -> None:
    assert production_like(name) is expected
