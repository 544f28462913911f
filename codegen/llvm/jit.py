"""From an llvmlite IR module to callable native code: target machine, O3 pipeline, MCJIT.

    jm = compile_module(module)               # ir.Module (or IR text) -> JitModule
    f = jm.function("kernel", ctypes.c_double, ctypes.py_object, ctypes.c_int64)
    jm.llvm_ir, jm.optimized_ir, jm.asm       # what was built, before and after O3

The target machine is the host's (triple, CPU name, CPU features; opt=3, jit=True), created once
per process. The pipeline is LLVM's new pass manager at O3 (loop vectorizer on). The execution
engine lives as long as its JitModule, and every function handed out keeps a reference to the
JitModule, so a function pointer can never outlive the code it points into (dropping the engine
first would segfault). LLVM compiles under one process-wide lock: its global context is not
thread-safe.
"""
from __future__ import annotations

import ctypes
import threading
import time

from llvmlite import ir

from lossgraph.errors import LossgraphError

_LOCK = threading.RLock()
_STATE = {}


class CompileError(LossgraphError, RuntimeError):
    """LLVM refused a module (a lowering bug: generated IR must always verify)."""


def _llvm():
    """llvmlite.binding with the native target initialized (once; llvm.initialize() raises
    in llvmlite 0.50, initialization is otherwise automatic)."""
    with _LOCK:
        if "llvm" not in _STATE:
            import llvmlite.binding as llvm
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            _STATE["llvm"] = llvm
        return _STATE["llvm"]


def _make_target_machine():
    llvm = _llvm()
    if "features" not in _STATE:
        features = llvm.get_host_cpu_features()
        flat = features.flatten()
        if features.get("avx512f"):
            # LLVM tunes Intel AVX-512 cores to 256-bit vectors; loss loops want the full width
            flat += ",-prefer-256-bit"
        _STATE["features"] = flat
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=_STATE["features"], opt=3, jit=True)


def target_machine():
    """The host's target machine (opt=3, jit=True) for passes and assembly, made once.

    Each execution engine gets a fresh one: an MCJIT engine takes ownership of its target
    machine and destroys it with itself."""
    with _LOCK:
        if "tm" not in _STATE:
            _STATE["tm"] = _make_target_machine()
        return _STATE["tm"]


def new_module(name="lossgraph"):
    """An empty ir.Module with the host's triple and data layout."""
    tm = target_machine()
    module = ir.Module(name=name)
    module.triple = _llvm().get_process_triple()
    module.data_layout = str(tm.target_data)
    return module


class JitModule:
    """Native code of one IR module, kept alive by every function taken from it.

    llvm_ir: the IR as generated; optimized_ir: after the O3 pipeline; asm: the machine code
    (made on first access); timings: seconds spent parsing, optimizing, making machine code.
    """

    def __init__(self, module):
        llvm = _llvm()
        self.llvm_ir = str(module)
        self.timings = {}
        with _LOCK:
            t0 = time.perf_counter()
            try:
                mod = llvm.parse_assembly(self.llvm_ir)
                mod.verify()
            except RuntimeError as exc:
                raise CompileError(f"LLVM rejected the generated module: {exc}") from None
            t1 = time.perf_counter()
            tm = target_machine()
            pto = llvm.create_pipeline_tuning_options(3)
            pto.loop_vectorization = True
            pb = llvm.create_pass_builder(tm, pto)
            pb.getModulePassManager().run(mod, pb)
            self.optimized_ir = str(mod)
            t2 = time.perf_counter()
            self._engine = llvm.create_mcjit_compiler(mod, _make_target_machine())
            self._engine.finalize_object()
            t3 = time.perf_counter()
        self._module = mod
        self._asm = None
        self.timings = {"parse": t1 - t0, "optimize": t2 - t1, "codegen": t3 - t2,
                        "total": t3 - t0}

    @property
    def asm(self):
        """Assembly of the optimized module (for reading; the engine holds its own code)."""
        if self._asm is None:
            llvm = _llvm()
            with _LOCK:
                self._asm = target_machine().emit_assembly(llvm.parse_assembly(self.optimized_ir))
        return self._asm

    def address(self, name):
        """The entry address of `name`; valid only while this JitModule lives."""
        with _LOCK:
            addr = self._engine.get_function_address(name)
        if not addr:
            raise CompileError(f"no function named {name!r} in the compiled module")
        return addr

    def function(self, name, restype, *argtypes):
        """A ctypes function for `name` (GIL released during the call) that keeps this
        JitModule, and so the machine code, alive as long as the function object lives."""
        fn = ctypes.CFUNCTYPE(restype, *argtypes)(self.address(name))
        fn._jit_module = self
        return fn


def compile_module(module):
    """Verify, optimize at O3 and JIT-compile an ir.Module -> JitModule."""
    return JitModule(module)
