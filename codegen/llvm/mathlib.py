"""Vectorizable math in LLVM IR: exp, log, log1p, expm1, tanh, sigmoid, softplus, power, ...

Every function takes an ``llvmlite.ir.IRBuilder`` and a float or double value, scalar or vector
(``<16 x float>``), and emits its result inline at the builder's position: no libm calls (libm
blocks the loop vectorizer; there is no SVML here), no branches, only arithmetic, ``llvm.fma``,
``llvm.rint``, ``llvm.fabs``, ``llvm.sqrt`` and selects, so a loop that uses them vectorizes.

    from codegen.llvm import mathlib as m
    y = m.exp(builder, x)            # x: float, double, <16 x float>, <8 x double>

Algorithms (the accuracy measured by tests/codegen/llvm/test_mathlib_accuracy.py and
docs/llvm-backend.md; at most 2 ulp each, float32 and float64, edges IEEE and NumPy's):

    exp(x)     = 2^n e^r, n = rint(x / ln 2), r = x - n ln 2 (Cody-Waite with fma, exact),
                 e^r by its Taylor polynomial (|r| <= ln2/2), 2^n applied as two exact powers of
                 two so overflow and denormal results round once, as NumPy's do
    log(x)     = k ln 2 + log(m), m in [sqrt(1/2), sqrt 2) split off the bits (denormals
                 pre-scaled by 2^p), log(m) = f - f^2/2 + s (f^2/2 + R(s^2)), f = m - 1,
                 s = f / (2 + f), R the atanh series (fdlibm's form)
    log1p(x)   = log(u) + c / u, u = 1 + x rounded, c = (1 + x) - u exactly (TwoSum)
    expm1(x)   = 2^n (expm1(r) + c (1 + expm1(r))) + (2^n - 1), c the rounding error of r;
                 exp(x) - 1 once 2^n - 1 is no longer exact
    tanh(x)    = sign(x) e / (e + 2) (|x| < 5/8), sign(x) (1 - 2 / (e + 2)) beyond, e = expm1(2|x|)
    sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) below, e = exp(-|x|)
    softplus(x) = max(x, 0) + log1p(exp(-|x|));  log_sigmoid(x) = -softplus(-x)
    power(x, y) = exp(y log|x|) with log in double-double for float64 (float32 goes through
                 float64), signs and special cases as C's pow (and np.power)
    maximum, minimum: NaN-propagating, np.maximum's rule; sign: np.sign's

Constants reach the IR as the exact hex of the double (llvmlite prints them that way).
"""
from __future__ import annotations

import math
import struct
from decimal import Decimal, localcontext
from fractions import Fraction

from llvmlite import ir

__all__ = ["exp", "log", "log1p", "expm1", "tanh", "sigmoid", "softplus", "log_sigmoid",
           "power", "sqrt", "fabs", "sign", "maximum", "minimum", "xlogy", "FUNCTIONS"]


def _ln2():
    """ln 2 to 40 digits, as a Fraction (hi/lo splits need more than the double)."""
    with localcontext() as ctx:
        ctx.prec = 40
        return Fraction(Decimal(2).ln())


_LN2 = _ln2()


def _taylor(coef, terms):
    return tuple(float(coef(k)) for k in range(terms))


# e^r = 1 + r + r^2 P(r), P(r) = sum r^k / (k + 2)!
_EXP_P = {32: _taylor(lambda k: Fraction(1, math.factorial(k + 2)), 7),
          64: _taylor(lambda k: Fraction(1, math.factorial(k + 2)), 12)}
# fdlibm's R(z) = sum_{k>=1} 2 z^k / (2k + 1), here as z P(z)
_LOG_P = {32: _taylor(lambda k: Fraction(2, 2 * k + 3), 5),
          64: _taylor(lambda k: Fraction(2, 2 * k + 3), 11)}
# atanh tail for the double-double log: log(m) = 2s + 2 s^3 Q(s^2), Q(z) = sum z^k / (2k + 3)
_ATANH_Q = _taylor(lambda k: Fraction(1, 2 * k + 3), 11)


def _split(value, bits):
    """value = hi + rest with hi keeping only its leading `bits` bits (exact products n * hi)."""
    m, e = math.frexp(float(value))
    hi = math.ldexp(math.floor(math.ldexp(m, bits)), e - bits)
    return hi, value - Fraction(hi)


class _Precision:
    """Bit layout and thresholds of one float format."""

    def __init__(self, bits):
        self.bits = bits
        self.mant = 23 if bits == 32 else 52
        self.bias = 127 if bits == 32 else 1023
        self.min_normal = 2.0 ** (1 - self.bias)
        # the bits of sqrt(1/2) rounded: log's mantissa range starts there
        self.sqrt_half_bits = 0x3F3504F3 if bits == 32 else 0x3FE6A09E667F3BCD
        # exp's input clamp: beyond it the result is 0 or inf and n stays in range
        self.exp_lo, self.exp_hi = (-110.0, 90.0) if bits == 32 else (-750.0, 710.0)
        # below this expm1 is -1 to the last bit
        self.expm1_lo = -20.0 if bits == 32 else -40.0
        self.ln2_hi = _round(float(_LN2), bits)
        self.ln2_lo = _round(float(_LN2 - Fraction(self.ln2_hi)), bits)
        # log's k ln 2 needs exact k * hi for |k| < 2^11
        self.ln2_khi, rest = _split(_LN2, self.mant + 1 - 11)
        self.ln2_klo = _round(float(rest), bits)


def _round(x, bits):
    return struct.unpack("f", struct.pack("f", x))[0] if bits == 32 else float(x)


_PRECISIONS = {32: _Precision(32), 64: _Precision(64)}


class _Emit:
    """Instruction helpers for one float type (scalar or vector) at one builder."""

    def __init__(self, builder, ty):
        self.b = builder
        self.ty = ty
        elem = ty.element if isinstance(ty, ir.VectorType) else ty
        if isinstance(elem, ir.FloatType):
            self.p = _PRECISIONS[32]
        elif isinstance(elem, ir.DoubleType):
            self.p = _PRECISIONS[64]
        else:
            raise TypeError(f"mathlib: expected a float or double value (or a vector of "
                            f"them), got {ty}")
        self.lanes = ty.count if isinstance(ty, ir.VectorType) else None
        self.ity = self._shaped(ir.IntType(self.p.bits))
        self.bty = self._shaped(ir.IntType(1))

    def _shaped(self, elem):
        return ir.VectorType(elem, self.lanes) if self.lanes else elem

    def with_type(self, ty):
        return _Emit(self.b, ty)

    # constants
    def c(self, value):
        v = _round(value, self.p.bits)
        if self.lanes:
            return ir.Constant(self.ty, [v] * self.lanes)
        return ir.Constant(self.ty, v)

    def i(self, value):
        if self.lanes:
            return ir.Constant(self.ity, [value] * self.lanes)
        return ir.Constant(self.ity, value)

    def intrinsic(self, name, *args, ty=None):
        ty = ty or self.ty
        if self.lanes:
            suffix = f"v{self.lanes}f{self.p.bits}"
        else:
            suffix = f"f{self.p.bits}"
        full = f"llvm.{name}.{suffix}"
        module = self.b.module
        fn = module.globals.get(full)
        if fn is None:
            fn = ir.Function(module, ir.FunctionType(ty, [a.type for a in args]), name=full)
        return self.b.call(fn, args)

    # float arithmetic (strict IEEE: no fast-math flags)
    def add(self, a, b): return self.b.fadd(a, b)
    def sub(self, a, b): return self.b.fsub(a, b)
    def mul(self, a, b): return self.b.fmul(a, b)
    def div(self, a, b): return self.b.fdiv(a, b)
    def neg(self, a): return self.b.fneg(a)
    def fma(self, a, b, c): return self.b.fma(a, b, c)
    def abs(self, a): return self.intrinsic("fabs", a)
    def rint(self, a): return self.intrinsic("rint", a)
    def sqrt(self, a): return self.intrinsic("sqrt", a)
    def copysign(self, a, s): return self.intrinsic("copysign", a, s)

    def horner(self, x, coefs):
        """coefs[0] + x (coefs[1] + x (...)) with fma."""
        acc = self.c(coefs[-1])
        for k in reversed(coefs[:-1]):
            acc = self.fma(acc, x, self.c(k))
        return acc

    # comparisons and selection
    def lt(self, a, b): return self.b.fcmp_ordered("<", a, b)
    def le(self, a, b): return self.b.fcmp_ordered("<=", a, b)
    def gt(self, a, b): return self.b.fcmp_ordered(">", a, b)
    def ge(self, a, b): return self.b.fcmp_ordered(">=", a, b)
    def eq(self, a, b): return self.b.fcmp_ordered("==", a, b)
    def isnan(self, a): return self.b.fcmp_unordered("uno", a, a)
    def sel(self, cond, a, b): return self.b.select(cond, a, b)
    def or_(self, a, b): return self.b.or_(a, b)
    def and_(self, a, b): return self.b.and_(a, b)

    def clamp(self, x, lo, hi):
        x = self.sel(self.lt(x, self.c(lo)), self.c(lo), x)
        return self.sel(self.gt(x, self.c(hi)), self.c(hi), x)

    # bits
    def to_bits(self, a): return self.b.bitcast(a, self.ity)
    def from_bits(self, a): return self.b.bitcast(a, self.ty)
    def to_int(self, a): return self.b.fptosi(a, self.ity)
    def to_float(self, a): return self.b.sitofp(a, self.ty)

    def pow2(self, n):
        """2^n for an integer n in the normal range (bits built directly)."""
        return self.from_bits(self.b.shl(self.b.add(n, self.i(self.p.bias)), self.i(self.p.mant)))

    def scale(self, y, n):
        """y 2^n as two exact factors, so an overflowing or denormal result rounds once."""
        n1 = self.b.ashr(n, self.i(1))
        return self.mul(self.mul(y, self.pow2(n1)), self.pow2(self.b.sub(n, n1)))


def _emit(builder, x):
    return _Emit(builder, x.type)


def _reduce_exp(e, x):
    """n, r, c with x = n ln 2 + r + c, |r| <= ln2/2 (x already clamped and NaN-free)."""
    p = e.p
    n = e.rint(e.mul(x, e.c(1 / math.log(2))))
    hi = e.fma(n, e.c(-p.ln2_hi), x)              # exact (Cody-Waite with fma)
    lo = e.mul(n, e.c(-p.ln2_lo))
    r = e.add(hi, lo)
    c = e.add(e.sub(hi, r), lo)                   # what rounding r lost
    return n, r, c


def _expm1_poly(e, r):
    """e^r - 1 for |r| <= ln2/2: r + r^2 P(r)."""
    return e.fma(e.mul(r, r), e.horner(r, _EXP_P[e.p.bits]), r)


def _exp(e, x):
    p = e.p
    xs = e.clamp(e.sel(e.isnan(x), e.c(0.0), x), p.exp_lo, p.exp_hi)
    n, r, c = _reduce_exp(e, xs)
    q = _expm1_poly(e, r)
    q = e.add(q, e.fma(c, q, c))                  # e^(r + c) - 1 to first order in c
    y = e.scale(e.add(e.c(1.0), q), e.to_int(n))
    return e.sel(e.isnan(x), x, y)


def _log_core(e, x):
    """(k, f, s, hfsq, R) of fdlibm's log, x > 0 finite (denormals pre-scaled here)."""
    p = e.p
    tiny = e.lt(x, e.c(p.min_normal))
    xs = e.sel(tiny, e.mul(x, e.c(2.0 ** p.mant)), x)
    ix = e.b.sub(e.to_bits(xs), e.i(p.sqrt_half_bits))
    k = e.b.ashr(ix, e.i(p.mant))
    k = e.b.sub(k, e.b.select(tiny, e.i(p.mant), e.i(0)))
    mbits = e.b.add(e.b.and_(ix, e.i((1 << p.mant) - 1)), e.i(p.sqrt_half_bits))
    f = e.sub(e.from_bits(mbits), e.c(1.0))       # exact: m in [sqrt(1/2), sqrt 2)
    s = e.div(f, e.add(e.c(2.0), f))
    z = e.mul(s, s)
    big_r = e.mul(z, e.horner(z, _LOG_P[p.bits]))
    hfsq = e.mul(e.c(0.5), e.mul(f, f))
    return e.to_float(k), f, s, hfsq, big_r


def _log_edges(e, x, y):
    """log's IEEE edges: log(0) = -inf, log(<0) = nan, log(inf) = inf, nan stays nan."""
    y = e.sel(e.eq(x, e.c(math.inf)), x, y)
    y = e.sel(e.eq(x, e.c(0.0)), e.c(-math.inf), y)
    return e.sel(e.b.fcmp_unordered("<", x, e.c(0.0)), e.c(math.nan), y)


def _log(e, x):
    p = e.p
    k, f, s, hfsq, big_r = _log_core(e, x)
    t = e.fma(k, e.c(p.ln2_lo), e.mul(s, e.add(hfsq, big_r)))
    y = e.fma(k, e.c(p.ln2_hi), e.add(f, e.sub(t, hfsq)))
    return _log_edges(e, x, y)


def _two_sum(e, a, b):
    s = e.add(a, b)
    bb = e.sub(s, a)
    return s, e.add(e.sub(a, e.sub(s, bb)), e.sub(b, bb))


def _log1p(e, x):
    u, c = _two_sum(e, e.c(1.0), x)
    corr = e.div(c, u)
    y = e.add(_log(e, u), e.sel(e.eq(u, e.c(0.0)), e.c(0.0), corr))
    y = e.sel(e.eq(x, e.c(math.inf)), x, y)      # TwoSum of inf gives nan
    y = e.sel(e.eq(x, e.c(-1.0)), e.c(-math.inf), y)
    return e.sel(e.b.fcmp_unordered("<", x, e.c(-1.0)), e.c(math.nan), y)


def _expm1(e, x):
    p = e.p
    xs = e.clamp(e.sel(e.isnan(x), e.c(0.0), x), p.expm1_lo, p.exp_hi)
    n, r, c = _reduce_exp(e, xs)
    q = _expm1_poly(e, r)
    q = e.add(q, e.fma(c, q, c))
    ni = e.to_int(n)
    exact = e.le(n, e.c(float(p.mant)))          # 2^n - 1 is exact up to n = mantissa bits
    t = e.pow2(e.b.select(exact, ni, e.i(0)))
    small = e.add(e.mul(t, q), e.sub(t, e.c(1.0)))
    large = e.sub(e.scale(e.add(e.c(1.0), q), ni), e.c(1.0))
    y = e.sel(exact, small, large)
    return e.sel(e.isnan(x), x, y)


def _tanh(e, x):
    a = e.abs(x)
    em = _expm1(e, e.add(a, a))
    d = e.add(em, e.c(2.0))
    near = e.div(em, d)
    far = e.sub(e.c(1.0), e.div(e.c(2.0), d))
    t = e.sel(e.lt(a, e.c(0.625)), near, far)
    t = e.sel(e.eq(a, e.c(math.inf)), e.c(1.0), t)
    return e.copysign(t, x)                      # nan stays nan


def _sigmoid(e, x):
    em = _exp(e, e.neg(e.abs(x)))
    num = e.sel(e.ge(x, e.c(0.0)), e.c(1.0), em)
    return e.div(num, e.add(e.c(1.0), em))


def _softplus(e, x):
    em = _exp(e, e.neg(e.abs(x)))
    pos = e.sel(e.gt(x, e.c(0.0)), x, e.c(0.0))
    return e.add(pos, _log1p(e, em))


def _log_sigmoid(e, x):
    return e.neg(_softplus(e, e.neg(x)))


def _log_dd(e, x):
    """log x = hi + lo in double-double (relative error about 2^-62), x > 0 finite."""
    k, f, _, _, _ = _log_core(e, x)
    d_hi = e.add(e.c(2.0), f)
    d_lo = e.sub(f, e.sub(d_hi, e.c(2.0)))        # 2 + f = d_hi + d_lo exactly
    s_hi = e.div(f, d_hi)
    res = e.fma(e.neg(s_hi), d_hi, f)             # exact division residual
    s_lo = e.div(e.fma(e.neg(s_hi), d_lo, res), d_hi)
    z = e.mul(s_hi, s_hi)
    tail = e.mul(e.mul(e.c(2.0), e.mul(s_hi, z)), e.horner(z, _ATANH_Q))
    two_s = e.add(s_hi, s_hi)
    p = e.p
    kh = e.mul(k, e.c(p.ln2_khi))                 # exact
    hi, lo = _two_sum(e, kh, two_s)
    lo = e.add(lo, e.add(e.add(s_lo, s_lo), e.fma(k, e.c(p.ln2_klo), tail)))
    return _two_sum(e, hi, lo)


def _exp_dd(e, hi, lo):
    """exp(hi + lo), |lo| <= ulp(hi); hi may be +-inf or nan."""
    p = e.p
    xs = e.clamp(e.sel(e.isnan(hi), e.c(0.0), hi), p.exp_lo, p.exp_hi)
    lo = e.sel(e.eq(xs, hi), lo, e.c(0.0))        # dropped where hi was clamped, inf or nan
    n, r, c = _reduce_exp(e, xs)
    c = e.add(c, lo)
    q = _expm1_poly(e, r)
    q = e.add(q, e.fma(c, q, c))
    return e.scale(e.add(e.c(1.0), q), e.to_int(n))


def _pow_magnitude64(e, ax, y):
    """|x|^y for float64 through a double-double log; ax = |x| (0 and inf included)."""
    safe = e.sel(e.or_(e.eq(ax, e.c(0.0)), e.eq(ax, e.c(math.inf))), e.c(1.0), ax)
    lhi, llo = _log_dd(e, safe)
    lhi = e.sel(e.eq(ax, e.c(0.0)), e.c(-math.inf), lhi)
    lhi = e.sel(e.eq(ax, e.c(math.inf)), e.c(math.inf), lhi)
    llo = e.sel(e.eq(safe, ax), llo, e.c(0.0))
    ph = e.mul(y, lhi)
    pl = e.fma(y, llo, e.fma(y, lhi, e.neg(ph)))
    return _exp_dd(e, ph, pl)


def _pow_magnitude32(e, ax, y):
    """|x|^y for float32: float64 log and exp (error 2^-45 relative), rounded once."""
    b = e.b
    e64 = e.with_type(ir.VectorType(ir.DoubleType(), e.lanes) if e.lanes else ir.DoubleType())
    ax64, y64 = b.fpext(ax, e64.ty), b.fpext(y, e64.ty)
    return b.fptrunc(_exp(e64, e64.mul(y64, _log(e64, ax64))), e.ty)


def _power(e, x, y):
    """x^y with C99 pow's special cases (as np.power)."""
    p = e.p
    ax = e.abs(x)
    mag = (_pow_magnitude32 if p.bits == 32 else _pow_magnitude64)(e, ax, y)
    ay = e.abs(y)
    is_int = e.eq(e.rint(y), y)                  # true for +-inf too
    half = e.mul(y, e.c(0.5))
    odd = e.and_(is_int, e.b.fcmp_ordered("!=", e.rint(half), half))
    neg_x = e.b.icmp_signed("<", e.to_bits(x), e.i(0))        # sign bit, -0 included
    res = e.sel(e.and_(neg_x, odd), e.neg(mag), mag)
    finite_neg = e.and_(e.lt(x, e.c(0.0)), e.lt(ax, e.c(math.inf)))
    non_int = e.and_(e.lt(ay, e.c(math.inf)), e.b.not_(is_int))
    res = e.sel(e.and_(finite_neg, non_int), e.c(math.nan), res)
    one = e.c(1.0)
    res = e.sel(e.and_(e.eq(ax, one), e.eq(ay, e.c(math.inf))), one, res)   # (-1)^inf = 1
    res = e.sel(e.or_(e.isnan(x), e.isnan(y)), e.add(x, y), res)
    res = e.sel(e.eq(x, one), one, res)                                     # 1^nan = 1
    return e.sel(e.eq(y, e.c(0.0)), one, res)                               # nan^0 = 1


def _sqrt(e, x):
    return e.sqrt(x)


def _fabs(e, x):
    return e.abs(x)


def _sign(e, x):
    zero = e.c(0.0)
    s = e.sel(e.lt(x, zero), e.c(-1.0), e.sel(e.eq(x, zero), zero, x))
    return e.sel(e.gt(x, zero), e.c(1.0), s)


def _maximum(e, x, y):
    return e.sel(e.or_(e.ge(x, y), e.isnan(x)), x, y)


def _minimum(e, x, y):
    return e.sel(e.or_(e.le(x, y), e.isnan(x)), x, y)


def _xlogy(e, x, y):
    safe = e.sel(e.eq(x, e.c(0.0)), e.c(1.0), y)
    return e.sel(e.eq(x, e.c(0.0)), e.c(0.0), e.mul(x, _log(e, safe)))


def _public(impl, doc):
    def fn(builder, *args):
        if not args:
            raise TypeError(f"{impl.__name__[1:]}: expected at least one value")
        ty = args[0].type
        for a in args[1:]:
            if a.type != ty:
                raise TypeError(f"{impl.__name__[1:]}: operands must share one type, "
                                f"got {ty} and {a.type}")
        return impl(_Emit(builder, ty), *args)
    fn.__name__ = impl.__name__[1:]
    fn.__qualname__ = fn.__name__
    fn.__doc__ = doc
    return fn


exp = _public(_exp, "e^x (builder, x) -> value of x's type.")
log = _public(_log, "log x; log 0 = -inf, log of a negative = nan.")
log1p = _public(_log1p, "log(1 + x), accurate for small x.")
expm1 = _public(_expm1, "e^x - 1, accurate for small x.")
tanh = _public(_tanh, "tanh x.")
sigmoid = _public(_sigmoid, "1 / (1 + e^-x), without overflow for either sign.")
softplus = _public(_softplus, "log(1 + e^x) = max(x, 0) + log1p(e^-|x|).")
log_sigmoid = _public(_log_sigmoid, "log sigmoid(x) = -softplus(-x).")
power = _public(_power, "x^y (builder, x, y), with C pow's special cases.")
sqrt = _public(_sqrt, "sqrt x (llvm.sqrt, correctly rounded).")
fabs = _public(_fabs, "|x| (llvm.fabs).")
sign = _public(_sign, "np.sign: -1, 0 or 1; nan stays nan.")
maximum = _public(_maximum, "np.maximum: NaN-propagating max(x, y).")
minimum = _public(_minimum, "np.minimum: NaN-propagating min(x, y).")
xlogy = _public(_xlogy, "x log y, 0 where x = 0.")

#: name -> (function, arity): the functions a lowering table can take from here.
FUNCTIONS = {f.__name__: (f, 2 if f in (power, maximum, minimum, xlogy) else 1)
             for f in (exp, log, log1p, expm1, tanh, sigmoid, softplus, log_sigmoid, power,
                       sqrt, fabs, sign, maximum, minimum, xlogy)}
