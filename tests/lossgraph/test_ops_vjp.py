"""Every op's vjp rule against central finite differences in float64, driven by the op table.

Each differentiable op has cases (builder, per-argument (shape, generator)); the loss is
sum(op(...) * W) with a random fixed cotangent W, so every entry of the vjp is exercised.
Every op also gets its second derivative checked (grad of grad along a tangent
against finite differences of the gradient). A test fails when an op in OPS has no case.
"""
import itertools

import numpy as np
import pytest

import lossgraph as lg
from lossgraph.ops import OPS

from .references import (above_minus_one, assert_close, central_difference, feed, labels, mask,
                       nodes_for, nonzero, positive, real, wide)


def case(fn, *args):
    return fn, args


UNARY_SHAPES = [(2, 3), ()]
BINARY_SHAPES = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3)),
                 ((3,), ())]


def unary(fn, gen=real):
    return [case(fn, (s, gen)) for s in UNARY_SHAPES]


def binary(fn, gx=real, gy=real):
    return [case(fn, (sx, gx), (sy, gy)) for sx, sy in BINARY_SHAPES]


AXES_3D = [None, 0, 1, 2, -1, (0, 1), (0, 2), (1, 2), (0, 1, 2), (-1, 0)]


def reductions(fn, gen=real):
    return [case(lambda x, a=axis, k=keep: fn(x, axis=a, keepdims=k), ((2, 3, 2), gen))
            for axis, keep in itertools.product(AXES_3D, (False, True))]


def normalizers(fn):
    return [case(lambda x, a=axis: fn(x, axis=a), ((2, 3, 2), wide)) for axis in
            (0, 1, -1, (0, 2))]


def dup_indices(rng, shape):
    """Indices along the last axis of a (2, 3) array, with repeats."""
    return np.array([[0, 0, 2, 2], [1, 1, 1, 0]])[:, :shape[-1]]


VJP_CASES = {
    "add": binary(lg.add),
    "subtract": binary(lg.subtract),
    "multiply": binary(lg.multiply),
    "divide": binary(lg.divide, real, nonzero),
    "power": binary(lg.power, positive, real),
    "maximum": binary(lg.maximum),
    "minimum": binary(lg.minimum),
    "xlogy": binary(lg.xlogy, real, positive),
    "negative": unary(lg.negative),
    "exp": unary(lg.exp),
    "log": unary(lg.log, positive),
    "log1p": unary(lg.log1p, above_minus_one),
    "expm1": unary(lg.expm1),
    "sqrt": unary(lg.sqrt, positive),
    "abs": unary(lg.abs, nonzero),
    "square": unary(lg.square),
    "tanh": unary(lg.tanh),
    "sigmoid": unary(lg.sigmoid, wide),
    "softplus": unary(lg.softplus, wide),
    "where": [case(lg.where, ((2, 3), mask), ((3,), real), ((2, 1), real)),
              case(lg.where, ((), mask), ((2, 3), real), ((), real))],
    "clip": [case(lg.clip, ((2, 3), wide), ((), lambda r, s: r.uniform(-1.0, -0.3, s)),
                  ((), lambda r, s: r.uniform(0.3, 1.0, s))),
             case(lg.clip, ((2, 3), wide), ((3,), lambda r, s: r.uniform(-1.0, -0.3, s)),
                  ((2, 1), lambda r, s: r.uniform(0.3, 1.0, s)))],
    "cast": [case(lambda x: lg.cast(x, "float64"), ((2, 3), real))],
    "sum": reductions(lg.sum),
    "prod": reductions(lg.prod, nonzero),
    "max": reductions(lg.max),
    "min": reductions(lg.min),
    "logsumexp": reductions(lg.logsumexp, wide),
    "softmax": normalizers(lg.softmax),
    "log_softmax": normalizers(lg.log_softmax),
    "reshape": [case(lambda x: lg.reshape(x, (3, -1)), ((2, 3), real)),
                case(lambda x: lg.reshape(x, (6,)), ((2, 3), real)),
                case(lambda x: lg.expand_dims(x, (0, 2)), ((2, 3), real)),
                case(lambda x: lg.squeeze(x), ((2, 1, 3), real))],
    "transpose": [case(lambda x, p=p: lg.transpose(x, p), ((2, 3, 4), real))
                  for p in [(1, 2, 0), (2, 0, 1), (0, 2, 1), None]],
    "broadcast_to": [case(lambda x: lg.broadcast_to(x, (2, 3)), ((3,), real)),
                     case(lambda x: lg.broadcast_to(x, (2, 2, 3)), ((2, 1, 1), real)),
                     case(lambda x: lg.broadcast_to(x, (4,)), ((), real))],
    "pick": [case(lambda x, y: lg.pick(x, y), ((2, 4), real), ((2,), labels(4))),
             case(lambda x, y: lg.pick(x, y, axis=0), ((3, 2), real), ((2,), labels(3))),
             case(lambda x, y: lg.pick(x, y, axis=1), ((2, 3, 2), real), ((2, 2), labels(3)))],
    "take_along_axis": [
        case(lambda x, i: lg.take_along_axis(x, i, axis=-1), ((2, 3), real),
             ((2, 4), dup_indices)),
        case(lambda x, i: lg.take_along_axis(x, i, axis=0), ((3, 2), real),
             ((4, 1), lambda r, s: np.array([[2], [0], [2], [2]])))],
    "scatter_along_axis": [
        case(lambda g, i: lg.scatter_along_axis(g, i, -1, (2, 3)), ((2, 4), real),
             ((2, 4), dup_indices)),
        case(lambda g, i: lg.scatter_along_axis(g, i, 0, (3, 2)), ((4, 2), real),
             ((4, 1), lambda r, s: np.array([[2], [0], [2], [2]])))],
    "matmul": [case(lg.matmul, (sa, real), (sb, real)) for sa, sb in [
        ((3, 4), (4,)), ((4,), (4, 3)), ((4,), (4,)), ((2, 3), (3, 2)), ((2, 2, 3), (3, 2)),
        ((2, 1, 2, 3), (2, 3, 2)), ((3,), (2, 3, 2)), ((2, 2, 3), (3,))]],
}

# Ops with no gradient at all, and what asking for one gives (see test_no_gradient).
NO_GRADIENT = {
    "less": lambda x: lg.cast(lg.less(x, 0.1), "float"),
    "less_equal": lambda x: lg.cast(lg.less_equal(x, 0.1), "float"),
    "greater": lambda x: lg.cast(lg.greater(x, 0.1), "float"),
    "greater_equal": lambda x: lg.cast(lg.greater_equal(x, 0.1), "float"),
    "equal": lambda x: lg.cast(lg.equal(x, x), "float"),
    "not_equal": lambda x: lg.cast(lg.not_equal(x, 0.1), "float"),
    "logical_and": lambda x: lg.cast((x > 0) & (x < 1), "float"),
    "logical_or": lambda x: lg.cast((x > 0) | (x < -1), "float"),
    "logical_not": lambda x: lg.cast(~(x > 0), "float"),
    "sign": lg.sign,
    "one_hot": lambda x: lg.one_hot(lg.cast(lg.abs(x) * 2.0, "int64"), 5),
    "stop_gradient": lg.stop_gradient,
}

# Leaves have no vjp: they are where cotangents end (tested in test_autodiff.py).
LEAVES = {"input", "constant", "dimsize", "arange"}
# Ops with their own reference file (brute-force alignments and finite differences there).
OWN_TESTS = {"ctc_loss": "test_ctc.py", "ctc_grad": "test_ctc.py"}


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_has_a_gradient_test(name):
    tables = (VJP_CASES, NO_GRADIENT, LEAVES, OWN_TESTS)
    assert any(name in t for t in tables), \
        f"op {name!r} ({OPS[name].origin}) has no vjp test: add cases to VJP_CASES"


def test_gradient_tables_name_existing_ops():
    covered = set(VJP_CASES) | set(NO_GRADIENT) | LEAVES | set(OWN_TESTS)
    assert not covered - set(OPS), f"tests for ops that no longer exist: {covered - set(OPS)}"
    for op in LEAVES:
        assert OPS[op].kind == "leaf" and OPS[op].vjp is None
    import pathlib
    here = pathlib.Path(__file__).parent
    for op, fname in OWN_TESTS.items():
        assert op in (here / fname).read_text()


def _params(table):
    return [pytest.param(name, fn, args, id=f"{name}-{i}")
            for name, cases in table.items() for i, (fn, args) in enumerate(cases)]


def build(fn, args, rng):
    arrays = [gen(rng, shape) for shape, gen in args]
    arrays = [np.asarray(a, dtype=np.float64) if a.dtype.kind == "f" else a for a in arrays]
    nodes = nodes_for(arrays)
    out = fn(*nodes)
    return arrays, nodes, out


def scalarized(out, rng):
    """sum(out * W) for a random fixed W: its gradient is the vjp of out at W."""
    w = lg.constant(rng.normal(size=tuple(out.shape)))
    return lg.sum(out * w)


@pytest.mark.parametrize("seed", ["weighted", "plain"])
@pytest.mark.parametrize("name, fn, args", _params(VJP_CASES))
def test_vjp_matches_finite_differences(name, fn, args, seed, rng):
    """weighted: sum(out * W); plain: sum(out), whose vjp hands the rule a scalar cotangent
    standing for the whole array (every rule must accept a lower-rank g)."""
    arrays, nodes, out = build(fn, args, rng)
    assert any(n.op == name for n in lg.topo_order([out])), f"case does not use {name}"
    y = scalarized(out, rng) if seed == "weighted" else lg.sum(out)
    diff = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    grads = lg.gradients(y, [nodes[i] for i in diff])
    values = lg.evaluate([y] + grads, feed(arrays))[1:]  # y binds every input

    def f(arrs):
        return float(lg.evaluate(y, feed(arrs)))

    for i, g, v in zip(diff, grads, values):
        assert g.shape == nodes[i].shape
        assert_close(v, central_difference(f, arrays, i), rtol=1e-5, atol=1e-7,
                     what=f"{name}: d/d a{i}")


SECOND_ORDER = VJP_CASES  # the elementwise ops, and the rest too: it is cheap


@pytest.mark.parametrize("name, fn, args", _params(SECOND_ORDER))
def test_second_derivative_matches_finite_differences(name, fn, args, rng):
    """d/dx <grad y(x), v> against (grad y(x + eps v) - grad y(x - eps v)) / (2 eps)."""
    arrays, nodes, out = build(fn, args, rng)
    y = scalarized(out, rng)
    diff = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    xs = [nodes[i] for i in diff]
    grads = lg.gradients(y, xs)
    tangents = [rng.normal(size=arrays[i].shape) for i in diff]
    inner = lg.sum(lg.constant(0.0))
    for g, v in zip(grads, tangents):
        inner = inner + lg.sum(g * lg.constant(v))
    hess_v = lg.evaluate([y] + lg.gradients(inner, xs), feed(arrays))[1:]

    eps = 1e-5

    def grads_at(sign):
        moved = list(arrays)
        for i, v in zip(diff, tangents):
            moved[i] = arrays[i] + sign * eps * v
        return lg.evaluate([y] + grads, feed(moved))[1:]

    plus, minus = grads_at(1.0), grads_at(-1.0)
    for k, (h, p, m) in enumerate(zip(hess_v, plus, minus)):
        assert_close(h, (np.asarray(p) - np.asarray(m)) / (2 * eps), rtol=1e-5, atol=1e-6,
                     what=f"{name}: Hv for a{diff[k]}")


@pytest.mark.parametrize("name", sorted(NO_GRADIENT))
def test_no_gradient(name, rng):
    """A piecewise-constant op passes no gradient: zeros (sign, comparisons, casts to int);
    a path cut only by stop_gradient is a user error: GradientError."""
    x = lg.input("x", (2, 3))
    out = NO_GRADIENT[name](x)
    assert any(n.op == name for n in lg.topo_order([out]))
    y = lg.sum(out * lg.constant(rng.normal(size=out.shape)))
    if name == "stop_gradient":
        with pytest.raises(lg.GradientError, match="stop_gradient"):
            lg.gradients(y, [x])
        return
    g = lg.gradients(y, [x])[0]
    got = lg.evaluate([y, g], x=rng.normal(size=(2, 3)))[1]
    assert got.shape == (2, 3) and not got.any()
    # alongside a differentiable path it adds nothing: d/dx sum(x * s) = s, s = sum(out)
    s = lg.sum(lg.cast(out, "float"))
    both = lg.gradients(lg.sum(x * s), [x])[0]
    arr = rng.normal(size=(2, 3))
    s_val, got = lg.evaluate([s, both], x=arr)
    assert_close(got, np.full((2, 3), s_val))


def test_integer_and_bool_operands_have_no_gradient():
    for dtype in ("int64", "bool"):
        v = lg.input("v", (3,), dtype)
        with pytest.raises(lg.GradientError, match=f"'v' has dtype {dtype}"):
            lg.gradients(lg.sum(lg.cast(v, "float")), [v])


# --- known edges of individual rules

def grad_at(fn, *arrays, wrt=0):
    nodes = nodes_for([np.asarray(a) for a in arrays])
    y = lg.sum(fn(*nodes))
    g = lg.gradients(y, [nodes[wrt]])[0]
    return lg.evaluate([y, g], feed([np.asarray(a) for a in arrays]))[1]


def test_power_base_gradient_is_finite_for_negative_base():
    # d/dx x**3 = 3 x**2, also where log(x) would be NaN (the exponent's rule is not needed)
    x = np.array([-2.0, -0.5, 0.0, 1.5])
    assert_close(grad_at(lambda a: a ** 3.0, x), 3 * x ** 2)
    assert_close(grad_at(lambda a: a ** 2.0, x), 2 * x)
    assert_close(grad_at(lambda a: lg.power(a, 1.0), x), np.ones(4))
    # d/dx x**0 = 0, also at x = 0 (focal loss with gamma = 0 at a confident prediction)
    assert_close(grad_at(lambda a: a ** 0.0, x), np.zeros(4))
    gamma = np.array([0.0, 2.0, 0.0, 1.0])
    assert_close(grad_at(lambda a, b: a ** b, x, gamma), [0.0, 2 * -0.5, 0.0, 1.0])


def test_power_exponent_gradient():
    # d/dy x**y = x**y log x; 0 where x = 0 and y > 0 (x**y is identically 0 there)
    x, y = np.array([0.5, 2.0, 0.0]), np.array([1.5, -1.0, 2.0])
    assert_close(grad_at(lambda a, b: a ** b, x, y, wrt=1), [0.5 ** 1.5 * np.log(0.5),
                                                            0.5 * np.log(2.0), 0.0])


def test_prod_gradient_at_zeros():
    # d/dx_i prod x = prod of the others: finite, and nonzero only where the others are
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 4.0, 2.0]])
    want = np.array([[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [8.0, 2.0, 4.0]])
    assert_close(grad_at(lambda a: lg.prod(a, axis=1), x), want)
    assert_close(grad_at(lambda a: lg.prod(a, axis=(0, 1)), x), np.zeros((3, 3)))
    assert_close(grad_at(lambda a: lg.prod(a, axis=0, keepdims=True), x.T), want.T)


def test_max_min_ties_share_the_gradient():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    assert_close(grad_at(lambda a: lg.max(a, axis=1), x), [[0, .5, .5], [1 / 3] * 3])
    assert_close(grad_at(lambda a: lg.min(a, axis=1), x), [[1, 0, 0], [1 / 3] * 3])
    assert_close(grad_at(lambda a: lg.max(a), x), [[0, .5, .5], [0, 0, 0]])


def test_maximum_minimum_at_ties_send_the_gradient_to_one_side():
    # at x == y the whole cotangent goes to exactly one operand (a subgradient), not both
    x, y = np.array([1.0, 2.0]), np.array([1.0, 3.0])
    for f in (lg.maximum, lg.minimum):
        gx = grad_at(f, x, y, wrt=0)
        gy = grad_at(f, x, y, wrt=1)
        assert_close(gx + gy, [1.0, 1.0], what=f.__name__)


def test_relu_gradient_at_zero_is_a_subgradient():
    g = grad_at(lg.relu, np.array([-1.0, 0.0, 2.0]))
    assert g[0] == 0 and g[2] == 1 and 0 <= g[1] <= 1


def test_xlogy_at_x_zero():
    # xlogy(0, y) = 0 for every y >= 0: d/dy = 0 (also at y = 0), d/dx = log y
    x, y = np.array([0.0, 0.0, 1.0]), np.array([0.0, 2.0, 3.0])
    val = lg.evaluate(lg.xlogy(lg.constant(x), lg.constant(y)))
    assert_close(val, [0.0, 0.0, np.log(3.0)])
    gy = grad_at(lg.xlogy, x, y, wrt=1)
    assert_close(gy, [0.0, 0.0, 1 / 3])
    gx = grad_at(lg.xlogy, x, y, wrt=0)
    assert_close(gx[1:], np.log(y[1:]))


def test_clip_gradient_goes_to_the_active_bound():
    x = np.array([-3.0, 0.0, 3.0])
    gx = grad_at(lambda a: lg.clip(a, -1.0, 1.0), x)
    assert_close(gx, [0.0, 1.0, 0.0])
    lo, hi = np.array(-1.0), np.array(1.0)
    assert_close(grad_at(lg.clip, x, lo, hi, wrt=1), 1.0)
    assert_close(grad_at(lg.clip, x, lo, hi, wrt=2), 1.0)


def test_sqrt_gradient_at_zero_in_unused_branch_is_not_nan():
    # where(x > 0, sqrt(x), 0): the inactive branch must not leak 0 * inf
    x = np.array([0.0, 4.0])
    g = grad_at(lambda a: lg.where(a > 0.0, lg.sqrt(lg.where(a > 0.0, a, 1.0)), 0.0), x)
    assert_close(g, [0.0, 0.25])


def test_cast_gradient_keeps_the_input_dtype():
    x = lg.input("x", (3,), "float64")
    g = lg.gradients(lg.sum(lg.square(lg.cast(x, "float32"))), [x])[0]
    assert g.dtype == "float64"
    got = lg.evaluate(g, x=np.array([1.0, 2.0, 3.0]))
    assert got.dtype == np.float64
    assert_close(got, [2.0, 4.0, 6.0], rtol=1e-6)


def test_transpose_gradient_uses_the_inverse_permutation():
    x = lg.input("x", (2, 3, 4))
    w = np.arange(24.0).reshape(3, 4, 2)
    g = lg.gradients(lg.sum(lg.transpose(x, (1, 2, 0)) * lg.constant(w)), [x])[0]
    assert_close(lg.evaluate([x, g], x=np.zeros((2, 3, 4)))[1], np.transpose(w, (2, 0, 1)))


def test_take_along_axis_duplicates_accumulate():
    x = lg.input("x", (3,))
    g = lg.gradients(lg.sum(lg.take_along_axis(x, lg.constant(np.array([0, 0, 2, 0])), 0)),
                     [x])[0]
    assert_close(lg.evaluate([x, g], x=np.zeros(3))[1], [3.0, 0.0, 1.0])


def test_reshape_gradient_with_symbolic_dims():
    x = lg.input("x", ("N", "T", 2))
    r = lg.reshape(x, ("N*T", -1))
    assert r.shape == ("N*T", 2)
    w = lg.input("w", ("N*T", 2))
    g = lg.gradients(lg.sum(r * w), [x])[0]
    arr = np.arange(12.0).reshape(2, 3, 2)
    got = lg.evaluate([x, g], x=arr, w=arr.reshape(6, 2) + 1.0)[1]
    assert_close(got, arr + 1.0)
