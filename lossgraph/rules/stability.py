"""stability: numerically safe forms of what users write naively."""
from __future__ import annotations

import numpy as np

from .. import api as F
from . import linear
from ..patterns import Const, P, Var, rule

X, Y, Z, A, B, D = (Var(n) for n in "xyzabd")

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



def _same_axis(a, b):
    """Two ops' axis attributes name the same single axis (an int or a 1-tuple)."""
    a, b = (x if isinstance(x, tuple) else (x,) for x in (a.attrs["axis"], b.attrs["axis"]))
    return a == b and len(a) == 1


@rule("softmax-by-hand", P("divide", P("exp", X), P("sum", P("exp", X), bind="s")), "stability",
      "exp(x) / sum(exp(x), axis, keepdims) -> softmax(x, axis): no overflow for large x (so "
      "log(exp(x) / sum(exp(x))) -> log(softmax(x)) -> log_softmax(x))")
def _(x, s):
    axes = s.attrs["axis"]
    if len(axes) != 1 or not s.attrs["keepdims"]:
        return None
    return F.softmax(x, axis=axes[0])


@rule("log-picked-ratio", P("log", P("divide", P("pick", P("exp", X), Var("y"), bind="p"),
                                     P("sum", P("exp", X), bind="s"))), "stability",
      "log(pick(exp(x), y) / sum(exp(x))) -> pick(x, y) - logsumexp(x): the cross-entropy "
      "term without overflow")
def _(x, y, p, s):
    if s.attrs["keepdims"] or not _same_axis(s, p):
        return None
    return F.pick(x, y, axis=p.attrs["axis"]) - F.logsumexp(x, axis=p.attrs["axis"])


def _picked_log_softmax(x, y, normalizer, p):
    """pick(x, y) - logsumexp(x) along p's axis, when normalizer runs along the same axis."""
    if not _same_axis(normalizer, p):
        return None
    return F.pick(x, y, axis=p.attrs["axis"]) - F.logsumexp(x, axis=p.attrs["axis"])


@rule("log-pick-softmax", P("log", P("pick", P("softmax", X, bind="sm"), Var("y"), bind="p")),
      "stability", "log(pick(softmax(x), y)) -> pick(x, y) - logsumexp(x): finite where the "
      "picked probability underflows")
def _(x, sm, y, p):
    return _picked_log_softmax(x, y, sm, p)


@rule("pick-log-softmax", P("pick", P("log_softmax", X, bind="ls"), Var("y"), bind="p"),
      "stability", "pick(log_softmax(x), y) -> pick(x, y) - logsumexp(x): one log per row, not "
      "one per class")
def _(x, ls, y, p):
    return _picked_log_softmax(x, y, ls, p)


@rule("sigmoid-by-hand", P("divide", P("exp", X), P("add", Const(1.0), P("exp", X))),
      "stability", "exp(x) / (1 + exp(x)) -> sigmoid(x): inf / inf for large x otherwise")
def _(x):
    return F.sigmoid(x)


@rule("sigmoid-by-hand-2", P("divide", P("exp", X), P("add", P("exp", X), Const(1.0))),
      "stability", "exp(x) / (exp(x) + 1) -> sigmoid(x)")
def _(x):
    return F.sigmoid(x)


@rule("one-over-one-plus-exp-pos", P("divide", Const(1.0), P("add", Const(1.0), P("exp", X))),
      "stability", "1 / (1 + exp(x)) -> sigmoid(-x)")
def _(x):
    return F.sigmoid(-x)


@rule("log-cosh-by-hand", P("log", P("divide", P("add", P("exp", X), P("exp", Y)), Const(2.0))),
      "stability", "log((exp(x) + exp(-x)) / 2) -> |x| + softplus(-2|x|) - log 2: log cosh "
      "without overflow")
def _(x, y):
    if not linear.negates(x, y):
        return None
    a = F.abs(x)
    return a + F.softplus(-2.0 * a) - float(np.log(2.0))


@rule("tanh-by-hand", P("divide", P("subtract", P("exp", X), P("exp", Y)),
                        P("add", P("exp", X), P("exp", Y))), "stability",
      "(exp(x) - exp(-x)) / (exp(x) + exp(-x)) -> tanh(x): inf / inf for large |x| otherwise")
def _(x, y):
    return F.tanh(x) if linear.negates(x, y) else None


@rule("log1p-minus-sigmoid", P("log1p", P("negative", P("sigmoid", X))), "stability",
      "log1p(-sigmoid(x)) -> -softplus(x): finite for large x")
def _(x):
    return -F.softplus(x)


@rule("log-one-minus", P("log", P("subtract", Const(1.0), X)), "stability",
      "log(1 - x) -> log1p(-x): accurate for small x")
def _(x):
    return F.log1p(-x)


@rule("one-minus-exp", P("subtract", Const(1.0), P("exp", X)), "stability",
      "1 - exp(x) -> -expm1(x): accurate for small x")
def _(x):
    return -F.expm1(x)


@rule("log-add-exp", P("log", P("add", P("exp", A), P("exp", B))), "stability",
      "log(exp(a) + exp(b)) -> max(a, b) + softplus(-|a - b|): no overflow")
def _(a, b):
    return F.maximum(a, b) + F.softplus(-F.abs(a - b))
