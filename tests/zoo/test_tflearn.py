"""zoo.tflearn against tflearn.objectives (seed 003; tflearn/objectives.py at 0.3.2 and master,
tflearn/config.py _EPSILON = 1e-10, L1/L2 from tflearn/regularizers.py): each objective checked
against an independent NumPy transcription of the TFLearn code, with finite-difference
gradients (float64), both precisions, extremes and bad input."""
import inspect

import numpy as np
import pytest

import lossgraph as lg
from zoo import tflearn
from .zoo_refs import check_grad

rng = np.random.default_rng(3)
F64 = dict(rtol=1e-10, atol=1e-12)
EPS = 1e-10          # tflearn.config._EPSILON


# ---------------------------------------------------------------- NumPy references
def lse(x, axis=-1):
    m = x.max(axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis, keepdims=True))).squeeze(axis)


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def ref_softmax_categorical_crossentropy(y_pred, y_true):
    return np.mean(np.sum(y_true * (lse(y_pred)[..., None] - y_pred), axis=-1))


def ref_categorical_crossentropy(y_pred, y_true):
    p = y_pred / y_pred.sum(-1, keepdims=True)
    p = np.clip(p, EPS, 1.0 - EPS)
    return np.mean(-np.sum(y_true * np.log(p), axis=-1))


def ref_binary_crossentropy(y_pred, y_true):
    x, z = y_pred, y_true
    return np.mean(np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x))))


def ref_weighted_crossentropy(y_pred, y_true, weight):
    x, z, q = y_pred, y_true, weight
    l = 1 + (q - 1) * z
    return np.mean((1 - z) * x + l * (np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)))


def ref_mean_square(y_pred, y_true):
    return np.mean((y_pred - y_true) ** 2)


def ref_hinge_loss(y_pred, y_true):
    return np.mean(np.maximum(1.0 - y_true * y_pred, 0.0))


def ref_roc_auc_score(y_pred, y_true):
    mask = y_true.astype(bool)
    pos, neg = y_pred[mask], y_pred[~mask]
    difference = pos[None, :] - neg[:, None] - 0.2
    return np.sum((-difference[difference < 0.0]) ** 3)


def ref_weak_cross_entropy_2d(y_pred, y_true, num_classes=None, epsilon=0.0001, head=None):
    c = y_true.shape[-1] if num_classes is None else num_classes
    x = y_pred.reshape(-1, c) + epsilon
    z = y_true.reshape(-1, c).astype(float)
    term = z * np.log(softmax(x))
    if head is not None:
        term = term * head
    return np.mean(-term.sum(1))


def ref_contrastive_loss(y_pred, y_true, margin=1.0):
    return np.sum(y_true * y_pred ** 2 + (1 - y_true) * np.maximum(margin - y_pred, 0) ** 2) / 2.0


def ref_triplet_loss(anchor, positive, negative, margin=1.0):
    return max(np.sum((anchor - positive) ** 2) - np.sum((anchor - negative) ** 2) + margin, 0.0)


def ref_L2(tensor, wd=0.001):
    return wd * np.sum(tensor ** 2) / 2


def ref_L1(tensor, wd=0.001):
    return wd * np.sum(np.abs(tensor))


# ---------------------------------------------------------------- helpers
def onehot(n=4, c=3):
    return np.eye(c)[rng.integers(0, c, n)]


CASES = {
    "softmax_categorical_crossentropy": (
        ref_softmax_categorical_crossentropy,
        lambda: (rng.normal(size=(4, 3)) * 3, rng.dirichlet(np.ones(3), 4)), {}),
    "categorical_crossentropy": (
        ref_categorical_crossentropy,
        lambda: (rng.uniform(0.1, 2.0, (4, 3)), onehot()), {}),
    "binary_crossentropy": (
        ref_binary_crossentropy,
        lambda: (rng.normal(size=(4, 3)) * 3, rng.uniform(0, 1, (4, 3))), {}),
    "weighted_crossentropy": (
        ref_weighted_crossentropy,
        lambda: (rng.normal(size=(4, 3)) * 3, rng.uniform(0, 1, (4, 3))), {"weight": 2.5}),
    "mean_square": (ref_mean_square, lambda: (rng.normal(size=(4, 3)), rng.normal(size=(4, 3))),
                    {}),
    "hinge_loss": (ref_hinge_loss,
                   lambda: (rng.normal(size=(4, 3)) * 2, rng.choice([-1.0, 1.0], (4, 3))), {}),
    "roc_auc_score": (ref_roc_auc_score,
                      lambda: (rng.uniform(0, 1, (6, 2)), (rng.uniform(size=(6, 2)) > 0.5)
                               .astype(float)), {}),
    "weak_cross_entropy_2d": (ref_weak_cross_entropy_2d,
                              lambda: (rng.normal(size=(2, 3, 2, 4)),
                                       np.eye(4)[rng.integers(0, 4, (2, 3, 2))]), {}),
    "contrastive_loss": (ref_contrastive_loss,
                         lambda: (rng.uniform(0, 2, (5,)), rng.integers(0, 2, 5).astype(float)),
                         {}),
}


# ---------------------------------------------------------------- values (float64)
@pytest.mark.parametrize("name", sorted(CASES))
def test_values(name):
    ref, make, kw = CASES[name]
    a, b = make()
    np.testing.assert_allclose(getattr(tflearn, name)(a, b, **kw), ref(a, b, **kw), **F64)


def test_weighted_crossentropy_weights():
    x, z = rng.normal(size=(4, 3)) * 3, rng.uniform(0, 1, (4, 3))
    for q in (0.0, 0.5, 1.0, 4.0):
        np.testing.assert_allclose(tflearn.weighted_crossentropy(x, z, q),
                                   ref_weighted_crossentropy(x, z, q), **F64)
    np.testing.assert_allclose(tflearn.weighted_crossentropy(x, z, 1.0),
                               ref_binary_crossentropy(x, z), **F64)


def test_roc_auc_score_masks_and_empty_sides():
    y = np.array([0.9, 0.1, 0.5, 0.45])
    t = np.array([1.0, 0.0, 1.0, 0.0])
    # pairs (pos, neg) with pos - neg < 0.2: (0.5, 0.45) -> 0.15^3 and (0.9, ...) none
    # (0.5, 0.1): 0.4 no; (0.9, 0.45): 0.45 no
    assert tflearn.roc_auc_score(y, t) == pytest.approx(0.15 ** 3, rel=1e-9)
    assert tflearn.roc_auc_score(y, np.ones(4)) == 0.0
    assert tflearn.roc_auc_score(y, np.zeros(4)) == 0.0
    # any non-zero target counts as positive (bool cast)
    np.testing.assert_allclose(tflearn.roc_auc_score(y, t * 0.3), ref_roc_auc_score(y, t), **F64)


@pytest.mark.parametrize("kw", [{}, {"epsilon": 0.5}, {"num_classes": 4},
                                {"head": np.array([1.0, 2.0, 0.5, 0.0])}], ids=str)
def test_weak_cross_entropy_2d_options(kw):
    x = rng.normal(size=(2, 3, 2, 4))
    z = np.eye(4)[rng.integers(0, 4, (2, 3, 2))]
    np.testing.assert_allclose(tflearn.weak_cross_entropy_2d(x, z, **kw),
                               ref_weak_cross_entropy_2d(x, z, **kw), **F64)


def test_weak_cross_entropy_2d_int_labels():
    x = rng.normal(size=(2, 2, 2, 3))
    z = np.eye(3, dtype=np.int32)[rng.integers(0, 3, (2, 2, 2))]
    np.testing.assert_allclose(tflearn.weak_cross_entropy_2d(x, z),
                               ref_weak_cross_entropy_2d(x, z), **F64)


@pytest.mark.parametrize("margin", [1.0, 0.5, 2.0])
def test_contrastive_and_triplet(margin):
    d, t = rng.uniform(0, 2, (6,)), rng.integers(0, 2, 6).astype(float)
    np.testing.assert_allclose(tflearn.contrastive_loss(d, t, margin),
                               ref_contrastive_loss(d, t, margin), **F64)
    a, p, n = (rng.normal(size=(3, 4)) for _ in range(3))
    np.testing.assert_allclose(tflearn.triplet_loss(a, p, n, margin),
                               ref_triplet_loss(a, p, n, margin), **F64)
    # the relu acts on whole-batch sums: one sample can be negative and still count
    a, p, n = np.zeros((2, 1)), np.array([[1.0], [0.0]]), np.array([[0.0], [3.0]])
    assert tflearn.triplet_loss(a, p, n, margin) == pytest.approx(max(1 - 9 + margin, 0.0))


@pytest.mark.parametrize("wd", [0.001, 0.5])
def test_regularizers(wd):
    t = rng.normal(size=(3, 4))
    np.testing.assert_allclose(tflearn.L2(t, wd), ref_L2(t, wd), **F64)
    np.testing.assert_allclose(tflearn.L1(t, wd), ref_L1(t, wd), **F64)
    np.testing.assert_allclose(tflearn.L2(t), ref_L2(t), **F64)


# ---------------------------------------------------------------- gradients (float64 FD)
GRADS = {
    "softmax_categorical_crossentropy": ["y_pred", "y_true"],
    "categorical_crossentropy": ["y_pred"],
    "binary_crossentropy": ["y_pred", "y_true"],
    "weighted_crossentropy": ["y_pred", "y_true"],
    "mean_square": ["y_pred", "y_true"],
    "hinge_loss": ["y_pred"],
    "roc_auc_score": ["y_pred"],
    "weak_cross_entropy_2d": ["y_pred"],
    "contrastive_loss": ["y_pred"],
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_gradients(name):
    ref, make, kw = CASES[name]
    a, b = make()
    check_grad(getattr(tflearn, name), ref, {"y_pred": a, "y_true": b}, GRADS[name], **kw)


def test_gradients_triplet_and_regularizers():
    arrays = {k: rng.normal(size=(3, 2)) for k in ("anchor", "positive", "negative")}
    check_grad(tflearn.triplet_loss, ref_triplet_loss, arrays, list(arrays), margin=5.0)
    t = {"tensor": rng.normal(size=(3, 2))}
    check_grad(tflearn.L2, ref_L2, t, ["tensor"], wd=0.3)
    check_grad(tflearn.L1, ref_L1, t, ["tensor"], wd=0.3)
    check_grad(tflearn.weak_cross_entropy_2d, ref_weak_cross_entropy_2d,
               {"y_pred": rng.normal(size=(2, 2, 3)), "y_true": np.eye(3)[[[0, 1], [2, 2]]]},
               ["y_pred"], head=np.array([1.0, 0.5, 2.0]))


# ---------------------------------------------------------------- precision
@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_precision(name, dtype):
    ref, make, kw = CASES[name]
    a, b = make()
    out = getattr(tflearn, name)(a.astype(dtype), b.astype(dtype), **kw)
    assert np.asarray(out).dtype == dtype
    tol = dict(rtol=5e-5, atol=1e-6) if dtype == np.float32 else F64
    np.testing.assert_allclose(out, ref(a, b, **kw), **tol)


# ---------------------------------------------------------------- stability
def test_extreme_logits():
    x = np.array([[-100.0, 100.0, 0.0], [100.0, -100.0, 0.0]])
    z = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    for dtype in (np.float32, np.float64):
        assert tflearn.softmax_categorical_crossentropy(x.astype(dtype), z.astype(dtype)) == \
            pytest.approx(100.0, rel=1e-6)
        assert tflearn.binary_crossentropy(x.astype(dtype), z.astype(dtype)) == \
            pytest.approx(ref_binary_crossentropy(x, z), rel=1e-6)
        assert np.isfinite(tflearn.weighted_crossentropy(x.astype(dtype), z.astype(dtype), 3.0))


def test_weak_cross_entropy_2d_finite_where_tflearn_is_nan():
    # TFLearn: softmax underflows to 0 for the -400 class, log 0 = -inf and 0 * -inf = NaN
    x = np.array([[[400.0, -400.0, 0.0]]])
    z = np.array([[[1.0, 0.0, 0.0]]])
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.isnan(ref_weak_cross_entropy_2d(x, z))
    for dtype in (np.float32, np.float64):
        out = tflearn.weak_cross_entropy_2d(x.astype(dtype), z.astype(dtype))
        assert np.isfinite(out) and out == pytest.approx(0.0, abs=1e-6)
    z = np.array([[[0.0, 1.0, 0.0]]])
    assert tflearn.weak_cross_entropy_2d(x, z) == pytest.approx(800.0, rel=1e-9)
    xn = lg.input("x", shape=x.shape)
    (g,) = lg.gradients(tflearn.weak_cross_entropy_2d(xn, z), [xn])
    assert np.all(np.isfinite(lg.evaluate(g, x=x)))


def test_categorical_crossentropy_probability_zero_and_one():
    p = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    z = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    for dtype in (np.float32, np.float64):
        out = tflearn.categorical_crossentropy(p.astype(dtype), z.astype(dtype))
        # the first row hits the clip floor: -log(1e-10) / 2 rows
        assert out == pytest.approx(-np.log(1e-10) / 2, rel=1e-5)
    xn = lg.input("p", shape=p.shape)
    (g,) = lg.gradients(tflearn.categorical_crossentropy(xn, z), [xn])
    assert np.all(np.isfinite(lg.evaluate(g, p=p)))


# ---------------------------------------------------------------- bad input and API
def test_shape_mismatch():
    with pytest.raises(lg.ShapeError, match="y_true|y_pred|labels|target"):
        tflearn.mean_square(np.zeros((3, 2)), np.zeros((2, 2)))
    with pytest.raises(lg.ShapeError, match="y_true|y_pred|labels|logits"):
        tflearn.softmax_categorical_crossentropy(np.zeros((3, 2)), np.zeros((3, 3)))


def test_weak_cross_entropy_2d_bad_num_classes_and_head():
    x, z = rng.normal(size=(2, 2, 3)), np.eye(3)[[[0, 1], [2, 2]]]
    with pytest.raises(lg.ShapeError, match="num_classes"):
        tflearn.weak_cross_entropy_2d(x, z, num_classes=5)
    with pytest.raises(lg.ShapeError, match="head"):
        tflearn.weak_cross_entropy_2d(x, z, head=np.ones(4))


def test_weighted_crossentropy_needs_weight():
    with pytest.raises(TypeError):
        tflearn.weighted_crossentropy(np.zeros(2), np.zeros(2))


def test_signatures_and_exports():
    def params(fn):
        return [p.name for p in inspect.signature(fn).parameters.values()]
    for name in ("softmax_categorical_crossentropy", "categorical_crossentropy",
                 "binary_crossentropy", "mean_square", "hinge_loss", "roc_auc_score"):
        assert params(getattr(tflearn, name)) == ["y_pred", "y_true"], name
    assert params(tflearn.weighted_crossentropy) == ["y_pred", "y_true", "weight"]
    assert params(tflearn.weak_cross_entropy_2d) == ["y_pred", "y_true", "num_classes",
                                                    "epsilon", "head"]
    assert inspect.signature(tflearn.weak_cross_entropy_2d).parameters["epsilon"].default == 1e-4
    assert params(tflearn.contrastive_loss) == ["y_pred", "y_true", "margin"]
    assert params(tflearn.triplet_loss) == ["anchor", "positive", "negative", "margin"]
    names = set(CASES) | {"triplet_loss", "L1", "L2"}
    assert set(tflearn.__all__) == names
    assert set(tflearn.CANONICAL) == names
    from zoo import losses
    for targets in tflearn.CANONICAL.values():
        for t in (targets,) if isinstance(targets, str) else targets:
            assert t in losses.__all__, t
    for n in names:
        assert "Source convention" in getattr(tflearn, n).__doc__, n
