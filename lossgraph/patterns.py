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

    @property
    def root_ops(self) -> Optional[tuple]:
        return self.pattern.ops

    def apply(self, node):
        env = {}
        if not self.pattern.match(node, env):
            return None
        return self.build(**env)


RULES: list = []


def rule(name, pattern, phase, doc):
    """Register `build(**bindings) -> Node | None` as a rule (used as a decorator)."""
    frame = sys._getframe(1)   # not inspect.stack(): it reads every caller's source file
    origin = f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"

    def register(build):
        RULES.append(Rule(name, pattern, build, doc, phase, origin))
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
