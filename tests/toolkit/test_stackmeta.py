"""Stack metadata read once and cached: the master locale in both of Contentstack's spellings."""

from __future__ import annotations

import httpx2
import pytest

from cs_mcp.client import ContentstackClient
from cs_mcp.config import Settings
from cs_mcp.guard import PermitAuthority
from cs_mcp.toolkit.stackmeta import StackMetadata

pytestmark = pytest.mark.anyio

ENV = {"CONTENTSTACK_API_KEY": "blt_api_key", "CONTENTSTACK_MANAGEMENT_TOKEN": "cs_token"}


def client_answering_locales(locales: list[dict[str, str]], calls: list[str]) -> ContentstackClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(request.url.path)
        return httpx2.Response(200, json={"locales": locales})

    config = Settings.from_env(ENV).client_config()
    return ContentstackClient(config, permits=PermitAuthority(), transport=httpx2.MockTransport(handler))


@pytest.mark.parametrize(
    "master",
    [{"code": "en-us", "name": "English"}, {"code": "en-us", "name": "English", "fallback_locale": "en-us"}],
)
async def test_the_master_locale_falls_back_to_none_or_to_itself(master: dict[str, str]) -> None:
    calls: list[str] = []
    locales = [{"code": "fr-fr", "fallback_locale": "en-us"}, master]
    async with client_answering_locales(locales, calls) as client:
        meta = StackMetadata(client)
        assert await meta.master_locale() == "en-us"
        assert await meta.locale_codes() == ["fr-fr", "en-us"]
    assert len(calls) == 1  # cached after the first read


@pytest.mark.parametrize(
    "master",
    [{"code": "en-us", "name": "English"}, {"code": "en-us", "name": "English", "fallback_locale": "en-us"}],
)
async def test_a_fallback_chain_runs_from_the_language_through_its_fallbacks_to_the_master_once(
    master: dict[str, str],
) -> None:
    locales = [{"code": "fr-ca", "fallback_locale": "fr-fr"}, {"code": "fr-fr", "fallback_locale": "en-us"}, master]
    async with client_answering_locales(locales, []) as client:
        meta = StackMetadata(client)
        assert await meta.fallback_chain("fr-ca") == ["fr-ca", "fr-fr", "en-us"]
        assert await meta.fallback_chain("en-us") == ["en-us"]
        assert await meta.fallback_chain("de-de") == ["de-de"]


@pytest.mark.parametrize(
    ("french", "chain"),
    [
        ({"code": "fr-fr", "fallback_locale": "fr-ca"}, ["fr-ca", "fr-fr", "en-us"]),  # back to the first
        ({"code": "fr-fr", "fallback_locale": "fr-be"}, ["fr-ca", "fr-fr", "en-us"]),  # not on the stack
    ],
)
async def test_a_fallback_chain_ends_at_the_master_when_the_fallbacks_do_not_lead_there(
    french: dict[str, str], chain: list[str]
) -> None:
    locales = [{"code": "fr-ca", "fallback_locale": "fr-fr"}, french, {"code": "en-us", "name": "English"}]
    async with client_answering_locales(locales, []) as client:
        assert await StackMetadata(client).fallback_chain("fr-ca") == chain
