#!/usr/bin/env bash
# Trains the default model from scratch, in sixteen stages, each started from
# what the ones before made (models/default/stageN.yaml, run folder
# runs/default-stageN):
#   stage 1   32 epochs from random weights, on emoji vendor pairs and photos
#   stage 2    8 epochs, a warm restart at a third of the rate
#   stage 3    8 epochs, another warm restart with stronger crops
#   stage 6a  12 epochs: a compact backbone alone, from random weights, on
#             the corpus's images as instances, the emoji pairs and photos
#   stage 6b   8 epochs: stage 3's model frozen beside stage 6a's
#             convolutions as a pooled branch; its new branch's share of
#             the head tuned on the validation suite (tune_head)
#   stage 10d  6 epochs: stage 6b's model fine-tuned, its deep branch
#             frozen, with the emoji pairs weighted up; then a centre view
#             chosen on the validation suite (tune_views)
#   stage 13b  no epochs: stage 10d's model given variants (a grey copy,
#             a mirror image and 2x2 crops of 80% of each side stored
#             beside each image)
#   stage 13c  no epochs: stage 13b's model given an 8x8 luma thumbnail
#             beside its learned embedding, its share chosen on the
#             validation suite (tune_thumbnail)
#   stage 13f  no epochs: stage 13c's model given two more variants, the
#             image turned 10 degrees each way
#   stage 13g  no epochs: stage 13f's model with a 16x16 thumbnail at 0.3
#             of the distance for its 8x8 one, chosen on the validation
#             suite (RUN-NOTES.md)
#   stage 13h  no epochs: stage 13g's model given one more variant, its
#             centre 70%
#   stage 13i  no epochs: stage 13h's model, its 2x2 grid of 80% crops
#             made 3x3
#   stage 13j  no epochs: stage 13i's model given one more variant, the
#             image shrunk to 40%
#   stage 13u  no epochs: stage 13j's model given six strips as variants
#             (half the width or half the height, three of each) and an
#             aspect value in every vector (RUN-NOTES.md)
#   stage 13v  no epochs: stage 13u's model, its strips five a side
#             (RUN-NOTES.md, the eighty-second)
#   stage 14e 10 epochs: stage 13v's model fine-tuned whole, the query
#             alone augmented, the photos given four times their share
#             of each batch (RUN-NOTES.md, the eighty-sixth). Its model
#             is copied to models/default/model.drk
# Stages 1-3 ran on gorgonia's convolution ops, which the trainer's own
# replaced, so today they make a stage 3 of another version; to make the
# committed model from the stage 3 it was made from (the previous default):
#   git show 5c918ca:models/default/model.drk > runs/default-stage3/model.drk
#   touch runs/default-stage1/stage.done runs/default-stage2/stage.done runs/default-stage3/stage.done
# (mkdir -p those folders first.)
# stage4.yaml, stage5.yaml, stage7a-7c.yaml, stage8a.yaml, stage9a-9g.yaml,
# stage10a-10c.yaml, stage10e.yaml, stage11a-11f.yaml, stage12a-12h.yaml,
# stage13a.yaml, stage13d.yaml, stage13e.yaml, stage13k-13m.yaml,
# stage13o-13t.yaml, stage14a-14d.yaml record general-model candidates and measurements
# (RUN-NOTES.md): the recipe does not run them.
# Built with OpenBLAS (scripts/openblas.sh installs it; -tags openblas), as
# the default model was. Needs the data of scripts/fetch-default-data.sh
# and scripts/fetch-corpus.sh.
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
for n in 1 2 3 6a 6b 10d 13b 13c 13f 13g 13h 13i 13j 13u 13v 14e; do
  run=runs/default-stage$n
  [ -f "$run/stage.done" ] && continue
  mkdir -p "$run"
  bin/deeprank-openblas train --config "models/default/stage$n.yaml" "$@" 2>&1 | tee -a "$run/train.log"
  touch "$run/stage.done"
done
cp runs/default-stage14e/model.drk models/default/model.drk
