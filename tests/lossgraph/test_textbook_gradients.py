"""Derived gradients read like the textbook after simplify (compared through SymPy)."""
import numpy as np
import sympy as sp

import lossgraph as lg
from lossgraph import sympy_funcs as S

def _same(node, build):
    """build(symbols by name) is the textbook form, over to_sympy's own symbols."""
    got = lg.to_sympy(node)
    syms = {s.name: s for s in got.free_symbols}
    expected = build(syms)
    assert sp.simplify(got - expected) == 0, f"{got} != {expected}"


def _clean(node):
    """No reshape/broadcast noise left, and few nodes."""
    ops = [n.op for n in lg.topo_order([node])]
    assert "broadcast_to" not in ops and "reshape" not in ops, ops
    return len(ops)


def test_bce_with_logits_mean():
    x, z = lg.input("x", shape=("N",)), lg.input("z", shape=("N",))
    g = lg.simplify(lg.gradients(lg.mean(lg.softplus(x) - x * z), x))
    _same(g, lambda s: (S.sigmoid(s["x"]) - s["z"]) / s["N"])
    assert _clean(g) == 6          # x, z, sigmoid, -, N, /
    assert str(g) == "(sigmoid(x) - z) / N"


def test_softmax_cross_entropy_mean():
    x = lg.input("x", shape=("N", "C"))
    y = lg.input("y", shape=("N",), dtype="int64")
    g = lg.simplify(lg.gradients(lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y, axis=1)), x))
    _same(g, lambda s: (S.softmax(s["x"]) - S.one_hot(s["y"])) / s["N"])
    assert _clean(g) == 7          # x, y, softmax, one_hot, -, N, /


def test_mse_mean():
    p, t = lg.input("p", shape=("N",)), lg.input("t", shape=("N",))
    g = lg.simplify(lg.gradients(lg.mean(lg.square(p - t)), p))
    _same(g, lambda s: 2 * (s["p"] - s["t"]) / s["N"])
    assert _clean(g) <= 7


def test_simplified_gradients_keep_their_values():
    rng = np.random.default_rng(0)
    x = lg.input("x", shape=("N", "C"))
    y = lg.input("y", shape=("N",), dtype="int64")
    loss = lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y, axis=1))
    g = lg.gradients(loss, x)
    feed = dict(x=rng.normal(size=(5, 4)), y=rng.integers(0, 4, 5))
    np.testing.assert_allclose(lg.evaluate(lg.simplify(g), feed), lg.evaluate(g, feed))


def test_naive_bce_becomes_stable_and_says_so():
    x, z = lg.input("x", shape=("N",)), lg.input("z", shape=("N",))
    naive = lg.mean(-(z * lg.log(lg.sigmoid(x)) + (1 - z) * lg.log(1 - lg.sigmoid(x))))
    report = lg.explain(naive)
    assert "log-sigmoid" in report.rules and "one-minus-sigmoid" in report.rules
    assert "log(sigmoid(x))  ->  -softplus(-x)" in str(report)
    xs = np.array([-200.0, -30.0, 0.0, 30.0, 200.0])
    zs = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    stable = lg.evaluate(report.result, x=xs, z=zs)
    ref = np.mean(np.logaddexp(0, xs) - xs * zs)
    np.testing.assert_allclose(stable, ref, rtol=1e-12)
    assert not np.isfinite(lg.evaluate(naive, x=xs, z=zs))    # the naive graph overflows
    g = lg.simplify(lg.gradients(report.result, x))
    assert str(g) == "(sigmoid(x) - z) / N"          # the same textbook form as from logits
    np.testing.assert_allclose(lg.evaluate(g, x=xs, z=zs), (1 / (1 + np.exp(-xs)) - zs) / 5,
                               atol=1e-15)


# --- the zoo's textbook targets (issue 11): each derived gradient, after simplify, is the form
# a person writes; compared by structure (hash-consing makes equal graphs the same object) and
# by value against the literal derivation.
import pytest  # noqa: E402
from zoo import losses as L  # noqa: E402

p, t = lg.input("p", shape=("N",)), lg.input("t", shape=("N",))
X, Y = lg.input("X", shape=("N", "C")), lg.input("Y", shape=("N", "C"))
P, T = lg.input("P", shape=("N", "C")), lg.input("T", shape=("N", "C"))
A, B, C = (lg.input(n, shape=("N", "D")) for n in "ABC")
N = lg.size(p)
RNG = np.random.default_rng(11)


def _feed(loss):
    out = {}
    for n in lg.inputs_of([loss]):
        shape = tuple(5 if d == "N" else 4 for d in n.shape)
        out[n.name] = RNG.uniform(0.05, 0.95, shape) if n.name in "PT" else RNG.normal(size=shape)
    return out


TARGETS = [
    ("log_cosh", lambda: L.log_cosh(p, t, reduction="mean"), p, lambda: lg.tanh(p - t) / N),
    ("huber", lambda: L.huber(p, t, delta=1.5, reduction="mean"), p,
     lambda: lg.clip(p - t, -1.5, 1.5) / N),
    ("huber, min form", lambda: lg.mean(0.5 * lg.square(lg.minimum(lg.abs(p - t), 1.5))
                                        + 1.5 * (lg.abs(p - t) - lg.minimum(lg.abs(p - t), 1.5))),
     p, lambda: lg.clip(p - t, -1.5, 1.5) / N),
    ("mse", lambda: L.squared_error(p, t, reduction="mean"), p, lambda: 2.0 * (p - t) / N),
    ("dense softmax CE", lambda: L.softmax_cross_entropy(X, Y, reduction="mean"), X,
     lambda: (lg.softmax(X, axis=1) * lg.sum(Y, axis=1, keepdims=True) - Y) / lg.size(X, 0)),
    ("bce with logits", lambda: L.sigmoid_cross_entropy(p, t, reduction="mean"), p,
     lambda: (lg.sigmoid(p) - t) / N),
    ("KL, clip inactive", lambda: L.kl_divergence(T, P, reduction="mean"), P,
     lambda: lg.where(lg.logical_and(P >= 1e-7, P <= 1.0), -(lg.clip(T, 1e-7, 1.0) / P), 0.0)
     / lg.size(P, 0)),
    ("triplet", lambda: L.triplet(A, B, C, reduction="mean"), A, None),
]


@pytest.mark.parametrize("name, make, wrt, target", TARGETS, ids=[t[0] for t in TARGETS])
def test_zoo_gradients_read_like_the_textbook(name, make, wrt, target):
    loss = make()
    g = lg.gradients(loss, wrt)                        # stable and simplified by default
    literal = lg.gradients(loss, wrt, simplify=False)  # the derivation as written
    if target is not None:
        expected = lg.simplify(target())
        assert g is expected, f"{name}: {g}  !=  {expected}"
    feed = _feed(loss)
    np.testing.assert_allclose(lg.evaluate([loss, g], feed)[1],
                               lg.evaluate([loss, literal], feed)[1], rtol=1e-10, atol=1e-14)


def test_triplet_and_cosine_compute_each_condition_once():
    g = lg.gradients(L.triplet(A, B, C, reduction="mean"), A)
    conds = [n for n in lg.topo_order([g]) if n.op == "greater_equal"]
    assert len(conds) == 1 and str(g).count(">=") == 1, str(g)
    g = lg.gradients(L.cosine_similarity(A, B, reduction="mean"), A)
    order = lg.topo_order([g])
    sqrts = [n for n in order if n.op == "sqrt"]
    assert len(sqrts) == 2, [str(s) for s in sqrts]     # ||A|| and ||B||, once each
    nested = [n for n in order if n.op == "where" and n.inputs[1].op == "where"
              and n.inputs[1].inputs[0] is n.inputs[0]]
    assert not nested, "a where nested in a where over the same condition"


def test_literal_naive_bce_gradient_simplifies_to_the_textbook():
    x, z = lg.input("x", shape=("N",)), lg.input("z", shape=("N",))
    naive = lg.mean(-(z * lg.log(lg.sigmoid(x)) + (1 - z) * lg.log(1 - lg.sigmoid(x))))
    literal = lg.gradients(naive, x, simplify=False)
    assert "sigmoid(-x)" in str(literal) or "/" in str(literal)   # the 0/0-prone form
    assert lg.simplify(literal) is lg.gradients(naive, x)
    assert str(lg.gradients(naive, x)) == "(sigmoid(x) - z) / N"


SMALL = [
    ("2 p / 2", lambda: 2 * p / 2, lambda: p),
    ("p + p", lambda: p + p, lambda: 2.0 * p),
    ("3 p - p", lambda: 3 * p - p, lambda: 2.0 * p),
    ("1 + -2 sigmoid", lambda: 1 + -2 * lg.sigmoid(p), lambda: 1.0 - 2.0 * lg.sigmoid(p)),
    ("|p| sign(p)", lambda: lg.abs(p) * lg.sign(p), lambda: p),
    ("sum(-(X / 4))", lambda: lg.sum(-(X / 4)), lambda: -(lg.sum(X) / 4.0)),
    ("nested where", lambda: lg.where(p > 0, lg.where(p > 0, p, t), t),
     lambda: lg.where(p > 0, p, t)),
    ("dead branch", lambda: lg.where(lg.equal(lg.clip(T, 1e-7, 1.0), 0.0), 0.0,
                                     lg.log(lg.clip(T, 1e-7, 1.0))),
     lambda: lg.log(lg.clip(T, 1e-7, 1.0))),
]


@pytest.mark.parametrize("name, make, target", SMALL, ids=[s[0] for s in SMALL])
def test_simplifier_finishes_the_job(name, make, target):
    got = lg.simplify(make())
    assert got is target(), f"{name}: {got}"
    assert "+ -" not in str(got)


def test_guard_nans_is_idempotent():
    from zoo.losses.divergence import norm
    loss = lg.sum(norm(A, 1)) + lg.sum(lg.where(p > 0, lg.log(p), 0.0))
    once = lg.guard_nans(loss)
    assert lg.guard_nans(once) is once


@pytest.mark.parametrize("k", [np.nan, np.inf, -np.inf, 2.225073858507e-311, 1e-300, 1e300])
def test_extreme_coefficients_keep_their_values(k):
    """Coefficients that are NaN, infinite or denormal go through the normal forms unharmed."""
    x = lg.input("x", shape=(3,))
    loss = lg.sum(x * k - x / 4.0)
    g = lg.gradients(loss, x)
    want = np.full(3, k - 0.25)
    np.testing.assert_array_equal(lg.evaluate([loss, g], x=np.ones(3))[1], want)
