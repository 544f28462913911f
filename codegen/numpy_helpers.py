"""The few helpers generated NumPy modules define: their source is copied into each module that
calls them, so a generated module imports only NumPy.

Each helper is written as a careful person writes it by hand (stable forms, in-place updates
where they save an allocation) and computes exactly what the matching op's reference
implementation computes; scatter_along_axis is that implementation itself (imported from
lossgraph.ops.index, one text for both). HELPERS maps a helper name to the helpers it calls.
"""
import numpy as np

from lossgraph.ops.index import scatter_along_axis  # noqa: F401 (the op's impl, pasted as is)


class InputError(ValueError):
    """Labels or lengths out of range (lossgraph binds its own lossgraph.errors.InputError)."""


def exp_neg_abs(x):
    """e^-|x|, the one exponential that a stable sigmoid and softplus of x share (never > 1)."""
    e = np.abs(x)
    if not isinstance(e, np.ndarray):           # a NumPy scalar: no buffer to reuse
        return np.exp(-e)
    np.negative(e, out=e)
    return np.exp(e, out=e)


def sigmoid(x, e, reuse=False, out=None):
    """1 / (1 + e^-x) from e = e^-|x|: e / (1 + e) where x < 0, 1 / (1 + e) elsewhere.

    The numerator max(e, x >= 0) is 1 where x >= 0 (e <= 1) and e elsewhere, with no branch
    (np.where mispredicts on random signs). reuse=True writes into e; the result goes to out
    when given (which may be x's buffer).
    """
    positive = x >= 0
    d = np.add(e, 1.0, out=out)
    numerator = np.maximum(e, positive, out=e if reuse and isinstance(e, np.ndarray) else None)
    return np.divide(numerator, d, out=d if isinstance(d, np.ndarray) else None)


def softplus(x, e, reuse=False, out=None):
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|), from e = e^-|x|; reuse=True writes into e,
    the result goes to out when given (which may be x's buffer)."""
    log1p_e = np.log1p(e, out=e if reuse and isinstance(e, np.ndarray) else None)
    relu = np.maximum(x, 0.0, out=out)
    return np.add(relu, log1p_e, out=relu if isinstance(relu, np.ndarray) else None)


def select(c, a, b, reuse=False):
    """np.where(c, a, b), for floats without branches (NumPy's where mispredicts on random
    conditions): b ^ ((a ^ b) & mask) on the bits, mask all ones where c holds (exact, NaNs
    included). reuse=True writes into a's buffer."""
    dtype = np.result_type(a, b)
    if dtype.kind != "f" or np.ndim(c) + np.ndim(a) + np.ndim(b) == 0:
        return np.where(c, a, b)[()]
    bits = np.dtype(f"i{dtype.itemsize}")
    a_bits, b_bits = np.asarray(a, dtype).view(bits), np.asarray(b, dtype).view(bits)
    mask = np.subtract(0, c, dtype=bits)               # 0 or -1 (every bit set)
    full = np.broadcast_shapes(np.shape(c), a_bits.shape, b_bits.shape)
    spare = reuse and isinstance(a, np.ndarray) and a.dtype == dtype and a.shape == full
    out = np.bitwise_xor(a_bits, b_bits, out=a_bits if spare else None)
    out = np.bitwise_and(out, mask, out=out if out.shape == full else None)
    return np.bitwise_xor(out, b_bits, out=out).view(dtype)


def xlogy(x, y):
    """x log y, and 0 where x = 0 (also where y = 0)."""
    zero = x == 0
    return np.where(zero, np.zeros_like(x * y), x * np.log(np.where(zero, 1, y)))


def sum_with_dot(a, x, y, combine):
    """sum(combine(a, x y)), combine np.add or np.subtract: combine(sum(a), x.y), two reads
    and no product array. Where the two sums cancel to below 1/16 of their size, their
    rounding would be amplified in the difference (or they overflowed), so the sum is then
    taken elementwise, as written."""
    s, d = np.sum(a), np.vdot(x, y)
    total = combine(s, d)
    if 16 * abs(total) >= abs(s) + abs(d):
        return total
    return np.sum(combine(a, x * y))


def softmax_parts(x, axis):
    """(m, e, s) along axis: m = max x (0 where not finite), e = e^(x - m), s = sum e.

    softmax = e / s, logsumexp = log s + m, log_softmax = (x - m) - log s (log_softmax).
    The ufuncs' reduce methods are np.max and np.sum without their per-call wrapper (a third
    of the cost of a small call).
    """
    m = np.maximum.reduce(x, axis=axis, keepdims=True)
    finite = np.isfinite(m)
    if not finite.all():
        m = np.where(finite, m, 0.0).astype(x.dtype, copy=False)
    e = np.subtract(x, m)
    e = np.exp(e, out=e) if isinstance(e, np.ndarray) else np.exp(e)
    return m, e, np.add.reduce(e, axis=axis, keepdims=True)


def log_softmax(x, m, s):
    """(x - m) - log s from softmax_parts, in one new buffer: x - m is exact near the max, so
    large logits keep log s's digits."""
    out = np.subtract(x, m)
    if not isinstance(out, np.ndarray):
        return out - np.log(s)
    return np.subtract(out, np.log(s).astype(out.dtype, copy=False), out=out)


def normalized(e, s, reuse=False):
    """e / s from softmax_parts, with rows whose sum is 0 left at 0 (softmax of all -inf):
    those divide by 1, as max(s, 1) changes no other row (its largest term is e^0 = 1)."""
    return np.divide(e, np.maximum(s, 1), out=e if reuse and np.ndim(e) else None)


def check_labels(labels, depth, what):
    """Labels must lie in [0, depth)."""
    if labels.size and (labels.min() < 0 or labels.max() >= depth):
        bad = labels[(labels < 0) | (labels >= depth)].flat[0]
        raise InputError(f"{what}: label {bad} is out of range [0, {depth})")


def one_hot(labels, depth, axis, dtype):
    """1 where the index along axis equals the label, else 0 (labels checked by the caller)."""
    return np.moveaxis(np.arange(depth) == labels[..., None], -1, axis).astype(dtype)


def minus_one_hot(a, labels, axis, reuse=False):
    """a - one_hot(labels) along axis, without building the one-hot array (labels checked by
    the caller)."""
    out = a if reuse else np.array(a)
    if out.ndim == 2 and axis == 1:        # rows of classes: plain fancy indexing is fastest
        out[np.arange(out.shape[0]), labels] -= 1
        return out
    idx = np.expand_dims(labels, axis)
    np.put_along_axis(out, idx, np.take_along_axis(out, idx, axis) - 1, axis)
    return out


def pick(x, labels, axis):
    """x at each label along axis, the axis dropped (labels checked by the caller)."""
    if x.ndim == 2 and axis == 1:          # rows of classes: plain fancy indexing is fastest
        return x[np.arange(x.shape[0]), labels]
    return np.squeeze(np.take_along_axis(x, np.expand_dims(labels, axis), axis), axis)


def take_along_axis(x, idx, axis):
    """x gathered at indices along axis (indices checked by the caller)."""
    return np.take_along_axis(x, idx, axis)


def fill(out, value, copy=False):
    """value written into the caller's buffer out; without one, value itself (a copy with
    copy=True, when value may be a view of an input, a constant or another result)."""
    if out is None:
        return np.array(value) if copy else value
    if out is not value:
        out[...] = value
    return out


# helper -> the helpers it calls (copied along); CTC is pasted from lossgraph.ops.ctc
HELPERS = {
    "InputError": (), "exp_neg_abs": (), "select": (), "sigmoid": (), "softplus": (), "xlogy": (),
    "sum_with_dot": (), "softmax_parts": (), "log_softmax": (), "normalized": (),
    "check_labels": ("InputError",), "one_hot": (), "minus_one_hot": (), "pick": (),
    "take_along_axis": (), "scatter_along_axis": (), "fill": (),
}
