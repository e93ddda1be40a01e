"""Instructions a call, beside the bare baseline: `cs-mcp serve --transport http` and the bare
server (`python -m bench.baseline --http PORT`), each in its own process under
`valgrind --tool=callgrind`, driven by one MCP client over Streamable HTTP. Instrumentation is
off while a server starts and warms up and is switched on (`callgrind_control -i on`) only for
the counted calls of each case, which are dumped case by case. User-space instructions repeat
within about a percent whatever else loads the machine, where CPU and wall-clock times move by
a factor of two.

Contentstack's answers are recorded once from a sandbox process (seeded as `bench.overhead`
seeds it) and then replayed, byte for byte and to both servers alike, by a small HTTP server in
this process: the sandbox's work is in no count, only the server's own (its GET to the replay
server included, as for a real stack).

    python -m bench.instructions [--calls 100]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import anyio
import anyio.abc
import httpx2
from mcp import Client

from bench._common import ENTRIES, UNLIMITED, clean_env, free_port, machine, mcp_http_session, sandbox_process, serving
from bench.http_load import BARE_PARAMS, TOKEN
from bench.overhead import seed_large

WARM_UP = 10  # uninstrumented calls before each case's counted ones: caches, lazy imports
# What cs-mcp's `query_entries` sends (its first page asks skip=0 too), so that both servers
# send the same request and are answered the same recorded page.
FIVE = {**BARE_PARAMS, "skip": "0"}
TEN = {**FIVE, "limit": "10"}
ONE = {"include_publish_details": "true"}  # what cs-mcp's get_entry sends
# Headers that belong to one connection or are set again for the replayed body.
HOP_BY_HOP = frozenset({"connection", "content-length", "content-encoding", "transfer-encoding", "keep-alive", "date"})

Call = Callable[[Client], Awaitable[Any]]
Key = tuple[str, str, tuple[tuple[str, str], ...]]


def request_key(method: str, path: str, query: str) -> Key:
    """What a recorded answer is filed under: the method, the path (percent-decoded), and the
    query's pairs in order of name (two clients may send the same parameters in another order)."""
    return method.upper(), unquote(path), tuple(sorted(parse_qsl(query, keep_blank_values=True)))


class NoTotals(ValueError):
    """A callgrind dump without its totals: not a dump, or one cut short."""


def total_instructions(dump: str) -> int:
    """The instructions counted in one callgrind dump: its `totals:` line, else its `summary:`
    line (a dump requested with `callgrind_control` writes `summary: 0` before the totals).

    Raises:
        NoTotals: the text holds neither line.
    """
    found: dict[str, int] = {}
    for line in dump.splitlines():
        name, _, value = line.partition(":")
        if name in ("totals", "summary") and name not in found:
            found[name] = int(value.split()[0])
    for name in ("totals", "summary"):
        if name in found:
            return found[name]
    raise NoTotals("no totals or summary line in the callgrind dump")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class Replay:
    """Recorded answers of Contentstack, served over HTTP/1.1 (keep-alive, as the stack does) from
    a thread of this process. A request never recorded is answered 404 and kept in `missed`."""

    def __init__(self) -> None:
        self.answers: dict[Key, Answer] = {}
        self.missed: list[Key] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                key = request_key("GET", url.path, url.query)
                answer = replay.answers.get(key)
                if answer is None:
                    replay.missed.append(key)
                    refusal = json.dumps({"error_message": f"not recorded: GET {self.path}"}).encode()
                    answer = Answer(404, (("content-type", "application/json"),), refusal)
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line a request on stderr would bury the figures

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    async def record(self, http: httpx2.AsyncClient, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GETs `path` from the stack `http` points at, files the answer, and answers its JSON."""
        response = await http.get(path, params=params)
        response.raise_for_status()
        url = response.request.url
        headers = tuple((k, v) for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP)
        key = request_key("GET", url.path, url.query.decode())
        self.answers[key] = Answer(response.status_code, headers, response.content)
        return response.json()

    def __enter__(self) -> Replay:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class Case:
    figure: str
    bare: Call
    ours: Call


def get(path: str, params: Mapping[str, str]) -> Call:
    return lambda client: client.call_tool("get", {"path": path, "params": dict(params)})


def tool(name: str, arguments: Mapping[str, Any]) -> Call:
    return lambda client: client.call_tool(name, dict(arguments))


async def list_tools(client: Client) -> Any:
    return await client.list_tools()


async def record(replay: Replay) -> tuple[list[Case], dict[str, str]]:
    """Seeds a sandbox process, records what the cases ask of it into `replay`, and answers the
    cases and the environment pointing a server at the replay instead of the sandbox."""
    async with sandbox_process() as stack:
        sandbox = stack["CONTENTSTACK_ANALYTICS_BASE_URL"]  # the sandbox's root; the others lie under it
        headers = {
            "api_key": stack["CONTENTSTACK_API_KEY"],
            "authorization": stack["CONTENTSTACK_MANAGEMENT_TOKEN"],
            "branch": stack["CONTENTSTACK_BRANCH"],
        }
        async with httpx2.AsyncClient(base_url=stack["CONTENTSTACK_CMA_BASE_URL"], headers=headers) as http:
            # The 1 KB pages are recorded before the 100 KB entries are seeded: the newest come first.
            await replay.record(http, ENTRIES, FIVE)
            listed = await replay.record(http, ENTRIES, TEN)
            small = str(listed["entries"][0]["uid"])
            await replay.record(http, f"{ENTRIES}/{small}", ONE)
            await seed_large(stack)
            newest = (await http.get(ENTRIES, params={"limit": "1"})).json()["entries"][0]
            large = str(newest["uid"])
            await replay.record(http, f"{ENTRIES}/{large}", ONE)

    def query(limit: int) -> Call:
        return tool("query_entries", {"content_type": "blog_post", "limit": limit})

    def read(uid: str) -> Call:
        return tool("get_entry", {"content_type": "blog_post", "uid": uid})

    cases = [
        Case("query_entries 5 x 1 KB", get(ENTRIES, FIVE), query(5)),
        Case("query_entries 10 x 1 KB", get(ENTRIES, TEN), query(10)),
        Case("get_entry 1 KB", get(f"{ENTRIES}/{small}", ONE), read(small)),
        Case("get_entry 100 KB", get(f"{ENTRIES}/{large}", ONE), read(large)),
        Case("tools/list", list_tools, list_tools),
    ]
    env = {k: v.replace(sandbox, replay.base) if v.startswith(sandbox) else v for k, v in stack.items()}
    return cases, env


async def callgrind_control(*args: str) -> None:
    await anyio.run_process(["callgrind_control", *args], stdout=subprocess.DEVNULL, check=True)


async def count(process: anyio.abc.Process, client: Client, call: Call, calls: int, out: Path) -> float:
    """Instructions a call of `call`: warm-up calls uninstrumented, then `calls` counted and
    dumped (callgrind writes dump N to `<out>.N`)."""

    async def checked() -> None:
        result = await call(client)
        if getattr(result, "is_error", False):
            raise SystemExit(f"a call failed: {result.content}")

    for _ in range(WARM_UP):
        await checked()
    pid = str(process.pid)
    before = set(out.parent.glob(f"{out.name}.*"))
    await callgrind_control("--zero", pid)
    await callgrind_control("--instr=on", pid)
    for _ in range(calls):
        await checked()
    await callgrind_control("--instr=off", pid)
    await callgrind_control("--dump", pid)
    (dump,) = set(out.parent.glob(f"{out.name}.*")) - before
    return total_instructions(dump.read_text()) / calls


async def run_server(
    command: list[str], env: dict[str, str], cases: list[Case], calls: int, which: str, tmp: Path
) -> list[float]:
    """Instructions a call of each case's `which` call, on `command` (`{port}` standing for a
    free port) under callgrind with instrumentation off until the counted calls."""
    out = tmp / f"callgrind.{which}"
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    # Python under valgrind starts and stops tens of times slower than alone.
    async with (
        serving([*valgrind, *command], env, within=600) as (process, base),
        mcp_http_session(f"{base}/mcp", TOKEN, read_timeout=600) as client,
    ):
        return [await count(process, client, getattr(case, which), calls, out) for case in cases]


def line(figure: str, bare: float, ours: float) -> str:
    return (
        f"{figure}: bare {bare / 1e6:.2f} M, cs-mcp {ours / 1e6:.2f} M instructions a call "
        f"({(ours - bare) / 1e6:+.2f} M, ratio {ours / bare:.2f})"
    )


async def measure(calls: int) -> str:
    with Replay() as replay, tempfile.TemporaryDirectory() as tmp:
        cases, stack = await record(replay)
        env = clean_env(**stack, XDG_STATE_HOME=tmp, CS_MCP_RATE_LIMITS=UNLIMITED, CS_MCP_TOKEN=TOKEN)
        figures: dict[str, list[float]] = {}

        async def run(which: str, command: list[str]) -> None:
            figures[which] = await run_server(command, env, cases, calls, which, Path(tmp))

        # The two servers run side by side: a count does not depend on the other's load.
        serve = [sys.executable, "-m", "cs_mcp", "serve", "--transport", "http", "--port", "{port}"]
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "bare", [sys.executable, "-m", "bench.baseline", "--http", "{port}"])
            tg.start_soon(run, "ours", serve)
        if replay.missed:
            raise SystemExit(f"requests not recorded, answered 404: {replay.missed}")
    lines = [line(case.figure, b, o) for case, b, o in zip(cases, figures["bare"], figures["ours"], strict=True)]
    return "\n".join(
        [
            *lines,
            f"callgrind, user-space instructions of the server process, {calls} calls a case "
            f"after {WARM_UP} uncounted [{machine()}]",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    missing = [name for name in ("valgrind", "callgrind_control") if shutil.which(name) is None]
    if missing:
        print(f"skipped: {' and '.join(missing)} not found (install valgrind to count instructions)")
        return
    print(anyio.run(measure, args.calls))


if __name__ == "__main__":
    main()
