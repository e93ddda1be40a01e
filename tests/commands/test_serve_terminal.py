"""`cs-mcp serve` as a person first meets it: on a terminal, over HTTP, on a busy port, with Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.commands._process import (
    DEADLINE_SECONDS,
    REPO,
    clean_env,
    cs_mcp,
    read_rest,
    read_until,
    run_cs_mcp,
    stop,
)

pytestmark = [pytest.mark.subprocess]

INTERRUPTED = 130


def test_serve_on_a_terminal_says_it_waits_for_a_client_and_one_ctrl_c_stops_it(tmp_path: Path) -> None:
    main, child = os.openpty()
    process = subprocess.Popen(
        cs_mcp("serve", "--fresh"), stdin=child, stdout=child, stderr=child, env=clean_env(tmp_path), cwd=REPO
    )
    os.close(child)
    seen = bytearray()
    try:
        read_until(main, "Ctrl-C stops", seen)
        process.send_signal(signal.SIGINT)
        status = process.wait(timeout=DEADLINE_SECONDS)
        text = read_rest(main, seen)
    finally:
        stop(process)
        os.close(main)
    assert status == INTERRUPTED
    assert "waiting for an MCP client on stdin" in text
    assert "cs-mcp call" in text
    assert "--transport http" in text
    assert "Traceback" not in text


def start_http(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.Popen[bytes], str, bytearray]:
    """`serve --transport http --port 0`, started; answers the process, its URL and its stderr so far."""
    process = subprocess.Popen(
        cs_mcp("serve", "--transport", "http", "--port", "0", "--fresh", *args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=clean_env(tmp_path, **env),
        cwd=REPO,
    )
    assert process.stderr is not None
    seen = bytearray()
    try:
        text = read_until(process.stderr.fileno(), "Ctrl-C stops.", seen)
    except TimeoutError:
        stop(process)
        raise
    url = re.search(r"at (http://\S+/mcp)", text)
    assert url is not None, text
    return process, url.group(1), seen


def interrupt(process: subprocess.Popen[bytes], seen: bytearray) -> tuple[int, str]:
    assert process.stderr is not None
    process.send_signal(signal.SIGINT)
    status = process.wait(timeout=DEADLINE_SECONDS)
    return status, read_rest(process.stderr.fileno(), seen)


def pasted_snippet(text: str) -> dict[str, Any]:
    """The Cursor snippet the start printed, parsed as a person would paste it."""
    start = text.index("{", text.index("for Cursor"))
    end = text.index("\ncs-mcp: for VS Code")
    return json.loads(text[start:end])


@pytest.mark.anyio
async def test_http_without_principals_prints_a_token_and_a_snippet_that_connect(tmp_path: Path) -> None:
    process, url, seen = start_http(tmp_path)
    try:
        entry = pasted_snippet(seen.decode())["mcpServers"]["cs-mcp"]
        headers: dict[str, str] = entry["headers"]
        token = headers["Authorization"].removeprefix("Bearer ")
        assert entry["url"] == url
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            with anyio.fail_after(DEADLINE_SECONDS):
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    described = await client.call_tool("describe_stack", {})
        async with httpx2.AsyncClient(timeout=30) as http:
            no_token = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            discovery = [
                await http.get(url.removesuffix("/mcp") + path)
                for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-authorization-server")
            ]
        status, text = interrupt(process, seen)
    finally:
        stop(process)
    assert described.structured_content is not None
    assert described.structured_content["permissions"]["principal"] == "local"
    assert described.structured_content["permissions"]["role"] == "viewer"
    assert no_token.status_code == 401
    assert [r.status_code for r in discovery] == [404, 404]
    assert status == INTERRUPTED
    assert "Traceback" not in text
    # One access line per request, naming the principal, and the token only where it was printed once.
    assert re.search(r"POST /mcp 200 local \d+ms", text)
    assert re.search(r"POST /mcp 401 - \d+ms", text)
    assert re.search(r"GET /\.well-known/oauth-protected-resource/mcp 404 - \d+ms", text)
    assert text.count(token) == 3  # the header line, the Cursor and the VS Code snippet


@pytest.mark.parametrize(
    "command", [["serve", "--transport", "http", "--fresh"], ["sandbox", "--db", ":memory:"]], ids=["serve", "sandbox"]
)
def test_a_busy_port_is_named_in_one_line_with_the_option_to_change_it(command: list[str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        done = run_cs_mcp(tmp_path, *command, "--port", str(port))
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0
    assert len(lines) == 1, done.stderr
    assert str(port) in lines[0]
    assert "--port" in lines[0]


def test_http_on_a_public_address_without_principals_is_refused(tmp_path: Path) -> None:
    public = "0.0.0.0"  # noqa: S104 - refused, never bound
    done = run_cs_mcp(tmp_path, "serve", "--transport", "http", "--host", public, "--port", "0", "--fresh")
    assert done.returncode == 2
    assert "[[principals]]" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.anyio
async def test_a_token_file_fixes_the_token_and_is_never_printed(tmp_path: Path) -> None:
    token = "a-fixed-token-from-a-file-0123456789"
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    process, url, seen = start_http(tmp_path, "--token-file", str(token_file), "--role", "editor")
    try:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            with anyio.fail_after(DEADLINE_SECONDS):
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    described = await client.call_tool("describe_stack", {})
        status, text = interrupt(process, seen)
    finally:
        stop(process)
    assert described.structured_content is not None
    assert described.structured_content["permissions"]["role"] == "editor"
    assert status == INTERRUPTED
    assert token not in text


def test_a_token_too_short_to_be_safe_is_refused(tmp_path: Path) -> None:
    done = run_cs_mcp(tmp_path, "serve", "--transport", "http", "--port", "0", "--fresh", CS_MCP_TOKEN="short")
    assert done.returncode == 2
    assert "CS_MCP_TOKEN" in done.stderr


def test_one_ctrl_c_stops_the_sandbox_with_status_130(tmp_path: Path) -> None:
    process = subprocess.Popen(
        cs_mcp("sandbox", "--port", "0", "--db", ":memory:"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(tmp_path),
        cwd=REPO,
    )
    assert process.stdout is not None
    try:
        read_until(process.stdout.fileno(), "Point cs-mcp at it with", bytearray())
        status, text = interrupt(process, bytearray())
    finally:
        stop(process)
    assert status == INTERRUPTED
    assert "Traceback" not in text
