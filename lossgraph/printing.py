"""The one printer of nodes, as plain text or LaTeX, driven by each op's `text` / `latex` form.

Losses and gradients print in the same vector notation: an input is its name (x, \\theta,
\\mathrm{log\\_probs}), a reduction is a big operator over the reduced axes
(\\sum x, \\max_{C} X), composites keep their names (\\operatorname{softmax}, \\sigma),
`where` is a cases block, a constant is its shortest round-trip repr (10^{-7},
2.5 \\cdot 10^{-3} in LaTeX). Parentheses come from precedence and the graph's grouping: an
operand is wrapped when it binds more loosely than its place, or sits right of an operator of
its own level (x + (y - z): floating point does not reassociate, and parse(to_text(g)) gives g
back; LaTeX still writes a product's factors ungrouped), never when its op's form already
encloses it; a big operator reaches over products and stops at + and - (\\sum_{C} a b + c),
so it is wrapped only where a factor follows it (\\left(\\sum x\\right) y).

Shared subexpressions of a large graph are printed once, as `let` bindings named t0, t1, ...
(another letter when an input is named like that), so a printed gradient stays linear in
the size of its graph.
"""
from __future__ import annotations

import re

from .graph import topo_order
from .ops import OPS

ATOM = 100        # never parenthesized: a name, a number, a call f(x), a fraction
NEGATIVE = 25     # a leading minus binds like unary negation
ARITHMETIC = 10   # + - * / ** (a negative right operand is parenthesized: x - (-2)); below
                  # it relations, which chain on neither side ((a > b) = 0)
INLINE_LIMIT = 120
_TEMP_LETTERS = "tuvwsrqabcd"


def _prec(op, style):
    """The binding strength of op's form in style (ATOM for a call or an enclosed form)."""
    if style == "latex":
        if op.latex_prec is not None:
            return op.latex_prec
        if op.latex_atomic:
            return ATOM
    return ATOM if op.prec is None else op.prec


def _slot(tmpl, k):
    """(text before, text after) the placeholder {k} of a string form, or None."""
    if not isinstance(tmpl, str):
        return None
    mark = "{%d}" % k
    at = tmpl.find(mark)
    return None if at < 0 else (tmpl[:at], tmpl[at + len(mark):])


def _enclosed(slot):
    """Whether the form itself delimits the operand: f({0}), x^{{{0}}}, \\left|{0}\\right|."""
    if slot is None:
        return False
    before, after = slot[0].rstrip(), slot[1].lstrip()
    return before.endswith(("(", "[", "|", ",", "{{")) and \
        after.startswith((")", "]", "|", ",", r"\right", "}}"))


def _top_level(tex, chars):
    """Whether tex has one of chars outside every brace group."""
    depth = 0
    for k, ch in enumerate(tex):
        if ch == "{" and tex[k - 1:k] != "\\":
            depth += 1
        elif ch == "}" and tex[k - 1:k] != "\\":
            depth -= 1
        elif depth == 0 and ch in chars:
            return True
    return False


def _wrap(s, style):
    return rf"\left({s}\right)" if style == "latex" else f"({s})"


def _operand(node, k, arg, style):
    """Operand k of node, printed as arg = (text, precedence, reach), parenthesized if its
    place needs it. reach: the precedence a big operator at the end of text reaches over
    (a factor after \\sum x would join its operand), None when text ends closed."""
    text, p, reach = arg
    op = OPS[node.op]
    tmpl = op.latex if style == "latex" else op.text
    my = _prec(op, style)
    slot = _slot(tmpl, k)
    if my >= ATOM or _enclosed(slot):
        return text
    last = k == op.arity - 1 if op.arity else True
    if style == "latex" and slot is not None and slot[1].startswith(("^", "_")):
        if text.startswith((r"\frac", r"\begin")) or _top_level(text, "^") or p < my:
            return _wrap(text, style)
        return "{%s}" % text if slot[1].startswith("_") and _top_level(text, "_") else text
    signed = text.startswith("-") and my >= ARITHMETIC and \
        (k > 0 or (slot is not None and slot[0].rstrip().endswith(("-", "+"))))
    if reach is not None and p >= reach and last and slot is not None and not slot[1] and \
            not signed:
        return text  # nothing follows a big operator at the end: -\sum x (not -(1 + \sum x))
    # a right operand at its op's own level keeps its parentheses, associative ops included:
    # x + (c - c) is not x + c - c in floating point, and parse(to_text(g)) is g; LaTeX drops
    # them for products (2 \sum a b), whose grouping moves no more than an ulp
    regroups = op.assoc and style == "latex" and my > ARITHMETIC
    needs = p < my or \
        (p == my and k > 0 and not (regroups or op.right_assoc)) or \
        (p == my and k == 0 and (op.right_assoc or (my < ARITHMETIC and not op.assoc))) or \
        (reach is not None and not last and my >= reach) or signed
    return _wrap(text, style) if needs else text


def _render(node, args, style):
    """(text, precedence, reach) of node from its operands' triples (see _operand)."""
    op = OPS[node.op]
    tmpl = op.latex if style == "latex" else op.text
    if tmpl == "{0}":  # a transparent form (cast, reshape, ...) prints as its operand
        return args[0]
    fixed = [_operand(node, k, a, style) for k, a in enumerate(args)]
    text = tmpl(fixed, node.attrs, node) if callable(tmpl) else tmpl.format(*fixed, **node.attrs)
    prec = _prec(op, style)
    if text.startswith("-") and prec > NEGATIVE:  # a negative number
        prec = NEGATIVE
    if style == "latex" and op.latex_prefix:
        reach = prec
    else:  # open when the last operand ends the text as it was, itself open
        reach = args[-1][2] if args and fixed[-1] == args[-1][0] and \
            text.endswith(fixed[-1]) else None
    return text, prec, reach


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


def temp_letter(order):
    """A letter for let-bound temporaries that no input or dim name of the form letter +
    digits uses (an input named t0 moves the temporaries to u0, u1, ...)."""
    names = {n.name for n in order if n.op == "input"}
    names |= {f for n in order for d in n.shape for f in str(d).split("*")}
    taken = {m.group(1) for name in names for m in [re.fullmatch(r"([^\W\d]+)\d*", name)] if m}
    for letter in _TEMP_LETTERS:
        if letter not in taken:
            return letter
    return "tmp_" + "_" * max(map(len, taken))


def _print(root, style, max_len=None):
    order = topo_order([root])
    shared = set()
    if _tree_sizes(order)[id(root)] > INLINE_LIMIT:
        uses = _use_counts(order)
        shared = {id(n) for n in order if uses.get(id(n), 0) > 1 and n.inputs and n is not root}
    letter = temp_letter(order) if shared else ""
    out, lets = {}, []
    for n in order:
        args = [out[id(i)] for i in n.inputs]
        out[id(n)] = _render(n, args, style)
        if id(n) in shared:
            k = len(lets)
            name = f"{letter}{k}" if style == "text" else f"{letter}_{{{k}}}"
            lets.append((name, out[id(n)][0]))
            out[id(n)] = (name, ATOM, None)
    body = out[id(root)][0]
    if lets:
        if style == "text":
            body = "let\n" + "\n".join(f"{k} = {v}" for k, v in lets) + f"\nin {body}"
        else:
            rows = r" \\ ".join(f"{k} &= {v}" for k, v in lets)
            body = rf"\begin{{aligned}} {rows} \\ &\Rightarrow {body} \end{{aligned}}"
    if max_len is not None and len(body) > max_len:
        body = body[: max_len - 3] + "..."
    return body


def to_text(node, max_len=None):
    """Readable infix text, e.g. `(sigmoid(x) - z) / N`.

    Examples:
        >>> x, z = lg.input("x", shape=("N",)), lg.input("z", shape=("N",))
        >>> lg.to_text((lg.sigmoid(x) - z) / lg.size(x))
        '(sigmoid(x) - z) / N'

    Raises:
        TypeError: node is not a Node, a number or an array.
    """
    from .api import as_node
    return _print(as_node(node), "text", max_len)


def latex(node):
    r"""A LaTeX string for the node, in the same notation for losses and gradients:
    mean((p - t)^2) prints \frac{\sum \left(p - t\right)^{2}}{N}, its gradient
    \frac{2 \left(p - t\right)}{N}.

    Examples:
        >>> lg.latex(lg.square(lg.input("x", shape=("N",))))
        'x^{2}'

    Raises:
        TypeError: node is not a Node, a number or an array.
    """
    from .api import as_node
    return _print(as_node(node), "latex")
