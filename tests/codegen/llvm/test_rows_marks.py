"""Rows of any length: the per-row loss as a row phase of the rows' nest, and one_hot's
y == c taken out of the row loop (emit.NestEmitter.column_marks: the loop runs with it false,
the label's column is stored again with it true), against lg.evaluate in float64."""
import numpy as np
import pytest
from llvmlite import ir

import codegen
import lossgraph as lg
from codegen.llvm import drive, emit, lower
from zoo import losses as L

LABELS = lg.input("y", shape=("N",), dtype="int64")


def _ce(classes):
    x = lg.input("x", shape=("N", classes))
    return x, L.sparse_softmax_cross_entropy(x, LABELS, reduction="mean")


def _reference(loss, wrt, feed):
    value, grads = lg.pipeline.derive(loss, wrt)
    wide = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in feed.items()}
    with np.errstate(all="ignore"):
        return lg.evaluate([value] + list(grads), wide)


def _check(got, want, dtype):
    rtol = 1e-12 if dtype == np.float64 else 3e-6
    for g, w in zip(got, want):
        g = np.asarray(g, dtype=np.float64)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        scale = np.max(np.abs(w[np.isfinite(w)]), initial=1e-30)
        np.testing.assert_allclose(g, w, rtol=rtol * 10, atol=rtol * scale)


def _logits(rows, classes, dtype, rng, strided):
    x = (3 * rng.normal(size=(rows, classes))).astype(dtype)
    if not strided:
        return x
    wide = np.zeros((rows, 2 * classes), dtype)
    wide[:, ::2] = x
    return wide[:, ::2]


@pytest.mark.parametrize("classes", [1, 17, 32, 50, 1000, 1025])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_softmax_ce_rows_match_evaluate(classes, dtype, threads):
    """Labels in the first, last and every other column; contiguous and strided logits;
    enough rows for two chunks at threads=2."""
    x, loss = _ce(classes)
    k = codegen.compile(loss, wrt=[x], backend="llvm", threads=threads)
    rng = np.random.default_rng(classes)
    rows = max(2 * drive.SPLIT_FROM // classes + 3, 9)
    labels = rng.integers(0, classes, size=rows)
    labels[:2] = [0, classes - 1]
    for strided in (False, True):
        feed = {"x": _logits(rows, classes, dtype, rng, strided), "y": labels}
        value, (grad,) = k(**feed)
        _check([value, grad], _reference(loss, [x], feed), dtype)


@pytest.mark.parametrize("classes", [17, 1000, 1025])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_inf_and_all_minus_inf_rows(classes, dtype):
    """nan entries (also in the last column), +inf or -inf entries (also at the label), all
    -inf rows: the gradient and loss are nan, inf or finite exactly where lg.evaluate's are."""
    x, loss = _ce(classes)
    k = codegen.compile(loss, wrt=[x], backend="llvm", threads=1)
    rng = np.random.default_rng(1)
    a = rng.normal(size=(8, classes)).astype(dtype)
    labels = rng.integers(0, classes, size=8)
    a[1, 3] = np.nan
    a[2, labels[2]] = np.inf
    a[3, (labels[3] + 1) % classes] = np.inf
    a[4, labels[4]] = -np.inf
    a[5] = -np.inf
    a[6, (labels[6] + 1) % classes] = -np.inf
    a[7, classes - 1] = np.nan                      # in the row's last vector piece
    for rows in (slice(None), [0, 4, 6, 7], [0, 5, 6]):
        feed = {"x": np.ascontiguousarray(a[rows]), "y": labels[rows]}
        value, (grad,) = k(**feed)
        want = _reference(loss, [x], feed)
        np.testing.assert_array_equal(np.isnan(grad), np.isnan(want[1]))
        np.testing.assert_array_equal(np.isnan(value), np.isnan(want[0]))
        fin = np.isfinite(want[1])
        np.testing.assert_allclose(grad[fin], want[1][fin], rtol=3e-5, atol=1e-7)
        if np.isfinite(want[0]):
            np.testing.assert_allclose(value, want[0], rtol=3e-5)


@pytest.mark.parametrize("classes", [1000, "C"])
def test_long_rows_take_the_row_loss_in_their_nest(classes):
    """softmax CE over long or symbolic rows plans one nest over (N, C): max, sum, the
    per-row loss as a row phase, the gradient; and its gradient phase has one column mark."""
    x, loss = _ce(classes)
    k = codegen.compile(loss, wrt=[x], backend="llvm", threads=1)
    plan = k._fn.program("float32").plan
    nests = [s for s in plan.steps if isinstance(s, lower.Nest) and s.shape]
    assert len(nests) == 1 and nests[0].row_phases, [s.shape for s in nests]
    em = emit.NestEmitter(ir.Module(), plan, nests[0], 0)
    em.plan_stash()
    assert em.stash is not None                   # e^(x - m) passes through the gradient
    marks = [m for j, ph in enumerate(nests[0].phases) if j not in nests[0].row_phases
             for m in em.column_marks(ph)]
    assert len(marks) == 1 and marks[0][0].op == "equal"


@pytest.mark.parametrize("classes", [17, 1000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_hot_under_a_sum_and_a_float_label_column(classes, dtype):
    """y == c under a row reduction of the same phase stays in the loop (no mark); a float
    label column is marked and compares exactly: 2.5, nan, -1 and C name no column, -0.0
    names column 0."""
    x = lg.input("x", shape=("N", classes))
    yf = lg.input("yf", shape=("N", 1))
    dense = -lg.mean(lg.sum(lg.one_hot(LABELS, classes) * lg.log_softmax(x, axis=1), axis=1))
    picked = lg.where(lg.equal(yf, lg.arange(classes)), lg.exp(x), x * 0.5)
    rng = np.random.default_rng(2)
    feed = {"x": rng.normal(size=(8, classes)).astype(dtype),
            "y": rng.integers(0, classes, size=8),
            "yf": np.array([0, classes - 1, 2.5, np.nan, -0.0, classes, -1, 3], dtype)[:, None]}
    k = codegen.compile(dense, wrt=[x], backend="llvm", threads=1)
    value, (grad,) = k(x=feed["x"], y=feed["y"])
    _check([value, grad], _reference(dense, [x], {"x": feed["x"], "y": feed["y"]}), dtype)
    k = codegen.compile([picked], backend="llvm", threads=1)
    plan = k._fn.program(np.dtype(dtype).name).plan
    nest, = [s for s in plan.steps if isinstance(s, lower.Nest)]
    em = emit.NestEmitter(ir.Module(), plan, nest, 0)
    em.plan_stash()
    assert len(em.column_marks(nest.phases[0])) == 1
    sub = {"x": feed["x"], "yf": feed["yf"]}
    got = k(**sub)
    with np.errstate(all="ignore"):
        want = lg.evaluate(picked, {n: v.astype(np.float64) for n, v in sub.items()})
    _check([got], [want], dtype)


def test_long_row_labels_out_of_range_raise():
    x, loss = _ce(1000)
    k = codegen.compile(loss, wrt=[x], backend="llvm", threads=1)
    feed = {"x": np.zeros((3, 1000), np.float32), "y": np.array([0, 1000, 2])}
    with pytest.raises(lg.errors.InputError, match="label 1000 is out of range"):
        k(**feed)
    feed["y"] = np.array([0, -1, 2])
    with pytest.raises(lg.errors.InputError, match="out of range"):
        k(**feed)


@pytest.mark.parametrize("classes", [4, 1000])
def test_a_row_value_reading_a_reduction_over_the_rows_waits_for_it(classes):
    """sum(pick(softmax(x, axis=0), y)): the per-row pick reads sums over all rows (axis 0),
    complete only after the last row, so it is no row phase of that nest (it once was, and
    read partial column sums; hypothesis found it in test_lower_random)."""
    x = lg.input("x", shape=(3, classes))
    y = lg.input("labels", shape=(3,), dtype="int64")
    loss = lg.sum(lg.pick(lg.softmax(x, axis=0), y)) + 0.5 * lg.sum(x)
    rng = np.random.default_rng(0)
    feed = {"x": rng.normal(size=(3, classes)), "labels": rng.integers(0, classes, size=3)}
    k = codegen.compile(loss, wrt=[x], backend="llvm", threads=1)
    value, (grad,) = k(**feed)
    _check([value, grad], _reference(loss, [x], feed), np.float64)


@pytest.mark.parametrize("classes, dtype, prefetched", [(1000, "float32", True),
                                                        (500, "float64", True),
                                                        (4000, "float32", False)])
def test_rows_up_to_prefetch_row_bytes_prefetch_the_next_row(monkeypatch, classes, dtype,
                                                             prefetched):
    """emit.prefetch_row: the next row of the logits, only where a row has at most
    PREFETCH_ROW_BYTES (how many lines each call site covers: test_prefetch_loop.py); the
    results are checked against lg.evaluate by the tests above (C = 1000, 1025, two
    chunks). The host rule (emit.prefetch_rows_on_host) is patched on."""
    monkeypatch.setattr(emit, "prefetch_rows_on_host", lambda: True)
    codegen.CACHE.clear()
    x, loss = _ce(classes)
    k = codegen.compile(loss, wrt=[x], backend="llvm", threads=1)
    rng = np.random.default_rng(2)
    k(x=rng.normal(size=(3, classes)).astype(dtype), y=np.array([0, 1, 2]))
    calls = k.llvm_ir.count("call void @\"llvm.prefetch.p0\"")
    size = classes * np.dtype(dtype).itemsize
    assert size <= emit.PREFETCH_ROW_BYTES if prefetched else size > emit.PREFETCH_ROW_BYTES
    assert (calls > 0) == prefetched, calls
