"""Graphs as plain JSON, and back (no pickle, no eval).

    {"format": "lossgraph", "version": 1,
     "nodes": [{"op": "input", "inputs": [], "attrs": {"name": "x", ...}}, ...],
     "outputs": [3, 5]}

Nodes are listed inputs-first; "inputs" are indices of earlier nodes, so shared
subexpressions are written once. Constant arrays are {"dtype", "shape", "data"} with
non-finite floats as the strings "inf", "-inf", "nan". from_json checks every field against
the schema below and rebuilds through the ordinary builders, so shape rules run again and
hash-consing returns the very same nodes; anything malformed is a SerializationError.
"""
from __future__ import annotations

import json
import math

import numpy as np

from . import dtypes as dt
from .errors import LossgraphError, SerializationError
from .graph import Node, make, topo_order
from .ops import OPS

FORMAT, VERSION = "lossgraph", 1
MAX_TEXT = 256 * 2 ** 20          # characters of JSON
MAX_NODES = 1_000_000
MAX_CONSTANT_SIZE = 50_000_000    # elements of one constant
MAX_RANK = 64
_INT64 = 2 ** 63
_SPECIAL_FLOATS = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


# --- attribute kinds: encode (Python -> JSON) and check (JSON -> Python, or raise ValueError)

def _is_int(v):
    return type(v) is int


def _check_int(v):
    if not _is_int(v) or not -_INT64 <= v < _INT64:
        raise ValueError(f"expected an integer, got {v!r}")
    return v


def _check_bool(v):
    if type(v) is not bool:
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def _check_str(v):
    if type(v) is not str or len(v) > 1000:
        raise ValueError(f"expected a short string, got {_short(v)}")
    return v


def _check_dim(v):
    if _is_int(v):
        if not 0 <= v < _INT64:
            raise ValueError(f"expected a dim >= 0, got {v}")
        return v
    return _check_str(v)


def _check_list(item, v, what="list"):
    if type(v) is not list or len(v) > MAX_RANK:
        raise ValueError(f"expected a {what} of at most {MAX_RANK} entries, got {_short(v)}")
    return tuple(item(x) for x in v)


def _check_dtype(v):
    if v not in dt.ALL:
        raise ValueError(f"expected a dtype among {', '.join(dt.ALL)}, got {_short(v)}")
    return v


def _check_axes(v):
    return None if v is None else (_check_int(v) if _is_int(v) else _check_list(_check_int, v))


def _encode_plain(v):
    return list(v) if isinstance(v, tuple) else v


KINDS = {  # kind -> (encode, check)
    "int": (int, _check_int),
    "bool": (bool, _check_bool),
    "str": (str, _check_str),
    "dtype": (str, _check_dtype),
    "dim": (_encode_plain, _check_dim),
    "dims": (_encode_plain, lambda v: _check_list(_check_dim, v, "list of dims")),
    "ints": (_encode_plain, lambda v: _check_list(_check_int, v, "list of ints")),
    "axes": (_encode_plain, _check_axes),
}


def _encode_array(a):
    a = np.asarray(a)
    if a.dtype.kind == "f":
        data = [x if math.isfinite(x) else ("nan" if x != x else ("inf" if x > 0 else "-inf"))
                for x in a.ravel().tolist()]
    else:
        data = a.ravel().tolist()
    return {"dtype": a.dtype.name, "shape": list(a.shape), "data": data}


def _check_array(v):
    if type(v) is not dict or set(v) != {"dtype", "shape", "data"}:
        raise ValueError("expected {\"dtype\", \"shape\", \"data\"}, got " + _short(v))
    kind = v["dtype"]
    if kind not in ("float32", "float64", "int32", "int64", "bool"):
        raise ValueError(f"array dtype must be float32, float64, int32, int64 or bool, got "
                         f"{_short(kind)}")
    shape = _check_list(_check_int, v["shape"], "shape")
    if any(d < 0 for d in shape):
        raise ValueError(f"array shape has a negative dim: {list(shape)}")
    size = math.prod(shape)
    if size > MAX_CONSTANT_SIZE:
        raise ValueError(f"array of {size} elements exceeds the limit of {MAX_CONSTANT_SIZE}")
    data = v["data"]
    if type(data) is not list or len(data) != size:
        raise ValueError(f"array data must be a flat list of {size} entries (shape "
                         f"{list(shape)}), got {_short(data)}")
    entry = {"bool": _check_bool}.get(kind, _check_int if kind.startswith("int") else
                                      _check_float)
    values = [entry(x) for x in data]
    with np.errstate(over="raise"):
        try:
            return np.array(values, dtype=kind).reshape(shape)
        except (OverflowError, FloatingPointError):
            raise ValueError(f"array entries do not fit in {kind}") from None


def _check_float(v):
    if type(v) is float:
        return v
    if type(v) is int:
        if abs(v) >= 2 ** 1024:
            raise ValueError(f"integer {_short(v)} is too large for a float")
        return float(v)
    if v in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[v]
    raise ValueError(f"expected a number or \"inf\", \"-inf\", \"nan\", got {_short(v)}")


KINDS["array"] = (_encode_array, _check_array)


# --- the schema: op -> (number of inputs, {attr: kind})

def schema(name):
    """(arity, {attr: kind}) of an op, from its record in the op table."""
    op = OPS[name]
    return op.arity, op.attr_kinds


# --- writing

def to_json(outputs, indent=None):
    """A JSON string holding one node or a list of nodes (shared nodes written once).

    Examples:
        >>> x = lg.input("x", shape=("N",))
        >>> lg.from_json(lg.to_json(lg.sum(x))) is lg.sum(x)
        True

    Raises:
        SerializationError: an output is not a Node.
    """
    single = isinstance(outputs, Node)
    outs = [outputs] if single else list(outputs)
    for i, o in enumerate(outs):
        if not isinstance(o, Node):
            raise SerializationError(f"to_json: output {i} is a {type(o).__name__}, expected "
                                     f"a Node")
    order = topo_order(outs)
    index = {id(n): k for k, n in enumerate(order)}
    nodes = []
    for n in order:
        _, kinds = schema(n.op)
        unknown = [k for k in n.attrs if k not in kinds]
        if unknown:
            raise SerializationError(f"to_json: op {n.op!r} has attr {unknown[0]!r}, which "
                                     f"its op record's attr_kinds lacks")
        attrs = {k: KINDS[kinds[k]][0](v) for k, v in n.attrs.items()}
        nodes.append({"op": n.op, "inputs": [index[id(i)] for i in n.inputs], "attrs": attrs})
    doc = {"format": FORMAT, "version": VERSION, "nodes": nodes,
           "outputs": [index[id(o)] for o in outs]}
    if single:
        doc["single"] = True
    return json.dumps(doc, allow_nan=False, indent=indent)


# --- reading

def _short(v, limit=60):
    text = repr(v)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise SerializationError(f"from_json: duplicate key {_short(k)}")
        out[k] = v
    return out


def _reject_constant(name):
    raise SerializationError(f"from_json: {name} is not JSON (write non-finite constant "
                             f"entries as the strings \"inf\", \"-inf\", \"nan\")")


def _parse(text):
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SerializationError(f"from_json: the text is not UTF-8 ({e})") from None
    if not isinstance(text, str):
        raise SerializationError(f"from_json: expected a JSON string, got "
                                 f"{type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise SerializationError(f"from_json: {len(text)} characters exceed the limit of "
                                 f"{MAX_TEXT}")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise SerializationError(f"from_json: not valid JSON: {e}") from None
    except RecursionError:
        raise SerializationError("from_json: JSON nested too deeply") from None


def _field(doc, key, kind, where):
    if key not in doc:
        raise SerializationError(f"from_json: {where} has no {key!r} field")
    value = doc[key]
    if type(value) is not kind:
        raise SerializationError(f"from_json: {where} field {key!r} must be a "
                                 f"{kind.__name__}, got {_short(value)}")
    return value


def _node(k, entry, built):
    where = f"node {k}"
    if type(entry) is not dict:
        raise SerializationError(f"from_json: {where} must be an object, got {_short(entry)}")
    extra = set(entry) - {"op", "inputs", "attrs"}
    if extra:
        raise SerializationError(f"from_json: {where} has unknown field {sorted(extra)[0]!r}")
    name = _field(entry, "op", str, where)
    if name not in OPS:
        raise SerializationError(f"from_json: {where} has unknown op {_short(name)}")
    where = f"node {k} ({name})"
    arity, kinds = schema(name)
    ids = _field(entry, "inputs", list, where)
    if len(ids) != arity:
        raise SerializationError(f"from_json: {where} takes {arity} inputs, got {len(ids)}")
    for i in ids:
        if not _is_int(i) or not 0 <= i < k:
            raise SerializationError(f"from_json: {where} input {_short(i)} is not the index "
                                     f"of an earlier node (0..{k - 1})")
    raw = _field(entry, "attrs", dict, where)
    attrs = {}
    for key, value in raw.items():
        if key not in kinds:
            raise SerializationError(f"from_json: {where} has unknown attr {_short(key)} "
                                     f"(expected {', '.join(kinds) or 'none'})")
        try:
            attrs[key] = KINDS[kinds[key]][1](value)
        except ValueError as e:
            raise SerializationError(f"from_json: {where} attr {key!r}: {e}") from None
    missing = [key for key in kinds if key not in attrs and key in _REQUIRED.get(name, kinds)]
    if missing:
        raise SerializationError(f"from_json: {where} is missing attr {missing[0]!r}")
    try:
        return _BUILDERS.get(name, _make)(name, [built[i] for i in ids], attrs)
    except LossgraphError as e:
        raise SerializationError(f"from_json: {where}: {e}") from e
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as e:
        raise SerializationError(f"from_json: {where} with attrs {_short(raw)} is not a "
                                 f"valid node ({type(e).__name__}: {e})") from None


def _make(name, inputs, attrs):
    return make(name, *inputs, **attrs)


def _input(name, inputs, attrs):
    from .api import input
    return input(attrs["name"], attrs["shape"], attrs["dtype"])


def _constant(name, inputs, attrs):
    from .api import constant
    value, dtype = attrs["value"], attrs["dtype"]
    if dt.numpy_dtype(dtype) != value.dtype:
        raise SerializationError(f"constant of dtype {dtype} stored as {value.dtype}, "
                                 f"expected {dt.numpy_dtype(dtype)}")
    return constant(value, dtype)


_BUILDERS = {"input": _input, "constant": _constant}
# attrs that may be left out (the builder has a default); all others are required
_REQUIRED = {"one_hot": ("depth",), "pick": (), "take_along_axis": (), "softmax": (),
             "log_softmax": (), "transpose": (), "ctc_loss": (), "ctc_grad": (),
             "sum": (), "prod": (), "max": (), "min": (), "logsumexp": ()}


def from_json(text):
    """The node (or list of nodes) written by to_json; SerializationError if malformed.

    Examples:
        >>> x = lg.input("x", shape=("N",))
        >>> print(lg.from_json(lg.to_json(lg.mean(x))))
        sum(x) / N

    Raises:
        SerializationError: the text is not JSON, not lossgraph's format or version, or names an
            unknown op or malformed attributes.
    """
    doc = _parse(text)
    if type(doc) is not dict:
        raise SerializationError(f"from_json: expected a JSON object, got {_short(doc)}")
    if doc.get("format") != FORMAT:
        raise SerializationError(f"from_json: format must be {FORMAT!r}, got "
                                 f"{_short(doc.get('format'))}")
    if doc.get("version") != VERSION or type(doc.get("version")) is not int:
        raise SerializationError(f"from_json: unsupported version {_short(doc.get('version'))}"
                                 f" (this lossgraph reads version {VERSION})")
    extra = set(doc) - {"format", "version", "nodes", "outputs", "single"}
    if extra:
        raise SerializationError(f"from_json: unknown field {sorted(extra)[0]!r}")
    entries = _field(doc, "nodes", list, "the document")
    if len(entries) > MAX_NODES:
        raise SerializationError(f"from_json: {len(entries)} nodes exceed the limit of "
                                 f"{MAX_NODES}")
    built = []
    for k, entry in enumerate(entries):
        built.append(_node(k, entry, built))
    outs = _field(doc, "outputs", list, "the document")
    for o in outs:
        if not _is_int(o) or not 0 <= o < len(built):
            raise SerializationError(f"from_json: output {_short(o)} is not a node index "
                                     f"(0..{len(built) - 1})")
    single = doc.get("single", False)
    if type(single) is not bool or (single and len(outs) != 1):
        raise SerializationError(f"from_json: 'single' must be true (with one output) or "
                                 f"false, got {_short(single)}")
    result = [built[o] for o in outs]
    return result[0] if single else result


__all__ = ["to_json", "from_json", "schema", "MAX_NODES", "MAX_CONSTANT_SIZE"]
