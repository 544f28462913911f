"""Plain-text and LaTeX printing of nodes, driven by each op's `text` / `latex` entry.

Shared subexpressions of a large graph are printed once, as `let` bindings, so a printed
gradient stays linear in the size of its graph.
"""
from __future__ import annotations

from .graph import topo_order
from .ops import OPS

ATOM = 100
INLINE_LIMIT = 120
SYMPY_LIMIT = 150  # tree size up to which indexed graphs print via SymPy (no let-sharing)


def _tree_sizes(order):
    size = {}
    for n in order:
        size[id(n)] = 1 + sum(size[id(i)] for i in n.inputs)
    return size


def _use_counts(order):
    uses = {}
    for n in order:
        for i in n.inputs:
            uses[id(i)] = uses.get(id(i), 0) + 1
    return uses


def _prec(node, style):
    op = OPS[node.op]
    if node.op == "constant" and node.attrs["value"].ndim == 0 and node.attrs["value"] < 0:
        return 25
    if op.prec is None:
        return ATOM
    if style == "latex" and op.latex_atomic:
        return ATOM
    return op.prec


def _wrap(s, style):
    return rf"\left({s}\right)" if style == "latex" else f"({s})"


def _render(node, args, precs, style):
    op = OPS[node.op]
    tmpl = op.latex if style == "latex" else op.text
    my = _prec(node, style)
    fixed = []
    for k, (a, p) in enumerate(zip(args, precs)):
        braced = isinstance(tmpl, str) and ("{{{%d}}}" % k) in tmpl
        if op.prec is not None and not braced and my < ATOM:
            right = k > 0
            needs = p < my or (p == my and right and not (op.assoc or op.right_assoc)) or \
                (p == my and not right and op.right_assoc) or \
                (isinstance(tmpl, str) and tmpl.startswith("-") and a.startswith("-"))
            if needs:
                a = _wrap(a, style)
        fixed.append(a)
    if callable(tmpl):
        return tmpl(fixed, node.attrs, node)
    return tmpl.format(*fixed, **node.attrs)


def _print(root, style, max_len=None):
    order = topo_order([root])
    sizes = _tree_sizes(order)
    uses = _use_counts(order)
    shared = set()
    if sizes[id(root)] > INLINE_LIMIT:
        shared = {id(n) for n in order
                  if uses.get(id(n), 0) > 1 and n.inputs and n is not root}
    out, lets, names = {}, [], {}
    for n in order:
        args = [out[id(i)] for i in n.inputs]
        precs = [ATOM if id(i) in names else _prec(i, style) for i in n.inputs]
        text = _render(n, args, precs, style)
        if id(n) in shared:
            name = f"t{len(lets)}" if style == "text" else f"t_{{{len(lets)}}}"
            lets.append((name, text))
            names[id(n)] = name
            text = name
        out[id(n)] = text
    body = out[id(root)]
    if lets:
        sep = "\n" if style == "text" else r" \\ "
        head = sep.join(f"{k} = {v}" for k, v in lets)
        body = f"let\n{head}\nin {body}" if style == "text" else \
            rf"\begin{{aligned}} {head} \\ &\Rightarrow {body} \end{{aligned}}"
    if max_len is not None and len(body) > max_len:
        body = body[: max_len - 3] + "..."
    return body


def to_text(node, max_len=None):
    """Readable infix text, e.g. `(sigmoid(x) - z) / N`."""
    return _print(node, "text", max_len)


def latex(node):
    """A LaTeX string for the node. A graph with reductions, normalizers or indexing prints
    its indexed SymPy form (\\frac{1}{N} \\sum_{i=0}^{N - 1} (p_{i} - t_{i})^{2}) when it
    is small enough; other graphs print from each op's latex entry."""
    from .api import as_node
    from . import symbolic
    node = as_node(node)
    order = topo_order([node])
    if _tree_sizes(order)[id(node)] <= SYMPY_LIMIT and \
            not all(symbolic.elementwise_ok(n) for n in order):
        try:
            return symbolic.latex(node)
        except symbolic.SymbolicError:
            pass
    return _print(node, "latex")
