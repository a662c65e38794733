#!/usr/bin/env bash
# deeprank's forward pass and training step beside ONNX Runtime's and
# PyTorch's on the same network, in one run (issue 19).
#
# Python is benchmark infrastructure only: a throwaway virtual environment
# gets numpy, onnx, onnxruntime and torch from the package registry (the
# registry's torch is the CUDA build, several GB and a few minutes the first
# time; it runs on the CPU). scripts/bench/peers.py reads the .drk file's
# weights, takes the layers from deeprank's own resolution of the spec
# (scripts/bench/peers arch), builds a torch module and exports it to ONNX.
#
# 1. Parity: both deeprank builds embed real photos (data/sample); PyTorch
#    and ONNX Runtime run on the very input tensors deeprank made from them
#    (model.ToTensor with the model's normalization); the largest difference
#    is printed, and a difference above 1e-4 stops the run.
# 2. Forward pass, images/s at batch 32 on 1 and 2 threads, default model:
#    deeprank (default build and -tags openblas; GOMAXPROCS and the Net's
#    workers set to the thread count, as BenchmarkNetForward's workers=0),
#    ONNX Runtime (intra_op_num_threads), PyTorch eager and TorchScript
#    (torch.set_num_threads).
# 3. Training, triplets/s at batch 48 on 2 threads: deeprank's
#    BenchmarkTrainStep/mining=semihard/shards=2 (augmentation, semi-hard
#    mining with the fast forward pass, gorgonia's forward and backward pass,
#    Adam) in both builds, against PyTorch eager doing the same less the
#    augmentation (peers.py train) on the same network, model.DefaultSpec
#    with Initialize(1)'s weights, which is what BenchmarkTrainStep trains.
#
# Every engine runs once a round, in alternating order, under nice -n 10;
# the table gives each figure's median over the rounds. On a machine shared
# with other jobs the figures are depressed, and the load average is
# printed before and after; the forward pass's images per CPU-second (of
# the process) on one thread suffer least from the load.
#
#   scripts/bench-peers.sh     ROUNDS=3 SECONDS_PER_RUN=3 TRAIN_STEPS=6
#
# MODEL (models/default/model.drk) and IMAGES (data/sample, fetched by
# scripts/fetch-sample.sh when missing) pick other files; PEERS_VENV=DIR
# keeps the virtual environment in DIR (made there when missing) instead of
# a temporary one.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-3}
steps=${TRAIN_STEPS:-6}
model=${MODEL:-models/default/model.drk}
images=${IMAGES:-data/sample}

[ -d "$images" ] || scripts/fetch-sample.sh "$images"
scripts/openblas.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
venv=${PEERS_VENV:-$tmp/venv}
if [ ! -x "$venv/bin/python" ]; then
  echo "peers: installing numpy, onnx, onnxruntime and torch in a virtual environment (minutes)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy onnx onnxruntime torch
fi
py=("$venv/bin/python" scripts/bench/peers.py)

echo "peers: building"
go build -o "$tmp/peers" ./scripts/bench/peers
go build -tags openblas -o "$tmp/peers-openblas" ./scripts/bench/peers
go test -c -o "$tmp/trainer.test" ./trainer
go test -c -tags openblas -o "$tmp/trainer-openblas.test" ./trainer
export OPENBLAS_NUM_THREADS=1 # deeprank's openblas package sets it too

# Parity, on the photos deeprank decoded, with each build's embeddings.
"$tmp/peers" arch -model "$model" >"$tmp/arch.json"
for build in peers peers-openblas; do
  mkdir -p "$tmp/dump-$build"
  "$tmp/$build" dump -model "$model" -images "$images" -n 32 -out "$tmp/dump-$build"
  "${py[@]}" parity "$model" "$tmp/arch.json" "$tmp/dump-$build" "$tmp/model.onnx"
done
"$tmp/peers" spec -out "$tmp/train.drk"
"$tmp/peers" arch -model "$tmp/train.drk" >"$tmp/train-arch.json"

# One run of each engine; each prints "engine threads images/s [images/cpu-s]"
# lines (triplets/s for training).
run() {
  case $1 in
  deeprank | deeprank-openblas)
    local bin=$tmp/peers
    [ "$1" = deeprank-openblas ] && bin=$tmp/peers-openblas
    nice -n 10 "$bin" forward -model "$model" -threads 1,2 -seconds "$secs" -batch 32 |
      sed -E "s/^threads=([0-9]+) images\/s=([0-9.]+) images\/cpu-s=([0-9.]+).*/$1 \1 \2 \3/"
    ;;
  peers-forward)
    nice -n 10 "${py[@]}" forward "$model" "$tmp/arch.json" "$tmp/model.onnx" 1,2 "$secs" 32
    ;;
  deeprank-train | deeprank-openblas-train)
    local bin=$tmp/trainer.test
    [ "$1" = deeprank-openblas-train ] && bin=$tmp/trainer-openblas.test
    (cd trainer && nice -n 10 "$bin" -test.run '^$' -test.bench 'TrainStep/mining=semihard/shards=2$' \
      -test.benchtime "${steps}x" -test.cpu 2) |
      awk -v k="$1" '/triplets\/s/ { for (i = 2; i <= NF; i++) if ($i == "triplets/s") print k, 2, $(i - 1) }'
    ;;
  torch-train)
    nice -n 10 "${py[@]}" train "$tmp/train.drk" "$tmp/train-arch.json" 2 "$steps" 48
    ;;
  esac
}

engines=(deeprank deeprank-openblas peers-forward deeprank-train deeprank-openblas-train torch-train)
echo "peers: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "peers: load average before: $load_before"
for r in $(seq "$rounds"); do
  order=("${engines[@]}")
  if [ $((r % 2)) -eq 0 ]; then # alternate the order, so drift in the load falls on all alike
    order=()
    for ((i = ${#engines[@]} - 1; i >= 0; i--)); do order+=("${engines[i]}"); done
  fi
  for e in "${order[@]}"; do
    run "$e" | tee -a "$tmp/results" | sed "s/^/peers: round $r: /"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
"${py[@]}" table "$tmp/results"
echo
echo "Measured under nice -n 10; load average $load_before before, $load_after after. Other jobs"
echo "on this machine depress every figure, two threads most: compare figures within one run."
