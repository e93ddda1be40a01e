#!/usr/bin/env bash
# Installs Node 22 and the two real MCP peers the tests run against cs-mcp: the MCP Inspector
# (CLI mode) and the conformance suite; and oidc-provider, the OpenID provider the OAuth tests
# take tokens from. They go into .ci/node/, which the tests marked `node`
# look for; pinned so that a new release cannot change CI's verdict overnight.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p node
cd node
if [ ! -f package.json ]; then
  echo '{"name": "cs-mcp-node-peers", "private": true}' > package.json
fi
npm install --silent --no-audit --no-fund --no-save \
  node@22 \
  @modelcontextprotocol/inspector@2.12.0 \
  @modelcontextprotocol/conformance@0.2.0-alpha.12 \
  oidc-provider@9.13.3
PATH="$PWD/node_modules/.bin:$PATH" node --version
