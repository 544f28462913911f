"""JIT layer: what was built is readable, code outlives the objects that built it, bad IR is
a clear error, and engines can be dropped without taking the shared target machine along."""
import ctypes
import gc
import re
import subprocess
import sys

import numpy as np
import pytest
from llvmlite import ir

from codegen.llvm import handmade, jit, mathlib


def _exp_module(name="f"):
    module = jit.new_module()
    d = ir.DoubleType()
    fn = ir.Function(module, ir.FunctionType(d, [d]), name=name)
    b = ir.IRBuilder(fn.append_basic_block())
    b.ret(mathlib.exp(b, fn.args[0]))
    return module


def test_module_carries_host_triple_and_layout():
    module = jit.new_module()
    assert module.triple and module.data_layout
    assert f'target triple = "{module.triple}"' in str(module)


def test_ir_optimized_ir_and_asm_are_exposed():
    jm = jit.compile_module(_exp_module("expf"))
    defines = r'define [^\n]*double @"?expf"?\('
    assert re.search(defines, jm.llvm_ir) and "llvm.fma" in jm.llvm_ir
    assert re.search(defines, jm.optimized_ir) and jm.optimized_ir != jm.llvm_ir
    assert "expf" in jm.asm
    assert set(jm.timings) == {"parse", "optimize", "codegen", "total"}


def test_function_outlives_module_builder_and_jit_module():
    """Only the ctypes function is kept; gc runs; the machine code must still be there."""
    fn = jit.compile_module(_exp_module()).function("f", ctypes.c_double, ctypes.c_double)
    gc.collect()
    assert fn(1.0) == pytest.approx(2.718281828459045, rel=1e-15)
    assert isinstance(fn._jit_module, jit.JitModule)


def test_native_loop_outlives_its_kernel():
    kernel = handmade.bce_with_logits("float64")
    loop = kernel._loop
    del kernel
    gc.collect()
    x = np.array([0.0, 1.0]); z = np.array([1.0, 0.0]); g = np.empty(2)
    total, = loop((x, z, g), 2, (2,))
    assert total == pytest.approx(np.log(2) + np.log1p(np.e), rel=1e-14)   # softplus(0, 1)


def test_dropping_engines_keeps_compiling():
    """MCJIT owns (and frees) its target machine: each engine gets its own, so dropping one
    must not break the next compile (it segfaulted when the machine was shared)."""
    for _ in range(3):
        jm = jit.compile_module(_exp_module())
        del jm
        gc.collect()
    fn = jit.compile_module(_exp_module()).function("f", ctypes.c_double, ctypes.c_double)
    assert fn(0.0) == 1.0


def test_invalid_ir_is_a_compile_error():
    with pytest.raises(jit.CompileError, match="LLVM rejected"):
        jit.compile_module("define i32 @f() {\n  ret double 0.0\n}\n")


def test_unknown_function_is_a_compile_error():
    jm = jit.compile_module(_exp_module())
    with pytest.raises(jit.CompileError, match="no function named 'g'"):
        jm.function("g", None)


def test_native_calls_release_the_gil():
    """A native loop spins until another Python thread writes a flag: it can only see the
    flag if the GIL was released for the call (else it gives up after ~1e10 spins and says 0)."""
    import threading
    import time

    module = jit.new_module()
    i64 = ir.IntType(64)
    fn = ir.Function(module, ir.FunctionType(i64, [ir.PointerType(), i64]), name="spin")
    flag, limit = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    loop, done = fn.append_basic_block("loop"), fn.append_basic_block("done")
    b.branch(loop)
    b.position_at_end(loop)
    i = b.phi(i64)
    i.add_incoming(ir.Constant(i64, 0), fn.entry_basic_block)
    seen = b.load_atomic(flag, "monotonic", 8, typ=i64)
    nxt = b.add(i, ir.Constant(i64, 1))
    i.add_incoming(nxt, loop)
    stop = b.or_(b.icmp_signed("!=", seen, ir.Constant(i64, 0)), b.icmp_signed(">=", nxt, limit))
    b.cbranch(stop, done, loop)
    b.position_at_end(done)
    b.ret(seen)
    spin = jit.compile_module(module).function("spin", ctypes.c_int64, ctypes.c_void_p,
                                               ctypes.c_int64)
    cell = np.zeros(1, np.int64)
    result = []
    worker = threading.Thread(target=lambda: result.append(spin(cell.ctypes.data, 10 ** 10)))
    worker.start()
    time.sleep(0.05)
    cell[0] = 1                    # runs only if the spinning thread let go of the GIL
    worker.join()
    assert result == [1]


def test_import_codegen_leaves_llvm_unloaded_and_jit_sets_it_up():
    """`import codegen` does not load llvmlite.binding; importing jit makes the target machine
    and the first engine, so a first compile does not."""
    code = ("import sys, codegen\n"
            "assert 'llvmlite.binding' not in sys.modules\n"
            "from codegen.llvm import jit\n"
            "assert 'tm' in jit._STATE and jit._STATE['engine'].modules == 0\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_engine_machine_optimizes_as_the_reading_machine():
    """Code is optimized with its engine's target machine, optimized_ir with the shared one:
    both must give the same IR, or optimized_ir would not show the code that runs."""
    jm = jit.compile_module(_exp_module("expsame"))
    llvm = jit._llvm()
    ran = str(jit._optimize(llvm, jm.llvm_ir, jm._engine.tm, jm.speed_level)[0])
    assert ran == jm.optimized_ir


def _spin_module():
    """void spin(PyObject *arg): waits until the int64 at the data of arg's first array is
    non-zero (another thread sets it), then stores 2 beside it; gives up after 2^33 polls
    (seconds) and stores 3 instead."""
    from codegen.llvm.emit import entry_pointers
    module = jit.new_module()
    i64 = ir.IntType(64)
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ir.PointerType(ir.IntType(8))]),
                     name="spin")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    cell, = entry_pointers(b, fn, 1)
    start = b.block
    loop, done = fn.append_basic_block("loop"), fn.append_basic_block("done")
    b.branch(loop)
    b.position_at_end(loop)
    polls = b.phi(i64)
    polls.add_incoming(ir.Constant(i64, 0), start)
    nxt = b.add(polls, ir.Constant(i64, 1))
    polls.add_incoming(nxt, loop)
    set_ = b.icmp_signed("!=", b.load_atomic(cell, "acquire", 8, typ=i64), ir.Constant(i64, 0))
    b.cbranch(b.or_(set_, b.icmp_signed(">=", nxt, ir.Constant(i64, 1 << 33))), done, loop)
    b.position_at_end(done)
    b.store(b.select(set_, ir.Constant(i64, 2), ir.Constant(i64, 3)),
            b.gep(cell, [ir.Constant(i64, 1)], source_etype=i64))
    b.ret_void()
    jit.add_py_entry(module, fn)
    return module


def test_builtin_entry_releases_the_gil_and_keeps_its_code():
    """JitModule.builtin: a plain builtin function (no ctypes), the JitModule alive as its
    __self__; while the native code waits for another thread, that thread runs Python (the
    GIL is released), sets the flag, and the call returns None."""
    import threading
    f = jit.compile_module(_spin_module()).builtin("spin")
    gc.collect()
    assert type(f).__name__ == "builtin_function_or_method"
    assert isinstance(f.__self__.jm, jit.JitModule)
    cells = np.zeros(2, np.int64)
    setter = threading.Timer(0.05, lambda: cells.__setitem__(0, 1))
    setter.start()
    assert f((cells,)) is None
    setter.join()
    assert cells[1] == 2                 # 3: the flag never came (the GIL was held)


def _summing_loop():
    """double f(double *p, i64 n): a sum over p[0..n), a loop LSR rewrites on x86."""
    module = jit.new_module()
    d, i64 = ir.DoubleType(), ir.IntType(64)
    fn = ir.Function(module, ir.FunctionType(d, [ir.PointerType(), i64]), name="sums")
    entry, loop, done = (fn.append_basic_block(n) for n in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    b.branch(loop)
    b.position_at_end(loop)
    i, acc = b.phi(i64), b.phi(d)
    x = b.load(b.gep(fn.args[0], [b.mul(i, ir.Constant(i64, 3))], source_etype=d), typ=d)
    acc2 = b.fadd(acc, x)
    i2 = b.add(i, ir.Constant(i64, 1))
    i.add_incoming(ir.Constant(i64, 0), entry)
    i.add_incoming(i2, loop)
    acc.add_incoming(ir.Constant(d, 0.0), entry)
    acc.add_incoming(acc2, loop)
    b.cbranch(b.icmp_signed("<", i2, fn.args[1]), loop, done)
    b.position_at_end(done)
    b.ret(acc2)
    return module


def test_codegen_flags_are_on_for_our_machine_code_alone():
    """The kernel's asm is made with CODEGEN_FLAGS, and the process's LLVM is left with its
    defaults (what another llvmlite user emits) after each compile of ours."""
    llvm = jit._llvm()
    module = _summing_loop()
    jm = jit.compile_module(module)
    text = jm.optimized_ir
    default = jit.target_machine().emit_assembly(llvm.parse_assembly(text))
    with jit._LOCK, jit.machine_options():
        ours = jit.target_machine().emit_assembly(llvm.parse_assembly(text))
    assert jm.asm == ours != default and "disable-lsr" in jit.CODEGEN_FLAGS
    assert jit.target_machine().emit_assembly(llvm.parse_assembly(text)) == default
    assert "disable-lsr" in jit.toolchain()
    f = jm.function("sums", ctypes.c_double, ctypes.c_void_p, ctypes.c_int64)
    a = np.arange(30.0)
    assert f(a.ctypes.data, 10) == a[::3].sum()
