#!/usr/bin/env bash
# The main job on a fresh machine: fetch a small sample of real photos,
# ingest them into the embedded store with the built-in default model, and
# query with one of them. Its top result is the photo itself (distance 0),
# then the same photo at twice the size, then related ones.
# Run as root on Debian with Go (it apt-get downloads the sample photos).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-sample.sh data/sample
go build -o bin/deeprank ./cmd/deeprank
# Keep the demo's vectors inside the checkout (the default is ~/.local/share/deeprank).
export DEEPRANK_STORE_DIR=${DEEPRANK_STORE_DIR:-data/store}
bin/deeprank ingest --collection sample data/sample
query=data/sample/beach/beach3.jpg
echo "query: $query"
bin/deeprank query --collection sample --image "$query" --top-k 6
