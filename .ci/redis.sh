#!/usr/bin/env bash
# Installs redis-server from the distribution's packages for the shared-state tests, unless it
# is already on PATH (then it returns at once). The tests start their own server on a free port.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  echo "redis-server: $(redis-server --version | head -n 1)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends redis-server
# The package may start a system service on port 6379; the tests do not use it.
redis-server --version
