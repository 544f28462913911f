"""The cheap per-call argument check: one generated boolean expression per kernel.

    ok(a0, a1) -> True when every array is an ndarray of an accepted dtype and rank, every
    static dim matches and every symbolic dim is bound consistently

Anything else (Python scalars, lists, other dtypes, mismatches) returns False, and the kernel
falls back to lossgraph.evaluate.bind, which raises the evaluate error or converts. The source
is built from positions and integers only (no user strings) and run in a sealed namespace.
"""
from __future__ import annotations

import numpy as np

from lossgraph.shapes import _factors


def accepted_dtypes(node, fixed_float=None):
    """The dtypes an array may have to bind node without conversion (lg.evaluate's rule)."""
    if node.dtype == "float":
        return frozenset([np.dtype(fixed_float)] if fixed_float else
                         [np.dtype("float32"), np.dtype("float64")])
    if node.dtype == "int":
        return frozenset([np.dtype("int64")])
    return frozenset([np.dtype(node.dtype)])


def build_check(inputs, fixed_float=None):
    """ok(*arrays) for the input nodes in order, or None when a dim is a product ("N*T")."""
    terms, first, consts = [], {}, {"ndarray": np.ndarray}
    for k, node in enumerate(inputs):
        a = f"a{k}"
        consts[f"D{k}"] = accepted_dtypes(node, fixed_float)
        terms += [f"type({a}) is ndarray", f"{a}.ndim == {node.ndim}", f"{a}.dtype in D{k}"]
        for i, d in enumerate(node.shape):
            if isinstance(d, int):
                terms.append(f"{a}.shape[{i}] == {d}")
                continue
            coeff, names = _factors(d)
            if coeff != 1 or len(names) != 1:
                return None
            if names[0] in first:
                terms.append(f"{a}.shape[{i}] == {first[names[0]]}")
            else:
                first[names[0]] = f"{a}.shape[{i}]"
    params = ", ".join(f"a{k}" for k in range(len(inputs)))
    source = f"def ok({params}):\n    return ({' and '.join(terms) or 'True'})\n"
    namespace = {"__builtins__": {"type": type}, **consts}
    exec(compile(source, "<argument check>", "exec"), namespace)  # noqa: S102 (positions only)
    return namespace["ok"]
