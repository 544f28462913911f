"""Integer-indexed ops: one_hot, pick (gather by label), take_along_axis and its scatter."""
from __future__ import annotations

import numpy as np

from .. import api as F
from .. import dtypes as dt
from ..errors import DTypeError, InputError, ShapeError
from ..shapes import broadcast_shapes, fmt_shape, normalize_axis, normalize_dim
from .base import register
from .rules import label


def _sympy_funcs():
    from .. import sympy_funcs
    return sympy_funcs


def _require_int(node, what):
    if not dt.is_int(node.dtype):
        raise DTypeError(f"{what}: {label(node)} must hold integer labels, got dtype "
                         f"{node.dtype}")


def check_range(idx, depth, what):
    """Labels must lie in [0, depth)."""
    if idx.size and (idx.min() < 0 or idx.max() >= depth):
        bad = idx[(idx < 0) | (idx >= depth)].flat[0]
        raise InputError(f"{what}: label {bad} is out of range [0, {depth})")


def _one_hot_infer(inputs, attrs):
    (y,) = inputs
    _require_int(y, "one_hot")
    depth = normalize_dim(attrs["depth"], "one_hot depth")
    axis = normalize_axis(attrs.get("axis", -1), y.ndim + 1, "one_hot axis")[0]
    shape = y.shape[:axis] + (depth,) + y.shape[axis:]
    dtype = dt.normalize_dtype(attrs.get("dtype", "float"))
    return shape, dtype, {"depth": depth, "axis": axis, "dtype": dtype}


def _one_hot_impl(y, depth, axis, dtype, out_shape=None):
    """A bool array; the evaluator casts it once to the node's dtype (no float64 detour)."""
    n = out_shape[axis]
    check_range(y, n, "one_hot")
    return np.moveaxis(np.arange(n) == y[..., None], -1, axis)


def _pick_infer(inputs, attrs):
    x, y = inputs
    _require_int(y, "pick")
    axis = normalize_axis(attrs.get("axis", -1), x.ndim, "pick axis")[0]
    rest = x.shape[:axis] + x.shape[axis + 1:]
    if y.shape != rest:
        raise ShapeError(f"pick: labels {label(y)} have shape {fmt_shape(y.shape)} but "
                         f"{label(x)} of shape {fmt_shape(x.shape)} without axis {axis} is "
                         f"{fmt_shape(rest)}")
    return rest, x.dtype, {"axis": axis}


def _pick_impl(x, y, axis):
    check_range(y, x.shape[axis], "pick")
    return np.squeeze(np.take_along_axis(x, np.expand_dims(y, axis), axis), axis)


def _pick_vjp(g, ans, x, y):
    axis = ans.attrs["axis"]
    if g.ndim:
        g = F.expand_dims(F.broadcast_to(g, ans.shape), axis)
    return g * F.one_hot(y, x.shape[axis], axis=axis), None


def _take_infer(inputs, attrs):
    x, idx = inputs
    _require_int(idx, "take_along_axis")
    axis = normalize_axis(attrs.get("axis", -1), x.ndim, "take_along_axis axis")[0]
    if idx.ndim != x.ndim:
        raise ShapeError(f"take_along_axis: indices {label(idx)} need {x.ndim} dims like "
                         f"{label(x)}, got shape {fmt_shape(idx.shape)}")
    others = [(lambda: label(x), x.shape[:axis] + (1,) + x.shape[axis + 1:]),
              (lambda: label(idx), idx.shape[:axis] + (1,) + idx.shape[axis + 1:])]
    b = broadcast_shapes(*others)
    return b[:axis] + (idx.shape[axis],) + b[axis + 1:], x.dtype, {"axis": axis}


def _take_impl(x, idx, axis):
    check_range(idx, x.shape[axis], "take_along_axis")
    return np.take_along_axis(x, idx, axis)


def _scatter_infer(inputs, attrs):
    g, idx = inputs
    shape = tuple(attrs["shape"])
    return shape, g.dtype, {"axis": attrs["axis"], "shape": shape}


def scatter_along_axis(g, idx, axis, shape):
    """Zeros of shape with g added at the indices along axis (NumPy only: the NumPy backend
    pastes this function into the modules it generates)."""
    out = np.zeros(shape, dtype=g.dtype)
    g = np.broadcast_to(g, np.broadcast_shapes(g.shape, idx.shape))
    idx = np.broadcast_to(idx, g.shape)
    grid = list(np.indices(g.shape, sparse=True))
    grid[axis] = idx
    np.add.at(out, tuple(grid), g)
    return out


def _scatter_impl(g, idx, axis, shape, out_shape=None):
    return scatter_along_axis(g, idx, axis, out_shape)


register("one_hot", "index", _one_hot_infer, _one_hot_impl, None,
         lambda a, at, n: f"one_hot({a[0]}, {at['depth']})" +
         ("" if at["axis"] == n.ndim - 1 else f", axis={at['axis']}"),
         r"\mathbb{{1}}\left[{0}\right]", nondiff=(0,), wants_shape=True,
         sympy=lambda a, at: _sympy_funcs().one_hot(a[0]),
         math="1 where the axis index equals the label, else 0", arity=1, attr_kinds={'depth': 'dim', 'axis': 'int', 'dtype': 'dtype'})
register("pick", "index", _pick_infer, _pick_impl, _pick_vjp,
         lambda a, at, n: f"pick({a[0]}, {a[1]}" +
         ("" if at["axis"] == n.inputs[0].ndim - 1 else f", axis={at['axis']}") + ")",
         r"{0}_{{{1}}}", latex_prec=30, nondiff=(1,), math="x[..., y, ...]: the entry of axis at label y", arity=2, attr_kinds={'axis': 'int'})
register("take_along_axis", "index", _take_infer, _take_impl,
         lambda g, ans, x, i: (F.scatter_along_axis(F.broadcast_to(g, ans.shape), i,
                                                    ans.attrs["axis"], x.shape), None),
         lambda a, at, n: f"take_along_axis({a[0]}, {a[1]}, axis={at['axis']})",
         r"{0}_{{{1}}}", latex_prec=30, nondiff=(1,), math="x gathered at indices along axis", arity=2, attr_kinds={'axis': 'int'})
register("scatter_along_axis", "index", _scatter_infer, _scatter_impl,
         lambda g, ans, x, i: (F.take_along_axis(F.broadcast_to(g, ans.shape), i,
                                                 ans.attrs["axis"]), None),
         lambda a, at, n: f"scatter_along_axis({a[0]}, {a[1]}, axis={at['axis']})",
         r"\operatorname{{scatter}}\left({0}, {1}\right)", nondiff=(1,), wants_shape=True,
         math="zeros with g added at indices along axis", arity=2, attr_kinds={'axis': 'int', 'shape': 'dims'})
