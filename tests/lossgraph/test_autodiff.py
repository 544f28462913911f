"""Reverse-mode autodiff: gradients against finite differences, the zero / error policy,
deep graphs, and the NaN policy at extreme inputs (the function transforms are in
test_transforms.py)."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

import lossgraph as lg

from .references import assert_close, broadcastable_pair, central_difference, concrete


def fd_check(y, inputs, arrays, rtol=1e-6, atol=1e-8):
    """Every d y / d input against central differences (arrays: name -> float64 array)."""
    names = [n.name for n in inputs]
    grads = lg.gradients(y, inputs)
    values = lg.evaluate([y] + grads, arrays)[1:]

    def f(arrs):
        return float(lg.evaluate(y, dict(zip(names, arrs))))

    base = [np.asarray(arrays[n], dtype=np.float64) for n in names]
    for k, (node, v) in enumerate(zip(inputs, values)):
        assert np.shape(v) == tuple(node.shape)
        assert_close(v, central_difference(f, base, k), rtol=rtol, atol=atol, what=node.name)
    return values


def test_several_inputs_and_broadcasting_undone(rng):
    a, b, c = lg.input("a", (3,)), lg.input("b", (2, 3)), lg.input("c", ())
    d = lg.input("d", (2, 1))
    y = lg.sum(lg.tanh(a * b + c) * d) + lg.mean(lg.square(b - a))
    arrays = {"a": rng.normal(size=3), "b": rng.normal(size=(2, 3)), "c": np.array(0.3),
              "d": rng.normal(size=(2, 1))}
    ga, gb, gc, gd = fd_check(y, [a, b, c, d], arrays)
    assert np.shape(gc) == () and np.shape(gd) == (2, 1)


def test_shared_subexpressions(rng):
    x = lg.input("x", (4,))
    s = lg.exp(x)
    assert lg.exp(x) is s  # hash-consed
    y = lg.sum(s * s) + lg.sum(lg.log(s + 1.0) * s)
    arr = rng.normal(size=4)
    (g,) = fd_check(y, [x], {"x": arr})
    e = np.exp(arr)
    assert_close(g, 2 * e * e + e * e / (e + 1) + np.log(e + 1) * e, rtol=1e-12)


def test_gradient_of_int_input_raises():
    x, y = lg.input("x", (3,)), lg.input("y", (3,), "int64")
    with pytest.raises(lg.GradientError, match="'y' has dtype int64"):
        lg.gradients(lg.sum(x * y), [x, y])


def test_stop_gradient_only_path_raises_and_mixed_path_counts_once():
    x = lg.input("x", (3,))
    with pytest.raises(lg.GradientError, match="'x'.*stop_gradient"):
        lg.gradients(lg.sum(lg.stop_gradient(x) * 2.0), [x])
    g = lg.gradients(lg.sum(lg.stop_gradient(x) * x), [x])[0]
    arr = np.array([1.0, -2.0, 3.0])
    assert_close(lg.evaluate(g, x=arr), arr)


def test_unused_input_gets_zeros():
    x, u = lg.input("x", (3,)), lg.input("u", (2, "N"))
    gx, gu = lg.gradients(lg.sum(x), [x, u])
    assert gu.shape == (2, "N")
    got = lg.evaluate([x, u, gu], x=np.zeros(3), u=np.ones((2, 5)))[2]
    np.testing.assert_array_equal(got, np.zeros((2, 5)))


def test_gradient_of_y_itself_and_seeded_gradients():
    x = lg.input("x", (2, 3))
    y = lg.sum(x)
    assert lg.evaluate([y, lg.gradients(y, y)], x=np.ones((2, 3)))[1] == 1.0
    with pytest.raises(lg.GradientError, match=r"scalar, got shape \(2, 3\)"):
        lg.gradients(lg.exp(x), [x])
    seed = lg.input("g", (2, 3))
    gx = lg.gradients(lg.exp(x), [x], grad_output=seed)[0]
    arr, w = np.full((2, 3), 0.5), np.arange(6.0).reshape(2, 3)
    assert_close(lg.evaluate(gx, x=arr, g=w), np.exp(arr) * w)
    with pytest.raises(lg.ShapeError, match=r"grad_output has shape \(4,\).*\(2, 3\)"):
        lg.gradients(lg.exp(x), [x], grad_output=lg.input("h", (4,)))
    with pytest.raises(lg.ShapeError, match=r"grad_output has shape \(3, 3\)"):
        lg.gradients(lg.exp(x), [x], grad_output=lg.input("h", (3, 3)))
    g2 = lg.gradients(lg.exp(x), [x], grad_output=2.0)[0]  # a scalar seed broadcasts
    assert_close(lg.evaluate(g2, x=arr), 2 * np.exp(arr))
    with pytest.raises(TypeError, match="wrt must be Nodes"):
        lg.gradients(y, ["x"])
    with pytest.raises(lg.GradientError, match="dtype bool"):
        lg.gradients(lg.sum(x) > 0, [x])


def test_gradient_dtype_follows_the_input():
    x = lg.input("x", (3,), "float32")
    g = lg.gradients(lg.sum(lg.exp(x) * 2.0), [x])[0]
    assert g.dtype == "float32"
    got = lg.evaluate(g, x=np.zeros(3, np.float32))
    assert got.dtype == np.float32
    assert_close(got, [2.0, 2.0, 2.0])


def test_one_hot_and_pick_gradients(rng):
    x = lg.input("x", (3, 4))
    y = lg.input("y", (3,), "int64")
    labels = np.array([0, 3, 3])
    loss = -lg.mean(lg.pick(lg.log_softmax(x), y))
    g = lg.gradients(loss, [x])[0]
    arr = rng.normal(size=(3, 4))
    got = lg.evaluate(g, x=arr, y=labels)
    p = np.exp(arr) / np.exp(arr).sum(1, keepdims=True)
    assert_close(got, (p - np.eye(4)[labels]) / 3, rtol=1e-12)
    with pytest.raises(lg.InputError, match="label 4 is out of range"):
        lg.evaluate(g, x=arr, y=np.array([0, 4, 1]))


# --- deep graphs

@pytest.mark.parametrize("depth, simplify", [(5_000, False), (1_000, True)])
def test_deep_chain(depth, simplify):
    """No recursion limit (1,000 frames) in the derivation nor in the default pipeline."""
    x = lg.input("x", (2,))
    y = x
    for _ in range(depth):
        y = lg.tanh(y) * 0.5 + x
    g = lg.gradients(lg.sum(y), [x], simplify=simplify)[0]
    arr = np.array([0.3, -0.7])
    value, grad = lg.evaluate([y, g], x=arr)
    ref, dref = arr.copy(), np.ones(2)
    for _ in range(depth):  # forward-mode reference: d y_k / d x
        dref = 0.5 * (1 - np.tanh(ref) ** 2) * dref + 1.0
        ref = np.tanh(ref) * 0.5 + arr
    assert_close(value, ref, rtol=1e-12)
    assert_close(grad, dref, rtol=1e-10)


# --- NaN policy at extreme inputs

EXTREMES = np.array([-1e4, -100.0, -1.0, 0.0, 1.0, 100.0, 1e4])


def exact(f, xs):
    return np.array([float(f(sp.Float(float(v), 60))) for v in xs])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softplus_and_sigmoid_at_extremes(dtype):
    x = lg.input("x", (7,))
    arr = EXTREMES.astype(dtype)
    sig = lambda v: 1 / (1 + sp.exp(-v))  # noqa: E731
    for fn, value, deriv in [
            (lg.softplus, lambda v: sp.log(1 + sp.exp(v)), sig),
            (lg.sigmoid, sig, lambda v: sig(v) * (1 - sig(v))),
            (lg.log_sigmoid, lambda v: -sp.log(1 + sp.exp(-v)), lambda v: 1 - sig(v))]:
        y = fn(x)
        g = lg.gradients(lg.sum(y), [x])[0]
        got, dgot = lg.evaluate([y, g], x=arr)
        assert np.all(np.isfinite(got)) and np.all(np.isfinite(dgot)), fn.__name__
        tiny = 0 if dtype == "float64" else 1e-37
        rtol = 1e-12 if dtype == "float64" else 1e-6
        assert_close(got, exact(value, EXTREMES), rtol=rtol, atol=tiny, what=fn.__name__)
        assert_close(dgot, exact(deriv, EXTREMES), rtol=rtol, atol=tiny, what=fn.__name__)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logsumexp_and_log_softmax_at_extremes(dtype):
    rows = np.array([[1e4, -1e4, 0.0], [100.0, 99.0, -100.0], [-1e4, -1e4 + 1, -1e4]])
    x = lg.input("x", (3, 3))
    lse = lg.logsumexp(x, axis=1)
    ls = lg.log_softmax(x)
    w = lg.constant(np.arange(9.0).reshape(3, 3))
    g1, g2 = lg.gradients(lg.sum(lse), [x])[0], lg.gradients(lg.sum(ls * w), [x])[0]
    v1, v2, d1, d2 = lg.evaluate([lse, ls, g1, g2], x=rows.astype(dtype))
    for a in (v1, v2, d1, d2):
        assert np.all(np.isfinite(a)) and a.dtype == np.dtype(dtype)
    want = [float(sp.log(sum(sp.exp(sp.Float(v, 60)) for v in r))) for r in rows]
    rtol = 1e-12 if dtype == "float64" else 1e-6
    assert_close(v1, want, rtol=rtol)
    soft = np.exp(rows - np.array(want)[:, None])
    assert_close(d1, soft, rtol=rtol, atol=1e-30)
    wn = np.arange(9.0).reshape(3, 3)
    assert_close(d2, wn - soft * wn.sum(1, keepdims=True), rtol=rtol, atol=1e-4)


def test_logsumexp_of_all_minus_inf_row_has_zero_gradient():
    x = lg.input("x", (2, 3))
    y = lg.sum(lg.logsumexp(x, axis=1) * lg.constant([0.0, 1.0]))
    g = lg.gradients(y, [x])[0]
    arr = np.array([[-np.inf] * 3, [0.0, 1.0, 2.0]])
    lse, grad = lg.evaluate([lg.logsumexp(x, axis=1), g], x=arr)
    assert lse[0] == -np.inf
    np.testing.assert_array_equal(grad[0], 0.0)
    e = np.exp([0.0, 1.0, 2.0])
    assert_close(grad[1], e / e.sum())


def test_where_minus_inf_mask_pattern():
    """Masked logsumexp / log_softmax: masked entries get exactly zero gradient, never NaN."""
    x = lg.input("x", (2, 3))
    m = lg.input("m", (2, 3), "bool")
    masked = lg.where(m, x, -np.inf)
    y = lg.sum(lg.logsumexp(masked, axis=1))
    picked = lg.sum(lg.where(m, lg.log_softmax(masked), 0.0))
    arr = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = np.array([[True, False, True], [False, False, False]])
    g1, g2 = lg.gradients(y, [x])[0], lg.gradients(picked, [x])[0]
    val, d1, d2 = lg.evaluate([y, g1, g2], x=arr, m=mask)
    assert val == -np.inf
    e = np.exp([1.0, 3.0])
    assert_close(d1, [[e[0] / e.sum(), 0.0, e[1] / e.sum()], [0.0, 0.0, 0.0]])
    assert_close(d2, [[1 - 2 * e[0] / e.sum(), 0.0, 1 - 2 * e[1] / e.sum()], [0, 0, 0]])


def test_scalar_cotangent_into_a_broadcast_operand():
    # sum(x + y) with y stretched over 2 rows: every y_j appears twice
    x, y, c = lg.input("x", (2, 3)), lg.input("y", (3,)), lg.input("c", ())
    gy, gc = lg.gradients(lg.sum(x + y) + lg.sum(x * 0.0 - c), [y, c])
    got = lg.evaluate([x + y + c, gy, gc], x=np.zeros((2, 3)), y=np.zeros(3), c=np.array(1.0))
    assert_close(got[1], [2.0, 2.0, 2.0])
    assert got[2] == -6.0
    s = lg.input("s", ())
    gs = lg.gradients(lg.sum(lg.broadcast_to(s, (4,))), [s])[0]
    assert lg.evaluate([s, gs], s=np.array(0.5))[1] == 4.0


def sum_to(a, shape):
    """Sum a broadcast array back down to shape (the reference for unbroadcast)."""
    a = a.sum(axis=tuple(range(a.ndim - len(shape)))) if a.ndim > len(shape) else a
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and a.shape[i] != 1)
    return a.sum(axis=axes, keepdims=True) if axes else a


@settings(max_examples=40, deadline=None, derandomize=True)  # finite differences: no flakes
@given(broadcastable_pair(), st.booleans(), st.integers(0, 2 ** 32 - 1))
def test_broadcast_gradients_sum_back_to_each_operand(pair, weighted, seed):
    """d/dx sum(w * (x * y + x)) = sum over the stretched axes of w * (y + 1), for random
    broadcastable shapes with symbolic dims (plain sum: a scalar cotangent)."""
    a, b = pair
    x, y = lg.input("x", a), lg.input("y", b)
    out = x * y + x
    w = lg.input("w", out.shape)
    loss = lg.sum(out * w) if weighted else lg.sum(out)
    gx, gy = lg.gradients(loss, [x, y])
    assert gx.shape == a and gy.shape == b
    r = np.random.default_rng(seed)
    xa, ya = r.normal(size=concrete(a)), r.normal(size=concrete(b))
    full = np.broadcast_shapes(xa.shape, ya.shape)
    wa = r.normal(size=full) if weighted else np.ones(full)
    feed = {"x": xa, "y": ya, **({"w": wa} if weighted else {})}
    _, gxa, gya = lg.evaluate([loss, gx, gy], feed)
    assert_close(gxa, sum_to(wa * (ya + 1.0), xa.shape), rtol=1e-10, atol=1e-10)
    assert_close(gya, sum_to(wa * xa, ya.shape), rtol=1e-10, atol=1e-10)


# --- random compositions: cotangents of mixed ranks meeting and summing

UNARY = [lg.tanh, lg.sigmoid, lg.softplus, lg.negative, lambda v: lg.exp(lg.tanh(v)),
         lambda v: lg.square(lg.tanh(v))]
BINARY = [lg.add, lg.subtract, lg.multiply, lg.maximum,
          lambda u, v: u / (1.0 + lg.square(v))]
REDUCE = [lambda v: lg.sum(v, axis=0, keepdims=True), lambda v: lg.mean(v, axis=-1),
          lambda v: lg.logsumexp(v, axis=-1, keepdims=True), lambda v: lg.softmax(v, axis=0),
          lambda v: lg.max(v, axis=-1), lambda v: lg.log_softmax(v, axis=-1)]


@settings(max_examples=40, deadline=None, derandomize=True)  # finite differences: no flakes
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 99), st.integers(0, 99)),
                min_size=1, max_size=6), st.integers(0, 2 ** 32 - 1))
def test_random_compositions_match_finite_differences(steps, seed):
    a, b, c = lg.input("a", (2, 3)), lg.input("b", (3,)), lg.input("c", ())
    pool = [a, b, c]
    for kind, i, j in steps:
        u, v = pool[i % len(pool)], pool[j % len(pool)]
        if kind == 0:
            node = UNARY[(i + j) % len(UNARY)](u)
        elif kind == 1:
            try:
                node = BINARY[(i * 7 + j) % len(BINARY)](u, v)
            except lg.ShapeError:       # (2, 3) against a reduced (2,): not a composition
                continue
        else:
            node = REDUCE[(i + 3 * j) % len(REDUCE)](u) if u.ndim else lg.tanh(u)
        pool.append(node)
    y = lg.sum(pool[-1]) + lg.sum(a * 0.1) + lg.sum(b * 0.2) + c * 0.3  # every input bound
    r = np.random.default_rng(seed)
    fd_check(y, [a, b, c], {"a": r.normal(size=(2, 3)), "b": r.normal(size=3),
                            "c": np.array(r.normal())}, rtol=1e-5, atol=1e-7)
