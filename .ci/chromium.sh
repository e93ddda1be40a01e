#!/usr/bin/env bash
# What the MCP Apps view tests (tests/views/) need: Chromium from the distribution's packages,
# which Playwright drives (it downloads no browser of its own), and the pinned uPlot in
# views/node_modules, against which the copy kept in cs_mcp/views/uplot/ is compared.
# Quick when both are there already. Without them those tests skip rather than fail.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "apt-get could not install chromium"
fi
chromium --version 2>/dev/null || echo "chromium did not install; the view tests will skip"
if command -v npm >/dev/null 2>&1 && [ ! -d views/node_modules/uplot ]; then
  (cd views && npm ci --ignore-scripts --no-audit --no-fund --silent) || echo "the pinned uPlot did not install; its byte-for-byte check will skip"
fi
