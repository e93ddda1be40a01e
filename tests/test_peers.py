"""Real MCP peers against `cs-mcp serve`: the MCP Inspector's CLI over stdio and Streamable
HTTP, and the conformance suite's scenarios that apply to any server.

They need Node 22 and the pinned packages that `.ci/node-peers.sh` installs into `.ci/node/`
(CI runs it before the tests); without them these tests are skipped, saying what to run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from cs_mcp.toolkit.registry import registered_tools
from tests.commands._process import publisher_policy, serving_http
from tests.helpers import run_peer

pytestmark = [pytest.mark.node, pytest.mark.subprocess]

REPO = Path(__file__).resolve().parents[1]
NODE_BIN = REPO / ".ci" / "node" / "node_modules" / ".bin"
TOKEN = "inspector-token-for-the-peer-tests"

# Scenarios that test the protocol itself rather than a fixture server's demo tools.
CONFORMANCE_SCENARIOS = [
    "server-initialize",
    "server-session-lifecycle",
    "ping",
    "tools-list",
    "tools-call-error",
    "prompts-list",
    "resources-list",
    "completion-complete",
    "sep-2164-resource-not-found",
    "dns-rebinding-protection",
    "http-header-validation",
    "caching",
]


@pytest.fixture(scope="module")
def node_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if not (NODE_BIN / "inspector").exists() or not (NODE_BIN / "conformance").exists():
        pytest.skip("the MCP peers are not installed: run `bash .ci/node-peers.sh`")
    state = tmp_path_factory.mktemp("state")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTENTSTACK_", "CS_MCP_"))}
    env.update(
        {
            "PATH": f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}",
            "XDG_STATE_HOME": str(state),
            "XDG_DATA_HOME": str(state),
            "PYTHONPATH": str(REPO),
        }
    )
    return env


def inspector(env: dict[str, str], target: list[str], *method: str) -> Any:
    """Runs the Inspector's CLI once and answers its JSON output."""
    done = run_peer([str(NODE_BIN / "inspector"), "--cli", *target, *method], env, REPO)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout)


STDIO = [sys.executable, "-m", "cs_mcp", "serve", "--sandbox-db", ":memory:"]


def test_inspector_lists_tools_and_calls_one_over_stdio(node_env: dict[str, str]) -> None:
    listed = inspector(node_env, STDIO, "--method", "tools/list")
    called = inspector(node_env, STDIO, "--method", "tools/call", "--tool-name", "describe_stack")
    names = {t["name"] for t in listed["tools"]}
    assert {"describe_stack", "query_entries", "get_content_type"} <= names
    assert "create_entry" not in names  # the stdio principal is a viewer without a policy
    assert called["structuredContent"]["backend"] == "sandbox"


def test_inspector_gets_a_prompt_and_reads_a_resource_over_stdio(node_env: dict[str, str]) -> None:
    prompt = inspector(
        node_env,
        STDIO,
        "--method",
        "prompts/get",
        "--prompt-name",
        "publish-checklist",
        "--prompt-args",
        "content_type=blog_post",
        "entry_uid=blt01",
        "environments=staging",
    )
    resource = inspector(node_env, STDIO, "--method", "resources/read", "--uri", "contentstack://environments")
    text = prompt["messages"][0]["content"]["text"]
    assert "describe_stack" in text
    assert "blog_post" in text
    environments = json.loads(resource["contents"][0]["text"])
    assert {"development", "staging", "production"} <= {e["name"] for e in environments["environments"]}


@pytest.mark.parametrize(("toolsets", "count"), [("default", 30), ("all", len(registered_tools()))])
def test_inspector_strict_finds_no_portability_problem_in_any_tool_schema(
    node_env: dict[str, str], toolsets: str, count: int
) -> None:
    chosen = [] if toolsets == "default" else ["--toolsets", toolsets]
    strict = [str(NODE_BIN / "inspector"), "--cli", "--strict", *STDIO, "--role", "admin", *chosen]
    done = run_peer([*strict, "--method", "tools/list"], node_env, REPO)
    assert done.returncode == 0, done.stderr[-2000:]  # 6 would mean an error-severity finding
    assert len(json.loads(done.stdout)["tools"]) == count
    findings = [line for line in done.stderr.splitlines() if line.startswith(("Warning: tool", "Error: tool"))]
    assert findings == []


def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        # A blocking wait for a separate process to bind its port; no event to wait on.
        subprocess.run(["sleep", "0.1"], check=True)
    raise AssertionError("the server did not answer /healthz")


@pytest.fixture(scope="module")
def http_server(node_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    policy = tmp_path_factory.mktemp("policy") / "policy.toml"
    # Anonymous callers (the conformance suite sends no token) read; the token holder publishes.
    publisher_policy(policy, 'anonymous_role = "viewer"', "inspector", TOKEN)
    with serving_http(policy, node_env) as (base, process):
        wait_healthy(base, process)
        yield base


def test_inspector_sees_the_token_holders_tools_over_streamable_http(
    node_env: dict[str, str], http_server: str
) -> None:
    target = [f"{http_server}/mcp", "--transport", "http", "--header", f"Authorization: Bearer {TOKEN}"]
    listed = inspector(node_env, target, "--method", "tools/list")
    called = inspector(node_env, target, "--method", "tools/call", "--tool-name", "describe_stack")
    prompts = inspector(node_env, target, "--method", "prompts/list")
    prompt = inspector(
        node_env,
        target,
        "--method",
        "prompts/get",
        "--prompt-name",
        "plan-release",
        "--prompt-args",
        "name=spring campaign",
        "environments=staging",
    )
    resource = inspector(node_env, target, "--method", "resources/read", "--uri", "contentstack://content-types/author")
    names = {t["name"] for t in listed["tools"]}
    assert {"publish", "create_release", "deploy_release"} <= names
    assert called["structuredContent"]["permissions"]["principal"] == "inspector"
    assert {"publish-checklist", "plan-release", "content-audit", "weekly-analytics-report", "automation-health"} <= {
        p["name"] for p in prompts["prompts"]
    }
    assert "create_release" in prompt["messages"][0]["content"]["text"]
    assert json.loads(resource["contents"][0]["text"])["uid"] == "author"


@pytest.mark.parametrize("scenario", CONFORMANCE_SCENARIOS)
def test_conformance_scenario_passes(node_env: dict[str, str], http_server: str, scenario: str) -> None:
    done = subprocess.run(
        [str(NODE_BIN / "conformance"), "server", "--url", f"{http_server}/mcp", "--scenario", scenario],
        env=node_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
