#!/usr/bin/env bash
# Installs three published MCP clients, each in its own venv under .venv-clients/, so the tests
# in tests/test_clients.py can drive cs-mcp through them over stdio. Pinned so that a new
# release cannot change CI's verdict overnight; each venv holds only the client, never cs-mcp
# (the drivers start the cs-mcp of .venv as a subprocess, as a real client would).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

install() {
  local name="$1"
  shift
  local venv=".venv-clients/$name"
  local started=$SECONDS
  if [ ! -x "$venv/bin/python" ]; then
    "$PYTHON" -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
  echo "$name: installed in $((SECONDS - started))s"
}

install openai-agents 'openai-agents==0.24.0'
install pydantic-ai 'pydantic-ai-slim[mcp]==2.68.0'
install langchain-mcp-adapters 'langchain-mcp-adapters==0.3.2'
