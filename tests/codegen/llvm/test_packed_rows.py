"""Short rows packed G at a time into whole vectors (codegen.llvm.packed) against lg.evaluate:
every row length the criterion takes, row counts that leave a remainder, 1 and 2 threads,
NaN / inf / all -inf rows, labels out of range."""

import numpy as np
import pytest

import codegen
import lossgraph as lg
import zoo
from codegen.llvm import drive, packed

from .host import LANES
ELEM = {"float32": "float", "float64": "double"}


def _packed_lanes(classes, dtype):
    return classes * packed.group(classes, LANES[dtype])


def _packs(classes, dtype):
    lanes, g = LANES[dtype], packed.group(classes, LANES[dtype])
    return g >= 2 and (classes <= 16 or g * classes * np.dtype(dtype).itemsize <= 320)


def _ce(classes):
    x = lg.input("x", shape=("N", classes))
    y = lg.input("y", shape=("N",), dtype="int64")
    return x, lg.mean(zoo.tf.sparse_softmax_cross_entropy(x, y))


def _want(loss, wrt, feed):
    value, grads = lg.pipeline.derive(loss, [wrt])
    with np.errstate(all="ignore"):
        return lg.evaluate([value, *grads], feed)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("classes", [2, 3, 4, 5, 7, 8, 10, 12, 15, 16, 17, 20, 24, 32, 40, 48])
def test_softmax_ce_packed_matches_evaluate(classes, dtype):
    """Rows up to 16 pack at any G; longer ones (with AVX-512: 20, 24, 32, 40 in float32, 20
    in float64) when G rows take at most packed.MAX_VECTOR_BYTES = 320 (17: 17 registers, 48: not
    packed, their row loss terms still a phase of the row nest, lower._row_phase)."""
    x, loss = _ce(classes)
    k = codegen.compile(loss, wrt=[x], backend="llvm", dtype=dtype, threads=1)
    rows = 3 * (_packed_lanes(classes, dtype) // classes) + 5      # a remainder of 5 rows
    rng = np.random.default_rng(classes)
    feed = {"x": (4 * rng.normal(size=(rows, classes))).astype(dtype),
            "y": rng.integers(0, classes, size=rows)}
    v, (g,) = k(**feed)
    assert (f"<{_packed_lanes(classes, dtype)} x {ELEM[dtype]}>" in k.llvm_ir) == \
        _packs(classes, dtype)
    want_v, want_g = _want(loss, x, feed)
    tol = 2e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(v, want_v, rtol=tol)
    np.testing.assert_allclose(g, want_g, rtol=4 * tol, atol=tol * np.abs(want_g).max())


@pytest.mark.parametrize("classes", [7, 10, 16, 40])
def test_two_threads_give_the_bits_of_one(classes):
    x, loss = _ce(classes)
    rows = drive.SPLIT_FROM // classes + 77
    rng = np.random.default_rng(1)
    feed = {"x": rng.normal(size=(rows, classes)).astype(np.float32),
            "y": rng.integers(0, classes, size=rows)}
    k1 = codegen.compile(loss, wrt=[x], backend="llvm", threads=1)
    k2 = codegen.compile(loss, wrt=[x], backend="llvm", threads=2)
    v1, (g1,) = k1(**feed)
    v2, (g2,) = k2(**feed)
    np.testing.assert_array_equal(g1, g2)
    assert v1 == v2
    want_v, want_g = _want(loss, x, feed)
    np.testing.assert_allclose(g1, want_g, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(v1, want_v, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_inf_and_all_minus_inf_rows(dtype):
    """softmax, log_softmax and logsumexp of rows with a NaN, a +inf, a -inf, all -inf, in the
    packed groups and in the remainder."""
    classes = 10
    x = lg.input("x", shape=("N", classes))
    outs = [lg.softmax(x, axis=1), lg.log_softmax(x, axis=1), lg.logsumexp(x, axis=1)]
    k = codegen.compile(outs, backend="llvm", threads=1)
    a = np.random.default_rng(2).normal(size=(21, classes)).astype(dtype)
    for row in (1, 19):
        a[row, 3] = np.nan
        a[row + 1, 9] = np.inf
        a[row - 1, 0] = -np.inf
    a[[5, 20]] = -np.inf
    got = k(a)
    assert f"<{_packed_lanes(classes, dtype)} x {ELEM[dtype]}>" in k.llvm_ir
    with np.errstate(all="ignore"):
        want = lg.evaluate(outs, {"x": a})
    tol = 2e-6 if dtype == "float32" else 1e-14
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@pytest.mark.parametrize("row", [2, 17])                # in a packed group, in the remainder
def test_labels_out_of_range_raise(row):
    x, loss = _ce(10)
    k = codegen.compile(loss, wrt=[x], backend="llvm", threads=1)
    feed = {"x": np.zeros((19, 10), np.float32), "y": np.zeros(19, np.int64)}
    feed["y"][row] = 10
    with pytest.raises(lg.errors.InputError, match="label 10 is out of range"):
        k(**feed)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("classes", [3, 10])
def test_row_counts_around_the_group_size(classes, dtype):
    """Fewer rows than a group (one group on zero-padded copies), exactly one group, one row
    more (the last group overlaps the first: its rows are stored again, summed once), and
    several groups plus a remainder; per-row losses (row values stored), the row max kept
    (logsumexp) and the mean loss with its gradient, against lg.evaluate."""
    x = lg.input("x", shape=("N", classes))
    y = lg.input("y", shape=("N",), dtype="int64")
    per_row = zoo.tf.sparse_softmax_cross_entropy(x, y)
    loss = lg.mean(per_row)
    k_rows = codegen.compile([per_row, lg.logsumexp(x, axis=1)], backend="llvm", dtype=dtype,
                             threads=1)
    k_loss = codegen.compile(loss, wrt=[x], backend="llvm", dtype=dtype, threads=1)
    group = _packed_lanes(classes, dtype) // classes
    rng = np.random.default_rng(classes + group)
    tol = 2e-6 if dtype == "float32" else 1e-14
    for rows in sorted({1, 2, group - 1, group, group + 1, 3 * group + 2}):
        feed = {"x": (4 * rng.normal(size=(rows, classes))).astype(dtype),
                "y": rng.integers(0, classes, size=rows)}
        with np.errstate(all="ignore"):
            want_rows = lg.evaluate([per_row, lg.logsumexp(x, axis=1)], feed)
        for got, want in zip(k_rows(**feed), want_rows):
            np.testing.assert_allclose(got, want, rtol=4 * tol, err_msg=f"{rows} rows")
        v, (g,) = k_loss(**feed)
        want_v, want_g = _want(loss, x, feed)
        np.testing.assert_allclose(v, want_v, rtol=4 * tol, err_msg=f"{rows} rows")
        np.testing.assert_allclose(g, want_g, rtol=4 * tol, atol=tol * np.abs(want_g).max(),
                                   err_msg=f"{rows} rows")
    assert f"<{_packed_lanes(classes, dtype)} x {ELEM[dtype]}>" in k_loss.llvm_ir


def _nest_code(asm):
    """The instructions of the nest functions in asm (labels and directives left out)."""
    code, inside = [], False
    for line in asm.splitlines():
        if line.endswith(":") and not line.startswith((".", "\t")):
            inside = line.startswith("nest")
        elif inside and line.startswith("\t") and not line.startswith("\t."):
            code.append(line.split("#")[0].strip())
    return code


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_packed_modules_compile_at_the_explicit_vectors_level(dtype, monkeypatch):
    """A module whose loops are all packed asks for jit.EXPLICIT_VECTORS_LEVEL, and its nests'
    machine code is what O3 makes of them; a module with a loop left to LLVM's loop
    vectorizer (a row nest of C = 48; a flat sum beside packed rows) stays at O3."""
    from codegen.llvm import jit
    monkeypatch.setenv("LOSSGRAPH_CACHE", "0")
    x = lg.input("x", shape=("N", 10))
    loss = zoo.losses.sparse_softmax_cross_entropy(x, lg.input("y", shape=("N",), dtype="int64"),
                                                   reduction="mean")
    k = codegen.compile(loss, wrt=[x], backend="llvm", dtype=dtype, threads=1)
    jm = k._fn.program(dtype).jit
    assert jm.speed_level == jit.EXPLICIT_VECTORS_LEVEL < jit.TUNING["speed_level"]
    monkeypatch.setattr(jit, "EXPLICIT_VECTORS_LEVEL", jit.TUNING["speed_level"])
    k3 = codegen.compile(loss, wrt=[x], backend="llvm", dtype=dtype, threads=2)
    jm3 = k3._fn.program(dtype).jit
    assert jm3 is not jm and jm3.llvm_ir == jm.llvm_ir
    assert jm3.speed_level == jit.TUNING["speed_level"]
    assert _nest_code(jm.asm) == _nest_code(jm3.asm) != []
    x48, loss48 = _ce(48)
    k48 = codegen.compile(loss48, wrt=[x48], backend="llvm", dtype=dtype, threads=1)
    assert k48._fn.program(dtype).jit.speed_level == jit.TUNING["speed_level"]
    x10, loss10 = _ce(10)
    w = lg.input("w", shape=("N",))
    k10 = codegen.compile(loss10 + lg.sum(w * w), wrt=[x10], backend="llvm", dtype=dtype,
                          threads=1)
    assert k10._fn.program(dtype).jit.speed_level == jit.TUNING["speed_level"]
