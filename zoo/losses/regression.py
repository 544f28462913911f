"""Regression losses: elementwise in the difference d = pred - target, unless said otherwise."""
from __future__ import annotations

import math

import lossgraph as lg

from ..options import NONNEGATIVE, POSITIVE, UNIT, options
from .define import as_float, loss, same_shape

__all__ = ["squared_error", "absolute_error", "normalized_squared_error", "huber", "smooth_l1",
           "berhu", "log_cosh", "poisson", "mean_pairwise_squared_error", "quantile",
           "gaussian_nll"]


def _diff(pred, target):
    pred, target = same_shape(pred, target, "pred", "target")
    return pred - target


@loss("pred", "target")
def squared_error(pred, target):
    """l = (pred - target)^2.

    Examples:
        >>> losses.squared_error(np.array([1.0, 2.0]), np.array([0.0, 4.0]))
        array([1., 4.])

    Raises:
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    return lg.square(_diff(pred, target))


@loss("pred", "target")
def absolute_error(pred, target):
    """l = |pred - target|.

    Examples:
        >>> losses.absolute_error(np.array([1.0, 2.0]), np.array([0.0, 4.0]), reduction="mean")
        np.float64(1.5)

    Raises:
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    return lg.abs(_diff(pred, target))


@loss("pred", "target")
def normalized_squared_error(pred, target, axis=-1):
    """l = ||pred - target||_axis / ||target||_axis (TensorLayer's normalized MSE; a zero target
    row divides by zero, as the formula does).

    Examples:
        >>> losses.normalized_squared_error(np.array([[3.0, 4.0]]),
        ...     np.array([[0.0, 5.0]])).round(4)
        array([0.6325])

    Raises:
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    d = _diff(pred, target)
    return lg.sqrt(lg.sum(lg.square(d), axis=axis)) / lg.sqrt(lg.sum(lg.square(target),
                                                                      axis=axis))


@options(delta=POSITIVE)
@loss("pred", "target")
def huber(pred, target, delta=1.0):
    """l = d^2 / 2 if |d| <= delta else delta (|d| - delta / 2)   (Keras / TensorLayer form).

    Computed as TF does, q^2 / 2 + delta (|d| - q) with q = min(|d|, delta): one expression with
    no branch, whose derivative simplifies to clip(d, -delta, delta).

    Examples:
        >>> losses.huber(np.array([0.5, 3.0]), np.array([0.0, 0.0]))   # 0.5^2 / 2, 1 (3 - 1/2)
        array([0.125, 2.5  ])

    Raises:
        OptionError: delta outside its domain (the message gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    a = lg.abs(_diff(pred, target))
    if delta == math.inf:       # no linear part (and inf * 0 would be NaN)
        return 0.5 * lg.square(a)
    q = lg.minimum(a, delta)
    return 0.5 * lg.square(q) + delta * (a - q)


@options(beta=NONNEGATIVE)
@loss("pred", "target")
def smooth_l1(pred, target, beta=1.0):
    """l = d^2 / (2 beta) if |d| < beta else |d| - beta / 2   (= huber / beta; MXNet HuberLoss
    with rho = beta, torch SmoothL1Loss); beta = 0 is plain L1.

    Examples:
        >>> losses.smooth_l1(np.array([0.5, 3.0]), np.array([0.0, 0.0]))
        array([0.125, 2.5  ])

    Raises:
        OptionError: beta outside its domain (the message gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    a = lg.abs(_diff(pred, target))
    if beta == 0:
        return a
    return lg.where(a < beta, (0.5 / beta) * lg.square(a), a - 0.5 * beta)


@options(c=NONNEGATIVE, eps=NONNEGATIVE)
@loss("pred", "target", "c")
def berhu(pred, target, c=1.0, eps=0.0):
    """l = |d| if |d| <= c else (d^2 + c^2) / (2 (c + eps))   (reverse Huber; the slope term is
    0 when c + eps = 0, as TensorLayer's divide_no_nan).

    Examples:
        >>> losses.berhu(np.array([0.5, 3.0]), np.array([0.0, 0.0]))   # |d|, (d^2 + 1) / 2
        array([0.5, 5. ])

    Raises:
        OptionError: c, eps outside its domain (the message gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    a = lg.abs(_diff(pred, target))
    c = lg.as_node(c)
    ce = c + eps
    q = lg.where(lg.not_equal(ce, 0.0), 0.5 / lg.where(lg.not_equal(ce, 0.0), ce, 1.0), 0.0)
    return lg.where(a <= c, a, (lg.square(a) + lg.square(c)) * q)


@loss("pred", "target")
def log_cosh(pred, target):
    """l = log cosh(d) = |d| + softplus(-2|d|) - log 2   (finite for any d).

    Examples:
        >>> losses.log_cosh(np.array([0.0, 1000.0]),
        ...     np.array([0.0, 0.0])).round(4)   # finite far out
        array([  0.    , 999.3069])

    Raises:
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    a = lg.abs(_diff(pred, target))
    return a + lg.softplus(-2.0 * a) - math.log(2.0)


@options(eps=NONNEGATIVE)
@loss("pred", "target")
def poisson(pred, target, log_input=False, eps=1e-7, full=False):
    """l = pred - target log(pred + eps)   (rate input); exp(pred) - target pred (log_input);
    full=True adds Stirling's term t log t - t + log(2 pi t) / 2 where t > 1 (0 elsewhere).

    Source convention: torch.nn.functional.poisson_nll_loss (log_input True, eps 1e-8,
    full False: the log(t!) constant is left out unless full).

    Examples:
        >>> losses.poisson(np.array([1.0, 2.0]), np.array([1.0, 0.0]), eps=0.0)
        array([1., 2.])

    Raises:
        OptionError: eps outside its domain (the message gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    pred, target = same_shape(pred, target, "pred", "target")
    if log_input:
        out = lg.exp(pred) - target * pred
    else:
        out = pred - lg.xlogy(target, pred + eps)
    return out + _stirling(target) if full else out


def _stirling(t):
    """log(t!) ~ t log t - t + log(2 pi t) / 2 for t > 1, and 0 for t <= 1."""
    big = t > 1.0
    s = lg.where(big, t, 2.0)
    return lg.where(big, s * lg.log(s) - s + 0.5 * lg.log(2 * math.pi * s), 0.0)


@loss("pred", "target")
def mean_pairwise_squared_error(pred, target):
    """l_b = (1 / n^2) sum_{i,j} (d_i - d_j)^2 = 2 (sum d^2 / n - (sum d)^2 / n^2) over each
    sample's n elements (all ordered pairs, i = j included: TF contrib's computation).

    Examples:
        >>> losses.mean_pairwise_squared_error(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]))
        array([0.5])

    Raises:
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    d = _diff(pred, target)
    rest = tuple(range(1, d.ndim))
    n = lg.size(d, rest)
    return 2.0 * (lg.sum(lg.square(d), axis=rest) / n - lg.square(lg.sum(d, axis=rest) / n))


@options(q=UNIT)
@loss("pred", "target")
def quantile(pred, target, q=0.5):
    """l = max(q (target - pred), (q - 1) (target - pred))   (pinball loss).

    Examples:
        >>> losses.quantile(np.array([1.0, 3.0]), np.array([2.0, 2.0]), q=0.9).round(4)
        array([0.9, 0.1])

    Raises:
        OptionError: q outside its domain (the message gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    e = -_diff(pred, target)
    return lg.maximum(q * e, (q - 1.0) * e)


@options(eps=NONNEGATIVE)
@loss("mean", "target", "var")
def gaussian_nll(mean, target, var, eps=1e-6, full=False):
    """l = (log max(var, eps) + (target - mean)^2 / max(var, eps)) / 2 [+ log(2 pi) / 2].

    Examples:
        >>> losses.gaussian_nll(np.array([0.0]), np.array([1.0]), np.array([1.0]))
        array([0.5])

    Raises:
        OptionError: eps outside its domain (the message gives the domain and the value).
        ShapeError: the prediction and the target differ in shape (neither is a scalar).
    """
    v = lg.maximum(as_float(var), eps)
    out = 0.5 * (lg.log(v) + lg.square(_diff(target, mean)) / v)
    return out + 0.5 * math.log(2 * math.pi) if full else out
