"""The sandbox app as a whole: its mounts and its answers to unknown paths."""

from __future__ import annotations

import httpx2
import pytest

from cs_mcp.sandbox.runner import RunningSandbox

pytestmark = pytest.mark.anyio


async def test_each_api_answers_under_its_own_prefix(sandbox: RunningSandbox, sandbox_http: httpx2.AsyncClient) -> None:
    creds = sandbox.credentials
    assert (await sandbox_http.get("/cma/v3/content_types")).status_code == 200
    cda = await sandbox_http.get(
        "/cdn/v3/content_types/page/entries",
        params={"environment": "development"},
        headers={"access_token": creds.delivery_tokens["development"], "authorization": ""},
    )
    assert cda.status_code == 200
    automate = await sandbox_http.get(
        "/automate/v1/projects", headers={"authtoken": creds.authtoken, "organization_uid": creds.organization_uid}
    )
    assert automate.status_code == 200


async def test_unknown_paths_and_methods_answer_in_contentstack_error_shape(sandbox_http: httpx2.AsyncClient) -> None:
    for method, path, status in (
        ("GET", "/nowhere", 404),
        ("GET", "/cma/v3/nowhere", 404),
        ("PATCH", "/cma/v3/locales", 405),
    ):
        answer = await sandbox_http.request(method, path)
        assert answer.status_code == status
        assert answer.json()["error_code"] == status
