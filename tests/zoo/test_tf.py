"""zoo.tf against tf.contrib.losses (seed 001; tensorflow/contrib/losses/python/losses/loss_ops.py,
TF r1.x): each loss checked against an independent NumPy transcription of loss_ops.py
(_scale_losses, _num_present, _safe_div), weights scalar / per-sample / per-element, the
seed's worked example, finite-difference gradients, both precisions, extremes, bad input and
the explicit LossSet that replaces TF's global loss collection."""
import inspect

import numpy as np
import pytest

import lossgraph as lg
from zoo import tf
from .zoo_refs import check_grad

rng = np.random.default_rng(1)
F64 = dict(rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- NumPy references
def ref_compute_weighted_loss(losses, weights=1.0):
    """loss_ops.compute_weighted_loss: squeeze a trailing 1 of rank>1 weights, sum the losses
    down to the weights' rank, multiply, sum; divide by _num_present; 0 when nothing is
    present."""
    losses = np.asarray(losses, dtype=float)
    w = np.asarray(weights, dtype=float)
    if w.ndim > 1 and w.shape[-1] == 1:
        w = w[..., 0]
    k = w.ndim
    total = np.sum(losses.sum(axis=tuple(range(k, losses.ndim))) * w)
    if k == 0:
        present = 0.0 if w == 0 else float(losses.size)
    else:
        nonzero = (w != 0).astype(float).sum(axis=tuple(range(1, k)))
        present = float(np.sum(nonzero * np.prod(losses.shape[k:])))
    return total / present if present > 0 else 0.0


def lse(x, axis=-1):
    m = x.max(axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis, keepdims=True))).squeeze(axis)


def sce(x, z):
    return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))


def ref_absolute_difference(predictions, labels, weights=1.0):
    return ref_compute_weighted_loss(np.abs(predictions - labels), weights)


def ref_mean_squared_error(predictions, labels, weights=1.0):
    return ref_compute_weighted_loss((predictions - labels) ** 2, weights)


def ref_log_loss(predictions, labels, weights=1.0, epsilon=1e-7):
    losses = (-labels * np.log(predictions + epsilon)
              - (1 - labels) * np.log(1 - predictions + epsilon))
    return ref_compute_weighted_loss(losses, weights)


def ref_hinge_loss(logits, labels):
    return np.maximum(1.0 - (2.0 * labels - 1.0) * logits, 0.0)


def ref_sigmoid_cross_entropy(logits, multi_class_labels, weights=1.0, label_smoothing=0):
    z = multi_class_labels
    if label_smoothing > 0:
        z = z * (1 - label_smoothing) + 0.5 * label_smoothing
    return ref_compute_weighted_loss(sce(logits, z), weights)


def ref_softmax_cross_entropy(logits, onehot_labels, weights=1.0, label_smoothing=0):
    z = onehot_labels
    if label_smoothing > 0:
        z = z * (1.0 - label_smoothing) + label_smoothing / z.shape[1]
    losses = np.sum(z * (lse(logits)[:, None] - logits), axis=1)
    return ref_compute_weighted_loss(losses, weights)


def ref_sparse_softmax_cross_entropy(logits, labels, weights=1.0):
    labels = labels.reshape(labels.shape[0])
    losses = lse(logits) - np.take_along_axis(logits, labels[:, None], 1)[:, 0]
    return ref_compute_weighted_loss(losses, weights)


def ref_mean_pairwise_squared_error(predictions, labels, weights=1.0):
    d = predictions - labels
    axes = tuple(range(1, d.ndim))
    w = np.asarray(weights, dtype=float)
    per_sample = float(np.prod(d.shape[1:]))
    n = (np.full(d.shape[0], per_sample) * (w != 0) if w.ndim == 0
         else (w != 0).astype(float) * per_sample)
    safe = np.where(n > 0, n, 1.0)
    term1 = np.where(n > 0, 2.0 * (d ** 2).sum(axes) / safe, 0.0)
    term2 = np.where(n > 0, 2.0 * d.sum(axes) ** 2 / safe ** 2, 0.0)
    loss = np.sum((term1 - term2) * w)
    return loss if n.sum() > 0 else 0.0


def ref_cosine_distance(predictions, labels, axis, weights=1.0):
    return ref_compute_weighted_loss(1 - np.sum(predictions * labels, axis=axis), weights)


# ---------------------------------------------------------------- helpers
B, D = 4, 3


def weight_options(loss_shape):
    """scalar, zero scalar, per-sample [B], [B, 1], per-element, per-element with zeros."""
    per_elem = rng.uniform(0.5, 2.0, loss_shape)
    per_elem.flat[::3] = 0.0
    per_sample = rng.uniform(0.5, 2.0, loss_shape[0])
    per_sample[1] = 0.0
    return [2.0, 0.0, per_sample, per_sample[:, None], per_elem,
            np.zeros(loss_shape[0]), np.zeros(loss_shape)]


def make_inputs(name, shape=(B, D)):
    if name in ("log_loss",):
        return rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)
    if name == "sigmoid_cross_entropy":
        return rng.normal(size=shape) * 3, rng.uniform(0, 1, shape)
    if name == "softmax_cross_entropy":
        return rng.normal(size=shape) * 3, np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    if name == "sparse_softmax_cross_entropy":
        return rng.normal(size=shape) * 3, rng.integers(0, shape[1], shape[0])
    return rng.normal(size=shape), rng.normal(size=shape)


ELEMENTWISE = {
    "absolute_difference": ref_absolute_difference,
    "mean_squared_error": ref_mean_squared_error,
    "sum_of_squares": ref_mean_squared_error,
    "log_loss": ref_log_loss,
    "sigmoid_cross_entropy": ref_sigmoid_cross_entropy,
}
PER_SAMPLE = {
    "softmax_cross_entropy": ref_softmax_cross_entropy,
    "sparse_softmax_cross_entropy": ref_sparse_softmax_cross_entropy,
}


# ---------------------------------------------------------------- compute_weighted_loss
def test_seed_worked_example():
    # seed 001: losses [4, 1, 2, 3], weights [1, 0.5, 3, 9] -> (4 + 0.5 + 6 + 27) / 4
    losses = np.array([4.0, 1.0, 2.0, 3.0])
    weights = np.array([1.0, 0.5, 3.0, 9.0])
    assert tf.compute_weighted_loss(losses, weights) == pytest.approx(9.375)
    assert ref_compute_weighted_loss(losses, weights) == pytest.approx(9.375)


@pytest.mark.parametrize("shape", [(B,), (B, D), (B, D, 2)])
def test_compute_weighted_loss(shape):
    losses = rng.uniform(0, 3, shape)
    for w in weight_options(shape):
        np.testing.assert_allclose(tf.compute_weighted_loss(losses, w),
                                   ref_compute_weighted_loss(losses, w), **F64)
    # weights of a leading prefix of the loss shape ([B, D] over [B, D, 2])
    if len(shape) == 3:
        w = rng.uniform(0, 1, shape[:2])
        w[0, 0] = 0.0
        np.testing.assert_allclose(tf.compute_weighted_loss(losses, w),
                                   ref_compute_weighted_loss(losses, w), **F64)


def test_per_sample_weights_align_with_the_batch_axis():
    # a square loss: NumPy's trailing alignment would weigh columns, TF weighs rows
    losses = rng.uniform(0, 1, (3, 3))
    w = np.array([1.0, 0.0, 2.0])
    expected = (losses[0].sum() + 2 * losses[2].sum()) / 6
    assert tf.compute_weighted_loss(losses, w) == pytest.approx(expected, rel=1e-12)


def test_all_zero_weights_give_zero_not_nan():
    losses = rng.uniform(0, 1, (B, D))
    for w in (0.0, np.zeros(B), np.zeros((B, D))):
        out = tf.compute_weighted_loss(losses, w)
        assert out == 0.0 and not np.isnan(out)
    x = lg.input("x", shape=(B, D))
    loss = tf.compute_weighted_loss(x, np.zeros(B))
    (g,) = lg.gradients(loss, [x])
    value, grad = lg.evaluate([loss, g], x=losses)
    assert value == 0.0
    np.testing.assert_array_equal(grad, np.zeros((B, D)))


def test_negative_weights_count_as_present():
    losses = np.array([1.0, 2.0])
    assert tf.compute_weighted_loss(losses, np.array([-1.0, 1.0])) == pytest.approx(0.5)


def test_weight_alias():
    losses = rng.uniform(0, 1, (B,))
    w = rng.uniform(0, 1, B)
    assert tf.compute_weighted_loss(losses, weight=w) == tf.compute_weighted_loss(losses, w)


# ---------------------------------------------------------------- weighted losses
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_losses_all_weights(name):
    p, l = make_inputs(name)
    for w in weight_options((B, D)):
        np.testing.assert_allclose(getattr(tf, name)(p, l, w), ELEMENTWISE[name](p, l, w), **F64)


@pytest.mark.parametrize("name", sorted(PER_SAMPLE))
def test_per_sample_losses_weights(name):
    x, y = make_inputs(name)
    for w in weight_options((B,)):
        np.testing.assert_allclose(getattr(tf, name)(x, y, w), PER_SAMPLE[name](x, y, w), **F64)


def test_weighted_loss_on_3d_input():
    p, l = rng.normal(size=(B, D, 2)), rng.normal(size=(B, D, 2))
    for w in (1.0, rng.uniform(size=B), rng.uniform(size=(B, D)), rng.uniform(size=(B, D, 2))):
        np.testing.assert_allclose(tf.mean_squared_error(p, l, w),
                                   ref_mean_squared_error(p, l, w), **F64)


@pytest.mark.parametrize("ls", [0.0, 0.1, 0.5, -0.2])
def test_label_smoothing(ls):
    x, z = make_inputs("sigmoid_cross_entropy")
    np.testing.assert_allclose(tf.sigmoid_cross_entropy(x, z, label_smoothing=ls),
                               ref_sigmoid_cross_entropy(x, z, label_smoothing=ls), **F64)
    x, z = make_inputs("softmax_cross_entropy")
    np.testing.assert_allclose(tf.softmax_cross_entropy(x, z, 0.5, ls),
                               ref_softmax_cross_entropy(x, z, 0.5, ls), **F64)


def test_log_loss_epsilon():
    p, l = make_inputs("log_loss")
    np.testing.assert_allclose(tf.log_loss(p, l, epsilon=1e-2), ref_log_loss(p, l, epsilon=1e-2),
                               **F64)


def test_sparse_labels_b1_and_weights_b1():
    x, y = make_inputs("sparse_softmax_cross_entropy")
    w = rng.uniform(size=(B, 1))
    np.testing.assert_allclose(tf.sparse_softmax_cross_entropy(x, y[:, None], w),
                               ref_sparse_softmax_cross_entropy(x, y, w), **F64)


def test_hinge_loss_is_unreduced_with_01_labels():
    x, y = rng.normal(size=(B, D)) * 2, rng.integers(0, 2, (B, D)).astype(float)
    out = tf.hinge_loss(x, y)
    assert out.shape == (B, D)
    np.testing.assert_allclose(out, ref_hinge_loss(x, y), **F64)
    np.testing.assert_allclose(tf.hinge_loss(x, target=y), ref_hinge_loss(x, y), **F64)


def test_mean_pairwise_squared_error():
    for shape in ((B, D), (B, D, 2)):
        p, l = rng.normal(size=shape), rng.normal(size=shape)
        for w in (1.0, 2.5, 0.0, np.array([1.0, 0.0, 2.0, 0.5]), np.zeros(B)):
            for name in ("mean_pairwise_squared_error", "sum_of_pairwise_squares"):
                np.testing.assert_allclose(getattr(tf, name)(p, l, w),
                                           ref_mean_pairwise_squared_error(p, l, w), **F64)


def test_mean_pairwise_is_all_ordered_pairs_summed_over_batch():
    # per sample (1/n^2) sum_{i,j} (d_i - d_j)^2: [1, 2, 3] vs 0 gives 12/9
    p, l = np.array([[1.0, 2.0, 3.0]]), np.zeros((1, 3))
    assert tf.mean_pairwise_squared_error(p, l) == pytest.approx(4.0 / 3.0)
    assert tf.mean_pairwise_squared_error(np.vstack([p, p]), np.zeros((2, 3))) == \
        pytest.approx(8.0 / 3.0)


@pytest.mark.parametrize("axis", [1, 0, -1])
def test_cosine_distance(axis):
    p, l = rng.normal(size=(B, D)), rng.normal(size=(B, D))
    np.testing.assert_allclose(tf.cosine_distance(p, l, axis), ref_cosine_distance(p, l, axis),
                               **F64)
    np.testing.assert_allclose(tf.cosine_distance(p, l, dim=axis),
                               ref_cosine_distance(p, l, axis), **F64)
    w = rng.uniform(size=B if axis % 2 else D)   # the loss keeps the other axis
    np.testing.assert_allclose(tf.cosine_distance(p, l, axis, w),
                               ref_cosine_distance(p, l, axis, w), **F64)


def test_cosine_distance_axis_rules():
    p = rng.normal(size=(B, D))
    with pytest.raises(lg.OptionError, match="axis"):
        tf.cosine_distance(p, p)
    with pytest.raises(lg.OptionError, match="axis"):
        tf.cosine_distance(p, p, axis=1, dim=1)


def test_deprecated_keyword_aliases():
    p, l = make_inputs("mean_squared_error")
    w = rng.uniform(size=B)
    expected = ref_mean_squared_error(p, l, w)
    np.testing.assert_allclose(tf.sum_of_squares(p, targets=l, weight=w), expected, **F64)
    np.testing.assert_allclose(tf.mean_squared_error(p, labels=l, weights=w), expected, **F64)
    x, z = make_inputs("sigmoid_cross_entropy")
    np.testing.assert_allclose(tf.sigmoid_cross_entropy(x, z, weight=w),
                               ref_sigmoid_cross_entropy(x, z, w), **F64)
    with pytest.raises(lg.OptionError, match="weight"):
        tf.mean_squared_error(p, l, weights=w, weight=w)


def test_signatures_follow_contrib_r1():
    def params(fn):
        return [p.name for p in inspect.signature(fn).parameters.values()
                if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert params(tf.log_loss) == ["predictions", "labels", "weights", "epsilon", "scope"]
    assert params(tf.sigmoid_cross_entropy) == ["logits", "multi_class_labels", "weights",
                                                "label_smoothing", "scope"]
    assert params(tf.softmax_cross_entropy) == ["logits", "onehot_labels", "weights",
                                                "label_smoothing", "scope"]
    assert params(tf.sparse_softmax_cross_entropy) == ["logits", "labels", "weights", "scope"]
    assert params(tf.hinge_loss) == ["logits", "labels", "scope"]
    assert params(tf.cosine_distance) == ["predictions", "labels", "axis", "weights", "scope",
                                          "dim"]
    assert params(tf.compute_weighted_loss) == ["losses", "weights", "scope"]
    for name in ("absolute_difference", "mean_squared_error", "mean_pairwise_squared_error"):
        assert params(getattr(tf, name)) == ["predictions", "labels", "weights", "scope"]
    assert inspect.signature(tf.log_loss).parameters["epsilon"].default == 1e-7


# ---------------------------------------------------------------- LossSet (the collection)
def test_loss_set_collects_explicitly():
    ls = tf.LossSet()
    p, l = make_inputs("mean_squared_error")
    a = tf.mean_squared_error(p, l, loss_collection=ls)
    b = tf.absolute_difference(p, l, scope="l1", loss_collection=ls)
    tf.add_loss(np.float64(0.5), ls)
    ls.add_regularization_loss(np.float64(0.25), name="reg/w")
    assert len(tf.get_losses(loss_collection=ls)) == 3
    assert tf.get_losses(scope="l1", loss_collection=ls) == [b]
    assert tf.get_regularization_losses(loss_collection=ls) == [0.25]
    assert tf.get_total_loss(loss_collection=ls) == pytest.approx(a + b + 0.75)
    assert tf.get_total_loss(False, loss_collection=ls) == pytest.approx(a + b + 0.5)
    assert ls.get_total_loss(add_regularization_losses=False) == pytest.approx(a + b + 0.5)
    # unreduced hinge is never collected; a second set is independent
    other = tf.LossSet()
    assert other.get_losses() == [] and ls is not other


def test_loss_set_with_nodes():
    ls = tf.LossSet()
    x = lg.input("x", shape=(B, D))
    y = lg.input("y", shape=(B, D))
    tf.mean_squared_error(x, y, loss_collection=ls)
    tf.add_loss(tf.absolute_difference(x, y), loss_collection=ls)
    total = tf.get_total_loss(loss_collection=ls)
    assert isinstance(total, lg.Node)
    p, l = make_inputs("mean_squared_error")
    assert lg.evaluate(total, x=p, y=l) == pytest.approx(
        ref_mean_squared_error(p, l) + ref_absolute_difference(p, l), rel=1e-12)
    (g,) = lg.gradients(total, [x])
    assert lg.evaluate(g, x=p, y=l).shape == (B, D)


def test_loss_set_errors():
    with pytest.raises(lg.InputError, match="loss_collection"):
        tf.get_losses()
    with pytest.raises(lg.InputError, match="loss_collection"):
        tf.add_loss(1.0, None)
    with pytest.raises(lg.InputError, match="no losses"):
        tf.LossSet().get_total_loss()


def test_no_module_level_mutable_state():
    mutable = (list, dict, set)
    for name, value in vars(tf).items():
        if isinstance(value, mutable) and not name.startswith("__"):
            assert name in ("CANONICAL", "__all__"), name


# ---------------------------------------------------------------- gradients (float64 FD)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_gradients_elementwise(name):
    p, l = make_inputs(name)
    first, second = list(inspect.signature(getattr(tf, name)).parameters)[:2]
    w = rng.uniform(0.5, 1.5, B)
    w[0] = 0.0
    check_grad(lambda **a: getattr(tf, name)(a[first], a[second], w),
               lambda **a: ELEMENTWISE[name](a[first], a[second], w),
               {first: p, second: l}, [first, second])


def test_gradients_per_sample_and_others():
    x, z = make_inputs("softmax_cross_entropy")
    check_grad(tf.softmax_cross_entropy, ref_softmax_cross_entropy,
               {"logits": x, "onehot_labels": z}, ["logits"], label_smoothing=0.2)
    x, y = make_inputs("sparse_softmax_cross_entropy")
    check_grad(tf.sparse_softmax_cross_entropy, ref_sparse_softmax_cross_entropy,
               {"logits": x, "labels": y}, ["logits"], weights=np.array([1.0, 0.0, 2.0, 1.0]))
    x, z = make_inputs("sigmoid_cross_entropy")
    check_grad(tf.sigmoid_cross_entropy, ref_sigmoid_cross_entropy,
               {"logits": x, "multi_class_labels": z}, ["logits"], label_smoothing=0.1)
    p, l = rng.normal(size=(B, D)), rng.normal(size=(B, D))
    check_grad(tf.mean_pairwise_squared_error, ref_mean_pairwise_squared_error,
               {"predictions": p, "labels": l}, ["predictions", "labels"],
               weights=np.array([1.0, 0.0, 2.0, 0.5]))
    check_grad(tf.cosine_distance, ref_cosine_distance, {"predictions": p, "labels": l},
               ["predictions"], axis=1)
    check_grad(lambda logits, labels: lg.sum(tf.hinge_loss(logits, labels)),
               lambda logits, labels: ref_hinge_loss(logits, labels).sum(),
               {"logits": p * 3, "labels": rng.integers(0, 2, (B, D)).astype(float)}, ["logits"])
    check_grad(tf.compute_weighted_loss, ref_compute_weighted_loss,
               {"losses": rng.uniform(size=(B, D))}, ["losses"], weights=rng.uniform(size=B))


# ---------------------------------------------------------------- precision
@pytest.mark.parametrize("name", sorted({**ELEMENTWISE, **PER_SAMPLE}))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_precision(name, dtype):
    x, y = make_inputs(name)
    x = x.astype(dtype)
    y = y.astype(dtype) if y.dtype.kind == "f" else y
    w = rng.uniform(size=B).astype(dtype)
    out = getattr(tf, name)(x, y, w)
    assert np.asarray(out).dtype == dtype
    ref = {**ELEMENTWISE, **PER_SAMPLE}[name]
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else F64
    np.testing.assert_allclose(out, ref(x.astype(float), y if y.dtype.kind != "f"
                                        else y.astype(float), w.astype(float)), **tol)


# ---------------------------------------------------------------- stability
def test_extreme_logits():
    x = np.array([[-100.0, 100.0], [100.0, -100.0]])
    z = np.array([[0.0, 1.0], [0.0, 1.0]])
    for dtype in (np.float32, np.float64):
        out = tf.sigmoid_cross_entropy(x.astype(dtype), z.astype(dtype))
        assert out == pytest.approx(50.0, rel=1e-6)
        out = tf.softmax_cross_entropy(x.astype(dtype), z.astype(dtype))
        assert out == pytest.approx(100.0, rel=1e-6)
        out = tf.sparse_softmax_cross_entropy(x.astype(dtype), np.array([1, 1]))
        assert out == pytest.approx(100.0, rel=1e-6)
    xn = lg.input("x", shape=(2, 2))
    (g,) = lg.gradients(tf.softmax_cross_entropy(xn, z), [xn])
    assert np.all(np.isfinite(lg.evaluate(g, x=x)))


def test_log_loss_at_zero_and_one():
    p = np.array([[0.0, 1.0, 0.0, 1.0]])
    l = np.array([[0.0, 1.0, 1.0, 0.0]])
    for dtype in (np.float32, np.float64):
        out = tf.log_loss(p.astype(dtype), l.astype(dtype))
        assert np.isfinite(out)
        assert out == pytest.approx(ref_log_loss(p, l), rel=1e-5)
    xn = lg.input("p", shape=(1, 4))
    (g,) = lg.gradients(tf.log_loss(xn, l), [xn])
    assert np.all(np.isfinite(lg.evaluate(g, p=p)))


# ---------------------------------------------------------------- bad input
def test_weights_shape_error_names_weights():
    p, l = make_inputs("mean_squared_error")
    with pytest.raises(lg.ShapeError, match="weights"):
        tf.mean_squared_error(p, l, np.ones(B + 1))
    with pytest.raises(lg.ShapeError, match="weights"):
        tf.compute_weighted_loss(np.ones(B), np.ones((B, D)))


def test_shape_mismatch():
    with pytest.raises(lg.ShapeError, match="labels|predictions"):
        tf.mean_squared_error(np.zeros((B, D)), np.zeros((B, D + 1)))
    with pytest.raises(lg.ShapeError, match="labels|logits"):
        tf.hinge_loss(np.zeros((B, D)), np.zeros((B,)))
    # TF asserts compatible shapes: no broadcasting of labels against predictions
    with pytest.raises(lg.ShapeError, match="labels"):
        tf.mean_squared_error(np.zeros((B, D)), np.zeros(D))
    with pytest.raises(lg.ShapeError, match="multi_class_labels"):
        tf.sigmoid_cross_entropy(np.zeros((B, D)), np.zeros((B, 1)))
    x = lg.input("x", shape=("N", D))
    assert isinstance(tf.log_loss(x, lg.input("y", shape=("N", D))), lg.Node)


def test_missing_labels():
    with pytest.raises(lg.InputError, match="labels"):
        tf.log_loss(np.zeros((B, D)))


def test_sparse_label_dtype_and_range():
    x, _ = make_inputs("sparse_softmax_cross_entropy")
    with pytest.raises(lg.DTypeError, match="labels"):
        tf.sparse_softmax_cross_entropy(x, rng.uniform(size=B))
    with pytest.raises(lg.InputError, match="out of range"):
        tf.sparse_softmax_cross_entropy(x, np.array([0, 1, 2, D]))


def test_pairwise_rejects_per_element_weights():
    p, l = rng.normal(size=(B, D)), rng.normal(size=(B, D))
    with pytest.raises(lg.ShapeError, match="weights"):
        tf.mean_pairwise_squared_error(p, l, np.ones((B, D)))


def test_exports_and_catalogue_table():
    losses_api = {"absolute_difference", "add_loss", "hinge_loss", "compute_weighted_loss",
                  "cosine_distance", "get_losses", "get_regularization_losses",
                  "get_total_loss", "log_loss", "mean_pairwise_squared_error",
                  "mean_squared_error", "sigmoid_cross_entropy", "softmax_cross_entropy",
                  "sparse_softmax_cross_entropy", "sum_of_pairwise_squares", "sum_of_squares"}
    assert set(tf.__all__) == losses_api | {"LossSet"}
    from zoo import losses
    for name, targets in tf.CANONICAL.items():
        assert name in losses_api
        for t in (targets,) if isinstance(targets, str) else targets:
            assert t in losses.__all__, t
    for n in losses_api:
        assert "Source convention" in getattr(tf, n).__doc__, n
