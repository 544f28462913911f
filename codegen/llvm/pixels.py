"""Pixel phases: values over a nest's kept axes computed once, not once per reduced element.

A nest over (N, C, H, W) whose reductions run over the channels keeps them in arrays of shape
(N, 1, H, W) (`Nest.memory`). Its later phases read them per element, and the values over
them were recomputed per channel: softmax's 1 / s and logsumexp's log(s) + m, a vector log
and a division for each of C channels, though they depend on the pixel alone. A *pixel
phase* computes such a value once per pixel, into an array of the reductions' shape, after
the phase that completes them and before the phases that read it; those read the array.

A value qualifies (`candidates`) when it has the shape of the nest with 1s on reduced axes
after the nest's outer ones, is built by elementwise ops alone from this nest's reductions in
memory (at least one), scalars and arrays of its own shape, costs a transcendental or a
division, and is read by a later phase over more elements than it has. A divisor that
broadcasts (softmax's s in e / s) is stored as its reciprocal r = 1 / s, and the division
reads e r: `fused.BROADCAST_OPERAND`'s e (1 / s), the same bits. Later nests read a stored
value instead of recomputing it (the loss of segmentation CE reads log(s) + m).
"""
from __future__ import annotations

import numpy as np

from lossgraph.graph import make

#: ops whose cost a pixel phase saves
HOISTED = ("exp", "log", "log1p", "expm1", "tanh", "sigmoid", "softplus", "power", "divide",
           "sqrt", "xlogy")


def pixel_shape(nest, shape):
    """Whether shape is the nest's with 1s on some axes after its outer ones (not all 1s)."""
    full, k = nest.shape, len(nest.shape)
    if len(shape) != k or tuple(shape[:nest.outer]) != tuple(full[:nest.outer]):
        return False
    unit = [a for a in range(nest.outer, k) if shape[a] != full[a]]
    return bool(unit) and all(shape[a] == 1 for a in unit)


class Pixels:
    """The pixel phases of one nest: phases (index -> shape) after insertion, values stored
    (id -> node) and reciprocals (id of divisor -> node 1 / divisor)."""

    def __init__(self, nest, kind, views, sinks):
        self.nest, self.kind, self.views, self.sinks = nest, kind, views, sinks
        self.phase_of = {id(s): j for j, ph in enumerate(nest.phases) for s in ph}
        self.memo = {}

    def closure(self, v):
        """(the last phase of this nest's reductions that v reads, when v is a value over
        pixels (module docstring), else None; whether it costs a HOISTED op)."""
        if id(v) in self.memo:
            return self.memo[id(v)]
        nest, kind = self.nest, self.kind
        last, costly, stack, seen, ok = -1, False, [v], set(), True
        while stack and ok:
            u = stack.pop()
            if id(u) in seen:
                continue
            seen.add(id(u))
            if id(u) in nest.memory:
                last = max(last, self.phase_of[id(u)])
            elif u.op == "dimsize" or u.op == "constant" and u.ndim == 0:
                pass
            elif kind[id(u)] == "inline" and u.op not in self.views and \
                    u.shape in (v.shape, ()):
                costly = costly or u.op in HOISTED
                stack += list(u.inputs)
            else:
                ok = kind[id(u)] != "inline" and u.shape == v.shape and u.op != "arange"
        self.memo[id(v)] = (last if ok and last >= 0 else None, costly)
        return self.memo[id(v)]

    def candidates(self):
        """(value, 'value' | 'reciprocal') for each value over pixels a later phase reads."""
        nest, kind = self.nest, self.kind
        found, seen = {}, set()
        rows = nest.row_phases
        for j, ph in enumerate(nest.phases):
            if j in rows:
                continue
            stack = [s.inputs[0] if kind[id(s)] == "reduce" else s for s in ph]
            while stack:
                u = stack.pop()
                if id(u) in seen or kind[id(u)] != "inline":
                    continue
                seen.add(id(u))
                ins = list(u.inputs)
                if u.op == "divide" and u.shape == nest.shape and \
                        self._qualifies(ins[1], j, False):
                    found.setdefault(id(ins[1]), (ins[1], "reciprocal"))
                    stack.append(ins[0])
                    continue
                if u.shape != nest.shape and self._qualifies(u, j, True):
                    found.setdefault(id(u), (u, "value"))
                    continue
                stack += ins
        return list(found.values())

    def _qualifies(self, v, phase, costly_only):
        if not pixel_shape(self.nest, v.shape) or id(v) in self.sinks:
            return False
        last, costly = self.closure(v)
        return last is not None and last < phase and (costly or not costly_only)

    def place(self, dtypes, order, node_dtype):
        """Insert the pixel phases; returns (stored nodes, {id(divisor): reciprocal})."""
        nest = self.nest
        groups, stored, recips = {}, [], {}
        for v, how in self.candidates():
            node = v
            if how == "reciprocal":
                one = make("constant", value=np.array(1.0), dtype="float")
                node = make("divide", one, v)
                for n in (one, node):
                    if id(n) not in self.kind:
                        self.kind[id(n)] = "leaf" if n is one else "inline"
                        dtypes[id(n)] = node_dtype(n)
                        order.insert(order.index(v) + 1, n)
                recips[id(v)] = node
            groups.setdefault((self.closure(v)[0], tuple(v.shape)), []).append(node)
            stored.append(node)
        for (after, shape), nodes in sorted(groups.items(), key=lambda g: -g[0][0]):
            at = after + 1
            nest.phases.insert(at, nodes)
            nest.row_phases = {p + 1 if p >= at else p for p in nest.row_phases}
            nest.pixel_phases = {(p + 1 if p >= at else p): s
                                 for p, s in nest.pixel_phases.items()}
            nest.pixel_phases[at] = shape
        return stored, recips
