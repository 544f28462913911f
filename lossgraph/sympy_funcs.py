"""Named SymPy functions for lossgraph's composite ops, so a gradient converted to SymPy
reads sigmoid(x), not a pile of exp. Each knows its derivative and LaTeX form."""
from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p  # noqa: F401  (re-exported)


class sigmoid(sp.Function):
    """1 / (1 + e^{-x})."""

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kw):
        return 1 / (1 + sp.exp(-x))

    def _latex(self, printer):
        return rf"\sigma\left({printer._print(self.args[0])}\right)"


class softplus(sp.Function):
    """log(1 + e^x)."""

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kw):
        return sp.log(1 + sp.exp(x))

    def _eval_rewrite_as_log(self, x, **kw):
        return sp.log(1 + sp.exp(x))

    def _latex(self, printer):
        return rf"\operatorname{{softplus}}\left({printer._print(self.args[0])}\right)"


class softmax(sp.Function):
    """e^{x_i} / sum_j e^{x_j} along the class axis (opaque elementwise)."""

    def _latex(self, printer):
        return rf"\operatorname{{softmax}}\left({printer._print(self.args[0])}\right)"


class log_softmax(sp.Function):
    """x_i - log sum_j e^{x_j} along the class axis (opaque elementwise)."""

    def _latex(self, printer):
        return rf"\log\operatorname{{softmax}}\left({printer._print(self.args[0])}\right)"


class one_hot(sp.Function):
    """1 where the class index equals the label, else 0."""

    def _latex(self, printer):
        return rf"\mathbb{{1}}\left[{printer._print(self.args[0])}\right]"
