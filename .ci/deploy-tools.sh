#!/usr/bin/env bash
# Installs nginx and a Compose implementation from the distribution's packages for the tests of
# deploy/ (nginx runs deploy/nginx.conf in front of three replicas; Compose resolves
# deploy/compose.yaml), unless they are already on PATH. Neither starts a service the tests use.
set -euo pipefail
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx)
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
  need+=(docker-compose)
fi
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
nginx -v
docker-compose version --short 2>/dev/null || docker compose version
