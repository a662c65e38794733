"""Reference values for model's forward pass (TestForwardReference).

Computed with JAX, whose 'SAME' padding for convolutions and max-pools is
TensorFlow's (Keras's): the larger half of the padding at the bottom and the
right, and max-pools never take a padded cell. Nothing here reads deeprank's
code: the layer semantics are JAX's, the network of the "net" case is
written out below from the Spec the Go test builds.

Weights and inputs are small multiples of 1/8, so float32 holds them exactly.
Run (JAX from PyPI, CPU only) from the repository root:

    python3 -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip install jax
    /tmp/jaxenv/bin/python model/testdata/forward_ref.py > model/testdata/forward_ref.json
"""

import json

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402


def values(n, seed):
    """n hand-set values in [-1, 1], multiples of 1/8."""
    return [((i * 7 + seed * 13) % 17 - 8) / 8 for i in range(n)]


def distinct(n, seed):
    """n distinct negative values, multiples of 1/16 (n <= 101)."""
    return [-(((i * 37 + seed * 11) % 101) + 1) / 16 for i in range(n)]


def conv(x, w, b, stride, relu):
    # x (N, C, H, W), w (O, C, k, k): cross-correlation, as im2col.
    y = lax.conv_general_dilated(x, w, (stride, stride), "SAME",
                                 dimension_numbers=("NCHW", "OIHW", "NCHW"))
    y = y + b[None, :, None, None]
    return jnp.maximum(y, 0) if relu else y


def maxpool(x, k, s):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, k, k), (1, 1, s, s), "SAME")


def gap(x):
    return x.mean(axis=(2, 3))


def dense(h, w, b, relu):
    y = h @ w + b
    return jnp.maximum(y, 0) if relu else y


def l2(h):
    return h / jnp.sqrt((h * h).sum(axis=1, keepdims=True) + 1e-12)


def flat(a):
    return [float(v) for v in jnp.ravel(a)]


def layer_cases():
    cases = []

    def add_conv(name, c, h, w, out, k, s, relu, seed):
        x = jnp.array(values(c * h * w, seed)).reshape(1, c, h, w)
        wt = jnp.array(values(out * c * k * k, seed + 1)).reshape(out, c, k, k)
        b = jnp.array(values(out, seed + 2))
        y = conv(x, wt, b, s, relu)
        cases.append({"name": name, "kind": "conv", "in": [c, h, w], "out_channels": out,
                      "kernel": k, "stride": s, "relu": relu, "x": flat(x),
                      "w": flat(wt), "b": flat(b), "out": list(y.shape[1:]), "want": flat(y)})

    def add_pool(name, c, h, w, k, s, seed):
        x = jnp.array(distinct(c * h * w, seed)).reshape(1, c, h, w)
        y = maxpool(x, k, s)
        cases.append({"name": name, "kind": "maxpool", "in": [c, h, w], "kernel": k, "stride": s,
                      "x": flat(x), "out": list(y.shape[1:]), "want": flat(y)})

    # Convolutions: every split of 'same' padding.
    add_conv("conv 4x4/2 on 5x5: pad 1 before, 2 after", 2, 5, 5, 3, 4, 2, False, 1)
    add_conv("conv 3x3/1 on 6x6 with ReLU: pad 1 and 1", 2, 6, 6, 2, 3, 1, True, 2)
    add_conv("conv 2x2/2 on 7x7: pad 0 before, 1 after", 1, 7, 7, 2, 2, 2, False, 3)
    add_conv("conv 3x3/4 on 8x8: no padding", 3, 8, 8, 2, 3, 4, False, 4)
    add_conv("conv 3x3/2 on 5x6: rows pad 1 and 1, columns 0 and 1", 2, 5, 6, 2, 3, 2, False, 5)
    add_conv("conv 5x5/1 on 3x3: kernel larger than the image", 1, 3, 3, 2, 5, 1, False, 6)
    # Max-pools over distinct negative values: a padded zero would win, and
    # a window shifted by a cell finds another maximum.
    add_pool("pool 2x2/2 on 4x4: no padding", 2, 4, 4, 2, 2, 7)
    add_pool("pool 2x2/2 on 5x5: pad 0 before, 1 after", 1, 5, 5, 2, 2, 8)
    add_pool("pool 3x3/2 on 5x5: pad 1 and 1", 1, 5, 5, 3, 2, 9)
    add_pool("pool 3x3/2 on 6x6: pad 0 and 1", 2, 6, 6, 3, 2, 10)
    add_pool("pool 7x7/2 on 4x4: pad 2 and 3, every window the whole image", 1, 4, 4, 7, 2, 11)
    add_pool("pool 7x7/2 on 8x8: pad 2 and 3", 1, 8, 8, 7, 2, 18)
    add_pool("pool 3x3/4 on 6x5: rows pad 0 and 1, columns 1 and 1", 1, 6, 5, 3, 4, 12)

    x = jnp.array(values(3 * 3 * 2, 13)).reshape(1, 3, 3, 2)
    cases.append({"name": "global average pool", "kind": "gap", "in": [3, 3, 2],
                  "x": flat(x), "out": [3, 1, 1], "want": flat(gap(x))})
    for relu in (False, True):
        h = jnp.array(values(5, 14)).reshape(1, 5)
        w = jnp.array(values(5 * 4, 15)).reshape(5, 4)
        b = jnp.array(values(4, 16))
        cases.append({"name": "dense" + (" with ReLU" if relu else ""), "kind": "dense", "in": [5, 1, 1],
                      "out_channels": 4, "relu": relu, "x": flat(h), "w": flat(w), "b": flat(b),
                      "out": [4, 1, 1], "want": flat(dense(h, w, b, relu))})
    h = jnp.array(values(6, 17)).reshape(1, 6)
    cases.append({"name": "l2 normalise", "kind": "l2norm", "in": [6, 1, 1], "x": flat(h),
                  "out": [6, 1, 1], "want": flat(l2(h))})
    return cases


def net_case():
    """The network of the Spec in TestForwardReference: InputSize 8, compact
    backbone of 1 stage of width 2, DenseDim 3, one shallow branch (2
    filters, kernel 3, stride 3, pool 3/2), 2 colour features, embedding 4;
    two images. The value is the embedding before its final L2 normalisation."""
    shapes = {
        "convnet.stage1_conv": ((2, 3, 3, 3), 2),
        "convnet.fc1": ((2, 3), 3),
        "convnet.fc2": ((3, 3), 3),
        "shallow1.conv": ((2, 3, 3, 3), 2),
        "color.conv": ((2, 3, 2, 2), 2),
        "embedding": ((3 + 8 + 2, 4), 4),
    }
    p, seed = {}, 20
    for name, (ws, bs) in shapes.items():
        n = 1
        for d in ws:
            n *= d
        p[name + ".w"] = jnp.array(values(n, seed)).reshape(ws)
        p[name + ".b"] = jnp.array(values(bs, seed + 1))
        seed += 2
    x = jnp.array(values(2 * 3 * 8 * 8, 40)).reshape(2, 3, 8, 8)
    g = lambda n: p[n + ".w"]  # noqa: E731
    bb = lambda n: p[n + ".b"]  # noqa: E731
    h = conv(x, g("convnet.stage1_conv"), bb("convnet.stage1_conv"), 1, True)
    h = maxpool(h, 2, 2)
    h = gap(h)
    h = dense(h, g("convnet.fc1"), bb("convnet.fc1"), True)
    h = dense(h, g("convnet.fc2"), bb("convnet.fc2"), True)
    cnn = l2(h)
    s = conv(x, g("shallow1.conv"), bb("shallow1.conv"), 3, False)
    s = maxpool(s, 3, 2)
    shallow = l2(s.reshape(2, -1))
    c = conv(x, g("color.conv"), bb("color.conv"), 2, True)
    color = l2(gap(c))
    cat = jnp.concatenate([cnn, shallow, color], axis=1)
    emb = dense(cat, g("embedding"), bb("embedding"), False)
    return {"x": flat(x), "weights": {k: flat(v) for k, v in p.items()}, "want": flat(emb)}


print(json.dumps({"layers": layer_cases(), "net": net_case()}, indent=1))
