"""The lean halves of BCE's shared e^-|x|: exp_neg (a >= 0) and log1p_unit (f in [0, 1]),
each at most 1.5 ulp over its whole domain, nan propagated, and the fused softplus and
sigmoid built on them (the LLVM backend's loops) within 2 / 2.5 ulp."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import handmade

from .accuracy import ulp_errors, wider

DTYPES = [np.float32, np.float64]


def dense(lo, hi, dtype, n, rng):
    """A linear grid over [lo, hi], the bottom three decades by magnitude, random bits of
    the non-negative floats below hi, and the ends."""
    ity = np.uint32 if dtype == np.float32 else np.uint64
    top = np.array(hi, dtype).view(ity)
    bits = rng.integers(0, top, size=n // 4, dtype=ity, endpoint=True).view(dtype)
    small = (10.0 ** rng.uniform(-3, 0, n // 4) * hi).astype(dtype)
    return np.concatenate([np.linspace(lo, hi, n // 2).astype(dtype), small, bits,
                           np.array([lo, hi], dtype)])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_exp_neg_within_one_ulp_denormals_and_zero_included(maps, dtype):
    rng = np.random.default_rng(11)
    top = 110.0 if dtype == np.float32 else 750.0
    a = np.concatenate([dense(0.0, top, dtype, 400_000, rng), np.array([np.inf, 1e30], dtype)])
    y = handmade.map_function(maps, "exp_neg", dtype)(a)
    with np.errstate(over="ignore"):
        err = ulp_errors(y, np.exp(-a.astype(wider(dtype))), dtype)
    assert err.max() <= 1.0, f"{err.max():.3f} ulp at a = {a[err.argmax()]!r}"
    assert y[-2] == 0 and y[-1] == 0
    assert np.isnan(handmade.map_function(maps, "exp_neg", dtype)(np.array([np.nan], dtype)))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_log1p_unit_within_one_and_a_half_ulp(maps, dtype):
    rng = np.random.default_rng(12)
    f = dense(0.0, 1.0, dtype, 600_000, rng)
    y = handmade.map_function(maps, "log1p_unit", dtype)(f)
    err = ulp_errors(y, np.log1p(f.astype(wider(dtype))), dtype)
    assert err.max() <= 1.5, f"{err.max():.3f} ulp at f = {f[err.argmax()]!r}"
    assert np.isnan(handmade.map_function(maps, "log1p_unit", dtype)(np.array([np.nan], dtype)))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_fused_softplus_and_sigmoid_in_a_loop(dtype):
    """softplus and sigmoid of the same x share one exp_neg in a generated loop."""
    rng = np.random.default_rng(13)
    top = 105.0 if dtype == np.float32 else 746.0
    x = np.concatenate([np.linspace(-top, top, 300_001), rng.standard_normal(100_000) * 4,
                        [np.inf, -np.inf, 0.0, -0.0, np.nan]]).astype(dtype)
    X = lg.input("x", shape=("N",))
    k = codegen.compile([lg.softplus(X), lg.sigmoid(X)], backend="llvm", threads=1)
    sp, sg = k(x)
    w = x.astype(wider(dtype))
    with np.errstate(over="ignore"):
        want_sp, want_sg = np.logaddexp(0, w), 1 / (1 + np.exp(-w))
    for got, want, bound in ((sp, want_sp, 2.0), (sg, want_sg, 2.5)):
        err = ulp_errors(got, want, dtype)
        assert err.max() <= bound, f"{err.max():.3f} ulp at x = {x[err.argmax()]!r}"


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_exp_shifted_within_one_ulp_overflow_included(maps, dtype):
    rng = np.random.default_rng(14)
    top = 110.0 if dtype == np.float32 else 750.0
    a = dense(0.0, top, dtype, 400_000, rng)
    a = np.concatenate([a, -a, np.array([np.inf, -np.inf, 1e30, -1e30], dtype)])
    y = handmade.map_function(maps, "exp_shifted", dtype)(a)
    with np.errstate(over="ignore"):
        err = ulp_errors(y, np.exp(-a.astype(wider(dtype))), dtype)
    assert err.max() <= 1.0, f"{err.max():.3f} ulp at a = {a[err.argmax()]!r}"
    assert np.isnan(handmade.map_function(maps, "exp_shifted", dtype)(np.array([np.nan], dtype)))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_softmax_rows_with_infinite_and_nan_logits_as_the_evaluator(dtype):
    """Rows whose max is +inf (e^x may overflow there: float32's e^100; test_inf_rows.py
    covers the threshold), a nan spreads over its row."""
    x = np.array([[1.0, np.inf, 100.0, -3.0], [-2.0, 1.0, np.inf, 50.0],
                  [0.5, np.nan, 2.0, 1.0], [1e4, -1e4, 0.0, 3.0]], dtype)
    X = lg.input("x", shape=(4, 4))
    outs = [lg.softmax(X, axis=1), lg.logsumexp(X, axis=1)]
    got = codegen.compile(outs, backend="llvm", threads=1)(x)
    with np.errstate(all="ignore"):
        want = lg.evaluate(outs, {"x": x})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_exp_row_within_one_ulp_denormals_and_its_floor(maps, dtype):
    """exp_row(a) = e^-a for softmax's a = max - x >= 0 (denormal results, 0 past the last
    denormal), and for a < 0 (a row whose max is +inf, fused.row_shift) down to its floor; +inf
    below it and at a = -inf, the +inf entry; nan propagated."""
    rng = np.random.default_rng(15)
    top = 110.0 if dtype == np.float32 else 750.0
    floor = -66.1 if dtype == np.float32 else -665.0
    a = np.concatenate([dense(0.0, top, dtype, 400_000, rng), -dense(0.0, -floor, dtype,
                                                                      100_000, rng),
                        np.array([np.inf, 1e30], dtype)])
    fn = handmade.map_function(maps, "exp_row", dtype)
    y = fn(a)
    err = ulp_errors(y, np.exp(-a.astype(wider(dtype))), dtype)
    assert err.max() <= 1.0, f"{err.max():.3f} ulp at a = {a[err.argmax()]!r}"
    assert y[-2] == 0 and y[-1] == 0
    below = np.array([-np.inf, -1e30, 2 * floor, floor - 1], dtype)
    assert np.all(fn(below) == np.inf), fn(below)
    assert np.isnan(fn(np.array([np.nan], dtype)))
