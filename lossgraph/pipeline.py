"""The one derivation pipeline: everything that hands out numbers or gradients goes through it.

    stable(outputs)          the loss as it is evaluated: simplified, so naive formulas are
                             rewritten to their stable forms (log(sigmoid x) -> -softplus(-x))
    derive(y, wrt)           (stable y, simplified gradients of the stable y)

`lg.gradients`, `lg.grad`, `lg.value_and_grad`, `lg.hvp`, the `Loss` methods and the code
generators call these; `lg.gradients(..., simplify=False)` is the literal derivation, for
teaching.
"""
from __future__ import annotations

from . import api as F


def stable(outputs):
    """The simplified (stabilized) form of a node or a list of nodes."""
    from .rewrite import simplify
    return simplify(outputs)


def derive(y, wrt, grad_output=None):
    """(stable y, [simplified d stable-y / d w for w in wrt]).

    The gradient of the stabilized loss is what a careful person writes by hand: the naive
    BCE's derivative is (sigmoid(x) - z) / N, not a 0/0 of sigmoids.
    """
    from .autodiff import reverse
    from .rewrite import simplify
    y = stable(F.as_node(y))
    grads = reverse(y, list(wrt), grad_output)
    return y, (simplify(grads) if grads else [])
