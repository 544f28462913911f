"""TensorFlow tf.contrib.losses (TF r1.x) flavour: contrib names, argument order and defaults.

Every weighted loss reduces like loss_ops.compute_weighted_loss: the element-wise (or
per-sample) losses are multiplied by `weights` (a scalar, a [batch] vector, [batch, 1], or
a leading block of the loss shape: weights align with the leading, batch-first axes), summed,
and divided by the number of loss elements whose broadcast weight is non-zero; all-zero
weights give 0, never NaN (zoo.reduction "sum_by_nonzero_weights").

TF keeps its losses in a global graph collection; here the collection is an explicit
`LossSet` passed as `loss_collection=` (keyword) to any weighted loss or to add_loss /
get_losses / get_regularization_losses / get_total_loss. No module-level state exists.

The r0.x keyword names `weight=` and `targets=` / `target=` are accepted as aliases of
`weights=` and `labels=` (the seed's examples still write `weight=`). TF casts to float32 and
back; here the input precision is kept. Arrays in give arrays out, Nodes in give a Node out.
See docs/zoo-conventions.md section 2.
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

import lossgraph as lg
from lossgraph.shapes import fmt_shape

from . import losses as L
from .docstrings import add_raises
from .dual import RAISES as DUAL_RAISES, dual
from .options import NONNEGATIVE, Domain, bind_call, options
from .reduction import reduce

__all__ = ["LossSet", "absolute_difference", "add_loss", "hinge_loss", "compute_weighted_loss",
           "cosine_distance", "get_losses", "get_regularization_losses", "get_total_loss",
           "log_loss", "mean_pairwise_squared_error", "mean_squared_error",
           "sigmoid_cross_entropy", "softmax_cross_entropy", "sparse_softmax_cross_entropy",
           "sum_of_pairwise_squares", "sum_of_squares"]

# flavour name -> canonical zoo.losses name(s) (read by zoo.inventory); collection helpers
# and compute_weighted_loss are not losses of their own
CANONICAL = {
    "absolute_difference": "absolute_error",
    "hinge_loss": "hinge",
    "cosine_distance": "cosine_distance",
    "log_loss": "log_loss",
    "mean_pairwise_squared_error": "mean_pairwise_squared_error",
    "sum_of_pairwise_squares": "mean_pairwise_squared_error",
    "mean_squared_error": "squared_error",
    "sum_of_squares": "squared_error",
    "sigmoid_cross_entropy": "sigmoid_cross_entropy",
    "softmax_cross_entropy": "softmax_cross_entropy",
    "sparse_softmax_cross_entropy": "sparse_softmax_cross_entropy",
}

# TF smooths only when label_smoothing > 0: zero or negative means none, above 1 is refused
SMOOTHING = Domain(hi=1)

# r0.x keyword -> r1.x keyword
_ALIASES = (("weight", "weights"), ("targets", "labels"), ("target", "labels"))


class LossSet:
    """TF's LOSSES and REGULARIZATION_LOSSES graph collections as one explicit object.

    Losses are kept in the order added, each under a name (a loss's `scope`, else its
    function name); `scope=` filters by name prefix like TF's get_collection(key, scope).

    Examples:
        >>> import zoo.tf as tf
        >>> s = tf.LossSet()
        >>> tf.absolute_difference(np.array([0.5, 2.0]), np.array([0.0, 1.0]), loss_collection=s)
        np.float64(0.75)
        >>> s.add_regularization_loss(0.5)
        0.5
        >>> s, float(s.get_total_loss())
        (LossSet(1 losses, 1 regularization losses), 1.25)

    Raises:
        InputError: get_total_loss on a LossSet that holds no losses.
    """

    def __init__(self):
        self._losses = []
        self._regularization = []

    def add_loss(self, loss, name=None):
        """Adds `loss` to the LOSSES list under `name` (for scope filtering) and returns it.

        Examples:
            >>> s = zoo.tf.LossSet()
            >>> s.add_loss(2.0, name="tower0/l2")
            2.0
            >>> s.get_losses(scope="tower0")
            [2.0]
        """
        self._losses.append((name or "", loss))
        return loss

    def add_regularization_loss(self, loss, name=None):
        """Adds `loss` to the REGULARIZATION_LOSSES list under `name` and returns it.

        Examples:
            >>> s = zoo.tf.LossSet()
            >>> s.add_regularization_loss(0.1)
            0.1
            >>> s.get_regularization_losses()
            [0.1]
        """
        self._regularization.append((name or "", loss))
        return loss

    def get_losses(self, scope=None):
        """The losses in the order added, those whose name starts with `scope` when given.

        Examples:
            >>> s = zoo.tf.LossSet()
            >>> s.add_loss(1.0, name="a/x"), s.add_loss(2.0, name="b/x")
            (1.0, 2.0)
            >>> s.get_losses(), s.get_losses(scope="b")
            ([1.0, 2.0], [2.0])
        """
        return [l for n, l in self._losses if scope is None or n.startswith(scope)]

    def get_regularization_losses(self, scope=None):
        """The regularization losses, those whose name starts with `scope` when given.

        Examples:
            >>> s = zoo.tf.LossSet()
            >>> s.add_regularization_loss(0.5, name="w")
            0.5
            >>> s.get_regularization_losses(scope="v")
            []
        """
        return [l for n, l in self._regularization if scope is None or n.startswith(scope)]

    def get_total_loss(self, add_regularization_losses=True, name="total_loss"):
        """sum of the losses (+ the regularization losses); TF's add_n of an empty list raises.

        Examples:
            >>> s = zoo.tf.LossSet()
            >>> s.add_loss(1.0), s.add_regularization_loss(0.25)
            (1.0, 0.25)
            >>> s.get_total_loss(), s.get_total_loss(add_regularization_losses=False)
            (1.25, 1.0)

        Raises:
            InputError: no losses to add (TF's add_n of an empty list).
        """
        terms = self.get_losses() + (self.get_regularization_losses()
                                     if add_regularization_losses else [])
        if not terms:
            raise lg.InputError("get_total_loss: the LossSet holds no losses to add")
        if any(isinstance(t, lg.Node) for t in terms):
            terms = [lg.as_node(t) for t in terms]
        return functools.reduce(lambda a, b: a + b, terms)

    def __repr__(self):
        return (f"LossSet({len(self._losses)} losses, "
                f"{len(self._regularization)} regularization losses)")


def _loss_set(loss_collection, fn):
    if not isinstance(loss_collection, LossSet):
        raise lg.InputError(f"{fn}: loss_collection must be a zoo.tf.LossSet (there is no "
                            f"global collection), got {type(loss_collection).__name__}")
    return loss_collection


def _shape(x):
    return x.shape if isinstance(x, lg.Node) else np.shape(x)


def _check_compatible(fn, bound, first, second):
    """TF's predictions.get_shape().assert_is_compatible_with(labels.get_shape()): equal
    shapes, a named (unknown) dim matching anything; no broadcasting."""
    a, b = _shape(bound.arguments[first]), _shape(bound.arguments[second])
    if len(a) != len(b) or any(x != y for x, y in zip(a, b)
                               if not (isinstance(x, str) or isinstance(y, str))):
        raise lg.ShapeError(f"{fn}: {second} has shape {fmt_shape(b)} but {first} has shape "
                            f"{fmt_shape(a)}; tf.contrib.losses needs equal shapes")


def _contrib(*tensor_params, collect=True, same_shape=True):
    """@dual over tensor_params, plus the r0.x keyword aliases, a required-labels check, TF's
    shape-compatibility check of the first two tensors (same_shape=True) and (collect=True)
    an optional keyword `loss_collection` the result is added to."""
    def wrap(fn):
        inner = dual(*tensor_params)(fn)
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def call(*args, loss_collection=None, **kwargs):
            for old, new in _ALIASES:
                if old in kwargs and new in sig.parameters:
                    if new in kwargs:
                        raise lg.OptionError(f"{fn.__name__}: give {new!r} or its deprecated "
                                             f"alias {old!r}, not both")
                    kwargs[new] = kwargs.pop(old)
            bound = bind_call(f"tf.{fn.__name__}", sig, args, kwargs)
            if "labels" in sig.parameters and bound.arguments.get("labels") is None:
                raise lg.InputError(f"{fn.__name__}: labels is required, got None")
            if same_shape:
                _check_compatible(fn.__name__, bound, *tensor_params[:2])
            loss = inner(*args, **kwargs)
            if loss_collection is not None:
                _loss_set(loss_collection, fn.__name__).add_loss(
                    loss, name=bound.arguments.get("scope") or fn.__name__)
            return loss
        if collect:
            extra = inspect.Parameter("loss_collection", inspect.Parameter.KEYWORD_ONLY,
                                      default=None)
            call.__signature__ = sig.replace(parameters=[*sig.parameters.values(), extra])
        add_raises(call, *DUAL_RAISES)
        return call
    return wrap


def _weighted(losses, weights):
    return reduce(losses, reduction="sum_by_nonzero_weights", weights=weights,
                  weights_align="leading")


@_contrib("losses", "weights", same_shape=False)
def compute_weighted_loss(losses, weights=1.0, scope=None):
    """L = sum(w * l) / #{elements of l whose broadcast weight is non-zero}; 0 if none.

    Source convention: tf.contrib.losses.compute_weighted_loss (r1.x): weights scalar,
    [batch], [batch, 1] (trailing 1 squeezed) or a leading block of the loss shape, aligned
    batch-first; negative weights count as present; the seed's example
    ([4, 1, 2, 3] with weights [1, 0.5, 3, 9]) gives 9.375. Weights of shape [1] act as a
    scalar (TF r0.11; r1.x counts one batch row only, a B-times-larger quirk not kept).

    Examples:
        >>> zoo.tf.compute_weighted_loss(np.array([4.0, 1, 2, 3]),
        ...                              weights=np.array([1, 0.5, 3, 9]))
        np.float64(9.375)

    Raises:
        OptionError: a keyword and its r0.x alias both given.
        InputError: loss_collection is not a LossSet.
        ShapeError: weights that do not align with the loss's leading axes.
    """
    return _weighted(losses, weights)


@_contrib("predictions", "labels", "weights")
def absolute_difference(predictions, labels=None, weights=1.0, scope=None):
    """L = weighted mean over present elements of |p - l| (compute_weighted_loss).

    Source convention: tf.contrib.losses.absolute_difference(predictions, labels=None,
    weights=1.0, scope=None); r0.x names targets= / weight= accepted.

    Examples:
        >>> zoo.tf.absolute_difference(np.array([0.5, 2.0]), np.array([0.0, 1.0]))  # 1.5 / 2
        np.float64(0.75)

    Raises:
        OptionError: a keyword and its r0.x alias both given.
        InputError: labels is None; loss_collection is not a LossSet.
        ShapeError: labels and predictions differ in shape (TF's assert_is_compatible_with);
            weights do not align with the loss's leading axes.
    """
    return _weighted(L.absolute_error(predictions, labels), weights)


@_contrib("predictions", "labels", "weights")
def mean_squared_error(predictions, labels=None, weights=1.0, scope=None):
    """L = weighted mean over present elements of (p - l)^2 (compute_weighted_loss).

    Source convention: tf.contrib.losses.mean_squared_error (r1.x) = the deprecated
    sum_of_squares (r0.x); a mean despite the "Sum-of-Squares" docstring.

    Examples:
        >>> zoo.tf.mean_squared_error(np.array([0.5, 2.0]), np.array([0.0, 1.0]),
        ...                           weights=np.array([1.0, 0.0]))   # one present element
        np.float64(0.25)

    Raises:
        OptionError: a keyword and its r0.x alias both given.
        InputError: labels is None; loss_collection is not a LossSet.
        ShapeError: labels and predictions differ in shape (TF's assert_is_compatible_with);
            weights do not align with the loss's leading axes.
    """
    return _weighted(L.squared_error(predictions, labels), weights)


@_contrib("predictions", "labels", "weights")
@options(epsilon=NONNEGATIVE)
def log_loss(predictions, labels=None, weights=1.0, epsilon=1e-7, scope=None):
    """L = weighted mean of -l log(p + eps) - (1 - l) log(1 - p + eps) (compute_weighted_loss).

    Source convention: tf.contrib.losses.log_loss: probabilities, epsilon inside the logs and
    no clipping, so p = 0 or 1 stays finite (-log 1e-7 = 16.12).

    Examples:
        >>> zoo.tf.log_loss(np.array([0.9, 0.2]), np.array([1.0, 0.0])).round(4)
        np.float64(0.1643)

    Raises:
        OptionError: a keyword and its r0.x alias both given; epsilon < 0
            (the message gives the domain and the value).
        InputError: labels is None; loss_collection is not a LossSet.
        ShapeError: labels and predictions differ in shape (TF's assert_is_compatible_with);
            weights do not align with the loss's leading axes.
    """
    return _weighted(L.log_loss(predictions, labels, eps=epsilon), weights)


@_contrib("logits", "labels", collect=False)
def hinge_loss(logits, labels=None, scope=None):
    """l = max(0, 1 - (2 y - 1) x), element-wise, labels y in {0, 1}: NOT reduced.

    Source convention: tf.contrib.losses.hinge_loss maps 0/1 labels to -1/+1 and returns the
    unweighted element-wise tensor of logits' shape; it is not added to any collection.

    Examples:
        >>> zoo.tf.hinge_loss(np.array([0.5, -2.0]), np.array([1.0, 0.0]))
        array([0.5, 0. ])

    Raises:
        OptionError: a keyword and its r0.x alias both given.
        InputError: labels is None.
        ShapeError: labels and logits differ in shape.
    """
    return L.hinge(logits, 2.0 * lg.cast(lg.as_node(labels), "float") - 1.0)


@_contrib("logits", "multi_class_labels", "weights")
@options(label_smoothing=SMOOTHING)
def sigmoid_cross_entropy(logits, multi_class_labels, weights=1.0, label_smoothing=0,
                          scope=None):
    """L = weighted mean of max(x, 0) - x z + log(1 + exp(-|x|)), z = y (1 - ls) + ls / 2.

    Source convention: tf.contrib.losses.sigmoid_cross_entropy: smoothing only when
    label_smoothing > 0; weights scalar, [batch] or [batch, num_classes].

    Examples:
        >>> zoo.tf.sigmoid_cross_entropy(np.array([0.0, 2.0]), np.array([1.0, 0.0])).round(4)
        np.float64(1.41)

    Raises:
        OptionError: a keyword and its r0.x alias both given; label_smoothing
            > 1.
        InputError: loss_collection is not a LossSet.
        ShapeError: multi_class_labels and logits differ in shape; weights that do not
            align with the loss's leading axes.
    """
    return _weighted(L.sigmoid_cross_entropy(logits, multi_class_labels,
                                             label_smoothing=max(label_smoothing, 0)),
                     weights)


@_contrib("logits", "onehot_labels", "weights")
@options(label_smoothing=SMOOTHING)
def softmax_cross_entropy(logits, onehot_labels, weights=1.0, label_smoothing=0, scope=None):
    """L = weighted mean over rows of sum_j z_j (logsumexp(x) - x_j), z = y (1 - ls) + ls / C.

    Source convention: tf.contrib.losses.softmax_cross_entropy: C = onehot_labels.shape[1],
    smoothing only when label_smoothing > 0; weights scalar or [batch].

    Examples:
        >>> zoo.tf.softmax_cross_entropy(np.array([[2.0, 0.0]]), np.array([[1.0, 0.0]])).round(4)
        np.float64(0.1269)

    Raises:
        OptionError: a keyword and its r0.x alias both given; label_smoothing
            > 1.
        InputError: loss_collection is not a LossSet.
        ShapeError: onehot_labels and logits differ in shape; weights neither a scalar nor
            one per row.
    """
    return _weighted(L.softmax_cross_entropy(logits, onehot_labels,
                                             label_smoothing=max(label_smoothing, 0)),
                     weights)


@_contrib("logits", "labels", "weights", same_shape=False)
def sparse_softmax_cross_entropy(logits, labels, weights=1.0, scope=None):
    """L = weighted mean over rows of logsumexp(x_b) - x_b[y_b], integer labels.

    Source convention: tf.contrib.losses.sparse_softmax_cross_entropy: labels [batch] or
    [batch, 1] (reshaped to [batch]); weights scalar, [batch] or [batch, 1].

    Examples:
        >>> zoo.tf.sparse_softmax_cross_entropy(np.array([[2.0, 0.0], [0.0, 0.0]]),
        ...                                     np.array([0, 1])).round(4)
        np.float64(0.41)

    Raises:
        OptionError: a keyword and its r0.x alias both given.
        InputError: loss_collection is not a LossSet.
        ShapeError: labels not one per row of logits; weights neither a scalar nor one per
            row.
        DTypeError: a non-numeric input array, or labels that are not integers.
    """
    labels = lg.as_node(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = lg.reshape(labels, labels.shape[:1])
    return _weighted(L.sparse_softmax_cross_entropy(logits, labels), weights)


@_contrib("predictions", "labels", "weights")
def mean_pairwise_squared_error(predictions, labels=None, weights=1.0, scope=None):
    """L = sum_b w_b (1/n^2) sum_{i,j} (d_bi - d_bj)^2, d = p - l, n = elements per sample.

    Source convention: tf.contrib.losses.mean_pairwise_squared_error: all ordered pairs
    within each sample (the docstring's "/ number of pairs" example is wrong: [1, 2, 3] vs 0
    gives 4/3), SUMMED over the batch; weights scalar or [batch] only (TF mis-counts other
    shapes, here they raise).

    Examples:
        >>> zoo.tf.mean_pairwise_squared_error(np.array([[1.0, 2.0, 3.0]]),
        ...                                    np.zeros((1, 3))).round(4)   # 12 / 9, not 12 / 6
        np.float64(1.3333)

    Raises:
        OptionError: a keyword and its r0.x alias both given.
        InputError: labels is None; loss_collection is not a LossSet.
        ShapeError: labels and predictions differ in shape; weights neither a scalar nor
            one per sample.
    """
    w = lg.as_node(weights)
    if w.ndim > 1 or (w.ndim == 1 and w.shape[0] != lg.as_node(predictions).shape[0]):
        raise lg.ShapeError(f"mean_pairwise_squared_error: weights must be a scalar or one "
                            f"per sample, got shape {fmt_shape(w.shape)}")
    return reduce(L.mean_pairwise_squared_error(predictions, labels), reduction="sum",
                  weights=weights)


@_contrib("predictions", "labels", "weights")
def cosine_distance(predictions, labels=None, axis=None, weights=1.0, scope=None, dim=None):
    """L = weighted mean of 1 - sum_axis p l (inputs assumed unit-normalized).

    Source convention: tf.contrib.losses.cosine_distance (r1.5+): `dim` is the deprecated
    name of `axis`; exactly one of them is required; no normalization, no epsilon; the
    reduced axis is dropped before weighting.

    Examples:
        >>> zoo.tf.cosine_distance(np.array([[1.0, 0.0]]), np.array([[0.6, 0.8]]), axis=1).round(4)
        np.float64(0.4)

    Raises:
        OptionError: a keyword and its r0.x alias both given; neither or
            both of axis and dim given.
        InputError: labels is None; loss_collection is not a LossSet.
        ShapeError: labels and predictions differ in shape (TF's assert_is_compatible_with);
            weights do not align with the loss's leading axes.
    """
    if (axis is None) == (dim is None):
        raise lg.OptionError("cosine_distance: give axis (or its deprecated alias dim), "
                             f"exactly one of them; got axis={axis!r}, dim={dim!r}")
    axis = dim if axis is None else axis
    return _weighted(L.cosine_distance(predictions, labels, axis=axis, normalize=False),
                     weights)


sum_of_squares = mean_squared_error
sum_of_pairwise_squares = mean_pairwise_squared_error


def add_loss(loss, loss_collection=None):
    """Adds `loss` to the LossSet `loss_collection`.

    Source convention: tf.contrib.losses.add_loss(loss, loss_collection=LOSSES); TF's global
    collection is an explicit LossSet here.

    Examples:
        >>> s = zoo.tf.LossSet()
        >>> zoo.tf.add_loss(np.float64(1.5), loss_collection=s)
        >>> zoo.tf.get_losses(loss_collection=s)
        [np.float64(1.5)]

    Raises:
        InputError: loss_collection is not a LossSet (there is no global collection).
    """
    _loss_set(loss_collection, "add_loss").add_loss(loss)


def get_losses(scope=None, loss_collection=None):
    """The losses of `loss_collection` whose name starts with `scope` (all when None).

    Source convention: tf.contrib.losses.get_losses(scope=None, loss_collection=LOSSES).

    Examples:
        >>> s = zoo.tf.LossSet()
        >>> zoo.tf.absolute_difference(np.array([1.0]), np.array([0.0]), loss_collection=s,
        ...                            scope="head")
        np.float64(1.0)
        >>> zoo.tf.get_losses(scope="head", loss_collection=s)
        [np.float64(1.0)]

    Raises:
        InputError: loss_collection is not a LossSet.
    """
    return _loss_set(loss_collection, "get_losses").get_losses(scope)


def get_regularization_losses(scope=None, loss_collection=None):
    """The regularization losses of `loss_collection` (filtered by name prefix `scope`).

    Source convention: tf.contrib.losses.get_regularization_losses(scope=None) reads the
    REGULARIZATION_LOSSES collection; here the LossSet's regularization list.

    Examples:
        >>> s = zoo.tf.LossSet()
        >>> s.add_regularization_loss(0.5)
        0.5
        >>> zoo.tf.get_regularization_losses(loss_collection=s)
        [0.5]

    Raises:
        InputError: loss_collection is not a LossSet.
    """
    return _loss_set(loss_collection, "get_regularization_losses") \
        .get_regularization_losses(scope)


def get_total_loss(add_regularization_losses=True, name="total_loss", loss_collection=None):
    """total = sum of the losses (+ the regularization losses when add_regularization_losses).

    Source convention: tf.contrib.losses.get_total_loss(add_regularization_losses=True,
    name='total_loss'): add_n, which raises on an empty list.

    Examples:
        >>> s = zoo.tf.LossSet()
        >>> zoo.tf.mean_squared_error(np.array([1.0, 3.0]), np.array([0.0, 0.0]),
        ...                           loss_collection=s)
        np.float64(5.0)
        >>> s.add_regularization_loss(0.5)
        0.5
        >>> zoo.tf.get_total_loss(loss_collection=s)
        np.float64(5.5)

    Raises:
        InputError: loss_collection is not a LossSet, or it holds no losses (TF's add_n of []).
    """
    return _loss_set(loss_collection, "get_total_loss").get_total_loss(
        add_regularization_losses, name)
