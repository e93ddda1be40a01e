"""The sandbox's stack administration collections over loopback: the rules each reference page
states, and what a change to an environment or a language does to the content that uses it."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from cs_mcp.sandbox import store
from cs_mcp.sandbox.state import SandboxState

pytestmark = pytest.mark.anyio


def refused(response: httpx2.Response, field: str) -> bool:
    return response.status_code == 422 and field in response.json()["errors"]


async def test_renaming_an_environment_moves_what_is_published_there(
    cma: httpx2.AsyncClient, state: SandboxState
) -> None:
    with state.db.read() as conn:
        before = conn.execute("SELECT COUNT(*) FROM publish_details WHERE environment = 'staging'").fetchone()[0]
    renamed = await cma.put("/environments/staging", json={"environment": {"name": "preprod"}})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["environment"]["_version"] == 2
    with state.db.read() as conn:
        moved = conn.execute("SELECT COUNT(*) FROM publish_details WHERE environment = 'preprod'").fetchone()[0]
        assert store.get_environment(conn, "staging") is None
    assert before > 0
    assert moved == before


async def test_deleting_an_environment_unpublishes_everything_there(
    cma: httpx2.AsyncClient, state: SandboxState
) -> None:
    assert (await cma.delete("/environments/staging")).json() == {"notice": "Environment deleted successfully."}
    with state.db.read() as conn:
        left = conn.execute("SELECT COUNT(*) FROM publish_details WHERE environment = 'staging'").fetchone()[0]
    assert left == 0
    assert (await cma.delete("/environments/staging")).status_code == 422


async def test_an_environment_name_is_unique(cma: httpx2.AsyncClient) -> None:
    taken = await cma.post("/environments", json={"environment": {"name": "production"}})
    clash = await cma.put("/environments/staging", json={"environment": {"name": "production"}})
    assert refused(taken, "name")
    assert refused(clash, "name")


async def test_a_language_needs_an_existing_fallback_and_keeps_its_code(cma: httpx2.AsyncClient) -> None:
    unknown = await cma.post("/locales", json={"locale": {"code": "de-de", "fallback_locale": "xx-xx"}})
    added = await cma.post("/locales", json={"locale": {"code": "de-de"}})
    recoded = await cma.put("/locales/de-de", json={"locale": {"code": "de-at"}})
    assert refused(unknown, "fallback_locale")
    assert added.json()["locale"] | {"name": "de-de", "fallback_locale": "en-us"} == added.json()["locale"]
    assert refused(recoded, "code")


async def test_deleting_a_language_removes_its_entries_and_repoints_its_fallbacks(
    cma: httpx2.AsyncClient, state: SandboxState
) -> None:
    await cma.post("/locales", json={"locale": {"code": "fr-ca", "fallback_locale": "fr-fr"}})
    master = await cma.delete("/locales/en-us")
    assert (await cma.delete("/locales/fr-fr")).json() == {"notice": "Language removed successfully."}
    with state.db.read() as conn:
        french = conn.execute("SELECT COUNT(*) FROM entries WHERE locale = 'fr-fr'").fetchone()[0]
        fallback = (store.get_locale(conn, "fr-ca") or {}).get("fallback_locale")
    assert refused(master, "code")
    assert french == 0
    assert fallback == "en-us"


async def test_a_label_names_existing_content_types_and_parents(cma: httpx2.AsyncClient) -> None:
    ghost = await cma.post("/labels", json={"label": {"name": "G", "content_types": ["ghost"]}})
    orphan = await cma.post("/labels", json={"label": {"name": "O", "parent": ["blt_nowhere"]}})
    parent = (await cma.get("/labels")).json()["labels"][0]["uid"]
    child = await cma.post("/labels", json={"label": {"name": "C", "parent": [parent]}})
    assert refused(ghost, "content_types")
    assert refused(orphan, "parent")
    assert child.status_code == 201


async def test_a_webhook_answers_its_secrets_masked_and_needs_channels_and_a_target(cma: httpx2.AsyncClient) -> None:
    target: dict[str, Any] = {"target_url": "https://h.example.com", "authentication_type": "Bearer"}
    created = await cma.post(
        "/webhooks",
        json={
            "webhook": {"name": "W", "channels": ["assets.create"], "destinations": [target | {"bearer_token": "s3"}]}
        },
    )
    no_channel = await cma.post("/webhooks", json={"webhook": {"name": "W", "destinations": [target]}})
    no_target = await cma.post("/webhooks", json={"webhook": {"name": "W", "channels": ["assets.create"]}})
    assert created.json()["webhook"]["destinations"][0]["bearer_token"] == "********"
    assert refused(no_channel, "channels")
    assert refused(no_target, "destinations")


async def test_delivery_tokens_and_roles_are_served_read_only(cma: httpx2.AsyncClient) -> None:
    tokens = await cma.get("/stacks/delivery_tokens", params={"include_count": "true"})
    written = await cma.post("/roles", json={"role": {"name": "R"}})
    assert tokens.json()["count"] == 2
    assert written.status_code == 405
