"""Function transforms with JAX's contract: grad, value_and_grad and hvp of Python functions.

    lg.value_and_grad(f, argnums=0, has_aux=False)(*arrays, **arrays) -> (value, grads)
    lg.grad(f, argnums=0, has_aux=False)(*arrays, **arrays)          -> grads
    lg.hvp(f, primals, tangents)                                      -> d/dx <grad f(x), v>

f takes Nodes and returns a scalar Node. It is traced once per signature (the shapes and
dtypes of the arguments, and the keyword names): its arguments become inputs named after its
parameters (`pred`, `target`; `arg{i}` for *args), the loss is stabilized and differentiated
through lossgraph.pipeline, and the resulting Plan is kept in a bounded, thread-safe LRU cache.
A later call with the same signature only evaluates the plan.

As in JAX: argnums are positional indices (keyword arguments are inputs, never
differentiated); an argument the output does not use gets a zero gradient of its shape and
dtype; has_aux=True means f returns (loss, aux), aux a Node or a tuple/list/dict of Nodes
(other leaves pass through as they were at trace time); called with Nodes instead of arrays,
a transform returns graphs, so transforms nest (lg.grad of a function that calls lg.grad).
"""
from __future__ import annotations

import inspect

import numpy as np

from . import api as F
from . import dtypes as dt
from . import pipeline
from .errors import DTypeError, GradientError, InputError, LossgraphError, OptionError
from .evaluate import Env, _finish, bind, declared_inputs, run
from .graph import Node, topo_order
from .lru import LRU
from .names import quote
from .shapes import fmt_shape


# Inputs of at least this many elements: run frees values after their last use and reuses
# dying buffers (evaluate.run's keep=). Below it the bookkeeping costs more than it saves
# (BCE loss + gradient, one run: 1.9x slower at 1e3 elements, 0.64x at 1.6e4, 0.74x at 1e6).
FREE_FROM = 8192


class Plan:
    """Outputs evaluated on arrays of one signature.

    The topological order, the inputs the outputs use, the bound dims and the float dtype
    are found once, by evaluate.bind checking the arrays against every declared input; a
    call then only runs the graph, fed the inputs it uses (freeing intermediates after
    their last use when the arrays are large, see FREE_FROM).
    """

    def __init__(self, outputs, inputs, arrays, what="the graph"):
        env = bind(inputs, arrays)
        self.outputs = list(outputs)
        self.order = topo_order(self.outputs)
        used = declared_inputs(self.order)
        for name, node in used.items():
            if inputs.get(name) is not node:
                raise InputError(f"{what} uses input {quote(name)}, which is not among its "
                                 f"inputs {', '.join(map(quote, inputs)) or '(none)'}: pass "
                                 f"its array as an argument instead of closing over lg.input")
        self.bound = [(n, env.arrays[n].dtype, node.dtype) for n, node in used.items()]
        self.dims, self.float_dtype = env.dims, env.float_dtype
        big = max((env.arrays[n].size for n in used), default=0) >= FREE_FROM
        self.keep = {id(o) for o in self.outputs} if big else None

    def __call__(self, arrays):
        env = Env({n: self._same(n, arrays[n], d, declared) for n, d, declared in self.bound},
                  dict(self.dims), self.float_dtype)
        values = run(self.order, env, self.keep)
        bound = [id(a) for a in env.arrays.values()]
        return [_finish(values[id(o)], bound) for o in self.outputs]

    @staticmethod
    def _same(name, value, dtype, declared):
        """The array as bound the first time: as is when it has the bound dtype, else through
        dtypes.coerce again (its checks may depend on the values, e.g. int64 -> int32)."""
        if type(value) is np.ndarray and value.dtype == dtype:
            return value
        return dt.coerce(declared, value, f"input {quote(name)}")


# --- pytrees of Nodes (aux outputs)

def _flatten(tree, leaves):
    """Collect the Nodes of a tuple/list/dict tree into leaves; return how to rebuild it."""
    if isinstance(tree, Node):
        leaves.append(tree)
        return None
    if isinstance(tree, (tuple, list)):
        return (type(tree), [_flatten(t, leaves) for t in tree], tree)
    if isinstance(tree, dict):
        return (dict, {k: _flatten(v, leaves) for k, v in tree.items()}, tree)
    return ("leaf", tree)


def _unflatten(spec, values):
    """Rebuild a tree from _flatten's spec, taking Node values from the iterator values."""
    if spec is None:
        return next(values)
    if spec[0] == "leaf":
        return spec[1]
    kind, parts, orig = spec
    if kind is dict:
        return {k: _unflatten(s, values) for k, s in parts.items()}
    items = [_unflatten(s, values) for s in parts]
    if hasattr(orig, "_fields"):  # a namedtuple
        return kind(*items)
    return kind(items)


# --- argument names, arrays and signatures

def _positional_names(fun):
    """fun's positional parameter names (empty if its signature cannot be read)."""
    try:
        params = inspect.signature(fun).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds]


def _input_names(params, nargs, keywords):
    """Input names for nargs positional and the keyword arguments: parameter names, arg{i}
    beyond them (*args), made identifiers and unique."""
    raw = [params[i] if i < len(params) else f"arg{i}" for i in range(nargs)] + list(keywords)
    names, seen = [], set()
    for i, r in enumerate(raw):
        base = r if r.isidentifier() else "".join(c if c.isalnum() else "_" for c in r)
        base = base if base.isidentifier() else "_" + base
        base = base if base.isidentifier() else f"arg{i}"
        name, k = base, 2
        while name in seen:
            name, k = f"{base}_{k}", k + 1
        seen.add(name)
        names.append(name)
    return names


def _as_arrays(values):
    """np.asarray of each value; a Python float takes the float dtype of the float arrays
    among the values (float64 if none), so a scalar never changes a float32 computation."""
    arrays = [v if type(v) is np.ndarray else np.asarray(v) for v in values]
    weak = [i for i, v in enumerate(values) if type(v) is float]
    if weak:
        floats = [a.dtype for i, a in enumerate(arrays)
                  if i not in weak and a.dtype.kind == "f"]
        common = np.result_type(*floats) if floats else np.dtype(np.float64)
        for i in weak:
            arrays[i] = np.asarray(values[i], dtype=common)
    return arrays


def _fun_name(fun):
    return getattr(fun, "__name__", type(fun).__name__)


def _normalize_argnums(argnums, what):
    single = isinstance(argnums, (int, np.integer)) and not isinstance(argnums, bool)
    nums = (argnums,) if single else argnums
    try:
        nums = tuple(nums)
    except TypeError:
        nums = None
    if (nums is None or not nums or len(set(nums)) != len(nums)
            or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0
                       for n in nums)):
        raise OptionError(f"{what}: argnums must be a non-negative int or a non-empty tuple "
                          f"of distinct ones (positional argument indices), got {argnums!r}")
    return single, tuple(int(n) for n in nums)


# --- tracing

class _Transform:
    """A Python function traced once per signature into a Plan (bounded LRU cache).

    build(nodes, keyword_nodes) -> (outputs, finish): the graphs to evaluate, and how to
    turn their values (or, called with Nodes, the graphs themselves) into the result.
    """

    def __init__(self, fun, what, build, names=None, maxsize=64):
        self.fun, self.what, self.build = fun, what, build
        self.params = _positional_names(fun)
        self.names = names or _input_names
        self.cache = LRU(maxsize)

    def __call__(self, args, kwargs):
        values = list(args) + list(kwargs.values())
        if any(isinstance(v, Node) for v in values):
            return self.symbolic(args, kwargs)
        arrays = _as_arrays(values)
        names, plan, finish = self.entry(len(args), kwargs, arrays)
        return finish(plan(dict(zip(names, arrays))))

    def entry(self, nargs, kwargs, arrays):
        key = (nargs, tuple(kwargs), tuple((a.shape, a.dtype) for a in arrays))
        entry = self.cache.get(key)
        if entry is None:
            entry = self.cache.put(key, self.trace(nargs, list(kwargs), arrays))
        return entry

    def graphs(self, args, kwargs):
        """The result's structure with the traced graphs in place of arrays."""
        values = list(args) + list(kwargs.values())
        if any(isinstance(v, Node) for v in values):
            return self.symbolic(args, kwargs)
        _, plan, finish = self.entry(len(args), kwargs, _as_arrays(values))
        return finish(plan.outputs)

    def trace(self, nargs, keywords, arrays):
        names = self.names(self.params, nargs, keywords)
        nodes = [F.input(n, shape=a.shape, dtype=self.input_dtype(n, a)) for n, a in
                 zip(names, arrays)]
        outputs, finish = self.build(nodes[:nargs], dict(zip(keywords, nodes[nargs:])))
        plan = Plan(outputs, dict(zip(names, nodes)), dict(zip(names, arrays)),
                    what=f"{self.what}: the function")
        return names, plan, finish

    def symbolic(self, args, kwargs):
        """Called with Nodes (inside another trace): return graphs, not arrays."""
        nodes = [v if isinstance(v, Node) else F.constant(np.asarray(v)) for v in args]
        kw = {k: v if isinstance(v, Node) else F.constant(np.asarray(v))
              for k, v in kwargs.items()}
        outputs, finish = self.build(nodes, kw, given=list(args))
        return finish(outputs)

    def input_dtype(self, name, a):
        """The input's declared dtype: the array's own, or what dtypes.coerce widens it to
        (float16 -> float32; narrower and unsigned integers -> int64)."""
        kind, arg = a.dtype.kind, f"{self.what}: argument {quote(name)}"
        if a.dtype.name in dt.ALL:
            return a.dtype.name
        if a.dtype == np.float16:
            return "float32"
        if kind in "iu" and a.dtype.itemsize <= 8:
            return "int64"
        if a.dtype == object:
            raise DTypeError(f"{arg} is not an array of numbers (dtype object); pass NumPy "
                             f"arrays, Python numbers or lists")
        raise DTypeError(f"{arg} has dtype {a.dtype}; expected a float, integer or bool "
                         f"array (convert it with .astype)")

    def param(self, i, node):
        return f"argument {i} ({quote(node.name)})" if node.op == "input" else f"argument {i}"


def _scalar_loss(out, what):
    """The function's result as a float scalar Node, or an error fit for grad."""
    if isinstance(out, (tuple, list)):
        raise GradientError(f"{what}: the function returned a {type(out).__name__}; it must "
                            f"return a scalar loss (to return more, use has_aux=True and "
                            f"return (loss, aux))")
    try:
        out = F.as_node(out)
    except (LossgraphError, TypeError):
        raise GradientError(f"{what}: the function must return a scalar Node, got "
                            f"{type(out).__name__}") from None
    if out.shape != ():
        raise GradientError(f"{what}: the function must return a scalar, got shape "
                            f"{fmt_shape(out.shape)}; reduce it with lg.sum or lg.mean")
    if not dt.is_float(out.dtype):
        raise GradientError(f"{what}: the function returned dtype {out.dtype}; only float "
                            f"outputs have gradients (lg.cast it to 'float')")
    return out


def _split_aux(result, has_aux, what):
    if not has_aux:
        return result, None
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise GradientError(f"{what}: has_aux=True, so the function must return a pair "
                            f"(loss, aux), got {type(result).__name__}")
    return result[0], result[1]


def _wrt(transform, nums, nodes, given):
    """The argnums nodes; each must be a float input (or, nested, a float Node)."""
    if nums and max(nums) >= len(nodes):
        raise InputError(f"{transform.what}: argnums {nums if len(nums) > 1 else nums[0]} "
                         f"refers to positional arguments, but the function got {len(nodes)} "
                         f"positional (keyword arguments are inputs, never differentiated)")
    out = []
    for i in nums:
        w = nodes[i]
        if given is not None and not isinstance(given[i], Node):
            raise GradientError(f"{transform.what}: argument {i} is an array while other "
                                f"arguments are Nodes; inside a traced function, "
                                f"differentiate with respect to Nodes")
        if not dt.is_float(w.dtype):
            raise GradientError(f"{transform.what}: {transform.param(i, w)} has dtype "
                                f"{w.dtype}; gradients need float arrays (pass floats, e.g. "
                                f"np.asarray(x, float), or leave it out of argnums)")
        out.append(w)
    return out


def _vg_transform(fun, argnums, has_aux, what, with_value):
    single, nums = _normalize_argnums(argnums, what)

    def build(nodes, kw, given=None):
        wrt = _wrt(transform, nums, nodes, given)
        out, aux = _split_aux(fun(*nodes, **kw), has_aux, what)
        y, grads = pipeline.derive(_scalar_loss(out, what), wrt)
        leaves = []
        spec = _flatten(aux, leaves)
        if leaves and given is None:
            leaves = pipeline.stable(leaves)
        n = 1 + len(grads)

        def finish(values):
            gs = tuple(values[1:n])
            gs = gs[0] if single else gs
            aux = _unflatten(spec, iter(values[n:])) if has_aux else None
            if with_value:
                return ((values[0], aux) if has_aux else values[0]), gs
            return (gs, aux) if has_aux else gs
        return [y, *grads, *leaves], finish

    transform = _Transform(fun, what, build)
    return transform


def _wrap(transform, fun, doc):
    def wrapped(*args, **kwargs):
        return transform(args, kwargs)

    def trace(*args, **kwargs):
        return transform.graphs(args, kwargs)
    wrapped.trace = trace
    wrapped.cache = transform.cache
    wrapped.__wrapped__ = fun
    wrapped.__name__ = _fun_name(fun)
    wrapped.__doc__ = doc
    return wrapped


def value_and_grad(fun, argnums=0, has_aux=False):
    """f(*nodes, **nodes) -> scalar Node becomes f(*arrays, **arrays) -> (value, grads).

    grads is one array per argnums (a tuple when argnums is a tuple), each shaped like its
    argument; with has_aux=True the value is (value, aux). Called with Nodes, it returns
    the value and gradient graphs.

    Examples:
        >>> vg = lg.value_and_grad(lambda p, t: lg.mean(lg.square(p - t)))
        >>> value, dp = vg(np.array([1.0, 2.0]), np.array([0.0, 2.0]))
        >>> float(value), dp
        (0.5, array([1., 0.]))

    Raises:
        GradientError: an argument in argnums is not float; the function's output is not a float
            scalar; the function closes over an lg.input instead of taking it as an argument.
        InputError: argnums names a positional argument that was not passed.
    """
    what = f"value_and_grad({_fun_name(fun)})"
    return _wrap(_vg_transform(fun, argnums, has_aux, what, True), fun,
                 f"value and gradient of {_fun_name(fun)} (lg.value_and_grad)")


def grad(fun, argnums=0, has_aux=False):
    """f(*nodes, **nodes) -> scalar Node becomes f(*arrays, **arrays) -> grads, or
    (grads, aux) with has_aux=True; see value_and_grad.

    d f / d args[argnums], evaluated at the arrays.

    Examples:
        >>> lg.grad(lambda p: lg.sum(p * p))(np.array([1.0, 2.0]))
        array([2., 4.])

    Raises:
        GradientError: as value_and_grad (argument not float, output not a scalar).
        InputError: argnums names a positional argument that was not passed.
    """
    what = f"grad({_fun_name(fun)})"
    return _wrap(_vg_transform(fun, argnums, has_aux, what, False), fun,
                 f"gradient of {_fun_name(fun)} (lg.grad)")


_HVP = LRU(64)  # fun -> its traced Hessian-vector product


def hvp(fun, primals, tangents):
    """Hessian-vector products of a scalar fun at primals along tangents (tuples of arrays).

    Returns a tuple with one array per primal: d/dx <grad fun(x), v>. Traced once per fun
    and signature; tangent inputs are named after the parameters (x -> x_dot). Called with
    Nodes, it returns graphs.

    Math: H v = d/dx <grad f(x), v>, without forming the Hessian H.

    Examples:
        >>> lg.hvp(lambda p: lg.sum(p ** 3), (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
        (array([6., 0.]),)

    Raises:
        InputError: primals and tangents differ in number, or a tangent's shape differs from its
            primal's.
        GradientError: as value_and_grad (a primal not float, the output not a scalar).
    """
    primals, tangents = tuple(primals), tuple(tangents)
    what = f"hvp({_fun_name(fun)})"
    if len(primals) != len(tangents):
        raise InputError(f"{what}: {len(primals)} primals but {len(tangents)} tangents")
    if not primals:
        raise InputError(f"{what}: expected at least one primal array")
    try:
        transform = _HVP.get(fun)
    except TypeError:  # an unhashable callable: traced afresh each call
        return _hvp_transform(fun, what)(primals + tangents, {})
    if transform is None:
        transform = _HVP.put(fun, _hvp_transform(fun, what))
    return transform(primals + tangents, {})


def _hvp_names(params, nargs, keywords):
    k = nargs // 2
    primals = _input_names(params, k, ())
    return _input_names(primals + [f"{p}_dot" for p in primals], nargs, ())


def _hvp_transform(fun, what):
    def build(nodes, kw, given=None):
        k = len(nodes) // 2
        xs, vs = nodes[:k], nodes[k:]
        wrt = _wrt(transform, tuple(range(k)), xs, given[:k] if given else None)
        for i, (x, v) in enumerate(zip(xs, vs)):
            if v.shape != x.shape:
                raise InputError(f"{what}: the tangent of {transform.param(i, x)} has shape "
                                 f"{fmt_shape(v.shape)}, expected {fmt_shape(x.shape)}")
        _, gs = pipeline.derive(_scalar_loss(fun(*xs), what), wrt)
        inner = F.sum(gs[0] * vs[0])
        for g, v in zip(gs[1:], vs[1:]):
            inner = inner + F.sum(g * v)
        return pipeline.derive(inner, wrt)[1], tuple

    transform = _Transform(fun, what, build, names=_hvp_names)
    return transform
