#!/usr/bin/env bash
# The project's tests: every package, with the race detector. Tests that need
# data fetched by scripts/ (Fashion-MNIST) skip, saying so, when it is absent;
# .ci/run fetches it first.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race -count=1 -timeout 30m ./... "$@"
