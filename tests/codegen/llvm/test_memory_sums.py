"""Sums kept in their array (Nest.memory: softmax over the channels of (N, C, H, W)) accumulate
as a static row of them does (emit.memory_type): float32 over at most lower.BLOCK static
elements, float64 over more, over a symbolic extent, and for float64 inputs; the gradients stay
within the float32 bound of such a sum against lg.evaluate in float64, on 1 thread and 2."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import emit, lower

BLOCK = lower.BLOCK


def segmentation_ce(c):
    x = lg.input("x", shape=("N", c, "H", "W"))
    y = lg.input("y", shape=("N", "H", "W"), dtype="int64")
    return x, lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y, axis=1))


def memory_dtypes(k, shapes, float_t):
    """The dtypes of the arrays the Program's nests accumulate sums in (identity 0; the max
    kept beside them accumulates in its own dtype)."""
    program = k._fn.program_for(float_t, shapes)
    return {dtype for st in program.steps if st[0] == "nest"
            for _, _, dtype, ident in st[1] if ident == 0}


@pytest.mark.parametrize("c, float_t, want", [
    (150, "float32", "float32"), (BLOCK, "float32", "float32"),
    (BLOCK + 1, "float32", "float64"), ("C", "float32", "float64"),
    (150, "float64", "float64")])
def test_channel_sums_accumulate_as_a_static_row_does(c, float_t, want):
    x, loss = segmentation_ce(c)
    k = codegen.compile(loss, wrt=[x], backend="llvm")
    cc = 7 if c == "C" else c
    assert memory_dtypes(k, [(2, cc, 3, 5), (2, 3, 5)], float_t) == {want}


@pytest.mark.parametrize("c", [150, BLOCK, BLOCK + 1])
def test_gradients_within_the_float32_bound_of_the_sum(c):
    """float32 inputs: the channel sum's relative error is at most about c eps / 2 in the
    worst case (eps = 2^-23), far less for sums of positive terms in practice; the gradient
    (softmax - one_hot) / pixels then errs by at most 1e-5 of its largest element."""
    x, loss = segmentation_ce(c)
    rng = np.random.default_rng(4)
    xa = (3 * rng.normal(size=(3, c, 5, 7))).astype(np.float32)
    ya = rng.integers(0, c, size=(3, 5, 7))
    y, grads = lg.pipeline.derive(loss, [x])
    ref_v, ref_g = lg.evaluate([y, *grads], {"x": xa.astype(np.float64), "y": ya})
    got = []
    for threads in (1, 2):
        v, (g,) = codegen.compile(loss, wrt=[x], backend="llvm", threads=threads)(x=xa, y=ya)
        np.testing.assert_allclose(v, ref_v, rtol=1e-6)
        assert np.abs(g - ref_g).max() <= 1e-5 * np.abs(ref_g).max()
        got.append(v.tobytes() + g.tobytes())
    assert got[0] == got[1]


def test_the_switch_gives_float64_sums_back(monkeypatch):
    x, loss = segmentation_ce(150)
    monkeypatch.setattr(emit, "MEMORY_BLOCK_SUMS", False)
    k = codegen.compile(loss, wrt=[x], backend="llvm", name="float64 sums")
    assert memory_dtypes(k, [(2, 150, 3, 5), (2, 3, 5)], "float32") == {"float64"}
