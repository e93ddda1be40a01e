"""Every endpoint the client calls, answered with the sample its reference page shows (see
README.md): the request travels as the page documents it (method, path, parameters, headers,
body) and the client reads the documented answer."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx2
import pytest

from cs_mcp.client import AssetFile, ContentstackClient
from cs_mcp.client._entry_models import BulkEntry
from cs_mcp.client._releases import ReleaseItem
from cs_mcp.guard import Permit
from tests.documented._documented import Recorder, client_answering, fixture, fixtures_outside_analytics
from tests.helpers import as_the_model_reads

pytestmark = pytest.mark.anyio

NO_BODY = object()
Call = Callable[[ContentstackClient, Permit], Awaitable[Any]]
ITEM = ReleaseItem(uid="entry-uid", content_type_uid="author", locale="en-us", version=3, action="publish")


@dataclass(frozen=True)
class Documented:
    """One documented request: what the client is asked, what must travel, what it must read.
    `request` is the method and the path as the reference page writes them ("GET /v3/locales");
    `api` names the host and the headers its every request carries (`APIS`); a JSON body travels
    with its content type."""

    fixture: str
    call: Call
    request: str
    check: Callable[[Any], object]
    params: dict[str, str] = field(default_factory=lambda: {})
    headers: dict[str, str] = field(default_factory=lambda: {})
    body: Any = NO_BODY
    api: str = "cma"

    @property
    def method(self) -> str:
        return self.request.split(" ")[0]


def says(notice: str) -> Callable[[Any], bool]:
    """The check of a write whose answer is a notice: the client reads it word for word."""
    return lambda answer: answer == notice


def any_notice(answer: object) -> bool:
    """The check of a write whose answer is a notice, whatever its words."""
    return isinstance(answer, str)


# The host and the headers every request of an API carries, by the `api` a case names.
APIS: dict[str, tuple[str, dict[str, str]]] = {
    "cma": ("api.contentstack.io", {}),
    "releases": ("api.contentstack.io", {"release_version": "2.0"}),
    # "CMA | Job Status" and "CMA | Publish Queue"
    "jobs": ("api.contentstack.io", {"api_version": "3.2"}),
    "cda": ("cdn.contentstack.io", {"access_token": "cs_delivery_token", "api_key": "blt_api_key"}),
    "automate": ("automations-api.contentstack.com", {"organization_uid": "org-uid"}),
}
JSON_BODY = {"content-type": "application/json"}


def sent_to(api: str, *cases: Documented) -> list[Documented]:
    """`cases`, each a request to `api` (a key of `APIS`)."""
    return [replace(case, api=api) for case in cases]


CMA = sent_to(
    "cma",
    # -- stack structure ("CMA | Content Types", "CMA | Environments", "CMA | Languages")
    Documented(
        "cma/content_types",
        lambda c, _p: c.stack.content_types(),
        "GET /v3/content_types",
        lambda page: [ct.uid for ct in page.items][:1] == ["author"] and page.items[0].schema_[0].mandatory,
        params={"include_count": "true", "include_global_field_schema": "true"},
    ),
    Documented(
        "cma/content_type",
        lambda c, _p: c.stack.content_type("content_type_get"),
        "GET /v3/content_types/content_type_get",
        lambda ct: ct.uid == "content_type_get" and ct.schema_[0].uid == "title",
    ),
    Documented(
        "cma/environments",
        lambda c, _p: c.stack.environments(),
        "GET /v3/environments",
        lambda envs: [e.name for e in envs] == ["asset", "production", "development"],
    ),
    Documented(
        "cma/locales",
        lambda c, _p: c.stack.locales(),
        "GET /v3/locales",
        lambda locales: [(loc.code, loc.fallback_locale) for loc in locales][:1] == [("ar-bh", "en-us")],
    ),
    # -- entries ("CMA | Entries")
    Documented(
        "cma/entries",
        lambda c, _p: c.entries.query("blog_post", locale="en-us", limit=10),
        "GET /v3/content_types/blog_post/entries",
        lambda page: [(e.uid, e.version) for e in page.items] == [("entry-uid", 4)],
        params={"include_count": "true", "include_publish_details": "true", "locale": "en-us", "limit": "10"},
    ),
    # The tools read entries plainly: each as the model would read and write it back.
    Documented(
        "cma/entries",
        lambda c, _p: c.entries.query_plain("blog_post", locale="en-us", limit=10),
        "GET /v3/content_types/blog_post/entries",
        lambda page: (
            json.dumps(page.items) == json.dumps([as_the_model_reads(e) for e in fixture("cma/entries")["entries"]])
        ),
        params={"include_count": "true", "include_publish_details": "true", "locale": "en-us", "limit": "10"},
    ),
    Documented(
        "cma/entry",
        lambda c, _p: c.entries.get_plain("blog_post", "entry-uid", locale="en-us"),
        "GET /v3/content_types/blog_post/entries/entry-uid",
        lambda entry: json.dumps(entry) == json.dumps(as_the_model_reads(fixture("cma/entry")["entry"])),
        params={"locale": "en-us", "include_publish_details": "true"},
    ),
    Documented(
        "cma/entry",
        lambda c, _p: c.entries.get("blog_post", "entry-uid", locale="en-us"),
        "GET /v3/content_types/blog_post/entries/entry-uid",
        lambda entry: (entry.uid, entry.version, entry.title) == ("entry-uid", 4, "test1"),
        params={"locale": "en-us", "include_publish_details": "true"},
    ),
    Documented(
        "cma/entry_locales",
        lambda c, _p: c.entries.localized_locales("blog_post", "entry-uid"),
        "GET /v3/content_types/blog_post/entries/entry-uid/locales",
        lambda codes: codes == ["en-us", "fr-fr"],
    ),
    Documented(
        "cma/entry_references",
        lambda c, _p: c.entries.references("author", "entry-uid", locale="en-us"),
        "GET /v3/content_types/author/entries/entry-uid/references",
        lambda refs: (
            [(r.entry_uid, r.content_type_uid, r.version, r.publish_details[0].version) for r in refs]
            == [("blt**************2e", "ref_parent", 8, 7)]
        ),
        params={"locale": "en-us", "include_publish_details": "true"},
    ),
    Documented(
        "cma/entry_localize",
        lambda c, p: c.entries.localize(
            "product", "entry-uid", {"title": "Sample Entry in Arabic"}, locale="hi-in", permit=p
        ),
        "PUT /v3/content_types/product/entries/entry-uid",
        lambda entry: (entry.uid, entry.locale, entry.version) == ("bltf285cc2affe9f495", "hi-in", 1),
        params={"locale": "hi-in"},
        body={"entry": {"title": "Sample Entry in Arabic"}},
    ),
    Documented(
        "cma/entry_unlocalize",
        lambda c, p: c.entries.unlocalize("product", "entry-uid", locale="fr-fr", permit=p),
        "POST /v3/content_types/product/entries/entry-uid/unlocalize",
        says("Entry unlocalized successfully."),
        params={"locale": "fr-fr"},
    ),
    Documented(
        "cma/entry_create",
        lambda c, p: c.entries.create("blog_post", {"title": "test1"}, locale="en-us", permit=p),
        "POST /v3/content_types/blog_post/entries",
        lambda entry: entry.version == 1,
        params={"locale": "en-us"},
        body={"entry": {"title": "test1"}},
    ),
    Documented(
        "cma/entry_update",
        lambda c, p: c.entries.update("blog_post", "entry-uid", {"title": "test2"}, locale="en-us", permit=p),
        "PUT /v3/content_types/blog_post/entries/entry-uid",
        lambda entry: entry.version == 5,
        params={"locale": "en-us"},
        body={"entry": {"title": "test2"}},
    ),
    Documented(
        "cma/entry_delete",
        lambda c, p: c.entries.delete("blog_post", "entry-uid", locale="en-us", permit=p),
        "DELETE /v3/content_types/blog_post/entries/entry-uid",
        says("Entry deleted successfully."),
        params={"locale": "en-us"},
    ),
    # -- assets ("CMA | Assets")
    Documented(
        "cma/assets",
        lambda c, _p: c.entries.assets(limit=5),
        "GET /v3/assets",
        lambda page: [(a.uid, a.version) for a in page.items] == [("asset-uid", 2)],
        params={"include_count": "true", "include_publish_details": "true", "limit": "5"},
    ),
    Documented(
        "cma/asset",
        lambda c, _p: c.entries.asset("asset-uid"),
        "GET /v3/assets/asset-uid",
        lambda asset: (asset.filename, asset.version) == ("logo.png", 2),
        params={"include_publish_details": "true"},
    ),
    # -- asset writes, folders and references ("CMA | Assets")
    Documented(
        "cma/asset_update",
        lambda c, p: c.assets.update("blt558a9890b838abcd", title="Test", description="This is testing", permit=p),
        "PUT /v3/assets/blt558a9890b838abcd",
        lambda asset: (asset.title, asset.version) == ("Test", 1),
        body={"asset": {"title": "Test", "description": "This is testing"}},
    ),
    Documented(
        "cma/asset_delete",
        lambda c, p: c.assets.delete("blt91af1e5af9c3639f", environments=[], permit=p),
        "DELETE /v3/assets/blt91af1e5af9c3639f",
        says("Asset deleted successfully."),
    ),
    Documented(
        "cma/asset_folder_create",
        lambda c, p: c.assets.create_folder("Demo", parent_uid="bltf0000d00f00c0e00", permit=p),
        "POST /v3/assets/folders",
        lambda folder: (folder.is_dir, folder.parent_uid) == (True, "bltf0000d00f00c0e00"),
        body={"asset": {"name": "Demo", "parent_uid": "bltf0000d00f00c0e00"}},
    ),
    Documented(
        "cma/asset_folder",
        lambda c, _p: c.assets.folder("blt91af1e5af9c3639f"),
        "GET /v3/assets/folders/blt91af1e5af9c3639f",
        lambda folder: folder.is_dir and folder.model_dump()["path"][0]["name"] == "sample",
        params={"include_path": "true"},
    ),
    Documented(
        "cma/asset_folders",
        lambda c, _p: c.assets.folders(parent="bltd11bd1a1c11111ee"),
        "GET /v3/assets",
        lambda page: [(f.uid, f.is_dir) for f in page.items] == [("blt1111b11e11ae111f", True)],
        params={"include_folders": "true", "query": '{"is_dir":true}', "folder": "bltd11bd1a1c11111ee"},
    ),
    Documented(
        "cma/asset_references",
        lambda c, _p: c.assets.references("blt**************ba"),
        "GET /v3/assets/blt**************ba/references",
        lambda refs: (
            [(r.entry_uid, r.content_type_uid, r.version, r.publish_details[0].version) for r in refs]
            == [("blt**************2e", "ref_parent", 8, 7)]
        ),
        params={"include_publish_details": "true"},
    ),
    # -- content type writes ("CMA | Content Types")
    Documented(
        "cma/content_type_create",
        lambda c, p: c.content_types.create(
            {"uid": "sample_content", "title": "Sample Content", "schema": []}, permit=p
        ),
        "POST /v3/content_types",
        lambda ct: (ct.uid, [f.uid for f in ct.schema_]) == ("sample_content", ["title", "url"]),
        body={"content_type": {"uid": "sample_content", "title": "Sample Content", "schema": []}},
    ),
    Documented(
        "cma/content_type_update",
        lambda c, p: c.content_types.update("sample_content", {"title": "Sample Content"}, permit=p),
        "PUT /v3/content_types/sample_content",
        lambda ct: ct.model_dump(by_alias=True)["_version"] == 2,
        body={"content_type": {"title": "Sample Content"}},
    ),
    Documented(
        "cma/content_type_delete",
        lambda c, p: c.content_types.delete("sample_content", permit=p),
        "DELETE /v3/content_types/sample_content",
        says("Content Type deleted successfully."),
        params={"force": "true"},
    ),
    # -- publishing ("CMA | Entries", "CMA | Assets", "CMA | Bulk Operations")
    Documented(
        "cma/entry_publish",
        lambda c, p: c.publishing.entry(
            "publish",
            "blog_post",
            "entry-uid",
            environments=["production"],
            locales=["en-us"],
            locale="en-us",
            version=4,
            permit=p,
        ),
        "POST /v3/content_types/blog_post/entries/entry-uid/publish",
        says("The requested action has been performed."),
        body={"entry": {"environments": ["production"], "locales": ["en-us"]}, "locale": "en-us", "version": 4},
    ),
    Documented(
        "cma/asset_publish",
        lambda c, p: c.publishing.asset(
            "unpublish", "asset-uid", environments=["production"], locales=["en-us"], version=2, permit=p
        ),
        "POST /v3/assets/asset-uid/unpublish",
        says("The requested action has been performed."),
        body={"asset": {"environments": ["production"], "locales": ["en-us"]}, "version": 2},
    ),
    Documented(
        "cma/bulk_publish",
        lambda c, p: c.publishing.bulk(
            "publish",
            entries=[BulkEntry(uid="entry-uid", content_type="blog_post", version=4, locale="en-us")],
            assets=[],
            environments=["production"],
            locales=["en-us"],
            permit=p,
        ),
        "POST /v3/bulk/publish",
        lambda submission: submission.job_id == "job-uid",
        body={
            "entries": [{"uid": "entry-uid", "content_type": "blog_post", "version": 4, "locale": "en-us"}],
            "assets": [],
            "locales": ["en-us"],
            "environments": ["production"],
        },
    ),
)

JOBS = sent_to(
    "jobs",
    # -- a bulk job's items ("CMA | Job Status")
    Documented(
        "cma/bulk_job_items",
        lambda c, _p: c.publishing.bulk_job_items("job-uid"),
        "GET /v3/bulk/jobs/job-uid/items",
        lambda items: (
            [(i.uid, i.content_type_uid, i.state, i.reason) for i in items]
            == [
                ("entry-uid-1", "author", "success", None),
                ("entry-uid-2", "author", "failed", "Entry is not localized in en-us."),
            ]
        ),
        params={"include_count": "true", "skip": "0", "limit": "100"},
    ),
    # -- the publish queue ("CMA | Publish Queue")
    Documented(
        "cma/publish_queue",
        lambda c, _p: c.publishing.queue(limit=10),
        "GET /v3/publish-queue",
        lambda page: (
            [(r.content_type_uid, r.release_uid, r.state) for r in page.items]
            == [("ct5", None, "scheduled"), (None, "release_uid", "success")]
        ),
        params={"include_count": "true", "skip": "0", "limit": "10"},
    ),
    Documented(
        "cma/publish_queue_row",
        lambda c, _p: c.publishing.queue_item("queue-uid"),
        "GET /v3/publish-queue/queue-uid",
        lambda row: (row.content_type_uid, row.environments, row.locales) == ("ct5", ["env-uid"], ["hi-in"]),
    ),
    Documented(
        "cma/publish_queue_release_row",
        lambda c, _p: c.publishing.queue_item("publish_queue_uid"),
        "GET /v3/publish-queue/publish_queue_uid",
        lambda row: (row.type, row.release_uid) == ("release", "release_uid"),
    ),
    Documented(
        "cma/publish_queue_cancel",
        lambda c, p: c.publishing.unschedule("queue-uid", environments=["production"], permit=p),
        "GET /v3/publish-queue/queue-uid/unschedule",
        says("Release unscheduled successfully."),
    ),
)

RELEASES = sent_to(
    "releases",
    # -- releases ("CMA | Releases")
    Documented(
        "cma/releases",
        lambda c, _p: c.releases.list(limit=5),
        "GET /v3/releases",
        lambda page: [(r.uid, r.locked, r.items_count) for r in page.items] == [("blt123123bfc123fdd1", True, 10)],
        params={"include_count": "true", "include_items_count": "true", "limit": "5"},
    ),
    Documented(
        "cma/release",
        lambda c, _p: c.releases.get_release("release_uid"),
        "GET /v3/releases/release_uid",
        lambda release: release.uid == "release_uid",
    ),
    Documented(
        "cma/release_items",
        lambda c, _p: c.releases.items("release_uid"),
        "GET /v3/releases/release_uid/items",
        lambda page: all(i.uid for i in page.items),
        params={"include_count": "true"},
    ),
    Documented(
        "cma/release_create",
        lambda c, p: c.releases.create("Release Name", "2018-12-12", permit=p),
        "POST /v3/releases",
        lambda release: bool(release.uid),
        body={"release": {"name": "Release Name", "locked": False, "archived": False, "description": "2018-12-12"}},
    ),
    Documented(
        "cma/release_update",
        lambda c, p: c.releases.update(
            "release_uid", name="Release Name", description="2018-12-12", locked=True, permit=p
        ),
        "PUT /v3/releases/release_uid",
        lambda release: bool(release.uid),
        body={"release": {"name": "Release Name", "description": "2018-12-12", "locked": True}},
    ),
    Documented(
        "cma/release_delete",
        lambda c, p: c.releases.delete("release_uid", permit=p),
        "DELETE /v3/releases/release_uid",
        any_notice,
    ),
    Documented(
        "cma/release_items_add",
        lambda c, p: c.releases.add_items("release_uid", [ITEM], permit=p),
        "POST /v3/releases/release_uid/items",
        any_notice,
        body={"items": [ITEM.body()]},
    ),
    Documented(
        "cma/release_items_remove",
        lambda c, p: c.releases.remove_items("release_uid", [ITEM], permit=p),
        "DELETE /v3/releases/release_uid/items",
        any_notice,
        body={"items": [ITEM.body()]},
    ),
    Documented(
        "cma/release_items_remove",
        lambda c, p: c.releases.remove_items("release_uid", [ITEM], all=True, permit=p),
        "DELETE /v3/releases/release_uid/items",
        any_notice,
        params={"all": "true"},
        body={"items": [ITEM.body()]},
    ),
    Documented(
        "cma/release_deploy",
        lambda c, p: c.releases.deploy(
            "release_uid", environments=["production"], locales=["en-us"], items=[ITEM], permit=p
        ),
        "POST /v3/releases/release_uid/deploy",
        says("Release sent successfully for deployment."),
        body={"release": {"environments": ["production"], "action": "publish", "locales": ["en-us"]}},
    ),
    Documented(
        "cma/release_clone",
        lambda c, p: c.releases.clone("release_uid", "Copy", None, permit=p),
        "POST /v3/releases/release_uid/clone",
        lambda release: bool(release.uid),
        body={"release": {"name": "Copy"}},
    ),
)

CDA = sent_to(
    "cda",
    # -- the Content Delivery API ("CDA | Entries")
    Documented(
        "cda/entries",
        lambda c, _p: c.entries.query("blog_post", source="published", locale="en-us", limit=10),
        "GET /v3/content_types/blog_post/entries",
        lambda page: ([e.uid for e in page.items], page.total) == (["entry-uid"], 1),
        params={"environment": "production", "locale": "en-us", "include_count": "true", "limit": "10"},
    ),
    Documented(
        "cda/entry",
        lambda c, _p: c.entries.get("blog_post", "entry-uid", source="published", locale="en-us"),
        "GET /v3/content_types/blog_post/entries/entry-uid",
        lambda entry: (entry.uid, entry.version) == ("entry-uid", 4),
        params={"environment": "production", "locale": "en-us"},
    ),
)

AUTOMATE = sent_to(
    "automate",
    # -- the Automate Management API ("Automations Management API | ...")
    Documented(
        "automate/projects",
        lambda c, _p: c.automate.projects(limit=30),
        "GET /v1/projects",
        lambda page: ([p.id for p in page.items], page.total) == (["project-id"], 1),
        params={"limit": "30", "skip": "0", "include_count": "true"},
        headers={"authtoken": "cs_authtoken"},
    ),
    Documented(
        "automate/project",
        lambda c, _p: c.automate.project("project-id"),
        "GET /v1/projects/project-id",
        lambda project: project.title == "Marketing",
    ),
    Documented(
        "automate/automations",
        lambda c, _p: c.automate.automations("project-id", active=True),
        "GET /v1/projects/project-id/automations",
        lambda page: [(a.id, a.active) for a in page.items] == [("automation-id", True)],
        params={"query": "{'active':'true'}", "include_count": "true"},
    ),
    Documented(
        "automate/automation",
        lambda c, _p: c.automate.automation("project-id", "automation-id"),
        "GET /v1/projects/project-id/automations/automation-id",
        lambda automation: automation.missing_parts() == [],
        params={"show_steps": "true"},
    ),
    Documented(
        "automate/automation_activate",
        lambda c, p: c.automate.set_active("project-id", "automation-id", False, permit=p),
        "PATCH /v1/projects/project-id/automations/automation-id",
        says("Automation activated successfully."),
        body={"active": False},
    ),
    Documented(
        "automate/executions",
        lambda c, _p: c.automate.executions("project-id", automation_id="automation-id"),
        "GET /v1/projects/project-id/executions",
        lambda page: (
            [(e.id, e.rule_id, e.status) for e in page.items] == [("execution-id", "automation-id", "success")]
        ),
        params={"query": "{'rule_id':'automation-id'}", "desc": "created_at", "include_count": "true"},
    ),
    Documented(
        "automate/execution",
        lambda c, _p: c.automate.execution("project-id", "execution-id"),
        "GET /v1/projects/project-id/executions/execution-id",
        lambda execution: [s.status for s in execution.details] == ["success"],
    ),
    Documented(
        "automate/audit_logs",
        lambda c, _p: c.automate.audit_logs("project-id"),
        "GET /v1/projects/project-id/audit-logs",
        lambda page: [(log.uid, log.module) for log in page.items] == [("log-uid", "automation")],
        params={"desc": "created_at", "include_count": "true"},
    ),
    Documented(
        "automate/audit_log_account",
        lambda c, _p: c.automate.audit_log("project-id", "log-uid"),
        "GET /v1/projects/project-id/audit-logs/log-uid",
        lambda log: (log.module, log.module_uid) == ("Connected Apps", "94c48b974b9045b3a1327eeb10ada605"),
    ),
    Documented(
        "automate/project_create",
        lambda c, p: c.automate.create_project(
            "Sample Demo Project-Docs",
            description="This is a sample project",
            tags=["sample"],
            permit=p,
            new_target="new",
        ),
        "POST /v1/projects",
        lambda project: (project.id, project.tags) == ("d8674f45bee847***f044e1da7428a70", ["sample"]),
        body={"title": "Sample Demo Project-Docs", "tags": ["sample"], "description": "This is a sample project"},
    ),
    Documented(
        "automate/project_update",
        lambda c, p: c.automate.update_project("project-id", {"tags": ["Sample 1", "Sample 2"]}, permit=p),
        "PUT /v1/projects/project-id",
        lambda project: project.title == "Updated Sample Test Project -Docs",
        body={"tags": ["Sample 1", "Sample 2"]},
    ),
    Documented(
        "automate/project_delete",
        lambda c, p: c.automate.delete_project("project-id", permit=p),
        "DELETE /v1/projects/project-id",
        says("Project deleted successfully."),
    ),
    Documented(
        "automate/variables",
        lambda c, _p: c.automate.variables("project-id"),
        "GET /v1/projects/project-id/variables",
        lambda page: [(v.key, v.secret) for v in page.items] == [("Key1", False), ("Key2", True)],
        params={"limit": "30", "skip": "0", "include_count": "true"},
    ),
    Documented(
        "automate/variable",
        lambda c, _p: c.automate.variable("project-id", "f7bbf2d9cb894b5aa34b3d28603ae174"),
        "GET /v1/projects/project-id/variables/f7bbf2d9cb894b5aa34b3d28603ae174",
        lambda variable: (variable.key, variable.secret, "ENC_" not in repr(variable)) == ("Key2", True, True),
    ),
    Documented(
        "automate/variable_create",
        lambda c, p: c.automate.create_variable("project-id", key="Key3", value="password@1234", type="text", permit=p),
        "POST /v1/projects/project-id/variables",
        lambda variable: (variable.id, variable.value) == ("bd0ce37910cb4172b844308aa07e6bf7", "password@1234"),
        body={"key": "Key3", "type": "text", "value": "password@1234"},
    ),
    Documented(
        "automate/variable_update",
        lambda c, p: c.automate.update_variable(
            "project-id", "bd0ce37910cb4172b844308aa07e6bf7", key="Key3", value="abcd@1234", type="text", permit=p
        ),
        "PUT /v1/projects/project-id/variables/bd0ce37910cb4172b844308aa07e6bf7",
        lambda variable: variable.value == "abcd@1234",
        body={"key": "Key3", "type": "text", "value": "abcd@1234"},
    ),
    Documented(
        "automate/variable_delete",
        lambda c, p: c.automate.delete_variable("project-id", "bd0ce37910cb4172b844308aa07e6bf7", permit=p),
        "DELETE /v1/projects/project-id/variables/bd0ce37910cb4172b844308aa07e6bf7",
        says("Project variable deleted successfully."),
    ),
    Documented(
        "automate/accounts",
        lambda c, _p: c.automate.accounts("project-id"),
        "GET /v1/projects/project-id/accounts",
        lambda page: (
            [(a.title, a.group_name, a.type) for a in page.items]
            == [("Test ChatGPT Account #1", "chatgpt", "custom"), ("Test Launch Account #1", "launch", "oauth2")]
        ),
        params={"limit": "30", "skip": "0", "include_count": "true"},
    ),
    Documented(
        "automate/account",
        lambda c, _p: c.automate.account("project-id", "94c48b974b9045b3a1327eeb10ada605"),
        "GET /v1/projects/project-id/accounts/94c48b974b9045b3a1327eeb10ada605",
        lambda account: (
            (account.id, account.connector_id)
            == ("94c48b974b9045b3a1327eeb10ada605", "40a****f55c7485b807bb23a536e2a55")
        ),
    ),
    Documented(
        "automate/audit_log",
        lambda c, _p: c.automate.audit_log("project-id", "log-uid"),
        "GET /v1/projects/project-id/audit-logs/log-uid",
        lambda log: log.event == "update",
    ),
)

CASES = [*CMA, *JOBS, *RELEASES, *CDA, *AUTOMATE]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.fixture}" for c in CASES])
async def test_the_client_sends_the_documented_request_and_reads_the_documented_answer(case: Documented) -> None:
    await assert_documented(case)


async def assert_documented(case: Documented) -> None:
    """The client, answered by the case's fixture, sends the documented request and reads the answer."""
    recorder = Recorder(lambda _request: fixture(case.fixture))
    client, permit = client_answering(recorder)
    async with client:
        result = await case.call(client, permit)
    (request,) = recorder.requests
    host, headers = APIS[case.api]
    assert (f"{request.method} {request.url.path}", request.url.host) == (case.request, host)
    sent = dict(request.url.params.multi_items())
    assert {k: sent.get(k) for k in case.params} == case.params
    expected = headers | (JSON_BODY if case.body is not NO_BODY else {}) | case.headers
    assert {k: request.headers.get(k) for k in expected} == expected
    if case.body is NO_BODY:
        assert request.content == b""
    else:
        assert json.loads(request.content) == case.body
    assert case.check(result), result


async def test_the_bulk_job_status_is_read_as_documented_and_its_items_from_their_own_endpoint() -> None:
    recorder = Recorder(
        lambda request: fixture("cma/bulk_job_items" if request.url.path.endswith("/items") else "cma/bulk_job")
    )
    client, _permit = client_answering(recorder)
    async with client:
        job = await client.publishing.bulk_job("job-uid")
    assert [r.url.path for r in recorder.requests] == ["/v3/bulk/jobs/job-uid", "/v3/bulk/jobs/job-uid/items"]
    assert [r.headers.get("api_version") for r in recorder.requests] == ["3.2", "3.2"]
    assert job.finished
    assert job.failure_count == 1
    assert [i.uid for i in job.items if i.failed] == ["entry-uid-2"]


@pytest.mark.parametrize("fixture_name", ["cma/asset_upload", "cma/asset_replace"])
async def test_an_upload_travels_as_the_documented_multipart_form(fixture_name: str) -> None:
    recorder = Recorder(lambda _request: fixture(fixture_name))
    client, permit = client_answering(recorder)
    file = AssetFile("file-name.png", b"\x89PNG-bytes", "image/png")
    async with client:
        if fixture_name == "cma/asset_upload":
            asset = await client.assets.upload(
                file,
                title="Test",
                description="This is a test image.",
                tags=["workflows", "stages"],
                parent_uid="parent_asset_folder_uid",
                permit=permit,
            )
        else:
            asset = await client.assets.replace("blt91af1e5af9c3639f", file, title="Test", permit=permit)
    (request,) = recorder.requests
    assert request.method == ("POST" if fixture_name == "cma/asset_upload" else "PUT")
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    fields, files = parse_form(request)
    assert files == {"asset[upload]": ("file-name.png", "image/png", b"\x89PNG-bytes")}
    assert fields["asset[title]"] == "Test"
    if fixture_name == "cma/asset_upload":
        assert request.url.path == "/v3/assets"
        assert fields == {
            "asset[parent_uid]": "parent_asset_folder_uid",
            "asset[title]": "Test",
            "asset[description]": "This is a test image.",
            "asset[tags]": "workflows,stages",
        }
        assert (asset.filename, asset.tags, asset.version) == ("file-name.png", ["workflows", "stages"], 1)
    else:
        assert request.url.path == "/v3/assets/blt91af1e5af9c3639f"
        assert asset.uid == "blt91af1e5af9c3639f"


def parse_form(request: httpx2.Request) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    """The text fields and the files of a multipart/form-data request, read with the standard library."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str)
        assert isinstance(payload, bytes)
        filename = part.get_filename()
        if filename is None:
            fields[name] = payload.decode()
        else:
            files[name] = (filename, part.get_content_type(), payload)
    return fields, files


def test_every_fixture_is_used_by_a_client_test() -> None:
    used = {case.fixture for case in CASES} | {"cma/bulk_job", "cma/asset_upload", "cma/asset_replace"}
    assert used == set(fixtures_outside_analytics())
