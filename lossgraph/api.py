"""What users write: inputs, constants and a NumPy-like function set over Nodes."""
from __future__ import annotations

import inspect
import numbers

import numpy as np

from . import dtypes as dt
from .errors import DTypeError, OptionError, ShapeError
from .graph import Node, make
from .names import quote, unknown_keywords
from .shapes import normalize_axis, normalize_shape

# --- leaves
def input(name, shape=(), dtype="float"):
    """A named input. name: any Python identifier (str.isidentifier: 'logits', 'θ',
    'logits_é'; keywords too, since code generators sanitize names for their targets); shape:
    ints and dim names ("N", "C"); dtype: "float" (either precision, fixed at evaluation),
    "float32", "float64", "int", "int32", "int64", "bool"."""
    if not isinstance(name, str) or not name.isidentifier():
        raise OptionError(f"input name: expected an identifier like 'logits', got {quote(name)}")
    arg = f"input {quote(name)}"
    return make("input", name=name, shape=normalize_shape(shape, f"{arg} shape"),
                dtype=dt.normalize_dtype(dtype, f"{arg} dtype"))


def constant(value, dtype=None):
    """A fixed array. Python and NumPy floats are weakly typed ("float") unless dtype is given,
    so a constant never changes the precision a graph runs in."""
    if isinstance(value, Node):
        return value if dtype is None else cast(value, dtype)
    arr = np.asarray(value)
    if dtype is None:
        if arr.dtype == bool:
            dtype = "bool"
        elif np.issubdtype(arr.dtype, np.integer):
            dtype = "int"
        elif np.issubdtype(arr.dtype, np.floating):
            dtype = "float"
        else:
            raise DTypeError(f"constant: expected a number or a numeric array, got "
                             f"{type(value).__name__} of dtype {arr.dtype}")
    dtype = dt.normalize_dtype(dtype, "constant dtype")
    store = dt.numpy_dtype(dtype)
    arr = np.array(arr, dtype=store, copy=True)
    if arr.dtype.kind == "f":
        arr[np.isnan(arr)] = np.nan     # one NaN payload, so equal constants are one node
    arr.setflags(write=False)
    return make("constant", value=arr, dtype=dtype)


def as_node(x):
    if isinstance(x, Node):
        return x
    if isinstance(x, (numbers.Number, np.ndarray, np.generic, list, tuple)):
        return constant(x)
    raise TypeError(f"expected a Node, a number or an array, got {type(x).__name__}")


def size(x, axis=None):
    """The number of elements of x over axis (a float scalar; symbolic dims stay symbolic)."""
    x = as_node(x)
    dims = [x.shape[a] for a in normalize_axis(axis, x.ndim)]
    if all(isinstance(d, int) for d in dims):
        return constant(float(np.prod(dims)))
    return make("dimsize", dims=tuple(dims))


def arange(n):
    """0, 1, ..., n - 1 (n an int or a dim name)."""
    return make("arange", dim=n)


# --- elementwise
def _ew(name):
    def f(*args):
        return make(name, *[as_node(a) for a in args])
    f.__name__ = name
    return f


add, subtract, multiply, divide, power = map(_ew, ["add", "subtract", "multiply", "divide",
                                                   "power"])
maximum, minimum, xlogy = map(_ew, ["maximum", "minimum", "xlogy"])
negative, exp, log, log1p, expm1, sqrt = map(_ew, ["negative", "exp", "log", "log1p",
                                                   "expm1", "sqrt"])
abs, sign, square, tanh, sigmoid, softplus = map(_ew, ["abs", "sign", "square", "tanh",
                                                       "sigmoid", "softplus"])
less, less_equal, greater, greater_equal, equal, not_equal = map(
    _ew, ["less", "less_equal", "greater", "greater_equal", "equal", "not_equal"])
logical_and, logical_or, logical_not = map(_ew, ["logical_and", "logical_or", "logical_not"])
stop_gradient = _ew("stop_gradient")


def where(cond, a, b):
    """a where cond is true, else b (cond must be bool)."""
    return make("where", as_node(cond), as_node(a), as_node(b))


def clip(x, lo, hi):
    """min(max(x, lo), hi)."""
    return make("clip", as_node(x), as_node(lo), as_node(hi))


def cast(x, dtype):
    x = as_node(x)
    dtype = dt.normalize_dtype(dtype, "cast dtype")
    return x if x.dtype == dtype else make("cast", x, dtype=dtype)


def relu(x):
    """max(x, 0)."""
    return maximum(x, 0.0)


def log_sigmoid(x):
    """log sigmoid(x) = -softplus(-x)."""
    return -softplus(-as_node(x))


# --- reductions
def _reduce(name, formula):
    """The reduction `name` as a function with its own name, signature and messages."""
    def reduction(x, axis=None, keepdims=False, **unknown):
        if unknown:
            raise unknown_keywords(f"lg.{name}", unknown, ("axis", "keepdims"))
        return make(name, as_node(x), axis=axis, keepdims=keepdims)
    reduction.__name__ = reduction.__qualname__ = name
    reduction.__doc__ = f"{formula} over axis (an int, a tuple, or None = all axes)."
    sig = inspect.signature(reduction)        # as shown by help(): without **unknown
    reduction.__signature__ = sig.replace(parameters=list(sig.parameters.values())[:3])
    return reduction


sum = _reduce("sum", "sum_i x_i")
prod = _reduce("prod", "prod_i x_i")
max = _reduce("max", "max_i x_i")
min = _reduce("min", "min_i x_i")
logsumexp = _reduce("logsumexp", "log sum_i exp(x_i), computed stably")


def mean(x, axis=None, keepdims=False):
    """sum(x, axis) / (number of elements reduced)."""
    x = as_node(x)
    return sum(x, axis, keepdims) / size(x, axis)


def softmax(x, axis=-1):
    return make("softmax", as_node(x), axis=axis)


def log_softmax(x, axis=-1):
    return make("log_softmax", as_node(x), axis=axis)


# --- shapes
def reshape(x, shape):
    x = as_node(x)
    out = make("reshape", x, shape=shape)
    return x if out.shape == x.shape else out


def expand_dims(x, axis):
    x = as_node(x)
    axes = normalize_axis(axis, x.ndim + (1 if isinstance(axis, int) else len(axis)),
                          "expand_dims axis")
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape(x, tuple(shape))


def squeeze(x, axis=None):
    x = as_node(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axis(axis, x.ndim, "squeeze axis")
    for a in axes:
        if x.shape[a] != 1:
            raise ShapeError(f"squeeze: axis {a} of shape {x.shape} has size {x.shape[a]}, "
                             f"not 1")
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


def transpose(x, perm=None):
    x = as_node(x)
    out = make("transpose", x, perm=perm)
    return x if out.attrs["perm"] == tuple(range(x.ndim)) else out


def broadcast_to(x, shape):
    x = as_node(x)
    shape = normalize_shape(shape, "broadcast_to shape")
    return x if x.shape == shape else make("broadcast_to", x, shape=shape)


def swapaxes(x, a, b):
    x = as_node(x)
    perm = list(range(x.ndim))
    a, b = normalize_axis(a, x.ndim)[0], normalize_axis(b, x.ndim)[0]
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, tuple(perm))


# --- linear algebra
def matmul(a, b):
    """a @ b with NumPy's rules: sum_k a[..., i, k] b[..., k, j]. A 1-D operand is a vector
    (a row on the left, a column on the right; that axis is dropped from the result), other
    leading axes broadcast as stacks of matrices; the contracted dims must be equal."""
    return make("matmul", as_node(a), as_node(b))


def dot(a, b):
    """The inner product sum_k a[k] b[k] of two vectors; for matrices (and a matrix with a
    vector) the matrix product, as np.dot; a scalar operand scales. Operands of more than two
    dims are refused (np.dot's stacking rule differs from matmul's: use matmul)."""
    a, b = as_node(a), as_node(b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    for side, x in (("first", a), ("second", b)):
        if x.ndim > 2:
            raise ShapeError(f"dot: the {side} operand has shape {x.shape} ({x.ndim} dims); "
                             f"dot takes vectors and matrices, use matmul for stacks")
    return matmul(a, b)


# --- integer indexing
def one_hot(labels, depth, axis=-1, dtype="float"):
    """1 where the new axis index equals the label, 0 elsewhere."""
    return make("one_hot", as_node(labels), depth=depth, axis=axis, dtype=dtype)


def pick(x, labels, axis=-1):
    """The entries of x at integer labels along axis (labels has x's shape without axis)."""
    return make("pick", as_node(x), as_node(labels), axis=axis)


gather = pick


def take_along_axis(x, indices, axis=-1):
    """numpy.take_along_axis: indices has x's number of dims."""
    return make("take_along_axis", as_node(x), as_node(indices), axis=axis)


def scatter_along_axis(g, indices, axis, shape):
    """Zeros of shape with g added at indices along axis (the transpose of take_along_axis)."""
    return make("scatter_along_axis", as_node(g), as_node(indices), axis=axis,
                shape=normalize_shape(shape))


def zeros_like(x):
    x = as_node(x)
    return broadcast_to(constant(0, dtype=x.dtype if x.dtype != "bool" else "float"), x.shape)


def ones_like(x):
    x = as_node(x)
    return broadcast_to(constant(1, dtype=x.dtype if x.dtype != "bool" else "float"), x.shape)
