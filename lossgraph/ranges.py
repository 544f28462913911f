"""Value ranges: a bound lo <= node <= hi known from the graph alone (interval arithmetic).

Used by the rewriter to drop dead branches (`where(clip(t, 1e-7, 1) == 0, ...)` never holds)
and to know signs (`exp(log x) -> x` needs x >= 0), with bounds that hold in float32 and
float64 alike (kernel_bounds: rewrites come before the dtype is known), and by the LLVM
backend with the bounds of its kernel's float type (bounds(..., dtype)). Bounds assume no NaN
in the inputs, as the identity rules do. Unknown is (-inf, inf). The walk is bounded in depth,
so it never recurses far.
"""
from __future__ import annotations

import math
import weakref

import numpy as np

INF = math.inf
UNKNOWN = (-INF, INF)
MAX_DEPTH = 12
_MEMO: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_DTYPE_MEMO: dict = {}           # float dtype -> its WeakKeyDictionary


def _const(node, dtype=None):
    while node.op == "broadcast_to":
        node = node.inputs[0]
    if node.op != "constant":
        return None
    v = node.attrs["value"]
    if v.size == 0 or v.dtype.kind not in "biuf" or (v.dtype.kind == "f" and np.isnan(v).any()):
        return None
    if dtype is not None and v.dtype.kind == "f":
        v = v.astype(dtype)                  # the constant as a kernel of dtype holds it
    return float(v.min()), float(v.max())


#: ulps of the kernel's float type an op's bounds move outward by (bounds(..., dtype)): one
#: for IEEE's roundings, three for mathlib's functions (within 2 ulp), two for softmax (its
#: division is x (1 / sum)); none for the ops that round nothing (clip, maximum, abs, views)
ROUNDING_ULPS = {"add": 1, "subtract": 1, "multiply": 1, "square": 1, "sqrt": 1, "exp": 3,
                 "log": 3, "log1p": 3, "sigmoid": 3, "softplus": 3, "tanh": 3, "softmax": 2}


#: limits an op's computed values never pass, whatever its rounding (sigmoid is 1 / (1 + e)
#: or e / (1 + e), a correctly rounded quotient of at most 1)
LIMITS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def _outward(lo, hi, dtype, ulps):
    """(lo, hi) as values of dtype at or outside them, then ulps steps further out."""
    f = np.dtype(dtype).type
    with np.errstate(over="ignore", under="ignore"):
        lo_d, hi_d = f(lo), f(hi)
        if lo_d > lo:
            lo_d = np.nextafter(lo_d, f(-INF))
        if hi_d < hi:
            hi_d = np.nextafter(hi_d, f(INF))
        for _ in range(ulps):
            lo_d, hi_d = np.nextafter(lo_d, f(-INF)), np.nextafter(hi_d, f(INF))
    # rounding to nearest never crosses 0, nor do mathlib's functions (exp >= 0)
    return (max(float(lo_d), 0.0) if lo >= 0 else float(lo_d),
            min(float(hi_d), 0.0) if hi <= 0 else float(hi_d))


def _mono(f):
    """An increasing function maps [lo, hi] to [f(lo), f(hi)]."""
    def rule(node, b):
        lo, hi = b(node.inputs[0])
        return f(lo), f(hi)
    return rule


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


def _softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x))) if abs(x) != INF else max(x, 0.0)


def _exp(x):
    return math.exp(x) if x < 709 else INF


def _log(x):
    return math.log(x) if x > 0 else -INF


def _add(node, b):
    (a0, a1), (b0, b1) = b(node.inputs[0]), b(node.inputs[1])
    return _sum(a0, b0, -INF), _sum(a1, b1, INF)


def _sum(a, b, nan_as):
    s = a + b
    return nan_as if s != s else s


def _neg(node, b):
    lo, hi = b(node.inputs[0])
    return -hi, -lo


def _sub(node, b):
    (a0, a1), (b0, b1) = b(node.inputs[0]), b(node.inputs[1])
    return _sum(a0, -b1, -INF), _sum(a1, -b0, INF)


def _mul(node, b):
    (a0, a1), (b0, b1) = b(node.inputs[0]), b(node.inputs[1])
    prods = [p for p in (a0 * b0, a0 * b1, a1 * b0, a1 * b1) if p == p]
    if len(prods) < 4:       # 0 * inf: unknown
        return UNKNOWN
    return min(prods), max(prods)


def _square(node, b):
    lo, hi = b(node.inputs[0])
    if lo >= 0:
        return lo * lo, hi * hi
    if hi <= 0:
        return hi * hi, lo * lo
    return 0.0, max(lo * lo, hi * hi)


def _abs(node, b):
    lo, hi = b(node.inputs[0])
    if lo >= 0:
        return lo, hi
    if hi <= 0:
        return -hi, -lo
    return 0.0, max(-lo, hi)


def _clip(node, b):
    (x0, x1), (l0, _), (_, h1) = (b(i) for i in node.inputs)
    lo, hi = max(x0, l0), min(x1, h1)
    return (lo, hi) if lo <= hi else (l0, h1)


def _maximum(node, b):
    (a0, a1), (b0, b1) = b(node.inputs[0]), b(node.inputs[1])
    return max(a0, b0), max(a1, b1)


def _minimum(node, b):
    (a0, a1), (b0, b1) = b(node.inputs[0]), b(node.inputs[1])
    return min(a0, b0), min(a1, b1)


def _where(node, b):
    (a0, a1), (b0, b1) = b(node.inputs[1]), b(node.inputs[2])
    return min(a0, b0), max(a1, b1)


def _sum_reduce(node, b):
    lo, hi = b(node.inputs[0])
    return (0.0 if lo >= 0 else -INF), (0.0 if hi <= 0 else INF)


def _same(node, b):
    return b(node.inputs[0])


RULES = {
    "exp": _mono(_exp), "log": _mono(_log), "sqrt": lambda n, b: _mono(
        lambda x: math.sqrt(max(x, 0.0)))(n, b),
    "log1p": _mono(lambda x: math.log1p(x) if x > -1 else -INF),
    "sigmoid": _mono(_sigmoid), "softplus": _mono(_softplus), "tanh": _mono(math.tanh),
    "add": _add, "subtract": _sub, "negative": _neg, "multiply": _mul, "square": _square,
    "abs": _abs, "clip": _clip, "maximum": _maximum, "minimum": _minimum, "where": _where,
    "sum": _sum_reduce, "max": _same, "min": _same, "reshape": _same, "broadcast_to": _same,
    "transpose": _same, "pick": _same, "stop_gradient": _same,
    "softmax": lambda n, b: (0.0, 1.0), "one_hot": lambda n, b: (0.0, 1.0),
    "dimsize": lambda n, b: (0.0, INF),
    "cast": lambda n, b: (0.0, 1.0) if n.inputs[0].dtype == "bool" else b(n.inputs[0]),
    "log_softmax": lambda n, b: (-INF, 0.0),
}


def bounds(node, depth=0, dtype=None):
    """(lo, hi) with lo <= every element of node <= hi (for NaN-free inputs): of its exact
    value, or, with a float dtype, of the value a kernel computing in dtype gets (constants
    rounded to dtype, each op's bounds moved outward past its rounding, ROUNDING_ULPS:
    1 - clip(p, 1e-12, 1 - 1e-12) may be 0 in float32, where 1 - 1e-12 is 1)."""
    memo = _MEMO if dtype is None else _DTYPE_MEMO.setdefault(np.dtype(dtype),
                                                              weakref.WeakKeyDictionary())
    got = memo.get(node)
    if got is not None:
        return got
    c = _const(node, dtype)
    if c is not None:
        return c
    rule = RULES.get(node.op)
    if rule is None or depth >= MAX_DEPTH:
        return UNKNOWN
    out = rule(node, lambda n: bounds(n, depth + 1, dtype))
    if dtype is not None:
        out = _outward(*out, dtype, ROUNDING_ULPS.get(node.op, 0))
        if node.op in LIMITS:
            out = max(out[0], LIMITS[node.op][0]), min(out[1], LIMITS[node.op][1])
    if depth == 0 or out != UNKNOWN:
        memo[node] = out
    return out


def kernel_bounds(node):
    """Bounds that hold however the graph is computed, in float32 or float64: the union of
    both types' bounds (for rewrites, which come before the dtype is known)."""
    (a0, a1), (b0, b1) = bounds(node, dtype="float32"), bounds(node, dtype="float64")
    return min(a0, b0), max(a1, b1)


def nonnegative(node):
    return kernel_bounds(node)[0] >= 0


def positive(node):
    return kernel_bounds(node)[0] > 0
