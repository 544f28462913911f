"""Vectorizable math in LLVM IR: exp, log, log1p, expm1, tanh, sigmoid, softplus, power, ...

Every function takes an ``llvmlite.ir.IRBuilder`` and a float or double value, scalar or vector
(``<16 x float>``), and emits its result inline at the builder's position: no libm calls (libm
blocks the loop vectorizer; there is no SVML here), no branches, only arithmetic, ``llvm.fma``,
``llvm.rint``, ``llvm.fabs``, ``llvm.copysign``, ``llvm.sqrt`` and selects, so a loop that uses
them vectorizes.

    from codegen.llvm import mathlib as m
    y = m.exp(builder, x)            # x: float, double, <16 x float>, <8 x double>

Algorithms (the accuracy measured by tests/codegen/llvm/test_mathlib_accuracy.py and
docs/llvm-backend.md; at most 2 ulp each, float32 and float64, edges IEEE and NumPy's):

    exp(x)     = 2^n e^r, n = rint(x / ln 2), r = x - n ln 2 (Cody-Waite with fma), e^r =
                 1 + (r + r^2 P(r)), P the Taylor polynomial (|r| <= ln2/2); 2^n applied as two
                 exact powers of two so an overflowing result rounds once, as NumPy's does
    exp_neg(a) = e^-a for a >= 0 or nan, the shared e^-|x| of fused sigmoid and softplus:
                 n read off the bits of a / ln 2 + 1.5 2^p, 1 + r + r^2 Q(r) (Q fitted) as one
                 Horner polynomial whose coefficients carry the final 2^-K, no selects but the
                 clamp (nan propagates through the arithmetic)
    exp_shifted(a) = e^-a for any a: exp_neg with 2^-n as two exact factors (overflow and
                 denormals round once)
    exp_row(a) = e^-a for softmax's a = max - x >= 0, e^(x - max) in the row loops: exp_neg
                 with a floor where its one scale 2^(K - n) is +inf (in a row whose max is
                 +inf, shifted by fused.row_shift's constant, its +inf entry, a = -inf, gives
                 +inf)
    log1p_unit(f) = log(1 + f) for f in [0, 1] or nan (softplus's log1p(e^-|x|)), no
                 exponent split or edge selects: f + f^2 R(f), R fitted in f - 1/2 (no
                 division)
    exp_accurate(x): also c, what rounding r lost: e^r = 1 + r + r^2 P(r) + c e^r with 1 + r
                 kept exact (Fast2Sum) and denormal results rounded once at the denormal step
                 (the sum added to 1, whose ulp is that step, then scaled back)
    log(x)     = k ln 2 + log(m), m in [sqrt(1/2), sqrt 2) split off the bits (denormals
                 pre-scaled by 2^p), f = m - 1; float32: log(m) = f + f^2 R(f), R fitted
                 (no division); float64: f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f),
                 R the atanh series (fdlibm's form)
    log1p(x)   = log's formula on u = 1 + x rounded, + c / u, c = x - (u - 1) = (1 + x) - u exactly,
                 1/u by the bit trick and two Newton steps (a correction needs few bits);
                 f = x exactly when u needs no exponent (k = 0)
    expm1(x)   = (2^n - 1) + 2^n r + 2^n t with e^(r + c) = 1 + r + t (c what rounding r lost),
                 the first sum kept exact (Fast2Sum); 2^n (e^r - 2^-n) once 2^n - 1 is inexact
    tanh(x)    = sign(x) e / (e + 2) (|x| < 5/8), sign(x) (1 - 2 / (e + 2)) beyond, e = expm1(2|x|)
                 carried as a double-word and divided with one correction step
    sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) below, e = exp(-|x|) (double-word, as tanh)
    softplus(x) = max(x, 0) + log1p(exp(-|x|)), exp as a double-word, log1p's terms and the
                 final sum kept exact until one rounding;  log_sigmoid(x) = -softplus(-x)
    power(x, y) = exp(y log|x|), float64: log in double-double (2s + 2s^3/3 carried exactly),
                 y log|x| as a double-word fed to exp's reduction; float32: float64 log and exp,
                 rounded once; signs and special cases as C's pow (and np.power)
    maximum, minimum: NaN-propagating, np.maximum's rule; sign: np.sign's

edges=False (exp, log1p) drops the final selects that make nan, inf, -1 and -0 come out as
IEEE says, for fused loops whose argument is known finite and in the domain, or where a NaN
input reaches the result by another path (BCE: x z); the note measured such selects at about a
quarter of a fused loop's time.

Constants reach the IR as the exact hex of the double (llvmlite prints them that way).
"""
from __future__ import annotations

import math
import struct
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
from llvmlite import ir

from lossgraph.errors import DTypeError

__all__ = ["exp", "exp_neg", "exp_shifted", "exp_row", "log1p_unit", "exp_accurate", "log",
           "log1p", "expm1", "tanh", "sigmoid", "softplus",
           "log_sigmoid", "power", "sqrt", "fabs", "sign", "maximum", "minimum", "xlogy", "fma",
           "FUNCTIONS"]


def _ln2():
    """ln 2 to 40 digits, as a Fraction (hi/lo splits need more than the double)."""
    with localcontext() as ctx:
        ctx.prec = 40
        return Fraction(Decimal(2).ln())


_LN2 = _ln2()


def _taylor(coef, terms):
    return tuple(float(coef(k)) for k in range(terms))


# e^r = 1 + r + r^2 P(r), P(r) = sum r^k / (k + 2)!
# degree 8 / 13 in all: truncation r^9/9! and r^14/14! under 0.05 ulp
_EXP_P = {32: _taylor(lambda k: Fraction(1, math.factorial(k + 2)), 7),
          64: _taylor(lambda k: Fraction(1, math.factorial(k + 2)), 12)}
# fdlibm's R(z) = sum_{k>=1} 2 z^k / (2k + 1), here as z P(z); z = s^2 <= 0.0295, so the
# truncation z^(K+1) / (2K + 3) of log's relative error is 2e-9 (K = 4) and 7e-19 (K = 10)
_LOG_P = {32: _taylor(lambda k: Fraction(2, 2 * k + 3), 4),
          64: _taylor(lambda k: Fraction(2, 2 * k + 3), 10)}
# atanh series for the double-double log: log(m) = 2s + 2 s^3 Q(s^2), Q(z) = sum z^k / (2k + 3)
_ATANH_Q = _taylor(lambda k: Fraction(1, 2 * k + 3), 12)


# exp_neg's e^r = 1 + r + r^2 Q(r) on |r| <= ln2/2 (a hair wider: r's rounding). float32: a
# degree-4 fit, within 7e-8 of Q (r^2 times that: under 0.2 ulp of e^r; checked with mpmath).
# float64 keeps exp's Taylor polynomial: a fit computed in float64 is itself only good to 1e-16.
# The float32 fits here are Chebyshev interpolants of float64 series, in the power basis
# (tests/codegen/llvm/test_mathlib_polys.py makes them again), kept as literals: fitting them
# at import, numpy.polynomial's import included, was about half of the LLVM backend's import
# (33 -> 15 ms with bytecode caches, 2-vCPU Zen 3)
_HALF_LN2 = 0.35
_EXP_Q32 = ('0x1.fffffffffffffp-2', '0x1.5554d82f594e7p-3', '0x1.555516c9279aep-5',
            '0x1.12105ceb0d507p-7', '0x1.6d15f708117dap-10')
_EXP_Q_FIT = {32: tuple(float.fromhex(h) for h in _EXP_Q32), 64: _EXP_P[64]}
#: 2^-K of exp_neg's final scaling (K = the float's width)
_EXP_NEG_K = {32: 32, 64: 64}
# e^r = 1 + r + r^2 Q(r) as one Horner polynomial in r; exp_neg's coefficients carry its 2^-K
# (exact: powers of two), so y 2^(K - n) rounds once with no separate multiply
_EXP_R_POLY = {bits: (1.0, 1.0) + _EXP_Q_FIT[bits] for bits in (32, 64)}
_EXP_NEG_POLY = {bits: tuple(c * 2.0 ** -_EXP_NEG_K[bits] for c in _EXP_R_POLY[bits])
                 for bits in (32, 64)}


# log1p_unit: log(1 + f) = f + f^2 R(f) on [0, 1], R a polynomial in t = f - 1/2 (|t| <= 1/2
# damps each Horner step's rounding, as f near 1 would not). float32: degree 9, the float64
# Chebyshev interpolant (within 5e-9 of R). float64: degree 22, R's interpolant at the
# Chebyshev nodes computed with mpmath at 50 digits (tests/codegen/llvm/test_mathlib_polys.py
# makes it again): a float64 fit is only as good as float64's log1p(f) - f, which cancels
_LOG1P_R64 = (
    '-0x1.833704d019ed0p-2', '0x1.6f0d7bd624bd7p-3', '-0x1.7ddf1fe86aa99p-4',
    '0x1.a279c04c7e4aep-5', '-0x1.da348248bd607p-6', '0x1.131116f867b0fp-6',
    '-0x1.44ba45bc6f764p-7', '0x1.849050df6eba4p-8', '-0x1.d5fb014ba43cdp-9',
    '0x1.1ebcf675a40dap-9', '-0x1.6073b8a77beb7p-10', '0x1.b3e9e8e4f1b2fp-11',
    '-0x1.0f01a5c626b20p-11', '0x1.529798987c555p-12', '-0x1.a8a7ccd9ab609p-13',
    '0x1.0a49f0453f9d7p-13', '-0x1.50342fea4922bp-14', '0x1.bacc56fdab438p-15',
    '-0x1.192e4e6f54ee7p-15', '0x1.05d338e3cb951p-16', '-0x1.4cfb172577923p-17',
    '0x1.03d772bf26840p-16', '-0x1.4d2bb3b28bb25p-17',
)
_LOG1P_R32 = (
    '-0x1.83370508af481p-2', '0x1.6f0d7c1c4d30ep-3', '-0x1.7dde6f6d1b6d9p-4',
    '0x1.a278e57b82e74p-5', '-0x1.da8bdafb61332p-6', '0x1.13473bf07abcdp-6',
    '-0x1.3d41512ac0002p-7', '0x1.7b4d371026668p-8', '-0x1.2bf3457266666p-8',
    '0x1.6f37819666666p-9',
)
_LOG1P_R_FIT = {32: tuple(float.fromhex(h) for h in _LOG1P_R32),
                64: tuple(float.fromhex(h) for h in _LOG1P_R64)}
# float32's log: log(1 + f) = f + f^2 R(f) on log's reduced f in [sqrt(1/2) - 1, sqrt 2 - 1],
# R of degree 9 in t = f - _LOG_R_CENTER (no division; float64 keeps the atanh series: a
# degree-20 R there ran 0.81-0.96x)
_LOG_R_CENTER = (math.sqrt(0.5) + math.sqrt(2.0)) / 2 - 1
_LOG_R_HALF = (math.sqrt(2.0) - math.sqrt(0.5)) / 2
_LOG_R32 = (
    '-0x1.ec3171a956291p-2', '0x1.38649e6ce7c59p-2', '-0x1.bc639f0bf2eb8p-3',
    '0x1.507f824065f8dp-3', '-0x1.094e5e9546464p-3', '0x1.adbb03657f4dbp-4',
    '-0x1.5ae38daed6665p-4', '0x1.22d3cabc00854p-4', '-0x1.4204e90b66662p-4',
    '0x1.15425ce2abc61p-4',
)
_LOG_R_FIT32 = tuple(float.fromhex(h) for h in _LOG_R32)


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


class Splat(ir.FormattedConstant):
    """A vector constant with one value in every lane, spelled `splat (T v)`: printed and
    parsed once, not once per lane (packed rows have 80-lane vectors)."""

    def __init__(self, ty, elem):
        ir.Constant.__init__(self, ty.element, None)
        self.type, self.elem = ty, elem
        self.constant = f"splat ({elem.type} {elem.get_reference()})"


class _Lanes(ir.Constant):
    """An integer vector constant printed in one join (llvmlite formats a Constant per lane);
    its lanes are shared Constants of the element type (a shuffle reads them as its mask)."""

    def __init__(self, ty, values):
        elem = ty.element
        pool = _LANE_CONSTANTS.setdefault(elem.width, {})
        ir.Constant.__init__(self, ty, [pool.get(v) or pool.setdefault(v, ir.Constant(elem, v))
                                        for v in values])
        self.text = "<" + ", ".join([f"{elem} {v}" for v in values]) + ">"

    def _get_reference(self):
        return self.text


_LANES = {}
_LANE_CONSTANTS = {}


def lanes(ty, values):
    """The integer vector constant of type ty with these lanes: one object per (type, lanes)
    in the process (constants belong to no module), so a shuffle mask used again is made and
    printed once."""
    key = (ty.element.width, tuple(np.asarray(values, dtype=np.int64).tolist()))
    c = _LANES.get(key)
    if c is None:
        c = _LANES[key] = _Lanes(ty, key[1])
    return c


def _round(x, bits):
    return struct.unpack("f", struct.pack("f", x))[0] if bits == 32 else float(x)


_PRECISIONS = {32: _Precision(32), 64: _Precision(64)}


def byte_size(ty):
    """Bytes of one element of an IR scalar type (float, double, iN)."""
    return {"float": 4, "double": 8}.get(str(ty)) or ty.width // 8


def type_suffix(ty):
    """An overloaded intrinsic's name part for ty: f32, f64, i64, v16f32, ..."""
    elem = ty.element if isinstance(ty, ir.VectorType) else ty
    suffix = {"float": "f32", "double": "f64"}.get(str(elem)) or f"i{elem.width}"
    return f"v{ty.count}{suffix}" if isinstance(ty, ir.VectorType) else suffix


def declared(module, name, fnty):
    """The function `name` of type fnty in module, declared there once."""
    fn = module.globals.get(name)
    return fn if fn is not None else ir.Function(module, fnty, name=name)


def intrinsic(module, name, fnty):
    """The overloaded intrinsic `name` for its first operand's type (scalar or vector),
    declared once per module."""
    return declared(module, f"{name}.{type_suffix(fnty.args[0])}", fnty)


class _Emit:
    """Instruction helpers for one float type (scalar or vector) at one builder."""

    def __init__(self, builder, ty, who="mathlib", edges=True):
        self.b = builder
        self.edges = edges
        self.ty = ty
        elem = ty.element if isinstance(ty, ir.VectorType) else ty
        if isinstance(elem, ir.FloatType):
            self.p = _PRECISIONS[32]
        elif isinstance(elem, ir.DoubleType):
            self.p = _PRECISIONS[64]
        else:
            raise DTypeError(f"{who}: expected a float or double value (or a vector of "
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
        v = ir.Constant(self.ty.element if self.lanes else self.ty, _round(value, self.p.bits))
        return Splat(self.ty, v) if self.lanes else v

    def i(self, value):
        v = ir.Constant(self.ity.element if self.lanes else self.ity, value)
        return Splat(self.ity, v) if self.lanes else v

    def intrinsic(self, name, *args, ty=None):
        fnty = ir.FunctionType(ty or self.ty, [a.type for a in args])
        return self.b.call(intrinsic(self.b.module, f"llvm.{name}", fnty), args)

    # float arithmetic (strict IEEE: no fast-math flags)
    def add(self, a, b): return self.b.fadd(a, b)
    def sub(self, a, b): return self.b.fsub(a, b)
    def mul(self, a, b): return self.b.fmul(a, b)
    def div(self, a, b): return self.b.fdiv(a, b)
    def neg(self, a): return self.b.fneg(a)
    def fma(self, a, b, c):  # IRBuilder.fma takes scalars only; the intrinsic takes both
        return self.b.fma(a, b, c) if not self.lanes else self.intrinsic("fma", a, b, c)
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


def _two_sum(e, a, b):
    """s, err with s + err = a + b exactly."""
    s = e.add(a, b)
    bb = e.sub(s, a)
    return s, e.add(e.sub(a, e.sub(s, bb)), e.sub(b, bb))


def _fast_two_sum(e, a, b):
    """s, err with s + err = a + b exactly, for |a| >= |b| (or a = 0)."""
    s = e.add(a, b)
    return s, e.sub(b, e.sub(s, a))


def _div_dd(e, nh, nl, dh, dl):
    """(nh + nl) / (dh + dl) rounded once, to about 2^-(2p - 3): one division."""
    inv = e.div(e.c(1.0), dh)
    q0 = e.mul(nh, inv)
    r = e.fma(e.neg(q0), dh, nh)                 # exact for q0 within 2 ulp of nh / dh
    r = e.add(r, e.fma(e.neg(q0), dl, nl))
    return e.fma(r, inv, q0)


def _reduce_exp(e, x):
    """n, r, c with x = n ln 2 + r + c, |r| <= ln2/2 (x already clamped and NaN-free)."""
    p = e.p
    n = e.rint(e.mul(x, e.c(1 / math.log(2))))
    hi = e.fma(n, e.c(-p.ln2_hi), x)              # exact (Cody-Waite with fma)
    lo = e.mul(n, e.c(-p.ln2_lo))
    r = e.add(hi, lo)
    c = e.add(e.sub(hi, r), lo)                   # what rounding r lost
    return n, r, c


def _exp_tail(e, r, c):
    """t with e^(r + c) - 1 = r + t to far below an ulp: t = q2 + c e^r, q2 = r^2 P(r)
    (c may reach an ulp of 700: the low part of power's y log x)."""
    q2 = e.mul(e.mul(r, r), e.horner(r, _EXP_P[e.p.bits]))
    return e.add(q2, e.fma(c, e.add(r, q2), c))


def _exp_parts(e, x):
    """(n, hi, lo): e^x = 2^n (hi + lo), hi + lo = e^r unrounded; x clamped, NaN-free."""
    n, r, c = _reduce_exp(e, x)
    hi, lo = _fast_two_sum(e, e.c(1.0), r)
    return n, hi, e.add(lo, _exp_tail(e, r, c))


def _exp_clamped(e, x):
    return e.clamp(e.sel(e.isnan(x), e.c(0.0), x), e.p.exp_lo, e.p.exp_hi)


def _exp_dd(e, x):
    """e^x = yh + yl, yh = exp(x) rounded, yl what rounding lost (0 beyond the range)."""
    n, hi, lo = _exp_parts(e, _exp_clamped(e, x))
    s, err = _fast_two_sum(e, hi, lo)
    ni = e.to_int(n)
    return e.scale(s, ni), e.scale(err, ni)


def _scale_once(e, hi, lo, n):
    """(hi + lo) 2^n rounded once, denormal results included: there the sum is rounded at
    the denormals' fixed step by adding it to 1 (1 + u, u = (hi + lo) 2^(n + bias - 1))."""
    p = e.p
    y = e.scale(e.add(hi, lo), n)
    t = e.pow2(e.b.add(n, e.i(p.bias - 1)))
    uh, ul = e.mul(hi, t), e.mul(lo, t)
    big, err = _fast_two_sum(e, e.c(1.0), uh)
    tiny = e.mul(e.sub(e.add(big, e.add(err, ul)), e.c(1.0)), e.c(p.min_normal))
    return e.sel(e.lt(y, e.c(p.min_normal)), tiny, y)


def _exp(e, x):
    """The lean exp hot loops use: 1 + (r + r^2 P(r)) rounded, then 2^n as two exact factors,
    so an overflowing result rounds once, as NumPy's (inf from the same input on); a denormal
    result may round twice: within one denormal step (exp_accurate rounds those once)."""
    p = e.p
    xs = _exp_clamped(e, x)
    n = e.rint(e.mul(xs, e.c(1 / math.log(2))))
    r = e.fma(n, e.c(-p.ln2_lo), e.fma(n, e.c(-p.ln2_hi), xs))
    y = e.scale(e.add(e.c(1.0), _expm1_poly(e, r)), e.to_int(n))
    return e.sel(e.isnan(x), x, y) if e.edges else y


def _expm1_poly(e, r):
    """e^r - 1 = r + r^2 P(r) for |r| <= ln2/2."""
    return e.fma(e.mul(r, r), e.horner(r, _EXP_P[e.p.bits]), r)


def _exp_reduced(e, a):
    """(t, r): a = n ln 2 - r, n = rint(a / ln 2) held in the low bits of t = a / ln 2 +
    1.5 2^p (no conversions), r by Cody-Waite; |a| within the exponent range."""
    p = e.p
    magic = e.c(1.5 * 2.0 ** p.mant)
    t = e.fma(a, e.c(1 / math.log(2)), magic)
    n = e.sub(t, magic)
    return t, e.fma(n, e.c(p.ln2_lo), e.fma(n, e.c(p.ln2_hi), e.neg(a)))


def _exp_neg(e, a):
    """e^-a for a >= 0, or nan (which propagates: no selects but the clamp, which keeps it).
    e^r = 1 + r + r^2 Q(r), Q fitted, as one Horner polynomial with 2^-K folded into its
    coefficients, times 2^(K - n) (exact: normal) in one multiply, so a denormal result
    rounds once."""
    big = e.c(_exp_big(e))
    return _exp_one_scale(e, e.sel(e.gt(a, big), big, a))


def _exp_big(e):
    """e^-big rounds to 0."""
    return 104.0 if e.p.bits == 32 else 746.0


def _exp_row(e, a):
    """e^-a for softmax's a = max - x >= 0, or nan (propagated): exp_neg with a floor at
    a = n_inf ln 2, n_inf = K - bias - 1, where 2^(K - n)'s exponent field is all ones: +inf.
    So a < 0 (a row whose max is +inf, fused.row_shift) is e^-a down to (n_inf + 1/2) ln 2 (-66.2
    float32, -665.1 float64) and +inf below (a = -inf, the +inf entry, gives +inf)."""
    p = e.p
    floor = float((_EXP_NEG_K[p.bits] - p.bias - 1) * _LN2)
    return _exp_one_scale(e, e.clamp(a, floor, _exp_big(e)))


def _exp_one_scale(e, a):
    """e^-a, a clamped to where 2^(K - n) is normal or +inf: y 2^(K - n) in one multiply."""
    p = e.p
    t, r = _exp_reduced(e, a)
    y = e.horner(r, _EXP_NEG_POLY[p.bits])
    # the low bits of t hold n; shifted to the exponent field they leave magic's bits behind
    shifted = e.b.shl(e.to_bits(t), e.i(p.mant))
    scale = e.from_bits(e.b.sub(e.i((p.bias + _EXP_NEG_K[p.bits]) << p.mant), shifted))
    return e.mul(y, scale)


def _exp_shifted(e, a):
    """e^-a for any a, or nan (propagated): exp_neg's reduction and polynomial, 2^-n applied as
    two exact powers of two so overflow (a < 0) and denormal results round once; no nan
    selects."""
    p = e.p
    a = e.clamp(a, -p.exp_hi, _exp_big(e))
    t, r = _exp_reduced(e, a)
    y = e.horner(r, _EXP_R_POLY[p.bits])
    ni = e.b.sub(e.to_bits(t), e.to_bits(e.c(1.5 * 2.0 ** p.mant)))
    n1 = e.b.ashr(ni, e.i(1))
    return e.mul(e.mul(y, e.pow2(e.b.neg(n1))), e.pow2(e.b.sub(n1, ni)))


def _log1p_unit(e, f):
    """log(1 + f) for f in [0, 1], or nan (which propagates): f + f^2 R(f), R a fitted
    polynomial in f - 1/2, no division (the divider bounded BCE's loop: fdlibm's
    (f - f^2/2) + s (f^2/2 + z P(z)), s = f / (2 + f), ran 1.11x slower per core in float32,
    1.19x in float64)."""
    return e.fma(e.mul(f, f), e.horner(e.sub(f, e.c(0.5)), _LOG1P_R_FIT[e.p.bits]), f)


def _exp_accurate(e, x):
    """exp with r's rounding error and 1 + r kept until one final rounding, denormal results
    included (NumPy's float64 exp to the bit in 99.98% of them); about 3x the lean exp's cost."""
    n, hi, lo = _exp_parts(e, _exp_clamped(e, x))
    return e.sel(e.isnan(x), x, _scale_once(e, hi, lo, e.to_int(n)))


def _log_split(e, x, denormals=True):
    """(k, f): x = 2^k (1 + f), 1 + f in [sqrt(1/2), sqrt 2), f exact; x > 0 finite
    (denormals pre-scaled here, unless the caller knows x is normal); garbage elsewhere, for
    the caller's edge selects."""
    p = e.p
    xs = x
    if denormals:
        tiny = e.lt(x, e.c(p.min_normal))
        xs = e.sel(tiny, e.mul(x, e.c(2.0 ** p.mant)), x)
    ix = e.b.sub(e.to_bits(xs), e.i(p.sqrt_half_bits))
    k = e.b.ashr(ix, e.i(p.mant))
    if denormals:
        k = e.b.sub(k, e.b.select(tiny, e.i(p.mant), e.i(0)))
    mbits = e.b.add(e.b.and_(ix, e.i((1 << p.mant) - 1)), e.i(p.sqrt_half_bits))
    return e.to_float(k), e.sub(e.from_bits(mbits), e.c(1.0))


def _log_terms(e, f):
    """(hfsq, w): log(1 + f) = f - (hfsq - w), hfsq = f^2/2, w = s (hfsq + R(s^2))."""
    s = e.div(f, e.add(e.c(2.0), f))
    z = e.mul(s, s)
    big_r = e.mul(z, e.horner(z, _LOG_P[e.p.bits]))
    hfsq = e.mul(e.c(0.5), e.mul(f, f))
    return hfsq, e.mul(s, e.add(hfsq, big_r))


def _log_combine(e, k, f, c):
    """k ln 2 + log(1 + f) + c, c a small correction. float32: log(1 + f) = f + f^2 R(f), no
    division (log-based losses 1.03-1.20x per core); float64: f - (hfsq - w), _log_terms."""
    p = e.p
    if p.bits == 32:
        r = e.horner(e.sub(f, e.c(_LOG_R_CENTER)), _LOG_R_FIT32)
        tail = e.fma(e.mul(f, f), r, e.fma(k, e.c(p.ln2_lo), c))
        return e.fma(k, e.c(p.ln2_hi), e.add(f, tail))
    hfsq, w = _log_terms(e, f)
    t = e.add(w, e.fma(k, e.c(p.ln2_lo), c))
    return e.fma(k, e.c(p.ln2_hi), e.sub(f, e.sub(hfsq, t)))


def _log_edges(e, x, y, zero_at):
    """IEEE edges at the pole zero_at (0 for log, -1 for log1p): -inf there, nan below,
    inf at inf, nan stays nan."""
    y = e.sel(e.eq(x, e.c(math.inf)), x, y)
    y = e.sel(e.eq(x, e.c(zero_at)), e.c(-math.inf), y)
    return e.sel(e.b.fcmp_unordered("<", x, e.c(zero_at)), e.c(math.nan), y)


def _log(e, x):
    k, f = _log_split(e, x)
    return _log_edges(e, x, _log_combine(e, k, f, e.c(0.0)), 0.0)


def _log_normal(e, x):
    """log x for x normal and positive, +inf or nan (which stay as they are): log's
    polynomial without its denormal scaling and the selects for 0 and negatives, so log's
    bits there; one select (x < inf, false for nan) keeps inf and nan."""
    k, f = _log_split(e, x, denormals=False)
    return e.sel(e.lt(x, e.c(math.inf)), _log_combine(e, k, f, e.c(0.0)), x)


def _rough_reciprocal(e, u):
    """1/u to about 12 bits for normal u > 0: the bit trick, then two Newton steps (enough
    for a correction term far below an ulp; no division)."""
    magic = 0x7EF311C7 if e.p.bits == 32 else 0x7FDE623822FC16E6
    r = e.from_bits(e.b.sub(e.i(magic), e.to_bits(u)))
    for _ in range(2):
        r = e.mul(r, e.fma(e.neg(u), r, e.c(2.0)))
    return r


def _one_plus(e, x):
    """u, c with u + c = 1 + x exactly while u < 2^p: u - 1 is then exact (1 is a multiple of
    ulp(u), or u = 1 + x exactly when x <= -1/2), and so is x - (u - 1) (Sterbenz). Beyond,
    log1p drops c anyway."""
    u = e.add(e.c(1.0), x)
    return u, e.sub(x, e.sub(u, e.c(1.0)))


def _log1p(e, x):
    u, c = _one_plus(e, x)
    k, f = _log_split(e, u, denormals=False)     # u = 1 + x > 0 is never denormal
    k0 = e.eq(k, e.c(0.0))
    f = e.sel(k0, x, f)                           # 1 + x needs no rounding when k = 0
    # log(u + c) = log u + c / u; negligible (and 1/u's bit trick invalid) for huge u
    keep = e.and_(e.b.not_(k0), e.lt(u, e.c(2.0 ** (e.p.mant + 2))))
    c = e.sel(keep, e.mul(c, _rough_reciprocal(e, u)), e.c(0.0))
    y = _log_combine(e, k, f, c)
    if not e.edges:
        return y
    y = _log_edges(e, x, y, -1.0)
    return e.sel(e.eq(x, e.c(0.0)), x, y)        # -0 stays -0


def _expm1_dd(e, x):
    """e^x - 1 = hi + lo, hi the rounded result, finite x (nan mapped to garbage)."""
    p = e.p
    xs = e.clamp(e.sel(e.isnan(x), e.c(0.0), x), p.expm1_lo, p.exp_hi)
    n, r, c = _reduce_exp(e, xs)
    t = _exp_tail(e, r, c)
    ni = e.to_int(n)
    exact = e.le(n, e.c(float(p.mant)))          # 2^n - 1 is exact up to n = mantissa bits
    two_n = e.pow2(e.b.select(exact, ni, e.i(0)))
    # 2^n e^r - 1 = (2^n - 1) + 2^n r + 2^n t, the first sum kept exact
    hi, err = _fast_two_sum(e, e.sub(two_n, e.c(1.0)), e.mul(two_n, r))
    hi, lo = _fast_two_sum(e, hi, e.fma(two_n, t, err))
    # beyond: 2^n (e^r - 2^-n), 2^-n (below an ulp of e^r) folded into the low part
    ehi, elo = _fast_two_sum(e, e.c(1.0), r)
    cap = e.i(2 * p.mant + 4)
    minus = e.pow2(e.b.sub(e.i(0), e.b.select(e.b.icmp_signed("<", ni, cap), ni, cap)))
    large = e.scale(e.add(ehi, e.sub(e.add(elo, t), minus)), ni)
    return e.sel(exact, hi, large), e.sel(exact, lo, e.c(0.0))


def _expm1(e, x):
    keep = e.or_(e.isnan(x), e.eq(x, e.c(0.0)))  # nan, and -0 stays -0
    return e.sel(keep, x, _expm1_dd(e, x)[0])


def _tanh(e, x):
    a = e.abs(x)
    eh, el = _expm1_dd(e, e.add(a, a))
    dh, dl = _two_sum(e, e.c(2.0), eh)
    dl = e.add(dl, el)
    near = _div_dd(e, eh, el, dh, dl)                                   # e / (e + 2)
    far = e.sub(e.c(1.0), _div_dd(e, e.c(2.0), e.c(0.0), dh, dl))       # 1 - 2 / (e + 2)
    t = e.sel(e.lt(a, e.c(0.625)), near, far)
    t = e.sel(e.gt(a, e.c(10.0 if e.p.bits == 32 else 20.0)), e.c(1.0), t)
    t = e.copysign(t, x)
    return e.sel(e.isnan(x), x, t)


def _sigmoid(e, x):
    eh, el = _exp_dd(e, e.neg(e.abs(x)))                                # e^-|x|
    dh, dl = _fast_two_sum(e, e.c(1.0), eh)
    dl = e.add(dl, el)
    pos = e.ge(x, e.c(0.0))
    y = _div_dd(e, e.sel(pos, e.c(1.0), eh), e.sel(pos, e.c(0.0), el), dh, dl)
    return e.sel(e.isnan(x), x, y)


def _log1p_dd(e, xh, xl):
    """log(1 + xh + xl) = hi + lo for 0 <= xh <= 1, |xl| <= ulp(xh): log1p's formula with
    the k ln 2, f and f^2/2 terms summed exactly (TwoSum), the small rest in one double."""
    p = e.p
    u, c = _one_plus(e, xh)
    k, f = _log_split(e, u)
    k0 = e.eq(k, e.c(0.0))
    f = e.sel(k0, xh, f)
    c = e.div(e.add(e.sel(k0, e.c(0.0), c), xl), u)
    s = e.div(f, e.add(e.c(2.0), f))
    z = e.mul(s, s)
    ff = e.mul(f, f)
    hfsq, hf_err = e.mul(e.c(0.5), ff), e.mul(e.c(0.5), e.fma(f, f, e.neg(ff)))
    w = e.mul(s, e.add(hfsq, e.mul(z, e.horner(z, _LOG_P[p.bits]))))
    rest = e.sub(e.add(w, e.fma(k, e.c(p.ln2_klo), c)), hf_err)
    hi, lo1 = _two_sum(e, e.mul(k, e.c(p.ln2_khi)), f)      # k ln2_khi is exact
    hi, lo2 = _two_sum(e, hi, e.neg(hfsq))
    return hi, e.add(e.add(lo1, lo2), rest)


def _softplus(e, x):
    eh, el = _exp_dd(e, e.neg(e.abs(x)))                    # e^-|x| in (0, 1]
    lh, ll = _log1p_dd(e, eh, el)
    pos = e.sel(e.gt(x, e.c(0.0)), x, e.c(0.0))
    hi, lo = _two_sum(e, pos, lh)
    y = e.add(hi, e.add(lo, ll))
    return e.sel(e.or_(e.isnan(x), e.eq(x, e.c(math.inf))), x, y)


def _log_sigmoid(e, x):
    return e.neg(_softplus(e, e.neg(x)))


def _log_dd(e, x):
    """log x = hi + lo in double-double (relative error under 2^-64, which power needs:
    y log x reaches 709), x > 0 finite.

    log(1 + f) = 2s + 2s^3/3 + 2s^5 Q(s^2), s = f / (2 + f) = s_hi + s_lo; the first two terms
    carried in double-double, the rest (under 2e-4 of the result) in double."""
    p = e.p
    k, f = _log_split(e, x)
    d_hi = e.add(e.c(2.0), f)
    d_lo = e.sub(f, e.sub(d_hi, e.c(2.0)))        # 2 + f = d_hi + d_lo exactly
    s_hi = e.div(f, d_hi)
    res = e.fma(e.neg(s_hi), d_hi, f)             # exact division residual
    s_lo = e.div(e.fma(e.neg(s_hi), d_lo, res), d_hi)
    z = e.mul(s_hi, s_hi)
    z_lo = e.fma(s_hi, s_hi, e.neg(z))
    cube = e.mul(s_hi, z)
    cube_lo = e.fma(s_hi, z_lo, e.fma(s_hi, z, e.neg(cube)))
    third_hi = 2.0 / 3.0
    third_lo = float(Fraction(2, 3) - Fraction(third_hi))
    t_hi = e.mul(e.c(third_hi), cube)
    t_lo = e.fma(e.c(third_hi), cube, e.neg(t_hi))
    t_lo = e.fma(e.c(third_hi), cube_lo, e.fma(e.c(third_lo), cube, t_lo))
    rest = e.mul(e.mul(e.c(2.0), e.mul(cube, z)), e.horner(z, _ATANH_Q[1:]))
    # d(2 atanh s)/ds = 2 / (1 - s^2): what s_lo adds
    from_s_lo = e.mul(e.add(s_lo, s_lo), e.fma(z, e.add(e.c(1.0), z), e.c(1.0)))
    kh = e.mul(k, e.c(p.ln2_khi))                 # exact
    hi, lo = _two_sum(e, kh, e.add(s_hi, s_hi))
    hi, lo2 = _two_sum(e, hi, t_hi)
    small = e.add(e.add(t_lo, rest), e.fma(k, e.c(p.ln2_klo), from_s_lo))
    lo = e.add(e.add(lo, lo2), small)
    return _fast_two_sum(e, hi, lo)


def _exp_of_dd(e, hi, lo):
    """exp(hi + lo), |lo| <= ulp(hi); hi may be +-inf or nan."""
    p = e.p
    xs = e.clamp(e.sel(e.isnan(hi), e.c(0.0), hi), p.exp_lo, p.exp_hi)
    lo = e.sel(e.eq(xs, hi), lo, e.c(0.0))        # dropped where hi was clamped, inf or nan
    n, r, c = _reduce_exp(e, xs)
    hi1, lo1 = _fast_two_sum(e, e.c(1.0), r)
    t = _exp_tail(e, r, e.add(c, lo))
    return e.scale(e.add(hi1, e.add(lo1, t)), e.to_int(n))


def _pow_magnitude64(e, ax, y):
    """|x|^y for float64 through a double-double log; ax = |x| (0 and inf included)."""
    safe = e.sel(e.or_(e.eq(ax, e.c(0.0)), e.eq(ax, e.c(math.inf))), e.c(1.0), ax)
    lhi, llo = _log_dd(e, safe)
    lhi = e.sel(e.eq(ax, e.c(0.0)), e.c(-math.inf), lhi)
    lhi = e.sel(e.eq(ax, e.c(math.inf)), e.c(math.inf), lhi)
    llo = e.sel(e.eq(safe, ax), llo, e.c(0.0))
    ph = e.mul(y, lhi)
    pl = e.fma(y, llo, e.fma(y, lhi, e.neg(ph)))
    return _exp_of_dd(e, ph, pl)


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
    """x if x > y or x is nan, else y (ties go to y, as np.maximum: max(0, -0) = -0)."""
    return e.sel(e.or_(e.gt(x, y), e.isnan(x)), x, y)


def _minimum(e, x, y):
    return e.sel(e.or_(e.lt(x, y), e.isnan(x)), x, y)


def _fma(e, a, b, c):
    return e.fma(a, b, c)


def _xlogy(e, x, y):
    safe = e.sel(e.eq(x, e.c(0.0)), e.c(1.0), y)
    return e.sel(e.eq(x, e.c(0.0)), e.c(0.0), e.mul(x, _log(e, safe)))


def _xlogy_normal(e, x, y):
    """x log y for y as _log_normal takes it, 0 where x = 0: xlogy's bits there."""
    return e.sel(e.eq(x, e.c(0.0)), e.c(0.0), e.mul(x, _log_normal(e, y)))


def _public(impl, doc):
    name = impl.__name__[1:]

    def fn(builder, *args, edges=True):
        ty = args[0].type
        for a in args[1:]:
            if a.type != ty:
                raise DTypeError(f"{name}: operands must share one type, got {ty} and {a.type}")
        return impl(_Emit(builder, ty, name, edges), *args)
    fn.__name__ = name
    fn.__qualname__ = fn.__name__
    fn.__doc__ = doc
    return fn


exp = _public(_exp, "e^x (builder, x) -> value of x's type; under 1 ulp.")
exp_neg = _public(_exp_neg, "e^-a for a >= 0 or nan (nan propagates); under 1 ulp.")
exp_shifted = _public(_exp_shifted, "e^-a for any a or nan (nan propagates); under 1 ulp.")
exp_row = _public(_exp_row, "e^-a for a = max - x >= 0 or nan; a < 0 as _exp_row says.")
log1p_unit = _public(_log1p_unit, "log(1 + f) for f in [0, 1] or nan; under 2 ulp.")
exp_accurate = _public(_exp_accurate, "e^x under 0.75 ulp, denormal results rounded once.")
log = _public(_log, "log x; log 0 = -inf, log of a negative = nan.")
log_normal = _public(_log_normal, "log x for x normal and positive, +inf or nan.")
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
xlogy_normal = _public(_xlogy_normal, "x log y for y normal and positive, +inf or nan.")
fma = _public(_fma, "a b + c rounded once (llvm.fma), scalars or vectors.")

#: name -> (function, arity): the functions a lowering table can take from here.
FUNCTIONS = {f.__name__: (f, 2 if f in (power, maximum, minimum, xlogy, xlogy_normal) else 1)
             for f in (exp, exp_neg, exp_shifted, exp_row, exp_accurate, log, log_normal, log1p,
                       log1p_unit, expm1, tanh, sigmoid, softplus, log_sigmoid, power, sqrt,
                       fabs, sign, maximum, minimum, xlogy, xlogy_normal)}
