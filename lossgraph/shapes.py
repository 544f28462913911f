"""Symbolic shapes: a dim is an int or a canonical product string of names ("N", "N*T", "2*C").

Broadcasting follows NumPy: dims are aligned from the right and a dim of 1 stretches.
Two different symbolic dims never broadcast against each other (neither is known to be 1).
"""
from __future__ import annotations

import math
import re

from .errors import ShapeError, OptionError
from .names import quote

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _factors(d):
    """Split a dim into (int coefficient, sorted tuple of symbol names)."""
    if isinstance(d, int):
        return d, ()
    coeff, names = 1, []
    for part in d.split("*"):
        part = part.strip()
        if part.isdigit():
            coeff *= int(part)
        else:
            names.append(part)
    return coeff, tuple(sorted(names))


def _join(coeff, names):
    if not names or coeff == 0:
        return coeff
    return "*".join(([str(coeff)] if coeff != 1 else []) + list(names))


def normalize_dim(d, arg="shape"):
    """Validate one dim: a non-negative int, or names joined by '*'."""
    if isinstance(d, bool):
        raise ShapeError(f"{arg}: expected an int or a dim name, got {quote(d)}")
    if isinstance(d, int) or (hasattr(d, "__index__") and not isinstance(d, str)):
        d = int(d)
        if d < 0:
            raise ShapeError(f"{arg}: dims must be >= 0, got {d}")
        return d
    if isinstance(d, str):
        parts = [p.strip() for p in d.split("*")]
        if not parts or not all(p.isdigit() or _NAME.match(p) for p in parts):
            raise ShapeError(f"{arg}: dim {quote(d)} is not a name like 'N' or a product like "
                             f"'N*T'")
        return _join(*_factors(d))
    raise ShapeError(f"{arg}: expected an int or a dim name, got {type(d).__name__} {quote(d)}")


def normalize_shape(shape, arg="shape"):
    if shape is None:
        raise ShapeError(f"{arg}: expected a tuple of dims, got None")
    if isinstance(shape, (int, str)):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ShapeError(f"{arg}: expected a tuple of dims, got {quote(shape)}") from None
    return tuple(normalize_dim(d, arg) for d in dims)


def dim_mul(a, b):
    ca, na = _factors(a)
    cb, nb = _factors(b)
    return _join(ca * cb, tuple(sorted(na + nb)))


def dims_product(dims):
    out = 1
    for d in dims:
        out = dim_mul(out, d)
    return out


def is_static(shape):
    return all(isinstance(d, int) for d in shape)


def symbols_of(dim):
    return _factors(dim)[1]


def fmt_shape(shape):
    inner = ", ".join(str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def broadcast_shapes(*named_shapes):
    """Broadcast (label, shape) pairs; raise ShapeError naming both operands on mismatch.

    A label may be a function returning the text, called only for the error message
    (printing a deep operand on every node built would make building quadratic).
    """
    ndim = max((len(s) for _, s in named_shapes), default=0)
    out = []
    for i in range(-ndim, 0):
        dim, owner = 1, None
        for label, s in named_shapes:
            if len(s) < -i:
                continue
            d = s[i]
            if d == 1 or d == dim:
                continue
            if dim == 1:
                dim, owner = d, (label, s)
                continue
            o_label, o_shape = owner
            o_label, label = (t() if callable(t) else t for t in (o_label, label))
            raise ShapeError(
                f"{o_label} has shape {fmt_shape(o_shape)} and {label} has shape {fmt_shape(s)}: "
                f"dim {dim} does not broadcast with dim {d} (axis {i})")
        out.append(dim)
    return tuple(out)


def normalize_axis(axis, ndim, arg="axis"):
    """Turn an axis spec (None, int, or sequence) into a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) or hasattr(axis, "__index__") else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, bool) or not (isinstance(a, int) or hasattr(a, "__index__")):
            raise OptionError(f"{arg}: expected an int or tuple of ints, got {axis!r}")
        a = int(a)
        if not -ndim <= a < ndim:
            raise OptionError(f"{arg}: axis {a} is out of range for an array of {ndim} dims")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise OptionError(f"{arg}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def bind_dims(declared, actual, env, arg, sources=None):
    """Check a concrete shape against a declared one, binding symbolic names in env.

    sources (name -> "input 'x' axis 0") records who bound each name, for the messages.
    Product dims ("N*T") whose names are not all bound yet are returned for a later check.
    """
    sources = {} if sources is None else sources
    if len(declared) != len(actual):
        raise ShapeError(f"{arg}: expected {len(declared)} dims {fmt_shape(declared)}, "
                         f"got shape {fmt_shape(actual)}")
    pending = []
    for i, (d, a) in enumerate(zip(declared, actual)):
        if isinstance(d, int):
            if d != a:
                raise ShapeError(f"{arg}: expected shape {fmt_shape(declared)}, got "
                                 f"{fmt_shape(actual)} (axis {i} should be {d})")
            continue
        coeff, names = _factors(d)
        if len(names) == 1 and coeff == 1:
            name = names[0]
            if name in env and env[name] != a:
                by = sources.get(name, "another input")
                raise ShapeError(f"{arg}: axis {i} is dim {quote(name)} = {a}, but "
                                 f"{quote(name)} was already bound to {env[name]} by {by}")
            env[name] = a
            sources.setdefault(name, f"{arg} (axis {i}, shape {fmt_shape(actual)})")
        else:
            pending.append((d, a, i, arg, declared, actual))
    return pending


def resolve_dim(d, env, arg="dim"):
    coeff, names = _factors(d)
    missing = [n for n in names if n not in env]
    if missing:
        raise ShapeError(f"{arg}: dim {quote(d)} uses {quote(missing[0])}, which no input binds")
    return coeff * math.prod(env[n] for n in names)


def check_pending(pending, env):
    for d, a, i, arg, declared, actual in pending:
        if resolve_dim(d, env, arg) != a:
            raise ShapeError(f"{arg}: axis {i} is {quote(d)} = {resolve_dim(d, env, arg)} by the "
                             f"other inputs, but came as {a} in shape {fmt_shape(actual)}")


__all__ = ["normalize_dim", "normalize_shape", "dim_mul", "dims_product", "broadcast_shapes",
           "normalize_axis", "bind_dims", "resolve_dim", "check_pending", "fmt_shape",
           "is_static", "OptionError"]
