#!/usr/bin/env bash
# The project's tests: every package with the race detector, then the
# integration tests against a real Milvus in a container, verbose so the log
# shows that they ran and which Milvus version answered.
#
# Set-up it does itself: starts a Docker engine (scripts/docker-engine.sh,
# installing Debian's docker.io if needed), installs the HEIC and AVIF
# encoders the decoders' tests use (scripts/heif-tools.sh), OpenBLAS for the
# optional openblas build (scripts/openblas.sh), Chromium with the sample
# photos for the browser test of the serve page (scripts/chromium.sh,
# scripts/fetch-sample.sh) and, unless DEEPRANK_MILVUS_IMAGE
# names an image to use, builds the local Milvus image (scripts/milvus-image.sh)
# for machines without a registry. Tests that need data fetched by scripts/
# (Fashion-MNIST) skip, saying so, when it is absent; .ci/run fetches it first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/docker-engine.sh
if [ -z "${DEEPRANK_MILVUS_IMAGE:-}" ]; then
  scripts/milvus-image.sh
  export DEEPRANK_MILVUS_IMAGE=deeprank/milvus-standalone:v2.3.5
fi
# Here the integration tests must run: fail rather than skip without Docker.
export DEEPRANK_REQUIRE_DOCKER=1
# HEIC and AVIF test files are made from the sample photos by the
# reference encoders: fail rather than skip without them.
scripts/heif-tools.sh
export DEEPRANK_REQUIRE_HEIF_TOOLS=1
scripts/chromium.sh
scripts/fetch-sample.sh data/sample
# And the browser test: fail rather than skip without Chromium.
export DEEPRANK_REQUIRE_BROWSER=1
go test -race -count=1 -timeout 30m $(go list ./... | grep -v /integration) "$@"
# The scaled JPEG decoder against the standard library on every camera
# photo: under the race detector it takes one photo's variants only.
go test -count=1 -timeout 30m -run TestCameraPhotos ./imageio "$@"
# The HEIC and AVIF decoders, and their memory bounds on a 12 MP photo:
# under the race detector, compiling their modules takes a minute.
go test -count=1 -timeout 30m ./imageio/internal/heifwasm "$@"
# The optional OpenBLAS build: its Sgemm against gonum's, and the engines
# that multiply with it (the fast forward pass, and the trainer's gradients
# and its agreement with the fast pass).
scripts/openblas.sh
go test -race -count=1 -timeout 30m -tags openblas ./internal/openblas ./model "$@"
go test -race -count=1 -timeout 30m -tags openblas -run 'TestParity|TestGradients' ./trainer "$@"
go test -race -count=1 -timeout 30m -v ./integration "$@"
