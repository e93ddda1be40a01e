"""`cs-mcp serve`: the MCP server over stdio (default) or Streamable HTTP.

With no Contentstack credentials, or with --sandbox, it starts the embedded sandbox stack on a
free loopback port and serves that, saying so on stderr and in describe_stack. The sandbox's
state is the file `serve` and `call` share (--fresh for a throwaway one).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import anyio
import uvicorn

from cs_mcp.commands._common import (
    CommandError,
    SharedConfirmations,
    Subcommands,
    add_policy_arguments,
    add_sandbox_arguments,
    add_toolsets_argument,
    build_guard,
    command_parser,
    fail,
    load_settings,
    sandbox_db,
)
from cs_mcp.commands._http_access import (
    TOKEN_VARIABLE,
    LocalToken,
    check_host,
    local_token,
    needs_local_token,
    startup_text,
    with_local_principal,
)
from cs_mcp.commands._stdio import run_stdio
from cs_mcp.config import Settings
from cs_mcp.guard import Guard
from cs_mcp.prompts import PromptFileError, PromptTemplate, load_prompts
from cs_mcp.server import build_server

TTY_HINT = (
    "cs-mcp: waiting for an MCP client on stdin. This is the command an MCP client starts; it reads "
    "JSON-RPC, not typed commands.\n"
    "cs-mcp: to try it by hand, run `cs-mcp call describe_stack` or `cs-mcp tools`; to connect a client over "
    "HTTP, run `cs-mcp serve --transport http`. Ctrl-C stops."
)


def add_parser(subparsers: Subcommands) -> None:
    p = command_parser(
        subparsers,
        "serve",
        help="run the MCP server (stdio by default)",
        description="Runs the MCP server. With no Contentstack credentials it serves the local sandbox stack.",
    )
    p.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="how clients connect")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="HTTP bind address; another than loopback needs [[principals]] in the policy",
    )
    p.add_argument("--port", type=int, default=8765, help="HTTP port (0: any free port)")
    p.add_argument(
        "--token-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="HTTP without [[principals]]: the bearer token clients send, instead of a new one at every start "
        "(or set CS_MCP_TOKEN)",
    )
    add_sandbox_arguments(p)
    add_policy_arguments(p)
    add_toolsets_argument(p)


def sandbox_settings(settings: Settings, env: dict[str, str]) -> Settings:
    """Settings pointing at a sandbox, keeping the operator's policy, role and audit log."""
    sandboxed = Settings.from_env(env)
    return sandboxed.model_copy(
        update={
            "policy_path": settings.policy_path,
            "role": settings.role,
            "audit_log": settings.audit_log,
            "toolsets": settings.toolsets,
        }
    )


@asynccontextmanager
async def backend(
    args: argparse.Namespace, settings: Settings, *, announce: bool = True
) -> AsyncGenerator[tuple[Settings, Literal["live", "sandbox"]]]:
    """The settings to serve and the backend: the live stack, or the sandbox (started here, on
    the database the arguments choose) when asked for or when no credentials are set."""
    if not (args.sandbox or args.fresh or not settings.has_credentials):
        yield settings, "live"
        return
    # Only a served sandbox pays for its modules (sqlite3, its app: about 5 MiB and their import time).
    from cs_mcp.sandbox.runner import running_sandbox
    from cs_mcp.sandbox.state import SandboxConfig

    db = sandbox_db(args)
    async with running_sandbox(SandboxConfig(db_path=db)) as running:
        if announce:
            why = "--sandbox was given" if args.sandbox else "no Contentstack credentials are configured"
            where = "in memory, forgotten at exit" if db == ":memory:" else f"state in {db}"
            print(
                f"cs-mcp: {why}; serving the local sandbox stack at {running.base_url} "
                f"(demo data, not Contentstack; {where})",
                file=sys.stderr,
            )
        yield sandbox_settings(settings, running.env()), "sandbox"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, bound before anything starts.

    Raises:
        CommandError: the port is taken, or the address cannot be bound (naming both and --port).
    """
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on accepted sockets whose
    # protocol says TCP; without it every answer waited about 40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {port} on {host} is already in use (another cs-mcp?); choose another with --port, "
                "e.g. --port 0 for any free one"
            ) from None
        if exc.errno == errno.EACCES:
            raise CommandError(f"not allowed to listen on port {port}; choose one above 1023 with --port") from None
        raise CommandError(f"cannot listen on {host}:{port} ({exc.strerror}); check --host and --port") from None
    # Listening now queues a client that connects before uvicorn runs, right after the start text.
    sock.listen(2048)
    return sock


def _show_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - a name to print, not a bind
    shown = f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown
    return f"http://{shown}:{port}/mcp"


class _HTTPServer(uvicorn.Server):
    """uvicorn's server, noting whether Ctrl-C stopped it (uvicorn handles the signal itself and
    then returns as if nothing happened)."""

    interrupted = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGINT:
            self.interrupted = True
        super().handle_exit(sig, frame)


def _log_requests() -> None:
    """Sends the HTTP access log (one line per request, no secrets) to stderr."""
    log = logging.getLogger("cs_mcp.http")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("cs-mcp: %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


async def serve(
    args: argparse.Namespace,
    settings: Settings,
    guard: Guard,
    prompts: list[PromptTemplate] | None = None,
    sock: socket.socket | None = None,
    token: LocalToken | None = None,
) -> bool:
    """Serves until the client goes (stdio) or the process is interrupted. Over HTTP `sock` is
    the bound socket; `token` the local principal's token when the policy names no principal.
    Answers whether Ctrl-C stopped an HTTP server."""
    async with AsyncExitStack() as stack:
        settings, kind = await stack.enter_async_context(backend(args, settings))
        server = build_server(settings, backend=kind, guard=guard, prompts=prompts)
        if args.transport == "stdio":
            if sys.stdin.isatty():
                print(TTY_HINT, file=sys.stderr)
            await run_stdio(server)
            return False
        from cs_mcp.http import create_http_app
        from cs_mcp.http_log import AccessLog

        assert sock is not None  # run() binds it before anything starts
        port = int(sock.getsockname()[1])
        role = settings.role or guard.policy.default_role
        policy = with_local_principal(guard.policy, token, role) if token else guard.policy
        app = AccessLog(
            create_http_app(
                server,
                policy,
                host=args.host,
                port=port,
                extra_hosts=settings.allowed_hosts,
                oauth=settings.oauth,
                # Replicas sharing Redis keep no session: any of them answers any request.
                stateless=settings.redis_url is not None,
            )
        )
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        http_server = _HTTPServer(config)
        _log_requests()
        print(
            startup_text(_show_url(args.host, port), policy, token, role, settings.oauth),
            file=sys.stderr,
            flush=True,
        )
        await http_server.serve(sockets=[sock])
        return http_server.interrupted


def run(args: argparse.Namespace) -> int:
    sock: socket.socket | None = None
    token: LocalToken | None = None
    try:
        settings = load_settings(args)
        guard = build_guard(settings, confirmations=SharedConfirmations())
        prompts = load_prompts()  # a malformed prompt file stops the start with its name, not a traceback
        if args.transport == "http":
            oauth = settings.oauth is not None
            check_host(guard.policy, args.host, oauth)
            if needs_local_token(guard.policy, oauth):
                token = local_token(args.token_file, os.environ)
            elif args.token_file or os.environ.get(TOKEN_VARIABLE):
                print(
                    f"cs-mcp: {'--token-file' if args.token_file else TOKEN_VARIABLE} is not used: the policy's "
                    "[[principals]] decide who connects (add the token's sha256 as a principal instead)",
                    file=sys.stderr,
                )
            sock = bind_socket(args.host, args.port)
    except (CommandError, PromptFileError) as exc:
        return fail(str(exc))

    async def main() -> bool:
        return await serve(args, settings, guard, prompts, sock, token)

    try:
        interrupted = anyio.run(main)
    finally:
        if sock is not None:
            sock.close()
    if interrupted:
        raise KeyboardInterrupt  # the command line answers it as every command does: exit 130
    return 0


__all__: list[Any] = ["add_parser", "backend", "run", "serve"]
