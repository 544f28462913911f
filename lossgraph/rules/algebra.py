"""algebra: identities (x + 0, x * 1, --x, x - x, log(exp x), x ** 2, ...)."""
from __future__ import annotations


from .. import api as F
from ..ranges import kernel_bounds, nonnegative
from . import linear
from ..patterns import Const, P, Var, rule

X, Y, Z, A, B, D = (Var(n) for n in "xyzabd")

@rule("add-zero", P("add", X, Const(0.0)), "tidy", "x + 0 -> x")
def _(x):
    return x


@rule("zero-add", P("add", Const(0.0), X), "tidy", "0 + x -> x")
def _(x):
    return x


@rule("sub-zero", P("subtract", X, Const(0.0)), "tidy", "x - 0 -> x")
def _(x):
    return x


@rule("zero-sub", P("subtract", Const(0.0), X), "tidy", "0 - x -> -x")
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


@rule("mul-one", P("multiply", X, Const(1.0)), "tidy", "x * 1 -> x")
def _(x):
    return x


@rule("one-mul", P("multiply", Const(1.0), X), "tidy", "1 * x -> x")
def _(x):
    return x


@rule("mul-minus-one", P("multiply", Const(-1.0), X), "tidy", "-1 * x -> -x")
def _(x):
    return -x


@rule("div-one", P("divide", X, Const(1.0)), "tidy", "x / 1 -> x")
def _(x):
    return x


@rule("pow-one", P("power", X, Const(1.0)), "tidy", "x ** 1 -> x")
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


@rule("neg-neg", P("negative", P("negative", X)), "tidy", "-(-x) -> x")
def _(x):
    return x


@rule("cast-same", P("cast", X, bind="c", where=lambda n, env: n.inputs[0].dtype == n.dtype),
      "tidy", "cast(x, dtype(x)) -> x")
def _(x, c):
    return x


@rule("log-exp", P("log", P("exp", X)), "algebra", "log(exp(x)) -> x")
def _(x):
    return x


@rule("exp-log", P("exp", P("log", X)), "algebra", "exp(log(x)) -> x, where x >= 0 is known")
def _(x):
    return x if nonnegative(x) else None


@rule("sqrt-square", P("sqrt", P("square", X)), "algebra", "sqrt(x^2) -> |x|")
def _(x):
    return F.abs(x)



@rule("abs-nonnegative", P("abs", X), "algebra", "|x| -> x where x >= 0 is known")
def _(x):
    return x if nonnegative(x) else None


@rule("abs-of-abs-or-neg", P("abs", P(("abs", "negative"), X)), "algebra",
      "||x|| -> |x|, |-x| -> |x|")
def _(x):
    return F.abs(x)


@rule("square-even", P("square", P(("abs", "negative"), X)), "algebra",
      "(-x)^2 -> x^2, |x|^2 -> x^2")
def _(x):
    return F.square(x)


@rule("min-max-self", P(("maximum", "minimum"), X, X), "algebra", "max(x, x) -> x")
def _(x):
    return x


@rule("clip-inactive", P("clip", X, Var("lo"), Var("hi")), "algebra",
      "clip(x, lo, hi) -> x where lo <= x <= hi is known (clip(sigmoid(x), 0, 1))")
def _(x, lo, hi):
    (x0, x1), (_, l1), (h0, _) = kernel_bounds(x), kernel_bounds(lo), kernel_bounds(hi)
    return x if l1 <= x0 and x1 <= h0 else None


@rule("log-reciprocal", P("log", P("divide", Const(1.0), X)), "algebra",
      "log(1 / x) -> -log(x)")
def _(x):
    return -F.log(x)


@rule("tanh-from-sigmoid", P("subtract", Const(1.0), P("multiply", Const(2.0),
                                                        P("sigmoid", Var("t")))), "algebra",
      "1 - 2 sigmoid(-2 x) -> tanh(x) (tanh x = 2 sigmoid(2x) - 1)")
def _(t):
    m = linear.monomial(t)
    if m is None or m.coef != -2.0 or m.dens:
        return None
    return F.tanh(linear.build_monomial(linear.Monomial(1.0, m.nums, [])))


@rule("tanh-from-sigmoid-2", P("subtract", P("multiply", Const(2.0), P("sigmoid", Var("t"))),
                               Const(1.0)), "algebra", "2 sigmoid(2 x) - 1 -> tanh(x)")
def _(t):
    m = linear.monomial(t)
    if m is None or m.coef != 2.0 or m.dens:
        return None
    return F.tanh(linear.build_monomial(linear.Monomial(1.0, m.nums, [])))


@rule("sum-of-broadcast-scalar", P("sum", P("broadcast_to", X, bind="b"), bind="s",
                                   where=lambda n, env: n.inputs[0].inputs[0].shape == ()),
      "algebra", "sum(broadcast_to(c, shape), axes) -> c * (size of the reduced axes)")
def _(x, b, s):
    return x * F.size(b, s.attrs["axis"])
