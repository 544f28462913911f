"""Weight penalties R(w, scale): each returns the scalar penalty itself (already reduced, no
`reduction=` keyword). li / lo / maxnorm_o / maxnorm_i act on a 2-D W of shape
[n_in, n_out] (TensorLayer's layout: rows are input neurons, columns output neurons)."""
from __future__ import annotations

import lossgraph as lg
from lossgraph.shapes import fmt_shape

from ..dual import dual
from ..options import NONNEGATIVE, options
from .define import as_float
from .divergence import norm

__all__ = ["l1", "l2", "li", "lo", "maxnorm", "maxnorm_o", "maxnorm_i"]


def _matrix(w):
    w = as_float(w)
    if w.ndim != 2:
        raise lg.ShapeError(f"w: expected a 2-D weight matrix [n_in, n_out], got shape "
                            f"{fmt_shape(w.shape)}")
    return w


@options(scale=NONNEGATIVE)
@dual("w", "scale")
def l1(w, scale=1.0):
    """R = scale * sum |w|.

    Source convention: TFLearn regularizers.L1 with scale = wd.

    Examples:
        >>> losses.l1(np.array([[1.0, -2.0], [0.0, 3.0]]), scale=0.1).round(4)
        np.float64(0.6)

    Raises:
        OptionError: scale outside its domain (the message gives the domain and the value).
    """
    return scale * lg.sum(lg.abs(as_float(w)))


@options(scale=NONNEGATIVE)
@dual("w", "scale")
def l2(w, scale=1.0):
    """R = scale * sum w^2 (no 1/2).

    Source convention: TFLearn regularizers.L2 = wd * tf.nn.l2_loss(w) = l2(w, wd / 2).

    Examples:
        >>> losses.l2(np.array([[1.0, -2.0], [0.0, 3.0]]), scale=0.1).round(4)
        np.float64(1.4)

    Raises:
        OptionError: scale outside its domain (the message gives the domain and the value).
    """
    return scale * lg.sum(lg.square(as_float(w)))


@options(scale=NONNEGATIVE)
@dual("w", "scale")
def li(w, scale=1.0):
    """R = scale * sum_i ||W_i,:||_2, the rows' group norm; a zero row has gradient 0.

    Source convention: TensorLayer li_regularizer (removes input neurons).

    Examples:
        >>> losses.li(np.array([[3.0, 4.0], [0.0, 1.0]]))
        np.float64(6.0)

    Raises:
        OptionError: scale outside its domain (the message gives the domain and the value).
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    return scale * lg.sum(norm(_matrix(w), 1))


@options(scale=NONNEGATIVE)
@dual("w", "scale")
def lo(w, scale=1.0):
    """R = scale * sum_j ||W_:,j||_2, the columns' group norm; a zero column has gradient 0.

    Source convention: TensorLayer lo_regularizer (removes output neurons).

    Examples:
        >>> losses.lo(np.array([[3.0, 4.0], [0.0, 3.0]]))
        np.float64(8.0)

    Raises:
        OptionError: scale outside its domain (the message gives the domain and the value).
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    return scale * lg.sum(norm(_matrix(w), 0))


@options(scale=NONNEGATIVE)
@dual("w", "scale")
def maxnorm(w, scale=1.0):
    """R = scale * max |W| over every element (any rank).

    Source convention: TensorLayer maxnorm_regularizer.

    Examples:
        >>> losses.maxnorm(np.array([[1.0, -5.0], [2.0, 3.0]]))
        np.float64(5.0)

    Raises:
        OptionError: scale outside its domain (the message gives the domain and the value).
    """
    return scale * lg.max(lg.abs(as_float(w)))


@options(scale=NONNEGATIVE)
@dual("w", "scale")
def maxnorm_o(w, scale=1.0):
    """R = scale * sum_j max_i |W_ij|, per-column max.

    Source convention: TensorLayer maxnorm_o_regularizer.

    Examples:
        >>> losses.maxnorm_o(np.array([[1.0, -5.0], [2.0, 3.0]]))
        np.float64(7.0)

    Raises:
        OptionError: scale outside its domain (the message gives the domain and the value).
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    return scale * lg.sum(lg.max(lg.abs(_matrix(w)), axis=0))


@options(scale=NONNEGATIVE)
@dual("w", "scale")
def maxnorm_i(w, scale=1.0):
    """R = scale * sum_i max_j |W_ij|, per-row max.

    Source convention: TensorLayer maxnorm_i_regularizer.

    Examples:
        >>> losses.maxnorm_i(np.array([[1.0, -5.0], [2.0, 3.0]]))
        np.float64(8.0)

    Raises:
        OptionError: scale outside its domain (the message gives the domain and the value).
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    return scale * lg.sum(lg.max(lg.abs(_matrix(w)), axis=1))
