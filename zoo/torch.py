"""PyTorch `torch.nn.functional` (2.x) flavour: every loss function with torch's positional
order, keyword names, defaults (`reduction="mean"`) and numbers.

    import zoo.torch as F
    F.cross_entropy(logits, labels, weight=w, ignore_index=-100, label_smoothing=0.1)

Arrays in give arrays of their dtype out; Nodes in give a Node out (zoo.dual), so
lg.gradients and codegen work on the result. The deprecated `size_average` / `reduce`
keywords override `reduction` as torch maps them (`_legacy`). Class axes are torch's: dim 1
of (N, C, d1, ...), dim 0 of an unbatched (C,). Each function is a few lines over zoo.losses;
the weighted means live in zoo.reduction. See docs/zoo-conventions.md section 8.
"""
from __future__ import annotations

import functools
import inspect
import warnings

import numpy as np

import lossgraph as lg
from lossgraph.shapes import fmt_shape

from . import losses as L
from .dual import dual
from .losses.define import as_float, as_int
from .losses.ranking import pairwise_distance
from .options import (ANY, COSINE, INTEGER, NONNEGATIVE, POSITIVE, Domain, bind_call,
                      owner_name, options)
from .reduction import check_choice
from .reduction import reduce as reduce_loss

__all__ = ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div",
           "poisson_nll_loss", "gaussian_nll_loss", "hinge_embedding_loss",
           "margin_ranking_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
           "multilabel_margin_loss", "multi_margin_loss", "cosine_embedding_loss",
           "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss"]

# flavour name -> canonical zoo.losses name(s) (read by zoo.inventory)
CANONICAL = {
    "l1_loss": "absolute_error",
    "mse_loss": "squared_error",
    "smooth_l1_loss": "smooth_l1",
    "huber_loss": "huber",
    "binary_cross_entropy": "binary_cross_entropy",
    "binary_cross_entropy_with_logits": "sigmoid_cross_entropy",
    "cross_entropy": ("nll", "softmax_cross_entropy"),
    "nll_loss": "nll",
    "kl_div": "kl_divergence",
    "poisson_nll_loss": "poisson",
    "gaussian_nll_loss": "gaussian_nll",
    "hinge_embedding_loss": "hinge_embedding",
    "margin_ranking_loss": "margin_ranking",
    "soft_margin_loss": "soft_margin",
    "multilabel_soft_margin_loss": "multilabel_soft_margin",
    "multilabel_margin_loss": "multilabel_margin",
    "multi_margin_loss": "multi_margin",
    "cosine_embedding_loss": "cosine_embedding",
    "triplet_margin_loss": "triplet_margin",
    "triplet_margin_with_distance_loss": "triplet_margin",
    "ctc_loss": "ctc",
}

MODES = ("none", "mean", "sum")
LOG_FLOOR = -100.0          # torch clamps binary_cross_entropy's logs here


def _legacy(size_average, reduce, reduction, allowed=MODES):
    """torch's reduction: size_average / reduce (deprecated, either given) override it as
    torch's _Reduction.legacy_get_string does: reduce=False -> "none", else size_average
    (default True) -> "mean", else "sum"."""
    if size_average is not None or reduce is not None:
        if reduce is False:
            return "none"
        return "sum" if size_average is False else "mean"
    return check_choice("reduction", reduction, allowed)


def _same(a, b, a_arg, b_arg):
    """a, b as nodes of one shape (torch warns and broadcasts; the zoo refuses)."""
    a, b = lg.as_node(a), lg.as_node(b)
    if a.shape != b.shape:
        raise lg.ShapeError(f"{b_arg} has shape {fmt_shape(b.shape)} but {a_arg} has shape "
                            f"{fmt_shape(a.shape)}: they must match")
    return a, b


def _fits(t, input, arg):
    """t (or None) as a node that broadcasts to input's shape without enlarging it."""
    if t is None:
        return None
    t = lg.as_node(t)
    try:
        ok = lg.shapes.broadcast_shapes((arg, t.shape), ("input", input.shape)) == input.shape
    except lg.ShapeError:
        ok = False
    if not ok:
        raise lg.ShapeError(f"{arg}: shape {fmt_shape(t.shape)} does not broadcast to input of "
                            f"shape {fmt_shape(input.shape)}")
    return t


def _elementwise_weight(weight, input, mode, loss, normalized):
    """torch's per-element `weight` (input's shape exactly): mean is sum(w l) / sum(w) when
    normalized (mse_loss, l1_loss), mean(w l) otherwise (huber_loss)."""
    if weight is None:
        return reduce_loss(loss, mode)
    if lg.as_node(weight).shape != input.shape:
        raise lg.ShapeError(f"weight: expected input's shape {fmt_shape(input.shape)}, got "
                            f"{fmt_shape(lg.as_node(weight).shape)}")
    if normalized and mode == "mean":
        return reduce_loss(loss * weight, "sum_over_weights", weights=weight)
    return reduce_loss(loss, mode, weights=weight)


def _class_axis(input):
    """torch's class dim: 1 for (N, C, d1, ...), 0 for an unbatched (C,)."""
    if input.ndim == 0:
        raise lg.ShapeError("input: expected (C,), (N, C) or (N, C, d1, ...), got a 0-d "
                            "tensor")
    return 1 if input.ndim >= 2 else 0


def _index_target(input, target, axis):
    target = as_int(target, "target")
    want = input.shape[:axis] + input.shape[axis + 1:]
    if target.shape != want:
        raise lg.ShapeError(f"target: class indices for input of shape "
                            f"{fmt_shape(input.shape)} must have shape {fmt_shape(want)}, got "
                            f"{fmt_shape(target.shape)}")
    return target


def _values_checked(**checks):
    """Decorator: array arguments (not Nodes, whose values are unknown until evaluation) must
    satisfy checks[name] = (predicate, what it says), else an InputError naming them."""
    def wrap(fn):
        sig, owner = inspect.signature(fn), owner_name(fn)

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            given = bind_call(owner, sig, args, kwargs).arguments
            for name, (ok, says) in checks.items():
                v = given.get(name)
                if v is not None and not isinstance(v, lg.Node) and \
                        not ok(np.asarray(v, dtype=np.float64)):
                    raise lg.InputError(f"{owner}: {name} {says}")
            return fn(*args, **kwargs)
        return checked
    return wrap


# ---------------------------------------------------------------- regression

@dual("input", "target", "weight")
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """l = |x - y|; with weight w (input's shape): w l, and "mean" = sum(w l) / sum(w).

    Source convention: torch.nn.functional.l1_loss. torch broadcasts a target of another
    shape (with a warning); here that is a ShapeError.

    Examples:
        >>> import zoo.torch as F
        >>> F.l1_loss(np.array([1.0, -3.0]), np.zeros(2))
        np.float64(2.0)
        >>> F.l1_loss(np.array([1.0, -3.0]), np.zeros(2), weight=np.array([1.0, 3.0]))
        np.float64(2.5)

    Raises:
        OptionError: a reduction torch does not know.
        ShapeError: target and input differ in shape (torch broadcasts with a warning).
        ShapeError: weight not of input's shape.
    """
    x, y = _same(input, target, "input", "target")
    return _elementwise_weight(weight, x, _legacy(size_average, reduce, reduction),
                               L.absolute_error(x, y), normalized=True)


@dual("input", "target", "weight")
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """l = (x - y)^2; with weight w (input's shape): w l, and "mean" = sum(w l) / sum(w).

    Source convention: torch.nn.functional.mse_loss (an all-zero weight gives NaN for
    "mean", 0/0, as in torch).

    Examples:
        >>> import zoo.torch as F
        >>> F.mse_loss(np.array([1.0, -3.0]), np.zeros(2), reduction="sum")
        np.float64(10.0)

    Raises:
        OptionError: a reduction torch does not know.
        ShapeError: target and input differ in shape (torch broadcasts with a warning).
        ShapeError: weight not of input's shape.
    """
    x, y = _same(input, target, "input", "target")
    return _elementwise_weight(weight, x, _legacy(size_average, reduce, reduction),
                               L.squared_error(x, y), normalized=True)


@options(beta=NONNEGATIVE)
@dual("input", "target")
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",
                   beta=1.0):
    """l = (x - y)^2 / (2 beta) if |x - y| < beta else |x - y| - beta / 2 (beta = 0: L1).

    Source convention: torch.nn.functional.smooth_l1_loss.

    Examples:
        >>> import zoo.torch as F
        >>> F.smooth_l1_loss(np.array([0.5, 3.0]), np.zeros(2), reduction="none")
        array([0.125, 2.5  ])

    Raises:
        OptionError: a reduction torch does not know; beta < 0.
        ShapeError: target and input differ in shape (torch broadcasts with a warning).
    """
    x, y = _same(input, target, "input", "target")
    return reduce_loss(L.smooth_l1(x, y, beta=beta), _legacy(size_average, reduce, reduction))


@options(delta=POSITIVE)
@dual("input", "target", "weight")
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """l = (x - y)^2 / 2 if |x - y| <= delta else delta (|x - y| - delta / 2); weight w
    scales each element, and "mean" is mean(w l) (unlike mse_loss, not divided by sum w).

    Source convention: torch.nn.functional.huber_loss (delta > 0).

    Examples:
        >>> import zoo.torch as F
        >>> F.huber_loss(np.array([0.5, 3.0]), np.zeros(2), delta=2.0)   # (0.125 + 4) / 2
        np.float64(2.0625)

    Raises:
        OptionError: a reduction torch does not know; delta <= 0.
        ShapeError: target and input differ in shape (torch broadcasts with a warning).
        ShapeError: weight not of input's shape.
    """
    x, y = _same(input, target, "input", "target")
    return _elementwise_weight(weight, x, _legacy(None, None, reduction),
                               L.huber(x, y, delta=delta), normalized=False)


@options(eps=NONNEGATIVE)
@dual("input", "target")
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """l = e^x - y x (log_input) or x - y log(x + eps); full adds y log y - y + log(2 pi y) / 2
    where y > 1.

    Source convention: torch.nn.functional.poisson_nll_loss.

    Examples:
        >>> import zoo.torch as F
        >>> F.poisson_nll_loss(np.array([0.0, 1.0]), np.array([1.0, 2.0])).round(4)
        np.float64(0.8591)

    Raises:
        OptionError: a reduction torch does not know; eps < 0.
        ShapeError: target and input differ in shape (torch broadcasts with a warning).
    """
    x, y = _same(input, target, "input", "target")
    return reduce_loss(L.poisson(x, y, log_input=log_input, eps=eps, full=full),
                       _legacy(size_average, reduce, reduction))


def _gaussian_var(var, input):
    """var as torch accepts it: a number, input's shape, input's shape without its last dim
    (unsqueezed), or input's shape with exactly one other dim of size 1."""
    v = as_float(var)
    if v.ndim == 0 and not isinstance(var, (lg.Node, np.ndarray)):
        return v
    if v.shape == input.shape:
        return v
    if v.shape == input.shape[:-1]:
        return lg.expand_dims(v, -1)
    if v.ndim == input.ndim and \
            sum(b for a, b in zip(input.shape, v.shape) if a != b) == 1:
        return v
    raise lg.ShapeError(f"var: shape {fmt_shape(v.shape)} is of incorrect size for input of "
                        f"shape {fmt_shape(input.shape)} (expected input's shape, input's "
                        f"shape without its last dim, or one dim of size 1)")


@options(eps=NONNEGATIVE)
@_values_checked(var=(lambda v: bool(np.all(v >= 0)), "has negative entry/entries"))
@dual("input", "target", "var")
def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """l = (log max(var, eps) + (x - y)^2 / max(var, eps)) / 2 [+ log(2 pi) / 2 if full].

    Source convention: torch.nn.functional.gaussian_nll_loss, with its var shapes (see
    _gaussian_var) and errors (a negative var, checked on arrays; a Node's values are not
    known until evaluation). torch clamps var under no_grad, so its gradient w.r.t. a var
    below eps is that of the unclamped formula at eps; here it is the true derivative of the
    value computed, 0 there.

    Examples:
        >>> import zoo.torch as F
        >>> F.gaussian_nll_loss(np.array([1.0, 2.0]), np.array([0.0, 2.0]),
        ...                     np.array([1.0, 1.0]))   # ((0 + 1) + 0) / 2 / 2
        np.float64(0.25)

    Raises:
        OptionError: a reduction torch does not know; eps < 0.
        InputError: an array var with a negative entry.
        ShapeError: target and input differ in shape (torch broadcasts with a warning).
        ShapeError: var of a shape torch does not accept for input's.
    """
    x, y = _same(input, target, "input", "target")
    return L.gaussian_nll(x, y, _gaussian_var(var, x), eps=eps, full=full,
                          reduction=_legacy(None, None, reduction))


# ---------------------------------------------------------------- binary classification

@_values_checked(input=(lambda p: bool(np.all((p >= 0) & (p <= 1))),
                        "should have all elements between 0 and 1"))
@dual("input", "target", "weight")
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """l = -w (y max(log x, -100) + (1 - y) max(log(1 - x), -100)), x probabilities.

    Source convention: torch.nn.functional.binary_cross_entropy: both logs clamped at -100,
    target of input's shape, weight broadcast to it, input in [0, 1] (checked on arrays).
    torch's backward divides by max(x (1 - x), 1e-12); here the gradient is the derivative
    of the value computed (the same where no clamp is active, 0 where one is).

    Examples:
        >>> import zoo.torch as F
        >>> F.binary_cross_entropy(np.array([0.5, 1.0]), np.array([1.0, 0.0]),
        ...                        reduction="none").round(4)   # log 2, -max(log 0, -100)
        array([  0.6931, 100.    ])

    Raises:
        OptionError: a reduction torch does not know.
        InputError: an array input with an element outside [0, 1].
        ShapeError: target and input differ in shape (torch broadcasts with a warning).
        ShapeError: weight does not broadcast to input's shape.
    """
    x, y = _same(input, target, "input", "target")
    return reduce_loss(L.binary_cross_entropy(x, y, eps=0, log_floor=LOG_FLOOR),
                       _legacy(size_average, reduce, reduction), weights=_fits(weight, x, "weight"))


@dual("input", "target", "weight", "pos_weight")
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """l = w ((1 - y) x + (1 + (q - 1) y) softplus(-x)), q = pos_weight (default 1).

    Source convention: torch.nn.functional.binary_cross_entropy_with_logits: pos_weight
    broadcasts over the trailing (class) dims of input, weight to input's shape; neither may
    enlarge the loss.

    Examples:
        >>> import zoo.torch as F
        >>> F.binary_cross_entropy_with_logits(np.array([0.0, 2.0]), np.array([1.0, 0.0])).round(4)
        np.float64(1.41)
        >>> F.binary_cross_entropy_with_logits(np.array([[0.0, 2.0]]), np.array([[1.0, 0.0]]),
        ...     pos_weight=np.array([2.0, 1.0])).round(4)   # (2 log 2 + softplus(2)) / 2
        np.float64(1.7566)

    Raises:
        OptionError: a reduction torch does not know.
        ShapeError: target and input differ in shape (torch broadcasts with a warning).
        ShapeError: weight or pos_weight does not broadcast to input's shape (or would
            enlarge the loss).
    """
    x, y = _same(input, target, "input", "target")
    return reduce_loss(L.sigmoid_cross_entropy(x, y, pos_weight=_fits(pos_weight, x, "pos_weight")),
                       _legacy(size_average, reduce, reduction), weights=_fits(weight, x, "weight"))


# ---------------------------------------------------------------- multi-class

@options(ignore_index=INTEGER, label_smoothing=Domain(lo=0, hi=1))
@dual("input", "target", "weight")
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Class-index targets: l = -((1 - s) w_y log softmax(x)_y + (s / C) sum_c w_c log
    softmax(x)_c), 0 where y = ignore_index; "mean" = sum(l) / sum of w_y over the targets
    not ignored (NaN when all are ignored, as in torch). Probability targets (a float target
    of input's shape): l = -sum_c w_c z_c log softmax(x)_c, z = (1 - s) z + s / C; "mean"
    divides by the number of samples (N d1 ...).

    Source convention: torch.nn.functional.cross_entropy: input (C,), (N, C) or
    (N, C, d1, ...), the class dim 1 (0 unbatched); weight (C,); ignore_index (default -100)
    only with class indices.

    Examples:
        >>> import zoo.torch as F
        >>> x = np.array([[2.0, 0.0], [0.0, 0.0]])
        >>> F.cross_entropy(x, np.array([0, 1])).round(4), F.cross_entropy(
        ...     x, np.array([0, -100])).round(4)        # the ignored row leaves the mean
        (np.float64(0.41), np.float64(0.1269))
        >>> F.cross_entropy(np.array([[2.0, 0.0]]), np.array([[0.5, 0.5]])).round(4)
        np.float64(1.1269)

    Raises:
        OptionError: a reduction torch does not know.
        OptionError: ignore_index not an integer, or given with probability targets;
            label_smoothing outside [0, 1].
        ShapeError: a 0-d input; class-index target not input's shape without the class dim;
            probability target not input's shape; weight not one per class.
        InputError: a class index outside [0, C) that is not ignore_index (when evaluated).
    """
    x = lg.as_node(input)
    axis, mode = _class_axis(x), _legacy(size_average, reduce, reduction)
    t = lg.as_node(target)
    if lg.dtypes.is_float(t.dtype):
        if ignore_index != -100:
            raise lg.OptionError("cross_entropy: ignore_index is not supported for "
                                 "probability (floating point) targets")
        x, t = _same(x, t, "input", "target")
        return reduce_loss(L.softmax_cross_entropy(x, t, axis=axis,
                                                   label_smoothing=label_smoothing,
                                                   class_weights=weight), mode)
    return L.nll(x, _index_target(x, t, axis), axis=axis, class_weights=weight,
                 ignore_index=ignore_index, label_smoothing=label_smoothing, from_logits=True,
                 reduction=mode)


@options(ignore_index=INTEGER)
@dual("input", "target", "weight")
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """l = -w_y x_y (x log-probabilities), 0 where y = ignore_index; "mean" = sum(l) / sum of
    w_y over the targets not ignored (NaN when all are ignored, as in torch).

    Source convention: torch.nn.functional.nll_loss (class dim 1, 0 unbatched).

    Examples:
        >>> import zoo.torch as F
        >>> F.nll_loss(np.log(np.array([[0.5, 0.5], [0.25, 0.75]])), np.array([0, 1])).round(4)
        np.float64(0.4904)

    Raises:
        OptionError: a reduction torch does not know.
        OptionError: ignore_index not an integer.
        ShapeError: a 0-d input; target not input's shape without the class dim; weight not
            one per class.
        InputError: a class index outside [0, C) that is not ignore_index (when evaluated).
        DTypeError: class-index targets that are not integers.
    """
    x = lg.as_node(input)
    axis = _class_axis(x)
    return L.nll(x, _index_target(x, target, axis), axis=axis, class_weights=weight,
                 ignore_index=ignore_index, reduction=_legacy(size_average, reduce, reduction))


@options(p=Domain(lo=1, hi=2, integer=True), margin=ANY)
@dual("input", "target", "weight")
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """l = sum_{c != y} w_y max(0, margin - x_y + x_c)^p / C, p in {1, 2}.

    Source convention: torch.nn.functional.multi_margin_loss: input (C,) or (N, C).

    Examples:
        >>> import zoo.torch as F
        >>> F.multi_margin_loss(np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([3])).round(4)
        np.float64(0.325)

    Raises:
        OptionError: a reduction torch does not know; p not 1 or 2.
        ShapeError: input not (C,) or (N, C); target not one index per row; weight not one
            per class.
        InputError: a class index outside [0, C) (when evaluated).
        DTypeError: class-index targets that are not integers.
    """
    x = lg.as_node(input)
    if x.ndim not in (1, 2):
        raise lg.ShapeError(f"input: expected (C,) or (N, C), got {fmt_shape(x.shape)}")
    y = _index_target(x, target, x.ndim - 1)
    return reduce_loss(L.multi_margin(x, y, p=p, margin=margin, class_weights=weight),
                       _legacy(size_average, reduce, reduction))


@dual("input", "target")
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """l = sum_{k} sum_{c not a target} max(0, 1 - (x_{y_k} - x_c)) / C, the targets y_k
    being each row's entries before its first -1.

    Source convention: torch.nn.functional.multilabel_margin_loss: input (C,) or (N, C),
    target integers of input's shape.

    Examples:
        >>> import zoo.torch as F
        >>> F.multilabel_margin_loss(np.array([[0.1, 0.2, 0.4, 0.8]]),
        ...                          np.array([[3, 0, -1, 1]])).round(4)   # targets 3 and 0
        np.float64(0.85)

    Raises:
        OptionError: a reduction torch does not know.
        ShapeError: input not (C,) or (N, C); target not of input's shape.
        DTypeError: class-index targets that are not integers.
    """
    x = lg.as_node(input)
    if x.ndim not in (1, 2):
        raise lg.ShapeError(f"input: expected (C,) or (N, C), got {fmt_shape(x.shape)}")
    return reduce_loss(L.multilabel_margin(x, target), _legacy(size_average, reduce, reduction))


@dual("input", "target", "weight")
def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """l = mean_c w_c (softplus(x_c) - y_c x_c) over the last dim, one loss per sample.

    Source convention: torch.nn.functional.multilabel_soft_margin_loss (weight (C,)).

    Examples:
        >>> import zoo.torch as F
        >>> F.multilabel_soft_margin_loss(np.array([[0.0, 2.0]]), np.array([[1.0, 0.0]])).round(4)
        np.float64(1.41)

    Raises:
        OptionError: a reduction torch does not know.
        ShapeError: target and input differ in shape (torch broadcasts with a warning).
        ShapeError: weight not one per class.
    """
    x, y = _same(input, target, "input", "target")
    return reduce_loss(L.multilabel_soft_margin(x, y, axis=-1, class_weights=weight),
                       _legacy(size_average, reduce, reduction))


@dual("input", "target")
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """l = log(1 + e^{-y x}), y in {-1, 1}, element-wise ("mean" over every element).

    Source convention: torch.nn.functional.soft_margin_loss.

    Examples:
        >>> import zoo.torch as F
        >>> F.soft_margin_loss(np.array([0.0, 0.0]), np.array([1.0, -1.0])).round(4)   # log 2
        np.float64(0.6931)

    Raises:
        OptionError: a reduction torch does not know.
        ShapeError: target and input differ in shape (torch broadcasts with a warning).
    """
    x, y = _same(input, target, "input", "target")
    return reduce_loss(L.soft_margin(x, y), _legacy(size_average, reduce, reduction))


# ---------------------------------------------------------------- divergence

@dual("input", "target")
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """l = y (log y - x) element-wise (0 where y = 0), x log-probabilities; log_target:
    e^y (y - x) with y log-probabilities too.

    Source convention: torch.nn.functional.kl_div: "mean" averages over every element (and
    warns, as torch does: it is the KL divided by the number of classes too); "batchmean"
    divides the sum by the batch size, the true KL per sample.

    Examples:
        >>> import zoo.torch as F
        >>> F.kl_div(np.log(np.array([[0.5, 0.5]])), np.array([[0.25, 0.75]]),
        ...          reduction="batchmean").round(4)
        np.float64(0.1308)

    Raises:
        OptionError: a reduction torch does not know ("batchmean" is known here).
        ShapeError: target and input differ in shape (torch broadcasts with a warning).

    Warns:
        UserWarning: reduction="mean" (torch's warning: it divides by the classes too).
    """
    x, y = _same(input, target, "input", "target")
    mode = _legacy(size_average, reduce, reduction, (*MODES, "batchmean"))
    if mode == "mean" and size_average is None and reduce is None:
        warnings.warn("kl_div: reduction 'mean' divides the total loss by both the batch size "
                      "and the support size; 'batchmean' divides only by the batch size, the "
                      "KL divergence's definition", UserWarning, stacklevel=3)
    return reduce_loss(L.kl_divergence(y, x, axis=None, log_input=True, eps=0,
                                       log_target=log_target), mode)


# ---------------------------------------------------------------- ranking and embeddings

@options(margin=ANY)
@dual("input", "target")
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """l = x if y = 1; max(0, margin - x) if y = -1.

    Source convention: torch.nn.functional.hinge_embedding_loss.

    Examples:
        >>> import zoo.torch as F
        >>> F.hinge_embedding_loss(np.array([0.3, 0.3]), np.array([1.0, -1.0]), reduction="none")
        array([0.3, 0.7])

    Raises:
        OptionError: a reduction torch does not know.
        ShapeError: target and input differ in shape (torch broadcasts with a warning).
    """
    x, y = _same(input, target, "input", "target")
    return reduce_loss(L.hinge_embedding(x, y, margin=margin),
                       _legacy(size_average, reduce, reduction))


@options(margin=ANY)
@dual("input1", "input2", "target")
def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """l = max(0, -y (x1 - x2) + margin).

    Source convention: torch.nn.functional.margin_ranking_loss (all three of one number of
    dims).

    Examples:
        >>> import zoo.torch as F
        >>> F.margin_ranking_loss(np.array([0.5, 0.5]), np.array([1.0, 0.0]),
        ...                       np.array([1.0, -1.0]), margin=0.1)   # (0.6 + 0.6) / 2
        np.float64(0.6)

    Raises:
        OptionError: a reduction torch does not know.
        ShapeError: input1, input2 and target differ in number of dims, or do not
            broadcast together.
    """
    x1, x2, y = (lg.as_node(t) for t in (input1, input2, target))
    if not x1.ndim == x2.ndim == y.ndim:
        raise lg.ShapeError(f"margin_ranking_loss: input1, input2 and target must have the same "
                            f"number of dims, got {fmt_shape(x1.shape)}, "
                            f"{fmt_shape(x2.shape)} and {fmt_shape(y.shape)}")
    return reduce_loss(L.margin_ranking(x1, x2, y, margin=margin),
                       _legacy(size_average, reduce, reduction))


@options(margin=COSINE)
@dual("input1", "input2", "target")
def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """l = 1 - cos(x1, x2) if y = 1; max(0, cos(x1, x2) - margin) if y = -1; cos over the
    last dim.

    Source convention: torch.nn.functional.cosine_embedding_loss: (N, D) with target (N,),
    or unbatched (D,) with a 0-d target. torch adds 1e-12 to each squared norm; here the
    norm product is floored at 1e-12 (the same to about 1e-12 relative).

    Examples:
        >>> import zoo.torch as F
        >>> F.cosine_embedding_loss(np.array([[1.0, 0.0], [1.0, 0.0]]),
        ...     np.array([[0.6, 0.8], [0.6, 0.8]]), np.array([1.0, -1.0]),
        ...     reduction="none").round(4)
        array([0.4, 0.6])

    Raises:
        OptionError: a reduction torch does not know; margin outside [-1, 1].
        ShapeError: input1 and input2 differ in shape; target not one per row.
    """
    x1, x2 = _same(input1, input2, "input1", "input2")
    return reduce_loss(L.cosine_embedding(x1, x2, target, margin=margin, eps=1e-12),
                       _legacy(size_average, reduce, reduction))


@options(margin=POSITIVE, p=POSITIVE, eps=NONNEGATIVE)
@dual("anchor", "positive", "negative")
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """l = max(0, d(a, p) - d(a, n) + margin), d(u, v) = ||u - v + eps||_p over the last dim;
    swap: d(a, n) -> min(d(a, n), d(p, n)).

    Source convention: torch.nn.functional.triplet_margin_loss (margin > 0, as torch
    requires).

    Examples:
        >>> import zoo.torch as F
        >>> F.triplet_margin_loss(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]),
        ...                       np.array([[0.0, 3.0]]), eps=0.0)   # max(0, 1 - 3 + 1)
        np.float64(0.0)

    Raises:
        OptionError: a reduction torch does not know; margin or p <= 0; eps < 0.
        ShapeError: anchor, positive and negative do not broadcast together.
    """
    return reduce_loss(L.triplet_margin(anchor, positive, negative, margin=margin, p=p, eps=eps,
                                        swap=swap), _legacy(size_average, reduce, reduction))


@options(margin=POSITIVE)
@dual("anchor", "positive", "negative")
def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """l = max(0, d(a, p) - d(a, n) + margin), d = distance_function (any function of two
    lossgraph nodes giving one distance per sample; default torch.pairwise_distance:
    ||u - v + 1e-6||_2).

    Source convention: torch.nn.functional.triplet_margin_with_distance_loss (margin > 0).

    Examples:
        >>> import zoo.torch as F
        >>> l1 = lambda u, v: lg.sum(lg.abs(u - v), axis=-1)
        >>> F.triplet_margin_with_distance_loss(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]),
        ...     np.array([[0.0, 1.5]]), distance_function=l1)   # 1 - 1.5 + 1
        np.float64(0.5)

    Raises:
        OptionError: a reduction torch does not know; margin <= 0.
        ShapeError: anchor, positive and negative do not broadcast together.
    """
    dist = distance_function or pairwise_distance
    return reduce_loss(L.triplet_margin(anchor, positive, negative, margin=margin, swap=swap,
                                        distance=dist), _legacy(None, None, reduction))


# ---------------------------------------------------------------- sequences

def _padded_targets(targets, lengths):
    """Concatenated targets (sum of lengths,) as (N, S) rows: row n starts at the sum of the
    lengths before it (entries past a row's length are ignored by CTC)."""
    n, total = lengths.shape[0], targets.shape[0]
    if not isinstance(n, int) or not isinstance(total, int):
        raise lg.ShapeError(f"targets: concatenated targets need static shapes, got targets "
                            f"{fmt_shape(targets.shape)} and target_lengths "
                            f"{fmt_shape(lengths.shape)}")
    if total == 0:
        return lg.reshape(targets, (n, 0))
    before = lg.constant(np.tril(np.ones((n, n), dtype=np.int64), -1))
    starts = lg.sum(before * lg.expand_dims(lengths, 0), axis=1)
    index = lg.minimum(lg.expand_dims(starts, 1) + lg.arange(total), total - 1)
    return lg.take_along_axis(lg.broadcast_to(lg.expand_dims(targets, 0), (n, total)), index,
                              axis=1)


@options(blank=INTEGER)
@dual("log_probs", "targets", "input_lengths", "target_lengths")
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """l_n = -log sum_{alignments of targets_n in input_lengths_n frames} prod_t p[t, n, a_t];
    "mean" = mean_n l_n / max(target_lengths_n, 1).

    log_probs (T, N, C) normalized log-probabilities, or unbatched (T, C); targets padded
    (N, S) or concatenated (sum(target_lengths),) ((S,) unbatched); lengths (N,) (0-d
    unbatched). An impossible alignment gives +inf, 0 with zero_infinity=True.

    Source convention: torch.nn.functional.ctc_loss. torch's gradient w.r.t. log_probs is
    exp(log_probs) - posterior, the gradient as if log_softmax came first (it matches
    through a log_softmax, not for free log-probs); here it is the true derivative of the
    value computed, -posterior (through log_softmax the two agree).

    Examples:
        >>> import zoo.torch as F
        >>> log_probs = np.log(np.full((2, 1, 3), 1 / 3))   # T=2, N=1, C=3, uniform
        >>> F.ctc_loss(log_probs, np.array([[1]]), np.array([2]), np.array([1]),
        ...            reduction="none").round(4)         # -log(3 / 9)
        array([1.0986])

    Raises:
        OptionError: a reduction torch does not know.
        OptionError: blank not an integer.
        ShapeError: log_probs not (T, N, C) or (T, C); targets or lengths that do not fit
            the batch; concatenated targets without static shapes.
        DTypeError: targets or lengths that are not integers; a non-numeric log_probs.
    """
    lp, t = lg.as_node(log_probs), as_int(targets, "targets")
    il, tl = as_int(input_lengths, "input_lengths"), as_int(target_lengths, "target_lengths")
    mode = _legacy(None, None, reduction)
    unbatched = lp.ndim == 2
    if unbatched:
        lp, t = lg.expand_dims(lp, 1), lg.reshape(t, (1, -1) if t.ndim == 1 else t.shape)
        il, tl = lg.reshape(il, (1,)), lg.reshape(tl, (1,))
    elif lp.ndim != 3:
        raise lg.ShapeError(f"log_probs: expected (T, N, C) or unbatched (T, C), got "
                            f"{fmt_shape(lp.shape)}")
    elif t.ndim == 1:
        t = _padded_targets(t, tl)
    loss = L.ctc(lp, t, il, tl, blank=blank, zero_infinity=zero_infinity,
                 per_label=mode == "mean", reduction=mode)
    return lg.reshape(loss, ()) if unbatched and mode == "none" else loss
