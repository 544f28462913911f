"""The rewriter's rule index and compiled matchers against the reference matcher, Rule.apply.

For every rule and every node of a corpus (the zoo's losses, their literal gradients and
hand-made corner cases): where the index offers the rule, its compiled function gives what
Rule.apply gives; where the index leaves a pattern rule out, Rule.apply finds no rewrite.
"""
import threading

import numpy as np
import pytest

import lossgraph as lg
from lossgraph import rewrite
from lossgraph.graph import make
from lossgraph.patterns import NEEDS_NODE, RULES, P, Rule, Var
from lossgraph.rules import linear
import zoo.inventory as inv
import zoo.losses as losses


def _corner_cases():
    x, y = lg.input("x", shape=("N",)), lg.input("y", shape=("N",))
    c = lg.input("c", shape=("N",), dtype="bool")
    m = lg.input("m", shape=("N", 3))
    one, zero = lg.constant(1.0), lg.constant(0.0)
    ones = lg.broadcast_to(one, ("N",))
    w = lg.where(c, x, 0.0)
    return [x * x, x - x, x * 1.0, 1.0 * x, x * 0.0, 0.0 * x, -1.0 * x, x + 0.0, 0.0 + x,
            x - 0.0, 0.0 - x, x / 1.0, x ** 1.0, x ** 2.0, x ** 0.5, x * ones,
            lg.multiply(ones, x), lg.add(x, lg.broadcast_to(zero, ("N",))), one * one,
            lg.constant(np.array([1.0, 1.0])) * lg.constant(np.array([2.0, 1.0])),
            lg.where(c, x, x), lg.where(c, x, y), 1.5 + w, w - 1.5, w + w, x + w,
            lg.minimum(x, x), lg.maximum(x, y), lg.abs(lg.abs(x)), lg.abs(x * x),
            lg.clip(lg.sigmoid(x), -1.0, 2.0), lg.sum(m * 2.0, axis=1), lg.sum(x / 4.0),
            w * y, y * w, lg.log(lg.sigmoid(x)), lg.sigmoid(x) * lg.sigmoid(x),
            lg.logical_and(x > 0, x > 1), lg.exp(x) / lg.exp(x), lg.exp(ones), ones - one,
            lg.cast(lg.broadcast_to(lg.constant(True), ("N",)), "float")]


def _corpus():
    roots = _corner_cases()
    for name in inv.canonical_names():
        fn = getattr(losses, name)
        try:
            args = inv.sample_inputs(name, fn)
            y = fn(**args)
        except lg.LossgraphError:
            continue
        y = y if y.shape == () else lg.mean(y)
        roots.append(y)
        ws = [a for a in args.values() if lg.dtypes.is_float(a.dtype)]
        if ws:
            roots += lg.gradients(y, ws, simplify=False)
    return lg.topo_order(roots)


CORPUS = _corpus()


def _outcome(fn, node):
    try:
        return fn(node)
    except Exception as e:  # noqa: BLE001 (both sides must fail alike)
        return type(e)


@pytest.mark.parametrize("r", RULES, ids=lambda r: r.name)
def test_index_and_compiled_rule_agree_with_rule_apply(r):
    offered = excluded = 0
    for node in CORPUS:
        if any(c is r for c, _ in rewrite._candidates(node)):
            offered += 1
            assert _outcome(r.indexed(), node) is _outcome(r.apply, node), lg.to_text(node)
        elif r.pattern.ops is not None:     # generic rules: admits is their definition
            excluded += 1
            assert _outcome(r.apply, node) is None, lg.to_text(node)
    assert offered + excluded > 0


def test_corpus_reaches_the_flat_and_same_input_paths():
    """The corner cases exercise what the index prunes (x * x where the ops differ, a
    constant beside a where) and what the flat matchers decide (x * 1, 0 - x)."""
    names = {r.name for n in CORPUS for r, f in rewrite._candidates(n) if f(n) is not None}
    assert {"mul-self", "sub-self", "mul-one", "zero-sub", "constant-into-where",
            "where-same"} <= names


@pytest.mark.parametrize("r", [r for r in RULES if r.build_on_inputs is not None],
                         ids=lambda r: r.name)
def test_rule_on_inputs_agrees_with_rule_apply(r):
    """A rule answered before its node is built (the normal forms) gives what the built node
    gives: the same result, or no rewrite (None; apply may give the node back), or asks for
    the node (NEEDS_NODE)."""
    asked = 0
    for node in CORPUS:
        if node.attrs or not any(c is r for c, _ in rewrite._candidates(node)):
            continue
        got, want = _outcome(lambda n: r.on_inputs()(n, list(n.inputs)), node), \
            _outcome(r.apply, node)
        if got is NEEDS_NODE:
            continue
        asked += 1
        assert got is want or got is None and want in (None, node), lg.to_text(node)
    assert asked > 0


def _commute_rule():
    """x * y -> y * x, on the built node and on the inputs alone: a rule that undoes itself."""
    swap = lambda x, y: make("multiply", y, x)  # noqa: E731
    return Rule("commute", P("multiply", Var("x"), Var("y")), swap, "x y -> y x", "tidy",
                build_on_inputs=lambda node, inputs: swap(*inputs))


@pytest.mark.parametrize("built", [True, False], ids=["built", "unbuilt"])
def test_rules_undoing_each_other_stop_whether_or_not_the_node_was_built(monkeypatch, built):
    """x y -> y x -> x y: the walk stops at y x, also when x y was rewritten before it was
    built (its rewrite known by content: without that, the walk would not end)."""
    x, y = lg.input(f"cx{built}", shape=("N",)), lg.input(f"cy{built}", shape=("N",))
    r = _commute_rule()
    key = ("multiply", "input", "input")
    monkeypatch.setitem(rewrite._CANDIDATES, key, [(r, r.indexed())])
    monkeypatch.delitem(rewrite._SPLITS, key, raising=False)
    node = x * y if built else (x * 1.0) * y      # x * 1 -> x: a changed input, x y unbuilt
    got = []
    walk = threading.Thread(target=lambda: got.append(lg.simplify(node)), daemon=True)
    walk.start()
    walk.join(timeout=30)
    rewrite._SPLITS.pop(key, None)
    assert not walk.is_alive(), "simplify did not end"
    assert got[0] is y * x


def test_products_the_product_rule_marks_as_fixed_are_its_fixpoints():
    """A product normal_product builds and marks (k * prod(nums)) has the monomial it was
    built from, and the rule, asked again with the mark removed, leaves it alone."""
    x, y = lg.input("fx", shape=("N",)), lg.input("fy", shape=("N",))
    nodes = [n for n in CORPUS if n.op in ("multiply", "divide")]
    nodes += [lg.tanh(x) * 3.0, (lg.tanh(x) * lg.sigmoid(y)) * 0.75, (x * y) * -2.5,
              (lg.abs(x) * lg.sign(x)) * 3.0, (x / y) * 3.0, (lg.exp(x) * y) * (0.5 * y)]
    marked = 0
    for node in nodes:
        out = linear.normal_product(node)
        if out is None or out not in linear._FIXED:
            continue
        marked += 1
        seeded = linear._MONOMIALS[out]
        del linear._FIXED[out], linear._MONOMIALS[out]
        again = linear.monomial(out)
        assert (again.coef, again.nums, again.dens) == (seeded.coef, seeded.nums, seeded.dens)
        assert linear.normal_product(out) is None, lg.to_text(out)
    assert marked >= 3


def test_a_zero_coefficient_keeps_its_sign_whichever_zero_was_asked_for_first():
    """0.0 == -0.0 (one dict key), yet they are two constants (1 / c differs): the
    coefficient cache gives each its own node, in either order (it once gave the first)."""
    for first, second in ((-0.0, 0.0), (0.0, -0.0)):
        linear._CONSTANTS.clear()
        a, b = linear._const(first), linear._const(second)
        for k, node in ((first, a), (second, b)):
            assert node is lg.constant(k)
            assert np.signbit(node.attrs["value"]) == np.signbit(k)
    x = lg.input("zx", shape=("N",))
    linear._CONSTANTS.clear()
    linear._const(-0.0)
    two = linear._build_pair(linear.Monomial(0.0, (x,), ()), linear.Monomial(-1.0, (), ()))
    linear._CONSTANTS.clear()
    assert two is linear._build_pair(linear.Monomial(0.0, (x,), ()), linear.Monomial(-1.0, (), ()))


def test_two_term_sums_build_as_the_general_sum_builder_does():
    """_build_pair(m0, m1) is _build_terms([m0, m1]) over monomials with shared factors above
    and below, opposite and equal signs, equal and unequal sizes, nan and zero coefficients."""
    x, y, z = (lg.input(f"bp{c}", shape=("N",)) for c in "xyz")
    s, t = lg.sigmoid(x), lg.tanh(y)
    factors = [(), (s,), (s, t), (t, s), (s, z), (z,), (s, s)]
    coefs = [1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 0.75, 3.0, float("nan"), 0.0]
    M = linear.Monomial
    cases = 0
    for n0 in factors:
        for n1 in factors:
            for d0, d1 in [((), ()), ((z,), (z,)), ((t,), ()), ((z, t), (t,))]:
                for c0 in coefs:
                    for c1 in coefs:
                        if not (n0 or d0) and not (n1 or d1):
                            continue
                        m0, m1 = M(c0, n0, d0), M(c1, n1, d1)
                        got = _outcome(lambda ms: linear._build_pair(*ms), (m0, m1))
                        want = _outcome(linear._build_terms, [m0, m1])
                        assert got is want, (c0, n0, d0, c1, n1, d1)
                        cases += 1
    assert cases > 1000


def test_simplify_of_a_large_graph_leaves_its_nodes_free():
    """The normal-form memos are dropped when a simplify ends with more than MEMO_KEPT
    entries: the simplified gradient's nodes die with the last reference to them."""
    import gc
    import weakref
    x = lg.input("freed", shape=("N",))
    y = x
    for i in range(linear.MEMO_KEPT // 2):
        y = lg.tanh(y) * 1.0 + 0.0 if i % 2 else y * 0.625 + lg.sigmoid(y)
    g = lg.gradients(lg.sum(y), x, simplify=False)
    s = lg.simplify(g)
    products = [weakref.ref(n) for n in lg.topo_order([s]) if n.op == "multiply"]
    del g, y, s
    gc.collect()
    assert products and all(p() is None for p in products)
