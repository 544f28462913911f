"""Backends that lower a loss and its gradient graphs to code: readable standalone NumPy
source now, LLVM-compiled kernels next (they register as another backend).

    k = codegen.compile(loss, wrt=["logits"], backend="numpy")
    value, (dlogits,) = k(logits=a, labels=b)
    print(k.source)
    f = codegen.jit(lambda p, t: lg.mean(lg.square(p - t)))    # like lg.value_and_grad

Layout: pipeline.py (the compile pipeline every backend shares: simplify -> gradients ->
simplify -> NaN guards -> CSE -> schedule), kernel.py (compile, jit, Kernel, the backend
registry and the kernel cache in cache.py, the per-call argument check in argcheck.py),
numpy_backend.py (the emitter; the lowering table keyed by op name in numpy_lowering.py,
helpers in numpy_helpers.py, sealed execution in numpy_exec.py), names.py (identifier
sanitizing). See docs/codegen.md.
"""
from .kernel import BACKENDS, CACHE, Kernel, compile, jit, register_backend
from .pipeline import Schedule

__all__ = ["compile", "jit", "Kernel", "Schedule", "register_backend", "BACKENDS", "CACHE"]
from .llvm import lazy as _llvm_lazy  # noqa: E402,F401  registers backend="llvm"; llvmlite loads on first use
