"""Prompt templates: the shipped ones load and render over MCP; malformed files are startup errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, TextContent

from cs_mcp.prompts import (
    PromptArgumentError,
    PromptFileError,
    default_prompt_directory,
    load_prompts,
    parse_prompt_file,
    register_prompts,
)
from cs_mcp.toolkit.registry import registered_tools

pytestmark = pytest.mark.anyio

# The tool names of the design's public interface (docs/TOOLS.md).
DESIGN_TOOLS = {
    "describe_stack", "get_content_type",
    "query_entries", "get_entry", "query_assets", "create_entry", "update_entry", "delete_entry",
    "publish", "unpublish", "list_publish_queue", "cancel_scheduled_publish",
    "list_releases", "get_release", "create_release", "update_release", "add_release_items",
    "remove_release_items", "deploy_release", "clone_release", "delete_release",
    "get_analytics", "get_analytics_job",
    "list_automation_projects", "list_automations", "get_automation", "set_automation_active",
    "list_automation_executions", "get_automation_execution", "list_automation_audit_logs",
    # issue 16's opt-in toolsets entries_extra and automate_admin
    "get_entry_references", "get_entry_locales", "localize_entry", "unlocalize_entry",
    "get_automation_project", "create_automation_project", "update_automation_project",
    "delete_automation_project", "list_project_variables", "create_project_variable",
    "update_project_variable", "delete_project_variable", "list_automation_accounts",
    "get_automation_account", "get_automation_audit_log",
    # stack_admin (issue 16)
    "list_environments", "create_environment", "update_environment", "delete_environment",
    "list_locales", "add_locale", "update_locale", "delete_locale",
    "list_labels", "create_label", "update_label", "delete_label",
    "list_webhooks", "create_webhook", "update_webhook", "delete_webhook",
    "list_delivery_tokens", "list_roles",
    "get_asset", "upload_asset", "replace_asset", "update_asset", "delete_asset", "list_asset_folders",
    "create_asset_folder", "get_asset_references",
    "create_content_type", "update_content_type", "delete_content_type",
}  # fmt: skip

# A backticked name starting with one of these verbs is meant as a tool.
TOOL_VERBS = {n.split("_")[0] for n in DESIGN_TOOLS}

SHIPPED = {"publish-checklist", "plan-release", "content-audit", "weekly-analytics-report", "automation-health"}

GOOD = """\
+++
name = "sample"
description = "A sample prompt."

[[arguments]]
name = "content_type"
description = "A content type."
required = true

[[arguments]]
name = "locale"
description = "A locale."
default = "the master locale"
+++
Audit {content_type} in {locale}. Query with {{"title": "x"}}.
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_prompts_load_from_the_repository() -> None:
    names = {p.name for p in load_prompts()}
    assert names >= SHIPPED
    assert default_prompt_directory().name == "prompts"


def test_the_registered_tools_keep_the_design_names() -> None:
    assert {spec.name for spec in registered_tools()} <= DESIGN_TOOLS


def test_every_shipped_prompt_starts_with_describe_stack_and_names_only_real_tools() -> None:
    tools = DESIGN_TOOLS
    for prompt in load_prompts():
        assert "`describe_stack`" in prompt.body, prompt.name
        assert "dry_run=true" in prompt.body, prompt.name
        named = set(re.findall(r"`([a-z_]+)`", prompt.body))
        mentioned_tools = {n for n in named if n in DESIGN_TOOLS or n.split("_")[0] in TOOL_VERBS}
        assert mentioned_tools, prompt.name
        assert mentioned_tools <= tools, (prompt.name, mentioned_tools - tools)


def test_rendering_fills_arguments_defaults_and_literal_braces(tmp_path: Path) -> None:
    template = parse_prompt_file(write(tmp_path, "sample", GOOD))
    assert template.render({"content_type": "blog_post"}) == (
        'Audit blog_post in the master locale. Query with {"title": "x"}.'
    )
    assert template.render({"content_type": "blog_post", "locale": "fr-fr"}).startswith("Audit blog_post in fr-fr.")


def test_rendering_cleans_invisible_characters_from_values(tmp_path: Path) -> None:
    template = parse_prompt_file(write(tmp_path, "sample", GOOD))
    assert template.render({"content_type": "blog\u202e_post\u200b"}).startswith("Audit blog_post in")


def test_rendering_refuses_missing_unknown_and_oversized_arguments(tmp_path: Path) -> None:
    template = parse_prompt_file(write(tmp_path, "sample", GOOD))
    with pytest.raises(PromptArgumentError):
        template.render({})
    with pytest.raises(PromptArgumentError):
        template.render({"content_type": "  "})
    with pytest.raises(PromptArgumentError):
        template.render({"content_type": "blog_post", "colour": "red"})
    with pytest.raises(PromptArgumentError):
        template.render({"content_type": "x" * 5000})


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("no front matter at all\n", "no opening fence"),
        ('+++\nname = "sample"\ndescription = "x"\nBody {x}\n', "front matter never closed"),
        ('+++\nname = "sample\ndescription = "x"\n+++\nBody\n', "not TOML"),
        ('+++\ndescription = "x"\n+++\nBody\n', "missing name"),
        ('+++\nname = "other"\ndescription = "x"\n+++\nBody\n', "name differs from the file"),
        ('+++\nname = "sample"\ndescription = "x"\ncolour = "red"\n+++\nBody\n', "unknown key"),
        ('+++\nname = "sample"\ndescription = "x"\n+++\nBody with {unknown}\n', "unknown placeholder"),
        (
            '+++\nname = "sample"\ndescription = "x"\n[[arguments]]\nname = "a"\ndescription = "y"\n+++\nNo use\n',
            "argument never used",
        ),
        (
            '+++\nname = "sample"\ndescription = "x"\n[[arguments]]\nname = "a"\ndescription = "y"\n'
            '[[arguments]]\nname = "a"\ndescription = "z"\n+++\n{a}\n',
            "argument declared twice",
        ),
        (
            '+++\nname = "sample"\ndescription = "x"\n[[arguments]]\nname = "a"\ndescription = "y"\n'
            'required = true\ndefault = "b"\n+++\n{a}\n',
            "required with a default",
        ),
        ('+++\nname = "sample"\ndescription = "x"\n+++\n\n', "empty body"),
    ],
)
def test_a_malformed_prompt_file_is_an_error_naming_the_file(tmp_path: Path, text: str, why: str) -> None:
    path = write(tmp_path, "sample", text)
    with pytest.raises(PromptFileError) as caught:
        load_prompts(tmp_path)
    assert caught.value.path == path, why


def test_a_missing_prompt_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PromptFileError):
        load_prompts(tmp_path / "absent")


async def test_prompts_are_listed_and_rendered_over_mcp() -> None:
    server: MCPServer[object] = MCPServer("prompts-test")
    register_prompts(server, load_prompts())
    async with Client(server) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(listed) >= SHIPPED
        arguments = {a.name: a.required for a in listed["publish-checklist"].arguments or []}
        assert arguments == {"content_type": True, "entry_uid": True, "environments": True, "locales": False}
        result = await client.get_prompt(
            "publish-checklist",
            {"content_type": "blog_post", "entry_uid": "blt0001", "environments": "production"},
        )
    assert len(result.messages) == 1
    content = result.messages[0].content
    assert isinstance(content, TextContent)
    assert "entry blt0001 of content type blog_post" in content.text
    assert "{locales}" not in content.text
    assert "in the master locale (describe_stack marks it)" in content.text


async def test_getting_a_prompt_without_its_required_argument_is_an_mcp_error() -> None:
    server: MCPServer[object] = MCPServer("prompts-test")
    register_prompts(server, load_prompts())
    async with Client(server) as client:
        with pytest.raises(MCPError) as refused:
            await client.get_prompt("publish-checklist", {"content_type": "blog_post"})
        with pytest.raises(MCPError) as refused_without_any:
            await client.get_prompt("publish-checklist")
    assert refused.value.code == INVALID_PARAMS
    assert refused_without_any.value.code == INVALID_PARAMS
    assert "entry_uid" in refused_without_any.value.error.message


def test_two_prompts_with_one_name_cannot_be_registered(tmp_path: Path) -> None:
    template = parse_prompt_file(write(tmp_path, "sample", GOOD))
    server: MCPServer[object] = MCPServer("prompts-test")
    with pytest.raises(PromptFileError):
        register_prompts(server, [template, template])
