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
batch size read inside the term).

A loss that is a scalar function F(S_1, ..., S_k) of several such batch sums (weights
normalized over the whole batch: sum(w l) / sum(w); TF's mean over non-zero weights:
sum(w l) / count(w != 0)) decomposes too, as a SumsPlan: each block computes every S_i's
partial sum and the gradient of the one S_i that depends on the differentiated inputs; the
loss is F(totals) and the gradient dF/dS_1(totals) * dS_1 per block (exact: the other sums
have no gradient). Anything else (max over the batch, two sums depending on the
differentiated inputs) raises DecompositionError.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from lossgraph.errors import OptionError
from lossgraph.evaluate import Env, run
import lossgraph as lg
from lossgraph.graph import make, topo_order
from lossgraph.shapes import resolve_dim
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


@dataclass(frozen=True)
class SumsPlan:
    """sums: the batch sums S_i, the one depending on wrt first; outer: F as a graph of the
    scalar inputs in `slots` (one per sum) and input-free leaves; batch_dim: B's name."""
    sums: tuple
    outer: object
    slots: tuple
    batch_dim: str

    def functions(self, dims, wrt):
        """(F, dF/dS_1 or None) as graphs of the slots alone, the dims made constants."""
        outer = substitute(self.outer, lambda n: lg.constant(
            float(np.prod([resolve_dim(d, dims) for d in n.attrs["dims"]])))
            if n.op == "dimsize" else None)
        if not wrt:
            return outer, None
        d, = lg.gradients(outer, [self.slots[0]])
        return outer, d


def substitute(root, replace):
    """root rebuilt with replace(node) -> Node (or None: keep it, rebuilt over new inputs)."""
    mapped = {}
    for n in topo_order([root]):
        r = replace(n)
        if r is None:
            ins = [mapped[id(i)] for i in n.inputs]
            r = n if all(a is b for a, b in zip(ins, n.inputs)) else make(n.op, *ins, **n.attrs)
        mapped[id(n)] = r
    return mapped[id(root)]


def _outer_sums(root):
    """The batch sums that the scalar part above them reads (not looking inside a sum)."""
    found, seen, stack = [], set(), [root]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if _is_batch_sum(n):
            found.append(n)
        else:
            stack.extend(n.inputs)
    return found


def _reads(node, names):
    return any(n.op == "input" and n.attrs["name"] in names for n in topo_order([node]))


def decompose_sums(kernel, root):
    """The SumsPlan of root (a scalar function of batch sums), or DecompositionError."""
    sums = _outer_sums(root)
    if not sums:
        raise DecompositionError(_why_not(kernel, root))
    batches = {s.inputs[0].shape[0] for s in sums}
    if len(batches) != 1:
        raise DecompositionError(f"{kernel.name}: the loss sums over different batch dims "
                                 f"{sorted(batches)}")
    batch = batches.pop()
    diff = [s for s in sums if _reads(s, set(kernel.wrt))]
    if len(diff) > 1:
        raise DecompositionError(f"{kernel.name}: {len(diff)} of the loss's batch sums depend "
                                 f"on the differentiated inputs; only one may (as in "
                                 f"sum(w * l) / sum(w) with w not differentiated)")
    sums = diff + [s for s in sums if s not in diff]
    slots = tuple(lg.input(f"s{i}", shape=()) for i in range(len(sums)))
    index = {id(s): slot for s, slot in zip(sums, slots)}
    outer = substitute(root, lambda n: index.get(id(n)))
    outside = [n for n in topo_order([outer])
               if n.shape != () or (n.op == "input" and n not in slots)]
    if outside:
        n = outside[0]
        raise DecompositionError(_why_not(kernel, n) if n.op != "input" else
                                 f"{kernel.name}: the loss reads input {n.attrs['name']!r} "
                                 f"outside its batch sums")
    for s in sums:
        check_row_separable(kernel, s.inputs[0], batch)
    return SumsPlan(tuple(sums), outer, slots, batch)


def _has_inputs(node):
    return any(n.op == "input" for n in topo_order([node]))


def decompose(kernel):
    """The Plan of kernel's loss (a constantly scaled batch sum), else its SumsPlan, or
    DecompositionError saying what stands in the way."""
    if len(kernel.schedule.values) != 1:
        raise DecompositionError(f"{kernel.name}: a kernel with auxiliary outputs cannot be "
                                 f"split into batch blocks; compile the loss alone")
    node, steps = kernel.schedule.values[0], []
    while node.op in STEPS and not _is_batch_sum(node):
        places, _ = STEPS[node.op]
        carrier = [i for i in places if _has_inputs(node.inputs[i])]
        others = [n for i, n in enumerate(node.inputs) if i not in carrier[:1]]
        if len(carrier) != 1 or any(_has_inputs(o) for o in others):
            return decompose_sums(kernel, kernel.schedule.values[0])
        steps.append((node.op, others[0] if others else None))
        node = node.inputs[carrier[0]]
    if not _is_batch_sum(node):
        return decompose_sums(kernel, kernel.schedule.values[0])
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
