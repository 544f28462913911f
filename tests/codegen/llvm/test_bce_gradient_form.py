"""BCE with logits' gradient, sigmoid(x) - z, as the LLVM kernel computes it: one quotient
(n1 - z - z e) / (1 + e) with e = e^-|x| (fused.SHARED_EXP_CHAINS), so hard labels do not cancel
where sigmoid(x) rounds to z's neighbourhood; checked against mpmath."""
import mpmath
import numpy as np
import pytest

import codegen
import lossgraph as lg

from .accuracy import ulp_errors, wider

X = lg.input("x", shape=("N",))
Z = lg.input("z", shape=("N",))
BCE = lg.mean(lg.softplus(X) - X * Z)


@pytest.fixture(scope="module")
def kernel():
    return codegen.compile(BCE, wrt=[X], backend="llvm")


def exact(x, z):
    """(sigmoid(x) - z) / N = ((1 - z) sigmoid(x) - z sigmoid(-x)) / N to 60 digits (the
    terms are exact there, so mpmath cancels only where the difference itself does)."""
    mpmath.mp.dps = 60
    out = []
    for a, b in zip(x, z):
        a, b = mpmath.mpf(float(a)), mpmath.mpf(float(b))
        out.append(((1 - b) / (1 + mpmath.exp(-a)) - b / (1 + mpmath.exp(a))) / len(x))
    return out


def ulps(got, want, dtype):
    """accuracy.ulp_errors of got against the mpmath values want (carried in the wider type)."""
    ref = np.array([wider(dtype)(mpmath.nstr(v, 30)) for v in want])
    return ulp_errors(got, ref, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hard_labels_keep_every_digit(kernel, dtype):
    """z = 1 with x large (and z = 0 with x very negative): the gradient is -sigmoid(-x) / N
    (sigmoid(-x) / N), tiny but exact to a few ulp, where sigmoid(x) - z gives 0 from x = 17
    (float32) or 37 (float64) on."""
    top = 80 if dtype == np.float32 else 700
    a = np.geomspace(0.5, top, 200).astype(dtype)
    x = np.concatenate([a, -a])
    z = np.concatenate([np.ones_like(a), np.zeros_like(a)])
    _, (g,) = kernel(x=x, z=z)
    assert ulps(g, exact(x, z), dtype).max() <= 3
    assert np.all(g[:len(a)] < 0) and np.all(g[len(a):] > 0)
    naive = lg.evaluate(lg.pipeline.derive(BCE, [X])[1][0], {"x": x, "z": z})
    assert np.sum(naive == 0) > 20                    # what the textbook form gives there


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_soft_labels_within_the_conditioning(kernel, dtype):
    """Any z in [0, 1]: within 3 ulp of the larger of sigmoid(x) and z (the difference's own
    condition; no form does better near sigmoid(x) = z)."""
    rng = np.random.default_rng(3)
    x = (6 * rng.normal(size=500)).astype(dtype)
    z = rng.random(500).astype(dtype)
    _, (g,) = kernel(x=x, z=z)
    want = exact(x, z)
    scale = np.maximum(1 / (1 + np.exp(-x.astype(np.float64))), z.astype(np.float64)) / len(x)
    err = np.array([float(abs(mpmath.mpf(float(a)) - b)) for a, b in zip(g, want)])
    assert np.all(err <= 3 * np.spacing(scale.astype(dtype)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infinite_and_nan_operands_as_ieee_says(kernel, dtype):
    """z = +-inf gives -+inf, also where e^-|x| underflows to 0 (|x| >= 104 in float32, 746
    in float64, and x = +-inf): no inf * 0; a nan x or z gives nan."""
    x = np.array([5, 1e4, -1e4, np.inf, -np.inf, 5, 1e4, -np.inf, np.nan, 0.0], dtype)
    z = np.array([np.inf] * 5 + [-np.inf] * 3 + [1.0, np.nan], dtype)
    _, (g,) = kernel(x=x, z=z)
    np.testing.assert_array_equal(g[:8], -z[:8])
    assert np.isnan(g[8]) and np.isnan(g[9])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_divided_by_any_denominator(dtype):
    """(sigmoid(x) - z) / c, the gradient of sum(softplus(x) - x z) / c, is num / (c + c e):
    per-element c (a weight input) and the scalar c of a mean alike, c = 0 and c = inf as
    the quotient of the rounded difference gives them."""
    c = lg.input("c", shape=("N",))
    loss = lg.sum((lg.softplus(X) - X * Z) / c)
    k = codegen.compile(loss, wrt=[X], backend="llvm")
    rng = np.random.default_rng(5)
    x = (3 * rng.normal(size=400)).astype(dtype)
    z = (rng.random(400) > 0.5).astype(dtype)
    w = np.exp(rng.normal(size=400) * 5).astype(dtype)
    w[:4] = [0, np.inf, -np.inf, -2]
    _, (g,) = k(x=x, z=z, c=w)
    want = lg.evaluate(lg.pipeline.derive(loss, [X])[1][0], {"x": x, "z": z, "c": w})
    np.testing.assert_array_equal(np.isnan(g), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(g), np.isinf(want))
    assert np.all(g[1:3] == 0)
    finite = np.isfinite(w) & (w != 0)
    exact_n = exact(x[finite], z[finite])           # (sigmoid(x) - z) / n, n = its length
    scaled = [v * finite.sum() / mpmath.mpf(float(c)) for v, c in zip(exact_n, w[finite])]
    assert ulps(g[finite], scaled, dtype).max() <= 4
