"""Rows whose max is +inf: lg.evaluate shifts them by 0, so their sum is +inf and every entry
x whose e^x is finite has softmax 0 (nan where e^x overflows). The kernels shift such a row by
fused.row_shift's constant instead (exp_row's own range for a negative argument ends at -66.2
in float32): the finite entries must be exactly those of e^x, at the overflow threshold too,
in short, packed, plain and pipelined rows."""
import numpy as np
import pytest

import codegen
import lossgraph as lg
import zoo

LABELS = lg.input("labels", shape=("N",), dtype="int64")
#: the largest x with a finite e^x (NumPy's, lg.evaluate's)
OVERFLOW = {np.float32: np.float32(float.fromhex("0x1.62e42ep+6")),
            np.float64: np.float64(float.fromhex("0x1.62e42fefa39efp+9"))}


def test_overflow_thresholds_are_numpys():
    with np.errstate(over="ignore"):
        for dtype, x in OVERFLOW.items():
            assert np.isfinite(np.exp(x)) and np.exp(np.nextafter(x, dtype(np.inf))) == np.inf


def entries(dtype, rng):
    """x around the overflow threshold (every float within 300 ulps) and over the range where
    the shift by 0 went wrong in the kernels, down to where it was right."""
    top = OVERFLOW[dtype]
    near = top + np.arange(-300, 301) * np.spacing(top)
    lo = 60.0 if dtype == np.float32 else 660.0
    spread = rng.uniform(lo, 1.2 * float(top), 600).astype(dtype)
    return np.concatenate([near.astype(dtype), spread, [top, -top, 0.0]]).astype(dtype)


@pytest.mark.parametrize("classes", [3, 10, 40, 1000])      # short, packed, plain, pipelined
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_rows_with_a_plus_inf_max_match_evaluate(classes, dtype):
    rng = np.random.default_rng(classes)
    xs = entries(dtype, rng)
    if classes == 1000:
        xs = xs[::7]
    x = lg.input("x", shape=("N", classes))
    ce = lg.mean(zoo.tf.sparse_softmax_cross_entropy(x, LABELS))
    outs = [ce, lg.softmax(x, axis=1), lg.log_softmax(x, axis=1), lg.logsumexp(x, axis=1)]
    grad = lg.gradients(ce, [x])[0]
    a = rng.normal(size=(len(xs), classes)).astype(dtype)
    a[:, 1] = xs
    a[::2, 0] = np.inf                  # every other row has a +inf max, the rest a huge one
    labels = rng.integers(0, classes, size=len(xs))
    labels[::4] = 1
    k = codegen.compile(outs, wrt=[x], backend="llvm", threads=1)
    got_outs, (got_grad,) = k(x=a, labels=labels)
    with np.errstate(all="ignore"):
        want = lg.evaluate(outs + [grad], {"x": a, "labels": labels})
    tol = 2e-6 if dtype == np.float32 else 1e-13
    for name, g, w in zip(["loss", "softmax", "log_softmax", "logsumexp", "gradient"],
                          list(got_outs) + [got_grad], want):
        g, w = np.asarray(g), np.asarray(w)
        bad = np.isnan(g) != np.isnan(w)
        assert not bad.any(), f"{name}: nan differs at {np.argwhere(bad)[:3].tolist()}"
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, err_msg=name)
