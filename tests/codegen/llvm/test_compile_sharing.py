"""What a compile shares and what it builds: the same IR compiles once while its JitModule lives,
modules share MCJIT engines without their symbols meeting, an engine goes with its last module,
and a first call builds only the program it runs."""
import ctypes
import gc
import re
import weakref

import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import jit


def _const_module(value, name="f"):
    """IR text of i64 name(i64 x) = x + value."""
    return (f"define i64 @{name}(i64 %x) {{\n  %y = add i64 %x, {value}\n  ret i64 %y\n}}\n")


def _fn(jm, name="f"):
    return jm.function(name, ctypes.c_int64, ctypes.c_int64)


@pytest.fixture
def fresh_engine():
    """The next module starts a new engine (so a test sees whole engines)."""
    with jit._LOCK:
        jit._STATE.pop("engine", None)
    yield


@pytest.fixture(autouse=True)
def fresh_kernels():
    codegen.CACHE.clear()
    yield
    codegen.CACHE.clear()


def test_same_ir_compiles_once_while_its_module_lives():
    text = _const_module(1001)
    first = jit.compile_module(text)
    assert jit.compile_module(text) is first
    ref = weakref.ref(first)
    del first
    gc.collect()
    assert ref() is None
    again = jit.compile_module(text)
    assert _fn(again)(1) == 1002


def test_rejected_ir_is_not_remembered():
    bad = "define i32 @f() {\n  ret double 0.0\n}\n"
    for _ in range(2):
        with pytest.raises(jit.CompileError, match="LLVM rejected"):
            jit.compile_module(bad)


def test_modules_in_one_engine_keep_their_own_symbols(fresh_engine):
    """Every module defines f; each function runs its own module's code."""
    mods = [jit.compile_module(_const_module(2000 + j)) for j in range(3)]
    assert len({id(m._engine) for m in mods}) == 1
    fns = [_fn(m) for m in mods]
    del mods
    gc.collect()
    assert [f(5) for f in fns] == [2005, 2006, 2007]
    assert jit.compile_module(_const_module(2000)).address("f") == \
        ctypes.cast(fns[0], ctypes.c_void_p).value


def test_an_engine_holds_at_most_engine_modules(fresh_engine):
    mods = [jit.compile_module(_const_module(3000 + j)) for j in range(jit.ENGINE_MODULES + 1)]
    engines = [m._engine for m in mods]
    assert all(e is engines[0] for e in engines[:-1]) and engines[-1] is not engines[0]
    assert [_fn(m)(0) for m in mods] == [3000 + j for j in range(len(mods))]


def test_engine_lives_while_any_function_into_it_lives(fresh_engine):
    mods = [jit.compile_module(_const_module(4000 + j)) for j in range(jit.ENGINE_MODULES)]
    engine = weakref.ref(mods[0]._engine)
    kept = _fn(mods[3])
    del mods
    gc.collect()
    later = jit.compile_module(_const_module(4999))      # the full engine is no longer current
    assert later._engine is not engine()
    assert engine() is not None and kept(1) == 4004
    del kept
    gc.collect()
    assert engine() is None
    assert _fn(later)(1) == 5000


def _loss():
    p, t = lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))
    return p, lg.mean(lg.square(p - t))


def test_first_call_builds_only_the_program_it_runs(monkeypatch):
    """A float32 call of a kernel serving both precisions compiles the float32 program only
    (one module), and its texts list that one."""
    p, loss = _loss()
    built = []
    real = jit.compile_module
    monkeypatch.setattr(jit, "compile_module", lambda m, *a: built.append(m) or real(m, *a))
    k = codegen.compile(loss, wrt=[p], backend="llvm", threads=1)
    assert built == []                                # compiling the kernel builds no code
    x = np.linspace(-1, 1, 37, dtype=np.float32)
    k(x, x[::-1].copy())
    assert list(k._fn.programs) == [("float32", ())] and len(built) == 1
    assert "; precision float32\n" in k.llvm_ir and "float64" not in k.llvm_ir


def test_a_kernel_of_one_dtype_shows_and_builds_that_precision(monkeypatch):
    """Texts read before any call of a kernel compiled with dtype="float32" are its float32
    program's (found: they compiled and showed a float64 program it could never run)."""
    p, loss = _loss()
    built = []
    real = jit.compile_module
    monkeypatch.setattr(jit, "compile_module", lambda m, *a: built.append(m) or real(m, *a))
    k = codegen.compile(loss, wrt=[p], backend="llvm", dtype="float32", threads=1)
    assert k.llvm_ir.startswith("; precision float32\n") and "float64" not in k.llvm_ir
    x = np.linspace(-1, 1, 37, dtype=np.float32)
    k(x, x[::-1].copy())
    assert list(k._fn.programs) == [("float32", ())] and len(built) == 1


def test_kernels_differing_in_threads_share_machine_code():
    p, loss = _loss()
    k1 = codegen.compile(loss, wrt=[p], backend="llvm", threads=1)
    k2 = codegen.compile(loss, wrt=[p], backend="llvm", threads=2)
    x = np.linspace(-2, 3, 1001)
    t = np.cos(x)
    (v1, (g1,)), (v2, (g2,)) = k1(x, t), k2(x, t)
    assert k1._fn.programs[("float64", ())].jit is k2._fn.programs[("float64", ())].jit
    assert v1 == v2 and np.array_equal(g1, g2)
    want = lg.evaluate(loss, {"pred": x, "target": t})
    np.testing.assert_allclose(v1, want, rtol=1e-13)
    np.testing.assert_allclose(g1, 2 * (x - t) / x.size, rtol=1e-13)


def test_texts_are_those_of_the_compiled_ir():
    """optimized_ir and asm are made again from llvm_ir, under the module's own names (the
    engine's symbol suffix stays inside the engine)."""
    p, loss = _loss()
    k = codegen.compile(loss, wrt=[p], backend="llvm", threads=1)
    k(np.ones(8, np.float32), np.zeros(8, np.float32))
    jm = k._fn.programs[("float32", ())].jit
    assert '@kernel.py(' in jm.optimized_ir and ".lg" not in jm.optimized_ir   # the entry
    assert re.search(r"<(8|16) x float>", jm.optimized_ir)       # the loop vectorized
    assert "kernel.py:" in jm.asm and ".lg" not in jm.asm
    assert jm.optimized_ir is jm.optimized_ir
