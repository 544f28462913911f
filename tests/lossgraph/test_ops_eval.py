"""Every op's NumPy evaluation against an independent reference, in float32 and float64.

Elementwise ops: a SymPy expression written here (not the op's own sympy form), lambdified.
Reductions, normalizers, shape and index ops: plain NumPy written here.
float32 inputs give float32 outputs; a test fails when an op in OPS has no case.
"""
import itertools

import numpy as np
import pytest
import sympy as sp

import lossgraph as lg
from lossgraph.ops import OPS

from .references import assert_close, feed, mask, nodes_for, positive, real, wide

X, Y, Z = sp.symbols("x y z", real=True)
P, Q = sp.symbols("p q")


def ties(rng, shape):
    """Small integers as floats, so comparisons and max/min meet equal operands."""
    return rng.integers(-2, 3, size=shape).astype(np.float64)


def unit(rng, shape):
    return rng.uniform(-0.9, 3.0, size=shape)


# name -> (builder over nodes, SymPy reference over the symbols, argument generators)
ELEMENTWISE = {
    "add": (lg.add, X + Y, (real, real)),
    "subtract": (lg.subtract, X - Y, (real, real)),
    "multiply": (lg.multiply, X * Y, (real, real)),
    "divide": (lg.divide, X / Y, (real, positive)),
    "power": (lg.power, X ** Y, (positive, real)),
    "maximum": (lg.maximum, sp.Max(X, Y), (ties, ties)),
    "minimum": (lg.minimum, sp.Min(X, Y), (ties, ties)),
    "xlogy": (lg.xlogy, X * sp.log(Y), (real, positive)),
    "negative": (lg.negative, -X, (real,)),
    "exp": (lg.exp, sp.exp(X), (wide,)),
    "log": (lg.log, sp.log(X), (positive,)),
    "log1p": (lg.log1p, sp.log(1 + X), (unit,)),
    "expm1": (lg.expm1, sp.exp(X) - 1, (real,)),
    "sqrt": (lg.sqrt, sp.sqrt(X), (positive,)),
    "abs": (lg.abs, sp.Abs(X), (real,)),
    "sign": (lg.sign, sp.sign(X), (ties,)),
    "square": (lg.square, X ** 2, (real,)),
    "tanh": (lg.tanh, sp.tanh(X), (wide,)),
    "sigmoid": (lg.sigmoid, 1 / (1 + sp.exp(-X)), (wide,)),
    "softplus": (lg.softplus, sp.log(1 + sp.exp(X)), (wide,)),
    "less": (lg.less, sp.Lt(X, Y), (ties, ties)),
    "less_equal": (lg.less_equal, sp.Le(X, Y), (ties, ties)),
    "greater": (lg.greater, sp.Gt(X, Y), (ties, ties)),
    "greater_equal": (lg.greater_equal, sp.Ge(X, Y), (ties, ties)),
    "equal": (lg.equal, sp.Eq(X, Y), (ties, ties)),
    "not_equal": (lg.not_equal, sp.Ne(X, Y), (ties, ties)),
    "logical_and": (lg.logical_and, sp.And(P, Q), (mask, mask)),
    "logical_or": (lg.logical_or, sp.Or(P, Q), (mask, mask)),
    "logical_not": (lg.logical_not, sp.Not(P), (mask,)),
    "where": (lg.where, sp.Piecewise((Y, P), (Z, True)), (mask, real, real)),
    "clip": (lg.clip, sp.Min(sp.Max(X, Y), Z),
             (wide, lambda r, s: r.uniform(-1, -0.2, s), lambda r, s: r.uniform(0.2, 1, s))),
    "cast": (lambda x: lg.cast(x, "float64"), X, (real,)),
    "stop_gradient": (lg.stop_gradient, X, (real,)),
}
SHAPES = {1: [(2, 3)], 2: [(2, 3), (3,)], 3: [(2, 3), (2, 1), (3,)]}


def symbols_for(gens):
    bools = iter((P, Q))
    out = []
    for k, g in enumerate(gens):
        out.append(next(bools) if g is mask else (X, Y, Z)[k])
    return out


def as_float(arrays, dtype):
    return [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_matches_sympy(name, dtype, rng):
    build, expr, gens = ELEMENTWISE[name]
    shapes = SHAPES[len(gens)]
    arrays = as_float([np.asarray(g(rng, s)) for g, s in zip(gens, shapes)], dtype)
    nodes = nodes_for(arrays)
    out = build(*nodes)
    assert out.op == name
    got = lg.evaluate(out, feed(arrays))
    ref = sp.lambdify(symbols_for(gens), expr, modules="numpy")
    wide_args = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]
    want = ref(*np.broadcast_arrays(*wide_args))
    want = np.broadcast_to(want, got.shape)
    assert got.shape == np.broadcast_shapes(*[a.shape for a in arrays])
    if out.dtype == "bool":
        assert got.dtype == np.bool_
        np.testing.assert_array_equal(got, want)
    else:
        assert got.dtype == np.dtype(dtype if name != "cast" else "float64")
        tol = 1e-12 if dtype == "float64" else 2e-6
        assert_close(got, want, rtol=tol, atol=tol, what=name)


# --- reductions and normalizers against NumPy written here

def np_logsumexp(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


REDUCTIONS = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min,
              "logsumexp": np_logsumexp}
AXES = [None, 0, 1, 2, -1, (0, 1), (0, 2), (1, 2), (0, 1, 2), (2, 0)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reductions_match_numpy(name, dtype, rng):
    arr = rng.normal(size=(2, 3, 4)).astype(dtype)
    x = lg.input("x", (2, 3, 4))
    for axis, keep in itertools.product(AXES, (False, True)):
        out = getattr(lg, name)(x, axis=axis, keepdims=keep)
        got = lg.evaluate(out, x=arr)
        ax = tuple(a % 3 for a in axis) if isinstance(axis, tuple) else axis
        want = REDUCTIONS[name](arr.astype(np.float64), axis=ax, keepdims=keep)
        assert out.shape == np.shape(want), (axis, keep)
        assert np.asarray(got).dtype == np.dtype(dtype)
        tol = 1e-12 if dtype == "float64" else 1e-5
        assert_close(got, want, rtol=tol, atol=tol, what=f"{name} axis={axis} keep={keep}")


def np_softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


NORMALIZERS = {"softmax": np_softmax,
               "log_softmax": lambda x, axis: np.log(np_softmax(x, axis))}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(NORMALIZERS))
def test_normalizers_match_numpy(name, dtype, rng):
    arr = (3 * rng.normal(size=(2, 3, 4))).astype(dtype)
    x = lg.input("x", (2, 3, 4))
    for axis in (0, 1, 2, -1, (0, 2)):
        out = getattr(lg, name)(x, axis=axis)
        got = lg.evaluate(out, x=arr)
        assert got.dtype == np.dtype(dtype) and got.shape == arr.shape
        tol = 1e-12 if dtype == "float64" else 1e-5
        assert_close(got, NORMALIZERS[name](arr.astype(np.float64), axis), rtol=tol, atol=tol,
                     what=f"{name} axis={axis}")


# --- shape ops

SHAPE_CASES = {
    "reshape": [(lambda x: lg.reshape(x, (4, -1)), lambda a: a.reshape(4, -1)),
                (lambda x: lg.reshape(x, (24,)), lambda a: a.reshape(24)),
                (lambda x: lg.expand_dims(x, (0, 3)), lambda a: a[None, :, :, None]),
                (lambda x: lg.squeeze(lg.reshape(x, (1, 2, 1, 12))), lambda a: a.reshape(2, 12))],
    "transpose": [(lambda x, p=p: lg.transpose(x, p), lambda a, p=p: np.transpose(a, p))
                  for p in [(1, 2, 0), (2, 0, 1), (0, 2, 1), None]]
    + [(lambda x: lg.swapaxes(x, 0, 2), lambda a: np.swapaxes(a, 0, 2))],
    "broadcast_to": [(lambda x: lg.broadcast_to(x, (5, 2, 3, 4)),
                      lambda a: np.broadcast_to(a, (5, 2, 3, 4)))],
}


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_shape_ops_match_numpy(name, dtype, rng):
    arr = (10 * rng.normal(size=(2, 3, 4))).astype(dtype)
    x = lg.input("x", (2, 3, 4), "float" if dtype != "int64" else "int64")
    for build, ref in SHAPE_CASES[name]:
        out = build(x)
        assert any(n.op == name for n in lg.topo_order([out]))
        got = lg.evaluate(out, x=arr)
        assert got.dtype == arr.dtype
        np.testing.assert_array_equal(got, ref(arr))


# --- integer-indexed ops against loops

def test_one_hot_matches_a_loop(rng):
    y = rng.integers(0, 4, size=(2, 3))
    for axis in (-1, 0, 1, 2):
        node = lg.one_hot(lg.input("y", (2, 3), "int64"), 4, axis=axis)
        got = lg.evaluate(node, y=y)
        want = np.zeros((2, 3, 4))
        for i, j in np.ndindex(2, 3):
            want[i, j, y[i, j]] = 1.0
        want = np.moveaxis(want, -1, axis)
        assert node.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pick_matches_a_loop(dtype, rng):
    arr = rng.normal(size=(2, 3, 4)).astype(dtype)
    x = lg.input("x", (2, 3, 4))
    for axis in (0, 1, 2, -1):
        rest = tuple(d for i, d in enumerate(arr.shape) if i != axis % 3)
        y = rng.integers(0, arr.shape[axis], size=rest)
        got = lg.evaluate(lg.pick(x, lg.input("y", rest, "int64"), axis=axis), x=arr, y=y)
        want = np.empty(rest, dtype=dtype)
        for idx in np.ndindex(*rest):
            full = list(idx)
            full.insert(axis % 3, y[idx])
            want[idx] = arr[tuple(full)]
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_take_and_scatter_along_axis_match_loops(dtype, rng):
    arr = rng.normal(size=(3, 4)).astype(dtype)
    idx = np.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]])  # repeats on purpose
    x, i = lg.input("x", (3, 4)), lg.input("i", (3, 3), "int64")
    got = lg.evaluate(lg.take_along_axis(x, i, axis=1), x=arr, i=idx)
    want = np.array([[arr[r, idx[r, c]] for c in range(3)] for r in range(3)], dtype=dtype)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, want)

    g = lg.input("g", (3, 3))
    vals = rng.normal(size=(3, 3)).astype(dtype)
    got = lg.evaluate(lg.scatter_along_axis(g, i, 1, (3, 4)), g=vals, i=idx)
    want = np.zeros((3, 4))
    for r, c in np.ndindex(3, 3):
        want[r, idx[r, c]] += vals[r, c]
    assert got.dtype == np.dtype(dtype)
    assert_close(got, want, rtol=1e-6)
    # along axis 0 too
    idx0 = np.array([[2, 0, 2, 2]])
    got = lg.evaluate(lg.take_along_axis(x, lg.constant(idx0), axis=0), x=arr)
    np.testing.assert_array_equal(got, arr[idx0[0], np.arange(4)][None])


# --- leaves

def test_leaves_evaluate():
    x = lg.input("x", ("N", "C"))
    arr = np.ones((3, 5), dtype=np.float32)
    n, c = lg.size(x, 0), lg.size(x)
    assert n.op == "dimsize"
    got = lg.evaluate([x, n, c, lg.arange("C"), lg.constant([1.5, 2.5])], x=arr)
    np.testing.assert_array_equal(got[0], arr)
    assert got[1] == 3.0 and got[2] == 15.0
    assert got[1].dtype == np.float32  # sizes take the run's float precision
    np.testing.assert_array_equal(got[3], np.arange(5))
    np.testing.assert_array_equal(got[4], [1.5, 2.5])
    assert got[4].dtype == np.float32  # weak constant in a float32 run


SPECIAL = {"ctc_loss": "test_ctc.py", "ctc_grad": "test_ctc.py",
           "matmul": "test_linalg.py"}  # against np.matmul / np.dot there
LEAVES = {"input", "constant", "dimsize", "arange"}
INDEX = {"one_hot", "pick", "take_along_axis", "scatter_along_axis"}


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_has_an_evaluation_test(name):
    tables = (ELEMENTWISE, REDUCTIONS, NORMALIZERS, SHAPE_CASES, INDEX, LEAVES, SPECIAL)
    assert any(name in t for t in tables), \
        f"op {name!r} ({OPS[name].origin}) has no evaluation test against a reference"


def test_evaluation_tables_name_existing_ops():
    covered = (set(ELEMENTWISE) | set(REDUCTIONS) | set(NORMALIZERS) | set(SHAPE_CASES)
               | INDEX | LEAVES | set(SPECIAL))
    assert covered <= set(OPS), f"tests for ops that no longer exist: {covered - set(OPS)}"


# --- edges of individual ops

def test_xlogy_is_zero_where_x_is_zero():
    got = lg.evaluate(lg.xlogy(lg.constant([0.0, 0.0, 2.0]), lg.constant([0.0, 5.0, 3.0])))
    assert_close(got, [0.0, 0.0, 2 * np.log(3.0)])


def test_sigmoid_and_softplus_at_extremes():
    xs = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4])
    for dtype in ("float64", "float32"):
        arr = xs.astype(dtype)
        x = lg.input("x", (7,))
        s, p = lg.evaluate([lg.sigmoid(x), lg.softplus(x)], x=arr)
        exact_s = [float(1 / (1 + sp.exp(-sp.Float(v, 50)))) for v in xs]
        exact_p = [float(sp.log(1 + sp.exp(sp.Float(v, 50)))) for v in xs]
        assert np.all(np.isfinite(s)) and np.all(np.isfinite(p))
        tol, tiny = (1e-12, 0) if dtype == "float64" else (1e-6, 1e-38)  # float32 subnormals
        assert_close(s, exact_s, rtol=tol, atol=tiny)
        # float32 softplus(-1e4) underflows to 0, which is within atol of the true e^-1e4
        assert_close(p, exact_p, rtol=tol, atol=1e-37)


def test_logsumexp_of_all_minus_inf_row():
    x = lg.input("x", (2, 3))
    arr = np.array([[-np.inf] * 3, [0.0, -np.inf, 1.0]])
    got = lg.evaluate(lg.logsumexp(x, axis=1), x=arr)
    assert got[0] == -np.inf
    assert_close(got[1], np.log(1 + np.e))
    ls = lg.evaluate(lg.log_softmax(x, axis=1), x=arr)
    assert_close(ls[1], [-np.log(1 + np.e), -np.inf, 1 - np.log(1 + np.e)])
    sm = lg.evaluate(lg.softmax(x, axis=1), x=arr)
    assert not np.isnan(sm[1]).any()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logsumexp_with_large_values(dtype):
    arr = np.array([[1e4, 1e4 - 1.0], [-1e4, -1e4 + 2.0], [100.0, -100.0]], dtype=dtype)
    got = lg.evaluate(lg.logsumexp(lg.input("x", (3, 2)), axis=1), x=arr)
    want = [float(sp.log(sp.exp(sp.Float(float(a), 50)) + sp.exp(sp.Float(float(b), 50))))
            for a, b in arr]
    assert_close(got, want, rtol=1e-7 if dtype == "float32" else 1e-14)


def test_clip_matches_numpy_including_bounds():
    arr = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    got = lg.evaluate(lg.clip(lg.input("x", (5,)), -1.0, 1.0), x=arr)
    np.testing.assert_array_equal(got, [-1.0, -1.0, 0.0, 1.0, 1.0])


# --- dtype promotion

def test_weak_float_constants_keep_float32():
    x = lg.input("x", (3,))
    out = x * 2.5 + np.float64(1.0) - lg.constant(np.array([0.1, 0.2, 0.3]))
    got = lg.evaluate(out, x=np.ones(3, dtype=np.float32))
    assert got.dtype == np.float32
    assert_close(got, np.float32(1) * np.float32(2.5) + 1 - np.array([.1, .2, .3], np.float32))


def test_int_plus_float_is_float():
    i = lg.input("i", (3,), "int64")
    f = lg.input("f", (3,), "float32")
    assert (i + f).dtype == "float32" and (i + 0.5).dtype == "float"
    assert (i + 1).dtype == "int64" and (i / 2).dtype == "float"
    got = lg.evaluate([i + f, i + 0.5, i / 2], i=np.array([1, 2, 3]), f=np.zeros(3, np.float32))
    assert got[0].dtype == np.float32 and got[1].dtype == np.float32
    assert_close(got[0], [1, 2, 3])
    assert_close(got[1], [1.5, 2.5, 3.5])
    assert_close(got[2], [0.5, 1.0, 1.5])
    only_int = lg.evaluate(i / 2, i=np.array([1, 2, 3]))
    assert only_int.dtype == np.float64
    np.testing.assert_array_equal(lg.evaluate(i * 3, i=np.array([1, 2, 3])), [3, 6, 9])


def test_bool_arithmetic_counts():
    b = lg.input("b", (3,), "bool")
    arr = np.array([True, True, False])
    assert (b + b).dtype == "int"
    np.testing.assert_array_equal(lg.evaluate(b + b, b=arr), [2, 2, 0])
    np.testing.assert_array_equal(lg.evaluate(b - b, b=arr), [0, 0, 0])
    assert lg.evaluate(lg.sum(b), b=arr) == 2
    np.testing.assert_array_equal(lg.evaluate(b * 2.0, b=arr), [2.0, 2.0, 0.0])
    np.testing.assert_array_equal(lg.evaluate(-b, b=arr), [-1, -1, 0])
    assert lg.evaluate(lg.mean(lg.cast(b, "float")), b=arr) == pytest.approx(2 / 3)


@pytest.mark.parametrize("name", sorted(n for n, (_, _, gens) in ELEMENTWISE.items()
                                        if len(gens) == 1 and gens[0] is not mask))
def test_unary_ops_take_bools_as_zero_and_one(name):
    """A bool operand counts as 0 / 1 in full precision (NumPy's exp(True) is float16)."""
    build, expr, _ = ELEMENTWISE[name]
    got = lg.evaluate(build(lg.input("b", (2,), "bool")), b=np.array([True, False]))
    exact = [expr.subs(X, v) for v in (1, 0)]
    want = [-np.inf if e is sp.zoo else float(e) for e in exact]  # log(0): the limit from 0+
    assert_close(got, want, rtol=1e-15, atol=0, what=name)


def test_integer_powers():
    i = lg.input("i", (3,), "int64")
    arr = np.array([1, 2, 4])
    assert (i ** -1).dtype == "float"
    assert_close(lg.evaluate(i ** -1, i=arr), [1.0, 0.5, 0.25])
    assert_close(lg.evaluate(i ** 2, i=arr), [1.0, 4.0, 16.0])
    got = lg.evaluate(i ** lg.input("p", (), "float32"), i=arr, p=np.float32(0.5))
    assert got.dtype == np.float32
    assert_close(got, np.sqrt(arr), rtol=1e-6)


def test_transpose_accepts_negative_axes():
    x = lg.input("x", (2, 3, 4))
    node = lg.transpose(x, (-1, 0, 1))
    assert node.shape == (4, 2, 3)
    arr = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(lg.evaluate(node, x=arr), np.transpose(arr, (-1, 0, 1)))


def test_xlogy_of_zero_dimensional_operands():
    a, b = lg.input("a"), lg.input("b")
    got = lg.evaluate(lg.xlogy(a, b), a=np.float64(0.5), b=np.float64(0.5))
    assert np.isclose(got, 0.5 * np.log(0.5))
