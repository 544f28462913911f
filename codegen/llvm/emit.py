"""Loop nests of a lowering plan (codegen.llvm.lower) as LLVM functions, and the kernel's
one entry that runs them.

    nest<i>(buf_0, ..., buf_k, partials, start, stop, dim_0, ..., dim_j)
    kernel(PyObject *args)        (emit_whole: args = (arrays..., ctl), calls the nests; large
                                  calls go through codegen.llvm.drive's unit and driver)

Buffers are C-contiguous arrays of the node's dtype (bool as one byte); their strides follow
from the dims (an axis of size 1 is broadcast: index 0). Elementwise values are computed per
element, each once per iteration (memo), through the ELEMENTWISE table, or by codegen.llvm.fused
(sigmoid and softplus of one x share e^-|x|; sigmoid(x) - z as one quotient that does not
cancel; x / y for a broadcast y as x (1 / y)), the same forms packed rows use, so every nest
gives a value the same bits. Reductions accumulate in registers (whole nest: one partial per
chunk, also stored in its 0-d array; a row: stored at the end of the row) or in their float64
accumulator array. One more partial flags labels out of range (pick, one_hot): they are read
at index 0 instead, and the caller raises. A long row's exponentials can pass from one phase
to the next through the gradient's array (plan_stash); rows whose first phase reduces only
over the row (softmax's max) run pipelined: the next row's first phase runs inside this row's
second loop (pipelined_row); a phase's stored values that read y == c (one_hot's label
against the column) run their row loop with it false, then the label's one column again with
it true (column_marks): the loop body has no per-element label compare. Short static rows run
G at a time packed into whole vectors (codegen.llvm.packed). A nest whose reductions stay in
arrays (over the channels of (N, C, H, W)) runs its phases per slab of its kept axes, or per
tile of its merged trailing pixels (slab_layout), and its pixel phases over the pixels alone
(codegen.llvm.pixels). In a streaming Program
(NestEmitter's switch, which codegen.llvm.backend sets for large calls only), a flat nest's
large outputs are written with streaming stores, a block at a time through an L1 scratch
(stream_outputs).
Every identifier in the IR is generated (nest<i>, kernel): no user string reaches it.
"""
from __future__ import annotations

import functools
import math

from llvmlite import ir

from lossgraph.shapes import _factors

from . import jit, mathlib, packed
from .fused import (BROADCAST_OPERAND, SHARED_EXP, SHARED_EXP_CHAINS, abs_base, operand_form,
                    operands, row_shift, shifted_exp)
from .loops import LINE, copy_lines, counted_loop
from .lower import (BLOCK, F64, I1, I8, I32, I64, PTR, REDUCTIONS, TYPES, _closure, _numel,
                    byte_size, combine, const, convert, elementwise, iadd, identity, imul, is_float,
                    void_intrinsic)


def acc_type(node, reg):
    """The accumulator type of a reduction whose result has register type reg."""
    if REDUCTIONS[node.op][1]:
        return F64 if is_float(reg) else I64
    return I64 if reg == I1 else reg


#: float32 sums kept in memory over at most BLOCK static elements accumulate in float32
#: (memory_type)
MEMORY_BLOCK_SUMS = True


def block_sum_type(node, reg, input_reg, extent=None):
    """float32 for a float32 sum of float32 (within a block of a flat loop; with extent, over
    static axes of that extent of at most BLOCK elements), else acc_type."""
    if node.op == "sum" and reg == input_reg == ir.FloatType() and (
            extent is None or all(isinstance(d, int) for d in extent)
            and _numel(extent)[0] <= BLOCK):
        return reg
    return acc_type(node, reg)


def memory_type(node, reg, input_reg):
    """The type a reduction kept in its array (Nest.memory) accumulates at: as a static row of
    its reduced extent sums (NestEmitter.row_type, block_sum_type)."""
    if not MEMORY_BLOCK_SUMS:
        return acc_type(node, reg)
    return block_sum_type(node, reg, input_reg, [node.inputs[0].shape[a]
                                                 for a in node.attrs["axis"]])
#: ops worth storing between phases rather than computing twice
EXPENSIVE = ("exp", "log", "log1p", "expm1", "tanh", "sigmoid", "softplus", "power")
#: static rows up to this long run as scalar code (unrolled by LLVM); longer ones (the rows
#: packing does not take: float32 C = 16, float64 C = 8 and 16, or C > 16) as vectors:
#: softmax CE, 1 thread, ns/element, float64 C = 8 20.1 -> 7.9, float32 C = 16 3.8 -> 3.2;
#: rows of 2 or 3 made LLVM print "loop not vectorized" remarks
SHORT_ROW = 4
#: rows over several axes (dice over (H, W, C)) up to this many elements stay scalar code: as
#: vectors their inner loops are too short (LLVM printed "loop not vectorized" remarks)
SHORT_BLOCK = 64
#: a long row's vector loop over fewer elements than this is kept a loop (unroll.disable):
#: LLVM unrolls it in full before the vectorizer runs and leaves scalar code otherwise
#: (softmax CE, 1 thread, ns/element, float32 C = 32: 3.4 -> 1.6, C = 50: 3.1 -> 1.3)
FEW_ELEMENTS = 64
VIEW_OPS = ("reshape", "broadcast_to")
#: nests over no axes (a mean's division, a scalar finish) inlined into the entries that call
#: them rather than compiled as functions of their own: each function costs about 0.5 ms of a
#: compile. First compile + call, A/B in one process (15 rounds, medians, cache off): BCE 43.6
#: -> 41.3 ms, softmax CE C = 1000 56.8 -> 55.3, MSE 30.4 -> 28.3
INLINE_SCALAR_NESTS = True
#: short rows run packed (codegen.llvm.packed) where they qualify
PACKED = True
#: rows' interleave counts by float width. On this Intel AVX-512 machine 1 beat 2 (float32)
#: and 4 (float64): softmax CE, 1 thread, ns/element, interleave 1 vs 2 vs 4: float32 C = 127
#: 1.34 vs 1.70, C = 500 0.74 vs 0.87, C = 1000 0.77 vs 0.77; float64 C = 127 1.99 vs 2.15 vs
#: 2.69, C = 1000 1.57 vs 1.58 vs 1.72 (a longer vector step leaves a longer scalar
#: remainder). The width is fixed too (a 512-bit vector): left to choose, LLVM 22's vectorizer
#: aborts the process on a cost-model assertion for some row lengths (C = 72 ... 79, 127)
INTERLEAVE = {32: 1, 64: 1}
#: static rows up to this many bytes get the next row of what they read prefetched
#: (prefetch_row). Softmax CE, 1e7 elements, out=, A/B in one process, on vs off: float32
#: C = 500 1.20x, 1000 1.31x (2 threads 1.29x), 1025 1.19x, 127 0.99x; float64 C = 300 1.15x,
#: 500 1.11x, 512 0.98x; beyond (the hardware prefetcher keeps up) float32 C = 2000 1.04x,
#: 4000 0.95x, float64 C = 1000 0.94x. Prefetching the written rows too was slower. Those
#: figures are an Intel Sapphire Rapids core's; AMD Zen cores skip it (prefetch_rows_on_host).
PREFETCH_ROW_BYTES = 4608
#: prefetch_row's lines per iteration of its kept loop (unroll.disable). Softmax CE, 1e7
#: elements, 1 thread, out=, time vs 63 unrolled calls (31 interleaved rounds, medians):
#: 1 line float32 C = 1000 1.019-1.040x, float64 C = 500 1.019-1.021x; 4 lines float32
#: C = 1000 0.982-0.994x, 500 0.984-1.013x, 300 1.005x, 127 1.003x, float64 C = 500
#: 0.982-1.002x; 8 lines compiled 3 ms slower than 4
PREFETCH_GROUP = 4
#: rows pipelined (NestEmitter.pipelined_row): softmax CE, float32, A/B per core in cache
#: C = 17 1.24x, 64 1.12x, 127 1.21x, 500 1.17x, 1000 1.12-1.22x, 2000 1.13-1.17x (float64 C =
#: 127 1.12x, 1000 1.19x); 1e7 elements on 2 threads C = 127 1.16-1.18x, 500 1.05-1.09x,
#: 1000 1.03-1.10x, 2000 1.13-1.16x
PIPELINE_MAX = True
#: a pipelined row prefetches the row after the next (whose maxima it takes): C = 500 at 1e7
#: 1.07-1.09x against the next row, C = 1000 the same
PIPELINE_PREFETCH = 2
#: the last partial vector of a long row as one masked iteration (AVX-512 masks). Never on a
#: whole loop: LLVM's tail folding then masks every iteration at interleave 1 (softmax CE C =
#: 1000 1.3-1.4x slower, Huber and BCE in cache 1.2-1.3x)
#: a loop of one vector: unroll.disable keeps LLVM from unrolling it to scalars before the
#: vectorizer sees it
ONE_VECTOR = (("llvm.loop.interleave.count", 1), ("llvm.loop.unroll.disable", None))
TAIL_FOLDED = (("llvm.loop.vectorize.predicate.enable", 1),) + ONE_VECTOR
#: static rows of at least FEW_ELEMENTS end in short remainder loops (tail_loop): softmax CE's
#: first compile + call C = 127 77 -> 62 ms, 1023 78 -> 63, against a loop per remainder vector
#: of 32, 16, 8, 4, 2, 1 elements. Shorter rows keep those loops: folded, LLVM unrolled their
#: loop in full and left it scalar (C = 17 ... 48 1.6-2.2x slower)
ROW_TAIL_FOLDED = True
#: a flat nest's element loop, by float width: the host's vector (lanes) interleaved this many
#: times. float32 on AVX-512: 16 lanes x 4 (LLVM 22's cost model picks 4 for BCE but 2 for a
#: body of about the same size, 7% slower); float64: 8 x 4, what LLVM picks, but pinned it
#: leaves no vectorized epilogue loop (first compile + call, process time: MSE, Huber, BCE).
#: A width missing here leaves its nests to LLVM.
FLAT_INTERLEAVE = {32: 4, 64: 4}
#: the interleave count of a flat nest without an EXPENSIVE op on a host of 16 vector
#: registers (AVX, SSE: below 512 bits), where 4 copies of a body spill. AMD Zen 3 (AVX2),
#: 1e6 elements, 1 thread, A/B in one process, 2 against 4: Huber float32 1.31-1.36x, float64
#: 1.15-1.17x, MSE 0.99-1.09x; BCE (exp and log1p, latency-bound) wants 4 there too: 2 was
#: 0.78-0.84x in float32, 0.74-0.75x in float64
NARROW_CHEAP_INTERLEAVE = 2
#: flat nests whose widest float output takes at least this many bytes write their outputs
#: with streaming stores (stream_outputs): float32 from 8e6 elements, float64 from 4e6. MSE and
#: Huber, process time per call, A/B in one process (7-11 rounds, medians; a shared, loaded
#: machine), without / with streaming: float32 N = 1e6 0.91-0.95x, 2e6 0.95-1.01x, 4e6
#: 0.99-1.01x (1.31x in an earlier run), 6e6 0.92-1.12x, 1e7 1.07-1.26x (1 and 2 threads);
#: float64 N = 4e6 1.01-1.21x, 1e7 1.13-1.18x. Below, the outputs stay in the shared cache
#: for the caller, and streaming them to memory costs more than their read for ownership.
STREAM_FROM_BYTES = 32_000_000
#: loop a nest's kept axes outside its phases (NestEmitter.kept_outside), in tiles of about
#: TILE_BYTES of its arrays (a reduced axis of unknown length counted as SYMBOLIC_EXTENT)
KEPT_OUTSIDE = True
TILE_BYTES = 128 * 1024
SYMBOLIC_EXTENT = 64

#: flat nests computing an EXPENSIVE op stream too (off: BCE at 1e7 gained 1.00-1.07x on 2
#: threads, 1.00x on 1, on a loaded machine, and its compile would pay 13-15 ms)
STREAM_EXPENSIVE = False
#: the scratches of a nest's streamed outputs (a block of BLOCK elements each, plus a line)
#: take at most this many bytes of the stack: well inside a 48 KiB L1 data cache
SCRATCH_BYTES = 24576


def scratch_bytes(ty):
    """Bytes of a streamed output's scratch (elements of type ty): a block and a line."""
    return BLOCK * byte_size(ty) + LINE


@functools.cache
def streams_on_host():
    """Whether this host gets streaming stores: x86 with AVX (vmovntps / vmovntpd of 64-byte
    lines, masked stores for the partial lines)."""
    import llvmlite.binding as llvm
    features = llvm.get_host_cpu_features()
    return llvm.get_process_triple().startswith(("x86_64", "amd64")) and \
        bool(features.get("avx512f") or features.get("avx"))


@functools.cache
def prefetch_rows_on_host():
    """Whether prefetch_row prefetches on this host: not on AMD Zen cores (LLVM's "znver*"):
    their L2 prefetcher follows the rows by itself, and a row's prefetches (63 for 1000
    floats) only slow them down. Zen 4 (EPYC, 2 vCPUs), softmax CE at 1e7 elements, out=,
    A/B in one process, off vs on, medians of 11-15 rounds: float32 C = 1000 1.13-1.54x (2
    threads), 500 1.09x, 127 1.02x; float64 C = 300 1.15x, 500 1.18x. Streaming the rows'
    gradient instead (non-temporal stores from an L1 scratch row) was 0.68-0.87x."""
    import llvmlite.binding as llvm
    return not llvm.get_host_cpu_name().startswith("znver")


class NestEmitter:
    """Emits one nest of plan as the function nest<index> of module. streaming: its
    candidates (stream_candidates) are streamed; without it the nest is emitted without any
    streaming code (no scratch arguments), and candidates still says what it could stream."""

    def __init__(self, module, plan, nest, index, streaming=False):
        self.p, self.nest = plan, nest
        self.buffers = []
        seen = set()
        for n in nest.reads + nest.writes:
            if id(n) not in seen:
                seen.add(id(n))
                self.buffers.append(n)
        self.slot = {id(n): k for k, n in enumerate(self.buffers)}
        self.candidates = self.stream_candidates()
        self.streamed = self.candidates if streaming else []
        argtys = [PTR] * len(self.buffers) + [PTR, I64, I64] + [I64] * len(plan.dims) + \
            [PTR] * len(self.streamed)
        self.fn = ir.Function(module, ir.FunctionType(ir.VoidType(), argtys),
                              name=f"nest{index}")
        args = self.fn.args
        for a in args[:len(self.buffers) + 1] + args[len(argtys) - len(self.streamed):]:
            a.add_attribute("noalias")
        self.ptrs = args[:len(self.buffers)]
        self.partials, self.start, self.stop = args[len(self.buffers):len(self.buffers) + 3]
        self.dimv = dict(zip(plan.dims, args[len(self.buffers) + 3:]))
        self.scratch = args[len(argtys) - len(self.streamed):]
        self.allocas = self.fn.append_basic_block("allocas")    # first block: mem2reg
        self.entry = self.fn.append_basic_block("entry")
        self.b = ir.IRBuilder(self.entry)
        self.strides = {}
        self.memo = {}
        self.forced = {}             # id -> a value the node takes in the loop being emitted
        self.stash = None            # plan_stash's (phase, later phase, value, array)
        self.flat_i = None
        self.redirect = {}           # id -> idx -> address: an output written to its scratch
        self.streams = []            # (output, its scratch argument) streamed
        self.stream = None           # i1: this call streams (stream_from)
        self.stream_here = None      # the same, as the block being emitted sees it
        # values stored by earlier nests and by this nest's earlier pixel phases: loaded
        self.stored_before = {k for k, at in plan.stored.items() if at < index}
        self.loaded = self.stored_before
        self.space = nest.shape      # the shape the loops being emitted run over
        self.fixed = {}              # axis -> index: kept axes looped outside the phases
        self.merged = []             # trailing kept axes run as one (slab_layout)
        self.tile = None             # (lo, hi) of the merged axis the phases run over

    # --- types, dims, buffers
    def dtype(self, n):
        return self.p.dtypes[id(n)]

    def reg(self, n):
        return TYPES[self.dtype(n)][0]

    def mem(self, n):
        return TYPES[self.dtype(n)][1]

    def dim(self, d):
        coeff, names = _factors(d)
        v = const(I64, coeff)
        for name in names:
            v = imul(self.b, v, self.dimv[name])
        return v

    def alloca(self, ty, init):
        a = ir.IRBuilder(self.allocas).alloca(ty)
        self.b.store(init, a)
        return a

    def stride_list(self, shape):
        key = tuple(shape)
        if key not in self.strides:
            s, out = const(I64, 1), []
            for d in reversed(shape):
                out.append(s)
                if d != 1:
                    s = imul(self.b, s, self.dim(d))
            self.strides[key] = out[::-1]
        return self.strides[key]

    def address(self, n, idx, mem_ty=None, shape=None):
        if id(n) in self.redirect:
            return self.redirect[id(n)](idx)
        shape = n.shape if shape is None else shape
        ptr = self.ptrs[self.slot[id(n)]]
        if self.flat_i is not None:
            off = self.flat_i if _numel(shape) == _numel(self.nest.shape) else const(I64, 0)
        else:
            off = const(I64, 0)
            for x, st, d in zip(idx, self.stride_list(shape), shape):
                if d != 1:
                    off = iadd(self.b, off, imul(self.b, x, st))
        return self.b.gep(ptr, [off], inbounds=True, source_etype=mem_ty or self.mem(n))

    def load(self, n, idx):
        if id(n) in self.nest.memory:      # this nest's reduction, in its array (memory_type)
            ty = self.memory_type(n)
            v = self.b.load(self.address(n, idx, ty), typ=ty)
            if self.reg(n) == I1:
                return self.b.icmp_unsigned("!=", v, ir.Constant(ty, 0))
            return convert(self.b, v, self.reg(n))
        v = self.b.load(self.address(n, idx), typ=self.mem(n))
        return self.b.icmp_unsigned("!=", v, ir.Constant(I8, 0)) if self.reg(n) == I1 else v

    def store(self, n, idx, v, ty=None):
        if v.type == I1:
            v = self.b.zext(v, I8)
        self.b.store(v, self.address(n, idx, ty or v.type))

    # --- values
    def value(self, n, idx):
        key = (id(n), tuple(id(x) for x in idx)) if self.flat_i is None else id(n)
        if key in self.memo:
            return self.memo[key]
        v = self._value(n, idx)
        self.memo[key] = v
        return v

    def _value(self, n, idx):
        if id(n) in self.forced:
            return self.forced[id(n)]
        kind = self.p.kind[id(n)]
        if n.op == "constant" and n.ndim == 0:
            return const(self.reg(n), n.attrs["value"].item())
        if n.op == "dimsize":
            size = const(I64, 1)
            for d in n.attrs["dims"]:
                size = imul(self.b, size, self.dim(d))
            return convert(self.b, size, self.reg(n))
        if n.op == "arange":
            return convert(self.b, idx[0], self.reg(n))
        if kind != "inline" or id(n) in self.loaded:
            v = self.load(n, idx)
            self.flag_labels(n, v)
            return v
        if n.op == "pick":
            x, y = n.inputs
            axis = n.attrs["axis"]
            label = convert(self.b, self.value(y, self.aligned(idx, y.shape)), I64)
            safe = self.checked_label(label, self.dim(x.shape[axis]))
            at = tuple(idx[:axis]) + (safe,) + tuple(idx[axis:])
            return self.value(x, self.aligned(at, x.shape))
        if n.op == "broadcast_to":
            return self.value(n.inputs[0], self.aligned(idx, n.inputs[0].shape))
        if n.op == "reshape":
            v = self.value(n.inputs[0], self.unit_reshape(idx, n))
            self.flag_labels(n, v)
            return v
        ty = self.reg(n)
        # e^(x - ms) = e^-(ms - x), in every nest alike (packed rows too): a softmax that a
        # later nest recomputes must give the bits this one does, or x == min(softmax(x))
        # finds no element
        if id(n) in self.p.shifted and is_float(ty):
            x, ms = (convert(self.b, self.value(i, self.aligned(idx, i.shape)), ty)
                     for i in self.p.shifted[id(n)])
            return shifted_exp(self.b, x, row_shift(self.b, ms))   # LICM hoists the shift
        shared = self.shared_exp(n) if is_float(ty) else None
        if shared:
            fn, links = shared
            ops = operands(links, idx, self.aligned)
            args = [convert(self.b, self.value(i, at), ty) for i, at in ops]
            return fn(self.b, *args, self.exp_neg_abs(*ops[0], args[0]))
        recip = self.p.reciprocals.get(id(n.inputs[1])) if n.op == "divide" else None
        if recip is not None and id(recip) in self.loaded and is_float(ty) and \
                _numel(n.inputs[1].shape) != _numel(n.shape):     # BROADCAST_OPERAND's bits
            x = convert(self.b, self.value(n.inputs[0], self.aligned(idx, n.inputs[0].shape)), ty)
            return self.b.fmul(x, convert(self.b, self.value(recip, self.aligned(idx, recip.shape)),
                                          ty))
        args = [self.value(i, self.aligned(idx, i.shape)) for i in n.inputs]
        form = operand_form(n, self.dtype(n)) if is_float(ty) else None
        if form is not None:
            return form(self.b, *(convert(self.b, a, ty) for a in args))
        if n.op in BROADCAST_OPERAND and is_float(ty):
            k, form = BROADCAST_OPERAND[n.op]
            if _numel(n.inputs[k].shape) != _numel(n.shape):
                return form(self.b, *(convert(self.b, a, ty) for a in args))
        return elementwise(self.b, n.op, args, ty)

    def shared_exp(self, n):
        """(fn, [n, its first input, ...]): the longest SHARED_EXP_CHAINS entry n heads, else
        n's own SHARED_EXP form ([n]), else None."""
        chain = self.shared_exp_chain(n)
        if chain is None and n.op in SHARED_EXP:
            return SHARED_EXP[n.op], [n]
        return chain

    def shared_exp_chain(self, n):
        """(fn, [n, its first input, ...]) of the longest SHARED_EXP_CHAINS entry n heads."""
        for ops, fn in SHARED_EXP_CHAINS.items():
            links = [n]
            for op in ops[1:]:
                if links[-1].op != ops[len(links) - 1] or not links[-1].inputs:
                    break
                s = links[-1].inputs[0]
                if self.p.kind[id(s)] != "inline" or self.dtype(s) != self.dtype(n):
                    break
                links.append(s)
            if len(links) == len(ops) and links[-1].op == ops[-1]:
                return fn, links
        return None

    def exp_neg_abs(self, x_node, idx, x):
        """e^-|x|, computed once per element for sigmoid and softplus of the same x (or -x)."""
        at = () if self.flat_i is not None else tuple(
            i.constant if isinstance(i, ir.Constant) else id(i) for i in idx)
        key = ("exp_neg_abs", id(abs_base(x_node)), x.type) + at
        if key not in self.memo:
            self.memo[key] = mathlib.exp_neg(self.b, mathlib.fabs(self.b, x))
        return self.memo[key]

    def flag_labels(self, n, v):
        """v, the value of n, flags the nest when it is a label out of range (Plan.flagged)."""
        depth = self.p.flagged(n)
        if depth is not None:
            self.checked_label(convert(self.b, v, I64), self.dim(depth))

    def checked_label(self, label, depth):
        """label if it lies in [0, depth), else 0; a label outside sets the nest's flag."""
        b = self.b
        ok = b.icmp_unsigned("<", label, depth)
        b.store(b.or_(b.load(self.bad, typ=I8), b.zext(b.not_(ok), I8)), self.bad)
        return b.select(ok, label, const(I64, 0))

    def aligned(self, idx, shape):
        if self.flat_i is not None:
            return idx
        idx = idx[len(idx) - len(shape):]
        return tuple(const(I64, 0) if d == 1 else x for x, d in zip(idx, shape))

    def unit_reshape(self, idx, n):
        if self.flat_i is not None:
            return idx
        real = [x for x, d in zip(idx, n.shape) if d != 1]
        it = iter(real)
        return tuple(const(I64, 0) if d == 1 else next(it) for d in n.inputs[0].shape)

    def out_index(self, r, idx):
        axes, keep = set(r.attrs["axis"]), r.attrs["keepdims"]
        if self.flat_i is not None:
            return ()
        if keep:
            return tuple(const(I64, 0) if a in axes else x for a, x in enumerate(idx))
        return tuple(x for a, x in enumerate(idx) if a not in axes)

    # --- loops
    def loop(self, lo, hi, body, hints=()):
        counted_loop(self.b, lo, hi, lambda b, i: (body(i), ())[1], hints=hints)

    def tail_loop(self, lo, hi, body, hints):
        """[lo, hi) of static bounds: a vector loop over whole steps of hints' width x
        interleave, the remainder's whole vectors (one loop, interleave 1), then its last
        partial vector: as loops of one vector of 8, 4, 2, 1 elements where it takes at most
        two, else as one masked iteration (TAIL_FOLDED), which costs LLVM more to compile than
        two short loops but less than three or four."""
        width_hint = hints[0]
        width = dict(hints)["llvm.loop.vectorize.width"]
        step = width * dict(hints).get("llvm.loop.interleave.count", 1)
        first, last = lo.constant, hi.constant
        whole = first + (last - first) // step * step
        part = last - (last - first) % width
        pieces = [(first, whole, hints), (whole, part, (width_hint,) + ONE_VECTOR)]
        masked = bin(last - part).count("1") > 2
        if masked:
            pieces.append((part, last, (width_hint,) + TAIL_FOLDED))
        for a, z, h in pieces:
            if z > a:
                self.loop(const(I64, a), const(I64, z), body, h)
        if not masked:
            self.bit_loops(part, last, body)

    def bit_loops(self, a, z, body):
        """[a, z) of static bounds as loops of one vector each, one per set bit of z - a,
        widest first (ONE_VECTOR)."""
        width = 1 << (z - a).bit_length()
        while a < z:
            while width > z - a:
                width //= 2
            self.loop(const(I64, a), const(I64, a + width), body,
                      (("llvm.loop.vectorize.width", width),) + ONE_VECTOR)
            a += width

    def build(self):
        nest, b = self.nest, self.b
        k = len(nest.shape)
        for n in self.buffers:                 # strides computed once, in the entry block
            if n.ndim:
                self.stride_list(n.shape)
        self.accs = {}
        self.merged = self.slab_layout()
        self.plan_stash()
        self.bad = self.alloca(I8, ir.Constant(I8, 0))
        for r in nest.partials:
            ty = acc_type(r, self.reg(r))
            self.accs[id(r)] = self.alloca(ty, identity(r.op, ty))
        # whether every loop of the nest is written as vectors here (jit.EXPLICIT_VECTORS_LEVEL)
        self.explicit_vectors = k == 0
        if k == 0:
            self.memo = {}
            for phase in nest.phases:
                self.body(phase, ())
        elif nest.flat:
            self.stream_outputs()
            self.flat_loops()
        elif PACKED and packed.layout(self):
            packed.PackedRows(self, *packed.layout(self)).build()
            self.explicit_vectors = True
        else:
            self.nested(0, [])
        if self.streams:                 # the non-temporal stores done before the caller reads
            with b.if_then(self.stream):
                b.call(void_intrinsic(b.module, "llvm.x86.sse.sfence", []), [])
        for j, r in enumerate(nest.partials):
            acc = b.load(self.accs[id(r)], typ=acc_type(r, self.reg(r)))
            cell = b.gep(self.partials, [const(I64, j)], inbounds=True, source_etype=F64)
            b.store(convert(b, acc, F64) if acc.type != I1 else b.uitofp(acc, F64), cell)
        for r in nest.partials:              # also in its 0-d array, for a whole-kernel call
            acc = b.load(self.accs[id(r)], typ=acc_type(r, self.reg(r)))
            self.store(r, (), convert(b, acc, self.reg(r)))
        cell = b.gep(self.partials, [const(I64, len(nest.partials))], inbounds=True,
                     source_etype=F64)
        b.store(b.uitofp(b.load(self.bad, typ=I8), F64), cell)       # labels out of range
        b.ret_void()
        ir.IRBuilder(self.allocas).branch(self.entry)
        return self.fn

    def flat_loops(self):
        b, nest = self.b, self.nest
        sums = [r for r in nest.partials]
        blocks = b.sdiv(b.add(b.sub(self.stop, self.start), const(I64, BLOCK - 1)),
                        const(I64, BLOCK))

        def block(j):
            lo = b.add(self.start, b.mul(j, const(I64, BLOCK)))
            hi = b.add(lo, const(I64, BLOCK))
            hi = b.select(b.icmp_signed("<", hi, self.stop), hi, self.stop)
            inner = {}
            for r in sums:
                ty = self.block_type(r)
                inner[id(r)] = self.alloca(ty, identity(r.op, ty))
            saved, self.accs = self.accs, inner
            self.stream_here = self.block_streams() if self.streams else None
            lines = [self.to_scratch(s, scratch, lo) for s, scratch in self.streams]

            def element(i):
                self.flat_i, self.memo = i, {}
                self.body(nest.phases[0], ())
            self.loop(lo, hi, element, self.flat_hints())
            if self.streams:
                self.copy_out(lines, b.sub(hi, lo))
            self.accs = saved
            for r in sums:
                aty = acc_type(r, self.reg(r))
                blk = b.load(inner[id(r)], typ=self.block_type(r))
                total = b.load(saved[id(r)], typ=aty)
                b.store(combine(b, r.op, total, convert(b, blk, aty), id(r) in nest.loose),
                        saved[id(r)])
        self.loop(const(I64, 0), blocks, block)
        self.flat_i = None

    def stream_candidates(self):
        """The outputs a flat nest writes with streaming stores, on a streaming host
        (streams_on_host): its float outputs of its full shape, while their scratches (a
        block plus a line each, 64-byte aligned, on the stack of the kernel's entry: in L1)
        fit in SCRATCH_BYTES. A call whose outputs reach STREAM_FROM_BYTES writes each block
        of them to its scratch (to_scratch) and copies it out by whole 64-byte lines with
        non-temporal stores (copy_out): the outputs' lines are not read for ownership first
        (a quarter less memory traffic for a loss reading two arrays), and go to memory, not
        into the cache. A smaller call writes its outputs directly, as without streaming
        code. The values, and so the bits, are the same either way. None for a nest that
        computes an EXPENSIVE op (unless STREAM_EXPENSIVE): compute-bound, it gained nothing
        (BCE at 1e7, 2 threads: 1.00-1.07x), and its compile would pay the streaming code's
        13-15 ms (process time of parse + O3 + machine code, medians of 15: MSE 18.0 -> 31.6
        ms, Huber 21.0 -> 35.9 ms).
        The scratches are the nest's last arguments (noalias: a select between an alloca and
        an output array left two outputs' stores without alias scopes after inlining, and the
        vectorizer checked their distance at run time, so the loss's bits depended on where
        the outputs lay)."""
        nest = self.nest
        if not (nest.flat and streams_on_host()) or not STREAM_EXPENSIVE and self.expensive:
            return []
        out, room = [], SCRATCH_BYTES
        for s in nest.writes:
            if self.p.kind[id(s)] == "reduce" or s.shape != nest.shape or \
                    not is_float(self.reg(s)):
                continue
            room -= scratch_bytes(self.mem(s))
            if room < 0:
                break
            out.append(s)
        return out

    def stream_outputs(self):
        """The streamed outputs with their scratches, and whether this call streams."""
        b = self.b
        self.streams = list(zip(self.streamed, self.scratch))
        if self.streams:
            numel = const(I64, 1)
            for d in self.nest.shape:
                numel = imul(b, numel, self.dim(d))
            self.numel = numel
            self.stream = b.icmp_signed(">=", numel, self.stream_from())

    def stream_from(self):
        """The elements from which the nest streams: STREAM_FROM_BYTES of its widest streamed
        output."""
        widest = max(byte_size(self.mem(s)) for s, _ in self.streams)
        return const(I64, STREAM_FROM_BYTES // widest)

    def block_streams(self):
        """Whether this call streams, as the block loop's body sees it: numel passed through
        an empty inline asm, which LLVM cannot see through. As a value of the entry block,
        LLVM unswitched the block loop on it: two copies of the nest's loops, compile time
        1.4-1.9x (BCE, MSE, Huber)."""
        b = self.b
        asm = ir.InlineAsm(ir.FunctionType(I64, [I64]), "", "=r,0", side_effect=True)
        return b.icmp_signed(">=", b.call(asm, [self.numel]), self.stream_from())

    def to_scratch(self, s, scratch, lo):
        """Output s's stores from here to copy_out, for the block starting at flat index lo,
        into its scratch when streaming (element i at s0 + i - lo, s0 the place of s[lo] in
        its 64-byte line, so the scratch's lines are the array's), else into s. Returns the
        arguments of copy_lines."""
        b, ty = self.b, self.mem(s)
        size = byte_size(ty)
        first = b.gep(self.ptrs[self.slot[id(s)]], [lo], inbounds=True, source_etype=ty)
        s0 = b.and_(b.lshr(b.ptrtoint(first, I64), const(I64, size.bit_length() - 1)),
                    const(I64, LINE // size - 1))
        base = b.select(self.stream_here, scratch, first)
        shift = b.select(self.stream_here, b.sub(s0, lo), b.sub(const(I64, 0), lo))
        self.redirect[id(s)] = lambda idx: b.gep(base, [b.add(self.flat_i, shift)],
                                                 inbounds=True, source_etype=ty)
        return scratch, first, s0, ty

    def copy_out(self, lines, n):
        """The block's scratches (to_scratch) copied to their outputs, n elements, when
        streaming; the outputs' stores go to the arrays again."""
        for s, _ in self.streams:
            del self.redirect[id(s)]
        if lines:
            with self.b.if_then(self.stream_here):
                for scratch, first, s0, ty in lines:
                    copy_lines(self.b, scratch, first, s0, n, ty)

    @functools.cached_property
    def expensive(self):
        """Whether the nest computes an EXPENSIVE op (inline, per element)."""
        return any(n.op in EXPENSIVE for n in _closure(self.nest, self.p.kind)[0])

    def flat_hints(self):
        """The host's full vector interleaved FLAT_INTERLEAVE times (NARROW_CHEAP_INTERLEAVE
        on a 16-register host when nothing EXPENSIVE is computed) when every float the flat
        nest reads, writes or computes has one width; mixed nests are left to LLVM."""
        floats = {self.reg(n) for n in self.buffers + list(self.nest.phases[0])
                  if is_float(self.reg(n))}
        bits = {64 if f == F64 else 32 for f in floats}
        width = bits.pop() if len(bits) == 1 else None
        if width not in FLAT_INTERLEAVE:
            return ()
        count = FLAT_INTERLEAVE[width]
        if jit.vector_bits() < 512 and not self.expensive:
            count = min(count, NARROW_CHEAP_INTERLEAVE)
        return (("llvm.loop.vectorize.width", jit.lanes(width)),
                ("llvm.loop.interleave.count", count))

    def block_type(self, r):
        """float32 sums accumulate in float32 within a block (full vector width)."""
        return block_sum_type(r, self.reg(r), self.reg(r.inputs[0]))

    def memory_type(self, r):
        return memory_type(r, self.reg(r), self.reg(r.inputs[0]))

    def row_type(self, r):
        """A float32 row sum over at most BLOCK elements (a static row length) accumulates in
        float32, as one block of a flat loop does; longer or unknown rows sum in float64."""
        return block_sum_type(r, self.reg(r), self.reg(r.inputs[0]),
                              self.nest.shape[self.nest.outer:])

    def nested(self, axis, idx):
        nest, b = self.nest, self.b
        outer = nest.outer
        if axis == 0 and self.pipelined():
            with b.if_then(b.icmp_signed("<", self.start, self.stop)):
                self.phase_rows(nest.phases[0], [self.start])
            self.loop(self.start, self.stop, self.pipelined_row)
            return
        if axis < outer:
            lo, hi = (self.start, self.stop) if axis == 0 else \
                (const(I64, 0), self.dim(nest.shape[axis]))
            self.loop(lo, hi, lambda i: self.nested(axis + 1, idx + [i]))
            return
        moved = [a for a in self.kept_outside() if a not in self.fixed]
        size = self.tile_size() if not moved and self.tile is None else None
        if size:
            extent = self.merged_extent()
            count = b.udiv(b.add(extent, const(I64, size - 1)), const(I64, size))

            def tile(t):
                lo = b.mul(t, const(I64, size))
                hi = b.add(lo, const(I64, size))
                self.tile = (lo, b.select(b.icmp_signed("<", hi, extent), hi, extent))
                self.nested(axis, idx)
                self.tile = None
            self.loop(const(I64, 0), count, tile)
            return
        if moved:
            def kept(i):
                self.fixed[moved[0]] = i
                self.nested(axis, idx)
                del self.fixed[moved[0]]
            self.loop(const(I64, 0), self.dim(nest.shape[moved[0]]), kept)
            return
        self.prefetch_row(idx)
        for j, phase in enumerate(nest.phases):
            self.run_phase(j, phase, idx)

    def run_phase(self, j, phase, idx):
        """Phase j of the row at idx (a row phase: its values once; a pixel phase: over its
        shape, codegen.llvm.pixels)."""
        nest = self.nest
        self.loaded = self.stored_before | {id(s) for q in nest.pixel_phases if q < j
                                            for s in nest.phases[q]}
        if j in nest.pixel_phases:
            self.space = nest.pixel_phases[j]
            self.phase_rows(phase, idx)
            self.space = nest.shape
        elif j in self.nest.row_phases:             # once per row, after the row's phases
            self.memo = {}
            self.body(phase, tuple(idx))
        else:
            self.phase_rows(phase, idx)

    def phase_rows(self, phase, idx, ahead=None):
        """One loop phase over the row at idx: its row reductions start at their identity and
        are stored at the row's end. ahead = (phase, row): that phase's loop for that row runs
        in the same loop (pipelined_row)."""
        nest, b = self.nest, self.b
        k, outer = len(nest.shape), nest.outer
        parts = [(phase, idx)] + ([(ahead[0], [ahead[1]])] if ahead else [])
        rows = [(r, at) for ph, at in parts for r in ph if id(r) in nest.row]
        saved = dict(self.accs)
        for r, _ in rows:
            ty = self.row_type(r)
            self.accs[id(r)] = self.alloca(ty, identity(r.op, ty))
        marks = self.column_marks(phase) if outer == k - 1 else []
        self.forced = {id(eq): const(I1, 0) for eq, _, _ in marks}
        self.inner(outer, list(idx), phase, ahead)
        self.forced = {}
        for mark in marks:
            self.mark_column(mark, idx)
        for r, at in rows:
            acc = b.load(self.accs[id(r)], typ=self.row_type(r))
            full = list(at) + [const(I64, 0)] * (k - len(at))
            self.store(r, self.out_index(r, full), convert(b, acc, self.reg(r)))
        self.accs = saved

    def pipelined(self):
        """Whether the rows run pipelined (pipelined_row): rows over one static axis longer
        than SHORT_ROW, whose first phase reduces only over the row (softmax's shift, a row
        sum of the targets; its stores, say a zero gradient, may come along: a row's are the
        same when its phase runs twice) and whose second is a loop with no column marks."""
        nest = self.nest
        if not PIPELINE_MAX or nest.outer != 1 or len(nest.shape) != 2 or \
                not isinstance(nest.shape[1], int) or self.short_row() or \
                len(nest.phases) < 2 or {0, 1} & set(nest.row_phases):
            return False
        first = nest.phases[0]
        reduces = [s for s in first if self.p.kind[id(s)] == "reduce"]
        if not reduces or not all(id(s) in nest.row for s in reduces):
            return False
        return not self.column_marks(nest.phases[1]) and \
            (self.stash is None or self.stash[0] is not first)

    def pipelined_row(self, i):
        """Row i of a pipelined nest: its second phase's loop also runs the first phase (its
        row reductions: softmax's max) for the next row (for this one at the chunk's last row,
        the same values again), so the reductions' latency chains and the next row's loads
        overlap this row's arithmetic; the first row's ran before the loop. Then its other
        phases."""
        nest, b = self.nest, self.b
        nxt = b.add(i, const(I64, 1))
        nxt = b.select(b.icmp_signed("<", nxt, self.stop), nxt, i)
        self.prefetch_row([i], PIPELINE_PREFETCH)
        self.phase_rows(nest.phases[1], [i], ahead=(nest.phases[0], nxt))
        for j, phase in enumerate(nest.phases[2:], 2):
            self.run_phase(j, phase, [i])

    def prefetch_row(self, idx, ahead=1):
        """Static rows over one axis of at most PREFETCH_ROW_BYTES: every cache line of the
        next row of each array the nest reads in its shape, so the row's DRAM latency overlaps
        this row's arithmetic. The lines are fetched PREFETCH_GROUP at a time by a loop kept
        as a loop (unroll.disable), the remaining lines and the row's last byte (the row may
        start mid-line) after it: 63 unrolled calls for a float32 row of 1000 cost softmax CE
        about 6 ms of its first compile, and the kept loop of one line per iteration ran up to
        4% slower at 1e7 elements."""
        nest, b = self.nest, self.b
        c = nest.shape[-1]
        if nest.outer != 1 or len(nest.shape) != 2 or not isinstance(c, int) or \
                self.short_row() or not prefetch_rows_on_host():
            return
        reads = [n for n in self.buffers if n.shape == nest.shape
                 and not any(n is w for w in nest.writes)
                 and c * byte_size(self.mem(n)) <= PREFETCH_ROW_BYTES]
        if not reads:
            return
        nxt = b.add(idx[0], const(I64, ahead))
        row = b.select(b.icmp_signed("<", nxt, self.stop), nxt, idx[0])
        fn = void_intrinsic(b.module, "llvm.prefetch.p0", [PTR, I32, I32, I32])

        def fetch(at):
            b.call(fn, [at, const(I32, 0), const(I32, 3), const(I32, 1)])
        group = PREFETCH_GROUP * LINE

        def lines(at, count):
            for j in range(count):
                fetch(b.gep(at, [const(I64, j * LINE)], source_etype=I8))
        for n in reads:
            start, size = self.address(n, [row, const(I64, 0)]), c * byte_size(self.mem(n))
            count = -(-size // LINE)
            self.loop(const(I64, 0), const(I64, count // PREFETCH_GROUP),
                      lambda j: lines(b.gep(start, [b.mul(j, const(I64, group))],
                                            source_etype=I8), PREFETCH_GROUP),
                      (("llvm.loop.unroll.disable", None),))
            tail = count - count % PREFETCH_GROUP
            lines(b.gep(start, [const(I64, tail * LINE)], source_etype=I8), count - tail)
            fetch(b.gep(start, [const(I64, size - 1)], source_etype=I8))   # may start mid-line

    def column_marks(self, phase):
        """(eq, r, sinks): eq = equal(r, c) read by stored values of phase (sinks), r a row
        value and c the column index (one_hot's y == c). The row's loop runs with eq false;
        mark_column then stores the sinks at the one column where eq holds. Not for an eq a
        reduction of the phase reads, one read through a gather (pick), or one the value the
        phase stashes for a later one reads."""
        kind, c = self.p.kind, self.nest.shape[-1]
        cands, users, banned = {}, {}, set()

        def walk(top, reduced):
            stack, seen = [(top, False)], set()
            while stack:
                n, gathered = stack.pop()
                if (id(n), gathered) in seen:
                    continue
                seen.add((id(n), gathered))
                if n.op == "equal":
                    r = _row_operand(n, c, kind)
                    if r is not None:
                        cands[id(n)] = (n, r)
                        users.setdefault(id(n), []).append(top)
                    if reduced or gathered:
                        banned.add(id(n))
                stack += [(i, gathered or n.op == "pick" and j == 0)
                          for j, i in enumerate(n.inputs) if kind[id(i)] == "inline"]
        for s in phase:
            if kind[id(s)] == "reduce":
                walk(s.inputs[0], True)
            else:
                walk(s, False)
        if self.stash is not None and phase is self.stash[0]:
            walk(self.stash[2], True)           # stored for a later phase as the loop has it
        return [(eq, r, list({id(u): u for u in users[k]}.values()))
                for k, (eq, r) in cands.items() if k not in banned]

    def mark_column(self, mark, idx):
        """The sinks of mark (column_marks) stored again at column r of the row, computed with
        eq true, when r names a column (an integer in [0, C))."""
        b = self.b
        eq, r, sinks = mark
        self.memo = {}
        rv = self.value(r, self.aligned(tuple(idx) + (const(I64, 0),), r.shape))
        depth = self.dim(self.nest.shape[-1])
        if is_float(rv.type):           # fptosi of nan or of a huge value is poison
            fits = b.and_(b.fcmp_ordered(">=", rv, const(rv.type, 0)),
                          b.fcmp_ordered("<", rv, b.sitofp(depth, rv.type)))
            col = b.fptosi(b.select(fits, rv, const(rv.type, 0)), I64)
            ok = b.and_(fits, b.fcmp_ordered("==", b.sitofp(col, rv.type), rv))
        else:
            col = convert(b, rv, I64)
            ok = b.icmp_unsigned("<", col, depth)
        with b.if_then(ok):
            self.memo, self.forced = {}, {id(eq): const(I1, 1)}
            at = tuple(idx) + (col,)
            for s in sinks:
                self.store(s, at, self.value(s, at))
            self.forced = {}

    def inner(self, axis, idx, phase, ahead=None):
        k = len(self.nest.shape)
        if axis == k:
            self.memo = {}
            self.body(phase, tuple(idx))
            if ahead:
                self.body(ahead[0], (ahead[1],) + tuple(idx[1:]))
            return
        body = lambda i: self.inner(axis + 1, idx + [i], phase, ahead)     # noqa: E731
        if self.space[axis] != self.nest.shape[axis]:       # a pixel phase's reduced axis
            body(const(I64, 0))
            return
        if axis in self.fixed:
            body(self.fixed[axis])
            return
        if axis in self.merged[:-1]:                # run as the last axis, index 0 here
            body(const(I64, 0))
            return
        if axis == k - 1 and self.tile is not None:
            self.loop(*self.tile, body, self.interleave())
            return
        lo, hi = (self.start, self.stop) if axis == 0 else \
            (const(I64, 0), self.dim(self.nest.shape[axis]) if axis < k - 1 or not self.merged
             else self.merged_extent())
        if axis == 0 or self.short_row():
            self.loop(lo, hi, body)
            return
        hints, c = self.interleave(), self.nest.shape[axis]
        step = hints[0][1] * hints[1][1]
        if axis < k - 1 or self.nest.outer < k - 1 or not isinstance(c, int):
            self.loop(lo, hi, body, hints)
            return
        if c - c % step < FEW_ELEMENTS:
            hints += (("llvm.loop.unroll.disable", None),)
        elif c % step and ROW_TAIL_FOLDED:
            self.tail_loop(lo, hi, body, hints)
            return
        # a short static row's remainder as vectors of 32, 16, 8, 4, 2, 1 elements (bit_loops):
        # softmax CE, ns/element, C = 127 1.42 -> 0.96, C = 1000 1.04x (longer rows: tail_loop)
        mid = c - c % step
        if mid:
            self.loop(lo, const(I64, mid), body, hints)
        self.bit_loops(mid, c, body)

    def kept_axes(self):
        """The axes after the outer ones that no reduction reduces, when the nest's reductions
        kept in arrays are over middle axes only (softmax over the channels of (N, C, H, W):
        H and W) and the last axis is kept; else []."""
        nest = self.nest
        k = len(nest.shape)
        if not KEPT_OUTSIDE or not nest.memory or nest.row or nest.row_phases or nest.serial \
                or nest.flat or k < 3:
            return []
        reduced = {a for r in nest.sinks if id(r) in nest.memory for a in r.attrs["axis"]}
        kept = [a for a in range(nest.outer, k) if a not in reduced]
        return kept if kept and kept[-1] == k - 1 else []

    def slab_layout(self):
        """merged: the trailing run of kept axes, run as one axis (index 0 on all but the
        last, which runs over their product) when every array has them all full or all 1,
        so its offsets are the run's flat index (H and W of (N, C, H, W): a row of H W
        pixels, not H rows of W, whose remainders cost 1.4-1.6x at W = 60), unless the
        last axis is static whole steps of the vector loop."""
        kept, k = self.kept_axes(), len(self.nest.shape)
        run = [a for j, a in enumerate(kept) if kept[j:] == list(range(a, k))]
        if len(run) < 2:
            return []
        (_, width), (_, count) = self.interleave()
        if isinstance(self.nest.shape[-1], int) and self.nest.shape[-1] % (width * count) == 0:
            return []            # whole static rows of vectors run faster (64 x 64: 1.08-1.28x)
        inline, reads = _closure(self.nest, self.p.kind, self.stored_before,
                                 self.p.reciprocals)
        # arrays read through a broadcast (right-aligned); a view's or a gather's operand has
        # the sizes its (checked) user has on the run's axes, or reads the index of another
        checked = [n for n in inline + reads + self.nest.sinks if n.ndim == k] + \
            [i for n in inline if n.op not in ("reshape", "pick") for i in n.inputs]
        for n in checked:
            sizes = [n.shape[a - k + n.ndim] if a - k + n.ndim >= 0 else 1 for a in run]
            if sizes != [1] * len(run) and sizes != [self.nest.shape[a] for a in run]:
                return []
        return run

    def merged_extent(self):
        size = const(I64, 1)
        for a in self.merged or [len(self.nest.shape) - 1]:
            size = imul(self.b, size, self.dim(self.nest.shape[a]))
        return size

    def kept_outside(self):
        """The kept axes the phases run inside of (in order), all but the last or the merged
        run: the phases then sweep one (C, W) slab per h while it is in cache, not the whole
        (C, H, W) image."""
        kept = self.kept_axes()
        return [a for a in kept[:-1] if a not in self.merged]

    def tile_size(self):
        """Elements of the last (or merged) axis per tile, when the phases run over tiles of
        it: about TILE_BYTES of the nest's full-size arrays per tile (whole when that is all
        of it), a multiple of 64."""
        if not self.kept_axes():
            return None
        nest, k = self.nest, len(self.nest.shape)
        per = sum(byte_size(self.mem(n)) for n in self.buffers if n.shape == nest.shape)
        for a in range(nest.outer, k):
            if a not in self.merged and a != k - 1:
                per *= nest.shape[a] if isinstance(nest.shape[a], int) else SYMBOLIC_EXTENT
        size = max(64, TILE_BYTES // max(per, 1) // 64 * 64)
        run = [nest.shape[a] for a in self.merged or [k - 1]]
        if all(isinstance(d, int) for d in run) and math.prod(run) <= size:
            return None
        return size

    def short_row(self):
        """Whether the nest's rows have a static length of at most SHORT_ROW elements (rows
        over several axes: SHORT_BLOCK)."""
        inner = self.nest.shape[self.nest.outer:]
        limit = SHORT_ROW if len(inner) == 1 else SHORT_BLOCK
        return all(isinstance(d, int) for d in inner) and _numel(inner)[0] <= limit

    def interleave(self):
        """Loop hints for a long row: the host's full vectors of its widest float, that
        float's interleave count."""
        widths = [64 if self.reg(n) == F64 else 32 for n in self.buffers if is_float(self.reg(n))]
        width = max(widths, default=32)
        return (("llvm.loop.vectorize.width", jit.lanes(width)),
                ("llvm.loop.interleave.count", INTERLEAVE[width]))

    def plan_stash(self):
        """A value a later phase recomputes (e^(x - m) in softmax's gradient, after its sum)
        is stored by the earlier phase into the later phase's output array, at the element
        that phase then overwrites: read back instead of recomputed."""
        self.stash = None
        phases, kind = self.nest.phases, self.p.kind
        inner = self.nest.shape[self.nest.outer:]
        if len(phases) < 2 or all(isinstance(d, int) for d in inner) and \
                _numel(inner)[0] <= SHORT_ROW:       # measured: short rows recompute faster
            return

        def closure(phase):
            seen, stack = {}, [s.inputs[0] if kind[id(s)] == "reduce" else s for s in phase]
            while stack:
                n = stack.pop()
                if id(n) in seen or kind[id(n)] != "inline":
                    continue
                seen[id(n)] = n
                stack += list(n.inputs)
            return seen
        loops = [j for j in range(len(phases)) if j not in self.nest.row_phases
                 and j not in self.nest.pixel_phases]
        if len(loops) < 2:
            return
        sets = {j: closure(phases[j]) for j in loops}
        last = phases[loops[-1]]
        outs = [g for g in last if kind[id(g)] == "inline" and g.shape == self.nest.shape
                and is_float(self.reg(g))]
        for g in outs:
            for p in reversed(loops[:-1]):
                common = [n for k, n in sets[p].items() if k in sets[loops[-1]]
                          and n.op in EXPENSIVE and n.shape == self.nest.shape
                          and self.reg(n) == self.reg(g)]
                if common:
                    self.stash = (phases[p], last, common[0], g)
                    return

    def body(self, phase, idx):
        b, nest = self.b, self.nest
        stash = self.stash
        if stash is not None and phase is stash[1]:
            key = (id(stash[2]), tuple(id(x) for x in idx))
            self.memo[key] = self.load(stash[3], idx)
        for s in phase:
            if self.p.kind[id(s)] != "reduce":
                self.store(s, idx, self.value(s, idx))
                continue
            v = self.value(s.inputs[0], idx)
            loose = id(s) in nest.loose
            if id(s) in self.accs:
                slot = self.accs[id(s)]
                ty = slot.allocated_type
                b.store(combine(b, s.op, b.load(slot, typ=ty), convert(b, v, ty), loose), slot)
            else:                                  # accumulates in its array
                aty = self.memory_type(s)
                ptr = self.address(s, self.out_index(s, idx), aty, s.shape)
                b.store(combine(b, s.op, b.load(ptr, typ=aty), convert(b, v, aty), loose), ptr)
        if stash is not None and phase is stash[0]:
            self.store(stash[3], idx, self.value(stash[2], idx))


def _row_operand(eq, c, kind):
    """r when eq = equal(r, column) (either order), r constant along the nest's last axis
    (size 1 there, or 0-d) and column the arange over that axis of length c (through inline
    views that keep c last); else None."""
    def column(n):
        while n.op in VIEW_OPS and kind[id(n)] == "inline" and n.ndim and n.shape[-1] == c:
            n = n.inputs[0]
        return n.op == "arange" and n.attrs["dim"] == c

    a, b = eq.inputs
    for col, r in ((b, a), (a, b)):
        if column(col) and (r.ndim == 0 or r.shape[-1] == 1):
            return r
    return None


def item_data(b, args, i):
    """The data pointer of the array at item i (an int or an i64 value) of the tuple args
    (a PyObject *, runtime's stub)."""
    from . import runtime
    items, data = runtime.tuple_item_offset(), runtime.array_data_offset()
    at = const(I64, items + 8 * i) if isinstance(i, int) else \
        b.add(const(I64, items), b.mul(i, const(I64, 8)))
    array = b.load(b.gep(args, [at], inbounds=True, source_etype=I8), typ=PTR)
    return b.load(b.gep(array, [const(I64, data)], inbounds=True, source_etype=I8), typ=PTR)


def entry_pointers(b, entry, n):
    """The data pointers of the first n arrays of the tuple entry.args[0] (runtime's stub)."""
    return [item_data(b, entry.args[0], i) for i in range(n)]


def ctl_dims(b, ctl, n):
    """The n dims at the head of ctl (float64 cells), as i64 values."""
    return [b.fptosi(b.load(f64_cell(b, ctl, j), typ=F64), I64) for j in range(n)]


def f64_cell(b, ptr, j):
    """&ptr[j] of a float64 array (j an int or an i64 value)."""
    return b.gep(ptr, [const(I64, j) if isinstance(j, int) else j], inbounds=True,
                 source_etype=F64)


def nest_scratches(b, emitters):
    """The 64-byte-aligned stack scratches of the streamed outputs, shared by the nests (they
    run one after another)."""
    sizes = {}
    for em, _ in emitters:
        for j, s in enumerate(em.streamed):
            sizes[j] = max(sizes.get(j, 0), scratch_bytes(em.mem(s)))
    scratch = [b.alloca(ir.ArrayType(I8, sizes[j])) for j in range(len(sizes))]
    for a in scratch:
        a.align = LINE
    return scratch


def call_nest(b, em, nest_slots, where, arrays, partials, lo, hi, dims, scratch):
    """nest<i>(its buffers, partials, lo, hi, dims, its scratches)."""
    b.call(em.fn, [arrays[where[k]] for k in nest_slots] + [partials, lo, hi] + dims
           + scratch[:len(em.streamed)])


def emit_whole(module, plan, emitters, slots, name="kernel"):
    """void kernel(PyObject *args), args = (one array per slot, ctl): the kernel's entry for a
    small call and for a Program with fallback steps (codegen.llvm.drive has the entries of
    large calls).

    ctl = [dim_0, ..., dim_j, then per nest: run, start, stop, its partials, label flag;
    last, the sum of the label flags]: each
    nest whose run is non-zero runs over [start, stop) of its outermost axis (or flat index),
    in order. Returns ctl's layout: per nest the offset of its run cell, and ctl's size.
    Nests over axes stay functions of their own (noinline), so every entry shares their code;
    nests over no axes are inlined (INLINE_SCALAR_NESTS)."""
    entry = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR]), name=name)
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    *arrays, ctl = entry_pointers(b, entry, len(slots) + 1)
    where = {k: i for i, k in enumerate(slots)}
    dims = ctl_dims(b, ctl, len(plan.dims))
    offset, layout = len(plan.dims), []
    scratch = nest_scratches(b, emitters)
    for em, nest_slots in emitters:
        em.fn.attributes.add("alwaysinline" if INLINE_SCALAR_NESTS and not em.nest.shape
                             else "noinline")
        em.fn.linkage = "internal"
        layout.append(offset)
        run = b.fcmp_ordered("!=", b.load(f64_cell(b, ctl, offset), typ=F64),
                             ir.Constant(F64, 0.0))
        with b.if_then(run):
            lo, hi = (b.fptosi(b.load(f64_cell(b, ctl, offset + i), typ=F64), I64)
                      for i in (1, 2))
            call_nest(b, em, nest_slots, where, arrays, f64_cell(b, ctl, offset + 3), lo, hi,
                      dims, scratch)
        offset += 3 + len(em.nest.partials) + 1
    flags = [b.load(f64_cell(b, ctl, o + 3 + len(em.nest.partials)), typ=F64)
             for o, (em, _) in zip(layout, emitters)]
    total = ir.Constant(F64, 0.0)
    for f in flags:
        total = b.fadd(total, f)
    b.store(total, f64_cell(b, ctl, offset))   # any label out of range, in any nest
    b.ret_void()
    return layout, offset + 1
