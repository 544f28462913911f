"""Cheaper forms from what the graph says of an operand (fused.operand_form).

log and xlogy of an operand the graph bounds below by a normal float (fused.NORMAL_OPERAND:
log(clip(p, 1e-7, 1)), xlogy(z, 1 - clip(p, ...)), log(maximum(v, 1e-6))) drop the selects for
zero, negatives and denormals: log's and xlogy's bits there, inf and NaN as they were, a
shorter loop body, and the full forms wherever the bounds do not say so. x ** 3 and x ** 4 of
a constant exponent are products (fused.INTEGER_POWERS): within 2 ulp, pow's edges."""
import re

import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen import kernel
from codegen.llvm import fused, handmade, packed

from .host import LANES

DTYPES = [np.float32, np.float64]


def _normals(dtype, n, rng):
    """Positive normal values of every binade, the extremes, 1 and +inf."""
    fi = np.finfo(dtype)
    ity = np.uint32 if dtype == np.float32 else np.uint64
    bits = rng.integers(0, np.iinfo(ity).max, size=n, dtype=ity, endpoint=True)
    x = np.abs(bits.view(dtype))
    x = x[np.isfinite(x) & (x >= fi.tiny)]
    return np.concatenate([x, np.array([fi.tiny, fi.max, 1.0, 0.5, 2.0, np.inf], dtype)])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_the_normal_forms_give_the_full_forms_bits(maps, dtype):
    rng = np.random.default_rng(5)
    x = _normals(dtype, 40_000, rng)
    log, log_normal = (handmade.map_function(maps, f, dtype) for f in ("log", "log_normal"))
    np.testing.assert_array_equal(log_normal(x), log(x))
    assert np.isnan(log_normal(np.array([np.nan], dtype)))[0]
    z = rng.normal(size=x.size).astype(dtype)
    z[::7] = 0.0
    z[1] = np.nan
    xlogy, xlogy_normal = (handmade.map_function(maps, f, dtype)
                           for f in ("xlogy", "xlogy_normal"))
    np.testing.assert_array_equal(xlogy_normal(z, x), xlogy(z, x))
    got = xlogy_normal(np.array([2.0, 0.0, 0.0], dtype), np.array([np.nan, np.nan, np.inf], dtype))
    assert np.isnan(got[0]) and got[1] == 0.0 == got[2]     # xlogy(0, y) = 0, as xlogy gives


def _bce(p, z):
    q = lg.clip(p, 1e-7, 1 - 1e-7)
    return -lg.mean(lg.xlogy(z, q) + lg.xlogy(1.0 - z, 1.0 - q))


def _kernel(loss, wrt, dtype, monkeypatch=None, forms=None):
    """The kernel with its program built now (programs are built on first use)."""
    kernel.CACHE.clear()                 # the same graph again: built again, not looked up
    if monkeypatch is not None:
        monkeypatch.setattr(fused, "NORMAL_OPERAND", forms)
    k = codegen.compile(loss, wrt=wrt, backend="llvm", dtype=dtype, threads=1)
    assert k.llvm_ir
    return k


def _selects(k):
    return len(re.findall(r"= select ", k.llvm_ir))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_bounded_logs_take_the_normal_forms_with_the_same_bits(dtype, monkeypatch):
    """A probability clipped away from 0 and 1 (BCE on probabilities): the same value and
    gradient bits with and without the normal forms, on ordinary, extreme (0, 1, inf) and NaN
    probabilities; the loop has fewer selects."""
    P, Z = lg.input("p", shape=("N",)), lg.input("z", shape=("N",))
    rng = np.random.default_rng(2)
    p = rng.uniform(0, 1, 501).astype(dtype)
    p[:6] = [0.0, 1.0, np.inf, -np.inf, 1e-30, np.nan]
    z = (rng.uniform(size=501) > 0.5).astype(dtype)
    short = _kernel(_bce(P, Z), [P], dtype)
    full = _kernel(_bce(P, Z), [P], dtype, monkeypatch, {})
    with np.errstate(all="ignore"):
        (v1, (g1,)), (v2, (g2,)) = short(p, z), full(p, z)
    np.testing.assert_array_equal(g1, g2)
    assert v1.tobytes() == v2.tobytes() and np.isnan(v1)        # the NaN probability
    ok = slice(6, None)
    with np.errstate(all="ignore"):
        (w1, (h1,)), (w2, (h2,)) = short(p[ok], z[ok]), full(p[ok], z[ok])
    assert w1 == w2 and np.isfinite(w1)
    np.testing.assert_array_equal(h1, h2)
    assert _selects(short) < _selects(full)


def test_a_variance_bounded_below_takes_the_normal_form(monkeypatch):
    """Gaussian NLL's log(maximum(var, 1e-6)): bounded below only; var = inf still gives inf,
    with the bits of the full form."""
    V = lg.input("v", shape=("N",))
    loss = lg.sum(lg.log(lg.maximum(V, 1e-6)))
    v = np.array([0.5, 1e-9, -3.0, np.inf, 2.0, 7e30], np.float32)
    short = _kernel(loss, [V], "float32")
    full = _kernel(loss, [V], "float32", monkeypatch, {})
    (a, (ga,)), (b, (gb,)) = short(v), full(v)
    assert a == b == np.inf and ga.tobytes() == gb.tobytes()
    (a, (ga,)), (b, (gb,)) = short(v[:3]), full(v[:3])
    assert a == b and ga.tobytes() == gb.tobytes()
    assert _selects(short) < _selects(full)


def test_unbounded_logs_keep_their_edges(monkeypatch):
    """log(p) of an unbounded p, and log(clip(p, 0, 1)) (0 is not normal), compile as with no
    normal forms at all."""
    P = lg.input("p", shape=("N",))
    for loss in (lg.sum(lg.log(P)), lg.sum(lg.log(lg.clip(P, 0.0, 1.0))),
                 lg.sum(lg.xlogy(P, lg.clip(P, 1e-45, 1.0)))):
        with_forms = _kernel(loss, [P], "float32")
        k = _kernel(loss, [P], "float32", monkeypatch, {})
        assert _selects(with_forms) == _selects(k)
        monkeypatch.undo()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_packed_rows_take_the_normal_forms_with_the_same_bits(dtype, monkeypatch):
    """Rows of 10 (packed several at a time): a row max of log(clip(x)) and a row sum of
    xlogy(z, clip(x)), with the bits of the full forms."""
    X, Z = lg.input("x", shape=("N", 10)), lg.input("z", shape=("N", 10))
    q = lg.clip(X, 1e-7, 1.0)
    loss = lg.sum(lg.max(lg.log(q), axis=1) * lg.sum(lg.xlogy(Z, q), axis=1))
    rng = np.random.default_rng(4)
    x = rng.uniform(-0.1, 1.1, (37, 10)).astype(dtype)
    x[0, :4] = [0.0, np.inf, np.nan, -1.0]
    z = rng.uniform(0, 1, (37, 10)).astype(dtype)
    short = _kernel(loss, [X], dtype)
    full = _kernel(loss, [X], dtype, monkeypatch, {})
    lanes = 10 * packed.group(10, LANES[np.dtype(dtype).name])
    assert f"<{lanes} x" in short.llvm_ir                                # packed rows
    with np.errstate(all="ignore"):
        for rows in (slice(None), slice(1, None)):
            (a, (ga,)), (b, (gb,)) = short(x[rows], z[rows]), full(x[rows], z[rows])
            assert a.tobytes() == b.tobytes() and ga.tobytes() == gb.tobytes()
    assert _selects(short) < _selects(full)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("k", [3.0, 4.0])
def test_integer_powers_are_products_within_two_ulp(k, dtype, monkeypatch):
    rng = np.random.default_rng(int(k))
    x = (rng.uniform(-1, 1, 20_000) * 10.0 ** rng.uniform(-8, 8, 20_000)).astype(dtype)
    fi = np.finfo(dtype)
    huge, small = 2 * float(fi.max) ** (1 / k), float(fi.tiny) ** 0.5 * 1e-6   # inf, 0
    edges = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, huge, -huge, -small],
                     dtype)
    X = lg.input("x", shape=("N",))
    short = _kernel(lg.power(X, k), [], dtype)
    monkeypatch.setattr(fused, "INTEGER_POWERS", {})
    full = _kernel(lg.power(X, k), [], dtype)
    assert short.llvm_ir != full.llvm_ir and len(short.llvm_ir) < len(full.llvm_ir)
    with np.errstate(all="ignore"):
        got, ref = short(x), np.power(x.astype(np.longdouble), int(k))
        np.testing.assert_array_equal(short(edges), np.power(edges, dtype(k)))
    fin = np.isfinite(ref.astype(dtype)) & (np.abs(ref) >= np.finfo(dtype).tiny)
    ulp = np.spacing(np.abs(ref[fin].astype(dtype))).astype(np.longdouble)
    assert float(np.max(np.abs(got[fin] - ref[fin]) / ulp)) <= 2.0


def test_other_exponents_keep_power(monkeypatch):
    """x ** 2.5 and x ** y of an input y compile as with no integer powers at all."""
    X, Y = lg.input("x", shape=("N",)), lg.input("y", shape=("N",))
    for out in (lg.power(X, 2.5), lg.power(X, Y)):
        with_forms = _kernel(out, [], "float32").llvm_ir
        monkeypatch.setattr(fused, "INTEGER_POWERS", {})
        assert _kernel(out, [], "float32").llvm_ir == with_forms
        monkeypatch.undo()


def test_bounds_follow_the_kernels_rounding(monkeypatch):
    """2 - clip(p, 1e-12, 2 - 1e-12) is 0 in float32 at p = 2 (2 - 1e-12 rounds to 2): its
    log is -inf there, as with the full form (the normal form would give a finite number); in
    float64 the operand is at least 1e-12 and takes the normal form."""
    P = lg.input("p", shape=("N",))
    out = lg.log(2.0 - lg.clip(P, 1e-12, 2 - 1e-12))
    assert "log(2 - clip" in str(lg.simplify(out))
    p = np.array([2.0, 0.5, 0.0, 3.0])
    short32, short64 = _kernel(out, [], "float32"), _kernel(out, [], "float64")
    monkeypatch.setattr(fused, "NORMAL_OPERAND", {})
    full32, full64 = _kernel(out, [], "float32"), _kernel(out, [], "float64")
    with np.errstate(all="ignore"):
        got = short32(p.astype(np.float32))
        assert got[0] == got[3] == -np.inf
        assert got.tobytes() == full32(p.astype(np.float32)).tobytes()
        assert short64(p).tobytes() == full64(p).tobytes()
    assert _selects(short32) == _selects(full32) and _selects(short64) < _selects(full64)
