"""lossgraph.ranges.bounds with a float dtype: every value a graph takes, as that dtype computes
it (constants and every op rounded), lies within its bounds: random expressions over clipped,
squared and exponentiated inputs. (Bounds without a dtype are of the exact values, which a
float64 evaluation may pass by its rounding: sigmoid(exp(clip(x, 1e-7, 1))) came out an ulp
below their lower bound. Rewrites use kernel_bounds, which holds in both types.)"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lossgraph as lg
from lossgraph.ranges import bounds

X = lg.input("x", shape=("N",))
LEAVES = [lambda: X, lambda: lg.clip(X, 1e-7, 1 - 1e-7), lambda: lg.sigmoid(X),
          lambda: lg.square(X), lambda: lg.abs(X)]
CONSTANTS = [1.0, 2.0, 1e-12, 1 - 1e-12, 0.5, 1e-7]
UNARY = [lg.exp, lg.sigmoid, lg.square, lg.abs, lg.negative, lambda e: lg.clip(e, 1e-3, 10.0),
         lambda e: lg.maximum(e, 1e-6), lambda e: lg.log(lg.maximum(e, 1e-6))]
BINARY = [lg.add, lg.subtract, lg.multiply, lg.maximum, lg.minimum]


@st.composite
def expressions(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(LEAVES))()
    kind = draw(st.sampled_from(["unary", "binary", "constant"]))
    e = draw(expressions(depth=depth - 1))
    if kind == "unary":
        return draw(st.sampled_from(UNARY))(e)
    other = draw(expressions(depth=depth - 1)) if kind == "binary" else \
        lg.constant(draw(st.sampled_from(CONSTANTS)))
    op = draw(st.sampled_from(BINARY))
    return op(other, e) if draw(st.booleans()) else op(e, other)


SAMPLE = np.concatenate([np.linspace(-30, 30, 601), [0.0, 1.0, -1.0, 1e-7, 1 - 1e-7, 1e-12]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@settings(max_examples=60, deadline=None)
@given(expr=expressions())
def test_values_lie_within_the_bounds(expr, dtype):
    x = SAMPLE.astype(dtype)
    with np.errstate(all="ignore"):
        got = np.asarray(lg.evaluate(expr, {"x": x}), dtype=np.float64)
    got = got[~np.isnan(got)]
    lo, hi = bounds(expr, dtype=dtype)
    assert np.all(got >= lo) and np.all(got <= hi), (str(expr), lo, hi, got.min(), got.max())


def test_float32_bounds_see_the_rounding_of_constants():
    """1 - 1e-12 is 1 in float32: 1 - clip(x, 1e-12, 1 - 1e-12) reaches 0 there."""
    e = 1.0 - lg.clip(X, 1e-12, 1 - 1e-12)
    assert bounds(e)[0] > 0 and bounds(e, dtype="float64")[0] > 0
    assert bounds(e, dtype="float32")[0] <= 0.0
    assert bounds(1.0 - lg.clip(X, 1e-7, 1 - 1e-7), dtype="float32")[0] > 1e-7


def test_rewrites_decide_only_what_holds_in_both_float_types():
    """A guard the float32 rounding can break stays: 1 - clip(x, 1e-12, 1 - 1e-12) > 0 is
    true exactly but false at x = 1 in float32; with 1e-7 it holds in both and is dropped."""
    def guarded(eps):
        q = 1.0 - lg.clip(X, eps, 1 - eps)
        return lg.simplify(lg.where(q > 0, lg.log(q), 0.0))
    assert "where" in str(guarded(1e-12)) and "where" not in str(guarded(1e-7))
    x = np.array([1.0, 0.5], np.float32)
    assert lg.evaluate(guarded(1e-12), {"x": x})[0] == 0.0
    assert lg.simplify(lg.clip(lg.sigmoid(X), 0.0, 1.0)) is lg.sigmoid(X)
