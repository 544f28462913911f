"""Dtypes: concrete NumPy names plus the weak kinds "float" and "int".

A weak "float" (the default for inputs and Python scalars) takes the precision of the arrays
it meets at evaluation, so one graph runs in float32 or float64 alike.
"""
from __future__ import annotations

import numpy as np

from .errors import DTypeError

FLOATS = ("float", "float32", "float64")
INTS = ("int", "int32", "int64")
ALL = FLOATS + INTS + ("bool",)


def normalize_dtype(dtype, arg="dtype"):
    if dtype is None:
        return "float"
    if isinstance(dtype, str) and dtype in ALL:
        return dtype
    if dtype is float:
        return "float"
    if dtype is int:
        return "int"
    if dtype is bool:
        return "bool"
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name in ALL:
        return name
    raise DTypeError(f"{arg}: expected one of {', '.join(ALL)}, got {dtype!r}")


def is_float(d):
    return d in FLOATS


def is_int(d):
    return d in INTS


def promote(*dtypes):
    """Result dtype of an arithmetic op (weak kinds give way to concrete ones)."""
    floats = [d for d in dtypes if d in FLOATS]
    if floats:
        concrete = [d for d in floats if d != "float"]
        return max(concrete, key=lambda d: int(d[5:])) if concrete else "float"
    ints = [d for d in dtypes if d in INTS]
    if ints:
        concrete = [d for d in ints if d != "int"]
        return max(concrete, key=lambda d: int(d[3:])) if concrete else "int"
    return "bool"


def to_float(d):
    """The float dtype an op on d computes in (ints and bools become the weak float)."""
    return d if d in FLOATS else "float"


def numpy_dtype(d, float_default="float64"):
    if d == "float":
        return np.dtype(float_default)
    if d == "int":
        return np.dtype("int64")
    return np.dtype(d)


def accepts(declared, actual: np.dtype):
    """Whether an array of dtype `actual` may bind an input declared `declared`."""
    name = actual.name
    if declared == "float":
        return name in ("float32", "float64")
    if declared == "int":
        return np.issubdtype(actual, np.integer)
    return name == declared
