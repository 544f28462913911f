"""Sequence losses: CTC over unsegmented label sequences, and per-token cross-entropy."""
from __future__ import annotations

import lossgraph as lg
from lossgraph.names import quote
from lossgraph.ops.ctc import ctc_loss
from lossgraph.shapes import dims_product, fmt_shape

from ..dual import dual
from ..options import INTEGER, options
from ..reduction import reduce

__all__ = ["ctc", "sequence_cross_entropy"]

# layout name -> the permutation that brings the tensor to the op's (T, N, C) / (N, S)
_LAYOUTS = {"TNC": (0, 1, 2), "NTC": (1, 0, 2)}
_LABEL_LAYOUTS = {"NS": (0, 1), "NT": (0, 1), "SN": (1, 0), "TN": (1, 0)}


def _option(value, table, arg):
    if value not in table:
        raise lg.OptionError(f"ctc: {arg} must be one of {', '.join(map(repr, table))}, "
                             f"got {quote(value)}")
    return table[value]


def _dim(x, axis):
    """x.shape[axis] as an int scalar node (symbolic dims are resolved at evaluation)."""
    d = x.shape[axis]
    return lg.constant(d) if isinstance(d, int) else lg.cast(lg.size(x, axis), "int")


def _lengths_from_padding(labels, padding):
    """Index of the first `padding` in each row, or the row width S (MXNet's rule)."""
    if labels.shape[1] == 0:
        return lg.broadcast_to(lg.constant(0), labels.shape[:1])
    width = _dim(labels, 1)
    first = lg.where(lg.equal(labels, padding), lg.arange(labels.shape[1]), width)
    return lg.min(first, axis=1)


@options(blank=INTEGER)
@dual("log_probs", "labels", "input_lengths", "label_lengths", "weights")
def ctc(log_probs, labels, input_lengths=None, label_lengths=None, blank=0, *,
        from_logits=False, layout="TNC", label_layout="NS", padding=None,
        zero_infinity=False, per_label=False, reduction="none", weights=None):
    """CTC per sample: l_n = -log sum_{alignments a of y_n in T_n frames} prod_t p[t, n, a_t].

    An alignment is a path of classes, one per frame, that collapses to the labels once
    repeats are merged and blanks dropped.
    log_probs: normalized log-probabilities (T, N, C) for layout "TNC" or (N, T, C) for "NTC";
    with from_logits=True they are logits and log_softmax over C is applied first.
    labels: int (N, S) ("NS") or (S, N) ("SN"); "NT"/"TN" are accepted as MXNet spells them.
    blank: the blank class; 0 (torch, Axon, MXNet blank_label='first') or -1 = C-1, the last
    class (MXNet Gluon, TF). input_lengths: frames used per sample (default: all T).
    label_lengths: labels used per sample; when None they come from `padding`: each row ends
    at its first entry equal to `padding`, and with padding=None every row uses all S labels.
    An alignment that cannot exist gives +inf; zero_infinity=True gives 0 instead. per_label
    divides each loss by max(label length, 1); with reduction="mean" that is torch's and
    Axon's "mean". The gradient is the forward-backward posterior (lossgraph.ops.ctc).

    Source convention: torch.nn.functional.ctc_loss (TNC normalized log-probs, blank 0, +inf
    unless zero_infinity). MXNet Gluon CTCLoss = from_logits=True, layout="NTC", blank=-1,
    padding=-1 when no label_lengths (blank_label='first' pads with 0), zero_infinity=True
    (warp-ctc returns cost 0 when L + repeats > T), per-sample losses. Axon
    connectionist_temporal_classification = layout="NTC", blank=0, label_lengths given,
    log-prob input, reduction :none (":mean" = per_label=True, reduction="mean"); exact here,
    where Axon adds 1e-7 inside every log-sum (about 1e-3 relative).

    Examples:
        >>> lp = np.log(np.full((2, 1, 2), 0.5))      # T=2 frames, N=1, classes {blank, 1}
        >>> losses.ctc(lp, np.array([[1]])).round(4)  # 3 of the 4 paths emit [1]: -log(3/4)
        array([0.2877])

    Raises:
        OptionError: blank outside its domain (the message gives the domain and the value); a
            reduction zoo.reduction does not know.
    """
    log_probs, labels = lg.as_node(log_probs), lg.as_node(labels)
    log_probs = lg.transpose(log_probs, _option(layout, _LAYOUTS, "layout"))
    labels = lg.transpose(labels, _option(label_layout, _LABEL_LAYOUTS, "label_layout"))
    if from_logits:
        log_probs = lg.log_softmax(log_probs, axis=-1)
    if input_lengths is None:
        input_lengths = lg.broadcast_to(_dim(log_probs, 0), log_probs.shape[1:2])
    if label_lengths is None:
        label_lengths = (lg.broadcast_to(_dim(labels, 1), labels.shape[:1]) if padding is None
                         else _lengths_from_padding(labels, padding))
    label_lengths = lg.as_node(label_lengths)
    loss = ctc_loss(log_probs, labels, input_lengths, label_lengths, blank=blank,
                    zero_infinity=zero_infinity)
    if per_label:
        loss = loss / lg.maximum(lg.cast(label_lengths, loss.dtype), 1.0)
    return reduce(loss, reduction=reduction, weights=weights)


def _token_shaped(x, shape, arg, logits):
    """x with the token shape of logits; TensorLayer's flat (B*T, C) logits take (B, T)."""
    if x.shape == shape:
        return x
    if len(shape) == 1 and dims_product(x.shape) == shape[0]:
        return lg.reshape(x, shape)
    raise lg.ShapeError(f"sequence_cross_entropy: {arg} has shape {fmt_shape(x.shape)} but "
                        f"logits of shape {fmt_shape(logits.shape)} need {fmt_shape(shape)} "
                        f"(or any shape with {shape[0] if len(shape) == 1 else 'that'} "
                        f"elements for 2-D logits)")


@dual("logits", "targets", "mask")
def sequence_cross_entropy(logits, targets, mask=None, *, reduction="none",
                           return_details=False):
    """Per-token softmax CE: ce_k = logsumexp(logits_k) - logits_k[targets_k], mask as weights.

    logits: (..., C) with targets' shape in front, or TensorLayer's flat (B*T, C) against
    targets (B, T). mask: targets' shape, 0/1 (any numbers act as weights).
    return_details=True returns (loss, ce * m, m, targets) with the token shape of logits,
    like TensorLayer's (loss, losses, weights, targets).

    Source convention: TensorLayer cross_entropy_seq(logits, t, batch_size) is
    reduction="sum" divided by batch_size (its legacy_seq2seq also divides each token by
    1 + 1e-12, a relative 1e-12 left out here); cross_entropy_seq_with_mask is
    reduction="weighted_mean" with the mask, sum(ce m) / sum(m), which is 0 here (NaN in
    TensorLayer) for an all-zero mask.

    Examples:
        >>> x, t, m = np.zeros((2, 3, 4)), np.array([[0, 1, 2], [3, 0, 0]]), np.array([[1, 1,
        ...     1], [1, 0, 0]])
        >>> losses.sequence_cross_entropy(x, t, mask=m).round(4)  # log 4 per kept token
        array([[1.3863, 1.3863, 1.3863],
               [1.3863, 0.    , 0.    ]])

    Raises:
        OptionError: a reduction zoo.reduction does not know.
        ShapeError: the operands' shapes do not fit (the message names them).
    """
    logits, targets = lg.as_node(logits), lg.as_node(targets)
    if logits.ndim < 2:
        raise lg.ShapeError(f"sequence_cross_entropy: logits need a class axis and at least "
                            f"one token axis, got shape {fmt_shape(logits.shape)}")
    shape = logits.shape[:-1]
    targets = _token_shaped(targets, shape, "targets", logits)
    ce = -lg.pick(lg.log_softmax(logits, axis=-1), targets)
    if mask is not None:
        mask = lg.cast(_token_shaped(lg.as_node(mask), shape, "mask", logits), ce.dtype)
    loss = reduce(ce, reduction=reduction, weights=mask)
    if not return_details:
        return loss
    m = lg.ones_like(ce) if mask is None else mask
    return loss, ce * m, m, targets
