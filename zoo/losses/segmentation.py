"""Segmentation overlap scores and losses. The scores (dice, hard dice, IoU, Tversky) are
coefficients (1 = perfect overlap; use 1 - score as a loss), one per sample: sums run over
`axis`, by default every axis but the first (TensorLayer's (1, 2, 3) for [B, H, W, C])."""
from __future__ import annotations

import lossgraph as lg
from lossgraph.shapes import fmt_shape

from ..options import ANY, COUNT, NONNEGATIVE, optional, options
from ..reduction import check_choice
from .define import as_float, loss

__all__ = ["dice_coefficient", "hard_dice", "iou", "tversky", "weak_cross_entropy_2d"]

# the "mass" each dice variant sums in its denominator
_MASS = {"jaccard": lg.square, "sorensen": lambda v: v}


def _axes(x, axis):
    return tuple(range(1, x.ndim)) if axis is None else axis


def _binary(x, threshold, dtype):
    """[x > threshold] as 0/1 of dtype (strict, as TensorLayer)."""
    return lg.cast(as_float(x) > threshold, dtype)


@options(smooth=NONNEGATIVE)
@loss("output", "target")
def dice_coefficient(output, target, loss_type="jaccard", axis=None, smooth=1e-5):
    """D = (2 sum o t + s) / (sum o^2 + sum t^2 + s) ("jaccard"), or sum o + sum t ("sorensen").

    Sums over axis; two empty inputs give 1.

    Source convention: TensorLayer dice_coe before its batch mean ("jaccard" is still this
    dice form with squared sums, not IoU).

    Examples:
        >>> losses.dice_coefficient(np.array([[1.0, 1.0, 0.0, 0.0]]),
        ...     np.array([[1.0, 0.0, 0.0, 0.0]]), axis=1, smooth=0.0)
        array([0.66666667])

    Raises:
        OptionError: smooth outside its domain (the message gives the domain and the value).
    """
    mass = _MASS[check_choice("loss_type", loss_type, tuple(_MASS))]
    o, t = as_float(output), as_float(target)
    axis = _axes(o, axis)
    inter = lg.sum(o * t, axis=axis)
    return (2.0 * inter + smooth) / (lg.sum(mass(o), axis=axis) + lg.sum(mass(t), axis=axis)
                                     + smooth)


@options(threshold=ANY, smooth=NONNEGATIVE)
@loss("output", "target")
def hard_dice(output, target, threshold=0.5, axis=None, smooth=1e-5):
    """D = (2 sum o' t' + s) / (sum o' + sum t' + s), o' = [o > thr], t' = [t > thr].

    Thresholded: an evaluation score with zero gradient.

    Source convention: TensorLayer dice_hard_coe before its batch mean (strict threshold;
    TensorLayer casts to float32, here the input precision is kept).

    Examples:
        >>> losses.hard_dice(np.array([[0.9, 0.6, 0.2, 0.1]]), np.array([[1.0, 0.0, 0.0, 0.0]]),
        ...     axis=1, smooth=0.0)
        array([0.66666667])

    Raises:
        OptionError: threshold, smooth outside its domain (the message gives the domain and the
            value).
    """
    o = as_float(output)
    return dice_coefficient(_binary(o, threshold, o.dtype), _binary(target, threshold, o.dtype),
                            loss_type="sorensen", axis=_axes(o, axis), smooth=smooth)


@options(threshold=ANY, smooth=NONNEGATIVE)
@loss("output", "target")
def iou(output, target, threshold=0.5, axis=None, smooth=1e-5):
    """IoU = (sum p q + s) / (sum max(p, q) + s), p = [o > thr], q = [t > thr].

    Thresholded: an evaluation score with zero gradient.

    Source convention: TensorLayer iou_coe before its batch mean (union [p + q >= 1]).

    Examples:
        >>> losses.iou(np.array([[0.9, 0.6, 0.2, 0.1]]), np.array([[1.0, 0.0, 0.0, 0.0]]),
        ...     axis=1, smooth=0.0)
        array([0.5])

    Raises:
        OptionError: threshold, smooth outside its domain (the message gives the domain and the
            value).
    """
    o = as_float(output)
    p, q = _binary(o, threshold, o.dtype), _binary(target, threshold, o.dtype)
    axis = _axes(o, axis)
    return (lg.sum(p * q, axis=axis) + smooth) / (lg.sum(lg.maximum(p, q), axis=axis) + smooth)


@options(alpha=NONNEGATIVE, beta=NONNEGATIVE, smooth=NONNEGATIVE)
@loss("pred", "target")
def tversky(pred, target, alpha=0.5, beta=0.5, axis=None, smooth=1e-5):
    """TI = (TP + s) / (TP + alpha FP + beta FN + s), the Tversky index.

    TP = sum p t, FP = sum p (1 - t), FN = sum (1 - p) t over axis; alpha = beta = 0.5 is
    soft dice, alpha = beta = 1 soft IoU.

    Source convention: Tversky index of Salehi et al. 2017 (the coefficient; their loss is
    1 - TI).

    Examples:
        >>> losses.tversky(np.array([[1.0, 1.0, 0.0, 0.0]]), np.array([[1.0, 0.0, 0.0, 0.0]]),
        ...     alpha=0.3, beta=0.7, axis=1, smooth=0.0)
        array([0.76923077])

    Raises:
        OptionError: alpha, beta, smooth outside its domain (the message gives the domain and
            the value).
    """
    p, t = as_float(pred), as_float(target)
    axis = _axes(p, axis)
    tp = lg.sum(p * t, axis=axis)
    fp = lg.sum(p * (1.0 - t), axis=axis)
    fn = lg.sum((1.0 - p) * t, axis=axis)
    return (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)


@options(epsilon=ANY, num_classes=optional(COUNT))
@loss("y_pred", "y_true", "head")
def weak_cross_entropy_2d(y_pred, y_true, epsilon=1e-4, head=None, num_classes=None):
    """l = -sum_c head_c z_c log_softmax(x + epsilon)_c over the last (class) axis, per pixel.

    log_softmax keeps it finite where a naive log(softmax) underflows to NaN.

    Source convention: TFLearn weak_cross_entropy_2d before its mean over pixels (epsilon
    added to the logits, where it cancels; head an optional per-class weight).

    Examples:
        >>> losses.weak_cross_entropy_2d(np.zeros((1, 1, 1, 2)), np.array([[[[1.0, 0.0]]]]),
        ...     epsilon=0.0).round(4)
        array([[[0.6931]]])

    Raises:
        OptionError: epsilon, num_classes outside its domain (the message gives the domain and
            the value).
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    x, z = as_float(y_pred), as_float(y_true)
    if x.shape != z.shape:
        raise lg.ShapeError(f"y_true: shape {fmt_shape(z.shape)} but y_pred has shape "
                            f"{fmt_shape(x.shape)} (classes last in both)")
    if num_classes is not None and num_classes != z.shape[-1]:
        raise lg.ShapeError(f"num_classes: {num_classes!r}, but y_true has shape "
                            f"{fmt_shape(z.shape)} (classes last)")
    if head is not None:
        head = as_float(head)
        if head.shape not in ((), z.shape[-1:]):
            raise lg.ShapeError(f"head: expected one weight per class, shape "
                                f"{fmt_shape(z.shape[-1:])}, got {fmt_shape(head.shape)}")
        z = z * head
    return -lg.sum(z * lg.log_softmax(x + epsilon, axis=-1), axis=-1)
