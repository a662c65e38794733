#!/usr/bin/env bash
# Installs Debian packages quietly, fetching the package lists first only on
# a machine that has never fetched them. Runs as root.
# Usage: scripts/apt-install.sh PACKAGE...
set -euo pipefail
[ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v lock)" ] || apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
