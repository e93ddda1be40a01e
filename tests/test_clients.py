"""Published MCP clients drive `cs-mcp serve` over stdio: openai-agents, pydantic-ai and
langchain-mcp-adapters, each from its own venv, through a driver script in tests/clients/.

`.ci/clients.sh` installs the pinned clients into `.venv-clients/<name>` (CI runs it before the
tests); without them these tests are skipped, saying what to run. Each driver starts cs-mcp on
a throwaway sandbox, talks to it only over stdio (no model, no network beyond loopback) and
prints one JSON object that the tests here check.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from cs_mcp.toolkit.registry import registered_tools
from tests.helpers import run_peer

pytestmark = pytest.mark.subprocess

REPO = Path(__file__).resolve().parents[1]
CLIENTS = REPO / ".venv-clients"
DRIVERS = Path(__file__).resolve().parent / "clients"
# Every toolset, the opt-in ones too, so that each client takes every tool's schema.
SERVE = [sys.executable, "-m", "cs_mcp", "serve", "--sandbox-db", ":memory:", "--role", "admin", "--toolsets", "all"]
EVERY_TOOL = sorted(spec.name for spec in registered_tools())


def drive(client: str, driver: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Runs `driver` with the python of the client's venv against cs-mcp; its JSON output."""
    python = CLIENTS / client / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{client} is not installed: run `bash .ci/clients.sh`")
    state = tmp_path_factory.mktemp(client)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTENTSTACK_", "CS_MCP_", "OPENAI_"))}
    env.update(
        {
            "XDG_STATE_HOME": str(state),
            "XDG_DATA_HOME": str(state),
            # The clients' telemetry stays off: nothing may leave the machine.
            "OPENAI_AGENTS_DISABLE_TRACING": "1",
            "LANGSMITH_TRACING": "false",
            "LANGCHAIN_TRACING_V2": "false",
        }
    )
    env.pop("PYTHONPATH", None)  # the client's venv sees only the client, never this repository
    done = run_peer([str(python), str(DRIVERS / driver), *SERVE], env, state, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(done.stdout)


def texts(content: Any) -> str:
    """Every text a client handed back, joined (content blocks, lists of them or plain text)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(cast(dict[str, Any], content).get("text", ""))
    if isinstance(content, list):
        return "\n".join(texts(item) for item in cast(list[Any], content))
    return ""


def names_the_typo(text: str) -> bool:
    return "'limitt'" in text and "'limit'" in text and "pydantic" not in text


@pytest.fixture(scope="module")
def openai_agents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return drive("openai-agents", "openai_agents_driver.py", tmp_path_factory)


@pytest.fixture(scope="module")
def pydantic_ai(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return drive("pydantic-ai", "pydantic_ai_driver.py", tmp_path_factory)


@pytest.fixture(scope="module")
def langchain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return drive("langchain-mcp-adapters", "langchain_driver.py", tmp_path_factory)


def test_openai_agents_converts_every_tool_to_a_strict_function_schema(openai_agents: dict[str, Any]) -> None:
    assert openai_agents["tools"] == EVERY_TOOL
    assert openai_agents["not_strict"] == {}
    assert openai_agents["strict"] == EVERY_TOOL


def test_openai_agents_calls_a_tool_with_nulls_for_the_arguments_left_out(openai_agents: dict[str, Any]) -> None:
    answer = json.loads(texts(openai_agents["call"]).split("\n", 1)[1])
    assert answer["returned"] == 2
    assert answer["source"] == "draft"


def test_openai_agents_hands_the_model_the_misspelt_argument_by_name(openai_agents: dict[str, Any]) -> None:
    assert names_the_typo(texts(openai_agents["typo"]))


def test_a_scripted_pydantic_ai_agent_sees_every_tool_and_recovers_from_a_misspelt_argument(
    pydantic_ai: dict[str, Any],
) -> None:
    assert pydantic_ai["tools"] == EVERY_TOOL
    steps = [(r["tool"], r["outcome"]) for r in pydantic_ai["returns"]]
    assert steps == [("describe_stack", "success"), ("query_entries", "retried"), ("query_entries", "success")]
    describe, typo, query = (r["content"] for r in pydantic_ai["returns"])
    assert describe["permissions"]["role"] == "admin"
    assert names_the_typo(texts(typo))
    assert query["returned"] == 2
    assert all("title" in entry for entry in query["entries"])


def test_pydantic_ai_strict_mode_for_openai_drops_nothing_from_any_tool_schema(pydantic_ai: dict[str, Any]) -> None:
    # OpenAI's strict mode refuses keywords such as `default`; pydantic-ai would drop them.
    assert pydantic_ai["strict_lossy"] == {}


def test_langchain_loads_every_tool_and_converts_each_to_a_strict_openai_function(langchain: dict[str, Any]) -> None:
    assert langchain["tools"] == EVERY_TOOL
    assert langchain["not_strict"] == {}
    assert langchain["strict"] == EVERY_TOOL


def test_langchain_tool_calls_succeed_and_an_error_reaches_the_model_as_a_failed_tool_message(
    langchain: dict[str, Any],
) -> None:
    assert langchain["call"]["status"] == "success"
    assert langchain["typo"]["status"] == "error"
    assert names_the_typo(texts(json.loads(langchain["typo"]["content"])))
