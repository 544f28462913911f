"""Reductions over axes, and the normalizers built on them (softmax, log_softmax)."""
from __future__ import annotations

import numpy as np

from .. import api as F
from .base import register
from .leaf import latex_dim
from .rules import floating, reduction, same_kind


def _sp():
    import sympy
    return sympy


def _named(name):
    """A named function of lossgraph.sympy_funcs; reductions get args (body, *limits)."""
    def build(a, attrs):
        from .. import sympy_funcs
        return getattr(sympy_funcs, name)(*a)
    return build


def kept(g, node):
    """The cotangent g of a reduction, with the reduced axes put back as size 1."""
    x = node.inputs[0]
    if node.attrs["keepdims"] or g.ndim == 0:
        return g
    if g.shape != node.shape:
        g = F.broadcast_to(g, node.shape)
    shape = tuple(1 if i in node.attrs["axis"] else d for i, d in enumerate(x.shape))
    return F.reshape(g, shape)


def kept_ans(node):
    return kept(node, node)


def _axis_text(attrs, ndim=None):
    extra = f", axis={attrs['axis']}" if attrs.get("axis") is not None else ""
    return extra + (", keepdims=True" if attrs.get("keepdims") else "")


def _reduce_text(name):
    def text(args, attrs, node):
        axes = attrs["axis"]
        full = axes == tuple(range(node.inputs[0].ndim))
        ax = "" if full else f", axis={axes[0] if len(axes) == 1 else axes}"
        kd = ", keepdims=True" if attrs["keepdims"] else ""
        return f"{name}({args[0]}{ax}{kd})"
    return text


def axes_latex(x, axes):
    r"""The subscript naming the reduced axes of x: none for all of them, the dims when they
    name the axes (C for axis 1 of (N, C)), else \text{axis } 1."""
    if len(axes) == x.ndim:
        return ""
    dims = [x.shape[a] for a in axes]
    if all(isinstance(d, str) and x.shape.count(d) == 1 for d in dims):
        return "_{%s}" % ",".join(latex_dim(d) for d in dims)
    return r"_{\text{axis } %s}" % ", ".join(map(str, axes))


def _reduce_latex(symbol):
    """symbol_{axes} x: a big operator (latex_prefix), taking its operand like a product."""
    def latex(args, attrs, node):
        x = node.inputs[0]
        if not attrs["axis"]:
            return args[0]
        return rf"{symbol}{axes_latex(x, attrs['axis'])} {args[0]}"
    return latex


def _call_latex(head, default_last=False):
    """head_{axes}(x): a reduction (or, default_last, a normalizer whose default is the last
    axis) printed by name, as a call; the subscript only for a non-default axis."""
    def latex(args, attrs, node):
        x = node.inputs[0]
        axes = attrs["axis"]
        default = axes == (x.ndim - 1,) if default_last else len(axes) == x.ndim
        return rf"{head}{'' if default else axes_latex(x, axes)}\left({args[0]}\right)"
    return latex


_BIG = {"latex_prec": 20, "latex_prefix": True}


def _impl(fn):
    return lambda x, axis, keepdims: fn(x, axis=axis, keepdims=keepdims)


#: reductions over one short last axis (2 to 16 long) of at least this many elements take
#: _columns' loop; smaller ones NumPy's row loop (the chunked evaluator keeps its row chunks
#: at least this large, so each chunk takes the loop the whole array takes)
COLUMNS_FROM = 1024


def _columns(x, axis):
    """x[..., 0], x[..., 1], ... when axis is one short last axis of many rows, else None.

    NumPy reduces a short contiguous axis one row at a time; combining its few columns
    elementwise gives the same maxima 3-5x faster (and sums in a chosen precision)."""
    if tuple(axis) != (x.ndim - 1,) or not 1 < x.shape[-1] <= 16 or x.size < COLUMNS_FROM:
        return None
    return [x[..., i] for i in range(x.shape[-1])]


def _extreme(ufunc):
    """max / min over axes (exact in any order; NaN propagates as in np.max)."""
    def reduce(x, axis, keepdims):
        cols = _columns(x, axis)
        if cols is None:
            return ufunc.reduce(x, axis=axis, keepdims=keepdims)
        out = ufunc(cols[0], cols[1])
        for c in cols[2:]:
            ufunc(out, c, out=out)
        return out[..., None] if keepdims else out
    return reduce


_max_of, _min_of = _extreme(np.maximum), _extreme(np.minimum)


def _sum_of(x, axis, keepdims, wide=False):
    """sum over axes. A float32 sum over one short last axis accumulates in float64 and
    rounds once (more accurate than NumPy's float32 sum); wide=True keeps that float64."""
    cols = _columns(x, axis) if x.dtype == np.float32 else None
    if cols is None:
        return np.sum(x, axis=axis, keepdims=keepdims)
    out = np.add(cols[0], cols[1], dtype=np.float64)
    for c in cols[2:]:
        np.add(out, c, out=out)
    out = out if wide else out.astype(np.float32)
    return out[..., None] if keepdims else out


def _as_float(x):
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _max_vjp(g, ans, x):
    hit = F.cast(F.equal(x, kept_ans(ans)), x.dtype)
    return (kept(g, ans) * hit / F.sum(hit, axis=ans.attrs["axis"], keepdims=True),)


def _shifted_exp(x, axis, out=None):
    """(e^(x - m), m) with m the max along axis, 0 where it is not finite (all -inf rows give
    zeros, not NaN). e is a fresh buffer (or out)."""
    m = _max_of(x, axis, True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.subtract(x, m, out=np.empty(x.shape, x.dtype) if out is None else out)
    return np.exp(e, out=e), m


def _lse_parts(x, axis, memo=None):
    """(m, log s) along axis, keepdims: the shift of _shifted_exp and log sum e^(x - m), in
    float64 for float32 x. With a memo, e^(x - m) and its sums stay there for a softmax of
    the same x, and the parts for a logsumexp or log_softmax of it."""
    if memo is not None and ("lse", axis) in memo:
        return memo["lse", axis]
    e, m = _shifted_exp(x, axis)
    s = _sum_of(e, axis, True, wide=True)
    parts = m, np.log(s, dtype=np.float64)
    if memo is not None:
        memo["lse", axis], memo["exp", axis] = parts, (e, s)
    return parts


def _logsumexp(x, axis, keepdims, memo=None):
    x = _as_float(x)
    m, log_s = _lse_parts(x, axis, memo)
    out = np.add(log_s, m).astype(x.dtype, copy=False)
    return out if keepdims else np.squeeze(out, axis=axis)


def _softmax(x, axis, keepdims=False, out=None, memo=None):
    """e^(x - m) / sum e^(x - m), in place in one buffer; an all -inf row gives zeros. A
    logsumexp of the same x (memo) already holds e and its sums: they are used, once; else
    the logsumexp is left for it."""
    x = _as_float(x)
    hit = memo.pop(("exp", axis), None) if memo is not None else None
    if hit is None:
        e, m = _shifted_exp(x, axis, out)
        s = _sum_of(e, axis, True, wide=True)
        if memo is not None:
            memo["lse", axis] = m, np.log(s, dtype=np.float64)
    else:
        e, s = hit
    return np.divide(e, np.where(s == 0, 1, s), out=e, casting="same_kind")


def _log_softmax(x, axis, keepdims=False, out=None, memo=None):
    """(x - m) - log s: x - m is exact near the max, so large logits keep log s's digits
    (x - (m + log s) rounds the sum to m's ulp first: 1e-12 at logits of 1e4 in float64,
    1e-3 in float32)."""
    x = _as_float(x)
    m, log_s = _lse_parts(x, axis, memo)
    shifted = np.subtract(x, m, out=np.empty(x.shape, x.dtype) if out is None else out)
    # log s rounded to x's dtype first: a float32 loop, and at most half an ulp of log s more
    return np.subtract(shifted, log_s.astype(x.dtype, copy=False), out=shifted)


def _prod_vjp(g, ans, x):
    """d prod / d x_i = product of the other entries, also where x has zeros (ans / x is
    0 / 0 there): with one zero only that entry gets the product of the rest."""
    axis = ans.attrs["axis"]
    zero = F.equal(x, 0.0)
    safe = F.where(zero, 1.0, x)
    rest = F.prod(safe, axis=axis, keepdims=True)
    zeros = F.sum(F.cast(zero, x.dtype), axis=axis, keepdims=True)
    others = F.where(zero, F.where(F.equal(zeros, 1.0), rest, 0.0),
                     F.where(F.equal(zeros, 0.0), rest / safe, 0.0))
    return (kept(g, ans) * others,)


register("sum", "reduction", reduction(same_kind), _sum_of,
         lambda g, ans, x: (kept(g, ans),), _reduce_text("sum"), _reduce_latex(r"\sum"),
         sympy=lambda a, at: _sp().Sum(*a), **_BIG, math="sum of x over axes", arity=1, attr_kinds={'axis': 'axes', 'keepdims': 'bool'})
register("prod", "reduction", reduction(same_kind), _impl(np.prod),
         _prod_vjp, _reduce_text("prod"),
         _reduce_latex(r"\prod"), sympy=lambda a, at: _sp().Product(*a), **_BIG,
         math="product of x over axes", arity=1, attr_kinds={'axis': 'axes', 'keepdims': 'bool'})
register("max", "reduction", reduction(same_kind), _max_of, _max_vjp,
         _reduce_text("max"), _reduce_latex(r"\max"), sympy=_named("max_over"), **_BIG,
         math="max of x over axes (gradient shared equally among ties)", arity=1, attr_kinds={'axis': 'axes', 'keepdims': 'bool'})
register("min", "reduction", reduction(same_kind), _min_of, _max_vjp,
         _reduce_text("min"), _reduce_latex(r"\min"), sympy=_named("min_over"), **_BIG,
         math="min of x over axes (gradient shared equally among ties)", arity=1, attr_kinds={'axis': 'axes', 'keepdims': 'bool'})
register("logsumexp", "reduction", reduction(floating), _logsumexp,
         lambda g, ans, x: (kept(g, ans) * F.softmax(x, axis=ans.attrs["axis"]),),
         _reduce_text("logsumexp"), _call_latex(r"\operatorname{logsumexp}"),
         sympy=lambda a, at: _sp().log(_sp().Sum(_sp().exp(a[0]), *a[1:])),
         math="log sum exp x over axes, shifted by the max", arity=1, attr_kinds={'axis': 'axes', 'keepdims': 'bool'},
         shares=True)


def _normalizer_infer(inputs, attrs):
    shape, dtype, attrs = reduction(floating)(inputs, {"axis": attrs.get("axis", -1)})
    return inputs[0].shape, dtype, {"axis": attrs["axis"]}


def _normalizer_text(name):
    def text(args, attrs, node):
        axes = attrs["axis"]
        last = axes == (node.ndim - 1,)
        ax = "" if last else f", axis={axes[0] if len(axes) == 1 else axes}"
        return f"{name}({args[0]}{ax})"
    return text


def _softmax_vjp(g, ans, x):
    axis = ans.attrs["axis"]
    return (ans * (g - F.sum(g * ans, axis=axis, keepdims=True)),)


def _log_softmax_vjp(g, ans, x):
    axis = ans.attrs["axis"]
    g = g if g.shape == ans.shape else F.broadcast_to(g, ans.shape)
    return (g - F.softmax(x, axis=axis) * F.sum(g, axis=axis, keepdims=True),)


register("softmax", "normalizer", _normalizer_infer, _softmax, _softmax_vjp,
         _normalizer_text("softmax"), _call_latex(r"\operatorname{softmax}", True),
         sympy=_named("softmax"), math="e^x / sum e^x along axis", arity=1,
         attr_kinds={'axis': 'axes'}, writes_out=True, shares=True)
register("log_softmax", "normalizer", _normalizer_infer, _log_softmax, _log_softmax_vjp,
         _normalizer_text("log_softmax"), _call_latex(r"\log\operatorname{softmax}", True),
         sympy=_named("log_softmax"), math="x - logsumexp(x) along axis", arity=1,
         attr_kinds={'axis': 'axes'}, writes_out=True, shares=True)
