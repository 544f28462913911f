"""The rewriter's rule index and compiled matchers against the reference matcher, Rule.apply.

For every rule and every node of a corpus (the zoo's losses, their literal gradients and
hand-made corner cases): where the index offers the rule, its compiled function gives what
Rule.apply gives; where the index leaves a pattern rule out, Rule.apply finds no rewrite.
"""
import numpy as np
import pytest

import lossgraph as lg
from lossgraph import rewrite
from lossgraph.patterns import RULES
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
            lg.logical_and(x > 0, x > 1), lg.exp(x) / lg.exp(x)]


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
