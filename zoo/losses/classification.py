"""Classification losses. Logit forms go through softplus / log_softmax / logsumexp, so they
are finite for any logits; probability forms clip or add eps exactly as documented."""
from __future__ import annotations

import math

import lossgraph as lg

from lossgraph.shapes import fmt_shape

from ..dual import dual
from ..options import ANY, BELOW_HALF, INTEGER, Domain, NONNEGATIVE, UNIT, optional, options
from ..reduction import check_choice, reduce_class_weighted
from .define import arg_name, as_float, as_int, loss, same_shape

__all__ = ["softmax_cross_entropy", "sparse_softmax_cross_entropy",
           "categorical_cross_entropy", "sigmoid_cross_entropy", "weighted_cross_entropy",
           "binary_cross_entropy", "log_loss", "hinge", "squared_hinge", "categorical_hinge",
           "logistic", "soft_margin", "focal", "multilabel_soft_margin", "nll",
           "hinge_embedding", "multi_margin", "multilabel_margin"]


def _smooth(z, amount, classes):
    """z (1 - amount) + amount / classes   (label smoothing)."""
    return z * (1.0 - amount) + amount / classes if amount > 0 else z


def per_class(class_weights, like, axis, arg="class_weights"):
    """A (C,) weight vector as a node broadcast along `axis` of `like` (one weight per class)."""
    w = as_float(class_weights)
    axis = lg.shapes.normalize_axis(axis, like.ndim, "axis")[0]
    if w.ndim != 1 or w.shape[0] != like.shape[axis]:
        raise lg.ShapeError(f"{arg_name(class_weights, arg)}: expected one weight per class, "
                            f"shape ({like.shape[axis]},), got shape {fmt_shape(w.shape)}")
    return lg.broadcast_to(lg.reshape(w, w.shape + (1,) * (like.ndim - 1 - axis)), like.shape)


@options(label_smoothing=UNIT)
@loss("logits", "onehot_labels", "class_weights")
def softmax_cross_entropy(logits, onehot_labels, axis=-1, label_smoothing=0.0,
                          from_logits=True, class_weights=None):
    """l = -sum_c w_c z_c log softmax(x)_c over axis, z smoothed to z (1 - s) + s / C;
    from_logits=False takes x as log-probabilities already; class_weights w (C,), default 1.

    Examples:
        >>> losses.softmax_cross_entropy(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]))
        array([0.69314718])

    Raises:
        OptionError: label_smoothing outside its domain (the message gives the domain and the
            value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
        ShapeError: and the other shape checks of the body (class weights, labels).
    """
    x, z = same_shape(logits, onehot_labels, "logits", "onehot_labels")
    z = _smooth(z, label_smoothing, lg.size(x, axis))
    if class_weights is not None:
        z = z * per_class(class_weights, x, axis)
    logp = lg.log_softmax(x, axis=axis) if from_logits else x
    return -lg.sum(z * logp, axis=axis)


@options(label_smoothing=UNIT, ignore_index=optional(INTEGER))
@dual("log_probs", "labels", "class_weights")
def nll(log_probs, labels, axis=-1, class_weights=None, ignore_index=None, label_smoothing=0.0,
        from_logits=False, *, reduction="none"):
    """l = -((1 - s) w_y x_y + (s / C) sum_c w_c x_c) over axis, 0 where y = ignore_index.

    x = log-probabilities (from_logits=True: log_softmax(logits) over axis), y integer labels
    of x's shape without axis, w class weights (C,) (default 1), s label smoothing.
    reduction "none", "sum", or "mean" = sum(l) / sum_{y not ignored} w_y (zoo.reduction
    "sum_over_weights"); an all-ignored batch gives NaN for "mean" (0/0).

    Source convention: torch.nn.functional.nll_loss (from_logits=False) and cross_entropy
    with class-index targets (from_logits=True), weight, ignore_index, label_smoothing; the
    mean divides by the summed weights of the selected classes, not by N.

    Examples:
        >>> losses.nll(np.log(np.array([[0.25, 0.75], [0.5, 0.5]])), np.array([1, 0]))
        array([0.28768207, 0.69314718])

    Raises:
        OptionError: label_smoothing, ignore_index outside its domain (the message gives the
            domain and the value); a reduction zoo.reduction does not know.
        DTypeError: labels are not integers.
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    x = as_float(log_probs)
    if from_logits:
        x = lg.log_softmax(x, axis=axis)
    y = as_int(labels, "labels")
    keep = None if ignore_index is None else lg.not_equal(y, ignore_index)
    safe = y if keep is None else lg.where(keep, y, 0)
    w = None if class_weights is None else per_class(class_weights, x, axis)
    picked = lg.pick(x if w is None else w * x, safe, axis=axis)
    selected = lg.ones_like(picked) if w is None else lg.pick(w, safe, axis=axis)
    l = -picked
    if label_smoothing > 0:
        spread = lg.sum(x if w is None else w * x, axis=axis)
        l = (1.0 - label_smoothing) * l - (label_smoothing / lg.size(x, axis)) * spread
    if keep is not None:
        l, selected = lg.where(keep, l, 0.0), lg.where(keep, selected, 0.0)
    return reduce_class_weighted(l, reduction, selected)


@loss("logits", "labels")
def sparse_softmax_cross_entropy(logits, labels, axis=-1):
    """l = logsumexp(x) - x_y over axis, for integer labels y.

    Examples:
        >>> losses.sparse_softmax_cross_entropy(np.array([[0.0, 0.0], [2.0, 0.0]]),
        ...     np.array([0, 0]))
        array([0.69314718, 0.12692801])

    Raises:
        DTypeError: labels are not integers.
    """
    x = as_float(logits)
    return lg.logsumexp(x, axis=axis) - lg.pick(x, as_int(labels, "labels"), axis=axis)


@options(eps=BELOW_HALF)
@loss("probs", "onehot_labels")
def categorical_cross_entropy(probs, onehot_labels, axis=-1, eps=1e-7):
    """l = -sum_c z_c log clip(p_c, eps, 1 - eps) over axis (no clip when eps = 0; then
    z_c = 0 terms count 0 even where p_c = 0).

    Examples:
        >>> losses.categorical_cross_entropy(np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]]))
        array([0.69314718])

    Raises:
        OptionError: eps outside its domain (the message gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    p, z = same_shape(probs, onehot_labels, "probs", "onehot_labels")
    if eps > 0:
        p = lg.clip(p, eps, 1.0 - eps)
    return -lg.sum(lg.xlogy(z, p), axis=axis)


@options(label_smoothing=UNIT, pos_weight=optional(NONNEGATIVE))
@loss("logits", "labels")
def sigmoid_cross_entropy(logits, labels, label_smoothing=0.0, pos_weight=None):
    """l = softplus(x) - x z, z smoothed to z (1 - s) + s / 2; with pos_weight q:
    l = (1 - z) x + (1 + (q - 1) z) softplus(-x).

    Examples:
        >>> losses.sigmoid_cross_entropy(np.array([0.0, 100.0]), np.array([1.0, 1.0]))
        array([0.69314718, 0.        ])

    Raises:
        OptionError: label_smoothing, pos_weight outside its domain (the message gives the
            domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    x, z = same_shape(logits, labels, "logits", "labels")
    z = _smooth(z, label_smoothing, 2.0)
    if pos_weight is None:
        return lg.softplus(x) - x * z
    return (1.0 - z) * x + (1.0 + (pos_weight - 1.0) * z) * lg.softplus(-x)


@options(pos_weight=NONNEGATIVE)
@loss("logits", "labels")
def weighted_cross_entropy(logits, labels, pos_weight=1.0):
    """l = (1 - z) x + (1 + (q - 1) z) softplus(-x)   (sigmoid CE, positives weighted by q).

    Examples:
        >>> losses.weighted_cross_entropy(np.array([0.0, 0.0]), np.array([1.0, 0.0]),
        ...     pos_weight=2.0)
        array([1.38629436, 0.69314718])

    Raises:
        OptionError: pos_weight outside its domain (the message gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    x, z = same_shape(logits, labels, "logits", "labels")
    return (1.0 - z) * x + (1.0 + (pos_weight - 1.0) * z) * lg.softplus(-x)


@options(eps=BELOW_HALF, pos_weight=NONNEGATIVE, neg_weight=NONNEGATIVE,
         log_floor=optional(ANY))
@loss("probs", "labels")
def binary_cross_entropy(probs, labels, eps=1e-7, pos_weight=1.0, neg_weight=1.0,
                         log_floor=None):
    """l = -(w+ z log p + w- (1 - z) log(1 - p)), p clipped to [eps, 1 - eps]; log_floor f
    (with eps = 0) takes max(log p, f) and max(log(1 - p), f) instead of clipping p.

    Source convention: torch.nn.functional.binary_cross_entropy = eps=0, log_floor=-100
    (torch clamps both logs at -100, so p = 0 or 1 gives at most 100 per element).

    Examples:
        >>> losses.binary_cross_entropy(np.array([0.5, 1.0]), np.array([1.0, 0.0]))
        array([ 0.69314718, 16.11809565])

    Raises:
        OptionError: eps, pos_weight, neg_weight, log_floor outside its domain (the message
            gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    p, z = same_shape(probs, labels, "probs", "labels")
    if eps > 0:
        p = lg.clip(p, eps, 1.0 - eps)
    if log_floor is not None:
        return -(pos_weight * z * _floored_log(p, log_floor)
                 + neg_weight * (1.0 - z) * _floored_log(1.0 - p, log_floor))
    return -(pos_weight * lg.xlogy(z, p) + neg_weight * lg.xlogy(1.0 - z, 1.0 - p))


def _floored_log(p, floor):
    """max(log p, floor), with gradient 0 (never NaN) where the floor holds, p = 0 included."""
    above = p > math.exp(floor)
    return lg.where(above, lg.log(lg.where(above, p, 1.0)), float(floor))


@options(eps=NONNEGATIVE)
@loss("probs", "labels")
def log_loss(probs, labels, eps=1e-7):
    """l = -z log(p + eps) - (1 - z) log(1 - p + eps)   (eps inside the logs, no clipping:
    TF contrib log_loss, MXNet from_sigmoid, TensorLayer binary_cross_entropy).

    Examples:
        >>> losses.log_loss(np.array([0.5, 1.0]), np.array([1.0, 0.0]))
        array([ 0.69314698, 16.11809565])

    Raises:
        OptionError: eps outside its domain (the message gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    p, z = same_shape(probs, labels, "probs", "labels")
    return -lg.xlogy(z, p + eps) - lg.xlogy(1.0 - z, 1.0 - p + eps)


@options(margin=NONNEGATIVE)
@loss("pred", "labels")
def hinge(pred, labels, margin=1.0):
    """l = max(0, margin - y pred), labels y in {-1, 1}.

    Examples:
        >>> losses.hinge(np.array([0.5, 2.0, -1.0]), np.array([1.0, 1.0, 1.0]),
        ...     reduction="mean")
        np.float64(0.8333333333333334)

    Raises:
        OptionError: margin outside its domain (the message gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    x, y = same_shape(pred, labels, "pred", "labels")
    return lg.relu(margin - x * y)


@options(margin=NONNEGATIVE)
@loss("pred", "labels")
def squared_hinge(pred, labels, margin=1.0):
    """l = max(0, margin - y pred)^2, labels y in {-1, 1}.

    Examples:
        >>> losses.squared_hinge(np.array([0.5, 2.0, -1.0]), np.array([1.0, 1.0, 1.0]))
        array([0.25, 0.  , 4.  ])

    Raises:
        OptionError: margin outside its domain (the message gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    x, y = same_shape(pred, labels, "pred", "labels")
    return lg.square(lg.relu(margin - x * y))


@loss("pred", "onehot_labels")
def categorical_hinge(pred, onehot_labels, axis=-1):
    """l = max(0, max_c (1 - z_c) x_c - sum_c z_c x_c + 1) over axis.

    Examples:
        >>> losses.categorical_hinge(np.array([[2.0, 1.5, 0.0]]), np.array([[1.0, 0.0, 0.0]]))
        array([0.5])

    Raises:
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    x, z = same_shape(pred, onehot_labels, "pred", "onehot_labels")
    return lg.relu(lg.max((1.0 - z) * x, axis=axis) - lg.sum(z * x, axis=axis) + 1.0)


@loss("pred", "labels")
def logistic(pred, labels, label_format="signed"):
    """l = log(1 + e^{-y pred}) = softplus(-y pred); label_format "binary" maps z in {0, 1}
    to y = 2 z - 1.

    Examples:
        >>> losses.logistic(np.array([0.0, 50.0]), np.array([1.0, -1.0]))
        array([ 0.69314718, 50.        ])

    Raises:
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    check_choice("label_format", label_format, ("signed", "binary"))
    x, y = same_shape(pred, labels, "pred", "labels")
    y = 2.0 * y - 1.0 if label_format == "binary" else y
    return lg.softplus(-y * x)


@loss("pred", "labels")
def soft_margin(pred, labels):
    """l = log(1 + e^{-y pred}), labels y in {-1, 1}.

    Examples:
        >>> losses.soft_margin(np.array([0.0, 50.0]), np.array([1.0, 1.0]))
        array([6.93147181e-01, 1.92874985e-22])

    Raises:
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    x, y = same_shape(pred, labels, "pred", "labels")
    return lg.softplus(-y * x)


@options(alpha=optional(UNIT), gamma=NONNEGATIVE)
@loss("logits", "labels")
def focal(logits, labels, alpha=0.25, gamma=2.0):
    """l = a_t (1 - p_t)^gamma (softplus(x) - x z), p_t = sigmoid(x) if z = 1 else
    sigmoid(-x), a_t = alpha z + (1 - alpha)(1 - z)   (Lin et al.; alpha=None: a_t = 1).

    Examples:
        >>> losses.focal(np.array([0.0, 3.0]), np.array([1.0, 1.0]), gamma=0.0, alpha=None)
        array([0.69314718, 0.04858735])

    Raises:
        OptionError: alpha, gamma outside its domain (the message gives the domain and the
            value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    x, z = same_shape(logits, labels, "logits", "labels")
    miss = z * lg.sigmoid(-x) + (1.0 - z) * lg.sigmoid(x)
    out = lg.power(miss, gamma) * (lg.softplus(x) - x * z)
    return out if alpha is None else (alpha * z + (1.0 - alpha) * (1.0 - z)) * out


@loss("logits", "labels", "class_weights")
def multilabel_soft_margin(logits, labels, axis=-1, class_weights=None):
    """l = mean_c w_c (softplus(x_c) - x_c z_c) over axis   (= -mean(z log s(x) + (1-z) log
    s(-x)) with w = 1); class_weights w (C,) (torch's weight).

    Examples:
        >>> losses.multilabel_soft_margin(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]))
        array([0.69314718])

    Raises:
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
        ShapeError: and the other shape checks of the body (class weights, labels).
    """
    x, z = same_shape(logits, labels, "logits", "labels")
    terms = lg.softplus(x) - x * z
    return lg.mean(terms if class_weights is None else per_class(class_weights, x, axis) * terms,
                   axis=axis)


@options(margin=ANY)
@loss("pred", "labels")
def hinge_embedding(pred, labels, margin=1.0):
    """l = x if y = 1;  max(0, margin - x) if y = -1   (x a distance, y in {-1, 1}).

    A label outside {-1, 1} gets both terms, as torch computes
    l = [y != -1] x + [y != 1] max(0, margin - x).

    Source convention: torch.nn.functional.hinge_embedding_loss (margin 1).

    Examples:
        >>> losses.hinge_embedding(np.array([0.3, 0.3]), np.array([1.0, -1.0]))
        array([0.3, 0.7])

    Raises:
        OptionError: margin outside its domain (the message gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    x, y = same_shape(pred, labels, "pred", "labels")
    return (lg.where(lg.not_equal(y, -1.0), x, 0.0)
            + lg.where(lg.not_equal(y, 1.0), lg.relu(margin - x), 0.0))


@options(p=Domain(lo=1, hi=2, integer=True), margin=ANY)
@loss("pred", "labels", "class_weights")
def multi_margin(pred, labels, p=1, margin=1.0, class_weights=None, axis=-1):
    """l = sum_{c != y} w_y max(0, margin - x_y + x_c)^p / C over axis (p = 1 or 2).

    Source convention: torch.nn.functional.multi_margin_loss (p 1, margin 1, weight w per
    class scaling each sample by its target's weight; the sum is divided by C).

    Examples:
        >>> losses.multi_margin(np.array([[2.0, 1.5, 0.0]]), np.array([0]))
        array([0.16666667])

    Raises:
        OptionError: p, margin outside its domain (the message gives the domain and the value).
        DTypeError: labels are not integers.
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    x, y = as_float(pred), as_int(labels, "labels")
    x_y = lg.expand_dims(lg.pick(x, y, axis=axis), axis)
    terms = lg.where(_not_label(x, y, axis), lg.power(lg.relu(margin - x_y + x), p), 0.0)
    if class_weights is not None:
        terms = terms * lg.expand_dims(lg.pick(per_class(class_weights, x, axis), y, axis=axis),
                                       axis)
    return lg.sum(terms, axis=axis) / lg.size(x, axis)


def _not_label(x, y, axis):
    """A mask of x's shape: True where the class index along axis differs from y."""
    axis = lg.shapes.normalize_axis(axis, x.ndim, "axis")[0]
    classes = lg.reshape(lg.arange(x.shape[axis]), (x.shape[axis],) + (1,) * (x.ndim - 1 - axis))
    return lg.not_equal(lg.broadcast_to(classes, x.shape), lg.expand_dims(y, axis))


@loss("pred", "labels")
def multilabel_margin(pred, labels):
    """l = sum_{k < K} sum_{c not a target} max(0, 1 - (x_{y_k} - x_c)) / C over the last axis.

    labels: integers of pred's shape (..., C); each row's targets are its entries before the
    first -1 (K of them; all C when there is none). A repeated target counts once per entry.

    Source convention: torch.nn.functional.multilabel_margin_loss (the hinge between every
    target class and every non-target class, divided by C).

    Examples:
        >>> losses.multilabel_margin(np.array([[0.1, 0.2, 0.4, 0.8]]),
        ...     np.array([[3, 0, -1, 1]]))
        array([0.85])

    Raises:
        DTypeError: labels are not integers.
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    x, y = as_float(pred), as_int(labels, "labels")
    if y.shape != x.shape:
        raise lg.ShapeError(f"{arg_name(labels, 'labels')} has shape {fmt_shape(y.shape)} but "
                            f"{arg_name(pred, 'pred')} has shape {fmt_shape(x.shape)}: they "
                            f"must match")
    c = x.shape[-1]
    width = c if isinstance(c, int) else lg.cast(lg.size(x, -1), "int")
    first = lg.min(lg.where(lg.equal(y, -1), lg.arange(c), width), axis=-1, keepdims=True)
    valid = lg.less(lg.arange(c), first)                                # (..., K)
    safe = lg.where(valid, y, 0)
    hits = lg.logical_and(lg.expand_dims(valid, -1),
                          lg.equal(lg.expand_dims(safe, -1), lg.arange(c)))   # (..., K, C)
    is_target = lg.max(lg.cast(hits, x.dtype), axis=-2)                 # (..., C)
    x_t = lg.take_along_axis(x, safe, axis=-1)                         # (..., K)
    gaps = lg.relu(1.0 - lg.expand_dims(x_t, -1) + lg.expand_dims(x, -2))
    keep = lg.cast(lg.expand_dims(valid, -1), x.dtype) * lg.expand_dims(1.0 - is_target, -2)
    return lg.sum(gaps * keep, axis=(-2, -1)) / lg.size(x, -1)
