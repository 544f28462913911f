"""Named SymPy functions for lossgraph's composite ops, so a gradient converted to SymPy
reads sigmoid(x), not a pile of exp. Each knows its derivative and LaTeX form."""
from __future__ import annotations

import itertools

import sympy as sp
from sympy.concrete.expr_with_limits import ExprWithLimits
from sympy.codegen.cfunctions import expm1, log1p  # noqa: F401  (re-exported)


def _call(head, printer, arg, exp, brackets=(r"\left(", r"\right)")):
    """head(arg) in LaTeX, raised to exp when SymPy prints f(x)**n."""
    tex = f"{head}{brackets[0]}{printer._print(arg)}{brackets[1]}"
    return tex if exp is None else f"{tex}^{{{exp}}}"


class _RealFunction(sp.Function):
    """A real function of a real argument, evaluated numerically through its exp form."""

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self.args[0].is_real else None

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)


class sigmoid(_RealFunction):
    """1 / (1 + e^{-x})."""

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.S.Half

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kw):
        return 1 / (1 + sp.exp(-x))

    def _latex(self, printer, exp=None):
        return _call(r"\sigma", printer, self.args[0], exp)


class softplus(_RealFunction):
    """log(1 + e^x)."""

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.log(2)

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kw):
        return sp.log(1 + sp.exp(x))

    def _eval_rewrite_as_log(self, x, **kw):
        return sp.log(1 + sp.exp(x))

    def _latex(self, printer, exp=None):
        return _call(r"\operatorname{softplus}", printer, self.args[0], exp)


class _Normalizer(sp.Function):
    """An opaque elementwise view of an op over a whole axis: softmax(0) is not a number
    (it is 1/C), so SymPy must not try to evaluate or compare it as one."""

    @property
    def is_number(self):
        return False

    def _eval_is_real(self):
        return self.args[0].is_real


class softmax(_Normalizer):
    """e^{x_i} / sum_j e^{x_j} along the class axis (opaque elementwise)."""

    def _eval_is_positive(self):
        return True if self.args[0].is_real else None

    def _latex(self, printer, exp=None):
        return _call(r"\operatorname{softmax}", printer, self.args[0], exp)


class log_softmax(_Normalizer):
    """x_i - log sum_j e^{x_j} along the class axis (opaque elementwise)."""

    def _latex(self, printer, exp=None):
        return _call(r"\log\operatorname{softmax}", printer, self.args[0], exp)


class one_hot(sp.Function):
    """1 where the class index equals the label, else 0."""

    def _latex(self, printer, exp=None):
        return _call(r"\mathbb{1}", printer, self.args[0], exp, (r"\left[", r"\right]"))


class _Extremum(ExprWithLimits):
    """Base of max_over / min_over: args are (body, (j, lo, hi), ...) like Sum's. The limits
    bind j (SymPy's ExprWithLimits keeps them out of free_symbols, subs and derivatives)."""
    symbol = ""

    def _eval_derivative(self, s):
        """0 when s is not free in the range; else left unevaluated (argmax is not a formula)."""
        return sp.S.Zero if s not in self.free_symbols else None

    def doit(self, **hints):
        """The extremum itself once every range is a concrete integer range."""
        body = self.args[0].doit(**hints) if hints.get("deep", True) else self.args[0]
        ranges = [(j, lo, hi) for j, lo, hi in self.limits]
        if not all(lo.is_Integer and hi.is_Integer for _, lo, hi in ranges):
            return self.func(body, *ranges)
        points = itertools.product(*[range(int(lo), int(hi) + 1) for _, lo, hi in ranges])
        values = [body.subs(dict(zip([j for j, _, _ in ranges], p))) for p in points]
        return self.reducer(*values)

    def _latex(self, printer, exp=None):
        from sympy.printing.precedence import PRECEDENCE
        ranges = ", ".join(rf"{printer._print(lo)} \le {printer._print(j)} \le "
                           rf"{printer._print(hi)}" for j, lo, hi in self.limits)
        tex = rf"{self.symbol}_{{{ranges}}} {printer.parenthesize(self.args[0], PRECEDENCE['Mul'])}"
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"


class max_over(_Extremum):
    """max_{lo <= j <= hi} body: the max reduction in indexed form (SymPy has no Max over
    a range)."""
    symbol = r"\max"
    reducer = sp.Max


class min_over(_Extremum):
    """min_{j = lo..hi} body."""
    symbol = r"\min"
    reducer = sp.Min
