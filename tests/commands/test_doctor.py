"""`cs-mcp doctor` against mock Contentstack answers: verdicts per API, exit status, no secrets."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from cs_mcp.cli import main
from cs_mcp.commands.doctor import Verdict, diagnose, doctor
from cs_mcp.config import Settings
from cs_mcp.guard import Guard, builtin_policy
from cs_mcp.sandbox.app import create_app
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState
from tests.helpers import full_env
from tests.oauth_issuer import running_issuer

pytestmark = pytest.mark.anyio

FULL_ENV = {
    **full_env("blt_api_key_secret_1", "cs_management_secret_2", "blt_authtoken_secret_4", "org_1"),
    "CONTENTSTACK_DELIVERY_TOKEN": "cs_delivery_secret_3",
    "CONTENTSTACK_ENVIRONMENT": "production",
}
SECRETS = {name: value for name, value in FULL_ENV.items() if "_secret_" in value}
TODAY = dt.date(2026, 3, 10)

Handler = Callable[[httpx2.Request], httpx2.Response]


def api_of(request: httpx2.Request) -> str:
    host = request.url.host
    if host.startswith("api."):
        return "cma"
    if host.startswith("cdn."):
        return "cda"
    if host.startswith("app."):
        return "analytics"
    return "automate"


def answering(overrides: dict[str, Handler], seen: list[httpx2.Request] | None = None) -> httpx2.MockTransport:
    """Every API answers 200 unless `overrides` (by API) says otherwise."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        if seen is not None:
            seen.append(request)
        api = api_of(request)
        if api in overrides:
            return overrides[api](request)
        bodies: dict[str, dict[str, Any]] = {
            "cma": {"environments": [{"name": "production"}]},
            "cda": {"content_types": []},
            "analytics": {"jobId": "job_1", "paginated": False},
            "automate": {"projects": []},
        }
        return httpx2.Response(200, json=bodies[api])

    return httpx2.MockTransport(handle)


def status(code: int, error_code: int, message: str = "refused") -> Handler:
    def handle(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(code, json={"error_message": message, "error_code": error_code})

    return handle


def unreachable(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("name or service not known", request=request)


async def dns_answers(_host: str) -> bool:
    return True


async def no_dns(_host: str) -> bool:
    return False


async def run_doctor(
    env: dict[str, str],
    transport: httpx2.MockTransport,
    resolve: Callable[[str], Awaitable[bool]] = dns_answers,
    placeholders: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], str]:
    settings = Settings.from_env(env)
    guard = Guard(builtin_policy())
    json_out, text_out = io.StringIO(), io.StringIO()
    extra: dict[str, Any] = {"today": TODAY, "resolve": resolve, "placeholders": placeholders}
    code = await doctor(settings, guard, as_json=True, transport=transport, out=json_out, **extra)
    text_code = await doctor(settings, guard, transport=transport, out=text_out, **extra)
    assert text_code == code
    return code, json.loads(json_out.getvalue()), text_out.getvalue()


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {check["api"]: check["verdict"] for check in report["checks"]}


async def test_every_configured_api_answering_is_exit_status_zero() -> None:
    seen: list[httpx2.Request] = []
    code, report, text = await run_doctor(FULL_ENV, answering({}, seen))
    assert code == 0
    assert report["ok"] is True
    assert set(verdicts(report).values()) == {Verdict.OK.value}
    assert "OK:" in text
    assert len(seen) == 8  # one call per API, twice (JSON and text)


async def test_each_check_is_one_cheap_call_with_the_right_parameters() -> None:
    seen: list[httpx2.Request] = []
    await diagnose(Settings.from_env(FULL_ENV), Guard(builtin_policy()), transport=answering({}, seen), today=TODAY)
    by_api = {api_of(r): r for r in seen}
    assert by_api["cma"].url.path == "/v3/environments"
    assert by_api["cma"].url.params["limit"] == "1"
    assert by_api["cda"].url.path == "/v3/content_types"
    assert by_api["cda"].url.params["environment"] == "production"
    assert by_api["cda"].headers["access_token"] == SECRETS["CONTENTSTACK_DELIVERY_TOKEN"]
    assert by_api["analytics"].url.path == "/analytics/v2/usage"
    assert by_api["analytics"].url.params["orgUid"] == "org_1"
    assert by_api["analytics"].url.params["from"] == "2026-03-09"
    assert by_api["automate"].url.path == "/v1/projects"
    assert all(r.method == "GET" for r in seen)


@pytest.mark.parametrize(
    ("api", "handler", "expected"),
    [
        ("cma", status(401, 105, "You're not allowed in here unless you're logged in."), Verdict.INVALID_CREDENTIALS),
        ("cma", status(412, 109, "api_key is not valid."), Verdict.INVALID_CREDENTIALS),
        ("cda", status(401, 105), Verdict.INVALID_CREDENTIALS),
        ("cma", status(403, 316), Verdict.NO_PERMISSION),
        ("analytics", status(403, 0, "Only organization owners and admins can access this."), Verdict.NO_PERMISSION),
        ("analytics", status(403, 0, "Analytics is not enabled for this organization."), Verdict.NOT_ENABLED),
        ("automate", status(403, 0, "Automate is not part of your plan."), Verdict.NOT_ENABLED),
        ("cma", unreachable, Verdict.UNREACHABLE),
        ("automate", status(404, 0, "Cannot GET /v1/projects"), Verdict.WRONG_REGION),
        ("cma", status(500, 0, "boom"), Verdict.FAILED),
    ],
)
async def test_a_failing_api_gets_a_plain_verdict_and_a_non_zero_exit_status(
    api: str, handler: Handler, expected: Verdict
) -> None:
    code, report, text = await run_doctor(FULL_ENV, answering({api: handler}))
    assert code == 1
    assert report["ok"] is False
    found = verdicts(report)
    assert found[api] == expected.value
    assert all(v == Verdict.OK.value for name, v in found.items() if name != api)
    assert "PROBLEM:" in text


async def test_a_network_failure_is_not_blamed_on_the_region() -> None:
    _, connect_failed, _ = await run_doctor(FULL_ENV, answering({"cma": unreachable}), resolve=dns_answers)
    _, no_name, text = await run_doctor(FULL_ENV, answering({"cma": unreachable}), resolve=no_dns)
    assert verdicts(connect_failed)["cma"] == Verdict.UNREACHABLE.value
    assert verdicts(no_name)["cma"] == Verdict.HOST_NOT_FOUND.value
    assert "wrong region" not in text


async def test_toolsets_of_a_failing_api_are_not_listed_as_live() -> None:
    everything_fails = {api: unreachable for api in ("cma", "cda", "analytics", "automate")}
    code, report, _ = await run_doctor(FULL_ENV, answering(everything_fails))
    assert code == 1
    assert all(state != "live" for state in report["toolsets"].values())


async def test_a_placeholder_left_in_the_environment_is_a_problem() -> None:
    placeholders = {"CONTENTSTACK_MANAGEMENT_TOKEN": "<your management token>"}
    code, report, text = await run_doctor(FULL_ENV, answering({}), placeholders=placeholders)
    assert code == 1
    assert report["placeholders"] == ["CONTENTSTACK_MANAGEMENT_TOKEN"]
    assert "CONTENTSTACK_MANAGEMENT_TOKEN" in text


def test_the_command_reads_placeholders_as_unset_and_flags_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith(("CONTENTSTACK_", "CS_MCP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CONTENTSTACK_API_KEY", "<your stack API key>")
    status = main(["doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 1
    assert report["placeholders"] == ["CONTENTSTACK_API_KEY"]
    assert report["checks"] == []


async def test_no_secret_value_appears_in_either_output() -> None:
    code, report, text = await run_doctor(FULL_ENV, answering({"cma": status(401, 105)}))
    assert code == 1
    dumped = json.dumps(report)
    for value in SECRETS.values():
        assert value not in dumped
        assert value not in text
    assert report["configuration"]["credentials"]["CONTENTSTACK_MANAGEMENT_TOKEN"] is True
    assert report["configuration"]["credentials"]["CONTENTSTACK_OAUTH_TOKEN"] is False


async def test_unconfigured_apis_say_what_to_set_and_do_not_fail() -> None:
    env = {k: FULL_ENV[k] for k in ("CONTENTSTACK_API_KEY", "CONTENTSTACK_MANAGEMENT_TOKEN")}
    seen: list[httpx2.Request] = []
    code, report, _ = await run_doctor(env, answering({}, seen))
    assert code == 0
    assert verdicts(report) == {
        "cma": Verdict.OK.value,
        "cda": Verdict.NOT_CONFIGURED.value,
        "analytics": Verdict.NOT_CONFIGURED.value,
        "automate": Verdict.NOT_CONFIGURED.value,
    }
    assert {api_of(r) for r in seen} == {"cma"}
    assert report["toolsets"]["stack"] == "live"
    assert "CONTENTSTACK_AUTHTOKEN" in report["toolsets"]["analytics"]


async def test_without_credentials_it_sends_nothing_and_says_the_sandbox_will_be_served() -> None:
    seen: list[httpx2.Request] = []
    code, report, _ = await run_doctor({}, answering({}, seen))
    assert code == 0
    assert seen == []
    assert report["checks"] == []
    assert report["configuration"]["serves_sandbox"] is True


async def test_the_policy_summary_names_roles_and_the_stdio_role() -> None:
    env = {**FULL_ENV, "CS_MCP_ROLE": "publisher"}
    _, report, _ = await run_doctor(env, answering({}))
    policy = report["policy"]
    assert policy["roles"] == ["admin", "editor", "publisher", "viewer"]
    assert policy["stdio_role"] == "publisher"
    assert policy["principals"] == 0


async def test_hosts_follow_the_region() -> None:
    env = {**FULL_ENV, "CONTENTSTACK_REGION": "eu"}
    seen: list[httpx2.Request] = []
    _, report, _ = await run_doctor(env, answering({}, seen))
    assert report["configuration"]["base_urls"]["cma"] == "https://eu-api.contentstack.com/v3"
    assert {r.url.host for r in seen} >= {"eu-api.contentstack.com", "eu-prod-automations-api.contentstack.com"}


def clear_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("CONTENTSTACK_", "CS_MCP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def test_the_command_without_credentials_prints_json_and_exits_zero(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clear_environment(monkeypatch, tmp_path)
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["configuration"]["serves_sandbox"] is True
    assert report["checks"] == []


def test_the_command_exits_two_for_an_unknown_role(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clear_environment(monkeypatch, tmp_path)
    assert main(["doctor", "--role", "no_such_role"]) == 2
    assert capsys.readouterr().out == ""


def test_the_command_exits_two_for_a_half_set_credential(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clear_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("CONTENTSTACK_MANAGEMENT_TOKEN", "cs_management_secret_2")
    assert main(["doctor"]) == 2
    captured = capsys.readouterr()
    assert "cs_management_secret_2" not in captured.out + captured.err


def sandbox_transport() -> httpx2.ASGITransport:
    config = SandboxConfig(rate_limits=False)
    return httpx2.ASGITransport(
        create_app(SandboxState(config=config, db=Database(config.db_path), clock=SandboxClock()))
    )


def sandbox_env(**overrides: str) -> dict[str, str]:
    base = "http://sandbox.test"
    env = {
        "CONTENTSTACK_CMA_BASE_URL": f"{base}/cma",
        "CONTENTSTACK_CDA_BASE_URL": f"{base}/cdn",
        "CONTENTSTACK_DELIVERY_TOKEN": DEMO_CREDENTIALS.delivery_tokens["development"],
        "CONTENTSTACK_ENVIRONMENT": "development",
        "CONTENTSTACK_ANALYTICS_BASE_URL": base,
        "CONTENTSTACK_AUTOMATIONS_BASE_URL": f"{base}/automate",
        "CONTENTSTACK_API_KEY": DEMO_CREDENTIALS.api_key,
        "CONTENTSTACK_MANAGEMENT_TOKEN": DEMO_CREDENTIALS.management_token,
        "CONTENTSTACK_AUTHTOKEN": DEMO_CREDENTIALS.authtoken,
        "CONTENTSTACK_ORGANIZATION_UID": DEMO_CREDENTIALS.organization_uid,
    }
    env.update(overrides)
    return env


async def test_the_sandbox_stack_passes_every_check_it_is_configured_for() -> None:
    report = await diagnose(Settings.from_env(sandbox_env()), Guard(builtin_policy()), transport=sandbox_transport())
    assert verdicts(report.model_dump(mode="json")) == {
        "cma": Verdict.OK.value,
        "cda": Verdict.OK.value,
        "analytics": Verdict.OK.value,
        "automate": Verdict.OK.value,
    }
    assert report.ok is True


async def test_a_wrong_authtoken_is_an_invalid_credential_for_the_organization_apis() -> None:
    env = sandbox_env(CONTENTSTACK_AUTHTOKEN="blt_not_the_authtoken")
    report = await diagnose(Settings.from_env(env), Guard(builtin_policy()), transport=sandbox_transport())
    found = verdicts(report.model_dump(mode="json"))
    assert found["analytics"] == found["automate"] == Verdict.INVALID_CREDENTIALS.value
    assert found["cma"] == Verdict.OK.value
    assert report.ok is False


async def test_a_user_name_and_password_in_a_base_url_are_never_printed() -> None:
    env = {**FULL_ENV, "CONTENTSTACK_CMA_BASE_URL": "http://proxy-user:proxy-pass@api.proxy.internal:8080"}
    code, report, text = await run_doctor(env, answering({"cma": unreachable}))
    assert code == 1  # the failing check prints its base URL too
    for output in (json.dumps(report), text):
        assert "proxy-user" not in output
        assert "proxy-pass" not in output
    assert report["configuration"]["base_urls"]["cma"] == "http://***@api.proxy.internal:8080/v3"
    assert [c["base_url"] for c in report["checks"] if c["api"] == "cma"] == ["http://***@api.proxy.internal:8080/v3"]


async def test_it_reports_whether_replicas_share_state_and_whether_the_secret_key_is_set() -> None:
    seen: list[httpx2.Request] = []
    _, alone, _ = await run_doctor({}, answering({}, seen))
    key = "k" * 32
    shared_env = {"CS_MCP_REDIS_URL": "redis://127.0.0.1:1/0", "CS_MCP_SECRET_KEY": key, "CS_MCP_REPLICAS": "4"}
    _, shared, text = await run_doctor(shared_env, answering({}, seen))
    _, named, _ = await run_doctor({**shared_env, "CS_MCP_REPLICA_NAME": "cs-mcp-2"}, answering({}, seen))
    assert alone["configuration"]["shared_state"].startswith("this process only")
    assert shared["configuration"]["shared_state"].startswith(
        "Redis (CS_MCP_REDIS_URL set), CS_MCP_SECRET_KEY set, 4 replicas, this one unnamed"
    )
    assert named["configuration"]["shared_state"].endswith("4 replicas, this one named cs-mcp-2")
    assert key not in text


async def test_doctor_says_whether_the_identity_providers_keys_answer() -> None:
    async with running_issuer() as issuer:
        answering = await diagnose(Settings.from_env(issuer.env()), Guard(builtin_policy()))
        gone = {**issuer.env(), "CS_MCP_OAUTH_JWKS_URL": f"{issuer.url}/no-such-jwks.json"}
        failing = await diagnose(Settings.from_env(gone), Guard(builtin_policy()))
    assert answering.configuration.identity_provider_works
    assert "2 signing keys" in answering.configuration.identity_provider
    assert answering.ok
    assert not failing.configuration.identity_provider_works
    assert not failing.ok


async def test_doctor_without_an_identity_provider_says_so() -> None:
    report = await diagnose(Settings.from_env({}), Guard(builtin_policy()))
    assert report.configuration.identity_provider.startswith("not configured")
    assert report.configuration.identity_provider_works
