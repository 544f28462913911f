"""The ctc_loss / ctc_grad ops against a brute-force sum over alignments and finite
differences."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lossgraph as lg
from lossgraph.ops.ctc import ctc_loss


# --- independent references

def collapse(path, blank):
    out, prev = [], None
    for c in path:
        if c != prev and c != blank:
            out.append(c)
        prev = c
    return out


def brute_nll(lp, labels, in_len, lab_len, blank):
    """-log sum of prod_t y over every path of length in_len that collapses to the labels
    (log space, so peaked inputs stay exact)."""
    T, N, C = lp.shape
    out = np.empty(N)
    for n in range(N):
        target = list(labels[n, :lab_len[n]])
        scores = [sum(lp[t, n, c] for t, c in enumerate(path))
                  for path in itertools.product(range(C), repeat=int(in_len[n]))
                  if collapse(path, blank) == target]
        out[n] = -np.logaddexp.reduce(scores) if scores else np.inf
    return out


def log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def nodes(T, N, C, S, dtype="float64"):
    return (lg.input("lp", (T, N, C), dtype), lg.input("labels", (N, S), "int64"),
            lg.input("in_len", (N,), "int64"), lg.input("lab_len", (N,), "int64"))


def run(lp, labels, in_len, lab_len, blank=0, zero_infinity=False, what="loss"):
    T, N, C = lp.shape
    LP, L, I, LL = nodes(T, N, C, labels.shape[1], lp.dtype.name)
    loss = ctc_loss(LP, L, I, LL, blank=blank, zero_infinity=zero_infinity)
    out = loss if what == "loss" else lg.gradients(lg.sum(loss), [LP])[0]
    return lg.evaluate(out, lp=lp, labels=labels, in_len=np.asarray(in_len),
                       lab_len=np.asarray(lab_len))


def random_case(rng, T, N, C, S, blank):
    lp = log_softmax(rng.normal(scale=2.0, size=(T, N, C)))
    lab_len = rng.integers(0, S + 1, size=N)
    in_len = rng.integers(0, T + 1, size=N)
    tokens = [c for c in range(C) if c != blank]
    labels = rng.choice(tokens, size=(N, S))
    labels = np.where(np.arange(S) < lab_len[:, None], labels, -7)  # garbage padding
    return lp, labels, in_len, lab_len


# --- values

@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(2, 4), st.integers(0, 3),
       st.booleans())
def test_matches_brute_force_over_alignments(seed, T, C, S, blank_last):
    rng = np.random.default_rng(seed)
    blank = C - 1 if blank_last else 0
    lp, labels, in_len, lab_len = random_case(rng, T, 3, C, S, blank)
    want = brute_nll(lp, labels, in_len, lab_len, blank)
    got = run(lp, labels, in_len, lab_len, blank=blank)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_repeated_labels_need_a_blank_between():
    # "aa" needs 3 frames (a, blank, a); with 2 frames it is impossible
    lp = log_softmax(np.zeros((3, 1, 2)))
    labels = np.array([[1, 1]])
    assert run(lp, labels, [2], [2])[0] == np.inf
    np.testing.assert_allclose(run(lp, labels, [3], [2]), -3 * np.log(0.5))


def test_empty_label_is_all_blanks():
    lp = log_softmax(np.random.default_rng(1).normal(size=(4, 2, 3)))
    labels = np.zeros((2, 2), dtype=np.int64)
    got = run(lp, labels, [4, 2], [0, 0])
    np.testing.assert_allclose(got, [-lp[:4, 0, 0].sum(), -lp[:2, 1, 0].sum()])


def test_zero_input_length():
    lp = log_softmax(np.zeros((3, 2, 3)))
    got = run(lp, np.array([[1], [1]]), [0, 0], [0, 1])
    assert got[0] == 0.0 and got[1] == np.inf


def test_impossible_alignment_inf_or_zero_and_zero_gradient():
    rng = np.random.default_rng(2)
    lp = log_softmax(rng.normal(size=(3, 2, 4)))
    labels = np.array([[1, 2, 3], [1, 2, 0]])
    in_len, lab_len = [2, 3], [3, 2]
    loss = run(lp, labels, in_len, lab_len)
    assert loss[0] == np.inf and np.isfinite(loss[1])
    zeroed = run(lp, labels, in_len, lab_len, zero_infinity=True)
    assert zeroed[0] == 0.0 and zeroed[1] == loss[1]
    for zi in (False, True):
        g = run(lp, labels, in_len, lab_len, zero_infinity=zi, what="grad")
        assert np.isfinite(g).all()
        assert (g[:, 0] == 0).all() and (g[:, 1] != 0).any()


def test_blank_minus_one_means_last_class():
    rng = np.random.default_rng(3)
    lp, labels, in_len, lab_len = random_case(rng, 4, 2, 3, 2, blank=2)
    np.testing.assert_allclose(run(lp, labels, in_len, lab_len, blank=-1),
                               run(lp, labels, in_len, lab_len, blank=2))
    LP, L, I, LL = nodes(4, 2, 3, 2)
    assert ctc_loss(LP, L, I, LL, blank=-1) is ctc_loss(LP, L, I, LL, blank=2)


def test_float32_in_float32_out():
    rng = np.random.default_rng(4)
    lp, labels, in_len, lab_len = random_case(rng, 4, 2, 3, 2, blank=0)
    got = run(lp.astype(np.float32), labels, in_len, lab_len)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, brute_nll(lp, labels, in_len, lab_len, 0), rtol=1e-5)


def test_peaked_logits_stay_finite_and_exact():
    # +-100 logits: probabilities far below float64's smallest normal, never NaN
    T, C = 5, 4
    labels = np.array([[1, 2], [3, 3]])
    align = np.array([[0, 1, 1, 2, 0], [3, 0, 3, 0, 0]]).T  # (T, N), valid alignments
    x = np.where(np.arange(C) == align[..., None], 100.0, -100.0)
    lp = log_softmax(x)
    want = brute_nll(lp, labels, [5, 5], [2, 2], 0)
    got = run(lp, labels, [5, 5], [2, 2])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # against the peaks: large but finite losses and gradients
    against = log_softmax(-x)
    np.testing.assert_allclose(run(against, labels, [5, 5], [2, 2]),
                               brute_nll(against, labels, [5, 5], [2, 2], 0), rtol=1e-9)
    LP = lg.input("x", (T, 2, C))
    _, L, I, LL = nodes(T, 2, C, 2)
    g = lg.gradients(lg.sum(ctc_loss(lg.log_softmax(LP), L, I, LL)), [LP])[0]
    for arr in (x, -x):
        val = lg.evaluate(g, x=arr, labels=labels, in_len=np.array([5, 5]),
                          lab_len=np.array([2, 2]))
        assert np.isfinite(val).all()
        np.testing.assert_allclose(val.sum(-1), 0.0, atol=1e-9)


# --- gradients

def central_differences(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_gradient_wrt_logits_matches_finite_differences(seed, blank_last):
    rng = np.random.default_rng(seed)
    T, N, C, S = 5, 3, 4, 2
    blank = C - 1 if blank_last else 0
    _, labels, _, lab_len = random_case(rng, T, N, C, S, blank)
    in_len = np.array([5, 4, 3])
    x = rng.normal(size=(T, N, C))
    w = rng.normal(size=N)  # distinct cotangents per sample
    X, W = lg.input("x", (T, N, C)), lg.input("w", (N,))
    _, L, I, LL = nodes(T, N, C, S)
    y = lg.sum(W * ctc_loss(lg.log_softmax(X), L, I, LL, blank=blank))
    g = lg.gradients(y, [X])[0]
    env = dict(labels=labels, in_len=in_len, lab_len=lab_len, w=w)

    def f(v):
        return float(np.dot(w, brute_nll(log_softmax(v), labels, in_len, lab_len, blank)))
    if not np.isfinite(f(x)):
        return
    np.testing.assert_allclose(lg.evaluate(g, x=x, **env), central_differences(f, x),
                               rtol=1e-5, atol=1e-7)


def test_gradient_wrt_free_log_probs_is_minus_posterior():
    """Perturbing log_probs directly (unnormalized): d(-log p)/d lp[t,n,c]."""
    rng = np.random.default_rng(5)
    T, N, C, S = 4, 2, 3, 2
    lp = rng.normal(size=(T, N, C))  # not normalized: the op takes entries as free
    labels, in_len, lab_len = np.array([[1, 2], [2, 2]]), np.array([4, 3]), np.array([2, 1])
    want = central_differences(
        lambda v: brute_nll(v, labels, in_len, lab_len, 0).sum(), lp)
    got = run(lp, labels, in_len, lab_len, what="grad")
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    assert (got[3, 1] == 0).all()  # frame past input_lengths[1]
    np.testing.assert_allclose(got[:3, 1].sum(-1), -1.0)  # posteriors sum to one per frame


def test_vjp_is_a_graph_of_ctc_grad():
    LP, L, I, LL = nodes(3, 2, 4, 2)
    loss = ctc_loss(LP, L, I, LL, blank=3)
    g = lg.gradients(lg.sum(loss), [LP])[0]
    assert "ctc_grad(lp, labels, in_len, lab_len, blank=3)" in lg.to_text(g)


def test_second_derivative_is_refused_clearly():
    x0 = log_softmax(np.random.default_rng(6).normal(size=(3, 1, 3)))
    labels, lens = np.array([[1]]), np.array([1])

    def f(lp):
        return lg.sum(ctc_loss(lp, labels, np.array([3]), lens))
    with pytest.raises(lg.GradientError, match="second derivatives"):
        lg.hvp(f, (x0,), (np.ones_like(x0),))


def test_symbolic_dims():
    LP = lg.input("lp", ("T", "N", "C"))
    L = lg.input("labels", ("N", "S"), "int32")
    I, LL = lg.input("in_len", ("N",), "int32"), lg.input("lab_len", ("N",), "int32")
    loss = ctc_loss(LP, L, I, LL)
    assert loss.shape == ("N",)
    g = lg.gradients(lg.sum(loss), [LP])[0]
    lp = log_softmax(np.random.default_rng(7).normal(size=(4, 2, 3)))
    args = dict(lp=lp, labels=np.array([[1, 2], [2, 0]], np.int32),
                in_len=np.array([4, 3], np.int32), lab_len=np.array([2, 1], np.int32))
    v, gv = lg.evaluate([loss, g], **args)
    np.testing.assert_allclose(v, brute_nll(lp, args["labels"], args["in_len"],
                                            args["lab_len"], 0))
    assert gv.shape == lp.shape


# --- printing

def test_printing():
    LP, L, I, LL = nodes(3, 2, 4, 2)
    assert lg.to_text(ctc_loss(LP, L, I, LL)) == "ctc(lp, labels, in_len, lab_len)"
    assert lg.to_text(ctc_loss(LP, L, I, LL, blank=3, zero_infinity=True)) == \
        "ctc(lp, labels, in_len, lab_len, blank=3, zero_infinity=True)"
    assert lg.latex(ctc_loss(LP, L, I, LL)).startswith(r"\operatorname{CTC}\left(")


# --- errors

def test_shape_and_dtype_errors():
    LP, L, I, LL = nodes(3, 2, 4, 2)
    with pytest.raises(lg.ShapeError, match="log_probs"):
        ctc_loss(lg.input("a", (3, 4)), L, I, LL)
    with pytest.raises(lg.DTypeError, match="labels"):
        ctc_loss(LP, lg.input("f", (2, 2)), I, LL)
    with pytest.raises(lg.DTypeError, match="log_probs"):
        ctc_loss(lg.input("i", (3, 2, 4), "int64"), L, I, LL)
    with pytest.raises(lg.ShapeError, match="batch size"):
        ctc_loss(LP, lg.input("l3", (3, 2), "int64"), I, LL)
    with pytest.raises(lg.ShapeError, match="label_lengths"):
        ctc_loss(LP, L, I, lg.input("ll5", (5,), "int64"))
    with pytest.raises(lg.OptionError, match="blank"):
        ctc_loss(LP, L, I, LL, blank=4)
    with pytest.raises(lg.OptionError, match="blank"):
        ctc_loss(LP, L, I, LL, blank=1.0)


@pytest.mark.parametrize("labels, in_len, lab_len, match", [
    ([[1, 4], [1, 1]], [3, 3], [2, 2], r"labels\[0, 1\] = 4"),
    ([[1, 2], [0, 1]], [3, 3], [2, 2], r"labels\[1, 0\] = 0 .*blank 0"),
    ([[1, 2], [-1, 1]], [3, 3], [2, 2], r"labels\[1, 0\] = -1"),
    ([[1, 2], [1, 1]], [4, 3], [2, 2], r"input_lengths must lie in \[0, T=3\], got 4"),
    ([[1, 2], [1, 1]], [3, -1], [2, 2], "input_lengths"),
    ([[1, 2], [1, 1]], [3, 3], [2, 3], r"label_lengths must lie in \[0, S=2\], got 3"),
])
def test_value_errors(labels, in_len, lab_len, match):
    lp = log_softmax(np.zeros((3, 2, 4)))
    with pytest.raises(lg.InputError, match=match):
        run(lp, np.array(labels), in_len, lab_len)


def test_padding_past_label_length_is_not_checked():
    lp = log_softmax(np.zeros((3, 2, 4)))
    got = run(lp, np.array([[1, -1], [2, 99]]), [3, 3], [1, 1])
    np.testing.assert_allclose(got, brute_nll(lp, np.array([[1, 0], [2, 0]]), [3, 3],
                                              [1, 1], 0))


def test_nan_input_propagates_instead_of_a_wrong_number():
    lp = log_softmax(np.zeros((3, 2, 3)))
    lp[1, 0, 1] = np.nan
    labels, in_len, lab_len = np.array([[1], [2]]), [3, 3], [1, 1]
    loss = run(lp, labels, in_len, lab_len)
    assert np.isnan(loss[0]) and np.isfinite(loss[1])
    g = run(lp, labels, in_len, lab_len, what="grad")
    assert np.isnan(g[:, 0]).any() and np.isfinite(g[:, 1]).all()


def test_three_way_log_sum_exp_is_two_logaddexps():
    """ctc._lse3 (the recursions' log(e^a + e^b + e^c)) against np.logaddexp twice: within
    a few ulp of the largest operand on finite values (both add a log to that max, which
    cancels where the result is near 0), and the same inf, -inf and NaN on every combination
    of them."""
    from lossgraph.ops.ctc import _lse3
    rng = np.random.default_rng(0)
    special = np.array([0.0, -3.5, 700.0, -800.0, np.inf, -np.inf, np.nan])
    a, b, c = (g.ravel() for g in np.meshgrid(special, special, special, indexing="ij"))
    rand = rng.normal(scale=30, size=(3, 500))
    a, b, c = (np.concatenate([s, r]) for s, r in zip((a, b, c), rand))
    with np.errstate(all="ignore"):
        want = np.logaddexp(np.logaddexp(a, b), c)
        got = _lse3(a.reshape(-1, 1), b.reshape(-1, 1).copy(), c.reshape(-1, 1).copy()).ravel()
    same_special = np.isnan(want) == np.isnan(got)
    assert same_special.all(), (a[~same_special], b[~same_special], c[~same_special])
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    scale = np.nanmax(np.abs(np.where(np.isfinite([a, b, c]), [a, b, c], 0)), axis=0)
    err = np.abs(got[finite] - want[finite])
    assert (err <= 4 * np.finfo(float).eps * np.maximum(scale[finite], 1)).all()
