"""The LLVM backend: `codegen.compile(loss, wrt=..., backend="llvm", threads=2)`.

A kernel is planned and compiled per float precision on first use (a kernel whose inputs are
declared "float" serves float32 and float64 calls, like the NumPy backend): codegen.llvm.lower
plans the schedule into steps, codegen.llvm.emit makes one function per loop nest and the
module's one entry `kernel` (a py_object stub reading the arrays' data pointers, as
codegen.llvm.runtime's, called through a METH_O builtin that releases the GIL:
jit.add_py_entry), compiled by codegen.llvm.jit (at O3; at jit.EXPLICIT_VECTORS_LEVEL when
every loop is written as vectors by the emitter). A call then:

    binds the dims from the input shapes (Kernel checked the arrays; a non-contiguous or
    byte-swapped input is copied first: native code reads C-contiguous native arrays only),
    allocates each sink's array (a gradient goes straight into its out= buffer when given),
    runs the steps: with no fallback op, every nest in one native call (codegen.llvm.fastcall's
    generated path): below drive.SPLIT_FROM elements the kernel's entry, from there
    codegen.llvm.drive's driver on the calling thread and (threads=2) the process's native
    helper (codegen.llvm.helper), which take units of each nest from shared counters,
    partials combined in unit order (the bits never depend on the thread count); with a
    fallback op, each nest alone (large: the same driver, that nest's units only) and the
    fallback op by its NumPy implementation between them;
    returns fresh arrays (never an input or a view of one; from fastcall.RECYCLE bytes, one
    returned two calls before that nothing holds any more): value, (grads...) as the NumPy
    backend does.

A kernel with row dims (codegen.llvm.specialize: a symbolic C of a nest over (N, C)) runs a
call with C in specialize.fixed() (2-16, 20, 24, 32, 40 with AVX-512) on a Program planned
with C static (packed short rows, row phases), other values on the general Program;
kernel.llvm_ir and the other texts list every program compiled so far, each under a header such as
"; precision float32, C = 10". A kernel whose flat nests could write large outputs with streaming
stores (codegen.llvm.emit's stream_candidates) runs calls whose largest float input takes
emit.STREAM_FROM_BYTES or more on a second Program with that code, compiled on the first such
call ("streaming stores" in its header); smaller calls, and every call of other kernels, never
pay its compile.

Options: threads=1 or 2 (default 2: large inputs use both cores).
"""
from __future__ import annotations

import threading

import numpy as np

from lossgraph import dtypes as dt
from lossgraph.errors import OptionError
from lossgraph.evaluate import Env, _apply, _Memos, bind
from lossgraph.shapes import _factors

from . import batched, drive, emit, fastcall, jit, lower, specialize
from .emit import NestEmitter, emit_whole, memory_type
from .lower import REDUCTIONS, TYPES, Nest

_ACC_NAMES = {lower.F64: "float64", lower.I64: "int64"}
_DUMMY = np.zeros(1)      # stands in for arrays a step has not made yet (never read)


def _acc_dtype(node, dtype, input_dtype):
    """The dtype of the array a reduction kept in memory accumulates in (emit.memory_type)."""
    ty = memory_type(node, TYPES[dtype][0], TYPES[input_dtype][0])
    return _ACC_NAMES.get(ty, dtype)


def shape_at(spec, dimvals):
    """The extents of a shape spec ((coeff, dim positions), ...) at the dims' values."""
    out = []
    for coeff, idx in spec:
        for j in idx:
            coeff *= dimvals[j]
        out.append(coeff)
    return tuple(out)


class Program:
    """The plan and native code of one schedule for one float precision; fixed: ((dim name,
    value), ...) planned as static (codegen.llvm.specialize), () for the general program;
    streaming: flat nests write their large outputs with streaming stores (emit.NestEmitter).
    could_stream: whether some nest has outputs to stream (so the streaming Program differs)."""

    def __init__(self, schedule, float_t, threads, fixed=(), streaming=False):
        if fixed:
            schedule = specialize.Fixed(schedule, dict(fixed))
        self.s, self.float_t, self.threads, self.fixed = schedule, float_t, threads, fixed
        self.plan = plan = lower.plan(list(schedule.outputs), float_t)
        self.slot = slot = {id(n): k for k, n in enumerate(plan.order)}
        self.n_slots = len(plan.order)
        module = jit.new_module("lossgraph")
        emitters, slots = [], []
        for j, st in enumerate(plan.steps):
            if isinstance(st, Nest):
                em = NestEmitter(module, plan, st, j, streaming)
                em.build()
                emitters.append((em, [slot[id(n)] for n in em.buffers]))
                slots += [k for k in emitters[-1][1] if k not in slots]
        self.slots = slots
        self.could_stream = any(em.candidates for em, _ in emitters)
        self.streaming = streaming and self.could_stream
        self.jit, self.fn = None, None
        if emitters:
            layout, self.ctl_size = emit_whole(module, plan, emitters, slots)
            entry = module.get_global("kernel")
            jit.add_py_entry(module, entry)
            entry.linkage = "internal"      # called by its Python entry alone, inlined there
            drive.emit_unit(module, plan, emitters, slots)
            explicit = all(em.explicit_vectors for em, _ in emitters)
            self.jit = jit.compile_module(module, jit.EXPLICIT_VECTORS_LEVEL if explicit
                                          else None)
            self.fn = self.jit.builtin("kernel")
        runs = iter(layout if emitters else ())
        self.steps = [self._prepare(st, em, next(runs)) if isinstance(st, Nest) else
                      ("fallback", st, slot[id(st)])
                      for st, em in zip(plan.steps, self._emitter_per_step(emitters))]
        self.run_cells = np.array([st[5] for st in self.steps if st[0] == "nest"], dtype=np.intp)
        self.one_call = bool(emitters) and all(st[0] == "nest" and not st[8]
                                               for st in self.steps)
        self.fallbacks = [st[1] for st in self.steps if st[0] == "fallback"]
        self.input_nodes = list(schedule.inputs.values())
        self.input_slots = [slot.get(id(n)) for n in self.input_nodes]
        self.consts = [(slot[id(n)], np.ascontiguousarray(n.attrs["value"],
                                                          dtype=plan.dtypes[id(n)]))
                       for n in plan.order
                       if n.op == "constant" and n.ndim and plan.kind[id(n)] == "leaf"]
        source = {}
        for k, node in enumerate(self.input_nodes):
            for ax, d in enumerate(node.shape):
                if isinstance(d, str) and "*" not in d:
                    source.setdefault(d, (k, ax))
        self.bind_needed = any(d not in source for d in plan.dims)
        self.dim_source = [source.get(d) for d in plan.dims]
        nv = len(schedule.values)
        self.value_slots = [slot[id(n)] for n in plan.outputs[:nv]]
        self.grad_slots = [slot[id(n)] for n in plan.outputs[nv:]]
        self.out_nodes = plan.outputs
        self.out_dtypes = {id(n): np.dtype(plan.dtypes[id(n)]) for n in plan.outputs}
        self._local = threading.local()
        self.split_from = drive.SPLIT_FROM
        self.desc = drive.describe(self.jit.address("unit"), self.steps, slots,
                                   self.ctl_size) if emitters else None
        self.nest_of = {id(st): j for j, st in
                        enumerate(st for st in self.steps if st[0] == "nest")}
        self.lean = fastcall.build(self)
        self.call = self.lean or self.general

    def _emitter_per_step(self, emitters):
        it = iter(emitters)
        return [next(it)[0] if isinstance(st, Nest) else None for st in self.plan.steps]

    def _spec(self, shape):
        """shape as ((coeff, dim positions), ...) for shape_at."""
        index = {d: j for j, d in enumerate(self.plan.dims)}
        return tuple((c, tuple(index[n] for n in names))
                     for c, names in (_factors(d) for d in shape))


    def _prepare(self, nest, em, run_cell):
        """("nest", writes, shape spec, rank, flat, run cell, partials, splittable, post)."""
        plan, slot = self.plan, self.slot
        writes, post = [], []
        for n in nest.writes:
            dtype = plan.dtypes[id(n)]
            if id(n) in nest.memory:
                acc = _acc_dtype(n, dtype, plan.dtypes[id(n.inputs[0])])
                ident = REDUCTIONS[n.op][0]
                if acc == "int64" and not np.isfinite(ident):
                    ident = np.iinfo(np.int64).min if ident < 0 else np.iinfo(np.int64).max
                writes.append((slot[id(n)], self._spec(n.shape), acc, ident))
                if acc != dtype:
                    post.append((slot[id(n)], dtype))
            else:
                writes.append((slot[id(n)], self._spec(n.shape), dtype, None))
        partials = [(slot[id(r)], r.op, np.dtype(plan.dtypes[id(r)]).type)
                    for r in nest.partials]
        return ("nest", writes, self._spec(nest.shape), len(nest.shape), nest.flat, run_cell,
                partials, not nest.serial and len(nest.shape) > 0, post)

    # --- per call
    def _dims(self, arrays):
        if self.bind_needed:
            dims = bind(self.s.inputs, dict(zip(self.s.inputs, arrays))).dims
            return [dims[d] for d in self.plan.dims], dims
        return [arrays[k].shape[ax] for k, ax in self.dim_source], None

    def _ctls(self):
        try:
            return self._local.ctl
        except AttributeError:
            ctl = self._local.ctl = (np.zeros(self.ctl_size), np.zeros(self.ctl_size))
            return ctl

    def general(self, arrays, outs):
        """The call path for any plan (fastcall.build makes the lean one when it can)."""
        arrays = [a if a.flags.carray and a.dtype.isnative
                  else np.asarray(a, dtype=a.dtype.newbyteorder("="), order="C")
                  for a in arrays]
        dimvals, dims = self._dims(arrays)
        vals = [None] * self.n_slots
        for k, a in zip(self.input_slots, arrays):
            if k is not None:
                vals[k] = a
        for k, a in self.consts:
            vals[k] = a
        fresh, direct = set(), {}
        if outs:
            for k, buf in zip(self.grad_slots, outs):
                direct.setdefault(k, buf)
        if self.one_call:
            sizes = [self._alloc(st, vals, dimvals, direct, fresh) for st in self.steps]
            if max([n for n, _ in sizes]) < self.split_from:
                loc = self._local
                try:
                    whole, key = loc.whole, loc.key
                except AttributeError:
                    whole, key = loc.whole, loc.key = np.zeros(self.ctl_size), None
                if key != dimvals:                  # same dims as last call: ctl is ready
                    whole[:len(dimvals)] = dimvals
                    for st, (numel, n0) in zip(self.steps, sizes):
                        whole[st[5]], whole[st[5] + 1], whole[st[5] + 2] = 1.0, 0.0, n0
                    loc.key = dimvals
                self.fn(tuple([vals[k] for k in self.slots]) + (whole,))
                if whole[-1]:
                    self.bad_labels(vals)
                return self._results(vals, fresh, outs, dimvals)
        if self.fn is not None:
            c0, c1 = self._ctls()
            c0[:len(dimvals)] = dimvals
            c0[self.run_cells] = 0.0
        if self.one_call:
            self._drive(sizes, vals)
            return self._results(vals, fresh, outs, dimvals)
        memos = _Memos(self.fallbacks)      # ctc_loss and ctc_grad: one forward recursion
        for st in self.steps:
            if st[0] == "nest":
                self._run(st, self._alloc(st, vals, dimvals, direct, fresh), vals)
                continue
            node, k = st[1], st[2]
            if dims is None:
                dims = dict(zip(self.plan.dims, dimvals))
            env = Env({n.name: a for n, a in zip(self.input_nodes, arrays)}, dims, self.float_t)
            by_id = {id(i): vals[self.slot[id(i)]] for i in node.inputs}
            with np.errstate(all="ignore"):
                # not np.ascontiguousarray: it makes a 0-d result (a dot of vectors) (1,)
                vals[k] = np.asarray(batched.run(node, by_id, env, memos.memo(node),
                                                 self.threads), order="C")
        return self._results(vals, fresh, outs, dimvals)

    def _alloc(self, st, vals, dimvals, direct, fresh):
        """Allocate a nest's arrays; returns (elements, extent of the chunked axis)."""
        for slot, spec, dtype, ident in st[1]:
            if ident is not None:
                vals[slot] = np.full(shape_at(spec, dimvals), ident, dtype=dtype)
            elif slot in direct:
                vals[slot] = direct[slot]
            else:
                vals[slot] = np.empty(shape_at(spec, dimvals), dtype=dtype)
            fresh.add(slot)
        shape = shape_at(st[2], dimvals)
        numel = 1
        for d in shape:
            numel *= d
        return numel, (1 if st[3] == 0 else numel if st[4] else shape[0])

    def _sched(self, sizes):
        """This thread's (sched, parts, split) for a driven call of these nest sizes
        (drive.schedule, kept while the sizes repeat), the per-call counters zeroed."""
        loc = self._local
        key = tuple(sizes)
        if getattr(loc, "sched_key", None) != key:
            loc.sched, loc.parts, loc.split = drive.schedule(
                [drive.units(numel, n0, st[7], self.split_from) + (n0, len(st[6]))
                 for st, (numel, n0) in zip(self.steps, sizes)])
            loc.sched_first, loc.sched_key = drive.counters(len(self.steps))[0], key
        loc.sched[loc.sched_first:] = 0
        return loc.sched, loc.parts, loc.split

    def _drive(self, sizes, vals):
        """Every nest in one native call per thread, units shared (codegen.llvm.drive);
        general has put the dims in this thread's ctl."""
        c0, _ = self._ctls()
        sched, parts, split = self._sched(sizes)
        drive.run((self.desc, sched, parts, c0) +
                  tuple(_DUMMY if vals[j] is None else vals[j] for j in self.slots),
                  split, self.threads)
        if c0[-1]:
            self.bad_labels(vals)

    def _run(self, st, size, vals):
        """One nest alone (a Program with fallback steps): in units on the driver (on two
        threads when threads=2) from drive.SPLIT_FROM elements, else one call."""
        _, writes, _, k, flat, cell, partials, splittable, post = st
        numel, n0 = size
        c0, _ = self._ctls()
        args = tuple(_DUMMY if vals[i] is None else vals[i] for i in self.slots)
        if splittable and numel >= self.split_from:
            j = self.nest_of[id(st)]
            nests = [(0, 1, 1, 0)] * len(self.nest_of)      # the others do not run
            nests[j] = drive.units(numel, n0, True, self.split_from) + (n0, len(partials))
            sched, parts, split = drive.schedule(nests)
            drive.run((self.desc, sched, parts, c0) + args, split, self.threads)
            bad = c0[-1]
        else:
            c0[self.run_cells] = 0.0
            c0[cell] = 1.0
            c0[cell + 1], c0[cell + 2] = 0.0, n0
            self.fn(args + (c0,))
            bad = c0[cell + 3 + len(partials)]
            c0[cell] = 0.0
        if bad:
            self.bad_labels(vals)
        for slot, final in post:
            vals[slot] = vals[slot].astype(final, copy=False)

    def bad_labels(self, vals):
        """Raise lossgraph.ops.index.check_range's error for the labels out of range (vals:
        slot -> array, a list or a dict)."""
        if isinstance(vals, list):
            vals = dict(enumerate(vals))
        from lossgraph.errors import InputError
        from lossgraph.ops.index import check_range
        for node, depth, what, labels in self.plan.checks.values():
            k = self.slot.get(id(labels))
            if vals.get(k) is not None and isinstance(depth, int):
                check_range(vals[k], depth, what)
        for n in self.plan.order:
            if n.op == "pick" and vals.get(self.slot[id(n.inputs[1])]) is not None:
                x, y = (vals.get(self.slot[id(i)]) for i in n.inputs)
                if x is not None:
                    check_range(y, x.shape[n.attrs["axis"]], "pick")
        raise InputError("pick / one_hot: a label is out of range [0, depth)")

    def _results(self, vals, fresh, outs, dimvals):
        plan, used = self.plan, set()
        nv = len(self.value_slots)

        def result(slot, node):
            a = vals[slot]
            if a is None:             # a leaf output (a constant, dimsize or arange)
                dims = dict(zip(plan.dims, dimvals))
                a = _apply(node, {}, Env({}, dims, self.float_t))
            want = self.out_dtypes[id(node)]
            if slot not in fresh or slot in used or a.dtype != want:
                shape = shape_at(self._spec(node.shape), dimvals)
                a = np.array(np.broadcast_to(a, shape), dtype=want)
            used.add(slot)
            return a[()] if a.ndim == 0 else a

        vals_out = [result(k, n) for k, n in zip(self.value_slots, self.out_nodes[:nv])]
        value = vals_out[0] if nv == 1 else tuple(vals_out)
        if not self.s.wrt:
            return value
        grads = []
        for j, (k, node) in enumerate(zip(self.grad_slots, self.out_nodes[nv:])):
            if outs:
                buf = outs[j]
                if vals[k] is None:
                    np.copyto(buf, result(k, node))
                elif vals[k] is not buf:
                    np.copyto(buf, vals[k])
                used.add(k)
                grads.append(buf)
            else:
                a = result(k, node)
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


def _dtype_key(weak):
    """arrays -> the dtypes of the inputs at positions weak (a tuple unless there is one)."""
    if not weak:
        return lambda arrays: None
    if len(weak) == 1:
        k0, = weak
        return lambda arrays: arrays[k0].dtype
    if len(weak) == 2:
        k0, k1 = weak
        return lambda arrays: (arrays[k0].dtype, arrays[k1].dtype)
    return lambda arrays: tuple([arrays[k].dtype for k in weak])


def _streaming_key(key, weak, dims, k, limit):
    """key's dispatch key, (key, True) for a call whose input k takes at least limit bytes:
    a small call keeps its key. The plain dtype keys (_dtype_key of weak, no row dims) are
    written out: a test and no extra call in the common case."""
    if not dims and len(weak) <= 2:
        if not weak:
            return lambda arrays: None if arrays[k].nbytes < limit else True
        if len(weak) == 1:
            k0, = weak
            return lambda arrays: arrays[k0].dtype if arrays[k].nbytes < limit else \
                (arrays[k0].dtype, True)
        k0, k1 = weak
        return lambda arrays: (arrays[k0].dtype, arrays[k1].dtype) \
            if arrays[k].nbytes < limit else (arrays[k0].dtype, arrays[k1].dtype, True)
    return lambda arrays: key(arrays) if arrays[k].nbytes < limit else (key(arrays), True)


class LLVMKernel:
    """fn(*arrays, *gradient buffers) for Kernel: dispatches on the float precision and, for
    a kernel with row dims (codegen.llvm.specialize), on their values in specialize.fixed():
    such a call runs a Program with those dims static (at most specialize.LIMIT of them per
    precision); other values run the general Program.

    A kernel whose Program could stream (Program.could_stream: flat nests with outputs for
    streaming stores) dispatches on the size of the call too, from its first call on: a call
    whose stream_input (the float input of the largest rank) takes at least
    emit.STREAM_FROM_BYTES bytes runs the streaming Program of the same precision and fixed
    dims, compiled on its first such call (its nests still test their own sizes, so the test
    chooses the code, never the results' bits); smaller calls run the Program without
    streaming code, compiled on the first of them (a kernel whose first call is large
    compiles the streaming Program alone). Other kernels keep their dispatch key."""

    def __init__(self, schedule, threads):
        self.s, self.threads = schedule, threads
        self.programs, self._lock = {}, threading.Lock()   # (float_t, fixed) -> Program
        self.streaming_programs = {}     # (float_t, fixed) -> its Program with streaming
        self._calls = {}          # the dispatch key -> its Program.call
        self.n = len(schedule.inputs)
        self.weak = [k for k, n in enumerate(schedule.inputs.values()) if n.dtype == "float"]
        self._key = _dtype_key(self.weak)
        self.row_dims = specialize.row_dims(schedule)
        if self.row_dims:
            self._key = specialize.key_function(self._key, self.row_dims)
        floats = [(n.ndim, -k) for k, n in enumerate(schedule.inputs.values())
                  if n.dtype in ("float", "float32", "float64")]
        self.stream_input = -max(floats)[1] if floats else None
        self.sized = False        # whether _key tells large calls (a Program could stream)
        self.stream_from = None   # the bytes of stream_input from which calls stream
        concrete = [n.dtype for n in schedule.inputs.values() if n.dtype in ("float32", "float64")]
        self.default = dt.promote(*concrete) if concrete else "float64"
        if self.default == "float":
            self.default = "float64"

    def prefer(self, float_t):
        """The precision the texts show (and compile first, when nothing is compiled yet):
        the dtype a Kernel compiled with dtype= takes, not float64."""
        self.default = float_t

    def program(self, float_t, fixed=(), streaming=False):
        """The Program of float_t with the dims of fixed static (() : the general one), with
        streaming stores if streaming and it could stream. A streaming Program of a kernel
        that cannot stream has no streaming code: it is kept (and returned) as the plain one."""
        store = self.streaming_programs if streaming else self.programs
        p = store.get((float_t, fixed))
        if p is None:
            with self._lock:
                if fixed and (float_t, fixed) not in self.programs and \
                        (float_t, fixed) not in self.streaming_programs and \
                        len({f for ft, f in (*self.programs, *self.streaming_programs)
                             if f and ft == float_t}) >= specialize.LIMIT:
                    fixed = ()
                key = (float_t, fixed)
                p = self.programs.get(key)
                if streaming and (p is None or p.could_stream):
                    p = self.streaming_programs.get(key)
                    if p is None:
                        p = Program(self.s, float_t, self.threads, fixed, streaming=True)
                        (self.streaming_programs if p.could_stream else self.programs)[key] = p
                elif p is None:
                    p = self.programs[key] = Program(self.s, float_t, self.threads, fixed)
        return p

    @property
    def specializations(self):
        """((float_t, fixed), ...) of the specialized programs compiled so far."""
        return tuple(sorted(k for k in self.programs if k[1]))

    def __call__(self, *args):
        return self.call_arrays(args[:self.n], args[self.n:])

    def call_arrays(self, arrays, outs):
        """The call on checked arrays and gradient buffers (Kernel calls this directly)."""
        key = self._key(arrays)
        call = self._calls.get(key)
        if call is None:
            call = self._first_call(arrays)
        return call(arrays, outs)

    def entry(self, arrays, fits):
        """The Kernel's entry (fastcall.build's, which declines with None what it does not
        take; fits: Kernel's check of out=) for calls like arrays once one has run the plain
        Program; None before that, False when there is none to make (row dims, a Program
        without the lean call)."""
        if self.row_dims:
            return False
        p = self.programs.get((self._precision(arrays), ()))
        if p is None or self._calls.get(self._key(arrays)) is not p.call:
            return None
        if p.lean is None:
            return False
        return fastcall.build(p, (self.stream_input if self.sized else None,
                                  self.stream_from, fits)) or False

    def _first_call(self, arrays):
        """The call of a dispatch key not seen yet. A large call (stream_input at least
        stream_from bytes, emit.STREAM_FROM_BYTES when the kernel's first call came) asks for
        the streaming Program, a small one for the plain one; the first Program that could
        stream makes the key tell large calls (_streaming_key) from then on."""
        if self.stream_from is None:
            self.stream_from = emit.STREAM_FROM_BYTES
        large = self.stream_input is not None and \
            arrays[self.stream_input].nbytes >= self.stream_from
        p = self.program_for(self._precision(arrays), [a.shape for a in arrays], large)
        if p.could_stream and not self.sized:
            with self._lock:
                if not self.sized:
                    self._calls = {}
                    self._key = _streaming_key(self._key, self.weak, self.row_dims,
                                               self.stream_input, self.stream_from)
                    self.sized = True
        key = self._key(arrays)
        self._calls[key] = p.call
        return p.call

    def program_for(self, float_t, shapes, streaming=False):
        """The Program a call with inputs of these shapes runs at float_t (with streaming
        stores if streaming, as program says)."""
        return self.program(float_t, specialize.fixed_of(self.row_dims, shapes)
                            if self.row_dims else (), streaming)

    def _precision(self, arrays):
        """float64 if a weak ("float") input is float64, else float32; declared dtypes decide
        when no input is weak."""
        if self.weak:
            return "float64" if any(arrays[k].dtype == np.float64 for k in self.weak) \
                else "float32"
        return self.default

    def text(self, key):
        """The texts of every program compiled so far, the general ones first (the general
        one of the default precision is compiled when none is), each under a header naming
        its precision, fixed dims and, for a streaming Program, "streaming stores"."""
        if not self.programs and not self.streaming_programs:
            self.program(self.default)
        parts = []
        every = [(k, False, p) for k, p in self.programs.items()] + \
            [(k, True, p) for k, p in self.streaming_programs.items()]
        for (ft, fixed), streaming, p in sorted(every, key=lambda e: (bool(e[0][1]), e[0],
                                                                      e[1])):
            dims = "".join(f", {name} = {v}" for name, v in fixed)
            tag = ", streaming stores" if streaming else ""
            parts.append(f"; precision {ft}{dims}{tag}\n" + p.texts(key))
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
