"""Optional modules a test file uses, imported by the first test that touches them.

    torch = lazy("torch")           # like pytest.importorskip("torch"), at first attribute use

Every xdist worker collects every test file, and torch, jax and distributed take 1-3 s each
to import: imported at module level, each worker paid for all of them before its first test.
A test that touches a missing module is skipped, as pytest.importorskip skips a module.
"""
import importlib
import types

import pytest


#: attributes pytest's collection asks of every module global (answered without the import)
PROBES = ("_pytestfixturefunction", "_fixture_function_marker", "pytestmark")


class lazy(types.ModuleType):
    """A stand-in for the module `name`, imported (or the test skipped) on first attribute
    access."""

    def __init__(self, name):
        super().__init__(name)
        self.__dict__["_lazy_name"] = name

    def __reduce__(self):                     # pickled (cloudpickle, dask) as the module itself
        return importlib.import_module, (self.__dict__["_lazy_name"],)

    def __getattr__(self, attr):
        if attr.startswith("__") or attr in PROBES:     # pytest's collection looks these up
            raise AttributeError(attr)
        return getattr(pytest.importorskip(self.__dict__["_lazy_name"]), attr)
