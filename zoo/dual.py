"""Every zoo function works two ways: Nodes in -> a Node out, arrays in -> arrays out.

`@dual("pred", "label", "weights")` names the tensor parameters. If none of them is a Node,
each array among them becomes a named input of its own shape and dtype, the graph is built
once and evaluated by the reference interpreter, and NumPy results come back (float32 in,
float32 out). Otherwise the function runs on Nodes (arrays mixed in become constants).
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

import lossgraph as lg

from .docstrings import add_raises
from .options import bind_call, owner_name

#: the errors every @dual function raises (written into the docstrings of functions;
#: a method's class documents them)
RAISES = ("TypeError: an unknown keyword (the message suggests the close one).",
          "DTypeError: an input array that is not numeric.")


def _is_tensor_value(v):
    return isinstance(v, (np.ndarray, np.generic, list, tuple)) and not isinstance(v, str)


def _widen(arr):
    """Integer arrays narrower than 32 bits (int8, uint8, ...) become int64 (lossless)."""
    if np.issubdtype(arr.dtype, np.integer) and arr.dtype.name not in ("int32", "int64"):
        return arr.astype(np.int64)
    return arr


def _input_for(name, arr):
    kind = "float" if np.issubdtype(arr.dtype, np.floating) else arr.dtype.name
    if arr.dtype == bool:
        kind = "bool"
    elif np.issubdtype(arr.dtype, np.integer):
        kind = arr.dtype.name
    elif not np.issubdtype(arr.dtype, np.floating):
        raise lg.DTypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    return lg.input(name, shape=arr.shape, dtype=kind)


def dual(*tensor_params):
    """Decorator: run fn on Nodes, or build-and-evaluate when given only arrays."""
    def wrap(fn):
        sig = inspect.signature(fn)
        for p in tensor_params:
            if p not in sig.parameters:
                raise TypeError(f"dual: {fn.__name__} has no parameter {p!r}")

        owner = owner_name(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = bind_call(owner, sig, args, kwargs)
            values = bound.arguments
            if any(isinstance(values.get(p), lg.Node) for p in tensor_params):
                return fn(*bound.args, **bound.kwargs)
            arrays = {}
            for p in tensor_params:
                v = values.get(p)
                if _is_tensor_value(v):
                    arr = _widen(np.asarray(v))
                    arrays[p] = arr
                    values[p] = _input_for(p, arr)
            out = fn(*bound.args, **bound.kwargs)
            return _evaluate(out, arrays)
        wrapper.tensor_params = tensor_params
        if next(iter(sig.parameters), None) != "self":
            add_raises(wrapper, *RAISES)
        return wrapper
    return wrap


def _evaluate(out, arrays):
    if isinstance(out, lg.Node):
        return lg.evaluate(out, arrays)
    if isinstance(out, tuple):
        nodes = [o for o in out if isinstance(o, lg.Node)]
        vals = iter(lg.evaluate(nodes, arrays)) if nodes else iter(())
        return tuple(next(vals) if isinstance(o, lg.Node) else o for o in out)
    return out
