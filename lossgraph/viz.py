"""Graphviz drawings of forward and backward graphs, fit for a teaching notebook.

draw(loss, g1, g2, labels=[...], title=...) draws the loss graph (forward style) and the
gradient graphs (backward style, dashed edges): each output carries a label (`loss`,
`d loss / d pred`), operands of an op run left to right in argument order (ordering="in"),
constants are drawn where they are used (one small node per use, so a shared 0 never spans
the picture), a legend names the styles, and a node shared by both graphs is drawn once, in
the forward style. An optional value overlay shows each node's value (the entries when there
are few, else a summary). DOT identifiers are generated (n0, c0, out0, ...); labels are
escaped text, never raw user strings.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import OptionError, RenderError
from .graph import Node, topo_order
from .ops import OPS
from .shapes import fmt_shape

STYLE = {  # role -> graphviz node attributes
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": "#fff3c4"},
    "constant": {"shape": "plaintext", "fontcolor": "#555555", "fontsize": "10",
                 "height": "0.2", "margin": "0.02"},
    "forward": {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbe9ff"},
    "backward": {"shape": "box", "style": "filled", "fillcolor": "#ffe1c7"},
}
EDGE_STYLE = {"forward": {}, "backward": {"style": "dashed", "color": "#d9730d"}}
OUTPUT = {"forward": {"penwidth": "2"}, "backward": {"peripheries": "2"}}
OUTPUT_LABEL = {"shape": "plaintext", "fontname": "Helvetica-Bold", "fontsize": "12"}
LEGEND = [("input", "input"), ("forward", "forward op"), ("backward", "gradient op"),
          ("constant", "constant")]
# infix operators of the text forms, as a reader of a figure writes them
SYMBOLS = {"-": "−", "*": "×", "/": "÷", "**": "^", "<=": "≤", ">=": "≥", "==": "=",
           "!=": "≠", "&": "and", "|": "or"}
FORMATS = {"svg", "png", "pdf", "jpg", "jpeg", "gif", "dot", "gv", "ps", "eps", "json",
           "webp", "bmp", "tif", "tiff"}
SMALL = 6  # arrays up to this many entries show their values in the overlay
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
    """The operator of a binary infix template ("{0} - {1}" -> "−"), None for call-like and
    unary ones (negation is drawn by name, not as "-x")."""
    if not isinstance(op.text, str) or op.prec is None or "(" in op.text or \
            "{1}" not in op.text:
        return None
    sym = op.text.replace("{0}", "").replace("{1}", "").strip()
    return SYMBOLS.get(sym, sym)


def _attr_value(v):
    if isinstance(v, tuple) and len(v) == 1:
        return str(v[0])
    if isinstance(v, tuple):
        return fmt_shape(v) if all(isinstance(d, (int, str)) for d in v) else str(v)
    return str(v)


def _number(x):
    if isinstance(x, float):
        return f"{x + 0.0:.4g}"  # + 0.0: no "-0"
    return str(x)


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
    """Shape and value of an evaluated array: the entries when there are at most SMALL,
    else a summary (min / mean / max, the count of true, the integer range)."""
    a = np.asarray(value)
    if a.ndim == 0:
        return f"= {_number(a.item())}"
    shape = "×".join(map(str, a.shape))
    if a.size == 0:
        return f"[{shape}] empty"
    if a.size <= SMALL:
        entries = ", ".join(_number(x) for x in a.ravel().tolist())
        return f"[{shape}] = [{entries}]"
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


def _is_constant(node):
    """Leaves other than inputs (constants, sizes, ranges): drawn once per use."""
    return OPS[node.op].kind == "leaf" and node.op != "input"


def _output_labels(labels, forward, backward):
    outs = forward + backward
    if labels is None:
        names = ["loss"] if len(forward) == 1 else [f"output {k}" for k in range(len(forward))]
        names += ["gradient"] if len(backward) == 1 else \
            [f"gradient {k}" for k in range(len(backward))]
        return names
    labels = list(labels)
    if len(labels) != len(outs) or not all(isinstance(s, str) for s in labels):
        raise OptionError(f"draw: labels must be {len(outs)} strings, one per drawn output "
                          f"(forward, then gradients), got {labels!r}")
    return labels


def _legend(dot, roles):
    """A boxed row of sample nodes, one per style the drawing uses."""
    with dot.subgraph(name="cluster_legend") as leg:
        leg.attr(label="legend", fontsize="10", color="#bbbbbb", style="rounded")
        with leg.subgraph() as row:
            row.attr(rank="same")
            shown = [r for r in LEGEND if r[0] in roles]
            for k, (role, text) in enumerate(shown):
                row.node(f"legend{k}", label=_label([text]), **{**STYLE[role], "fontsize": "9"})
                if k:  # keeps the samples in LEGEND's order, left to right
                    row.edge(f"legend{k - 1}", f"legend{k}", style="invis")


def draw(*nodes, grads=None, values=None, labels=None, title=None, legend=True,
         rankdir="TB"):
    """A graphviz.Digraph of nodes[0] (the loss) and, in backward style, of the gradient
    nodes: nodes[1:] when grads is None, else grads (then all of nodes are forward).

    labels: one string per output (forward, then gradients) drawn beside it, by default
    "loss" and "gradient"; title: a caption on top; legend: a small key of the styles;
    values: input arrays by name, then every node shows its value (or a summary).

    Examples:
        >>> x = lg.input("x", shape=("N",))
        >>> loss = lg.sum(x * x)
        >>> d = lg.draw(loss, *lg.gradients(loss, [x]), values={"x": np.array([1.0, 2.0])})
        >>> type(d).__name__
        'Digraph'

    Raises:
        OptionError: labels does not hold one string per drawn output.
        InputError: values misses an input of the graph, or names one it does not have.
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
    names = _output_labels(labels, forward, backward)
    fwd_ids = {id(n) for n in topo_order(forward)}
    order = topo_order(forward + backward)
    computed = _evaluate_all(order, values) if values is not None else None

    gv = _graphviz()
    # pack: the legend is laid out as its own component, so it cannot undo ordering="in"
    graph_attr = {"rankdir": rankdir, "ordering": "in", "pack": "true", "packmode": "array_u1",
                  "nodesep": "0.25", "ranksep": "0.3", "fontname": "Helvetica"}
    if title is not None:
        graph_attr.update(label=_label([str(title)]), labelloc="t", fontsize="16",
                          fontname="Helvetica")
    dot = gv.Digraph("lossgraph", graph_attr=graph_attr,
                     node_attr={"fontname": "Helvetica", "fontsize": "11", "height": "0.3",
                                "margin": "0.1,0.04"},
                     edge_attr={"arrowsize": "0.7"})
    ident, roles, uses = {}, set(), 0
    outputs = {}
    for k, n in enumerate(forward + backward):
        side = "forward" if k < len(forward) or id(n) in fwd_ids else "backward"
        outputs.setdefault(id(n), (side, []))[1].append(names[k])
    for k, n in enumerate(order):
        if _is_constant(n) and id(n) not in outputs:
            continue
        ident[id(n)] = f"n{k}"
        side = "forward" if id(n) in fwd_ids else "backward"
        role = "input" if n.op == "input" else ("constant" if _is_constant(n) else side)
        roles.add(role)
        lines = op_label(n)
        if computed is not None and n.op != "constant":
            lines.append(summary(computed[id(n)]))
        attrs = dict(STYLE[role])
        if id(n) in outputs:
            attrs.update(OUTPUT[outputs[id(n)][0]])
        dot.node(ident[id(n)], label=_label(lines), **attrs)
        for i in n.inputs:
            edge = EDGE_STYLE[side]
            src = ident.get(id(i))
            if src is None:  # a constant: its own small node for this use
                src = f"c{uses}"
                uses += 1
                roles.add("constant")
                lines = op_label(i)
                if computed is not None and i.op != "constant":  # size N = 3
                    lines.append(summary(computed[id(i)]))
                dot.node(src, label=_label(lines), **STYLE["constant"])
            dot.edge(src, ident[id(n)], **edge)
    for k, (nid, (side, texts)) in enumerate(outputs.items()):
        dot.node(f"out{k}", label=_label(texts), **OUTPUT_LABEL)
        dot.edge(ident[nid], f"out{k}",
                 **{**EDGE_STYLE[side], "arrowhead": "none"})
    if legend:
        _legend(dot, roles)
    return dot


def _target(path, format):
    """(file path, format) for render: the format from the file's suffix, or path + .format
    when the name has no known suffix."""
    path = Path(path)
    suffix = path.suffix[1:].lower()
    if suffix in FORMATS:
        if format is not None and format.lower() != suffix:
            raise OptionError(f"render: format={format!r} but the path {str(path)!r} ends in "
                              f".{suffix}; give one of them, or make them agree")
        return path, suffix
    format = "svg" if format is None else format
    if format.lower() not in FORMATS:
        raise OptionError(f"render: format must be one of {sorted(FORMATS)}, got {format!r}")
    return path.with_name(f"{path.name}.{format}"), format.lower()


def render(graph, path, format=None):
    """Render a Digraph (or a node, drawn first) to path and return the file's path.
    The format comes from path's suffix (out.png), else format= (default svg, appended as
    the suffix); RenderError with install instructions when graphviz's `dot` is missing.

    Examples:
        >>> lg.render(lg.draw(lg.sum(lg.input("x", shape=("N",)))), "loss.svg")  # doctest: +SKIP
        'loss.svg'

    Raises:
        RenderError: graphviz's `dot` program is missing (the message says how to install it).
        OptionError: format= disagrees with the path's suffix.
    """
    gv = _graphviz()
    if isinstance(graph, Node):
        graph = draw(graph)
    out, fmt = _target(path, format)
    try:
        data = graph.pipe(format=fmt)  # no DOT source file left beside (or over) others
    except gv.ExecutableNotFound:
        raise RenderError(INSTALL) from None
    except gv.CalledProcessError as e:
        raise RenderError(f"graphviz `dot` failed: {e}") from None
    out.write_bytes(data)
    return str(out)


def repr_svg(node, label="output"):
    """SVG text for Jupyter, or None (plain-text fallback) when `dot` is not installed."""
    try:
        gv = _graphviz()
        return draw(node, labels=[label]).pipe(format="svg").decode("utf-8")
    except RenderError:
        return None
    except gv.ExecutableNotFound:
        return None


__all__ = ["draw", "render", "repr_svg", "summary", "op_label"]
