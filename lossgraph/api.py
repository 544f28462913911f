"""What users write: inputs, constants and a NumPy-like function set over Nodes.

Every function here is also `lg.<name>` and takes Nodes, Python numbers or arrays (numbers
and arrays become constants). Shapes and dtypes are checked while the graph is built:
operands that do not broadcast raise `ShapeError`, integer or boolean operands where the op
needs another kind raise `DTypeError`, a bad option (axis, name, dtype) raises `OptionError`,
and anything that is not a Node, a number or an array raises `TypeError`.

    >>> x = lg.input("x", shape=("N",))
    >>> print(lg.mean(lg.softplus(x) - 2 * x))
    sum(softplus(x) - 2 * x) / N
"""
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
    """A named input: a leaf of the graph, bound to an array at evaluation.

    name: any Python identifier (str.isidentifier: 'logits', 'θ', 'logits_é'; keywords too,
    since code generators sanitize names for their targets); shape: ints and dim names ("N",
    "C"), every input using a name must agree on it when evaluated; dtype: "float" (either
    precision, fixed at evaluation), "float32", "float64", "int", "int32", "int64", "bool".

    Examples:
        >>> x = lg.input("logits", shape=("N", 3))
        >>> x
        <Node logits : float[N, 3]>

    Raises:
        OptionError: name is not an identifier ('1x', 'a b'), or a dim is not an int >= 0
            or a name.
        DTypeError: dtype is not one of the names above.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise OptionError(f"input name: expected an identifier like 'logits', got {quote(name)}")
    arg = f"input {quote(name)}"
    return make("input", name=name, shape=normalize_shape(shape, f"{arg} shape"),
                dtype=dt.normalize_dtype(dtype, f"{arg} dtype"))


def constant(value, dtype=None):
    """A fixed array (copied and frozen). Python and NumPy floats are weakly typed ("float")
    unless dtype is given, so a constant never changes the precision a graph runs in; a Node
    passes through (cast when dtype is given).

    Examples:
        >>> lg.constant(0.5)
        <Node 0.5 : float[]>
        >>> lg.constant([1, 2, 3]).dtype
        'int'

    Raises:
        DTypeError: value is not a number or a numeric array (a string, an object array), or
            dtype is not a lossgraph dtype.
    """
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
    """x itself when it is a Node, else `constant(x)` for a number, array, list or tuple.

    Examples:
        >>> lg.as_node(2.0)
        <Node 2 : float[]>

    Raises:
        TypeError: x is neither a Node, a number nor an array.
    """
    if isinstance(x, Node):
        return x
    if isinstance(x, (numbers.Number, np.ndarray, np.generic, list, tuple)):
        return constant(x)
    raise TypeError(f"expected a Node, a number or an array, got {type(x).__name__}")


def size(x, axis=None):
    """The number of elements of x over axis, prod_{a in axis} shape[a], as a float scalar
    (symbolic dims stay symbolic, so the mean's divisor prints as N).

    Examples:
        >>> print(lg.size(lg.input("X", shape=("N", "C")), axis=1))
        C

    Raises:
        OptionError: an axis is out of range for x.
    """
    x = as_node(x)
    dims = [x.shape[a] for a in normalize_axis(axis, x.ndim)]
    if all(isinstance(d, int) for d in dims):
        return constant(float(np.prod(dims)))
    return make("dimsize", dims=tuple(dims))


def arange(n):
    """The integers 0, 1, ..., n - 1 (n an int or a dim name), dtype "int".

    Examples:
        >>> lg.arange("N")
        <Node arange(N) : int[N]>

    Raises:
        ShapeError: n is a negative int.
    """
    return make("arange", dim=n)


# --- elementwise
# name: (the math, an example call, what it prints); the docstring of each elementwise function
_EW_DOCS = {
    "add": ("a + b", "lg.add(x, 1)", "x + 1"),
    "subtract": ("a - b", "lg.subtract(x, 1)", "x - 1"),
    "multiply": ("a b", "lg.multiply(2, x)", "2 * x"),
    "divide": ("a / b", "lg.divide(x, 2)", "x / 2"),
    "power": ("a^b", "lg.power(x, 2)", "x ** 2"),
    "maximum": ("max(a, b)", "lg.maximum(x, 0)", "maximum(x, 0)"),
    "minimum": ("min(a, b)", "lg.minimum(x, 0)", "minimum(x, 0)"),
    "xlogy": ("a log(b), and 0 where a = 0 (so 0 log 0 = 0)", "lg.xlogy(x, x)", "xlogy(x, x)"),
    "negative": ("-a", "lg.negative(x)", "-x"),
    "exp": ("e^a", "lg.exp(x)", "exp(x)"),
    "log": ("log a (natural)", "lg.log(x)", "log(x)"),
    "log1p": ("log(1 + a), accurate for small a", "lg.log1p(x)", "log1p(x)"),
    "expm1": ("e^a - 1, accurate for small a", "lg.expm1(x)", "expm1(x)"),
    "sqrt": ("a^(1/2)", "lg.sqrt(x)", "sqrt(x)"),
    "abs": ("|a|", "lg.abs(x)", "abs(x)"),
    "sign": ("-1, 0 or 1 as a < 0, a = 0, a > 0 (gradient 0)", "lg.sign(x)", "sign(x)"),
    "square": ("a^2", "lg.square(x)", "square(x)"),
    "tanh": ("(e^a - e^-a) / (e^a + e^-a)", "lg.tanh(x)", "tanh(x)"),
    "sigmoid": ("1 / (1 + e^-a), computed without overflow", "lg.sigmoid(x)", "sigmoid(x)"),
    "softplus": ("log(1 + e^a) = max(a, 0) + log(1 + e^-|a|), computed without overflow",
                 "lg.softplus(x)", "softplus(x)"),
    "less": ("a < b (bool)", "lg.less(x, 1)", "x < 1"),
    "less_equal": ("a <= b (bool)", "lg.less_equal(x, 1)", "x <= 1"),
    "greater": ("a > b (bool)", "lg.greater(x, 1)", "x > 1"),
    "greater_equal": ("a >= b (bool)", "lg.greater_equal(x, 1)", "x >= 1"),
    "equal": ("a = b (bool; `==` on Nodes is identity, this is the elementwise test)",
              "lg.equal(x, 1)", "x == 1"),
    "not_equal": ("a != b (bool)", "lg.not_equal(x, 1)", "x != 1"),
    "logical_and": ("a and b (bool operands)", "lg.logical_and(x > 0, x < 1)", "(x > 0) & (x < 1)"),
    "logical_or": ("a or b (bool operands)", "lg.logical_or(x < 0, x > 1)", "(x < 0) | (x > 1)"),
    "logical_not": ("not a (a bool operand)", "lg.logical_not(x > 0)", "~(x > 0)"),
    "stop_gradient": ("a, with a zero derivative (the gradient does not flow through it)",
                      "lg.stop_gradient(x)", "stop_gradient(x)"),
}


def _ew(name):
    def f(*args):
        return make(name, *[as_node(a) for a in args])
    f.__name__ = name
    math, call, shown = _EW_DOCS[name]
    f.__doc__ = (f"{name}: {math}, elementwise, operands broadcast as in NumPy.\n\n"
                 f"Examples:\n    >>> x = lg.input(\"x\", shape=(\"N\",))\n"
                 f"    >>> print({call})\n    {shown}\n\n"
                 f"Raises:\n    ShapeError: the operands' shapes do not broadcast (the message"
                 f" names both and the axis).\n    DTypeError: an operand's dtype does not fit"
                 f" the op (logical ops take bools only).\n    TypeError: an operand is not a"
                 f" Node, a number or an array.\n")
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
    """a where cond is true, else b: where(c, a, b)_i = a_i if c_i else b_i (broadcasting).

    Examples:
        >>> x = lg.input("x", shape=("N",))
        >>> print(lg.where(x > 0, x, 0.0))
        where(x > 0, x, 0)

    Raises:
        DTypeError: cond is not bool.
        ShapeError: cond, a and b do not broadcast together.
    """
    return make("where", as_node(cond), as_node(a), as_node(b))


def clip(x, lo, hi):
    """clip(x, lo, hi) = min(max(x, lo), hi), elementwise (gradient 1 inside, 0 outside).

    Examples:
        >>> print(lg.clip(lg.input("p", shape=("N",)), 1e-7, 1 - 1e-7))
        clip(p, 1e-07, 0.9999999)

    Raises:
        ShapeError: x, lo and hi do not broadcast together.
        TypeError: an operand is not a Node, a number or an array.
    """
    return make("clip", as_node(x), as_node(lo), as_node(hi))


def cast(x, dtype):
    """x converted to dtype (x itself when it already has it); a cast to an integer or bool
    dtype has a zero gradient.

    Examples:
        >>> print(lg.cast(lg.input("y", shape=("N",), dtype="int64"), "float"))
        cast(y, float)

    Raises:
        DTypeError: dtype is not a lossgraph dtype.
    """
    x = as_node(x)
    dtype = dt.normalize_dtype(dtype, "cast dtype")
    return x if x.dtype == dtype else make("cast", x, dtype=dtype)


def relu(x):
    """relu(x) = max(x, 0), elementwise.

    Examples:
        >>> print(lg.relu(lg.input("x", shape=("N",))))
        maximum(x, 0)

    Raises:
        TypeError: x is not a Node, a number or an array.
    """
    return maximum(x, 0.0)


def log_sigmoid(x):
    """log sigmoid(x) = -softplus(-x), finite for every x (the naive log(sigmoid(x)) is -inf
    below x = -745 in float64).

    Examples:
        >>> print(lg.log_sigmoid(lg.input("x", shape=("N",))))
        -softplus(-x)

    Raises:
        TypeError: x is not a Node, a number or an array.
    """
    return -softplus(-as_node(x))


# --- reductions
def _reduce(name, formula):
    """The reduction `name` as a function with its own name, signature and messages."""
    def reduction(x, axis=None, keepdims=False, **unknown):
        if unknown:
            raise unknown_keywords(f"lg.{name}", unknown, ("axis", "keepdims"))
        return make(name, as_node(x), axis=axis, keepdims=keepdims)
    reduction.__name__ = reduction.__qualname__ = name
    reduction.__doc__ = (
        f"{name}: {formula} over axis (an int, a tuple, or None = all axes); keepdims keeps"
        f" the reduced axes as size 1.\n\nExamples:\n"
        f"    >>> X = lg.input(\"X\", shape=(\"N\", \"C\"))\n"
        f"    >>> print(lg.{name}(X, axis=1))\n    {name}(X, axis=1)\n\n"
        f"Raises:\n    OptionError: an axis is out of range or repeated.\n"
        f"    TypeError: an unknown keyword (the message suggests the close one).\n")
    sig = inspect.signature(reduction)        # as shown by help(): without **unknown
    reduction.__signature__ = sig.replace(parameters=list(sig.parameters.values())[:3])
    return reduction


sum = _reduce("sum", "sum_i x_i")
prod = _reduce("prod", "prod_i x_i")
max = _reduce("max", "max_i x_i")
min = _reduce("min", "min_i x_i")
logsumexp = _reduce("logsumexp", "log sum_i exp(x_i), computed stably")


def mean(x, axis=None, keepdims=False):
    """mean(x, axis) = sum(x, axis) / size(x, axis): the divisor stays symbolic (prints / N).

    Examples:
        >>> print(lg.mean(lg.input("X", shape=("N", "C"))))
        sum(X) / (N * C)

    Raises:
        OptionError: an axis is out of range or repeated.
    """
    x = as_node(x)
    return sum(x, axis, keepdims) / size(x, axis)


def softmax(x, axis=-1):
    """softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m) along axis, m = max_j x_j (so it never
    overflows); an op of its own, so gradients print softmax(x), not exp / sum.

    Examples:
        >>> print(lg.softmax(lg.input("X", shape=("N", "C"))))
        softmax(X)

    Raises:
        OptionError: axis is out of range.
    """
    return make("softmax", as_node(x), axis=axis)


def log_softmax(x, axis=-1):
    """log_softmax(x)_i = x_i - logsumexp(x) along axis, finite where softmax underflows.

    Examples:
        >>> print(lg.log_softmax(lg.input("X", shape=("N", "C")), axis=1))
        log_softmax(X)

    Raises:
        OptionError: axis is out of range.
    """
    return make("log_softmax", as_node(x), axis=axis)


# --- shapes
def reshape(x, shape):
    """x with a new shape of the same number of elements (ints and dim names; x itself when
    the shape is unchanged), in C order like numpy.reshape.

    Examples:
        >>> print(lg.reshape(lg.input("X", shape=("N", "C")), ("N", "C", 1)))
        reshape(X, (N, C, 1))

    Raises:
        ShapeError: the element counts differ (both are shown).
    """
    x = as_node(x)
    out = make("reshape", x, shape=shape)
    return x if out.shape == x.shape else out


def expand_dims(x, axis):
    """x with a new axis of size 1 at each position in axis (positions of the result).

    Examples:
        >>> lg.expand_dims(lg.input("x", shape=("N",)), 0).shape
        (1, 'N')

    Raises:
        OptionError: an axis is out of range for the result.
    """
    x = as_node(x)
    axes = normalize_axis(axis, x.ndim + (1 if isinstance(axis, int) else len(axis)),
                          "expand_dims axis")
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape(x, tuple(shape))


def squeeze(x, axis=None):
    """x without the axes of size 1 in axis (None: every axis of size 1).

    Examples:
        >>> lg.squeeze(lg.input("x", shape=("N", 1))).shape
        ('N',)

    Raises:
        ShapeError: an axis named in axis does not have size 1.
        OptionError: an axis is out of range.
    """
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
    """x with its axes permuted: result axis i is x's axis perm[i] (None: reversed).

    Examples:
        >>> X = lg.input("X", shape=("N", "C"))
        >>> print(lg.transpose(X), X.T is lg.transpose(X))      # every axis reversed: X.T
        X.T True
        >>> print(lg.transpose(lg.input("A", shape=(2, 3, 4)) + 1, (1, 0, 2)))
        transpose(A + 1, perm=(1, 0, 2))

    Raises:
        ShapeError: perm is not a permutation of x's axes.
    """
    x = as_node(x)
    out = make("transpose", x, perm=perm)
    return x if out.attrs["perm"] == tuple(range(x.ndim)) else out


def broadcast_to(x, shape):
    """x repeated to shape with NumPy's broadcasting rule (its gradient sums back).

    Examples:
        >>> lg.broadcast_to(lg.input("x", shape=("N",)), (2, "N")).shape
        (2, 'N')

    Raises:
        ShapeError: x's shape does not broadcast to shape (the axis is named).
    """
    x = as_node(x)
    shape = normalize_shape(shape, "broadcast_to shape")
    return x if x.shape == shape else make("broadcast_to", x, shape=shape)


def swapaxes(x, a, b):
    """x with axes a and b exchanged (a transpose).

    Examples:
        >>> lg.swapaxes(lg.input("X", shape=("N", "C")), 0, 1).shape
        ('C', 'N')

    Raises:
        OptionError: a or b is out of range.
    """
    x = as_node(x)
    perm = list(range(x.ndim))
    a, b = normalize_axis(a, x.ndim)[0], normalize_axis(b, x.ndim)[0]
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, tuple(perm))


# --- linear algebra
def matmul(a, b):
    """a @ b with NumPy's rules: sum_k a[..., i, k] b[..., k, j]. A 1-D operand is a vector
    (a row on the left, a column on the right; that axis is dropped from the result), other
    leading axes broadcast as stacks of matrices; the contracted dims must be equal. The vjp
    is dA = g B^T, dB = A^T g, itself a matmul, so Hessian-vector products work through it.

    Examples:
        >>> X, w = lg.input("X", shape=("N", "D")), lg.input("w", shape=("D",))
        >>> print(lg.matmul(X, w))
        X @ w

    Raises:
        ShapeError: the contracted dims differ (they never broadcast; symbolic dims compare by
            name), or an operand is a scalar.
        DTypeError: an operand is bool.
    """
    return make("matmul", as_node(a), as_node(b))


def dot(a, b):
    """The inner product sum_k a[k] b[k] of two vectors; for matrices (and a matrix with a
    vector) the matrix product, as np.dot; a scalar operand scales. Operands of more than two
    dims are refused (np.dot's stacking rule differs from matmul's: use matmul).

    Examples:
        >>> x = lg.input("x", shape=("N",))
        >>> print(lg.dot(x, x))
        x @ x

    Raises:
        ShapeError: an operand has more than two dims, or the contracted dims differ.
    """
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
    """one_hot(y, depth)[..., k] = 1 if y = k else 0, the new axis of size depth at axis.

    Examples:
        >>> lg.one_hot(lg.input("y", shape=("N",), dtype="int64"), 4).shape
        ('N', 4)

    Raises:
        DTypeError: labels are not integers.
        InputError: at evaluation, a label outside [0, depth).
    """
    return make("one_hot", as_node(labels), depth=depth, axis=axis, dtype=dtype)


def pick(x, labels, axis=-1):
    """pick(x, y)[i] = x[i, y_i] along axis: the entries of x at integer labels (labels has
    x's shape without axis); `gather` is the same function.

    Examples:
        >>> X, y = lg.input("X", shape=("N", "C")), lg.input("y", shape=("N",), dtype="int64")
        >>> print(lg.pick(X, y))
        pick(X, y)

    Raises:
        DTypeError: labels are not integers.
        ShapeError: labels' shape is not x's shape without axis.
        InputError: at evaluation, a label outside [0, x.shape[axis]).
    """
    return make("pick", as_node(x), as_node(labels), axis=axis)


gather = pick


def take_along_axis(x, indices, axis=-1):
    """numpy.take_along_axis: out[..., j, ...] = x[..., indices[..., j, ...], ...] along
    axis; indices has x's number of dims.

    Examples:
        >>> X, y = lg.input("X", shape=("N", "C")), lg.input("y", shape=("N", 1), dtype="int64")
        >>> lg.take_along_axis(X, y, axis=1).shape
        ('N', 1)

    Raises:
        ShapeError: indices does not have x's number of dims.
        DTypeError: indices are not integers.
    """
    return make("take_along_axis", as_node(x), as_node(indices), axis=axis)


def scatter_along_axis(g, indices, axis, shape):
    """Zeros of shape with g added at indices along axis: the transpose of take_along_axis
    (its vjp), out[..., indices[..., j], ...] += g[..., j, ...].

    Examples:
        >>> g, i = lg.input("g", shape=("N", 1)), lg.input("i", shape=("N", 1), dtype="int64")
        >>> lg.scatter_along_axis(g, i, 1, ("N", "C")).shape
        ('N', 'C')

    Raises:
        ShapeError: g and indices disagree, or do not fit shape.
    """
    return make("scatter_along_axis", as_node(g), as_node(indices), axis=axis,
                shape=normalize_shape(shape))


def zeros_like(x):
    """0 broadcast to x's shape, in x's dtype (float for a bool x).

    Examples:
        >>> print(lg.zeros_like(lg.input("x", shape=("N",))))
        broadcast_to(0, (N,))

    Raises:
        TypeError: x is not a Node, a number or an array.
    """
    x = as_node(x)
    return broadcast_to(constant(0, dtype=x.dtype if x.dtype != "bool" else "float"), x.shape)


def ones_like(x):
    """1 broadcast to x's shape, in x's dtype (float for a bool x).

    Examples:
        >>> print(lg.ones_like(lg.input("x", shape=("N",))))
        broadcast_to(1, (N,))

    Raises:
        TypeError: x is not a Node, a number or an array.
    """
    x = as_node(x)
    return broadcast_to(constant(1, dtype=x.dtype if x.dtype != "bool" else "float"), x.shape)
