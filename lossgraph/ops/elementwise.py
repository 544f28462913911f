"""Elementwise ops: arithmetic, transcendental and composite functions, comparisons."""
from __future__ import annotations

import re

import numpy as np

from .. import api as F
from .base import register
from ..dtypes import is_float, normalize_dtype
from ..errors import DTypeError
from .rules import boolean, broadcast_of, elementwise, floating, label, require_bool, same_kind


def _sp():
    import sympy
    return sympy


def _nan_max(name):
    """SymPy Max / Min, nan when an argument is nan (as np.maximum; SymPy refuses nan)."""
    def build(a, attrs):
        sp = _sp()
        return sp.nan if sp.nan in a else getattr(sp, name)(*a)
    return build


def _compare(op):
    """A SymPy relation; with a nan operand it is false (true for !=), as in NumPy."""
    def build(a, attrs):
        sp = _sp()
        if sp.nan in a:
            return sp.true if op == "!=" else sp.false
        return sp.Rel(a[0], a[1], op)
    return build


def _fn(name):
    """A named SymPy function from lossgraph.sympy_funcs (sigmoid, softplus, ...)."""
    def build(a, attrs):
        from .. import sympy_funcs
        return getattr(sympy_funcs, name)(*a)
    return build


CHUNK = 32768   # elements per part: a float64 temporary of 256 KB stays in the L2 cache


def _in_parts(whole):
    """An impl of several NumPy passes with temporaries, run part by part over contiguous
    arrays: the passes then read and write cache, not memory. Elementwise, so the values
    are the same bits as whole(x, out) gives."""
    def impl(x, out=None):
        x = np.asarray(x)
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        if x.size <= CHUNK or not x.flags.c_contiguous or \
                out is not None and not out.flags.c_contiguous:
            return whole(x, out)
        out = np.empty(x.shape, x.dtype) if out is None else out
        fx, fo = x.reshape(-1), out.reshape(-1)
        for i in range(0, fx.size, CHUNK):
            whole(fx[i:i + CHUNK], fo[i:i + CHUNK])
        return out
    impl.__doc__ = whole.__doc__
    return impl


@_in_parts
def _sigmoid(x, out=None):
    """1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: no overflow, full relative accuracy
    in both tails. e^-|x| is computed once, in place; float32 stays float32."""
    positive = x >= 0
    e = np.abs(x, out=np.empty(x.shape, x.dtype) if out is None else out)
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = np.add(e, 1)
    np.maximum(e, positive, out=e)      # 1 where x >= 0 (e <= 1); a masked copy is slower
    return np.divide(e, d, out=e)


@_in_parts
def _softplus(x, out=None):
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, exact for large |x|.
    log1p(e^-|x|) is computed in float64 also for float32 x and rounded once with the sum:
    NumPy's float32 exp and log1p would add up to 2 ulp; this is correctly rounded."""
    e = np.abs(x, out=np.empty(x.shape, np.float64))
    np.negative(e, out=e)
    np.exp(e, out=e)
    np.log1p(e, out=e)
    out = np.maximum(x, 0, out=np.empty(x.shape, x.dtype) if out is None else out)
    return np.add(out, e, out=out, casting="same_kind")


def _power(x, y):
    """x^y in floating point (NumPy refuses integers to negative integer powers)."""
    return np.power(x.astype(np.float64) if x.dtype.kind in "biu" else x, y)


def _power_vjp(g, ans, x, y):
    """d/dx x^y = y x^(y-1) (0 where y = 0, also at x = 0: focal loss with gamma 0);
    d/dy x^y = x^y log x (0 where x^y = 0)."""
    dx = y * x ** (y - 1.0)
    if not (y.op == "constant" and y.attrs["value"].all()):
        dx = F.where(F.equal(y, 0.0), 0.0, dx)
    return g * dx, g * F.xlogy(ans, x)


def _xlogy(x, y):
    """x log y, 0 where x = 0 (also for y = 0, inf or nan): y is replaced by 1 there."""
    logy = np.log(np.where(x == 0, 1, y))
    fits = isinstance(logy, np.ndarray) and logy.shape == np.broadcast_shapes(np.shape(x), logy.shape) and \
        logy.dtype == np.result_type(x, logy)
    return np.multiply(x, logy, out=logy if fits else None)


def _counting(fn):
    """fn with bool operands taken as 0/1 ints (in NumPy bool + bool is a logical or, -True
    and sign(True) raise, exp(True) is computed in float16). out= passes through."""
    def impl(*args, **out):
        return fn(*[a.astype(np.int64) if a.dtype == np.bool_ else a for a in args], **out)
    return impl


def _factor(tex):
    """A LaTeX operand as a factor: parenthesized when it is a sum or starts with a sign."""
    depth, sum_at_top = 0, False
    for i, ch in enumerate(tex):
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch in "+-" and depth == 0 and i > 0:
            sum_at_top = True
    return rf"\left({tex}\right)" if sum_at_top or tex.startswith("-") else tex


def unary(name, fn, vjp, text=None, latex=None, sympy=None, dtype=floating, math="", **kw):
    kw.setdefault("writes_out", isinstance(fn, np.ufunc))
    register(name, "elementwise", elementwise(dtype), _counting(fn), vjp,
             text or f"{name}({{0}})",
             latex or rf"\operatorname{{{name}}}\left({{0}}\right)",
             math=math, sympy=sympy, arity=1, **kw)


def binary(name, fn, vjp, text, latex, prec=None, sympy=None, dtype=floating, math="", **kw):
    kw.setdefault("writes_out", isinstance(fn, np.ufunc))
    register(name, "elementwise", elementwise(dtype), _counting(fn), vjp, text, latex, math=math,
             prec=prec, sympy=sympy, arity=2, **kw)


# --- arithmetic (prec: + - 10, * / 20, unary - 25, ** 30)
binary("add", np.add, lambda g, ans, x, y: (g, g), "{0} + {1}", "{0} + {1}",
       prec=10, sympy=lambda a, at: a[0] + a[1], dtype=same_kind, assoc=True, math="x + y")
binary("subtract", np.subtract, lambda g, ans, x, y: (g, -g), "{0} - {1}",
       "{0} - {1}", prec=10, sympy=lambda a, at: a[0] - a[1], dtype=same_kind, math="x - y")
def _times_latex(a, attrs, node):
    r"""x y, but x \cdot 2 and x (-3): juxtaposed numbers would read as one."""
    if a[1].startswith("-"):
        return rf"{a[0]} \left({a[1]}\right)"
    return rf"{a[0]} \cdot {a[1]}" if a[1][:1].isdigit() else f"{a[0]} {a[1]}"


binary("multiply", np.multiply, lambda g, ans, x, y: (g * y, g * x), "{0} * {1}",
       _times_latex, prec=20, sympy=lambda a, at: a[0] * a[1], dtype=same_kind, assoc=True,
       math="x y")
binary("divide", np.true_divide, lambda g, ans, x, y: (g / y, -g * ans / y), "{0} / {1}",
       r"\frac{{{0}}}{{{1}}}", prec=20, latex_atomic=True, sympy=lambda a, at: a[0] / a[1],
       math="x / y")
binary("power", _power, _power_vjp,
       "{0} ** {1}", "{0}^{{{1}}}", prec=30, right_assoc=True, sympy=lambda a, at: a[0] ** a[1],
       math="x^y")
binary("maximum", np.maximum,
       lambda g, ans, x, y: (F.where(x >= y, g, 0.0), F.where(x >= y, 0.0, g)),
       "maximum({0}, {1})", r"\max\left({0}, {1}\right)",
       sympy=_nan_max("Max"), dtype=same_kind, math="max(x, y)")
binary("minimum", np.minimum,
       lambda g, ans, x, y: (F.where(x <= y, g, 0.0), F.where(x <= y, 0.0, g)),
       "minimum({0}, {1})", r"\min\left({0}, {1}\right)",
       sympy=_nan_max("Min"), dtype=same_kind, math="min(x, y)")
binary("xlogy", _xlogy,
       lambda g, ans, x, y: (g * F.log(y), F.where(F.equal(x, 0.0), 0.0, g * x / y)),
       "xlogy({0}, {1})", lambda a, at, n: rf"{_factor(a[0])} \log\left({a[1]}\right)",
       sympy=lambda a, at: a[0] * _sp().log(a[1]), math="x log(y), 0 where x = 0")

unary("negative", np.negative, lambda g, ans, x: (-g,), text="-{0}",
      latex="-{0}", prec=25, sympy=lambda a, at: -a[0], dtype=same_kind, math="-x")
unary("exp", np.exp, lambda g, ans, x: (g * ans,), latex=r"e^{{{0}}}",
      sympy=lambda a, at: _sp().exp(a[0]), math="e^x")
unary("log", np.log, lambda g, ans, x: (g / x,), latex=r"\log\left({0}\right)",
      sympy=lambda a, at: _sp().log(a[0]), math="log x")
unary("log1p", np.log1p, lambda g, ans, x: (g / (1.0 + x),), sympy=_fn("log1p"),
      latex=r"\log\left(1 + {0}\right)", math="log(1 + x), accurate for small x")
unary("expm1", np.expm1, lambda g, ans, x: (g * (ans + 1.0),), sympy=_fn("expm1"),
      latex=r"\left(e^{{{0}}} - 1\right)", math="e^x - 1, accurate for small x")
unary("sqrt", np.sqrt, lambda g, ans, x: (g * 0.5 / ans,), latex=r"\sqrt{{{0}}}",
      sympy=lambda a, at: _sp().sqrt(a[0]), math="sqrt(x)")
unary("abs", np.abs, lambda g, ans, x: (g * F.sign(x),), latex=r"\left|{0}\right|",
      sympy=lambda a, at: _sp().Abs(a[0]), dtype=same_kind, math="|x|")
unary("sign", np.sign, lambda g, ans, x: (None,), latex=r"\operatorname{{sign}}\left({0}\right)",
      sympy=lambda a, at: _sp().sign(a[0]), dtype=same_kind, math="sign(x)")
unary("square", np.square, lambda g, ans, x: (g * 2.0 * x,), latex=r"{0}^{{2}}", latex_prec=30,
      sympy=lambda a, at: a[0] ** 2, dtype=same_kind, math="x^2")
unary("tanh", np.tanh, lambda g, ans, x: (g * (1.0 - F.square(ans)),),
      latex=r"\tanh\left({0}\right)", sympy=lambda a, at: _sp().tanh(a[0]),
      math="tanh x")
unary("sigmoid", _sigmoid, lambda g, ans, x: (g * ans * F.sigmoid(-x),),
      latex=r"\sigma\left({0}\right)", sympy=_fn("sigmoid"), math="1 / (1 + e^{-x})",
      writes_out=True)
unary("softplus", _softplus, lambda g, ans, x: (g * F.sigmoid(x),),
      latex=r"\operatorname{{softplus}}\left({0}\right)", sympy=_fn("softplus"),
      math="log(1 + e^x), stable for large |x|", writes_out=True)

# --- comparisons and logic: boolean results, no gradient
for _name, _fn_np, _sym in [("less", np.less, "<"), ("less_equal", np.less_equal, "<="),
                            ("greater", np.greater, ">"),
                            ("greater_equal", np.greater_equal, ">="),
                            ("equal", np.equal, "=="), ("not_equal", np.not_equal, "!=")]:
    _tex = {"<": "<", "<=": r"\le", ">": ">", ">=": r"\ge", "==": "=", "!=": r"\ne"}[_sym]
    binary(_name, _fn_np, None, f"{{0}} {_sym} {{1}}", f"{{0}} {_tex} {{1}}", prec=5,
           dtype=boolean, nondiff=(0, 1), math=f"x {_sym} y",
           sympy=_compare(_sym))
binary("logical_and", np.logical_and, None, "{0} & {1}", r"{0} \land {1}", prec=7,
       latex_prec=4,
       dtype=require_bool, nondiff=(0, 1), math="x and y",
       sympy=lambda a, at: _sp().And(*a))
binary("logical_or", np.logical_or, None, "{0} | {1}", r"{0} \lor {1}", prec=6,
       latex_prec=3,
       dtype=require_bool, nondiff=(0, 1), math="x or y", sympy=lambda a, at: _sp().Or(*a))
unary("logical_not", np.logical_not, None, text="~{0}", latex=r"\lnot {0}", prec=25,
      dtype=require_bool, nondiff=(0,), math="not x", sympy=lambda a, at: _sp().Not(a[0]))


# --- selection, clipping, casts
def _where_infer(inputs, attrs):
    c, a, b = inputs
    if c.dtype != "bool":
        raise DTypeError(f"where: condition {label(c)} must be bool, got {c.dtype}")
    return broadcast_of(inputs), same_kind((a, b)), attrs


def _cases_latex(args, attrs, node):
    r"""\begin{cases} a & \text{if } c \\ b & \text{otherwise} \end{cases}; a where in the
    otherwise branch adds its rows to the same block."""
    c, a, b = args
    head, tail = r"\begin{cases} ", r" & \text{otherwise} \end{cases}"
    rest = b[len(head):] if _one_cases_block(b, head, tail) else b + tail
    return rf"{head}{a} & \text{{if }} {c} \\ {rest}"


def _one_cases_block(tex, head, tail):
    """Whether tex is a single cases block (not, say, a product of two)."""
    if not (tex.startswith(head) and tex.endswith(tail)):
        return False
    depth = 0
    for m in re.finditer(r"\\(begin|end)\{cases\}", tex):
        depth += 1 if m.group(1) == "begin" else -1
        if depth == 0:
            return m.end() == len(tex)
    return False


register("where", "elementwise", _where_infer, np.where,
         lambda g, ans, c, a, b: (None, F.where(c, g, 0.0), F.where(c, 0.0, g)),
         "where({0}, {1}, {2})", _cases_latex,
         sympy=lambda a, at: _sp().Piecewise((a[1], a[0]), (a[2], True)),
         nondiff=(0,), math="a where c else b", arity=3, attr_kinds={})


def _clip_vjp(g, ans, x, lo, hi):
    inside = F.logical_and(x >= lo, x <= hi)
    return F.where(inside, g, 0.0), F.where(x < lo, g, 0.0), F.where(x > hi, g, 0.0)


register("clip", "elementwise", elementwise(same_kind), np.clip, _clip_vjp,
         "clip({0}, {1}, {2})", r"\operatorname{{clip}}\left({0}, {1}, {2}\right)",
         sympy=lambda a, at: _nan_max("Min")([_nan_max("Max")(a[:2], at), a[2]], at),
         math="min(max(x, lo), hi)", arity=3, attr_kinds={})


def _sp_number(x, dtype):
    """A SymPy truth value cast to a number is 1 where it holds, else 0."""
    sp = _sp()
    # (not `x.is_real`: SymPy's assumptions on a large relational can take minutes)
    if dtype != "bool" and isinstance(x, sp.logic.boolalg.Boolean) and not isinstance(x, sp.Expr):
        return sp.Piecewise((1, x), (0, True))
    return x


def _cast_infer(inputs, attrs):
    return inputs[0].shape, normalize_dtype(attrs["dtype"]), attrs


register("cast", "elementwise", _cast_infer, lambda x, dtype: x,
         lambda g, ans, x: (F.cast(g, x.dtype) if is_float(x.dtype) else None,),
         "cast({0}, {dtype})", r"{0}", sympy=lambda a, at: _sp_number(a[0], at["dtype"]),
         math="x as dtype", arity=1, attr_kinds={'dtype': 'dtype'})
register("stop_gradient", "elementwise", elementwise(lambda i: i[0].dtype), lambda x: x,
         None, "stop_gradient({0})", r"\left\lfloor {0} \right\rfloor_{{sg}}",
         sympy=lambda a, at: a[0], nondiff=(0,), math="x, with no gradient", arity=1, attr_kinds={})
