"""`cs-mcp serve` as a real subprocess, listed by the real MCP client over stdio and over HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from cs_mcp.cli import main
from cs_mcp.commands.serve import bind_socket
from tests.commands._process import REPO, clean_env, publisher_policy, serving_http

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

TOKEN = "test-bearer-token-for-the-release-bot"


async def test_serve_with_dynamic_toolsets_over_stdio_starts_with_discovery_and_enables_on_the_sandbox(
    tmp_path: Path,
) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "cs_mcp", "serve", "--sandbox-db", ":memory:", "--role", "publisher", "--toolsets", "dynamic"],
        env=clean_env(tmp_path),
        cwd=str(REPO),
    )
    with anyio.fail_after(60):
        async with Client(params) as client:
            before = {t.name for t in (await client.list_tools()).tools}
            enabled = await client.call_tool("enable_toolset", {"toolset": "stack"})
            after = {t.name for t in (await client.list_tools()).tools}
            described = await client.call_tool("describe_stack", {})
    assert before == {"list_toolsets", "enable_toolset"}
    assert not enabled.is_error
    assert after == before | {"describe_stack", "get_content_type"}
    assert not described.is_error


def test_serve_with_an_unknown_toolset_exits_with_status_2_before_starting() -> None:
    assert main(["serve", "--toolsets", "widgets"]) == 2


async def test_serve_over_stdio_lists_tools_on_the_sandbox(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "cs_mcp", "serve", "--sandbox-db", ":memory:", "--role", "publisher"],
        env=clean_env(tmp_path),
        cwd=str(REPO),
    )
    with anyio.fail_after(60):
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            described = await client.call_tool("describe_stack", {})
    assert {"describe_stack", "get_content_type"} <= names
    assert described.structured_content is not None
    assert described.structured_content["backend"] == "sandbox"
    assert described.structured_content["permissions"]["role"] == "publisher"


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    policy = publisher_policy(tmp_path / "policy.toml", 'default_role = "viewer"', "release-bot", TOKEN)
    with serving_http(policy, clean_env(tmp_path)) as (base, _process):
        yield base


async def wait_healthy(base: str) -> None:
    with anyio.fail_after(60):
        async with httpx2.AsyncClient() as http:
            while True:
                try:
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                await anyio.sleep(0.1)


async def test_serve_over_streamable_http_lists_the_principals_tools(http_server: str) -> None:
    await wait_healthy(http_server)
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    async with http:
        with anyio.fail_after(60):
            async with Client(streamable_http_client(f"{http_server}/mcp", http_client=http)) as client:
                tools = (await client.list_tools()).tools
                described = await client.call_tool("describe_stack", {})
    assert "describe_stack" in {t.name for t in tools}
    assert any(t.annotations is not None and not t.annotations.read_only_hint for t in tools)
    assert described.structured_content is not None
    assert described.structured_content["permissions"]["principal"] == "release-bot"


async def test_http_without_a_token_is_refused_and_healthz_is_open(http_server: str) -> None:
    await wait_healthy(http_server)
    async with httpx2.AsyncClient(timeout=30) as http:
        refused = await http.post(
            f"{http_server}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
        foreign_origin = await http.post(
            f"{http_server}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "Accept": "application/json, text/event-stream",
                "Authorization": f"Bearer {TOKEN}",
                "Origin": "https://evil.example",
            },
        )
    assert refused.status_code == 401
    assert foreign_origin.status_code == 403


def test_http_socket_lets_the_event_loop_turn_off_nagle_on_accepted_connections() -> None:
    listening = bind_socket("127.0.0.1", 0)
    listening.listen()
    host, port = listening.getsockname()[:2]

    async def accepted_nodelay() -> int:
        seen: asyncio.Queue[int] = asyncio.Queue()

        def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.put_nowait(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listening)
        async with server:
            _reader, writer = await asyncio.open_connection(host, port)
            value = await asyncio.wait_for(seen.get(), timeout=10)
            writer.close()
        return value

    assert asyncio.run(accepted_nodelay()) == 1


PIPED = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "a script", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    {"jsonrpc": "2.0", "id": "three", "method": "tools/call",
     "params": {"name": "query_entries", "arguments": {"content_type": "blog_post", "limit": 1}}},
]  # fmt: skip


@pytest.mark.parametrize("stdin_is", ["a pipe", "a file"])
def test_requests_written_before_stdin_closes_are_all_answered_before_serve_exits(
    tmp_path: Path, stdin_is: str
) -> None:
    requests = "".join(json.dumps(message) + "\n" for message in PIPED)
    (tmp_path / "requests.jsonl").write_text(requests)
    command = [sys.executable, "-m", "cs_mcp", "serve", "--sandbox-db", ":memory:"]
    env = clean_env(tmp_path)
    with (tmp_path / "requests.jsonl").open() as file:
        # A pipe closes once the input is written; a file ends where its text does.
        done = subprocess.run(
            command,
            stdin=file if stdin_is == "a file" else None,
            input=None if stdin_is == "a file" else requests,
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    answers: dict[Any, Any] = {}
    for line in done.stdout.splitlines():
        message = json.loads(line)
        answers[message["id"]] = message
    assert set(answers) == {1, 2, "three"}
    assert "query_entries" in {tool["name"] for tool in answers[2]["result"]["tools"]}
    assert answers["three"]["result"]["isError"] is False
