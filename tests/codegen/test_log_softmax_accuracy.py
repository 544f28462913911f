"""log_softmax at large logits, in every backend: computed as (x - m) - log s, where x - m is
exact near the row's max, it keeps log s's digits; x - (m + log s) rounded the sum to m's ulp
first (at logits of 1e4: errors of 5e-4 in float32 and 1e-12 in float64, on values of about
1). Checked against an extended-precision reference (long double: 64-bit significands), for
short rows (lg.evaluate's column sums) and long ones, and through a dense-label softmax CE."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
import zoo.losses as L

BACKENDS = ["evaluate", "numpy", "llvm"]


def _reference(x):
    """log_softmax along the last axis in long double."""
    w = x.astype(np.longdouble)
    shifted = w - w.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _run(backend, node, feed):
    if backend == "evaluate":
        return lg.evaluate(node, feed)
    return codegen.compile(node, backend=backend)(**feed)


def _logits(rows, classes, centre, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (centre + 3 * rng.normal(size=(rows, classes))).astype(dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rows, classes", [(8, 3), (600, 3), (40, 10), (6, 1000)])
@pytest.mark.parametrize("centre", [0.0, 1e4, -1e4, 3e6])
def test_log_softmax_keeps_its_digits_at_large_logits(backend, dtype, rows, classes, centre):
    """Within 3 ulp of max(|value|, 1): at the old form's error (half an ulp of the logits)
    this fails from logits of about 30 in float32 and about 1e4 in float64."""
    x = lg.input("x", shape=("N", classes))
    feed = {"x": _logits(rows, classes, centre, dtype)}
    got = np.asarray(_run(backend, lg.log_softmax(x), feed))
    assert got.dtype == dtype
    want = _reference(feed["x"])
    err = np.abs(got.astype(np.longdouble) - want)
    bound = 3 * np.finfo(dtype).eps * np.maximum(np.abs(want), 1)
    assert (err <= bound).all(), float((err / bound).max())


@pytest.mark.parametrize("backend", BACKENDS)
def test_dense_label_softmax_ce_is_accurate_at_logits_of_1e4_in_float32(backend):
    """The loss (about 1-4 per row, its mean) within 1e-6 relative of the reference; the old
    form's error was 1e-5 to 2e-3 here."""
    x, t = lg.input("x", shape=("N", "C")), lg.input("t", shape=("N", "C"))
    loss = lg.mean(L.softmax_cross_entropy(x, t))
    rng = np.random.default_rng(1)
    for classes in (3, 10, 1000):
        logits = _logits(64, classes, 1e4, "float32", seed=classes)
        labels = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, 64)]
        feed = {"x": logits, "t": labels}
        got = _run(backend, loss, feed) if backend == "evaluate" else \
            codegen.compile(loss, backend=backend)(**feed)
        want = -(labels * _reference(logits)).sum(axis=1).mean()
        assert abs(float(got) - want) <= 1e-6 * abs(want), (classes, float(got), float(want))
