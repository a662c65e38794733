#!/usr/bin/env bash
# Ingest and query throughput of this checkout beside an earlier revision
# (ingest's BenchmarkIngest and BenchmarkQuery, and the embedded store's
# upserts and searches at 100,000 vectors from integration's BenchmarkStores)
# (default: 86844d5, the last before the embedded store's format 2), in one
# run, alternating rounds so that the machine's noise falls on both alike.
# Needs the sample photos: scripts/fetch-sample.sh data/sample.
#
#   scripts/bench-store-ab.sh [REV]      ROUNDS=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-86844d5}
rounds=${ROUNDS:-3}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/base" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
git worktree add -q --detach "$tmp/base" "$base"
ln -s "$PWD/data" "$tmp/base/data"
for _ in $(seq "$rounds"); do
  for side in base head; do
    dir=.
    [ "$side" = base ] && dir=$tmp/base
    (cd "$dir" && go test -run '^$' -bench 'BenchmarkIngest$|BenchmarkQuery$' -benchtime 3x ./ingest &&
      go test -run '^$' -bench 'Stores/embedded' -benchtime 1x ./integration) |
      grep '^Benchmark' | sed "s/^/$side  /"
  done
done
