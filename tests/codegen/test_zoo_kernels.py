"""Every zoo loss in every flavour compiles with the NumPy backend and agrees with the
reference evaluator on the same pipeline graphs: rtol 1e-12 in float64; in float32 rtol 2e-4
with atol 1e-5 of the largest magnitude (NumPy's float32 kernels round differently from the
reference's op-by-op evaluation, e.g. a dot product against a pairwise sum), on random inputs
and on extreme ones (logits +-1e4, probabilities 0 and 1, empty masks, zero weights)."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from lossgraph.pipeline import derive

from .zoo_cases import CASES, EXTREME, flavour_functions

PREFIX = {"tl": "zoo.tensorlayer", "tf": "zoo.tf", "mx": "zoo.mxnet", "tflearn": "zoo.tflearn",
          "axon": "zoo.axon", "torch": "zoo.torch"}


def build(case, seed=0):
    name, fn, makers = case
    rng = np.random.default_rng(seed)
    arrays = [m(rng) for m in makers]
    nodes = [lg.input(f"a{i}", shape=a.shape, dtype="float" if a.dtype.kind == "f"
                      else a.dtype.name) for i, a in enumerate(arrays)]
    out = fn(*nodes)
    assert isinstance(out, lg.Node), f"{name} did not build a graph"
    return nodes, {f"a{i}": a for i, a in enumerate(arrays)}, out


def close(got, want, f32=False, cancels=False):
    """got == want within the bounds of the module docstring, nan and inf where want has
    them. cancels: float64 also takes an atol of 1e-15 of the largest magnitude, what the
    reference's own cancellation may lose (sigmoid(x) - z at x = 20, whose kernel form keeps)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    scale = np.max(np.abs(want[np.isfinite(want)]), initial=1.0)
    if f32:
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-5 * scale)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12,
                                   atol=1e-15 * scale if cancels else 1e-300)


def check(case, seed=0):
    nodes, arrays, out = build(case, seed)
    floats = [n for n in nodes if n.dtype == "float"]
    scalar = out if out.shape == () else lg.sum(out)
    k_value = codegen.compile(out)
    k_grad = codegen.compile(scalar, wrt=floats)
    y, grads = derive(scalar, floats)
    for f32 in (False, True):
        feed = {k: (a.astype(np.float32) if f32 and a.dtype.kind == "f" else a)
                for k, a in arrays.items()}
        close(k_value(**feed), lg.evaluate(lg.simplify(out), feed), f32)
        before = {k: a.copy() for k, a in feed.items()}
        value, got = k_grad(**feed)
        for name, a in feed.items():         # inputs are never written, results never alias them
            np.testing.assert_array_equal(a, before[name])
            assert not any(np.shares_memory(a, g) for g in got)
        bufs = tuple(np.full(g.shape, np.nan, g.dtype) for g in got)
        _, into = k_grad(**feed, out=bufs)      # the same gradients, in the caller's buffers
        assert all(a is b for a, b in zip(into, bufs))
        for g, b in zip(got, bufs):
            np.testing.assert_array_equal(b, g)
        matches_evaluate(value, got, y, grads, floats, feed, f32)


def matches_evaluate(value, got, y, grads, floats, feed, f32, cancels=False):
    """A kernel's value and gradients agree with lg.evaluate of the pipeline's graphs, in the
    inputs' precision (the bounds of close())."""
    want = lg.evaluate([y, *grads], feed)
    close(value, want[0], f32, cancels)
    for g, w, node in zip(got, want[1:], floats):
        assert g.dtype == (np.float32 if f32 else np.float64), node.name
        close(g, w, f32, cancels)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_flavour_matches_evaluate(case):
    check(case)


@pytest.mark.parametrize("case", EXTREME, ids=[c[0] for c in EXTREME])
def test_flavour_matches_evaluate_on_extreme_inputs(case):
    check(case, seed=1)


def test_every_catalogued_flavour_has_a_case():
    covered = {(PREFIX[c[0].split(".")[0]], c[0].split(".", 1)[1].split("-")[0]) for c in CASES}
    missing = sorted(flavour_functions() - covered)
    assert not missing, f"flavours without a compile case: {missing}"
