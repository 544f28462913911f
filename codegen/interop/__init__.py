"""Compiled kernels inside other frameworks: PyTorch (torch.py), JAX (jax.py) and Dask arrays
(dask.py, with the loss decomposition over batch blocks in decompose.py and the picklable kernel
handle that travels to workers in handle.py). Each module imports its framework; this package
imports none of them. See docs/interop.md.
"""


def to_torch(loss, wrt=None, mode="op", copy=False, **compile_options):
    """compile(loss, wrt=wrt, **compile_options).to_torch(mode=mode, copy=copy)."""
    from ..kernel import compile
    return compile(loss, wrt=wrt, **compile_options).to_torch(mode=mode, copy=copy)


def to_jax(loss, wrt=None, vmap_method="sequential", **compile_options):
    """compile(loss, wrt=wrt, **compile_options).to_jax(vmap_method=vmap_method)."""
    from ..kernel import compile
    return compile(loss, wrt=wrt, **compile_options).to_jax(vmap_method=vmap_method)
