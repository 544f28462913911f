"""Reverse-mode autodiff: gradient graphs (the transforms grad / value_and_grad / hvp over
Python functions live in transforms.py and are re-exported here).

Each op's vjp rule lives in its op record; this module only walks the graph once in reverse
topological order, sums cotangents, and undoes broadcasting in one place (`unbroadcast`).
A missing cotangent is a symbolic zero, so `* 0` never enters a gradient.
"""
from __future__ import annotations

from . import api as F
from . import dtypes as dt
from .errors import GradientError, ShapeError
from .graph import Node, topo_order
from .ops import OPS
from .shapes import broadcast_shapes, fmt_shape


def unbroadcast(ct, shape):
    """Sum a cotangent over the axes broadcasting added or stretched, to fit `shape`.

    Axes where ct is 1 and shape is not are left: ct still broadcasts to shape.

    Examples:
        >>> lg.unbroadcast(lg.input("g", shape=(3, 4)), (4,)).shape
        (4,)
    """
    if ct.shape == shape:
        return ct
    lead = ct.ndim - len(shape)
    trailing = ct.shape[max(lead, 0):]
    if any(c != 1 and d != 1 and c != d for c, d in zip(trailing, shape[max(-lead, 0):])):
        raise ShapeError(f"unbroadcast: a cotangent of shape {fmt_shape(ct.shape)} is not "
                         f"shape {fmt_shape(shape)} broadcast: it cannot be summed back to it")
    if lead < 0:  # a lower-rank cotangent (e.g. a scalar seed) already broadcasts to shape
        return ct
    axes = tuple(range(lead)) + tuple(
        lead + i for i, d in enumerate(shape) if d == 1 and ct.shape[lead + i] != 1)
    if axes:
        ct = F.sum(ct, axis=axes, keepdims=True)
    if lead:
        ct = F.reshape(ct, ct.shape[lead:])
    return ct


def _standing_for(ct, inp, node):
    """An elementwise rule's cotangent stands for an array of the node's (broadcast) shape,
    even when it is a lower-rank graph (a scalar seed): spell that shape out where the
    op stretched the input, so unbroadcast sums the stretched axes (d/dy sum(x + y) with
    x (2, 3) and y (3,) is 2, not 1). Other rules return cotangents shaped for the input."""
    if OPS[node.op].kind != "elementwise" or inp.shape == node.shape or ct.shape == node.shape:
        return ct
    return F.broadcast_to(ct, node.shape)


def _differentiable(node):
    return dt.is_float(node.dtype)


def _needs_grad(order, wrt_ids):
    """ids of nodes that lie on a differentiable path from some wrt node."""
    needs = set(wrt_ids)
    for n in order:
        if id(n) in needs:
            continue
        op = OPS[n.op]
        if op.vjp is None or not _differentiable(n):
            continue
        if any(id(i) in needs for k, i in enumerate(n.inputs) if k not in op.nondiff):
            needs.add(id(n))
    return needs


def _check_wrt(wrt):
    for w in wrt:
        if not isinstance(w, Node):
            raise TypeError(f"gradients: wrt must be Nodes, got {type(w).__name__}")
        if not _differentiable(w):
            raise GradientError(f"gradients: {w.name or w.op!r} has dtype {w.dtype}; only "
                                f"float inputs have gradients (labels and masks do not)")


def gradients(y, wrt, grad_output=None, simplify=True):
    """d y / d w for each w in wrt, as graphs (same shapes as the w).

    By default y is first stabilized and the gradients simplified (lossgraph.pipeline.derive):
    the naive BCE's gradient reads (sigmoid(x) - z) / N. simplify=False gives the literal
    reverse-mode derivation of y as written, for teaching.
    y must be a scalar unless grad_output (the cotangent seed, shaped like y) is given.
    A w that y does not depend on, or reaches only through piecewise-constant ops
    (comparisons, sign, casts to int, labels), gets zeros. A w that y reaches only through
    stop_gradient raises GradientError: asking for that gradient is a mistake.

    Examples:
        >>> x, z = lg.input("x", shape=("N",)), lg.input("z", shape=("N",))
        >>> (g,) = lg.gradients(lg.mean(lg.softplus(x) - x * z), [x])
        >>> print(g)
        (sigmoid(x) - z) / N

    Raises:
        GradientError: y is not a scalar and no grad_output is given; a w is an integer or bool
            input; a w reaches y only through stop_gradient.
    """
    single = isinstance(wrt, Node)
    wrt = [wrt] if single else list(wrt)
    if simplify:
        from .pipeline import derive
        out = derive(y, wrt, grad_output)[1]
    else:
        out = reverse(y, wrt, grad_output)
    return out[0] if single else out


def reverse(y, wrt, grad_output=None):
    """The literal reverse-mode derivation: a list of gradient graphs, one per w in wrt."""
    y = F.as_node(y)
    if grad_output is None:
        if y.shape != ():
            raise GradientError(f"gradients: y must be a scalar, got shape {y.shape}; "
                                f"reduce it (lg.sum / lg.mean) or pass grad_output")
        seed = F.constant(1.0)
    else:
        seed = F.as_node(grad_output)
        if broadcast_shapes(("grad_output", seed.shape), ("y", y.shape)) != y.shape:
            raise ShapeError(f"gradients: grad_output has shape {fmt_shape(seed.shape)}, "
                             f"expected y's shape {fmt_shape(y.shape)}")
    if not _differentiable(y):
        raise GradientError(f"gradients: y has dtype {y.dtype}; only float outputs have "
                            f"gradients")
    from .rewrite import guard_nans
    y = guard_nans(y)
    order = topo_order([y])
    _check_wrt(wrt)
    wrt_ids = {id(w) for w in wrt}
    needs = _needs_grad(order, wrt_ids)
    cts = {id(y): seed}
    for node in reversed(order):
        g = cts.pop(id(node), None) if id(node) not in wrt_ids else cts.get(id(node))
        op = OPS[node.op]
        if g is None or op.vjp is None or id(node) not in needs:
            continue
        parts = op.vjp(g, node, *node.inputs)
        for k, (inp, ct) in enumerate(zip(node.inputs, parts)):
            if ct is None or k in op.nondiff or id(inp) not in needs:
                continue
            ct = unbroadcast(_standing_for(F.as_node(ct), inp, node), inp.shape)
            prev = cts.get(id(inp))
            cts[id(inp)] = ct if prev is None else prev + ct
    out = []
    for w in wrt:
        g = cts.get(id(w))
        if g is None:
            if _blocked(order, w, y):
                raise GradientError(f"gradients: {w.name or w.op!r} reaches the output only "
                                    f"through stop_gradient, so it has no gradient")
            g = F.zeros_like(w)
        elif g.shape != w.shape:
            g = F.broadcast_to(g, w.shape)
        if g.dtype != w.dtype and dt.is_float(g.dtype):
            g = F.cast(g, w.dtype) if w.dtype != "float" else g
        out.append(g)
    return out


def _blocked(order, w, y):
    """w is in y's graph but every path from w to y passes through stop_gradient."""
    reach = {id(w)}
    for n in order:
        if n.op != "stop_gradient" and any(id(i) in reach for i in n.inputs):
            reach.add(id(n))
    return any(w is n for n in order) and id(y) not in reach


# --- transforms over Python functions of Nodes: lossgraph/transforms.py
from .transforms import grad, hvp, value_and_grad  # noqa: E402,F401  (re-exported)
