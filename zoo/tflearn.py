"""TFLearn (tflearn.objectives) flavour: TFLearn names, (y_pred, y_true) order and defaults.

Every objective returns a scalar, most of them the mean over every element (TF's
reduce_mean). The objectives of later TFLearn versions (contrastive_loss, triplet_loss) and
the L1 / L2 regularizers of tflearn.regularizers are included. Arrays in give arrays out,
Nodes in give a Node out (zoo.dual). See docs/zoo-conventions.md section 4.
"""
from __future__ import annotations

import lossgraph as lg

from . import losses as L
from .dual import dual
from .options import ANY, COUNT, NONNEGATIVE, optional, options
from .reduction import reduce

__all__ = ["softmax_categorical_crossentropy", "categorical_crossentropy",
           "binary_crossentropy", "weighted_crossentropy", "mean_square", "hinge_loss",
           "roc_auc_score", "weak_cross_entropy_2d", "contrastive_loss", "triplet_loss",
           "L2", "L1"]

# flavour name -> canonical zoo.losses name (read by zoo.inventory)
CANONICAL = {
    "softmax_categorical_crossentropy": "softmax_cross_entropy",
    "categorical_crossentropy": "categorical_cross_entropy",
    "binary_crossentropy": "sigmoid_cross_entropy",
    "weighted_crossentropy": "weighted_cross_entropy",
    "mean_square": "squared_error",
    "hinge_loss": "hinge",
    "roc_auc_score": "roc_auc_surrogate",
    "weak_cross_entropy_2d": "weak_cross_entropy_2d",
    "contrastive_loss": "contrastive",
    "triplet_loss": "triplet",
    "L2": "l2",
    "L1": "l1",
}

EPSILON = 1e-10      # tflearn.config._EPSILON: the clip of categorical_crossentropy


def _mean(loss):
    return reduce(loss, reduction="mean")


@dual("y_pred", "y_true")
def softmax_categorical_crossentropy(y_pred, y_true):
    """L = mean_b( sum_j z_j (logsumexp(x_b) - x_bj) ), x = logits, z = target distribution.

    Source convention: TFLearn softmax_categorical_crossentropy = reduce_mean of
    tf.nn.softmax_cross_entropy_with_logits (rows not renormalized).

    Examples:
        >>> zoo.tflearn.softmax_categorical_crossentropy(np.array([[2.0, 0.0]]),
        ...                                              np.array([[1.0, 0.0]])).round(4)
        np.float64(0.1269)

    Raises:
        ShapeError: y_true and y_pred differ in shape.
    """
    return _mean(L.softmax_cross_entropy(y_pred, y_true))


@dual("y_pred", "y_true")
def categorical_crossentropy(y_pred, y_true):
    """L = mean_b( -sum_j z_j log clip(p_bj / sum_k p_bk, 1e-10, 1 - 1e-10) ).

    Source convention: TFLearn categorical_crossentropy renormalizes each row, clips to
    [_EPSILON, 1 - _EPSILON] with _EPSILON = 1e-10 (so p = 0 gives the finite -log 1e-10 =
    23.03, with zero gradient past the clip), then takes the mean; TFLearn is float32-only,
    here both precisions work (in float32 the upper bound rounds to 1, as in TFLearn).

    Examples:
        >>> zoo.tflearn.categorical_crossentropy(np.array([[0.5, 0.5], [1.0, 0.0]]),
        ...     np.array([[1.0, 0.0], [0.0, 1.0]])).round(4)   # (log 2 - log 1e-10) / 2
        np.float64(11.8595)

    Raises:
        ShapeError: y_true and y_pred differ in shape.
    """
    p = lg.as_node(y_pred)
    p = lg.clip(p / lg.sum(p, axis=-1, keepdims=True), EPSILON, 1.0 - EPSILON)
    return _mean(L.categorical_cross_entropy(p, y_true, eps=0.0))


@dual("y_pred", "y_true")
def binary_crossentropy(y_pred, y_true):
    """L = mean( max(x, 0) - x z + log(1 + exp(-|x|)) ), x = y_pred LOGITS.

    Source convention: TFLearn binary_crossentropy = reduce_mean of
    tf.nn.sigmoid_cross_entropy_with_logits: despite the name it takes logits.

    Examples:
        >>> zoo.tflearn.binary_crossentropy(np.array([0.0, 2.0]), np.array([1.0, 0.0])).round(4)
        np.float64(1.41)

    Raises:
        ShapeError: y_true and y_pred differ in shape.
    """
    return _mean(L.sigmoid_cross_entropy(y_pred, y_true))


@options(weight=NONNEGATIVE)
@dual("y_pred", "y_true")
def weighted_crossentropy(y_pred, y_true, weight):
    """L = mean( (1 - z) x + (1 + (q - 1) z) log(1 + exp(-x)) ), q = weight on positives.

    Source convention: TFLearn weighted_crossentropy (0.3.x: `weight` required; later
    versions default it to 1.) = reduce_mean of tf.nn.weighted_cross_entropy_with_logits.

    Examples:
        >>> zoo.tflearn.weighted_crossentropy(np.array([0.0, 2.0]), np.array([1.0, 0.0]),
        ...                                   weight=2.0).round(4)
        np.float64(1.7566)

    Raises:
        OptionError: weight < 0 (the message gives the domain and the value).
        ShapeError: y_true and y_pred differ in shape.
    """
    return _mean(L.weighted_cross_entropy(y_pred, y_true, pos_weight=weight))


@dual("y_pred", "y_true")
def mean_square(y_pred, y_true):
    """L = mean( (y_pred - y_true)^2 ).

    Source convention: TFLearn mean_square = reduce_mean(square(y_pred - y_true)) over every
    element.

    Examples:
        >>> zoo.tflearn.mean_square(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
        np.float64(5.0)

    Raises:
        ShapeError: y_true and y_pred differ in shape.
    """
    return _mean(L.squared_error(y_pred, y_true))


@dual("y_pred", "y_true")
def hinge_loss(y_pred, y_true):
    """L = mean( max(1 - y_true y_pred, 0) ), labels in {-1, +1}.

    Source convention: TFLearn hinge_loss: margin 1, mean over every element.

    Examples:
        >>> zoo.tflearn.hinge_loss(np.array([0.5, 2.0]), np.array([1.0, -1.0]))   # (0.5 + 3) / 2
        np.float64(1.75)

    Raises:
        ShapeError: y_true and y_pred differ in shape.
    """
    return _mean(L.hinge(y_pred, y_true))


@dual("y_pred", "y_true")
def roc_auc_score(y_pred, y_true):
    """L = sum_{i neg, j pos} max(0, 0.2 - (x_j - x_i))^3 (a sum, lower is better).

    Source convention: TFLearn roc_auc_score: the Wilcoxon-Mann-Whitney surrogate of Yan et
    al. 2003 with gamma = 0.2, p = 3; positives are the elements with y_true != 0 (bool
    cast), over the whole flattened tensor; not normalized by the number of pairs; 0 when
    one side is empty.

    Examples:
        >>> zoo.tflearn.roc_auc_score(np.array([0.0, 0.1, 1.0]),
        ...                           np.array([0.0, 1.0, 1.0])).round(6)   # (0.2 - 0.1)^3
        np.float64(0.001)

    Raises:
        ShapeError: y_true and y_pred differ in element count.
    """
    return L.roc_auc_surrogate(y_pred, y_true, gamma=0.2, p=3)


@options(num_classes=optional(COUNT), epsilon=ANY)
@dual("y_pred", "y_true", "head")
def weak_cross_entropy_2d(y_pred, y_true, num_classes=None, epsilon=0.0001, head=None):
    """L = mean_pixels( -sum_c head_c z_c log softmax(x + epsilon)_c ), rows reshaped to [-1, C].

    Source convention: TFLearn weak_cross_entropy_2d: num_classes defaults to
    y_true.shape[-1]; epsilon is added to the logits (it cancels inside the softmax); head
    is an optional per-class weight. TFLearn takes log(softmax) naively and gives NaN once a
    softmax entry underflows; here log_softmax keeps it finite (the true value).

    Examples:
        >>> zoo.tflearn.weak_cross_entropy_2d(np.zeros((1, 1, 2, 2)),
        ...     np.array([[[[1.0, 0.0], [0.0, 1.0]]]])).round(4)   # log 2 per pixel
        np.float64(0.6931)

    Raises:
        OptionError: num_classes not a positive integer or None (the message gives the
            domain and the value).
        ShapeError: y_true's shape is not y_pred's (classes last in both); head not one per
            class.
    """
    return L.weak_cross_entropy_2d(y_pred, y_true, epsilon=epsilon, head=head,
                                   num_classes=num_classes, reduction="mean")


@options(margin=NONNEGATIVE)
@dual("y_pred", "y_true")
def contrastive_loss(y_pred, y_true, margin=1.0):
    """L = sum( z d^2 + (1 - z) max(margin - d, 0)^2 ) / 2, d = y_pred (a distance).

    Source convention: TFLearn contrastive_loss (0.5.0+): y_pred is the distance, a SUM over
    the whole batch divided by 2.

    Examples:
        >>> zoo.tflearn.contrastive_loss(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
        np.float64(0.25)

    Raises:
        OptionError: margin < 0 (the message gives the domain and the value).
        ShapeError: y_true does not broadcast against y_pred.
    """
    return reduce(L.contrastive(y_pred, y_true, margin=margin), reduction="sum") / 2.0


@options(margin=NONNEGATIVE)
@dual("anchor", "positive", "negative")
def triplet_loss(anchor, positive, negative, margin=1.0):
    """L = max( sum (a - p)^2 - sum (a - n)^2 + margin, 0 ), sums over the WHOLE batch.

    Source convention: TFLearn triplet_loss (master): one relu of whole-batch sums (not a
    per-sample triplet loss): the batch is one flattened sample of the canonical triplet.

    Examples:
        >>> zoo.tflearn.triplet_loss(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]),
        ...                          np.array([[0.0, 2.0]]))   # max(1 - 4 + 1, 0)
        np.float64(0.0)

    Raises:
        OptionError: margin < 0 (the message gives the domain and the value).
        ShapeError: positive or negative does not broadcast against anchor.
    """
    flat = [lg.reshape(lg.as_node(t), (1, -1)) for t in (anchor, positive, negative)]
    return reduce(L.triplet(*flat, margin=margin), reduction="sum")


@options(wd=NONNEGATIVE)
@dual("tensor")
def L2(tensor, wd=0.001):
    """R = wd * sum(t^2) / 2.

    Source convention: TFLearn regularizers.L2 = wd * tf.nn.l2_loss(tensor).

    Examples:
        >>> zoo.tflearn.L2(np.array([1.0, 2.0]), wd=0.1)   # 0.1 * 5 / 2
        np.float64(0.25)

    Raises:
        OptionError: wd < 0 (the message gives the domain and the value).
    """
    return L.l2(tensor, wd / 2.0)


@options(wd=NONNEGATIVE)
@dual("tensor")
def L1(tensor, wd=0.001):
    """R = wd * sum |t|.

    Source convention: TFLearn regularizers.L1 = wd * reduce_sum(abs(tensor)).

    Examples:
        >>> zoo.tflearn.L1(np.array([1.0, -2.0]), wd=0.1).round(4)
        np.float64(0.3)

    Raises:
        OptionError: wd < 0 (the message gives the domain and the value).
    """
    return L.l1(tensor, wd)
