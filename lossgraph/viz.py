"""Graphviz drawings of forward and backward graphs, with an optional value overlay.

draw(loss, g1, g2) draws the loss graph (forward style) and the gradient graphs: nodes only
the gradients use are drawn in the backward style with dashed edges, gradient outputs get a
double border; a node shared by both is drawn once, in the forward style. DOT identifiers are
generated (n0, n1, ...); labels are escaped text, never raw user strings.
"""
from __future__ import annotations

import numpy as np

from .errors import RenderError
from .graph import Node, topo_order
from .ops import OPS
from .shapes import fmt_shape

STYLE = {  # role -> graphviz node attributes
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": "#fff3c4"},
    "constant": {"shape": "box", "style": "rounded,dashed", "color": "#888888",
                 "fontcolor": "#555555"},
    "forward": {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbe9ff"},
    "backward": {"shape": "box", "style": "filled", "fillcolor": "#ffe1c7"},
}
EDGE_STYLE = {"forward": {}, "backward": {"style": "dashed", "color": "#d9730d"}}
OUTPUT = {"forward": {"penwidth": "2"}, "backward": {"peripheries": "2"}}
INSTALL = ("graphviz's `dot` program is not installed (the Python package alone cannot "
           "render): apt-get install graphviz, brew install graphviz, or "
           "conda install -c conda-forge graphviz")


def _graphviz():
    try:
        import graphviz
    except ImportError:
        raise RenderError("drawing needs the graphviz Python package: pip install graphviz"
                          ) from None
    return graphviz


# --- labels

def _infix(op):
    """The operator of an infix template ("{0} + {1}" -> "+", "-{0}" -> "-x"), None for
    call-like ones."""
    if not isinstance(op.text, str) or op.prec is None or "(" in op.text:
        return None
    if "{1}" not in op.text:
        return op.text.replace("{0}", "x")
    return op.text.replace("{0}", "").replace("{1}", "").strip()


def _attr_value(v):
    if isinstance(v, tuple) and len(v) == 1:
        return str(v[0])
    if isinstance(v, tuple):
        return fmt_shape(v) if all(isinstance(d, (int, str)) for d in v) else str(v)
    return str(v)


def _number(x):
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _constant_text(node):
    v = node.attrs["value"]
    if v.ndim == 0:
        text = _number(v.item())
    elif v.size <= 4:
        text = "[" + ", ".join(_number(x) for x in v.ravel().tolist()) + "]"
    else:
        text = f"const {fmt_shape(v.shape)}"
    return text if node.dtype == "float" else f"{text} : {node.dtype}"


_LEAF_LABELS = {
    "input": lambda n: [n.name, f"{fmt_shape(n.shape)} {n.dtype}"],
    "constant": lambda n: [_constant_text(n)],
    "dimsize": lambda n: ["size " + " * ".join(map(str, n.attrs["dims"]))],
}


def op_label(node):
    """The label lines of a node: input name with shape and dtype, constant value, or the
    op (its infix operator or name) with its attrs."""
    leaf = _LEAF_LABELS.get(node.op)
    if leaf is not None:
        return leaf(node)
    op = OPS[node.op]
    head = _infix(op) or node.op
    attrs = " ".join(f"{k}={_attr_value(v)}" for k, v in node.attrs.items()
                     if not (k == "keepdims" and v is False))
    return [f"{head} {attrs}".strip()]


def summary(value):
    """Shape and a short value summary of an evaluated array."""
    a = np.asarray(value)
    if a.ndim == 0:
        return f"= {_number(a.item())}"
    shape = "×".join(map(str, a.shape))
    if a.size == 0:
        return f"[{shape}] empty"
    if a.dtype == np.bool_:
        return f"[{shape}] {int(a.sum())} true"
    lo, hi = a.min(), a.max()
    if a.dtype.kind in "iu":
        return f"[{shape}] {lo}..{hi}"
    with np.errstate(all="ignore"):
        mean = a.mean()
    return f"[{shape}] min {_number(float(lo))} mean {_number(float(mean))} " \
           f"max {_number(float(hi))}"


def _label(lines):
    gv = _graphviz()
    return gv.nohtml("\\n".join(line.replace("\\", "\\\\") for line in lines))


# --- drawing

def _evaluate_all(order, arrays):
    from .evaluate import bind, declared_inputs, run
    return run(order, bind(declared_inputs(order), dict(arrays)))


def draw(*nodes, grads=None, values=None, rankdir="TB"):
    """A graphviz.Digraph of nodes[0] (the loss) and, in backward style, of the gradient
    nodes: nodes[1:] when grads is None, else grads (then all of nodes are forward).

    values: input arrays by name; every node then shows its shape and a value summary.
    """
    from .api import as_node
    if len(nodes) == 1 and isinstance(nodes[0], (list, tuple)):
        nodes = tuple(nodes[0])
    if not nodes:
        raise TypeError("draw: expected at least one node")
    nodes = [as_node(n) for n in nodes]
    if grads is None:
        forward, backward = nodes[:1], nodes[1:]
    else:
        forward, backward = nodes, [as_node(g) for g in grads]
    fwd_order = topo_order(forward)
    fwd_ids = {id(n) for n in fwd_order}
    order = topo_order(forward + backward)
    computed = _evaluate_all(order, values) if values is not None else None

    gv = _graphviz()
    dot = gv.Digraph("lossgraph", graph_attr={"rankdir": rankdir},
                     node_attr={"fontname": "Helvetica", "fontsize": "11"},
                     edge_attr={"arrowsize": "0.7"})
    ident = {}
    outputs = {id(n): "forward" for n in forward}
    outputs.update({id(n): "backward" for n in backward if id(n) not in fwd_ids})
    for k, n in enumerate(order):
        ident[id(n)] = f"n{k}"
        side = "forward" if id(n) in fwd_ids else "backward"
        role = "input" if n.op == "input" else \
            ("constant" if OPS[n.op].kind == "leaf" else side)
        lines = op_label(n)
        if computed is not None and n.op != "constant":
            lines.append(summary(computed[id(n)]))
        attrs = dict(STYLE[role])
        if id(n) in outputs:
            attrs.update(OUTPUT[outputs[id(n)]])
        dot.node(ident[id(n)], label=_label(lines), **attrs)
        for pos, i in enumerate(n.inputs):
            edge = dict(EDGE_STYLE[side])
            if len(n.inputs) > 1 and not OPS[n.op].assoc:
                edge.update(headlabel=str(pos), labelfontsize="9")
            dot.edge(ident[id(i)], ident[id(n)], **edge)
    return dot


def render(graph, path, format="svg"):
    """Render a Digraph (or a node, drawn first) to path.<format>; returns the file path.
    RenderError with install instructions when graphviz's `dot` is missing."""
    gv = _graphviz()
    if isinstance(graph, Node):
        graph = draw(graph)
    try:
        return graph.render(str(path), format=format, cleanup=True)
    except gv.ExecutableNotFound:
        raise RenderError(INSTALL) from None
    except gv.CalledProcessError as e:
        raise RenderError(f"graphviz `dot` failed: {e}") from None


def repr_svg(node):
    """SVG text for Jupyter, or None (plain-text fallback) when `dot` is not installed."""
    try:
        gv = _graphviz()
        return draw(node).pipe(format="svg").decode("utf-8")
    except RenderError:
        return None
    except gv.ExecutableNotFound:
        return None


__all__ = ["draw", "render", "repr_svg", "summary", "op_label"]
