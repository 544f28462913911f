"""ctc_loss and ctc_grad of the same inputs share one forward recursion (the ops' memo:
lossgraph.ops.ctc._forward_of) in lg.evaluate, the NumPy backend's source and the LLVM
backend's fallback steps: the same bits as each op run alone, one _forward per call, none
shared between CTC terms of different labels, and a loss alone keeps no alpha."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from lossgraph.ops import ctc as ctc_ops
from lossgraph.pipeline import derive

T, N, C, S = 9, 5, 6, 3


def _case(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=(T, N, C))
    lp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    labels = rng.integers(1, C, size=(N, S))
    return {"lp": lp, "labels": labels, "labels2": rng.integers(1, C, size=(N, S)),
            "in_len": np.array([9, 8, 9, 7, 9]), "lab_len": np.array([3, 2, 3, 1, 0])}


def _nodes():
    return (lg.input("lp", (T, N, C)), lg.input("labels", (N, S), "int64"),
            lg.input("labels2", (N, S), "int64"), lg.input("in_len", (N,), "int64"),
            lg.input("lab_len", (N,), "int64"))


def _counted(monkeypatch):
    """Calls of ctc._forward, with whether each kept alpha."""
    calls, real = [], ctc_ops._forward

    def forward(*args, keep=True):
        calls.append(keep)
        return real(*args, keep=keep)
    monkeypatch.setattr(ctc_ops, "_forward", forward)
    return calls


def _alone(loss, wrt, feed):
    """The loss and its gradient evaluated one op at a time, each in its own evaluate."""
    y, (g,) = derive(loss, wrt)
    return lg.evaluate(y, _of(y, feed)), lg.evaluate(g, _of(g, feed))


def _of(node, feed):
    return {n.name: feed[n.name] for n in lg.inputs_of([node])}


def _run(backend, loss, wrt, feed):
    if backend == "evaluate":
        y, grads = derive(loss, wrt)
        value, *grads = lg.evaluate([y, *grads], feed)
        return value, grads
    return codegen.compile(loss, wrt=wrt, backend=backend)(**feed)


@pytest.mark.parametrize("backend", ["evaluate", "llvm"])
def test_loss_and_gradient_run_one_forward_with_the_bits_of_each_alone(backend, monkeypatch):
    lp, labels, _, in_len, lab_len = _nodes()
    loss = lg.sum(ctc_ops.ctc_loss(lp, labels, in_len, lab_len))
    feed = {k: v for k, v in _case().items() if k != "labels2"}
    want_v, want_g = _alone(loss, [lp], feed)
    calls = _counted(monkeypatch)
    value, (grad,) = _run(backend, loss, [lp], feed)
    assert calls == [True]                  # once, alpha kept for the gradient
    assert value == want_v
    np.testing.assert_array_equal(grad, want_g)


@pytest.mark.parametrize("backend", ["evaluate", "llvm"])
def test_a_loss_alone_keeps_no_alpha(backend, monkeypatch):
    lp, labels, _, in_len, lab_len = _nodes()
    loss = lg.sum(ctc_ops.ctc_loss(lp, labels, in_len, lab_len))
    feed = {k: v for k, v in _case().items() if k != "labels2"}
    calls = _counted(monkeypatch)
    got = lg.evaluate(loss, feed) if backend == "evaluate" else \
        codegen.compile(loss, backend=backend)(**feed)
    assert calls == [False]
    assert got == lg.evaluate(loss, feed)


@pytest.mark.parametrize("backend", ["evaluate", "numpy", "llvm"])
def test_terms_of_other_labels_share_nothing(backend):
    """Two CTC terms over the same log-probs and other labels: each its own forward (the
    memo holds one entry per blank, checked against the labels and lengths it was made
    from), so the sum and its gradient are those of the terms evaluated apart."""
    lp, labels, labels2, in_len, lab_len = _nodes()
    first = lg.sum(ctc_ops.ctc_loss(lp, labels, in_len, lab_len))
    second = lg.sum(ctc_ops.ctc_loss(lp, labels2, in_len, lab_len))
    feed = _case(1)
    value, (grad,) = _run(backend, first + 2 * second, [lp], feed)
    assert grad.shape == (T, N, C)
    parts = [_alone(term, [lp], feed) for term in (first, second)]
    np.testing.assert_allclose(value, parts[0][0] + 2 * parts[1][0], rtol=1e-13)
    np.testing.assert_allclose(grad, parts[0][1] + 2 * parts[1][1], rtol=1e-13, atol=1e-15)


def test_numpy_source_passes_one_memo_to_both_ops_and_none_to_a_loss_alone():
    lp, labels, _, in_len, lab_len = _nodes()
    loss = lg.sum(ctc_ops.ctc_loss(lp, labels, in_len, lab_len))
    both = codegen.compile(loss, wrt=[lp]).source
    assert both.count("ctc_memo = {}") == 1 and both.count("memo=ctc_memo)") == 2
    assert "ctc_memo" not in codegen.compile(loss).source
    feed = {k: v for k, v in _case().items() if k != "labels2"}
    value, (grad,) = codegen.compile(loss, wrt=[lp])(**feed)
    want_v, want_g = _alone(loss, [lp], feed)
    assert value == want_v
    np.testing.assert_array_equal(grad, want_g)
