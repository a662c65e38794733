#!/usr/bin/env bash
# Makes sure the reference HEIC and AVIF encoders are installed (Debian's
# libheif-examples: heif-enc; libavif-bin: avifenc), with which the tests
# turn sample photos into the files phones write. deeprank itself decodes
# both formats in pure Go and needs neither.
# Usage: scripts/heif-tools.sh
set -euo pipefail
if command -v heif-enc >/dev/null && command -v avifenc >/dev/null; then
  exit 0
fi
echo "heif-tools: installing Debian's libheif-examples and libavif-bin"
"$(dirname "$0")/apt-install.sh" libheif-examples libavif-bin
