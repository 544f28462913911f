"""Leaves: named inputs, constants, symbolic sizes and ranges.

A leaf's impl takes (node, env): env.arrays holds the bound inputs, env.dims the dims.
"""
from __future__ import annotations

import unicodedata

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
    r"""_num in LaTeX: 10^{-7}, 2.5 \cdot 10^{-3}, \infty, \mathrm{true}."""
    if isinstance(x, bool):
        return rf"\mathrm{{{str(x).lower()}}}"
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
         lambda a, at, n: latex_name(at["name"]), math="a named input", arity=0, attr_kinds={'name': 'str', 'shape': 'dims', 'dtype': 'dtype'})
register("constant", "leaf", _constant_infer, lambda node, env: node.attrs["value"], None, _const_text, _const_latex,
         math="a fixed array", arity=0, attr_kinds={'value': 'array', 'dtype': 'dtype'})
register("dimsize", "leaf", _dimsize_infer,
         lambda node, env: np.asarray(float(_dims_value(node.attrs["dims"], env))), None,
         lambda a, at, n: _product(at["dims"], " * ", "({})"),
         lambda a, at, n: " ".join(latex_dim(d) for d in at["dims"]), latex_prec=20,
         math="the product of symbolic dims, known at evaluation", arity=0, attr_kinds={'dims': 'dims'})
register("arange", "leaf", _arange_infer,
         lambda node, env: np.arange(_dims_value((node.attrs["dim"],), env)), None,
         lambda a, at, n: f"arange({at['dim']})",
         lambda a, at, n: rf"\left[0, {at['dim']}\right)", math="0, 1, ..., n - 1", arity=0, attr_kinds={'dim': 'dim'})


_GREEK = set("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho "
             "sigma tau upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma "
             "Upsilon Phi Psi Omega".split())


def _greek(name):
    r"""\theta for "theta" or "θ", else None."""
    if len(name) == 1 and not name.isascii():
        parts = unicodedata.name(name, "").split()
        if parts[:2] == ["GREEK", "SMALL"] or parts[:2] == ["GREEK", "CAPITAL"]:
            word = parts[-1].lower() if parts[1] == "SMALL" else parts[-1].capitalize()
            name = word
    return "\\" + name if name in _GREEK else None


def latex_name(name):
    r"""An input or dim name in LaTeX, printed whole: x, \theta, x_{1} (a letter and digits),
    else upright with underscores escaped: \mathrm{log\_probs}."""
    base, digits = name.rstrip("0123456789"), name[len(name.rstrip("0123456789")):]
    head = _greek(base) or (base if len(base) == 1 and base.isascii() else None)
    if head is not None and base:
        return f"{head}_{{{digits}}}" if digits else head
    return rf"\mathrm{{{name.replace('_', chr(92) + '_')}}}"


def latex_dim(d):
    """A dim (3, "N" or a product "2*N*T") in LaTeX: 3, N, 2 N T."""
    return " ".join(latex_name(f) if not f.isdigit() else f for f in str(d).split("*"))
