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
from ..zoo_cases import CASES, EXTREME, SPECIAL
from .test_lower_random import same_bits


def check(case, seed=0, cancels=False):
    """One kernel per case computes the loss, its gradients and the unreduced value
    (cancels: test_zoo_kernels.close's)."""
    nodes, arrays, out = build(case, seed)
    floats = [n for n in nodes if n.dtype == "float"]
    scalar = out if out.shape == () else lg.sum(out)
    k = codegen.compile([scalar, out], wrt=floats, backend="llvm")
    y, grads = derive(scalar, floats)
    for f32 in (False, True):
        feed = {k: (a.astype(np.float32) if f32 and a.dtype.kind == "f" else a)
                for k, a in arrays.items()}
        before = {k: a.copy() for k, a in feed.items()}
        with np.errstate(all="ignore"):
            (value, full), got = k(**feed)
            (value2, full2), got2 = k(*[feed[n] for n in k.input_names])   # the entry's
        same_bits(((value2, full2), got2), ((value, full), got))
        for name, a in feed.items():
            np.testing.assert_array_equal(a, before[name])
            assert not any(np.shares_memory(a, g) for g in got)
        with np.errstate(all="ignore"):
            close(full, lg.evaluate(lg.simplify(out), feed), f32, cancels)
            matches_evaluate(value, got, y, grads, floats, feed, f32, cancels)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_flavour_matches_evaluate(case):
    check(case)


#: extreme cases whose gradient is a difference of two probabilities computed apart: MXNet's
#: CTCLoss over activations of +-1e4 is softmax(x) - the CTC posterior, which are equal at
#: some entries; there 0 comes out as an ulp of 1/2 (-1.1e-16), from LLVM's log and exp
#: against NumPy's (each within 2 ulp) feeding the two terms
CANCELLING = ("mx.CTCLoss-extreme",)


@pytest.mark.parametrize("case", EXTREME, ids=[c[0] for c in EXTREME])
def test_flavour_matches_evaluate_on_extreme_inputs(case):
    check(case, seed=1, cancels=case[0] in CANCELLING)


@pytest.mark.parametrize("case", SPECIAL, ids=[c[0] for c in SPECIAL])
def test_flavour_matches_evaluate_on_inf_and_nan_inputs(case):
    """nan and inf land where lg.evaluate puts them (found: x / sqrt(y) under arcp gave nan at
    y = inf; a +inf row max with entries above 66.2 overflowed in float32). BCE's kernel
    gradient does not cancel where the reference's sigmoid(x) - z does (x = 20, z = 1)."""
    check(case, seed=2, cancels=True)
