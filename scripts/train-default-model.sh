#!/usr/bin/env bash
# Trains the default model from scratch, in three stages, each started from
# the one before (models/default/stageN.yaml, run folder runs/default-stageN):
#   stage 1  16 epochs from random weights
#   stage 2   8 epochs, a warm restart at a third of the rate
#   stage 3   8 epochs, another warm restart with stronger crops; writes
#            models/default/model.drk
# About two and a half hours on two cores. Needs the data of
# scripts/fetch-default-data.sh. Each stage's log goes to its run folder
# (train.log). Arguments go to every `deeprank train` run: after an
# interruption run it again with --resume; finished stages are not run again
# (each leaves stage.done in its run folder).
# Usage: scripts/train-default-model.sh [--resume]
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/deeprank ./cmd/deeprank
for n in 1 2 3; do
  run=runs/default-stage$n
  [ -f "$run/stage.done" ] && continue
  mkdir -p "$run"
  bin/deeprank train --config "models/default/stage$n.yaml" "$@" 2>&1 | tee -a "$run/train.log"
  touch "$run/stage.done"
done
