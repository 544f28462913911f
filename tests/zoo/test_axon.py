"""zoo.axon against Axon v0.5.1: the documented examples (seed 004, exact numbers), independent
NumPy formulas, finite-difference gradients, dtypes, options, stability and errors."""
import itertools

import numpy as np
import pytest

import lossgraph as lg
from zoo import axon
from .zoo_refs import check_graph_grad

F32 = dict(rtol=1e-6, atol=1e-7)   # a few float32 ulps
F64 = dict(rtol=1e-10, atol=1e-12)
EPS = 1e-7                          # Axon's clipping epsilon (bce, kl_divergence, poisson)


def f32(x):
    return np.array(x, dtype=np.float32)


# ---------------------------------------------------------------- seed examples (Axon docs)
BCE_T = np.array([[0, 1], [1, 0], [1, 0]])                       # s64
BCE_P = f32([[0.6811, 0.5565], [0.6551, 0.4551], [0.5422, 0.2648]])
CCE_T = np.array([[0, 1, 0], [0, 0, 1]], dtype=np.int8)
CCE_P = f32([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
CH_T = np.array([[1, 0, 0], [0, 0, 1]], dtype=np.int8)
CH_P = f32([[0.05300799, 0.21617081, 0.68642382], [0.3754382, 0.08494169, 0.13442067]])
H_T = np.array([[1, 1, -1], [1, 1, -1]], dtype=np.int8)
H_P = f32([[0.45440044, 0.31470688, 0.67920924], [0.24311459, 0.93466766, 0.10914676]])
KL_T = np.array([[0, 1], [0, 0]], dtype=np.uint8)
KL_P = f32([[0.6, 0.4], [0.4, 0.6]])
REG_T = f32([[0.0, 1.0], [0.0, 0.0]])
REG_P = f32([[1.0, 1.0], [1.0, 0.0]])
LC_P = f32([[1.0, 1.0], [0.0, 0.0]])
MR_T = f32([1.0, 1.0, 1.0])
MR_1 = f32([0.6934, -0.7239, 1.1954])
MR_2 = f32([-0.4691, 0.2670, -1.7452])
SM_T = f32([[-1.0, 1.0, 1.0]])
SM_P = f32([[0.2953, -0.1709, 0.9486]])

SEEDS = [
    ("binary_cross_entropy", BCE_T, BCE_P, {},
     [0.8644826412200928, 0.5150600075721741, 0.45986634492874146]),
    ("binary_cross_entropy", BCE_T, BCE_P, {"reduction": "mean"}, 0.613136351108551),
    ("binary_cross_entropy", BCE_T, BCE_P, {"reduction": ":sum"}, 1.8394089937210083),
    ("categorical_cross_entropy", CCE_T, CCE_P, {},
     [0.051293306052684784, 2.3025851249694824]),
    ("categorical_cross_entropy", CCE_T, CCE_P, {"reduction": "mean"}, 1.1769392490386963),
    ("categorical_cross_entropy", CCE_T, CCE_P, {"reduction": "sum"}, 2.3538784980773926),
    ("categorical_cross_entropy", np.array([1, 2], dtype=np.int8), CCE_P,
     {"reduction": "sum", "sparse": True}, 2.3538784980773926),
    ("categorical_hinge", CH_T, CH_P, {}, [1.6334158182144165, 1.2410175800323486]),
    ("categorical_hinge", CH_T, CH_P, {"reduction": "mean"}, 1.4372167587280273),
    ("categorical_hinge", CH_T, CH_P, {"reduction": "sum"}, 2.8744335174560547),
    ("cosine_similarity", f32([[0.0, 1.0], [1.0, 1.0]]), f32([[1.0, 0.0], [1.0, 1.0]]), {},
     [0.0, 1.0000001192092896]),
    ("hinge", H_T, H_P, {}, [0.9700339436531067, 0.6437881588935852]),
    ("hinge", H_T, H_P, {"reduction": "mean"}, 0.806911051273346),
    ("hinge", H_T, H_P, {"reduction": "sum"}, 1.613822102546692),
    ("kl_divergence", KL_T, KL_P, {}, [0.916289210319519, -3.080907390540233e-6]),
    ("kl_divergence", KL_T, KL_P, {"reduction": "mean"}, 0.45814305543899536),
    ("kl_divergence", KL_T, KL_P, {"reduction": "sum"}, 0.9162861108779907),
    ("log_cosh", REG_T, LC_P, {}, [0.2168903946876526, 0.0]),
    ("log_cosh", REG_T, LC_P, {"reduction": "mean"}, 0.1084451973438263),
    ("log_cosh", REG_T, LC_P, {"reduction": "sum"}, 0.2168903946876526),
    ("mean_absolute_error", REG_T, REG_P, {}, [0.5, 0.5]),
    ("mean_absolute_error", REG_T, REG_P, {"reduction": "mean"}, 0.5),
    ("mean_absolute_error", REG_T, REG_P, {"reduction": "sum"}, 1.0),
    ("mean_squared_error", REG_T, REG_P, {}, [0.5, 0.5]),
    ("mean_squared_error", REG_T, REG_P, {"reduction": "mean"}, 0.5),
    ("mean_squared_error", REG_T, REG_P, {"reduction": "sum"}, 1.0),
    ("poisson", REG_T, LC_P, {}, [0.9999999403953552, 0.0]),
    ("poisson", REG_T, LC_P, {"reduction": "mean"}, 0.4999999701976776),
    ("poisson", REG_T, LC_P, {"reduction": "sum"}, 0.9999999403953552),
    ("soft_margin", SM_T, SM_P, {}, [0.851658046245575, 0.7822436094284058, 0.3273470401763916]),
    ("soft_margin", SM_T, SM_P, {"reduction": "mean"}, 0.6537495255470276),
    ("soft_margin", SM_T, SM_P, {"reduction": "sum"}, 1.9612486362457275),
]


@pytest.mark.parametrize("name,y_true,y_pred,opts,expected", SEEDS,
                         ids=[f"{s[0]}-{i}" for i, s in enumerate(SEEDS)])
def test_seed_examples(name, y_true, y_pred, opts, expected):
    out = getattr(axon, name)(y_true, y_pred, **opts)
    expected = np.asarray(expected, dtype=np.float32)
    assert out.dtype == np.float32
    assert np.shape(out) == expected.shape
    np.testing.assert_allclose(out, expected, **F32)


@pytest.mark.parametrize("reduction,expected", [
    ("none", [0.0, 0.9909000396728516, 0.0]), ("mean", 0.3303000032901764),
    (":sum", 0.9909000396728516)])
def test_seed_margin_ranking(reduction, expected):
    out = axon.margin_ranking(MR_T, (MR_1, MR_2), reduction=reduction)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, f32(expected), **F32)


def test_module_doc_example_mse_mean():
    out = axon.mean_squared_error(REG_T, REG_P, reduction="mean")
    assert out.dtype == np.float32 and out.shape == ()
    assert out == np.float32(0.5)


# ---------------------------------------------------------------- independent NumPy formulas
rng = np.random.default_rng(4)


def probs(*shape):
    return rng.uniform(0.05, 0.95, shape)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def np_bce(t, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -(t * np.log(p + EPS) + (1 - t) * np.log(1 - p + EPS))


def np_bce_logits(t, x):
    return t * np.logaddexp(0, -x) + (1 - t) * np.logaddexp(0, x)


def reduce_np(l, reduction):
    return {"none": l, "mean": np.mean(l), "sum": np.sum(l)}[reduction]


REDUCTIONS = ["none", "mean", "sum"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_formula(reduction):
    t = rng.integers(0, 2, (4, 3, 5)).astype(float)
    p = probs(4, 3, 5)
    x = rng.normal(size=(4, 3, 5)) * 3
    np.testing.assert_allclose(axon.binary_cross_entropy(t, p, reduction=reduction),
                               reduce_np(np_bce(t, p).mean(-1), reduction), **F64)
    np.testing.assert_allclose(
        axon.binary_cross_entropy(t, x, from_logits=True, reduction=reduction),
        reduce_np(np_bce_logits(t, x).mean(-1), reduction), **F64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("spelling", ["singular", "plural"])
def test_binary_cross_entropy_class_weights(reduction, spelling):
    # Axon 0.5.1: weights picked by the 0/1 label, then a mean over ALL elements (a scalar)
    t = rng.integers(0, 2, (4, 3))
    p = probs(4, 3)
    key = "" if spelling == "singular" else "s"
    for pos, neg in [(2.0, None), (None, 0.25), (3.0, 0.5)]:
        opts = {f"positive_weight{key}": pos, f"negative_weight{key}": neg}
        w = np.where(t == 1, 1.0 if pos is None else pos, 1.0 if neg is None else neg)
        expected = np.mean(w * np_bce(t, p))
        out = axon.binary_cross_entropy(t, p, reduction=reduction, **opts)
        assert np.shape(out) == ()
        np.testing.assert_allclose(out, expected, **F64)


def test_binary_cross_entropy_both_spellings_is_an_error():
    with pytest.raises(lg.OptionError, match="positive_weight"):
        axon.binary_cross_entropy(BCE_T, BCE_P, positive_weight=2.0, positive_weights=2.0)


def np_cce(t, p):
    with np.errstate(all="ignore"):
        return -np.where(t == 0, 0.0, t * np.log(p)).sum(-1)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_categorical_cross_entropy_formula(reduction):
    labels = rng.integers(0, 4, 6)
    t = np.eye(4)[labels]
    p = softmax(rng.normal(size=(6, 4)))
    x = rng.normal(size=(6, 4)) * 3
    logp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    cases = [
        ({}, t, p, np_cce(t, p)),
        ({"sparse": True}, labels, p, -np.log(p[np.arange(6), labels])),
        ({"sparse": True}, labels[:, None], p, -np.log(p[np.arange(6), labels])),
        ({"from_logits": True}, t, x, -(t * logp).sum(-1)),
        ({"from_logits": True, "sparse": True}, labels, x, -logp[np.arange(6), labels]),
    ]
    for opts, yt, yp, per in cases:
        out = axon.categorical_cross_entropy(yt, yp, reduction=reduction, **opts)
        np.testing.assert_allclose(out, reduce_np(per, reduction), err_msg=str(opts), **F64)


def test_categorical_cross_entropy_soft_labels():
    t = softmax(rng.normal(size=(5, 3)))
    p = softmax(rng.normal(size=(5, 3)))
    np.testing.assert_allclose(axon.categorical_cross_entropy(t, p), np_cce(t, p), **F64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_categorical_cross_entropy_class_weights(reduction):
    cw = [0.5, 2.0, 1.0, 3.0]
    t = softmax(rng.normal(size=(6, 4)) * 3)        # soft labels: Axon weighs by argmax(y_true)
    p = softmax(rng.normal(size=(6, 4)))
    w = np.array(cw)[np.argmax(t, axis=1)]
    per = w * np_cce(t, p)
    expected = {"none": per, "sum": per.sum(), "mean": per.sum() / w.sum()}[reduction]
    out = axon.categorical_cross_entropy(t, p, class_weights=cw, reduction=reduction)
    np.testing.assert_allclose(out, expected, **F64)


def test_categorical_cross_entropy_class_weights_sparse():
    labels = rng.integers(0, 3, 5)
    p = softmax(rng.normal(size=(5, 3)))
    cw = np.array([1.0, 2.0, 4.0])
    out = axon.categorical_cross_entropy(labels, p, sparse=True, class_weights=cw,
                                         reduction="mean")
    w = cw[labels]
    np.testing.assert_allclose(out, (w * -np.log(p[np.arange(5), labels])).sum() / w.sum(),
                               **F64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_categorical_hinge_formula(reduction):
    t = np.eye(5)[rng.integers(0, 5, 7)]
    p = rng.normal(size=(7, 5))
    per = np.maximum(0, ((1 - t) * p).max(-1) - (t * p).sum(-1) + 1)
    np.testing.assert_allclose(axon.categorical_hinge(t, p, reduction=reduction),
                               reduce_np(per, reduction), **F64)


@pytest.mark.parametrize("axes", [[1], [0], [1, 2], (2,)])
def test_cosine_similarity_formula(axes):
    a, b = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    axes_t = tuple(axes)
    den = np.sqrt((a * a).sum(axes_t)) * np.sqrt((b * b).sum(axes_t))
    per = (a * b).sum(axes_t) / np.maximum(den, 1e-6)
    for reduction in REDUCTIONS:
        np.testing.assert_allclose(
            axon.cosine_similarity(a, b, axes=axes, reduction=reduction),
            reduce_np(per, reduction), **F64)


def test_cosine_similarity_eps():
    a = np.array([[1e-4, 0.0], [1.0, 2.0]])
    b = np.array([[1e-4, 1e-4], [2.0, 1.0]])
    for eps in [1e-6, 1e-3]:
        den = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), eps)
        np.testing.assert_allclose(axon.cosine_similarity(a, b, eps=eps),
                                   (a * b).sum(1) / den, **F64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_elementwise_regressions_formula(reduction):
    t, p = rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 4, 5))
    d = p - t
    refs = {
        "mean_squared_error": (d ** 2).mean(-1),
        "mean_absolute_error": np.abs(d).mean(-1),
        "log_cosh": np.log(np.cosh(d)).mean(-1),
        "hinge": np.maximum(0, 1 - t * p).mean(-1),
        "poisson": (np.abs(p) - t * np.log(np.abs(p) + EPS)).mean(-1),
        "soft_margin": np.log1p(np.exp(-t * p)).sum(0),
    }
    for name, per in refs.items():
        y_pred = np.abs(p) if name == "poisson" else p
        out = getattr(axon, name)(t, y_pred, reduction=reduction)
        np.testing.assert_allclose(out, reduce_np(per, reduction), err_msg=name, **F64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_kl_divergence_formula(reduction):
    t = softmax(rng.normal(size=(4, 6)))
    t[0, :2] = 0.0                                   # zeros are clipped to 1e-7, not dropped
    p = softmax(rng.normal(size=(4, 6)))
    tc, pc = np.clip(t, EPS, 1), np.clip(p, EPS, 1)
    per = (tc * np.log(tc / pc)).sum(-1)
    np.testing.assert_allclose(axon.kl_divergence(t, p, reduction=reduction),
                               reduce_np(per, reduction), **F64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_formula(reduction):
    y = rng.choice([-1.0, 1.0], 8)
    a, b = rng.normal(size=8), rng.normal(size=8)
    for margin in [0.0, 0.3]:
        per = np.maximum(0, -y * (a - b) + margin)
        out = axon.margin_ranking(y, (a, b), margin=margin, reduction=reduction)
        np.testing.assert_allclose(out, reduce_np(per, reduction), **F64)


# ---------------------------------------------------------------- CTC (brute-force reference)
def ctc_brute(logp, labels, blank):
    """-log of the summed probability of every path that collapses to labels."""
    T, D = logp.shape
    total = 0.0
    for path in itertools.product(range(D), repeat=T):
        collapsed = [c for i, c in enumerate(path) if c != blank and (i == 0 or path[i - 1] != c)]
        if collapsed == list(labels):
            total += np.exp(sum(logp[t, c] for t, c in enumerate(path)))
    return -np.log(total)


def ctc_case(blank):
    logp = np.log(softmax(rng.normal(size=(3, 5, 4))))
    symbols = [c for c in range(4) if c != blank]
    y_true = np.array([[symbols[0], symbols[1], symbols[1]],
                       [symbols[2], symbols[0], blank],
                       [symbols[1], blank, blank]])
    lengths = np.array([3, 2, 1])
    per = np.array([ctc_brute(logp[b], y_true[b, :lengths[b]], blank) for b in range(3)])
    return logp, y_true, lengths, per


@pytest.mark.parametrize("blank", [0, 3])
def test_ctc_against_brute_force(blank):
    logp, y_true, lengths, per = ctc_case(blank)
    out = axon.connectionist_temporal_classification((lengths, y_true), logp, blank=blank)
    np.testing.assert_allclose(out, per, rtol=1e-9)
    np.testing.assert_allclose(
        axon.connectionist_temporal_classification((lengths, y_true), logp, blank=blank,
                                                   reduction="sum"), per.sum(), rtol=1e-9)
    np.testing.assert_allclose(
        axon.connectionist_temporal_classification((lengths, y_true), logp, blank=blank,
                                                   reduction="mean"),
        np.mean(per / lengths), rtol=1e-9)


def test_ctc_gradient_matches_finite_differences():
    logp, y_true, lengths, _ = ctc_case(0)
    x = lg.input("y_pred", shape=logp.shape, dtype="float64")
    loss = axon.connectionist_temporal_classification((lengths, y_true), x, reduction="sum")
    check_graph_grad(loss, x, {"y_pred": logp})


# ---------------------------------------------------------------- gradients (float64 FD)


GRAD_CASES = [
    ("binary_cross_entropy", lambda: rng.integers(0, 2, (3, 4)).astype(float),
     lambda: probs(3, 4), {}),
    ("binary_cross_entropy", lambda: rng.integers(0, 2, (3, 4)).astype(float),
     lambda: rng.normal(size=(3, 4)), {"from_logits": True}),
    ("binary_cross_entropy", lambda: rng.integers(0, 2, (3, 4)).astype(float),
     lambda: probs(3, 4), {"positive_weight": 2.0}),
    ("categorical_cross_entropy", lambda: np.eye(3)[[0, 2, 1, 1]], lambda: probs(4, 3), {}),
    ("categorical_cross_entropy", lambda: np.eye(3)[[0, 2, 1, 1]],
     lambda: rng.normal(size=(4, 3)), {"from_logits": True, "class_weights": [1., 2., 3.]}),
    ("categorical_hinge", lambda: np.eye(3)[[0, 2, 1, 1]], lambda: rng.normal(size=(4, 3)), {}),
    ("cosine_similarity", lambda: rng.normal(size=(4, 3)), lambda: rng.normal(size=(4, 3)), {}),
    ("hinge", lambda: rng.choice([-1.0, 1.0], (4, 3)), lambda: rng.normal(size=(4, 3)) * 3, {}),
    ("kl_divergence", lambda: probs(4, 3), lambda: probs(4, 3), {}),
    ("log_cosh", lambda: rng.normal(size=(4, 3)), lambda: rng.normal(size=(4, 3)), {}),
    ("mean_absolute_error", lambda: rng.normal(size=(4, 3)), lambda: rng.normal(size=(4, 3)),
     {}),
    ("mean_squared_error", lambda: rng.normal(size=(4, 3)), lambda: rng.normal(size=(4, 3)),
     {}),
    ("poisson", lambda: rng.uniform(0, 3, (4, 3)), lambda: rng.uniform(0.5, 3, (4, 3)), {}),
    ("soft_margin", lambda: rng.choice([-1.0, 1.0], (4, 3)), lambda: rng.normal(size=(4, 3)),
     {}),
]


@pytest.mark.parametrize("name,make_t,make_p,opts", GRAD_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(GRAD_CASES)])
def test_gradient_finite_differences(name, make_t, make_p, opts):
    t, p = make_t(), make_p()
    yt = lg.input("y_true", shape=t.shape, dtype="float64")
    yp = lg.input("y_pred", shape=p.shape, dtype="float64")
    loss = getattr(axon, name)(yt, yp, reduction="sum", **opts)
    assert isinstance(loss, lg.Node)
    check_graph_grad(loss, yp, {"y_true": t, "y_pred": p})


def test_margin_ranking_gradient_and_mixed_inputs():
    y = rng.choice([-1.0, 1.0], 6)
    a, b = rng.normal(size=6), rng.normal(size=6)
    x1 = lg.input("x1", shape=(6,), dtype="float64")
    loss = axon.margin_ranking(y, (x1, b), margin=0.1, reduction="sum")   # arrays + a Node
    assert isinstance(loss, lg.Node)
    check_graph_grad(loss, x1, {"x1": a})


def test_sigmoid_and_softmax_outputs_take_the_logits_path():
    # Axon keeps the logits of Axon.Activations.sigmoid/softmax; here: y_pred = lg.sigmoid(x)
    x = lg.input("x", shape=(1, 2), dtype="float64")
    logits = np.array([[-100.0, 100.0]])
    bce = axon.binary_cross_entropy(np.array([[1.0, 0.0]]), lg.sigmoid(x))
    np.testing.assert_allclose(lg.evaluate(bce, x=logits), [100.0], rtol=1e-12)
    cce = axon.categorical_cross_entropy(np.array([[1.0, 0.0]]), lg.softmax(x))
    np.testing.assert_allclose(lg.evaluate(cce, x=logits), [200.0], rtol=1e-12)


def test_symbolic_shapes_and_node_out():
    yt = lg.input("y_true", shape=("N", "C"))
    yp = lg.input("y_pred", shape=("N", "C"))
    for name in ["mean_squared_error", "binary_cross_entropy", "kl_divergence", "hinge"]:
        node = getattr(axon, name)(yt, yp)
        assert isinstance(node, lg.Node) and node.shape == ("N",)
        assert getattr(axon, name)(yt, yp, reduction="mean").shape == ()


# ---------------------------------------------------------------- dtypes
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_follows_y_pred(dtype):
    t = rng.integers(0, 2, (3, 4))
    p = probs(3, 4).astype(dtype)
    for name in ["binary_cross_entropy", "mean_squared_error", "poisson", "hinge", "log_cosh",
                 "kl_divergence", "categorical_cross_entropy", "categorical_hinge",
                 "soft_margin", "cosine_similarity", "mean_absolute_error"]:
        out = getattr(axon, name)(t, p)
        assert out.dtype == dtype, name
        ref = getattr(axon, name)(t.astype(float), p.astype(np.float64))
        np.testing.assert_allclose(out, ref, rtol=2e-6 if dtype == np.float32 else 1e-12,
                                   atol=1e-6 if dtype == np.float32 else 1e-14, err_msg=name)


# ---------------------------------------------------------------- stability
def test_stable_at_extreme_logits():
    x = np.array([[-100.0, 100.0], [100.0, -100.0]], dtype=np.float32)
    t = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    bce = axon.binary_cross_entropy(t, x, from_logits=True)
    np.testing.assert_allclose(bce, f32([100.0, 0.0]), rtol=1e-6, atol=1e-6)
    cce = axon.categorical_cross_entropy(t, x, from_logits=True)
    np.testing.assert_allclose(cce, f32([200.0, 0.0]), rtol=1e-6, atol=1e-6)
    sm = axon.soft_margin(f32([[1.0, -1.0]]), f32([[-100.0, 100.0]]))  # Axon overflows exp here
    np.testing.assert_allclose(sm, f32([100.0, 100.0]), rtol=1e-6)
    lc = axon.log_cosh(f32([[0.0]]), f32([[-100.0]]))                  # and here: exp(200)
    np.testing.assert_allclose(lc, f32([100.0 - np.log(2.0)]), rtol=1e-6)


def test_stable_at_probabilities_zero_and_one():
    t = np.array([[1.0, 0.0, 1.0, 0.0]])
    p = np.array([[0.0, 1.0, 1.0, 0.0]])
    # clip to [1e-7, 1 - 1e-7] then log(p + 1e-7): Axon's exact numbers
    expected = np.mean([-np.log(2e-7), -np.log(2e-7), -np.log(1.0), -np.log(1.0)])
    for dtype in [np.float32, np.float64]:
        out = axon.binary_cross_entropy(t, p.astype(dtype))
        assert np.all(np.isfinite(out))
        np.testing.assert_allclose(out, [expected], rtol=1e-5)
    kl = axon.kl_divergence(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]))
    np.testing.assert_allclose(kl, [EPS * np.log(EPS) + np.log(1 / EPS)], rtol=1e-9)
    cce = axon.categorical_cross_entropy(np.array([[0.0, 1.0]]), np.array([[0.0, 1.0]]))
    assert cce[0] == 0.0                               # 0 * log 0 = 0 (xlogy)
    po = axon.poisson(np.array([[1.0]]), np.array([[0.0]]))
    np.testing.assert_allclose(po, [-np.log(EPS)], rtol=1e-9)
    cs = axon.cosine_similarity(np.zeros((1, 3)), np.ones((1, 3)))
    assert cs[0] == 0.0


# ---------------------------------------------------------------- errors
ALL_TWO_ARG = ["binary_cross_entropy", "categorical_cross_entropy", "categorical_hinge",
               "cosine_similarity", "hinge", "kl_divergence", "log_cosh", "mean_absolute_error",
               "mean_squared_error", "poisson", "soft_margin"]


@pytest.mark.parametrize("name", ALL_TWO_ARG)
def test_unknown_reduction(name):
    with pytest.raises(lg.OptionError, match="reduction"):
        getattr(axon, name)(REG_T, REG_P, reduction="batchmean")


def test_unknown_reduction_margin_ranking_and_ctc():
    with pytest.raises(lg.OptionError, match="reduction"):
        axon.margin_ranking(MR_T, (MR_1, MR_2), reduction="max")
    logp, y_true, lengths, _ = ctc_case(0)
    with pytest.raises(lg.OptionError, match="reduction"):
        axon.connectionist_temporal_classification((lengths, y_true), logp, reduction="avg")


def test_unknown_option_is_a_type_error():
    with pytest.raises(TypeError):
        axon.mean_squared_error(REG_T, REG_P, reductions="mean")


def test_bad_inputs_name_the_argument():
    with pytest.raises(lg.ShapeError, match="y_pred|y_true"):
        axon.binary_cross_entropy(np.zeros((2, 3)), np.full((2, 4), 0.5))
    with pytest.raises(lg.ShapeError, match="class_weights"):
        axon.categorical_cross_entropy(CCE_T, CCE_P, class_weights=[1.0, 2.0])
    with pytest.raises(lg.ShapeError, match="y_true"):
        axon.categorical_cross_entropy(np.zeros((2, 2), dtype=int), CCE_P, sparse=True)
    with pytest.raises(lg.InputError, match="y_pred"):
        axon.margin_ranking(MR_T, MR_1)
    with pytest.raises(lg.InputError, match="y_true"):
        axon.connectionist_temporal_classification(np.zeros((3, 3), dtype=int),
                                                   np.zeros((3, 5, 4)))


def test_every_function_has_formula_and_source_docstring():
    for name in axon.__all__:
        doc = getattr(axon, name).__doc__
        assert doc and "Source convention:" in doc, name


# ---------------------------------------------------------------- Axon v0.5.1 test-suite values
def test_axon_suite_bce_weights_and_logits():
    y_true = np.array([0, 1, 0, 1, 0])
    out = axon.binary_cross_entropy(y_true, f32([0.2, 0.8, 0.5, 0.3, 0.8]), positive_weight=0.5,
                                    negative_weight=0.8, reduction="mean")
    np.testing.assert_allclose(out, np.float32(0.546828031539917), **F32)
    out = axon.binary_cross_entropy(y_true, f32([15.0, -10.0, 6.0, 2.0, -1.0]),
                                    from_logits=True, reduction="mean")
    np.testing.assert_allclose(out, np.float32(6.2885422706604), **F32)


@pytest.mark.parametrize("reduction,expected", [
    ("none", [0.04462870582938194, 0.27488723397254944, 0.1021651178598404]),
    ("mean", 0.6024014353752136), ("sum", 0.4216810464859009)])
def test_axon_suite_cce_class_weights(reduction, expected):
    y_true = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    y_pred = f32([[0.1, 0.8, 0.1], [0.4, 0.2, 0.4], [0.15, 0.25, 0.6]])
    out = axon.categorical_cross_entropy(y_true, y_pred, class_weights=[0.3, 0.2, 0.2],
                                         reduction=reduction)
    np.testing.assert_allclose(out, f32(expected), **F32)


def test_axon_suite_cce_logits_all_target_forms():
    logits = f32([[15.0, 2.0, -22.0], [-5.0, -2.0, 3.0], [2.0, 1.96, 1.20]])
    e = np.exp(logits.astype(np.float64) - logits.max(-1, keepdims=True))
    probs = (e / e.sum(-1, keepdims=True)).astype(np.float32)
    dense = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    for y_true, y_pred, opts in [
            (dense, logits, {"from_logits": True}),
            (np.array([1, 0, 2]), logits, {"from_logits": True, "sparse": True}),
            (np.array([[1], [0], [2]]), logits, {"from_logits": True, "sparse": True}),
            (np.array([1, 0, 2]), probs, {"sparse": True}),
            (np.array([[1], [0], [2]]), probs, {"sparse": True})]:
        out = axon.categorical_cross_entropy(y_true, y_pred, reduction="mean", **opts)
        np.testing.assert_allclose(out, np.float32(7.562242031097412), rtol=2e-6,
                                   err_msg=str(opts))


def test_axon_suite_ctc_exact_versus_axon_approximation():
    # Axon 0.5.1 adds 1e-7 inside each log-sum: [8.08642292022705, 8.933040618896484];
    # exact CTC (brute force over the 5**10 paths is too slow; forward algorithm in float64):
    # [8.0870124, 8.9343102]. We return the exact values.
    y_pred = np.full((2, 10, 5), -1.6094379425048828, dtype=np.float32)
    y_true = np.array([[2, 3, 4, 1], [2, 2, 4, 1]])
    out = axon.connectionist_temporal_classification((np.array([4, 4]), y_true), y_pred)
    np.testing.assert_allclose(out, f32([8.0870124, 8.9343102]), rtol=2e-6)
    np.testing.assert_allclose(out, f32([8.08642292022705, 8.933040618896484]), rtol=2e-3)
    wide = np.array([[2, 3, 4, 1, 1], [2, 2, 4, 1, 1]])             # extra column is ignored
    np.testing.assert_allclose(
        axon.connectionist_temporal_classification((np.array([4, 4]), wide), y_pred), out)
