"""A compiled kernel as a JAX function: jit, grad, value_and_grad and vmap accept it.

    f = kernel.to_jax()                 # or codegen.to_jax(loss, wrt=["logits"])
    value, g = jax.value_and_grad(f)(logits, labels)      # positional, or by name
    f.path                              # "xla_ffi" or "callback" (f.path_reason says why)

A jax.custom_vjp: the forward runs the kernel once and keeps its gradients as residuals; the
backward is g * dloss/dx (the loss is a scalar). Inputs not in the kernel's wrt get a zero
cotangent. The kernel runs on one of two paths:

- "xla_ffi" (LLVM-backend kernels): jax.ffi.ffi_call of an XLA FFI handler generated in LLVM IR
  (codegen.interop.xla_ffi), which calls the kernel's native entry on XLA's buffers: the value
  and gradients are written straight into the results XLA allocated, and no Python runs per
  call. Shapes are checked when JAX traces the call (lossgraph's ShapeError / DTypeError).
- "callback" (the NumPy backend, LLVM programs the handler declines, and any kernel when JAX's
  default backend is not the CPU): jax.pure_callback (results declared with
  jax.ShapeDtypeStruct) calls the kernel on the host, and its results are copied into XLA's
  buffers.

vmap runs the kernel once per example on either path (vmap_method="sequential").

Limits, each a clear error: no forward mode (jax.jvp / jacfwd: JAX's custom_vjp TypeError), no
second order (differentiating the gradients raises GradientError), float16/bfloat16 and a
dtype other than the kernel's raise DTypeError. Under jax_enable_x64=False, JAX has no float64
or int64: integer inputs are widened to the kernel's int64 (on the host, or by the handler).
A label out of range raises InputError on the callback path and JAX's runtime error (its
message names the kernel) on the FFI path.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from lossgraph.errors import DTypeError, GradientError, InputError, OptionError

from .calling import SECOND_ORDER, gather


def to_jax(kernel, vmap_method="sequential", path="auto"):
    """The kernel as f(*arrays, **arrays) -> loss, a JAX function (see the module doc).

    path: "auto" (the XLA FFI handler when it can run the kernel, else the host callback),
    "xla_ffi" or "callback". f.path says which one f uses, f.path_reason why not the handler.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
        >>> f = codegen.compile(lg.mean(lg.square(p - t)), wrt=[p]).to_jax()
        >>> jax.grad(f)(jnp.array([1.0, 2.0]), jnp.zeros(2)).tolist()    # 2 (x - t) / N
        [1.0, 2.0]
        >>> jax.vmap(f)(jnp.array([[1.0, 2.0], [3.0, 3.0]]), jnp.zeros((2, 2))).tolist()
        [2.5, 9.0]
        >>> f.path, f.path_reason
        ('callback', 'the numpy backend has no native entry')
        >>> codegen.compile(lg.mean(lg.square(p - t)), wrt=[p], backend="llvm").to_jax().path
        'xla_ffi'

    Raises:
        OptionError: the kernel has auxiliary outputs; path not "auto" / "xla_ffi" /
            "callback", or "xla_ffi" for a kernel the handler cannot run.
        InputError (calling f): a missing, unknown or doubled input; an argument that is not a
            JAX or NumPy array.
        DTypeError (calling f): a float input not float32 / float64, or not the kernel's dtype.
        GradientError: differentiating the gradients again (second order).
        TypeError: forward mode (jax.jvp / jacfwd), from JAX's custom_vjp.
    """
    if len(kernel.schedule.values) != 1:
        raise OptionError(f"to_jax: the kernel {kernel.name!r} has auxiliary outputs; "
                          f"export a kernel of the loss alone")
    if path not in ("auto", "xla_ffi", "callback"):
        raise OptionError(f"to_jax: path must be 'auto', 'xla_ffi' or 'callback', got {path!r}")
    if path == "callback":
        reason = "asked for (path='callback')"
    else:
        can, reason = kernel_path(kernel)
        if path == "xla_ffi" and can != path:
            raise OptionError(f"to_jax: the XLA FFI handler cannot run the kernel "
                              f"{kernel.name!r}: {reason}; use path='callback'")
        path = can
    names = kernel.input_names
    nodes = list(kernel.schedule.inputs.values())
    wrt_pos = [names.index(w) for w in kernel.wrt]

    def host(*arrays):
        arrays = [_host_array(kernel, node, np.asarray(a)) for node, a in zip(nodes, arrays)]
        out = kernel(*arrays)
        value, grads = out if kernel.wrt else (out, ())
        return (np.asarray(value), *[np.asarray(g) for g in grads])

    def result_types(arrays):
        fdt = _float_dtype(kernel, nodes, arrays)
        return (jax.ShapeDtypeStruct((), fdt),
                *[jax.ShapeDtypeStruct(arrays[p].shape, fdt) for p in wrt_pos])

    def call(arrays):
        types = result_types(arrays)
        native = _ffi_call(kernel, nodes, arrays, types, vmap_method) if path == "xla_ffi" \
            else None
        if native is not None:
            return _no_jvp(kernel, native)(*arrays)

        def checked(*a):
            outs = host(*a)
            for t, o in zip(types, outs):
                if o.dtype != t.dtype or o.shape != t.shape:
                    hint = "; the inputs reached the host callback as float32: " \
                        "jax.enable_x64() is thread-local and the callback runs on XLA's " \
                        "thread, so set jax.config.update('jax_enable_x64', True)" \
                        if (o.dtype, t.dtype) == (np.float32, np.float64) else ""
                    raise DTypeError(f"{kernel.name}: the kernel returned {o.dtype}{o.shape}, "
                                     f"declared {t.dtype}{t.shape}{hint}")
            return outs
        return _no_jvp(kernel, lambda *a: jax.pure_callback(checked, types, *a,
                                                            vmap_method=vmap_method))(*arrays)

    @jax.custom_vjp
    def loss(*arrays):
        return call(arrays)[0]

    def fwd(*arrays):
        value, *grads = call(arrays)
        return value, tuple(grads)

    def bwd(grads, g):
        out = [None] * len(names)
        for p, d in zip(wrt_pos, grads):
            out[p] = g * d
        return tuple(out)

    loss.defvjp(fwd, bwd)

    @functools.wraps(loss)
    def f(*args, **kwargs):
        arrays = gather(kernel, args, kwargs, "arrays")
        arrays = [_jax_array(kernel, n, node, a) for n, node, a in zip(names, nodes, arrays)]
        return loss(*arrays)

    f.kernel, f.path, f.path_reason = kernel, path, reason
    f.__name__ = f"{kernel.name}_jax"
    how = "XLA FFI handler" if path == "xla_ffi" else f"host callback: {reason}"
    f.__doc__ = (f"{kernel.name}({', '.join(names)}) -> loss; differentiable w.r.t. "
                 f"{', '.join(kernel.wrt) or 'nothing'} (lossgraph kernel, {how})")
    return f


def kernel_path(kernel):
    """("xla_ffi", None) when the FFI handler runs this kernel (its default precision
    compiled to tell), else ("callback", why)."""
    program = _program(kernel, None)
    if program is None:
        return "callback", f"the {kernel.backend} backend has no native entry"
    from .xla_ffi import declines
    why = declines(program)
    return ("callback", why) if why else ("xla_ffi", None)


def _program(kernel, float_t, shapes=None):
    """The LLVM Program of kernel for float_t (None: its default) and, given the input
    shapes, the one a call with those shapes runs; or None (not LLVM)."""
    fn = kernel._fn
    try:
        from ..llvm.backend import LLVMKernel
    except ImportError:
        return None
    if not isinstance(fn, LLVMKernel):
        return None
    if shapes is not None:
        return fn.program_for(float_t or fn.default, shapes)
    return fn.program(float_t or fn.default)


def _ffi_call(kernel, nodes, arrays, types, vmap_method):
    """fn(*arrays) -> (value, *grads) through the kernel's FFI target for these arrays'
    dtypes, or None when this precision's program needs the callback. Shapes are checked
    here (at trace time), as the kernel checks its arrays."""
    from lossgraph.evaluate import bind

    from .xla_ffi import target
    if jax.default_backend() != "cpu":            # the target is registered for the CPU only
        return None
    float_t = types[0].dtype.name
    if any(node.dtype == "float" and a.dtype != float_t for node, a in zip(nodes, arrays)):
        return None
    program = _program(kernel, float_t, [a.shape for a in arrays])
    widen, in_dtypes = [], []
    for node, a in zip(nodes, arrays):
        d = a.dtype.name
        if node.dtype.startswith(("int", "uint")) and d != node.dtype:
            widen.append(not (node.dtype == "int64" and d == "int32"))
            d = d if not widen[-1] else node.dtype
        else:
            widen.append(False)
        in_dtypes.append(d)
    t = target(program, in_dtypes, kernel.name)
    if t is None:
        return None
    shapes = [tuple(a.shape) for a in arrays]
    bind(kernel.schedule.inputs,
         {n: np.broadcast_to(np.zeros((), node.dtype if node.dtype != "float" else float_t), s)
          for n, node, s in zip(kernel.input_names, nodes, shapes)})
    ffi = jax.ffi.ffi_call(t.name, t.result_types(shapes), vmap_method=vmap_method)
    n = 1 + t.n_grads

    def native(*a):
        a = [x.astype(node.dtype) if w else x for x, node, w in zip(a, nodes, widen)]
        return tuple(ffi(*a)[:n])
    return native


def _no_jvp(kernel, fn):
    """fn whose derivative raises: reached only when gradients are differentiated again."""
    guarded = jax.custom_jvp(fn)

    @guarded.defjvp
    def _(primals, tangents):
        raise GradientError(SECOND_ORDER.format(name=kernel.name))
    return guarded


def _jax_array(kernel, name, node, a):
    if not isinstance(a, (jax.Array, np.ndarray, np.generic, float, int)):
        raise InputError(f"{kernel.name}: input {name!r} must be a JAX or NumPy array, got "
                         f"{type(a).__name__}")
    a = jnp.asarray(a)
    if node.dtype == "float":
        if a.dtype not in (jnp.float32, jnp.float64):
            raise DTypeError(f"{kernel.name}: input {name!r} must be float32 or float64, got "
                             f"{a.dtype}")
        if kernel.dtype and a.dtype != np.dtype(kernel.dtype):
            raise DTypeError(f"{kernel.name}: input {name!r}: this kernel was compiled for "
                             f"dtype {kernel.dtype}, got {a.dtype}")
    return a


def _host_array(kernel, node, a):
    """What the kernel reads: JAX's int32 (x64 off) widened to a declared int64."""
    if node.dtype.startswith(("int", "uint")) and a.dtype != np.dtype(node.dtype):
        return a.astype(node.dtype)
    return a


def _float_dtype(kernel, nodes, arrays):
    for node, a in zip(nodes, arrays):
        if node.dtype == "float":
            return a.dtype
    return np.dtype(kernel.dtype or "float64")
