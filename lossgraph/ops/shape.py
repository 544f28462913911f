"""Shape ops: reshape (also expand_dims and squeeze), transpose, broadcast_to."""
from __future__ import annotations

import numpy as np

from .. import api as F
from ..errors import ShapeError
from ..shapes import broadcast_shapes, dims_product, fmt_shape, normalize_shape, _factors, _join
from .base import register
from .rules import label


def _divide_dim(total, part, arg):
    ct, nt = _factors(total)
    cp, np_ = _factors(part)
    rest = list(nt)
    for n in np_:
        if n not in rest:
            raise ShapeError(f"{arg}: cannot infer -1: {total!r} elements are not a multiple "
                             f"of {part!r}")
        rest.remove(n)
    if cp == 0 or ct % cp:
        raise ShapeError(f"{arg}: cannot infer -1: {total!r} elements are not a multiple "
                         f"of {part!r}")
    return _join(ct // cp, tuple(rest))


def _reshape_infer(inputs, attrs):
    (x,) = inputs
    raw = attrs["shape"]
    raw = (raw,) if isinstance(raw, (int, str)) else tuple(raw)
    if sum(1 for d in raw if d == -1) > 1:
        raise ShapeError(f"reshape: at most one -1 in shape, got {raw}")
    known = normalize_shape([d for d in raw if d != -1], "reshape shape")
    total = dims_product(x.shape)
    if -1 in raw:
        fill = _divide_dim(total, dims_product(known), "reshape")
        it = iter(known)
        shape = tuple(fill if d == -1 else next(it) for d in raw)
    else:
        shape = known
    if dims_product(shape) != total:
        raise ShapeError(f"reshape: cannot reshape {label(x)} of shape {fmt_shape(x.shape)} "
                         f"({total} elements) to {fmt_shape(shape)} "
                         f"({dims_product(shape)} elements)")
    return shape, x.dtype, {"shape": shape}


def _full(g, node):
    """g broadcast to the node's shape (cotangents may arrive unbroadcast)."""
    return g if g.shape == node.shape else F.broadcast_to(g, node.shape)


def _reshape_text(args, attrs, node):
    return f"reshape({args[0]}, {fmt_shape(attrs['shape'])})"


register("reshape", "shape", _reshape_infer,
         lambda x, shape, out_shape: np.reshape(x, out_shape),
         lambda g, ans, x: (F.reshape(_full(g, ans), x.shape),),
         _reshape_text, "{0}", wants_shape=True, math="the same elements in a new shape", arity=1, attr_kinds={'shape': 'dims'})


def _transpose_infer(inputs, attrs):
    (x,) = inputs
    perm = attrs.get("perm")
    perm = tuple(reversed(range(x.ndim))) if perm is None else \
        tuple(int(p) + x.ndim if -x.ndim <= int(p) < 0 else int(p) for p in perm)
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"transpose: perm {perm} is not a permutation of the "
                         f"{x.ndim} axes of {label(x)}")
    return tuple(x.shape[p] for p in perm), x.dtype, {"perm": perm}


def _transpose_text(a, at, n):
    """x.T where perm reverses every axis (NumPy's spelling), else transpose(x, perm=...). The
    form binds like a postfix (prec 90), so the printer has parenthesized a compound x: the
    call form drops those parentheses again."""
    x, perm = a[0], tuple(at["perm"])
    if perm == tuple(reversed(range(len(perm)))):
        return f"{x}.T"
    return f"transpose({_unparenthesized(x)}, perm={perm})"


def _unparenthesized(text):
    """text without one pair of parentheses that encloses all of it."""
    if not (text.startswith("(") and text.endswith(")")):
        return text
    depth = 0
    for k, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and k < len(text) - 1:
            return text
    return text[1:-1]


register("transpose", "shape", _transpose_infer,
         lambda x, perm: np.transpose(x, perm),
         lambda g, ans, x: (F.transpose(_full(g, ans), tuple(np.argsort(ans.attrs["perm"]))),),
         _transpose_text, r"{0}^{{\top}}", prec=90, latex_prec=30,
         math="axes permuted", arity=1, attr_kinds={'perm': 'ints'})


def _broadcast_infer(inputs, attrs):
    (x,) = inputs
    shape = normalize_shape(attrs["shape"], "broadcast_to shape")
    got = broadcast_shapes((lambda: label(x), x.shape), ("the target shape", shape))
    if got != shape:
        raise ShapeError(f"broadcast_to: {label(x)} of shape {fmt_shape(x.shape)} does not "
                         f"broadcast to {fmt_shape(shape)}")
    return shape, x.dtype, {"shape": shape}


def _broadcast_impl(x, shape, out_shape):
    return np.broadcast_to(x, out_shape)


register("broadcast_to", "shape", _broadcast_infer, _broadcast_impl,
         lambda g, ans, x: (_full(g, ans),),
         lambda a, at, n: f"broadcast_to({a[0]}, {fmt_shape(at['shape'])})", "{0}",
         sympy=lambda a, at: a[0], wants_shape=True, math="x repeated along broadcast axes", arity=1, attr_kinds={'shape': 'dims'})
