"""A role's `branches` rule applies to every write to the CMA: the write lands on the branch the
server is configured for (Contentstack's `main` without one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cs_mcp.guard import Guard
from cs_mcp.guard.loader import load_policy
from tests.helpers import text_of
from tests.reliability._stack import stack

pytestmark = pytest.mark.anyio

POLICY = """
[roles.branch-editor]
inherits = ["viewer"]
scopes = ["cm.entry:write"]
branches = ["{branch}"]
"""

CREATE = {"content_type": "author", "fields": {"title": "On a branch"}, "locale": "en-us"}


async def test_a_write_outside_the_roles_branches_is_denied_and_sends_nothing(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY.format(branch="staging-branch"))
    async with stack(role="branch-editor", guard=Guard(load_policy(path))) as s:
        before = len(s.sandbox.state.request_log)
        denied = await s.client.call_tool("create_entry", CREATE)
        sent = s.sandbox.state.request_log[before:]
    assert denied.is_error
    assert sent == []


async def test_a_write_on_an_allowed_branch_goes_through(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY.format(branch="main"))
    async with stack(role="branch-editor", guard=Guard(load_policy(path))) as s:
        created = await s.client.call_tool("create_entry", CREATE)
    assert not created.is_error, text_of(created)
