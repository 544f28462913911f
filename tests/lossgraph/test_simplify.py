"""simplify / explain / guard_nans: every rule keeps values, shapes and dtypes; textbook forms
live in test_textbook_gradients.py."""
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import lossgraph as lg
from lossgraph.patterns import RULES
from lossgraph.graph import make

RNG = np.random.default_rng(3)
a, b = lg.input("a", shape=(3,)), lg.input("b", shape=(3,))
s = lg.input("s", shape=())
m = lg.input("m", shape=(2, 3))
LABELS = lg.constant(np.array([2, 0]))
FEED = dict(a=RNG.uniform(0.2, 2.0, 3), b=RNG.uniform(-2.0, 2.0, 3), s=np.float64(0.7),
            m=RNG.normal(size=(2, 3)))

# one expression per rule that the rule applies to
EXAMPLES = {
    "add-zero": a + 0.0, "zero-add": 0.0 + a, "sub-zero": a - 0.0, "zero-sub": 0.0 - a,
    "sub-self": a - a, "mul-zero": m * 0.0, "zero-mul": 0.0 * s,
    "cast-same": make("cast", a, dtype=a.dtype),
    "mul-one": a * 1.0, "one-mul": 1.0 * a, "mul-minus-one": -1.0 * a,
    "div-one": a / 1.0, "pow-one": a ** 1.0, "pow-two": b ** 2.0, "pow-half": a ** 0.5,
    "mul-self": b * b, "neg-neg": -(-b), "log-exp": lg.log(lg.exp(b)),
    "exp-log": lg.exp(lg.log(lg.square(b))), "sqrt-square": lg.sqrt(lg.square(b)),
    "log-sigmoid": lg.log(lg.sigmoid(b)),
    "one-minus-sigmoid": 1.0 - lg.sigmoid(b), "log-softmax": lg.log(lg.softmax(m, axis=0)),
    "log-one-plus": lg.log(1.0 + a), "log-plus-one": lg.log(a + 1.0),
    "log1p-exp": lg.log1p(lg.exp(b)), "log-sum-exp": lg.log(lg.sum(lg.exp(m), axis=1)),
    "exp-minus-one": lg.exp(b) - 1.0,
    "sigmoid-mixture": (1.0 - a) * lg.sigmoid(b) - a * lg.sigmoid(-b),
    "one-over-one-plus-exp": 1.0 / (1.0 + lg.exp(-b)),
    "sum-normal-form": a + (-b), "product-normal-form": (a / s) * b,
    "linear-op-coefficient": lg.sum(-(m / 4.0)),
    "abs-nonnegative": lg.abs(lg.exp(b)), "abs-of-abs-or-neg": lg.abs(-b),
    "square-even": lg.square(lg.abs(b)), "min-max-self": lg.maximum(b, b),
    "clip-inactive": lg.clip(lg.sigmoid(b), 0.0, 1.0), "log-reciprocal": lg.log(1.0 / a),
    "tanh-from-sigmoid": 1.0 - 2.0 * lg.sigmoid(-2.0 * b),
    "tanh-from-sigmoid-2": 2.0 * lg.sigmoid(2.0 * b) - 1.0,
    "sum-of-broadcast-scalar": lg.sum(lg.broadcast_to(s, (2, 3)), axis=0),
    "where-decided": lg.where(lg.constant(True), a, b), "where-same": lg.where(a > 1.0, b, b),
    "where-not": lg.where(~(a > 1.0), a, b),
    "where-known-condition": lg.where(a > 1.0, lg.where(a > 1.0, a, b), b),
    "where-nested-merge": lg.where(a > 1.0, lg.where(b > 0.0, a, b), b),
    "where-nested-merge-else": lg.where(a > 1.0, b, lg.where(b > 0.0, b, a)),
    "where-is-min-max": lg.where(a <= 1.0, a, 1.0),
    "where-common-divisor": lg.where(a > 1.0, a / s, b / s),
    "comparison-decided": lg.where(lg.equal(lg.clip(b, 1e-7, 1.0), 0.0), a, b),
    "times-where-else": a * lg.where(a > 1.0, 0.0, b),
    "and-implied": lg.where(lg.logical_and(a > 1.0, lg.logical_and(a > 1.0, b > 0.0)), a, b),
    "constant-into-where": 1.5 + lg.where(a > 1.0, b - 1.5, 0.0),
    "where-is-clip": lg.where(lg.abs(b) <= 1.5, b, 1.5 * lg.sign(b)),
    "softmax-by-hand": lg.exp(m) / lg.sum(lg.exp(m), axis=1, keepdims=True),
    "log-picked-ratio": lg.log(lg.pick(lg.exp(m), LABELS, axis=1) / lg.sum(lg.exp(m), axis=1)),
    "log-pick-softmax": lg.log(lg.pick(lg.softmax(m, axis=1), LABELS, axis=1)),
    "pick-log-softmax": lg.pick(lg.log_softmax(m, axis=1), LABELS, axis=1),
    "sigmoid-by-hand": lg.exp(b) / (1.0 + lg.exp(b)),
    "sigmoid-by-hand-2": lg.exp(b) / (lg.exp(b) + 1.0),
    "one-over-one-plus-exp-pos": 1.0 / (1.0 + lg.exp(b)),
    "log-cosh-by-hand": lg.log((lg.exp(b) + lg.exp(-b)) / 2.0),
    "tanh-by-hand": (lg.exp(b) - lg.exp(-b)) / (lg.exp(b) + lg.exp(-b)),
    "log1p-minus-sigmoid": lg.log1p(-lg.sigmoid(b)), "log-one-minus": lg.log(1.0 - a / 4.0),
    "one-minus-exp": 1.0 - lg.exp(b), "log-add-exp": lg.log(lg.exp(a) + lg.exp(b)),
    "where-times": lg.where(a > 1.0, b, 0.0) * a, "times-where": a * lg.where(a > 1.0, b, 0.0),
    "where-times-else": lg.where(a > 1.0, 0.0, b) * a,
    "complementary-wheres": lg.where(a > 1.0, b, 0.0) + lg.where(a > 1.0, 0.0, a),
    "complementary-wheres-swapped": lg.where(a > 1.0, 0.0, a) + lg.where(a > 1.0, b, 0.0),
    "reshape-of-broadcast-scalar": lg.reshape(lg.broadcast_to(s, (2, 3)), (6,)),
    "reshape-reshape": lg.reshape(lg.reshape(m, (3, 2)), (6,)),
    "broadcast-broadcast": lg.broadcast_to(lg.broadcast_to(s, (3,)), (2, 3)),
    "transpose-transpose": lg.transpose(lg.transpose(m)),
    "reduce-nothing": lg.sum(a, axis=()),
    "implicit-broadcast": lg.broadcast_to(s, (3,)) * a,
    "elementwise-of-broadcast-scalars": lg.exp(lg.broadcast_to(s, (2, 3))),
    "sum-of-sum": lg.sum(lg.sum(m, axis=1)),
    "constant-fold": lg.exp(lg.constant(0.0)) + a,
    # matmul (lossgraph/rules/linalg.py)
    "matmul-scalar-left": (s * m) @ a, "matmul-scalar-left-after": (m * s) @ a,
    "matmul-scalar-right": m @ (s * a), "matmul-scalar-right-after": m @ (a * s),
    "matmul-divisor-left": (m / s) @ a, "matmul-divisor-right": m @ (a / s),
    "matmul-negative-left": (-m) @ a, "matmul-negative-right": m @ (-a),
}


RULE_FILES = {f.name for f in (Path(lg.__file__).parent / "rules").glob("*.py")}


def test_every_rule_has_an_example_a_doc_and_an_origin():
    names = [r.name for r in RULES]
    assert len(names) == len(set(names)), "rule names must be unique"
    missing = sorted(set(names) - set(EXAMPLES))
    assert not missing, f"rules without an example in this test: {missing}"
    for r in RULES:
        assert r.doc and r.phase in ("fold", "algebra", "stability", "tidy")
        assert r.origin.split(":")[0] in RULE_FILES, r.origin


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_rule_fires_and_keeps_value_shape_dtype(name):
    expr = EXAMPLES[name]
    report = lg.explain(expr)
    assert name in report.rules, f"{name} did not fire: {report.rules}"
    out = report.result
    assert out.shape == expr.shape and out.dtype == expr.dtype
    feed = {k: v for k, v in FEED.items() if k in {n.name for n in lg.inputs_of([expr])}}
    before = lg.evaluate(expr, feed)
    after = lg.evaluate(out, {k: v for k, v in feed.items()
                              if k in {n.name for n in lg.inputs_of([out])}})
    np.testing.assert_allclose(after, before, rtol=1e-12, atol=1e-14)


def test_a_sum_of_cast_broadcast_true_is_the_count():
    """TF's mean over nonzero weights of default weights 1 counts the batch: sum(cast(True
    broadcast to (N,))) is N, so no loop is left to count it."""
    x = lg.input("x", shape=("N",))
    ones = lg.sum(lg.cast(lg.broadcast_to(lg.constant(True), x.shape), "float"))
    out = lg.simplify(ones * lg.sum(x))
    assert "cast" not in str(out) and "broadcast_to" not in str(out)
    assert lg.evaluate(out, {"x": np.arange(4.0)}) == 24.0


@pytest.mark.parametrize("inner, outer, merged", [
    ((1, False), (None, False), "sum(x)"),
    ((1, False), (0, False), "sum(x, axis=(0, 1))"),
    ((1, False), (1, False), "sum(x, axis=(1, 2))"),
    ((1, True), (2, True), "sum(x, axis=(1, 2), keepdims=True)"),
    ((1, True), (1, False), "sum(x, axis=1)"),
    ((1, True), (2, False), None),             # axis 1 stays as size 1: two sums
    ((2, False), (1, True), None)])
def test_sum_of_sum_merges_when_one_sum_has_the_shape(inner, outer, merged):
    x = lg.input("x", shape=("N", 3, 4))
    expr = lg.sum(lg.sum(x, axis=inner[0], keepdims=inner[1]), axis=outer[0],
                  keepdims=outer[1])
    out = lg.simplify(expr)
    assert str(out) == (merged or str(expr))
    xa = np.random.default_rng(0).normal(size=(5, 3, 4))
    want = lg.evaluate(expr, {"x": xa})
    got = lg.evaluate(out, {"x": xa})
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_log_one_minus_sigmoid_becomes_minus_softplus():
    assert lg.simplify(lg.log(1.0 - lg.sigmoid(b))) is -lg.softplus(b)
    assert lg.simplify(lg.log(lg.sigmoid(b))) is -lg.softplus(-b)


def test_exp_log_needs_a_known_nonnegative_argument():
    assert lg.simplify(lg.exp(lg.log(b))) is lg.exp(lg.log(b))


def test_simplify_is_idempotent_and_keeps_lists():
    g1, g2 = lg.simplify([a + 0.0, -(-b)])
    assert g1 is a and g2 is b
    out = lg.simplify(lg.log(lg.sigmoid(b)))
    assert lg.simplify(out) is out


def test_explain_reports_nothing_for_simple_graphs():
    report = lg.explain(a + b)
    assert len(report) == 0 and "already simplified" in str(report)


def test_stability_rewrites_fix_overflow():
    x = lg.input("x", shape=(4,))
    naive = lg.log(lg.sum(lg.exp(x)))
    xs = np.array([1000.0, 999.0, -5.0, 0.0])
    assert not np.isfinite(lg.evaluate(naive, x=xs))
    np.testing.assert_allclose(lg.evaluate(lg.simplify(naive), x=xs),
                               1000 + np.log1p(np.exp(-1.0) + np.exp(-1005.0) + np.exp(-1000.0)))


# --- NaN guard ---------------------------------------------------------------------------
@pytest.mark.parametrize("f, safe_at", [(lg.log, 0.0), (lg.sqrt, 0.0), (lambda v: 1.0 / v, 0.0),
                                        (lg.log1p, -1.0), (lambda v: lg.xlogy(1.0, v), 0.0)])
def test_gradient_through_inactive_singular_branch_is_zero(f, safe_at):
    x = lg.input("x", shape=(3,))
    y = lg.sum(lg.where(x > safe_at, f(x), 0.0))
    g = lg.evaluate(lg.gradients(y, x), x=np.array([safe_at, safe_at - 1.0, safe_at + 1.0]))
    assert np.all(np.isfinite(g))
    assert g[0] == 0.0 and g[1] == 0.0


def test_guard_reaches_singular_ops_deeper_in_the_branch():
    """x log x (entropy terms) and 2 sqrt(x) + 1/x: the singular op is not the branch's root."""
    x = lg.input("x", shape=(3,))
    y = lg.sum(lg.where(x > 0, x * lg.log(x), 0.0) +
               lg.where(x <= 0, 0.0, 2.0 * lg.sqrt(x) + 1.0 / x))
    xs = np.array([0.0, -1.0, 2.0])
    g = lg.evaluate(lg.gradients(y, x), x=xs)
    np.testing.assert_allclose(g, [0.0, 0.0, np.log(2.0) + 1.0 + 1 / np.sqrt(2.0) - 0.25])
    np.testing.assert_allclose(lg.evaluate(lg.guard_nans(y), x=xs), 2 * np.log(2.0) +
                               2 * np.sqrt(2.0) + 0.5)


def test_guard_nans_keeps_forward_values():
    x = lg.input("x", shape=(4,))
    y = lg.where(x > 0, lg.log(x), -x) + lg.where(x <= 0, 0.0, lg.sqrt(x))
    xs = np.array([-1.0, 0.0, 0.5, 2.0])
    np.testing.assert_array_equal(lg.evaluate(lg.guard_nans(y), x=xs), lg.evaluate(y, x=xs))


def test_logsumexp_of_masked_row_has_finite_gradient():
    x = lg.input("x", shape=(2, 3))
    mask = np.array([[True, False, True], [False, False, False]])
    y = lg.sum(lg.logsumexp(lg.where(mask, x, -np.inf), axis=1) * np.array([1.0, 0.0]))
    g = lg.evaluate(lg.gradients(y, x), x=np.zeros((2, 3)))
    np.testing.assert_allclose(g, [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])


# --- deep graphs -------------------------------------------------------------------------
def test_deep_chain_has_no_recursion_error():
    """Three times Python's recursion limit deep: simplify, gradients and evaluate iterate."""
    x = lg.input("x", shape=())
    y = x
    for i in range(3 * sys.getrecursionlimit()):
        y = lg.tanh(y) * 1.0 + 0.0 if i % 2 else y + 1e-4
    out = lg.simplify(y)
    g = lg.gradients(out, x)
    assert np.isfinite(lg.evaluate(g, x=np.float64(0.3)))


# --- random graphs: simplify never changes a value ---------------------------------------
UNARY = [lg.negative, lg.exp, lg.sigmoid, lg.softplus, lg.tanh, lg.square, lg.abs,
         lambda v: lg.log(1.0 + lg.square(v)), lambda v: lg.log(lg.sigmoid(v)),
         lambda v: lg.sum(v, axis=-1, keepdims=True), lambda v: lg.logsumexp(v, axis=-1,
                                                                              keepdims=True),
         lambda v: lg.log(lg.softmax(v, axis=-1))]
BINARY = [lg.add, lg.subtract, lg.multiply, lambda u, v: u / (1.0 + lg.square(v)),
          lg.maximum, lg.minimum]
LEAVES = [a, b, m, s, lg.constant(0.0), lg.constant(1.0), lg.constant(2.0), lg.constant(-1.0)]


@st.composite
def graphs(draw, depth=4):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(LEAVES))
    if draw(st.booleans()):
        child = draw(graphs(depth=depth - 1))
        try:
            return draw(st.sampled_from(UNARY))(child)
        except lg.OptionError:            # an axis=-1 op on a scalar
            return child
    left, right = draw(graphs(depth=depth - 1)), draw(graphs(depth=depth - 1))
    try:
        return draw(st.sampled_from(BINARY))(left, right)
    except lg.ShapeError:
        return left


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_simplify_never_changes_a_value(expr):
    expr = lg.as_node(expr)
    names = {n.name for n in lg.inputs_of([expr])}
    before = lg.evaluate(expr, {k: v for k, v in FEED.items() if k in names})
    assume(np.all(np.isfinite(before)))
    out = lg.simplify(expr)
    assert out.shape == expr.shape and out.dtype == expr.dtype
    out_names = {n.name for n in lg.inputs_of([out])}
    after = lg.evaluate(out, {k: v for k, v in FEED.items() if k in out_names})
    np.testing.assert_allclose(after, before, rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(graphs())
def test_simplify_never_changes_a_gradient(expr):
    y = lg.sum(lg.as_node(expr))
    wrt = lg.inputs_of([y])
    assume(wrt)
    grads = lg.gradients(y, wrt)

    def run(nodes):
        names = {n.name for n in lg.inputs_of(nodes)}
        return lg.evaluate(nodes, {k: v for k, v in FEED.items() if k in names})
    before = run(grads)
    assume(all(np.all(np.isfinite(v)) for v in before))
    out = lg.simplify(grads)
    assert [(o.shape, o.dtype) for o in out] == [(g.shape, g.dtype) for g in grads]
    for got, want in zip(run(out), before):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_docs_list_every_rule():
    """docs/stability.md ends with the generated rule tables (regenerate: keep its prose head
    and append lossgraph.rewrite.rules_markdown())."""
    from lossgraph.rewrite import rules_markdown
    text = (Path(__file__).resolve().parents[2] / "docs" / "stability.md").read_text()
    assert text.endswith(rules_markdown()), "docs/stability.md is out of date"
    for r in RULES:
        assert f"`{r.name}`" in text
