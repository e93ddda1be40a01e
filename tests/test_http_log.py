from __future__ import annotations

import json
import logging
import re

import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from cs_mcp.guard import Principal
from cs_mcp.http_log import AccessLog
from cs_mcp.toolkit.context import PRINCIPAL_SCOPE_KEY

pytestmark = pytest.mark.anyio


async def answer_teapot(scope: Scope, _receive: Receive, send: Send) -> None:
    scope[PRINCIPAL_SCOPE_KEY] = Principal(name="alice", role="viewer", transport="http")
    await send({"type": "http.response.start", "status": 418, "headers": []})
    await send({"type": "http.response.body", "body": b"short and stout"})


async def test_each_request_is_one_info_line_with_method_path_status_principal_and_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cs_mcp.http")
    transport = httpx2.ASGITransport(app=AccessLog(answer_teapot))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        await http.get("/mcp?secret=1")
    (record,) = [r for r in caplog.records if r.name == "cs_mcp.http"]
    assert record.levelno == logging.INFO
    assert re.fullmatch(r"GET /mcp 418 alice \d+ms", record.getMessage())


async def test_no_line_is_made_when_the_access_log_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="cs_mcp.http")
    transport = httpx2.ASGITransport(app=AccessLog(answer_teapot))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        await http.get("/mcp")
    assert [r for r in caplog.records if r.name == "cs_mcp.http"] == []


async def logged_line(caplog: pytest.LogCaptureFixture, name: str, path: str) -> str:
    """The one access-log line of a GET of `path` answered 401 to a principal named `name`."""

    async def answer_as(scope: Scope, _receive: Receive, send: Send) -> None:
        scope[PRINCIPAL_SCOPE_KEY] = Principal(name=name, role="viewer", transport="http")
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    caplog.set_level(logging.INFO, logger="cs_mcp.http")
    transport = httpx2.ASGITransport(app=AccessLog(answer_as))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        await http.get(path)
    (record,) = [r for r in caplog.records if r.name == "cs_mcp.http"]
    return record.getMessage()


async def test_a_path_or_principal_name_cannot_draw_a_second_line_or_another_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An identity provider's name claim is the user's to choose; the server decodes the path, so
    # %0A arrives as a line feed.
    message = await logged_line(caplog, "oauth:eve\x1b[2K\rGET", "/mcp%0AGET%20/mcp%20200%20admin%201ms")
    assert "\n" not in message
    assert "\x1b" not in message
    assert "\r" not in message
    # Five fields: the path as sent, the name as a JSON string that reads back as given.
    method, path, status, name, duration = message.split(" ")
    assert (method, path, status) == ("GET", "/mcp%0AGET%20/mcp%20200%20admin%201ms", "401")
    assert json.loads(name) == "oauth:eve\x1b[2K\rGET"
    assert re.fullmatch(r"\d+ms", duration)


async def test_a_name_with_a_space_or_a_backslash_is_one_quoted_field(caplog: pytest.LogCaptureFixture) -> None:
    message = await logged_line(caplog, "oauth:eve 200 admin \\n", "/mcp")
    fields = re.fullmatch(r'GET /mcp 401 (".*") \d+ms', message)
    assert fields is not None
    assert json.loads(fields.group(1)) == "oauth:eve 200 admin \\n"
