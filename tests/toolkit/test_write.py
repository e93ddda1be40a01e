"""The write pipeline end to end, in memory: deny, dry run, confirm (elicitation and token),
audit, and the backstop. Every refusal is checked to have sent nothing (requests counted)."""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ElicitRequestParams, ElicitResult
from pydantic import BaseModel, Field

from cs_mcp.client import Api, ContentstackError
from cs_mcp.config import Settings
from cs_mcp.guard import (
    AuditLog,
    ConfirmationAuthority,
    Guard,
    ItemTarget,
    Targets,
    builtin_policy,
    parse_policy,
    read_audit,
)
from cs_mcp.guard.scopes import Scope
from cs_mcp.http import create_http_app
from cs_mcp.http_auth import BearerAuth
from cs_mcp.sandbox.runner import running_sandbox
from cs_mcp.sandbox.state import SandboxConfig
from cs_mcp.server import build_server
from cs_mcp.toolkit.context import ToolContext, app_state
from cs_mcp.toolkit.registry import ToolSpec, registered_tools, write_spec
from cs_mcp.toolkit.write import ConfirmationRequest, Permits, PlannedRequest, WriteCall, WritePlan
from tests._examples import ASSET, EXAMPLES, author_examples
from tests.conftest import SandboxStack
from tests.helpers import EDITOR_ROLE, UNPACED, structured, text_of
from tests.reliability._stack import NO_WAIT

pytestmark = pytest.mark.anyio

SECRET = "cs_management_token_1234"
ENV = {
    "CONTENTSTACK_API_KEY": "blt_api_key_1234",
    "CONTENTSTACK_MANAGEMENT_TOKEN": SECRET,
}

POLICY = (
    EDITOR_ROLE
    + """
[roles.publisher]
inherits = ["editor"]
scopes = ["cm.entry:publish", "cm.entry:unpublish"]
environments = ["development", "staging", "production"]

[confirm]
environments = ["production"]
fallback = "{fallback}"
"""
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Stack:
    """A mock CMA that counts the requests that reach it and holds entry versions."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.versions: dict[str, int] = {}
        self.audit_after_send: AuditLog | None = None  # the audit log a write finds once sent

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if "/broken/" in request.url.path:
            return httpx2.Response(
                422, json={"error_message": "Entry not found.", "error_code": 141}, headers={"x-request-id": "req-9"}
            )
        return httpx2.Response(201, json={"notice": "The requested action has been performed."})


class PublishAnswer(BaseModel):
    published: list[str]
    dry_run: bool
    decision: str
    reason: str
    plan: WritePlan
    confirmation: ConfirmationRequest | None = None


def publish_tool(stack: Stack) -> ToolSpec:
    async def publish_test(
        call: WriteCall,
        items: Annotated[list[str], Field(description="content_type/uid/locale")],
        environments: list[str],
        fail: Literal["explained", "unparsed", "followed", "read", "bug"] | None = None,
    ) -> Any:
        """Publishes entries (a test tool written the way the write tools are). `fail` makes it
        fail the way a tool can: Contentstack's refusal explained in a ToolError, or, after the
        write was sent, an answer that does not parse, a read that fails, a bug."""
        parsed = [tuple(i.split("/")) for i in items]
        targets = Targets(
            environments=tuple(environments),
            items=tuple(ItemTarget(f"entry {ct}/{uid} ({loc})", ct, loc) for ct, uid, loc in parsed),
        )
        plan = WritePlan(
            action="publish",
            summary=f"Publish {len(items)} entries to {', '.join(environments)}",
            targets={"environment": environments},
            requests=[
                PlannedRequest(method="POST", path=f"/content_types/{ct}/entries/{uid}/publish", summary=loc)
                for ct, uid, loc in parsed
            ],
            items=items,
        )
        client = call.state.client

        async def execute(permits: Permits) -> list[str]:
            done: list[str] = []
            for ct, uid, loc in parsed:
                try:
                    answer = await client.request(
                        Api.CMA,
                        "POST",
                        ["content_types", ct, "entries", uid, "publish"],
                        json_body={"entry": {"environments": environments, "locales": [loc]}},
                        permit=permits.for_operation("entry.publish"),
                        operation="entry.publish",
                        targets={"content_type": [ct], "locale": [loc], "environment": environments},
                    )
                except ContentstackError as exc:
                    if fail == "explained":
                        raise ToolError(f"Contentstack refused: {exc}") from exc
                    raise
                if fail == "unparsed":
                    PublishAnswer.model_validate(answer)  # the notice is not this shape
                if fail == "followed":
                    # A job followed in a task of its own whose status does not parse.
                    async def follow(job: dict[str, Any]) -> None:
                        PublishAnswer.model_validate(job)

                    async with anyio.create_task_group() as jobs:
                        jobs.start_soon(follow, answer)
                if stack.audit_after_send is not None:
                    call.guard.audit = stack.audit_after_send
                done.append(uid)
            return done

        outcome = await call.run(
            targets=targets,
            plan=plan,
            execute=execute,
            target_versions={f"{ct}/{uid}": stack.versions.get(uid, 1) for ct, uid, _ in parsed},
        )
        if outcome.written and fail == "read":
            await client.request(Api.CMA, "GET", ["content_types", "broken", "entries", "blt1"])
        if outcome.written and fail == "bug":
            raise KeyError("uid")
        return PublishAnswer(
            published=outcome.result or [],
            dry_run=outcome.dry_run,
            decision=outcome.verdict.decision,
            reason=outcome.verdict.reason,
            plan=outcome.plan,
            confirmation=outcome.confirmation,
        )

    return write_spec(
        publish_test,
        toolset="publishing",
        scopes=[Scope.ENTRY_PUBLISH],
        title="Publish (test)",
        idempotent=False,
        read_back="the entries",
    )


class World:
    def __init__(self, tmp_path: Path, role: str, fallback: str = "token") -> None:
        self.stack = Stack()
        self.clock = FakeClock()
        self.audit_path = tmp_path / "audit.jsonl"
        self.guard = Guard(
            parse_policy(POLICY.format(fallback=fallback)),
            audit=AuditLog(self.audit_path, [SECRET]),
            confirmations=ConfirmationAuthority(clock=self.clock),
        )
        self.role = role
        self._server: MCPServer[Any] | None = None

    def server(self) -> MCPServer[Any]:
        """One server per world (building one takes a while); each call opens its own session."""
        if self._server is None:
            self._server = build_server(
                Settings.from_env(ENV),
                guard=self.guard,
                stdio_role=self.role,
                transport=httpx2.MockTransport(self.stack.handler),
            )
            self._server.add_tool(publish_tool(self.stack).fn, name="publish_test", structured_output=False)
        return self._server

    def audit(self) -> list[dict[str, Any]]:
        return [r.model_dump() for r in read_audit(self.audit_path)]


def publish(items: list[str], environments: list[str], **extra: Any) -> dict[str, Any]:
    return {"items": items, "environments": environments, **extra}


def answer(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    return PublishAnswer.model_validate_json(text_of(result)).model_dump()


async def call(world: World, arguments: dict[str, Any], **client: Any) -> Any:
    with anyio.fail_after(10):
        async with Client(world.server(), **client) as c:
            return await c.call_tool("publish_test", arguments)


async def test_an_allowed_write_is_sent_and_audited_ok(tmp_path: Path) -> None:
    world = World(tmp_path, "publisher")
    result = await call(world, publish(["blog_post/blt1/en-us", "author/blt2/fr-fr"], ["staging"]))
    data = answer(result)
    assert data["published"] == ["blt1", "blt2"]
    assert data["decision"] == "allow"
    assert len(world.stack.requests) == 2
    [line] = world.audit()
    assert (line["decision"], line["outcome"], line["principal"], line["role"]) == ("allow", "ok", "local", "publisher")
    assert line["targets"]["environment"] == ["staging"]


@pytest.mark.parametrize(
    ("role", "items", "environments", "rule"),
    [
        ("ghost", ["blog_post/blt1/en-us"], ["staging"], "roles"),
        ("editor", ["blog_post/blt1/en-us"], ["staging"], "roles.editor.scopes"),
        ("publisher", ["page/blt1/en-us"], ["staging"], "roles.publisher.content_types"),
        ("publisher", ["blog_post/blt1/de-de"], ["staging"], "roles.publisher.locales"),
        ("publisher", ["blog_post/blt1/en-us"], ["qa"], "roles.publisher.environments"),
        ("publisher", ["blog_post/blt1/en-us"], ["Production"], "roles.publisher.environments"),
        ("publisher", ["blog_post/blt1/fr-FR"], ["staging"], "roles.publisher.locales"),
    ],
)
async def test_every_deny_sends_nothing_and_is_audited(
    tmp_path: Path, role: str, items: list[str], environments: list[str], rule: str
) -> None:
    world = World(tmp_path, role)
    with anyio.fail_after(10):
        async with Client(world.server()) as c:
            result = await c.call_tool("publish_test", publish(items, environments))
    assert result.is_error
    assert "Nothing was sent" in text_of(result)
    assert world.stack.requests == []
    [line] = world.audit()
    assert line["decision"] == "deny"
    assert line["rule"] == rule


async def test_one_bad_item_of_a_bulk_publish_denies_all_and_the_answer_lists_it(tmp_path: Path) -> None:
    world = World(tmp_path, "publisher")
    items = ["blog_post/blt1/en-us", "blog_post/blt2/de-de", "author/blt3/en-us", "page/blt4/en-us"]
    result = await call(world, publish(items, ["staging"]))
    assert result.is_error
    text = text_of(result)
    assert "blt2" in text
    assert "blt4" in text
    assert "blt1" not in text
    assert world.stack.requests == []


async def test_a_principal_named_in_the_arguments_changes_nothing(tmp_path: Path) -> None:
    world = World(tmp_path, "editor")
    result = await call(world, publish(["blog_post/blt1/en-us"], ["staging"], principal="admin", role="admin"))
    assert result.is_error
    assert world.stack.requests == []


async def test_a_dry_run_answers_the_plan_and_verdict_and_sends_nothing(tmp_path: Path) -> None:
    world = World(tmp_path, "publisher")
    data = answer(await call(world, publish(["blog_post/blt1/en-us"], ["production"], dry_run=True)))
    assert data["dry_run"] is True
    assert data["decision"] == "confirm"
    assert data["plan"]["requests"][0]["path"] == "/content_types/blog_post/entries/blt1/publish"
    assert world.stack.requests == []
    [line] = world.audit()
    assert (line["decision"], line["dry_run"]) == ("dry_run", True)


async def test_a_denied_dry_run_is_still_denied(tmp_path: Path) -> None:
    world = World(tmp_path, "publisher")
    result = await call(world, publish(["page/blt1/en-us"], ["staging"], dry_run=True))
    assert result.is_error
    assert world.audit()[0]["decision"] == "deny"


async def test_without_elicitation_the_token_fallback_answers_a_preview_and_a_token(tmp_path: Path) -> None:
    world = World(tmp_path, "publisher")
    arguments = publish(["blog_post/blt1/en-us"], ["production"])
    data = answer(await call(world, arguments))
    assert data["published"] == []
    assert data["decision"] == "confirm"
    confirmation = data["confirmation"]
    assert "production" in confirmation["preview"]
    assert "blog_post/blt1/en-us" in confirmation["preview"]
    assert world.stack.requests == []

    confirmed = answer(await call(world, {**arguments, "confirmation_token": confirmation["confirmation_token"]}))
    assert confirmed["published"] == ["blt1"]
    assert confirmed["decision"] == "confirmed"
    assert len(world.stack.requests) == 1

    replayed = await call(world, {**arguments, "confirmation_token": confirmation["confirmation_token"]})
    assert replayed.is_error
    assert "replayed" in text_of(replayed)
    assert len(world.stack.requests) == 1

    lines = world.audit()
    assert [(x["decision"], x["confirmation"], x["outcome"]) for x in lines] == [
        ("confirm", "token", None),
        ("confirmed", "token", "ok"),
        ("deny", "token", None),
    ]
    assert all(x["arguments"].get("confirmation_token") in (None, "[redacted]") for x in lines)
    assert confirmation["confirmation_token"] not in world.audit_path.read_text()


async def token_for(world: World, arguments: dict[str, Any]) -> str:
    data = answer(await call(world, arguments))
    return data["confirmation"]["confirmation_token"]


def with_another_item(_world: World, _arguments: dict[str, Any], token: str) -> dict[str, Any]:
    return publish(["blog_post/blt1/en-us", "blog_post/blt2/en-us"], ["production"], confirmation_token=token)


def once_expired(world: World, arguments: dict[str, Any], token: str) -> dict[str, Any]:
    world.clock.now += 301
    return {**arguments, "confirmation_token": token}


def once_the_target_changed(world: World, arguments: dict[str, Any], token: str) -> dict[str, Any]:
    world.stack.versions["blt1"] = 2
    return {**arguments, "confirmation_token": token}


# Tokens that no longer fit: (what happens after the token was given and the call sent with it,
# the reason the refusal names).
UNFIT_TOKENS: dict[str, tuple[Callable[[World, dict[str, Any], str], dict[str, Any]], str]] = {
    "a token with altered arguments": (with_another_item, "(altered)"),
    "an expired token": (once_expired, "(expired)"),
    "a token for a target that changed since": (once_the_target_changed, "(stale)"),
}


@pytest.mark.parametrize(("then", "reason"), UNFIT_TOKENS.values(), ids=UNFIT_TOKENS.keys())
async def test_a_token_that_no_longer_fits_is_refused_and_nothing_is_sent(
    tmp_path: Path, then: Callable[[World, dict[str, Any], str], dict[str, Any]], reason: str
) -> None:
    world = World(tmp_path, "publisher")
    arguments = publish(["blog_post/blt1/en-us"], ["production"])
    token = await token_for(world, arguments)
    result = await call(world, then(world, arguments, token))
    assert result.is_error
    assert reason in text_of(result)
    assert world.stack.requests == []


async def test_a_token_from_another_server_process_is_refused(tmp_path: Path) -> None:
    first = World(tmp_path / "a", "publisher")
    second = World(tmp_path / "b", "publisher")
    arguments = publish(["blog_post/blt1/en-us"], ["production"])
    token = await token_for(first, arguments)
    result = await call(second, {**arguments, "confirmation_token": token})
    assert result.is_error
    assert "(forged)" in text_of(result)
    assert second.stack.requests == []


async def test_the_deny_fallback_refuses_when_the_client_cannot_elicit(tmp_path: Path) -> None:
    world = World(tmp_path, "publisher", fallback="deny")
    result = await call(world, publish(["blog_post/blt1/en-us"], ["production"]))
    assert result.is_error
    assert "Nothing was sent" in text_of(result)
    assert world.stack.requests == []
    assert world.audit()[0]["rule"] == "confirm.fallback"


def answering(action: str, confirm: bool = True):
    asked: list[str] = []

    async def callback(_context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        content: dict[str, Any] | None = {"confirm": confirm} if action == "accept" else None
        return ElicitResult.model_validate({"action": action, "content": content})

    return callback, asked


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_with_elicitation_an_accepting_user_lets_the_write_through(tmp_path: Path, mode: str) -> None:
    world = World(tmp_path, "publisher", fallback="deny")
    callback, asked = answering("accept")
    arguments = publish(["blog_post/blt1/en-us"], ["production"])
    result = await call(world, arguments, elicitation_callback=callback, mode=mode)
    data = answer(result)
    assert data["published"] == ["blt1"]
    assert data["decision"] == "confirmed"
    assert len(asked) == 1
    assert "production" in asked[0]
    assert "blog_post/blt1/en-us" in asked[0]
    assert len(world.stack.requests) == 1
    lines = [(x["decision"], x["confirmation"], x["outcome"]) for x in world.audit()]
    if mode == "legacy":  # asked mid-call
        assert lines == [("confirmed", "elicitation", "ok")]
    else:  # asked through an InputRequiredResult, then the call retried with the answer
        assert lines == [("confirm", "elicitation", None), ("confirmed", "elicitation", "ok")]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(("action", "confirm"), [("decline", True), ("cancel", True), ("accept", False)])
async def test_with_elicitation_a_declining_user_stops_the_write(
    tmp_path: Path, mode: str, action: str, confirm: bool
) -> None:
    world = World(tmp_path, "publisher")
    callback, asked = answering(action, confirm)
    arguments = publish(["blog_post/blt1/en-us"], ["production"])
    result = await call(world, arguments, elicitation_callback=callback, mode=mode)
    assert result.is_error
    assert "Nothing was sent" in text_of(result)
    assert len(asked) == 1
    assert world.stack.requests == []
    assert world.audit()[-1]["decision"] == "deny"


async def test_a_contentstack_error_is_audited_with_its_status_and_code_and_reraised(tmp_path: Path) -> None:
    world = World(tmp_path, "publisher")
    result = await call(world, publish(["blog_post/broken/en-us"], ["staging"]))
    assert result.is_error
    [line] = world.audit()
    assert (line["outcome"], line["status"], line["error_code"]) == ("error", 422, 141)
    assert SECRET not in world.audit_path.read_text()


async def test_an_unwritable_audit_log_stops_the_write_before_it_is_sent(tmp_path: Path) -> None:
    world = World(tmp_path, "publisher")
    (tmp_path / "blocker").write_text("")
    world.guard.audit = AuditLog(tmp_path / "blocker" / "audit.jsonl")
    result = await call(world, publish(["blog_post/blt1/en-us"], ["staging"]))
    assert result.is_error
    assert world.stack.requests == []


async def test_the_backstop_a_write_without_the_guard_sends_nothing(tmp_path: Path) -> None:
    world = World(tmp_path, "admin")
    server = world.server()

    async def forgetful(ctx: ToolContext, forge: bool = False) -> str:
        """Writes without asking the guard (a bug the backstop must catch)."""
        client = app_state(ctx).client
        permit = None
        if forge:
            # a permit for another operation and other targets does not cover this write
            permit = world.guard.permits.issue("local", "x", "entry.update", {})
        await client.request(
            Api.CMA,
            "POST",
            ["content_types", "blog_post", "entries", "blt1", "publish"],
            json_body={},
            permit=permit,
            operation="entry.publish",
            targets={"content_type": ["blog_post"]},
        )
        return "sent"

    server.add_tool(forgetful, name="forgetful")
    with anyio.fail_after(10):
        async with Client(server) as c:
            bare = await c.call_tool("forgetful", {})
            forged = await c.call_tool("forgetful", {"forge": True})
    assert bare.is_error
    assert forged.is_error
    assert world.stack.requests == []


# -- every write tool goes through the pipeline ------------------------------------------------

WRITE_TOOLS = sorted(spec.name for spec in registered_tools() if not spec.read_only)
PACKAGE_DIR = Path(__file__).resolve().parents[2] / "cs_mcp"
# What only the pipeline (`toolkit/write.py`) may do with the guard.
GUARD_CALLS = re.compile(r"guard\.(check|permit|confirmed|permits|confirmations|audit)\b|permits\.issue\(|\bPermits\(")
# Where a call is bound to its tool's declaration: only the registry does it.
BINDS_A_CALL = re.compile(r"\bWriteCall\(")


def test_every_write_tool_is_declared_once_through_the_pipeline() -> None:
    specs = [spec for spec in registered_tools() if not spec.read_only]
    assert {s.name for s in specs} >= {"create_entry", "publish", "deploy_release", "set_automation_active"}
    for spec in specs:
        assert spec.read_back, spec.name
        # The function the server calls takes the context; the tool's own body takes the call.
        assert "ctx" in inspect.signature(spec.fn).parameters, spec.name
        assert "call" not in inspect.signature(spec.fn).parameters, spec.name
    for spec in registered_tools():
        assert spec.read_only == (spec.read_back is None), spec.name


def test_no_tool_module_asks_the_guard_or_mints_a_permit_by_itself() -> None:
    paths = [*PACKAGE_DIR.glob("tools/*.py"), *PACKAGE_DIR.glob("toolkit/*.py")]
    assert any(path.name == "entries.py" for path in paths)
    for path in paths:
        name = path.relative_to(PACKAGE_DIR).as_posix()
        if name != "toolkit/write.py":
            assert not GUARD_CALLS.search(path.read_text()), name
        if name not in ("toolkit/write.py", "toolkit/registry.py"):
            assert not BINDS_A_CALL.search(path.read_text()), name


def test_a_tool_declared_with_an_unknown_scope_fails_at_declaration() -> None:
    async def probe(call: WriteCall) -> str:
        """A probe."""
        return "never"

    async def no_call(ctx: ToolContext) -> str:
        """A write tool that does not take the call."""
        return "never"

    misspelt: list[Any] = ["cm.entry:wirte"]
    with pytest.raises(ValueError, match="unknown scope"):
        write_spec(probe, toolset="entries", scopes=misspelt, title="t", idempotent=True, read_back="x")
    with pytest.raises(ValueError, match="WriteCall"):
        write_spec(no_call, toolset="entries", scopes=[Scope.ENTRY_WRITE], title="t", idempotent=True, read_back="x")


def test_every_write_tool_takes_the_pipeline_arguments_last_and_declares_them_nowhere_itself() -> None:
    for spec in registered_tools():
        if not spec.read_only:
            names = list(inspect.signature(spec.fn).parameters)
            assert names[-2:] == ["dry_run", "confirmation_token"], spec.name

    async def declares_dry_run(call: WriteCall, dry_run: bool = False) -> str:
        """A write tool that asks for the pipeline's argument itself."""
        return "never"

    with pytest.raises(ValueError, match="dry_run"):
        write_spec(
            declares_dry_run, toolset="entries", scopes=[Scope.ENTRY_WRITE], title="t", idempotent=True, read_back="x"
        )


class Garbling(httpx2.AsyncBaseTransport):
    """Passes requests to the sandbox; once armed, every write reaches it and is applied, but
    its answer is replaced by `body` (what a proxy cutting the answer short would leave)."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.body: bytes | None = None
        self.garbled = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        is_write = request.method != "GET" or request.url.path.endswith("/unschedule")
        if self.body is None or not is_write or "/_sandbox" in request.url.path:
            return response
        await response.aread()
        await response.aclose()
        self.garbled += 1
        return httpx2.Response(200, content=self.body, headers={"content-type": "application/json"}, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@asynccontextmanager
async def sandbox_servers(tmp_path: Path, *roles: str, transport: httpx2.AsyncBaseTransport | None = None):
    """One sandbox, one guard with an audit log, and a client per role (admin by default)."""
    async with running_sandbox(SandboxConfig(rate_limits=False)) as sandbox, AsyncExitStack() as stack:
        audit_path = tmp_path / "audit.jsonl"
        guard = Guard(builtin_policy(), audit=AuditLog(audit_path))
        clients: list[Client] = []
        for role in roles or ("admin",):
            server = build_server(
                Settings.from_env(sandbox.env() | {"CS_MCP_TOOLSETS": "all"}),
                backend="sandbox",
                guard=guard,
                stdio_role=role,
                rate_limits=UNPACED,
                retry=NO_WAIT,
                transport=transport,
            )
            clients.append(await stack.enter_async_context(Client(server)))
        yield clients, audit_path


@asynccontextmanager
async def sandbox_server(tmp_path: Path, transport: httpx2.AsyncBaseTransport | None = None):
    async with sandbox_servers(tmp_path, transport=transport) as ([client], audit_path):
        yield client, audit_path


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [r.model_dump() for r in read_audit(path)] if path.exists() else []


async def ok(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


async def arguments_reaching_the_write(client: Client, name: str) -> dict[str, Any]:
    """Arguments with which `name` sends its write on a fresh sandbox (set up without faults),
    with a confirmation token where the built-in policy asks for one (deletes)."""
    arguments = await write_arguments(client, name)
    if name.startswith("delete_"):
        asked = await client.call_tool(name, arguments)
        assert not asked.is_error, f"{text_of(asked)}: {NOT_REACHED.format(name)}"
        arguments["confirmation_token"] = structured(asked)["confirmation"]["confirmation_token"]
    return arguments


NOT_REACHED = (
    "{} did not reach its write with its example's arguments (EXAMPLES in tests/_examples.py): "
    "give it arguments that do in write_arguments of tests/toolkit/test_write.py"
)


# stack_admin writes, by the collection they change; uid-keyed ones name its first item.
ADMIN_ARGUMENTS: dict[str, dict[str, Any]] = {
    "create_environment": {"name": "probe"},
    "update_environment": {"name": "staging", "urls": []},
    "delete_environment": {"name": "staging"},
    "add_locale": {"code": "de-de"},
    "update_locale": {"code": "fr-fr", "name": "French"},
    "delete_locale": {"code": "fr-fr"},
    "create_label": {"name": "Probe"},
    "update_label": {"name": "Probe"},
    "delete_label": {},
    "create_webhook": {"name": "Probe", "target_url": "https://probe.example.com/", "channels": ["assets.create"]},
    "update_webhook": {"disabled": True},
    "delete_webhook": {},
}
# The release writes that act on a release, which write_arguments creates for each call.
ON_A_RELEASE = (
    "update_release",
    "add_release_items",
    "remove_release_items",
    "deploy_release",
    "clone_release",
    "delete_release",
)


async def write_arguments(client: Client, name: str) -> dict[str, Any]:
    """Arguments that reach `name`'s write once confirmed: its shared example (`EXAMPLES`), a
    seeded asset's uid in place of the example's `ASSET`, unless an override below names objects
    of the sandbox instead."""
    if name in ADMIN_ARGUMENTS:
        arguments = dict(ADMIN_ARGUMENTS[name])
        kind = name.split("_")[-1] + "s"
        if kind in ("labels", "webhooks") and not name.startswith("create_"):
            arguments["uid"] = (await ok(client, f"list_{kind}", {}))[kind][0]["uid"]
        return arguments
    entries = await ok(client, "query_entries", {"content_type": "author", "limit": 1})
    entry = entries["entries"][0]
    item = {"type": "entry", "content_type": "author", "uid": entry["uid"], "locale": "en-us"}
    if name in ("create_entry", "update_entry", "delete_entry", "localize_entry", "unlocalize_entry"):
        if name == "unlocalize_entry":
            await ok(client, "localize_entry", author_examples(entry)["localize_entry"])
        return author_examples(entry)[name]
    if name in ("publish", "unpublish"):
        return {"items": [item], "environments": ["development"]}
    if name == "cancel_scheduled_publish":
        when = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        await ok(client, "publish", {"items": [item], "environments": ["development"], "scheduled_at": when})
        queue = await ok(client, "list_publish_queue", {"status": "scheduled"})
        return {"queue_uid": queue["rows"][0]["uid"]}
    if name == "set_automation_active":
        project = (await ok(client, "list_automation_projects", {}))["projects"][0]
        automation = (await ok(client, "list_automations", {"project_id": project["id"]}))["automations"][0]
        return {"project_id": project["id"], "automation_id": automation["id"], "active": not automation["active"]}
    if name == "create_release":
        return {"name": "Probe", "items": [item]}
    if name == "create_automation_project":
        return {"title": "Probe"}
    if name.endswith(("_automation_project", "_project_variable")):
        project = (await ok(client, "list_automation_projects", {}))["projects"][0]["id"]
        if name.endswith("_automation_project"):
            return {"project_id": project} | ({"description": "probe"} if name.startswith("update") else {})
        if name == "create_project_variable":
            return {"project_id": project, "key": "PROBE", "value": "probe", "type": "password"}
        variable = (await ok(client, "list_project_variables", {"project_id": project}))["variables"][0]["id"]
        return {"project_id": project, "variable_id": variable} | ({"value": "x"} if name.startswith("update") else {})
    if name in ON_A_RELEASE:
        with_item = name != "add_release_items"
        created = await ok(client, "create_release", {"name": "Probe", "items": [item] if with_item else []})
        uid = created["release"]["uid"]
        return {
            "update_release": {"release_uid": uid, "description": "probe"},
            "add_release_items": {"release_uid": uid, "items": [item]},
            "remove_release_items": {"release_uid": uid, "all": True},
            "deploy_release": {"release_uid": uid, "environments": ["development"]},
            "clone_release": {"release_uid": uid, "name": "Probe copy"},
            "delete_release": {"release_uid": uid},
        }[name]
    if name not in EXAMPLES:
        pytest.fail(f"add the example arguments of {name} to EXAMPLES in tests/_examples.py")
    # A copy: the caller adds a confirmation token to it.
    arguments = dict(EXAMPLES[name])
    if arguments.get("uid") == ASSET:
        arguments["uid"] = (await ok(client, "query_assets", {"limit": 1}))["assets"][0]["uid"]
    return arguments


@pytest.mark.parametrize("name", WRITE_TOOLS)
async def test_an_unreadable_answer_to_any_write_says_it_was_sent_and_is_audited_as_unknown(
    tmp_path: Path, name: str
) -> None:
    garbling = Garbling()
    with anyio.fail_after(60):
        async with sandbox_server(tmp_path, garbling) as (client, audit_path):
            arguments = await arguments_reaching_the_write(client, name)
            before = len(audit_lines(audit_path))
            garbling.body = b"<html>502 Bad Gateway</html>"
            result = await client.call_tool(name, arguments)
    assert garbling.garbled >= 1, NOT_REACHED.format(name)
    if name in ("publish", "unpublish"):
        # Reported item by item: the item whose answer was unreadable says the write went out.
        answer = structured(result)
        assert answer["written"] is True
        assert "the write was accepted" in answer["items"][0]["reason"]
    else:
        assert result.is_error
        text = text_of(result)
        # The SDK prefixes every tool error with "Error executing tool <name>"; a crash says no more.
        assert text.strip() != f"Error executing tool {name}"
        assert "The write was sent" in text
    [line] = audit_lines(audit_path)[before:]
    assert (line["tool"], line["outcome"]) == (name, "unknown")
    assert line["sent"]


# -- every path out of the pipeline writes exactly one audit line ---------------------------------


@pytest.mark.parametrize("fail", ["unparsed", "followed", "read", "bug"])
async def test_whatever_fails_after_a_write_was_sent_the_answer_says_it_was_sent(tmp_path: Path, fail: str) -> None:
    world = World(tmp_path, "publisher")
    result = await call(world, publish(["blog_post/blt1/en-us"], ["staging"], fail=fail))
    assert result.is_error
    assert "The write was sent" in text_of(result)
    assert len([r for r in world.stack.requests if r.method == "POST"]) == 1
    [line] = world.audit()
    assert (line["decision"], line["outcome"], line["sent"]) == ("allow", "unknown", ["entry.publish"])
    if fail in ("unparsed", "followed"):  # found inside the task group's exception group too
        assert "documented shape" in line["reason"]


async def test_a_refusal_a_tool_explains_is_audited_with_contentstacks_status_and_code(tmp_path: Path) -> None:
    world = World(tmp_path, "publisher")
    result = await call(world, publish(["blog_post/broken/en-us"], ["staging"], fail="explained"))
    assert result.is_error
    [line] = world.audit()
    assert (line["outcome"], line["status"], line["error_code"], line["request_id"]) == ("error", 422, 141, "req-9")


async def test_a_write_tool_the_role_does_not_list_is_refused_and_audited(tmp_path: Path) -> None:
    world = World(tmp_path, "viewer")
    with anyio.fail_after(10):
        async with Client(world.server()) as c:
            result = await c.call_tool("create_entry", {"content_type": "blog_post", "fields": {"title": "t"}})
    assert result.is_error
    assert world.stack.requests == []
    [line] = world.audit()
    assert (line["tool"], line["decision"], line["rule"], line["outcome"]) == (
        "create_entry",
        "deny",
        "roles.viewer.scopes",
        "refused",
    )


async def test_arguments_that_do_not_validate_are_refused_and_audited(tmp_path: Path) -> None:
    world = World(tmp_path, "editor")
    with anyio.fail_after(10):
        async with Client(world.server()) as c:
            result = await c.call_tool("create_entry", {"content_type": "blog_post", "fields": "not an object"})
    assert result.is_error
    assert world.stack.requests == []
    [line] = world.audit()
    assert (line["tool"], line["decision"], line["outcome"]) == ("create_entry", "deny", "refused")


async def refused_once(client: Client, audit_path: Path, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Calls a write that must be refused by the tool; answers its one audit line."""
    before = len(audit_lines(audit_path))
    result = await client.call_tool(name, arguments)
    assert result.is_error, name
    [line] = audit_lines(audit_path)[before:]
    assert (line["tool"], line["outcome"]) == (name, "refused")
    return line


async def test_every_refusal_inside_a_write_tool_is_audited_once(tmp_path: Path) -> None:
    with anyio.fail_after(60):
        async with sandbox_server(tmp_path) as (client, audit_path):
            entry = (await ok(client, "query_entries", {"content_type": "author", "limit": 1}))["entries"][0]
            stale = await refused_once(
                client,
                audit_path,
                "update_entry",
                {
                    "content_type": "author",
                    "uid": entry["uid"],
                    "fields": {"title": "Stale"},
                    "expected_version": entry["_version"] + 1,
                },
            )
            schema = await refused_once(
                client, audit_path, "create_entry", {"content_type": "author", "fields": {"no_such_field": 1}}
            )
            missing = await refused_once(
                client,
                audit_path,
                "update_entry",
                {"content_type": "author", "uid": "blt_missing", "fields": {"title": "t"}, "expected_version": 1},
            )
            release = (await ok(client, "create_release", {"name": "Locked"}))["release"]
            await ok(client, "update_release", {"release_uid": release["uid"], "locked": True})
            item = {"type": "entry", "content_type": "author", "uid": entry["uid"], "locale": "en-us"}
            locked = await refused_once(
                client, audit_path, "add_release_items", {"release_uid": release["uid"], "items": [item]}
            )
            before = len(audit_lines(audit_path))
            unchanged = await ok(client, "update_release", {"release_uid": release["uid"], "locked": True})
            [noop] = audit_lines(audit_path)[before:]
    assert "expected_version" in stale["reason"]
    assert "no_such_field" in schema["reason"]
    assert missing["status"] is not None
    assert missing["error_code"] is not None
    assert "locked" in locked["reason"]
    assert unchanged["plan"]["requests"] == []
    assert (noop["decision"], noop["outcome"]) == ("allow", "noop")


async def test_an_audit_log_that_fails_after_the_write_was_sent_still_answers_that_it_was_sent(
    tmp_path: Path,
) -> None:
    world = World(tmp_path, "publisher")
    (tmp_path / "blocker").write_text("")
    world.stack.audit_after_send = AuditLog(tmp_path / "blocker" / "audit.jsonl")
    result = await call(world, publish(["blog_post/blt1/en-us"], ["staging"]))
    assert result.is_error
    assert "the write was sent" in text_of(result)
    assert len(world.stack.requests) == 1


async def test_every_write_tool_audits_a_dry_run_bad_arguments_and_a_call_its_role_cannot_see_once_each(
    tmp_path: Path,
) -> None:
    with anyio.fail_after(120):
        async with sandbox_servers(tmp_path, "admin", "viewer") as ([admin, viewer], audit_path):
            for name in WRITE_TOOLS:
                arguments = await arguments_reaching_the_write(admin, name)
                for client, sent, expected in (
                    (admin, {**arguments, "dry_run": True}, ("dry_run", None)),
                    (admin, {**arguments, "dry_run": "perhaps"}, ("deny", "refused")),
                    (viewer, arguments, ("deny", "refused")),
                ):
                    before = len(audit_lines(audit_path))
                    await client.call_tool(name, sent)
                    [line] = audit_lines(audit_path)[before:]
                    assert (line["tool"], line["decision"], line["outcome"]) == (name, *expected)


async def test_over_streamable_http_a_write_attempt_is_still_one_audit_line(tmp_path: Path) -> None:
    token = "writer-token-5b7c9d1e3f"
    digest = hashlib.sha256(token.encode()).hexdigest()
    policy = parse_policy(f'[[principals]]\nname = "writer"\ntoken_sha256 = "{digest}"\nrole = "editor"\n')
    audit_path = tmp_path / "audit.jsonl"
    stack = Stack()
    server = build_server(
        Settings.from_env(ENV),
        guard=Guard(policy, audit=AuditLog(audit_path)),
        transport=httpx2.MockTransport(stack.handler),
    )
    app = create_http_app(server, policy)
    assert isinstance(app, BearerAuth)
    inner: Any = app.app
    with anyio.fail_after(20):
        async with inner.router.lifespan_context(inner):
            http = httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app),
                base_url="http://127.0.0.1:8765",
                headers={"Authorization": f"Bearer {token}"},
            )
            async with http, Client(streamable_http_client("http://127.0.0.1:8765/mcp", http_client=http)) as c:
                arguments = {"content_type": "blog_post", "fields": {"title": "t"}, "dry_run": True}
                await c.call_tool("create_entry", arguments)
                after_one = len(audit_lines(audit_path))
                await c.call_tool("create_entry", {**arguments, "fields": "not an object"})
    lines = audit_lines(audit_path)
    assert after_one == 1
    assert len(lines) == 2
    assert {line["principal"] for line in lines} == {"writer"}


@pytest.mark.anyio
@pytest.mark.parametrize("depth", [600, 5000])
async def test_a_write_whose_fields_nest_too_deeply_is_refused_with_one_audit_line_and_nothing_sent(
    on_sandbox: SandboxStack, tmp_path: Path, depth: int
) -> None:
    # 600 levels parse but fail the audit log's serializer, 5000 fail the parser itself: either
    # used to fail the call without its refusal in plain words (or its audit line).
    on_sandbox.save_content_type("article", [{"uid": "title", "data_type": "text"}])
    audit_path = tmp_path / "audit.jsonl"
    guard = Guard(builtin_policy(), audit=AuditLog(audit_path))
    fields = '{"title": ' + "[" * depth + "]" * depth + "}"
    async with on_sandbox.client("admin", guard=guard) as client:
        result = await client.call_tool("create_entry", {"content_type": "article", "fields": fields})
    assert result.is_error
    assert "'fields'" in text_of(result)
    assert on_sandbox.writes() == []
    lines = audit_lines(audit_path)
    assert [(line["tool"], line["decision"], line["outcome"]) for line in lines] == [
        ("create_entry", "deny", "refused")
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("fields", ['{"rating": NaN}', '{"title": "\\ud800"}'])
async def test_a_write_whose_fields_json_cannot_carry_is_refused_before_anything_is_sent(
    on_sandbox: SandboxStack, tmp_path: Path, fields: str
) -> None:
    on_sandbox.save_content_type(
        "article", [{"uid": "title", "data_type": "text"}, {"uid": "rating", "data_type": "number"}]
    )
    on_sandbox.save_entry("article", "art1", {"title": "Post"})
    audit_path = tmp_path / "audit.jsonl"
    guard = Guard(builtin_policy(), audit=AuditLog(audit_path))
    arguments = {"content_type": "article", "uid": "art1", "fields": fields, "expected_version": 1}
    async with on_sandbox.client("admin", guard=guard) as client:
        result = await client.call_tool("update_entry", arguments)
    assert result.is_error
    assert on_sandbox.writes() == []
    lines = audit_lines(audit_path)
    assert [(line["decision"], line["outcome"]) for line in lines] == [("deny", "refused")]
