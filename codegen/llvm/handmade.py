"""Hand-built kernels on mathlib, jit and runtime: the yardsticks the lowering is measured by.

    map_module(["exp", "power"], ["float32"]) -> JitModule with map_<fn>_<dtype>(x, y, out, n)
    k = bce_with_logits("float32");  value, grad = k(x, z, out=None, threads=1)

BCE with logits, mean over N elements, in one pass that reads x and z once and writes the
gradient once:
    loss = (1/N) sum softplus(x) - z x,   softplus(x) = max(x, 0) + log1p(e^-|x|)
    dloss/dx = ((1 - z) sigmoid(x) - z sigmoid(-x)) / N
(the textbook sigmoid(x) - z loses all digits where sigmoid(x) ~ z for hard labels; this form
keeps them, and with soft labels errs by a few eps of the two terms), with one exp, one log1p
(a division inside) and one division for the gradient per element: ((1 - z) n1 - z n2) / (1 + e),
n1, n2 = 1, e or e, 1 by the sign of x. The loss accumulates in the input precision over
blocks of 1024 elements folded into float64 (the loop vectorizer keeps the full
width of the input type).
"""
from __future__ import annotations

import ctypes

import numpy as np
from llvmlite import ir

from . import jit, mathlib, runtime
from .loops import counted_loop

_TYPES = {"float32": ir.FloatType(), "float64": ir.DoubleType()}
_I64 = ir.IntType(64)
_PTR = ir.PointerType()
BLOCK = 1024


def _float_type(dtype):
    name = np.dtype(dtype).name
    if name not in _TYPES:
        raise TypeError(f"dtype must be float32 or float64, got {name}")
    return _TYPES[name]


def map_module(functions, dtypes=("float32", "float64")):
    """A JitModule with void map_<fn>_<dtype>(T *x, T *y, T *out, i64 n): out = fn(x[, y])."""
    module = jit.new_module("map")
    for dtype in dtypes:
        ty = _float_type(dtype)
        for name in functions:
            fn, arity = mathlib.FUNCTIONS[name]
            f = ir.Function(module, ir.FunctionType(ir.VoidType(), [_PTR] * 3 + [_I64]),
                            name=f"map_{name}_{np.dtype(dtype).name}")
            x, y, out, n = f.args
            b = ir.IRBuilder(f.append_basic_block("entry"))

            def body(b, i, fn=fn, arity=arity, ty=ty, x=x, y=y, out=out):
                args = [b.load(b.gep(p, [i], inbounds=True, source_etype=ty), typ=ty)
                        for p in (x, y)[:arity]]
                b.store(fn(b, *args), b.gep(out, [i], inbounds=True, source_etype=ty))
                return ()
            counted_loop(b, ir.Constant(_I64, 0), n, body)
            b.ret_void()
    return jit.compile_module(module)


def map_function(jm, name, dtype):
    """A Python callable out = fn(x[, y]) on contiguous arrays (test helper, plain ctypes)."""
    cf = jm.function(f"map_{name}_{np.dtype(dtype).name}", None, ctypes.c_void_p,
                     ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)

    def call(x, y=None):
        x = np.ascontiguousarray(x, dtype=dtype)
        y = x if y is None else np.ascontiguousarray(y, dtype=dtype)
        out = np.empty_like(x)
        cf(x.ctypes.data, y.ctypes.data, out.ctypes.data, x.size)
        return out
    call.native = cf
    return call


def _bce_body(module, ty):
    """body(x, z, g, partials, start, stop, n): g = dBCE/dx, partials[0] = sum of the loss."""
    fnty = ir.FunctionType(ir.VoidType(), [_PTR] * 4 + [_I64] * 3)
    f = ir.Function(module, fnty, name="bce_body")
    x, z, g, partials, start, stop, n = f.args
    b = ir.IRBuilder(f.append_basic_block("entry"))
    one, zero = ir.Constant(ty, 1.0), ir.Constant(ty, 0.0)
    f64 = ir.DoubleType()
    inv_n = b.fdiv(ir.Constant(f64, 1.0), b.sitofp(n, f64))
    inv_n = b.fptrunc(inv_n, ty) if isinstance(ty, ir.FloatType) else inv_n

    def element(b, i, acc):
        xi = b.load(b.gep(x, [i], inbounds=True, source_etype=ty), typ=ty)
        zi = b.load(b.gep(z, [i], inbounds=True, source_etype=ty), typ=ty)
        em = mathlib.exp_neg(b, mathlib.fabs(b, xi))                # e^-|x|, nan kept
        d = b.fadd(one, em)
        pos = b.fcmp_ordered(">=", xi, zero)
        # sigmoid(x) = n1 / d, sigmoid(-x) = n2 / d: one division for the gradient
        n1, n2 = b.select(pos, one, em), b.select(pos, em, one)
        num = b.fma(b.fsub(one, zi), n1, b.fneg(b.fmul(zi, n2)))
        grad = b.fmul(b.fdiv(num, d), inv_n)
        b.store(grad, b.gep(g, [i], inbounds=True, source_etype=ty))
        relu = b.select(b.fcmp_ordered(">", xi, zero), xi, zero)
        # em in [0, 1] or nan (a nan x reaches the loss through it)
        loss = b.fsub(b.fadd(relu, mathlib.log1p_unit(b, em)), b.fmul(xi, zi))
        acc2 = b.fadd(acc, loss)
        acc2.flags.append("reassoc")          # the one reordered operation: the block sum
        return (acc2,)

    def block(b, i, total):
        lo = b.add(start, b.mul(i, ir.Constant(_I64, BLOCK)))
        hi = b.add(lo, ir.Constant(_I64, BLOCK))
        hi = b.select(b.icmp_signed("<", hi, stop), hi, stop)
        s, = counted_loop(b, lo, hi, element, (zero,))
        s = b.fpext(s, ir.DoubleType()) if isinstance(ty, ir.FloatType) else s
        return (b.fadd(total, s),)

    blocks = b.sdiv(b.add(b.sub(stop, start), ir.Constant(_I64, BLOCK - 1)),
                    ir.Constant(_I64, BLOCK))
    total, = counted_loop(b, ir.Constant(_I64, 0), blocks, block,
                   (ir.Constant(ir.DoubleType(), 0.0),))
    b.store(total, partials)
    b.ret_void()
    return f


class BCEWithLogits:
    """value, grad = k(x, z, out=None, threads=1): mean BCE with logits and d/dx, one pass."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        ty = _float_type(self.dtype)
        module = jit.new_module("bce_with_logits")
        runtime.emit_entry(module, _bce_body(module, ty), 3, "bce_entry", n_ints=1)
        self.jit = jit.compile_module(module)
        self._loop = runtime.NativeLoop(self.jit, "bce_entry", 3, n_partials=1, n_ints=1)

    def __call__(self, x, z, out=None, threads=1):
        dt = self.dtype
        runtime.check_array("x", x, dt)
        runtime.check_array("z", z, dt, shape=x.shape)
        if out is None:
            out = np.empty_like(x)
        else:
            runtime.check_array("out", out, dt, shape=x.shape, writable=True)
        n = x.size
        if n == 0:
            return float("nan"), out
        total = self._loop((x, z, out), n, (n,), threads)
        return total[0] / n, out


def bce_with_logits(dtype):
    """The BCEWithLogits kernel for float32 or float64."""
    return BCEWithLogits(dtype)
