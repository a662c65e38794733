#!/usr/bin/env bash
# Trains the default model from scratch, in three stages, each started from
# the one before (models/default/stageN.yaml, run folder runs/default-stageN):
#   stage 1  32 epochs from random weights, on emoji vendor pairs and photos
#   stage 2   8 epochs, a warm restart at a third of the rate
#   stage 3   8 epochs, another warm restart with stronger crops; its model
#            is copied to models/default/model.drk
# stage4.yaml is the record of a general-model run that was not adopted
# (RUN-NOTES.md): the recipe does not run it.
# Built with OpenBLAS (scripts/openblas.sh installs it; -tags openblas), as
# the default model was. Needs the data of scripts/fetch-default-data.sh.
# Each stage's log goes to its run folder (train.log). Arguments go to every `deeprank train` run: after an
# interruption run it again with --resume (or --restart to start the
# unfinished stage over; without either, train refuses to overwrite its
# checkpoint); finished stages are not run again (each leaves stage.done in
# its run folder).
# Usage: scripts/train-default-model.sh [--resume | --restart]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/openblas.sh
go build -tags openblas -o bin/deeprank-openblas ./cmd/deeprank
for n in 1 2 3; do
  run=runs/default-stage$n
  [ -f "$run/stage.done" ] && continue
  mkdir -p "$run"
  bin/deeprank-openblas train --config "models/default/stage$n.yaml" "$@" 2>&1 | tee -a "$run/train.log"
  touch "$run/stage.done"
done
cp runs/default-stage3/model.drk models/default/model.drk
