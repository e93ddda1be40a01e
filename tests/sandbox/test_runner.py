"""Running the sandbox: loopback HTTP in the caller's loop, in a thread, and across restarts."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx2
import pytest

from cs_mcp.sandbox import store
from cs_mcp.sandbox.credentials import DEMO_CREDENTIALS
from cs_mcp.sandbox.runner import RunningSandbox, describe, running_sandbox, start_sandbox_thread
from cs_mcp.sandbox.state import SandboxConfig

pytestmark = pytest.mark.anyio


def _cma_headers(running: RunningSandbox) -> dict[str, str]:
    return {"api_key": running.credentials.api_key, "authorization": running.credentials.management_token}


async def test_the_sandbox_answers_on_a_loopback_port_with_the_env_pointing_at_it(sandbox: RunningSandbox) -> None:
    env = sandbox.env()
    assert sandbox.base_url.startswith("http://127.0.0.1:")
    assert env["CONTENTSTACK_CMA_BASE_URL"] == f"{sandbox.base_url}/cma"
    assert env["CONTENTSTACK_CDA_BASE_URL"] == f"{sandbox.base_url}/cdn"
    assert env["CONTENTSTACK_ENVIRONMENT"] == "development"
    assert env["CS_MCP_DELIVERY_TOKENS"].count("=") == 3
    async with httpx2.AsyncClient(base_url=env["CONTENTSTACK_CMA_BASE_URL"]) as http:
        answer = await http.get("/v3/environments", headers=_cma_headers(sandbox))
    assert answer.status_code == 200
    assert [e["name"] for e in answer.json()["environments"]] == ["development", "production", "staging"]


async def test_a_file_database_keeps_every_committed_write_across_a_restart(tmp_path: Path) -> None:
    config = SandboxConfig(db_path=str(tmp_path / "stack.sqlite3"))
    async with running_sandbox(config) as first, httpx2.AsyncClient(base_url=first.base_url) as http:
        created = await http.post(
            "/cma/v3/content_types/author/entries",
            json={"entry": {"title": "Restart Tester", "email": "restart@example.com"}},
            headers=_cma_headers(first),
        )
        assert created.status_code == 201
        uid = created.json()["entry"]["uid"]
        updated = await http.put(
            f"/cma/v3/content_types/author/entries/{uid}",
            json={"entry": {"twitter": "@restart"}},
            headers=_cma_headers(first),
        )
        assert updated.json()["entry"]["_version"] == 2
    async with running_sandbox(config) as second, httpx2.AsyncClient(base_url=second.base_url) as http:
        again = await http.get(f"/cma/v3/content_types/author/entries/{uid}", headers=_cma_headers(second))
        assert again.status_code == 200
        assert again.json()["entry"]["_version"] == 2
        assert again.json()["entry"]["twitter"] == "@restart"
        with second.state.db.read() as conn:
            assert len(store.list_entries(conn, "author", "en-us")) == 13


async def test_reset_starts_over_from_the_seed(tmp_path: Path) -> None:
    path = str(tmp_path / "stack.sqlite3")
    async with running_sandbox(SandboxConfig(db_path=path)) as first:
        with first.state.db.transaction() as conn:
            store.delete_entry(conn, "author", store.entry_uids(conn, "author")[0])
    async with running_sandbox(SandboxConfig(db_path=path, reset=True)) as second:
        with second.state.db.read() as conn:
            assert len(store.entry_uids(conn, "author")) == 12


def test_a_sandbox_in_a_thread_serves_synchronous_callers() -> None:
    with start_sandbox_thread(SandboxConfig()) as running:
        answer = httpx2.get(f"{running.base_url}/cma/v3/locales", headers=_cma_headers(running))
    assert answer.status_code == 200
    assert [locale["code"] for locale in answer.json()["locales"]] == ["en-us", "fr-fr"]


async def test_a_stopped_sandbox_no_longer_accepts_connections() -> None:
    async with running_sandbox(SandboxConfig()) as running:
        url = running.base_url
    with pytest.raises(httpx2.ConnectError), anyio.fail_after(10):
        async with httpx2.AsyncClient() as http:
            await http.get(f"{url}/cma/v3/locales")


def test_the_start_banner_shows_the_urls_and_the_demo_credentials() -> None:
    banner = describe("http://127.0.0.1:8766", DEMO_CREDENTIALS)
    assert "http://127.0.0.1:8766/cma/v3" in banner
    assert DEMO_CREDENTIALS.management_token in banner
    assert "export CONTENTSTACK_API_KEY=" in banner
