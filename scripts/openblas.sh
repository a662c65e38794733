#!/usr/bin/env bash
# Makes sure the OpenBLAS headers and library are installed (Debian's
# libopenblas-dev), for builds with -tags openblas: faster matrix products
# in training and embedding. The default build needs none of it.
# Usage: scripts/openblas.sh
set -euo pipefail
if dpkg -s libopenblas-dev >/dev/null 2>&1; then
  exit 0
fi
echo "openblas: installing Debian's libopenblas-dev"
"$(dirname "$0")/apt-install.sh" libopenblas-dev
