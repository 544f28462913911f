"""Backends that lower a loss and its gradient graphs to code: readable standalone NumPy
source now, LLVM-compiled kernels next (they register as another backend).

    k = codegen.compile(loss, wrt=["logits"], backend="numpy")
    value, (dlogits,) = k(logits=a, labels=b)
    print(k.source)
    f = codegen.jit(lambda p, t: lg.mean(lg.square(p - t)))    # like lg.value_and_grad

Layout: pipeline.py (the compile pipeline every backend shares: simplify -> gradients ->
simplify -> NaN guards -> CSE -> schedule), kernel.py (compile, jit, Kernel, the backend
registry and the kernel cache (a lossgraph.lru.LRU), the per-call argument check in argcheck.py),
numpy_backend.py (the emitter; the lowering table keyed by op name in numpy_lowering.py,
helpers in numpy_helpers.py, sealed execution in numpy_exec.py), names.py (identifier
sanitizing), interop/ (kernels as PyTorch and JAX functions, codegen.to_torch / to_jax, and
on Dask arrays, codegen.dask.value_and_grad; docs/interop.md). See docs/codegen.md.

Example (a kernel returns the value and one gradient per wrt, as lg.evaluate would):

    >>> p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
    >>> k = codegen.compile(lg.mean(lg.square(p - t)), wrt=[p])
    >>> value, (dpred,) = k(np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 3.0]))
    >>> float(value), dpred.round(4)
    (1.6666666666666667, array([0.    , 1.3333, 0.6667]))
    >>> codegen.jit(lambda a: lg.sum(a * a))(np.array([1.0, 2.0]))
    (np.float64(5.0), array([2., 4.]))

Errors: compile raises OptionError for an unknown backend, DTypeError for a dtype that is not
"float32"/"float64", GradientError for a wrt that is not a float input of the loss (and jit for
a function whose output is not a float scalar); a kernel's call raises the InputError,
ShapeError or DTypeError lg.evaluate raises for the same arrays.
"""
from .interop import to_jax, to_torch
from .kernel import BACKENDS, CACHE, Kernel, compile, jit, register_backend
from .pipeline import Schedule

__all__ = ["compile", "jit", "Kernel", "Schedule", "register_backend", "BACKENDS", "CACHE",
           "to_torch", "to_jax"]


def __getattr__(name):
    """codegen.dask (codegen.interop.dask) imports dask on first use, not with codegen."""
    if name == "dask":
        from .interop import dask
        return dask
    raise AttributeError(f"module 'codegen' has no attribute {name!r}")
from .llvm import lazy as _llvm_lazy  # noqa: E402,F401  registers backend="llvm"; llvmlite loads on first use
