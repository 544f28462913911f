"""Connectionist Temporal Classification: the loss and its gradient as two ops.

ctc_loss(log_probs, labels, input_lengths, label_lengths) is, per sample n,
    -log p(l_n | x_n),  p = sum over alignments a of prod_t y[t, n, a_t],
where an alignment of length input_lengths[n] collapses (merge repeats, drop blanks) to the
first label_lengths[n] labels of labels[n]. log_probs (T, N, C) must already be normalized
(log_softmax over C); labels (N, S) may hold anything past each label length (padding).

The forward-backward recursions run in log space over the extended label sequence
l' = (blank, l_1, blank, l_2, ..., l_L, blank), vectorized over the batch.
ctc_grad(...) is d ctc_loss[n] / d log_probs[t, n, c] with log_probs taken as free entries:
    -sum_{s: l'_s = c} alpha_t(s) beta_t(s) / p,
the (negated) posterior probability of being in class c at frame t; frames past the input
length get 0. The vjp of ctc_loss is g[None, :, None] * ctc_grad(...), so a CTC gradient is
a graph like any other; through log_softmax it becomes softmax(x) - posterior.

An alignment that cannot exist (the labels need more frames than input_lengths, counting a
blank between repeats) gives +inf, as torch's ctc_loss with zero_infinity=False does;
zero_infinity=True gives 0 instead (torch's zero_infinity=True; MXNet returns 0 too).
Either way such samples get a zero gradient, never NaN.
"""
from __future__ import annotations

import numpy as np

from .. import api as F
from .. import dtypes as dt
from ..errors import DTypeError, GradientError, InputError, OptionError, ShapeError
from ..graph import make
from ..shapes import fmt_shape
from .base import register
from .rules import label

NEG_INF = -np.inf


# --- shape rule

def _require(node, ndim, kind, what):
    if node.ndim != ndim:
        raise ShapeError(f"ctc_loss: {what} {label(node)} must have {ndim} dims, got shape "
                         f"{fmt_shape(node.shape)}")
    ok = dt.is_float(node.dtype) if kind == "float" else dt.is_int(node.dtype)
    if not ok:
        raise DTypeError(f"ctc_loss: {what} {label(node)} must have a {kind} dtype, got "
                         f"{node.dtype}")


def _same_dim(named, axis_name):
    (first_what, first), *rest = named
    for what, d in rest:
        if d != first:
            raise ShapeError(f"ctc_loss: {what} has {axis_name} {d!r} but {first_what} has "
                             f"{first!r}")


def _infer(inputs, attrs):
    if len(inputs) != 4:
        raise ShapeError(f"ctc_loss: expected 4 inputs (log_probs, labels, input_lengths, "
                         f"label_lengths), got {len(inputs)}")
    lp, labels, in_len, lab_len = inputs
    _require(lp, 3, "float", "log_probs (T, N, C)")
    _require(labels, 2, "int", "labels (N, S)")
    _require(in_len, 1, "int", "input_lengths (N,)")
    _require(lab_len, 1, "int", "label_lengths (N,)")
    _same_dim([(f"log_probs {label(lp)} (axis 1)", lp.shape[1]),
               (f"labels {label(labels)} (axis 0)", labels.shape[0]),
               (f"input_lengths {label(in_len)}", in_len.shape[0]),
               (f"label_lengths {label(lab_len)}", lab_len.shape[0])], "batch size")
    blank = attrs.get("blank", 0)
    if isinstance(blank, bool) or not isinstance(blank, (int, np.integer)):
        raise OptionError(f"ctc_loss: blank must be an int class index, got {blank!r}")
    blank = int(blank)
    classes = lp.shape[2]
    if isinstance(classes, int):
        if not -classes <= blank < classes:
            raise OptionError(f"ctc_loss: blank {blank} is out of range for {classes} classes")
        blank %= classes
    zero_inf = attrs.get("zero_infinity", False)
    if not isinstance(zero_inf, (bool, np.bool_)):
        raise OptionError(f"ctc_loss: zero_infinity must be True or False, got {zero_inf!r}")
    return (lp.shape[1],), dt.to_float(lp.dtype), {"blank": blank,
                                                   "zero_infinity": bool(zero_inf)}


def _grad_infer(inputs, attrs):
    _, _, attrs = _infer(inputs, attrs)
    return inputs[0].shape, dt.to_float(inputs[0].dtype), attrs


# --- evaluation

def _checked(lp, labels, in_len, lab_len, blank):
    """Validate values; return (float64 log-probs, extended labels, lengths, blank)."""
    T, N, C = lp.shape
    if not -C <= blank < C:
        raise InputError(f"ctc_loss: blank {blank} is out of range for {C} classes")
    blank %= C
    S = labels.shape[1]
    in_len = in_len.astype(np.int64)
    lab_len = lab_len.astype(np.int64)
    for what, v, top, dim in (("input_lengths", in_len, T, "T"),
                              ("label_lengths", lab_len, S, "S")):
        bad = (v < 0) | (v > top)
        if bad.any():
            raise InputError(f"ctc_loss: {what} must lie in [0, {dim}={top}], got "
                             f"{v[bad][0]} for sample {np.flatnonzero(bad)[0]}")
    used = np.arange(S) < lab_len[:, None]
    bad = used & ((labels < 0) | (labels >= C) | (labels == blank))
    if bad.any():
        n, s = np.argwhere(bad)[0]
        raise InputError(f"ctc_loss: labels[{n}, {s}] = {labels[n, s]} must be a class in "
                         f"[0, {C}) other than the blank {blank}")
    lab = np.where(used, labels, blank).astype(np.int64)
    ext = np.full((N, 2 * S + 1), blank, dtype=np.int64)
    ext[:, 1::2] = lab
    return np.asarray(lp, dtype=np.float64), ext, in_len, lab_len, blank


def _shift(a, k, out, allowed=None):
    """a moved k states up the lattice (k < 0: down) into out, -inf where nothing moved in
    (and, with allowed, where allowed is False)."""
    if k > 0:
        out[:, :k] = NEG_INF
        out[:, k:] = a[:, :-k]
    else:
        out[:, k:] = NEG_INF
        out[:, :k] = a[:, -k:]
    if allowed is not None:
        out[~allowed] = NEG_INF
    return out


def _lse3(a, b, c, out=None, m=None):
    """log(e^a + e^b + e^c) elementwise, NaN and inf as np.logaddexp gives them; b and c are
    scratch (overwritten), out and m optional buffers of a's shape (the recursions reuse
    theirs every frame: fresh arrays of that size page-faulted in on every step). One shift
    by the max and three exps: 3.5x two logaddexp calls."""
    m = np.maximum(a, b, out=m)
    np.maximum(m, c, out=m)
    m[~np.isfinite(m)] = 0.0
    out = np.subtract(a, m, out=out)
    np.exp(out, out=out)
    for t in (b, c):
        np.subtract(t, m, out=t)
        out += np.exp(t, out=t)
    np.log(out, out=out)
    out += m
    return out


def _skips(ext, blank):
    """(skip, skip_from) over (N, 2S+1): s-2 -> s may skip a blank unless l'_s is the blank or
    repeats l'_{s-2}; skip_from marks the s-2 such a skip leaves from."""
    N, K = ext.shape
    skip = np.zeros((N, K), dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    skip_from = np.zeros((N, K), dtype=bool)
    skip_from[:, :-2] = skip[:, 2:]
    return skip, skip_from


def _forward(lp, ext, in_len, lab_len, blank, keep=True):
    """Log-space alpha over (T, N, 2S+1) (None unless keep), log p per sample, and the
    emissions and masks the backward recursion reuses.

    alpha[t, n, s]: paths over frames 0..t ending in state s (emissions included).
    """
    T, N, _ = lp.shape
    K = ext.shape[1]
    states = np.arange(K)
    valid = states < 2 * lab_len[:, None] + 1
    skip, skip_from = _skips(ext, blank)
    emit = np.take_along_axis(lp, np.broadcast_to(ext, (T, N, K)), axis=2)
    emit = np.where(valid, emit, NEG_INF)
    live = np.arange(T)[:, None] < in_len  # (T, N): frames inside each input

    alpha = np.full((T, N, K), NEG_INF) if keep else None
    prev = np.where(valid & (states < 2), 0.0, NEG_INF)  # a path may start in state 0 or 1
    here, one, two, acc, m = (np.empty((N, K)) for _ in range(5))
    for t in range(T):
        move = prev if t == 0 else _lse3(prev, _shift(prev, 1, one), _shift(prev, 2, two, skip),
                                         out=acc, m=m)
        np.add(move, emit[t], out=here)
        if keep:
            alpha[t] = here
        np.copyto(prev, here, where=live[t][:, None])
    last = 2 * lab_len
    ends = (states == last[:, None]) | (states == last[:, None] - 1)
    logp = _logsumexp_rows(np.where(ends, prev, NEG_INF))
    logp = np.where(in_len == 0, np.where(lab_len == 0, 0.0, NEG_INF), logp)
    return alpha, logp, (emit, live, valid, ends, skip_from)


def _backward(parts, in_len):
    """Log-space beta over (T, N, 2S+1) from _forward's parts: beta[t, n, s] sums the paths
    over frames t+1..T_n-1 that start from state s at frame t."""
    emit, live, valid, ends, skip_from = parts
    T, N, K = emit.shape
    beta = np.full((T, N, K), NEG_INF)
    final = np.where(ends & valid, 0.0, NEG_INF)
    b, one, two, rec, m = (np.empty((N, K)) for _ in range(5))
    for t in range(T - 1, -1, -1):
        if t + 1 < T:       # beta[t] is -inf: live frames take rec, each last frame final
            np.add(beta[t + 1], emit[t + 1], out=b)
            np.copyto(beta[t], _lse3(b, _shift(b, -1, one), _shift(b, -2, two, skip_from),
                                     out=rec, m=m), where=live[t][:, None])
        np.copyto(beta[t], final, where=(t == in_len - 1)[:, None])
    return beta


def _logsumexp_rows(a):
    m = np.max(a, axis=1)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.log(np.sum(np.exp(a - m[:, None]), axis=1)) + m


def _forward_of(lp, labels, in_len, lab_len, blank, memo=None, keep=True):
    """(_checked's values, _forward's) for these inputs: from memo when the other CTC op of
    the same inputs left them there in this evaluation, else computed (and left there when
    memo is given: another op sharing log_probs comes later)."""
    key = ("ctc", blank)
    hit = memo.pop(key, None) if memo is not None else None
    if hit is not None and hit[0][0] is labels and hit[0][1] is in_len and \
            hit[0][2] is lab_len:
        return hit[1]
    checked = _checked(lp, labels, in_len, lab_len, blank)
    lp64, ext, in_len64, lab_len64, blank64 = checked
    done = checked, _forward(lp64, ext, in_len64, lab_len64, blank64,
                             keep=keep or memo is not None)
    if memo is not None:
        memo[key] = ((labels, in_len, lab_len), done)
    return done


def _loss_impl(lp, labels, in_len, lab_len, blank, zero_infinity, memo=None):
    with np.errstate(all="ignore"):
        _, (_, logp, _) = _forward_of(lp, labels, in_len, lab_len, blank, memo, keep=False)
        loss = -logp
        if zero_infinity:
            loss = np.where(np.isposinf(loss), 0.0, loss)
    return loss.astype(lp.dtype)


def _grad_impl(lp, labels, in_len, lab_len, blank, zero_infinity, memo=None):
    with np.errstate(all="ignore"):
        (_, ext, in_len, _, _), (alpha, logp, parts) = _forward_of(lp, labels, in_len,
                                                                   lab_len, blank, memo)
        beta = _backward(parts, in_len)
        T, N, C = lp.shape
        frames = np.arange(T)[:, None] < in_len[None, :]
        occupancy = alpha              # ours alone (fresh, or taken from the memo): in place
        occupancy += beta
        occupancy -= logp[None, :, None]
        np.exp(occupancy, out=occupancy)
        np.copyto(occupancy, 0.0, where=~(frames & ~np.isneginf(logp)[None, :])[:, :, None])
        classes = ext[:, :, None] == np.arange(C)  # (N, K, C)
        grad = 0.0 - np.einsum("tnk,nkc->tnc", occupancy, classes.astype(np.float64))
    return grad.astype(lp.dtype)


# --- gradients

def _loss_vjp(g, ans, lp, labels, in_len, lab_len):
    step = make("ctc_grad", lp, labels, in_len, lab_len, **ans.attrs)
    per_sample = g if g.ndim == 0 else F.expand_dims(F.broadcast_to(g, ans.shape), (0, 2))
    return per_sample * step, None, None, None


def _grad_vjp(g, ans, *inputs):
    raise GradientError("ctc_grad: second derivatives of the CTC loss (Hessians, hvp) are "
                        "not available; differentiate ctc_loss once")


# --- printing

def _args_text(name):
    def text(args, attrs, node):
        extra = "" if attrs["blank"] == 0 else f", blank={attrs['blank']}"
        extra += ", zero_infinity=True" if attrs["zero_infinity"] else ""
        return f"{name}({', '.join(args)}{extra})"
    return text


def _args_latex(head):
    def latex(args, attrs, node):
        extra = "" if attrs["blank"] == 0 else rf"; \mathrm{{blank}}={attrs['blank']}"
        return rf"{head}\left({', '.join(args)}{extra}\right)"
    return latex


register("ctc_loss", "special", _infer, _loss_impl, _loss_vjp, _args_text("ctc"),
         _args_latex(r"\operatorname{CTC}"), nondiff=(1, 2, 3), shares=True,
         batch=((1, 0, 0, 0), 0),
         math="-log sum over alignments collapsing to the labels of prod_t y[t, a_t]", arity=4, attr_kinds={'blank': 'int', 'zero_infinity': 'bool'})
register("ctc_grad", "special", _grad_infer, _grad_impl, _grad_vjp, _args_text("ctc_grad"),
         _args_latex(r"\nabla\operatorname{CTC}"), nondiff=(1, 2, 3), shares=True,
         batch=((1, 0, 0, 0), 1),
         math="d ctc_loss[n] / d log_probs[t, n, c] = -posterior of class c at frame t", arity=4, attr_kinds={'blank': 'int', 'zero_infinity': 'bool'})


def ctc_loss(log_probs, labels, input_lengths, label_lengths, blank=0, zero_infinity=False):
    """-log p(labels | log_probs) per sample: (T, N, C) normalized log-probs -> (N,)."""
    return make("ctc_loss", F.as_node(log_probs), F.as_node(labels), F.as_node(input_lengths),
                F.as_node(label_lengths), blank=blank, zero_infinity=zero_infinity)
