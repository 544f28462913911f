"""Ranking and metric-learning losses: pairs, triplets and the pairwise AUC surrogate."""
from __future__ import annotations

import lossgraph as lg
from lossgraph.shapes import fmt_shape

from ..dual import dual
from ..options import ANY, COSINE, NONNEGATIVE, POSITIVE, options
from ..reduction import safe_divide
from .define import as_float, loss
from .divergence import cosine_similarity

__all__ = ["margin_ranking", "triplet", "triplet_margin", "contrastive", "cosine_embedding",
           "roc_auc_surrogate"]


def _like(y, shape, arg, what):
    """y as a float node that broadcasts to shape without enlarging it (no silent outer
    product of a [N, 1] label with [N] scores)."""
    y = as_float(y)
    if lg.shapes.broadcast_shapes((arg, y.shape), (what, shape)) != tuple(shape):
        raise lg.ShapeError(f"{arg}: shape {fmt_shape(y.shape)} would enlarge {what} of "
                            f"shape {fmt_shape(shape)}")
    return y


@options(margin=ANY)
@loss("x1", "x2", "y")
def margin_ranking(x1, x2, y, margin=0.0):
    """l = max(0, -y (x1 - x2) + margin), y in {-1, 1}, element-wise.

    Source convention: Axon margin_ranking (margin 0.0), torch MarginRankingLoss.

    Examples:
        >>> losses.margin_ranking(np.array([1.0, 1.0]), np.array([0.0, 0.0]),
        ...     np.array([1.0, -1.0]))
        array([0., 1.])

    Raises:
        OptionError: margin outside its domain (the message gives the domain and the value).
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    d = as_float(x1) - as_float(x2)
    return lg.relu(-_like(y, d.shape, "y", "x1 - x2") * d + margin)


@options(margin=NONNEGATIVE)
@loss("anchor", "positive", "negative")
def triplet(anchor, positive, negative, margin=1.0, axis=None):
    """l = max(0, sum_axis (a - p)^2 - sum_axis (a - n)^2 + margin).

    axis=None sums every axis but the first (one loss per sample).

    Source convention: MXNet TripletLoss (squared distances over the non-batch axes, margin
    1); TFLearn triplet_loss is one sample made of the whole flattened batch.

    Examples:
        >>> losses.triplet(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]),
        ...     np.array([[1.2, 0.0]]), axis=1).round(4)
        array([0.56])

    Raises:
        OptionError: margin outside its domain (the message gives the domain and the value).
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    a = as_float(anchor)
    positive, negative = (_like(t, a.shape, n, "anchor")
                          for t, n in ((positive, "positive"), (negative, "negative")))
    if axis is None:
        axis = tuple(range(1, a.ndim))
    gap = lg.sum(lg.square(a - positive), axis=axis) - lg.sum(lg.square(a - negative), axis=axis)
    return lg.relu(gap + margin)


def pairwise_distance(a, b, p=2.0, eps=1e-6):
    """||a - b + eps||_p over the last axis: (sum |a - b + eps|^p)^(1/p), with gradient 0
    (not NaN) where the sum is 0 (torch.pairwise_distance)."""
    d = as_float(a) - as_float(b) + eps
    s = lg.sum(lg.square(d) if p == 2 else lg.power(lg.abs(d), p), axis=-1)
    nonzero = s > 0.0
    root = lg.sqrt if p == 2 else (lambda v: lg.power(v, 1.0 / p))
    return lg.where(nonzero, root(lg.where(nonzero, s, 1.0)), 0.0)


@options(margin=POSITIVE, p=POSITIVE, eps=NONNEGATIVE)
@loss("anchor", "positive", "negative")
def triplet_margin(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                   distance=None):
    """l = max(0, d(a, p) - d(a, n) + margin), d(a, b) = ||a - b + eps||_p over the last axis.

    swap=True uses min(d(a, n), d(p, n)) for the negative distance (Balntas et al. 2016).
    distance: any function of two nodes returning one distance per sample replaces the
    p-norm (p and eps are then unused).

    Source convention: torch.nn.functional.triplet_margin_loss (margin 1, p 2, eps 1e-6 added
    to the difference, margin > 0) and triplet_margin_with_distance_loss (distance_function).

    Examples:
        >>> losses.triplet_margin(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]),
        ...     np.array([[1.5, 0.0]]), eps=0.0)
        array([0.5])

    Raises:
        OptionError: margin, p, eps outside its domain (the message gives the domain and the
            value).
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    a = as_float(anchor)
    pos, neg = as_float(positive), as_float(negative)
    for t, n in ((pos, "positive"), (neg, "negative")):
        if t.ndim != a.ndim:
            raise lg.ShapeError(f"{n}: the anchor, positive and negative must have the same "
                                f"number of dims, got anchor {fmt_shape(a.shape)} and {n} "
                                f"{fmt_shape(t.shape)}")
    dist = distance or (lambda u, v: pairwise_distance(u, v, p=p, eps=eps))
    d_neg = dist(a, neg)
    if swap:
        d_neg = lg.minimum(d_neg, dist(pos, neg))
    return lg.relu(dist(a, pos) - d_neg + margin)


@options(margin=NONNEGATIVE)
@loss("distance", "label")
def contrastive(distance, label, margin=1.0):
    """l = z d^2 + (1 - z) max(margin - d, 0)^2, d a distance, z = 1 for similar pairs.

    Source convention: Hadsell, Chopra and LeCun 2006; TFLearn contrastive_loss (y_pred is
    the distance) sums this over the batch and halves it.

    Examples:
        >>> losses.contrastive(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
        array([0.25, 0.25])

    Raises:
        OptionError: margin outside its domain (the message gives the domain and the value).
    """
    d, z = as_float(distance), as_float(label)
    return z * lg.square(d) + (1.0 - z) * lg.square(lg.relu(margin - d))


@options(margin=COSINE, eps=NONNEGATIVE)
@loss("x1", "x2", "y")
def cosine_embedding(x1, x2, y, margin=0.0, axis=-1, eps=1e-8):
    """l = 1 - cos(x1, x2) if y = 1;  max(0, cos(x1, x2) - margin) if y = -1;  0 otherwise.

    cos = cosine_similarity(x1, x2, axis, eps): one loss per sample, y one label per sample.

    Source convention: torch CosineEmbeddingLoss (torch adds 1e-12 to each squared norm;
    here the norm product is floored at eps).

    Examples:
        >>> losses.cosine_embedding(np.array([[1.0, 0.0], [1.0, 0.0]]),
        ...     np.array([[0.0, 1.0], [1.0, 1.0]]), np.array([1.0, -1.0]))
        array([1.        , 0.70710678])

    Raises:
        OptionError: margin, eps outside its domain (the message gives the domain and the
            value).
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    cos = cosine_similarity(x1, x2, axis=axis, eps=eps)
    y = _like(y, cos.shape, "y", "cos(x1, x2)")
    return (lg.where(lg.equal(y, 1.0), 1.0 - cos, 0.0)
            + lg.where(lg.equal(y, -1.0), lg.relu(cos - margin), 0.0))


@options(gamma=NONNEGATIVE, p=POSITIVE)
@dual("pred", "target")
def roc_auc_surrogate(pred, target, gamma=0.2, p=3, normalize=False):
    """L = sum_{i neg, j pos} max(0, gamma - (x_j - x_i))^p over the flattened tensors.

    Positives are the elements with target != 0. Returns the scalar (the pairs are reduced
    here, no `reduction=`); normalize=True divides by the number of pairs. 0 when either
    side is empty. Lower is better.

    Source convention: TFLearn roc_auc_score (Yan et al. 2003 Wilcoxon-Mann-Whitney
    surrogate, gamma 0.2, p 3, a sum over all pairs).

    Examples:
        >>> losses.roc_auc_surrogate(np.array([0.1, 0.9, 0.5]), np.array([0.0, 1.0, 1.0]),
        ...     gamma=0.5, p=2).round(4)
        np.float64(0.01)

    Raises:
        OptionError: gamma, p outside its domain (the message gives the domain and the value).
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    x = lg.reshape(as_float(pred), (-1,))
    pos = lg.cast(lg.not_equal(lg.reshape(lg.as_node(target), (-1,)), 0), x.dtype)
    if x.shape != pos.shape:
        raise lg.ShapeError(f"target: {fmt_shape(pos.shape)} elements, but pred has "
                            f"{fmt_shape(x.shape)}")
    pairs = lg.expand_dims(1.0 - pos, 1) * lg.expand_dims(pos, 0)   # [i neg, j pos]
    gap = lg.expand_dims(x, 0) - lg.expand_dims(x, 1)               # x_j - x_i
    total = lg.sum(pairs * lg.relu(gamma - gap) ** p)
    return safe_divide(total, lg.sum(pairs)) if normalize else total
