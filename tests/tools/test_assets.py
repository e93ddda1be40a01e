"""The assets toolset through the MCP client on the sandbox: reads, uploads from each source,
replace, update, delete with its confirmations, folders, references, and every refusal
sending nothing."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from mcp.client.client import ConnectMode

from cs_mcp.guard import Guard, parse_policy, read_audit
from tests.conftest import new_sandbox
from tests.helpers import structured, text_of
from tests.tools._on_sandbox import OnSandbox, on_sandbox

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\nsandbox-bytes"
NO_CONFIRM = """
[roles.uploader]
scopes = ["cm.asset:read", "cm.assets.management:write"]
"""


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def uploads_policy(directory: Path, max_bytes: int = 1000) -> str:
    return NO_CONFIRM + f'\n[uploads]\ndirectories = ["{directory}"]\nmax_bytes = {max_bytes}\n'


async def call(sandbox: OnSandbox, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return structured(await sandbox.client.call_tool(tool, arguments))


async def refused(sandbox: OnSandbox, tool: str, arguments: dict[str, Any]) -> str:
    """The refusal's text; asserts that the refusal sent no write."""
    writes = len(sandbox.transport.writes())
    result = await sandbox.client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    assert len(sandbox.transport.writes()) == writes
    return text_of(result)


async def test_an_upload_from_base64_is_an_asset_with_its_title_tags_and_folder() -> None:
    async with on_sandbox(role="uploader", policy=NO_CONFIRM) as sandbox:
        folder = await call(sandbox, "create_asset_folder", {"name": "Heroes"})
        uploaded = await call(
            sandbox,
            "upload_asset",
            {
                "content_base64": b64(PNG),
                "filename": "hero.png",
                "title": "Hero",
                "tags": ["home", "summer"],
                "folder": folder["asset"]["uid"],
            },
        )
        asset = (await call(sandbox, "get_asset", {"uid": uploaded["asset"]["uid"]}))["asset"]
        listed = await call(sandbox, "query_assets", {"folder": folder["asset"]["uid"]})
    assert uploaded["written"]
    assert (asset["title"], asset["filename"], asset["content_type"]) == ("Hero", "hero.png", "image/png")
    assert (asset["tags"], asset["file_size"], asset["parent_uid"]) == (
        ["home", "summer"],
        str(len(PNG)),
        folder["asset"]["uid"],
    )
    assert [a["uid"] for a in listed["assets"]] == [asset["uid"]]


async def test_a_dry_run_upload_plans_the_multipart_request_and_writes_nothing() -> None:
    async with on_sandbox(role="uploader", policy=NO_CONFIRM) as sandbox:
        before = len(sandbox.transport.writes())
        answer = await call(sandbox, "upload_asset", {"content_base64": b64(PNG), "filename": "a.png", "dry_run": True})
        assert len(sandbox.transport.writes()) == before
    assert not answer["written"]
    assert [(r["method"], r["path"]) for r in answer["plan"]["requests"]] == [("POST", "/v3/assets")]
    assert "a.png" in answer["plan"]["summary"]


async def test_an_upload_needs_exactly_one_source_and_a_filename_for_base64() -> None:
    async with on_sandbox(role="uploader", policy=NO_CONFIRM) as sandbox:
        none = await refused(sandbox, "upload_asset", {})
        two = await refused(sandbox, "upload_asset", {"content_base64": b64(PNG), "url": "https://example.com/a.png"})
        nameless = await refused(sandbox, "upload_asset", {"content_base64": b64(PNG)})
        bad = await refused(sandbox, "upload_asset", {"content_base64": "not base64!", "filename": "a.png"})
    assert "exactly one source" in none
    assert "exactly one source" in two
    assert "filename" in nameless
    assert "base64" in bad


async def test_a_local_path_is_read_only_inside_the_directories_the_policy_allows(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "logo.png").write_bytes(PNG)
    outside = tmp_path / "secret.txt"
    outside.write_text("not for upload")
    (allowed / "link.txt").symlink_to(outside)
    async with on_sandbox(role="uploader", policy=uploads_policy(allowed)) as sandbox:
        uploaded = await call(sandbox, "upload_asset", {"path": str(allowed / "logo.png")})
        escape = await refused(sandbox, "upload_asset", {"path": f"{allowed}/../secret.txt"})
        elsewhere = await refused(sandbox, "upload_asset", {"path": str(outside)})
        linked = await refused(sandbox, "upload_asset", {"path": str(allowed / "link.txt")})
        relative = await refused(sandbox, "upload_asset", {"path": "logo.png"})
    assert uploaded["asset"]["filename"] == "logo.png"
    assert "'..'" in escape
    assert "outside the directories" in elsewhere
    assert "outside the directories" in linked
    assert "absolute" in relative


async def test_without_upload_directories_no_local_path_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    async with on_sandbox(role="uploader", policy=NO_CONFIRM) as sandbox:
        text = await refused(sandbox, "upload_asset", {"path": str(tmp_path / "a.png")})
    assert "[uploads] directories is empty" in text


async def test_a_file_above_the_policys_size_cap_is_refused_whatever_its_source(tmp_path: Path) -> None:
    (tmp_path / "big.png").write_bytes(b"x" * 2000)
    async with on_sandbox(role="uploader", policy=uploads_policy(tmp_path)) as sandbox:
        local = await refused(sandbox, "upload_asset", {"path": str(tmp_path / "big.png")})
        inline = await refused(sandbox, "upload_asset", {"content_base64": b64(b"x" * 2000), "filename": "big.png"})
        fetched = await refused(
            sandbox, "upload_asset", {"url": "https://sandbox.test/_sandbox/files/big.png?size=2000"}
        )
    assert "larger than the 1000 bytes" in local
    assert "more than the 1000 bytes" in inline
    assert "more than the 1000 allowed" in fetched


async def test_an_https_url_is_fetched_and_uploaded_in_sandbox_mode() -> None:
    async with on_sandbox(role="uploader", policy=NO_CONFIRM) as sandbox:
        answer = await call(sandbox, "upload_asset", {"url": "https://sandbox.test/_sandbox/files/logo.svg?size=120"})
        asset = (await call(sandbox, "get_asset", {"uid": answer["asset"]["uid"]}))["asset"]
    assert [r["method"] for r in answer["plan"]["requests"]] == ["GET", "POST"]
    assert (asset["filename"], asset["content_type"], asset["file_size"]) == ("logo.svg", "image/svg+xml", "120")


async def test_a_url_that_is_not_https_is_refused_before_anything_is_sent() -> None:
    async with on_sandbox(role="uploader", policy=NO_CONFIRM) as sandbox:
        sent = len(sandbox.transport.sent)
        text = await refused(sandbox, "upload_asset", {"url": "http://sandbox.test/_sandbox/files/a.png"})
        assert len(sandbox.transport.sent) == sent
    assert "https" in text


async def test_replacing_an_asset_keeps_its_uid_and_raises_its_version() -> None:
    async with on_sandbox(role="uploader", policy=NO_CONFIRM) as sandbox:
        first = await call(sandbox, "upload_asset", {"content_base64": b64(PNG), "filename": "old.png"})
        uid = first["asset"]["uid"]
        replaced = await call(
            sandbox, "replace_asset", {"uid": uid, "content_base64": b64(b"new file"), "filename": "new.png"}
        )
    assert (replaced["asset"]["uid"], replaced["asset"]["version"]) == (uid, 2)
    assert replaced["asset"]["filename"] == "new.png"
    assert "old.png, version 1" in replaced["plan"]["summary"]


async def test_an_update_changes_only_what_is_given_and_the_same_details_are_a_noop() -> None:
    async with on_sandbox(role="uploader", policy=NO_CONFIRM) as sandbox:
        uid = (await call(sandbox, "upload_asset", {"content_base64": b64(PNG), "filename": "a.png", "title": "A"}))[
            "asset"
        ]["uid"]
        updated = await call(sandbox, "update_asset", {"uid": uid, "description": "About A", "tags": ["x"]})
        writes = len(sandbox.transport.writes())
        again = await call(sandbox, "update_asset", {"uid": uid, "description": "About A", "tags": ["x"]})
        assert len(sandbox.transport.writes()) == writes
        asset = (await call(sandbox, "get_asset", {"uid": uid}))["asset"]
    assert updated["written"]
    assert sorted(updated["plan"]["items"]) == ["description: '' -> 'About A'", "tags: [] -> ['x']"]
    assert not again["written"]
    assert again["notice"] == "No change."
    assert (asset["title"], asset["description"], asset["tags"], asset["_version"]) == ("A", "About A", ["x"], 2)


async def test_deleting_an_asset_waits_for_a_yes_under_the_built_in_policy_then_deletes_it() -> None:
    async with on_sandbox(role="admin") as sandbox:
        uid = (await call(sandbox, "upload_asset", {"content_base64": b64(PNG), "filename": "a.png"}))["asset"]["uid"]
        writes = len(sandbox.transport.writes())
        asked = await call(sandbox, "delete_asset", {"uid": uid})
        assert len(sandbox.transport.writes()) == writes
        token = asked["confirmation"]["confirmation_token"]
        deleted = await call(sandbox, "delete_asset", {"uid": uid, "confirmation_token": token})
        gone = await sandbox.client.call_tool("get_asset", {"uid": uid})
    assert asked["verdict"]["decision"] == "confirm"
    assert not asked["written"]
    assert deleted["written"]
    assert deleted["notice"] == "Asset deleted successfully."
    assert gone.is_error
    assert "does not exist" in text_of(gone)


async def test_deleting_an_asset_that_entries_use_needs_a_yes_even_where_the_policy_allows_it() -> None:
    async with on_sandbox(role="uploader", policy=NO_CONFIRM) as sandbox:
        assets = (await call(sandbox, "query_assets", {}))["assets"]
        used = None
        for asset in assets:
            references = await call(sandbox, "get_asset_references", {"uid": asset["uid"]})
            if references["count"]:
                used = (asset["uid"], references)
                break
        assert used is not None
        asked = await call(sandbox, "delete_asset", {"uid": used[0]})
        fresh = (await call(sandbox, "upload_asset", {"content_base64": b64(PNG), "filename": "a.png"}))["asset"]
        unused = await call(sandbox, "delete_asset", {"uid": fresh["uid"]})
    assert asked["verdict"]["decision"] == "confirm"
    assert "entr" in asked["verdict"]["reason"]
    assert any(r["entry_uid"] in " ".join(asked["plan"]["items"]) for r in used[1]["references"])
    assert unused["written"]


async def test_references_name_each_entry_that_uses_the_asset_and_where_it_is_published() -> None:
    async with on_sandbox() as sandbox:
        assets = (await call(sandbox, "query_assets", {}))["assets"]
        counts = {a["uid"]: (await call(sandbox, "get_asset_references", {"uid": a["uid"]})) for a in assets}
        missing = await sandbox.client.call_tool("get_asset_references", {"uid": "bltnosuchasset00"})
    used = [r for r in counts.values() if r["count"]]
    assert used
    reference = used[0]["references"][0]
    assert {"content_type", "entry_uid", "locale", "version", "published_in"} <= set(reference)
    assert missing.is_error
    assert "does not exist" in text_of(missing)


async def test_folders_nest_and_a_name_taken_in_the_parent_is_refused() -> None:
    async with on_sandbox(role="uploader", policy=NO_CONFIRM) as sandbox:
        top = (await call(sandbox, "create_asset_folder", {"name": "Campaigns"}))["asset"]
        inner = (await call(sandbox, "create_asset_folder", {"name": "Summer", "parent": top["uid"]}))["asset"]
        taken = await refused(sandbox, "create_asset_folder", {"name": "Summer", "parent": top["uid"]})
        roots = await call(sandbox, "list_asset_folders", {})
        inside = await call(sandbox, "list_asset_folders", {"parent": top["uid"]})
        nested = await call(sandbox, "list_asset_folders", {"parent": inner["uid"]})
    assert "already holds a folder 'Summer'" in taken
    assert [f["name"] for f in roots["folders"]] == ["Campaigns"]
    assert [(f["name"], f["parent_uid"]) for f in inside["folders"]] == [("Summer", top["uid"])]
    assert nested["folders"] == []
    assert [p["name"] for p in nested["path"]] == ["Campaigns"]


async def test_a_role_without_the_asset_write_scope_is_denied_and_nothing_is_sent() -> None:
    async with on_sandbox(role="editor") as sandbox:
        listed = {t.name for t in (await sandbox.client.list_tools()).tools}
        assert "upload_asset" not in listed
        sent = len(sandbox.transport.sent)
        result = await sandbox.client.call_tool("upload_asset", {"content_base64": b64(PNG), "filename": "a.png"})
        assert len(sandbox.transport.sent) == sent
    assert result.is_error


async def test_an_uploaded_files_bytes_stay_out_of_the_audit_log(tmp_path: Path) -> None:
    big = b64(b"\x89PNG" + b"x" * 4000)
    audit = tmp_path / "audit.jsonl"
    async with on_sandbox(role="uploader", policy=NO_CONFIRM, audit=audit) as sandbox:
        await call(sandbox, "upload_asset", {"content_base64": big, "filename": "big.png"})
    [line] = read_audit(audit)
    assert line.tool == "upload_asset"
    assert line.outcome == "ok"
    assert big not in audit.read_text()
    assert line.arguments["content_base64"].startswith(f"<{len(big)} characters, sha256 ")


ASSET_KEEPER = """
[roles.asset-keeper]
scopes = ["cm.asset:read", "cm.assets.management:write"]
environments = ["development"]

[confirm]
tools = ["delete_asset"]
"""


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_an_asset_published_beyond_the_role_while_its_human_agrees_is_not_deleted(mode: ConnectMode) -> None:
    stack = new_sandbox()
    stack.save_asset("blt_pic")
    refusal = await stack.refused_after_agreeing(
        lambda: stack.publish_asset("blt_pic", "production"),
        "delete_asset",
        {"uid": "blt_pic"},
        role="asset-keeper",
        guard=Guard(parse_policy(ASSET_KEEPER)),
        toolsets="assets",
        mode=mode,
    )
    assert "environment production" in refusal


async def test_a_delete_no_human_agreed_to_mid_call_reads_the_asset_once() -> None:
    # Without a wait in the middle of the call, a second read would be as fresh as the first.
    stack = new_sandbox()
    stack.save_asset("blt_pic")
    policy = ASSET_KEEPER.replace('tools = ["delete_asset"]', "tools = []")
    async with stack.client("asset-keeper", guard=Guard(parse_policy(policy)), env={"CS_MCP_TOOLSETS": "assets"}) as c:
        deleted = structured(await c.call_tool("delete_asset", {"uid": "blt_pic"}))
    reads = [r for r in stack.transport.requests if r.method == "GET" and r.url.path.endswith("/v3/assets/blt_pic")]
    assert deleted["written"] is True
    assert len(reads) == 1
