"""Start-up work: a command imports what it runs, not every other command nor the sandbox."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from cs_mcp.cli import build_parser
import cs_mcp.commands.serve
build_parser("serve").parse_args(["serve"])
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("cs_mcp.commands.", "cs_mcp.sandbox")))))
"""


def test_parsing_serve_imports_neither_other_commands_nor_the_sandbox() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(json.loads(done.stdout))
    others = {f"cs_mcp.commands.{name}" for name in ("sandbox", "doctor", "tools", "call", "hash_token", "audit")}
    assert "cs_mcp.commands.serve" in loaded
    assert not loaded & others
    assert not any(m.startswith("cs_mcp.sandbox") for m in loaded)


def test_help_without_a_command_still_lists_every_command() -> None:
    done = subprocess.run([sys.executable, "-m", "cs_mcp", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    for name in ("serve", "sandbox", "doctor", "tools", "call", "config", "audit"):
        assert name in done.stdout


SERVED = """
import json, sys
import anyio
from mcp import Client
from cs_mcp.config import Settings
from cs_mcp.server import build_server

async def main() -> None:
    env = {"CONTENTSTACK_API_KEY": "blt1", "CONTENTSTACK_MANAGEMENT_TOKEN": "cs1"}
    async with Client(build_server(Settings.from_env(env))) as client:
        await client.list_tools()

anyio.run(main)
loaded = [m for m in sys.modules if m.split(".")[0] in ("redis", "sqlite3") or m.startswith("cs_mcp.sandbox")]
print(json.dumps(sorted(loaded)))
"""


def test_a_configured_server_without_a_redis_url_loads_neither_redis_nor_the_sandbox() -> None:
    done = subprocess.run([sys.executable, "-c", SERVED], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(done.stdout.splitlines()[-1]) == []
