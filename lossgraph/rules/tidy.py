"""tidy: forms that read like the textbook."""
from __future__ import annotations


from .. import api as F
from ..graph import make
from ..ops import OPS
from ..patterns import P, Var, generic_rule, rule

from . import linear

X, Y, Z, A, B, D = (Var(n) for n in "xyzabd")


# the normal-form builders are linear's own functions, build(node) (no wrapper per call)
rule("sum-normal-form", P(("add", "subtract", "negative"), ..., bind="node"), "tidy",
     "sums: like terms collected (p + p -> 2 p), common factors pulled out "
     "(a / d - b / d -> (a - b) / d), a positive term first (1 - 2 s, b - a)",
     on_inputs=linear.normal_sum_of)(linear.normal_sum)

rule("product-normal-form", P(("multiply", "divide"), ..., bind="node"), "tidy",
     "products: constants folded into one leading coefficient (2 p / 2 -> p), signs and "
     "divisors collected (-(a b) / (c d)), x / x cancelled, f(|x|) sign(x) -> f(x) for odd f",
     on_inputs=linear.normal_product_of)(linear.normal_product)

rule("linear-op-coefficient", P(("sum", "reshape", "broadcast_to", "transpose"), ..., bind="node"),
     "tidy", "sum(c x / d) -> c sum(x) / d for scalars c, d (and through reshape, broadcast, "
     "transpose): coefficients stay outside, where they cancel")(linear.pull_linear)


# --- tidy: shapes ------------------------------------------------------------------------
@rule("reshape-of-broadcast-scalar", P("reshape", P("broadcast_to", X), bind="r",
                                       where=lambda n, env: n.inputs[0].inputs[0].shape == ()),
      "tidy", "reshape(broadcast_to(s, shape)) -> broadcast_to(s, new shape) for a scalar s")
def _(x, r):
    return F.broadcast_to(x, r.shape)


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


def _merged_axes(inner, outer):
    """(axes, keepdims) of x that outer(inner(x)) reduces, when one reduction over them gives
    the same shape, else None."""
    a, k1 = set(inner.attrs["axis"]), inner.attrs["keepdims"]
    b, k2 = set(outer.attrs["axis"]), outer.attrs["keepdims"]
    if k1:
        if k2 or a <= b:
            return tuple(sorted(a | b)), k2
        return None
    if k2:
        return None
    kept = [j for j in range(inner.inputs[0].ndim) if j not in a]
    return tuple(sorted(a | {kept[j] for j in b})), False


@rule("sum-of-sum", P("sum", P("sum", X, bind="r1"), bind="r2"), "tidy",
      "sum(sum(x, axis=1)) -> sum(x): one sum over both sets of axes, so a loss's mean of row "
      "sums is one flat loop (not max(max(x)): under ties its gradient would split otherwise)")
def _(x, r1, r2):
    merged = _merged_axes(r1, r2)
    if merged is None:
        return None
    return F.sum(x, axis=merged[0], keepdims=merged[1])


@generic_rule("implicit-broadcast", "tidy",
              "op(broadcast_to(x), y) -> op(x, y) when op broadcasts to the same shape",
              admits=lambda op, input_ops: len(input_ops) > 1 and any(
                  o in ("broadcast_to", "reshape") for o in input_ops))
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


@generic_rule("elementwise-of-broadcast-scalars", "tidy",
              "op(broadcast_to(s, shape)) -> broadcast_to(op(s), shape) for scalars s (cast of "
              "a broadcast True is a broadcast 1.0, which a sum counts)",
              admits=lambda op, input_ops: "broadcast_to" in input_ops and all(
                  o in ("broadcast_to", "constant") for o in input_ops))
def _elementwise_of_broadcast_scalars(node):
    """An elementwise op whose every input is a scalar or a broadcast scalar is the op of the
    scalars, broadcast."""
    if OPS[node.op].kind != "elementwise" or node.shape == ():
        return None
    scalars = [i.inputs[0] if i.op == "broadcast_to" else i for i in node.inputs]
    if any(s.shape != () for s in scalars):
        return None
    return F.broadcast_to(make(node.op, *scalars, **node.attrs), node.shape)


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