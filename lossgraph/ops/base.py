"""The op record and the table every part of lossgraph reads ops from.

One record per primitive holds its whole story: shape/dtype rule, NumPy evaluation,
vector-Jacobian product (written with lossgraph ops, so gradients are graphs) and printing.
Backends lower ops by the same names.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable, Optional

OPS: dict = {}


@dataclass(frozen=True)
class Op:
    """A primitive.

    infer(inputs, attrs) -> (shape, dtype, attrs): validates, normalizes attrs.
    impl(*arrays, **attrs) -> ndarray: the reference NumPy evaluation.
    vjp(g, node) -> one cotangent per input (a Node, or None for a zero/no gradient);
        a cotangent may have the node's broadcast shape, autodiff unbroadcasts it.
        g may have lower rank than the node (a scalar seed stands for the whole array):
        a rule that reduces, reshapes or indexes g broadcasts it to ans.shape first.
    text / latex: format strings over {0}, {1}, ... and attrs; `prec` is the binding
        strength for infix forms (None = a function call, never parenthesized).
    sympy(args, attrs) -> a SymPy expression, for elementwise and reduction ops.
    nondiff: input positions with no gradient (integer labels, masks, conditions).
    assoc / right_assoc: printing may drop parentheses around an equal-precedence operand
        on the right (a + b + c) / on the left ((a ** b) ** c keeps them, a ** b ** c not).
    latex_atomic: the LaTeX form never needs parentheses (a fraction).
    latex_prec: binding strength of the LaTeX form where it differs from `prec` (x^{2} for
        square(x), the base of X_{y}); latex_prefix: the LaTeX form is a big operator
        (\\sum_{C} x) that reaches over the products to its right, so it is parenthesized
        when a factor follows it.
    wants_shape: impl also takes out_shape=, the node's shape with dims resolved.
    writes_out: impl also takes out=, an array of the result's shape and dtype that it may
        write the result into (the evaluator passes a dying intermediate; never an input).
    shares: impl also takes memo=, a dict for its first input in one evaluation, shared by
        the ops with shares=True that read that input (logsumexp leaves e^(x - max) and its
        sums there, softmax and log_softmax of the same array use them: same values, once).
    batch: (input axes, output axis) of an op that computes each index along those input
        axes on its own, into the same index of its output axis (CTC's samples): a backend
        may run parts of that axis apart and join them; None for the rest.
    arity, attr_kinds: how many inputs, and each attr's kind ("int", "bool", "str", "dtype",
        "dim", "dims", "ints", "axes", "array"): what lossgraph.serialize reads and checks.
    Leaves (kind "leaf") have impl(node, env) instead: env.arrays, env.dims.
    """
    name: str
    kind: str
    infer: Callable
    impl: Optional[Callable]
    vjp: Optional[Callable]
    text: str
    latex: str
    math: str = ""
    prec: Optional[int] = None
    sympy: Optional[Callable] = None
    nondiff: tuple = ()
    assoc: bool = False
    right_assoc: bool = False
    latex_atomic: bool = False
    latex_prec: Optional[int] = None
    latex_prefix: bool = False
    wants_shape: bool = False
    writes_out: bool = False
    shares: bool = False
    batch: Optional[tuple] = None
    arity: Optional[int] = None
    attr_kinds: dict = field(default_factory=dict)
    origin: str = field(default="", compare=False)


def register(name, kind, infer, impl, vjp, text, latex, math="", **kw):
    frame = sys._getframe(1)   # not inspect.stack(): it reads every caller's source file
    origin = f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"
    if name in OPS:
        raise ValueError(f"op {name!r} registered twice ({OPS[name].origin} and {origin})")
    op = Op(name, kind, infer, impl, vjp, text, latex, math, origin=origin, **kw)
    if op.arity is None:
        raise ValueError(f"op {name!r} ({origin}) must declare its arity")
    OPS[name] = op
    return op
