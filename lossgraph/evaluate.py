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
            raise InputError(f"input {n.name!r} is declared twice with different shapes or "
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
