"""A compiled kernel as a JAX function: jit, grad, value_and_grad and vmap accept it.

    f = kernel.to_jax()                 # or codegen.to_jax(loss, wrt=["logits"])
    value, g = jax.value_and_grad(f)(logits, labels)      # positional, or by name

A jax.custom_vjp over jax.pure_callback (results declared with jax.ShapeDtypeStruct): the
forward calls the kernel once on the host and keeps its gradients as residuals; the backward
is g * dloss/dx (the loss is a scalar). Inputs not in the kernel's wrt get a zero cotangent.
vmap runs the kernel once per example (vmap_method="sequential").

Limits, each a clear error: no forward mode (jax.jvp / jacfwd: JAX's custom_vjp TypeError), no
second order (differentiating the gradients raises GradientError), float16/bfloat16 and a
dtype other than the kernel's raise DTypeError. Under jax_enable_x64=False, JAX has no float64
or int64: integer inputs are widened on the host to the kernel's dtype.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from lossgraph.errors import DTypeError, GradientError, InputError, OptionError

from .calling import SECOND_ORDER, gather


def to_jax(kernel, vmap_method="sequential"):
    """The kernel as f(*arrays, **arrays) -> loss, a JAX function (see the module doc).

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
        >>> f = codegen.compile(lg.mean(lg.square(p - t)), wrt=[p]).to_jax()
        >>> jax.grad(f)(jnp.array([1.0, 2.0]), jnp.zeros(2)).tolist()    # 2 (x - t) / N
        [1.0, 2.0]
        >>> jax.vmap(f)(jnp.array([[1.0, 2.0], [3.0, 3.0]]), jnp.zeros((2, 2))).tolist()
        [2.5, 9.0]

    Raises:
        OptionError: the kernel has auxiliary outputs.
        InputError (calling f): a missing, unknown or doubled input; an argument that is not a
            JAX or NumPy array.
        DTypeError (calling f): a float input not float32 / float64, or not the kernel's dtype.
        GradientError: differentiating the gradients again (second order).
        TypeError: forward mode (jax.jvp / jacfwd), from JAX's custom_vjp.
    """
    if len(kernel.schedule.values) != 1:
        raise OptionError(f"to_jax: the kernel {kernel.name!r} has auxiliary outputs; "
                          f"export a kernel of the loss alone")
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

        def checked(*a):
            outs = host(*a)
            for t, o in zip(types, outs):
                if o.dtype != t.dtype or o.shape != t.shape:
                    raise DTypeError(f"{kernel.name}: the kernel returned {o.dtype}{o.shape}, "
                                     f"declared {t.dtype}{t.shape}")
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

    f.kernel = kernel
    f.__name__ = f"{kernel.name}_jax"
    f.__doc__ = (f"{kernel.name}({', '.join(names)}) -> loss; differentiable w.r.t. "
                 f"{', '.join(kernel.wrt) or 'nothing'} (lossgraph kernel, host callback)")
    return f


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
