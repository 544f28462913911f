"""A small pattern language for rewrite rules: rules are data.

    P("log", P("sigmoid", X))            matches log(sigmoid(anything)), binding X's name
    P(("add", "subtract"), X, Y)         an op among several
    Const(1.0)                           a constant whose every element is 1
    Const(name="c", scalar=True)         any scalar constant, bound to "c"
    P("sum", P("exp", X), bind="s")      the matched node itself bound to "s"
    P(("add", "subtract"), ..., bind="n") any inputs (the builder looks at n itself)

A Rule pairs a pattern with a builder over the bindings (which may return None to decline),
a name, a one-line description and a phase; it records the file:line it was declared at.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


class P:
    """Match a node by op name(s) and children patterns; bind it as `bind` if given."""

    def __init__(self, op=None, *children, bind=None, where=None):
        self.ops = None if op is None else ((op,) if isinstance(op, str) else tuple(op))
        self.children = children
        self.bind = bind
        self.where = where

    def match(self, node, env):
        if self.ops is not None:
            if node.op not in self.ops:
                return False
            if self.children != (Ellipsis,):
                if len(node.inputs) != len(self.children):
                    return False
                for child, inp in zip(self.children, node.inputs):
                    if not child.match(inp, env):
                        return False
        if self.bind is not None:
            prev = env.get(self.bind)
            if prev is not None and prev is not node:
                return False
            env[self.bind] = node
        return self.where is None or bool(self.where(node, env))


def Var(name, where=None):
    """Any node, bound to name (the same name twice must match the same node)."""
    return P(None, bind=name, where=where)


class Const(P):
    """A constant (optionally broadcast) whose elements all equal `value` (any value if None)."""

    def __init__(self, value=None, bind=None, scalar=False):
        super().__init__(None, bind=bind)
        self.value, self.scalar = value, scalar

    def match(self, node, env):
        v = const_value(node)
        if v is None or (self.scalar and node.shape != ()):
            return False
        if self.value is not None:
            same = v.item() == self.value if v.size == 1 else bool(v.size and
                                                                   np.all(v == self.value))
            if not same:
                return False
        return super().match(node, env)


CONSTANT_OPS = frozenset({"constant", "broadcast_to"})   # the ops const_value sees through


def const_value(node):
    """The array of a constant node (seen through broadcast_to), else None."""
    while node.op == "broadcast_to":
        node = node.inputs[0]
    return node.attrs["value"] if node.op == "constant" else None


@dataclass
class Rule:
    name: str
    pattern: P
    build: Callable
    doc: str
    phase: str
    origin: str = field(default="")
    admits: Optional[Callable] = None   # admits(op, input_ops) -> bool: a cheap pre-filter
    # build_on_inputs(node, inputs): the rule at node's op (and attrs, dtype) over other
    # inputs, answered before that node is built: None, NEEDS_NODE or the result
    build_on_inputs: Optional[Callable] = None

    @property
    def root_ops(self) -> Optional[tuple]:
        return self.pattern.ops

    def apply(self, node):
        env = {}
        if not self.pattern.match(node, env):
            return None
        return self.build(**env)

    def on_inputs(self):
        """For a pattern whose inputs are all Vars or Consts, or a rule given build_on_inputs,
        apply as f(node, inputs): the rule at node's op over these inputs (the index having
        checked their ops), before op(*inputs) is built. None where it does not match or fire,
        NEEDS_NODE where it needs the built node (x * 0 -> zeros shaped like it), else the
        result (x * 1 -> x). None for other rules."""
        if "_on_inputs" not in self.__dict__:
            p = self.pattern
            self.__dict__["_on_inputs"] = self.build_on_inputs or _flat_on_inputs(
                p, self.build if p.bind is None else _needs_node)
        return self.__dict__["_on_inputs"]

    def indexed(self):
        """apply(node) for a node whose op, and its inputs' ops, the rewriter's index has
        already checked against the pattern: the same answers, as one compiled function."""
        fn = self.__dict__.get("_indexed")
        if fn is None:
            p, build = self.pattern, self.build
            if (p.ops is None or p.children == (Ellipsis,)) and p.where is None and \
                    p.bind is not None and not isinstance(p, Const):
                # P(ops, ..., bind=name): the index decided already; build(node) itself when
                fn = _one_arg(build, p.bind)       # it can be (no wrapper frame per call)
            else:
                fn = _flat(p, build)
                if fn is None:
                    match = _compiled(p, checked=2)

                    def fn(node):
                        env = {}
                        return build(**env) if match(node, env) else None
            self.__dict__["_indexed"] = fn
        return fn


def _one_arg(build, name):
    """build(**{name: x}) as a function of x: build itself when its one parameter is name, taken
    by position (a call with a keyword dict would not be inlined by the interpreter)."""
    code = getattr(build, "__code__", None)
    if code is not None and code.co_argcount == 1 and not code.co_kwonlyargcount and \
            code.co_varnames[0] == name and not build.__defaults__:
        return build
    return lambda x: build(**{name: x})


def _plain_var(c):
    return type(c) is P and c.ops is None and c.where is None and c.bind is not None


def _flat(p, build):
    """The indexed rule for a pattern whose inputs are all Vars or Consts (x * 1, x - x,
    0 * x): the constants tested, then the bindings made, by position; None for others."""
    on_inputs = _flat_on_inputs(p, build, root=p.bind)
    return None if on_inputs is None else lambda node: on_inputs(node, node.inputs)


NEEDS_NODE = object()      # on_inputs' answer for a match whose builder takes the node


def _needs_node(**env):
    return NEEDS_NODE


def _flat_parts(p):
    """(constant tests, bindings) by input position of a flat pattern."""
    tests = tuple((i, _const_test(c)) for i, c in enumerate(p.children) if isinstance(c, Const))
    binds = tuple((i, c.bind) for i, c in enumerate(p.children) if c.bind is not None)
    return tests, binds


def _flat_on_inputs(p, build, root=None):
    """For a flat pattern (inputs all Vars or Consts): build(**bindings) as a function of
    the inputs alone, so a node need not be built to try the rule; None for others. With
    root (the pattern's own binding), the node is bound to it too: it must be built."""
    if isinstance(p, Const) or p.ops is None or p.children == (Ellipsis,) or \
            p.where is not None or not all(isinstance(c, Const) or _plain_var(c)
                                           for c in p.children):
        return None
    tests, binds = _flat_parts(p)
    if root is None and len(binds) == 1 and len(tests) == 1:
        (at, name), = binds
        (ti, test), = tests
        known, call = test.known.get, _one_arg(build, name)

        def one_const(node, inputs):   # x * 1, 0 + x: one test (its answer looked up first)
            got = known(inputs[ti])
            if not (test(inputs[ti]) if got is None else got):
                return None
            return call(inputs[at])
        return one_const
    if root is None and len(binds) == 1:
        (at, name), = binds
        call = _one_arg(build, name)

        def one(node, inputs):    # one binding, nothing to compare
            for i, test in tests:
                if not test(inputs[i]):
                    return None
            return call(inputs[at])
        return one

    def fn(node, inputs):
        for i, test in tests:
            if not test(inputs[i]):
                return None
        env = {}
        for i, name in binds:
            x, prev = inputs[i], env.get(name)
            if prev is not None and prev is not x:
                return None
            env[name] = x
        if root is not None:
            prev = env.get(root)
            if prev is not None and prev is not node:
                return None
            env[root] = node
        return build(**env)
    return fn


def _const_test(p):
    """Whether a node is a constant (seen through broadcasts) Const p admits, as a closure;
    answers are kept per node (graphs repeat a few constants; nodes are immutable)."""
    value, scalar = p.value, p.scalar
    known = {}

    def admits(node):
        c = node
        while c.op == "broadcast_to":
            c = c.inputs[0]
        if c.op != "constant" or scalar and node.shape != ():
            return False
        if value is None:
            return True
        v = c.attrs["value"]
        return v.item() == value if v.size == 1 else bool(v.size and np.all(v == value))

    def test(node):
        got = known.get(node)
        if got is None:
            if len(known) > 1024:
                known.clear()
            got = known[node] = admits(node)
        return got
    test.known = known
    return test


def _compiled(p, checked=0):
    """p.match as a closure (node, env) -> bool over p's fields, for the rewriter's inner
    loop; checked: how many levels of ops are known to fit already (2: the node's and its
    inputs', as the rewriter's index judges them)."""
    bind, where = p.bind, p.where

    def finish(node, env):
        if bind is not None:
            prev = env.get(bind)
            if prev is not None and prev is not node:
                return False
            env[bind] = node
        return where is None or bool(where(node, env))

    if isinstance(p, Const):
        test = _const_test(p)

        def match_const(node, env):
            return test(node) and (bind is None or finish(node, env))
        return match_const
    if p.ops is None:
        return finish
    ops, op_checked = p.ops, checked > 0
    kids = None if p.children == (Ellipsis,) else \
        tuple(_compiled(c, checked - 1) for c in p.children)
    arity = None if kids is None else len(kids)

    def match(node, env):
        if not op_checked and node.op not in ops:
            return False
        if kids is not None:
            inputs = node.inputs
            if len(inputs) != arity:
                return False
            for kid, inp in zip(kids, inputs):
                if not kid(inp, env):
                    return False
        return bind is None and where is None or finish(node, env)
    return match


RULES: list = []


def rule(name, pattern, phase, doc, admits=None, on_inputs=None):
    """Register `build(**bindings) -> Node | None` as a rule (used as a decorator); admits, as
    for generic_rule, may narrow where a pattern of any inputs (P(ops, ...)) is tried;
    on_inputs(node, inputs), if given, is the rule answered before a node is built
    (Rule.on_inputs)."""
    frame = sys._getframe(1)   # not inspect.stack(): it reads every caller's source file
    origin = f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"

    def register(build):
        RULES.append(Rule(name, pattern, build, doc, phase, origin, admits, on_inputs))
        return build
    return register


def generic_rule(name, phase, doc, admits=None):
    """Register `build(node) -> Node | None`, tried at every node (no pattern to index by)
    that `admits(op, input_ops)` accepts (judged once per such pair, then cached)."""
    frame = sys._getframe(1)   # not inspect.stack(): it reads every caller's source file
    origin = f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"

    def register(build):
        RULES.append(Rule(name, P(None, bind="node"), build, doc, phase, origin, admits))
        return build
    return register
