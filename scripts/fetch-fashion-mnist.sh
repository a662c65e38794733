#!/usr/bin/env bash
# Installs Fashion-MNIST (Debian package dataset-fashion-mnist, MIT licence,
# (c) Zalando SE) and writes it as PNGs in class folders:
#   DIR/train/<class>/*.png and DIR/test/<class>/*.png
# Usage: scripts/fetch-fashion-mnist.sh [DIR] [LIMIT]   (default data/fashion-mnist, all images)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-data/fashion-mnist}
limit=${2:-0}
src=/usr/share/datasets/fashion-mnist
if [ ! -f "$src/train-images-idx3-ubyte.gz" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "fetch-fashion-mnist: $src is missing; run as root, or: sudo apt-get install dataset-fashion-mnist" >&2
    exit 1
  fi
  apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
names=tshirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle_boot
if [ -d "$out/train" ] && [ -d "$out/test" ]; then
  echo "fetch-fashion-mnist: $out already there"
  exit 0
fi
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
go run ./internal/tools/idx2png -images "$src/train-images-idx3-ubyte.gz" -labels "$src/train-labels-idx1-ubyte.gz" \
  -out "$out.tmp/train" -limit "$limit" -names "$names" -prefix train
go run ./internal/tools/idx2png -images "$src/t10k-images-idx3-ubyte.gz" -labels "$src/t10k-labels-idx1-ubyte.gz" \
  -out "$out.tmp/test" -limit "$limit" -names "$names" -prefix test
rm -rf "$out" && mv "$out.tmp" "$out"
