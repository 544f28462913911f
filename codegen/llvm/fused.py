"""Forms several ops take together in a loop body, the same in every nest that computes them
(codegen.llvm.emit's loops and packed rows alike), so a value a later nest recomputes has the
bits an earlier one stored (x == max(x) finds its element).

    SHARED_EXP          sigmoid and softplus of one x share e = e^-|x|: fn(b, x, e)
    SHARED_EXP_CHAINS   sigmoid(x) - z and (sigmoid(x) - z) / c as one quotient that does not
                        cancel: fn(b, x, z[, c], e)
    BROADCAST_OPERAND   x / y for a y that broadcasts, as x (1 / y)
    NORMAL_OPERAND      log and xlogy of an operand the graph bounds below by a normal float
    INTEGER_POWERS      x ** 3 and x ** 4 as products (operand_form picks these forms)
    shifted_exp         softmax's e^(x - ms), exact where a row's max is +inf

Every function takes an llvmlite IRBuilder and values of one float type, scalar or vector.
"""
from __future__ import annotations

from llvmlite import ir

from lossgraph.patterns import const_value
from lossgraph.ranges import bounds

from . import mathlib
from .lower import const, scalar_of


def _sigmoid(b, x, e):
    """1 / (1 + e) for x >= 0, e / (1 + e) below (e = e^-|x|; as lossgraph's reference)."""
    one = const(x.type, 1.0)
    pos = b.fcmp_ordered(">=", x, const(x.type, 0.0))
    return b.fdiv(b.select(pos, one, e), b.fadd(one, e))


def _softplus(b, x, e):
    """max(x, 0) + log1p(e), e = e^-|x| in [0, 1] or nan: e carries a nan x, so max needs no
    nan select."""
    zero = const(x.type, 0.0)
    relu = b.select(b.fcmp_ordered(">", x, zero), x, zero)
    return b.fadd(relu, mathlib.log1p_unit(b, e))


def _sigmoid_minus_num(b, x, z, e):
    """num with sigmoid(x) - z = num / (1 + e): n1 - z - z e, n1 = 1 for x >= 0, e below (e =
    e^-|x|), the note's (1 - z) sigmoid(x) - z sigmoid(-x) over one denominator, so hard
    labels do not cancel (z = 1, x = 20: -e / (1 + e), where sigmoid(x) rounds to 1 and the
    difference to 0). z e takes e no smaller than the least denormal: an infinite z then gives
    -z (as sigmoid(x) - z does), not inf * 0 = nan where e^-|x| underflows."""
    single = scalar_of(x.type) == ir.FloatType()
    tiny = const(x.type, float.fromhex("0x1p-149" if single else "0x1p-1074"))
    n1 = b.select(b.fcmp_ordered(">=", x, const(x.type, 0.0)), const(x.type, 1.0), e)
    e_tiny = b.select(b.fcmp_ordered("<", e, tiny), tiny, e)      # nan stays nan
    return mathlib.fma(b, b.fneg(z), e_tiny, b.fsub(n1, z))


def _sigmoid_minus(b, x, z, e):
    """sigmoid(x) - z = num / (1 + e)."""
    return b.fdiv(_sigmoid_minus_num(b, x, z, e), b.fadd(const(x.type, 1.0), e))


def _sigmoid_minus_over(b, x, z, c, e):
    """(sigmoid(x) - z) / c = num / (c + c e): the mean's 1 / N in the one division, rounded
    once (|c| > max / 2, where c (1 + e) may overflow, gives 0 for results under 2 / max)."""
    return b.fdiv(_sigmoid_minus_num(b, x, z, e), mathlib.fma(b, c, e, c))


def _reciprocal_times(b, x, y):
    """x / y as x (1 / y) for a y that broadcasts (a row's sum, the mean's N): hoisted where
    y is loop-invariant, and the same bits in every nest that computes it (packed rows take
    1 / y per row, then the lanes), so x / y == min(x / y) holds where it should."""
    return b.fmul(x, b.fdiv(const(y.type, 1.0), y))


#: the shift of a row whose max is +inf: c - x >= a* (exp_row's least finite argument) exactly
#: when e^x is finite (x <= 88.72283 float32, 709.78271289338397 float64); c - x is exact there
_INF_ROW_SHIFT = {32: float.fromhex("0x1.686fcp+4"), 64: float.fromhex("0x1.65a9f84f82e6p+5")}


def row_shift(b, ms):
    """The shift exp_row takes for a row's ms (lower._shift_of: the max where finite, +inf
    for a row whose max is +inf, 0 for an all -inf row): ms itself but _INF_ROW_SHIFT for +inf.
    That row's sum is +inf (its +inf entry), so each e^(x - c) only has to be finite exactly
    where e^x is (x / sum: 0 there, nan where e^x overflows, as lg.evaluate's shift by 0 gives);
    its own floor (-66.2 float32) would make 66.2 < x <= 88.7 overflow too."""
    single = scalar_of(ms.type) == ir.FloatType()
    inf = b.fcmp_ordered("==", ms, const(ms.type, float("inf")))
    return b.select(inf, const(ms.type, _INF_ROW_SHIFT[32 if single else 64]), ms)


def shifted_exp(b, x, shift):
    """e^(x - ms) = e^-(shift - x) (mathlib.exp_row) for shift = row_shift(ms): in every nest
    alike, so a softmax a later nest recomputes has the bits this one stored."""
    return mathlib.exp_row(b, b.fsub(shift, x))


#: ops with their own form when operand k broadcasts (fewer elements than the result):
#: op -> (k, form(b, *operands))
BROADCAST_OPERAND = {"divide": (1, _reciprocal_times)}

#: ops with a cheaper form when operand k is at least NORMAL_FROM by the graph alone
#: (lossgraph.ranges.bounds: log(clip(p, 1e-7, 1)), 1 - clip(...), maximum(var, 1e-6)):
#: op -> (k, form), the same bits there, without the selects for zero, negatives and
#: denormals (inf and NaN still come out as they went in: the bounds assume NaN-free inputs,
#: the forms do not)
NORMAL_OPERAND = {"log": (0, mathlib.log_normal), "xlogy": (1, mathlib.xlogy_normal)}
#: normal in float32 and float64 alike
NORMAL_FROM = 2.0 ** -100


def _cube(b, x, k):
    return b.fmul(b.fmul(x, x), x)


def _fourth(b, x, k):
    sq = b.fmul(x, x)
    return b.fmul(sq, sq)


#: x ** k for a constant k (power's operand 1) as products: two roundings instead of
#: power's exp(k log|x|) (float32 through float64), within 1.3 ulp (k = 3) and 1.9 ulp (k = 4)
#: of x^k, with pow's signs, zeros, infinities and nan (x ** 2 is square already)
INTEGER_POWERS = {3.0: _cube, 4.0: _fourth}


def operand_form(n, dtype):
    """A cheaper form of node n, computed in float dtype, from what the graph says of an
    operand: NORMAL_OPERAND's when that operand's bounds in dtype (lossgraph.ranges, its
    rounding included) are at least NORMAL_FROM, INTEGER_POWERS' for a power whose exponent
    is a constant with that one value; else None."""
    entry = NORMAL_OPERAND.get(n.op)
    if entry is not None:
        return entry[1] if bounds(n.inputs[entry[0]], dtype=dtype)[0] >= NORMAL_FROM else None
    values = const_value(n.inputs[1]) if n.op == "power" else None
    if values is not None and values.size and (values == values.flat[0]).all():
        return INTEGER_POWERS.get(float(values.flat[0]))
    return None


def abs_base(node):
    """The node whose e^-|.| node's shares: node with its negations taken off (|-x| = |x| to
    the bit, so sigmoid(-x), sigmoid(x) and softplus(x) cost one exp)."""
    while node.op == "negative":
        node = node.inputs[0]
    return node


def operands(links, idx, aligned):
    """[(node, index)] of the operands a SHARED_EXP or SHARED_EXP_CHAINS form of links (n and
    its first inputs down to the SHARED_EXP op) takes at n's index idx: x first, then each
    link's other operands from the innermost out; aligned(idx, shape) is the caller's index
    of a broadcast operand."""
    at = [aligned(idx, links[0].shape)]
    for link in links[1:]:
        at.append(aligned(at[-1], link.shape))
    x = links[-1].inputs[0]
    return [(x, aligned(at[-1], x.shape))] + [
        (i, aligned(j, i.shape)) for link, j in zip(reversed(links[:-1]), reversed(at[:-1]))
        for i in link.inputs[1:]]


#: sigmoid and softplus share e^-|x| (one exp per element for BCE's loss and gradient)
SHARED_EXP = {"sigmoid": _sigmoid, "softplus": _softplus}
#: chains computed as one, longest first: (op, op of its first input, ...) down to a
#: SHARED_EXP op, every link inline and of one dtype; called as SHARED_EXP's, then each
#: link's other operands from the innermost out
SHARED_EXP_CHAINS = {("divide", "subtract", "sigmoid"): _sigmoid_minus_over,
                     ("subtract", "sigmoid"): _sigmoid_minus}
