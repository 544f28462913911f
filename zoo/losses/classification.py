"""Classification losses. Logit forms go through softplus / log_softmax / logsumexp, so they
are finite for any logits; probability forms clip or add eps exactly as documented."""
from __future__ import annotations

import lossgraph as lg

from ..options import BELOW_HALF, NONNEGATIVE, UNIT, optional, options
from ..reduction import check_choice
from .define import as_float, as_int, loss, same_shape

__all__ = ["softmax_cross_entropy", "sparse_softmax_cross_entropy",
           "categorical_cross_entropy", "sigmoid_cross_entropy", "weighted_cross_entropy",
           "binary_cross_entropy", "log_loss", "hinge", "squared_hinge", "categorical_hinge",
           "logistic", "soft_margin", "focal", "multilabel_soft_margin"]


def _smooth(z, amount, classes):
    """z (1 - amount) + amount / classes   (label smoothing)."""
    return z * (1.0 - amount) + amount / classes if amount > 0 else z


@options(label_smoothing=UNIT)
@loss("logits", "onehot_labels")
def softmax_cross_entropy(logits, onehot_labels, axis=-1, label_smoothing=0.0,
                          from_logits=True):
    """l = -sum_c z_c log softmax(x)_c over axis, z smoothed to z (1 - s) + s / C;
    from_logits=False takes x as log-probabilities already."""
    x, z = same_shape(logits, onehot_labels, "logits", "onehot_labels")
    z = _smooth(z, label_smoothing, lg.size(x, axis))
    logp = lg.log_softmax(x, axis=axis) if from_logits else x
    return -lg.sum(z * logp, axis=axis)


@loss("logits", "labels")
def sparse_softmax_cross_entropy(logits, labels, axis=-1):
    """l = logsumexp(x) - x_y over axis, for integer labels y."""
    x = as_float(logits)
    return lg.logsumexp(x, axis=axis) - lg.pick(x, as_int(labels, "labels"), axis=axis)


@options(eps=BELOW_HALF)
@loss("probs", "onehot_labels")
def categorical_cross_entropy(probs, onehot_labels, axis=-1, eps=1e-7):
    """l = -sum_c z_c log clip(p_c, eps, 1 - eps) over axis (no clip when eps = 0; then
    z_c = 0 terms count 0 even where p_c = 0)."""
    p, z = same_shape(probs, onehot_labels, "probs", "onehot_labels")
    if eps > 0:
        p = lg.clip(p, eps, 1.0 - eps)
    return -lg.sum(lg.xlogy(z, p), axis=axis)


@options(label_smoothing=UNIT, pos_weight=optional(NONNEGATIVE))
@loss("logits", "labels")
def sigmoid_cross_entropy(logits, labels, label_smoothing=0.0, pos_weight=None):
    """l = softplus(x) - x z, z smoothed to z (1 - s) + s / 2; with pos_weight q:
    l = (1 - z) x + (1 + (q - 1) z) softplus(-x)."""
    x, z = same_shape(logits, labels, "logits", "labels")
    z = _smooth(z, label_smoothing, 2.0)
    if pos_weight is None:
        return lg.softplus(x) - x * z
    return (1.0 - z) * x + (1.0 + (pos_weight - 1.0) * z) * lg.softplus(-x)


@options(pos_weight=NONNEGATIVE)
@loss("logits", "labels")
def weighted_cross_entropy(logits, labels, pos_weight=1.0):
    """l = (1 - z) x + (1 + (q - 1) z) softplus(-x)   (sigmoid CE, positives weighted by q)."""
    x, z = same_shape(logits, labels, "logits", "labels")
    return (1.0 - z) * x + (1.0 + (pos_weight - 1.0) * z) * lg.softplus(-x)


@options(eps=BELOW_HALF, pos_weight=NONNEGATIVE, neg_weight=NONNEGATIVE)
@loss("probs", "labels")
def binary_cross_entropy(probs, labels, eps=1e-7, pos_weight=1.0, neg_weight=1.0):
    """l = -(w+ z log p + w- (1 - z) log(1 - p)), p clipped to [eps, 1 - eps]."""
    p, z = same_shape(probs, labels, "probs", "labels")
    if eps > 0:
        p = lg.clip(p, eps, 1.0 - eps)
    return -(pos_weight * lg.xlogy(z, p) + neg_weight * lg.xlogy(1.0 - z, 1.0 - p))


@options(eps=NONNEGATIVE)
@loss("probs", "labels")
def log_loss(probs, labels, eps=1e-7):
    """l = -z log(p + eps) - (1 - z) log(1 - p + eps)   (eps inside the logs, no clipping:
    TF contrib log_loss, MXNet from_sigmoid, TensorLayer binary_cross_entropy)."""
    p, z = same_shape(probs, labels, "probs", "labels")
    return -lg.xlogy(z, p + eps) - lg.xlogy(1.0 - z, 1.0 - p + eps)


@options(margin=NONNEGATIVE)
@loss("pred", "labels")
def hinge(pred, labels, margin=1.0):
    """l = max(0, margin - y pred), labels y in {-1, 1}."""
    x, y = same_shape(pred, labels, "pred", "labels")
    return lg.relu(margin - x * y)


@options(margin=NONNEGATIVE)
@loss("pred", "labels")
def squared_hinge(pred, labels, margin=1.0):
    """l = max(0, margin - y pred)^2, labels y in {-1, 1}."""
    x, y = same_shape(pred, labels, "pred", "labels")
    return lg.square(lg.relu(margin - x * y))


@loss("pred", "onehot_labels")
def categorical_hinge(pred, onehot_labels, axis=-1):
    """l = max(0, max_c (1 - z_c) x_c - sum_c z_c x_c + 1) over axis."""
    x, z = same_shape(pred, onehot_labels, "pred", "onehot_labels")
    return lg.relu(lg.max((1.0 - z) * x, axis=axis) - lg.sum(z * x, axis=axis) + 1.0)


@loss("pred", "labels")
def logistic(pred, labels, label_format="signed"):
    """l = log(1 + e^{-y pred}) = softplus(-y pred); label_format "binary" maps z in {0, 1}
    to y = 2 z - 1."""
    check_choice("label_format", label_format, ("signed", "binary"))
    x, y = same_shape(pred, labels, "pred", "labels")
    y = 2.0 * y - 1.0 if label_format == "binary" else y
    return lg.softplus(-y * x)


@loss("pred", "labels")
def soft_margin(pred, labels):
    """l = log(1 + e^{-y pred}), labels y in {-1, 1}."""
    x, y = same_shape(pred, labels, "pred", "labels")
    return lg.softplus(-y * x)


@options(alpha=optional(UNIT), gamma=NONNEGATIVE)
@loss("logits", "labels")
def focal(logits, labels, alpha=0.25, gamma=2.0):
    """l = a_t (1 - p_t)^gamma (softplus(x) - x z), p_t = sigmoid(x) if z = 1 else
    sigmoid(-x), a_t = alpha z + (1 - alpha)(1 - z)   (Lin et al.; alpha=None: a_t = 1)."""
    x, z = same_shape(logits, labels, "logits", "labels")
    miss = z * lg.sigmoid(-x) + (1.0 - z) * lg.sigmoid(x)
    out = lg.power(miss, gamma) * (lg.softplus(x) - x * z)
    return out if alpha is None else (alpha * z + (1.0 - alpha) * (1.0 - z)) * out


@loss("logits", "labels")
def multilabel_soft_margin(logits, labels, axis=-1):
    """l = mean_c softplus(x_c) - x_c z_c over axis   (= -mean(z log s(x) + (1-z) log s(-x)))."""
    x, z = same_shape(logits, labels, "logits", "labels")
    return lg.mean(lg.softplus(x) - x * z, axis=axis)
