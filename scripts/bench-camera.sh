#!/usr/bin/env bash
# Camera photos, side by side in one run: `deeprank ingest` (the default
# build, the default model, a new embedded store) against Pillow's draft +
# resize pipeline (scripts/bench/pillow_pipeline.py, in a virtual
# environment this script makes: Python is benchmark infrastructure only)
# on the same files and the same number of threads, with ingest's wall
# time, images/s and peak RSS (GNU time). The files are N copies of the
# 12 MP baseline photos of scripts/fetch-camera-photos.sh, each made
# distinct by bytes after its end-of-image marker (which decoders ignore)
# so that ingest, which skips content it has stored, embeds every one.
# Then the same for HEIC and AVIF copies of those photos (made by
# heif-enc and avifenc), which deeprank decodes in WebAssembly, and the
# wall time of the whole `deeprank query --image` command on the 12 MP
# photos against an embedded store of 10,000 vectors
# (BenchmarkQueryCamera in cmd/deeprank).
#
#   scripts/bench-camera.sh [N]      N = 1000 by default; THREADS=2
#
# ROUNDS=R (1 by default) alternates the two R times, each round printing
# both rates and their ratio: on a shared machine the load changes within
# a minute, and one deeprank run beside one Pillow run can be off by 2x
# either way.
#
# Encoding the AVIFs takes minutes: HEIF_CACHE=DIR keeps the HEIC and AVIF
# copies there and reuses them on the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
threads=${THREADS:-2}
rounds=${ROUNDS:-1}
scripts/fetch-camera-photos.sh data/camera >/dev/null
scripts/heif-tools.sh
command -v /usr/bin/time >/dev/null || scripts/apt-install.sh time
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q pillow
go build -o "$tmp/deeprank" ./cmd/deeprank

originals=(data/camera/*-420.jpg)
mkdir -p "$tmp/jpeg"
for i in $(seq 0 $((n - 1))); do
  src=${originals[$((i % ${#originals[@]}))]}
  dst=$tmp/jpeg/$(printf '%05d' "$i").jpg
  cp "$src" "$dst"
  printf 'copy %d' "$i" >>"$dst"
done
# The copies (1.4 GB) are written back to disk before anything is timed:
# otherwise the kernel does it during the first round, beside deeprank.
sync
heif=${HEIF_CACHE:-$tmp}
mkdir -p "$heif/heic" "$heif/avif"
for src in "${originals[@]}"; do
  base=$(basename "$src" .jpg)
  [[ -s $heif/heic/$base.heic ]] || heif-enc -q 90 -o "$heif/heic/$base.heic" "$src" >/dev/null
  [[ -s $heif/avif/$base.avif ]] || avifenc -s 8 -j "$threads" "$src" "$heif/avif/$base.avif" >/dev/null
done

# ingest DIR: prints images/s and peak RSS in MB of one ingest into a new store.
ingest() {
  local files count start end
  files=("$1"/*)
  count=${#files[@]}
  rm -rf "$tmp/store"
  start=$(date +%s.%N)
  DEEPRANK_STORE_DIR=$tmp/store GOMAXPROCS=$threads /usr/bin/time -f '%M' -o "$tmp/rss" \
    "$tmp/deeprank" ingest --collection bench "$1" >/dev/null 2>"$tmp/ingest.log" || {
    cat "$tmp/ingest.log" >&2
    exit 1
  }
  end=$(date +%s.%N)
  awk -v c="$count" -v s="$start" -v e="$end" -v r="$(tail -1 "$tmp/rss")" \
    'BEGIN { printf "%7.1f images/s   peak RSS %4.0f MB", c / (e - s), r / 1024 }'
}

echo "camera photos, 4032x3024, $threads threads, default model (64x64 input)"
for round in $(seq "$rounds"); do
  ours=$(ingest "$tmp/jpeg")
  printf '%-34s %s\n' "deeprank ingest, $n JPEGs" "$ours"
  pillow=$("$tmp/venv/bin/python" scripts/bench/pillow_pipeline.py 64 "$threads" "$tmp"/jpeg/*)
  printf '%-34s %7.1f images/s   (read, SHA-256, draft, resize)\n' "Pillow, the same $n JPEGs" "$pillow"
  awk -v r="$round" -v a="${ours%% images/s*}" -v b="$pillow" 'BEGIN { printf "round %d: deeprank / Pillow %.2fx\n", r, a / b }'
done
printf '%-34s %s\n' "deeprank ingest, ${#originals[@]} HEIC" "$(ingest "$heif/heic")"
printf '%-34s %s\n' "deeprank ingest, ${#originals[@]} AVIF" "$(ingest "$heif/avif")"
go test -run '^$' -bench QueryCamera -benchtime 1x ./cmd/deeprank | grep '^query --image' ||
  { echo "bench-camera: BenchmarkQueryCamera failed" >&2; exit 1; }
