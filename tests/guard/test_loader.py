"""The policy file: the format README.md's "Permissions" shows, and every error with its line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, PolicyError, guard_from_settings, load_policy, parse_policy
from tests.helpers import EDITOR_ROLE

DIGEST = hashlib.sha256(b"release-bot-token").hexdigest()

DESIGN_POLICY = f"""\
default_role = "viewer"

{EDITOR_ROLE}
[roles.publisher]
inherits = ["editor"]
scopes = ["cm.entry:publish", "cm.entry:unpublish", "cm.asset:publish", "cm.release:write",
          "cm.release:deploy", "cm.publish-queue.management:write"]
environments = ["development", "staging"]

[roles.automation-operator]
inherits = ["viewer"]
scopes = ["automationhub.automations:write"]
automation_projects = ["proj_123"]

[confirm]
environments = ["production"]
tools = ["delete_entry", "delete_release"]
fallback = "token"

[[principals]]
name = "release-bot"
token_sha256 = "{DIGEST}"
role = "publisher"
"""


def error_of(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "policy.toml")
    return info.value


def test_the_design_example_loads_with_inheritance_resolved() -> None:
    policy = parse_policy(DESIGN_POLICY, "policy.toml")
    publisher = policy.roles["publisher"]
    assert {"cm.entry:read", "cm.entry:write", "cm.entry:publish"} <= publisher.scopes
    assert publisher.content_types == frozenset({"blog_post", "author"})
    assert publisher.environments == frozenset({"development", "staging"})
    assert policy.roles["automation-operator"].automation_projects == frozenset({"proj_123"})
    assert policy.confirm.environments == ["production"]
    assert policy.confirm.fallback == "token"
    assert [(p.name, p.role, p.token_sha256) for p in policy.principals] == [("release-bot", "publisher", DIGEST)]
    assert policy.default_role == "viewer"
    assert policy.source == "policy.toml"


def test_built_in_roles_exist_unless_redefined() -> None:
    policy = parse_policy('[roles.viewer]\nscopes = ["cm.entry:read"]\n')
    assert set(policy.roles) >= {"viewer", "editor", "publisher", "admin"}
    assert policy.roles["viewer"].scopes == frozenset({"cm.entry:read"})
    # editor inherits the redefined viewer
    assert policy.roles["editor"].scopes == frozenset({"cm.entry:read", "cm.entry:write"})


def test_an_empty_file_is_the_built_in_policy() -> None:
    policy = parse_policy("")
    assert policy.default_role == "viewer"
    assert policy.anonymous_role is None
    assert "cm.entry:write" not in policy.roles["viewer"].scopes


def test_a_toml_syntax_error_names_its_line() -> None:
    error = error_of('default_role = "viewer"\n\n[roles.editor\nscopes = []\n')
    assert error.line == 3
    assert error.file == "policy.toml"
    assert str(error).startswith("policy.toml:3: ")


def test_an_inheritance_cycle_is_refused_with_the_cycle_named() -> None:
    text = '[roles.a]\ninherits = ["b"]\nscopes = []\n\n[roles.b]\ninherits = ["a"]\nscopes = []\n'
    error = error_of(text)
    assert "a -> b -> a" in error.problem
    assert error.line in (2, 6)


def test_a_constraint_is_accepted_when_the_scope_that_uses_it_is_inherited() -> None:
    policy = parse_policy('[roles.prod-publisher]\ninherits = ["publisher"]\nenvironments = ["production"]\n')
    assert policy.roles["prod-publisher"].environments == frozenset({"production"})


@pytest.mark.parametrize("digest", ["abc", "g" * 64, "0" * 63, "0" * 65, "release-bot-token"])
def test_a_token_hash_that_is_not_64_hex_characters_is_refused(digest: str) -> None:
    error = error_of(f'[[principals]]\nname = "bot"\ntoken_sha256 = "{digest}"\nrole = "viewer"\n')
    assert error.line == 3
    assert "hash-token" in error.fix


def test_an_uppercase_token_hash_is_accepted_and_normalised() -> None:
    policy = parse_policy(f'[[principals]]\nname = "bot"\ntoken_sha256 = "{DIGEST.upper()}"\nrole = "viewer"\n')
    assert policy.principals[0].token_sha256 == DIGEST


def test_a_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)


def test_load_policy_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(DESIGN_POLICY)
    assert load_policy(good).source == str(good)
    bad = tmp_path / "bad.toml"
    bad.write_text('[roles.x]\nscopes = ["nope"]\n')
    with pytest.raises(PolicyError) as info:
        load_policy(bad)
    assert info.value.file == str(bad)
    assert str(info.value).startswith(f"{bad}:2: ")


def test_guard_from_settings_uses_the_policy_file_and_the_audit_path(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(DESIGN_POLICY)
    settings = Settings(policy_path=policy, audit_log=tmp_path / "audit.jsonl")
    guard = guard_from_settings(settings)
    assert isinstance(guard, Guard)
    assert "automation-operator" in guard.policy.roles
    assert guard.audit is not None
    assert guard.audit.path == tmp_path / "audit.jsonl"


def test_guard_from_settings_without_a_file_is_the_built_in_policy(tmp_path: Path) -> None:
    guard = guard_from_settings(Settings(audit_log=tmp_path / "audit.jsonl"))
    assert guard.policy.default_role == "viewer"
    assert guard.policy.principals == []


@pytest.mark.parametrize("name", ["local", "anonymous"])
def test_a_principal_may_not_take_a_reserved_name(name: str) -> None:
    digest = "a" * 64
    error = error_of(f'[[principals]]\nname = "{name}"\ntoken_sha256 = "{digest}"\nrole = "viewer"\n')
    assert error.line == 2


def test_uploads_name_absolute_directories_and_a_size_cap() -> None:
    policy = parse_policy('[uploads]\ndirectories = ["/srv/media", "/srv/press"]\nmax_bytes = 1048576\n')
    assert policy.uploads.directories == ("/srv/media", "/srv/press")
    assert policy.uploads.max_bytes == 1048576
    assert parse_policy("").uploads.directories == ()


def test_webhook_destinations_are_https_urls_and_none_by_default() -> None:
    policy = parse_policy('[webhooks]\ndestinations = ["https://hooks.example.com/cs", "https://ci.example.org"]\n')
    assert policy.webhooks.destinations == ("https://hooks.example.com/cs", "https://ci.example.org")
    assert parse_policy("").webhooks.destinations == ()


# Policies wrong in one place: (the text, the line at fault, what the fix names or None), the
# roles, principals and [confirm] first, then the [uploads], [webhooks] and [oauth] sections.
MALFORMED: dict[str, tuple[str, int, str | None]] = {
    "an unknown scope names the nearest scope": (
        'default_role = "viewer"\n\n[roles.writer]\nscopes = ["cm.entry:writ"]\n',
        4,
        "'cm.entry:write'",
    ),
    "an unknown inherited role names the nearest role": (
        '[roles.writer]\nscopes = ["cm.entry:write"]\ninherits = ["veiwer"]\n',
        3,
        "'viewer'",
    ),
    "an unknown default role": ('# roles\n\ndefault_role = "ghost"\n', 3, None),
    "an unknown anonymous role": ('anonymous_role = "ghost"\n', 1, None),
    "a principal with an unknown role": (
        f'[[principals]]\nname = "a"\ntoken_sha256 = "{DIGEST}"\nrole = "viewer"\n\n'
        f'[[principals]]\nname = "b"\ntoken_sha256 = "{"0" * 64}"\nrole = "publsher"\n',
        9,
        "'publisher'",
    ),
    "a role inheriting itself is a cycle": ('[roles.a]\ninherits = ["a"]\n', 2, None),
    "environments on a role without publish or deploy scopes": (
        '[roles.writer]\ninherits = ["viewer"]\nscopes = ["cm.entry:write"]\nenvironments = ["dev"]\n',
        4,
        "cm.entry:publish",
    ),
    "automation projects without the automations write scope": (
        '[roles.ops]\ninherits = ["viewer"]\nautomation_projects = ["proj_1"]\n',
        3,
        None,
    ),
    "an unknown key in a role names the nearest key": (
        '[roles.writer]\nscopes = ["cm.entry:write"]\ncontent_type = ["blog_post"]\n',
        3,
        "'content_types'",
    ),
    "an unknown top-level key": ('default_role = "viewer"\ndefualt_role = "viewer"\n', 2, None),
    "an unknown key in confirm": ('[confirm]\nenvironments = ["production"]\nfallbak = "deny"\n', 3, None),
    "an unknown fallback": ('[confirm]\nfallback = "ask"\n', 2, None),
    "two principals with one token": (
        "\n".join(f'[[principals]]\nname = "{name}"\ntoken_sha256 = "{DIGEST}"\nrole = "viewer"\n' for name in "ab"),
        8,
        None,
    ),
    "a scope list that is not a list of strings": ('[roles.writer]\nscopes = "cm.entry:write"\n', 2, None),
}
UPLOADS_MALFORMED: dict[str, tuple[str, int, str | None]] = {
    "a relative upload directory": ('[uploads]\ndirectories = ["media"]\n', 2, None),
    "an upload directory escaping with ..": ('[uploads]\ndirectories = ["/srv/media/../etc"]\n', 2, None),
    "an upload size cap of zero": ("[uploads]\nmax_bytes = 0\n", 2, None),
    "an unknown key in uploads": ('[uploads]\nfolders = ["/srv"]\n', 2, None),
}
# Each a [webhooks] table wrong on its second line.
WEBHOOKS_MALFORMED: dict[str, tuple[str, int, str | None]] = {
    name: (f"[webhooks]\n{line}\n", 2, None)
    for name, line in {
        "an http webhook destination": 'destinations = ["http://hooks.example.com"]',
        "a webhook destination with a password": 'destinations = ["https://a:b@hooks.example.com"]',
        "a webhook destination with a query": 'destinations = ["https://hooks.example.com/?k=1"]',
        "a webhook destination that is not a URL": 'destinations = ["hooks.example.com"]',
        "a webhook destination as a string": 'destinations = "https://hooks.example.com"',
        "no webhook destinations, which reads as nowhere but would be anywhere": "destinations = []",
        "an unknown key in webhooks": 'urls = ["https://hooks.example.com"]',
    }.items()
}
OAUTH_MALFORMED: dict[str, tuple[str, int, str | None]] = {
    "an unknown key in oauth": ('[oauth]\ngroups_clam = "groups"\n', 2, None),
    "an oauth rule with an unknown role": ('[[oauth.rules]]\nrole = "owner"\ngroups = ["a"]\n', 2, None),
    "an oauth rule that matches nothing": ('[[oauth.rules]]\nrole = "viewer"\n', 1, None),
    "an oauth rule with an empty list": ('[[oauth.rules]]\nrole = "viewer"\ngroups = []\n', 3, None),
    "an oauth rule without a role": ('[[oauth.rules]]\ngroups = ["a"]\n', 1, None),
    "an unknown oauth default role": ('[oauth]\ndefault_role = "nobody"\n', 2, None),
    "an oauth rule with a string for a list": ('[[oauth.rules]]\nrole = "viewer"\nsubjects = "alice"\n', 3, None),
}


@pytest.mark.parametrize(
    ("text", "line", "fix"),
    [*MALFORMED.values(), *UPLOADS_MALFORMED.values(), *WEBHOOKS_MALFORMED.values(), *OAUTH_MALFORMED.values()],
    ids=[*MALFORMED, *UPLOADS_MALFORMED, *WEBHOOKS_MALFORMED, *OAUTH_MALFORMED],
)
def test_a_policy_wrong_in_one_place_is_an_error_at_that_line(text: str, line: int, fix: str | None) -> None:
    error = error_of(text)
    assert error.line == line
    if fix is not None:
        assert fix in error.fix
