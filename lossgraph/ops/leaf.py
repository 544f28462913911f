"""Leaves: named inputs, constants, symbolic sizes and ranges.

A leaf's impl takes (node, env): env.arrays holds the bound inputs, env.dims the dims.
"""
from __future__ import annotations

import numpy as np

from ..dtypes import normalize_dtype
from ..shapes import fmt_shape, normalize_dim, normalize_shape, resolve_dim
from .base import register


def _input_infer(inputs, attrs):
    return normalize_shape(attrs["shape"], f"input {attrs['name']!r} shape"), \
        normalize_dtype(attrs["dtype"], f"input {attrs['name']!r} dtype"), attrs


def _constant_infer(inputs, attrs):
    v = attrs["value"]
    return v.shape, attrs["dtype"], attrs


def _num(x):
    """The shortest text that reads back as x (0.9999999 stays 0.9999999); 2.0 prints 2."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


def _num_latex(x):
    text = _num(x)
    mantissa, e, exponent = text.partition("e")
    if not e:
        return {"inf": r"\infty", "-inf": r"-\infty", "nan": r"\mathrm{NaN}"}.get(text, text)
    power = rf"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \cdot {power}"


def _const_text(args, attrs, node):
    v = attrs["value"]
    if v.ndim == 0:
        return _num(v.item())
    if v.size <= 6:
        return f"array({v.tolist()})"
    return f"const{fmt_shape(v.shape)}"


def _const_latex(args, attrs, node):
    v = attrs["value"]
    if v.ndim == 0:
        return _num_latex(v.item())
    dims = r" \times ".join(map(str, v.shape))
    return rf"\mathbf{{c}}_{{{dims}}}"


def _dimsize_infer(inputs, attrs):
    dims = tuple(normalize_dim(d, "size dims") for d in attrs["dims"])
    return (), "float", {"dims": dims}


def _arange_infer(inputs, attrs):
    return (normalize_dim(attrs["dim"], "arange dim"),), "int", attrs


def _product(dims, sep, group):
    factors = [f for d in dims for f in str(d).split("*")]
    text = sep.join(factors) or "1"
    return group.format(text) if len(factors) > 1 else text


def _dims_value(dims, env):
    return int(np.prod([resolve_dim(d, env.dims) for d in dims]))


register("input", "leaf", _input_infer, lambda node, env: env.arrays[node.name], None, lambda a, at, n: at["name"],
         lambda a, at, n: _latex_name(at["name"]), math="a named input", arity=0, attr_kinds={'name': 'str', 'shape': 'dims', 'dtype': 'dtype'})
register("constant", "leaf", _constant_infer, lambda node, env: node.attrs["value"], None, _const_text, _const_latex,
         math="a fixed array", arity=0, attr_kinds={'value': 'array', 'dtype': 'dtype'})
register("dimsize", "leaf", _dimsize_infer,
         lambda node, env: np.asarray(float(_dims_value(node.attrs["dims"], env))), None,
         lambda a, at, n: _product(at["dims"], " * ", "({})"),
         lambda a, at, n: _product(at["dims"], " ", r"\left({}\right)"),
         math="the product of symbolic dims, known at evaluation", arity=0, attr_kinds={'dims': 'dims'})
register("arange", "leaf", _arange_infer,
         lambda node, env: np.arange(_dims_value((node.attrs["dim"],), env)), None,
         lambda a, at, n: f"arange({at['dim']})",
         lambda a, at, n: rf"\left[0, {at['dim']}\right)", math="0, 1, ..., n - 1", arity=0, attr_kinds={'dim': 'dim'})


def _latex_name(name):
    head, _, tail = name.partition("_")
    head = head if len(head) == 1 else rf"\mathrm{{{head}}}"
    return f"{head}_{{{tail}}}" if tail else head
