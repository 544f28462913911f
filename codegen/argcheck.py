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

from .generated import compiled


def accepted_dtypes(node, fixed_float=None):
    """The dtypes an array may have to bind node without conversion (lg.evaluate's rule)."""
    if node.dtype == "float":
        return frozenset([np.dtype(fixed_float)] if fixed_float else
                         [np.dtype("float32"), np.dtype("float64")])
    if node.dtype == "int":
        return frozenset([np.dtype("int64")])
    return frozenset([np.dtype(node.dtype)])


def check_terms(inputs, dtype_term):
    """(terms, consts) of the check that arrays a0, a1, ... fit the input nodes in order:
    dtype_term(k, node) -> (the term on a{k}.dtype, consts it names); None when a dim is a
    product ("N*T")."""
    terms, first, consts = [], {}, {"ndarray": np.ndarray}
    for k, node in enumerate(inputs):
        a = f"a{k}"
        dterm, more = dtype_term(k, node)
        consts.update(more)
        terms += [f"type({a}) is ndarray", f"{a}.ndim == {node.ndim}", dterm]
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
    return terms, consts


def build_check(inputs, fixed_float=None):
    """ok(*arrays) for the input nodes in order, or None when a dim is a product ("N*T")."""
    found = check_terms(inputs, lambda k, node: (
        f"a{k}.dtype in D{k}", {f"D{k}": accepted_dtypes(node, fixed_float)}))
    if found is None:
        return None
    terms, consts = found
    params = ", ".join(f"a{k}" for k in range(len(inputs)))
    source = f"def ok({params}):\n    return ({' and '.join(terms) or 'True'})\n"
    namespace = {"__builtins__": {"type": type}, **consts}
    exec(compiled(source, "<argument check>"), namespace)  # noqa: S102 (positions only)
    return namespace["ok"]


def build_out_check(inputs, wrt):
    """fits(out, *arrays) for the input nodes in order and the positions wrt of the inputs
    differentiated: True when out is a tuple of one buffer per wrt, each an ndarray of its
    input's shape and dtype, C-contiguous and writeable, the float inputs share one float
    dtype, and no buffer overlaps an input or an earlier buffer (two distinct arrays that
    both own their data never overlap; other pairs ask np.may_share_memory). Anything else
    returns False, and the kernel's full check raises the error that names it."""
    floats = [k for k, n in enumerate(inputs) if n.dtype in ("float", "float32", "float64")]
    terms = [f"len(out) == {len(wrt)}"]
    if floats:
        terms.append(f"a{floats[0]}.dtype in FLOATS")
        terms += [f"a{k}.dtype == a{floats[0]}.dtype" for k in floats[1:]]
    for j, i in enumerate(wrt):
        b = f"b{j}"
        terms += [f"type({b} := out[{j}]) is ndarray", f"{b}.shape == a{i}.shape",
                  f"{b}.dtype == a{i}.dtype", f"(f{j} := {b}.flags).c_contiguous",
                  f"f{j}.writeable"]
        others = [(f"a{k}", f"a{k}.flags.owndata") for k in range(len(inputs))] + \
            [(f"b{m}", f"f{m}.owndata") for m in range(j)]
        terms += [f"(f{j}.owndata and {own} and {b} is not {x} or not share({b}, {x}))"
                  for x, own in others]
    params = ", ".join(["out"] + [f"a{k}" for k in range(len(inputs))])
    source = f"def fits({params}):\n    return ({' and '.join(terms)})\n"
    namespace = {"__builtins__": {"type": type, "len": len}, "ndarray": np.ndarray,
                 "share": np.may_share_memory,
                 "FLOATS": frozenset([np.dtype("float32"), np.dtype("float64")])}
    exec(compiled(source, "<out check>"), namespace)  # noqa: S102 (positions only)
    return namespace["fits"]
