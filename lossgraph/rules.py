"""The rewrite rules, as data: pattern -> builder, grouped in phases.

fold       constant subgraphs become constants
algebra    identities: x + 0, x * 1, --x, x - x, log(exp x), x ** 2, ...
stability  numerically safe forms: log(sigmoid x) -> -softplus(-x), log(softmax) ->
           log_softmax, log(1 + x) -> log1p(x), log(sum(exp x)) -> logsumexp(x), ...
tidy       forms that read like the textbook: a / N collected over sums, minus signs
           pulled out, broadcasts that the consumer does anyway dropped
"""
from __future__ import annotations

import numpy as np

from . import api as F
from . import dtypes as dt
from .graph import make
from .ops import OPS
from .patterns import Const, P, Var, const_value, generic_rule, rule

X, Y, Z, A, B, D = (Var(n) for n in "xyzabd")

FOLD_LIMIT = 100_000
UNFOLDED = frozenset({"broadcast_to"})   # const_value sees through these; folding only bloats


def _scalar(name):
    return Var(name, where=lambda n, env: n.shape == ())


def _nonneg(node):
    """Known to be >= 0 everywhere."""
    if node.op in ("exp", "square", "abs", "sqrt", "sigmoid", "softmax", "softplus",
                   "one_hot"):
        return True
    v = const_value(node)
    return v is not None and v.size > 0 and bool(np.all(v >= 0))


# --- fold --------------------------------------------------------------------------------
@generic_rule("constant-fold", "fold", "op(constants) -> constant, for small static shapes")
def fold(node):
    """op(constants...) -> constant, for small static shapes."""
    op = OPS[node.op]
    if op.kind == "leaf" or not node.inputs or op.impl is None or node.op in UNFOLDED:
        return None
    values = [const_value(i) for i in node.inputs]
    if any(v is None for v in values) or not all(
            isinstance(d, int) for n in (node, *node.inputs) for d in n.shape):
        return None   # a symbolic dim (sum of ones over N is N): not a constant
    if int(np.prod(node.shape)) > FOLD_LIMIT:
        return None
    args = [np.broadcast_to(v, i.shape) for v, i in zip(values, node.inputs)]
    kw = dict(node.attrs)
    if op.wants_shape:
        kw["out_shape"] = node.shape
    with np.errstate(all="ignore"):
        try:
            out = np.asarray(op.impl(*args, **kw))
        except Exception:  # an op that rejects these constants (labels out of range): leave it
            return None
    return F.constant(out.astype(dt.numpy_dtype(node.dtype)), dtype=node.dtype)


# --- algebra -----------------------------------------------------------------------------
@rule("add-zero", P("add", X, Const(0.0)), "algebra", "x + 0 -> x")
def _(x):
    return x


@rule("zero-add", P("add", Const(0.0), X), "algebra", "0 + x -> x")
def _(x):
    return x


@rule("sub-zero", P("subtract", X, Const(0.0)), "algebra", "x - 0 -> x")
def _(x):
    return x


@rule("zero-sub", P("subtract", Const(0.0), X), "algebra", "0 - x -> -x")
def _(x):
    return -x


@rule("sub-self", P("subtract", X, X), "algebra", "x - x -> 0 (x finite)")
def _(x):
    return F.zeros_like(x)


@rule("mul-zero", P("multiply", X, Const(0.0), bind="r"), "algebra", "x * 0 -> 0 (x finite)")
def _(x, r):
    return F.zeros_like(r)


@rule("zero-mul", P("multiply", Const(0.0), X, bind="r"), "algebra", "0 * x -> 0 (x finite)")
def _(x, r):
    return F.zeros_like(r)


@rule("mul-one", P("multiply", X, Const(1.0)), "algebra", "x * 1 -> x")
def _(x):
    return x


@rule("one-mul", P("multiply", Const(1.0), X), "algebra", "1 * x -> x")
def _(x):
    return x


@rule("mul-minus-one", P("multiply", Const(-1.0), X), "algebra", "-1 * x -> -x")
def _(x):
    return -x


@rule("div-one", P("divide", X, Const(1.0)), "algebra", "x / 1 -> x")
def _(x):
    return x


@rule("pow-one", P("power", X, Const(1.0)), "algebra", "x ** 1 -> x")
def _(x):
    return x


@rule("pow-two", P("power", X, Const(2.0)), "algebra", "x ** 2 -> square(x)")
def _(x):
    return F.square(x)


@rule("pow-half", P("power", X, Const(0.5)), "algebra", "x ** 0.5 -> sqrt(x)")
def _(x):
    return F.sqrt(x)


@rule("mul-self", P("multiply", X, X), "algebra", "x * x -> square(x)")
def _(x):
    return F.square(x)


@rule("neg-neg", P("negative", P("negative", X)), "algebra", "-(-x) -> x")
def _(x):
    return x


@rule("cast-same", P("cast", X, bind="c", where=lambda n, env: n.inputs[0].dtype == n.dtype),
      "algebra", "cast(x, dtype(x)) -> x")
def _(x, c):
    return x


@rule("log-exp", P("log", P("exp", X)), "algebra", "log(exp(x)) -> x")
def _(x):
    return x


@rule("exp-log", P("exp", P("log", X)), "algebra", "exp(log(x)) -> x, where x >= 0 is known")
def _(x):
    return x if _nonneg(x) else None


@rule("sqrt-square", P("sqrt", P("square", X)), "algebra", "sqrt(x^2) -> |x|")
def _(x):
    return F.abs(x)


# --- stability ---------------------------------------------------------------------------
@rule("log-sigmoid", P("log", P("sigmoid", X)), "stability",
      "log(sigmoid(x)) -> -softplus(-x): finite for very negative x")
def _(x):
    return -F.softplus(-x)


@rule("one-minus-sigmoid", P("subtract", Const(1.0), P("sigmoid", X)), "stability",
      "1 - sigmoid(x) -> sigmoid(-x): no cancellation for large x (so log(1 - sigmoid(x))"
      " -> log(sigmoid(-x)) -> -softplus(x))")
def _(x):
    return F.sigmoid(-x)


@rule("log-softmax", P("log", P("softmax", X, bind="s")), "stability",
      "log(softmax(x)) -> log_softmax(x): finite where softmax underflows")
def _(x, s):
    return F.log_softmax(x, axis=s.attrs["axis"])


@rule("log-one-plus", P("log", P("add", Const(1.0), X)), "stability",
      "log(1 + x) -> log1p(x): accurate for small x")
def _(x):
    return F.log1p(x)


@rule("log-plus-one", P("log", P("add", X, Const(1.0))), "stability",
      "log(x + 1) -> log1p(x): accurate for small x")
def _(x):
    return F.log1p(x)


@rule("log1p-exp", P("log1p", P("exp", X)), "stability",
      "log1p(exp(x)) -> softplus(x): no overflow for large x")
def _(x):
    return F.softplus(x)


@rule("log-sum-exp", P("log", P("sum", P("exp", X), bind="s")), "stability",
      "log(sum(exp(x))) -> logsumexp(x): shifted by the max, no overflow")
def _(x, s):
    return F.logsumexp(x, axis=s.attrs["axis"], keepdims=s.attrs["keepdims"])


@rule("exp-minus-one", P("subtract", P("exp", X), Const(1.0)), "stability",
      "exp(x) - 1 -> expm1(x): accurate for small x")
def _(x):
    return F.expm1(x)


@rule("sigmoid-mixture", P("subtract", P("multiply", P("subtract", Const(1.0), Z),
                                         P("sigmoid", X)),
                             P("multiply", Z, P("sigmoid", P("negative", X)))), "tidy",
      "(1 - z) sigmoid(x) - z sigmoid(-x) -> sigmoid(x) - z   (sigmoid(-x) = 1 - sigmoid(x);"
      " the gradient of a cross-entropy written with probabilities)")
def _(z, x):
    return F.sigmoid(x) - z


@rule("one-over-one-plus-exp", P("divide", Const(1.0), P("add", Const(1.0),
                                                          P("exp", P("negative", X)))),
      "stability", "1 / (1 + exp(-x)) -> sigmoid(x)")
def _(x):
    return F.sigmoid(x)


# --- tidy: signs and scalar factors ------------------------------------------------------
@rule("neg-times", P("multiply", P("negative", A), B), "tidy", "(-a) b -> -(a b)")
def _(a, b):
    return -(a * b)


@rule("times-neg", P("multiply", A, P("negative", B)), "tidy", "a (-b) -> -(a b)")
def _(a, b):
    return -(a * b)


@rule("neg-over", P("divide", P("negative", A), B), "tidy", "(-a) / b -> -(a / b)")
def _(a, b):
    return -(a / b)


@rule("plus-neg", P("add", A, P("negative", B)), "tidy", "a + (-b) -> a - b")
def _(a, b):
    return a - b


@rule("neg-plus", P("add", P("negative", A), B), "tidy", "(-a) + b -> b - a")
def _(a, b):
    return b - a


@rule("minus-neg", P("subtract", A, P("negative", B)), "tidy", "a - (-b) -> a + b")
def _(a, b):
    return a + b


@rule("neg-minus", P("negative", P("subtract", A, B)), "tidy", "-(a - b) -> b - a")
def _(a, b):
    return b - a


@rule("const-last", P("multiply", A, Const(bind="c", scalar=True)), "tidy",
      "a c -> c a: scalar constants first")
def _(a, c):
    return None if const_value(a) is not None else c * a


@rule("const-const-mul", P("multiply", Const(bind="c1", scalar=True),
                           P("multiply", Const(bind="c2", scalar=True), X)),
      "tidy", "c1 (c2 x) -> (c1 c2) x")
def _(c1, c2, x):
    return (c1 * c2) * x


@rule("mul-by-quotient", P("multiply", P("divide", A, _scalar("d")), B), "tidy",
      "(a / d) b -> (a b) / d, d a scalar: collect the divisor")
def _(a, d, b):
    return (a * b) / d


@rule("quotient-times", P("multiply", A, P("divide", B, _scalar("d"))), "tidy",
      "a (b / d) -> (a b) / d, d a scalar: collect the divisor")
def _(a, b, d):
    return (a * b) / d


@rule("sum-of-quotients", P("add", P("divide", A, D), P("divide", B, D)), "tidy",
      "a / d + b / d -> (a + b) / d")
def _(a, b, d):
    return (a + b) / d


@rule("difference-of-quotients", P("subtract", P("divide", A, D), P("divide", B, D)), "tidy",
      "a / d - b / d -> (a - b) / d")
def _(a, b, d):
    return (a - b) / d


@rule("common-factor-add", P("add", P("multiply", Const(bind="c", scalar=True), A),
                             P("multiply", Const(bind="c", scalar=True), B)), "tidy",
      "c a + c b -> c (a + b)")
def _(c, a, b):
    return c * (a + b)


@rule("common-factor-sub", P("subtract", P("multiply", Const(bind="c", scalar=True), A),
                             P("multiply", Const(bind="c", scalar=True), B)), "tidy",
      "c a - c b -> c (a - b)")
def _(c, a, b):
    return c * (a - b)


@rule("quotient-of-quotient", P("divide", P("divide", A, B), Var("c")), "tidy",
      "(a / b) / c -> a / (b c)")
def _(a, b, c):
    return a / (b * c)


@rule("where-times", P("multiply", P("where", Var("c"), A, Const(0.0)), B, bind="r"), "tidy",
      "where(c, a, 0) b -> where(c, a b, 0)")
def _(c, a, b, r):
    return F.where(c, a * b, 0.0)


@rule("times-where", P("multiply", B, P("where", Var("c"), A, Const(0.0)), bind="r"), "tidy",
      "b where(c, a, 0) -> where(c, b a, 0)")
def _(c, a, b, r):
    return F.where(c, b * a, 0.0)


@rule("where-times-else", P("multiply", P("where", Var("c"), Const(0.0), A), B, bind="r"),
      "tidy", "where(c, 0, a) b -> where(c, 0, a b)")
def _(c, a, b, r):
    return F.where(c, 0.0, a * b)


@rule("complementary-wheres", P("add", P("where", Var("c"), A, Const(0.0)),
                                P("where", Var("c"), Const(0.0), B)), "tidy",
      "where(c, a, 0) + where(c, 0, b) -> where(c, a, b)")
def _(c, a, b):
    return F.where(c, a, b)


@rule("complementary-wheres-swapped", P("add", P("where", Var("c"), Const(0.0), B),
                                        P("where", Var("c"), A, Const(0.0))), "tidy",
      "where(c, 0, b) + where(c, a, 0) -> where(c, a, b)")
def _(c, a, b):
    return F.where(c, a, b)


# --- tidy: shapes ------------------------------------------------------------------------
@rule("reshape-reshape", P("reshape", P("reshape", X), bind="r"), "tidy",
      "reshape(reshape(x)) -> reshape(x)")
def _(x, r):
    return F.reshape(x, r.shape)


@rule("broadcast-broadcast", P("broadcast_to", P("broadcast_to", X), bind="r"), "tidy",
      "broadcast_to(broadcast_to(x)) -> broadcast_to(x)")
def _(x, r):
    return F.broadcast_to(x, r.shape)


@rule("transpose-transpose", P("transpose", P("transpose", X, bind="t1"), bind="t2"), "tidy",
      "transpose(transpose(x)) -> transpose(x) with the composed permutation")
def _(x, t1, t2):
    p1, p2 = t1.attrs["perm"], t2.attrs["perm"]
    return F.transpose(x, tuple(p1[p] for p in p2))


@rule("reduce-nothing", P(("sum", "max", "min", "prod"), X, bind="r",
                          where=lambda n, env: n.attrs["axis"] == ()), "tidy",
      "sum over no axes -> x")
def _(x, r):
    return x


@generic_rule("implicit-broadcast", "tidy",
              "op(broadcast_to(x), y) -> op(x, y) when op broadcasts to the same shape")
def _implicit_broadcast(node):
    """Inside an elementwise op, drop broadcast_to / left-padding reshapes of an operand
    when the op's own broadcasting gives the same result shape."""
    if OPS[node.op].kind != "elementwise" or len(node.inputs) < 2:
        return None
    new = list(node.inputs)
    for k, i in enumerate(node.inputs):
        inner = _unpadded(i)
        if inner is None:
            continue
        trial = new[:k] + [inner] + new[k + 1:]
        try:
            cand = make(node.op, *trial, **node.attrs)
        except Exception:  # the stripped operand no longer broadcasts: keep it
            continue
        if cand.shape == node.shape:
            new = trial
    if all(a is b for a, b in zip(new, node.inputs)):
        return None
    return make(node.op, *new, **node.attrs)


def _unpadded(node):
    if node.op == "broadcast_to":
        return node.inputs[0]
    if node.op == "reshape":
        x = node.inputs[0]
        lead = node.ndim - x.ndim
        if lead > 0 and node.shape[lead:] == x.shape and all(d == 1 for d in node.shape[:lead]):
            return x
        if x.ndim == 0:
            return x
    return None
