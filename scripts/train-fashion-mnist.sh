#!/usr/bin/env bash
# Trains a small deep-ranking model on real images (Fashion-MNIST) in a few
# minutes and scores it against the untrained network and the baselines.
# Run as root on a fresh Debian machine (it apt-get installs the data set).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-fashion-mnist.sh data/fashion-mnist 12000
go build -o bin/deeprank ./cmd/deeprank
# --restart: a run of this script trains afresh, replacing an earlier run's
# checkpoint (train refuses to overwrite one without it).
bin/deeprank train --config examples/fashion-mnist.yaml --restart
bin/deeprank eval --model runs/fashion-mnist/model.drk --untrained --classes data/fashion-mnist/test --max-images 3000
