"""Every zoo loss in every flavour compiles with backend="llvm" and agrees with lg.evaluate
on the same pipeline graphs (tests/codegen/zoo_cases.py, random and extreme inputs), with one
and two threads.

Bounds: float64 rtol 1e-12. float32 rtol 2e-4 with atol 1e-5 of the largest magnitude, as for
the NumPy backend: the reference rounds op by op in float32, while these loops sum in float64
(or float32 blocks folded into float64) and mathlib's functions round differently within
2 ulp, and a few ulp of float32 (6e-8 each) pass through cancelling sums of a handful of terms.
"""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from lossgraph.pipeline import derive

from ..test_zoo_kernels import build, close, matches_evaluate
from ..zoo_cases import CASES, EXTREME


def check(case, seed=0):
    """One kernel per case computes the loss, its gradients and the unreduced value."""
    nodes, arrays, out = build(case, seed)
    floats = [n for n in nodes if n.dtype == "float"]
    scalar = out if out.shape == () else lg.sum(out)
    k = codegen.compile([scalar, out], wrt=floats, backend="llvm")
    y, grads = derive(scalar, floats)
    for f32 in (False, True):
        feed = {k: (a.astype(np.float32) if f32 and a.dtype.kind == "f" else a)
                for k, a in arrays.items()}
        before = {k: a.copy() for k, a in feed.items()}
        (value, full), got = k(**feed)
        for name, a in feed.items():
            np.testing.assert_array_equal(a, before[name])
            assert not any(np.shares_memory(a, g) for g in got)
        close(full, lg.evaluate(lg.simplify(out), feed), f32)
        matches_evaluate(value, got, y, grads, floats, feed, f32)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_flavour_matches_evaluate(case):
    check(case)


@pytest.mark.parametrize("case", EXTREME, ids=[c[0] for c in EXTREME])
def test_flavour_matches_evaluate_on_extreme_inputs(case):
    check(case, seed=1)
