"""Compiled kernels inside other frameworks: PyTorch (torch.py), JAX (jax.py) and Dask arrays
(dask.py, with the loss decomposition over batch blocks in decompose.py and the picklable kernel
handle that travels to workers in handle.py). Each module imports its framework; this package
imports none of them. See docs/interop.md.
"""


def to_torch(loss, wrt=None, mode="op", copy=False, **compile_options):
    """compile(loss, wrt=wrt, **compile_options).to_torch(mode=mode, copy=copy).

    Math: f(x) = L(x) as a torch tensor, with d f / d w = the kernel's gradient for w in wrt.

    Examples:
        >>> import torch
        >>> p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
        >>> f = codegen.to_torch(lg.mean(lg.square(p - t)), wrt=[p])
        >>> x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
        >>> y = f(x, torch.zeros(2, dtype=torch.float64))
        >>> y.backward()
        >>> y.item(), x.grad.tolist()
        (2.5, [1.0, 2.0])

    Raises:
        OptionError / GradientError / DTypeError: as codegen.compile; mode not "op" / "function";
            a loss with auxiliary outputs.
        ImportError: PyTorch is not installed.
    """
    from ..kernel import compile
    return compile(loss, wrt=wrt, **compile_options).to_torch(mode=mode, copy=copy)


def to_jax(loss, wrt=None, vmap_method="sequential", path="auto", **compile_options):
    """compile(loss, wrt=wrt, **compile_options).to_jax(vmap_method=vmap_method), on the given
    path ("auto", "xla_ffi" or "callback"; see codegen.interop.jax.to_jax).

    Math: f(x) = L(x) as a JAX value, with the kernel's gradients as its vector-Jacobian product.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
        >>> f = codegen.to_jax(lg.mean(lg.square(p - t)), wrt=[p])
        >>> value, g = jax.value_and_grad(f)(jnp.array([1.0, 2.0]), jnp.zeros(2))
        >>> float(value), g.tolist()
        (2.5, [1.0, 2.0])
        >>> codegen.to_jax(lg.mean(lg.square(p - t)), wrt=[p], backend="llvm").path
        'xla_ffi'

    Raises:
        OptionError / GradientError / DTypeError: as codegen.compile; a loss with auxiliary
            outputs; path not "auto" / "xla_ffi" / "callback", or "xla_ffi" for a kernel the
            FFI handler cannot run.
        ImportError: JAX is not installed.
    """
    from ..kernel import compile
    from .jax import to_jax as export
    return export(compile(loss, wrt=wrt, **compile_options), vmap_method=vmap_method, path=path)
