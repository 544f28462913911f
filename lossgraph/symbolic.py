"""Graphs to SymPy and back.

to_sympy has two modes. Elementwise: an input is a Symbol, an op is its record's `sympy`
form (composites stay named: sigmoid(x), softplus(x), from lossgraph.sympy_funcs).
Indexed: an input of shape (N, C) is an IndexedBase read at per-axis index symbols
(x[i, j]; broadcasting aligns from the right, size-1 axes read index 0) and a reduction over
axis a is Sum(body, (j, 0, C - 1)), so sympy.latex prints \\sum_{j=0}^{C - 1}.

from_sympy maps an elementwise SymPy formula back to a graph through the inverse of the op
table's sympy forms.
"""
from __future__ import annotations

from fractions import Fraction
import math

import numpy as np

from .errors import LossgraphError
from .graph import Node, topo_order
from .ops import OPS
from .ops.linalg import indexed as _matmul_rule
from .shapes import _factors
from .names import quote

# Index names for free output axes and bound reduction variables, in order of use.
_INDEX_NAMES = "i j k l m n p q r s u v w".split()


class SymbolicError(LossgraphError, TypeError):
    """A graph (or SymPy expression) with a part that has no counterpart on the other side."""


def _sp():
    import sympy
    return sympy


# --- numbers and dims

def number(v):
    """A SymPy number for a Python/NumPy scalar: Integer or small Rational when exact, oo/nan
    for the IEEE specials, else a Float with all 53 bits."""
    sp = _sp()
    if isinstance(v, (bool, np.bool_)):
        return sp.true if v else sp.false
    if isinstance(v, (int, np.integer)):
        return sp.Integer(int(v))
    v = float(v)
    if math.isnan(v):
        return sp.nan
    if math.isinf(v):
        return sp.oo if v > 0 else -sp.oo
    if v.is_integer():
        return sp.Integer(int(v))
    f = Fraction(v).limit_denominator(1000)
    if float(f) == v:
        return sp.Rational(f.numerator, f.denominator)
    return sp.Float(v)


def dim_symbol(name):
    return _sp().Symbol(name, positive=True, integer=True)


def dim(d):
    """A dim (int or canonical product string like "2*N*T") as a SymPy expression."""
    coeff, names = _factors(d)
    out = _sp().Integer(coeff)
    for n in names:
        out *= dim_symbol(n)
    return out


def _scalar_constant(node):
    """The single value of a constant whose entries are all equal (None otherwise)."""
    v = node.attrs["value"]
    if v.size == 0:
        return None
    first = v.flat[0]
    same = np.all(v == first) or (v.dtype.kind == "f" and np.all(np.isnan(v)) and first != first)
    return number(first.item()) if same else None


def input_symbol(node):
    """The Symbol an input becomes in elementwise mode (float: real, int: integer)."""
    kind = {"bool": {}, "int": {"integer": True}}.get(_dtype_kind(node.dtype), {"real": True})
    return _sp().Symbol(node.name, **kind)


def _dtype_kind(dtype):
    return "bool" if dtype == "bool" else ("int" if dtype.startswith("int") else "float")


# --- elementwise mode

def _is_unit_reshape(node):
    """A reshape that only inserts or drops size-1 axes."""
    x = node.inputs[0]
    return [d for d in x.shape if d != 1] == [d for d in node.shape if d != 1]


# ops that are not elementwise but convert without indices: op -> whether this node does
_WITHOUT_INDICES = {
    "input": lambda n: True,
    "dimsize": lambda n: True,
    "broadcast_to": lambda n: True,
    "one_hot": lambda n: True,
    "constant": lambda n: _scalar_constant(n) is not None,
    "reshape": _is_unit_reshape,
}
# their elementwise-mode forms: op -> form(node, converted inputs)
_ELEMENTWISE_FORMS = {
    "input": lambda n, args: input_symbol(n),
    "constant": lambda n, args: _scalar_constant(n),
    "dimsize": lambda n, args: _sp().Mul(*[dim(d) for d in n.attrs["dims"]]),
    "broadcast_to": lambda n, args: args[0],
    "reshape": lambda n, args: args[0],
}


def elementwise_ok(node):
    """Whether node converts in elementwise mode (no indices needed)."""
    if OPS[node.op].kind in ("elementwise", "normalizer"):
        return True
    rule = _WITHOUT_INDICES.get(node.op)
    return rule is not None and rule(node)


def _elementwise(order):
    out = {}
    for n in order:
        args = [out[id(i)] for i in n.inputs]
        form = _ELEMENTWISE_FORMS.get(n.op)
        out[id(n)] = form(n, args) if form else _apply(OPS[n.op], args, n.attrs)
    return out[id(order[-1])]


def _apply(op, args, attrs):
    if op.sympy is None:
        raise SymbolicError(f"to_sympy: op {op.name!r} has no SymPy form")
    return op.sympy(args, attrs)


# --- indexed mode

class _Indexed:
    """Converts node values read at an index tuple (one SymPy expression per axis)."""

    def __init__(self, order):
        taken = {n.name for n in order if n.op == "input"}
        for n in order:
            for d in n.shape:  # dims N, C also keep n, c free: n = 0..C - 1 would mislead
                taken.update(f for name in _factors(d)[1] for f in (name, name.lower()))
        self.names = [s for s in _INDEX_NAMES if s not in taken]
        self.used = 0
        self.cache = {}
        self.made = set()

    def fresh(self):
        k = self.used
        self.used += 1
        base = self.names[k % len(self.names)] if self.names else "idx"
        name = base if k < len(self.names) else f"{base}_{k // max(len(self.names), 1)}"
        sym = _sp().Symbol(name, integer=True, nonnegative=True)
        self.made.add(sym)
        return sym

    def at(self, node, idx):
        key = (id(node), idx)
        hit = self.cache.get(key)
        if hit is None:
            op = OPS[node.op]
            rule = _INDEXED_RULES.get(node.op) or _KIND_RULES.get(op.kind)
            if rule is None:
                raise SymbolicError(f"to_sympy: op {node.op!r} has no SymPy form")
            hit = rule(self, node, idx)
            self.cache[key] = hit
        return hit

    def limits(self, x, axes):
        """Fresh bound symbols for axes of x and their (j, 0, dim - 1) limits."""
        syms = {a: self.fresh() for a in axes}
        return syms, [(syms[a], 0, dim(x.shape[a]) - 1) for a in axes]


def _align(idx, in_shape):
    """The index into an operand of in_shape broadcast to the output (NumPy rule)."""
    tail = idx[len(idx) - len(in_shape):] if in_shape else ()
    zero = _sp().Integer(0)
    return tuple(zero if d == 1 else i for i, d in zip(tail, in_shape))


def _reduced_index(node, idx, syms):
    """Input index of a reduction: bound symbols at reduced axes, output indices elsewhere."""
    x = node.inputs[0]
    axes = node.attrs["axis"]
    keep = node.attrs.get("keepdims", False)
    rest = iter(i for k, i in enumerate(idx) if not keep or k not in axes)
    return tuple(syms[a] if a in axes else next(rest) for a in range(x.ndim))


def _elementwise_rule(conv, node, idx):
    args = [conv.at(i, _align(idx, i.shape)) for i in node.inputs]
    return _apply(OPS[node.op], args, node.attrs)


def _reduction_rule(conv, node, idx):
    x = node.inputs[0]
    syms, limits = conv.limits(x, node.attrs["axis"])
    body = conv.at(x, _reduced_index(node, idx, syms))
    if not limits:  # a reduction over no axes (of a scalar) is the identity
        return body
    return _apply(OPS[node.op], [body, *limits], node.attrs)


def _normalizer_parts(conv, node, idx):
    x = node.inputs[0]
    axes = node.attrs["axis"]
    syms, limits = conv.limits(x, axes)
    other = tuple(syms[a] if a in axes else i for a, i in enumerate(idx))
    sp = _sp()
    return conv.at(x, idx), sp.Sum(sp.exp(conv.at(x, other)), *limits)


def _softmax_rule(conv, node, idx):
    own, total = _normalizer_parts(conv, node, idx)
    return _sp().exp(own) / total


def _log_softmax_rule(conv, node, idx):
    own, total = _normalizer_parts(conv, node, idx)
    return own - _sp().log(total)


def _input_rule(conv, node, idx):
    if node.ndim == 0:
        return input_symbol(node)
    sp = _sp()
    kind = _dtype_kind(node.dtype)
    base = sp.IndexedBase(node.name, **({"integer": True} if kind != "float" else
                                        {"real": True}))
    read = base[_align(idx, node.shape)]
    return sp.Eq(read, 1) if kind == "bool" else read


def _constant_rule(conv, node, idx):
    same = _scalar_constant(node)
    if same is not None or node.ndim == 0:
        return same if same is not None else number(node.attrs["value"].item())
    v = node.attrs["value"]
    return _sp().Array(v.tolist())[_align(idx, v.shape)]


def _reshape_rule(conv, node, idx):
    x = node.inputs[0]
    if _is_unit_reshape(node):
        rest = iter(i for i, d in zip(idx, node.shape) if d != 1)
        zero = _sp().Integer(0)
        return conv.at(x, tuple(zero if d == 1 else next(rest) for d in x.shape))
    sp = _sp()
    flat = sp.Integer(0)
    for i, d in zip(idx, node.shape):
        flat = flat * dim(d) + i
    inner, stride = [], sp.Integer(1)
    for d in reversed(x.shape):
        inner.append(sp.Mod(sp.floor(flat / stride), dim(d)))
        stride *= dim(d)
    return conv.at(x, tuple(reversed(inner)))


def _transpose_rule(conv, node, idx):
    perm = node.attrs["perm"]
    inner = [None] * len(perm)
    for k, p in enumerate(perm):
        inner[p] = idx[k]
    return conv.at(node.inputs[0], tuple(inner))


def _one_hot_rule(conv, node, idx):
    axis = node.attrs["axis"]
    label = conv.at(node.inputs[0], idx[:axis] + idx[axis + 1:])
    return _sp().KroneckerDelta(idx[axis], label)


def _pick_rule(conv, node, idx):
    x, y = node.inputs
    axis = node.attrs["axis"]
    return conv.at(x, idx[:axis] + (conv.at(y, idx),) + idx[axis:])


def _take_rule(conv, node, idx):
    x, ind = node.inputs
    axis = node.attrs["axis"]
    at = list(_align(idx, x.shape))
    at[axis] = conv.at(ind, _align(idx, ind.shape))
    return conv.at(x, tuple(at))


def _scatter_rule(conv, node, idx):
    g, ind = node.inputs
    axis = node.attrs["axis"]
    k = conv.fresh()
    src = tuple(k if a == axis else i for a, i in enumerate(idx))
    sp = _sp()
    hit = sp.KroneckerDelta(conv.at(ind, _align(src, ind.shape)), idx[axis])
    return sp.Sum(conv.at(g, _align(src, g.shape)) * hit, (k, 0, dim(ind.shape[axis]) - 1))


_KIND_RULES = {"elementwise": _elementwise_rule, "reduction": _reduction_rule}
_INDEXED_RULES = {
    "input": _input_rule,
    "constant": _constant_rule,
    "dimsize": lambda conv, n, idx: _sp().Mul(*[dim(d) for d in n.attrs["dims"]]),
    "arange": lambda conv, n, idx: idx[0],
    "softmax": _softmax_rule,
    "log_softmax": _log_softmax_rule,
    "broadcast_to": lambda conv, n, idx: conv.at(n.inputs[0], _align(idx, n.inputs[0].shape)),
    "reshape": _reshape_rule,
    "transpose": _transpose_rule,
    "one_hot": _one_hot_rule,
    "pick": _pick_rule,
    "take_along_axis": _take_rule,
    "scatter_along_axis": _scatter_rule,
    "matmul": _matmul_rule,
}


def _indexed(order, root):
    conv = _Indexed(order)
    free = tuple(conv.fresh() for _ in root.shape)
    try:
        expr = conv.at(root, free)
    except RecursionError:
        raise SymbolicError("to_sympy: SymPy ran out of recursion depth converting the graph "
                            f"in indexed mode ({len(order)} nodes; a where inside a reduction "
                            "makes SymPy fold Piecewise expressions into each other)") from None
    leaked = (expr.free_symbols & conv.made) - set(free)
    if leaked:  # SymPy's piecewise_fold lifts a where out of a max/sum body into a condition
        raise SymbolicError(
            f"to_sympy: SymPy moved the bound index {sorted(map(str, leaked))[0]} of a "
            "reduction out of its range (a where inside a reduction inside a condition); "
            "this graph has no faithful indexed SymPy form")
    return expr


def to_sympy(node, indexed=None):
    """node as a SymPy expression.

    indexed=None picks elementwise mode when the graph has no reductions, shape or index ops
    (broadcast_to and size-1 reshapes are fine), else indexed mode; True/False force it.
    In indexed mode the free indices i, j, ... stand for the axes of node.

    Examples:
        >>> x = lg.input("x", shape=("N",))
        >>> lg.to_sympy(lg.softplus(x) - x)
        -x + softplus(x)

    Raises:
        SymbolicError: a part of the graph has no SymPy counterpart.
    """
    from .api import as_node
    node = as_node(node)
    order = topo_order([node])
    simple = all(elementwise_ok(n) for n in order)
    if indexed is None:
        indexed = not simple
    if indexed:
        return _indexed(order, node)
    if not simple:
        bad = next(n for n in order if not elementwise_ok(n))
        raise SymbolicError(f"to_sympy: op {bad.op!r} needs indexed mode (to_sympy(node, "
                            f"indexed=True)); elementwise mode takes elementwise ops only")
    return _elementwise(order)


# --- from SymPy

def _from_table():
    """SymPy head class -> (op name, arity), read off each op's sympy form applied to fresh
    symbols: an op whose form is exactly Head(a0, a1, ...) inverts to that op."""
    sp = _sp()
    inverse = {}
    for name, op in OPS.items():
        if op.sympy is None or op.kind not in ("elementwise", "normalizer"):
            continue
        for arity in (1, 2, 3):
            args = sp.symbols(f"a0:{arity}")
            try:
                form = op.sympy(list(args), {})
            except (IndexError, KeyError, TypeError, ValueError):
                continue
            if form.func is not sp.Symbol and tuple(sorted(form.args, key=str)) == args:
                inverse.setdefault(form.func, (name, arity))
                break
    return inverse


_INVERSE = None


def _inverse():
    global _INVERSE
    if _INVERSE is None:
        _INVERSE = _from_table()
    return _INVERSE


def from_sympy(expr, inputs):
    """An elementwise SymPy formula as a graph. inputs: a dict name -> input Node, or a list
    of input Nodes (named by their names). Symbols not among them are an error.

    Examples:
        >>> import sympy
        >>> x = lg.input("x", shape=("N",))
        >>> print(lg.from_sympy(sympy.log(1 + sympy.exp(sympy.Symbol("x"))), [x]))
        log(exp(x) + 1)

    Raises:
        SymbolicError: a symbol is not among the inputs, or a function has no graph counterpart.
    """
    sp = _sp()
    from . import api as F
    if isinstance(inputs, Node):
        inputs = [inputs]
    table = dict(inputs) if isinstance(inputs, dict) else {n.name: n for n in inputs}
    for k, v in table.items():
        if not isinstance(v, Node):
            raise SymbolicError(f"from_sympy: inputs[{k!r}] must be a Node, got "
                                f"{type(v).__name__}")
    expr = sp.sympify(expr)
    inverse = _inverse()
    memo = {}

    def build(e):
        hit = memo.get(e)
        if hit is None:
            hit = memo[e] = convert(e)
        return hit

    def convert(e):
        if isinstance(e, sp.Symbol):
            if e.name not in table:
                raise SymbolicError(f"from_sympy: symbol {quote(e.name)} is not among the inputs "
                                    f"({', '.join(map(repr, table)) or 'none given'})")
            return table[e.name]
        if e is sp.true or e is sp.false:
            return F.constant(bool(e))
        if e.is_number:
            try:
                return F.constant(float(e))
            except TypeError:
                if e.is_Atom:
                    raise SymbolicError(f"from_sympy: {e} is not a real number") from None
        rule = _SPECIAL.get(type(e).__name__)
        if rule is not None:
            return rule(e, build, F)
        found = inverse.get(e.func)
        if found is None:
            raise SymbolicError(f"from_sympy: no lossgraph op for SymPy {e.func.__name__} "
                                f"(in {e})")
        return _fold(*found, [build(a) for a in e.args])

    return build(expr)


def _fold(name, arity, args):
    """name(*args); n-ary SymPy heads (Add, Max, And, ...) fold over the binary op."""
    from .graph import make
    if arity == 2 and len(args) > 2:
        out = args[0]
        for a in args[1:]:
            out = make(name, out, a)
        return out
    if len(args) != arity:
        raise SymbolicError(f"from_sympy: {name} takes {arity} arguments, got {len(args)}")
    return make(name, *args)


def _negated(term):
    coeff, _ = term.as_coeff_Mul()
    return bool(coeff.is_Number and coeff < 0)


def _add(e, build, F):
    """A sum with its positive terms first, negative terms subtracted: x - t, not -t + x."""
    terms = sorted(e.as_ordered_terms(), key=_negated)
    out = build(terms[0])
    for t in terms[1:]:
        out = out - build(-t) if _negated(t) else out + build(t)
    return out


def _mul(e, build, F):
    sp = _sp()
    coeff, rest = e.as_coeff_Mul()
    if coeff == -1:
        return -build(rest)
    num, den = [], []
    for f in e.as_ordered_factors():
        base, ex = f.as_base_exp()
        if ex.is_Number and ex < 0:
            den.append(sp.Pow(base, -ex))
        else:
            num.append(f)
    top = _product([build(f) for f in num]) if num else F.constant(1.0)
    return top / _product([build(f) for f in den]) if den else top


def _product(nodes):
    out = nodes[0]
    for n in nodes[1:]:
        out = out * n
    return out


_POWERS = {2: "square", 0.5: "sqrt"}


def _pow(e, build, F):
    base, ex = e.args
    if ex.is_Number:
        if ex < 0:
            return F.constant(1.0) / build(_sp().Pow(base, -ex))
        name = _POWERS.get(float(ex))
        if name is not None:
            return getattr(F, name)(build(base))
        if ex == 1:
            return build(base)
    if base is _sp().E:
        return F.exp(build(ex))
    return F.power(build(base), build(ex))


def _piecewise(e, build, F):
    sp = _sp()
    pieces = list(e.args)
    value, cond = pieces[-1]
    out = build(value) if cond is sp.true else F.where(build(cond), build(value), np.nan)
    for value, cond in reversed(pieces[:-1]):
        out = F.where(build(cond), build(value), out)
    return out


def _kronecker(e, build, F):
    return F.cast(F.equal(build(e.args[0]), build(e.args[1])), "float")


def _ite(c, a, b, F):
    """if c then a else b, over truth values: (c and a) or (not c and b)."""
    return F.logical_or(F.logical_and(c, a), F.logical_and(F.logical_not(c), b))


def _logic(fold):
    """A SymPy boolean form (ITE, Xor, ...) that Piecewise simplification may produce."""
    def rule(e, build, F):
        args = [build(a) for a in e.args]
        out = args[0]
        for a in args[1:]:
            out = fold(F, out, a)
        return out if len(args) > 1 else fold(F, out)
    return rule


_SPECIAL = {"Add": _add, "Mul": _mul, "Pow": _pow, "Piecewise": _piecewise,
            "KroneckerDelta": _kronecker,
            "ITE": lambda e, build, F: _ite(*[build(a) for a in e.args], F),
            "Xor": _logic(lambda F, a, b: F.not_equal(a, b)),
            "Implies": _logic(lambda F, a, b: F.logical_or(F.logical_not(a), b)),
            "Equivalent": _logic(lambda F, a, b: F.equal(a, b))}

__all__ = ["to_sympy", "from_sympy", "SymbolicError", "number", "dim"]

