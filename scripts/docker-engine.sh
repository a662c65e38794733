#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs Debian's docker.io if dockerd
# is missing, starts dockerd in the background if none runs, and waits for
# it. The integration tests (package integration) need it.
# Usage: scripts/docker-engine.sh
set -euo pipefail
if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-engine: installing Debian's docker.io"
  "$(dirname "$0")/apt-install.sh" docker.io
fi
log=${DOCKERD_LOG:-/tmp/dockerd.log}
echo "docker-engine: starting dockerd (log: $log)"
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 60); do
  if docker info >/dev/null 2>&1; then
    docker version --format 'docker-engine: engine {{.Server.Version}} is up'
    exit 0
  fi
  sleep 1
done
echo "docker-engine: dockerd did not answer within 60 s; see $log" >&2
exit 1
