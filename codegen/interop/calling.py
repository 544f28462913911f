"""What the exported functions share: the calling convention (positional in the kernel's
input order, or by name) and the second-order message."""
from __future__ import annotations

from lossgraph.errors import InputError

SECOND_ORDER = ("{name}: second-order derivatives of a compiled lossgraph kernel are not "
                "available (it computes first derivatives only); use lg.hvp / lg.grad on the "
                "graph for second order")


def gather(kernel, args, kwargs, what="arrays"):
    """The arguments in kernel.input_names order; InputError for missing, unknown or doubled."""
    names = kernel.input_names
    if len(args) > len(names):
        raise InputError(f"{kernel.name}: takes {len(names)} {what} ({', '.join(names)}), "
                         f"got {len(args)}")
    given = dict(zip(names, args))
    for k, v in kwargs.items():
        if k not in names:
            raise InputError(f"{kernel.name}: unknown input {k!r}; inputs are {list(names)}")
        if k in given:
            raise InputError(f"{kernel.name}: input {k!r} given twice")
        given[k] = v
    missing = [n for n in names if n not in given]
    if missing:
        raise InputError(f"{kernel.name}: missing input(s) {missing}; inputs are {list(names)}")
    return [given[n] for n in names]
