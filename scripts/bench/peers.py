"""The peers' side of scripts/bench-peers.sh: a deeprank network run by
PyTorch and ONNX Runtime. Benchmark infrastructure only, never part of
deeprank.

The weights come from the .drk file itself (read here: magic "DEEPRANK",
uint32 format, uint32 header length, JSON header, float32 tensors in the
header's order, SHA-256 of all before); the layers come from deeprank's own
resolution of the spec (`peers arch`, model.Spec.Arch as JSON), so that
padding and shapes are not worked out twice.

    python peers.py parity  DRK ARCH DUMPDIR ONNX   torch and ORT against deeprank
    python peers.py forward DRK ARCH ONNX THREADS SECONDS BATCH
    python peers.py train   DRK ARCH THREADS STEPS BATCH
    python peers.py table   RESULTS                  the summary table

forward and train print result lines "engine threads value"; table reads
them (several rounds) and prints medians with ratios.
"""
import hashlib
import json
import statistics
import struct
import sys
import time
import warnings

import numpy as np


def read_drk(path):
    """Returns the header and {name: float32 array} of a .drk file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"DEEPRANK":
        raise ValueError(f"{path}: not a deeprank model file")
    fmt, hlen = struct.unpack_from("<II", data, 8)
    if fmt not in (1, 2):
        raise ValueError(f"{path}: format {fmt}, this reader knows 1 and 2")
    header = json.loads(data[16:16 + hlen])
    off, weights = 16 + hlen, {}
    for t in header["tensors"]:
        n = int(np.prod(t["shape"]))
        weights[t["name"]] = np.frombuffer(data, "<f4", n, off).reshape(t["shape"]).copy()
        off += 4 * n
    if len(data) != off + 32 or hashlib.sha256(data[:off]).digest() != data[off:]:
        raise ValueError(f"{path}: checksum or length mismatch")
    return header, weights


def build(drk, arch_path):
    """The network as a torch.nn.Module, in eval mode."""
    import torch
    import torch.nn.functional as F

    _, weights = read_drk(drk)
    with open(arch_path) as f:
        arch = json.load(f)
    eps = arch["l2_epsilon"]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            # ParameterDict keys may not hold dots.
            self.p = torch.nn.ParameterDict(
                {k.replace(".", "__"): torch.nn.Parameter(torch.from_numpy(v)) for k, v in weights.items()})

        def w(self, layer, which):
            return self.p[layer["name"].replace(".", "__") + "__" + which]

        def run(self, layers, x):
            for l in layers:
                t, b, le, r = l["pad"]
                kind = l["kind"]
                if kind == "conv":
                    if t == b and le == r:
                        x = F.conv2d(x, self.w(l, "w"), self.w(l, "b"), l["stride"], (t, le))
                    else:  # Keras 'same': the larger half after
                        x = F.conv2d(F.pad(x, (le, r, t, b)), self.w(l, "w"), self.w(l, "b"), l["stride"])
                elif kind == "maxpool":
                    if t == b and le == r and 2 * max(t, le) <= l["kernel"]:
                        x = F.max_pool2d(x, l["kernel"], l["stride"], (t, le))
                    else:  # padded cells never win
                        x = F.max_pool2d(F.pad(x, (le, r, t, b), value=float("-inf")), l["kernel"], l["stride"])
                elif kind == "gap":
                    x = x.mean((2, 3), keepdim=True)
                elif kind == "dense":
                    x = torch.addmm(self.w(l, "b"), x.flatten(1), self.w(l, "w"))
                elif kind == "dropout":
                    x = F.dropout(x, l["rate"], self.training)
                elif kind == "l2norm":
                    flat = x.flatten(1)
                    x = (flat / torch.sqrt((flat * flat).sum(1, keepdim=True) + eps)).view_as(x)
                else:
                    raise ValueError(f"layer kind {kind}")
                if l["relu"]:
                    x = F.relu(x)
            return x

        def forward(self, x):
            h = torch.cat([self.run(br["layers"], x).flatten(1) for br in arch["branches"]], 1)
            return self.run(arch["head"], h)

    return Net().eval(), arch


def ort_session(onnx_path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])


def export_onnx(net, arch, path):
    import torch

    x = torch.zeros(2, *arch["input"])
    kw = dict(input_names=["input"], output_names=["embedding"], dynamic_axes={"input": {0: "n"}, "embedding": {0: "n"}})
    try:  # the TorchScript-based exporter: no onnxscript needed
        torch.onnx.export(net, (x,), path, dynamo=False, **kw)
    except TypeError:
        torch.onnx.export(net, (x,), path, **kw)


def parity(drk, arch_path, dump, onnx_path):
    import torch

    net, arch = build(drk, arch_path)
    c, h, w = arch["input"]
    x = np.fromfile(f"{dump}/inputs.f32", "<f4").reshape(-1, c, h, w)
    want = np.fromfile(f"{dump}/deeprank.f32", "<f4").reshape(len(x), -1)
    with torch.no_grad():
        got_torch = net(torch.from_numpy(x)).numpy()
    export_onnx(net, arch, onnx_path)
    got_ort = ort_session(onnx_path, 2).run(None, {"input": x})[0]
    worst = 0.0
    for name, got in (("PyTorch", got_torch), ("ONNX Runtime", got_ort)):
        d = float(np.abs(got - want).max())
        cos = float((got * want).sum(1).min())
        worst = max(worst, d)
        print(f"parity: {name} vs deeprank on {len(x)} photos: max abs difference {d:.2e}, lowest cosine {cos:.7f}")
    if worst > 1e-4:
        sys.exit(f"parity: difference {worst:.2e} above 1e-4: the networks differ")


def timed(fn, seconds, scale):
    """Calls of fn, times scale, per second and per CPU-second of this
    process, over about seconds after one warm-up call, as "value value"."""
    fn()
    start, cpu0, n = time.perf_counter(), time.process_time(), 0
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return f"{n * scale / (time.perf_counter() - start):.1f} {n * scale / (time.process_time() - cpu0):.1f}"


def forward(drk, arch_path, onnx_path, threads, seconds, batch):
    import torch

    net, arch = build(drk, arch_path)
    x = np.random.default_rng(1).uniform(-1, 1, (batch, *arch["input"])).astype(np.float32)
    xt = torch.from_numpy(x)
    for t in threads:
        sess = ort_session(onnx_path, t)
        print(f"onnxruntime {t} {timed(lambda: sess.run(None, {'input': x}), seconds, batch)}", flush=True)
        torch.set_num_threads(t)
        with torch.inference_mode():
            print(f"torch {t} {timed(lambda: net(xt), seconds, batch)}", flush=True)
        try:
            with torch.no_grad():
                ts = torch.jit.freeze(torch.jit.trace(net, xt))
                print(f"torchscript {t} {timed(lambda: ts(xt), seconds, batch)}", flush=True)
        except Exception as e:  # TorchScript is optional here
            print(f"# torchscript unavailable: {e}", file=sys.stderr)


def train(drk, arch_path, threads, steps, batch):
    """Triplets/s of PyTorch eager on what BenchmarkTrainStep times, less
    the augmentation: semi-hard mining with a no-grad forward pass over the
    batch, then forward, hinge on squared distances (gap 1), backward and
    Adam (lr 0.001) over queries, positives and mined negatives."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net, arch = build(drk, arch_path)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.uniform(-1, 1, (3 * batch, *arch["input"])).astype(np.float32))
    cls = rng.integers(0, 4, batch)  # 4 classes, as BenchmarkTrainStep's data
    labels = torch.from_numpy(np.concatenate([cls, cls, (cls + rng.integers(1, 4, batch)) % 4]))

    def step():
        net.eval()
        with torch.no_grad():
            e = net(x)
            d = torch.cdist(e[:batch], e).square()
            dpos = d[torch.arange(batch), batch + torch.arange(batch)]
            other = labels[None, :] != labels[:batch, None]
            hard = torch.where(other, d, torch.inf)
            semi = torch.where(other & (d > dpos[:, None]), d, torch.inf)
            pick = torch.where(semi.min(1).values.isfinite(), semi.argmin(1), hard.argmin(1))
            xb = torch.cat([x[:2 * batch], x[pick]])
        net.train()
        e = net(xb)
        q, p, n = e[:batch], e[batch:2 * batch], e[2 * batch:]
        loss = torch.relu(1 + (q - p).square().sum(1) - (q - n).square().sum(1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    print(f"torch-train {threads} {steps * batch / (time.perf_counter() - start):.1f}", flush=True)


# The table's rows: (key in the results, label).
FORWARD = [
    ("deeprank", "deeprank default build"),
    ("deeprank-openblas", "deeprank -tags openblas"),
    ("onnxruntime", "ONNX Runtime"),
    ("torch", "PyTorch eager"),
    ("torchscript", "PyTorch TorchScript (frozen)"),
]
TRAIN = [
    ("deeprank-train", "deeprank default build"),
    ("deeprank-openblas-train", "deeprank -tags openblas"),
    ("torch-train", "PyTorch eager"),
]


def table(results):
    runs = {}
    with open(results) as f:
        for line in f:
            parts = line.split()  # engine threads per-second [per-CPU-second]
            if len(parts) >= 3 and not line.startswith("#"):
                runs.setdefault((parts[0], int(parts[1])), []).append(float(parts[2]))
            if len(parts) == 4:
                runs.setdefault((parts[0] + "/cpu", int(parts[1])), []).append(float(parts[3]))
    med = {k: statistics.median(v) for k, v in runs.items()}
    rounds = max((len(v) for v in runs.values()), default=0)

    def cell(key, t, ref):
        if (key, t) not in med:
            return "-"
        v, r = med[(key, t)], med.get((ref, t))
        return f"{v:,.0f} ({v / r:.2f}x)" if r and key != ref else f"{v:,.0f}"

    print(f"\nforward pass, batch 32, images/s (median of {rounds} rounds; ratio to ONNX Runtime)")
    print(f"{'':40} {'1 thread':>15} {'2 threads':>15} {'1->2':>6} {'per CPU-s, 1 thread':>20}")
    for key, label in FORWARD:
        if not any(k == key for k, _ in med):
            continue
        scale = f"{med[(key, 2)] / med[(key, 1)]:.2f}x" if (key, 1) in med and (key, 2) in med else "-"
        print(f"{label:40} {cell(key, 1, 'onnxruntime'):>15} {cell(key, 2, 'onnxruntime'):>15} {scale:>6}"
              f" {cell(key + '/cpu', 1, 'onnxruntime/cpu'):>20}")
    print(f"\ntraining, batch 48, 2 threads, model.DefaultSpec, triplets/s (median of {rounds}; ratio to PyTorch eager)")
    print("deeprank: BenchmarkTrainStep/shards=2 (augment, mine, step); PyTorch: mine and step, no augmentation")
    for key, label in TRAIN:
        print(f"{label:40} {cell(key, 2, 'torch-train'):>15}")


def main():
    # torch's legacy ONNX exporter and TorchScript warn that they are deprecated.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "parity":
        parity(*a)
    elif cmd == "forward":
        forward(a[0], a[1], a[2], [int(t) for t in a[3].split(",")], float(a[4]), int(a[5]))
    elif cmd == "train":
        train(a[0], a[1], int(a[2]), int(a[3]), int(a[4]))
    elif cmd == "table":
        table(a[0])
    else:
        sys.exit(f"peers.py: unknown command {cmd}")


if __name__ == "__main__":
    main()
