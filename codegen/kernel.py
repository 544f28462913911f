"""compile(loss, wrt=..., backend=..., dtype=...) -> Kernel; jit(fun); the kernel cache.

    k = codegen.compile(loss, wrt=["logits"])      # loss: a Node, a lg.Loss or a list of Nodes
    value, (dlogits,) = k(logits=a, labels=b)       # or k(a, b) in the declared input order
    k(a, b, out=(buf,))                             # gradients written into buf

A kernel checks its arrays as lg.evaluate does (same errors: missing or extra names, wrong
dtypes, shapes, inconsistent dims), on a cheap path: one boolean check generated per kernel
(codegen.argcheck); anything unusual falls back to lossgraph.evaluate.bind, which raises
evaluate's error or converts the input as evaluate does.
Symbolic dims stay symbolic: one kernel serves every batch size.

Backends plug in by registering an object with a `build(schedule, name, options)` method that
returns a dict: "fn" (called as fn(*arrays, *gradient buffers)) and any of "source",
"llvm_ir", "optimized_ir", "asm" (shown by the Kernel's properties of the same names).
"""
from __future__ import annotations

import operator

import numpy as np

import lossgraph as lg
from lossgraph import dtypes as dt
from lossgraph.errors import InputError, OptionError
from lossgraph.evaluate import bind
from lossgraph.graph import Node
from lossgraph.lru import LRU
from lossgraph.shapes import fmt_shape

from . import pipeline
from .argcheck import build_check, build_out_check
from .numpy_backend import NumpyBackend

BACKENDS = {"numpy": NumpyBackend()}
CACHE = LRU(maxsize=128)


def register_backend(name, backend):
    """Make backend (an object with build(schedule, name, options)) available by name.

    Examples:
        >>> codegen.register_backend("numpy_again", codegen.BACKENDS["numpy"])
        >>> p = lg.input("p", shape=(2,))
        >>> codegen.compile(lg.sum(p * p), wrt=[p], backend="numpy_again")(np.array([1.0, 2.0]))
        (np.float64(5.0), (array([2., 4.]),))
        >>> del codegen.BACKENDS["numpy_again"]

    Raises:
        OptionError: backend has no callable build method.
    """
    if not callable(getattr(backend, "build", None)):
        raise OptionError(f"register_backend: backend {name!r} must have a build(schedule, "
                          f"name, options) method, got {type(backend).__name__}")
    BACKENDS[name] = backend


def _backend(name):
    if name not in BACKENDS:
        raise OptionError(f"compile: backend must be one of {sorted(BACKENDS)}, got {name!r}")
    return BACKENDS[name]


def _float_dtype(dtype):
    if dtype is None:
        return None
    d = dt.normalize_dtype(dtype, "compile dtype")
    if d not in ("float32", "float64"):
        raise OptionError(f"compile: dtype must be float32, float64 or None (the inputs' "
                          f"precision), got {dtype!r}")
    return d


def compile(loss, wrt=None, backend="numpy", dtype=None, inputs=None, name=None, **options):
    """A Kernel computing the loss (and, with wrt, its gradients) on arrays.

    loss: a Node, a lg.Loss or a list of Nodes (the first is differentiated, the rest are
    computed alongside). wrt: input names or nodes. dtype: None (each call in its inputs'
    precision) or "float32"/"float64" (inputs declared "float" must come in that precision).
    inputs: the kernel's argument order (input nodes; default: a Loss's declared inputs,
    else the inputs in the order the graph first uses them). Returns the cached kernel when
    the same graph is compiled again with the same arguments.

    Math: the kernel returns (L(x), (dL/dw for w in wrt)) for the loss L, the gradients being the
    derived gradient graphs (lg.gradients) after simplification, evaluated as lg.evaluate would.

    Examples:
        >>> p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
        >>> k = codegen.compile(lg.mean(lg.square(p - t)), wrt=[p])   # dL/dp = 2 (p - t) / N
        >>> k(pred=np.array([1.0, 2.0]), target=np.array([0.0, 0.0]))
        (np.float64(2.5), (array([1., 2.]),))
        >>> codegen.compile(lg.mean(lg.square(p - t)), wrt=[p]) is k     # the cache
        True

    Raises:
        OptionError: an unknown backend; a dtype other than float32 / float64 / None; option
            values that are not hashable.
        GradientError: a wrt that is not a float input of the loss.
    """
    be = _backend(backend)
    dtype = _float_dtype(dtype)
    declared, outs = pipeline.as_outputs(loss)
    if inputs is not None:
        declared = list(inputs.values()) if isinstance(inputs, dict) else list(inputs)
    name = name or (loss.name if isinstance(loss, lg.Loss) else
                    "loss_and_grad" if wrt is not None else "loss")
    wrt_key = _wrt_key(wrt)
    try:
        key = (tuple(outs), None if declared is None else tuple(declared), wrt_key, backend,
               dtype, name, tuple(sorted(options.items())))
        hash(key)
    except TypeError:
        raise OptionError(f"compile: option values must be hashable, got {options!r}") from None

    def build():
        sched = pipeline.build(outs, wrt, declared)
        artifact = be.build(sched, name, dict(options))
        return Kernel(sched, artifact, backend, dtype, name)

    return CACHE.get_or_build(key, build)


def _wrt_key(wrt):
    if wrt is None:
        return None
    if isinstance(wrt, (str, Node)):
        return (wrt,)
    return tuple(wrt)


class Kernel:
    """A compiled loss: call it with arrays; repr, .source, .graph tell what it is.

    Called as k(*arrays, out=None, **arrays): arrays positional in `input_names` order or by
    name; returns (value, tuple of gradients in `wrt` order), or just the value for a kernel
    without wrt. out: a tuple of preallocated gradient buffers (one per wrt, each of its input's
    shape and dtype, C-contiguous, not aliasing any input) the gradients are written into.
    Attributes: input_names, wrt, name, backend, dtype, schedule.

    Examples:
        >>> p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
        >>> k = codegen.compile(lg.mean(lg.square(p - t)), wrt=[p])
        >>> k
        <Kernel loss_and_grad(pred: float(N,), target: float(N,)) -> float() and d/d(pred); ...>
        >>> k.input_names, k.wrt
        (('pred', 'target'), ('pred',))
        >>> buf = np.empty(2)
        >>> value, (g,) = k(np.array([1.0, 2.0]), np.array([0.0, 0.0]), out=(buf,))
        >>> float(value), buf
        (2.5, array([1., 2.]))

    Raises:
        InputError: a missing, extra or twice-given input; more positional arrays than inputs;
            out not a tuple of one fitting buffer per wrt (the message says which and why).
        ShapeError: an array whose shape does not fit its input or binds a dim inconsistently.
        DTypeError: an array of the wrong dtype (a float input of a kernel compiled for another
            dtype included).
    """

    def __init__(self, schedule, artifact, backend, dtype, name):
        self.schedule, self.backend, self.dtype, self.name = schedule, backend, dtype, name
        self._artifact = artifact
        self._fn = artifact["fn"]
        prefer = getattr(self._fn, "prefer", None)
        if dtype and prefer is not None:       # texts of the precision the kernel takes
            prefer(dtype)
        # a backend may take (arrays, gradient buffers) as they are, without repacking
        self._direct = getattr(self._fn, "call_arrays", None)
        # and may offer one generated entry that checks and runs plain calls alone
        self._entry, self._fast = getattr(self._fn, "entry", None), None
        # an entry checks one precision's dtypes: a kernel called in both gets a second one
        self._second, self._entry_dtypes = None, set()
        self.input_names = tuple(schedule.inputs)
        names = self.input_names
        self._pick = operator.itemgetter(*names) if len(names) > 1 else \
            (lambda kw: tuple(kw[n] for n in names))       # itemgetter of one: not a tuple
        self.wrt = tuple(w.name for w in schedule.wrt)
        self._n = len(self.input_names)
        self._ok = build_check(list(schedule.inputs.values()), dtype) or \
            (lambda *arrays: False)
        self._fits = build_out_check(list(schedule.inputs.values()),
                                     [self.input_names.index(w) for w in self.wrt])

    # --- calling
    def __call__(self, *args, out=None, **kwargs):
        fast = self._fast
        if fast is not None:
            result = fast(args, out) if not kwargs else self._by_name(fast, args, kwargs, out)
            if result is not None:
                return result
            if self._second is not None:
                result = self._second(args, out) if not kwargs else \
                    self._by_name(self._second, args, kwargs, out)
                if result is not None:
                    return result
        arrays = args if (not kwargs and len(args) == self._n) else self._gather(args, kwargs)
        if not self._ok(*arrays):
            arrays = self._checked(arrays)
        if out is not None:
            self._check_out(out, arrays)
        if self._direct is None:
            return self._fn(*arrays) if out is None else self._fn(*arrays, *out)
        result = self._direct(arrays, () if out is None else out)
        if self._entry is not None:
            self._make_entry(fast, arrays)
        return result

    def _by_name(self, fast, args, kwargs, out):
        """An entry's call with every input by name, in any order (None: it declines)."""
        if args or len(kwargs) != self._n:
            return None
        try:
            picked = self._pick(kwargs)
        except KeyError:
            return None
        return fast(picked, out)

    def _make_entry(self, fast, arrays):
        """The backend's entry for calls like arrays, once per dtypes: the first, or a second
        one for the other precision (None: not yet; False: never)."""
        dtypes = tuple(a.dtype for a in arrays)
        if dtypes in self._entry_dtypes or (fast is not None and self._second is not None):
            return
        made = self._entry(arrays, self._fits)
        if made is None:
            return
        self._entry_dtypes.add(dtypes)
        if fast is None:
            if made is False:
                self._entry = None
            else:
                self._fast = made
        elif made is not False:
            self._second = made

    def _gather(self, args, kwargs):
        if len(args) > self._n:
            raise InputError(f"{self.name}: takes {self._n} inputs "
                             f"({', '.join(self.input_names)}), got {len(args)} arrays")
        given = dict(zip(self.input_names, args))
        for k, v in kwargs.items():
            if k in given:
                raise InputError(f"{self.name}: input {k!r} given twice")
            given[k] = v
        if len(given) != self._n or any(n not in given for n in self.input_names):
            bind(self.schedule.inputs, given)      # raises evaluate's missing/extra error
        return [given[n] for n in self.input_names]

    def _checked(self, arrays):
        """The general check (lg.evaluate's): raises its error, or returns arrays it accepts
        (Python scalars and lists become arrays)."""
        env = bind(self.schedule.inputs, dict(zip(self.input_names, arrays)))
        out = [env.arrays[n] for n in self.input_names]
        if self.dtype:
            for n, node in self.schedule.inputs.items():
                a = env.arrays[n]
                if node.dtype == "float" and a.dtype != np.dtype(self.dtype):
                    raise lg.DTypeError(f"input {n!r}: this kernel was compiled for "
                                        f"dtype {self.dtype}, got {a.dtype}")
        return out

    def _check_out(self, out, arrays):
        if not isinstance(out, tuple) or len(out) != len(self.wrt):
            raise InputError(f"{self.name}: out must be a tuple of {len(self.wrt)} gradient "
                             f"buffers (for {', '.join(self.wrt) or 'no inputs'}), got "
                             f"{type(out).__name__}"
                             + (f" of {len(out)}" if isinstance(out, (tuple, list)) else ""))
        if self._fits(out, *arrays):
            return
        env = bind(self.schedule.inputs, dict(zip(self.input_names, arrays)))
        for k, (w, buf) in enumerate(zip(self.schedule.wrt, out)):
            what = f"out[{k}] (the gradient w.r.t. {w.name!r})"
            shape = tuple(d if isinstance(d, int) else lg.shapes.resolve_dim(d, env.dims)
                          for d in w.shape)
            want = dt.numpy_dtype(w.dtype, env.float_dtype)
            if not isinstance(buf, np.ndarray):
                raise InputError(f"{what}: expected a NumPy array, got {type(buf).__name__}")
            if buf.shape != shape:
                raise InputError(f"{what}: expected shape {fmt_shape(shape)}, got "
                                 f"{fmt_shape(buf.shape)}")
            if buf.dtype != want:
                raise InputError(f"{what}: expected dtype {want}, got {buf.dtype}")
            if not buf.flags.c_contiguous or not buf.flags.writeable:
                raise InputError(f"{what}: expected a writeable C-contiguous array")
            for n, a in zip(self.input_names, arrays):
                if np.may_share_memory(buf, a):
                    raise InputError(f"{what}: shares memory with input {n!r}; a gradient "
                                     f"buffer must not alias the inputs")
            for j, other in enumerate(out[:k]):
                if np.may_share_memory(buf, other):
                    raise InputError(f"{what}: shares memory with out[{j}]")

    # --- what it is
    @property
    def graph(self):
        """The scheduled graph: lossgraph.pipeline output plus order and last uses.

        Examples:
            >>> p = lg.input("p", shape=(2,))
            >>> k = codegen.compile(lg.sum(p * p), wrt=[p])
            >>> type(k.graph).__name__, list(k.graph.inputs)
            ('Schedule', ['p'])
        """
        return self.schedule

    def _shown(self, key):
        if key not in self._artifact:
            raise AttributeError(f"the {self.backend} backend produces no {key}")
        return self._artifact[key]

    source = property(lambda self: self._shown("source"), doc="""The generated source (NumPy
        module, or the backend's text).

        Examples:
            >>> p = lg.input("p", shape=(2,))
            >>> print(codegen.compile(lg.sum(p * p)).source.splitlines()[1])
            import numpy as np

        Raises:
            AttributeError: the backend produces no source.
        """)
    llvm_ir = property(lambda self: self._shown("llvm_ir"), doc="""The LLVM IR as generated
        (backend="llvm"), before optimization.

        Examples:
            >>> p = lg.input("p", shape=(2,))
            >>> k = codegen.compile(lg.sum(p * p), backend="llvm", dtype="float64")
            >>> print(k.llvm_ir.splitlines()[0])
            ; precision float64

        Raises:
            AttributeError: the backend produces no LLVM IR (backend="numpy").
        """)
    optimized_ir = property(lambda self: self._shown("optimized_ir"), doc="""The LLVM IR
        after the optimization passes (backend="llvm").

        Examples:
            >>> p = lg.input("p", shape=(2,))
            >>> k = codegen.compile(lg.sum(p * p), backend="llvm", dtype="float64")
            >>> "define" in k.optimized_ir
            True

        Raises:
            AttributeError: the backend produces no optimized IR (backend="numpy").
        """)
    asm = property(lambda self: self._shown("asm"), doc="""The native assembly of the
        kernel (backend="llvm").

        Examples:
            >>> p = lg.input("p", shape=(2,))
            >>> k = codegen.compile(lg.sum(p * p), backend="llvm", dtype="float64")
            >>> isinstance(k.asm, str) and len(k.asm) > 0
            True

        Raises:
            AttributeError: the backend produces no assembly (backend="numpy").
        """)

    # --- in other frameworks (codegen.interop; each imports its framework on first use)
    def to_torch(self, mode="op", copy=False):
        """This kernel as a differentiable function of torch CPU tensors (docs/interop.md).

        Examples are in codegen.interop.torch.to_torch (they need PyTorch, the `interop` extra).

        Raises:
            OptionError: mode is not "op" / "function"; the kernel has auxiliary outputs.
            ImportError: PyTorch is not installed.
        """
        from .interop.torch import to_torch
        return to_torch(self, mode=mode, copy=copy)

    def to_jax(self, vmap_method="sequential", path="auto"):
        """This kernel as a JAX function that jit, grad and vmap accept (docs/interop.md):
        through an XLA FFI handler for LLVM kernels (path="auto" or "xla_ffi"), else through
        a host callback (path="callback"; the NumPy backend's only path).

        Examples are in codegen.interop.jax.to_jax (they need JAX, the `interop` extra).

        Raises:
            OptionError: the kernel has auxiliary outputs; a path the kernel cannot take.
            ImportError: JAX is not installed.
        """
        from .interop.jax import to_jax
        return to_jax(self, vmap_method=vmap_method, path=path)

    def __repr__(self):
        ins = ", ".join(f"{n}: {i.dtype}{fmt_shape(i.shape)}"
                        for n, i in self.schedule.inputs.items())
        outs = ", ".join(f"{v.dtype}{fmt_shape(v.shape)}" for v in self.schedule.values)
        grads = f" and d/d({', '.join(self.wrt)})" if self.wrt else ""
        return (f"<Kernel {self.name}({ins}) -> {outs}{grads}; backend={self.backend}, "
                f"dtype={self.dtype or 'of the inputs'}>")


# --- jit: the compiled twin of lg.value_and_grad (its tracing helpers, so the same contract)

def jit(fun, argnums=0, backend="numpy", has_aux=False, maxsize=64, **options):
    """fun(*nodes, **nodes) -> scalar Node becomes f(*arrays, **arrays) -> (value, grads),
    with lg.value_and_grad's contract: traced and compiled once per signature (shapes, dtypes
    and keyword names) into a kernel kept in a bounded LRU; arguments become inputs named
    after fun's parameters; gradients for argnums (an int gives one array, a tuple a tuple);
    an unused argument gets a zero gradient; keyword arguments are inputs, never
    differentiated; has_aux=True means fun returns (loss, aux) and the value is (value, aux).

    Math: f(*x) = (F(x), dF/dx_argnums), as lg.value_and_grad(fun, argnums)(*x).

    Examples:
        >>> f = codegen.jit(lambda a, b: lg.sum(a * b), argnums=(0, 1))
        >>> f(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
        (np.float64(11.0), (array([3., 4.]), array([1., 2.])))
        >>> value, g = codegen.jit(lambda a: (lg.sum(a * a), a + 1), has_aux=True)(np.array([1.0]))
        >>> value, g
        ((np.float64(1.0), array([2.])), array([2.]))

    Raises:
        OptionError: argnums not a non-negative int or a tuple of distinct ones; an unknown
            backend.
    InputError: argnums beyond the positional arguments given.
        GradientError: fun's output is not a float scalar (or not a (loss, aux) pair with
            has_aux=True); an argnums argument that is not float.
        InputError / ShapeError / DTypeError: as a compiled kernel's call, for the arrays given.
    """
    from lossgraph import transforms as T
    what = f"jit({T._fun_name(fun)})"
    single, nums = T._normalize_argnums(argnums, what)
    tracer = T._Transform(fun, what, build=None)
    kernels = LRU(maxsize)

    def trace(nargs, keywords, arrays):
        names = tracer.names(tracer.params, nargs, keywords)
        nodes = [lg.input(n, shape=a.shape, dtype=tracer.input_dtype(n, a))
                 for n, a in zip(names, arrays)]
        positional, kw = nodes[:nargs], dict(zip(keywords, nodes[nargs:]))
        wrt = T._wrt(tracer, nums, positional, None)
        out, aux = T._split_aux(fun(*positional, **kw), has_aux, what)
        leaves = []
        spec = T._flatten(aux, leaves)
        kernel = compile([T._scalar_loss(out, what), *leaves], wrt=wrt, backend=backend,
                         inputs=nodes, name=T._fun_name(fun), **options)
        return kernel, spec, bool(leaves)

    def wrapped(*args, **kwargs):
        arrays = T._as_arrays(list(args) + list(kwargs.values()))
        key = (len(args), tuple(kwargs), tuple((a.shape, a.dtype) for a in arrays))
        kernel, spec, has_leaves = kernels.get_or_build(
            key, lambda: trace(len(args), list(kwargs), arrays))
        value, grads = kernel(*arrays)
        if has_aux:
            rest = iter(value[1:]) if has_leaves else iter(())
            value = ((value[0] if has_leaves else value), T._unflatten(spec, rest))
        return value, (grads[0] if single else tuple(grads))

    wrapped.cache = kernels
    wrapped.__wrapped__ = fun
    wrapped.__name__ = T._fun_name(fun)
    return wrapped
