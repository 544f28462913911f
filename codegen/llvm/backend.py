"""The LLVM backend: `codegen.compile(loss, wrt=..., backend="llvm", threads=2)`.

A kernel is planned and compiled per float precision on first use (a kernel whose inputs are
declared "float" serves float32 and float64 calls, like the NumPy backend): codegen.llvm.lower
plans the schedule into steps, codegen.llvm.emit makes one function per loop nest, all in one
module compiled at O3 (codegen.llvm.jit), each entered through a py_object stub
(codegen.llvm.runtime). A call then:

    binds the dims from the input shapes (Kernel checked the arrays; a non-contiguous or
    byte-swapped input is copied first: native code reads C-contiguous native arrays only),
    allocates each sink's array (a gradient goes straight into its out= buffer when given),
    runs the steps in order: a nest over [0, n) of its outermost axis in one or two chunks
    (two from runtime.SPLIT_FROM elements; chunk 2 on the worker thread when threads=2, else
    after chunk 1, so the bits never depend on the thread count), partials combined in chunk
    order; a fallback op by its NumPy implementation,
    returns fresh arrays (never an input or a view of one): value, (grads...) as the NumPy
    backend does.

Options: threads=1 or 2 (default 2: large inputs use both cores).
"""
from __future__ import annotations

import threading

import numpy as np

from lossgraph import dtypes as dt
from lossgraph.errors import OptionError
from lossgraph.evaluate import Env, _apply, bind
from lossgraph.shapes import resolve_dim

from . import jit, lower, runtime
from .emit import NestEmitter, acc_type
from .lower import REDUCTIONS, TYPES, Nest, combine_py

_ACC_NAMES = {lower.F64: "float64", lower.I64: "int64"}


def _acc_dtype(node, dtype):
    ty = acc_type(node, TYPES[dtype][0])
    return _ACC_NAMES.get(ty, dtype)


class _NestStep:
    """A compiled nest: its entry function, buffer nodes and how to allocate them."""

    def __init__(self, nest, emitter, name):
        self.nest, self.name = nest, name
        self.buffers = emitter.buffers
        self.n_reads = len(nest.reads)
        self.fn = None


class Program:
    """The plan and native code of one schedule for one float precision."""

    def __init__(self, schedule, float_t, threads):
        self.s, self.float_t, self.threads = schedule, float_t, threads
        outputs = list(schedule.outputs)
        self.plan = lower.plan(outputs, float_t)
        module = jit.new_module("lossgraph")
        self.steps = []
        for j, st in enumerate(self.plan.steps):
            if isinstance(st, Nest):
                em = NestEmitter(module, self.plan, st, j)
                body = em.build()
                runtime.emit_entry(module, body, len(em.buffers), f"entry{j}",
                                   n_ints=len(self.plan.dims))
                self.steps.append(_NestStep(st, em, f"entry{j}"))
            else:
                self.steps.append(st)
        nests = [s for s in self.steps if isinstance(s, _NestStep)]
        self.jit = jit.compile_module(module) if nests else None
        import ctypes
        for s in nests:
            s.fn = self.jit.function(s.name, None, ctypes.py_object)
        self.consts = {}
        for n in self.plan.order:
            if n.op == "constant" and n.ndim and self.plan.kind[id(n)] == "leaf":
                self.consts[id(n)] = np.ascontiguousarray(
                    n.attrs["value"], dtype=self.plan.dtypes[id(n)])
        self.input_nodes = list(schedule.inputs.values())
        self.dim_source = {}
        for k, node in enumerate(self.input_nodes):
            for ax, d in enumerate(node.shape):
                if isinstance(d, str) and "*" not in d:
                    self.dim_source.setdefault(d, (k, ax))
        self.bind_needed = any(d not in self.dim_source for d in self.plan.dims)
        nv = len(schedule.values)
        self.value_nodes = self.plan.outputs[:nv]
        self.grad_nodes = self.plan.outputs[nv:]

    # --- per call
    def dims(self, arrays):
        if self.bind_needed:
            return dict(bind(self.s.inputs, dict(zip(self.s.inputs, arrays))).dims)
        return {d: arrays[k].shape[ax] for d, (k, ax) in self.dim_source.items()}

    def __call__(self, arrays, outs):
        plan = self.plan
        arrays = [a if a.flags.c_contiguous and a.flags.aligned and a.dtype.isnative
                  else np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
                  for a in arrays]
        dims = self.dims(arrays)
        ints = [float(dims[d]) for d in plan.dims]
        values = {id(n): a for n, a in zip(self.input_nodes, arrays)}
        values.update(self.consts)
        fresh = set()
        direct = {}
        if outs:
            for g, buf in zip(self.grad_nodes, outs):
                if plan.kind[id(g)] == "inline" and id(g) not in direct:
                    direct[id(g)] = buf
        env = None
        for st in self.steps:
            if isinstance(st, _NestStep):
                self._nest(st, values, dims, ints, direct, fresh)
                continue
            if env is None:
                env = Env({n.name: a for n, a in zip(self.input_nodes, arrays)}, dims,
                          self.float_t)
            with np.errstate(all="ignore"):
                out = _apply(st, values, env)
            values[id(st)] = np.ascontiguousarray(out)
        return self._results(values, fresh, outs, dims)

    def _shape(self, node, dims):
        return tuple(d if isinstance(d, int) else resolve_dim(d, dims) for d in node.shape)

    def _nest(self, st, values, dims, ints, direct, fresh):
        nest, plan = st.nest, self.plan
        post = []
        for n in nest.writes:
            dtype = plan.dtypes[id(n)]
            shape = self._shape(n, dims)
            if id(n) in nest.memory:
                acc = _acc_dtype(n, dtype)
                ident = REDUCTIONS[n.op][0]
                if acc == "int64" and not np.isfinite(ident):
                    ident = np.iinfo(np.int64).min if ident < 0 else np.iinfo(np.int64).max
                values[id(n)] = np.full(shape, ident, dtype=acc)
                post.append(n)
            elif id(n) in direct:
                values[id(n)] = direct[id(n)]
            else:
                values[id(n)] = np.empty(shape, dtype=dtype)
            fresh.add(id(n))
        arrays = tuple(values[id(n)] for n in st.buffers)
        k = len(nest.shape)
        full = 1
        for d in self._shape_of(nest.shape, dims):
            full *= d
        n0 = 1 if k == 0 else (full if nest.flat else self._shape_of(nest.shape, dims)[0])
        split = not nest.serial and k and full >= runtime.SPLIT_FROM and n0 >= 256
        chunks = runtime.chunks(n0, 0) if split else [(0, n0)]
        m = len(nest.partials)
        ctls = []
        for lo, hi in chunks:
            ctl = np.empty(2 + len(ints) + m)
            ctl[0], ctl[1] = lo, hi
            ctl[2:2 + len(ints)] = ints
            ctls.append(ctl)
        if len(ctls) == 2 and self.threads == 2:
            worker = runtime._worker()
            handle = worker.submit(st.fn, (arrays + (ctls[1],),))
            st.fn(arrays + (ctls[0],))
            worker.wait(handle)
        else:
            for ctl in ctls:
                st.fn(arrays + (ctl,))
        for j, r in enumerate(nest.partials):
            parts = [c[2 + len(ints) + j] for c in ctls]
            total = parts[0]
            for p in parts[1:]:
                total = combine_py(r.op, total, p)
            with np.errstate(all="ignore"):
                values[id(r)] = np.array(total, dtype=plan.dtypes[id(r)])
        for n in post:
            values[id(n)] = values[id(n)].astype(plan.dtypes[id(n)], copy=False)

    @staticmethod
    def _shape_of(shape, dims):
        return tuple(d if isinstance(d, int) else resolve_dim(d, dims) for d in shape)

    def _results(self, values, fresh, outs, dims):
        plan, used = self.plan, set()

        def result(n):
            a = values[id(n)]
            want = np.dtype(plan.dtypes[id(n)])
            if id(n) not in fresh or id(n) in used or a.dtype != want:
                a = np.array(np.broadcast_to(a, self._shape(n, dims)), dtype=want)
            used.add(id(n))
            return a[()] if a.ndim == 0 else a

        vals = [result(v) for v in self.value_nodes]
        value = vals[0] if len(vals) == 1 else tuple(vals)
        if not self.s.wrt:
            return value
        grads = []
        for k, g in enumerate(self.grad_nodes):
            if outs:
                buf = outs[k]
                if values[id(g)] is not buf:
                    np.copyto(buf, values[id(g)])
                used.add(id(g))
                grads.append(buf)
            else:
                a = result(g)
                grads.append(np.asarray(a) if np.ndim(a) == 0 else a)
        return value, tuple(grads)

    def texts(self, key):
        if self.jit is None:
            return "; no native loops: every step of this kernel runs in NumPy\n"
        return getattr(self.jit, key)


class _Artifact(dict):
    """The backend's artifact: "fn" now, the IR texts of the precisions compiled so far (one
    is compiled on first access when none is)."""

    def __init__(self, kernel):
        super().__init__(fn=kernel)
        self._kernel = kernel

    def __contains__(self, key):
        return key in ("fn", "llvm_ir", "optimized_ir", "asm")

    def __getitem__(self, key):
        if key == "fn":
            return self._kernel
        return self._kernel.text(key)


class LLVMKernel:
    """fn(*arrays, *gradient buffers) for Kernel: dispatches on the float precision."""

    def __init__(self, schedule, threads):
        self.s, self.threads = schedule, threads
        self.programs, self._lock = {}, threading.Lock()
        self.n = len(schedule.inputs)
        self.weak = [k for k, n in enumerate(schedule.inputs.values()) if n.dtype == "float"]
        concrete = [n.dtype for n in schedule.inputs.values() if n.dtype in ("float32", "float64")]
        self.default = dt.promote(*concrete) if concrete else "float64"
        if self.default == "float":
            self.default = "float64"

    def program(self, float_t):
        p = self.programs.get(float_t)
        if p is None:
            with self._lock:
                p = self.programs.get(float_t)
                if p is None:
                    p = self.programs[float_t] = Program(self.s, float_t, self.threads)
        return p

    def __call__(self, *args):
        arrays, outs = args[:self.n], args[self.n:]
        if self.weak:
            float_t = "float64" if any(arrays[k].dtype == np.float64 for k in self.weak) \
                else "float32"
        else:
            float_t = self.default
        return self.program(float_t)(arrays, outs)

    def text(self, key):
        if not self.programs:
            self.program(self.default)
        parts = [f"; precision {ft}\n" + p.texts(key) for ft, p in sorted(self.programs.items())]
        return "\n".join(parts)


class LLVMBackend:
    """The backend object registered as "llvm" (options: threads=1 or 2)."""
    name = "llvm"

    def build(self, schedule, name, options):
        options = dict(options)
        threads = options.pop("threads", 2)
        if options:
            raise OptionError(f"compile: unknown option {sorted(options)[0]!r} for the llvm "
                              f"backend (it takes threads=1 or 2)")
        if threads not in (1, 2):
            raise OptionError(f"compile: threads must be 1 or 2, got {threads!r}")
        return _Artifact(LLVMKernel(schedule, threads))


def register():
    """Register the backend as "llvm" (codegen does so lazily, on first use)."""
    from codegen.kernel import register_backend
    register_backend("llvm", LLVMBackend())
