"""Rewrite rules for matmul: scalar factors, divisors and signs move out of a product.

    (c A) @ B -> c (A @ B)      A @ (c B) -> c (A @ B)      for a scalar c (shape ())
    (A / d) @ B -> (A @ B) / d  A @ (B / d) -> (A @ B) / d  for a scalar d
    (-A) @ B -> -(A @ B)        A @ (-B) -> -(A @ B)

so a derived gradient reads like the textbook: X^T (2 (X w - t) / N) becomes
2 X^T (X w - t) / N, and the scalar algebra outside the product is left to the tidy rules.
Importing this module registers the rules (lossgraph.rewrite imports it, after the
phases of lossgraph.rules; they are tried after those at a matmul node).
"""
from __future__ import annotations

from .. import api as F
from ..patterns import P, Var, rule

A, B = Var("a"), Var("b")
S = Var("s", where=lambda n, env: n.shape == ())


@rule("matmul-scalar-left", P("matmul", P("multiply", S, A), B), "tidy",
      "(c A) @ B -> c (A @ B) for a scalar c")
def _(s, a, b):
    return s * F.matmul(a, b)


@rule("matmul-scalar-left-after", P("matmul", P("multiply", A, S), B), "tidy",
      "(A c) @ B -> c (A @ B) for a scalar c")
def _(s, a, b):
    return s * F.matmul(a, b)


@rule("matmul-scalar-right", P("matmul", A, P("multiply", S, B)), "tidy",
      "A @ (c B) -> c (A @ B) for a scalar c")
def _(s, a, b):
    return s * F.matmul(a, b)


@rule("matmul-scalar-right-after", P("matmul", A, P("multiply", B, S)), "tidy",
      "A @ (B c) -> c (A @ B) for a scalar c")
def _(s, a, b):
    return s * F.matmul(a, b)


@rule("matmul-divisor-left", P("matmul", P("divide", A, S), B), "tidy",
      "(A / d) @ B -> (A @ B) / d for a scalar d")
def _(s, a, b):
    return F.matmul(a, b) / s


@rule("matmul-divisor-right", P("matmul", A, P("divide", B, S)), "tidy",
      "A @ (B / d) -> (A @ B) / d for a scalar d")
def _(s, a, b):
    return F.matmul(a, b) / s


@rule("matmul-negative-left", P("matmul", P("negative", A), B), "tidy",
      "(-A) @ B -> -(A @ B)")
def _(a, b):
    return -F.matmul(a, b)


@rule("matmul-negative-right", P("matmul", A, P("negative", B)), "tidy",
      "A @ (-B) -> -(A @ B)")
def _(a, b):
    return -F.matmul(a, b)
