"""Sandbox credentials: each wrong or missing credential answers the documented status and code."""

from __future__ import annotations

import httpx2
import pytest

from cs_mcp.sandbox.runner import RunningSandbox

pytestmark = pytest.mark.anyio


async def _cma_get(sandbox: RunningSandbox, headers: dict[str, str]) -> httpx2.Response:
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as http:
        return await http.get("/cma/v3/content_types", headers=headers)


async def test_the_management_token_the_authtoken_and_a_bearer_authtoken_open_the_cma(sandbox: RunningSandbox) -> None:
    creds = sandbox.credentials
    for token_header in (
        {"authorization": creds.management_token},
        {"authtoken": creds.authtoken},
        {"authorization": f"Bearer {creds.authtoken}"},
    ):
        answer = await _cma_get(sandbox, {"api_key": creds.api_key, **token_header, "branch": creds.branch})
        assert answer.status_code == 200


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"authorization": "MANAGEMENT"}, 412, 109),
        ({"api_key": "bltwrong", "authorization": "MANAGEMENT"}, 412, 109),
        ({"api_key": "API_KEY"}, 401, 105),
        ({"api_key": "API_KEY", "authorization": "cswrongtoken"}, 401, 105),
        ({"api_key": "API_KEY", "authorization": "Bearer wrong"}, 401, 105),
        ({"api_key": "API_KEY", "authtoken": "bltwrong"}, 401, 105),
        ({"api_key": "API_KEY", "authorization": "MANAGEMENT", "branch": "develop"}, 422, 141),
    ],
)
async def test_each_wrong_cma_credential_answers_its_documented_error(
    sandbox: RunningSandbox, headers: dict[str, str], status: int, code: int
) -> None:
    creds = sandbox.credentials
    real = {"API_KEY": creds.api_key, "MANAGEMENT": creds.management_token}
    answer = await _cma_get(sandbox, {name: real.get(value, value) for name, value in headers.items()})
    assert answer.status_code == status
    assert answer.json()["error_code"] == code


async def test_a_delivery_token_opens_only_its_own_environment(sandbox: RunningSandbox) -> None:
    creds = sandbox.credentials
    headers = {"api_key": creds.api_key, "access_token": creds.delivery_tokens["staging"]}
    async with httpx2.AsyncClient(base_url=sandbox.base_url, headers=headers) as http:
        own = await http.get("/cdn/v3/content_types/page/entries", params={"environment": "staging"})
        other = await http.get("/cdn/v3/content_types/page/entries", params={"environment": "production"})
    assert own.status_code == 200
    assert other.status_code == 412
    assert other.json()["error_code"] == 109


@pytest.mark.parametrize(
    "headers",
    [{}, {"access_token": "DEV"}, {"api_key": "API_KEY"}, {"api_key": "API_KEY", "access_token": "cswrong"}],
)
async def test_missing_or_wrong_cda_credentials_answer_412_code_109(
    sandbox: RunningSandbox, headers: dict[str, str]
) -> None:
    creds = sandbox.credentials
    real = {"API_KEY": creds.api_key, "DEV": creds.delivery_tokens["development"]}
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as http:
        answer = await http.get(
            "/cdn/v3/content_types/page/entries",
            params={"environment": "development"},
            headers={name: real.get(value, value) for name, value in headers.items()},
        )
    assert answer.status_code == 412
    assert answer.json()["error_code"] == 109


async def test_a_management_token_does_not_open_the_cda(sandbox: RunningSandbox) -> None:
    creds = sandbox.credentials
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as http:
        answer = await http.get(
            "/cdn/v3/content_types/page/entries",
            params={"environment": "development"},
            headers={"api_key": creds.api_key, "access_token": creds.management_token},
        )
    assert answer.status_code == 412
