"""Divisions are IEEE's, rounded once, at every edge: x / y, 1 / sqrt(y) and x / sqrt(y) give
NumPy's bits for y = 0, -0, +inf, denormals and nan, elementwise, over a broadcast row norm
and in packed rows. (Under `arcp` LLVM computed x / sqrt(y) as x times vrsqrt14ps plus a
Newton step: nan at y = 0 and y = +inf, and not correctly rounded.)"""
import numpy as np
import pytest

import codegen
import lossgraph as lg

DTYPES = [np.float32, np.float64]


def edges(dtype, n, rng):
    tiny = np.finfo(dtype).smallest_subnormal
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, tiny, 3 * tiny, 1e-30, 1e30,
                        np.finfo(dtype).max, np.finfo(dtype).tiny], dtype)
    y = rng.lognormal(0.0, 4.0, n).astype(dtype)
    y[: len(special)] = special
    return y


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_elementwise_divisions_give_numpys_bits(dtype):
    rng = np.random.default_rng(3)
    n = 997
    x = rng.normal(size=n).astype(dtype)
    y = edges(dtype, n, rng)
    X, Y = lg.input("x", shape=("N",)), lg.input("y", shape=("N",))
    outs = [X / Y, 1.0 / lg.sqrt(Y), X / lg.sqrt(Y)]
    got = codegen.compile(outs, backend="llvm", threads=1)(x=x, y=y)
    with np.errstate(all="ignore"):
        want = [x / y, dtype(1) / np.sqrt(y), x / np.sqrt(y)]
    for g, w, name in zip(got, want, ["x / y", "1 / sqrt(y)", "x / sqrt(y)"]):
        np.testing.assert_array_equal(g, w, err_msg=name)


@pytest.mark.parametrize("classes", [4, 10, 40])           # short, packed, plain rows
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_row_norm_divisions_give_numpys_bits(classes, dtype):
    """x / sqrt(sum(x^2)) per row: rows of zeros (0 / 0: nan), a row with +inf (its finite
    entries 0, the inf nan), a huge row whose squares overflow."""
    rng = np.random.default_rng(classes)
    x = rng.normal(size=(37, classes)).astype(dtype)
    x[1] = 0.0
    x[2, 0] = np.inf
    x[3] = np.finfo(dtype).max / 2
    x[4, 1] = np.nan
    x[5] = np.finfo(dtype).smallest_subnormal
    X = lg.input("x", shape=("N", classes))
    s = lg.sum(lg.square(X), axis=1, keepdims=True)
    outs = [X / lg.sqrt(s), 1.0 / lg.sqrt(s)]
    got = codegen.compile(outs, backend="llvm", threads=1)(x=x)
    with np.errstate(all="ignore"):
        want = lg.evaluate(outs, {"x": x})
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        np.testing.assert_allclose(g, w, rtol=2 * np.finfo(dtype).eps, atol=0)
