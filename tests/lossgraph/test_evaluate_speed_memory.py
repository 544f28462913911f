"""The reference evaluator's fast paths stay exact, keep dtypes and free memory.

Exactness: the stable formulas (softplus, sigmoid, logsumexp, softmax, log_softmax) against
mpmath at 100 digits on edge values, in ulp of the result's dtype. Memory: the tracemalloc
peak of loss + gradient, relative to the input size (no timing here: speed is in
benchmarks/bench_evaluate.py). Buffer reuse: results, inputs and shared views are never
overwritten.
"""
import tracemalloc

import mpmath
import numpy as np
import pytest

import lossgraph as lg
from lossgraph.evaluate import PLAN_MIN_SIZE

mpmath.mp.dps = 100
TINY = {np.float32: 1e-40, np.float64: 5e-320}   # denormals


def _peak(run):
    """(run()'s result, the tracemalloc peak in bytes while it ran)."""
    tracemalloc.start()
    try:
        out = run()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def edge_values(dtype):
    base = [0.0, -0.0, 1e-30, -1e-30, TINY[dtype], -TINY[dtype], 0.5, -0.5, 1.0, -1.0,
            3.0, -3.0, 15.0, -15.0, 17.5, -17.5, 30.0, -30.0, 88.0, -88.0, 100.0, -100.0,
            700.0, -700.0, 1e4, -1e4]
    rng = np.random.default_rng(3)
    return np.concatenate([base, rng.normal(size=300) * 4,
                           rng.uniform(-60, 60, 200)]).astype(dtype)


def ulps(got, exact, dtype):
    """|got - exact| in units of the last place of exact in dtype (0 where both are 0)."""
    exact = np.asarray(exact, dtype=np.float64)
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def mp_softplus(v):
    return float(mpmath.log1p(mpmath.exp(mpmath.mpf(float(v)))))


def mp_sigmoid(v):
    return float(1 / (1 + mpmath.exp(-mpmath.mpf(float(v)))))


def run1(fn, arr):
    x = lg.input("x", shape=arr.shape, dtype=arr.dtype.name)
    return lg.evaluate(fn(x), x=arr)


# name -> (lossgraph function, mpmath reference, max ulp in float32, in float64)
UNARY = {
    "softplus": (lg.softplus, mp_softplus, 0.51, 1.0),
    "sigmoid": (lg.sigmoid, mp_sigmoid, 3.5, 2.5),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(UNARY))
def test_stable_unary_ops_match_mpmath_on_edge_values(name, dtype):
    fn, ref, bound32, bound64 = UNARY[name]
    x = edge_values(dtype)
    got = run1(fn, x)
    assert got.dtype == dtype
    exact = np.array([ref(v) for v in x])
    err = ulps(got, exact, dtype)
    assert err.max() <= (bound32 if dtype == np.float32 else bound64), x[err.argmax()]


def test_softplus_float32_is_no_worse_than_logaddexp():
    x = edge_values(np.float32)
    exact = np.array([mp_softplus(v) for v in x])
    new = ulps(run1(lg.softplus, x), exact, np.float32)
    old = ulps(np.logaddexp(np.float32(0), x), exact, np.float32)
    assert new.max() <= old.max() and new.mean() <= old.mean()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inf_and_nan_propagate(dtype):
    x = np.array([np.inf, -np.inf, np.nan], dtype=dtype)
    np.testing.assert_array_equal(run1(lg.softplus, x), [np.inf, 0.0, np.nan])
    np.testing.assert_array_equal(run1(lg.sigmoid, x), [1.0, 0.0, np.nan])
    rows = np.array([[-np.inf, -np.inf, -np.inf], [0.0, -np.inf, np.nan],
                     [np.inf, 0.0, 1.0]], dtype=dtype)
    np.testing.assert_array_equal(run1(lambda v: lg.logsumexp(v, axis=1), rows),
                                  [-np.inf, np.nan, np.inf])
    sm = run1(lambda v: lg.softmax(v, axis=1), rows)
    np.testing.assert_array_equal(sm[0], [0.0, 0.0, 0.0])   # no NaN from an empty row
    assert np.isnan(sm[1]).all()


def mp_row_lse(row):
    return mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in row))


def spread_rows(dtype, n=40, c=10):
    """Rows from tiny to huge spreads, with -inf entries: where shifting matters."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, c)) * np.geomspace(1e-3, 1e3, n)[:, None]
    x[3, :4] = -np.inf
    x[7] += 1e4
    x[8] -= 1e4
    return x.astype(dtype)


def numpy_lse(x):
    """The plain shifted formula in x's dtype, as the evaluator computed it before."""
    with np.errstate(all="ignore"):
        m = np.max(x, axis=1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        return np.log(np.sum(np.exp(x - m), axis=1, keepdims=True)) + m


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalizers_match_mpmath(dtype):
    """logsumexp within 1 ulp (1.5 in float32: x - max is rounded in float32); log_softmax
    = x - lse within as much of lse's ulp (the cancellation near the row's max is inherent);
    softmax within 4 ulp on well-scaled rows; none worse than the plain formula."""
    x = spread_rows(dtype)
    lse = np.array([mp_row_lse(r) for r in x])
    got = run1(lambda v: lg.logsumexp(v, axis=1), x)
    err = ulps(got, lse.astype(float), dtype)
    with np.errstate(all="ignore"):
        plain = ulps(numpy_lse(x)[:, 0], lse.astype(float), dtype)
    assert got.dtype == dtype and err.max() <= (1.5 if dtype == np.float32 else 1.0)
    assert err.max() <= plain.max()
    exact_ls = np.array([[float(mpmath.mpf(float(v)) - lse[i]) if np.isfinite(v) else -np.inf
                          for v in r] for i, r in enumerate(x)])
    ls = run1(lambda v: lg.log_softmax(v, axis=1), x)
    fin = np.isfinite(exact_ls)
    assert ls.dtype == dtype and (ls[~fin] == -np.inf).all()
    scale = np.spacing(np.maximum(np.abs(exact_ls), np.abs(lse.astype(float))[:, None])
                       .astype(dtype)).astype(float)
    err = np.abs(ls[fin].astype(float) - exact_ls[fin]) / scale[fin]
    with np.errstate(all="ignore"):
        plain = np.abs((x - numpy_lse(x)).astype(float) - exact_ls)[fin] / scale[fin]
    assert err.max() <= (1.5 if dtype == np.float32 else 1.0) and err.max() <= plain.max()
    sm = run1(lambda v: lg.softmax(v, axis=1), x)
    exact_sm = np.array([[float(mpmath.exp(mpmath.mpf(float(v)) - lse[i])) for v in r]
                         for i, r in enumerate(x)])
    err = ulps(sm, exact_sm, dtype)
    plain = np.exp(x - numpy_lse(x))
    assert sm.dtype == dtype and err[:20].max() <= 4.0     # rows with |x| < 3
    assert err.max() <= ulps(plain, exact_sm, dtype).max()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_short_axis_reductions_match_numpy(dtype, rng):
    """max/min/sum over a short last axis take a column loop: same values as NumPy (max,
    min exactly; a float32 sum at least as close to the float64 sum as NumPy's)."""
    x = rng.normal(size=(300, 7)).astype(dtype)
    x[5, 2] = np.nan
    for fn, ref in [(lg.max, np.max), (lg.min, np.min)]:
        for keep in (False, True):
            got = run1(lambda v: fn(v, axis=1, keepdims=keep), x)
            np.testing.assert_array_equal(got, ref(x, axis=1, keepdims=keep))
            assert got.dtype == dtype
    got = run1(lambda v: lg.sum(v, axis=-1), x)
    exact = np.array([float(mpmath.fsum(float(v) for v in r)) for r in x])
    err, np_err = np.abs(got - exact), np.abs(np.sum(x, axis=1) - exact)
    fin = np.isfinite(exact)
    assert got.dtype == dtype and (err[fin] <= np_err[fin] + 1e-300).all()
    assert np.isnan(got[5])


def sparse_ce(n, c=10):
    x = lg.input("x", shape=("N", "C"))
    y = lg.input("y", shape=("N",), dtype="int64")
    loss = lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y))
    (g,) = lg.gradients(loss, [x])
    rng = np.random.default_rng(0)
    return [loss, g], {"x": rng.normal(size=(n, c)), "y": rng.integers(0, c, size=n)}


def test_sparse_ce_peak_memory_is_bounded_by_a_few_inputs():
    """Loss + gradient of sparse CE need the gradient (1x the logits) and one temporary of
    that size (one_hot beside softmax, which is e^(x - max) kept from the logsumexp):
    dropping values after their last use and writing into dying buffers keeps the peak near
    2.1x, as hand-written NumPy (it was 5.3x: every intermediate stayed alive)."""
    outs, arrays = sparse_ce(20_000)
    lg.evaluate(outs, arrays)
    (value, grad), peak = _peak(lambda: lg.evaluate(outs, arrays))
    assert peak <= 2.6 * arrays["x"].nbytes
    assert np.isfinite(value) and grad.shape == arrays["x"].shape


def test_mse_intermediates_live_in_chunks():
    """MSE's loss + gradient: sum(square(p - t)) / N and (2 / N) * (p - t). p - t and its
    square are read only inside their elementwise region, so they live in chunk-sized
    scratch (lossgraph/chunked.py): the peak is the gradient and a few chunks, where op by
    op it is twice the gradient (p - t, then its square beside it)."""
    from lossgraph import chunked
    rng = np.random.default_rng(6)
    p, t = rng.normal(size=400_000), rng.normal(size=400_000)
    P, T = lg.input("p", shape=p.shape), lg.input("t", shape=t.shape)
    outs = [lg.mean(lg.square(P - T)), (2.0 / p.size) * (P - T)]
    lg.evaluate(outs, p=p, t=t)
    (value, grad), peak = _peak(lambda: lg.evaluate(outs, p=p, t=t))
    np.testing.assert_allclose(grad, 2 * (p - t) / p.size, rtol=1e-15)
    assert peak <= p.nbytes + 4 * chunked.CHUNK * p.itemsize
    chunked.ENABLED = False
    try:
        _, op_by_op = _peak(lambda: lg.evaluate(outs, p=p, t=t))
    finally:
        chunked.ENABLED = True
    assert op_by_op >= 1.9 * p.nbytes      # what the chunks save


def test_dtypes_are_kept_through_loss_and_gradient():
    for dtype in (np.float32, np.float64):
        outs, arrays = sparse_ce(50)
        arrays["x"] = arrays["x"].astype(dtype)
        value, grad = lg.evaluate(outs, arrays)
        assert value.dtype == dtype and grad.dtype == dtype


def test_reused_buffers_never_touch_inputs_results_or_live_views(rng):
    """Every intermediate below dies into an op that could write over it; the inputs, the
    returned intermediates and a reshaped view that is still alive must not change (the
    inputs are large enough for evaluate to plan buffer reuse: PLAN_MIN_SIZE)."""
    a = rng.normal(size=(128, 96))
    assert a.size >= PLAN_MIN_SIZE
    x = lg.input("x", shape=(128, 96))
    e = lg.exp(x)
    view = lg.reshape(lg.reshape(e, (a.size,)), (128, 96))   # computed before e * 2 ...
    three = view + e * 2.0                # ... where e dies while the view is still read
    s = lg.sigmoid(three * 2.0)           # three * 2 dies into sigmoid, sigmoid into s + 1
    out = lg.sum(s + 1.0) + lg.sum(lg.softplus(-x))
    kept = x * 3.0                        # returned and used again below
    before = a.copy()
    got = lg.evaluate([out, kept, kept + 1.0, three], x=a)
    want = np.sum(1 / (1 + np.exp(-6 * np.exp(a))) + 1) + np.sum(np.log1p(np.exp(-a)))
    np.testing.assert_allclose(got[0], want, rtol=1e-12)
    np.testing.assert_array_equal(got[1], 3 * a)
    np.testing.assert_array_equal(got[2], 3 * a + 1)
    np.testing.assert_allclose(got[3], 3 * np.exp(a), rtol=1e-15)
    np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normalizers_of_one_array_share_work_and_give_the_same_bits(dtype, rng):
    """logsumexp, softmax and log_softmax of one array in one evaluation compute e^(x - max)
    once (Op.shares): the values are bit for bit those of evaluating each alone, in either
    order, and a result is never a buffer a later op reads (logsumexp * 2 in place)."""
    x = rng.normal(size=(2000, 10)).astype(dtype)
    assert x.size >= PLAN_MIN_SIZE
    X = lg.input("x", shape=x.shape, dtype=dtype)
    parts = [lg.logsumexp(X, axis=1), lg.softmax(X, axis=1), lg.log_softmax(X, axis=1),
             lg.logsumexp(X, axis=1, keepdims=True) * 2.0]
    alone = [lg.evaluate(p, x=x) for p in parts]
    for order in ([0, 1, 2, 3], [1, 3, 0, 2], [2, 1, 3, 0]):
        together = lg.evaluate([parts[k] for k in order] + [parts[2] * 1.0], x=x)
        for k, got in zip(order, together):
            assert got.dtype == dtype
            np.testing.assert_array_equal(got, alone[k])
        np.testing.assert_array_equal(together[-1], alone[2])


def test_a_lone_logsumexp_keeps_no_exponentials_alive():
    """The shared e^(x - max) is kept only while another op of the same array will read it:
    a loss alone peaks at about one temporary the size of the logits."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20_000, 10))
    X = lg.input("x", shape=x.shape)
    later = lg.sum(lg.exp(X)) + lg.sum(lg.tanh(X))   # big temporaries after the logsumexp
    loss = lg.sum(lg.logsumexp(X, axis=1)) + later
    lg.evaluate(loss, x=x)
    _, peak = _peak(lambda: lg.evaluate(loss, x=x))
    assert peak <= 1.5 * x.nbytes


def test_a_chain_of_in_place_ops_keeps_one_buffer():
    """An op that wrote into a dying buffer owns its result, so the next op can write over it
    in turn: exp, then four arithmetic ops, peak at one array the size of the input (the
    result itself)."""
    x = np.random.default_rng(4).normal(size=200_000)
    X = lg.input("x", shape=x.shape)
    y = ((lg.exp(X) * 2.0 + 1.0) * 3.0 - 4.0) / 5.0
    np.testing.assert_allclose(lg.evaluate(y, x=x), ((np.exp(x) * 2 + 1) * 3 - 4) / 5,
                               rtol=1e-15)
    _, peak = _peak(lambda: lg.evaluate(y, x=x))
    assert peak <= 1.2 * x.nbytes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(UNARY))
def test_stable_unary_ops_on_large_arrays_give_the_bits_of_small_pieces(name, dtype):
    """Arrays past CHUNK elements are computed part by part: every element, at the parts'
    seams, through out= and in strided views, is bit for bit what the op gives on a piece
    of 1000 elements (computed whole)."""
    from lossgraph.ops.elementwise import CHUNK
    impl = lg.ops.OPS[name].impl
    rng = np.random.default_rng(5)
    x = (rng.normal(size=3 * CHUNK + 5) * 30).astype(dtype)
    x[CHUNK - 8:CHUNK - 8 + 32] = edge_values(dtype)[:32]
    pieces = np.concatenate([impl(x[i:i + 1000]) for i in range(0, x.size, 1000)])
    assert impl(x).dtype == dtype
    np.testing.assert_array_equal(impl(x), pieces)
    out = np.empty_like(x)
    assert impl(x, out=out) is out
    np.testing.assert_array_equal(out, pieces)
    grid = x[:2 * CHUNK].reshape(2, CHUNK)
    np.testing.assert_array_equal(impl(grid.T), pieces[:2 * CHUNK].reshape(2, CHUNK).T)
    np.testing.assert_array_equal(impl(x[::3]), pieces[::3])
