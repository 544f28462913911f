"""A value two nests compute (one reduces it, the other compares against the reduction: the
gradient of max and min) has the same bits in both, packed rows included
(codegen.llvm.fused): the gradients of max and min over sigmoid, softplus, tanh, exp,
softmax and log_softmax agree with lg.evaluate. Before fused, packed rows took the accurate
mathlib.sigmoid and the plain loops the shared-exp one, so x == max(x) found no element."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from lossgraph.pipeline import derive

FUNCTIONS = {"sigmoid": lg.sigmoid, "softplus": lg.softplus, "tanh": lg.tanh, "exp": lg.exp,
             "softmax": lambda v: lg.softmax(v, axis=1),
             "log_softmax": lambda v: lg.log_softmax(v, axis=1)}


def loss(f, x):
    """The three patterns in one kernel (one compile per dtype): a row max and the global
    max, a row min times a sum, the global max beside a sum of squares."""
    return (lg.sum(lg.max(f(x), axis=1)) + lg.max(f(x))
            + lg.sum(lg.min(f(x), axis=1)) * lg.sum(f(x))
            + lg.max(f(x)) + lg.sum(lg.square(f(x))))


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("c", [3, 4, 10, 12, 40])
def test_max_and_min_gradients_find_their_element(name, c):
    x = lg.input("x", shape=(6, c))
    xv = np.random.default_rng(c).normal(size=(6, c))
    graph = loss(FUNCTIONS[name], x)
    k = codegen.compile(graph, wrt=[x], backend="llvm")
    want = derive(graph, [x])[1][0]
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 2e-4)):
        _, (g,) = k(x=xv.astype(dtype))
        ref = lg.evaluate(want, {"x": xv.astype(dtype)})
        np.testing.assert_allclose(g, ref, rtol=tol, atol=tol * np.abs(ref).max(),
                                   err_msg=dtype.__name__)
