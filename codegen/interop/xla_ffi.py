"""The XLA FFI path of kernel.to_jax(): an XLA FFI handler generated in LLVM IR (llvmlite, no C
compiler needed) that runs an LLVM-backend kernel's native entry on XLA's own buffers.

    t = xla_ffi.target(program, in_dtypes, "bce")   # None: this program needs the callback
    outs = jax.ffi.ffi_call(t.name, t.result_types(shapes), vmap_method=...)(*arrays)
    value, grads = outs[0], outs[1:1 + t.n_grads]         # the rest: the kernel's scratch

The handler, `XLA_FFI_Error *handler(XLA_FFI_CallFrame *)`, follows xla/ffi/api/c_api.h (API
0.3; the structs are transcribed below as LLVM struct types, so LLVM lays them out as a C
compiler does). It answers XLA's metadata query (API version, no traits), runs only at the
execute stage, checks the count, dtype, rank and dims of every buffer, and returns NULL, or an
error made by the api's XLA_FFI_Error_Create (INVALID_ARGUMENT) naming what was wrong.

The driver's entry is `void drive(PyObject *args, i64 role)`, args = (desc, sched, parts, ctl,
one array per slot) (codegen.llvm.drive): it and the kernel's `unit` only load
args[tuple_item_offset + 8 i] and, from each, the word at array_data_offset. The handler
answers those two loads from blocks on its stack holding XLA's data pointers, so the kernel
writes its value and gradients straight into the result buffers XLA allocated (zero copy).
Arrays the kernel writes that are not results (per-row maxima, partial sums) are extra uint8
results sized from the dims ("scratch"), as is an int32 input the kernel reads as int64 (JAX
without x64), widened by the handler.

The steps run as a large direct call runs them (so the bits equal the callback path's): dims
from the buffers' dims at call time, the units of codegen.llvm.drive (drive.units_ir, the same
as drive.units), and the process's driver on (desc, sched, parts, ctl, arrays...), which
combines the units' partials in unit order and stores them in their 0-d arrays. With threads=2
and a nest in several units, the helper role is offered to XLA's intra-op thread pool
(XLA_FFI_ThreadPool_Schedule) while the handler runs the caller's; if no pool thread has begun
it by then, the caller has run every unit (see on_two_threads).

Programs the handler cannot run (a NumPy fallback step, dims not read off the input shapes, an
output the kernel does not write in its own dtype) get None: to_jax uses the host callback.
Registered targets are never dropped (XLA has no unregistering), so each keeps its Program,
and so the kernel's machine code, and the handler's JitModule alive for the process.
"""
from __future__ import annotations

import ctypes
import itertools
import re
import threading

import numpy as np
from llvmlite import ir

from lossgraph.shapes import _factors

from ..llvm import drive, jit, runtime
from ..llvm.backend import shape_at
from ..llvm.loops import counted_loop
from ..llvm.lower import F64, I1, I8, I32, I64, PTR, TYPES, const, is_float

# --- xla/ffi/api/c_api.h, API 0.3 (field order as declared; enums are 32-bit ints)
API_MAJOR, API_MINOR = 0, 3
EXTENSION_BASE = ir.LiteralStructType([I64, I32, PTR])            # struct_size, type, next
API_VERSION = ir.LiteralStructType([I64, PTR, I32, I32])          # .., major, minor
ARGS = ir.LiteralStructType([I64, PTR, I64, PTR, PTR])            # .., size, types, args/rets
ATTRS = ir.LiteralStructType([I64, PTR, I64, PTR, PTR, PTR])      # .., size, types, names, attrs
CALL_FRAME = ir.LiteralStructType([I64, PTR, PTR, PTR, I32,       # .., api, ctx, stage,
                                   ARGS, ARGS, ATTRS, PTR])       # args, rets, attrs, future
BUFFER = ir.LiteralStructType([I64, PTR, I32, PTR, I64, PTR])     # .., dtype, data, rank, dims
METADATA = ir.LiteralStructType([I64, API_VERSION, I32, I64])     # .., version, traits, state
METADATA_EXTENSION = ir.LiteralStructType([EXTENSION_BASE, PTR])  # base, metadata
ERROR_CREATE_ARGS = ir.LiteralStructType([I64, PTR, PTR, I32])    # .., message, errc
API = ir.LiteralStructType([I64, PTR, API_VERSION, PTR]          # .., internal_api, then 18
                           + [PTR] * 18)                          # function pointers
SCHEDULE_ARGS = ir.LiteralStructType([I64, PTR, PTR, PTR, PTR])   # .., ctx, task, data
ERROR_DESTROY_ARGS = ir.LiteralStructType([I64, PTR, PTR])        # .., error
FRAME_EXTENSION, FRAME_API, FRAME_CTX, FRAME_STAGE, FRAME_ARGS, FRAME_RETS = 1, 2, 3, 4, 5, 6
LIST_SIZE, LIST_ITEMS = 2, 4
BUFFER_DTYPE, BUFFER_DATA, BUFFER_RANK, BUFFER_DIMS = 2, 3, 4, 5
API_ERROR_CREATE, API_ERROR_DESTROY, API_THREADPOOL_SCHEDULE = 4, 6, 15   # API fields
EXTENSION_METADATA = 1                   # XLA_FFI_Extension_Metadata
STAGE_EXECUTE = 3                        # XLA_FFI_ExecutionStage_EXECUTE
INVALID_ARGUMENT = 3                     # XLA_FFI_Error_Code_INVALID_ARGUMENT
#: numpy dtype -> XLA_FFI_DataType
DTYPE_CODES = {"bool": 1, "int8": 2, "int16": 3, "int32": 4, "int64": 5, "uint8": 6,
               "uint16": 7, "uint32": 8, "uint64": 9, "float16": 10, "float32": 11,
               "float64": 12}

_TARGETS = {}
_LOCK = threading.Lock()
_COUNT = itertools.count()


def struct_size(ty):
    """XLA_FFI_STRUCT_SIZE(ty, last field): the offset of its last field plus that field's size."""
    td = jit.target_machine().target_data
    last = len(ty.elements) - 1
    return ty.get_element_offset(td, last) + ty.elements[last].get_abi_size(td)


def target(program, in_dtypes, label):
    """The registered FFI target running `program` on inputs of in_dtypes (numpy dtype names,
    in the kernel's input order), made once; None when the program needs the host callback.
    label: the kernel's name (sanitized into the target's name)."""
    key = (id(program), tuple(in_dtypes))
    held = _TARGETS.get(key)
    if held is None:
        with _LOCK:
            held = _TARGETS.get(key)
            if held is None:           # the program is held too: its id stays its own
                held = _TARGETS[key] = (program, FfiTarget.build(program, tuple(in_dtypes),
                                                                 label))
    return held[1] or None


def declines(program):
    """Why the handler cannot run program (a sentence), or None when it can."""
    if program.fn is None or not program.one_call:
        return "a step runs in NumPy (a fallback op)"
    if program.bind_needed or any(s is None for s in program.dim_source):
        return "a dim is not the size of an input's axis"
    writes = _writes(program)
    outs = program.value_slots + program.grad_slots
    if len(set(outs)) != len(outs):
        return "two outputs share one array"
    for k, node in zip(outs, program.out_nodes):
        if k not in writes or writes[k][2] is not None or \
                np.dtype(writes[k][1]) != program.out_dtypes[id(node)]:
            return "an output is not an array the kernel writes in its own dtype"
        if program.out_dtypes[id(node)] != np.dtype(program.float_t):
            return f"an output is not {program.float_t}"
    if any(st[8] for st in program.steps):
        return "a reduction is converted between nests"
    return None


def _writes(program):
    """slot -> (shape spec, dtype, identity or None) of every array a nest writes."""
    return {slot: (spec, dtype, ident) for st in program.steps
            for slot, spec, dtype, ident in st[1]}


def _wrt_positions(program):
    """The input positions of the differentiated inputs, in wrt order."""
    names = [n.name for n in program.input_nodes]
    return [names.index(w.name) for w in program.s.wrt]



class FfiTarget:
    """One registered handler: name, n_grads, and result_types(input shapes) for ffi_call."""

    def __init__(self, program, in_dtypes, name, scratch, widened):
        self.program, self.in_dtypes, self.name = program, in_dtypes, name
        self.n_grads = len(program.grad_slots)
        self.scratch, self.widened = scratch, widened     # [(slot, spec, itemsize)], [k]
        self.jit = None

    @classmethod
    def build(cls, program, in_dtypes, label):
        """The target, compiled and registered; False when the program declines."""
        if declines(program):
            return False
        import jax
        writes = _writes(program)
        outs = set(program.value_slots + program.grad_slots)
        scratch = [(k, writes[k][0], np.dtype(writes[k][1]).itemsize)
                   for k in program.slots if k in writes and k not in outs]
        widened = [k for k, (node, d) in enumerate(zip(program.input_nodes, in_dtypes))
                   if node.dtype == "int64" and d == "int32"
                   and program.input_slots[k] is not None]
        safe = re.sub(r"[^A-Za-z0-9_]", "_", label)[:40]
        name = f"lossgraph_{safe}_{program.float_t}_{next(_COUNT)}"
        t = cls(program, in_dtypes, name, scratch, widened)
        t.jit = jit.compile_module(_Handler(t).module)
        address = t.jit.address("handler")
        jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(ctypes.c_void_p(address)),
                                    platform="cpu")
        return t

    def result_types(self, shapes):
        """ffi_call's results for inputs of these shapes: value, gradients, scratch bytes."""
        import jax
        p = self.program
        dims = [shapes[k][ax] for k, ax in p.dim_source]
        fdt = np.dtype(p.float_t)
        wrt = _wrt_positions(p)
        out = [jax.ShapeDtypeStruct((), fdt)]
        out += [jax.ShapeDtypeStruct(shapes[k], fdt) for k in wrt]
        out += [jax.ShapeDtypeStruct((max(1, int(np.prod(shape_at(spec, dims))) * item),), np.uint8)
                for _, spec, item in self.scratch]
        out += [jax.ShapeDtypeStruct((max(1, int(np.prod(shapes[k]))) * 8,), np.uint8)
                for k in self.widened]
        return out

    def __repr__(self):
        return f"<FfiTarget {self.name}>"


class _Handler:
    """The IR module of one target's handler (see the module doc)."""

    def __init__(self, t):
        self.t = t
        self.module = m = jit.new_module("lossgraph_xla_ffi")
        self.fn = ir.Function(m, ir.FunctionType(PTR, [PTR]), name="handler")
        self.entry_block = self.fn.append_basic_block("entry")
        self.b = ir.IRBuilder(self.entry_block)
        self.strings = 0
        frame = self.fn.args[0]
        self.metadata(frame)
        self.api = self.field(frame, CALL_FRAME, FRAME_API, PTR)
        self.ctx = self.field(frame, CALL_FRAME, FRAME_CTX, PTR)
        self.body(frame)
        self.b.ret(ir.Constant(PTR, None))

    # --- IR helpers
    def member(self, ptr, ty, *path):
        """A pointer to a field of the struct ty at ptr (path: field indices, outermost
        first), at the byte offset LLVM's data layout gives it."""
        td = jit.target_machine().target_data
        offset = 0
        for index in path:
            offset += ty.get_element_offset(td, index)
            ty = ty.elements[index]
        return self.b.gep(ptr, [const(I64, offset)], source_etype=I8)

    def field(self, ptr, ty, index, typ):
        return self.b.load(self.member(ptr, ty, index), typ=typ)

    def at(self, base, index, ty):
        return self.b.gep(base, [index if isinstance(index, ir.Value) else const(I64, index)],
                          source_etype=ty)

    def alloca(self, ty, n=1):
        with self.b.goto_block(self.entry_block):
            self.b.position_at_start(self.entry_block)
            return self.opaque(self.b.alloca(ty, size=n))

    def opaque(self, typed):
        """typed as an opaque pointer (llvmlite checks stores through typed pointers against
        their pointee; the handler stores fields of other types at byte offsets)."""
        return self.b.inttoptr(self.b.ptrtoint(typed, I64), PTR)

    def string(self, text):
        data = bytearray(text.encode() + b"\0")
        g = ir.GlobalVariable(self.module, ir.ArrayType(I8, len(data)), f"msg{self.strings}")
        self.strings += 1
        g.global_constant, g.linkage = True, "private"
        g.initializer = ir.Constant(g.value_type, data)
        return g.bitcast(PTR)

    def check(self, ok, message):
        """Go on when ok, else return XLA_FFI_Error_Create(INVALID_ARGUMENT, message)."""
        b = self.b
        fail, cont = self.fn.append_basic_block("fail"), self.fn.append_basic_block("ok")
        b.cbranch(ok, cont, fail)
        b.position_at_end(fail)
        args = self.opaque(b.alloca(ERROR_CREATE_ARGS))
        for i, v in enumerate([const(I64, struct_size(ERROR_CREATE_ARGS)),
                               ir.Constant(PTR, None), self.string(message),
                               const(I32, INVALID_ARGUMENT)]):
            b.store(v, self.member(args, ERROR_CREATE_ARGS, i))
        create = self.field(self.api, API, API_ERROR_CREATE,
                            ir.FunctionType(PTR, [PTR]).as_pointer())
        b.ret(b.call(create, [args]))
        b.position_at_end(cont)

    # --- the handler
    def metadata(self, frame):
        """The metadata query: fill in the API version and traits, return success."""
        b = self.b
        ext = self.field(frame, CALL_FRAME, FRAME_EXTENSION, PTR)
        query, run = self.fn.append_basic_block("query"), self.fn.append_basic_block("stage")
        kind = self.fn.append_basic_block("kind")
        b.cbranch(b.icmp_unsigned("!=", ext, ir.Constant(PTR, None)), kind, run)
        b.position_at_end(kind)
        is_meta = b.icmp_signed("==", self.field(ext, EXTENSION_BASE, 1, I32),
                                const(I32, EXTENSION_METADATA))
        b.cbranch(is_meta, query, run)
        b.position_at_end(query)
        meta = self.field(ext, METADATA_EXTENSION, 1, PTR)
        for i, v in enumerate([const(I64, struct_size(API_VERSION)), ir.Constant(PTR, None),
                               const(I32, API_MAJOR), const(I32, API_MINOR)]):
            b.store(v, self.member(meta, METADATA, 1, i))
        b.store(const(I32, 0), self.member(meta, METADATA, 2))         # traits: none
        b.store(const(I64, 0), self.member(meta, METADATA, 3))         # no state type
        b.ret(ir.Constant(PTR, None))
        b.position_at_end(run)
        execute, skip = self.fn.append_basic_block("execute"), self.fn.append_basic_block("skip")
        stage = self.field(frame, CALL_FRAME, FRAME_STAGE, I32)
        b.cbranch(b.icmp_signed("==", stage, const(I32, STAGE_EXECUTE)), execute, skip)
        b.position_at_end(skip)
        b.ret(ir.Constant(PTR, None))
        b.position_at_end(execute)

    def buffers(self, frame, which, expected, what):
        """[(data pointer, dims pointer)] of the call frame's args or rets, their count, dtype
        and rank checked: expected [(name, dtype, rank)]."""
        b = self.b
        lst = self.member(frame, CALL_FRAME, which)
        n = self.field(lst, ARGS, LIST_SIZE, I64)
        self.check(b.icmp_signed("==", n, const(I64, len(expected))),
                   f"{self.t.name}: expected {len(expected)} {what}")
        items = self.field(lst, ARGS, LIST_ITEMS, PTR)
        out = []
        for i, (name, dtype, rank) in enumerate(expected):
            buf = b.load(self.at(items, i, PTR), typ=PTR)
            code = self.field(buf, BUFFER, BUFFER_DTYPE, I32)
            self.check(b.icmp_signed("==", code, const(I32, DTYPE_CODES[dtype])),
                       f"{self.t.name}: {name} must have dtype {dtype}")
            r = self.field(buf, BUFFER, BUFFER_RANK, I64)
            self.check(b.icmp_signed("==", r, const(I64, rank)),
                       f"{self.t.name}: {name} must have rank {rank}")
            data = self.field(buf, BUFFER, BUFFER_DATA, PTR)
            if dtype not in ("bool", "int8", "uint8"):
                item = np.dtype(dtype).itemsize
                aligned = b.icmp_unsigned("==", b.and_(b.ptrtoint(data, I64),
                                                       const(I64, item - 1)), const(I64, 0))
                self.check(aligned, f"{self.t.name}: {name} is not {item}-byte aligned")
            out.append((data, self.field(buf, BUFFER, BUFFER_DIMS, PTR)))
        return out

    def extent(self, dims_ptr, axis):
        return self.b.load(self.at(dims_ptr, axis, I64), typ=I64)

    def size(self, spec, dims):
        """The extents of a shape spec at the dims (i64 values)."""
        b, out = self.b, []
        for coeff, idx in spec:
            v = const(I64, coeff)
            for j in idx:
                v = b.mul(v, dims[j])
            out.append(v)
        return out

    def numel(self, spec, dims):
        v = const(I64, 1)
        for e in self.size(spec, dims):
            v = self.b.mul(v, e)
        return v

    def body(self, frame):
        t, p, b = self.t, self.t.program, self.b
        names = [n.name for n in p.input_nodes]
        ins = self.buffers(frame, FRAME_ARGS,
                           [(f"input {n!r}", d, node.ndim)
                            for n, d, node in zip(names, t.in_dtypes, p.input_nodes)],
                           "arguments")
        dims = [self.extent(ins[k][1], ax) for k, ax in p.dim_source]
        index = {d: j for j, d in enumerate(p.plan.dims)}
        for (name, node), (_, dptr) in zip(zip(names, p.input_nodes), ins):
            for ax, d in enumerate(node.shape):
                if isinstance(d, int):
                    want = const(I64, d)
                else:
                    coeff, parts = _factors(d)
                    if any(q not in index for q in parts):
                        continue
                    want = self.size([(coeff, [index[q] for q in parts])], dims)[0]
                self.check(b.icmp_signed("==", self.extent(dptr, ax), want),
                           f"{t.name}: input {name!r} axis {ax} must have size {d}")
        fdt = p.float_t
        expected = [("the value", fdt, 0)]
        wrt = _wrt_positions(p)
        expected += [(f"the gradient w.r.t. {names[k]!r}", fdt, p.input_nodes[k].ndim)
                     for k in wrt]
        expected += [(f"scratch {j}", "uint8", 1) for j in range(len(t.scratch) + len(t.widened))]
        rets = self.buffers(frame, FRAME_RETS, expected, "results")
        for k, (_, dptr) in zip(wrt, rets[1:]):
            for ax in range(p.input_nodes[k].ndim):
                self.check(b.icmp_signed("==", self.extent(dptr, ax), self.extent(ins[k][1], ax)),
                           f"{t.name}: the gradient w.r.t. {names[k]!r} has the wrong shape")
        data = {k: rets[0][0] for k in p.value_slots}
        data.update({k: r[0] for k, r in zip(p.grad_slots, rets[1:])})
        extra = rets[1 + len(wrt):]
        for (slot, spec, item), (ptr, dptr) in zip(t.scratch, extra):
            need = b.mul(self.numel(spec, dims), const(I64, item))
            self.check(b.icmp_signed(">=", self.extent(dptr, 0), need),
                       f"{t.name}: scratch for slot {slot} is too small")
            data[slot] = ptr
        for k, (ptr, dptr) in zip(t.widened, extra[len(t.scratch):]):
            n = const(I64, 1)
            for ax in range(p.input_nodes[k].ndim):
                n = b.mul(n, self.extent(ins[k][1], ax))
            self.check(b.icmp_signed(">=", self.extent(dptr, 0), b.mul(n, const(I64, 8))),
                       f"{t.name}: scratch for input {names[k]!r} is too small")
            src = ins[k][0]

            def widen(b, i, src=src, ptr=ptr):
                v = b.load(self.at(src, i, I32), typ=I32)
                b.store(b.sext(v, I64), self.at(ptr, i, I64))
                return ()
            counted_loop(b, const(I64, 0), n, widen)
            data[p.input_slots[k]] = ptr
        for k, slot in enumerate(p.input_slots):
            if slot is not None and slot not in data:
                data[slot] = ins[k][0]
        for slot, arr in p.consts:
            g = ir.GlobalVariable(self.module, ir.ArrayType(I8, max(1, arr.nbytes)),
                                  f"const{slot}")
            g.global_constant, g.linkage, g.align = True, "private", 64
            g.initializer = ir.Constant(g.value_type, bytearray(arr.tobytes() or b"\0"))
            data[slot] = g.bitcast(PTR)
        self.run_steps([data[k] for k in p.slots], dims)

    def drive(self, args, role):
        _call_driver(self.b, args, role)

    def fake_args(self, pointers):
        """A block a kernel entry reads as the tuple (pointers...): its item i at
        tuple_item_offset + 8 i points to a block holding pointer i at array_data_offset."""
        b = self.b
        items, data = runtime.tuple_item_offset(), runtime.array_data_offset()
        holders = self.alloca(ir.ArrayType(I8, (data + 8) * len(pointers)))
        tup = self.alloca(ir.ArrayType(I8, items + 8 * len(pointers)))
        for i, ptr in enumerate(pointers):
            holder = self.at(holders, (data + 8) * i, I8)
            b.store(ptr, self.at(holder, data, I8))
            b.store(holder, self.at(tup, items + 8 * i, I8))
        return tup

    def run_steps(self, pointers, dims):
        """The nests as Program._drive runs them: sched's units from the dims, parts on the
        heap, the driver's caller role here and its helper role offered to XLA's thread pool
        (on_two_threads)."""
        p, b = self.t.program, self.b
        size = p.ctl_size
        ctl = self.alloca(F64, size)
        for j in range(size):
            b.store(ir.Constant(F64, 0.0), self.at(ctl, j, F64))
        for j, d in enumerate(dims):
            b.store(b.sitofp(d, F64), self.at(ctl, j, F64))
        where = {k: i for i, k in enumerate(p.slots)}
        first, sched_size = drive.counters(len(p.steps))
        sched = self.alloca(I64, sched_size)
        for j in range(sched_size):
            b.store(const(I64, 0), self.at(sched, j, I64))
        base, split = const(I64, 0), const(I1, 0)
        for j, st in enumerate(p.steps):
            _, writes, spec, rank, flat, cell, partials, splittable, _ = st
            for slot, wspec, dtype, ident in writes:
                if ident is not None:
                    self.fill(pointers[where[slot]], self.numel(wspec, dims), dtype, ident)
            numel = self.numel(spec, dims)
            n0 = const(I64, 1) if rank == 0 else numel if flat else self.size(spec, dims)[0]
            n, length = drive.units_ir(b, numel, n0, splittable, p.split_from)
            for i, v in enumerate((n, length, n0, base)):
                b.store(v, self.at(sched, drive.STATIC * j + i, I64))
            base = b.add(base, b.mul(n, const(I64, len(partials) + 1)))
            split = b.or_(split, b.icmp_signed(">", n, const(I64, 1)))
        libc = ctypes.CDLL(None)
        parts = self.call_libc(libc.malloc, PTR, [b.mul(base, const(I64, 8))])
        self.check(b.icmp_unsigned("!=", parts, ir.Constant(PTR, None)),
                   f"{self.t.name}: no memory for the partial sums")
        desc = b.inttoptr(const(I64, p.desc.ctypes.data), PTR)   # the Program lives on
        args = self.fake_args([desc, sched, parts, ctl] + pointers)
        if p.threads == 2:
            with b.if_else(split) as (two, one):
                with two:
                    self.on_two_threads(args, libc)
                with one:
                    self.drive(args, drive.CALLER)
        else:
            self.drive(args, drive.CALLER)
        self.call_libc(libc.free, ir.VoidType(), [parts])
        self.check(b.fcmp_ordered("==", b.load(self.at(ctl, size - 1, F64), typ=F64),
                                  ir.Constant(F64, 0.0)),
                   f"{self.t.name}: pick / one_hot: a label is out of range [0, depth)")

    def on_two_threads(self, args, libc):
        """The helper role offered to XLA's intra-op thread pool (XLA_FFI_ThreadPool_Schedule),
        the caller's run here; then, unless a pool thread has begun the helper by then,
        nothing is left for it (the caller ran every unit no one took), else wait until it is
        done.

        The task's state lives on the heap: {i32 state (0 offered, 1 claimed, 2 done), i32
        owners, args}: whoever claims it (a compare-and-swap 0 -> 1) runs it, and the last of
        the two owners frees it. So the handler never waits for a task no thread has begun
        (no deadlock when the pool is busy or absent), and returns only after a begun helper
        is done (it reads the handler's stack)."""
        b = self.b
        task = self.call_libc(libc.malloc, PTR, [const(I64, 16)])
        with b.if_else(b.icmp_unsigned("!=", task, ir.Constant(PTR, None))) as (pool, alone):
            with pool:
                self.offered(task, args, libc)
            with alone:                                  # no memory for the task: alone
                self.drive(args, drive.CALLER)

    def offered(self, task, args, libc):
        """on_two_threads with its task allocated."""
        b = self.b
        state, owners, slot = self.at(task, 0, I32), self.at(task, 1, I32), self.at(task, 8, I8)
        b.store(const(I32, 0), state)
        b.store(const(I32, 2), owners)
        b.store(args, slot)
        ok = self.schedule(self.task_main(), task)
        with b.if_then(b.not_(ok)):
            b.store(const(I32, 1), owners)               # no task will run: the only owner
        self.drive(args, drive.CALLER)
        mine = b.extract_value(b.cmpxchg(state, const(I32, 0), const(I32, 1), "acq_rel",
                                         "acquire"), 1)
        with b.if_then(b.not_(mine)):
            wait, done = self.fn.append_basic_block("wait"), self.fn.append_basic_block("done")
            b.branch(wait)
            b.position_at_end(wait)
            now = b.load_atomic(state, "acquire", 4, typ=I32)
            b.cbranch(b.icmp_signed("==", now, const(I32, 2)), done, wait)
            b.position_at_end(done)
        self.release(b, task, owners, libc)

    def call_libc(self, fn, restype, args, b=None):
        b = b or self.b
        ty = ir.FunctionType(restype, [a.type for a in args]).as_pointer()
        return b.call(b.inttoptr(const(I64, ctypes.cast(fn, ctypes.c_void_p).value), ty), args)

    def release(self, b, task, owners, libc):
        """One owner of the task gone; the last one frees it."""
        left = b.atomic_rmw("sub", owners, const(I32, 1), "acq_rel")
        with b.if_then(b.icmp_signed("==", left, const(I32, 1))):
            self.call_libc(libc.free, ir.VoidType(), [task], b)

    def schedule(self, fn, data):
        """XLA_FFI_ThreadPool_Schedule(ctx, fn, data) -> i1 scheduled; false (any error
        destroyed) when the api has no such function or the context no thread pool."""
        b, td = self.b, jit.target_machine().target_data
        known = b.icmp_unsigned(">", self.field(self.api, API, 0, I64),
                                const(I64, API.get_element_offset(td, API_THREADPOOL_SCHEDULE)))
        result = self.alloca(I1)
        b.store(const(I1, 0), result)
        with b.if_then(known):
            sched = self.field(self.api, API, API_THREADPOOL_SCHEDULE, PTR)
            with b.if_then(b.icmp_unsigned("!=", sched, ir.Constant(PTR, None))):
                args = self.opaque(b.alloca(SCHEDULE_ARGS))
                for i, v in enumerate([const(I64, struct_size(SCHEDULE_ARGS)),
                                       ir.Constant(PTR, None), self.ctx, fn, data]):
                    b.store(v, self.member(args, SCHEDULE_ARGS, i))
                call_ty = ir.FunctionType(PTR, [PTR]).as_pointer()
                err = b.call(b.inttoptr(b.ptrtoint(sched, I64), call_ty), [args])
                fine = b.icmp_unsigned("==", err, ir.Constant(PTR, None))
                b.store(fine, result)
                with b.if_then(b.not_(fine)):
                    self.destroy(err)
        return b.load(result, typ=I1)

    def destroy(self, err):
        """XLA_FFI_Error_Destroy(err)."""
        b = self.b
        args = self.opaque(b.alloca(ERROR_DESTROY_ARGS))
        for i, v in enumerate([const(I64, struct_size(ERROR_DESTROY_ARGS)),
                               ir.Constant(PTR, None), err]):
            b.store(v, self.member(args, ERROR_DESTROY_ARGS, i))
        destroy = self.field(self.api, API, API_ERROR_DESTROY,
                             ir.FunctionType(ir.VoidType(), [PTR]).as_pointer())
        b.call(destroy, [args])

    def task_main(self):
        """void chunk(void *task): claim the task (0 -> 1), run the driver's helper role on its
        args and mark it done (2); then drop this owner (an XLA_FFI_Task)."""
        fn = self.module.globals.get("chunk")
        if fn is not None:
            return fn
        fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [PTR]), name="chunk")
        fn.linkage = "internal"
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        task = fn.args[0]
        state = b.gep(task, [const(I64, 0)], source_etype=I32)
        owners = b.gep(task, [const(I64, 1)], source_etype=I32)
        mine = b.extract_value(b.cmpxchg(state, const(I32, 0), const(I32, 1), "acq_rel",
                                         "acquire"), 1)
        with b.if_then(mine):
            args = b.load(b.gep(task, [const(I64, 8)], source_etype=I8), typ=PTR)
            _call_driver(b, args, drive.HELPER)
            b.atomic_rmw("xchg", state, const(I32, 2), "release")     # done
        self.release(b, task, owners, ctypes.CDLL(None))
        b.ret_void()
        return fn

    def fill(self, ptr, n, dtype, ident):
        """ptr[0:n] = ident (a reduction's start value, in its accumulator dtype)."""
        reg, mem = TYPES[dtype]
        if not is_float(reg) and not np.isfinite(ident):
            info = np.iinfo(dtype)
            ident = info.min if ident < 0 else info.max
        v = const(mem, ident)

        def store(b, i):
            b.store(v, self.at(ptr, i, mem))
            return ()
        counted_loop(self.b, const(I64, 0), n, store)


def _call_driver(b, args, role):
    """drive(args, role): the process's driver (codegen.llvm.drive), called by address."""
    fn = b.inttoptr(const(I64, drive.driver()[2]),
                    ir.FunctionType(ir.VoidType(), [PTR, I64]).as_pointer())
    b.call(fn, [args, const(I64, role)])
