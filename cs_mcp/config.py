"""Configuration: one `Settings` model read once from the environment.

The variable names are the official Contentstack MCP server's, so a user switches by changing
only the command; cs-mcp adds `CONTENTSTACK_AUTHTOKEN`, `CONTENTSTACK_OAUTH_TOKEN`,
`CS_MCP_DELIVERY_TOKENS`, `CS_MCP_POLICY`, `CS_MCP_ROLE`, `CS_MCP_TOOLSETS`, `CS_MCP_AUDIT_LOG`,
`CS_MCP_RATE_LIMITS` (for organizations whose plan raised Contentstack's default limits),
`CS_MCP_RELEASE_VERSION` (the `release_version` header of release requests: `2.0` unless set;
set it empty to send none), and the limits `CS_MCP_AUDIT_MAX_BYTES`, `CS_MCP_AUDIT_KEEP` and
`CS_MCP_MAX_SESSIONS_PER_PRINCIPAL`; for replicas sharing state, `CS_MCP_REDIS_URL`,
`CS_MCP_SECRET_KEY`, `CS_MCP_REPLICAS` and `CS_MCP_REPLICA_NAME` (each replica's own); for
people signing in through the team's identity provider over HTTP, `CS_MCP_OAUTH_ISSUER`,
`CS_MCP_OAUTH_AUDIENCE`, `CS_MCP_OAUTH_JWKS_URL` and `CS_MCP_OAUTH_ALGORITHMS`; behind a reverse
proxy, `CS_MCP_ALLOWED_HOSTS` (see docs/DEPLOY.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from cs_mcp.client import (
    DEFAULT_RELEASE_VERSION,
    Api,
    ClientConfig,
    InvalidBaseURLError,
    RateLimits,
    UnknownRegionError,
    normalise_base_url,
    resolve_region,
)
from cs_mcp.guard.audit import DEFAULT_KEEP as DEFAULT_AUDIT_KEEP
from cs_mcp.guard.audit import DEFAULT_MAX_BYTES as DEFAULT_AUDIT_MAX_BYTES


class ConfigError(ValueError):
    """A setting is missing, malformed or half-set. The message names the variable and what is
    expected, and never contains a secret's value."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


_BASE_URL_VARS: dict[Api, str] = {
    Api.CMA: "CONTENTSTACK_CMA_BASE_URL",
    Api.CDA: "CONTENTSTACK_CDA_BASE_URL",
    Api.ANALYTICS: "CONTENTSTACK_ANALYTICS_BASE_URL",
    Api.AUTOMATE: "CONTENTSTACK_AUTOMATIONS_BASE_URL",
}


DEFAULT_MAX_SESSIONS_PER_PRINCIPAL = 20
DEFAULT_REPLICAS = 3
# The shared HMAC key must be hard to guess: 32 characters of a random string at least.
MIN_SECRET_KEY_LENGTH = 32
# A replica's stable name: what a pod, a compose service or a systemd instance is called, short
# and printable, so that it is one and the same id in Redis and in a log line.
MAX_REPLICA_NAME_LENGTH = 100
_REPLICA_NAME = re.compile(r"[A-Za-z0-9._@:-]+")


def default_state_dir() -> Path:
    """Where the audit log lives by default: `$XDG_STATE_HOME/cs-mcp` or `~/.local/state/cs-mcp`."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cs-mcp"


def default_data_dir() -> Path:
    """Where the sandbox's database lives by default."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cs-mcp"


class Capability(StrEnum):
    """What the configured credentials let cs-mcp reach; a toolset names the one it needs."""

    CMA = "cma"  # the stack's Content Management API: API key plus management, OAuth or authtoken
    DELIVERY = "delivery"  # the Content Delivery API: API key plus a delivery token for an environment
    ORGANIZATION = "organization"  # analytics and Automate: a user token (authtoken or OAuth) and the organization


# What to set to gain each capability, as the server and `cs-mcp doctor` say it.
CAPABILITY_HINTS: dict[Capability, str] = {
    Capability.CMA: "set CONTENTSTACK_API_KEY and CONTENTSTACK_MANAGEMENT_TOKEN (or CONTENTSTACK_AUTHTOKEN)",
    Capability.DELIVERY: ("set CONTENTSTACK_DELIVERY_TOKEN and CONTENTSTACK_ENVIRONMENT (or CS_MCP_DELIVERY_TOKENS)"),
    Capability.ORGANIZATION: (
        "set CONTENTSTACK_AUTHTOKEN and CONTENTSTACK_ORGANIZATION_UID "
        "(an organization owner's or admin's authtoken; management tokens are not accepted)"
    ),
}


# JWS algorithms an access token may be signed with: asymmetric only. `none` and the HMAC
# family (HS*) are never accepted: a public key from the JWKS must not double as a shared secret.
OAUTH_ALGORITHMS: tuple[str, ...] = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip


class OAuthSettings(BaseModel):
    """The identity provider whose JWT access tokens the HTTP server accepts, beside the
    policy's static bearer tokens.

    `audience` is this server's resource URI (its public `/mcp` URL): a token must name it in
    `aud`, and it is the `resource` of the protected resource metadata (RFC 9728)."""

    model_config = ConfigDict(frozen=True)

    issuer: str
    audience: str
    jwks_url: str
    algorithms: tuple[str, ...] = ("RS256", "ES256")

    @property
    def metadata_url(self) -> str:
        """Where clients read the protected resource metadata: `/.well-known/oauth-protected-resource`
        inserted between the audience's host and its path (RFC 9728 section 3.1)."""
        parts = urlsplit(self.audience)
        path = parts.path if parts.path != "/" else ""
        return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{path}"


class Settings(BaseModel):
    """Everything cs-mcp is configured with. Secrets are `SecretStr` and print as `**********`."""

    model_config = ConfigDict(frozen=True)

    api_key: SecretStr | None = None
    delivery_token: SecretStr | None = None
    delivery_tokens: dict[str, SecretStr] = {}
    management_token: SecretStr | None = None
    authtoken: SecretStr | None = None
    oauth_token: SecretStr | None = None
    region: str = "NA"
    organization_uid: str | None = None
    branch: str | None = None
    environment: str | None = None
    locale: str | None = None
    base_urls: dict[Api, str] = {}
    policy_path: Path | None = None
    role: str | None = None
    audit_log: Path | None = None
    rate_limits: RateLimits = RateLimits()
    audit_max_bytes: int = DEFAULT_AUDIT_MAX_BYTES
    audit_keep: int = DEFAULT_AUDIT_KEEP
    max_sessions_per_principal: int = DEFAULT_MAX_SESSIONS_PER_PRINCIPAL
    release_version: str | None = DEFAULT_RELEASE_VERSION
    toolsets: str | None = None  # comma-separated toolset names, `all`, `dynamic`; None: the default
    redis_url: SecretStr | None = None
    secret_key: SecretStr | None = None
    replicas: int = DEFAULT_REPLICAS
    replica_name: str | None = None  # its id after a Redis outage (None: one of the process's own)
    oauth: OAuthSettings | None = None  # JWT access tokens from an identity provider, over HTTP
    allowed_hosts: tuple[str, ...] = ()  # names clients reach the HTTP server by, beyond its bind address

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Reads and checks the environment.

        Raises:
            ConfigError: an unknown region, a malformed base URL, a half-set credential pair.
        """
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        def secret(name: str) -> SecretStr | None:
            value = get(name)
            return SecretStr(value) if value else None

        region = get("CONTENTSTACK_REGION") or "NA"
        try:
            region = resolve_region(region)
        except UnknownRegionError as exc:
            raise ConfigError("CONTENTSTACK_REGION", str(exc)) from None

        base_urls: dict[Api, str] = {}
        for api, var in _BASE_URL_VARS.items():
            value = get(var)
            if value:
                try:
                    base_urls[api] = normalise_base_url(value)
                except InvalidBaseURLError as exc:
                    raise ConfigError(var, str(exc)) from None

        delivery_tokens: dict[str, SecretStr] = {}
        raw_tokens = get("CS_MCP_DELIVERY_TOKENS")
        if raw_tokens:
            for pair in raw_tokens.split(","):
                name, sep, token = pair.partition("=")
                if not sep or not name.strip() or not token.strip():
                    raise ConfigError("CS_MCP_DELIVERY_TOKENS", "expected environment=token pairs separated by commas")
                delivery_tokens[name.strip()] = SecretStr(token.strip())

        # Unset: the default; set but empty: no header at all.
        raw_release_version = env.get("CS_MCP_RELEASE_VERSION")
        release_version = (
            DEFAULT_RELEASE_VERSION if raw_release_version is None else (raw_release_version.strip() or None)
        )
        shared = shared_state_from_env(get)
        settings = cls(
            rate_limits=parse_rate_limits(get("CS_MCP_RATE_LIMITS")),
            release_version=release_version,
            api_key=secret("CONTENTSTACK_API_KEY"),
            delivery_token=secret("CONTENTSTACK_DELIVERY_TOKEN"),
            delivery_tokens=delivery_tokens,
            management_token=secret("CONTENTSTACK_MANAGEMENT_TOKEN"),
            authtoken=secret("CONTENTSTACK_AUTHTOKEN"),
            oauth_token=secret("CONTENTSTACK_OAUTH_TOKEN"),
            region=region,
            organization_uid=get("CONTENTSTACK_ORGANIZATION_UID"),
            branch=get("CONTENTSTACK_BRANCH"),
            environment=get("CONTENTSTACK_ENVIRONMENT"),
            locale=get("CONTENTSTACK_LOCALE"),
            base_urls=base_urls,
            policy_path=Path(p) if (p := get("CS_MCP_POLICY")) else None,
            role=get("CS_MCP_ROLE"),
            toolsets=get("CS_MCP_TOOLSETS"),
            audit_log=Path(a) if (a := get("CS_MCP_AUDIT_LOG")) else None,
            **limits_from_env(get),
            redis_url=shared["redis_url"],
            secret_key=shared["secret_key"],
            replica_name=replica_name_from_env(get("CS_MCP_REPLICA_NAME")),
            oauth=oauth_from_env(get),
            allowed_hosts=allowed_hosts_from_env(get("CS_MCP_ALLOWED_HOSTS")),
        )
        settings.check_pairs()
        return settings

    def check_pairs(self) -> None:
        """Refuses half-set credential pairs.

        Raises:
            ConfigError: naming the variable that is missing.
        """
        user_token = self.authtoken or self.oauth_token
        if self.organization_uid and not user_token:
            raise ConfigError(
                "CONTENTSTACK_AUTHTOKEN",
                "CONTENTSTACK_ORGANIZATION_UID is set but no authtoken: analytics and Automate need both "
                "(set CONTENTSTACK_AUTHTOKEN, or unset CONTENTSTACK_ORGANIZATION_UID)",
            )
        if (self.management_token or self.delivery_token or self.delivery_tokens) and not self.api_key:
            raise ConfigError(
                "CONTENTSTACK_API_KEY",
                "a management or delivery token is set but no stack API key: tokens work only with the key",
            )
        if self.delivery_token and not self.environment and not self.delivery_tokens:
            raise ConfigError(
                "CONTENTSTACK_ENVIRONMENT",
                "CONTENTSTACK_DELIVERY_TOKEN is set but not the environment it belongs to",
            )

    def capabilities(self) -> frozenset[Capability]:
        """What the configured credentials reach: the one answer to "which credentials are set"."""
        user_token = self.authtoken or self.oauth_token
        found: set[Capability] = set()
        if self.api_key and (self.management_token or user_token):
            found.add(Capability.CMA)
        if self.api_key and ((self.delivery_token and self.environment) or self.delivery_tokens):
            found.add(Capability.DELIVERY)
        if user_token and self.organization_uid:
            found.add(Capability.ORGANIZATION)
        return frozenset(found)

    @property
    def has_credentials(self) -> bool:
        """Whether any Contentstack credential is configured (else the sandbox is served)."""
        return bool(self.api_key or self.authtoken or self.oauth_token)

    def audit_log_path(self) -> Path:
        return self.audit_log or default_state_dir() / "audit.jsonl"

    def client_config(self) -> ClientConfig:
        """The client's view of these settings."""
        tokens = {name: token.get_secret_value() for name, token in self.delivery_tokens.items()}
        if self.delivery_token and self.environment:
            tokens.setdefault(self.environment, self.delivery_token.get_secret_value())

        def plain(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value else None

        return ClientConfig(
            region=self.region,
            api_key=plain(self.api_key),
            management_token=plain(self.management_token),
            oauth_token=plain(self.oauth_token),
            authtoken=plain(self.authtoken),
            organization_uid=self.organization_uid,
            branch=self.branch,
            delivery_tokens=tokens,
            default_environment=self.environment,
            base_urls=dict(self.base_urls),
            release_version=self.release_version,
        )


_RATE_LIMIT_KEYS = ("cma_read", "cma_write", "cma_bulk", "cda", "analytics", "automate")


def parse_rate_limits(raw: str | None) -> RateLimits:
    """`CS_MCP_RATE_LIMITS`, such as `cma_read=20,cma_write=20`: requests per second per API
    family; families not named keep Contentstack's documented defaults.

    Raises:
        ConfigError: an unknown family or a value that is not a positive integer.
    """
    if not raw:
        return RateLimits()
    values: dict[str, int] = {}
    for pair in raw.split(","):
        name, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or name not in _RATE_LIMIT_KEYS:
            raise ConfigError(
                "CS_MCP_RATE_LIMITS",
                "expected family=requests_per_second pairs separated by commas; "
                f"families are {', '.join(_RATE_LIMIT_KEYS)}",
            )
        if not value.isdigit() or int(value) < 1:
            raise ConfigError("CS_MCP_RATE_LIMITS", f"{name} must be a whole number of requests per second, at least 1")
        values[name] = int(value)
    return RateLimits(**values)


# Limits that keep one caller from exhausting the disk or the server: variable, setting, what
# the value counts.
_LIMITS = (
    ("CS_MCP_AUDIT_MAX_BYTES", "audit_max_bytes", "bytes after which the audit log is rotated"),
    ("CS_MCP_AUDIT_KEEP", "audit_keep", "rotated audit log files to keep"),
    ("CS_MCP_MAX_SESSIONS_PER_PRINCIPAL", "max_sessions_per_principal", "open HTTP sessions one principal may hold"),
    ("CS_MCP_REPLICAS", "replicas", "replicas sharing one Redis (each limits itself to 1/N while Redis is down)"),
)


def limits_from_env(get: Callable[[str], str | None]) -> dict[str, int]:
    """The limits set in the environment, by setting name (those not set keep their default).

    Raises:
        ConfigError: a value that is not a whole number of at least 1.
    """
    found: dict[str, int] = {}
    for variable, setting, counts in _LIMITS:
        raw = get(variable)
        if raw is None:
            continue
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError(variable, f"expected a whole number of {counts}, at least 1")
        found[setting] = int(raw)
    return found


def shared_state_from_env(get: Callable[[str], str | None]) -> dict[str, SecretStr | None]:
    """`CS_MCP_REDIS_URL` and `CS_MCP_SECRET_KEY` (as "redis_url" and "secret_key"; None when unset).

    Raises:
        ConfigError: Redis without a secret key (replicas could not verify each other's
            confirmation tokens), a key shorter than 32 characters, or a URL that is not redis://
            or rediss://.
    """
    found: dict[str, SecretStr | None] = {"redis_url": None, "secret_key": None}
    url, key = get("CS_MCP_REDIS_URL"), get("CS_MCP_SECRET_KEY")
    if key is not None:
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                "CS_MCP_SECRET_KEY", f"use a random string of at least {MIN_SECRET_KEY_LENGTH} characters"
            )
        found["secret_key"] = SecretStr(key)
    if url is not None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("CS_MCP_REDIS_URL", "expected a redis://, rediss:// or unix:// URL")
        if key is None:
            raise ConfigError(
                "CS_MCP_SECRET_KEY",
                "CS_MCP_REDIS_URL is set but no secret key: every replica needs the same CS_MCP_SECRET_KEY "
                "to accept the others' confirmation tokens",
            )
        found["redis_url"] = SecretStr(url)
    return found


def replica_name_from_env(raw: str | None) -> str | None:
    """`CS_MCP_REPLICA_NAME`: the replica's stable name (a pod, a compose service, a systemd
    instance), or None when unset.

    Raises:
        ConfigError: a name longer than 100 characters, or with a character other than ASCII
            letters, digits, `.`, `_`, `-`, `@` and `:`.
    """
    if raw is None:
        return None
    if len(raw) > MAX_REPLICA_NAME_LENGTH or not _REPLICA_NAME.fullmatch(raw):
        raise ConfigError(
            "CS_MCP_REPLICA_NAME",
            f"expected at most {MAX_REPLICA_NAME_LENGTH} letters, digits, '.', '_', '-', '@' or ':' "
            "(such as the pod's or the compose service's name)",
        )
    return raw


_OAUTH_VARIABLES = ("CS_MCP_OAUTH_ISSUER", "CS_MCP_OAUTH_AUDIENCE", "CS_MCP_OAUTH_JWKS_URL")


def _https_or_loopback(variable: str, url: str) -> str:
    """`url` when it is https, or http on this machine (a local identity provider).

    Raises:
        ConfigError: any other scheme, or no host.
    """
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise ConfigError(variable, "expected an https:// URL (http:// only for 127.0.0.1 or localhost)")
    return url


def oauth_from_env(get: Callable[[str], str | None]) -> OAuthSettings | None:
    """The identity provider's settings, or None when `CS_MCP_OAUTH_*` is not set.

    Raises:
        ConfigError: only some of issuer, audience and JWKS URL set, a URL that is not https
            (loopback aside), or an algorithm outside the asymmetric ones.
    """
    values = {name: get(name) for name in _OAUTH_VARIABLES}
    if not any(values.values()):
        return None
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ConfigError(
            missing[0],
            "OAuth needs the issuer, the audience (this server's public /mcp URL) and the JWKS URL together; "
            f"set {', '.join(missing)} or unset the others",
        )
    issuer, audience, jwks = (str(values[name]) for name in _OAUTH_VARIABLES)
    raw = get("CS_MCP_OAUTH_ALGORITHMS")
    algorithms = tuple(a.strip() for a in raw.split(",") if a.strip()) if raw else ("RS256", "ES256")
    unknown = [a for a in algorithms if a not in OAUTH_ALGORITHMS]
    if unknown or not algorithms:
        raise ConfigError(
            "CS_MCP_OAUTH_ALGORITHMS",
            f"{', '.join(unknown) or 'nothing'} is not accepted; choose among {', '.join(OAUTH_ALGORITHMS)} "
            "(none and HS* never are)",
        )
    return OAuthSettings(
        issuer=_https_or_loopback("CS_MCP_OAUTH_ISSUER", issuer),
        audience=_https_or_loopback("CS_MCP_OAUTH_AUDIENCE", audience),
        jwks_url=_https_or_loopback("CS_MCP_OAUTH_JWKS_URL", jwks),
        algorithms=algorithms,
    )


def allowed_hosts_from_env(raw: str | None) -> tuple[str, ...]:
    """`CS_MCP_ALLOWED_HOSTS`: host names (optionally with a port) separated by commas.

    Raises:
        ConfigError: a name with a scheme, a path or a space.
    """
    if not raw:
        return ()
    names = tuple(name.strip().lower() for name in raw.split(",") if name.strip())
    for name in names:
        if "/" in name or " " in name:
            raise ConfigError("CS_MCP_ALLOWED_HOSTS", f"{name!r} is not a host name; write mcp.example.com, not a URL")
    return names
