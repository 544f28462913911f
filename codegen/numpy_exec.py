"""Executing generated NumPy source in a sealed namespace.

The module sees only the builtins its helpers use and an import statement that admits NumPy
alone; nothing from a user string is evaluated (names went through codegen.names). The module's
InputError is rebound to lossgraph's, so a kernel raises the error lg.evaluate raises.
"""
from __future__ import annotations

import builtins
import importlib

from lossgraph.errors import InputError

from .generated import compiled

_ALLOWED = ("range", "len", "float", "int", "bool", "tuple", "list", "zip", "enumerate",
            "isinstance", "min", "max", "abs", "slice", "ValueError", "TypeError",
            "IndexError", "object", "__build_class__")


def _import_numpy_only(name, globals=None, locals=None, fromlist=(), level=0):
    if level or not (name == "numpy" or name.startswith("numpy.")):
        raise ImportError(f"generated kernels may import only numpy, not {name!r}")
    module = importlib.import_module(name)     # NumPy imports its own submodules lazily
    return module if fromlist else importlib.import_module(name.partition(".")[0])


def sealed_builtins():
    table = {k: getattr(builtins, k) for k in _ALLOWED}
    table["__import__"] = _import_numpy_only
    return table


def load(source, fn_name, filename="<lossgraph kernel>"):
    """Run the module source; return its function fn_name, called under ignored
    floating-point errors (the module's @np.errstate, or its cheaper equivalent)."""
    namespace = {"__builtins__": sealed_builtins(), "__name__": "lossgraph_kernel"}
    exec(compiled(source, filename), namespace)  # noqa: S102 (our own generated code)
    if "InputError" in namespace:
        namespace["InputError"] = InputError
    return quiet(namespace[fn_name])


def quiet(fn):
    """fn(*args) with NumPy's floating-point errors ignored. np.errstate costs ~1.5 us per
    call; setting NumPy's error-state context variable directly costs a tenth of that (with
    np.errstate as the fallback where NumPy keeps its state elsewhere)."""
    inner = getattr(fn, "__wrapped__", None)
    try:
        from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj
        ignore = _make_extobj(all="ignore")
    except (ImportError, TypeError):
        return fn
    if inner is None:
        return fn
    set_, reset = _extobj_contextvar.set, _extobj_contextvar.reset

    def call(*args):
        token = set_(ignore)
        try:
            return inner(*args)
        finally:
            reset(token)
    call.__wrapped__ = fn
    return call
