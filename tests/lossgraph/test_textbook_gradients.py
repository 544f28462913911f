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
