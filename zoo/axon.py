"""Axon.Losses (v0.5.1) flavour: `f(y_true, y_pred, **opts)`, options as keyword arguments.

Every function takes `reduction="none" | "mean" | "sum"` (Axon's default is :none; the atoms
":none", ":mean", ":sum" are accepted too). Most losses first reduce the last axis (mean or
sum), giving one value per sample; the reduction then acts on that. Arrays in give arrays out,
Nodes in give a Node out (zoo.dual). See docs/zoo-conventions.md section 5.
"""
from __future__ import annotations

import lossgraph as lg
from lossgraph.shapes import fmt_shape

from . import losses as L
from .dual import dual
from .losses import divergence, ranking
from .losses.define import as_float as _float
from .options import ANY, INTEGER, NONNEGATIVE, optional, options
from .reduction import check_choice, reduce

__all__ = ["binary_cross_entropy", "categorical_cross_entropy", "categorical_hinge",
           "connectionist_temporal_classification", "cosine_similarity", "hinge",
           "kl_divergence", "log_cosh", "margin_ranking", "mean_absolute_error",
           "mean_squared_error", "poisson", "soft_margin"]

# flavour name -> canonical zoo.losses name(s) (read by zoo.inventory)
CANONICAL = {
    "binary_cross_entropy": ("log_loss", "sigmoid_cross_entropy"),
    "categorical_cross_entropy": ("categorical_cross_entropy", "softmax_cross_entropy",
                                  "sparse_softmax_cross_entropy"),
    "categorical_hinge": "categorical_hinge",
    "connectionist_temporal_classification": "ctc",
    "cosine_similarity": "cosine_similarity",
    "hinge": "hinge",
    "kl_divergence": "kl_divergence",
    "log_cosh": "log_cosh",
    "margin_ranking": "margin_ranking",
    "mean_absolute_error": "absolute_error",
    "mean_squared_error": "squared_error",
    "poisson": "poisson",
    "soft_margin": "soft_margin",
}

EPS = 1e-7      # Axon's epsilon in binary_cross_entropy, kl_divergence and poisson


def _mode(reduction, allowed=("none", "mean", "sum")):
    """Axon's reduction atom as a zoo.reduction mode (":mean" and "mean" alike)."""
    if isinstance(reduction, str) and reduction.startswith(":"):
        reduction = reduction[1:]
    return check_choice("reduction", reduction, allowed)


def _reduce(loss, reduction):
    return reduce(loss, reduction=_mode(reduction))


def _same_shape(y_true, y_pred):
    if y_true.shape != y_pred.shape:
        raise lg.ShapeError(f"y_true has shape {fmt_shape(y_true.shape)} but y_pred has shape "
                            f"{fmt_shape(y_pred.shape)}: they must match")


def _produced_by(x, op):
    """The argument of x when x is literally op(...) (Axon's logits metadata), else None."""
    return x.inputs[0] if isinstance(x, lg.Node) and x.op == op else None


def _either(value, alias, name):
    if value is not None and alias is not None:
        raise lg.OptionError(f"{name}: given both as {name} and as {name}s; pass one")
    return alias if value is None else value


@options(positive_weight=optional(NONNEGATIVE), negative_weight=optional(NONNEGATIVE),
         positive_weights=optional(NONNEGATIVE), negative_weights=optional(NONNEGATIVE))
@dual("y_true", "y_pred")
def binary_cross_entropy(y_true, y_pred, *, reduction="none", positive_weight=None,
                         negative_weight=None, from_logits=False, positive_weights=None,
                         negative_weights=None):
    """l = mean_last -(z log(p + eps) + (1 - z) log(1 - p + eps)), p = clip(y_pred, eps, 1 - eps).

    eps = 1e-7; with from_logits=True (or y_pred = lg.sigmoid(x)) the stable sigmoid
    cross-entropy of the logits instead.

    Source convention: Axon 0.5.1 binary_cross_entropy. The clip and the +eps inside the logs
    are both Axon's. positive_weight / negative_weight (the documented plural spellings are
    accepted too) weigh the 1 and 0 labels; with either given Axon takes the mean over ALL
    elements of w * e, a scalar, before `reduction` (so every reduction returns that scalar).

    Examples:
        >>> import zoo.axon as axon
        >>> axon.binary_cross_entropy(np.array([[1.0, 0.0]]), np.array([[0.8, 0.4]])).round(4)
        array([0.367])
        >>> axon.binary_cross_entropy(np.array([[1.0, 0.0]]), np.array([[0.8, 0.4]]),
        ...                           positive_weight=2.0, reduction="mean").round(4)
        np.float64(0.4786)

    Raises:
        OptionError: a reduction not none / mean / sum (with or without the leading ':'); a weight
            < 0; a weight given under both spellings.
        ShapeError: y_true and y_pred differ in shape.
    """
    y_true, y_pred = lg.as_node(y_true), lg.as_node(y_pred)
    _same_shape(y_true, y_pred)
    pos = _either(positive_weight, positive_weights, "positive_weight")
    neg = _either(negative_weight, negative_weights, "negative_weight")
    z = _float(y_true)
    logits = y_pred if from_logits else _produced_by(y_pred, "sigmoid")
    if logits is not None:
        e = L.sigmoid_cross_entropy(logits, z)
    else:
        e = L.log_loss(lg.clip(y_pred, EPS, 1.0 - EPS), z, eps=EPS)
    if pos is None and neg is None:
        return _reduce(lg.mean(e, axis=-1), reduction)
    w = lg.where(lg.equal(y_true, 1), 1.0 if pos is None else pos, 1.0 if neg is None else neg)
    return _reduce(reduce(e, reduction="mean", weights=w), reduction)


def _sparse_labels(y_true, y_pred):
    """Integer labels with y_pred's shape minus its class axis ((N,) or (N, 1) for (N, C))."""
    if y_true.ndim == y_pred.ndim:
        if y_true.shape[-1] != 1:
            raise lg.ShapeError(f"y_true: sparse targets must have size 1 in the last "
                                f"dimension, got shape {fmt_shape(y_true.shape)}")
        y_true = lg.squeeze(y_true, -1)
    if y_true.shape != y_pred.shape[:-1]:
        raise lg.ShapeError(f"y_true: sparse targets of shape {fmt_shape(y_true.shape)} do not "
                            f"match y_pred of shape {fmt_shape(y_pred.shape)} without its last "
                            f"axis")
    return y_true if y_true.dtype in ("int", "int32", "int64") else lg.cast(y_true, "int64")


def _argmax_last(y):
    """Index of the first maximum along the last axis."""
    c = y.shape[-1]
    width = c if isinstance(c, int) else lg.cast(lg.size(y, -1), "int")
    top = lg.equal(y, lg.max(y, axis=-1, keepdims=True))
    return lg.min(lg.where(top, lg.arange(c), width), axis=-1)


def _class_weight(class_weights, labels, classes):
    cw = lg.as_node(class_weights)
    if cw.ndim != 1 or cw.shape[0] != classes:
        raise lg.ShapeError(f"class_weights: expected one weight per class ({classes}), got "
                            f"shape {fmt_shape(cw.shape)}")
    return lg.pick(lg.broadcast_to(_float(cw), labels.shape + (classes,)), labels)


@dual("y_true", "y_pred", "class_weights")
def categorical_cross_entropy(y_true, y_pred, *, reduction="none", class_weights=None,
                              from_logits=False, sparse=False):
    """l = -sum_last xlogy(z, p) (probabilities, no clipping); with from_logits=True (or
    y_pred = lg.softmax(x)) l = -sum_last z log_softmax(x); sparse=True takes class ids.

    Source convention: Axon 0.5.1 categorical_cross_entropy. A zero probability for the true
    class gives +inf, as in Axon. class_weights (one per class) weigh each sample by the weight
    of argmax(y_true) (of its label when sparse, where Axon raises); reduction "mean" is then
    sum(w l) / sum(w).

    Examples:
        >>> import zoo.axon as axon
        >>> axon.categorical_cross_entropy(np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]])).round(4)
        array([0.6931])
        >>> axon.categorical_cross_entropy(np.array([[1], [0]]),
        ...     np.array([[2.0, 0.0], [0.0, 0.0]]), from_logits=True, sparse=True,
        ...     reduction="mean").round(4)
        np.float64(1.41)

    Raises:
        OptionError: a reduction not none / mean / sum (with or without the leading ':').
        ShapeError: y_true does not fit y_pred (dense: the same shape; sparse: y_pred's
            shape without the last axis, or with it at size 1); class_weights not one per class.
        InputError: a sparse class id outside [0, C) (when evaluated).
    """
    y_true, y_pred = lg.as_node(y_true), lg.as_node(y_pred)
    logits = y_pred if from_logits else _produced_by(y_pred, "softmax")
    labels = _sparse_labels(y_true, y_pred) if sparse else None
    if logits is not None:
        l = (L.sparse_softmax_cross_entropy(logits, labels) if sparse
             else L.softmax_cross_entropy(logits, _float(y_true)))
    else:
        onehot = lg.one_hot(labels, y_pred.shape[-1]) if sparse else _float(y_true)
        l = L.categorical_cross_entropy(y_pred, onehot, eps=0)
    if class_weights is None:
        return _reduce(l, reduction)
    ids = labels if sparse else _argmax_last(y_true)
    w = _class_weight(class_weights, ids, y_pred.shape[-1])
    mode = _mode(reduction)
    return reduce(l, reduction="weighted_mean" if mode == "mean" else mode, weights=w)


@dual("y_true", "y_pred")
def categorical_hinge(y_true, y_pred, *, reduction="none"):
    """l = max(0, max_last((1 - z) x) - sum_last(z x) + 1).

    Source convention: Axon 0.5.1 categorical_hinge (Keras's form), one-hot y_true.

    Examples:
        >>> import zoo.axon as axon   # max(0, 0.5 - 2 + 1)
        >>> axon.categorical_hinge(np.array([[0.0, 1.0]]), np.array([[0.5, 2.0]]))
        array([0.])

    Raises:
        OptionError: a reduction not none / mean / sum (with or without the leading ':').
        ShapeError: y_true and y_pred differ in shape (neither is a scalar).
    """
    return _reduce(L.categorical_hinge(lg.as_node(y_pred), _float(y_true)), reduction)


@options(eps=NONNEGATIVE)
@dual("y_true", "y_pred")
def cosine_similarity(y_true, y_pred, *, reduction="none", axes=(1,), eps=1e-6):
    """l = sum_axes(z x) / max(||z||_axes ||x||_axes, eps).

    Source convention: Axon 0.5.1 cosine_similarity: the similarity itself (+1 for parallel
    vectors), not a distance; axes default [1], eps 1e-6 (the doc's squared-difference
    formula is wrong).

    Examples:
        >>> import zoo.axon as axon
        >>> axon.cosine_similarity(np.array([[1.0, 0.0]]), np.array([[0.6, 0.8]])).round(4)
        array([0.6])

    Raises:
        OptionError: a reduction not none / mean / sum (with or without the leading ':'); eps < 0.
        ShapeError: y_true and y_pred differ in shape (neither is a scalar).
    """
    axes = tuple(axes) if isinstance(axes, (list, tuple)) else axes
    return _reduce(divergence.cosine_similarity(y_true, y_pred, axis=axes, eps=eps), reduction)


@dual("y_true", "y_pred")
def hinge(y_true, y_pred, *, reduction="none"):
    """l = mean_last max(0, 1 - z x), labels z in {-1, 1}.

    Source convention: Axon 0.5.1 hinge.

    Examples:
        >>> import zoo.axon as axon   # (max(0, 1 - 0.5) + max(0, 1 + 2)) / 2
        >>> axon.hinge(np.array([[1.0, -1.0]]), np.array([[0.5, 2.0]]))
        array([1.75])

    Raises:
        OptionError: a reduction not none / mean / sum (with or without the leading ':').
        ShapeError: y_true and y_pred differ in shape (neither is a scalar).
    """
    return _reduce(lg.mean(L.hinge(lg.as_node(y_pred), _float(y_true)), axis=-1), reduction)


@dual("y_true", "y_pred")
def kl_divergence(y_true, y_pred, *, reduction="none"):
    """l = sum_last z log(z / p), with z and p clipped to [1e-7, 1].

    Source convention: Axon 0.5.1 kl_divergence: y_pred holds probabilities; both inputs are
    clipped, so a zero target contributes 1e-7 log(1e-7 / p), a tiny negative number.

    Examples:
        >>> import zoo.axon as axon
        >>> axon.kl_divergence(np.array([[0.25, 0.75]]), np.array([[0.5, 0.5]])).round(4)
        array([0.1308])

    Raises:
        OptionError: a reduction not none / mean / sum (with or without the leading ':').
        ShapeError: y_true and y_pred differ in shape (neither is a scalar).
    """
    return _reduce(divergence.kl_divergence(y_true, y_pred, axis=-1, eps=EPS), reduction)


@dual("y_true", "y_pred")
def log_cosh(y_true, y_pred, *, reduction="none"):
    """l = mean_last log(cosh(x - z)).

    Source convention: Axon 0.5.1 log_cosh, which computes d + log1p(exp(-2 d)) - log 2 and
    overflows to inf for d below about -44 (float32); here the value stays finite
    (|d| - log 2 for large |d|).

    Examples:
        >>> import zoo.axon as axon   # (log cosh 1 + 100 - log 2) / 2, finite
        >>> axon.log_cosh(np.array([[0.0, 0.0]]), np.array([[1.0, -100.0]])).round(4)
        array([49.8703])

    Raises:
        OptionError: a reduction not none / mean / sum (with or without the leading ':').
        ShapeError: y_true and y_pred differ in shape (neither is a scalar).
    """
    return _reduce(lg.mean(L.log_cosh(lg.as_node(y_pred), _float(y_true)), axis=-1), reduction)


@dual("y_true", "y_pred1", "y_pred2")
def _margin_ranking(y_true, y_pred1, y_pred2, margin, reduction):
    return _reduce(ranking.margin_ranking(y_pred1, y_pred2, y_true, margin=margin), reduction)


@options(margin=ANY)
def margin_ranking(y_true, y_pred, *, margin=0.0, reduction="none"):
    """l = max(0, -z (x1 - x2) + margin), element-wise; y_pred is the pair (x1, x2).

    Source convention: Axon 0.5.1 margin_ranking(y_true, {y_pred1, y_pred2}, margin: 0.0).

    Examples:
        >>> import zoo.axon as axon
        >>> x1, x2 = np.array([0.5, 0.5]), np.array([1.0, 0.0])
        >>> axon.margin_ranking(np.array([1.0, -1.0]), (x1, x2), margin=0.1)
        array([0.6, 0.6])

    Raises:
        TypeError: an unknown keyword (the message suggests the close one).
        OptionError: a reduction not none / mean / sum (with or without the leading ':').
        InputError: y_pred is not a pair (y_pred1, y_pred2).
        ShapeError: y_true, y_pred1 and y_pred2 do not broadcast together.
        DTypeError: an input array that is not numeric.
    """
    if not isinstance(y_pred, (tuple, list)) or len(y_pred) != 2:
        raise lg.InputError(f"y_pred: expected a pair (y_pred1, y_pred2), got "
                            f"{type(y_pred).__name__}")
    return _margin_ranking(y_true, y_pred[0], y_pred[1], margin, reduction)


@dual("y_true", "y_pred")
def mean_absolute_error(y_true, y_pred, *, reduction="none"):
    """l = mean_last |z - x|.

    Source convention: Axon 0.5.1 mean_absolute_error.

    Examples:
        >>> import zoo.axon as axon
        >>> axon.mean_absolute_error(np.array([[0.0, 0.0]]), np.array([[1.0, -3.0]]))
        array([2.])

    Raises:
        OptionError: a reduction not none / mean / sum (with or without the leading ':').
        ShapeError: y_true and y_pred differ in shape (neither is a scalar).
    """
    return _reduce(lg.mean(L.absolute_error(lg.as_node(y_pred), _float(y_true)), axis=-1),
                   reduction)


@dual("y_true", "y_pred")
def mean_squared_error(y_true, y_pred, *, reduction="none"):
    """l = mean_last (z - x)^2.

    Source convention: Axon 0.5.1 mean_squared_error.

    Examples:
        >>> import zoo.axon as axon
        >>> axon.mean_squared_error(np.array([[0.0, 0.0]]), np.array([[1.0, -3.0]]),
        ...                         reduction=":sum")
        np.float64(5.0)

    Raises:
        OptionError: a reduction not none / mean / sum (with or without the leading ':').
        ShapeError: y_true and y_pred differ in shape (neither is a scalar).
    """
    return _reduce(lg.mean(L.squared_error(lg.as_node(y_pred), _float(y_true)), axis=-1),
                   reduction)


@dual("y_true", "y_pred")
def poisson(y_true, y_pred, *, reduction="none"):
    """l = mean_last (x - z log(x + 1e-7)).

    Source convention: Axon 0.5.1 poisson (y_pred is the rate, not its log).

    Examples:
        >>> import zoo.axon as axon   # ((1 - log 1) + (2 - 0)) / 2
        >>> axon.poisson(np.array([[1.0, 0.0]]), np.array([[1.0, 2.0]])).round(4)
        array([1.5])

    Raises:
        OptionError: a reduction not none / mean / sum (with or without the leading ':').
        ShapeError: y_true and y_pred differ in shape (neither is a scalar).
    """
    return _reduce(lg.mean(L.poisson(lg.as_node(y_pred), _float(y_true), eps=EPS), axis=-1),
                   reduction)


@dual("y_true", "y_pred")
def soft_margin(y_true, y_pred, *, reduction="none"):
    """l = sum_axis0 log(1 + exp(-z x)).

    Source convention: Axon 0.5.1 soft_margin sums over axis 0 (the batch axis), so the
    result has y_pred's shape without its first axis; Axon's log1p(exp(.)) overflows for
    -z x above about 88 (float32), the value here stays finite.

    Examples:
        >>> import zoo.axon as axon   # log 2 + log 2, summed over the batch axis
        >>> axon.soft_margin(np.array([[1.0], [-1.0]]), np.array([[0.0], [0.0]])).round(4)
        array([1.3863])

    Raises:
        OptionError: a reduction not none / mean / sum (with or without the leading ':').
        ShapeError: y_true and y_pred differ in shape (neither is a scalar).
    """
    return _reduce(lg.sum(L.soft_margin(lg.as_node(y_pred), _float(y_true)), axis=0),
                   reduction)


@dual("lengths", "labels", "y_pred")
def _ctc(lengths, labels, y_pred, blank, reduction):
    mode = _mode(reduction)
    return L.ctc(y_pred, labels, None, lengths, blank=blank, layout="NTC",
                 per_label=mode == "mean", reduction=mode)


@options(blank=INTEGER)
def connectionist_temporal_classification(y_true, y_pred, *, blank=0, reduction="none"):
    """l_b = -log p(labels_b | y_pred_b): CTC over log-probabilities y_pred (B, T, D).

    y_true is the pair (l_true, y_true): target lengths (B,) and target ids (B, S).

    Source convention: Axon 0.5.1 connectionist_temporal_classification: blank 0, log-prob
    input, reduction :none, :sum, or :mean = mean(l / l_true). Exact CTC here; Axon adds 1e-7
    inside every log-sum of its recursion, so its values are about 1e-3 (relative) lower.

    Examples:
        >>> import zoo.axon as axon   # 2 frames, 3 classes, uniform: -log(3 / 9)
        >>> axon.connectionist_temporal_classification((np.array([1]), np.array([[1]])),
        ...     np.log(np.full((1, 2, 3), 1 / 3))).round(4)
        array([1.0986])

    Raises:
        TypeError: an unknown keyword (the message suggests the close one).
        OptionError: a reduction not none / mean / sum (with or without the leading ':'); blank not
            an integer.
        InputError: y_true is not the pair (l_true, y_true).
        ShapeError: the lengths or the targets do not fit y_pred's batch axis.
        DTypeError: an input array that is not numeric.
    """
    if not isinstance(y_true, (tuple, list)) or len(y_true) != 2:
        raise lg.InputError(f"y_true: expected the pair (l_true, y_true) of target lengths and "
                            f"targets, got {type(y_true).__name__}")
    return _ctc(y_true[0], y_true[1], y_pred, blank, reduction)
