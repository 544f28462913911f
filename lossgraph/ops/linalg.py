"""Linear algebra: matmul, the `@` operator, with NumPy's rules.

    matmul(a, b)[..., i, j] = sum_k a[..., i, k] b[..., k, j]

A 1-D operand is a vector: on the left it is read as a row (1, K), on the right as a column
(K, 1), and that added axis is removed from the result, so matrix @ vector is a vector and
vector @ vector is the inner product (a scalar). Leading axes of operands with more than two
broadcast as stacks of matrices. The contracted dims must be equal: they never broadcast, and
symbolic dims compare by name (D and 3 differ even if D is bound to 3 later).
"""
from __future__ import annotations

import numpy as np

from .. import api as F
from ..errors import DTypeError, ShapeError
from ..shapes import broadcast_shapes, fmt_shape
from .base import OPS, register
from .rules import label, same_kind


def _contracted(b):
    """The axis of the right operand that is summed over, in words and as a dim."""
    return ("its only axis", b.shape[0]) if b.ndim == 1 else \
        ("its second-to-last axis", b.shape[-2])


def _matmul_infer(inputs, attrs):
    a, b = inputs
    for side, x in (("left", a), ("right", b)):
        if x.ndim == 0:
            raise ShapeError(f"matmul: the {side} operand {label(x)} is a scalar; matmul "
                             f"takes 1-D or higher operands (scale with *)")
        if x.dtype == "bool":
            raise DTypeError(f"matmul: the {side} operand {label(x)} is bool; cast it to a "
                             f"number first")
    where, kb = _contracted(b)
    if a.shape[-1] != kb:
        raise ShapeError(f"matmul: {label(a)} has shape {fmt_shape(a.shape)} and {label(b)} "
                         f"has shape {fmt_shape(b.shape)}: the contracted dims differ, "
                         f"{a.shape[-1]!r} (the last axis of {label(a)}) and {kb!r} ({where} "
                         f"of {label(b)})")
    batch = broadcast_shapes((lambda: label(a), a.shape[:-2]), (lambda: label(b), b.shape[:-2]))
    rows = a.shape[-2:-1] if a.ndim >= 2 else ()
    cols = b.shape[-1:] if b.ndim >= 2 else ()
    return batch + rows + cols, same_kind(inputs), attrs


def _matmul(a, b):
    return np.matmul(a, b)


def _mT(x):
    """x with its last two axes swapped (the matrix transpose of each stacked matrix)."""
    return F.swapaxes(x, -1, -2)


def _column(v):
    return F.expand_dims(v, -1)


def _matmul_vjp(g, ans, a, b):
    """d a = g b^T, d b = a^T g (batch axes summed back by autodiff's unbroadcast); with a
    vector operand the promoted axis is put back: d b = a^T g for b a vector is a vector,
    d a = g b^T for b a vector is the outer product g b (elementwise broadcasting)."""
    g = g if g.shape == ans.shape else F.broadcast_to(g, ans.shape)
    if a.ndim == 1 and b.ndim == 1:
        return g * b, g * a
    if b.ndim == 1:                        # (..., N, K) @ (K,) -> (..., N)
        gb = F.matmul(_mT(a), g) if a.ndim == 2 else \
            F.squeeze(F.matmul(_mT(a), _column(g)), -1)
        return _column(g) * b, gb
    if a.ndim == 1:                        # (K,) @ (..., K, M) -> (..., M)
        ga = F.matmul(b, g) if b.ndim == 2 else F.squeeze(F.matmul(b, _column(g)), -1)
        return ga, _column(a) * F.expand_dims(g, -2)
    return F.matmul(g, _mT(b)), F.matmul(_mT(a), g)


def _shown(node, style):
    """The node whose form shows where node is printed (cast, reshape print their operand)."""
    while (OPS[node.op].latex if style == "latex" else OPS[node.op].text) == "{0}":
        node = node.inputs[0]
    return OPS[node.op]


def _grouped(text, child, style, left):
    """A product operand in parentheses where reading it would change the product: A @ (c *
    B) (Python reads A @ c * B as (A @ c) * B), and in LaTeX y X on the left, where
    juxtaposition cannot tell an elementwise factor from a matrix one."""
    op, product = _shown(child, style), OPS["multiply"].prec
    if style == "latex":
        prec = None if op.latex_atomic else (op.latex_prec if op.latex_prec is not None
                                              else op.prec)
        return rf"\left({text}\right)" if prec == product else text
    return f"({text})" if op.prec == product and not left else text


def _matmul_text(args, attrs, node):
    a, b = (_grouped(t, c, "text", k == 0) for k, (t, c) in enumerate(zip(args, node.inputs)))
    return f"{a} @ {b}"


def _matmul_latex(args, attrs, node):
    a, b = (_grouped(t, c, "latex", k == 0) for k, (t, c) in enumerate(zip(args, node.inputs)))
    return f"{a} {b}"


def indexed(conv, node, idx):
    """The indexed SymPy form: Sum(a[..., i, k] * b[..., k, j], (k, 0, K - 1)), batch indices
    aligned from the right as in broadcasting (lossgraph.symbolic's indexed mode)."""
    from ..symbolic import _align, dim
    import sympy as sp
    a, b = node.inputs
    k = conv.fresh()
    nb = len(node.shape) - (a.ndim >= 2) - (b.ndim >= 2)
    batch = idx[:nb]
    rest = list(idx[nb:])
    ia = (*batch, rest.pop(0), k) if a.ndim >= 2 else (k,)
    ib = (*batch, k, rest.pop(0)) if b.ndim >= 2 else (k,)
    ia = _align(ia, a.shape) if a.ndim >= 2 else ia
    ib = _align(ib, b.shape) if b.ndim >= 2 else ib
    return sp.Sum(conv.at(a, ia) * conv.at(b, ib), (k, 0, dim(a.shape[-1]) - 1))


register("matmul", "linalg", _matmul_infer, _matmul, _matmul_vjp, _matmul_text, _matmul_latex,
         prec=19, math="sum_k a[..., i, k] b[..., k, j] (NumPy's @, 1-D operands promoted)",
         arity=2, attr_kinds={})
