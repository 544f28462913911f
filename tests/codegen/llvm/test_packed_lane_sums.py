"""Packed rows with a whole-nest sum over the lanes (codegen.llvm.packed: layout's _lane_sum,
PackedRows.lane_sum): a dense-label softmax CE, sum(t log_softmax(x)), packs like the sparse
one. Checked against lg.evaluate for the row lengths that pack, row counts around the group
size (a chunk smaller than a group, an overlapping last group whose rows must be summed
once), NaN and inf rows, and the same bits on one thread and two."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
import zoo.losses as L
from codegen.llvm import drive, packed
from lossgraph.pipeline import derive

from .host import LANES

ELEM = {"float32": "float", "float64": "double"}


def _dense_ce(classes):
    x = lg.input("x", shape=("N", classes))
    t = lg.input("t", shape=("N", classes))
    return x, lg.mean(L.softmax_cross_entropy(x, t))


def _feed(rows, classes, dtype, seed):
    rng = np.random.default_rng(seed)
    t = rng.random((rows, classes))
    return {"x": (4 * rng.normal(size=(rows, classes))).astype(dtype),
            "t": (t / t.sum(axis=1, keepdims=True)).astype(dtype)}      # soft targets


def _want(loss, x, feed):
    y, (g,) = derive(loss, [x])
    return lg.evaluate([y, g], feed)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("classes", [3, 7, 10, 16, 20])
def test_dense_label_softmax_ce_packs_and_matches_evaluate(classes, dtype):
    x, loss = _dense_ce(classes)
    k = codegen.compile(loss, wrt=[x], backend="llvm", dtype=dtype, threads=1)
    group = packed.group(classes, LANES[dtype])
    width = classes * group
    tol = 2e-6 if dtype == "float32" else 1e-14
    for rows in sorted({1, group - 1, group, group + 1, 5 * group + 3}):
        feed = _feed(rows, classes, dtype, seed=classes + rows)
        v, (g,) = k(**feed)
        want_v, want_g = _want(loss, x, feed)
        np.testing.assert_allclose(v, want_v, rtol=4 * tol, err_msg=f"{rows} rows")
        np.testing.assert_allclose(g, want_g, rtol=4 * tol, atol=tol * np.abs(want_g).max(),
                                   err_msg=f"{rows} rows")
    assert packed.packs(classes, LANES[dtype])
    assert f"<{width} x {ELEM[dtype]}>" in k.llvm_ir


@pytest.mark.parametrize("classes", [7, 10])
def test_two_threads_give_the_bits_of_one(classes):
    x, loss = _dense_ce(classes)
    rows = drive.SPLIT_FROM // classes + 77
    feed = _feed(rows, classes, "float32", seed=3)
    v1, (g1,) = codegen.compile(loss, wrt=[x], backend="llvm", threads=1)(**feed)
    v2, (g2,) = codegen.compile(loss, wrt=[x], backend="llvm", threads=2)(**feed)
    assert v1 == v2
    np.testing.assert_array_equal(g1, g2)
    want_v, _ = _want(loss, x, feed)
    np.testing.assert_allclose(v1, want_v, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_and_inf_reach_the_sum_as_in_evaluate(dtype):
    """A NaN logit, a +inf logit and a NaN target, each in a group and in the overlapping
    last group: the sum is NaN as lg.evaluate's; without them, finite and equal."""
    x, loss = _dense_ce(10)
    k = codegen.compile(loss, wrt=[x], backend="llvm", dtype=dtype, threads=1)
    rows = 3 * packed.group(10, LANES[dtype]) + 2
    base = _feed(rows, 10, dtype, seed=5)
    for row in (1, rows - 1):
        for name, col, bad in (("x", 3, np.nan), ("x", 9, np.inf), ("t", 0, np.nan)):
            feed = {k: a.copy() for k, a in base.items()}
            feed[name][row, col] = bad
            v, (g,) = k(**feed)
            with np.errstate(all="ignore"):
                want_v, want_g = _want(loss, x, feed)
            assert np.isnan(v) == np.isnan(want_v), (name, row, v, want_v)
            np.testing.assert_array_equal(np.isnan(g), np.isnan(want_g))
