#!/usr/bin/env bash
# Trains the default model from scratch, in two stages: models/default/
# train.yaml (16 epochs, writes runs/default/stage1.drk), then
# models/default/finetune.yaml (8 epochs from it, writes
# models/default/model.drk). About two hours on two cores. Needs the data of
# scripts/fetch-default-data.sh. Arguments go to both `deeprank train` runs:
# after an interruption, run it again with --resume; a finished stage 1 is
# not run again.
# Usage: scripts/train-default-model.sh [--resume]
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/deeprank ./cmd/deeprank
if [ ! -f runs/default/stage1.done ]; then
  bin/deeprank train --config models/default/train.yaml "$@"
  touch runs/default/stage1.done
fi
bin/deeprank train --config models/default/finetune.yaml "$@"
