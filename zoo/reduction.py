"""Weighting and reduction, once, for every loss and flavour.

    reduce(loss, reduction, weights=None, batch_axis=0, weights_align="trailing")

reduction:
  "none"                     w * l, the loss's own shape
  "sum"                      sum(w * l)
  "mean"                     mean(w * l) over every element
  "sum_by_nonzero_weights"   sum(w * l) / #{elements whose broadcast weight != 0}; 0 when
                             no weight is non-zero (TF contrib compute_weighted_loss)
  "weighted_mean"            sum(w * l) / sum(w broadcast); 0 when sum(w) == 0
  "batch"                    mean of w * l over every axis but batch_axis (MXNet Gluon)
  "batchmean"                sum(w * l) / l.shape[0] (sum(w * l) for a 0-d loss): torch
                             kl_div's "batchmean", the true KL per sample
  "sum_over_weights"         sum(l) / sum(w broadcast): l already carries its weights, w only
                             normalizes (torch nll_loss / cross_entropy: the mean divides by
                             the sum of the selected class weights; mse_loss / l1_loss with a
                             weight); NaN when sum(w) == 0, as in torch (an all-ignored batch
                             is 0/0, genuinely undefined)
weights: None, a scalar, per-sample or per-element. "trailing" aligns weight dims with the
loss's last axes (NumPy broadcasting); "leading" aligns them with its first, batch-first
axes (TF contrib: a [batch] weight scales each sample's row). Weights may never enlarge the
loss: a shape that does not broadcast *to* the loss is a ShapeError naming `weights`.
"""
from __future__ import annotations

import lossgraph as lg
from lossgraph.names import quote
from lossgraph.shapes import fmt_shape

MODES = ("none", "sum", "mean", "sum_by_nonzero_weights", "weighted_mean", "batch", "batchmean",
         "sum_over_weights")
# modes whose weights divide but do not multiply (the loss already carries them)
_DIVIDE_ONLY = ("sum_over_weights",)
ALIGNS = ("trailing", "leading")


def check_choice(arg, value, allowed):
    """OptionError naming arg unless value is one of allowed."""
    if value not in allowed:
        raise lg.OptionError(f"{arg}: expected one of {', '.join(map(repr, allowed))}, "
                             f"got {quote(value)}")
    return value


def align_weights(loss, weights, align="trailing"):
    """weights as a node that broadcasts to loss's shape (or None)."""
    if weights is None:
        return None
    check_choice("weights_align", align, ALIGNS)
    w = lg.as_node(weights)
    if w.dtype == "bool" or lg.dtypes.is_int(w.dtype):
        w = lg.cast(w, "float")
    if align == "leading" and 0 < w.ndim:
        if w.ndim > 1 and w.shape[-1] == 1:
            w = lg.squeeze(w, -1)
        if w.ndim > loss.ndim:
            raise lg.ShapeError(f"weights: shape {fmt_shape(w.shape)} has more dims than the "
                                f"loss {fmt_shape(loss.shape)}")
        w = lg.reshape(w, w.shape + (1,) * (loss.ndim - w.ndim))
    try:
        shape = lg.shapes.broadcast_shapes(("weights", w.shape), ("the loss", loss.shape))
    except lg.ShapeError as e:
        raise lg.ShapeError(f"weights: shape {fmt_shape(w.shape)} does not broadcast to the "
                            f"loss shape {fmt_shape(loss.shape)} ({e})") from None
    if shape != loss.shape:
        raise lg.ShapeError(f"weights: shape {fmt_shape(w.shape)} would enlarge the loss of "
                            f"shape {fmt_shape(loss.shape)} to {fmt_shape(shape)}")
    return w


def safe_divide(total, count):
    """total / count, and 0 where count is 0 (never NaN)."""
    return lg.where(count > 0, total / lg.maximum(count, 1e-30), 0.0)


def _sum_by_nonzero(wl, w, loss):
    if w is None:
        return lg.mean(wl)
    present = lg.cast(lg.not_equal(lg.broadcast_to(w, loss.shape), 0.0), "float")
    return safe_divide(lg.sum(wl), lg.sum(present))


def _weighted_mean(wl, w, loss):
    if w is None:
        return lg.mean(wl)
    return safe_divide(lg.sum(wl), lg.sum(lg.broadcast_to(w, loss.shape)))


def _batch(wl, batch_axis):
    axis = lg.shapes.normalize_axis(batch_axis, wl.ndim, "batch_axis")[0] if wl.ndim else None
    others = tuple(a for a in range(wl.ndim) if a != axis)
    return lg.mean(wl, axis=others) if others else wl


def _batchmean(wl):
    return lg.sum(wl) / lg.size(wl, 0) if wl.ndim else wl


def _sum_over_weights(l, w):
    if w is None:
        raise lg.OptionError("weights: reduction 'sum_over_weights' divides by the sum of the "
                             "weights, got weights=None")
    return lg.sum(l) / lg.sum(lg.broadcast_to(w, l.shape))


_REDUCERS = {
    "none": lambda wl, w, loss, b: wl,
    "sum": lambda wl, w, loss, b: lg.sum(wl),
    "mean": lambda wl, w, loss, b: lg.mean(wl),
    "sum_by_nonzero_weights": lambda wl, w, loss, b: _sum_by_nonzero(wl, w, loss),
    "weighted_mean": lambda wl, w, loss, b: _weighted_mean(wl, w, loss),
    "batch": lambda wl, w, loss, b: _batch(wl, b),
    "batchmean": lambda wl, w, loss, b: _batchmean(wl),
    "sum_over_weights": lambda wl, w, loss, b: _sum_over_weights(loss, w),
}


def reduce_class_weighted(loss, reduction, selected):
    """torch's class-weighted reduction of a loss that already carries each element's class
    weight: "none", "sum", or "mean" = sum(l) / sum(selected), selected = the class weight of
    each non-ignored target (0 for ignored ones); NaN for an all-ignored batch."""
    check_choice("reduction", reduction, ("none", "sum", "mean"))
    if reduction == "mean":
        return reduce(loss, "sum_over_weights", weights=selected)
    return reduce(loss, reduction)


def reduce(loss, reduction="none", weights=None, *, batch_axis=0, weights_align="trailing"):
    """Weight the loss, then reduce it (see the module docstring for the modes)."""
    check_choice("reduction", reduction, MODES)
    loss = lg.as_node(loss)
    w = align_weights(loss, weights, weights_align)
    wl = loss if w is None or reduction in _DIVIDE_ONLY else loss * w
    return _REDUCERS[reduction](wl, w, loss, batch_axis)
