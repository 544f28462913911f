"""The reference interpreter: NumPy, one op at a time, float32 or float64.

It is the oracle every backend is tested against: exact dtype semantics first (float32 stays
float32; an op computes in float64 only where its docstring says accuracy needs it). Within
that it is not needlessly slow: each value is dropped after its last use, and an op that can
write into a dying intermediate of the right shape and dtype does so (`out=`), so peak memory
is close to hand-written NumPy. On large inputs, chains of elementwise ops (and the sums that
consume them) run chunk by chunk in cache (lossgraph/chunked.py), each op still through its
own impl: the same bits as one op at a time over whole arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import chunked
from . import dtypes as dt
from .errors import InputError, LossgraphError
from .graph import Node, topo_order
from .names import did_you_mean, quote
from .ops import OPS
from .shapes import bind_dims, check_pending, fmt_shape, resolve_dim


@dataclass
class Env:
    arrays: dict
    dims: dict = field(default_factory=dict)
    float_dtype: str = "float64"


def declared_inputs(order):
    """name -> input node; two different declarations of one name are an error."""
    found = {}
    for n in order:
        if n.op != "input":
            continue
        prev = found.setdefault(n.name, n)
        if prev is not n:
            raise InputError(f"input {quote(n.name)} is declared twice with different shapes or "
                             f"dtypes: {fmt_shape(prev.shape)} {prev.dtype} and "
                             f"{fmt_shape(n.shape)} {n.dtype}")
    return found


def bind(inputs: dict, arrays: dict) -> Env:
    """Check arrays against the declared inputs (dtypes.coerce: exact widening only) and bind
    the symbolic dims."""
    _check_names(inputs, arrays)
    env, pending, weak, sources = Env({}), [], [], {}
    for name, node in inputs.items():
        value, arg = arrays[name], f"input {quote(name)}"
        if isinstance(value, Node):
            raise InputError(f"{arg}: expected an array, got a Node; evaluate takes "
                             f"arrays (build a graph with Nodes instead)")
        arr = dt.coerce(node.dtype, value, arg)
        pending += bind_dims(node.shape, arr.shape, env.dims, arg, sources)
        if node.dtype == "float":
            weak.append(arr.dtype.name)
        env.arrays[name] = arr
    check_pending(pending, env.dims)
    concrete = [n.dtype for n in inputs.values() if n.dtype in ("float32", "float64")]
    env.float_dtype = dt.promote(*weak) if weak else (dt.promote(*concrete) if concrete
                                                      else "float64")
    if env.float_dtype == "float":
        env.float_dtype = "float64"
    return env


def _check_names(inputs, arrays):
    """Missing and unexpected input names, in one message that shows both sides."""
    missing = [k for k in inputs if k not in arrays]
    extra = [k for k in arrays if k not in inputs]
    if not missing and not extra:
        return
    declared, passed = _names(inputs) or "none", _names(arrays) or "none"
    if missing:
        also = "".join(f"; unexpected input {quote(k)}{did_you_mean(k, missing)}" for k in extra)
        raise InputError(f"missing input {quote(missing[0])}{also}: the graph's inputs are "
                         f"{declared}; passed were {passed}")
    raise InputError(f"unexpected input {quote(extra[0])}: the graph's inputs are {declared} "
                     f"(a gradient may use fewer inputs than its loss: evaluate them together, "
                     f"lg.evaluate([loss, grad], ...))")


def _names(names, most=12):
    shown = [quote(k) for k in list(names)[:most]]
    return ", ".join(shown) + (f", ... ({len(names)} in all)" if len(names) > most else "")


# Below this many elements in every input, freeing and buffer reuse cost more than they save.
PLAN_MIN_SIZE = 8192


def run(order, env, keep=None):
    """Evaluate nodes in topological order; values dict keyed by id(node).

    keep: ids of the nodes whose values are wanted. With keep given, a value is dropped
    after its last use and a dying intermediate buffer is reused as the `out=` of an op that
    can write into it, so peak memory stays near what hand-written NumPy needs; the dict
    returned then holds only the kept values. keep=None keeps every value. With keep
    given, elementwise regions over large arrays run in chunks (chunked.schedule; chunked.ENABLED
    = False runs every node on its own, with the same bits).
    """
    values = {}
    if keep is None:
        memos = _Memos(order)
        with np.errstate(all="ignore"):
            for n in order:
                values[id(n)] = _apply(n, values, env, memo=memos.memo(n))
        return values
    sched = chunked.schedule(order, env, keep) if chunked.ENABLED else None
    plan = _Plan(sched.flat if sched is not None else order, keep)
    k = 0
    with np.errstate(all="ignore"):
        for u in (sched.units if sched is not None else order):
            if isinstance(u, Node):
                values[id(u)] = _apply(u, values, env, plan, k)
                plan.release(k, values)
                k += 1
            else:
                _run_region(u, values, env, plan, k)
                k += len(u.nodes)
    return values


def _run_region(c, values, env, plan, k0):
    """A chunked region (lossgraph.chunked) at positions k0... of the plan's order; op by op
    when an input of the iteration shape is not C-contiguous."""
    taken = set()
    got = chunked.run_region(c, values, lambda j, shape, dtype:
                             plan.reusable_in(c, k0, j, values, shape, dtype, taken))
    if got is None:
        for j, n in enumerate(c.nodes):
            values[id(n)] = _apply(n, values, env, plan, k0 + j)
            plan.release(k0 + j, values)
        return
    for n in c.nodes:
        out = got.get(id(n))
        if out is not None:
            values[id(n)] = out
            plan.track(n, out, (), out if id(out) in taken else None)
    for j in range(len(c.nodes)):
        plan.release(k0 + j, values)


class _Memos:
    """What ops with shares=True leave for each other about one input, kept only while
    another of them will read that input (sharers counts them down)."""

    def __init__(self, order):
        self.memos, self.sharers = {}, {}
        for n in order:
            if OPS[n.op].shares:
                self.sharers[id(n.inputs[0])] = self.sharers.get(id(n.inputs[0]), 0) + 1

    def memo(self, node):
        """The memo of node's first input while another sharing op will read it (the last
        one takes what is left, and it is dropped), else None (also for a node that does
        not share)."""
        if not OPS[node.op].shares:
            return None
        i = id(node.inputs[0])
        self.sharers[i] -= 1
        return self.memos.pop(i, None) if not self.sharers[i] else self.memos.setdefault(i, {})


class _Plan:
    """Last uses from the topological order, and which buffers are ours to overwrite.

    owned: ids of nodes whose value is a fresh array an op impl allocated (never an input,
    a constant or a view). views: root buffer id -> how many live values look into it
    (itself included), so a buffer is reused only when nothing alive still reads it.
    memo(node): _Memos's, for the ops with shares=True.
    """

    def __init__(self, order, keep):
        self.keep = set(keep)
        self.dying = [[] for _ in order]
        last = {}
        for k, n in enumerate(order):
            for i in n.inputs:
                last[id(i)] = k
        for i_id, k in last.items():
            if i_id not in self.keep:
                self.dying[k].append(i_id)
        self.owned, self.views, self.root_of = set(), {}, {}
        self.safe = True
        self.memo = _Memos(order).memo

    def track(self, node, out, args, reused=None):
        """Record the new value's root buffer; own it when an impl allocated it, or when it is
        the dying buffer of ours the impl was given to write into (reused)."""
        root = out
        while isinstance(root.base, np.ndarray):
            root = root.base
        if root.base is not None:
            self.safe = False   # a view through a foreign buffer: aliasing unknown, no reuse
        self.root_of[id(node)] = id(root)
        self.views[id(root)] = self.views.get(id(root), 0) + 1
        if root is out and out.flags.writeable and (out is reused or
                                                     all(out is not a for a in args)):
            self.owned.add(id(node))

    def reusable(self, node, k, values, shape, dtype):
        """A dying input's buffer that the op may write its result into, or None."""
        dying = self.dying[k]
        return self._unshared([id(i) for i in node.inputs if id(i) in dying], dying, values,
                              shape, dtype)

    def reusable_in(self, c, k0, j, values, shape, dtype, taken):
        """A buffer of ours that dies in the chunked region c (at positions k0...) no later
        than its step j, which step j's escaping result may be written into chunk by chunk
        (every region step that reads it is then done with that chunk), or None."""
        dying = [i for d in self.dying[k0:k0 + j + 1] for i in d]
        a = self._unshared(dying, dying, values, shape, dtype,
                           lambda a: id(a) not in taken and a.flags.c_contiguous)
        if a is not None:
            taken.add(id(a))
        return a

    def _unshared(self, ids, dying, values, shape, dtype, fits=None):
        """The value of the first of ids that is a buffer of ours, of shape and dtype (and
        fits), whose every live view is among the values dying (ids of `dying`), or None."""
        if not self.safe:
            return None
        for i_id in ids:
            a = values.get(i_id)
            if i_id not in self.owned or a is None or a.shape != shape or a.dtype != dtype or \
                    fits is not None and not fits(a):
                continue
            readers = sum(1 for d in dying if self.root_of.get(d) == id(a))
            if self.views[id(a)] == readers:
                return a
        return None

    def release(self, k, values):
        for i_id in self.dying[k]:
            root = self.root_of.pop(i_id, None)
            if root is not None:
                self.views[root] -= 1
                if not self.views[root]:
                    del self.views[root]
            self.owned.discard(i_id)
            values.pop(i_id, None)


def _apply(node, values, env, plan=None, k=0, memo=None):
    """node's value from its inputs' (values: id -> array). plan: the evaluation's buffer
    reuse and memos; without one, memo is what a shares=True op gets (None: its own)."""
    op = OPS[node.op]
    dtype = dt.numpy_dtype(node.dtype, env.float_dtype)
    if op.kind == "leaf":
        out = np.asarray(op.impl(node, env), dtype=dtype)
        if plan is not None:
            plan.track(node, out, (out,))   # never owned: inputs and constants are not ours
        return out
    args = [values[id(i)] for i in node.inputs]
    kw = dict(node.attrs)
    shape = None
    if op.wants_shape or (plan is not None and op.writes_out):
        shape = tuple(resolve_dim(d, env.dims) for d in node.shape)
    if op.wants_shape:
        kw["out_shape"] = shape
    buf = None
    if plan is not None and op.writes_out:
        buf = plan.reusable(node, k, values, shape, dtype)
        if buf is not None:
            kw["out"] = buf
    if plan is not None:
        memo = plan.memo(node)
    if memo is not None:
        kw["memo"] = memo
    out = np.asarray(op.impl(*args, **kw), dtype=dtype)
    if plan is not None:
        plan.track(node, out, args, buf)
    return out


def evaluate(outputs, arrays=None, /, **kwargs):
    """Evaluate one node or a list of nodes on NumPy arrays given by input name.

    evaluate(loss, logits=a, labels=b) or evaluate([loss, grad], {"logits": a, ...}).
    Returns arrays (NumPy scalars for 0-d results), one per output.

    Examples:
        >>> x = lg.input("x", shape=("N",))
        >>> float(lg.evaluate(lg.sum(x * x), x=np.array([1.0, 2.0])))
        5.0

    Raises:
        InputError: an input is missing or unexpected (the close name is suggested).
        ShapeError: an array's shape does not fit its declaration, or a named dim is bound to two
            sizes (the input that bound it first is named).
        DTypeError: an array's dtype cannot bind the input's dtype without loss.
    """
    single = isinstance(outputs, Node)
    outs = [outputs] if single else list(outputs)
    for i, o in enumerate(outs):
        if not isinstance(o, Node):
            raise TypeError(f"evaluate: output {i} is a {type(o).__name__}, expected a Node")
    given = dict(arrays or {})
    given.update(kwargs)
    order = topo_order(outs)
    env = bind(declared_inputs(order), given)
    large = any(a.size >= PLAN_MIN_SIZE for a in env.arrays.values())
    values = run(order, env, keep={id(o) for o in outs} if large else None)
    bound = [id(a) for a in env.arrays.values()]
    results = [_finish(values[id(o)], bound) for o in outs]
    return results[0] if single else results


def _finish(a, bound):
    """A fresh array (never a view of a constant or an input), 0-d as a NumPy scalar."""
    if not a.flags.writeable or a.base is not None or id(a) in bound:
        a = np.array(a, copy=True)
    return a[()] if a.ndim == 0 else a


__all__ = ["evaluate", "bind", "run", "declared_inputs", "Env", "LossgraphError"]
