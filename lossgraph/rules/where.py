"""where: branches merged, dead branches dropped, conditions decided from value ranges."""
from __future__ import annotations

from .. import api as F
from .. import dtypes as dt
from ..ranges import kernel_bounds
from ..graph import make
from ..patterns import CONSTANT_OPS, Const, P, Var, const_value, rule
from ..regions import elementwise_region
from . import linear

X, Y, Z, A, B, D = (Var(n) for n in "xyzabd")


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


def _truth(node):
    """True / False when node is a constant condition with one truth value, else None."""
    v = const_value(node)
    if v is None or v.size == 0 or v.dtype != bool:
        return None
    return bool(v.all()) if v.all() or not v.any() else None


@rule("where-decided", P("where", Var("c"), A, B), "algebra",
      "where(True, a, b) -> a, where(False, a, b) -> b")
def _(c, a, b):
    t = _truth(c)
    return None if t is None else (a if t else b)


@rule("where-same", P("where", Var("c"), A, A), "algebra", "where(c, a, a) -> a")
def _(c, a):
    return a


@rule("where-not", P("where", P("logical_not", Var("c")), A, B), "tidy",
      "where(not c, a, b) -> where(c, b, a)")
def _(c, a, b):
    return F.where(c, b, a)


def facts(cond, holds):
    """(conditions known true, known false) when cond == holds: the conjuncts of a true and,
    the disjuncts of a false or, through not."""
    true, false, stack = set(), set(), [(cond, holds)]
    while stack:
        n, t = stack.pop()
        (true if t else false).add(n)
        if n.op == "logical_and" and t or n.op == "logical_or" and not t:
            stack += [(i, t) for i in n.inputs]
        elif n.op == "logical_not":
            stack.append((n.inputs[0], not t))
    return true, false


def _order(x, k, true, false):
    """'le' when x <= k is known, 'ge' when x >= k is, else None (no NaN assumed)."""
    if F.less_equal(x, k) in true or F.less(x, k) in true or F.greater(x, k) in false \
            or F.greater_equal(x, k) in false:
        return "le"
    if F.greater_equal(x, k) in true or F.greater(x, k) in true or F.less(x, k) in false \
            or F.less_equal(x, k) in false:
        return "ge"
    return None


def _unclipped(n, args, true, false):
    """clip(x, lo, hi) is x where lo <= x <= hi is known; min(x, k) and max(x, k) are x or k
    where the order of x and k is known."""
    if n.op == "clip":
        x, lo, hi = args
        if _order(x, lo, true, false) == "ge" and _order(x, hi, true, false) == "le":
            return x
    elif n.op in ("minimum", "maximum"):
        x, k = args
        order = _order(x, k, true, false)
        if order is not None:
            return x if (order == "le") == (n.op == "minimum") else k
    if all(a is b for a, b in zip(args, n.inputs)):
        return n
    return make(n.op, *args, **n.attrs)


_ORDERS = ("less", "less_equal", "greater", "greater_equal")


def assume(branch, cond, holds):
    """branch, simplified by knowing cond == holds (the branch is only used there): a where
    over a known condition is its live side; a clip known to be inactive is its argument.

    Only the branch's own where is resolved, not wheres deeper inside: those are NaN guards
    (sqrt(where(c, s, 1))) that keep a later derivative finite, and resolving them would copy
    the shared forward graph."""
    true, false = facts(cond, holds)
    while branch.op == "where" and (branch.inputs[0] in true or branch.inputs[0] in false):
        branch = branch.inputs[1] if branch.inputs[0] in true else branch.inputs[2]
    if not any(n.op in _ORDERS for n in true | false):
        return branch
    mapped = {}
    for n in elementwise_region(branch):
        new = _unclipped(n, [mapped.get(id(i), i) for i in n.inputs], true, false)
        mapped[id(n)] = new if new.dtype == n.dtype and new.shape == n.shape else n
    return mapped.get(id(branch), branch)


@rule("where-known-condition", P("where", Var("c"), A, B), "algebra",
      "where(c, where(c, x, y), z) -> where(c, x, z): inside a branch its condition is known "
      "(also where(a and b, where(a, x, y), z); clip(x, lo, hi) -> x where lo <= x <= hi "
      "holds, min(x, k) -> x where x <= k does)")
def _(c, a, b):
    a2, b2 = assume(a, c, True), assume(b, c, False)
    if a2 is a and b2 is b:
        return None
    return F.where(c, a2, b2)


@rule("where-nested-merge", P("where", Var("c"), P("where", Var("d"), A, B), B), "tidy",
      "where(c, where(d, a, b), b) -> where(c and d, a, b)")
def _(c, d, a, b):
    return F.where(F.logical_and(c, d), a, b)


@rule("where-nested-merge-else", P("where", Var("c"), B, P("where", Var("d"), B, A)), "tidy",
      "where(c, b, where(d, b, a)) -> where(c or d, b, a)")
def _(c, d, a, b):
    return F.where(F.logical_or(c, d), b, a)


_MIN_MAX = {("less_equal", 1): F.minimum, ("less", 1): F.minimum,
            ("greater_equal", 1): F.maximum, ("greater", 1): F.maximum,
            ("less_equal", 2): F.maximum, ("less", 2): F.maximum,
            ("greater_equal", 2): F.minimum, ("greater", 2): F.minimum}


@rule("where-is-min-max", P("where", P(("less_equal", "less", "greater_equal", "greater"), X, Y,
                                       bind="c"), A, B), "tidy",
      "where(x <= k, x, k) -> min(x, k), where(x >= k, x, k) -> max(x, k)")
def _(x, y, c, a, b):
    if (a, b) == (x, y):
        return _MIN_MAX[(c.op, 1)](x, y)
    if (a, b) == (y, x):
        return _MIN_MAX[(c.op, 2)](x, y)
    return None


@rule("where-common-divisor", P("where", Var("c"), A, B), "tidy",
      "where(c, a / d, b / d) -> where(c, a, b) / d for a scalar d (0 = 0 / d)")
def _(c, a, b):
    ma, mb = linear.monomial(a), linear.monomial(b)
    if ma is None or mb is None:
        return None
    zero_a, zero_b = linear.scalar(a) == 0.0, linear.scalar(b) == 0.0
    shared = [d for d in (ma.dens if not zero_a else mb.dens)
              if d.shape == () and (zero_a or any(d is e for e in ma.dens))
              and (zero_b or any(d is e for e in mb.dens))]
    if not shared or (zero_a and zero_b):
        return None
    d = shared[0]

    def drop(m, zero, node):
        if zero:
            return node
        return linear.build_monomial(linear.Monomial(m.coef, m.nums, linear._without(m.dens,
                                                                                    [d])))
    return F.where(c, drop(ma, zero_a, a), drop(mb, zero_b, b)) / d


_DECIDE = {
    "less": lambda a, b: True if a[1] < b[0] else False if a[0] >= b[1] else None,
    "less_equal": lambda a, b: True if a[1] <= b[0] else False if a[0] > b[1] else None,
    "greater": lambda a, b: True if a[0] > b[1] else False if a[1] <= b[0] else None,
    "greater_equal": lambda a, b: True if a[0] >= b[1] else False if a[1] < b[0] else None,
    "equal": lambda a, b: False if a[1] < b[0] or a[0] > b[1] else None,
    "not_equal": lambda a, b: True if a[1] < b[0] or a[0] > b[1] else None,
}


@rule("comparison-decided", P(tuple(_DECIDE), X, Y, bind="c"), "algebra",
      "a comparison that the value ranges decide: clip(t, 1e-7, 1) == 0 is False, "
      "exp(x) >= 0 is True (inputs assumed not NaN)")
def _(x, y, c):
    if not (dt.is_float(x.dtype) or dt.is_float(y.dtype)):
        return None
    t = _DECIDE[c.op](kernel_bounds(x), kernel_bounds(y))
    return None if t is None else F.constant(t)


@rule("times-where-else", P("multiply", B, P("where", Var("c"), Const(0.0), A), bind="r"),
      "tidy", "b where(c, 0, a) -> where(c, 0, b a)")
def _(c, a, b, r):
    return F.where(c, 0.0, b * a)


@rule("where-is-clip", P("where", P(("less_equal", "less"), P("abs", X), Var("k")), X, Var("s")),
      "tidy", "where(|x| <= k, x, k sign(x)) -> clip(x, -k, k) (Huber's gradient)")
def _(x, k, s):
    m = linear.monomial(s)
    kv = linear.scalar(k)
    if m is None or kv is None or kv < 0 or len(m.nums) != 1 or m.dens:
        return None
    if m.nums[0] is not F.sign(x) or m.coef != kv:
        return None
    return F.clip(x, -kv, kv)


@rule("and-implied", P("logical_and", A, B), "tidy",
      "a and b -> b when b already requires a (t1 and (t1 and t2) -> t1 and t2)")
def _(a, b):
    if a in facts(b, True)[0]:
        return b
    if b in facts(a, True)[0]:
        return a
    return None


@rule("constant-into-where", P(("add", "subtract"), ..., bind="node"), "tidy",
      "k + where(c, a, b) -> where(c, k + a, k + b) for a scalar constant k when a branch is "
      "constant (so it folds): 1.5 + where(c, x - 1.5, 0) -> where(c, x, 1.5)",
      admits=lambda op, input_ops: "where" in input_ops and not CONSTANT_OPS.isdisjoint(input_ops))
def _(node):
    a, b = node.inputs
    k, w, flip = (a, b, False) if linear.scalar(a) is not None else (b, a, True)
    if linear.scalar(k) is None or w.op != "where" or k.shape != () or not dt.is_float(node.dtype):
        return None
    c, x, y = w.inputs
    if linear.scalar(x) is None and linear.scalar(y) is None:
        return None
    if node.op == "add":
        return F.where(c, k + x, k + y)
    return F.where(c, x - k, y - k) if flip else F.where(c, k - x, k - y)
