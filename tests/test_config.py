"""Settings from the environment: names, checks, and no secret in any message."""

from __future__ import annotations

import pytest

from cs_mcp.client import Api, RateLimits
from cs_mcp.config import CAPABILITY_HINTS, Capability, ConfigError, Settings
from tests.oauth_issuer import AUDIENCE


def test_the_official_servers_variable_names_configure_a_stack() -> None:
    settings = Settings.from_env(
        {
            "CONTENTSTACK_API_KEY": "blt123",
            "CONTENTSTACK_MANAGEMENT_TOKEN": "cs-secret-management",
            "CONTENTSTACK_DELIVERY_TOKEN": "cs-secret-delivery",
            "CONTENTSTACK_ENVIRONMENT": "production",
            "CONTENTSTACK_REGION": "aws-eu",
            "CONTENTSTACK_BRANCH": "dev",
            "CONTENTSTACK_LOCALE": "fr-fr",
            "CONTENTSTACK_CMA_BASE_URL": "http://127.0.0.1:9000/cma/",
        }
    )
    config = settings.client_config()
    assert settings.region == "EU"
    assert config.delivery_tokens == {"production": "cs-secret-delivery"}
    assert config.branch == "dev"
    assert settings.base_urls[Api.CMA] == "http://127.0.0.1:9000/cma"
    assert "cs-secret-management" not in repr(settings)
    assert "cs-secret-management" not in str(settings.model_dump())


def test_delivery_tokens_for_several_environments_are_read_as_pairs() -> None:
    settings = Settings.from_env(
        {"CONTENTSTACK_API_KEY": "k", "CS_MCP_DELIVERY_TOKENS": "development=d1, staging = d2"}
    )
    assert settings.client_config().delivery_tokens == {"development": "d1", "staging": "d2"}


def oauth_env(issuer: str, audience: str, jwks_url: str, **more: str) -> dict[str, str]:
    """The CS_MCP_OAUTH_* variables for a provider at `issuer` and this server at `audience`;
    `more` by the rest of their names (ALGORITHMS="RS256")."""
    named = {"ISSUER": issuer, "AUDIENCE": audience, "JWKS_URL": jwks_url, **more}
    return {f"CS_MCP_OAUTH_{name}": value for name, value in named.items()}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"CONTENTSTACK_REGION": "moon"}, "CONTENTSTACK_REGION"),
        ({"CONTENTSTACK_CDA_BASE_URL": "cdn.example.com"}, "CONTENTSTACK_CDA_BASE_URL"),
        ({"CONTENTSTACK_ORGANIZATION_UID": "org"}, "CONTENTSTACK_AUTHTOKEN"),
        ({"CONTENTSTACK_MANAGEMENT_TOKEN": "cs-secret"}, "CONTENTSTACK_API_KEY"),
        ({"CONTENTSTACK_API_KEY": "k", "CONTENTSTACK_DELIVERY_TOKEN": "cs-secret"}, "CONTENTSTACK_ENVIRONMENT"),
        ({"CONTENTSTACK_API_KEY": "k", "CS_MCP_DELIVERY_TOKENS": "cs-secret"}, "CS_MCP_DELIVERY_TOKENS"),
        # OAuth half set, its provider over plain HTTP, a symmetric algorithm
        ({"CS_MCP_OAUTH_ISSUER": "https://idp.example"}, "CS_MCP_OAUTH_AUDIENCE"),
        (oauth_env("http://idp.example", AUDIENCE, "https://idp.example/jwks"), "CS_MCP_OAUTH_ISSUER"),
        (
            oauth_env("https://idp.example", AUDIENCE, "https://idp.example/jwks", ALGORITHMS="RS256,HS256"),
            "CS_MCP_OAUTH_ALGORITHMS",
        ),
    ],
)
def test_a_bad_or_half_set_configuration_names_the_variable_and_hides_secrets(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert info.value.variable == variable
    assert "cs-secret" not in str(info.value)


def test_no_credentials_means_the_sandbox_is_served() -> None:
    assert not Settings.from_env({}).has_credentials
    assert Settings.from_env({"CONTENTSTACK_API_KEY": "k"}).has_credentials


CAPABILITY_CASES: list[tuple[dict[str, str], set[Capability]]] = [
    ({}, set()),
    ({"CONTENTSTACK_API_KEY": "k"}, set()),
    ({"CONTENTSTACK_API_KEY": "k", "CONTENTSTACK_MANAGEMENT_TOKEN": "m"}, {Capability.CMA}),
    ({"CONTENTSTACK_API_KEY": "k", "CONTENTSTACK_AUTHTOKEN": "a"}, {Capability.CMA}),
    ({"CONTENTSTACK_API_KEY": "k", "CONTENTSTACK_OAUTH_TOKEN": "o"}, {Capability.CMA}),
    ({"CONTENTSTACK_AUTHTOKEN": "a"}, set()),
    ({"CONTENTSTACK_AUTHTOKEN": "a", "CONTENTSTACK_ORGANIZATION_UID": "org"}, {Capability.ORGANIZATION}),
    (
        {"CONTENTSTACK_API_KEY": "k", "CONTENTSTACK_AUTHTOKEN": "a", "CONTENTSTACK_ORGANIZATION_UID": "org"},
        {Capability.CMA, Capability.ORGANIZATION},
    ),
    (
        {
            "CONTENTSTACK_API_KEY": "k",
            "CONTENTSTACK_DELIVERY_TOKEN": "d",
            "CONTENTSTACK_ENVIRONMENT": "production",
        },
        {Capability.DELIVERY},
    ),
    ({"CONTENTSTACK_API_KEY": "k", "CS_MCP_DELIVERY_TOKENS": "staging=d"}, {Capability.DELIVERY}),
]


@pytest.mark.parametrize(("env", "expected"), CAPABILITY_CASES)
def test_capabilities_say_which_apis_the_configured_credentials_reach(
    env: dict[str, str], expected: set[Capability]
) -> None:
    assert Settings.from_env(env).capabilities() == expected


def test_every_capability_says_what_to_set_without_any_value() -> None:
    assert set(CAPABILITY_HINTS) == set(Capability)
    assert all(hint.startswith("set ") for hint in CAPABILITY_HINTS.values())


def test_rate_limits_default_to_contentstacks_and_may_be_raised_per_family() -> None:
    assert Settings.from_env({}).rate_limits == RateLimits()
    # The lower of the figures Contentstack's pages give: 10 CMA reads and 10 writes a second,
    # 1 bulk request, 80 uncached CDA requests (not the 100 another passage gives).
    defaults = RateLimits()
    assert (defaults.cma_read, defaults.cma_write, defaults.cma_bulk, defaults.cda) == (10, 10, 1, 80)
    raised = Settings.from_env({"CS_MCP_RATE_LIMITS": "cma_read=20, cda=300"}).rate_limits
    assert (raised.cma_read, raised.cda, raised.cma_write) == (20, 300, 10)


@pytest.mark.parametrize("raw", ["cma_reads=20", "cma_read", "cma_read=0", "cma_read=fast", "cda=1.5"])
def test_a_malformed_rate_limit_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"CS_MCP_RATE_LIMITS": raw})
    assert caught.value.variable == "CS_MCP_RATE_LIMITS"


def test_audit_rotation_and_the_session_cap_have_defaults_and_may_be_set() -> None:
    default = Settings.from_env({})
    assert (default.audit_max_bytes, default.audit_keep, default.max_sessions_per_principal) == (50 * 1024**2, 5, 20)
    env = {"CS_MCP_AUDIT_MAX_BYTES": "1048576", "CS_MCP_AUDIT_KEEP": "2", "CS_MCP_MAX_SESSIONS_PER_PRINCIPAL": "3"}
    settings = Settings.from_env(env)
    assert (settings.audit_max_bytes, settings.audit_keep, settings.max_sessions_per_principal) == (1048576, 2, 3)


LIMIT_VARIABLES = ["CS_MCP_AUDIT_MAX_BYTES", "CS_MCP_AUDIT_KEEP", "CS_MCP_MAX_SESSIONS_PER_PRINCIPAL"]


@pytest.mark.parametrize("variable", LIMIT_VARIABLES)
@pytest.mark.parametrize("raw", ["0", "-1", "50MB", "1.5"])
def test_a_limit_that_is_not_a_positive_whole_number_names_the_variable(variable: str, raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({variable: raw})
    assert info.value.variable == variable


SECRET_KEY = "s" * 32


def test_without_redis_one_process_keeps_its_own_state() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url is None
    assert settings.secret_key is None
    assert settings.replicas == 3


def test_redis_with_a_secret_key_and_a_replica_count_is_read() -> None:
    env = {"CS_MCP_REDIS_URL": "redis://127.0.0.1:6379/0", "CS_MCP_SECRET_KEY": SECRET_KEY, "CS_MCP_REPLICAS": "4"}
    settings = Settings.from_env(env)
    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == env["CS_MCP_REDIS_URL"]
    assert settings.replicas == 4
    assert SECRET_KEY not in repr(settings)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"CS_MCP_REDIS_URL": "redis://127.0.0.1:6379/0"}, "CS_MCP_SECRET_KEY"),
        ({"CS_MCP_REDIS_URL": "redis://127.0.0.1:6379/0", "CS_MCP_SECRET_KEY": "short"}, "CS_MCP_SECRET_KEY"),
        ({"CS_MCP_REDIS_URL": "http://127.0.0.1:6379", "CS_MCP_SECRET_KEY": SECRET_KEY}, "CS_MCP_REDIS_URL"),
        ({"CS_MCP_REPLICAS": "0"}, "CS_MCP_REPLICAS"),
    ],
)
def test_redis_without_a_usable_secret_key_is_refused_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert refused.value.variable == variable


@pytest.mark.parametrize("name", ["cs-mcp-7d9f8b6c5-x2kq4", "cs-mcp-1", "cs-mcp@2", "web.mcp_3:blue", "n" * 100])
def test_a_replica_name_such_as_a_pod_service_or_instance_name_is_read(name: str) -> None:
    assert Settings.from_env({"CS_MCP_REPLICA_NAME": f" {name} "}).replica_name == name


def test_without_a_replica_name_each_process_is_its_own_replica() -> None:
    assert Settings.from_env({}).replica_name is None
    assert Settings.from_env({"CS_MCP_REPLICA_NAME": "  "}).replica_name is None


@pytest.mark.parametrize("name", ["n" * 101, "cs mcp 1", "cs-mcp/1", "réplica-1", "cs-mcp\n1"])
def test_a_replica_name_too_long_or_with_other_characters_is_refused_naming_the_variable(name: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"CS_MCP_REPLICA_NAME": name})
    assert refused.value.variable == "CS_MCP_REPLICA_NAME"
    assert "at most 100" in str(refused.value)


def test_oauth_settings_name_the_metadata_url_from_the_audience() -> None:
    realm = "https://idp.example/realms/team"
    env = oauth_env(realm, "https://mcp.example.com/mcp", f"{realm}/certs", ALGORITHMS="RS256, PS256")
    settings = Settings.from_env(env)
    assert settings.oauth is not None
    assert settings.oauth.algorithms == ("RS256", "PS256")
    assert settings.oauth.metadata_url == "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
