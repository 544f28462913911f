"""The one compile pipeline every backend shares.

    simplify the loss -> gradients -> simplify     (lossgraph.pipeline.derive)
    -> NaN guards                                  (lg.guard_nans on every output)
    -> common subexpressions                       (hash-consing shares equal subgraphs; the
                                                    schedule visits each node once, across the
                                                    loss, the auxiliary outputs and all gradients)
    -> schedule                                    (topological order, each node's users and
                                                    last use, fusion groups)

The loss (the first output) is differentiated; further outputs are computed alongside it
(like JAX's has_aux). A backend lowers `Schedule.order` op by op from its table keyed by op
name; `last_use` tells when a buffer may be freed or reused, `fusion_groups` which nodes one
loop may compute together (maximal elementwise regions, and each reduction with the
elementwise region that feeds it).
"""
from __future__ import annotations

from dataclasses import dataclass

import lossgraph as lg
from lossgraph.errors import GradientError, InputError
from lossgraph.evaluate import declared_inputs
from lossgraph.graph import Node, topo_order
from lossgraph.ops import OPS
from lossgraph.pipeline import derive, stable


@dataclass(frozen=True)
class Schedule:
    """What a backend compiles: nodes in order, with each one's users and last use.

    inputs: name -> input node, in the kernel's argument order.
    values: the value outputs (stable loss, then auxiliary outputs); grads: one per wrt.
    order: every node the outputs need, inputs before users, each node once.
    users[i]: positions in order of the nodes that read order[i].
    last_use[i]: the last position that reads order[i] (None: read by nobody but the caller).
    fusion_groups: tuples of positions that one loop may compute together.
    """
    inputs: dict
    wrt: tuple
    values: tuple
    grads: tuple
    order: tuple
    users: tuple
    last_use: tuple
    fusion_groups: tuple

    @property
    def outputs(self):
        return self.values + self.grads

    def position(self, node):
        return self._positions[id(node)]

    def __post_init__(self):
        object.__setattr__(self, "_positions", {id(n): i for i, n in enumerate(self.order)})


def as_outputs(loss):
    """(declared inputs in order or None, list of output Nodes) of a Node, a Loss or a list."""
    if isinstance(loss, lg.Loss):
        return list(loss.inputs.values()), [loss.output]
    if isinstance(loss, Node):
        return None, [loss]
    if isinstance(loss, (list, tuple)) and loss:
        outs = [lg.as_node(o) if not isinstance(o, Node) else o for o in loss]
        return None, outs
    raise TypeError(f"compile: loss must be a Node, a lg.Loss or a non-empty list of Nodes, "
                    f"got {type(loss).__name__}")


def resolve_wrt(wrt, inputs):
    """wrt as input nodes: None (no gradients), a name, a Node, or a list of these."""
    if wrt is None:
        return ()
    if isinstance(wrt, (str, Node)):
        wrt = [wrt]
    nodes = []
    for w in wrt:
        if isinstance(w, str):
            if w not in inputs:
                raise GradientError(f"compile: wrt {w!r} is not an input; inputs are "
                                    f"{list(inputs)}")
            w = inputs[w]
        if not isinstance(w, Node) or w.op != "input":
            raise GradientError(f"compile: wrt must name inputs (names or lg.input nodes), "
                                f"got {w!r}")
        nodes.append(w)
    return tuple(nodes)


def kernel_inputs(declared, outputs, extra=()):
    """name -> input node: the declared list, else every input the outputs use (first seen)."""
    order = topo_order(list(outputs) + list(extra))
    found = declared_inputs(order)
    if declared is None:
        return found
    named = {n.name: n for n in declared}
    for name, node in found.items():
        if named.get(name) is not node:
            raise InputError(f"compile: the loss uses input {name!r}, which is not among the "
                             f"declared inputs {list(named)}")
    return named


def build(loss, wrt=None, inputs=None):
    """Run the pipeline on a loss (Node, Loss or list of Nodes) and schedule the result.

    inputs: input nodes in argument order (default: a Loss's declared inputs, else the inputs
    in the order the graph first uses them).
    """
    declared, outs = as_outputs(loss)
    if inputs is not None:
        declared = list(inputs)
    inputs = kernel_inputs(declared, outs)
    wrt = resolve_wrt(wrt, inputs)
    if wrt:
        inputs = kernel_inputs(declared, outs, wrt)
        head, grads = derive(outs[0], list(wrt))
        values = [head] + list(stable(outs[1:])) if len(outs) > 1 else [head]
    else:
        values, grads = list(stable(outs)), []
    values = [lg.guard_nans(v) for v in values]
    grads = [lg.guard_nans(g) for g in grads]
    return schedule(inputs, wrt, values, grads)


def schedule(inputs, wrt, values, grads):
    """Order the nodes of values + grads once (shared nodes once) and record their uses."""
    order = tuple(topo_order(list(values) + list(grads)))
    pos = {id(n): i for i, n in enumerate(order)}
    users = [[] for _ in order]
    for i, n in enumerate(order):
        for inp in n.inputs:
            if i not in users[pos[id(inp)]]:
                users[pos[id(inp)]].append(i)
    last = tuple(u[-1] if u else None for u in users)
    return Schedule(dict(inputs), tuple(wrt), tuple(values), tuple(grads), order,
                    tuple(tuple(u) for u in users), last, fusion_groups(order, pos))


def fusion_groups(order, pos):
    """Maximal connected elementwise regions; a reduction joins the region feeding it.

    A region stops at leaves, at non-elementwise ops and after a reduction (its result is a
    new, smaller loop's input).
    """
    parent = list(range(len(order)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    kinds = [OPS[n.op].kind for n in order]
    for i, n in enumerate(order):
        if kinds[i] not in ("elementwise", "reduction", "normalizer"):
            continue
        for inp in n.inputs:
            j = pos[id(inp)]
            if kinds[j] == "elementwise":
                parent[find(i)] = find(j)
    groups = {}
    for i, k in enumerate(kinds):
        if k in ("elementwise", "reduction", "normalizer"):
            groups.setdefault(find(i), []).append(i)
    return tuple(tuple(g) for g in groups.values())
