"""The emitter pins its loops to the host's vector width (codegen.llvm.jit.vector_bits: 512 with
AVX-512, 256 with AVX, 128 otherwise). Whatever the host, kernels emitted for each width (a
narrower one runs as is; a wider one LLVM splits into the host's registers) pin that width,
pack short rows by it, and agree with lg.evaluate: flat loops, packed rows, long rows,
reductions kept in arrays."""
import re

import numpy as np
import pytest

import codegen
import lossgraph as lg
import zoo
from codegen.llvm import packed
from lossgraph.pipeline import derive
from zoo import losses as L

from .host import emitting_for


def _losses():
    x, z = lg.input("x", shape=("N",)), lg.input("z", shape=("N",))
    r10, r300 = lg.input("r", shape=("N", 10)), lg.input("r", shape=("N", 300))
    y = lg.input("y", shape=("N",), dtype="int64")
    img, t = lg.input("img", shape=("N", 5, 6, 20)), lg.input("t", shape=("N", 5, 6, 20))
    return {
        "bce": (L.sigmoid_cross_entropy(x, z, reduction="mean"), [x]),
        "huber": (L.huber(x, z, reduction="mean"), [x]),
        "ce10": (lg.mean(zoo.tf.sparse_softmax_cross_entropy(r10, y)), [r10]),
        "ce300": (lg.mean(zoo.tf.sparse_softmax_cross_entropy(r300, y)), [r300]),
        "channels": (lg.mean(lg.sum(t * (lg.logsumexp(img, axis=1, keepdims=True) - img),
                                    axis=1)), [img]),
    }


def _feed(names, shapes, dtype, rng):
    feed = {}
    for name in names:
        shape = shapes[name]
        if name == "y":
            feed[name] = rng.integers(0, shapes["r"][1], size=shape[0])
        elif name in ("z", "t"):
            feed[name] = rng.random(size=shape).astype(dtype)
        else:
            feed[name] = (4 * rng.normal(size=shape)).astype(dtype)
    return feed


@pytest.fixture
def width(request):
    """The emitter's vector width set to request.param bits for this test."""
    with emitting_for(request.param) as bits:
        yield bits


@pytest.mark.parametrize("width", [128, 256, 512], indirect=True)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(_losses()))
def test_kernels_of_every_width_agree_with_evaluate(width, dtype, name):
    loss, wrt = _losses()[name]
    k = codegen.compile(loss, wrt=wrt, backend="llvm", dtype=dtype, threads=1,
                        name=f"{name}_{width}")
    lanes = width // (32 if dtype == "float32" else 64)
    rows = 37
    shapes = {"x": (1003,), "z": (1003,), "r": (rows, 300 if name == "ce300" else 10),
              "y": (rows,), "img": (3, 5, 6, 20), "t": (3, 5, 6, 20)}
    feed = _feed(k.input_names, shapes, dtype, np.random.default_rng(width))
    value, grads = k(**feed)
    y, dgrads = derive(loss, wrt)
    want = lg.evaluate([y, *dgrads], {a: v.astype(np.float64) if v.dtype.kind == "f" else v
                                      for a, v in feed.items()})
    tol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(value, want[0], rtol=tol)
    for g, w in zip(grads, want[1:]):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * np.abs(w).max())
    hinted = {int(w) for w in re.findall(r'"llvm.loop.vectorize.width", i32 (\d+)', k.llvm_ir)}
    if name != "ce10":
        assert lanes in hinted, (hinted, lanes)
    assert not hinted or max(hinted) <= lanes
    if name == "ce10" and packed.packs(10, lanes):
        elem = "float" if dtype == "float32" else "double"
        assert f"<{10 * packed.group(10, lanes)} x {elem}>" in k.llvm_ir
