"""How a canonical loss is declared: its body computes the unreduced loss; `@loss` adds the
shared `reduction=` and `weights=` keywords (zoo.reduction) and the arrays-or-nodes duality
(zoo.dual)."""
from __future__ import annotations

import functools
import inspect

import lossgraph as lg

from ..docstrings import add_raises
from ..dual import dual
from ..reduction import reduce

_EXTRA = [inspect.Parameter("reduction", inspect.Parameter.KEYWORD_ONLY, default="none"),
          inspect.Parameter("weights", inspect.Parameter.KEYWORD_ONLY, default=None)]


def loss(*tensor_params):
    """Decorator over a function returning the unreduced loss of its tensor params; its
    docstring's Raises section gains the errors every reduced loss shares."""
    def wrap(fn):
        @functools.wraps(fn)
        def reduced(*args, reduction="none", weights=None, **kwargs):
            return reduce(fn(*args, **kwargs), reduction=reduction, weights=weights)
        sig = inspect.signature(fn)
        reduced.__signature__ = sig.replace(parameters=[*sig.parameters.values(), *_EXTRA])
        del reduced.__wrapped__
        add_raises(reduced, "OptionError: a reduction zoo.reduction does not know.")
        return dual(*tensor_params, "weights")(reduced)
    return wrap


def as_float(x):
    """x as a float node (integer and boolean labels become 0/1 floats)."""
    x = lg.as_node(x)
    return x if lg.dtypes.is_float(x.dtype) else lg.cast(x, "float")


def arg_name(x, arg):
    """How to name x in an error: the caller's input name when x is an input, else arg."""
    return x.name if isinstance(x, lg.Node) and x.op == "input" else arg


def as_int(x, arg):
    """x as an integer-label node; float labels are a DTypeError naming the argument."""
    x = lg.as_node(x)
    if not lg.dtypes.is_int(x.dtype):
        raise lg.DTypeError(f"{arg_name(x, arg)}: expected integer class labels, got dtype "
                            f"{x.dtype}")
    return x


def same_shape(a, b, a_arg, b_arg):
    """a and b as float nodes of one shape: a loss never broadcasts a target silently."""
    a, b = as_float(a), as_float(b)
    if a.shape != b.shape and b.shape != () and a.shape != ():
        raise lg.ShapeError(f"{arg_name(b, b_arg)} has shape {lg.shapes.fmt_shape(b.shape)} but "
                            f"{arg_name(a, a_arg)} has shape {lg.shapes.fmt_shape(a.shape)}: "
                            f"they must match")
    return a, b
