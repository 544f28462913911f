"""Programs specialized on the value of a symbolic row length, for codegen.llvm.backend.

A nest over (N, C) with a static C of at most MAX_ROW elements (and some longer ones:
packed.packs) runs its rows packed (codegen.llvm.packed) and takes the values over its rows as
a row phase (lower._row_phase); with a symbolic C neither applies. A kernel's *row dims* are
the symbolic names that are the last axis of some nest of two or more axes in its plan, and the
plain axis of some input (so a call reads the value off that input's shape). A call whose row
dims are all bound to values that pack (fixed(): [2, MAX_ROW] and the longer rows packed.packs
takes) runs a Program planned with those dims fixed to their values (`fix`): the same graph
with each fixed name replaced by its int, so the planner sees them as static.
"""
from __future__ import annotations

import functools

from lossgraph.graph import make, topo_order
from lossgraph.ops import OPS
from lossgraph.shapes import _factors, _join

from . import jit, lower
from .packed import LONG_ROW, MAX_ROW, packs


@functools.cache
def fixed():
    """The row lengths a call specializes on: those packed rows take in float32 or float64
    on this host."""
    return frozenset(c for c in range(2, LONG_ROW + 1)
                     if c <= MAX_ROW or packs(c, jit.lanes(32)) or packs(c, jit.lanes(64)))


#: a kernel keeps at most this many specialized programs per precision (then the general one)
LIMIT = 16


def _is_name(d):
    return isinstance(d, str) and _factors(d) == (1, (d,))


def row_dims(schedule):
    """((name, input position, axis), ...): the kernel's row dims, each with the first input
    axis it binds; () when no input has a symbolic trailing axis (no planning then)."""
    source = {}
    for k, node in enumerate(schedule.inputs.values()):
        for ax, d in enumerate(node.shape):
            if _is_name(d):
                source.setdefault(d, (k, ax))
    if not any(node.ndim >= 2 and _is_name(node.shape[-1])
               for node in schedule.inputs.values()):
        return ()
    plan = lower.plan(list(schedule.outputs), "float64")
    names = sorted({st.shape[-1] for st in plan.steps
                    if isinstance(st, lower.Nest) and len(st.shape) >= 2 and
                    st.shape[-1] in source})
    return tuple((name, *source[name]) for name in names)


def key_function(dtype_key, dims):
    """arrays -> (dtype_key(arrays), the row dims' values, each None outside fixed())."""
    allowed = fixed()
    if len(dims) == 1:
        (_, k0, a0), = dims

        def key(arrays):
            c = arrays[k0].shape[a0]
            return dtype_key(arrays), (c if c in allowed else None)
        return key

    where = [(k, a) for _, k, a in dims]

    def key(arrays):
        cs = [arrays[k].shape[a] for k, a in where]
        return dtype_key(arrays), tuple([c if c in allowed else None for c in cs])
    return key


def fixed_of(dims, shapes):
    """((name, value), ...) for a call with these input shapes whose row dims are all within
    fixed(), else ()."""
    vals = [(name, shapes[k][a]) for name, k, a in dims]
    return tuple(vals) if all(v in fixed() for _, v in vals) else ()


def _dim(d, fixed):
    coeff, names = _factors(d)
    kept = []
    for n in names:
        if n in fixed:
            coeff *= fixed[n]
        else:
            kept.append(n)
    return _join(coeff, tuple(kept))


def _attrs(node, fixed):
    kinds = OPS[node.op].attr_kinds or {}
    attrs = dict(node.attrs)
    for name, kind in kinds.items():
        if name in attrs and kind == "dim":
            attrs[name] = _dim(attrs[name], fixed)
        elif name in attrs and kind == "dims":
            attrs[name] = tuple(_dim(d, fixed) for d in attrs[name])
    return attrs


class Fixed:
    """A schedule's inputs and outputs with the dims of `fixed` (name -> int) made static:
    what Program reads of a schedule."""

    def __init__(self, schedule, fixed):
        memo = {}
        for n in topo_order(list(schedule.inputs.values()) + list(schedule.outputs)):
            ins = tuple(memo[id(i)] for i in n.inputs)
            memo[id(n)] = make(n.op, *ins, **_attrs(n, fixed))
        self.fixed = dict(fixed)
        self.inputs = {name: memo[id(n)] for name, n in schedule.inputs.items()}
        self.values = tuple(memo[id(n)] for n in schedule.values)
        self.grads = tuple(memo[id(n)] for n in schedule.grads)
        self.wrt = tuple(memo[id(n)] for n in schedule.wrt)

    @property
    def outputs(self):
        return self.values + self.grads
