"""Canonical ranking losses against NumPy formulas written here (a brute-force pair loop for the
AUC surrogate), Axon's documented numbers, finite differences (float64), precision, weights,
stability and bad input."""
import numpy as np
import pytest

import lossgraph as lg
from zoo import losses as L
from zoo.losses import ranking as R
from .zoo_refs import case_suite, check_case_gradients

B, D = 6, 4


def real(rng):
    return rng.normal(size=(B, D))


def vec(rng):
    return rng.normal(size=B)


def signs(rng):
    return np.where(rng.random(B) > 0.5, 1.0, -1.0)


def bits(rng):
    return (rng.random(B) > 0.5).astype(float)


def dist(rng):
    return rng.uniform(0.05, 2.0, size=B)


def labels3(rng):
    return np.array([1.0, -1.0, 0.0, 1.0, -1.0, -1.0])


def np_cos(a, b):
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def np_cosine_embedding(x1, x2, y, margin):
    c = np_cos(x1, x2)
    return np.where(y == 1, 1 - c, np.where(y == -1, np.maximum(0, c - margin), 0.0))


def np_pdist(a, b, p, eps):
    return (np.abs(a - b + eps) ** p).sum(-1) ** (1.0 / p)


def np_auc(x, t, gamma=0.2, p=3):
    x, t = x.ravel(), t.ravel()
    total = 0.0
    for i in np.flatnonzero(t == 0):
        for j in np.flatnonzero(t != 0):
            total += max(0.0, gamma - (x[j] - x[i])) ** p
    return total


# name, function, kwargs, argument generators, NumPy reference, differentiable arg positions
CASES = [
    ("margin_ranking", R.margin_ranking, {"margin": 0.3}, [vec, vec, signs],
     lambda a, b, y: np.maximum(0, -y * (a - b) + 0.3), [0, 1]),
    ("triplet", R.triplet, {"margin": 0.5}, [real, real, real],
     lambda a, p, n: np.maximum(0, ((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 0.5),
     [0, 1, 2]),
    ("triplet_axis0", R.triplet, {"axis": 0, "margin": 2.0}, [real, real, real],
     lambda a, p, n: np.maximum(0, ((a - p) ** 2).sum(0) - ((a - n) ** 2).sum(0) + 2.0),
     [0, 1, 2]),
    ("contrastive", R.contrastive, {"margin": 1.2}, [dist, bits],
     lambda d, z: z * d ** 2 + (1 - z) * np.maximum(1.2 - d, 0) ** 2, [0]),
    ("cosine_embedding", R.cosine_embedding, {"margin": 0.1}, [real, real, labels3],
     lambda a, b, y: np_cosine_embedding(a, b, y, 0.1), [0, 1]),
    ("triplet_margin", R.triplet_margin, {}, [real, real, real],
     lambda a, p, n: np.maximum(0, np_pdist(a, p, 2, 1e-6) - np_pdist(a, n, 2, 1e-6) + 1.0),
     [0, 1, 2]),
    ("triplet_margin_p1_swap", R.triplet_margin, {"p": 1.0, "swap": True, "margin": 0.5},
     [real, real, real],
     lambda a, p, n: np.maximum(0, np_pdist(a, p, 1, 1e-6) + 0.5
                                - np.minimum(np_pdist(a, n, 1, 1e-6), np_pdist(p, n, 1, 1e-6))),
     [0, 1, 2]),
    ("triplet_margin_p3", R.triplet_margin, {"p": 3.0, "eps": 1e-3, "margin": 2.0},
     [real, real, real],
     lambda a, p, n: np.maximum(0, np_pdist(a, p, 3, 1e-3) - np_pdist(a, n, 3, 1e-3) + 2.0),
     [0, 1, 2]),
]
IDS = [c[0] for c in CASES]


def test_exported_from_zoo_losses():
    for name in R.__all__:
        assert getattr(L, name) is getattr(R, name)


(test_value_matches_numpy, test_reductions, test_gradient_finite_differences,
 test_float32_in_float32_out) = case_suite(CASES, f32_rtol=1e-4, f32_atol=1e-5)


def test_margin_ranking_matches_axon_doc_example():
    # Axon 0.5.1 margin_ranking doc example (docs/zoo-conventions.md 5.7), float32
    x1 = np.array([0.6934, -0.7239, 1.1954], dtype=np.float32)
    x2 = np.array([-0.4691, 0.2670, -1.7452], dtype=np.float32)
    y = np.ones(3, dtype=np.float32)
    np.testing.assert_allclose(R.margin_ranking(x1, x2, y), [0.0, 0.9909000396728516, 0.0],
                               rtol=1e-6)
    np.testing.assert_allclose(R.margin_ranking(x1, x2, y, reduction="mean"),
                               0.3303000032901764, rtol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_roc_auc_surrogate_matches_brute_force_pairs(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=0.3, size=(3, 4))
    t = (rng.random((3, 4)) > 0.6).astype(np.int64)
    np.testing.assert_allclose(R.roc_auc_surrogate(x, t), np_auc(x, t), rtol=1e-10, atol=1e-15)
    n_pairs = (t == 0).sum() * (t != 0).sum()
    np.testing.assert_allclose(R.roc_auc_surrogate(x, t, normalize=True),
                               np_auc(x, t) / n_pairs if n_pairs else 0.0, rtol=1e-10)
    np.testing.assert_allclose(R.roc_auc_surrogate(x, t.astype(bool), gamma=0.5, p=2),
                               np_auc(x, t, 0.5, 2), rtol=1e-10)
    check_case_gradients(lambda n: R.roc_auc_surrogate(n, t), lambda a: np_auc(a, t), [x], [0])


def test_roc_auc_surrogate_float32_and_empty_sides():
    x = np.array([0.1, 0.9, 0.5, 0.3], dtype=np.float32)
    out = R.roc_auc_surrogate(x, np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32), gamma=0.5)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np_auc(x.astype(float), np.array([0, 1, 1, 0]), 0.5),
                               rtol=1e-5)
    for t in (np.zeros(4), np.ones(4)):
        p = lg.input("p", shape=(4,))
        for normalize in (False, True):
            loss = R.roc_auc_surrogate(p, t, normalize=normalize)
            value, grad = lg.evaluate([loss, lg.gradients(loss, p)], p=x.astype(float))
            assert value == 0.0 and np.all(grad == 0.0)


def test_contrastive_at_zero_distance_and_large_distance():
    d = np.array([0.0, 0.0, 5.0, 5.0])
    z = np.array([1.0, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(R.contrastive(d, z), [0.0, 1.0, 25.0, 0.0])


def test_cosine_embedding_zero_vector_is_finite():
    x = lg.input("x", shape=(2, 3))
    loss = R.cosine_embedding(x, np.ones((2, 3)), np.array([1.0, -1.0]), reduction="sum")
    value, grad = lg.evaluate([loss, lg.gradients(loss, x)], x=np.zeros((2, 3)))
    np.testing.assert_allclose(value, 1.0)
    assert np.all(np.isfinite(grad))


def test_triplet_weights_per_sample():
    rng = np.random.default_rng(9)
    a, p, n = real(rng), real(rng), real(rng)
    w = rng.random(B)
    ref = np.maximum(0, ((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 1.0)
    np.testing.assert_allclose(R.triplet(a, p, n, weights=w, reduction="sum"), (ref * w).sum())


def test_bad_input_errors_name_the_argument():
    rng = np.random.default_rng(6)
    with pytest.raises(lg.ShapeError, match="^y: shape"):
        R.margin_ranking(vec(rng), vec(rng), signs(rng)[:, None])   # [N, 1] would give [N, N]
    with pytest.raises(lg.ShapeError, match="^y: shape"):
        R.cosine_embedding(real(rng), real(rng), np.ones((B, 1)))
    with pytest.raises(lg.ShapeError, match="^negative: shape"):
        R.triplet(real(rng), real(rng), np.ones((2, B, D)))
    with pytest.raises(lg.ShapeError):
        R.triplet(real(rng), np.ones((B, D + 1)), real(rng))
    with pytest.raises(lg.ShapeError, match="target"):
        R.roc_auc_surrogate(vec(rng), np.ones(B + 1))
    with pytest.raises(lg.OptionError, match="reduction"):
        R.contrastive(dist(rng), bits(rng), reduction="avg")


def test_triplet_margin_takes_any_distance_function():
    rng = np.random.default_rng(3)
    a, p, n = (real(rng) for _ in range(3))
    manhattan = lambda u, v: lg.sum(lg.abs(u - v), axis=-1)   # noqa: E731
    out = R.triplet_margin(a, p, n, distance=manhattan, margin=0.3, swap=True)
    d = lambda u, v: np.abs(u - v).sum(-1)                      # noqa: E731
    np.testing.assert_allclose(out, np.maximum(0, d(a, p) - np.minimum(d(a, n), d(p, n)) + 0.3),
                               rtol=1e-12)


def test_triplet_margin_refuses_mismatched_dims_and_nonpositive_margin():
    a = np.zeros((2, 3))
    with pytest.raises(lg.ShapeError, match="positive"):
        R.triplet_margin(a, a[0], a)
    with pytest.raises(lg.OptionError, match="margin must be a number > 0"):
        R.triplet_margin(a, a, a, margin=0.0)
