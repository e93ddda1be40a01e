"""The sandbox speaks the documented shapes: each of its answers carries the keys of the same
endpoint's documented sample (test_client.py's fixtures), with values of the same JSON type."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import httpx2
import pytest

from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxClock, SandboxConfig
from tests.documented._documented import fixture, fixtures_outside_analytics

pytestmark = pytest.mark.anyio

START = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
LATER = "2030-01-01T00:00:00.000Z"
API_VERSION = {"api_version": "3.2"}

# Keys of a documented sample that the sandbox leaves out, and why. Everything else must match.
NOT_MODELLED = {
    # The sandbox keeps no per-field schema versions and no role-level ACLs; the SDK's list
    # fixture writes DEFAULT_ACL as a list where its single fixture (and the sandbox) use an object.
    "cma/content_types": {
        ".content_types[].schema[].field_metadata.version",
        ".content_types[].SYS_ACL.roles",
        ".content_types[].DEFAULT_ACL",
    },
    "cma/content_type": {".content_type.schema[].field_metadata.version", ".content_type.SYS_ACL.roles"},
    # Fields of the SDK's fixture that the current page's samples do not show.
    "cma/release_items_add": {".release.app_user_object_uid", ".release.deleted_at", ".release.ACL", ".release.tags"},
    # The sandbox's seeded runs name their steps but group none of them.
    "automate/executions": {".executions[].details[].group"},
    "automate/execution": {".details[].group"},
    # The sandbox names no versions, and the page's sample entry has fields of its own content type.
    "cma/entry_references": {".references[]._version_name", ".references[].publish_details[].version_name"},
    "cma/entry_localize": {".entry.group", ".entry.single_line"},
    # The sandbox reads no image dimensions, names no app user, and answers where an asset is
    # published only to reads that ask (include_publish_details), not to writes.
    "cma/asset_upload": {".asset.dimension"},
    "cma/asset_replace": {".asset.app_user_object_uid", ".asset.publish_details"},
    "cma/asset_update": {".asset.app_user_object_uid", ".asset.publish_details"},
    # The sandbox keeps no version names.
    "cma/asset_references": {".references[]._version_name", ".references[].publish_details[].version_name"},
    # No per-field schema versions, no users in the ACLs, no role ACLs (as for cma/content_type).
    "cma/content_type_create": {
        ".content_type.schema[].field_metadata.version",
        ".content_type.schema[].non_localizable",
        ".content_type.DEFAULT_ACL.users",
        ".content_type.SYS_ACL.roles",
        ".content_type.SYS_ACL.others",
    },
    "cma/content_type_update": {
        ".content_type.schema[].field_metadata.version",
        ".content_type.schema[].non_localizable",
        ".content_type.DEFAULT_ACL.users",
        ".content_type.SYS_ACL.roles",
        ".content_type.SYS_ACL.others",
    },
}
# The options of the page's sample request ("Create a content type with embedded RTE objects").
OPTIONS = {
    "title": "title",
    "publishable": True,
    "is_page": True,
    "singleton": False,
    "sub_title": ["url"],
    "url_pattern": "/:title",
    "url_prefix": "/",
}
PNG = b"\x89PNG\r\n\x1a\nsandbox"
FIELD = {"data_type": "text", "field_metadata": {"_default": True}, "unique": False, "multiple": False}
FIELDS = [
    FIELD | {"display_name": "Title", "uid": "title", "mandatory": True},
    FIELD | {"display_name": "URL", "uid": "url", "mandatory": False},
]


def kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def mismatches(documented: Any, answered: Any, path: str, ignore: set[str]) -> list[str]:
    """Where `answered` lacks a key of `documented` or holds another JSON type (null matches
    any type; a list is compared by its first item)."""
    if path in ignore or documented is None or answered is None:
        return []
    if isinstance(documented, dict):
        if not isinstance(answered, dict):
            return [f"{path or '.'}: {kind(answered)}, documented object"]
        found: list[str] = []
        for key, value in cast(dict[str, Any], documented).items():
            if f"{path}.{key}" in ignore:
                continue
            if key not in answered:
                found.append(f"{path}.{key}: missing")
            else:
                found.extend(mismatches(value, cast(dict[str, Any], answered)[key], f"{path}.{key}", ignore))
        return found
    if isinstance(documented, list):
        if not isinstance(answered, list):
            return [f"{path}: {kind(answered)}, documented list"]
        items, got = cast(list[Any], documented), cast(list[Any], answered)
        return mismatches(items[0], got[0], f"{path}[]", ignore) if items and got else []
    return [] if kind(documented) == kind(answered) else [f"{path}: {kind(answered)}, documented {kind(documented)}"]


@dataclass
class Answers:
    """The sandbox's answers, by the fixture of the same endpoint."""

    sandbox: RunningSandbox
    got: dict[str, Any] = field(default_factory=lambda: {})

    def keep(self, name: str, response: httpx2.Response) -> Any:
        assert response.status_code in (200, 201), (name, response.text)
        self.got[name] = response.json()
        return self.got[name]


@pytest.fixture
async def sandbox() -> AsyncGenerator[RunningSandbox]:
    async with running_sandbox(SandboxConfig(rate_limits=False), SandboxClock(START)) as running:
        yield running


async def collect(sandbox: RunningSandbox) -> Answers:
    creds = sandbox.credentials
    answers = Answers(sandbox)
    keep = answers.keep
    cma_headers = {"api_key": creds.api_key, "authorization": creds.management_token}
    automate_headers = {"authtoken": creds.authtoken, "organization_uid": creds.organization_uid}
    async with (
        httpx2.AsyncClient(base_url=f"{sandbox.base_url}/cma/v3", headers=cma_headers) as cma,
        httpx2.AsyncClient(base_url=f"{sandbox.base_url}/cdn/v3", headers={"api_key": creds.api_key}) as cdn,
        httpx2.AsyncClient(base_url=f"{sandbox.base_url}/automate/v1", headers=automate_headers) as automate,
    ):
        keep("cma/content_types", await cma.get("/content_types", params={"include_count": "true"}))
        keep("cma/content_type", await cma.get("/content_types/blog_post"))
        keep("cma/environments", await cma.get("/environments"))
        keep("cma/locales", await cma.get("/locales"))
        listed = keep(
            "cma/entries",
            await cma.get("/content_types/blog_post/entries", params={"include_publish_details": "true"}),
        )
        uid = listed["entries"][0]["uid"]
        entry_path = f"/content_types/blog_post/entries/{uid}"
        keep("cma/entry", await cma.get(entry_path, params={"include_publish_details": "true"}))
        keep("cma/entry_locales", await cma.get(f"{entry_path}/locales"))
        author = listed["entries"][0]["author"][0]["uid"]
        keep(
            "cma/entry_references",
            await cma.get(
                f"/content_types/author/entries/{author}/references", params={"include_publish_details": "true"}
            ),
        )
        author_path = f"/content_types/author/entries/{author}"
        keep("cma/entry_localize", await cma.put(author_path, params={"locale": "fr-fr"}, json={"entry": {}}))
        keep("cma/entry_unlocalize", await cma.post(f"{author_path}/unlocalize", params={"locale": "fr-fr"}))
        assets = keep("cma/assets", await cma.get("/assets", params={"include_publish_details": "true"}))
        keep(
            "cma/asset",
            await cma.get(f"/assets/{assets['assets'][0]['uid']}", params={"include_publish_details": "true"}),
        )
        folder = keep("cma/asset_folder_create", await cma.post("/assets/folders", json={"asset": {"name": "Demo"}}))
        inner = (
            await cma.post("/assets/folders", json={"asset": {"name": "Inner", "parent_uid": folder["asset"]["uid"]}})
        ).json()
        keep(
            "cma/asset_folder",
            await cma.get(f"/assets/folders/{inner['asset']['uid']}", params={"include_path": "true"}),
        )
        keep(
            "cma/asset_folders",
            await cma.get(
                "/assets",
                params={"include_folders": "true", "query": '{"is_dir": true}', "folder": folder["asset"]["uid"]},
            ),
        )
        uploaded = keep(
            "cma/asset_upload",
            await cma.post(
                "/assets",
                data={
                    "asset[title]": "Test",
                    "asset[description]": "d",
                    "asset[tags]": "a,b",
                    "asset[parent_uid]": folder["asset"]["uid"],
                },
                files={"asset[upload]": ("file-name.png", PNG, "image/png")},
            ),
        )
        new_asset = f"/assets/{uploaded['asset']['uid']}"
        keep(
            "cma/asset_replace",
            await cma.put(new_asset, files={"asset[upload]": ("other.png", PNG, "image/png")}),
        )
        keep("cma/asset_update", await cma.put(new_asset, json={"asset": {"title": "Test", "description": "d"}}))
        keep("cma/asset_delete", await cma.delete(new_asset))
        used_asset = ""
        for listed_asset in assets["assets"]:
            if (await cma.get(f"/assets/{listed_asset['uid']}/references")).json()["references"]:
                used_asset = listed_asset["uid"]
                break
        keep(
            "cma/asset_references",
            await cma.get(
                f"/assets/{used_asset}/references", params={"include_publish_details": "true", "include_count": "true"}
            ),
        )
        definition = {
            "uid": "sample_content",
            "title": "Sample Content",
            "schema": FIELDS,
            "options": OPTIONS,
        }
        keep("cma/content_type_create", await cma.post("/content_types", json={"content_type": definition}))
        keep(
            "cma/content_type_update",
            await cma.put("/content_types/sample_content", json={"content_type": definition | {"title": "Sample"}}),
        )
        keep("cma/content_type_delete", await cma.delete("/content_types/sample_content", params={"force": "true"}))
        target = {"environments": ["production"], "locales": ["en-us"]}
        keep("cma/entry_publish", await cma.post(f"{entry_path}/publish", json={"entry": target, "locale": "en-us"}))
        keep(
            "cma/asset_publish",
            await cma.post(f"/assets/{assets['assets'][0]['uid']}/publish", json={"asset": target}),
        )
        bulk = keep(
            "cma/bulk_publish",
            await cma.post(
                "/bulk/publish",
                json={"entries": [{"uid": uid, "content_type": "blog_post", "locale": "en-us"}], **target},
            ),
        )
        keep("cma/bulk_job", await cma.get(f"/bulk/jobs/{bulk['job_id']}", headers=API_VERSION))
        keep("cma/bulk_job_items", await cma.get(f"/bulk/jobs/{bulk['job_id']}/items", headers=API_VERSION))
        await cma.post(f"{entry_path}/publish", json={"entry": target, "locale": "en-us", "scheduled_at": LATER})
        queue = keep(
            "cma/publish_queue", await cma.get("/publish-queue", params={"include_count": "true"}, headers=API_VERSION)
        )
        scheduled = next(r for r in queue["queue"] if r["publish_details"]["status"] == "scheduled")
        keep("cma/publish_queue_row", await cma.get(f"/publish-queue/{scheduled['uid']}", headers=API_VERSION))
        keep(
            "cma/publish_queue_cancel",
            await cma.get(f"/publish-queue/{scheduled['uid']}/unschedule", headers=API_VERSION),
        )
        created = keep(
            "cma/release_create",
            await cma.post("/releases", json={"release": {"name": "Documented", "description": "d", "locked": False}}),
        )
        release = f"/releases/{created['release']['uid']}"
        item = {"uid": uid, "version": 1, "locale": "en-us", "content_type_uid": "blog_post", "action": "publish"}
        keep("cma/release_items_add", await cma.post(f"{release}/items", json={"items": [item]}))
        keep("cma/releases", await cma.get("/releases", params={"include_items_count": "true"}))
        keep("cma/release", await cma.get(release))
        keep("cma/release_items", await cma.get(f"{release}/items"))
        keep("cma/release_clone", await cma.post(f"{release}/clone", json={"release": {"name": "Copy"}}))
        keep("cma/release_deploy", await cma.post(f"{release}/deploy", json={"release": target}))
        deployment = (await cma.get("/publish-queue", params={"type": "release"}, headers=API_VERSION)).json()
        answers.got["cma/publish_queue_release_row"] = {"entry": deployment["queue"][0]}
        keep("cma/release_items_remove", await cma.request("DELETE", f"{release}/items", json={"items": [item]}))
        keep("cma/release_update", await cma.put(release, json={"release": {"name": "Documented", "locked": True}}))
        await cma.put(release, json={"release": {"name": "Documented", "locked": False}})
        keep("cma/release_delete", await cma.delete(release))
        created_entry = keep(
            "cma/entry_create",
            await cma.post(
                "/content_types/blog_post/entries",
                params={"locale": "en-us"},
                json={"entry": {"title": "Documented", "url": "/documented", "publish_date": "2024-01-01"}},
            ),
        )
        new_path = f"/content_types/blog_post/entries/{created_entry['entry']['uid']}"
        keep("cma/entry_update", await cma.put(new_path, json={"entry": {"title": "Documented again"}}))
        keep("cma/entry_delete", await cma.delete(new_path, params={"locale": "en-us"}))
        delivery = {"access_token": creds.delivery_tokens["production"]}
        keep(
            "cda/entries",
            await cdn.get(
                "/content_types/blog_post/entries",
                params={"environment": "production", "include_count": "true"},
                headers=delivery,
            ),
        )
        keep("cda/entry", await cdn.get(entry_path, params={"environment": "production"}, headers=delivery))
        projects = keep("automate/projects", await automate.get("/projects", params={"include_count": "true"}))
        project = f"/projects/{projects['projects'][0]['id']}"
        keep("automate/project", await automate.get(project))
        rules = keep(
            "automate/automations",
            await automate.get(f"{project}/automations", params={"show_steps": "true", "include_count": "true"}),
        )
        rule = f"{project}/automations/{rules['rules'][0]['id']}"
        keep("automate/automation", await automate.get(rule, params={"show_steps": "true"}))
        keep("automate/automation_activate", await automate.patch(rule, json={"active": rules["rules"][0]["active"]}))
        runs = keep(
            "automate/executions", await automate.get(f"{project}/executions", params={"include_count": "true"})
        )
        keep("automate/execution", await automate.get(f"{project}/executions/{runs['executions'][0]['id']}"))
        logs = keep(
            "automate/audit_logs", await automate.get(f"{project}/audit-logs", params={"include_count": "true"})
        )
        keep("automate/audit_log", await automate.get(f"{project}/audit-logs/{logs['logs'][0]['uid']}"))
        all_logs = (await automate.get(f"{project}/audit-logs", params={"limit": "100"})).json()["logs"]
        connected = next(log for log in all_logs if log["module"] == "Connected Apps")
        keep("automate/audit_log_account", await automate.get(f"{project}/audit-logs/{connected['uid']}"))
        variables = keep("automate/variables", await automate.get(f"{project}/variables"))
        keep("automate/variable", await automate.get(f"{project}/variables/{variables['variables'][1]['id']}"))
        accounts = keep("automate/accounts", await automate.get(f"{project}/accounts"))
        keep("automate/account", await automate.get(f"{project}/accounts/{accounts['accounts'][0]['id']}"))
        new_variable = keep(
            "automate/variable_create",
            await automate.post(f"{project}/variables", json={"key": "Key3", "type": "text", "value": "password@1234"}),
        )
        variable = f"{project}/variables/{new_variable['id']}"
        keep(
            "automate/variable_update",
            await automate.put(variable, json={"key": "Key3", "type": "text", "value": "abcd@1234"}),
        )
        keep("automate/variable_delete", await automate.delete(variable))
        made = keep(
            "automate/project_create",
            await automate.post("/projects", json={"title": "Docs", "description": "d", "tags": ["sample"]}),
        )
        keep("automate/project_update", await automate.put(f"/projects/{made['id']}", json={"tags": ["a", "b"]}))
        keep("automate/project_delete", await automate.delete(f"/projects/{made['id']}"))
    return answers


async def test_every_sandbox_answer_carries_the_documented_keys_and_types(sandbox: RunningSandbox) -> None:
    answers = await collect(sandbox)
    assert set(answers.got) == set(fixtures_outside_analytics())
    found = {
        name: problems
        for name in fixtures_outside_analytics()
        if (problems := mismatches(fixture(name), answers.got[name], "", NOT_MODELLED.get(name, set())))
    }
    assert found == {}, "\n".join(f"{name}: {problems}" for name, problems in found.items())
