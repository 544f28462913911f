"""Shape and dtype rules shared by the op families."""
from __future__ import annotations

from .. import dtypes as dt
from ..errors import DTypeError, ShapeError
from ..shapes import broadcast_shapes, normalize_axis
from ..names import quote


def label(node):
    """How an operand is named in error messages."""
    if node.op == "input":
        return quote(node.name)
    if node.op == "constant":
        return "a constant"
    from ..printing import to_text
    return f"'{to_text(node, max_len=40)}'"


def broadcast_of(inputs):
    first = inputs[0].shape
    if all(n.shape == first or n.shape == () for n in inputs):
        return first if first or len(inputs) == 1 else max((n.shape for n in inputs), key=len)
    return broadcast_shapes(*[(lambda n=n: label(n), n.shape) for n in inputs])


def elementwise(dtype_rule):
    """infer for an elementwise op: NumPy broadcasting plus a dtype rule over input dtypes."""
    def infer(inputs, attrs):
        return broadcast_of(inputs), dtype_rule(inputs), attrs
    return infer


def same_kind(inputs):
    d = dt.promote(*[n.dtype for n in inputs])
    return "int" if d == "bool" else d


def floating(inputs):
    return dt.to_float(dt.promote(*[n.dtype for n in inputs]))


def boolean(inputs):
    return "bool"


def require_bool(inputs):
    for n in inputs:
        if n.dtype != "bool":
            raise DTypeError(f"logical op: operand {label(n)} must be bool, got {n.dtype}")
    return "bool"


def require_float_input(node, what):
    if not dt.is_float(node.dtype):
        raise DTypeError(f"{what}: expected a float operand, got {label(node)} of dtype "
                         f"{node.dtype}")


def reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def reduction(dtype_rule):
    """infer for a reduction over attrs['axis'] (normalized to a tuple) with keepdims."""
    def infer(inputs, attrs):
        (x,) = inputs
        axes = normalize_axis(attrs.get("axis"), x.ndim)
        keep = bool(attrs.get("keepdims", False))
        return reduced_shape(x.shape, axes, keep), dtype_rule(inputs), \
            {"axis": axes, "keepdims": keep}
    return infer


def check_same_shape(a, b, what):
    if a.shape != b.shape:
        raise ShapeError(f"{what}: {label(a)} has shape {a.shape} but {label(b)} has "
                         f"shape {b.shape}")
