"""Serving over stdio: the end of stdin waits for the answers still owed."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import anyio
import pytest
from mcp.shared.message import SessionMessage
from mcp.types import ErrorData, JSONRPCError, JSONRPCNotification, JSONRPCRequest, JSONRPCResponse

from cs_mcp.commands._stdio import AnsweringWriteStream, DrainingReadStream, Owed

pytestmark = pytest.mark.anyio


def request(id_: int | str) -> SessionMessage:
    return SessionMessage(JSONRPCRequest(jsonrpc="2.0", id=id_, method="tools/list"))


@asynccontextmanager
async def closed_input(
    *messages: SessionMessage, owed: Owed, drain_seconds: float = 60
) -> AsyncGenerator[DrainingReadStream]:
    """A server input holding `messages`, then its end, every message already read."""
    send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](len(messages))
    async with send:
        for message in messages:
            await send.send(message)
    async with DrainingReadStream(receive, owed, drain_seconds) as stream:
        for _ in messages:
            await stream.receive()
        yield stream


async def test_the_end_of_input_is_passed_on_once_every_request_read_is_answered() -> None:
    owed = Owed()
    notification = SessionMessage(JSONRPCNotification(jsonrpc="2.0", method="notifications/initialized"))
    output_send, output_receive = anyio.create_memory_object_stream[SessionMessage](2)
    ended = anyio.Event()
    async with closed_input(request(1), request("two"), notification, owed=owed) as stream, output_receive:
        output = AnsweringWriteStream(output_send, owed)

        async def read_the_end() -> None:
            with pytest.raises(anyio.EndOfStream):
                await stream.receive()
            ended.set()

        with anyio.fail_after(10):
            async with output, anyio.create_task_group() as tg:
                tg.start_soon(read_the_end)
                await anyio.wait_all_tasks_blocked()
                await output.send(SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=1, result={})))
                await anyio.wait_all_tasks_blocked()
                assert not ended.is_set(), "one request is still owed its answer"
                error = ErrorData(code=-32603, message="failed")
                await output.send(SessionMessage(JSONRPCError(jsonrpc="2.0", id="two", error=error)))
    assert ended.is_set()


async def test_a_request_never_answered_holds_the_end_of_input_only_for_the_drain_time() -> None:
    async with closed_input(request(1), owed=Owed(), drain_seconds=0.01) as stream:
        with anyio.fail_after(10), pytest.raises(anyio.EndOfStream):
            await stream.receive()


async def test_with_nothing_owed_the_end_of_input_is_passed_on_at_once() -> None:
    async with closed_input(owed=Owed(), drain_seconds=3600) as stream:
        with anyio.fail_after(10), pytest.raises(anyio.EndOfStream):
            await stream.receive()
