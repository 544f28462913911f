"""mathlib accuracy: at most 2 ulp against higher-precision references over the whole domain."""
import mpmath
import numpy as np
import pytest

from codegen.llvm import handmade

from .accuracy import REFERENCES, max_ulp, ulp_errors

BOUND = 2.0
SIZES = {np.float32: 120_000, np.float64: 60_000}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_max_ulp_over_domain(maps, name, dtype):
    fn = handmade.map_function(maps, name, dtype)
    err, at = max_ulp(fn, name, dtype, SIZES[dtype], seed=1)
    assert err <= BOUND, f"{name} {dtype.__name__}: {err:.3f} ulp at {at}"


_MP = {
    "exp": mpmath.exp, "log": mpmath.log, "log1p": mpmath.log1p, "expm1": mpmath.expm1,
    "tanh": mpmath.tanh, "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
    "softplus": lambda x: mpmath.log1p(mpmath.exp(x)),
    "log_sigmoid": lambda x: -mpmath.log1p(mpmath.exp(-x)),
}


@pytest.mark.parametrize("name", sorted(_MP))
def test_float64_against_mpmath(maps, name):
    """The long-double reference is cross-checked: 150 float64 points against mpmath at 120
    bits, spread over the working range."""
    rng = np.random.default_rng(7)
    lo, hi = {"log": (1e-300, 1e300), "log1p": (-0.999, 1e6)}.get(name, (-700.0, 700.0))
    if name in ("log",):
        x = np.exp(rng.uniform(np.log(lo), np.log(hi), 150))
    else:
        x = rng.uniform(lo, hi, 150) * rng.choice([1.0, 1e-3, 1e-9], 150)
    y = handmade.map_function(maps, name, np.float64)(x)
    with mpmath.workprec(120):
        ref = np.array([_MP[name](mpmath.mpf(float(v))) for v in x], dtype=object)
        err = [abs((mpmath.mpf(float(a)) - r) / r) if r != 0 else abs(mpmath.mpf(float(a)))
               for a, r in zip(y, ref)]
    assert max(float(e) for e in err) <= BOUND * 2.0 ** -52


def test_power_float64_against_mpmath(maps):
    """x^y with y log x near the overflow range: the double-double log earns its keep here."""
    rng = np.random.default_rng(3)
    x = np.exp(rng.uniform(-5, 5, 150))
    y = rng.uniform(-700, 700, 150) / np.maximum(np.abs(np.log(x)), 1.0)
    got = handmade.map_function(maps, "power", np.float64)(x, y)
    with mpmath.workprec(120):
        for a, b, g in zip(x, y, got):
            r = mpmath.power(mpmath.mpf(float(a)), mpmath.mpf(float(b)))
            assert abs((mpmath.mpf(float(g)) - r) / r) <= BOUND * 2.0 ** -52, (a, b)


def test_ulp_measure_catches_a_one_ulp_error():
    """The yardstick itself: a result one ulp off measures 1, a wrong inf measures inf."""
    ref = np.array([1.5, 3.0, 2.0 ** -140], dtype=np.float64)   # exact in float32
    y = np.nextafter(ref.astype(np.float32), np.float32(np.inf))
    assert np.allclose(ulp_errors(y, ref, np.float32), 1.0, atol=0.02)
    assert ulp_errors(np.array([np.inf], np.float32), np.array([1.0]), np.float32)[0] == np.inf
