"""The reference interpreter: NumPy, one op at a time, float32 or float64.

It is the oracle every backend is tested against, so it favours clarity and exact dtype
semantics over speed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import dtypes as dt
from .errors import DTypeError, InputError, LossgraphError
from .graph import Node, topo_order
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
            raise InputError(f"input {n.name!r} is declared twice with different shapes or "
                             f"dtypes: {fmt_shape(prev.shape)} {prev.dtype} and "
                             f"{fmt_shape(n.shape)} {n.dtype}")
    return found


def bind(inputs: dict, arrays: dict) -> Env:
    """Check arrays against the declared inputs and bind the symbolic dims."""
    missing = [k for k in inputs if k not in arrays]
    if missing:
        raise InputError(f"missing input {missing[0]!r}: expected arrays for "
                         f"{', '.join(map(repr, inputs))}")
    extra = [k for k in arrays if k not in inputs]
    if extra:
        raise InputError(f"unexpected input {extra[0]!r}: the graph's inputs are "
                         f"{', '.join(map(repr, inputs)) or 'none'} (a gradient may use fewer "
                         f"inputs than its loss: evaluate them together, "
                         f"lg.evaluate([loss, grad], ...))")
    env, pending, weak = Env({}), [], []
    for name, node in inputs.items():
        value = arrays[name]
        if isinstance(value, Node):
            raise InputError(f"input {name!r}: expected an array, got a Node; evaluate takes "
                             f"arrays (build a graph with Nodes instead)")
        arr = np.asarray(value)
        if arr.dtype == object or not dt.accepts(node.dtype, arr.dtype):
            if isinstance(value, (int, float)) and dt.is_float(node.dtype):
                arr = np.asarray(value, dtype=dt.numpy_dtype(node.dtype))
            else:
                raise DTypeError(f"input {name!r}: expected dtype {node.dtype}, got "
                                 f"{arr.dtype}")
        pending += bind_dims(node.shape, arr.shape, env.dims, f"input {name!r}")
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


def run(order, env):
    """Evaluate nodes in topological order; values dict keyed by id(node)."""
    values = {}
    with np.errstate(all="ignore"):
        for n in order:
            values[id(n)] = _apply(n, values, env)
    return values


def _apply(node, values, env):
    op = OPS[node.op]
    if op.kind == "leaf":
        out = op.impl(node, env)
    else:
        args = [values[id(i)] for i in node.inputs]
        kw = dict(node.attrs)
        if op.wants_shape:
            kw["out_shape"] = tuple(resolve_dim(d, env.dims) for d in node.shape)
        out = op.impl(*args, **kw)
    return np.asarray(out, dtype=dt.numpy_dtype(node.dtype, env.float_dtype))


def evaluate(outputs, arrays=None, /, **kwargs):
    """Evaluate one node or a list of nodes on NumPy arrays given by input name.

    evaluate(loss, logits=a, labels=b) or evaluate([loss, grad], {"logits": a, ...}).
    Returns arrays (NumPy scalars for 0-d results), one per output.
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
    values = run(order, env)
    bound = [id(a) for a in env.arrays.values()]
    results = [_finish(values[id(o)], bound) for o in outs]
    return results[0] if single else results


def _finish(a, bound):
    """A fresh array (never a view of a constant or an input), 0-d as a NumPy scalar."""
    if not a.flags.writeable or a.base is not None or id(a) in bound:
        a = np.array(a, copy=True)
    return a[()] if a.ndim == 0 else a


__all__ = ["evaluate", "bind", "run", "declared_inputs", "Env", "LossgraphError"]
