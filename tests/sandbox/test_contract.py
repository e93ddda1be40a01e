"""Contract: the project's own client reads the sandbox's CMA and CDA answers, and those answers
carry the keys of the management SDK's fixtures (sdk-fixtures/mock_environments, mock_locales,
mock_content_type, mock_entries)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx2
import pytest

from cs_mcp.client._client import ClientConfig, ContentstackClient
from cs_mcp.client._exceptions import AuthenticationError, InvalidRequestError, NotFoundError
from cs_mcp.client._regions import Api
from cs_mcp.guard.permit import PermitAuthority
from cs_mcp.sandbox.runner import RunningSandbox

pytestmark = pytest.mark.anyio

ENVIRONMENT_KEYS = {"urls", "name", "uid", "created_by", "updated_by", "created_at", "updated_at", "ACL", "_version"}
LOCALE_KEYS = {"name", "code", "fallback_locale", "uid", "created_by", "updated_by", "created_at", "updated_at", "ACL",
               "_version"}  # fmt: skip
CONTENT_TYPE_KEYS = {"created_at", "updated_at", "title", "uid", "_version", "inbuilt_class", "schema",
                     "last_activity", "maintain_revisions", "description", "DEFAULT_ACL", "SYS_ACL", "options",
                     "abilities"}  # fmt: skip
SCHEMA_FIELD_KEYS = {"data_type", "display_name", "field_metadata", "mandatory", "uid", "unique", "multiple",
                     "non_localizable"}  # fmt: skip
ENTRY_KEYS = {"title", "tags", "locale", "uid", "created_by", "updated_by", "created_at", "updated_at", "ACL",
              "_version"}  # fmt: skip


def _client_config(sandbox: RunningSandbox, **changes: str) -> ClientConfig:
    creds = sandbox.credentials
    values = {"api_key": creds.api_key, "management_token": creds.management_token} | changes
    return ClientConfig(
        api_key=values["api_key"],
        management_token=values["management_token"],
        delivery_tokens=dict(creds.delivery_tokens),
        default_environment="production",
        branch=creds.branch,
        base_urls={Api.CMA: f"{sandbox.base_url}/cma", Api.CDA: f"{sandbox.base_url}/cdn"},
    )


@pytest.fixture
async def client(sandbox: RunningSandbox) -> AsyncGenerator[ContentstackClient]:
    async with ContentstackClient(_client_config(sandbox), permits=PermitAuthority()) as client:
        yield client


async def test_the_client_reads_the_stack_structure(client: ContentstackClient) -> None:
    environments = await client.stack.environments()
    assert sorted(e.name for e in environments) == ["development", "production", "staging"]
    locales = await client.stack.locales()
    assert {locale.code for locale in locales} == {"en-us", "fr-fr"}
    types = await client.stack.all_content_types()
    assert {ct.uid for ct in types} == {"author", "blog_post", "page", "product"}
    blog_post = await client.stack.content_type("blog_post")
    assert blog_post.uid == "blog_post"


async def test_the_client_reads_drafts_and_published_entries(client: ContentstackClient) -> None:
    drafts = await client.entries.query("blog_post", query={"featured": True}, limit=5)
    assert drafts.total is not None
    assert drafts.total > 0
    assert all(entry.version for entry in drafts.items)
    published = await client.entries.query("blog_post", source="published", limit=100)
    assert published.items
    one = published.items[0]
    fetched = await client.entries.get("blog_post", one.uid, source="published")
    assert fetched.version == one.version
    versions = await client.entries.latest_versions("blog_post", [e.uid for e in drafts.items], locale="en-us")
    assert set(versions) == {e.uid for e in drafts.items}


async def test_the_client_maps_the_sandbox_errors_to_its_own(
    sandbox: RunningSandbox, client: ContentstackClient
) -> None:
    with pytest.raises(NotFoundError):
        await client.entries.get("blog_post", "bltmissing")
    with pytest.raises(NotFoundError):
        await client.entries.get("author", "bltmissing", source="published")
    with pytest.raises(InvalidRequestError):
        await client.entries.query("blog_post", query={"title": {"$bogus": 1}})
    async with ContentstackClient(
        _client_config(sandbox, management_token="cswrong"), permits=PermitAuthority()
    ) as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.stack.environments()


async def test_answers_carry_the_keys_of_the_sdk_fixtures(sandbox_http: httpx2.AsyncClient) -> None:
    environment = (await sandbox_http.get("/cma/v3/environments/development")).json()["environment"]
    assert environment.keys() >= ENVIRONMENT_KEYS
    for locale in (await sandbox_http.get("/cma/v3/locales")).json()["locales"]:
        assert locale.keys() >= LOCALE_KEYS
    content_type = (await sandbox_http.get("/cma/v3/content_types/page")).json()["content_type"]
    assert content_type.keys() >= CONTENT_TYPE_KEYS
    assert all(field.keys() >= SCHEMA_FIELD_KEYS for field in content_type["schema"])
    entries = (await sandbox_http.get("/cma/v3/content_types/page/entries")).json()["entries"]
    assert all(entry.keys() >= ENTRY_KEYS for entry in entries)
    assert all(isinstance(entry["_version"], int) and isinstance(entry["tags"], list) for entry in entries)
