"""Canonical segmentation scores and losses against NumPy formulas written here, finite
differences (float64), precision, weights, zero gradients of the thresholded scores, stability
and bad input."""
import numpy as np
import pytest

import lossgraph as lg
from zoo import losses as L
from zoo.losses import segmentation as S
from .zoo_refs import seeded_args

SHAPE = (3, 4, 4, 2)
AX = (1, 2, 3)
S5 = 1e-5


def soft(rng):
    return rng.uniform(0.0, 1.0, size=SHAPE)


def mask(rng):
    return (rng.random(SHAPE) > 0.5).astype(float)


def np_dice(o, t, kind="jaccard", axis=AX, s=S5):
    m = (lambda v: v ** 2) if kind == "jaccard" else (lambda v: v)
    return (2 * (o * t).sum(axis) + s) / (m(o).sum(axis) + m(t).sum(axis) + s)


def np_hard_dice(o, t, thr=0.5, axis=AX, s=S5):
    return np_dice((o > thr).astype(float), (t > thr).astype(float), "sorensen", axis, s)


def np_iou(o, t, thr=0.5, axis=AX, s=S5):
    p, q = (o > thr).astype(float), (t > thr).astype(float)
    return ((p * q).sum(axis) + s) / (((p + q) >= 1).astype(float).sum(axis) + s)


def np_tversky(p, t, a=0.5, b=0.5, axis=AX, s=S5):
    tp, fp, fn = (p * t).sum(axis), (p * (1 - t)).sum(axis), ((1 - p) * t).sum(axis)
    return (tp + s) / (tp + a * fp + b * fn + s)


def np_wce(x, z, eps=1e-4, head=None):
    x = x + eps
    logp = x - x.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    return -(z * logp * (1.0 if head is None else head)).sum(-1)


def onehot(rng):
    return np.eye(SHAPE[-1] + 1)[rng.integers(0, SHAPE[-1] + 1, size=SHAPE[:-1])]


def logits(rng):
    return rng.normal(size=SHAPE[:-1] + (SHAPE[-1] + 1,))


HEAD = np.array([0.5, 1.0, 2.0])

# name, function, kwargs, argument generators, NumPy reference, differentiable arg positions
CASES = [
    ("dice_jaccard", S.dice_coefficient, {}, [soft, mask], np_dice, [0, 1]),
    ("dice_sorensen", S.dice_coefficient, {"loss_type": "sorensen", "axis": (1, 2)},
     [soft, soft], lambda o, t: np_dice(o, t, "sorensen", (1, 2)), [0, 1]),
    ("hard_dice", S.hard_dice, {}, [soft, soft], np_hard_dice, []),
    ("hard_dice_thr", S.hard_dice, {"threshold": 0.3, "smooth": 1.0}, [soft, mask],
     lambda o, t: np_hard_dice(o, t, 0.3, s=1.0), []),
    ("iou", S.iou, {}, [soft, soft], np_iou, []),
    ("iou_axis", S.iou, {"axis": (0, 1), "threshold": 0.7}, [soft, mask],
     lambda o, t: np_iou(o, t, 0.7, (0, 1)), []),
    ("tversky", S.tversky, {"alpha": 0.3, "beta": 0.7}, [soft, mask],
     lambda p, t: np_tversky(p, t, 0.3, 0.7), [0, 1]),
    ("tversky_default", S.tversky, {}, [soft, soft], np_tversky, [0, 1]),
    ("weak_ce_2d", S.weak_cross_entropy_2d, {}, [logits, onehot], np_wce, [0, 1]),
    ("weak_ce_2d_head", S.weak_cross_entropy_2d, {"head": HEAD, "epsilon": 0.1},
     [logits, onehot], lambda x, z: np_wce(x, z, 0.1, HEAD), [0, 1]),
]
IDS = [c[0] for c in CASES]


def test_exported_from_zoo_losses():
    for name in S.__all__:
        assert getattr(L, name) is getattr(S, name)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_value_matches_numpy(case):
    name, fn, kw, gens, ref, _ = case
    args = seeded_args(case, 0)
    np.testing.assert_allclose(fn(*args, **kw), ref(*args), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_mean_reduction_is_the_batch_mean(case):
    name, fn, kw, gens, ref, _ = case
    args = seeded_args(case, 1)
    np.testing.assert_allclose(fn(*args, reduction="mean", **kw), ref(*args).mean(),
                               rtol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradient_finite_differences_or_zero(case):
    name, fn, kw, gens, ref, diff = case
    args = seeded_args(case, 2)
    nodes = [lg.input(f"a{i}", shape=a.shape) for i, a in enumerate(args)]
    out = fn(*nodes, reduction="sum", **kw)
    feed = {f"a{i}": a for i, a in enumerate(args)}
    if not diff:   # thresholded scores: an evaluation metric, gradient exactly zero
        for g in lg.gradients(out, nodes):
            assert np.all(lg.evaluate(g) == 0.0)
        return
    grads = lg.evaluate(lg.gradients(out, [nodes[i] for i in diff]), feed)
    h = 1e-6
    for k, i in enumerate(diff):
        fd = np.zeros(args[i].shape)
        for pos in np.ndindex(*args[i].shape):
            up, dn = [a.copy() for a in args], [a.copy() for a in args]
            up[i][pos] += h
            dn[i][pos] -= h
            fd[pos] = (ref(*up).sum() - ref(*dn).sum()) / (2 * h)
        np.testing.assert_allclose(grads[k], fd, rtol=1e-5, atol=1e-7, err_msg=f"d/d arg {i}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_in_float32_out(case):
    name, fn, kw, gens, ref, _ = case
    args = [a.astype(np.float32) for a in seeded_args(case, 3)]
    kw = {k: v.astype(np.float32) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    out = fn(*args, **kw)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref(*[a.astype(np.float64) for a in args]), rtol=1e-5,
                               atol=1e-6)


def test_empty_masks_and_perfect_overlap_give_one():
    z, o = np.zeros((2, 3, 3, 1)), np.ones((2, 3, 3, 1))
    for fn in (S.dice_coefficient, S.hard_dice, S.iou, S.tversky):
        np.testing.assert_allclose(fn(z, z), [1.0, 1.0], err_msg=fn.__name__)
        np.testing.assert_allclose(fn(o, o), [1.0, 1.0], err_msg=fn.__name__)


def test_soft_scores_have_finite_gradients_on_empty_masks():
    x = lg.input("x", shape=(2, 3, 3, 1))
    for fn in (S.dice_coefficient, S.tversky):
        loss = fn(x, np.zeros((2, 3, 3, 1)), reduction="sum")
        assert np.all(np.isfinite(lg.evaluate(lg.gradients(loss, x), x=np.zeros((2, 3, 3, 1)))))


def test_default_axis_is_every_axis_but_the_first():
    rng = np.random.default_rng(4)
    o, t = rng.random((5, 7)), rng.random((5, 7))
    np.testing.assert_allclose(S.dice_coefficient(o, t), np_dice(o, t, axis=1))
    np.testing.assert_allclose(S.tversky(o, t, alpha=1.0, beta=1.0),
                               np_tversky(o, t, 1.0, 1.0, axis=1))


def test_hard_scores_threshold_is_strict_and_integer_targets_work():
    o = np.array([[0.5, 0.6, 0.2, 0.9]])
    t = np.array([[1, 1, 0, 0]])
    # o' = [0, 1, 0, 1], t' = [1, 1, 0, 0]
    np.testing.assert_allclose(S.hard_dice(o, t, smooth=0.0), [2 * 1 / 4])
    np.testing.assert_allclose(S.iou(o, t, smooth=0.0), [1 / 3])


def test_weak_cross_entropy_2d_finite_where_softmax_underflows():
    x = lg.input("x", shape=(1, 3))
    loss = S.weak_cross_entropy_2d(x, np.array([[0.0, 0.0, 1.0]]), reduction="sum")
    value, grad = lg.evaluate([loss, lg.gradients(loss, x)],
                              x=np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(value, 2000.0)
    np.testing.assert_allclose(grad, [[1.0, 0.0, -1.0]], atol=1e-300)


def test_weights_per_sample():
    rng = np.random.default_rng(8)
    o, t, w = soft(rng), mask(rng), rng.random(SHAPE[0])
    np.testing.assert_allclose(S.dice_coefficient(o, t, weights=w, reduction="sum"),
                               (np_dice(o, t) * w).sum())


def test_bad_input_errors_name_the_argument():
    rng = np.random.default_rng(6)
    o, t = soft(rng), mask(rng)
    with pytest.raises(lg.OptionError, match="loss_type"):
        S.dice_coefficient(o, t, loss_type="iou")
    with pytest.raises(lg.OptionError, match="axis"):
        S.iou(o, t, axis=(1, 2, 5))
    with pytest.raises(lg.ShapeError, match="^y_true"):
        S.weak_cross_entropy_2d(logits(rng), onehot(rng)[..., :2])
    with pytest.raises(lg.ShapeError, match="^num_classes"):
        S.weak_cross_entropy_2d(logits(rng), onehot(rng), num_classes=4)
    with pytest.raises(lg.ShapeError, match="^head"):
        S.weak_cross_entropy_2d(logits(rng), onehot(rng), head=np.ones(2))
    with pytest.raises(lg.OptionError, match="reduction"):
        S.tversky(o, t, reduction="avg")
