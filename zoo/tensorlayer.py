"""TensorLayer (tensorlayer.cost, TL 2.x) flavour: `tl.cost` names, argument order and defaults.

Every loss returns a scalar unless its docstring says otherwise: TensorLayer reduces
(`reduce_sum` or `reduce_mean`) over `axis` per example, then takes the mean of what remains.
`name` arguments only name a TensorFlow op there; here they are accepted and ignored.
Arrays in give arrays out, Nodes in give a Node out (zoo.dual). See docs/zoo-conventions.md
section 1.
"""
from __future__ import annotations

import numbers

import lossgraph as lg
from lossgraph.shapes import fmt_shape

from . import losses as L
from .dual import dual
from .options import ANY, BELOW_ONE, NONNEGATIVE, POSITIVE, optional, options
from .reduction import reduce

__all__ = ["cross_entropy", "sigmoid_cross_entropy", "binary_cross_entropy",
           "mean_squared_error", "normalized_mean_square_error", "absolute_difference_error",
           "dice_coe", "dice_hard_coe", "iou_coe", "cross_entropy_seq",
           "cross_entropy_seq_with_mask", "cosine_similarity", "li_regularizer",
           "lo_regularizer", "maxnorm_regularizer", "maxnorm_o_regularizer",
           "maxnorm_i_regularizer", "huber_loss"]

# flavour name -> canonical zoo.losses name(s) (read by zoo.inventory)
CANONICAL = {
    "cross_entropy": "sparse_softmax_cross_entropy",
    "sigmoid_cross_entropy": "sigmoid_cross_entropy",
    "binary_cross_entropy": "log_loss",
    "mean_squared_error": "squared_error",
    "normalized_mean_square_error": "normalized_squared_error",
    "absolute_difference_error": "absolute_error",
    "dice_coe": "dice_coefficient",
    "dice_hard_coe": "hard_dice",
    "iou_coe": "iou",
    "cross_entropy_seq": "sequence_cross_entropy",
    "cross_entropy_seq_with_mask": "sequence_cross_entropy",
    "cosine_similarity": "cosine_similarity",
    "li_regularizer": "li",
    "lo_regularizer": "lo",
    "maxnorm_regularizer": "maxnorm",
    "maxnorm_o_regularizer": "maxnorm_o",
    "maxnorm_i_regularizer": "maxnorm_i",
    "huber_loss": ("huber", "berhu"),
}


def _axes(axis):
    """TensorLayer takes an int or a list of ints."""
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _per_example(loss, is_mean, axis):
    """TensorLayer's rule: reduce_mean (is_mean) or reduce_sum over axis, then the mean."""
    return reduce((lg.mean if is_mean else lg.sum)(loss, axis=_axes(axis)), reduction="mean")


@dual("output", "target")
def cross_entropy(output, target, name=None):
    """L = mean_b( logsumexp(output_b) - output_b[target_b] ), integer class ids.

    Source convention: TensorLayer cross_entropy(output, target, name=None) is TF's sparse
    softmax cross-entropy on logits [B, C] with int labels [B], then reduce_mean; an
    out-of-range id raises here (TF: error on CPU, NaN on GPU).

    Examples:
        >>> zoo.tensorlayer.cross_entropy(np.array([[2.0, 0.0], [0.0, 0.0]]),
        ...                               np.array([0, 1])).round(4)
        np.float64(0.41)

    Raises:
        InputError: a class id outside [0, C) (when evaluated).
        ShapeError: target not one id per row of output.
        DTypeError: target not integer ids.
    """
    return L.sparse_softmax_cross_entropy(output, target, reduction="mean")


@dual("output", "target")
def sigmoid_cross_entropy(output, target, name=None):
    """L = mean( max(x, 0) - x z + log(1 + exp(-|x|)) ), x = output logits, z = target in [0, 1].

    Source convention: TensorLayer sigmoid_cross_entropy = reduce_mean of
    tf.nn.sigmoid_cross_entropy_with_logits over every element (target is a float tensor of
    output's shape, whatever the seed's "batch of index" says).

    Examples:
        >>> zoo.tensorlayer.sigmoid_cross_entropy(np.array([0.0, 2.0]),
        ...                                       np.array([1.0, 0.0])).round(4)
        np.float64(1.41)

    Raises:
        ShapeError: target and output differ in shape (neither is a scalar).
    """
    return L.sigmoid_cross_entropy(output, target, reduction="mean")


@options(epsilon=NONNEGATIVE)
@dual("output", "target")
def binary_cross_entropy(output, target, epsilon=1e-8, name="bce_loss"):
    """L = mean( sum_{axis 1} -(z log(p + eps) + (1 - z) log(1 - p + eps)) ), p = output probs.

    Source convention: TensorLayer binary_cross_entropy takes probabilities (not logits),
    puts epsilon inside the logs (no clipping), sums over axis 1 (hard-coded) and averages
    the rest; p = 0 or 1 gives the finite -log(eps) = 18.42 for eps = 1e-8, as in TensorLayer.

    Examples:
        >>> zoo.tensorlayer.binary_cross_entropy(np.array([[0.5, 1.0]]),
        ...                                      np.array([[1.0, 1.0]])).round(4)   # log 2 + ~0
        np.float64(0.6931)

    Raises:
        OptionError: epsilon < 0 (the message gives the domain and the value).
        ShapeError: output has no axis 1; target and output differ in shape.
    """
    output = lg.as_node(output)
    if output.ndim < 2:
        raise lg.ShapeError(f"binary_cross_entropy: output needs an axis 1 to sum over "
                            f"(TensorLayer sums axis 1), got shape {fmt_shape(output.shape)}")
    return reduce(lg.sum(L.log_loss(output, target, eps=epsilon), axis=1), reduction="mean")


@dual("output", "target")
def mean_squared_error(output, target, is_mean=False, axis=-1, name="mean_squared_error"):
    """L = mean( sum_axis (o - t)^2 ), or mean( mean_axis (o - t)^2 ) with is_mean=True.

    Source convention: TensorLayer 2.x mean_squared_error SUMS over `axis` (default the last
    axis only) by default and then averages the remaining axes (batch included).

    Examples:
        >>> o, t = np.array([[1.0, 3.0]]), np.zeros((1, 2))
        >>> zoo.tensorlayer.mean_squared_error(o, t), zoo.tensorlayer.mean_squared_error(
        ...     o, t, is_mean=True)
        (np.float64(10.0), np.float64(5.0))

    Raises:
        OptionError: axis out of range for the loss's dims.
        ShapeError: target and output differ in shape (neither is a scalar).
    """
    return _per_example(L.squared_error(output, target), is_mean, axis)


@dual("output", "target")
def normalized_mean_square_error(output, target, axis=-1,
                                 name="normalized_mean_squared_error_loss"):
    """L = mean( ||o - t||_axis / ||t||_axis ).

    Source convention: TensorLayer normalized_mean_square_error: L2 norms over `axis`, no
    epsilon (a zero target row gives inf, or NaN when output equals it, as in TensorLayer),
    then the mean of the rest.

    Examples:
        >>> zoo.tensorlayer.normalized_mean_square_error(np.array([[3.0, 4.0]]),
        ...                                              np.array([[0.0, 5.0]])).round(4)
        np.float64(0.6325)

    Raises:
        ShapeError: target and output differ in shape (neither is a scalar).
    """
    return reduce(L.normalized_squared_error(output, target, axis=_axes(axis)),
                  reduction="mean")


@dual("output", "target")
def absolute_difference_error(output, target, is_mean=False, axis=-1,
                              name="absolute_difference_error_loss"):
    """L = mean( sum_axis |o - t| ), or mean( mean_axis |o - t| ) with is_mean=True.

    Source convention: TensorLayer absolute_difference_error, same reduction rule as its
    mean_squared_error (sum over the last axis by default, then the mean).

    Examples:
        >>> zoo.tensorlayer.absolute_difference_error(np.array([[1.0, -3.0]]), np.zeros((1, 2)))
        np.float64(4.0)

    Raises:
        ShapeError: target and output differ in shape (neither is a scalar).
    """
    return _per_example(L.absolute_error(output, target), is_mean, axis)


@options(smooth=NONNEGATIVE)
@dual("output", "target")
def dice_coe(output, target, loss_type="jaccard", axis=(1, 2, 3), smooth=1e-5):
    """D = mean( (2 sum o t + s) / (sum o^2 + sum t^2 + s) ) ("jaccard") or with sum o + sum t.

    Source convention: TensorLayer dice_coe returns the coefficient (1 = perfect match; use
    1 - dice_coe as a loss); "jaccard" is still the dice form with squared sums, not IoU;
    sums over `axis`, mean over the rest; two empty inputs give 1.

    Examples:
        >>> o, t = np.array([1.0, 0.0]).reshape(1, 1, 2, 1), np.ones((1, 1, 2, 1))
        >>> zoo.tensorlayer.dice_coe(o, t).round(4)   # 2 * 1 / (1 + 2)
        np.float64(0.6667)

    Raises:
        OptionError: loss_type not 'jaccard' / 'sorensen'; smooth < 0.
        ShapeError: target and output differ in shape (neither is a scalar).
    """
    return reduce(L.dice_coefficient(output, target, loss_type=loss_type, axis=_axes(axis),
                                     smooth=smooth), reduction="mean")


@options(threshold=ANY, smooth=NONNEGATIVE)
@dual("output", "target")
def dice_hard_coe(output, target, threshold=0.5, axis=(1, 2, 3), smooth=1e-5):
    """D = mean( (2 sum o' t' + s) / (sum o' + sum t' + s) ), o' = [o > thr], t' = [t > thr].

    Source convention: TensorLayer dice_hard_coe: strict threshold, sums over `axis`, mean
    over the rest; not differentiable (zero gradient). TensorLayer casts to float32; here the
    input precision is kept.

    Examples:
        >>> o, t = np.array([0.9, 0.2]).reshape(1, 1, 2, 1), np.ones((1, 1, 2, 1))
        >>> zoo.tensorlayer.dice_hard_coe(o, t).round(4)
        np.float64(0.6667)

    Raises:
        OptionError: smooth < 0 (the message gives the domain and the value).
        ShapeError: target and output differ in shape (neither is a scalar).
    """
    return reduce(L.hard_dice(output, target, threshold=threshold, axis=_axes(axis),
                              smooth=smooth), reduction="mean")


@options(threshold=ANY, smooth=NONNEGATIVE)
@dual("output", "target")
def iou_coe(output, target, threshold=0.5, axis=(1, 2, 3), smooth=1e-5):
    """IoU = mean( (sum p q + s) / (sum [p + q >= 1] + s) ), p = [o > thr], q = [t > thr].

    Source convention: TensorLayer iou_coe: strict threshold, sums over `axis`, mean over
    the rest; an evaluation metric (zero gradient). TensorLayer casts to float32; here the
    input precision is kept.

    Examples:
        >>> o, t = np.array([0.9, 0.2]).reshape(1, 1, 2, 1), np.ones((1, 1, 2, 1))
        >>> zoo.tensorlayer.iou_coe(o, t).round(4)   # 1 / 2
        np.float64(0.5)

    Raises:
        OptionError: smooth < 0 (the message gives the domain and the value).
        ShapeError: target and output differ in shape (neither is a scalar).
    """
    return reduce(L.iou(output, target, threshold=threshold, axis=_axes(axis), smooth=smooth),
                  reduction="mean")


@options(batch_size=optional(POSITIVE))
@dual("logits", "target_seqs")
def cross_entropy_seq(logits, target_seqs, batch_size=None):
    """L = sum_k ( logsumexp(logits_k) - logits_k[y_k] ) / batch_size (no division if None).

    Source convention: TensorLayer cross_entropy_seq: logits [B*T, C], target_seqs [B, T]
    flattened; a SUM over tokens, divided by batch_size only when given. (TensorLayer's
    sequence_loss_by_example also divides each token by 1 + 1e-12, a relative 1e-12 left out.)

    Examples:
        >>> zoo.tensorlayer.cross_entropy_seq(np.zeros((4, 2)), np.array([[0, 1], [1, 0]]),
        ...                                   batch_size=2).round(4)   # 4 log 2 / 2
        np.float64(1.3863)

    Raises:
        OptionError: batch_size <= 0 (the message gives the domain and the value).
        InputError: a class id outside [0, C) (when evaluated).
        ShapeError: target_seqs does not hold one id per row of logits.
        DTypeError: target_seqs not integer ids.
    """
    loss = L.sequence_cross_entropy(logits, target_seqs, reduction="sum")
    return loss if batch_size is None else loss / batch_size


@dual("logits", "target_seqs", "input_mask")
def cross_entropy_seq_with_mask(logits, target_seqs, input_mask, return_details=False,
                                name=None):
    """L = sum_k ce_k m_k / sum_k m_k, ce_k = logsumexp(logits_k) - logits_k[y_k].

    return_details=True gives (L, ce * m, m, targets), flattened like TensorLayer's.

    Source convention: TensorLayer cross_entropy_seq_with_mask (logits [B*T, C], targets
    and mask [B, T]); an all-zero mask gives 0 here where TensorLayer gives 0/0 = NaN.

    Examples:
        >>> zoo.tensorlayer.cross_entropy_seq_with_mask(np.zeros((4, 2)),
        ...     np.array([[0, 1], [1, 0]]), np.array([[1.0, 1.0], [1.0, 0.0]])).round(4)
        np.float64(0.6931)

    Raises:
        InputError: a class id outside [0, C) (when evaluated).
        ShapeError: target_seqs or input_mask does not hold one entry per row of logits.
        DTypeError: target_seqs not integer ids.
    """
    return L.sequence_cross_entropy(logits, target_seqs, input_mask,
                                    reduction="weighted_mean", return_details=return_details)


@dual("v1", "v2")
def cosine_similarity(v1, v2):
    """cos_b = sum_j v1_bj v2_bj / (||v1_b|| ||v2_b||), one value per row (axis 1).

    Source convention: TensorLayer cosine_similarity returns the per-sample similarity
    vector [B] (not a loss, not reduced), no epsilon: a zero row gives NaN as in TensorLayer.

    Examples:
        >>> zoo.tensorlayer.cosine_similarity(np.array([[1.0, 0.0], [1.0, 1.0]]),
        ...                                   np.array([[0.6, 0.8], [2.0, 2.0]])).round(4)
        array([0.6, 1. ])

    Raises:
        ShapeError: v1 and v2 differ in shape.
    """
    return L.cosine_similarity(v1, v2, axis=1, eps=0.0)


def _scale(scale, owner):
    """TensorLayer's factory check beyond the range (@options): scale is a float, not an int."""
    if isinstance(scale, lg.Node):
        return scale
    if isinstance(scale, numbers.Integral) or not isinstance(scale, numbers.Real):
        raise lg.OptionError(f"tensorlayer.{owner}: scale must be a float (TensorLayer rejects "
                             f"integers), got {scale!r} of type {type(scale).__name__}")
    return scale


def _disabled(weights, name=None):
    """scale = 0.0 disables the regularizer: the penalty is None."""
    return None


def _regularizer(penalty, scale, owner):
    """The function a TensorLayer regularizer factory returns: weights -> penalty(W, scale)."""
    scale = _scale(scale, owner)
    if not isinstance(scale, lg.Node) and scale == 0.0:
        return _disabled

    @dual("weights")
    def regularizer(weights, name=None):
        return penalty(weights, scale)
    regularizer.__doc__ = penalty.__doc__
    return regularizer


@options(scale=BELOW_ONE)
def li_regularizer(scale, scope=None):
    """R(W) = scale * sum_i ||W_i,:||_2 (group norm of the rows: removes input neurons).

    Source convention: TensorLayer li_regularizer(scale) returns li(weights); scale must be
    a float in [0, 1) (an int, a negative or >= 1 raise OptionError, a ValueError), and 0.0
    returns a function giving None.

    Examples:
        >>> import zoo.tensorlayer as tl
        >>> W = np.array([[3.0, 4.0], [0.0, 1.0]])
        >>> tl.li_regularizer(0.5)(W)   # 0.5 (5 + 1)
        np.float64(3.0)

        >>> print(tl.li_regularizer(0.0)(W))
        None

    Raises:
        OptionError: scale an integer or outside [0, 1) (the message gives the domain and the
            value).
        DTypeError: the returned function given a non-numeric weights array.
    """
    return _regularizer(L.li, scale, "li_regularizer")


@options(scale=BELOW_ONE)
def lo_regularizer(scale):
    """R(W) = scale * sum_j ||W_:,j||_2 (group norm of the columns: removes output neurons).

    Source convention: TensorLayer lo_regularizer(scale) returns lo(weights, name); scale
    checks as li_regularizer.

    Examples:
        >>> import zoo.tensorlayer as tl
        >>> W = np.array([[3.0, 4.0], [0.0, 1.0]])
        >>> tl.lo_regularizer(0.5)(W).round(4)   # 0.5 (3 + sqrt(17))
        np.float64(3.5616)

    Raises:
        OptionError: scale an integer or outside [0, 1) (the message gives the domain and the
            value).
        DTypeError: the returned function given a non-numeric weights array.
    """
    return _regularizer(L.lo, scale, "lo_regularizer")


@options(scale=NONNEGATIVE)
def maxnorm_regularizer(scale=1.0):
    """R(W) = scale * max_ij |W_ij|.

    Source convention: TensorLayer maxnorm_regularizer(scale=1.0) returns mn(weights, name);
    scale must be a non-negative float (no upper bound: TensorLayer's check is commented
    out, whatever its docstring says); 0.0 disables.

    Examples:
        >>> import zoo.tensorlayer as tl
        >>> W = np.array([[3.0, 4.0], [0.0, 1.0]])
        >>> tl.maxnorm_regularizer(0.5)(W)
        np.float64(2.0)

    Raises:
        OptionError: scale an integer or outside [0, inf) (the message gives the domain and the
            value).
        DTypeError: the returned function given a non-numeric weights array.
    """
    return _regularizer(L.maxnorm, scale, "maxnorm_regularizer")


@options(scale=NONNEGATIVE)
def maxnorm_o_regularizer(scale):
    """R(W) = scale * sum_j max_i |W_ij| (per-column max: removes output neurons).

    Source convention: TensorLayer maxnorm_o_regularizer(scale) returns mn_o(weights, name);
    scale checks as maxnorm_regularizer.

    Examples:
        >>> import zoo.tensorlayer as tl
        >>> W = np.array([[3.0, 4.0], [0.0, 1.0]])
        >>> tl.maxnorm_o_regularizer(0.5)(W)   # 0.5 (3 + 4)
        np.float64(3.5)

    Raises:
        OptionError: scale an integer or outside [0, inf) (the message gives the domain and the
            value).
        DTypeError: the returned function given a non-numeric weights array.
    """
    return _regularizer(L.maxnorm_o, scale, "maxnorm_o_regularizer")


@options(scale=NONNEGATIVE)
def maxnorm_i_regularizer(scale):
    """R(W) = scale * sum_i max_j |W_ij| (per-row max: removes input neurons).

    Source convention: TensorLayer maxnorm_i_regularizer(scale) returns mn_i(weights, name);
    scale checks as maxnorm_regularizer.

    Examples:
        >>> import zoo.tensorlayer as tl
        >>> W = np.array([[3.0, 4.0], [0.0, 1.0]])
        >>> tl.maxnorm_i_regularizer(0.5)(W)   # 0.5 (4 + 1)
        np.float64(2.5)

    Raises:
        OptionError: scale an integer or outside [0, inf) (the message gives the domain and the
            value).
        DTypeError: the returned function given a non-numeric weights array.
    """
    return _regularizer(L.maxnorm_i, scale, "maxnorm_i_regularizer")


@options(delta=POSITIVE, epsilon=NONNEGATIVE)
@dual("output", "target")
def huber_loss(output, target, is_mean=True, delta=1.0, dynamichuber=False, reverse=False,
               axis=-1, epsilon=1e-5, name=None):
    """h = 0.5 d^2 if |d| <= delta else delta (|d| - delta/2); reverse: berHu
    h = |d| if |d| <= c else (d^2 + c^2) / (2 (c + epsilon)), c = delta or 0.2 max|d|.

    Source convention: TensorLayer huber_loss: is_mean=True (default) is the mean over every
    element and ignores `axis`; is_mean=False sums over `axis` then averages the rest.
    dynamichuber (reverse only) takes c = 20% of the largest |output - target| of the whole
    tensor, batch included; the berHu slope divides by c + epsilon (0 when that is 0).

    Examples:
        >>> o, t = np.array([0.5, 3.0]), np.zeros(2)
        >>> zoo.tensorlayer.huber_loss(o, t)   # (0.125 + 2.5) / 2
        np.float64(1.3125)
        >>> zoo.tensorlayer.huber_loss(o, t, reverse=True).round(4)   # (0.5 + 10 / 2) / 2
        np.float64(2.75)

    Raises:
        OptionError: delta <= 0 or epsilon < 0 (the message gives the domain and the value).
        ShapeError: target and output differ in shape (neither is a scalar).
    """
    if reverse:
        c = 0.2 * lg.max(lg.abs(lg.as_node(output) - target)) if dynamichuber else delta
        h = L.berhu(output, target, c, eps=epsilon)
    else:
        h = L.huber(output, target, delta=delta)
    return reduce(h, reduction="mean") if is_mean else _per_example(h, False, axis)
