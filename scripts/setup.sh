#!/usr/bin/env bash
# Installs what the tests need and npm cannot bring, from Debian's packages:
# nats-server (the JetStream tests start their own on a free port) and chromium
# (the operator-page browser test). Idempotent and quick when both are present.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

have_nats() { command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; }

if have_nats; then
  echo "nats-server already installed"
else
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
    echo "setup: need root (or sudo) to apt-get install nats-server" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends nats-server
  have_nats || { echo "setup: nats-server still missing after apt-get" >&2; exit 1; }
  echo "nats-server installed"
fi

bash scripts/install-browser.sh
