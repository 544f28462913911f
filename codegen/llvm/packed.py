"""Short rows packed into whole vectors, for a nest of codegen.llvm.emit.

A nest over (N, C) whose rows (axis 1, reduced by its row reductions) have a static length
2 <= C <= 16 (or up to LONG_ROW when the vector takes at most MAX_VECTOR_BYTES) runs
G rows at a time (`group`: a power of two, L / gcd(C, L) or more, at most L; L the vector
width, jit.vector_bits() / 32 float32 or / 64 float64 lanes: 16 or 8 with AVX-512) as one
vector of W = G C lanes that LLVM splits into V = W / L registers (C = 10 with AVX-512: 8 rows
in 5 float32 registers, 4 rows in 5 float64 ones). The
lanes are column-major by register: lane j of register k holds row row0 + j % G, column
k + V (j // G), so a register holds P = L / G whole columns of the G rows. Loads read the W
elements with one contiguous load and permute them; stores permute back and write once. On
hosts of up to 256-bit vectors, a full (rows, C) array is read and written instead as each
row's windows of S columns, S = min(G, the largest power of two within C) at least 4, each
S x S block of S rows transposed (transpose) and the pieces joined into registers (concat):
LLVM built AVX2's W-lane permutes from about 70 shuffles each way (C = 10), the windows take
2 x 24.
A value of the row alone (a row reduction, a label, the log of a row's sum) is a G-lane
vector, computed once per G rows and repeated to the lanes (P copies per register). A row
reduction combines the V registers lane by lane, then the P column groups by halving: no
transpose. A division by a row value is one reciprocal per row times the lanes (the licence
arcp gives). One loop body serves every row: when G does not divide a chunk's rows, its
last group ends at the chunk's end and overlaps the group before (those rows are stored
again with the same values, and left out of the row sums); a chunk of fewer than G rows runs
one group on zero-padded copies of its rows, copied back after. No scalar remainder path:
the packed C = 10 kernel compiles in about 3/4 of the time it took with one.

A row phase (lower._row_phase: softmax CE's per-row loss) runs on the G-lane row values, its
picks x[row, y[row]] read by one llvm.masked.gather per G rows (from the rows just read; it
compiles in less time than G scalar loads and runs as fast), its sums taken in row order.
Row reductions that no other step and no output reads stay in registers (never stored).

A whole-nest sum of a full (rows, C) value (a dense-label softmax CE's sum of
t log_softmax(x)) is taken in the lane phase that computes it (lane_sum): the group's W
values in the partial's type, the rows not counted left out, added up to one value per
group. Dense-label softmax CE, float32, 2 threads, against the unpacked loops it ran in
before: C = 10 at 1e6 elements 2.14 -> 0.39 ms, at 1e7 13.2 -> 4.0 ms (jax.jit 47 ms).

Criterion (`layout`): a 2-D nest with one outer axis, one float type, no reductions kept in
memory, whole-nest sums only in row phases or of full (rows, C) values, picks only in row
phases. float32 and float64 alike.

Indices are per-axis symbols: "R" the row, "C" the column, "0" a broadcast axis (their lane
patterns above); every stride but the row's is static, so an array's lanes are a static
pattern from row0 times its row stride.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from . import jit, mathlib
from .fused import (BROADCAST_OPERAND, abs_base, operand_form, operands, row_shift,
                    shifted_exp)
from .lower import (ELEMENTWISE, F32, I1, I8, I32, I64, PTR, VIEWS, _closure, _numel, byte_size,
                    combine, const, convert, declared, elementwise, identity, intrinsic, is_float,
                    narrow_label_equal, void_intrinsic)
from .mathlib import type_suffix

MAX_ROW = 16
#: full (rows, C) arrays load and store as transposed G-column windows (transposed)
TRANSPOSED_WINDOWS = True
#: the smallest blocks the windows take: softmax CE at G = 2 ran 0.99-1.01x against the permutes
#: (float32 C = 24, 40, float64 C = 20; AVX2, A/B in one process)
MIN_WINDOW = 4
#: windows on hosts of vectors up to this many bits: 1.01-1.30x on AVX2 (Zen 3); on AVX-512
#: (Zen 5) LLVM's two-source permutes (vpermt2ps) ran as fast or faster: windows 0.77-1.06x
#: (float32 C = 4-20), 0.93-1.06x (float64 C = 4-16), softmax CE, 1e6 elements, 1 thread
WINDOW_BITS = 256
#: rows longer than MAX_ROW pack up to this length, when G rows take at most MAX_VECTOR_BYTES
LONG_ROW = 64
#: G doubles from L / gcd(C, L) while the doubled vector takes at most this many bytes (5
#: AVX-512 registers, 10 AVX ones): more rows share each row value's vector (its log, its
#: label's gather). Softmax CE, ns per element in cache, 1 thread, G as before / doubled, on an
#: Intel AVX-512 core: float32 C = 2 2.15 / 1.48, 4 2.03 / 0.97, 8 2.17 / 0.91, 16 (unpacked
#: before) 1.97 / 0.90, 20 1.83 / 0.88, 24 1.65 / 1.12, 32 1.04 / 0.92, 40 1.08 / 0.91;
#: float64 C = 4 4.45 / 2.00, 8 4.60 / 1.98, 16 2.70 / 2.02; first compile + call within 10%.
#: A vector of more registers compiles slowly (C = 17, 272 lanes: 218 ms; C = 63: 1.2 s) and
#: ran no faster (C = 48 in 12 registers: 0.92 against 0.83). Bytes, not registers: on AMD
#: Zen 3 (AVX2) 10 registers against 5 ran float32 C = 10 1.16-1.18x, 16 1.37x, 20 1.31x, 32
#: 1.29x, 40 1.08x, 4 and 7 0.99-1.01x, float64 C = 10 1.21x (A/B in one process)
MAX_VECTOR_BYTES = 320

LEAVES = ("input", "constant", "dimsize", "arange")


def _recip_times(b, x, d, spread):
    """x / d for a row value d: x (1 / d), one division per row, then the lanes: the bits of
    fused.BROADCAST_OPERAND's x (1 / d) lane by lane."""
    return b.fmul(x, spread(b.fdiv(const(d.type, 1.0), d)))


#: BROADCAST_OPERAND ops with a cheaper form when that operand is a row value (G lanes)
ROW_OPERAND = {"divide": _recip_times}


def max_lanes(lanes):
    """The lanes of MAX_VECTOR_BYTES in registers of `lanes` elements (the host's width)."""
    return MAX_VECTOR_BYTES * 8 // jit.vector_bits() * lanes


def group(c, lanes):
    """G, the rows of C elements packed per vector of `lanes`-wide registers: the fewest that
    fill whole registers, doubled while the vector stays within MAX_VECTOR_BYTES."""
    g = lanes // math.gcd(c, lanes)
    while g < lanes and 2 * g * c <= max_lanes(lanes):
        g *= 2
    return g


def packs(c, lanes):
    """Whether rows of c elements pack into `lanes`-wide registers: G >= 2, and for rows
    longer than MAX_ROW a vector within MAX_VECTOR_BYTES."""
    g = group(c, lanes)
    return 2 <= c <= LONG_ROW and g >= 2 and (c <= MAX_ROW or g * c <= max_lanes(lanes))


def layout(em):
    """(C, G, L) when em's nest packs, else None (see the module docstring for the criterion)."""
    nest, p = em.nest, em.p
    shape = nest.shape
    if nest.flat or len(shape) != 2 or nest.outer != 1 or not isinstance(shape[1], int) or \
            nest.memory or not 2 <= shape[1] <= LONG_ROW:
        return None
    row_values = {id(v) for j in nest.row_phases for v in nest.phases[j]}
    if any(id(r) not in row_values and not _lane_sum(r, shape) for r in nest.partials) or \
            _picks_lanes(nest, p.kind):
        return None
    inline, reads = _closure(nest, p.kind)
    nodes = inline + reads
    floats = {em.reg(n) for n in nodes if is_float(em.reg(n))}
    if len(floats) != 1:
        return None
    lanes = jit.lanes(32 if floats == {F32} else 64)
    c = shape[1]
    g = group(c, lanes)
    if not packs(c, lanes):
        return None
    for n in nodes:
        kind = p.kind[id(n)]
        ok = n.op in ELEMENTWISE or n.op in VIEWS and kind == "inline" or \
            kind in ("leaf", "reduce") and n.op not in VIEWS or \
            n.op == "pick" and n.attrs["axis"] == 1 and n.inputs[0].shape == shape and \
            p.kind[id(n.inputs[0])] != "inline"
        if not ok or n.ndim > 2 or not all(isinstance(d, int) for d in n.shape[1:]):
            return None
        if n.ndim == 2 and n.shape[0] not in (1, shape[0]) or n.op == "arange" and n.ndim != 1:
            return None
        if kind != "inline" and n.op not in ("constant", "dimsize", "arange") and \
                em.mem(n) not in (em.reg(n), I8):
            return None
    return c, g, lanes


def _lane_sum(r, shape):
    """Whether whole-nest reduction r is a sum of a full (rows, C) value (dense-label
    softmax CE's sum of t log_softmax(x)): PackedRows.lane_sum takes it in the lane phases."""
    return r.op == "sum" and r.ndim == 0 and r.inputs[0].shape == shape


def _picks_lanes(nest, kind):
    """Whether a phase over the lanes reads a pick (picks are gathered per row only)."""
    sinks = {id(s) for j, ph in enumerate(nest.phases) if j not in nest.row_phases for s in ph}
    stack, seen = [s for j, ph in enumerate(nest.phases) if j not in nest.row_phases
                   for s in ph], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if n.op == "pick":
            return True
        if kind[id(n)] == "inline" or id(n) in sinks:
            stack += list(n.inputs)
    return False


class PackedRows:
    """The packed loop of one NestEmitter (em): G rows per iteration, then em's own loops."""

    def __init__(self, em, c, g, lanes):
        self.em, self.b, self.c, self.g, self.w, self.lanes = em, em.b, c, g, c * g, lanes
        p = em.p
        read = {id(i) for st in p.steps for i in (st.reads if hasattr(st, "reads") else
                                                   st.inputs)}
        #: row reductions another step or the caller reads: stored (the rest stay in registers)
        self.kept = {id(r) for r in em.nest.sinks if id(r) in read or r.ndim != 2 or
                     any(r is o for o in p.outputs)}
        lane = np.arange(self.w)
        vector, j = lane // lanes, lane % lanes
        self.patterns = {("R", self.w): j % g, ("C", self.w): vector + self.w // lanes * (j // g),
                         ("R", g): np.arange(g)}

    # --- vectors
    def vec(self, ty, width):
        return ir.VectorType(ty, width)

    def shuffle(self, v, lanes):
        return self.b.shuffle_vector(v, v, _mask(lanes))

    def spread(self, v):
        """A row value (G lanes) in W lanes."""
        if v.type.count == self.w:
            return v
        return self.shuffle(v, self.patterns["R", self.w])

    def splat(self, v, width):
        one = self.b.insert_element(ir.Constant(ir.VectorType(v.type, 1), None), v,
                                    const(I32, 0))
        return self.shuffle(one, [0] * width)

    def width(self, idx):
        return self.w if "C" in idx else self.g

    def pattern(self, entry, width):
        return np.zeros(width, np.int64) if entry == "0" else self.patterns[entry, width]

    # --- memory
    def address(self, n, idx, width):
        """(pointer at the first lane's span, static lane offsets from it)."""
        shape = n.shape
        strides = [int(np.prod(shape[a + 1:], dtype=np.int64)) for a in range(len(shape))]
        lanes = sum((self.pattern(e, width) * s for e, s in zip(idx, strides)),
                    np.zeros(width, np.int64))
        row_stride = sum(s for e, s in zip(idx, strides) if e == "R")
        lo = int(lanes.min())
        off = self.b.add(self.b.mul(self.row0, const(I64, row_stride)), const(I64, lo))
        ptr = self.em.ptrs[self.em.slot[id(n)]]
        return self.b.gep(ptr, [off], inbounds=True, source_etype=self.em.mem(n)), lanes - lo

    def load(self, n, idx):
        width = self.width(idx)
        ptr, lanes = self.address(n, idx, width)
        mem = self.em.mem(n)
        if TRANSPOSED_WINDOWS and is_float(mem) and self.transposed(lanes):
            side = self.side()
            parts = [[None] * (self.g // side) for _ in range(self.c)]   # column c, row block
            for c0 in self.windows():
                for r in range(self.g // side):
                    rows = []
                    for j in range(r * side, (r + 1) * side):
                        rows.append(self.b.load(self.window(ptr, j, c0, mem),
                                                typ=self.vec(mem, side)))
                        rows[-1].align = byte_size(mem)
                    for k, v in enumerate(transpose(self.b, rows)):
                        if parts[c0 + k][r] is None:
                            parts[c0 + k][r] = v
            columns = [concat(self.b, p) for p in parts]
            regs = self.w // self.lanes              # register k: columns k, k + regs, ...
            return concat(self.b, [concat(self.b, columns[k::regs]) for k in range(regs)])
        span = int(lanes.max()) + 1
        v = self.b.load(ptr, typ=self.vec(mem, span))
        v.align = byte_size(mem)
        if span != width or not np.array_equal(lanes, np.arange(width)):
            v = self.shuffle(v, lanes)
        if self.em.reg(n) == I1:
            v = self.b.icmp_unsigned("!=", v, const(v.type, 0))
        return v

    def store(self, n, idx, v):
        """v's lanes to memory in one store (lanes in memory order first)."""
        ptr, lanes = self.address(n, idx, v.type.count)
        if sorted(lanes) != list(range(v.type.count)):
            raise AssertionError("a packed sink's lanes cover one span by construction")
        if TRANSPOSED_WINDOWS and is_float(v.type.element) and self.transposed(lanes):
            side, regs = self.side(), self.w // self.lanes
            parts = [None] * self.c        # column k + regs p (register k's part p), by row block
            for k in range(regs):
                for p in range(self.lanes // self.g):
                    at = k * self.lanes + p * self.g
                    parts[k + regs * p] = [self.shuffle(v, np.arange(a, a + side))
                                           for a in range(at, at + self.g, side)]
            for c0 in self.windows():      # a window after the first rewrites the same values
                for r in range(self.g // side):
                    block = transpose(self.b, [parts[c][r] for c in range(c0, c0 + side)])
                    for j, row in enumerate(block, r * side):
                        at = self.window(ptr, j, c0, v.type.element)
                        self.b.store(row, at).align = byte_size(v.type.element)
            return
        if not np.array_equal(lanes, np.arange(v.type.count)):
            v = self.shuffle(v, np.argsort(lanes))
        if v.type.element == I1:
            v = self.b.zext(v, self.vec(I8, v.type.count))
        self.b.store(v, ptr).align = byte_size(v.type.element)

    def transposed(self, lanes):
        """Whether static lane offsets lanes are those of a full (rows, C) array, its
        windows of side() >= MIN_WINDOW columns: register k's part p (lanes p G ...
        p G + G - 1) holds column k + V p of the G rows."""
        pattern = self.patterns["R", self.w] * self.c + self.patterns["C", self.w]
        return jit.vector_bits() <= WINDOW_BITS and self.side() >= MIN_WINDOW and \
            np.array_equal(lanes, pattern)

    def side(self):
        """The side of the square blocks the windows transpose: G, or the largest power of
        two within C when C < G (blocks of that many rows)."""
        return min(self.g, 1 << (self.c.bit_length() - 1))

    def windows(self):
        """First columns of the side()-column windows that cover a row: every side()
        columns, the last moved back to end at the row's end."""
        side = self.side()
        return sorted({min(q, self.c - side) for q in range(0, self.c, side)})

    def window(self, ptr, row, c0, elem):
        return self.b.gep(ptr, [const(I64, row * self.c + c0)], inbounds=True,
                          source_etype=elem)

    # --- values
    def aligned(self, idx, shape):
        idx = idx[len(idx) - len(shape):]
        return tuple("0" if d == 1 else x for x, d in zip(idx, shape))

    def unit_reshape(self, idx, n):
        it = iter([x for x, d in zip(idx, n.shape) if d != 1])
        return tuple("0" if d == 1 else next(it) for d in n.inputs[0].shape)

    def value(self, n, idx):
        key = (id(n), idx)
        if key not in self.memo:
            self.memo[key] = self._value(n, idx)
        return self.memo[key]

    def checked(self, n, v):
        """Labels outside [0, depth) raise the nest's flag and read index 0 (as em's)."""
        depth = self.em.p.flagged(n)
        return v if depth is None else self.in_range(v, self.em.dim(depth))

    def in_range(self, v, depth):
        b, em = self.b, self.em
        label = convert(b, v, I64)
        depth = self.splat(depth, label.type.count)
        ok = b.icmp_unsigned("<", label, depth)
        bad_t = self.vec(I1, label.type.count)
        fn = intrinsic(b.module, "llvm.vector.reduce.or", ir.FunctionType(I1, [bad_t]))
        anybad = b.call(fn, [b.not_(ok)])
        b.store(b.or_(b.load(em.bad, typ=I8), b.zext(anybad, I8)), em.bad)
        return b.select(ok, v, const(v.type, 0))

    def _value(self, n, idx):
        b, em = self.b, self.em
        width = self.width(idx)
        ty = self.vec(em.reg(n), width)
        if n.op == "constant" and n.ndim == 0:
            return const(ty, n.attrs["value"].item())
        if n.op == "dimsize":
            return self.splat(em._value(n, ()), width)
        if n.op == "arange":
            lanes = mathlib.lanes(self.vec(I64, width), self.pattern(idx[0], width))
            return convert(b, lanes, ty)
        if em.p.kind[id(n)] != "inline":
            return self.checked(n, self.load(n, idx))
        if n.op == "pick":                  # x[row, y[row]]: one gather for the G rows
            x, y = n.inputs
            safe = self.in_range(self.value(y, self.aligned(idx, y.shape)), const(I64, self.c))
            safe = convert(b, safe, self.vec(I64, width))
            rows = b.add(self.splat(b.mul(self.row0, const(I64, self.c)), width),
                         mathlib.lanes(safe.type, np.arange(width) * self.c))
            at = b.add(rows, safe)
            return convert(b, _gather(b, em.ptrs[em.slot[id(x)]], at, em.mem(x)), ty)
        if n.op == "broadcast_to":
            return self.value(n.inputs[0], self.aligned(idx, n.inputs[0].shape))
        if n.op == "reshape":
            return self.checked(n, self.value(n.inputs[0], self.unit_reshape(idx, n)))
        if id(n) in em.p.shifted and is_float(ty):      # e^(x - ms) = e^-(ms - x)
            x, ms = (self.value(i, self.aligned(idx, i.shape)) for i in em.p.shifted[id(n)])
            shift = row_shift(b, convert(b, ms, self.vec(ty.element, ms.type.count)))
            x, shift = (self.spread(v) if width == self.w else v for v in (x, shift))
            return shifted_exp(b, convert(b, x, ty), shift)
        fused = self.fused(n, idx, ty) if is_float(ty) else None
        if fused is not None:
            return fused
        args = [self.value(i, self.aligned(idx, i.shape)) for i in n.inputs]
        form = operand_form(n, em.dtype(n)) if is_float(ty) else None
        if form is not None:
            return form(b, *(convert(b, self.spread(a) if a.type.count != width else a, ty)
                               for a in args))
        if n.op in BROADCAST_OPERAND and is_float(ty) and \
                _numel(n.inputs[BROADCAST_OPERAND[n.op][0]].shape) != _numel(n.shape):
            k, form = BROADCAST_OPERAND[n.op]
            if n.op in ROW_OPERAND and width == self.w and args[k].type.count == self.g and \
                    all(a.type.count == self.w for j, a in enumerate(args) if j != k):
                rest = [convert(b, a, ty) for a in args]
                rest[k] = convert(b, args[k], self.vec(em.reg(n), self.g))
                return ROW_OPERAND[n.op](b, *rest, self.spread)
            return form(b, *(convert(b, self.spread(a) if a.type.count != width else a, ty)
                             for a in args))
        if narrow_label_equal(n, em.p.checks):      # a G-lane label, spread on 32-bit lanes
            args = [b.trunc(a, self.vec(I32, a.type.count)) if a.type.element == I64 else a
                    for a in args]
        args = [self.spread(a) if a.type.count != width else a for a in args]
        return elementwise(b, n.op, args, ty)

    def fused(self, n, idx, ty):
        """n by fused's SHARED_EXP or SHARED_EXP_CHAINS form, as the emitter's loops compute
        it (e^-|x| once per x and lanes), or None."""
        b, em = self.b, self.em
        shared = em.shared_exp(n)
        if shared is None:
            return None
        fn, links = shared
        width = self.width(idx)
        ops = operands(links, idx, self.aligned)
        args = [self.value(i, at) for i, at in ops]
        args = [convert(b, self.spread(v) if v.type.count != width else v, ty) for v in args]
        key = ("exp_neg_abs", id(abs_base(ops[0][0])), ops[0][1], width)
        if key not in self.memo:
            self.memo[key] = mathlib.exp_neg(b, mathlib.fabs(b, args[0]))
        return fn(b, *args, self.memo[key])

    # --- the loop
    def fold(self, v, op, loose, width):
        """v's W lanes reduced by op to `width` lanes: the registers combined lane by lane
        (from op's identity), then halved."""
        b = self.b
        acc = identity(op, self.vec(v.type.element, self.lanes))
        for k in range(0, self.w, self.lanes):
            acc = combine(b, op, acc, self.shuffle(v, np.arange(k, k + self.lanes)), loose)
        lanes = self.lanes
        while lanes > width:
            lanes //= 2
            acc = combine(b, op, self.shuffle(acc, np.arange(lanes)),
                          self.shuffle(acc, np.arange(lanes, 2 * lanes)), loose)
        return acc

    def row_reduction(self, r):
        b, em = self.b, self.em
        v = self.spread(self.value(r.inputs[0], self.aligned(("R", "C"), r.inputs[0].shape)))
        aty = em.row_type(r)
        v = convert(b, v, self.vec(aty, self.w))
        acc = self.fold(v, r.op, id(r) in em.nest.loose, self.g)   # columns of one row
        out = convert(b, acc, self.vec(em.reg(r), self.g))
        at = ("R", "0") if r.attrs["keepdims"] else ("R",)
        if id(r) in self.kept:
            self.store(r, at, out)
        if r.ndim == 2:
            self.memo[id(r), ("R", "0")] = out

    def lane_sum(self, r):
        """A whole-nest sum over the lanes (layout's _lane_sum): the group's W values in the
        partial's type, the rows not counted left out, the registers added lane by lane and
        then halved down to one value, added to the partial once per group (in group order:
        the same bits on one thread or two)."""
        b, em = self.b, self.em
        slot = em.accs[id(r)]
        v = self.spread(self.value(r.inputs[0], self.aligned(("R", "C"), r.inputs[0].shape)))
        v = convert(b, v, self.vec(slot.allocated_type, self.w))
        v = b.select(self.spread(self.counted()), v, identity(r.op, v.type))
        loose = id(r) in em.nest.loose
        acc = self.fold(v, r.op, loose, 1)
        total = b.load(slot, typ=slot.allocated_type)
        b.store(combine(b, r.op, total, b.extract_element(acc, const(I32, 0)), loose), slot)

    def row_values(self, phase):
        """A phase over the rows: G values per sink, stored, or summed into its partial in
        row order (as em's loops do)."""
        b, em = self.b, self.em
        for s in phase:
            if em.p.kind[id(s)] != "reduce":
                idx = self.aligned(("R",), s.shape)
                self.store(s, idx, self.value(s, idx))
                continue
            slot = em.accs[id(s)]
            v = self.value(s.inputs[0], self.aligned(("R",), s.inputs[0].shape))
            v = convert(b, v, self.vec(slot.allocated_type, self.g))
            v = b.select(self.counted(), v, identity(s.op, v.type))    # rows done already
            acc = b.load(slot, typ=slot.allocated_type)
            for g in range(self.g):
                acc = combine(b, s.op, acc, b.extract_element(v, const(I32, g)),
                              id(s) in em.nest.loose)
            b.store(acc, slot)

    def group(self, row0, skip, count):
        """The G rows from row0; the row sums take rows g with skip <= g < skip + count."""
        self.row0, self.memo, self.skip, self.count = row0, {}, skip, count
        for j, phase in enumerate(self.em.nest.phases):
            if j in self.em.nest.row_phases:
                self.row_values(phase)
                continue
            for s in phase:
                if self.em.p.kind[id(s)] == "reduce":
                    (self.lane_sum if s.ndim == 0 else self.row_reduction)(s)
                else:
                    idx = self.aligned(("R", "C"), s.shape)
                    self.store(s, idx, self.spread(self.value(s, idx)))

    def counted(self):
        """G lanes: whether the group's row g is summed (skip <= g < skip + count)."""
        b, g = self.b, self.g
        if "counted" not in self.memo:
            lanes = b.sub(mathlib.lanes(self.vec(I64, g), range(g)), self.splat(self.skip, g))
            self.memo["counted"] = b.icmp_unsigned("<", lanes, self.splat(self.count, g))
        return self.memo["counted"]

    def row_buffers(self):
        """(slot, node, elements per row) of the buffers indexed by the row."""
        em, rows = self.em, self.em.nest.shape[0]
        return [(k, n, int(np.prod(n.shape[1:], dtype=np.int64)))
                for k, n in enumerate(em.buffers) if n.ndim and n.shape[0] == rows != 1]

    def build(self):
        """ceil(n / G) groups over the chunk's n = stop - start rows; the last one, when G
        does not divide n, ends at stop (its rows before the rest were done already: their
        values are stored again, not summed again). A chunk of fewer than G rows runs one
        group on zero-padded copies of its rows (copied back after): no scalar path."""
        b, em = self.b, self.em
        g = const(I64, self.g)
        n = b.sub(em.stop, em.start)
        small = b.icmp_signed("<", n, g)
        bufs = self.row_buffers()
        real = em.ptrs
        em.ptrs = list(real)
        pad = {}
        for k, node, per in bufs:
            at = ir.IRBuilder(em.allocas)
            pad[k] = at.alloca(em.mem(node), size=self.g * per)
        with b.if_then(small):
            for k, node, per in bufs:
                size = self.g * per * byte_size(em.mem(node))
                _memset(b, pad[k], size)
                if any(node is r for r in em.nest.reads):
                    _memcpy(b, pad[k], self.row_ptr(real[k], node, em.start, per),
                            b.mul(n, const(I64, per * byte_size(em.mem(node)))))
        for k, _, _ in bufs:
            em.ptrs[k] = b.select(b.not_(small), real[k], pad[k])
        first = b.select(small, const(I64, 0), em.start)
        last = b.select(small, g, em.stop)
        rows = b.select(small, n, g)
        groups = b.sdiv(b.add(b.sub(last, first), const(I64, self.g - 1)), g)

        def one(j):
            at = b.add(first, b.mul(j, g))
            row0 = b.select(b.icmp_signed(">", b.add(at, g), last), b.sub(last, g), at)
            self.group(row0, b.sub(at, row0), rows)
        em.loop(const(I64, 0), groups, one)
        em.ptrs = real
        with b.if_then(small):
            for k, node, per in bufs:
                if any(node is w for w in em.nest.writes):
                    _memcpy(b, self.row_ptr(real[k], node, em.start, per), pad[k],
                            b.mul(n, const(I64, per * byte_size(em.mem(node)))))

    def row_ptr(self, ptr, node, row, per):
        return self.b.gep(ptr, [self.b.mul(row, const(I64, per))], inbounds=True,
                          source_etype=self.em.mem(node))


def _mask(lanes):
    """The shuffle mask constant of these lanes."""
    return mathlib.lanes(ir.VectorType(I32, len(lanes)), lanes)


def transpose(b, rows):
    """The transpose of L registers of L lanes (L a power of two): register k of the result
    holds lane k of every row. log2(L) rounds of two-register shuffles, each swapping the
    off-diagonal h x h blocks of every 2h x 2h block (h = 1, 2, 4, ...)."""
    rows, n = list(rows), len(rows)
    h = 1
    while h < n:
        keep = [j if j % (2 * h) < h else n + j - h for j in range(n)]
        swap = [j + h if j % (2 * h) < h else n + j for j in range(n)]
        out = list(rows)
        for i in range(n):
            if i // h % 2 == 0:
                a, c = rows[i], rows[i + h]
                out[i] = b.shuffle_vector(a, c, _mask(keep))
                out[i + h] = b.shuffle_vector(a, c, _mask(swap))
        rows, h = out, 2 * h
    return rows


def concat(b, regs):
    """regs (vectors of one type) as one vector, in order: a tree of concatenating shuffles
    (padded with undefined registers to a power of two), then its first lanes."""
    count, lanes = len(regs), regs[0].type.count
    parts = list(regs)
    while len(parts) & (len(parts) - 1):
        parts.append(ir.Constant(regs[0].type, ir.Undefined))
    while len(parts) > 1:
        width = 2 * parts[0].type.count
        parts = [b.shuffle_vector(parts[i], parts[i + 1], _mask(range(width)))
                 for i in range(0, len(parts), 2)]
    whole = parts[0]
    if whole.type.count == count * lanes:
        return whole
    return b.shuffle_vector(whole, whole, _mask(range(count * lanes)))


def _gather(b, ptr, at, elem):
    """ptr[at] lane by lane (at: <n x i64>) by one llvm.masked.gather, every lane on."""
    n = at.type.count
    ty = ir.VectorType(elem, n)
    ptrs = b.gep(ptr, [at], inbounds=True, source_etype=elem)
    ptrs.type = ir.VectorType(PTR, n)          # llvmlite types a vector gep as one pointer
    fn = declared(b.module, f"llvm.masked.gather.{type_suffix(ty)}.v{n}p0",
                  ir.FunctionType(ty, [ptrs.type, I32, ir.VectorType(I1, n), ty]))
    return b.call(fn, [ptrs, const(I32, byte_size(elem)), const(ir.VectorType(I1, n), 1),
                       ir.Constant(ty, ir.Undefined)])


def _memset(b, ptr, size):
    fn = void_intrinsic(b.module, "llvm.memset.p0.i64", [PTR, I8, I64, I1])
    b.call(fn, [ptr, const(I8, 0), const(I64, size), const(I1, 0)])


def _memcpy(b, dst, src, size):
    fn = void_intrinsic(b.module, "llvm.memcpy.p0.p0.i64", [PTR, PTR, I64, I1])
    b.call(fn, [dst, src, size, const(I1, 0)])

