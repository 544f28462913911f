"""ulp errors of the mathlib functions against higher-precision references.

References: float32 results against float64 NumPy (its error, under 1 ulp of float64, is
2^-29 ulp of float32: provably enough); float64 results against np.longdouble (x87 80-bit, 64-bit
mantissa: about 2^-11 ulp of float64), spot-checked with mpmath in the tests.

Run as a script for the dense sweeps quoted in docs/llvm-backend.md:
    python -m tests.codegen.llvm.accuracy [points_float32] [points_float64]
"""
from __future__ import annotations

import sys

import numpy as np

LD = np.longdouble


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


#: name -> reference on the wider type (x, or x and y, already widened)
REFERENCES = {
    "exp": np.exp, "exp_accurate": np.exp, "log": np.log, "log1p": np.log1p,
    "expm1": np.expm1, "tanh": np.tanh,
    "sigmoid": _sigmoid, "softplus": lambda x: np.logaddexp(np.zeros_like(x), x),
    "log_sigmoid": lambda x: -np.logaddexp(np.zeros_like(x), -x), "power": np.power,
}

#: name -> the linear ranges (float32, float64) where the function does its work
RANGES = {
    "exp": ((-104.0, 89.0), (-746.0, 710.0)),
    "exp_accurate": ((-104.0, 89.0), (-746.0, 710.0)),
    "log": ((0.0, 4.0), (0.0, 4.0)),
    "log1p": ((-1.0, 4.0), (-1.0, 4.0)),
    "expm1": ((-20.0, 89.0), (-40.0, 710.0)),
    "tanh": ((-10.0, 10.0), (-20.0, 20.0)),
    "sigmoid": ((-105.0, 105.0), (-746.0, 746.0)),
    "softplus": ((-105.0, 105.0), (-746.0, 746.0)),
    "log_sigmoid": ((-105.0, 105.0), (-746.0, 746.0)),
}

SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-30, -1e-30]


def wider(dtype):
    return np.float64 if np.dtype(dtype) == np.float32 else LD


def sweep(name, dtype, n, seed=0):
    """n inputs over the whole domain: random bit patterns (every binade, denormals, inf,
    nan), a dense linear grid over the working range, its neighbourhood of +-0 and the
    specials; power gets pairs (x, y)."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    ity = np.uint32 if dtype == np.float32 else np.uint64
    bits = rng.integers(0, np.iinfo(ity).max, size=n // 3, dtype=ity, endpoint=True)
    anywhere = bits.view(dtype)
    if name == "power":
        return _power_sweep(dtype, n, rng)
    lo, hi = RANGES[name][0 if dtype == np.float32 else 1]
    grid = np.linspace(lo, hi, n // 2).astype(dtype)
    tiny = (rng.standard_normal(n - n // 3 - n // 2) * 1e-3).astype(dtype)
    return np.concatenate([anywhere, grid, tiny, np.array(SPECIALS, dtype)])


def _power_sweep(dtype, n, rng):
    m = n // 4
    bits = 32 if dtype == np.float32 else 64
    top = 120.0 if bits == 32 else 1000.0
    x = np.exp(rng.uniform(-top / 4, top / 4, m)).astype(dtype)
    y = rng.uniform(-top / 4, top / 4, m).astype(dtype) / np.maximum(np.abs(np.log(x)), 1)
    y = y.astype(dtype)
    xn = -np.exp(rng.uniform(-5, 5, m)).astype(dtype)
    yi = rng.integers(-40, 40, m).astype(dtype)
    xg = rng.uniform(0, 3, m).astype(dtype)
    yg = rng.uniform(-20, 20, m).astype(dtype)
    xa = rng.integers(0, 2 ** bits - 1, m, dtype=np.uint64, endpoint=True)
    xa = xa.astype(np.uint32 if bits == 32 else np.uint64).view(dtype)
    ya = rng.integers(0, 2 ** bits - 1, m, dtype=np.uint64, endpoint=True)
    ya = ya.astype(np.uint32 if bits == 32 else np.uint64).view(dtype)
    sp = np.array(SPECIALS + [3.0, -3.0, 0.25], dtype)
    xs, ys = np.meshgrid(sp, sp)
    return (np.concatenate([x, xn, xg, xa, xs.ravel()]),
            np.concatenate([y, yi, yg, ya, ys.ravel()]))


def reference(name, args, dtype):
    w = wider(dtype)
    with np.errstate(all="ignore"):
        return REFERENCES[name](*[np.asarray(a).astype(w) for a in args])


def ulp_errors(y, ref, dtype):
    """|y - ref| in ulps of dtype at ref (the smaller ulp at a binade edge); inf where one is
    nan or non-finite and the other differs; 0 where both are the same inf or both nan."""
    dtype = np.dtype(dtype)
    with np.errstate(all="ignore"):
        rt = ref.astype(dtype)
        both_nan = np.isnan(y) & np.isnan(ref)
        special = ~np.isfinite(rt) | ~np.isfinite(y)
        art = np.abs(rt)
        above = art.astype(ref.dtype) > np.abs(ref)
        below = np.where(above, np.nextafter(art, dtype.type(0)), art)
        unit = np.spacing(below).astype(ref.dtype)       # ulp of the binade |ref| is in
        err = np.abs(y.astype(ref.dtype) - ref) / unit
        same = (y.astype(ref.dtype) == rt.astype(ref.dtype)) & special
        err = np.where(special, np.where(same | both_nan, 0.0, np.inf), err)
    return err


def max_ulp(fn, name, dtype, n, seed=0):
    """(max ulp error, the input where it happened) of fn over sweep(name, dtype, n)."""
    args = sweep(name, dtype, n, seed)
    args = args if isinstance(args, tuple) else (args,)
    err = ulp_errors(fn(*args), reference(name, args, dtype), dtype)
    k = int(np.argmax(err))
    return float(err[k]), tuple(a[k] for a in args)


def main(argv):
    from codegen.llvm import handmade
    n32 = int(float(argv[0])) if argv else 10 ** 6
    n64 = int(float(argv[1])) if len(argv) > 1 else 10 ** 6
    names = list(REFERENCES)
    jm = handmade.map_module(names)
    print(f"| function | float32 max ulp ({n32:.0e} points) | float64 max ulp ({n64:.0e}) |")
    print("|---|---|---|")
    for name in names:
        row = []
        for dtype, n in ((np.float32, n32), (np.float64, n64)):
            err, at = max_ulp(handmade.map_function(jm, name, dtype), name, dtype, n)
            row.append(f"{err:.3f} (at {', '.join(repr(float(a)) for a in at)})")
        print(f"| {name} | {row[0]} | {row[1]} |")


if __name__ == "__main__":
    main(sys.argv[1:])
