"""zoo.tensorlayer against TensorLayer 2.x tl.cost (seed 000; tensorlayer/cost.py at tag 2.2.4):
each function checked against an independent NumPy transcription of the TensorLayer code,
with finite-difference gradients (float64), both precisions, every option, extremes and
bad input."""
import numpy as np
import pytest

import lossgraph as lg
from zoo import tensorlayer as tl
from .zoo_refs import check_grad, node_inputs

rng = np.random.default_rng(0)
F64 = dict(rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- NumPy references
def lse(x, axis=-1):
    m = x.max(axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis, keepdims=True))).squeeze(axis)


def sparse_ce(logits, labels):
    return lse(logits) - np.take_along_axis(logits, labels[:, None], 1)[:, 0]


def ref_cross_entropy(output, target):
    return np.mean(sparse_ce(output, target))


def ref_sigmoid_cross_entropy(output, target):
    return np.mean(np.maximum(output, 0) - output * target + np.log1p(np.exp(-np.abs(output))))


def ref_binary_cross_entropy(output, target, epsilon=1e-8):
    e = -(target * np.log(output + epsilon) + (1.0 - target) * np.log(1.0 - output + epsilon))
    return np.mean(np.sum(e, axis=1))


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def ref_mean_squared_error(output, target, is_mean=False, axis=-1):
    d2 = (output - target) ** 2
    per = d2.mean(_axis(axis)) if is_mean else d2.sum(_axis(axis))
    return np.mean(per)


def ref_normalized_mean_square_error(output, target, axis=-1):
    a = np.sqrt(((output - target) ** 2).sum(_axis(axis)))
    b = np.sqrt((target ** 2).sum(_axis(axis)))
    return np.mean(a / b)


def ref_absolute_difference_error(output, target, is_mean=False, axis=-1):
    d = np.abs(output - target)
    return np.mean(d.mean(_axis(axis)) if is_mean else d.sum(_axis(axis)))


def ref_dice_coe(output, target, loss_type="jaccard", axis=(1, 2, 3), smooth=1e-5):
    axis = _axis(axis)
    inse = (output * target).sum(axis)
    if loss_type == "jaccard":
        left, right = (output * output).sum(axis), (target * target).sum(axis)
    else:
        left, right = output.sum(axis), target.sum(axis)
    return np.mean((2.0 * inse + smooth) / (left + right + smooth))


def ref_dice_hard_coe(output, target, threshold=0.5, axis=(1, 2, 3), smooth=1e-5):
    o, t = (output > threshold).astype(float), (target > threshold).astype(float)
    axis = _axis(axis)
    return np.mean((2.0 * (o * t).sum(axis) + smooth) / (o.sum(axis) + t.sum(axis) + smooth))


def ref_iou_coe(output, target, threshold=0.5, axis=(1, 2, 3), smooth=1e-5):
    p, q = (output > threshold).astype(float), (target > threshold).astype(float)
    axis = _axis(axis)
    inse = (p * q).sum(axis)
    union = ((p + q) >= 1).astype(float).sum(axis)
    return np.mean((inse + smooth) / (union + smooth))


def ref_cross_entropy_seq(logits, target_seqs, batch_size=None):
    ce = sparse_ce(logits, target_seqs.reshape(-1)) / (1.0 + 1e-12)
    cost = ce.sum()
    return cost if batch_size is None else cost / batch_size


def ref_cross_entropy_seq_with_mask(logits, target_seqs, input_mask):
    m = input_mask.reshape(-1).astype(float)
    return np.sum(sparse_ce(logits, target_seqs.reshape(-1)) * m) / np.sum(m)


def ref_cosine_similarity(v1, v2):
    return (v1 * v2).sum(1) / (np.sqrt((v1 * v1).sum(1)) * np.sqrt((v2 * v2).sum(1)))


REGULARIZERS = {
    "li_regularizer": lambda w, s: s * np.sum(np.sqrt(np.sum(w ** 2, 1))),
    "lo_regularizer": lambda w, s: s * np.sum(np.sqrt(np.sum(w ** 2, 0))),
    "maxnorm_regularizer": lambda w, s: s * np.max(np.abs(w)),
    "maxnorm_o_regularizer": lambda w, s: s * np.sum(np.max(np.abs(w), 0)),
    "maxnorm_i_regularizer": lambda w, s: s * np.sum(np.max(np.abs(w), 1)),
}


def ref_huber_loss(output, target, is_mean=True, delta=1.0, dynamichuber=False, reverse=False,
                   axis=-1, epsilon=1e-5):
    d = output - target
    a = np.abs(d)
    if reverse:
        c = 0.2 * a.max() if dynamichuber else delta
        q = 0.5 / (c + epsilon) if c + epsilon != 0 else 0.0     # divide_no_nan
        h = np.where(a <= c, a, (d ** 2 + c ** 2) * q)
    else:
        h = np.where(a <= delta, 0.5 * d ** 2, delta * (a - 0.5 * delta))
    return h.mean() if is_mean else h.sum(_axis(axis)).mean()


# ---------------------------------------------------------------- helpers
def logits_labels(n=5, c=4):
    return rng.normal(size=(n, c)) * 3, rng.integers(0, c, size=n)


def regression_pair(shape=(3, 4, 5)):
    return rng.normal(size=shape), rng.normal(size=shape)


def seg_pair(shape=(2, 3, 4, 2)):
    return rng.uniform(0, 1, shape), (rng.uniform(0, 1, shape) > 0.5).astype(float)


# ---------------------------------------------------------------- values (float64)
def test_cross_entropy():
    x, y = logits_labels()
    np.testing.assert_allclose(tl.cross_entropy(x, y), ref_cross_entropy(x, y), **F64)
    np.testing.assert_allclose(tl.cross_entropy(x, y, "my_loss"), ref_cross_entropy(x, y),
                               **F64)


def test_sigmoid_cross_entropy():
    x, z = rng.normal(size=(4, 3)) * 4, rng.uniform(0, 1, (4, 3))
    np.testing.assert_allclose(tl.sigmoid_cross_entropy(x, z), ref_sigmoid_cross_entropy(x, z),
                               **F64)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)])
@pytest.mark.parametrize("epsilon", [1e-8, 1e-3])
def test_binary_cross_entropy_sums_axis_1(shape, epsilon):
    p, z = rng.uniform(0.01, 0.99, shape), rng.uniform(0, 1, shape)
    np.testing.assert_allclose(tl.binary_cross_entropy(p, z, epsilon),
                               ref_binary_cross_entropy(p, z, epsilon), **F64)


@pytest.mark.parametrize("is_mean", [False, True])
@pytest.mark.parametrize("axis", [-1, 1, [1, 2], (0, 2)])
def test_mean_squared_error_and_absolute_difference(is_mean, axis):
    o, t = regression_pair()
    np.testing.assert_allclose(tl.mean_squared_error(o, t, is_mean, axis),
                               ref_mean_squared_error(o, t, is_mean, axis), **F64)
    np.testing.assert_allclose(tl.absolute_difference_error(o, t, is_mean=is_mean, axis=axis),
                               ref_absolute_difference_error(o, t, is_mean, axis), **F64)


def test_mean_squared_error_default_sums_last_axis():
    o, t = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), np.zeros((2, 3))
    # per row: sum over the last axis (14 and 0), then the mean over rows
    assert tl.mean_squared_error(o, t) == pytest.approx(7.0)
    assert tl.mean_squared_error(o, t, is_mean=True) == pytest.approx(14.0 / 6)
    assert tl.absolute_difference_error(o, t) == pytest.approx(3.0)


@pytest.mark.parametrize("axis", [-1, [1, 2]])
def test_normalized_mean_square_error(axis):
    o, t = regression_pair()
    np.testing.assert_allclose(tl.normalized_mean_square_error(o, t, axis),
                               ref_normalized_mean_square_error(o, t, axis), **F64)


@pytest.mark.parametrize("loss_type", ["jaccard", "sorensen"])
@pytest.mark.parametrize("axis,smooth", [((1, 2, 3), 1e-5), ([1, 2], 1.0), ((1, 2, 3), 0.1)])
def test_dice_coe(loss_type, axis, smooth):
    o, t = seg_pair()
    np.testing.assert_allclose(tl.dice_coe(o, t, loss_type, axis, smooth),
                               ref_dice_coe(o, t, loss_type, axis, smooth), **F64)


def test_dice_coe_empty_is_one():
    z = np.zeros((2, 2, 2, 1))
    assert tl.dice_coe(z, z) == pytest.approx(1.0)
    assert tl.dice_hard_coe(z, z) == pytest.approx(1.0)
    assert tl.iou_coe(z, z) == pytest.approx(1.0)


@pytest.mark.parametrize("threshold,axis,smooth", [(0.5, (1, 2, 3), 1e-5), (0.3, [1, 2], 1.0)])
def test_dice_hard_and_iou(threshold, axis, smooth):
    o, t = seg_pair()
    t = t * rng.uniform(0.2, 1.0, t.shape)
    np.testing.assert_allclose(tl.dice_hard_coe(o, t, threshold, axis, smooth),
                               ref_dice_hard_coe(o, t, threshold, axis, smooth), **F64)
    np.testing.assert_allclose(tl.iou_coe(o, t, threshold, axis, smooth),
                               ref_iou_coe(o, t, threshold, axis, smooth), **F64)


def test_hard_coefficients_use_strict_threshold():
    o = np.full((1, 1, 1, 2), 0.5)
    t = np.array([[[[0.5, 0.6]]]])
    # 0.5 > 0.5 is false: output is empty, target has one pixel
    assert tl.dice_hard_coe(o, t) == pytest.approx(1e-5 / (1 + 1e-5))
    assert tl.iou_coe(o, t) == pytest.approx(1e-5 / (1 + 1e-5))


@pytest.mark.parametrize("batch_size", [None, 2, 4])
def test_cross_entropy_seq(batch_size):
    logits = rng.normal(size=(2 * 3, 5))
    targets = rng.integers(0, 5, size=(2, 3))
    np.testing.assert_allclose(tl.cross_entropy_seq(logits, targets, batch_size),
                               ref_cross_entropy_seq(logits, targets, batch_size), **F64)


def test_cross_entropy_seq_with_mask():
    logits = rng.normal(size=(2 * 4, 5))
    targets = rng.integers(0, 5, size=(2, 4))
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]])
    np.testing.assert_allclose(tl.cross_entropy_seq_with_mask(logits, targets, mask),
                               ref_cross_entropy_seq_with_mask(logits, targets, mask), **F64)
    loss, losses, weights, flat = tl.cross_entropy_seq_with_mask(logits, targets, mask,
                                                                  return_details=True)
    m = mask.reshape(-1)
    np.testing.assert_allclose(loss, ref_cross_entropy_seq_with_mask(logits, targets, mask),
                               **F64)
    np.testing.assert_allclose(losses, sparse_ce(logits, targets.reshape(-1)) * m, **F64)
    np.testing.assert_allclose(weights, m, **F64)
    np.testing.assert_array_equal(flat, targets.reshape(-1))


def test_cross_entropy_seq_with_mask_all_zero_mask_is_zero_not_nan():
    logits = rng.normal(size=(4, 3))
    targets = rng.integers(0, 3, size=(2, 2))
    assert tl.cross_entropy_seq_with_mask(logits, targets, np.zeros((2, 2))) == 0.0


def test_cosine_similarity_per_sample():
    v1, v2 = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    out = tl.cosine_similarity(v1, v2)
    assert out.shape == (4,)
    np.testing.assert_allclose(out, ref_cosine_similarity(v1, v2), **F64)
    np.testing.assert_allclose(tl.cosine_similarity(v1, 3 * v1), np.ones(4), **F64)


@pytest.mark.parametrize("name", sorted(REGULARIZERS))
@pytest.mark.parametrize("scale", [0.5, 0.01])
def test_regularizers(name, scale):
    w = rng.normal(size=(4, 3))
    reg = getattr(tl, name)(scale)
    np.testing.assert_allclose(reg(w), REGULARIZERS[name](w, scale), **F64)
    np.testing.assert_allclose(reg(w, name="x"), REGULARIZERS[name](w, scale), **F64)


def test_maxnorm_default_scale_and_no_upper_bound():
    w = rng.normal(size=(3, 3))
    np.testing.assert_allclose(tl.maxnorm_regularizer()(w), np.max(np.abs(w)), **F64)
    for name in ("maxnorm_regularizer", "maxnorm_o_regularizer", "maxnorm_i_regularizer"):
        np.testing.assert_allclose(getattr(tl, name)(2.5)(w), REGULARIZERS[name](w, 2.5), **F64)


@pytest.mark.parametrize("name", sorted(REGULARIZERS))
def test_regularizer_scale_zero_disables(name):
    reg = getattr(tl, name)(0.0)
    assert reg(rng.normal(size=(2, 2))) is None
    assert reg(rng.normal(size=(2, 2)), name="n") is None


@pytest.mark.parametrize("name", sorted(REGULARIZERS))
@pytest.mark.parametrize("bad", [1, 0, -0.5, True])
def test_regularizer_scale_errors(name, bad):
    with pytest.raises(lg.OptionError, match="scale") as info:
        getattr(tl, name)(bad)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", ["li_regularizer", "lo_regularizer"])
@pytest.mark.parametrize("bad", [1.0, 1.5])
def test_li_lo_scale_below_one(name, bad):
    with pytest.raises(lg.OptionError, match="scale"):
        getattr(tl, name)(bad)


def test_regularizer_scale_not_a_number():
    with pytest.raises(lg.OptionError, match="scale"):
        tl.li_regularizer("0.1")


HUBER_OPTIONS = [
    {}, {"delta": 0.5}, {"is_mean": False}, {"is_mean": False, "axis": [1, 2]},
    {"reverse": True}, {"reverse": True, "delta": 0.3, "epsilon": 1e-2},
    {"reverse": True, "dynamichuber": True}, {"reverse": True, "dynamichuber": True,
                                              "is_mean": False, "axis": 1},
    {"dynamichuber": True},                       # ignored without reverse
]


@pytest.mark.parametrize("kw", HUBER_OPTIONS, ids=str)
def test_huber_loss(kw):
    o, t = regression_pair()
    np.testing.assert_allclose(tl.huber_loss(o, t, **kw), ref_huber_loss(o, t, **kw), **F64)


def test_huber_is_mean_ignores_axis():
    o, t = regression_pair()
    assert tl.huber_loss(o, t, axis=1) == pytest.approx(tl.huber_loss(o, t, axis=0), rel=1e-12)


def test_berhu_zero_c_uses_divide_no_nan():
    o = np.zeros((2, 2))
    # dynamic c = 0 and epsilon = 0: every |d| <= c, loss is |d| = 0 and the 0/0 never shows
    assert tl.huber_loss(o, o, reverse=True, dynamichuber=True, epsilon=0.0) == 0.0


# ---------------------------------------------------------------- gradients (float64 FD)
GRAD_CASES = [
    ("cross_entropy", ref_cross_entropy, lambda: dict(zip(("output", "target"),
                                                            logits_labels())), {}, ["output"]),
    ("sigmoid_cross_entropy", ref_sigmoid_cross_entropy,
     lambda: {"output": rng.normal(size=(3, 4)) * 3, "target": rng.uniform(0, 1, (3, 4))},
     {}, ["output", "target"]),
    ("binary_cross_entropy", ref_binary_cross_entropy,
     lambda: {"output": rng.uniform(0.05, 0.95, (3, 4)), "target": rng.uniform(0, 1, (3, 4))},
     {"epsilon": 1e-3}, ["output", "target"]),
    ("mean_squared_error", ref_mean_squared_error,
     lambda: dict(zip(("output", "target"), regression_pair())), {"is_mean": True, "axis": 1},
     ["output", "target"]),
    ("absolute_difference_error", ref_absolute_difference_error,
     lambda: dict(zip(("output", "target"), regression_pair())), {}, ["output"]),
    ("normalized_mean_square_error", ref_normalized_mean_square_error,
     lambda: dict(zip(("output", "target"), regression_pair())), {}, ["output", "target"]),
    ("dice_coe", ref_dice_coe, lambda: dict(zip(("output", "target"), seg_pair())),
     {"loss_type": "sorensen"}, ["output"]),
    ("dice_coe", ref_dice_coe, lambda: dict(zip(("output", "target"), seg_pair())),
     {"smooth": 0.5}, ["output", "target"]),
    ("huber_loss", ref_huber_loss, lambda: dict(zip(("output", "target"), regression_pair())),
     {}, ["output"]),
    ("huber_loss", ref_huber_loss, lambda: dict(zip(("output", "target"), regression_pair())),
     {"reverse": True, "delta": 0.7, "is_mean": False}, ["output"]),
    ("huber_loss", ref_huber_loss, lambda: dict(zip(("output", "target"), regression_pair())),
     {"reverse": True, "dynamichuber": True}, ["output", "target"]),
]


@pytest.mark.parametrize("name,ref,make,kw,wrt", GRAD_CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in GRAD_CASES])
def test_gradients(name, ref, make, kw, wrt):
    check_grad(getattr(tl, name), ref, make(), wrt, **kw)


def test_gradients_sequence_and_cosine():
    logits, targets = rng.normal(size=(6, 4)), rng.integers(0, 4, size=(2, 3))
    mask = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    check_grad(tl.cross_entropy_seq, ref_cross_entropy_seq,
               {"logits": logits, "target_seqs": targets}, ["logits"], batch_size=2)
    check_grad(tl.cross_entropy_seq_with_mask, ref_cross_entropy_seq_with_mask,
               {"logits": logits, "target_seqs": targets, "input_mask": mask}, ["logits"])
    check_grad(lambda v1, v2: lg.sum(tl.cosine_similarity(v1, v2)),
               lambda v1, v2: ref_cosine_similarity(v1, v2).sum(),
               {"v1": rng.normal(size=(3, 4)), "v2": rng.normal(size=(3, 4))}, ["v1", "v2"])


@pytest.mark.parametrize("name", sorted(REGULARIZERS))
def test_regularizer_gradients(name):
    w = rng.normal(size=(4, 3))
    check_grad(getattr(tl, name)(0.3), lambda weights: REGULARIZERS[name](weights, 0.3),
               {"weights": w}, ["weights"])


def test_hard_coefficients_work_on_nodes():
    o, t = seg_pair()
    nodes = node_inputs({"output": o, "target": t})
    for fn, ref in ((tl.dice_hard_coe, ref_dice_hard_coe), (tl.iou_coe, ref_iou_coe)):
        out = fn(nodes["output"], nodes["target"])
        assert isinstance(out, lg.Node)
        np.testing.assert_allclose(lg.evaluate(out, output=o, target=t), ref(o, t), **F64)


def test_mixed_node_and_array():
    o, t = regression_pair()
    x = lg.input("o", shape=o.shape)
    loss = tl.mean_squared_error(x, t)
    assert isinstance(loss, lg.Node)
    np.testing.assert_allclose(lg.evaluate(loss, o=o), ref_mean_squared_error(o, t), **F64)


# ---------------------------------------------------------------- precision
PRECISION_CASES = [
    (tl.cross_entropy, ref_cross_entropy, logits_labels),
    (tl.sigmoid_cross_entropy, ref_sigmoid_cross_entropy,
     lambda: (rng.normal(size=(3, 4)), rng.uniform(0, 1, (3, 4)))),
    (tl.binary_cross_entropy, ref_binary_cross_entropy,
     lambda: (rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4)))),
    (tl.mean_squared_error, ref_mean_squared_error, regression_pair),
    (tl.absolute_difference_error, ref_absolute_difference_error, regression_pair),
    (tl.normalized_mean_square_error, ref_normalized_mean_square_error, regression_pair),
    (tl.dice_coe, ref_dice_coe, seg_pair),
    (tl.huber_loss, ref_huber_loss, regression_pair),
    (tl.cosine_similarity, ref_cosine_similarity,
     lambda: (rng.normal(size=(3, 4)), rng.normal(size=(3, 4)))),
]


@pytest.mark.parametrize("fn,ref,make", PRECISION_CASES, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_precision(fn, ref, make, dtype):
    a, b = make()
    a = a.astype(dtype)
    b = b.astype(dtype) if b.dtype.kind == "f" else b
    out = np.asarray(fn(a, b))
    assert out.dtype == dtype
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else F64
    np.testing.assert_allclose(out, ref(a.astype(np.float64), b.astype(np.float64)
                                        if b.dtype.kind == "f" else b), **tol)


# ---------------------------------------------------------------- stability
def test_sigmoid_cross_entropy_extreme_logits():
    x = np.array([[-100.0, 100.0], [100.0, -100.0]])
    z = np.array([[0.0, 1.0], [0.0, 1.0]])
    for dtype in (np.float32, np.float64):
        out = tl.sigmoid_cross_entropy(x.astype(dtype), z.astype(dtype))
        assert np.isfinite(out)
        assert out == pytest.approx(50.0, rel=1e-6)


def test_cross_entropy_extreme_logits():
    x = np.array([[100.0, -100.0, 0.0], [-100.0, 100.0, 0.0]])
    out = tl.cross_entropy(x, np.array([1, 1]))
    assert out == pytest.approx(100.0, rel=1e-6)
    nodes = node_inputs({"output": x})
    (g,) = lg.gradients(tl.cross_entropy(nodes["output"], np.array([1, 1])), [nodes["output"]])
    assert np.all(np.isfinite(lg.evaluate(g, output=x)))


def test_binary_cross_entropy_at_zero_and_one():
    p = np.array([[0.0, 1.0, 0.0, 1.0]])
    z = np.array([[0.0, 1.0, 1.0, 0.0]])
    for dtype in (np.float32, np.float64):
        out = tl.binary_cross_entropy(p.astype(dtype), z.astype(dtype))
        # the two wrong-side terms give -log(1e-8) each; the right-side ones ~0
        assert out == pytest.approx(ref_binary_cross_entropy(p, z), rel=1e-5)
        assert out == pytest.approx(2 * -np.log(1e-8), rel=1e-5)
    nodes = node_inputs({"output": p, "target": z})
    loss = tl.binary_cross_entropy(nodes["output"], nodes["target"])
    (g,) = lg.gradients(loss, [nodes["output"]])
    assert np.all(np.isfinite(lg.evaluate(g, output=p, target=z)))


def test_huber_large_residuals_finite():
    o, t = np.array([[1e6, -1e6]]), np.zeros((1, 2))
    assert tl.huber_loss(o, t) == pytest.approx(1e6 - 0.5)


# ---------------------------------------------------------------- bad input
def test_cross_entropy_label_dtype_and_range():
    x, _ = logits_labels()
    with pytest.raises(lg.DTypeError, match="target|labels"):
        tl.cross_entropy(x, rng.uniform(size=5))
    with pytest.raises(lg.InputError, match="out of range"):
        tl.cross_entropy(x, np.array([0, 1, 2, 3, 4]))


def test_shape_mismatch_names_argument():
    with pytest.raises(lg.ShapeError, match="target|output"):
        tl.mean_squared_error(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(lg.ShapeError, match="target|output|labels|logits"):
        tl.sigmoid_cross_entropy(np.zeros((3, 4)), np.zeros((2, 4)))


def test_unknown_dice_loss_type():
    o, t = seg_pair()
    with pytest.raises(lg.OptionError, match="loss_type"):
        tl.dice_coe(o, t, loss_type="iou")


def test_binary_cross_entropy_needs_axis_1():
    with pytest.raises(lg.ShapeError, match="output"):
        tl.binary_cross_entropy(np.full(3, 0.5), np.ones(3))


def test_exports_and_catalogue_table():
    names = {"cross_entropy", "sigmoid_cross_entropy", "binary_cross_entropy",
             "mean_squared_error", "normalized_mean_square_error", "absolute_difference_error",
             "dice_coe", "dice_hard_coe", "iou_coe", "cross_entropy_seq",
             "cross_entropy_seq_with_mask", "cosine_similarity", "li_regularizer",
             "lo_regularizer", "maxnorm_regularizer", "maxnorm_o_regularizer",
             "maxnorm_i_regularizer", "huber_loss"}
    assert set(tl.__all__) == names
    assert set(tl.CANONICAL) == names
    from zoo import losses
    for targets in tl.CANONICAL.values():
        for t in (targets,) if isinstance(targets, str) else targets:
            assert t in losses.__all__, t
    for n in names:
        doc = getattr(tl, n).__doc__
        assert "Source convention" in doc, n
