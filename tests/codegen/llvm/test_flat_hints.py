"""emit.NestEmitter.flat_hints: float64 flat nests are pinned to the host's lanes x
interleave 4 (emit.FLAT_INTERLEAVE; 8 lanes with AVX-512; 2 on AVX for cheap bodies), which
leaves no vectorized epilogue (a narrower loop LLVM's own pick adds on AVX-512); the results
agree with lg.evaluate, and with the kernel left to LLVM's choice within rounding (the tail is
summed in another order). The element loop is never masked: LLVM's tail folding masks every
iteration, which was 1.2-1.3x slower."""
import re

import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import emit
from zoo import losses as L

from .host import LANES, VECTOR, flat_interleave

X = lg.input("x", shape=("N",))
Z = lg.input("z", shape=("N",))
FLAT = {"mse": lambda: L.squared_error(X, Z, reduction="mean"),
        "huber": lambda: L.huber(X, Z, reduction="mean"),
        "bce": lambda: L.sigmoid_cross_entropy(X, Z, reduction="mean")}


def _kernel(name, interleave):
    old = emit.FLAT_INTERLEAVE
    emit.FLAT_INTERLEAVE = interleave
    try:
        k = codegen.compile(FLAT[name](), wrt=[X], backend="llvm", dtype="float64", threads=1,
                            name=f"{name}_hints{len(interleave)}")
        k(**_feed(40, 0))
    finally:
        emit.FLAT_INTERLEAVE = old
    return k


def _feed(n, seed):
    rng = np.random.default_rng(seed)
    return {"x": 3 * rng.normal(size=n), "z": (rng.random(n) > 0.5).astype(np.float64)}


@pytest.mark.parametrize("name", list(FLAT))
def test_float64_flat_loops_are_pinned_and_have_no_epilogue(name):
    pinned, free = _kernel(name, emit.FLAT_INTERLEAVE), _kernel(name, {32: 4})
    lanes, count = LANES["float64"], flat_interleave(name == "bce")
    hint = (rf'"llvm.loop.vectorize.width", i32 {lanes} }}\n'
            rf'.*"llvm.loop.interleave.count", i32 {count} }}')
    assert re.search(hint, pinned.llvm_ir) and not re.search(hint, free.llvm_ir)
    assert VECTOR["float64"] in pinned.optimized_ir
    assert "vec.epilog" not in pinned.optimized_ir      # LLVM's own pick adds one on AVX-512
    assert f"<{lanes // 2} x double>" not in pinned.optimized_ir
    y, grads = lg.pipeline.derive(FLAT[name](), [X])
    for n in (1, 7, 31, 32, 33, 1000, 3000):
        feed = _feed(n, n)
        (v, (g,)), (vf, (gf,)) = pinned(**feed), free(**feed)
        want = lg.evaluate([y, *grads], feed)
        np.testing.assert_allclose(v, want[0], rtol=1e-13)
        np.testing.assert_allclose(g, want[1], rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(v, vf, rtol=1e-14)
        assert np.array_equal(g, gf)               # elementwise: the same bits


def test_float32_nests_keep_their_hints():
    """float32 nests take float32's lanes; float64's reach no float32 kernel."""
    k = codegen.compile(FLAT["mse"](), wrt=[X], backend="llvm", dtype="float32", threads=1,
                        name="mse_f32_hints")
    k(**{a: v.astype(np.float32) for a, v in _feed(40, 1).items()})
    width = r'"llvm.loop.vectorize.width", i32 {} }}'
    assert re.search(width.format(LANES["float32"]), k.llvm_ir)
    assert not re.search(width.format(LANES["float64"]), k.llvm_ir)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(FLAT))
def test_flat_loops_run_unmasked_vectors(name, dtype):
    """The element loop is a vector loop without masks (its remainder is LLVM's scalar loop),
    and every length agrees with lg.evaluate, tails of every size included."""
    k = codegen.compile(FLAT[name](), wrt=[X], backend="llvm", dtype=dtype, threads=1,
                        name=f"{name}_{dtype}_unmasked")
    k(**{a: v.astype(dtype) for a, v in _feed(40, 2).items()})
    opt = k.optimized_ir
    assert "vector.body" in opt and "llvm.masked." not in opt
    assert "llvm.loop.vectorize.predicate.enable" not in k.llvm_ir
    y, grads = lg.pipeline.derive(FLAT[name](), [X])
    rtol = 1e-13 if dtype == "float64" else 2e-6
    for n in (1, 5, 15, 16, 17, 63, 64, 65, 1023, 1025, 2061):
        feed = {a: v.astype(dtype) for a, v in _feed(n, n).items()}
        v, (g,) = k(**feed)
        want = lg.evaluate([y, *grads], {a: v.astype(np.float64) for a, v in feed.items()})
        np.testing.assert_allclose(v, want[0], rtol=rtol)
        np.testing.assert_allclose(g, want[1], rtol=rtol, atol=rtol * np.abs(want[1]).max())
