"""`cs-mcp doctor`: is the configuration right, and does each configured API answer?

It prints the configuration (region, hosts per API, branch, which credentials are set, never
their values), makes one cheap authenticated call per configured API and gives a plain verdict
for each, summarises the policy, and lists the toolsets that are live and what enables the
others. The exit status is 1 when something configured does not work, 2 for a configuration
or policy error, else 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import enum
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx2
from pydantic import BaseModel, Field

from cs_mcp.client import (
    Api,
    APIStatusError,
    AuthenticationError,
    ContentstackClient,
    ContentstackError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryPolicy,
    TransportError,
)
from cs_mcp.commands._common import (
    CommandError,
    Subcommands,
    add_policy_arguments,
    build_guard,
    fail,
    load_settings,
    placeholder_problem,
    placeholder_variables,
)
from cs_mcp.config import Capability, OAuthSettings, Settings
from cs_mcp.guard import Guard
from cs_mcp.oauth import JwksCache, JwksUnavailable
from cs_mcp.toolkit.registry import TOOLSETS, toolset_availability

# One attempt, short timeouts: doctor reports what happens, it does not try to ride it out.
_DOCTOR_RETRY = RetryPolicy(attempts=1, total_seconds=15.0)
_DOCTOR_TIMEOUT = 10.0
_DOCTOR_CONNECT_TIMEOUT = 5.0

# Words in a 402/403 answer of an organization-level API that mean the feature is not on the
# organization's plan, rather than that this user lacks a role. Contentstack documents no
# error code for it, so the text is the only signal; anything else stays "no permission".
_NOT_ENABLED_WORDS = ("not enabled", "not available", "subscription", "plan", "feature", "upgrade")

_CREDENTIAL_VARIABLES: dict[str, str] = {
    "CONTENTSTACK_API_KEY": "api_key",
    "CONTENTSTACK_MANAGEMENT_TOKEN": "management_token",
    "CONTENTSTACK_DELIVERY_TOKEN": "delivery_token",
    "CONTENTSTACK_AUTHTOKEN": "authtoken",
    "CONTENTSTACK_OAUTH_TOKEN": "oauth_token",
}


class Verdict(enum.StrEnum):
    """What one API check concluded, in plain words."""

    OK = "ok"
    INVALID_CREDENTIALS = "invalid token"
    WRONG_REGION = "wrong region"
    HOST_NOT_FOUND = "host not found"
    UNREACHABLE = "unreachable"
    NO_PERMISSION = "no permission"
    NOT_ENABLED = "not enabled for the organization"
    FAILED = "failed"
    NOT_CONFIGURED = "not configured"


class ApiCheck(BaseModel):
    api: str
    base_url: str
    configured: bool
    request: str | None = Field(default=None, description="The call made, without credentials.")
    verdict: Verdict
    detail: str

    @property
    def works(self) -> bool:
        return not self.configured or self.verdict is Verdict.OK


class ConfigurationSummary(BaseModel):
    region: str
    branch: str | None
    environment: str | None
    base_urls: dict[str, str]
    credentials: dict[str, bool] = Field(description="Which credential variables are set; never their values.")
    delivery_token_environments: list[str]
    organization_uid_set: bool
    serves_sandbox: bool
    shared_state: str = Field(
        default="this process only",
        description="Where replicas share limits, tokens and the audit trail (CS_MCP_REDIS_URL), and whether "
        "the shared secret key (CS_MCP_SECRET_KEY) is set; never their values.",
    )
    identity_provider: str = Field(
        default="not configured (HTTP takes the policy's static bearer tokens only)",
        description="The identity provider whose access tokens HTTP accepts (CS_MCP_OAUTH_*), and whether its "
        "JWKS answered.",
    )
    identity_provider_works: bool = True


class PolicySummary(BaseModel):
    source: str
    roles: list[str]
    default_role: str
    stdio_role: str
    anonymous_role: str | None
    principals: int
    confirm_environments: list[str]
    confirm_tools: list[str]
    confirm_fallback: str
    confirm_unpublish_production: bool = False


class DoctorReport(BaseModel):
    configuration: ConfigurationSummary
    checks: list[ApiCheck]
    policy: PolicySummary
    toolsets: dict[str, str] = Field(description="Each toolset: 'live', or why it is not.")
    placeholders: list[str] = Field(
        default_factory=lambda: [], description="Variables still holding a `<...>` placeholder (read as unset)."
    )
    ok: bool
    summary: str


def add_parser(subparsers: Subcommands) -> None:
    p = subparsers.add_parser("doctor", help="check the configuration and that each configured API answers")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_policy_arguments(p)


def shown_base_url(client: ContentstackClient, api: Api) -> str:
    """The base URL of `api` as the report prints it: a user name and password in it (an
    override such as `http://user:pass@proxy`) are shown as `***`."""
    url = client.base_url(api)
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def configuration_summary(settings: Settings, client: ContentstackClient) -> ConfigurationSummary:
    """What is configured, with every secret reduced to whether it is set."""
    tokens = sorted(settings.delivery_tokens)
    if settings.delivery_token and settings.environment and settings.environment not in tokens:
        tokens.append(settings.environment)
    return ConfigurationSummary(
        region=settings.region,
        branch=settings.branch,
        environment=settings.environment,
        base_urls={api.value: shown_base_url(client, api) for api in Api},
        credentials={var: getattr(settings, attr) is not None for var, attr in _CREDENTIAL_VARIABLES.items()}
        | {"CS_MCP_DELIVERY_TOKENS": bool(settings.delivery_tokens)},
        delivery_token_environments=tokens,
        organization_uid_set=settings.organization_uid is not None,
        serves_sandbox=not settings.has_credentials,
        shared_state=shared_state_summary(settings),
    )


async def identity_provider_summary(
    oauth: OAuthSettings, transport: httpx2.AsyncBaseTransport | None = None
) -> tuple[str, bool]:
    """The identity provider, and whether its JWKS answers with signing keys."""
    where = f"{oauth.issuer} (audience {oauth.audience})"
    async with httpx2.AsyncClient(transport=transport, timeout=_DOCTOR_TIMEOUT) as http:
        try:
            keys = await JwksCache(oauth.jwks_url, http=http).fetch()
        except JwksUnavailable as exc:
            return f"{where}: {exc}", False
    if keys == 0:
        return f"{where}: its JWKS holds no signing key this server can use", False
    return f"{where}: its JWKS answered with {keys} signing key{'s' if keys != 1 else ''}", True


def shared_state_summary(settings: Settings) -> str:
    """Whether replicas share state, whether the secret key they need is set (settings already
    refuse a Redis URL without one; this says so before a replica is started), and the name this
    replica reports back under after a Redis outage."""
    if settings.redis_url is None:
        key = "; CS_MCP_SECRET_KEY set" if settings.secret_key else ""
        return f"this process only (CS_MCP_REDIS_URL not set){key}"
    key = "CS_MCP_SECRET_KEY set" if settings.secret_key else "CS_MCP_SECRET_KEY MISSING"
    name = (
        f"this one named {settings.replica_name}"
        if settings.replica_name
        else "this one unnamed (CS_MCP_REPLICA_NAME not set: a restart counts as another replica)"
    )
    return f"Redis (CS_MCP_REDIS_URL set), {key}, {settings.replicas} replicas, {name}"


def policy_summary(settings: Settings, guard: Guard) -> PolicySummary:
    policy = guard.policy
    return PolicySummary(
        source=policy.source or "built-in roles",
        roles=sorted(policy.roles),
        default_role=policy.default_role,
        stdio_role=settings.role or policy.default_role,
        anonymous_role=policy.anonymous_role,
        principals=len(policy.principals),
        confirm_environments=list(policy.confirm.environments),
        confirm_tools=list(policy.confirm.tools),
        confirm_fallback=policy.confirm.fallback,
        confirm_unpublish_production=policy.confirm.unpublish_production,
    )


def _not_enabled(api: Api, exc: APIStatusError) -> bool:
    if exc.status == 402:
        return True
    if api not in (Api.ANALYTICS, Api.AUTOMATE) or exc.status != 403:
        return False
    text = (exc.error_message or "").lower()
    return any(word in text for word in _NOT_ENABLED_WORDS)


def verdict_for(api: Api, exc: ContentstackError) -> tuple[Verdict, str]:
    """The verdict and a plain explanation for an error one check raised."""
    name = api.value.upper()
    if isinstance(exc, APIStatusError) and _not_enabled(api, exc):
        return Verdict.NOT_ENABLED, (
            f"the {name} API is not enabled for this organization ({exc.status}); "
            "an organization owner can check the plan"
        )
    if isinstance(exc, AuthenticationError):
        if exc.status == 412 or exc.error_code == 109:
            return Verdict.INVALID_CREDENTIALS, "the stack API key is not valid (check CONTENTSTACK_API_KEY)"
        what = {
            Api.CMA: "the management token (or authtoken)",
            Api.CDA: "the delivery token, or the environment it belongs to",
            Api.ANALYTICS: "the authtoken, or the organization uid",
            Api.AUTOMATE: "the authtoken, or the organization uid",
        }[api]
        return Verdict.INVALID_CREDENTIALS, f"{name} refused the credentials ({exc.status}): check {what}"
    if isinstance(exc, PermissionDeniedError):
        hint = (
            "only organization owners and admins may read analytics"
            if api is Api.ANALYTICS
            else "the credentials work but their role may not read this"
        )
        return Verdict.NO_PERMISSION, f"{name} answered {exc.status}: {hint}"
    if isinstance(exc, NotFoundError) and exc.status == 404:
        return Verdict.WRONG_REGION, (
            f"the host answered 404: it does not serve the {name} API; check CONTENTSTACK_REGION and the base URL"
        )
    if isinstance(exc, TransportError):
        # Not the region: a host of any region answers when the network works. _probe refines
        # this with a DNS lookup (host not found) when it can.
        return Verdict.UNREACHABLE, (
            f"could not reach the {name} host ({type(exc).__name__}); check the network connection, a proxy "
            "or a firewall"
        )
    if isinstance(exc, RateLimitedError):
        return Verdict.FAILED, f"{name} answered 429 (rate limited); try again in a moment"
    return Verdict.FAILED, str(exc)


Resolver = Callable[[str], Awaitable[bool]]


async def resolves(host: str) -> bool:
    """Whether DNS answers for `host`."""
    try:
        await anyio.getaddrinfo(host, 443)
    except OSError:  # socket.gaierror: no such name, or no DNS at all
        return False
    return True


async def _unreachable_verdict(api: Api, base: str, resolve: Resolver) -> tuple[Verdict, str] | None:
    host = urlsplit(base).hostname or base
    if await resolve(host):
        return None
    return Verdict.HOST_NOT_FOUND, (
        f"no DNS answer for {host}: this machine is offline or cannot resolve names (check the network, "
        f"a VPN or proxy); if the name itself is wrong, check {_BASE_URL_VARIABLES[api]} or CONTENTSTACK_REGION"
    )


async def _probe(
    client: ContentstackClient,
    api: Api,
    method_path: str,
    call: tuple[list[str], dict[str, str | int]],
    env: str | None,
    resolve: Resolver = resolves,
) -> ApiCheck:
    path, params = call
    base = shown_base_url(client, api)
    try:
        await client.request(api, "GET", path, params=params, environment=env)
    except ContentstackError as exc:
        verdict, detail = verdict_for(api, exc)
        if isinstance(exc, TransportError):
            verdict, detail = await _unreachable_verdict(api, base, resolve) or (verdict, detail)
        return ApiCheck(
            api=api.value, base_url=base, configured=True, request=method_path, verdict=verdict, detail=detail
        )
    return ApiCheck(
        api=api.value, base_url=base, configured=True, request=method_path, verdict=Verdict.OK, detail="answered"
    )


def _cda_environment(settings: Settings) -> str | None:
    if settings.environment and (settings.delivery_token or settings.environment in settings.delivery_tokens):
        return settings.environment
    return next(iter(sorted(settings.delivery_tokens)), None)


async def check_apis(
    settings: Settings, client: ContentstackClient, today: dt.date | None = None, resolve: Resolver = resolves
) -> list[ApiCheck]:
    """One cheap authenticated call per configured API, concurrently; unconfigured ones say what to set."""
    today = today or dt.datetime.now(dt.UTC).date()
    day = (today - dt.timedelta(days=1)).isoformat()
    held = settings.capabilities()
    cda_env = _cda_environment(settings) if Capability.DELIVERY in held else None
    org = settings.organization_uid or ""
    probes: dict[Api, tuple[str, tuple[list[str], dict[str, str | int]], str | None] | str] = {
        Api.CMA: ("GET /environments?limit=1", (["environments"], {"limit": 1}), None)
        if Capability.CMA in held
        else "set CONTENTSTACK_API_KEY and CONTENTSTACK_MANAGEMENT_TOKEN",
        Api.CDA: (
            f"GET /content_types?limit=1&environment={cda_env}",
            (["content_types"], {"limit": 1, "environment": cda_env}),
            cda_env,
        )
        if cda_env
        else "set CONTENTSTACK_DELIVERY_TOKEN and CONTENTSTACK_ENVIRONMENT (or CS_MCP_DELIVERY_TOKENS)",
        Api.ANALYTICS: (
            f"GET /usage?from={day}&to={day} (starts a one-day report job)",
            (["usage"], {"orgUid": org, "from": day, "to": day, "duration": "day"}),
            None,
        )
        if Capability.ORGANIZATION in held
        else "set CONTENTSTACK_AUTHTOKEN and CONTENTSTACK_ORGANIZATION_UID",
        Api.AUTOMATE: ("GET /projects?limit=1", (["projects"], {"limit": 1}), None)
        if Capability.ORGANIZATION in held
        else "set CONTENTSTACK_AUTHTOKEN and CONTENTSTACK_ORGANIZATION_UID",
    }
    results: dict[Api, ApiCheck] = {}

    async def run_probe(api: Api, label: str, call: tuple[list[str], dict[str, str | int]], env: str | None) -> None:
        results[api] = await _probe(client, api, label, call, env, resolve)

    async with anyio.create_task_group() as group:
        for api, probe in probes.items():
            if isinstance(probe, str):
                results[api] = ApiCheck(
                    api=api.value,
                    base_url=shown_base_url(client, api),
                    configured=False,
                    verdict=Verdict.NOT_CONFIGURED,
                    detail=probe,
                )
            else:
                group.start_soon(run_probe, api, *probe)
    return [results[api] for api in Api]


_BASE_URL_VARIABLES: dict[Api, str] = {
    Api.CMA: "CONTENTSTACK_CMA_BASE_URL",
    Api.CDA: "CONTENTSTACK_CDA_BASE_URL",
    Api.ANALYTICS: "CONTENTSTACK_ANALYTICS_BASE_URL",
    Api.AUTOMATE: "CONTENTSTACK_AUTOMATIONS_BASE_URL",
}


def toolset_states(settings: Settings, checks: list[ApiCheck]) -> dict[str, str]:
    """Each toolset: "live" when configured and its API answered, else why not."""
    by_api = {c.api: c for c in checks}
    states: dict[str, str] = {}
    for name, reason in toolset_availability(settings).items():
        check = by_api.get(TOOLSETS[name].api.value)
        if reason is not None:
            states[name] = reason
        elif check is not None and check.configured and check.verdict is not Verdict.OK:
            states[name] = f"not working: the {check.api.upper()} API check failed ({check.verdict.value})"
        else:
            states[name] = "live"
    return states


async def diagnose(
    settings: Settings,
    guard: Guard,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    today: dt.date | None = None,
    placeholders: Mapping[str, str] | None = None,
    resolve: Resolver = resolves,
) -> DoctorReport:
    """The whole report. `transport` replaces the network (tests pass `httpx2.MockTransport`) and
    `resolve` the DNS lookup; `placeholders` are variables still holding a snippet's `<...>`
    placeholder (read as unset, reported as a problem)."""
    config = dataclasses.replace(
        settings.client_config(), timeout=_DOCTOR_TIMEOUT, connect_timeout=_DOCTOR_CONNECT_TIMEOUT
    )
    async with ContentstackClient(config, permits=guard.permits, transport=transport, retry=_DOCTOR_RETRY) as client:
        configuration = configuration_summary(settings, client)
        checks = await check_apis(settings, client, today, resolve) if settings.has_credentials else []
    if settings.oauth is not None:
        described, works = await identity_provider_summary(settings.oauth, transport)
        configuration = configuration.model_copy(
            update={"identity_provider": described, "identity_provider_works": works}
        )
    toolsets = toolset_states(settings, checks)
    failing = [c for c in checks if not c.works]
    configured = [c for c in checks if c.configured]
    left = sorted(placeholders or {})
    if left:
        summary = placeholder_problem(placeholders or {})
    elif not settings.has_credentials:
        summary = (
            "no Contentstack credentials are set: `cs-mcp serve` will serve the local sandbox stack "
            "(demo data, not Contentstack)"
        )
    elif failing:
        summary = f"{len(failing)} of {len(configured)} configured APIs do not work: " + ", ".join(
            f"{c.api.upper()} ({c.verdict.value})" for c in failing
        )
    elif not configuration.identity_provider_works:
        summary = (
            "the identity provider's keys cannot be fetched, so nobody can sign in over HTTP: "
            + configuration.identity_provider
        )
    else:
        summary = f"all {len(configured)} configured APIs answered"
    return DoctorReport(
        configuration=configuration,
        checks=checks,
        policy=policy_summary(settings, guard),
        toolsets=toolsets,
        placeholders=left,
        ok=not failing and not left and configuration.identity_provider_works,
        summary=summary,
    )


def render_text(report: DoctorReport) -> str:
    """The report as plain text for a terminal."""
    c = report.configuration
    lines = ["Configuration"]
    lines.append(f"  region       {c.region}")
    lines.append(f"  branch       {c.branch or '(default: main)'}")
    lines.append(f"  environment  {c.environment or '(not set)'}")
    set_vars = [name for name, present in c.credentials.items() if present]
    unset_vars = [name for name, present in c.credentials.items() if not present]
    lines.append(f"  set          {', '.join(set_vars) or '(no credentials)'}")
    lines.append(f"  not set      {', '.join(unset_vars) or '(none)'}")
    lines.append(f"  organization {'set' if c.organization_uid_set else 'not set'}")
    lines.append(f"  shared state {c.shared_state}")
    lines.append(f"  identity provider {c.identity_provider}")
    if report.placeholders:
        lines.append(f"  placeholders {', '.join(report.placeholders)} (read as unset: replace or remove them)")
    if c.delivery_token_environments:
        lines.append(f"  delivery tokens for: {', '.join(c.delivery_token_environments)}")
    lines.append("  hosts")
    for api, url in c.base_urls.items():
        lines.append(f"    {api:<10} {url}")
    if report.checks:
        lines.append("")
        lines.append("APIs")
        for check in report.checks:
            lines.append(f"  {check.api.upper():<10} {check.verdict.value}: {check.detail}")
            if check.request:
                lines.append(f"  {'':<10} sent {check.request}")
    p = report.policy
    lines.append("")
    lines.append("Policy")
    lines.append(f"  source       {p.source}")
    lines.append(f"  roles        {', '.join(p.roles)} (default {p.default_role})")
    lines.append(f"  stdio role   {p.stdio_role}")
    lines.append(f"  HTTP principals {p.principals}; anonymous role {p.anonymous_role or 'none (refused)'}")
    envs = ", ".join(p.confirm_environments) or "none"
    tools = ", ".join(p.confirm_tools) or "none"
    if p.confirm_unpublish_production:
        envs += " (and unpublishing from any named like prod, production or live)"
    lines.append(f"  confirmation environments: {envs}; tools: {tools}; without a client prompt: {p.confirm_fallback}")
    lines.append("")
    lines.append("Toolsets")
    for name, state in report.toolsets.items():
        lines.append(f"  {name:<12} {state}")
    lines.append("")
    lines.append(("OK: " if report.ok else "PROBLEM: ") + report.summary)
    return "\n".join(lines)


async def doctor(
    settings: Settings,
    guard: Guard,
    *,
    as_json: bool = False,
    transport: httpx2.AsyncBaseTransport | None = None,
    out: TextIO | None = None,
    today: dt.date | None = None,
    placeholders: Mapping[str, str] | None = None,
    resolve: Resolver = resolves,
) -> int:
    """Prints the report; answers the exit status (1 when something configured does not work)."""
    report = await diagnose(
        settings, guard, transport=transport, today=today, placeholders=placeholders, resolve=resolve
    )
    stream = out or sys.stdout
    stream.write((report.model_dump_json(indent=2) if as_json else render_text(report)) + "\n")
    return 0 if report.ok else 1


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args, allow_placeholders=True)
        guard = build_guard(settings)
    except CommandError as exc:
        return fail(str(exc))
    placeholders = placeholder_variables(os.environ)

    async def main() -> int:
        return await doctor(settings, guard, as_json=bool(args.json), placeholders=placeholders)

    return anyio.run(main)
