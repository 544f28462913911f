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
    """Whether an array of dtype `actual` may bind an input declared `declared` (for an
    integer array, as long as its values fit: see `coerce`)."""
    kind = actual.kind
    if declared in FLOATS:
        return kind == "f" and actual.itemsize <= (8 if declared != "float32" else 4)
    if declared in INTS:
        return kind in "iub"
    return kind == "b"


# What each declaration takes, as error messages say it.
TAKES = {"float": "float16 (computed in float32), float32 or float64",
         "float32": "float32 or float16", "float64": "float64, float32 or float16",
         "int": "any integer or bool array", "int32": "any integer or bool array whose values "
         "fit int32", "int64": "any integer or bool array whose values fit int64",
         "bool": "bool"}


def coerce(declared, value, arg):
    """The array that `value` binds an input declared `declared` as, or a DTypeError naming arg.

    Widening is exact, so it is done silently: float16 computes in float32 (a weak "float"
    input given float16 runs the graph in float32); float32/float16 fill a float64 input; any
    integer width or bool fills an integer input, converted to the declared width (int32 and
    int64 stay as they are for "int", narrower, unsigned and bool become int64) when the
    values fit. Narrowing (float64 -> float32) and floats for integers are refused.
    """
    if isinstance(value, (bool, int, float)) and declared in FLOATS:
        return np.asarray(value, dtype=numpy_dtype(declared))
    arr = np.asarray(value)
    if arr.dtype == object or not accepts(declared, arr.dtype):
        raise DTypeError(f"{arg}: expected dtype {declared} ({TAKES[declared]}), got "
                         f"dtype {arr.dtype.name}")
    if declared in FLOATS:
        target = np.dtype("float32") if declared == "float" else numpy_dtype(declared)
        return arr.astype(target) if arr.itemsize < target.itemsize else arr
    if declared == "bool" or (declared == "int" and arr.dtype.name in ("int32", "int64")):
        return arr
    target = numpy_dtype(declared)
    if not np.can_cast(arr.dtype, target) and arr.size:
        lo, hi, info = arr.min(), arr.max(), np.iinfo(target)
        if lo < info.min or hi > info.max:
            raise DTypeError(f"{arg}: expected dtype {declared}, got {arr.dtype.name} values "
                             f"from {lo} to {hi}, outside {declared}'s range")
    return arr.astype(target, copy=False)
