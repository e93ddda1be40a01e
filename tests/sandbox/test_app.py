"""The sandbox app as a whole: its mounts and its answers to unknown paths."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

import httpx2
import pytest

import cs_mcp.sandbox
from cs_mcp.sandbox.app import MOUNTS, create_app
from cs_mcp.sandbox.runner import RunningSandbox
from cs_mcp.sandbox.state import Database, SandboxClock, SandboxConfig, SandboxState

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


def test_every_sandbox_module_that_serves_routes_is_mounted() -> None:
    names = [f"cs_mcp.sandbox.{found.name}" for found in pkgutil.iter_modules(cs_mcp.sandbox.__path__)]
    serving = {name for name in names if callable(getattr(importlib.import_module(name), "routes", None))}
    assert serving == {module.__name__ for _, mounted in MOUNTS for module in mounted}


def test_a_setup_that_any_mounted_module_defines_runs_when_the_app_is_created(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    def recorder(name: str) -> Callable[[SandboxState], None]:
        return lambda state: ran.append(name)

    mounted = [module for _, modules in MOUNTS for module in modules]
    for module in mounted:
        # raising=False: a module without a setup gets one, as a module given tables later would.
        monkeypatch.setattr(module, "setup", recorder(module.__name__), raising=False)
    create_app(SandboxState(SandboxConfig(), Database(":memory:"), SandboxClock()))
    assert ran == [module.__name__ for module in mounted]
