"""Node: an immutable, hash-consed expression graph vertex.

Building the same expression twice gives the same object, so common subexpressions are
shared for free and `a is b` (also `a == b`) tells whether two graphs are the same.
"""
from __future__ import annotations

import gc
import threading
import weakref
from contextlib import contextmanager
from operator import attrgetter
from types import MappingProxyType
from _weakref import _remove_dead_weakref   # what WeakValueDictionary's callback uses

import numpy as np

from .errors import LossgraphError
from .ops.base import OPS

# op -> {inputs -> weakref.ref(node)} ({(inputs, frozen attrs) -> ...} for a node with attrs):
# plain dicts (a WeakValueDictionary costs a Python call per lookup and store); inputs compare
# by identity, and the key of a node without attrs is its own inputs tuple (no key tuple per
# node). A dying node's callback drops its own entry, and only while that entry is still the
# dead reference (a node built again since keeps its entry). Inserts are dict.setdefault,
# atomic: of two threads building the same node, both get the one that went in first.
_TABLE: dict = {}
_LOCK = threading.Lock()
# (op, (shape, dtype) of each input) -> (shape, dtype) of an elementwise op without attrs: its
# rule reads nothing else (broadcasting and a dtype rule), so a repeated signature skips it.
_INFERRED: dict = {}
INFERRED_LIMIT = 4096
_signature = attrgetter("_sig")
_NO_ATTRS = MappingProxyType({})


def _freeze(v):
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, tuple):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "fc" and np.isnan(v).any():   # every nan one key, as a float's
            v = np.where(np.isnan(v), np.nan, v)
        return ("ndarray", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, float) and v != v:
        return ("nan",)
    return v


class Node:
    """A vertex of a loss graph: op name, input nodes, attributes, shape and dtype.

    Nodes are immutable and hash-consed: building the same expression twice gives the same
    object, so `a is b` tells whether two graphs are equal (and `==` is identity; the elementwise
    test is lg.equal). They are made by the functions of lossgraph.api, which check shapes and
    dtypes (ShapeError, DTypeError) as they build.

    Examples:
        >>> x = lg.input("x", shape=("N", 3))
        >>> (x + 1).shape, (x + 1).dtype, (x + 1) is (x + 1)
        (('N', 3), 'float', True)
    """

    # _sig: (shape, dtype), the key of the shape cache; _normal: lossgraph.rewrite's memo (None:
    # not known, True: no rule fires at or below this node, else the node's normal form)
    __slots__ = ("op", "inputs", "attrs", "shape", "dtype", "_sig", "_normal", "__weakref__")

    def __init__(self, *a, **k):
        raise TypeError("Nodes are built with lossgraph functions (lg.input, lg.exp, ...), "
                        "not Node(...)")

    @classmethod
    def _make(cls, op_name, inputs, attrs):
        if type(inputs) is not tuple:
            inputs = tuple(inputs)
        table = _TABLE.get(op_name)
        if table is None:
            table = _TABLE.setdefault(op_name, {})
        key = inputs
        shape_dtype = sig = None
        if not attrs:   # an existing node is found without inferring its shape again
            ref = table.get(key)
            node = ref() if ref is not None else None
            if node is not None:
                return node
            arity = len(inputs)       # spelled out for the common arities (a third faster)
            sig = (op_name, inputs[0]._sig, inputs[1]._sig) if arity == 2 else \
                (op_name, inputs[0]._sig) if arity == 1 else (op_name, *map(_signature, inputs))
            shape_dtype = _INFERRED.get(sig)
        if shape_dtype is None:
            op = OPS[op_name]
            shape, dtype, attrs = op.infer(inputs, dict(attrs))
            shape_dtype = tuple(shape), dtype
            if attrs:
                key = (inputs, tuple(sorted((k, _freeze(v)) for k, v in attrs.items())))
                ref = table.get(key)
                node = ref() if ref is not None else None
                if node is not None:
                    return node
            elif sig is not None and op.kind == "elementwise":
                if len(_INFERRED) >= INFERRED_LIMIT:
                    _INFERRED.clear()
                _INFERRED[sig] = shape_dtype
        node = _Unsealed()          # filled in by plain slot stores, then sealed as a Node
        node.op = op_name
        node.inputs = inputs
        node.attrs = MappingProxyType(attrs) if attrs else _NO_ATTRS
        node.shape, node.dtype = shape_dtype
        node._sig = shape_dtype
        node._normal = None
        node.__class__ = cls
        entry = _Entry(node, _drop)
        entry.table, entry.key = table, key
        got = table.setdefault(key, entry)
        if got is entry:
            return node
        return _existing(table, key, got, entry, node)

    def __setattr__(self, name, value):
        raise AttributeError("Node is immutable")

    def __reduce__(self):
        raise TypeError("Nodes are not pickled; use lg.to_json / lg.from_json")

    # --- properties
    @property
    def ndim(self):
        return len(self.shape)

    @property
    def name(self):
        """The input name (inputs only)."""
        return self.attrs.get("name")

    @property
    def spec(self):
        return OPS[self.op]

    def __bool__(self):
        raise LossgraphError("a Node has no truth value: use lg.where(cond, a, b) for "
                             "branches, and `is` to compare graphs")

    def __iter__(self):
        raise TypeError("a Node is not iterable")

    def __len__(self):
        raise TypeError("len() of a Node: use node.shape")

    def __repr__(self):
        from .printing import to_text
        shape = ", ".join(map(str, self.shape))
        return f"<Node {to_text(self, max_len=80)} : {self.dtype}[{shape}]>"

    def __str__(self):
        from .printing import to_text
        return to_text(self)

    def _repr_svg_(self):
        from .viz import repr_svg
        return repr_svg(self)

    def _repr_latex_(self):
        """The formula, for Jupyter."""
        from .printing import latex
        return f"$\\displaystyle {latex(self)}$"

    # --- operators
    def __add__(self, o): return _api().add(self, o)
    def __radd__(self, o): return _api().add(o, self)
    def __sub__(self, o): return _api().subtract(self, o)
    def __rsub__(self, o): return _api().subtract(o, self)
    def __mul__(self, o): return _api().multiply(self, o)
    def __rmul__(self, o): return _api().multiply(o, self)
    def __truediv__(self, o): return _api().divide(self, o)
    def __rtruediv__(self, o): return _api().divide(o, self)
    def __pow__(self, o): return _api().power(self, o)
    def __rpow__(self, o): return _api().power(o, self)
    def __matmul__(self, o): return _api().matmul(self, o)
    def __rmatmul__(self, o): return _api().matmul(o, self)
    def __neg__(self): return _api().negative(self)
    def __pos__(self): return self
    def __abs__(self): return _api().abs(self)
    def __lt__(self, o): return _api().less(self, o)
    def __le__(self, o): return _api().less_equal(self, o)
    def __gt__(self, o): return _api().greater(self, o)
    def __ge__(self, o): return _api().greater_equal(self, o)
    def __and__(self, o): return _api().logical_and(self, o)
    def __or__(self, o): return _api().logical_or(self, o)
    def __invert__(self): return _api().logical_not(self)

    @property
    def T(self):
        """The axes reversed, as NumPy's .T: lg.transpose(self)."""
        return _api().transpose(self)
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # NumPy must not swallow a Node into an object array: `arr * node` returns a Node.
    __array_ufunc__ = None


class _Unsealed(Node):
    """A Node while Node._make fills it in: its slots take plain stores (a third of the cost
    of calling each slot's setter past Node.__setattr__), then __class__ = Node seals it.
    _Unsealed() makes one (object's own __init__: cheaper than calling object.__new__)."""
    __slots__ = ()
    __setattr__ = object.__setattr__
    __init__ = object.__init__


class _Entry(weakref.ref):
    """The table's reference to a node, knowing its op's table and its key there (so one
    callback serves all)."""
    __slots__ = ("table", "key")


def _existing(table, key, got, entry, node):
    """The node already in table under key, or (its entry dead, its callback not yet run)
    node, put in its place."""
    with _LOCK:
        while True:
            other = got()
            if other is not None:
                return other
            if table.get(key) is got:
                table[key] = entry
                return node
            got = table.setdefault(key, entry)
            if got is entry:
                return node


def _drop(entry):
    """A node died: its entry goes, unless the key was taken by a node built since."""
    _remove_dead_weakref(entry.table, entry.key)


_API = []


def _api():
    """lossgraph.api (imported on first use: it imports this module)."""
    if not _API:
        from . import api
        _API.append(api)
    return _API[0]


@contextmanager
def cycle_collector_paused():
    """Python's cycle collector paused while a large graph is built or rewritten: nodes never
    form reference cycles (reference counting frees them), and the collector's full passes
    over a heap of many young nodes cost a third of simplifying a 27,000-node gradient.
    A no-op when it is already paused (by the caller, or another thread in here)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def existing(op_name, inputs):
    """The node op_name(*inputs) without attrs if it exists, else None (none is built)."""
    table = _TABLE.get(op_name)
    ref = table.get(tuple(inputs)) if table is not None else None
    return ref() if ref is not None else None


def make(op_name, *inputs, **attrs):
    """Build (or find) the node op_name(*inputs) with attrs."""
    return Node._make(op_name, inputs, attrs)


def topo_order(outputs, follow=None):
    """Nodes reachable from outputs, inputs before users; iterative (no recursion limit).

    follow(node) -> bool, if given, limits the walk to inputs it accepts.

    Examples:
        >>> x = lg.input("x", shape=("N",))
        >>> [n.op for n in lg.topo_order([lg.sum(lg.exp(x))])]
        ['input', 'exp', 'sum']
    """
    order, seen = [], set()
    for root in outputs:
        if id(root) in seen:
            continue
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for child in reversed(node.inputs):
                if id(child) not in seen and (follow is None or follow(child)):
                    stack.append((child, False))
    return order


def inputs_of(outputs):
    """The input nodes a graph depends on, in first-seen order.

    Examples:
        >>> x, y = lg.input("x", shape=("N",)), lg.input("y", shape=("N",))
        >>> [n.name for n in lg.inputs_of([lg.sum(x * y)])]
        ['x', 'y']
    """
    return [n for n in topo_order(outputs) if n.op == "input"]
