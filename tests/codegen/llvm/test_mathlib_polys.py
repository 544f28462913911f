"""The lean exponential and log1p's polynomials (exp_neg, exp_shifted, log1p_unit): the fits
against mpmath, the 2^-K folded into exp_neg's coefficients, denormal results rounded once,
and log1p_unit's error budget."""
import math

import mpmath
import numpy as np
import pytest

from codegen.llvm import handmade, mathlib

from .accuracy import ulp_errors, wider

DTYPES = [np.float32, np.float64]


def _poly(coefs, x):
    return np.polynomial.Polynomial(coefs)(x)


def _chebyshev_fit(series, lo, hi, degree):
    """Power-basis coefficients of the Chebyshev interpolant of series(x) (an exact sum,
    evaluated in float64) on [lo, hi]: within a few percent of the minimax error. How
    mathlib's float32 fits (_EXP_Q32, _LOG1P_R32, _LOG_R32) were made."""
    cheb = np.polynomial.Chebyshev.interpolate(series, degree, domain=[lo, hi])
    return tuple(float(c) for c in cheb.convert(kind=np.polynomial.Polynomial).coef)


def _exp_q64(r):
    """Q(r) = (e^r - 1 - r) / r^2 = sum r^k / (k + 2)!, to float64 accuracy for |r| < 1."""
    term, total = np.ones_like(r) / 2, np.zeros_like(r)
    for k in range(24):
        total = total + term
        term = term * r / (k + 3)
    return total


def _log1p_r64(f):
    """R = (log(1 + f) - f) / f^2 for f in [-1/2, 1], to float64 accuracy (its series where
    |f| < 0.1, where log1p(f) - f cancels)."""
    f = np.asarray(f, dtype=float)
    small = np.abs(f) < 0.1
    fs = np.where(small, f, 0.0)
    series = sum((-1.0) ** (k + 1) * fs ** k / (k + 2) for k in range(30))
    fb = np.where(small, 1.0, f)
    return np.where(small, series, (np.log1p(fb) - fb) / fb ** 2)


@pytest.mark.parametrize("fit, made, half", [
    (lambda: mathlib._EXP_Q_FIT[32],
     lambda: _chebyshev_fit(_exp_q64, -mathlib._HALF_LN2, mathlib._HALF_LN2, 4),
     mathlib._HALF_LN2),
    (lambda: mathlib._LOG1P_R_FIT[32],
     lambda: _chebyshev_fit(lambda t: _log1p_r64(t + 0.5), -0.5, 0.5, 9), 0.5),
    (lambda: mathlib._LOG_R_FIT32,
     lambda: _chebyshev_fit(lambda t: _log1p_r64(t + mathlib._LOG_R_CENTER),
                            -mathlib._LOG_R_HALF, mathlib._LOG_R_HALF, 9), mathlib._LOG_R_HALF),
], ids=["exp_q", "log1p_r", "log_r"])
def test_float32_fits_are_their_chebyshev_interpolants(fit, made, half):
    """The literals are the interpolants: the two polynomials agree to float64 rounding over
    the fit's interval. Their power-basis coefficients are compared by value, not one by one:
    the conversion from the Chebyshev basis is ill-conditioned, so a last-bit difference in
    numpy's log1p or BLAS (which differ between AVX2 and AVX-512 hosts) moved log_r's
    coefficients by 4e-9 relative while its values moved by 1.5e-15."""
    t = np.linspace(-half, half, 4001)
    want = _poly(made(), t)
    np.testing.assert_allclose(_poly(fit(), t), want, rtol=1e-13, atol=0)


def test_exp_q_fit_against_mpmath():
    """float32's Q(r) = (e^r - 1 - r) / r^2 on |r| <= 0.35: r^2 |Q_fit - Q| / e^r, the
    polynomial's own share of exp_neg's error, stays under 0.2 ulp (2^-24 relative)."""
    mpmath.mp.dps = 40
    r = np.linspace(-mathlib._HALF_LN2, mathlib._HALF_LN2, 2001)
    r = r[r != 0]
    exact = np.array([float((mpmath.exp(v) - 1 - v) / v ** 2) for v in map(mpmath.mpf, r)])
    share = r ** 2 * np.abs(_poly(mathlib._EXP_Q_FIT[32], r) - exact) / np.exp(r)
    assert share.max() < 0.2 * 2.0 ** -24, share.max() / 2.0 ** -24


def _log1p_r(t):
    """R(t) = (log(1 + f) - f) / f^2 at f = t + 1/2, in mpmath."""
    f = t + mpmath.mpf(1) / 2
    return (mpmath.log1p(f) - f) / f ** 2


def log1p_r64_fit(degree=22):
    """float64's R: the interpolant of R at the Chebyshev nodes of t in [-1/2, 1/2], in the
    power basis, solved at 50 digits and rounded: how mathlib._LOG1P_R64 was made."""
    with mpmath.workdps(50):
        n = degree + 1
        nodes = [mpmath.cos(mpmath.pi * (k + mpmath.mpf(1) / 2) / n) / 2 for k in range(n)]
        a = mpmath.matrix([[x ** j for j in range(n)] for x in nodes])
        c = mpmath.lu_solve(a, mpmath.matrix([_log1p_r(x) for x in nodes]))
        return tuple(float(c[j]) for j in range(n))


def test_log1p_r64_is_its_mpmath_fit():
    assert mathlib._LOG1P_R_FIT[64] == log1p_r64_fit()


@pytest.mark.parametrize("bits, share", [(32, 0.45), (64, 0.15)])
def test_log1p_r_fit_against_mpmath(bits, share):
    """R(f) = (log(1 + f) - f) / f^2 on [0, 1], fitted in t = f - 1/2 with its coefficients
    rounded to the float: its share f^2 |R_fit - R| / log(1 + f) of log1p_unit's error stays
    under `share` ulp (2^-24 / 2^-53 relative). In float32 that is mostly R(1/2)'s own
    rounding to a float: 0.41 ulp at f = 1 (the fit itself: 0.06)."""
    with mpmath.workdps(40):
        f = [mpmath.mpf(v) for v in np.linspace(1e-6, 1.0, 1001)]
        dtype = np.float32 if bits == 32 else np.float64
        coefs = [mpmath.mpf(float(dtype(c))) for c in mathlib._LOG1P_R_FIT[bits]]
        worst = max(v ** 2 * abs(mpmath.polyval(coefs[::-1], v - 0.5) - _log1p_r(v - 0.5))
                    / mpmath.log1p(v) for v in f)
    assert float(worst) < share * 2.0 ** -(24 if bits == 32 else 53), float(worst)


def test_log_r32_fit_against_mpmath():
    """float32 log's R(f) = (log(1 + f) - f) / f^2 on f in [sqrt(1/2) - 1, sqrt 2 - 1],
    fitted in t = f - its center, coefficients rounded to float32: its share
    f^2 |R_fit - R| / |log(1 + f)| of log's error under 0.15 ulp (measured 0.085)."""
    c, h = mathlib._LOG_R_CENTER, mathlib._LOG_R_HALF
    with mpmath.workdps(40):
        coefs = [mpmath.mpf(float(np.float32(v))) for v in mathlib._LOG_R_FIT32][::-1]
        worst = 0
        for v in np.linspace(c - h, c + h, 1201):
            f = mpmath.mpf(v)
            if f == 0:
                continue
            r = (mpmath.log1p(f) - f) / f ** 2
            worst = max(worst, f ** 2 * abs(mpmath.polyval(coefs, f - c) - r)
                        / abs(mpmath.log1p(f)))
    assert float(worst) < 0.15 * 2.0 ** -24, float(worst) / 2.0 ** -24


@pytest.mark.parametrize("bits", [32, 64])
def test_exp_neg_coefficients_are_the_polynomial_times_two_to_the_minus_k(bits):
    """Scaling by 2^-K commutes with rounding to the float (no coefficient leaves the normal
    range): exp_neg evaluates exactly 2^-K times exp_shifted's polynomial."""
    dtype = np.float32 if bits == 32 else np.float64
    k = mathlib._EXP_NEG_K[bits]
    scaled, plain = mathlib._EXP_NEG_POLY[bits], mathlib._EXP_R_POLY[bits]
    assert len(scaled) == len(plain)
    for c, p in zip(scaled, plain):
        assert dtype(c) == dtype(p) * dtype(2.0 ** -k) and abs(dtype(c)) >= np.finfo(dtype).tiny


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["exp_neg", "exp_shifted"])
def test_denormal_results_round_once(maps, name, dtype):
    """e^-a below the smallest normal: one rounding of y 2^-n, so within one denormal step of
    the exact value rounded once, and off it only where y's own error (a fraction of a step near
    the top binades) straddles a midpoint: a few percent; a second rounding would double that."""
    fi = np.finfo(dtype)
    a = np.linspace(-math.log(float(fi.tiny)), -math.log(float(fi.smallest_subnormal)) + 1,
                    100_000).astype(dtype)
    want = np.exp(-a.astype(wider(dtype))).astype(dtype)
    got = handmade.map_function(maps, name, dtype)(a)
    step = np.abs(got.astype(np.float64) - want.astype(np.float64)) / float(fi.smallest_subnormal)
    assert (want < fi.tiny).mean() > 0.99 and (want == 0).any()
    assert step.max() <= 1.0
    assert (step != 0).mean() < 0.03


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_log1p_unit_error_budget(maps, dtype):
    """f + f^2 R(f): one rounding in the last fma plus R's (damped by |t| <= 1/2 at each
    Horner step) and f^2's stay within 1.25 ulp over [0, 1] (bits of every binade, a dense
    grid, the ends)."""
    rng = np.random.default_rng(21)
    ity = np.uint32 if dtype == np.float32 else np.uint64
    top = np.array(1.0, dtype).view(ity)
    f = np.concatenate([rng.integers(0, top, 300_000, dtype=ity, endpoint=True).view(dtype),
                        np.linspace(0, 1, 300_001).astype(dtype), np.array([0, 1], dtype)])
    got = handmade.map_function(maps, "log1p_unit", dtype)(f)
    err = ulp_errors(got, np.log1p(f.astype(wider(dtype))), dtype)
    assert err.max() <= 1.25, f"{err.max():.3f} ulp at f = {f[err.argmax()]!r}"
    assert got[-2] == 0
