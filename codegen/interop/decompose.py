"""A loss as a sum over batch blocks: loss = steps(sum over rows of a per-row term).

    plan = decompose(kernel)      # Plan(block_sum, steps, batch_dim), or DecompositionError
    # per block b: s_b, ds_b = kernel_of(plan.block_sum)(block b of the inputs)
    # loss = steps(sum_b s_b)     grads: d loss/dx_b = steps'(ds_b)

A mean is sum(e) / dimsize(N): the block kernel computes sum(e) and its gradient over one block,
and the 1/N (an input-free factor, evaluated with the global dims) is applied afterwards, so N
comes from the arrays' shapes and not from a second pass. This is exact only when every row of
e depends on the same row of the inputs alone ("row-separable"), which is checked node by node:
the batch dim B sits at axis 0 of every node that has it, and no op mixes rows (a reduction,
normalizer or index along axis 0, a transpose moving axis 0, a matmul contracting it, the
batch size read inside the term). Anything else (max over the batch, a mean divided by a sum of
weights computed from the inputs, TF's mean over non-zero weights) raises DecompositionError.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from lossgraph.errors import OptionError
from lossgraph.evaluate import Env, run
from lossgraph.graph import topo_order
from lossgraph.ops import OPS


class DecompositionError(OptionError):
    """The loss is not a (constantly scaled) sum over the batch of row-separable terms."""


@dataclass(frozen=True)
class Step:
    """One input-free operation around the batch sum: value' = value (op) c, and the
    gradient's rule (linear in it: d(s * c) = ds * c; d(s + c) = ds)."""
    value: callable
    grad: callable


_SCALE = Step(operator.mul, operator.mul)
STEPS = {   # op name -> (positions where the carrier may sit, the step)
    "multiply": ((0, 1), _SCALE),
    "divide": ((0,), Step(operator.truediv, operator.truediv)),
    "add": ((0, 1), Step(operator.add, lambda g, c: g)),
    "subtract": ((0,), Step(operator.sub, lambda g, c: g)),
    "negative": ((0,), Step(lambda v, c: -v, lambda g, c: -g)),
}


@dataclass(frozen=True)
class Plan:
    """block_sum: the scalar sum(e) over all axes of a row-separable e (batch at axis 0).
    steps: (op name in STEPS, input-free factor node or None), innermost first.
    batch_dim: B's name."""
    block_sum: object
    steps: tuple
    batch_dim: str

    def factors(self, dims, float_dtype):
        """(op name, factor as a NumPy scalar of float_dtype or None) per step, the factors
        evaluated with the global dims."""
        out = []
        for op, node in self.steps:
            if node is None:
                out.append((op, None))
                continue
            env = Env({}, dict(dims), float_dtype)
            value = run(topo_order([node]), env)[id(node)]
            out.append((op, np.asarray(value).astype(float_dtype)[()]))
        return tuple(out)


def apply_steps(steps, value=None, grad=None):
    """(value, grad) after the steps (as Plan.factors gives them); either may be None."""
    for op, c in steps:
        step = STEPS[op][1]
        value = None if value is None else step.value(value, c)
        grad = None if grad is None else step.grad(grad, c)
    return value, grad


def _has_inputs(node):
    return any(n.op == "input" for n in topo_order([node]))


def decompose(kernel):
    """The Plan of kernel's loss, or DecompositionError saying what stands in the way."""
    if len(kernel.schedule.values) != 1:
        raise DecompositionError(f"{kernel.name}: a kernel with auxiliary outputs cannot be "
                                 f"split into batch blocks; compile the loss alone")
    node, steps = kernel.schedule.values[0], []
    while node.op in STEPS and not _is_batch_sum(node):
        places, _ = STEPS[node.op]
        carrier = [i for i in places if _has_inputs(node.inputs[i])]
        others = [n for i, n in enumerate(node.inputs) if i not in carrier[:1]]
        if len(carrier) != 1 or any(_has_inputs(o) for o in others):
            raise DecompositionError(_why_not(kernel, node))
        steps.append((node.op, others[0] if others else None))
        node = node.inputs[carrier[0]]
    if not _is_batch_sum(node):
        raise DecompositionError(_why_not(kernel, node))
    batch = node.inputs[0].shape[0]
    check_row_separable(kernel, node.inputs[0], batch)
    return Plan(node, tuple(reversed(steps)), batch)


def _is_batch_sum(node):
    x = node.inputs[0] if node.inputs else None
    return (node.op == "sum" and x is not None and x.ndim >= 1 and isinstance(x.shape[0], str)
            and tuple(node.attrs["axis"]) == tuple(range(x.ndim)))


def _why_not(kernel, node):
    if node.op in STEPS:
        return (f"{kernel.name}: the loss is {node.op} of terms that both depend on the inputs "
                f"(e.g. a sum divided by a sum of weights, or by the count of non-zero weights: "
                f"a normalization over the whole batch); only a sum or mean over the batch, "
                f"scaled by constants, splits into batch blocks")
    over = f" over axes {node.attrs['axis']}" if "axis" in node.attrs else ""
    shape = node.inputs[0].shape if node.inputs else ()
    return (f"{kernel.name}: the loss's outermost step is {node.op}{over} of a term of shape "
            f"{shape}, not a sum or mean over all axes of a batch-leading term; it does not "
            f"split into batch blocks")


def _axes_skip_batch(node, batch):
    x = node.inputs[0]
    return 0 not in [a % x.ndim for a in node.attrs["axis"]]


def _axis_skips_batch(node, batch):
    return node.attrs["axis"] % max(node.ndim, node.inputs[0].ndim) != 0


ROW_RULES = {   # op kind -> does this node (some input batched) keep rows apart?
    "elementwise": lambda n, b: True,
    "reduction": _axes_skip_batch,
    "normalizer": _axes_skip_batch,
    "index": _axis_skips_batch,
    "shape": lambda n, b: n.op != "transpose" or tuple(n.attrs["perm"])[0] == 0,
    "linalg": lambda n, b: n.inputs[0].ndim >= 2 and not _batched(n.inputs[1], b),
    "special": lambda n, b: False,
}


def _batched(node, batch):
    return batch in node.shape


def check_row_separable(kernel, term, batch):
    """DecompositionError unless each row of term depends on the same input rows only."""
    for n in topo_order([term]):
        has = _batched(n, batch)
        if has and (n.shape[0] != batch or n.shape.count(batch) != 1):
            raise DecompositionError(f"{kernel.name}: {n.op} of shape {n.shape} holds the "
                                     f"batch dim {batch!r} away from axis 0; chunking along "
                                     f"the batch needs it leading")
        if n.op == "dimsize" and batch in n.attrs["dims"] or n.op == "arange" and \
                n.attrs["dim"] == batch:
            raise DecompositionError(f"{kernel.name}: the per-sample term reads the batch size "
                                     f"{batch!r} ({n.op}), which a block does not know")
        fed = [i for i in n.inputs if _batched(i, batch)]
        if not fed:
            continue
        if not has:
            raise DecompositionError(f"{kernel.name}: {n.op} reduces over the batch axis "
                                     f"inside the loss (not only at its outermost sum); it "
                                     f"does not split into batch blocks")
        if not ROW_RULES[OPS[n.op].kind](n, batch):
            raise DecompositionError(f"{kernel.name}: {n.op} {dict(n.attrs)} mixes rows along "
                                     f"the batch axis; it does not split into batch blocks")
