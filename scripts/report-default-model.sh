#!/usr/bin/env bash
# Evaluates the default model on its held-out data, in one run of
# `deeprank eval`, and writes models/default/REPORT.md with the training
# curves beside it. Run after scripts/fetch-default-data.sh and training; a
# stage whose run folder is gone keeps the curves and log already beside
# the model.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/deeprank ./cmd/deeprank
# Each stage's curves and log.
for n in 1 2 3 6a 6b 10d 13b 13c 13f 13g 13h 13i 13j 13u 13v 14e; do
  [ -f runs/default-stage$n/train.log ] || continue
  cp runs/default-stage$n/train.log models/default/stage$n.log
  # Stages 13b to 13v train no epoch, so they have no curves.
  [ -f runs/default-stage$n/metrics.csv ] || continue
  cp runs/default-stage$n/metrics.csv models/default/metrics-stage$n.csv
  cp runs/default-stage$n/curves.png models/default/curves-stage$n.png
done
version=$(go run ./internal/tools/modelinfo models/default/model.drk)
{
  cat <<HEAD
# The default model: evaluation report

$version

Made by deeprank's own trainer in sixteen stages (scripts/train-default-model.sh
runs them): [stage1.yaml](stage1.yaml) from random weights, then
[stage2.yaml](stage2.yaml) and [stage3.yaml](stage3.yaml), each from the
result of the one before; [stage6a.yaml](stage6a.yaml), a second compact
backbone trained alone from random weights; [stage6b.yaml](stage6b.yaml),
stage 3's model frozen beside stage 6a's convolutions as a pooled branch,
whose share of the head is then tuned on the validation suite; and
[stage10d.yaml](stage10d.yaml), stage 6b's model fine-tuned with its deep
branch frozen and the emoji pairs weighted up, then given a centre view
(the centre 85% of each side, embedded beside the whole image) chosen on
the validation suite; and [stage13b.yaml](stage13b.yaml), which trains
nothing and gives stage 10d's model variants: beside each stored image's
own vector, one of its grey copy, one of its mirror image and one of each
of a 2x2 grid of crops of 80% of each side, a query meeting an image at
the nearest of its seven; and [stage13c.yaml](stage13c.yaml), which
trains nothing either and puts an 8x8 luma thumbnail of the image beside
the learned embedding, a tenth of the squared length, its share chosen on
the validation suite (deeprank dupes compares the learned part alone);
and [stage13f.yaml](stage13f.yaml), which trains nothing either and adds
two variants, the image turned 10 degrees each way, nine vectors an image;
and [stage13g.yaml](stage13g.yaml), which trains nothing either and
replaces the thumbnail by a 16x16 one at 0.3 of the squared distance,
chosen with deeprank eval on the validation suite; and
[stage13h.yaml](stage13h.yaml), which trains nothing either and adds a
variant, the centre 70% of each side, ten vectors an image; and
[stage13i.yaml](stage13i.yaml), which trains nothing either and makes
the 2x2 grid of 80% crops a 3x3 grid, fifteen vectors an image, so that a
crop of 70% of each side at any place lies inside one of them; and
[stage13j.yaml](stage13j.yaml), which trains nothing either and adds a
variant, the image shrunk to 40% of its width and height, sixteen vectors
an image (the held-out copies shrunk to 25% or 60% check the sizes that
variant does not hold); and [stage13u.yaml](stage13u.yaml), which trains
nothing either and adds six strips, three of half the width and the whole
height and three of the whole width and half the height, 22 vectors an
image, and ends every vector with an aspect value, a quarter of log2 of
the width over the height of what it describes, so that a strip meets a
crop of its shape and not a square query; and
[stage13v.yaml](stage13v.yaml), which trains nothing either and lays
the strips five a side (at 0, 1/8, 1/4, 3/8 and 1/2 of the width or the
height), 26 vectors an image; and [stage14e.yaml](stage14e.yaml), which
fine-tunes stage 13v's model whole for 10 epochs with the query alone
augmented (its positive and negatives as they are) and the photos given
four times their share of each batch, so that they stay apart
(stage4.yaml, stage5.yaml, stage7a-7c.yaml, stage8a.yaml, stage9a-9g.yaml,
stage10a-10c.yaml, stage10e.yaml, stage11a-11f.yaml, stage12a-12h.yaml,
stage13a.yaml, stage13d.yaml, stage13e.yaml, stage13k-13m.yaml,
stage13o-13t.yaml, stage14a-14d.yaml record candidates and measurements the recipe does not run):

    scripts/fetch-default-data.sh
    scripts/fetch-corpus.sh
    scripts/train-default-model.sh

Training data: the emoji of 80% of Unicode codes drawn by Google and by
Twitter (the same code in two styles is a positive pair), 80% of the
landscape photos of Debian's endless-sky-data with their 2x versions (a
photo against itself under crop, rotation, downscaling, colour and JPEG
changes: copy detection), and, from stage 6a on, the training sources of
the corpus of many kinds ([CORPUS.md](CORPUS.md): 28,812 images, each its
own class under the copy edits). Held out, and never seen in training: the
emoji of a fixed 20% of codes and a fixed 20% of photos, chosen by a
SHA-256 hash of the code or photo name; the corpus's held-out sources,
whole; and 24 wallpapers of two other Debian packages (mate-backgrounds'
nature photos, ukui-wallpapers), a check of how the model does on photos
unlike its training photos. Each stage's curves are in metrics-stageN.csv
and curves-stageN.png, and its log in stageN.log (N = 1, 2, 3, 6a, 6b,
10d, 13b, 13c, 13f, 13g, 13h, 13i, 13j, 13u, 13v, 14e); stage 14e's, which trained this model's weights last, are
[metrics-stage14e.csv](metrics-stage14e.csv), below.

![training curves of stage 14e](curves-stage14e.png)

Every table below comes from one run of:

    go run ./cmd/deeprank eval --model models/default/model.drk --untrained \\
      --suite models/default/eval.yaml --markdown

"untrained" is the same network with its initial random weights; the other
rows are the baselines: raw 16x16 pixels, an RGB colour histogram and a DCT
perceptual hash. The model rows are ranked as \`deeprank query\` ranks: the
nearest twenty hits are then ordered again by how each one's picture lines
up with the query's, its luma (in the square, and for a hit of another
shape in the shape a crop of the query's shape takes in the hit's) and
its corners (package rerank, query.rerank in the configuration; chosen on
the validation sets, RUN-NOTES' fifty-ninth, sixtieth, sixty-fifth,
seventy-third, seventy-fourth and seventy-sixth); the baselines keep
their own order. R@K: the
share of queries whose match is among the K
nearest; for copy detection the gallery is every held-out photo and each
query a transformed copy of one of them.

HEAD
  bin/deeprank eval --model models/default/model.drk --untrained --suite models/default/eval.yaml --markdown
  if [ -f models/default/RUN-NOTES.md ]; then echo; cat models/default/RUN-NOTES.md; fi
  cat <<'TAIL'

## Data licences

- Emoji: Google Noto Emoji images, Apache-2.0 (npm emoji-datasource-google
  16.0.0); Twitter Twemoji images, CC-BY-4.0 (npm emoji-datasource-twitter
  16.0.0).
- Photos: Debian endless-sky-data 0.9.8 `images/land` (public domain from
  morguefile.com; some CC-BY-SA-3.0/4.0 by the photographers the package's
  copyright file names) and endless-sky-high-dpi.
- The corpus of many kinds: each source's package, version and licence
  are in [CORPUS.md](CORPUS.md).
- Unseen-source photos (evaluation only): Debian mate-backgrounds 1.26.0
  `backgrounds/mate/nature` (GPL-2+, by the photographers its copyright
  file names) and ukui-wallpapers 20.04.3 (CC-BY-SA-3.0, Ubuntu Kylin
  community contributors).
TAIL
} > models/default/REPORT.md.tmp
mv models/default/REPORT.md.tmp models/default/REPORT.md
echo "wrote models/default/REPORT.md"
