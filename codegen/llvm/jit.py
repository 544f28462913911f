"""From an llvmlite IR module to callable native code: target machine, O3 pipeline, MCJIT.

    jm = compile_module(module)               # ir.Module (or IR text) -> JitModule
    f = jm.function("kernel", ctypes.c_double, ctypes.py_object, ctypes.c_int64)
    jm.llvm_ir, jm.optimized_ir, jm.asm       # what was built, before and after O3

The target machine is the host's (triple, CPU name, CPU features; opt=3, jit=True), created
once per process when this module is imported, with the first engine (about 1.5 ms,
llvmlite.binding's import aside): a first compile no longer makes them. The pipeline is LLVM's
new pass manager at O3 with the options of TUNING, run with the target machine of the engine
the module goes into (the pass manager's cost model and the machine code then share one
subtarget: about 1 ms less on a process's first compile); a module whose loops the emitter
wrote as vectors asks for EXPLICIT_VECTORS_LEVEL instead. Modules share MCJIT engines, up to
ENGINE_MODULES each: an engine owns (and frees) its own target machine, and making one per
module cost about 1.4 ms of each compile. A module's IR leaves the engine once its machine code
is made; the code stays until the engine goes, which is when the last JitModule compiled into
it goes. Every function handed out keeps its JitModule alive, so a function pointer can never
outlive the code it points into (freeing the code first would segfault). The same IR text
compiles once while its JitModule lives (`compile_module` looks it up), and once per machine
and toolchain across processes: codegen.llvm.objcache keeps each module's object file on disk
and a later process links it in (about 1 ms) instead of optimizing and compiling again. LLVM
compiles under one process-wide lock: its global context is not thread-safe (and llvmlite
runs one LLVM call at a time anyway, so compiles on two threads would not overlap).
"""
from __future__ import annotations

import contextlib
import ctypes
import threading
import time
import weakref

from llvmlite import ir

from lossgraph.errors import LossgraphError

from . import objcache

_LOCK = threading.RLock()
_STATE = {}

#: PipelineTuningOptions of the O3 pipeline (the loop vectorizer picks each loop's width and
#: interleave count unless the loop's metadata sets them). Unrolling stays on: off, it saved
#: 5-15% of compile time at the same kernel speed, but fed LLVM's vectorizer loops its cost
#: model asserts on (softmax over 20 columns aborted the process: llvmlite's LLVM is built
#: with assertions).
TUNING = {"speed_level": 3, "loop_vectorization": True, "slp_vectorization": False,
          "loop_unrolling": True}

#: boolean LLVM options the machine code is made with: set on around each compile of ours and
#: off after (LLVM's options are process-wide; other llvmlite users, numba, keep the
#: defaults). Loop strength reduction took 11-35% of making the machine code of the benchmark's
#: kernels (MSE 20.0 -> 12.6 ms, BCE 32.7 -> 25.5, Huber 21.3 -> 15.9, softmax CE C = 1000
#: 28.8 -> 25.4; C = 10 no change) and their loops ran as fast without it (0.98-1.07x: MSE,
#: Huber, BCE, softmax CE C = 7, 10, 40, 1000, float32 and float64, AVX2): they index their
#: arrays by one induction variable already.
CODEGEN_FLAGS = ("disable-lsr",)

#: the speed level of a module whose loops are all written as vectors by the emitter (packed
#: rows, nests over no axes: Program asks for it). O1 gives their loops the same machine code
#: as O3 (softmax CE, C = 2..16, float32 and float64: 3 scalar instructions of the entry
#: differ) in less time (C = 10 float32: first compile + call 53.2 -> 47.2 ms, medians of 9
#: in one process). Loops left to LLVM's loop vectorizer need O3: O1's simplification leaves
#: many of them in forms it does not vectorize (a sum it cannot identify as a reduction).
EXPLICIT_VECTORS_LEVEL = 1

#: modules compiled into one MCJIT engine before the next engine starts (an engine frees its
#: code only with its last JitModule, so this bounds the code a live kernel can hold on to)
ENGINE_MODULES = 8

_COMPILED = weakref.WeakValueDictionary()     # (IR text, level) -> its live JitModule


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
            _link_capi(llvm)
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
        _STATE["cpu"] = llvm.get_host_cpu_name()
        _STATE["triple"] = llvm.get_process_triple()
    target = llvm.Target.from_triple(_STATE["triple"])
    return target.create_target_machine(cpu=_STATE["cpu"], features=_STATE["features"],
                                        opt=3, jit=True)


def vector_bits():
    """Bits of the vector register the loss loops fill on this host: 512 with AVX-512F, 256
    with AVX, else 128 (SSE2, NEON). The emitter pins its loops' widths to it
    (lanes): LLVM's own pick varied with the loop body, and its cost model aborted the
    process for some row lengths when left to choose."""
    with _LOCK:
        if "vector_bits" not in _STATE:
            features = _llvm().get_host_cpu_features()
            _STATE["vector_bits"] = 512 if features.get("avx512f") else \
                256 if features.get("avx") else 128
        return _STATE["vector_bits"]


def lanes(float_bits):
    """Elements of float_bits (32, 64) in one of the host's vector registers (vector_bits: 16
    float32 with AVX-512, 8 with AVX)."""
    return vector_bits() // float_bits


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
    module.triple = _STATE["triple"]
    module.data_layout = str(tm.target_data)
    return module


def _optimize(llvm, text, tm, speed_level):
    """Parse and verify IR text, run the pipeline of TUNING at speed_level (target machine
    tm) on it -> llvmlite ModuleRef."""
    try:
        mod = llvm.parse_assembly(text)
        mod.verify()
    except RuntimeError as exc:
        raise CompileError(f"LLVM rejected the generated module: {exc}") from None
    parsed = time.perf_counter()
    pto = llvm.create_pipeline_tuning_options(speed_level)
    for option, value in TUNING.items():
        if option != "speed_level":
            setattr(pto, option, value)
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return mod, parsed


@contextlib.contextmanager
def machine_options():
    """CODEGEN_FLAGS on while machine code is made (callers hold _LOCK)."""
    llvm = _llvm()
    for flag in CODEGEN_FLAGS:
        llvm.set_option("lossgraph", f"-{flag}=true")
    try:
        yield
    finally:
        for flag in CODEGEN_FLAGS:
            llvm.set_option("lossgraph", f"-{flag}=false")


class _Engine:
    """One MCJIT engine (with its own target machine, tm, which also runs the passes of the
    modules compiled into it: one machine builds its subtarget once, for both) holding the
    machine code of up to ENGINE_MODULES modules; freed when the last JitModule referring to
    it goes. suffixes: the symbol suffixes of the modules in it (one per IR text)."""

    def __init__(self, llvm):
        empty = llvm.parse_assembly(f'target triple = "{_STATE["triple"]}"\n')
        self.tm = _make_target_machine()
        self.ee = llvm.create_mcjit_compiler(empty, self.tm)
        self.ee.set_object_cache(self._made)
        self.modules = 0
        self.suffixes = set()
        self._key = None

    def _made(self, module, obj):
        """MCJIT's notice of a module's machine code: kept on disk under its key."""
        if self._key is not None:
            objcache.store(self._key, obj)

    def add(self, mod, key, suffix):
        """Make the machine code of mod (an optimized ModuleRef), stored on disk under key,
        then drop its IR."""
        self._key = key
        self.ee.add_module(mod)
        try:
            with machine_options():
                self.ee.finalize_object()
        finally:
            self._key = None
            self.ee.remove_module(mod)
        self._holds(suffix)

    def load(self, obj, suffix):
        """Link machine code an earlier process made (objcache) into this engine."""
        self.ee.add_object_file(_llvm().ObjectFileRef.from_data(obj))
        self.ee.finalize_object()
        self._holds(suffix)

    def _holds(self, suffix):
        self.modules += 1
        self.suffixes.add(suffix)


def _engine(llvm, suffix=None):
    """The engine new code goes into (a fresh one every ENGINE_MODULES modules, and for code
    whose symbols the current one holds already)."""
    eng = _STATE.get("engine")
    if eng is None or eng.modules >= ENGINE_MODULES or suffix in eng.suffixes:
        eng = _STATE["engine"] = _Engine(llvm)
    return eng


def toolchain(speed_level=None):
    """What the machine code of an IR text depends on besides the text: Python (whose C API
    the entries call), llvmlite and LLVM, the host (triple, CPU, features) and the pipeline's
    options at speed_level (None: TUNING's) (objcache's key)."""
    import sys

    import llvmlite
    llvm = _llvm()
    target_machine()
    return (f"python {sys.version.split()[0]} {sys.implementation.cache_tag} "
            f"llvmlite {llvmlite.__version__} llvm {llvm.llvm_version_info} "
            f"{_STATE['triple']} {_STATE['cpu']} {_STATE['features']} "
            f"{sorted(dict(TUNING, speed_level=_level(speed_level)).items())} "
            f"{' '.join(CODEGEN_FLAGS)} opt=3 jit")


def _level(speed_level):
    return TUNING["speed_level"] if speed_level is None else speed_level


class JitModule:
    """Native code of one IR module, kept alive by every function taken from it.

    llvm_ir: the IR as generated; optimized_ir: after the O3 pipeline and asm: the machine code
    (both made again from llvm_ir on first access: the same passes give the same text);
    from_cache: the machine code came from objcache (made by an earlier process); timings:
    seconds spent parsing, optimizing, making machine code (from the cache: hashing the IR,
    0, loading the object).
    """

    def __init__(self, module, speed_level=None):
        llvm = _llvm()
        self.llvm_ir = module if isinstance(module, str) else str(module)
        self.speed_level = _level(speed_level)
        with _LOCK:
            t0 = time.perf_counter()
            key = objcache.key(self.llvm_ir, toolchain(self.speed_level))
            # the modules of one engine share its symbols: each IR text's own suffix
            self._suffix = suffix = ".lg" + key[:16]
            self._engine = _engine(llvm, suffix)
            obj = objcache.load(key)
            self.from_cache = obj is not None
            if self.from_cache:
                t1 = t2 = time.perf_counter()
                self._engine.load(obj, suffix)
            else:
                mod, t1 = _optimize(llvm, self.llvm_ir, self._engine.tm, self.speed_level)
                t2 = time.perf_counter()
                for fn in mod.functions:
                    if not fn.is_declaration and fn.linkage.name not in ("internal", "private"):
                        fn.name += suffix
                self._engine.add(mod, key, suffix)
            t3 = time.perf_counter()
        self._optimized = self._asm = None
        self.timings = {"parse": t1 - t0, "optimize": t2 - t1, "codegen": t3 - t2,
                        "total": t3 - t0}

    @property
    def optimized_ir(self):
        """The IR after the pipeline (for reading; the engine holds its own code)."""
        if self._optimized is None:
            llvm = _llvm()
            with _LOCK:
                self._optimized = str(_optimize(llvm, self.llvm_ir, target_machine(),
                                                self.speed_level)[0])
        return self._optimized

    @property
    def asm(self):
        """Assembly of the optimized module (for reading; the engine holds its own code)."""
        if self._asm is None:
            llvm, text = _llvm(), self.optimized_ir
            with _LOCK, machine_options():
                self._asm = target_machine().emit_assembly(llvm.parse_assembly(text))
        return self._asm

    def address(self, name):
        """The entry address of `name`; valid only while this JitModule lives."""
        with _LOCK:
            addr = self._engine.ee.get_function_address(name + self._suffix)
        if not addr:
            raise CompileError(f"no function named {name!r} in the compiled module")
        return addr

    def function(self, name, restype, *argtypes):
        """A ctypes function for `name` (GIL released during the call) that keeps this
        JitModule, and so the machine code, alive as long as the function object lives."""
        fn = ctypes.CFUNCTYPE(restype, *argtypes)(self.address(name))
        fn._jit_module = self
        return fn

    def builtin(self, name):
        """A Python builtin function f(arg) for `void name(PyObject *arg)` compiled with
        add_py_entry: called like the ctypes function of name, GIL released as ctypes does,
        without ctypes' argument conversion (about 0.5 us less per call). It holds this
        JitModule (and its method table) as its __self__, so the code outlives it."""
        entry = self.address(name + PY_ENTRY)
        holder = _Builtin(self, name)
        holder.mdef = _MethodDef(holder.name, entry, _METH_O, None)
        return _new_cfunction(ctypes.byref(holder.mdef), holder, None)


#: the suffix of a function's Python entry (add_py_entry)
PY_ENTRY = ".py"
_METH_O = 0x0008
#: C-API symbols the Python entries call, linked by their addresses in this process
_CAPI = ("PyEval_SaveThread", "PyEval_RestoreThread", "Py_IncRef")


class _MethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]


class _Builtin:
    """What a builtin from JitModule.builtin keeps alive: the JitModule and the method table
    (CPython keeps a pointer to it)."""

    def __init__(self, jm, name):
        self.jm, self.name = jm, name.encode()


_new_cfunction = ctypes.pythonapi.PyCFunction_NewEx
_new_cfunction.restype = ctypes.py_object
_new_cfunction.argtypes = (ctypes.c_void_p, ctypes.py_object, ctypes.py_object)


def add_py_entry(module, target):
    """Adds PyObject *<target>.py(PyObject *self, PyObject *arg) to module: a METH_O function
    that releases the GIL, calls void target(arg) and returns None (JitModule.builtin)."""
    ptr = ir.PointerType(ir.IntType(8))
    fns = {}
    for cname, ret, args in (("PyEval_SaveThread", ptr, []),
                             ("PyEval_RestoreThread", ir.VoidType(), [ptr]),
                             ("Py_IncRef", ir.VoidType(), [ptr])):
        fns[cname] = module.globals.get(cname) or ir.Function(
            module, ir.FunctionType(ret, args), name=cname)
    none = module.globals.get("_Py_NoneStruct")
    if none is None:
        none = ir.GlobalVariable(module, ir.IntType(8), name="_Py_NoneStruct")
        none.linkage = "external"
    fn = ir.Function(module, ir.FunctionType(ptr, [ptr, ptr]), name=target.name + PY_ENTRY)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    state = b.call(fns["PyEval_SaveThread"], [])
    b.call(target, [b.bitcast(fn.args[1], target.args[0].type)])
    b.call(fns["PyEval_RestoreThread"], [state])
    obj = b.bitcast(none, ptr)
    b.call(fns["Py_IncRef"], [obj])
    b.ret(obj)
    return fn


def _link_capi(llvm):
    """The C-API symbols of add_py_entry, at their addresses in this process."""
    for cname in _CAPI:
        llvm.add_symbol(cname, ctypes.cast(getattr(ctypes.pythonapi, cname),
                                           ctypes.c_void_p).value)
    llvm.add_symbol("_Py_NoneStruct", id(None))


def compile_module(module, speed_level=None):
    """Verify, optimize (at O3, or speed_level) and JIT-compile an ir.Module (or IR text) ->
    JitModule; the live JitModule of the same IR text and level when there is one."""
    text = module if isinstance(module, str) else str(module)
    key = (text, _level(speed_level))
    with _LOCK:
        jm = _COMPILED.get(key)
        if jm is None:
            jm = _COMPILED[key] = JitModule(text, speed_level)
        return jm


def _set_up():
    """The process-wide LLVM state a first compile would otherwise make: native target, host
    target machine, the first engine."""
    with _LOCK:
        target_machine()
        _engine(_llvm())


_set_up()
