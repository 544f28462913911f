"""Canonical regression and classification losses against NumPy formulas written here,
finite differences (float64), precision, weights, stability and bad input."""
import numpy as np
import pytest

import lossgraph as lg
from zoo import losses as L
from .zoo_refs import case_suite

RNG = np.random.default_rng(7)
B, C = 4, 5


def sp(x):
    return np.logaddexp(0.0, x)


def lse(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.exp(x - m).sum(axis=axis))


def log_softmax(x, axis=-1):
    return x - np.expand_dims(lse(x, axis), axis)


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def onehot(y, c=C):
    return np.eye(c)[y]


real = lambda: RNG.normal(size=(B, C))                      # noqa: E731
prob = lambda: RNG.uniform(0.05, 0.95, size=(B, C))         # noqa: E731
bits = lambda: (RNG.random((B, C)) > 0.5).astype(float)     # noqa: E731
signs = lambda: np.where(RNG.random((B, C)) > 0.5, 1.0, -1.0)  # noqa: E731
pos = lambda: RNG.uniform(0.5, 2.0, size=(B, C))            # noqa: E731
dist = lambda: np.apply_along_axis(lambda r: r / r.sum(), 1, prob())  # noqa: E731
ints = lambda: RNG.integers(0, C, size=B)                   # noqa: E731

CW = np.array([0.5, 2.0, 1.0, 0.25, 1.5], dtype=np.float32)   # per-class weights (exact)
counts = lambda: RNG.poisson(2.0, size=(B, C)).astype(float)   # noqa: E731


def multilabels():
    """Each row: some distinct target classes, then -1, then junk (ignored)."""
    out = RNG.integers(0, C, size=(B, C))
    for b in range(B):
        k = RNG.integers(0, C + 1)
        out[b, :k] = RNG.permutation(C)[:k]
        if k < C:
            out[b, k] = -1
    return out


def np_stirling(t):
    s = np.maximum(t, 1)
    return np.where(t > 1, s * np.log(s) - s + 0.5 * np.log(2 * np.pi * s), 0.0)


def np_multi_margin(x, y, p, margin, w=None):
    out = np.zeros(len(y))
    for b, yb in enumerate(y):
        for c in range(x.shape[1]):
            if c != yb:
                out[b] += max(0.0, margin - x[b, yb] + x[b, c]) ** p
        out[b] *= 1.0 if w is None else w[yb]
    return out / x.shape[1]


def np_multilabel_margin(x, t):
    out = np.zeros(len(t))
    for b, row in enumerate(t):
        targets = list(row[:list(row).index(-1)]) if -1 in row else list(row)
        for j in targets:
            for i in set(range(x.shape[1])) - set(targets):
                out[b] += max(0.0, 1.0 - (x[b, j] - x[b, i]))
    return out / x.shape[1]


# name, function, kwargs, argument generators, NumPy reference, differentiable arg positions
CASES = [
    ("squared_error", L.squared_error, {}, [real, real], lambda p, t: (p - t) ** 2, [0, 1]),
    ("absolute_error", L.absolute_error, {}, [real, real], lambda p, t: np.abs(p - t), [0, 1]),
    ("normalized_squared_error", L.normalized_squared_error, {}, [real, real],
     lambda p, t: np.sqrt(((p - t) ** 2).sum(-1)) / np.sqrt((t ** 2).sum(-1)), [0, 1]),
    ("huber", L.huber, {"delta": 0.7}, [real, real],
     lambda p, t: np.where(np.abs(p - t) <= 0.7, 0.5 * (p - t) ** 2,
                           0.7 * (np.abs(p - t) - 0.35)), [0, 1]),
    ("smooth_l1", L.smooth_l1, {"beta": 0.5}, [real, real],
     lambda p, t: np.where(np.abs(p - t) < 0.5, (p - t) ** 2 / 1.0, np.abs(p - t) - 0.25),
     [0, 1]),
    ("berhu", L.berhu, {"c": 0.6, "eps": 1e-5}, [real, real],
     lambda p, t: np.where(np.abs(p - t) <= 0.6, np.abs(p - t),
                           ((p - t) ** 2 + 0.36) / (2 * (0.6 + 1e-5))), [0, 1]),
    ("log_cosh", L.log_cosh, {}, [real, real], lambda p, t: np.log(np.cosh(p - t)), [0, 1]),
    ("poisson", L.poisson, {}, [pos, pos], lambda p, t: p - t * np.log(p + 1e-7), [0, 1]),
    ("poisson_log", L.poisson, {"log_input": True}, [real, pos],
     lambda p, t: np.exp(p) - t * p, [0, 1]),
    ("mean_pairwise_squared_error", L.mean_pairwise_squared_error, {}, [real, real],
     lambda p, t: np.array([np.mean(((p - t)[b][:, None] - (p - t)[b][None, :]) ** 2)
                            for b in range(B)]), [0, 1]),
    ("quantile", L.quantile, {"q": 0.3}, [real, real],
     lambda p, t: np.maximum(0.3 * (t - p), -0.7 * (t - p)), [0, 1]),
    ("gaussian_nll", L.gaussian_nll, {"full": True}, [real, real, pos],
     lambda m, t, v: 0.5 * (np.log(v) + (t - m) ** 2 / v) + 0.5 * np.log(2 * np.pi), [0, 1, 2]),
    ("softmax_cross_entropy", L.softmax_cross_entropy, {}, [real, dist],
     lambda x, z: -(z * log_softmax(x)).sum(-1), [0, 1]),
    ("softmax_cross_entropy_smooth", L.softmax_cross_entropy, {"label_smoothing": 0.2},
     [real, dist], lambda x, z: -((z * 0.8 + 0.2 / C) * log_softmax(x)).sum(-1), [0]),
    ("softmax_cross_entropy_axis0", L.softmax_cross_entropy, {"axis": 0}, [real, real],
     lambda x, z: -(z * log_softmax(x, 0)).sum(0), [0]),
    ("sparse_softmax_cross_entropy", L.sparse_softmax_cross_entropy, {}, [real, ints],
     lambda x, y: lse(x) - x[np.arange(B), y], [0]),
    ("categorical_cross_entropy", L.categorical_cross_entropy, {}, [dist, dist],
     lambda p, z: -(z * np.log(np.clip(p, 1e-7, 1 - 1e-7))).sum(-1), [0, 1]),
    ("sigmoid_cross_entropy", L.sigmoid_cross_entropy, {}, [real, prob],
     lambda x, z: -(z * np.log(sig(x)) + (1 - z) * np.log(1 - sig(x))), [0, 1]),
    ("sigmoid_cross_entropy_smooth_pw", L.sigmoid_cross_entropy,
     {"label_smoothing": 0.1, "pos_weight": 3.0}, [real, bits],
     lambda x, z: -(3.0 * (z * 0.9 + 0.05) * np.log(sig(x))
                    + (1 - (z * 0.9 + 0.05)) * np.log(1 - sig(x))), [0]),
    ("weighted_cross_entropy", L.weighted_cross_entropy, {"pos_weight": 0.5}, [real, prob],
     lambda x, z: -(0.5 * z * np.log(sig(x)) + (1 - z) * np.log(1 - sig(x))), [0, 1]),
    ("binary_cross_entropy", L.binary_cross_entropy, {"pos_weight": 2.0, "neg_weight": 0.5},
     [prob, bits], lambda p, z: -(2 * z * np.log(p) + 0.5 * (1 - z) * np.log(1 - p)), [0]),
    ("log_loss", L.log_loss, {"eps": 1e-7}, [prob, prob],
     lambda p, z: -z * np.log(p + 1e-7) - (1 - z) * np.log(1 - p + 1e-7), [0, 1]),
    ("hinge", L.hinge, {"margin": 0.5}, [real, signs],
     lambda x, y: np.maximum(0, 0.5 - x * y), [0]),
    ("squared_hinge", L.squared_hinge, {}, [real, signs],
     lambda x, y: np.maximum(0, 1 - x * y) ** 2, [0]),
    ("categorical_hinge", L.categorical_hinge, {}, [real, lambda: onehot(ints())],
     lambda x, z: np.maximum(0, ((1 - z) * x).max(-1) - (z * x).sum(-1) + 1), [0]),
    ("logistic", L.logistic, {}, [real, signs], lambda x, y: np.log1p(np.exp(-x * y)), [0]),
    ("logistic_binary", L.logistic, {"label_format": "binary"}, [real, bits],
     lambda x, z: np.log1p(np.exp(-x * (2 * z - 1))), [0]),
    ("soft_margin", L.soft_margin, {}, [real, signs],
     lambda x, y: np.log1p(np.exp(-x * y)), [0]),
    ("focal", L.focal, {"alpha": 0.25, "gamma": 2.0}, [real, bits],
     lambda x, z: np.where(z == 1, 0.25 * (1 - sig(x)) ** 2 * -np.log(sig(x)),
                           0.75 * sig(x) ** 2 * -np.log(1 - sig(x))), [0]),
    ("focal_no_alpha_gamma0", L.focal, {"alpha": None, "gamma": 0.0}, [real, bits],
     lambda x, z: -(z * np.log(sig(x)) + (1 - z) * np.log(1 - sig(x))), [0]),
    ("multilabel_soft_margin", L.multilabel_soft_margin, {}, [real, bits],
     lambda x, z: -(z * np.log(sig(x)) + (1 - z) * np.log(sig(-x))).mean(-1), [0]),
    ("multilabel_soft_margin_class_weights", L.multilabel_soft_margin,
     {"class_weights": CW}, [real, bits],
     lambda x, z: -(CW * (z * np.log(sig(x)) + (1 - z) * np.log(sig(-x)))).mean(-1), [0]),
    ("softmax_cross_entropy_class_weights", L.softmax_cross_entropy,
     {"class_weights": CW, "label_smoothing": 0.1}, [real, dist],
     lambda x, z: -(CW * (z * 0.9 + 0.1 / C) * log_softmax(x)).sum(-1), [0, 1]),
    ("poisson_log_full", L.poisson, {"log_input": True, "full": True}, [real, counts],
     lambda p, t: np.exp(p) - t * p + np_stirling(t), [0]),
    ("poisson_full", L.poisson, {"eps": 1e-8, "full": True}, [pos, counts],
     lambda p, t: p - t * np.log(p + 1e-8) + np_stirling(t), [0]),
    ("nll", L.nll, {}, [lambda: log_softmax(real()), ints],
     lambda x, y: -x[np.arange(B), y], [0]),
    ("nll_from_logits_smoothed", L.nll, {"from_logits": True, "label_smoothing": 0.2},
     [real, ints], lambda x, y: (0.8 * -log_softmax(x)[np.arange(B), y]
                                 - 0.2 / C * log_softmax(x).sum(-1)), [0]),
    ("hinge_embedding", L.hinge_embedding, {"margin": 0.5}, [real, signs],
     lambda x, y: np.where(y == 1, x, np.maximum(0, 0.5 - x)), [0]),
    ("multi_margin", L.multi_margin, {"p": 2, "margin": 0.8}, [real, ints],
     lambda x, y: np_multi_margin(x, y, 2, 0.8), [0]),
    ("multi_margin_class_weights", L.multi_margin, {"class_weights": CW}, [real, ints],
     lambda x, y: np_multi_margin(x, y, 1, 1.0, CW), [0]),
    ("multilabel_margin", L.multilabel_margin, {}, [real, multilabels], np_multilabel_margin,
     [0]),
]
IDS = [c[0] for c in CASES]


def _args(case, seed=0):
    global RNG
    RNG = np.random.default_rng(seed)
    return [g() for g in case[3]]


(test_value_matches_numpy, test_reductions, test_gradient_finite_differences,
 test_float32_in_float32_out) = case_suite(CASES, _args, f32_rtol=2e-5, f32_atol=1e-6)


def test_weights_broadcast_per_sample_and_per_element():
    p, t = RNG.normal(size=(B, C)), RNG.normal(size=(B, C))
    w_sample, w_elem = RNG.random((B, 1)), RNG.random((B, C))
    np.testing.assert_allclose(L.squared_error(p, t, weights=w_sample),
                               (p - t) ** 2 * w_sample)
    np.testing.assert_allclose(L.squared_error(p, t, weights=w_elem, reduction="sum"),
                               ((p - t) ** 2 * w_elem).sum())
    np.testing.assert_allclose(L.squared_error(p, t, weights=2.0, reduction="mean"),
                               2 * ((p - t) ** 2).mean())
    with pytest.raises(lg.ShapeError, match="weights"):
        L.squared_error(p, t, weights=np.ones(B))        # (B,) aligns with C: mismatch
    with pytest.raises(lg.ShapeError, match="weights"):
        L.squared_error(p, t, weights=np.ones((2, B, C)))  # would enlarge the loss


def test_zero_weights_give_zero_not_nan():
    p, t = RNG.normal(size=B), RNG.normal(size=B)
    from zoo.reduction import reduce
    for mode in ("sum_by_nonzero_weights", "weighted_mean"):
        assert reduce(lg.constant(p - t), mode, weights=np.zeros(B)).op  # a node
        assert lg.evaluate(reduce(lg.constant(p - t), mode, weights=np.zeros(B))) == 0.0


@pytest.mark.parametrize("fn", [L.sigmoid_cross_entropy, L.weighted_cross_entropy, L.focal,
                                L.logistic, L.soft_margin, L.multilabel_soft_margin])
@pytest.mark.parametrize("scale", [100.0, 1e4])
def test_logit_losses_are_finite_at_extreme_logits(fn, scale):
    x = lg.input("x", shape=(2, 2))
    z = np.array([[1.0, 0.0], [1.0, 0.0]]) if fn is not L.soft_margin else \
        np.array([[1.0, -1.0], [1.0, -1.0]])
    loss = fn(x, z, reduction="sum")
    g = lg.gradients(loss, x)
    xs = np.array([[scale, scale], [-scale, -scale]])
    value, grad = lg.evaluate([loss, g], x=xs)
    assert np.isfinite(value) and np.all(np.isfinite(grad))


@pytest.mark.parametrize("fn", [L.softmax_cross_entropy, L.sparse_softmax_cross_entropy])
def test_softmax_losses_finite_at_extreme_logits(fn):
    x = lg.input("x", shape=(2, 3))
    labels = np.array([0, 2]) if fn is L.sparse_softmax_cross_entropy else onehot([0, 2], 3)
    loss = fn(x, labels, reduction="sum")
    value, grad = lg.evaluate([loss, lg.gradients(loss, x)],
                              x=np.array([[1e4, -1e4, 0.0], [100.0, -100.0, 0.0]]))
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(value, 100.0)


@pytest.mark.parametrize("fn", [L.binary_cross_entropy, L.log_loss,
                                L.categorical_cross_entropy])
def test_probability_losses_finite_at_exact_zero_and_one(fn):
    p = lg.input("p", shape=(2, 2))
    z = np.array([[1.0, 0.0], [0.0, 1.0]])
    loss = fn(p, z, reduction="sum")
    value, grad = lg.evaluate([loss, lg.gradients(loss, p)], p=np.array([[1.0, 0.0], [1.0, 0.0]]))
    assert np.isfinite(value) and np.all(np.isfinite(grad))


def test_categorical_cross_entropy_without_eps_skips_zero_targets():
    p = np.array([[0.0, 1.0, 0.0]])
    z = np.array([[0.0, 1.0, 0.0]])
    assert L.categorical_cross_entropy(p, z, eps=0.0) == 0.0


def test_textbook_gradient_of_canonical_sparse_softmax_ce():
    x = lg.input("x", shape=("N", "C"))
    y = lg.input("y", shape=("N",), dtype="int64")
    g = lg.gradients(L.sparse_softmax_cross_entropy(x, y, reduction="mean"), x)
    xs, ys = RNG.normal(size=(3, 4)), np.array([0, 3, 1])
    e = np.exp(xs - xs.max(1, keepdims=True))
    np.testing.assert_allclose(lg.evaluate(g, x=xs, y=ys),
                               (e / e.sum(1, keepdims=True) - onehot(ys, 4)) / 3)


def test_bad_input_errors_name_the_argument():
    x = RNG.normal(size=(B, C))
    with pytest.raises(lg.DTypeError, match="labels"):
        L.sparse_softmax_cross_entropy(x, np.ones(B))
    with pytest.raises(lg.InputError, match="out of range"):
        L.sparse_softmax_cross_entropy(x, np.array([0, 1, 2, C]))
    with pytest.raises(lg.ShapeError):
        L.squared_error(x, np.ones((B, C + 1)))
    with pytest.raises(lg.ShapeError, match="target has shape .5,. but pred has shape .4, 5."):
        L.squared_error(x, np.ones(C))              # no silent broadcast of a target
    with pytest.raises(lg.ShapeError, match="labels"):
        L.sigmoid_cross_entropy(x, np.ones((1, C)))
    with pytest.raises(lg.OptionError, match="reduction"):
        L.squared_error(x, x, reduction="avg")
    with pytest.raises(lg.OptionError, match="label_format"):
        L.logistic(x, x, label_format="pm1")
    with pytest.raises(lg.OptionError, match="q"):
        L.quantile(x, x, q=1.5)


def test_nodes_in_node_out_and_mixed():
    p = lg.input("p", shape=(3,))
    out = L.huber(p, np.zeros(3), reduction="mean")
    assert isinstance(out, lg.Node)
    np.testing.assert_allclose(lg.evaluate(out, p=np.array([0.5, 2.0, -3.0])),
                               np.mean([0.125, 1.5, 2.5]))


def test_errors_name_the_callers_argument():
    import zoo
    with pytest.raises(lg.DTypeError, match="^target: expected integer class labels"):
        zoo.tensorlayer.cross_entropy(RNG.normal(size=(B, C)), np.ones(B))


def test_nll_class_weighted_mean_and_ignore_index():
    """mean = sum_n w_{y_n} (-x_{n, y_n}) / sum of w over the targets not ignored."""
    x, y = log_softmax(RNG.normal(size=(6, C))), np.array([0, 3, -100, 1, 3, -100])
    keep = y != -100
    picked = -x[np.arange(6), np.where(keep, y, 0)] * CW[np.where(keep, y, 0)] * keep
    out = L.nll(x, y, class_weights=CW, ignore_index=-100, reduction="none")
    np.testing.assert_allclose(out, picked, rtol=1e-12)
    np.testing.assert_allclose(L.nll(x, y, class_weights=CW, ignore_index=-100, reduction="sum"),
                               picked.sum(), rtol=1e-12)
    np.testing.assert_allclose(
        L.nll(x, y, class_weights=CW, ignore_index=-100, reduction="mean"),
        picked.sum() / CW[y[keep]].sum(), rtol=1e-12)


def test_nll_all_ignored_mean_is_nan_and_sum_is_zero():
    x, y = log_softmax(RNG.normal(size=(3, C))), np.full(3, -1)
    assert np.isnan(L.nll(x, y, ignore_index=-1, reduction="mean"))
    assert L.nll(x, y, ignore_index=-1, reduction="sum") == 0.0


def test_nll_and_multi_margin_refuse_bad_labels():
    x = log_softmax(RNG.normal(size=(3, C)))
    with pytest.raises(lg.DTypeError, match="labels"):
        L.nll(x, np.zeros(3))
    with pytest.raises(lg.InputError, match="out of range"):
        L.nll(x, np.array([0, C, 1]))
    with pytest.raises(lg.ShapeError, match="class_weights"):
        L.nll(x, np.array([0, 1, 1]), class_weights=np.ones(C + 1))
    with pytest.raises(lg.OptionError, match="p must be an integer in"):
        L.multi_margin(x, np.array([0, 1, 1]), p=3)
    with pytest.raises(lg.ShapeError, match="labels"):
        L.multilabel_margin(x, np.zeros((3, C - 1), dtype=int))


def test_binary_cross_entropy_log_floor_caps_each_term_and_keeps_gradients_finite():
    p, z = np.array([0.0, 1.0, 0.3, 1e-50]), np.array([1.0, 0.0, 1.0, 1.0])
    out = L.binary_cross_entropy(p, z, eps=0, log_floor=-100)
    np.testing.assert_allclose(out, [100.0, 100.0, -np.log(0.3), 100.0], rtol=1e-12)
    pn = lg.input("p", shape=(4,))
    (g,) = lg.gradients(L.binary_cross_entropy(pn, z, eps=0, log_floor=-100, reduction="sum"),
                        [pn])
    np.testing.assert_allclose(lg.evaluate(g, {"p": p}), [0.0, 0.0, -1 / 0.3, 0.0], rtol=1e-12)
