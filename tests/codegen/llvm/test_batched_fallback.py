"""Fallback steps of per-sample ops (the op record's `batch`: CTC) in two halves of the batch
on two threads (codegen.llvm.batched): the bits of one call and of lg.evaluate, one forward
recursion per half shared by ctc_loss and ctc_grad, none kept for a loss alone, and errors
that name the sample by its index in the whole batch."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import batched
from lossgraph.ops import OPS
from lossgraph.ops import ctc as ctc_ops
from lossgraph.pipeline import derive

from ..test_ctc_shared_forward import _counted as _forwards

T, N, C, S = 8, 9, 5, 3


def _nodes():
    return (lg.input("lp", (T, N, C)), lg.input("labels", (N, S), "int64"),
            lg.input("in_len", (N,), "int64"), lg.input("lab_len", (N,), "int64"))


def _feed(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=(T, N, C))
    return {"lp": x - np.log(np.exp(x).sum(-1, keepdims=True)),
            "labels": rng.integers(1, C, size=(N, S)),
            "in_len": rng.integers(S + 2, T + 1, size=N),
            "lab_len": rng.integers(0, S + 1, size=N)}


@pytest.fixture
def split_small(monkeypatch):
    """Every CTC step splits (SPLIT_FROM 1); the halves the worker ran, counted."""
    monkeypatch.setattr(batched, "SPLIT_FROM", 1)
    ran, real = [], batched._worker

    class Counting:
        def submit(self, fn, *args, **kw):
            ran.append(args[0].op)
            return real().submit(fn, *args, **kw)
    monkeypatch.setattr(batched, "_worker", Counting)
    return ran


def test_two_halves_give_the_bits_of_one_call_and_of_evaluate(split_small, monkeypatch):
    lp, labels, in_len, lab_len = _nodes()
    loss = lg.mean(ctc_ops.ctc_loss(lp, labels, in_len, lab_len))
    feed = _feed()
    one = codegen.compile(loss, wrt=[lp], backend="llvm", threads=1)(**feed)
    calls = _forwards(monkeypatch)
    two = codegen.compile(loss, wrt=[lp], backend="llvm", threads=2)(**feed)
    assert split_small == ["ctc_loss", "ctc_grad"]
    assert calls == [True, True]            # one forward per half, kept for its gradient
    assert one[0] == two[0]
    np.testing.assert_array_equal(one[1][0], two[1][0])
    y, (g,) = derive(loss, [lp])
    want_v, want_g = lg.evaluate([y, g], feed)
    assert two[0] == want_v
    np.testing.assert_array_equal(two[1][0], want_g)


def test_a_loss_alone_in_halves_keeps_no_alpha(split_small, monkeypatch):
    lp, labels, in_len, lab_len = _nodes()
    per_sample = ctc_ops.ctc_loss(lp, labels, in_len, lab_len)
    feed = _feed(1)
    calls = _forwards(monkeypatch)
    got = codegen.compile(per_sample, backend="llvm", threads=2)(**feed)
    assert split_small == ["ctc_loss"] and calls == [False, False]
    np.testing.assert_array_equal(got, lg.evaluate(per_sample, feed))


def test_an_error_in_the_second_half_names_the_sample_in_the_batch(split_small):
    lp, labels, in_len, lab_len = _nodes()
    loss = lg.mean(ctc_ops.ctc_loss(lp, labels, in_len, lab_len))
    feed = _feed(2)
    feed["in_len"] = feed["in_len"].copy()
    feed["in_len"][N - 2] = T + 5
    k = codegen.compile(loss, wrt=[lp], backend="llvm", threads=2)
    with pytest.raises(lg.errors.InputError, match=f"got {T + 5} for sample {N - 2}"):
        k(**feed)


def test_one_thread_and_small_inputs_stay_whole(monkeypatch):
    ran = []
    monkeypatch.setattr(batched, "_worker", lambda: ran.append(1))
    lp, labels, in_len, lab_len = _nodes()
    loss = lg.mean(ctc_ops.ctc_loss(lp, labels, in_len, lab_len))
    codegen.compile(loss, wrt=[lp], backend="llvm", threads=2)(**_feed())   # below SPLIT_FROM
    monkeypatch.setattr(batched, "SPLIT_FROM", 1)
    codegen.compile(loss, wrt=[lp], backend="llvm", threads=1)(**_feed())
    assert not ran


def test_batch_axes_name_every_input():
    for name, op in OPS.items():
        if op.batch is not None:
            axes, out_axis = op.batch
            assert len(axes) == op.arity and isinstance(out_axis, int), name
