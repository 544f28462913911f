"""lg.to_sympy / lg.from_sympy against references.

Elementwise: the SymPy form, lambdified with NumPy formulas for the named functions written
here, against lg.evaluate; from_sympy(to_sympy(g)) against g; SymPy's own derivative against
the graph gradient. Indexed: the SymPy form with dims and array entries substituted (sums
expanded by doit) against lg.evaluate.
"""
import re

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

import lossgraph as lg
from lossgraph.graph import topo_order
from lossgraph.ops import OPS
from lossgraph.symbolic import SymbolicError

from .references import assert_close, feed, nodes_for, positive, real, wide
from .test_ops_eval import ELEMENTWISE, SHAPES
from .test_serialize import every_op_example, graphs as random_graphs

# The named functions of lossgraph.sympy_funcs, as plain NumPy formulas (the reference).
NUMPY_FUNCS = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "softplus": lambda x: np.log(1.0 + np.exp(x)),
    "log1p": lambda x: np.log(1.0 + x),
    "expm1": lambda x: np.exp(x) - 1.0,
}


def lambdify(symbols, expr):
    return sp.lambdify(symbols, expr, modules=[NUMPY_FUNCS, "numpy"])


def sample(name, rng):
    build, _, gens = ELEMENTWISE[name]
    arrays = [np.asarray(g(rng, s)) for g, s in zip(gens, SHAPES[len(gens)])]
    nodes = nodes_for(arrays)
    return build(*nodes), nodes, arrays


def symbols_of(nodes):
    return [lg.to_sympy(n) for n in nodes]


def assert_same_values(got, want, what):
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype == np.bool_ or want.dtype == np.bool_:
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        assert_close(got, want, rtol=1e-12, atol=1e-12, what=what)


def test_every_elementwise_op_has_a_sympy_form_and_a_case_here():
    elementwise = {n for n, op in OPS.items() if op.kind == "elementwise"}
    assert elementwise <= set(ELEMENTWISE)
    assert all(OPS[n].sympy is not None for n in elementwise)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_to_sympy_lambdified_matches_evaluate(name, rng):
    out, nodes, arrays = sample(name, rng)
    expr = lg.to_sympy(out)
    want = lg.evaluate(out, feed(arrays))
    got = lambdify(symbols_of(nodes), expr)(*np.broadcast_arrays(*arrays))
    assert_same_values(np.broadcast_to(got, want.shape), want, name)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_from_sympy_of_to_sympy_evaluates_equal(name, rng):
    out, nodes, arrays = sample(name, rng)
    back = lg.from_sympy(lg.to_sympy(out), nodes)
    want = lg.evaluate(out, feed(arrays))
    got = lg.evaluate(back, feed(arrays)) if lg.inputs_of([back]) else lg.evaluate(back)
    assert_same_values(np.broadcast_to(got, want.shape), want, name)


def test_from_sympy_maps_heads_to_ops():
    x, t = lg.input("x", ("N",)), lg.input("t", ("N",))
    X, T = sp.symbols("x t", real=True)
    assert lg.from_sympy(X ** 2, [x]).op == "square"
    assert lg.from_sympy(sp.sqrt(X), [x]).op == "sqrt"
    assert lg.from_sympy(1 / X, [x]).op == "divide"
    assert lg.from_sympy(X - T, {"x": x, "t": t}).op == "subtract"
    assert lg.from_sympy(sp.Max(X, T, 0), [x, t]).op == "maximum"
    assert lg.from_sympy(sp.Piecewise((X, X > T), (T, True)), [x, t]).op == "where"
    assert lg.from_sympy(sp.exp(X), [x]) is lg.exp(x)
    from lossgraph.sympy_funcs import sigmoid, softplus
    assert lg.from_sympy(sigmoid(X) - softplus(T), [x, t]) is lg.sigmoid(x) - lg.softplus(t)


COMPOSITES = {
    "bce_with_logits": (lambda x, t: lg.softplus(x) - x * t, (wide, lambda r, s: r.random(s))),
    "huber": (lambda x, t: lg.where(lg.abs(x - t) <= 1.0, 0.5 * lg.square(x - t),
                                    lg.abs(x - t) - 0.5), (wide, wide)),
    "log_cosh": (lambda x, t: lg.log(0.5 * (lg.exp(x - t) + lg.exp(t - x))), (real, real)),
    "focal": (lambda x, t: -t * lg.square(1.0 - lg.sigmoid(x)) * -lg.softplus(-x),
              (wide, lambda r, s: r.random(s))),
    "clipped_log": (lambda x, t: lg.log(lg.clip(x, 1e-7, 1.0 - 1e-7)) * t,
                    (lambda r, s: r.uniform(-0.5, 1.5, s), real)),
    "ratio": (lambda x, t: lg.sqrt(x) / (t ** 3 + 2.0) - lg.log1p(x) + lg.expm1(-t),
              (positive, positive)),
    "masked": (lambda x, t: lg.cast(x > t, "float") * lg.tanh(x) +
               lg.minimum(x, t) ** -1.5, (positive, positive)),
}


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composite_formulas_both_ways(name, rng):
    build, gens = COMPOSITES[name]
    x, t = lg.input("x", ("N",)), lg.input("t", ("N",))
    f = build(x, t)
    arrays = {"x": gens[0](rng, 7), "t": gens[1](rng, 7)}
    want = lg.evaluate(f, arrays)
    expr = lg.to_sympy(f)
    got = lambdify(sp.symbols("x t", real=True), expr)(arrays["x"], arrays["t"])
    assert_close(got, want, rtol=1e-11, atol=1e-12, what=name)
    back = lg.from_sympy(expr, [x, t])
    assert_close(lg.evaluate(back, arrays), want, rtol=1e-11, atol=1e-12, what=name)


DIFFERENTIABLE = ["exp", "log", "log1p", "expm1", "sqrt", "square", "tanh", "sigmoid",
                  "softplus", "negative", "abs"]


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_graph_gradient_equals_sympy_derivative(name, rng):
    x = lg.input("x", ("N",))
    f = getattr(lg, name)(x) * x + 3.0
    g, = lg.gradients(lg.sum(f), [x])
    X = sp.Symbol("x", real=True)
    want = sp.diff(lg.to_sympy(f), X)
    got = lg.to_sympy(g)
    if name not in ("abs",):
        assert sp.simplify((want - got).rewrite(sp.exp)) == 0, (want, got)
    a = positive(rng, 9)
    assert_close(lambdify([X], got)(a), lambdify([X], want)(a), rtol=1e-12, what=name)


def test_two_input_gradients_match_sympy(rng):
    x, t = lg.input("x", ("N",)), lg.input("t", ("N",))
    f = lg.softplus(x) - x * t + lg.xlogy(t, lg.sigmoid(x)) + lg.maximum(x, t) ** 2
    gx, gt = lg.gradients(lg.sum(f), [x, t])
    X, T = sp.symbols("x t", real=True)
    expr = lg.to_sympy(f)
    args = {"x": wide(rng, 11), "t": positive(rng, 11)}
    for g, s in [(gx, X), (gt, T)]:
        want = lambdify([X, T], sp.diff(expr, s))(args["x"], args["t"])
        got = lambdify([X, T], lg.to_sympy(g))(args["x"], args["t"])
        assert_close(np.broadcast_to(got, want.shape), want, rtol=1e-10, what=str(s))
        assert_close(lg.evaluate(g, args), want, rtol=1e-10, what=str(s))


def test_numbers_and_dims():
    x = lg.input("x", ("N",))
    assert lg.to_sympy(x * 0.5) == sp.Symbol("x", real=True) / 2
    assert lg.to_sympy(x + 3.0) == sp.Symbol("x", real=True) + 3
    assert lg.to_sympy(x + 1e-7).args[0] == sp.Float(1e-7)
    assert lg.to_sympy(lg.maximum(x, -np.inf)) == sp.Max(-sp.oo, sp.Symbol("x", real=True))
    n = lg.to_sympy(lg.size(x))
    assert n == sp.Symbol("N", positive=True, integer=True)
    assert lg.to_sympy(lg.size(lg.input("y", ("N", "T")))) == \
        sp.Symbol("N", positive=True, integer=True) * sp.Symbol("T", positive=True, integer=True)


def test_composites_stay_named_in_elementwise_mode():
    from lossgraph import sympy_funcs as F
    X = lg.input("X", ("N", "C"))
    x = sp.Symbol("X", real=True)
    assert lg.to_sympy(lg.softmax(X)) == F.softmax(x)
    assert lg.to_sympy(lg.log_softmax(X) - lg.softplus(X)) == F.log_softmax(x) - F.softplus(x)
    assert lg.to_sympy(lg.log1p(X)) == F.log1p(x) and lg.to_sympy(lg.expm1(X)) == F.expm1(x)
    explicit = lg.to_sympy(lg.softmax(X), indexed=True)
    assert explicit.has(sp.Sum) and not explicit.has(F.softmax)


# --- indexed mode

def evaluate_indexed(expr, arrays, dims, free_shape):
    """expr at every output position: dims substituted, sums expanded, entries filled in.
    The free indices are i, j, k, ... for the output axes in order."""
    subs = {sp.Symbol(k, positive=True, integer=True): v for k, v in dims.items()}
    expr = expr.subs(subs)
    free = [sp.Symbol(n, integer=True, nonnegative=True) for n in "ijkl"[:len(free_shape)]]
    out = np.zeros(free_shape)
    for pos in np.ndindex(*free_shape):
        e = expr.subs(dict(zip(free, pos))).doit()
        e = e.xreplace({s: arrays[s.name].item() for s in e.atoms(sp.Symbol)
                        if s.name in arrays and np.ndim(arrays[s.name]) == 0})
        while e.atoms(sp.Indexed):  # innermost first: x[i, y[i]] needs y[i] filled in
            ready = [a for a in e.atoms(sp.Indexed) if all(i.is_Integer for i in a.indices)]
            e = e.xreplace({a: sp.sympify(arrays[a.base.name][tuple(map(int, a.indices))].item())
                            for a in ready}).doit()
        out[pos] = float(e)
    return out


def indexed_case(f, arrays, dims):
    expr = lg.to_sympy(f, indexed=True)
    want = np.asarray(lg.evaluate(f, arrays), dtype=np.float64)
    free = {s.name for s in expr.free_symbols if isinstance(s, sp.Symbol)} - set(arrays)
    assert free <= set("ijkl"[:f.ndim]) | set(dims)
    got = evaluate_indexed(expr, arrays, dims, want.shape)
    assert_close(got, want, rtol=1e-10, atol=1e-12)
    return expr


def test_indexed_mean_squared_error_reads_as_a_sum(rng):
    p, t = lg.input("p", ("N",)), lg.input("t", ("N",))
    loss = lg.mean(lg.square(p - t))
    expr = indexed_case(loss, {"p": real(rng, 4), "t": real(rng, 4)}, {"N": 4})
    assert isinstance(expr.args[0], sp.Sum) or any(isinstance(a, sp.Sum) for a in expr.args)
    assert r"\sum_{i=0}^{N - 1}" in sp.latex(expr)
    assert lg.to_sympy(loss) == expr


def softmax_case(rng):
    X = lg.input("X", ("N", "C"))
    y = lg.input("y", ("N",), dtype="int64")
    arrays = {"X": wide(rng, (3, 4)), "y": rng.integers(0, 4, size=3), "Z": real(rng, 3),
              "I": rng.integers(0, 4, size=(3, 2))}
    return X, y, arrays, {"N": 3, "C": 4}


def test_indexed_softmax_cross_entropy_and_its_gradient(rng):
    X, y, arrays, dims = softmax_case(rng)
    loss = lg.mean(-lg.pick(lg.log_softmax(X), y))
    del arrays["Z"], arrays["I"]
    indexed_case(loss, arrays, dims)
    g, = lg.gradients(loss, [X])
    expr = indexed_case(g, arrays, dims)
    assert expr.has(sp.KroneckerDelta)


@pytest.mark.parametrize("build", [
    lambda X: lg.logsumexp(X, axis=1),
    lambda X: lg.max(X, axis=0),
    lambda X: lg.min(X),
    lambda X: lg.prod(X, axis=1, keepdims=True),
    lambda X: lg.softmax(X, axis=0),
    lambda X: lg.sum(lg.transpose(X) * lg.arange("N"), axis=1),
    lambda X: lg.reshape(X, ("N*C",)) * 2.0,
    lambda X: lg.expand_dims(lg.input("Z", (3,)), 0) * lg.constant([[1.0], [-2.0]]),
    lambda X: lg.take_along_axis(X, lg.input("I", ("N", 2), "int64"), axis=1),
    lambda X: lg.scatter_along_axis(lg.sum(X, axis=1, keepdims=True),
                                    lg.input("I", ("N", 2), "int64"), 1, ("N", "C")),
    lambda X: lg.one_hot(lg.input("y", ("N",), dtype="int64"), "C") * X,
], ids=["logsumexp", "max", "min", "prod", "softmax0", "transpose_arange", "reshape",
        "const_array", "take", "scatter", "one_hot"])
def test_indexed_forms_evaluate_like_the_graph(build, rng):
    X, y, arrays, dims = softmax_case(rng)
    f = build(X)
    used = {n.name for n in lg.inputs_of([f])}
    indexed_case(f, {k: v for k, v in arrays.items() if k in used}, dims)


def test_indexed_gradients_of_reductions(rng):
    X, y, arrays, dims = softmax_case(rng)
    loss = lg.sum(lg.logsumexp(X, axis=1) * lg.max(X, axis=1))
    g, = lg.gradients(loss, [X])
    del arrays["y"], arrays["Z"], arrays["I"]
    indexed_case(g, arrays, dims)


# --- errors

def test_op_without_sympy_form_is_named():
    from lossgraph.ops.ctc import ctc_loss
    lp = lg.input("lp", (5, 2, 3))
    loss = ctc_loss(lp, lg.input("l", (2, 2), "int64"), lg.input("il", (2,), "int64"),
                    lg.input("ll", (2,), "int64"))
    with pytest.raises(SymbolicError, match="ctc_loss"):
        lg.to_sympy(loss)
    assert issubclass(SymbolicError, lg.LossgraphError) and issubclass(SymbolicError, TypeError)


def test_elementwise_mode_refuses_reductions_by_name():
    x = lg.input("x", ("N",))
    with pytest.raises(SymbolicError, match="'sum'.*indexed=True"):
        lg.to_sympy(lg.sum(x), indexed=False)


def test_from_sympy_errors_name_the_culprit():
    x = lg.input("x", ("N",))
    X, Z = sp.symbols("x z")
    with pytest.raises(SymbolicError, match="'z'"):
        lg.from_sympy(X + Z, [x])
    with pytest.raises(SymbolicError, match="Integral"):
        lg.from_sympy(sp.Integral(X, X), [x])
    with pytest.raises(SymbolicError, match="inputs\\['x'\\] must be a Node"):
        lg.from_sympy(X, {"x": 3.0})
    with pytest.raises(SymbolicError, match="not a real number"):
        lg.from_sympy(X + sp.zoo, [x])


# --- LaTeX

def balanced(tex):
    """Braces nest (escaped \\{ \\} aside), \\left/\\right and \\begin/\\end pair up."""
    depth, k = 0, 0
    while k < len(tex):
        if tex[k] == "\\" and k + 1 < len(tex) and tex[k + 1] in "{}":
            k += 2
            continue
        depth += {"{": 1, "}": -1}.get(tex[k], 0)
        if depth < 0:
            return False
        k += 1
    lefts = len(re.findall(r"\\left(?![a-z])", tex))
    rights = len(re.findall(r"\\right(?![a-z])", tex))
    return depth == 0 and lefts == rights and tex.count(r"\begin") == tex.count(r"\end")


def test_latex_of_every_op_is_balanced():
    from lossgraph.printing import _print
    nodes = every_op_example()
    ops = set()
    for root in nodes:
        for n in topo_order([root]):
            ops.add(n.op)
            for tex in (lg.latex(n), _print(n, "latex")):
                assert tex and balanced(tex), (n.op, tex)
    assert ops == set(OPS)


def test_max_gradients_with_symbolic_shapes_convert(rng):
    """max_over binds its index like Sum: SymPy's derivative and relational simplification
    leave the limits alone (they once crashed with 'Tuple' object has no attribute 'diff')."""
    X, y, arrays, dims = softmax_case(rng)
    g, = lg.gradients(lg.sum(lg.max(X, axis=1)), [X])
    indexed_case(g, {"X": arrays["X"]}, dims)
    from lossgraph.sympy_funcs import max_over
    j, i = sp.symbols("j i", integer=True)
    m = max_over(sp.IndexedBase("X")[i, j], (j, 0, sp.Symbol("C") - 1))
    assert j not in m.free_symbols and {i, sp.Symbol("C")} <= m.free_symbols
    assert sp.diff(m, sp.Symbol("z")) == 0 and isinstance(sp.diff(m, i), sp.Derivative)
    x = lg.input("x", shape=("N",))
    g, = lg.gradients(lg.max(lg.where(x > 0, x, 0.0)), [x])
    assert balanced(lg.latex(g))
    with pytest.raises(SymbolicError, match="bound index"):
        lg.to_sympy(g)   # SymPy's piecewise_fold would move j out of the max's range


def test_latex_keeps_templates_for_elementwise_and_large_graphs():
    x = lg.input("x", ("N",))
    assert lg.latex(lg.sigmoid(x) - 1.0) == r"\sigma\left(x\right) - 1"
    big = x
    for k in range(40):
        big = lg.exp(big) + lg.sum(big) * float(k)
    tex = lg.latex(big)
    assert r"\begin{aligned}" in tex and balanced(tex)


# --- random elementwise graphs

UNARY = [lg.exp, lg.tanh, lg.sigmoid, lg.softplus, lg.negative, lg.square, lg.abs,
         lambda a: lg.log1p(lg.square(a)), lambda a: lg.sqrt(lg.abs(a) + 1.0),
         lambda a: lg.clip(a, -1.0, 2.0)]
BINARY = [lg.add, lg.subtract, lg.multiply, lg.maximum, lg.minimum,
          lambda a, b: a / (1.0 + lg.square(b)), lambda a, b: lg.where(a > b, a, 0.5 * b)]


@st.composite
def elementwise_graphs(draw):
    # constants on a grid of 1e-3: SymPy's exact arithmetic keeps a tiny one that floats
    # absorb (x + 5.5e-202 > x is true for SymPy, false for x != 0 in float64)
    pool = [lg.input("x", ("N",)), lg.input("t", ("N",)),
            lg.constant(draw(st.floats(-3, 3, allow_nan=False).map(lambda c: round(c, 3))))]
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            pool.append(draw(st.sampled_from(UNARY))(draw(st.sampled_from(pool))))
        else:
            f = draw(st.sampled_from(BINARY))
            pool.append(f(draw(st.sampled_from(pool)), draw(st.sampled_from(pool))))
    return pool[-1]


@settings(max_examples=40, deadline=None)
@given(elementwise_graphs())
def test_random_elementwise_graphs_through_sympy(f):
    x, t = lg.input("x", ("N",)), lg.input("t", ("N",))
    arrays = {"x": np.linspace(-2.5, 2.5, 7), "t": np.linspace(1.7, -0.9, 7)}

    def run(g):
        used = {n.name for n in lg.inputs_of([g])}
        return np.broadcast_to(lg.evaluate(g, {k: v for k, v in arrays.items() if k in used}),
                               (7,))
    want = run(f)
    expr = lg.to_sympy(f)
    got = lambdify(sp.symbols("x t", real=True), expr)(arrays["x"], arrays["t"])
    assert_close(np.broadcast_to(got, want.shape), want, rtol=1e-9, atol=1e-12)
    assert_close(run(lg.from_sympy(expr, [x, t])), want, rtol=1e-9, atol=1e-12)


def test_edge_values_convert():
    x = lg.input("x", ("N",))
    s = lg.input("s")
    X = sp.Symbol("x", real=True)
    assert lg.to_sympy(lg.maximum(x, np.nan)) is sp.nan            # np.maximum propagates nan
    assert lg.to_sympy(x > np.nan) is sp.false and lg.to_sympy(lg.not_equal(x, np.nan)) is sp.true
    assert lg.to_sympy(lg.max(s)) == sp.Symbol("s", real=True)     # a reduction over no axes
    from lossgraph.sympy_funcs import softplus
    assert lg.to_sympy(lg.maximum(x, lg.softplus(lg.constant(1.0)))) == sp.Max(X, softplus(1))
    assert lg.latex(lg.square(lg.sigmoid(lg.sum(x)))) == r"\sigma\left(\sum x\right)^{2}"


@settings(max_examples=30, deadline=None)
@given(random_graphs())
def test_random_graphs_and_gradients_print(outs):
    for out in outs:
        grads = lg.gradients(lg.sum(out), lg.inputs_of([out]))
        for node in [out, *grads]:
            assert balanced(lg.latex(node))
            try:
                lg.to_sympy(node)
            except SymbolicError as e:  # the refusals: a where in a max in a condition, or
                # SymPy's Piecewise folding of such a where past Python's recursion limit
                assert "bound index" in str(e) or "recursion depth" in str(e)


def test_xlogy_latex_parenthesizes_a_sum_factor():
    z, p = lg.input("z", shape=()), lg.input("p", shape=())
    assert lg.latex(lg.xlogy(1 - z, p)) == r"\left(1 - z\right) \log\left(p\right)"
    assert lg.latex(lg.xlogy(z, p)) == r"z \log\left(p\right)"
