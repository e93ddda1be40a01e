"""Confirmation tokens: bound to principal, tool, arguments and versions; single use; 5 minutes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cs_mcp.guard import ConfirmationAuthority, ConfirmationError, ItemTarget, Targets
from cs_mcp.guard.confirm import TOKEN_LIFETIME_SECONDS, bound_targets, canonical_arguments
from tests.helpers import assert_unreadable_in_token, token_payload

ARGS: dict[str, object] = {"entry": "blt1", "environments": ["production"], "locales": ["en-us"], "dry_run": False}
VERSIONS = {"blog_post/blt1": 3}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def authority(clock: FakeClock) -> ConfirmationAuthority:
    return ConfirmationAuthority(clock=clock)


def refusal(
    authority: ConfirmationAuthority,
    token: str,
    *,
    principal: str = "bot",
    tool: str = "publish_entry",
    arguments: dict[str, object] | None = None,
    versions: dict[str, int] | None = None,
) -> str:
    with pytest.raises(ConfirmationError) as info:
        authority.verify(token, principal, tool, arguments or ARGS, VERSIONS if versions is None else versions)
    return info.value.reason


def _payload(token: str) -> dict[str, Any]:
    """What anyone holding `token` can read of it."""
    return json.loads(token_payload(token))


def issue(authority: ConfirmationAuthority) -> str:
    return authority.issue("bot", "publish_entry", ARGS, VERSIONS).token


def test_a_valid_token_confirms_its_call_once(authority: ConfirmationAuthority) -> None:
    token = issue(authority)
    authority.verify(token, "bot", "publish_entry", ARGS, VERSIONS)
    assert refusal(authority, token) == "replayed"


def test_dry_run_and_the_token_itself_are_not_bound(authority: ConfirmationAuthority) -> None:
    token = issue(authority)
    again = {**ARGS, "dry_run": True, "confirmation_token": token}
    authority.verify(token, "bot", "publish_entry", again, VERSIONS)


def test_argument_order_does_not_matter() -> None:
    assert canonical_arguments({"a": 1, "b": [2]}) == canonical_arguments({"b": [2], "a": 1})


def test_altered_arguments_are_refused(authority: ConfirmationAuthority) -> None:
    token = issue(authority)
    altered = {**ARGS, "environments": ["production", "staging"]}
    assert refusal(authority, token, arguments=altered) == "altered"
    # the refused attempt did not spend the token
    authority.verify(token, "bot", "publish_entry", ARGS, VERSIONS)


def test_a_hidden_argument_is_bound_without_being_readable_in_the_token(authority: ConfirmationAuthority) -> None:
    hidden = {"value": "sk-live-approved"}
    token = authority.issue("bot", "update_project_variable", ARGS, VERSIONS, hidden=hidden).token
    with pytest.raises(ConfirmationError) as other:
        authority.verify(token, "bot", "update_project_variable", ARGS, VERSIONS, hidden={"value": "sk-live-other"})
    with pytest.raises(ConfirmationError) as without:
        authority.verify(token, "bot", "update_project_variable", ARGS, VERSIONS)
    authority.verify(token, "bot", "update_project_variable", ARGS, VERSIONS, hidden=hidden)
    # The payload's digest is not one a guess at the secret could be checked against: it
    # depends on the authority's key, so another process (or anyone without the key) computes
    # another one for the same arguments and the same value.
    elsewhere = ConfirmationAuthority().issue("bot", "update_project_variable", ARGS, VERSIONS, hidden=hidden).token
    assert other.value.reason == without.value.reason == "altered"
    assert _payload(token)["a"] != _payload(elsewhere)["a"]
    assert_unreadable_in_token("sk-live-approved", token)


def test_another_principal_cannot_use_the_token(authority: ConfirmationAuthority) -> None:
    assert refusal(authority, issue(authority), principal="intruder") == "other_principal"


def test_another_tool_cannot_use_the_token(authority: ConfirmationAuthority) -> None:
    assert refusal(authority, issue(authority), tool="delete_entry") == "other_tool"


def test_a_target_changed_since_the_preview_is_refused(authority: ConfirmationAuthority) -> None:
    assert refusal(authority, issue(authority), versions={"blog_post/blt1": 4}) == "stale"


def test_an_expired_token_is_refused(authority: ConfirmationAuthority, clock: FakeClock) -> None:
    token = issue(authority)
    clock.now += TOKEN_LIFETIME_SECONDS - 1
    fresh = issue(authority)
    authority.verify(fresh, "bot", "publish_entry", ARGS, VERSIONS)
    clock.now += 1
    assert refusal(authority, token) == "expired"


def test_a_token_from_another_process_is_forged(authority: ConfirmationAuthority) -> None:
    other = ConfirmationAuthority()
    assert refusal(authority, issue(other)) == "forged"


def test_an_edited_token_is_forged(authority: ConfirmationAuthority) -> None:
    payload, mac = issue(authority).split(".")
    edited = ("A" if payload[0] != "A" else "B") + payload[1:]
    assert refusal(authority, f"{edited}.{mac}") in ("forged", "malformed")


@pytest.mark.parametrize("token", ["", "nonsense", "a.b.c", "!!!.???"])
def test_a_malformed_token_is_refused(authority: ConfirmationAuthority, token: str) -> None:
    assert refusal(authority, token) in ("malformed", "forged")


@pytest.mark.parametrize(
    "spelling",
    ["{payload}.{mac}!!!!", "!!{payload}.{mac}", "{payload}=.{mac}", "{payload}.{mac}=", "{head}\n{tail}.{mac}"],
    ids=["junk after", "junk before", "padding in the payload", "padding in the mac", "a line break inside"],
)
def test_a_token_spelled_another_way_is_malformed_and_confirms_nothing(
    authority: ConfirmationAuthority, spelling: str
) -> None:
    token = issue(authority)
    payload, mac = token.split(".")
    respelled = spelling.format(payload=payload, mac=mac, head=payload[:10], tail=payload[10:])
    assert refusal(authority, respelled) == "malformed"
    authority.verify(token, "bot", "publish_entry", ARGS, VERSIONS)


@pytest.mark.parametrize(
    "now",
    [
        Targets(content_types=("blog_post",), locales=("en-us",), environments=("production",)),
        Targets(content_types=("blog_post",), locales=("en-us", "fr-fr")),
        Targets(items=(ItemTarget("entry blog_post/blt1", "blog_post", "en-us"),)),
    ],
)
def test_a_token_bound_to_one_target_set_is_stale_for_another(authority: ConfirmationAuthority, now: Targets) -> None:
    previewed = Targets(content_types=("blog_post",), locales=("en-us",))
    token = authority.issue("bot", "delete_entry", ARGS, bound_targets(previewed, VERSIONS)).token
    with pytest.raises(ConfirmationError) as refused:
        authority.verify(token, "bot", "delete_entry", ARGS, bound_targets(now, VERSIONS))
    assert refused.value.reason == "stale"


def test_a_token_bound_to_a_target_set_confirms_the_same_set(authority: ConfirmationAuthority) -> None:
    targets = Targets(content_types=("blog_post",), locales=("en-us",), environments=("staging",))
    token = authority.issue("bot", "delete_entry", ARGS, bound_targets(targets, VERSIONS)).token
    authority.verify(token, "bot", "delete_entry", ARGS, bound_targets(targets, VERSIONS))
